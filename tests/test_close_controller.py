"""The month-end close checked by a controller on books no fixture generator wrote
(tests/support/odoo_controller.py, issue 17): every number of the gold tables against
PostgreSQL computed here, and against the figures worked out by hand for the stories in
those books (exchange differences, a credit note, payments across periods and after the
period end, a locked period, JPY, a fiscal year ending in March, drafts and cancelled
entries, rounding lines, taxes).
"""

from __future__ import annotations

import asyncio
import re
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from tests.support.ingest import _run
from tests.support.odoo_controller import build, open_items, trial_balance
from tests.support.postgres import postgres_settings
from workbench_server.connections import ConnectionCreate, ConnectionService
from workbench_server.lake import Lake
from workbench_server.pipelines.registry import PipelineRegistry
from workbench_server.pipelines.runs import RunService
from workbench_server.principal import local_principal

TEMPLATES = Path(__file__).resolve().parents[1] / "pipelines" / "templates"
CENT = Decimal("0.01")


def close(workbench, address, queue, company: int, period: str, **more):
    service = RunService(workbench, local_principal())
    plan, _ = service.prepare(
        "month-end-close",
        {"company_id": company, "period": period, **more},
        logical_date=date(2026, 5, 1),
    )
    asyncio.run(_run(address, queue, plan))
    run = service.get(plan.run_id)
    return run, " | ".join(f"{a.step_id}: {a.error}" for a in run.attempts if a.error)


def gold(lake: Lake, table: str, company: int, period: str) -> list[dict]:
    where = f"source = 'odoo' AND company_id = {company} AND period = '{period}'"
    return lake.read(table, where=where).to_pylist()


