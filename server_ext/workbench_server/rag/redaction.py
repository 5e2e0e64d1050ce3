"""Personal data in free text replaced by what it was: ``[email]``, ``[iban]``, ``[phone]``.

Best effort, by pattern: what does not look like one of these stays. An e-mail address
is ``local@domain.tld``; an IBAN is a country code, two check digits and 11-30 letters
or digits (in groups of four or not) whose ISO 13616 checksum holds, so product codes
and references that merely look alike are kept; a phone number starts with ``+``, ``00``,
``0`` or ``(`` and has 8 to 15 digits, separated at most by spaces, dots, dashes,
slashes or brackets. Names, street addresses and numbers written another way are not
found: columns holding them are left out by their catalog tag (``pii``) instead.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

KINDS = ("email", "iban", "phone")

_EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
_PHONE = re.compile(r"(?<![\w+])(?:\+|00|0|\()[\d()][\d ().\-/]{6,22}\d(?!\w)")


def _iban_ok(candidate: str) -> bool:
    compact = candidate.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    moved = compact[4:] + compact[:4]
    digits = "".join(str(int(ch, 36)) for ch in moved)
    return int(digits) % 97 == 1


def _phone_ok(candidate: str) -> bool:
    return 8 <= sum(ch.isdigit() for ch in candidate) <= 15


def redact(text: str, kinds: Iterable[str] = KINDS) -> tuple[str, Counter[str]]:
    """``text`` with the personal data of ``kinds`` replaced; how many of each were."""
    found: Counter[str] = Counter()
    wanted = set(kinds)

    def replace(kind: str, check=None):
        def sub(match: re.Match[str]) -> str:
            if check is not None and not check(match.group(0)):
                return match.group(0)
            found[kind] += 1
            return f"[{kind}]"

        return sub

    if "email" in wanted:
        text = _EMAIL.sub(replace("email"), text)
    if "iban" in wanted:
        text = _IBAN.sub(replace("iban", _iban_ok), text)
    if "phone" in wanted:
        text = _PHONE.sub(replace("phone", _phone_ok), text)
    return text, found
