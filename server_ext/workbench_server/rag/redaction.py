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

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+'-])[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
# IBANs and phone numbers are found in two stages: a loose pattern that starts with a
# plain character class (which Python's engine scans for quickly; a leading \b or
# look-behind made every character a try, and redaction most of the step's time), then
# the exact form, the boundary before it and the checksum or digit count in Python.
_IBAN_LOOSE = re.compile(r"[A-Z]{2}[0-9]{2}[ A-Z0-9]{11,40}")
_IBAN = re.compile(r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
_PHONE = re.compile(r"[+0(]\(?\d(?:[ ().\-/]{0,2}\d){6,14}(?!\w)")


def _after_boundary(text: str, at: int, also: str = "") -> bool:
    return at == 0 or not (text[at - 1].isalnum() or text[at - 1] in "_" + also)


def _iban_ok(candidate: str) -> bool:
    compact = candidate.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    moved = compact[4:] + compact[:4]
    digits = "".join(str(int(ch, 36)) for ch in moved)
    return int(digits) % 97 == 1


def _phone_ok(candidate: str) -> bool:
    return 8 <= sum(ch.isdigit() for ch in candidate) <= 15


def _ibans(text: str, found: Counter[str]) -> str:
    """``text`` with each IBAN replaced: every loose candidate is checked exactly; one that
    is not an IBAN is looked into again from its next character (a candidate can run on
    into a real IBAN after it)."""
    out: list[str] = []
    done = at = 0
    while (match := _IBAN_LOOSE.search(text, at)) is not None:
        exact = _IBAN.match(text, match.start(), match.end())
        if exact is not None and _after_boundary(text, match.start()) and _iban_ok(exact.group(0)):
            out.append(text[done : match.start()])
            out.append("[iban]")
            found["iban"] += 1
            done = at = exact.end()
        else:
            at = match.start() + 1
    out.append(text[done:])
    return "".join(out)


def redact(text: str, kinds: Iterable[str] = KINDS) -> tuple[str, Counter[str]]:
    """``text`` with the personal data of ``kinds`` replaced; how many of each were."""
    found: Counter[str] = Counter()
    wanted = set(kinds)

    def email(match: re.Match[str]) -> str:
        found["email"] += 1
        return "[email]"

    def phone(match: re.Match[str]) -> str:
        if not _after_boundary(match.string, match.start(), "+") or not _phone_ok(match.group(0)):
            return match.group(0)
        found["phone"] += 1
        return "[phone]"

    if "email" in wanted and "@" in text:
        text = _EMAIL.sub(email, text)
    if "iban" in wanted:
        text = _ibans(text, found)
    if "phone" in wanted:
        text = _PHONE.sub(phone, text)
    return text, found
