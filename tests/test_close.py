"""Month-end close on the lake (issue 17, must show 1): the shipped template runs on a real
Temporal worker against Odoo 16-, 17- and 18-shaped PostgreSQL databases (each version's
stored columns, tests/support/odoo_close.py) with two companies, one of them on a fiscal
year ending 31 March.

For a month in the past across a year boundary and for the latest month: the trial
balance sums to 0 with opening + period = closing per account, earlier years' result is
carried to undistributed profits at each company's fiscal year start, balance-sheet
closings equal the ledger, and the receivables and payables open at period end equal an
independent PostgreSQL computation over account_partial_reconcile written here. A closed
period run again gives the same rows and touches no other close; an unknown company and
an empty month are refused with nothing written; a past close reads back from the table
versions it pinned after the source and the close changed.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import psycopg
import pyarrow as pa
import pytest

from tests.support.ingest import _run
from tests.support.odoo_close import (
    BUCKETS,
    COMPANIES,
    RATES,
    VERSIONS,
    ageing_at,
    build_close_source,
    ledger_balances,
    open_items_at,
)
from tests.support.postgres import postgres_settings
from workbench_server.connections import ConnectionCreate, ConnectionService
from workbench_server.lake import Lake
from workbench_server.pipelines.registry import PipelineRegistry
from workbench_server.pipelines.runs import RunService
from workbench_server.principal import local_principal

TEMPLATES = Path(__file__).resolve().parents[1] / "pipelines" / "templates"
PIPELINE = "month-end-close"
GOLD_TABLES = (
    "gold.close_periods",
    "gold.trial_balance",
    "gold.open_items",
    "gold.open_items_by_partner",
    "gold.ar_ap_ageing",
    "gold.close_checks",
)


def close(workbench, address: str, queue: str, company: int, period: str, **more):
    service = RunService(workbench, local_principal())
    plan, _ = service.prepare(
        PIPELINE, {"company_id": company, "period": period, **more}, logical_date=date(2026, 12, 1)
    )
    asyncio.run(_run(address, queue, plan))
    return service.get(plan.run_id)


def rows(lake: Lake, table: str, company: int, period: str, version: int | None = None):
    """One close's rows of a gold table (as of ``version``), in a stable order."""
    where = f"source = 'odoo' AND company_id = {company} AND period = '{period}'"
    found = lake.read(table, version=version, where=where).to_pylist()
    return sorted(found, key=lambda r: tuple(str(v) for v in r.values()))


def failure(run) -> str:
    return " | ".join(f"{a.step_id}: {a.error}" for a in run.attempts if a.error)


