"""Which columns hold personal data, tagged ``pii`` when a source is scanned.

The names come from Odoo's own models (17 and 18): ``res.partner`` (base, contacts,
mail, phone_validation, auth_signup, base_geolocalize), ``res.users`` (base, auth_totp,
auth_oauth), ``res.partner.bank``, ``hr.employee`` with its private information, and
``hr.applicant``/``hr.candidate`` and ``crm.lead``; most business schemas use the same
words. Credentials (password hashes, TOTP secrets, signup and portal tokens) are tagged
too: previews mask ``pii`` for anyone but a connection's owner, admins and the
``pii-readers`` group.

Some names are personal wherever they appear (``passport_id``, ``password``); others only
in a table about people (``street`` of a partner, not of a company or warehouse). An
admin adds patterns of their own (``WORKBENCH_PII_COLUMNS``), e.g. for custom fields.
A steward can still add or remove the tag by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..settings import WorkbenchSettings

# Personal wherever they appear: the names say what they hold.
ANYWHERE = (
    # contact details
    r"private_.*",  # hr.employee: private_email, _phone, _street, _city, _car_plate ...
    r"e?mail",
    r"email_.*",  # email_from (leads, applicants, messages), email_normalized, email_cc
    r"phone",
    r"phone_.*",  # phone_sanitized
    # credentials: hashes, secrets and tokens that sign someone in or open their records
    r"password",
    r"password_crypt",
    r"new_password",
    r"totp_secret",
    r"signup_token",
    r"access_token",  # portal.mixin: opens an invoice or order without signing in
    r"oauth_access_token",
    # identity documents and residence
    r"ssnid",
    r"sinid",
    r"identification_id",
    r"passport_id",
    r"passport_expiration_date",
    r"permit_no",
    r"visa_no",
    r"visa_expire",
    r"work_permit_expiration_date",
    r"has_work_permit",  # the scanned permit itself (binary)
    r"id_card",
    r"driving_license",
    # birth, family, home
    r"birthday",
    r"birthdate",
    r".*_birthdate",
    r"place_of_birth",
    r"country_of_birth",
    r"spouse_.*",
    r"km_home_work",
    r"distance_home_work",
    # bank accounts
    r"iban",
    r"acc_number",
    r"sanitized_acc_number",
    r"acc_holder_name",
    r"bank_account.*",
    # where someone lives, to the metre (base_geolocalize)
    r"partner_latitude",
    r"partner_longitude",
)
# Personal in a table about people (PEOPLE_TABLES): a company's street or a product's
# barcode is not.
ABOUT_PEOPLE = (
    r".*_email",
    r".*_phone",
    r"mobile",
    r".*_mobile",
    r"street2?",
    r"zip",
    r"city",
    r"vat",
    r"gender",
    r"sex",
    r"marital",
    r"children",
    r"emergency_contact",
    r"pin",  # hr.employee: the kiosk and point-of-sale PIN
    r"barcode",  # hr.employee: badge ID
    r"legal_name",
    r"login",
    r"signature",
    r"oauth_uid",
    r"study_field",
    r"study_school",
    r"certificate",  # hr.employee: education level
    r"contact_name",
    r"partner_name",
    r"linkedin_profile",
    r"image_\d+",
    r"avatar_\d+",
)
PEOPLE_TABLES = re.compile(
    r"(partner|employee|contact|user|customer|person|applicant|candidate|lead|member"
    r"|attendee|visitor)"
)
# Odoo fields whose name alone says nothing: (table, column).
ODOO_FIELDS = frozenset(
    {
        ("hr_employee", "country_id"),  # Nationality (Country)
        ("hr_version", "country_id"),  # the same, in Odoo 19's employee versions
        ("res_users_apikeys", "key"),  # the API key's hash
    }
)

_ANYWHERE = re.compile("|".join(ANYWHERE))
_NOT_WORD = re.compile(r"[^a-z0-9]+")
_E_MAIL = re.compile(r"(^|_)e_mail(?=_|$)")
_ABOUT_PEOPLE = re.compile("|".join(ABOUT_PEOPLE))


@dataclass(frozen=True)
class PiiRules:
    """Odoo's and common personal-data columns, plus an admin's ``extra`` patterns.

    An extra pattern is a regular expression matched, whole and case-insensitively,
    against the column name or ``table.column``: ``x_studio_.*salary.*`` tags those
    columns in every table, ``hr_employee\\.x_nickname`` one column of one table.
    """

    extra: tuple[str, ...] = ()
    _extra: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)
    _seen: dict[tuple[str, str], list[str]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.extra:
            object.__setattr__(
                self, "_extra", re.compile("|".join(f"(?:{p})" for p in self.extra), re.I)
            )

    @classmethod
    def from_settings(cls, settings: WorkbenchSettings) -> PiiRules:
        return cls(tuple(settings.pii_columns))

    @property
    def key(self) -> tuple[object, ...]:
        """Everything the tags depend on: a change re-tags every table at the next scan."""
        return ("pii/3", ANYWHERE, ABOUT_PEOPLE, PEOPLE_TABLES.pattern, ODOO_FIELDS, self.extra)

    def tags(self, table: str, column: str) -> list[str]:
        """``['pii']`` when ``column`` of ``table`` holds personal data, else ``[]``."""
        # Scans see the same names over and over (id, name, create_date ...).
        key = (table, column)
        found = self._seen.get(key)
        if found is None:
            found = ["pii"] if self._personal(table.lower(), column.lower()) else []
            if len(self._seen) < 100_000:
                self._seen[key] = found
        return list(found)

    def _personal(self, table: str, column: str) -> bool:
        if self._personal_as_named(table, column):
            return True
        # A spreadsheet's or CSV's header ('E-Mail', 'Email Address', 'Kunde E-Mail',
        # 'Phone Number'): the same words, spelt with spaces and hyphens.
        plain = _E_MAIL.sub(r"\1email", _NOT_WORD.sub("_", column).strip("_"))
        return plain != column and self._personal_as_named(table, plain)

    def _personal_as_named(self, table: str, column: str) -> bool:
        if _ANYWHERE.fullmatch(column) or (table, column) in ODOO_FIELDS:
            return True
        if _ABOUT_PEOPLE.fullmatch(column) and PEOPLE_TABLES.search(table):
            return True
        extra = self._extra
        return extra is not None and bool(
            extra.fullmatch(column) or extra.fullmatch(f"{table}.{column}")
        )


def check_patterns(patterns: list[str]) -> list[str]:
    """Raise ``ValueError`` naming the first pattern that is not a regular expression."""
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(
                f"PII column pattern {pattern!r} is not a regular expression: {exc}"
            ) from None
    return patterns


DEFAULT_RULES = PiiRules()
