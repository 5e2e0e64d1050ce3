"""An Odoo-shaped source database for ingestion tests, and helpers to run pipelines of
declarative steps on a real worker and compare the lake with the source.

The demo dataset (Odoo 17 shaped) is loaded into a fresh database and given what Odoo
16-18 add that the demo lacks: a second company, a translated account name in French, a
company-dependent jsonb field on partners as Odoo 18 stores them (registered as such in
``ir_model_fields``), and an unconstrained ``numeric`` column (Odoo's monetary fields are
declared so).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg

from tests.support.postgres import PostgresCluster
from workbench_pipelines.plan import RunEvent
from workbench_pipelines.workflows import PipelineRunWorkflow
from workbench_server import temporal

TABLES = ["account_move", "account_move_line", "account_account", "res_partner", "res_company"]
ODOO_18 = """
INSERT INTO res_partner (id, name, is_company, active, create_date, write_date)
VALUES (100000, 'Second Company SA', true, true, now(), '2026-10-01 08:00');
INSERT INTO res_company (id, name, partner_id, currency_id, fiscalyear_last_day,
  fiscalyear_last_month, active, create_date, write_date)
SELECT 2, 'Second Company SA', 100000, currency_id, fiscalyear_last_day, fiscalyear_last_month,
  true, now(), '2026-10-01 08:00'
FROM res_company WHERE id = 1;
UPDATE account_account SET name = name || jsonb_build_object('fr_FR', 'FR ' || (name->>'en_US'))
WHERE id % 3 = 0;
ALTER TABLE ir_model_fields ADD COLUMN company_dependent boolean;
ALTER TABLE res_partner ADD COLUMN property_account_receivable_id jsonb;
INSERT INTO ir_model_fields (id, name, complete_name, model, model_id, ttype, relation,
  field_description, store, translate, company_dependent, state, create_date, write_date)
SELECT (SELECT max(id) + 1 FROM ir_model_fields), 'property_account_receivable_id',
  'res.partner.property_account_receivable_id', 'res.partner', model_id, 'many2one',
  'account.account', '{"en_US": "Account Receivable"}', true, false, true, 'base', now(), now()
FROM ir_model_fields WHERE model = 'res.partner' LIMIT 1;
UPDATE res_partner SET property_account_receivable_id =
  CASE WHEN id % 2 = 0 THEN jsonb_build_object('1', 7, '2', 8) ELSE jsonb_build_object('1', 7) END
