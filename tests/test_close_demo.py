"""The shipped month-end close on the demo data (trial: on a database loaded with
``write_postgres(build_dataset())`` the close stopped at its extract with "connection
'odoo' has no table 'ir_module_module'"). The demo now carries what the close reads under
Odoo 17's names (ir_module_module with base's version, res_currency_rate,
account_partial_reconcile for its payments, account_bank_statement_line, the company's
fiscal year, lock dates and journal accounts): the template runs on a real worker and its
numbers agree with the demo database."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from tests.support.odoo_close import ledger_balances, open_items_at
from tests.support.postgres import postgres_settings
from tests.test_close import PIPELINE, TEMPLATES, close, failure, rows
from workbench_server.connections import ConnectionCreate, ConnectionService
from workbench_server.lake import Lake
from workbench_server.pipelines.registry import PipelineRegistry
from workbench_server.principal import local_principal

assert PIPELINE == "month-end-close"


@pytest.mark.timeout(900)
def test_the_close_runs_on_the_demo_data(
    pg_cluster, workbench, worker, temporal_address, task_queue, tmp_path: Path
) -> None:
    from workbench_server.demo import build_dataset, write_postgres

    with pg_cluster.fresh_database() as url:
        write_postgres(url, build_dataset())  # the README's demo: 12 months to 2026-10-31
        ConnectionService(workbench, local_principal()).create(
            ConnectionCreate(name="odoo", settings=postgres_settings(url))
        )
        folder = tmp_path / "src"
        shutil.copytree(TEMPLATES, folder)
        PipelineRegistry(workbench, local_principal()).deploy(folder / "month_end_close.yaml")
        run = close(workbench, temporal_address, task_queue, 1, "2026-09")
        assert run.status == "succeeded", failure(run)

        lake = Lake.of(workbench, local_principal(), None)
        (period,) = rows(lake, "gold.close_periods", 1, "2026-09")
        assert (period["odoo_version"], period["fiscal_year_start"]) == ("17.0", date(2026, 1, 1))
        tb = rows(lake, "gold.trial_balance", 1, "2026-09")
        assert tb and sum(r["closing"] for r in tb) == 0
        assert all(isinstance(r["closing"], Decimal) for r in tb)
        ledger = ledger_balances(url, 1, date(2026, 9, 30))
        for r in tb:
            if not r["account_type"].startswith(("income", "expense", "equity_unaffected")):
                assert r["closing"] == ledger.get(r["account_id"], 0), r
        # Receivables open at period end per partner: the payments' partial reconciles
        # match the invoices (a paid invoice is not open), as PostgreSQL computes it.
        items = rows(lake, "gold.open_items", 1, "2026-09")
        for kind in ("asset_receivable", "liability_payable"):
            ours: dict = {}
            for item in items:
                if item["account_type"] == kind:
                    ours[item["partner_id"]] = ours.get(item["partner_id"], 0) + item["open_amount"]
            theirs = open_items_at(url, 1, kind, date(2026, 9, 30))
            assert theirs, kind
            assert {p: v for p, v in ours.items() if v != 0} == theirs
        checks = {c["check_name"]: c for c in rows(lake, "gold.close_checks", 1, "2026-09")}
        failed = {n: c["detail"] for n, c in checks.items() if c["status"] == "failed"}
        assert not failed, failed
        for name in ("trial_balance_sums_to_zero", "receivables_tie_out", "payables_tie_out"):
            assert checks[name]["status"] == "passed", checks[name]