@pytest.mark.timeout(900)
@pytest.mark.parametrize("version", ["17.0", "18.0"])
def test_a_controller_ties_the_close_out_to_the_cent(
    version, pg_cluster, workbench, worker, temporal_address, task_queue, tmp_path
) -> None:
    # 18 has sale and purchase lock dates where 16 and 17 have the period lock date
    period_lock = "lock_date:sale_lock_date" if version == "18.0" else "lock_date:period_lock_date"
    with pg_cluster.fresh_database() as url:
        build(url, version)
        ConnectionService(workbench, local_principal()).create(
            ConnectionCreate(name="odoo", settings=postgres_settings(url))
        )
        shutil.copytree(TEMPLATES, tmp_path / "src")
        PipelineRegistry(workbench, local_principal()).deploy(
            tmp_path / "src" / "month_end_close.yaml"
        )
        lake = Lake.of(workbench, local_principal(), None)
        reports = tmp_path / "reports"
        closes = {
            (1, "2026-01"): date(2026, 1, 1),
            (1, "2026-02"): date(2026, 1, 1),
            (2, "2026-03"): date(2025, 4, 1),
            (2, "2026-04"): date(2026, 4, 1),
        }
        for (company, period), fy_start in closes.items():
            run, why = close(
                workbench,
                temporal_address,
                task_queue,
                company,
                period,
                report_folder=str(reports),
            )
            assert run.status == "succeeded", why
            # Every account of the trial balance against PostgreSQL, to the cent.
            tb = {
                r["code"]: [r["opening"], r["debit"], r["credit"], r["closing"]]
                for r in gold(lake, "gold.trial_balance", company, period)
            }
            assert tb == trial_balance(url, company, period, fy_start), (company, period)
            # Every open receivable and payable item at period end.
            items = {
                r["move_line_id"]: r["open_amount"]
                for r in gold(lake, "gold.open_items", company, period)
            }
            assert items == open_items(url, company, period), (company, period)

        # Figures worked out by hand. FY 2025's result (income 1,000, expenses 500) opens
        # 2026 in undistributed profits; company 2's year ending 31 March 2026 (700 from the
        # year before, then 1,000 + 398.75 - 300) is carried into April.
        assert tb_row(lake, 1, "2026-02", "999999")["opening"] == Decimal("-500")
        april = {r["code"]: r for r in gold(lake, "gold.trial_balance", 2, "2026-04")}
        assert april["999999"]["opening"] == Decimal("-1798.75")
        assert april["400000"]["opening"] == 0 and april["400000"]["closing"] == -200
        march = {r["code"]: r for r in gold(lake, "gold.trial_balance", 2, "2026-03")}
        assert march["400000"]["opening"] == -1000  # from 1 April 2025 only
        assert march["999999"]["opening"] == -700
        # February: the receivables left open are the JPY invoice (76.92), an invoice paid
        # on 3 March (300) and one not due (100); the USD invoice (paid with its exchange
        # difference), the credit-noted one, the one paid in two months and the one paid on
        # 27 February but reconciled on 5 March are closed. Half the GBP bill is owed.
        assert tb_row(lake, 1, "2026-02", "121000")["closing"] == Decimal("476.92")
        assert tb_row(lake, 1, "2026-02", "641000")["debit"] == Decimal("19.64")
        assert tb_row(lake, 1, "2026-02", "442000")["credit"] == Decimal("0.05")
        aged = {
            r["partner_name"]: [r[b] for b in ("not_due", "days_1_30", "days_31_60", "total")]
            for r in gold(lake, "gold.ar_ap_ageing", 1, "2026-02")
        }
        assert aged == {
            "Delta KK": [0, 300, Decimal("76.92"), Decimal("376.92")],
            "Epsilon SL": [100, 0, 0, 100],
            "Supplier Two": [-500, 0, 0, -500],
        }
        checks = {c["check_name"]: c for c in gold(lake, "gold.close_checks", 1, "2026-02")}
        assert (
            checks["draft_entries_in_period"]["items"],
            checks["draft_entries_in_period"]["amount"],
        ) == (1, 999)  # the cancelled one is not a draft
        assert checks["suspense_cleared"]["amount"] == -50
        assert checks[period_lock]["status"] == "warning"
        jan = {c["check_name"]: c for c in gold(lake, "gold.close_checks", 1, "2026-01")}
        assert jan[period_lock]["status"] == "passed"

        # Unrealized exchange differences as Odoo's report makes them: the receivables and
        # payables in a foreign currency and the USD bank account, at the period-end rate.
        # The USD invoice's tax (owed in EUR) and the EUR bank's GBP payment were converted
        # when booked: no revaluation (the close warned of a 15.91 gain on the tax account).
        assert fx(checks) == {
            "fx_revaluation:USD:101410": (Decimal("-72.03"), "warning"),  # 1210 USD at 1.20
            "fx_revaluation:GBP:211000": (Decimal("11.49"), "warning"),  # -425 GBP at 0.87
            "fx_revaluation:JPY:121000": (Decimal("1.21"), "warning"),  # 12345 JPY at 158
        }
        assert (
            "1210.0000000000 USD booked at 1080.3600000000"
            in (checks["foreign_currency:USD"]["detail"])
        )
        assert fx(jan) == {
            "fx_revaluation:USD:121000": (Decimal("52.38"), "warning"),  # 1210 USD at 1.05
            "fx_revaluation:GBP:211000": (Decimal("0"), "passed"),
            "fx_revaluation:JPY:121000": (Decimal("0"), "passed"),
        }
        assert jan["fx_revaluation:GBP:211000"]["detail"].endswith(": nothing to revalue")
        # The account by code and name in the detail the report shows.
        assert checks["fx_revaluation:USD:101410"]["detail"].startswith("101410 Bank USD: 1210"), (
            checks["fx_revaluation:USD:101410"]["detail"]
        )
        company2 = {c["check_name"]: c for c in gold(lake, "gold.close_checks", 2, "2026-03")}
        assert fx(company2) == {"fx_revaluation:USD:121000": (Decimal("0"), "passed")}

        # The report reads as a controller expects: amounts to the cent, not 0E-10 or
        # 476.9200000000.
        html = (reports / "close-odoo-1-2026-02.html").read_text()
        assert "Totals: opening 0.00, debit 6,460.00,\ncredit 6,460.00, closing 0.00." in html
        assert "<td>476.92</td>" in html and "<td>102,916.49</td>" in html
        assert "E-10" not in html
        assert not re.search(r"<td>-?[0-9,]+\.[0-9]{10}</td>", html)  # an amount cell
        # Receivables and payables by partner name, beside the partner's open amount (the
        # report showed partner ids: 6, 7, 10), and receivable/payable for Odoo's types.
        assert (
            "<tr><td>receivable</td><td>Delta KK</td><td>376.92</td><td>376.92</td>"
            "<td>0.00</td></tr>" in html
        )
        assert "<tr><td>payable</td><td>Supplier Two</td><td>-500.00</td><td>-500.00</td>" in html
        assert "<th>partner_id</th>" not in html and "asset_receivable" not in html
        # Accounts by code and name (18 keeps the code per company in code_store).
        assert "<tr><td>121000</td><td>Receivable</td><td>" in html, html
        assert "<td>101410 Bank USD: 1210" in html  # the FX check names its account too

        # Each close's opening balances against the close of the month before, as written:
        # the same (at company 2's fiscal year start, March's income and expense moved to
        # undistributed profits), or nothing to compare with.
        for (company, period), status in {
            (1, "2026-01"): "info",
            (1, "2026-02"): "passed",
            (2, "2026-03"): "info",
            (2, "2026-04"): "passed",
        }.items():
            check = checks_of(lake, company, period)["previous_close_unchanged"]
            assert check["status"] == status, (company, period, check)
        # An entry dated in closed January, posted after its close: February's close says
        # its opening balances differ from January's close, until January is closed again.
        with psycopg.connect(url, autocommit=True) as db:
            db.execute(
                "WITH m AS (INSERT INTO account_move (name, date, state, move_type, journal_id, "
                "company_id, currency_id, amount_total, create_date, write_date) SELECT "
                "'LATE/1', '2026-01-20', 'posted', 'entry', min(id), 1, 1, 10, now(), now() "
                "FROM account_journal WHERE company_id = 1 AND code = 'MISC' RETURNING id) "
                "INSERT INTO account_move_line (move_id, move_name, date, parent_state, "
                "company_id, company_currency_id, account_id, currency_id, debit, credit, "
                "balance, amount_currency, create_date, write_date) SELECT m.id, 'LATE/1', "
                "'2026-01-20', 'posted', 1, 1, a.id, 1, d, c, d - c, d - c, now(), now() "
                "FROM m, account_account a JOIN (VALUES ('600000', 10.00, 0), "
                "('212000', 0, 10.00)) v(code, d, c) ON v.code = coalesce(to_jsonb(a) ->> "
                "'code', to_jsonb(a) -> 'code_store' ->> '1') "
                "WHERE coalesce((to_jsonb(a) ->> 'company_id')::int, 1) = 1"
            )
            # Meanwhile Epsilon SL was renamed: two partners named Delta KK, one with a ref.
            (epsilon,) = db.execute(
                "UPDATE res_partner SET name = 'Delta KK', ref = 'E-1', write_date = now() "
                "WHERE name = 'Epsilon SL' RETURNING id"
            ).fetchone()
            (delta,) = db.execute(
                "SELECT id FROM res_partner WHERE name = 'Delta KK' AND id <> %s", (epsilon,)
            ).fetchone()
        run, why = close(workbench, temporal_address, task_queue, 1, "2026-02")
        assert run.status == "succeeded", why
        check = checks_of(lake, 1, "2026-02")["previous_close_unchanged"]
        assert (check["status"], check["amount"], check["items"]) == ("warning", 20, 2), check
        for period in ("2026-01", "2026-02"):
            run, why = close(
                workbench, temporal_address, task_queue, 1, period, report_folder=str(reports)
            )
            assert run.status == "succeeded", why
        check = checks_of(lake, 1, "2026-02")["previous_close_unchanged"]
        assert check["status"] == "passed", check
        # Two partners of one name are told apart: by the ref where one has it, else the id.
        html = (reports / "close-odoo-1-2026-02.html").read_text()
        assert f"<tr><td>receivable</td><td>Delta KK (id {delta})</td><td>376.92</td>" in html
        assert "<tr><td>receivable</td><td>Delta KK (ref E-1)</td><td>100.00</td>" in html
        assert "<td>Delta KK</td>" not in html and "Epsilon" not in html
        aged = {
            r["partner_id"]: r["partner_name"]
            for r in gold(lake, "gold.ar_ap_ageing", 1, "2026-02")
        }
        assert aged[delta] == f"Delta KK (id {delta})" and aged[epsilon] == "Delta KK (ref E-1)"

        # A month without entries is refused, naming it.
        run, why = close(workbench, temporal_address, task_queue, 2, "2026-02")
        assert run.status == "failed"
        assert "company 2 has no posted journal item in 2026-02" in why


def checks_of(lake: Lake, company: int, period: str) -> dict:
    return {c["check_name"]: c for c in gold(lake, "gold.close_checks", company, period)}


def tb_row(lake: Lake, company: int, period: str, code: str) -> dict:
    (row,) = [r for r in gold(lake, "gold.trial_balance", company, period) if r["code"] == code]
    return row


def fx(checks: dict) -> dict:
    return {
        name: (c["amount"].quantize(CENT), c["status"])
        for name, c in checks.items()
        if name.startswith("fx_revaluation:")
    }