WHERE is_company;
ALTER TABLE account_move_line ADD COLUMN amount_third numeric;
UPDATE account_move_line SET amount_third = balance / 3;
"""


def make_source(url: str) -> None:
    from workbench_server.demo import build_dataset, write_postgres

    write_postgres(url, build_dataset())
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(ODOO_18)


@contextmanager
def source_database(cluster: PostgresCluster) -> Iterator[str]:
    """A fresh database with the source in it (``make_source``'s), dropped on exit: a
    copy of one loaded once per cluster (loading takes 3-7 s on a loaded machine)."""
    with cluster.fresh_database(template=cluster.template("odoo_source", make_source)) as url:
        yield url


def change_source(url: str, share: float = 0.01) -> dict[str, Any]:
    """Update ``share`` of each table's rows (touching write_date, as Odoo does) and delete
    a few journal items and an account; what was changed and deleted, by table."""
    changed: dict[str, Any] = {}
    with psycopg.connect(url, autocommit=True) as db:
        for table, column in (
            ("account_move_line", "name"),
            ("account_move", "ref"),
            ("res_partner", "city"),
            ("account_account", "code"),
        ):
            (count,) = db.execute(f"SELECT count(*) FROM {table}").fetchone()
            step = max(1, round(1 / share))
            ids = [
                r[0]
                for r in db.execute(
                    f"UPDATE {table} SET {column} = coalesce({column}, '') || '*', "
                    "write_date = now() AT TIME ZONE 'UTC' "
                    f"WHERE id % {step} = 0 RETURNING id"
                ).fetchall()
            ]
            changed[table] = {"updated": sorted(ids), "rows": count}
        db.execute(
            "UPDATE res_partner SET property_account_receivable_id = '{\"2\": 9}', "
            "write_date = now() AT TIME ZONE 'UTC' WHERE id = 100000"
        )
        changed["res_partner"]["updated"] = sorted({*changed["res_partner"]["updated"], 100000})
        gone = [
            r[0]
            for r in db.execute(
                "DELETE FROM account_move_line WHERE id IN (SELECT id FROM account_move_line "
                "WHERE id % 100 = 7 ORDER BY id LIMIT 5) RETURNING id"
            ).fetchall()
        ]
        changed["account_move_line"]["deleted"] = sorted(gone)
        unused = db.execute(
            "DELETE FROM account_account WHERE id = (SELECT max(a.id) FROM account_account a "
            "WHERE NOT EXISTS (SELECT 1 FROM account_move_line l WHERE l.account_id = a.id) "
            "AND NOT EXISTS (SELECT 1 FROM account_journal j WHERE a.id IN "
            "(j.default_account_id, j.suspense_account_id))) RETURNING id"
        ).fetchall()
        changed["account_account"]["deleted"] = [r[0] for r in unused]
    return changed


def rows_in_window(url: str, table: str, overlap: str) -> int:
    """Rows a run would read again inside the overlap window below the watermark."""
    with psycopg.connect(url) as db:
        return db.execute(
            f"SELECT count(*) FROM {table} WHERE write_date >= "
            f"(SELECT max(write_date) FROM {table}) - interval '{overlap}'"
        ).fetchone()[0]


def source_rows(url: str, table: str) -> dict[int, dict[str, Any]]:
    with psycopg.connect(url) as db:
        cur = db.execute(f"SELECT * FROM {table}")
        names = [c.name for c in cur.description]
        return {row[0]: dict(zip(names, row, strict=True)) for row in cur.fetchall()}


def assert_same_rows(lake_rows: list[dict[str, Any]], source: dict[int, dict[str, Any]]) -> None:
    """Every source row is in the lake with the same values, column by column, and no
    other row is (jsonb compared as JSON; the lake's unconstrained numerics to 10 places)."""
    found = {row["id"]: row for row in lake_rows}
    assert sorted(found) == sorted(source)
    for key, expected in source.items():
        got = found[key]
        for column, value in expected.items():
            assert _same(got[column], value), (key, column, got[column], value)


def _same(lake: Any, source: Any) -> bool:
    if isinstance(source, dict | list):
        return lake is not None and json.loads(lake) == source
    if isinstance(source, Decimal) and isinstance(lake, Decimal):
        return (
            lake == source.quantize(Decimal("1e-10"))
            if lake.as_tuple().exponent == -10
            else (lake == source)
        )
    if isinstance(source, datetime) and isinstance(lake, datetime):
        return lake.replace(tzinfo=None) == source.replace(tzinfo=None)
    if isinstance(source, date) and isinstance(lake, date):
        return lake == source
    return lake == source


async def _run(address: str, task_queue: str, plan) -> RunEvent:
    client = await temporal.connect(address)
    return await client.execute_workflow(
        PipelineRunWorkflow.run, plan, id=f"run-{plan.run_id}", task_queue=task_queue
    )


def run_pipeline(workbench, principal, name: str, address: str, task_queue: str):
    """Run the deployed pipeline on the worker and return the run as history shows it."""
    from workbench_server.pipelines.runs import RunService

    service = RunService(workbench, principal)
    plan, _ = service.prepare(name)
    asyncio.run(_run(address, task_queue, plan))
    return service.get(plan.run_id)


def attempt_log(home: Path, run_id: str, step: str, attempt: int = 1) -> str:
    return (home / "runs" / run_id / step / f"attempt-{attempt}" / "output.log").read_text()


def step_context(workbench, principal, kind: str, config: dict[str, Any], **given: Any):
    """An attempt of a declarative step, as the worker makes one (its run recorded)."""
    import uuid as _uuid

    from tests.support.runs import record_run
    from workbench_pipelines.ingest.context import Progress, StepContext

    run_id = given.pop("run_id", None) or _uuid.uuid4().hex
    if given.pop("record", True):
        record_run(workbench, run_id, pipeline="steps", owner=principal.name)
    return StepContext(
        workbench=workbench,
        principal=principal,
        pipeline="steps",
        run_id=run_id,
        step_id=given.pop("step_id", kind),
        attempt=given.pop("attempt", 1),
        config=config,
        parameters=given.pop("parameters", {}),
        progress=given.pop("progress", None) or Progress(),
        kind=kind,
        **given,
    )
