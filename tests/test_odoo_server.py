"""The Odoo stand-in answers Odoo 17's external API as Odoo's own documentation uses it
(``xmlrpc.client.ServerProxy`` on ``/xmlrpc/2/common`` and ``/xmlrpc/2/object``, JSON-RPC
on ``/jsonrpc``), with the data of a real PostgreSQL database and Odoo-shaped faults."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
import xmlrpc.client
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import psycopg
import pytest

from tests.support.odoo_server import VERSION, OdooServer, running_odoo

Rpc = Callable[..., Any]


@pytest.fixture
def odoo(odoo_api: OdooServer) -> OdooServer:
    return odoo_api


@pytest.fixture
def common(odoo: OdooServer) -> xmlrpc.client.ServerProxy:
    return xmlrpc.client.ServerProxy(f"{odoo.url}/xmlrpc/2/common")


@pytest.fixture
def models(odoo: OdooServer) -> xmlrpc.client.ServerProxy:
    return xmlrpc.client.ServerProxy(f"{odoo.url}/xmlrpc/2/object")


@pytest.fixture
def admin(odoo: OdooServer, models: xmlrpc.client.ServerProxy) -> Rpc:
    """``admin(model, method, *args, **kwargs)``: ``models.execute_kw`` as in Odoo's docs."""

    def call(model: str, method: str, *args: object, **kwargs: object) -> Any:
        return models.execute_kw(odoo.db, odoo.uid, odoo.password, model, method, [*args], kwargs)

    return call


