"""Partners (customers, vendors, contacts) and the staff: departments, employees and the
work contacts Odoo creates for them. Addresses, phones and tax ids follow each country's
shape; e-mail domains are ``example.com`` so no generated address reaches a real mailbox.
"""

from __future__ import annotations

import random
import unicodedata
from datetime import date, timedelta
from typing import cast

from .odoo_master import COMPANY_ID, Master, row_id
from .odoo_reference import (
    ADJECTIVES,
    COUNTRIES,
    FIRST_NAMES,
    LAST_NAMES,
    NOUNS,
    STAFF,
    STREET_KINDS,
    STREETS,
)


def _fill(rng: random.Random, pattern: str) -> str:
    """Expand ``#`` to a digit and ``A`` to a letter (tax ids)."""
    out = []
    for ch in pattern:
        if ch == "#":
            ch = str(rng.randrange(10))
        elif ch == "A":
            ch = rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ")
        out.append(ch)
    return "".join(out)


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in ascii_text.lower() if ch.isalnum())


def _address(m: Master, country_code: str | None = None) -> dict[str, object]:
    rng = m.rng
    codes = list(COUNTRIES)
    code = country_code or rng.choices(codes, weights=[c[6] for c in COUNTRIES.values()])[0]
    city, zip_code = rng.choice(COUNTRIES[code][7].split("|")).split(":")
    street = f"{rng.randint(1, 999)} {rng.choice(STREETS)} {rng.choice(STREET_KINDS)}"
    phone_code = COUNTRIES[code][1]
    if phone_code == 1:  # 555-01xx numbers are reserved for fiction in North America
        phone = f"+1 {rng.randint(201, 989)}-555-{rng.randint(100, 199):04d}"
    else:
        local = f"{rng.randint(10, 99)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}"
        phone = f"+{phone_code} {local}"
    return {
        "street": street,
        "city": city,
        "zip": zip_code,
        "country_id": codes.index(code) + 1,
        "phone": phone,
    }


def _partner(m: Master, name: str, is_company: bool, **values: object) -> dict[str, object]:
    defaults: dict[str, object] = {
        "complete_name": name,
        "display_name": name,
        "lang": "en_US",
        "type": "contact",
        "employee": False,
        "active": True,
        "customer_rank": 0,
        "supplier_rank": 0,
    }
    row = m.add("res_partner", name=name, is_company=is_company, **(defaults | values))
    row.setdefault("commercial_partner_id", row["id"])
    if is_company:
        row["commercial_company_name"] = name
    return row


def _company_partner(m: Master, used: set[str], name: str | None = None) -> dict[str, object]:
    rng = m.rng
    address = _address(m)
    code = list(COUNTRIES)[cast(int, address["country_id"]) - 1]
    while name is None or name in used:
        suffix = rng.choice(COUNTRIES[code][4].split("|"))
        name = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {suffix}"
    used.add(name)
    domain = _slug(name.rsplit(" ", 1)[0]) + ".example.com"
    pattern = COUNTRIES[code][5]
    return _partner(
        m,
        name,
        True,
        vat=_fill(rng, pattern) if pattern and rng.random() < 0.9 else None,
        website=f"https://www.{domain}",
        email=f"{rng.choice(['info', 'accounts', 'billing', 'office'])}@{domain}",
        **address,
        **m.audit(60, 1500),
    )


def _person_name(m: Master) -> str:
    return f"{m.rng.choice(FIRST_NAMES)} {m.rng.choice(LAST_NAMES)}"


def _person_email(name: str, domain: str = "example.com") -> str:
    first, last = (_slug(part) for part in name.split(" ", 1))
    return f"{first}.{last}@{domain}"