def check_close(lake: Lake, url: str, company: int, period: str, fy_start: date) -> dict:
    """The invariants of one close, against the source; its checks by name."""
    start = date.fromisoformat(period + "-01")
    end = date(start.year + start.month // 12, start.month % 12 + 1, 1).toordinal() - 1
    end = date.fromordinal(end)
    tb = rows(lake, "gold.trial_balance", company, period)
    assert tb, (company, period)
    assert all(isinstance(r["closing"], Decimal) for r in tb)
    assert sum(r["closing"] for r in tb) == 0
    assert sum(r["opening"] for r in tb) == 0
    assert all(r["opening"] + r["period_balance"] == r["closing"] for r in tb)
    assert all(r["period_balance"] == r["debit"] - r["credit"] for r in tb)
    by_type = {}
    for r in tb:
        by_type.setdefault(r["account_type"], []).append(r)
    # Income and expense open with the current fiscal year only; earlier years' result
    # sits in undistributed profits.
    this_year = ledger_balances(url, company, start - date.resolution, since=fy_start)
    before = ledger_balances(url, company, fy_start - date.resolution)
    pnl = [r for t in ("income", "expense") for r in by_type.get(t, [])]
    for r in pnl:
        assert r["opening"] == this_year.get(r["account_id"], 0), r
    (earnings,) = by_type["equity_unaffected"]
    assert earnings["opening"] == sum(before.get(r["account_id"], 0) for r in pnl)
    assert earnings["opening"] != 0  # there was an earlier year to carry
    # Balance-sheet accounts close at their whole posted ledger.
    ledger = ledger_balances(url, company, end)
    for r in tb:
        if r["account_type"] not in ("income", "expense", "equity_unaffected"):
            assert r["closing"] == ledger.get(r["account_id"], 0), r
    # Receivables and payables open at period end, per partner, against PostgreSQL.
    items = rows(lake, "gold.open_items", company, period)
    for kind in ("asset_receivable", "liability_payable"):
        ours: dict = {}
        for item in items:
            if item["account_type"] == kind:
                ours[item["partner_id"]] = ours.get(item["partner_id"], 0) + item["open_amount"]
        theirs = open_items_at(url, company, kind, end)
        assert theirs, (kind, period)
        assert {p: v for p, v in ours.items() if v != 0} == theirs
    ties = rows(lake, "gold.open_items_by_partner", company, period)
    assert ties and all(t["difference"] == 0 for t in ties)
    checks = {c["check_name"]: c for c in rows(lake, "gold.close_checks", company, period)}
    assert_fx_revaluation(url, company, end, checks)
    assert_ageing(lake, url, company, period, end, checks)
    for name in (
        "trial_balance_sums_to_zero",
        "opening_plus_period_equals_closing",
        "closing_equals_ledger",
        "receivables_tie_out",
        "payables_tie_out",
        "receivables_ageing_ties_out",
        "payables_ageing_ties_out",
    ):
        assert checks[name]["status"] == "passed", checks[name]
    return checks


def assert_ageing(lake: Lake, url: str, company: int, period: str, end: date, checks) -> None:
    """gold.ar_ap_ageing against the ageing computed here in Python Decimal from the source's
    rows (tests/support/odoo_close.ageing_at), bucket by bucket to the cent; its check rows
    tie the buckets to the open items per account type."""
    aged = rows(lake, "gold.ar_ap_ageing", company, period)
    ours = {(r["account_type"], r["partner_id"]): r for r in aged}
    theirs = ageing_at(url, company, end)
    assert set(ours) == set(theirs), (period, set(ours) ^ set(theirs))
    for key, expected in theirs.items():
        got = ours[key]
        assert all(isinstance(got[b], Decimal) for b in (*BUCKETS, "total")), got
        assert {b: got[b] for b in (*BUCKETS, "total")} == expected, (key, got, expected)
        assert got["kind"] == ("receivable" if key[0] == "asset_receivable" else "payable")
    # The test data spreads due dates: the receivables reach most buckets.
    receivable = [r for r in aged if r["account_type"] == "asset_receivable"]
    assert sum(1 for b in BUCKETS if any(r[b] != 0 for r in receivable)) >= 3, receivable
    items = rows(lake, "gold.open_items", company, period)
    for kind, name in (("asset_receivable", "receivables"), ("liability_payable", "payables")):
        check = checks[f"{name}_ageing_ties_out"]
        open_total = sum((i["open_amount"] for i in items if i["account_type"] == kind), Decimal(0))
        assert check["amount"] == open_total, check
        assert check["items"] == sum(1 for i in items if i["account_type"] == kind)


def rate_of(currency: int, company: int, end: date) -> Decimal:
    """Odoo's rate of ``currency`` for ``company`` at ``end``, from the RATES the source was
    built with: the company's own rates before shared ones, the latest dated by ``end``."""
    dated = [r for r in RATES if r[1] == currency and r[2] in (company, None) and r[0] <= end]
    if not dated:
        return Decimal(1)
    own = [r for r in dated if r[2] == company]
    return max(own or dated, key=lambda r: r[0])[3]


def assert_fx_revaluation(url: str, company: int, end: date, checks: dict) -> None:
    """Each foreign currency's balance per balance-sheet account, revalued here at the
    period-end rate (to the cent, half up), against the close's fx_revaluation rows."""
    home = COMPANIES[company][1]
    with psycopg.connect(url) as db:
        found = db.execute(
            """
            SELECT c.name, l.currency_id,
                   coalesce(to_jsonb(a) ->> 'code', to_jsonb(a) -> 'code_store' ->> %(c)s),
                   sum(l.amount_currency), sum(l.balance)
            FROM account_move_line l JOIN account_account a ON a.id = l.account_id
            JOIN res_currency c ON c.id = l.currency_id
            WHERE l.company_id = %(company)s AND l.parent_state = 'posted' AND l.date <= %(end)s
              AND l.currency_id <> %(home)s AND a.account_type NOT IN ('income', 'expense')
            GROUP BY 1, 2, 3
            """,
            {"c": str(company), "company": company, "end": end, "home": home},
        ).fetchall()
    expected = {}
    for name, currency, code, amount_currency, booked in found:
        rate = rate_of(currency, company, end) / rate_of(home, company, end)
        value = (amount_currency / rate).quantize(Decimal("0.01"), ROUND_HALF_UP)
        expected[f"fx_revaluation:{name}:{code}"] = value - booked
    assert expected, (company, end)
    got = {n: c for n, c in checks.items() if n.startswith("fx_revaluation:")}
    assert set(got) == set(expected)
    for name, difference in expected.items():
        assert got[name]["amount"] == difference, (name, got[name])
        assert isinstance(got[name]["amount"], Decimal)
        status = "passed" if abs(difference) <= Decimal("0.01") else "warning"
        assert got[name]["status"] == status, got[name]


@pytest.fixture(params=VERSIONS)
def odoo(request, pg_cluster, workbench):
    with pg_cluster.fresh_database() as url:
        build_close_source(url, request.param)
        ConnectionService(workbench, local_principal()).create(
            ConnectionCreate(name="odoo", settings=postgres_settings(url))
        )
        yield request.param, url


@pytest.fixture
def deployed(tmp_path: Path, workbench) -> None:
    folder = tmp_path / "src"
    shutil.copytree(TEMPLATES, folder)
    PipelineRegistry(workbench, local_principal()).deploy(folder / "month_end_close.yaml")


@pytest.mark.timeout(900)
def test_close_on_each_odoo_version(
    odoo, deployed, workbench, worker, temporal_address, task_queue, home
) -> None:
    version, url = odoo
    lake = Lake.of(workbench, local_principal(), None)

    def run(company: int, period: str, **more):
        return close(workbench, temporal_address, task_queue, company, period, **more)

    # -- a past month across the calendar company's year boundary -------------------------
    reports = home.parent / "reports"
    first = run(1, "2026-01", report_folder=str(reports), pdf=version == "18.0")
    assert first.status == "succeeded", failure(first)
    (period_row,) = rows(lake, "gold.close_periods", 1, "2026-01")
    assert period_row["odoo_version"] == version
    assert period_row["fiscal_year_start"] == date(2026, 1, 1)
    checks = check_close(lake, url, 1, "2026-01", date(2026, 1, 1))
    lock_names = {n for n in checks if n.startswith("lock_date:")}
    if version == "18.0":
        assert lock_names == {
            "lock_date:fiscalyear_lock_date",
            "lock_date:tax_lock_date",
            "lock_date:sale_lock_date",
            "lock_date:purchase_lock_date",
            "lock_date:hard_lock_date",
        }
    else:
        assert lock_names == {
            "lock_date:fiscalyear_lock_date",
            "lock_date:tax_lock_date",
            "lock_date:period_lock_date",
        }
    # Locked to 2025-12-31 only: January can still change, which the check says.
    assert checks["lock_date:fiscalyear_lock_date"]["status"] == "warning"
    assert checks["draft_entries_in_period"]["items"] == 1
    assert checks["draft_entries_in_period"]["status"] == "warning"
    assert checks["unreconciled_bank_lines"]["items"] == 13  # one a month since Jan 2025
    assert checks["suspense_cleared"]["status"] == "warning"
    assert checks["foreign_currency:GBP"]["status"] == "info"
    # GBP rose from 0.85 (booked) to 0.86 per EUR on 20 January: the GBP receivable is worth
    # less in EUR, a loss not booked.
    receivable = checks["fx_revaluation:GBP:121000"]
    assert receivable["status"] == "warning" and receivable["amount"] < 0
    assert "at 0.86" in receivable["detail"] and "unrealized loss of" in receivable["detail"]
    first_tb = rows(lake, "gold.trial_balance", 1, "2026-01")
    first_ties = rows(lake, "gold.open_items_by_partner", 1, "2026-01")

    # -- the other company: its fiscal year starts on 1 April -------------------------------
    april = run(2, "2026-04")
    assert april.status == "succeeded", failure(april)
    (period_row,) = rows(lake, "gold.close_periods", 2, "2026-04")
    assert period_row["fiscal_year_start"] == date(2026, 4, 1)
    check_close(lake, url, 2, "2026-04", date(2026, 4, 1))
    pnl = [
        r
        for r in rows(lake, "gold.trial_balance", 2, "2026-04")
        if r["account_type"] in ("income", "expense")
    ]
    assert pnl and all(r["opening"] == 0 for r in pnl)  # a new fiscal year

    # -- the latest month -------------------------------------------------------------------
    latest = run(1, "2026-11")
    assert latest.status == "succeeded", failure(latest)
    check_close(lake, url, 1, "2026-11", date(2026, 1, 1))
    assert rows(lake, "gold.trial_balance", 1, "2026-01") == first_tb  # not overwritten

    # -- a closed period again: the same rows, nothing else touched ---------------------------
    before = {t: lake.read(t).num_rows for t in GOLD_TABLES}
    others = rows(lake, "gold.trial_balance", 2, "2026-04")
    again = run(1, "2026-01")
    assert again.status == "succeeded", failure(again)
    assert rows(lake, "gold.trial_balance", 1, "2026-01") == first_tb
    assert rows(lake, "gold.trial_balance", 2, "2026-04") == others
    assert {t: lake.read(t).num_rows for t in GOLD_TABLES} == before

    # -- an unknown company, an empty month: refused, nothing written -------------------------
    gold_versions = {t: lake.version(t) for t in GOLD_TABLES}
    unknown = run(99, "2026-01")
    assert unknown.status == "failed"
    assert "company 99 does not exist in source odoo" in failure(unknown)
    empty = run(2, "2027-01")
    assert empty.status == "failed"
    assert "company 2 has no posted journal item in 2027-01" in failure(empty)
    assert {t: lake.version(t) for t in GOLD_TABLES} == gold_versions
    assert rows(lake, "gold.trial_balance", 99, "2026-01") == []

    # -- a past close reads back as it was, after the source and the close changed ----------
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(
            "UPDATE account_move_line SET debit = debit + 100, balance = balance + 100, "
            "write_date = now() AT TIME ZONE 'UTC' WHERE id = (SELECT min(l.id) FROM "
            "account_move_line l JOIN account_move m ON m.id = l.move_id WHERE "
            "l.company_id = 1 AND l.date BETWEEN '2026-01-01' AND '2026-01-31' AND "
            "l.debit > 0 AND m.state = 'posted');"
            "UPDATE account_move_line SET credit = credit + 100, balance = balance - 100, "
            "write_date = now() AT TIME ZONE 'UTC' WHERE id = (SELECT min(l.id) FROM "
            "account_move_line l JOIN account_move m ON m.id = l.move_id WHERE "
            "l.company_id = 1 AND l.date BETWEEN '2026-01-01' AND '2026-01-31' AND "
            "l.credit > 0 AND m.state = 'posted')"
        )
    changed = run(1, "2026-01")
    assert changed.status == "succeeded", failure(changed)
    now_tb = rows(lake, "gold.trial_balance", 1, "2026-01")
    assert now_tb != first_tb
    assert sum(r["debit"] for r in now_tb) == sum(r["debit"] for r in first_tb) + 100
    pinned = {
        r["table_name"]: r["version"]
        for r in rows(lake, "gold.close_runs", 1, "2026-01")
        if r["run_id"] == first.id
    }
    assert set(GOLD_TABLES) - {"gold.close_checks"} <= set(pinned)
    assert "silver.account_move_line" in pinned and "gold.close_checks" in pinned
    assert rows(lake, "gold.trial_balance", 1, "2026-01", pinned["gold.trial_balance"]) == first_tb
    # The pinned silver version is the ledger as it was: January's debits before the change.
    old = lake.read("silver.account_move_line", version=pinned["silver.account_move_line"])
    january = [
        d
        for d, c, s, day in zip(
            old["debit"].to_pylist(),
            old["company_id"].to_pylist(),
            old["parent_state"].to_pylist(),
            old["date"].to_pylist(),
            strict=True,
        )
        if c == 1 and s == "posted" and date(2026, 1, 1) <= day <= date(2026, 1, 31)
    ]
    assert sum(january) == sum(r["debit"] for r in first_tb)

    # -- the report, rendered from the pinned versions ---------------------------------------
    executed = list((home / "runs" / first.id / "report" / "attempt-1").glob("*.ipynb"))
    assert executed, list((home / "runs" / first.id / "report").rglob("*"))
    text = executed[0].read_text()
    assert "Month-end close 2026-01: Calendar Year SA" in text
    assert "Trial balance sums to zero" in text
    # The same HTML in the report folder, and (once, it takes Chromium) a PDF of it.
    html = (reports / "close-odoo-1-2026-01.html").read_text()
    assert "Month-end close 2026-01: Calendar Year SA" in html and "</html>" in html
    assert "AR/AP ageing at period end" in html and "<th>Over 90 days</th>" in html
    # Headings and checks in words, not the gold tables' identifiers (a controller read
    # 'opening', 'over_90', 'draft_entries_in_period'); a check's key is its tooltip.
    assert (
        "<th>Code</th><th>Account</th><th>Opening balance</th><th>Debit</th><th>Credit</th>"
        "<th>Closing balance</th>" in html
    )
    assert '<td title="draft_entries_in_period">Draft entries in the period</td>' in html
    assert re.search(r'<td title="lock_date:[a-z_]+">Lock date: [a-z ]+</td>', html), html
    assert not re.search(r"<th>[a-z_]+</th>|<td>[a-z]+(?:_[a-z]+)+</td>", html), html
    # A controller reads partners by name beside their amounts, accounts by code and name.
    with psycopg.connect(url) as db:
        names = dict(db.execute("SELECT id, name FROM res_partner").fetchall())
    assert first_ties
    for t in first_ties:
        kind = "receivable" if t["account_type"] == "asset_receivable" else "payable"
        name = names[t["partner_id"]] if t["partner_id"] is not None else "(no partner)"
        assert t["partner_name"] == name, t
        shown = re.search(
            rf"<tr><td>{kind}</td><td>{re.escape(name)}</td><td>([-0-9,.]+)</td>", html
        )
        assert shown and Decimal(shown[1].replace(",", "")) == t["ledger_balance"], (t, shown)
    assert "<th>partner_id</th>" not in html
    for r in first_tb:
        assert f"<tr><td>{r['code']}</td><td>{r['account_name']}</td><td>" in html, r
        assert not r["account_name"].startswith("account "), r
    if version == "18.0":
        assert (reports / "close-odoo-1-2026-01.pdf").read_bytes().startswith(b"%PDF-")


def test_a_sql_step_replaces_its_own_partition_and_lists_the_versions_it_pinned(workbench):
    """What the close's sql steps rely on: ``$name`` in replace_where is the parameter as
    a literal (a quote in it stays inside the literal), and ``pinned_versions`` lists the
    tables the query read at the versions it read."""
    from tests.support.ingest import step_context
    from workbench_pipelines.ingest.sql_step import run_sql
    from workbench_server.errors import InvalidInputError

    me = local_principal()
    lake = Lake.of(workbench, me, None)
    for company, name in ((1, "one"), (2, "it's two")):
        lake.write(
            "silver.names", pa.table({"company_id": [company], "name": [name]}), mode="append"
        )
    step = {
        "sql": "SELECT company_id, name, name || '!' AS shout FROM silver.names WHERE name = $name",
        "target": "gold.names",
        "replace_where": "name = $name",
    }
    for name in ("one", "it's two", "it's two"):
        run_sql(step_context(workbench, me, "sql", step, parameters={"name": name}))
    assert sorted(r["shout"] for r in lake.read("gold.names").to_pylist()) == ["it's two!", "one!"]
    # A new version of the query with one more column (as the close's open items gained
    # due_date) replaces its partition in the table written before; others read NULL.
    grown = {**step, "sql": step["sql"].replace("AS shout", "AS shout, 7 AS due")}
    run_sql(step_context(workbench, me, "sql", grown, parameters={"name": "one"}))
    assert {r["name"]: r["due"] for r in lake.read("gold.names").to_pylist()} == {
        "one": 7,
        "it's two": None,
    }
    with pytest.raises(InvalidInputError, match=r"replace_where names \$nope"):
        run_sql(
            step_context(
                workbench,
                me,
                "sql",
                {**step, "replace_where": "name = $nope"},
                parameters={"name": "one"},
            )
        )
    ctx = step_context(
        workbench,
        me,
        "sql",
        {
            "sql": "SELECT v.* FROM pinned_versions v "
            "WHERE (SELECT count(*) FROM silver.names) > 0",
            "target": "gold.pinned",
        },
    )
    run_sql(ctx)
    found = {r["table_name"]: r for r in lake.read("gold.pinned").to_pylist()}
    assert found["silver.names"]["version"] == lake.version("silver.names")
    assert found["silver.names"]["run_id"] == ctx.run_id