def jsonrpc(odoo: OdooServer, service: str, method: str, *args: object) -> dict[str, Any]:
    """A whole JSON-RPC answer from ``/jsonrpc``."""
    body = {
        "jsonrpc": "2.0",
        "method": "call",
        "params": {"service": service, "method": method, "args": list(args)},
        "id": 42,
    }
    request = urllib.request.Request(
        f"{odoo.url}/jsonrpc",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def sql_rows(url: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()  # type: ignore[arg-type]  # test-written SQL


def test_version_and_authenticate_as_in_odoo_docs(
    odoo: OdooServer, common: xmlrpc.client.ServerProxy
) -> None:
    assert common.version() == {
        "server_version": "17.0",
        "server_version_info": [17, 0, 0, "final", 0, ""],
        "server_serie": "17.0",
        "protocol_version": 1,
    }
    assert common.authenticate(odoo.db, odoo.login, odoo.password, {}) == 2
    assert common.authenticate(odoo.db, odoo.login, odoo.api_key, {}) == 2
    assert common.authenticate(odoo.db, "portal", "portal", {}) == odoo.users["portal"].uid != 2
    assert common.authenticate(odoo.db, odoo.login, "not the password", {}) is False
    assert common.authenticate(odoo.db, "nobody", odoo.password, {}) is False


def test_search_read_customers_match_sql(admin: Rpc, odoo_db: str) -> None:
    domain = [("customer_rank", ">", 0)]
    customers = admin("res.partner", "search_read", domain, fields=["name"], order="id")
    expected = sql_rows(
        odoo_db, "SELECT id, name FROM res_partner WHERE customer_rank > 0 AND active ORDER BY id"
    )
    assert len(expected) > 50
    assert [(c["id"], c["name"]) for c in customers] == expected
    assert all(set(c) == {"id", "name"} for c in customers)


# (model, domain, the same condition written in SQL by hand)
COUNT_CASES = [
    ("res.partner", [("customer_rank", ">", 0)], "active AND customer_rank > 0"),
    (
        "res.partner",
        ["|", ("customer_rank", ">", 0), ("supplier_rank", ">=", 1)],
        "active AND (customer_rank > 0 OR supplier_rank >= 1)",
    ),
    (
        "res.partner",
        [("is_company", "=", True), ("name", "ilike", "CO")],
        "active AND is_company AND name ILIKE '%co%'",
    ),
    ("res.partner", [("parent_id", "!=", False)], "active AND parent_id IS NOT NULL"),
    (
        "res.partner",
        ["!", ("country_id", "in", [1, 2])],
        "active AND (country_id NOT IN (1, 2) OR country_id IS NULL)",
    ),
    ("res.partner", [("name", "=like", "A%")], "active AND name LIKE 'A%'"),
    ("res.partner", [("email", "=ilike", "a%")], "active AND email ILIKE 'a%'"),
    ("res.currency", [], "active"),
    ("res.currency", [("active", "=", False)], "NOT active"),
    (
        "account.move",
        [
            ("move_type", "in", ["out_invoice", "out_refund"]),
            ("state", "=", "posted"),
            ("invoice_date", ">=", "2026-01-01"),
            ("invoice_date", "<", "2026-04-01"),
        ],
        "move_type IN ('out_invoice', 'out_refund') AND state = 'posted'"
        " AND invoice_date >= '2026-01-01' AND invoice_date < '2026-04-01'",
    ),
    (
        "account.move.line",
        [("account_id.code", "=like", "4%"), ("parent_state", "=", "posted")],
        "account_id IN (SELECT id FROM account_account WHERE code LIKE '4%')"
        " AND parent_state = 'posted'",
    ),
    (
        "account.move.line",
        [("partner_id", "ilike", "ltd"), ("debit", ">", 1000)],
        "partner_id IN (SELECT id FROM res_partner WHERE display_name ILIKE '%ltd%')"
        " AND debit > 1000",
    ),
    (
        "account.move.line",
        [("name", "not ilike", "tax"), ("credit", "<=", 0)],
        "(name NOT ILIKE '%tax%' OR name IS NULL) AND credit <= 0",
    ),
    ("account.account", [("name", "ilike", "sales")], "name->>'en_US' ILIKE '%sales%'"),
    (
        "hr.expense",
        [("state", "not in", ["refused", "draft"])],
        "(state NOT IN ('refused', 'draft') OR state IS NULL)",
    ),
]


@pytest.mark.parametrize(("model", "domain", "where"), COUNT_CASES)
def test_search_and_search_count_match_sql(
    admin: Rpc, odoo_db: str, model: str, domain: list[object], where: str
) -> None:
    table = model.replace(".", "_")
    expected = [row[0] for row in sql_rows(odoo_db, f"SELECT id FROM {table} WHERE {where}")]
    assert expected, "each case should select some rows"
    assert admin(model, "search_count", domain) == len(expected)
    assert sorted(admin(model, "search", domain)) == sorted(expected)


def test_archived_records_only_on_request(admin: Rpc, odoo_db: str) -> None:
    everything = sql_rows(odoo_db, "SELECT count(*) FROM res_currency")[0][0]
    assert admin("res.currency", "search_count", []) < everything
    unfiltered = admin("res.currency", "search_count", [], context={"active_test": False})
    assert unfiltered == everything


def test_pagination_covers_every_row_once(admin: Rpc, odoo_db: str) -> None:
    domain = [("state", "=", "posted")]
    everything = admin("account.move", "search", domain)
    for order in (None, "date desc, id", "partner_id"):  # None: the model's own _order
        paged: list[int] = []
        options = {"order": order} if order else {}
        for offset in range(0, len(everything) + 300, 300):
            page = admin(
                "account.move", "search_read", domain, ["id"], offset=offset, limit=300, **options
            )
            paged += [r["id"] for r in page]
        assert len(paged) == len(set(paged)) == len(everything)
        if order is None:
            assert paged == everything
    posted = sql_rows(odoo_db, "SELECT id FROM account_move WHERE state = 'posted'")
    assert set(everything) == {row[0] for row in posted}


def test_many2one_values_are_id_name_pairs(admin: Rpc, odoo_db: str) -> None:
    fields = ["partner_id", "account_id", "date", "debit"]
    lines = admin(
        "account.move.line", "search_read", [("partner_id", "!=", False)], fields, limit=20
    )
    expected = sql_rows(
        odoo_db,
        "SELECT l.id, p.id, p.display_name, a.id, a.code || ' ' || (a.name->>'en_US'),"
        " l.date, l.debit FROM account_move_line l JOIN res_partner p ON p.id = l.partner_id"
        " JOIN account_account a ON a.id = l.account_id"
        " ORDER BY l.date DESC, l.move_name DESC, l.id LIMIT 20",  # the model's _order
    )
    got = [(r["id"], *r["partner_id"], *r["account_id"], r["date"], r["debit"]) for r in lines]
    assert got == [(*row[:5], row[5].isoformat(), float(row[6])) for row in expected]
    no_partner = admin(
        "account.move.line", "search_read", [("partner_id", "=", False)], ["partner_id"], limit=1
    )
    assert no_partner[0]["partner_id"] is False


def test_read_values_follow_odoo_conventions(admin: Rpc, odoo_db: str) -> None:
    draft_id, account_id = sql_rows(
        odoo_db,
        "SELECT (SELECT min(id) FROM account_move WHERE sequence_number IS NULL),"
        " (SELECT min(id) FROM account_account)",
    )[0]
    fields = ["sequence_number", "invoice_origin", "amount_total", "create_date", "date"]
    # Missing ids are left out; the rest come back in the order asked for.
    moves = admin("account.move", "read", [draft_id, 999_999, 1], fields)
    assert [m["id"] for m in moves] == [draft_id, 1]
    draft = moves[0]
    assert draft["sequence_number"] == 0  # NULL integer reads as 0 in Odoo
    assert draft["invoice_origin"] is False  # NULL char reads as False
    assert isinstance(draft["amount_total"], float)
    datetime.strptime(draft["create_date"], "%Y-%m-%d %H:%M:%S")
    date.fromisoformat(draft["date"])
    account = admin("account.account", "read", [account_id], fields=["name"])
    name = sql_rows(odoo_db, f"SELECT name->>'en_US' FROM account_account WHERE id = {account_id}")
    assert account == [{"id": account_id, "name": name[0][0]}]  # jsonb translation -> en_US


def test_fields_get_describes_fields_from_ir_model_fields(admin: Rpc, odoo_db: str) -> None:
    fields = admin("account.move.line", "fields_get", attributes=["string", "type", "relation"])
    assert fields["partner_id"] == {
        "string": "Partner",
        "type": "many2one",
        "relation": "res.partner",
    }
    stored = "SELECT count(*) FROM ir_model_fields WHERE model = 'account.move.line'"
    assert len(fields) == sql_rows(odoo_db, stored)[0][0] + 1  # + the computed display_name
    attributes = ["selection", "required", "type", "help"]
    assert admin("account.move", "fields_get", ["state", "partner_id"], attributes) == {
        "state": {
            "type": "selection",
            "required": True,
            "selection": [["draft", "Draft"], ["posted", "Posted"], ["cancel", "Cancelled"]],
        },
        "partner_id": {"type": "many2one", "required": False},
    }
    vat = admin("res.partner", "fields_get", ["vat"])["vat"]
    assert vat["help"].startswith("The Tax Identification Number.")
    assert vat["readonly"] is False and vat["translate"] is False


def test_jsonrpc_answers_like_xmlrpc(odoo: OdooServer, admin: Rpc) -> None:
    assert jsonrpc(odoo, "common", "version") == {"jsonrpc": "2.0", "id": 42, "result": VERSION}
    login = jsonrpc(odoo, "common", "authenticate", odoo.db, odoo.login, odoo.api_key, {})
    assert login["result"] == odoo.uid
    domain, options = [["customer_rank", ">", 0]], {"fields": ["name", "country_id"], "limit": 5}
    answer = jsonrpc(
        odoo, "object", "execute_kw", odoo.db, odoo.uid, odoo.api_key, "res.partner",
        "search_read", [domain], options,
    )  # fmt: skip
    expected = admin("res.partner", "search_read", domain, **options)
    assert answer == {"jsonrpc": "2.0", "id": 42, "result": expected}


def test_portal_user_reads_only_what_it_may(
    odoo: OdooServer, models: xmlrpc.client.ServerProxy, admin: Rpc
) -> None:
    portal = odoo.users["portal"]

    def as_portal(model: str, method: str, *args: object, **kwargs: object) -> Any:
        return models.execute_kw(odoo.db, portal.uid, "portal", model, method, [*args], kwargs)

    assert as_portal("res.partner", "search_count", []) == 219
    assert as_portal("hr.expense", "check_access_rights", "read", raise_exception=False) is False
    assert admin("hr.expense", "check_access_rights", "read") is True


# execute_kw arguments ("{...}" filled in per server), XML-RPC fault code, JSON-RPC error
# name, and the text both must contain.
ADMIN = ("{db}", "{uid}", "{password}")
ERROR_CASES = {
    "wrong password": (
        ("{db}", "{uid}", "wrong", "res.partner", "search", [[]], {}),
        3, "odoo.exceptions.AccessDenied", "Access Denied",
    ),
    "unknown model": (
        (*ADMIN, "res.partnr", "search", [[]], {}),
        2, "odoo.exceptions.UserError", "Object res.partnr doesn't exist",
    ),
    "unknown operator": (
        (*ADMIN, "res.partner", "search", [[("name", "between", 1)]], {}),
        1, "builtins.ValueError", "Invalid leaf ('name', 'between', 1)",
    ),
    "malformed leaf": (
        (*ADMIN, "res.partner", "search_count", [[("name", "=")]], {}),
        1, "builtins.ValueError", "Invalid leaf ('name', '=')",
    ),
    "unknown field in domain": (
        (*ADMIN, "res.partner", "search_read", [[("nickname", "=", "x")]], {}),
        1, "builtins.ValueError",
        "Invalid field res.partner.nickname in leaf ('nickname', '=', 'x')",
    ),
    "unknown field to read": (
        (*ADMIN, "res.partner", "search_read", [[]], {"fields": ["nickname"]}),
        1, "builtins.ValueError", "Invalid field 'nickname' on model 'res.partner'",
    ),
    "model the user may not read": (
        ("{db}", "{portal}", "portal", "hr.expense", "search_read", [[]], {}),
        4, "odoo.exceptions.AccessError",
        "You are not allowed to access 'Expense' (hr.expense) records.",
    ),
    "wrong database": (
        ("nope", "{uid}", "{password}", "res.partner", "search", [[]], {}),
        1, "psycopg2.OperationalError", 'database "nope" does not exist',
    ),
}  # fmt: skip


@pytest.mark.parametrize(
    ("params", "code", "name", "text"), ERROR_CASES.values(), ids=ERROR_CASES.keys()
)
def test_errors_are_odoo_faults(
    odoo: OdooServer,
    models: xmlrpc.client.ServerProxy,
    params: tuple[object, ...],
    code: int,
    name: str,
    text: str,
) -> None:
    values = {"{db}": odoo.db, "{uid}": odoo.uid, "{password}": odoo.password}
    values["{portal}"] = odoo.users["portal"].uid
    args = [values.get(p, p) if isinstance(p, str) else p for p in params]
    with pytest.raises(xmlrpc.client.Fault) as fault:
        models.execute_kw(*args)
    assert fault.value.faultCode == code
    assert text in fault.value.faultString
    if code == 1:  # Odoo sends the traceback, which ends with the exception line
        last = fault.value.faultString.rstrip().splitlines()[-1]
        assert last.startswith(f"{name.removeprefix('builtins.')}: ")

    answer = jsonrpc(odoo, "object", "execute_kw", *args)
    assert set(answer) == {"jsonrpc", "id", "error"} and answer["id"] == 42
    error = answer["error"]
    assert (error["code"], error["message"]) == (200, "Odoo Server Error")
    assert error["data"]["name"] == name
    assert text in error["data"]["message"]
    assert error["data"]["debug"].startswith("Traceback")


def test_values_are_query_parameters_never_sql(admin: Rpc) -> None:
    hostile = "x' OR '1'='1"
    assert admin("res.partner", "search_count", [("name", "=", hostile)]) == 0
    assert admin("res.partner", "search_count", [("name", "ilike", hostile)]) == 0
    with pytest.raises(xmlrpc.client.Fault, match='Invalid "order" specified'):
        admin("res.partner", "search", [], order="name; DROP TABLE res_partner")
    with pytest.raises(xmlrpc.client.Fault, match="Invalid field"):
        admin("res.partner", "search", [('name" = name OR "id', "=", 1)])
    assert admin("res.partner", "search_count", []) == 219


def test_server_stops_cleanly(odoo_db: str) -> None:
    query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'odoo-stand-in'"

    def connections_become(expected: int) -> bool:
        # A closed connection's backend leaves pg_stat_activity a moment later.
        deadline = time.monotonic() + 5
        while sql_rows(odoo_db, query)[0][0] != expected:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    before = sql_rows(odoo_db, query)[0][0]
    with running_odoo(odoo_db, db_name="acme", users={"alice": "secret"}, api_keys={}) as server:
        common = xmlrpc.client.ServerProxy(f"{server.url}/xmlrpc/2/common")
        uid = common.authenticate("acme", "alice", "secret", {})
        assert (uid, server.api_key) == (2, "")
        objects = xmlrpc.client.ServerProxy(f"{server.url}/xmlrpc/2/object")
        assert objects.execute_kw("acme", uid, "secret", "res.company", "search", [[]]) == [1]
        assert connections_become(before + 1)
        port = int(server.url.rsplit(":", 1)[1])
    assert connections_become(before)
    assert f"odoo-stand-in:{port}" not in {t.name for t in threading.enumerate()}
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