def add_partners(m: Master) -> None:
    """The company's own partner, ~135 customers (a fifth created during the period), 48
    vendors (three billing every month), and contacts working for customer companies."""
    rng = m.rng
    used: set[str] = set()
    own = _partner(m, "Blue Heron Trading Co.", True, company_id=COMPANY_ID)
    own.update(
        street="500 Congress Avenue",
        city="Austin",
        zip="73301",
        country_id=1,
        phone="+1 512-555-0100",
        email="info@blueheron.example.com",
        website="https://www.blueheron.example.com",
        vat="12-3456789",
        **m.audit(900, 900),
    )
    m.xmlids.append(("base", "res.partner", "main_partner", 1))
    window = (m.end - m.start).days
    for i in range(135):
        if rng.random() < 0.8:
            row = _company_partner(m, used)
        else:
            name = _person_name(m)
            row = _partner(m, name, False, email=_person_email(name), **_address(m))
            row.update(m.audit(60, 1500))
        if i % 5 == 4 and window > 60:  # a fifth of customers arrive during the period
            created = m.stamp(m.start + timedelta(days=rng.randrange(window - 30)))
            row.update(create_date=created, write_date=created)
        pid = row_id(row)
        m.customers.append(pid)
        m.customer_weight.append(rng.choice((1, 1, 1, 2, 2, 3, 5, 8, 13)))
        m.payment_days[pid] = rng.choice((0, 15, 30, 30, 30, 45))
    recurring = (
        ("Granite Property Management LLC", "Office rent", "612000", 450000, False),
        ("Pacific Power & Light Corp.", "Electricity and water", "613000", 0, True),
        ("Clearline Telecom Inc.", "Internet and phone lines", "619000", 21990, True),
    )
    for name, label, account, amount, taxed in recurring:
        row = _company_partner(m, used, name)
        m.recurring.append((row_id(row), label, account, amount, taxed))
    purchasable = m.purchase_products
    for _ in range(45):
        pid = row_id(_company_partner(m, used))
        m.vendors.append(pid)
        m.vendor_products[pid] = rng.sample(purchasable, rng.randint(2, 4))
    for pid in rng.sample(m.customers, 12):  # some customers also sell to us
        if m.partner(pid)["is_company"]:
            m.vendors.append(pid)
            m.vendor_products[pid] = rng.sample(purchasable, 1)
    companies = [p for p in m.customers if m.partner(p)["is_company"]]
    for parent_id in rng.sample(companies, 18):
        parent = m.partner(parent_id)
        name = _person_name(m)
        domain = str(parent["email"]).split("@")[1]
        _partner(
            m,
            name,
            False,
            complete_name=f"{parent['name']}, {name}",
            display_name=f"{parent['name']}, {name}",
            parent_id=parent_id,
            commercial_partner_id=parent_id,
            commercial_company_name=parent["name"],
            type=rng.choice(("contact", "contact", "invoice")),
            function=rng.choice(("Purchasing Manager", "Accountant", "CFO", "Office Manager")),
            email=_person_email(name, domain),
            mobile=_address(m)["phone"],
            **{k: parent[k] for k in ("street", "city", "zip", "country_id", "phone")},
            **m.audit(30, 700),
        )


def add_employees(m: Master) -> None:
    """Departments and their staff; each employee gets the work contact (res.partner)
    that expense receipts are booked against, and the first of each department manages it."""
    rng = m.rng
    used: set[str] = set()
    ceo: int | None = None
    department_ids: dict[str, int] = {}
    for dept, parent, jobs in STAFF:
        audit = m.audit(700, 900)
        parent_id = department_ids.get(parent or "")
        complete = f"{parent} / {dept}" if parent else dept
        department = m.add(
            "hr_department",
            name=dept,
            complete_name=complete,
            active=True,
            company_id=COMPANY_ID,
            parent_id=parent_id,
            **audit,
        )
        department_ids[dept] = row_id(department)
        manager: int | None = None
        for job in jobs.split("|"):
            title, salary = job.split(":")
            name = _person_name(m)
            while name in used:
                name = _person_name(m)
            used.add(name)
            work_email = _person_email(name, "blueheron.example.com")
            hired = m.audit(30, 2000)
            contact = _partner(
                m, name, False, email=work_email, company_id=COMPANY_ID, **_address(m, "US")
            )
            contact.update(hired)
            home = _address(m, "US")
            employee = m.add(
                "hr_employee",
                name=name,
                active=True,
                company_id=COMPANY_ID,
                department_id=department["id"],
                job_title=title,
                work_email=work_email,
                work_phone="+1 512-555-0100",
                mobile_phone=contact["phone"],
                work_contact_id=contact["id"],
                parent_id=manager or ceo,
                coach_id=manager or ceo,
                private_email=_person_email(name, "mail.example.com"),
                private_phone=home["phone"],
                private_street=home["street"],
                private_city=home["city"],
                private_zip=home["zip"],
                private_country_id=home["country_id"],
                employee_type="contractor" if title == "Product Designer" else "employee",
                birthday=date(rng.randint(1965, 2001), rng.randint(1, 12), rng.randint(1, 28)),
                **hired,
            )
            eid = row_id(employee)
            m.salary[eid] = int(salary) * 100
            if manager is None:
                manager = eid
                department["manager_id"] = eid
            ceo = ceo or eid
