"""The period locked in Odoo after a close is signed off (issue 17): an ``odoo_lock`` step
after an approval gate sets the company's lock dates through Odoo's external API (the
stand-in, speaking XML-RPC, over an Odoo 16-, 17- or 18-shaped database), on a real
Temporal worker.

Approved: the version's lock dates are set to the month's last day (16/17
period_lock_date, 18 sale and purchase lock dates by default), the record table says
before and after. Rejected: nothing is set. Run again: nothing changes and the record
says so. A later lock date (18's hard lock too) is never lowered. A user Odoo does not
let change companies gets an error naming the connection and the company; a fiscal-year
lock with unposted entries in the period is refused as Odoo refuses it.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.support.odoo_close import build_close_source, register_company_model
from tests.support.odoo_server import running_odoo
from workbench_pipelines.validate import validate_text
from workbench_server.approvals.service import ApprovalService
from workbench_server.connections import ConnectionCreate, ConnectionService
from workbench_server.lake import Lake
from workbench_server.pipelines.registry import PipelineRegistry
from workbench_server.pipelines.runs import RunService
from workbench_server.principal import local_principal

SPEC = """\
name: close-lock
parameters:
  company_id: {type: integer, default: 1}
  period: {type: string, default: "2026-01"}
steps:
  - id: sign_off
    kind: approval
    message: "Sign off the close of {{ params.period }}"
  - id: lock
    kind: odoo_lock
    depends_on: [sign_off]
    connection: odoo_api
LOCKS    parameters:
      company_id: "{{ params.company_id }}"
      period: "{{ params.period }}"
"""


def _wait_for(check: Callable[[], Any], seconds: float = 120.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def failure(run) -> str:
    """What the run's failed attempts said."""
    return " | ".join(f"{a.step_id}: {a.error}" for a in run.attempts if a.error)


def _locks(url: str, company: int, fields: list[str]) -> dict[str, date | None]:
    with psycopg.connect(url) as db:
        row = db.execute(
            f"SELECT {', '.join(fields)} FROM res_company WHERE id = %s", (company,)
        ).fetchone()
    assert row is not None
    return dict(zip(fields, row, strict=True))


class Closer:
    """Starts the pipeline, decides its gate, waits for the end."""

    def __init__(self, workbench, temporal_address: str, task_queue: str) -> None:
        workbench.settings.temporal_address = temporal_address
        workbench.settings.task_queue = task_queue
        self.workbench = workbench
        self.me = local_principal()

    def deploy(self, folder: Path, locks: list[str] | None, login: str = "admin") -> None:
        line = f"    lock_dates: [{', '.join(locks)}]\n" if locks else ""
        (folder / "close_lock.yaml").write_text(SPEC.replace("LOCKS", line))
        PipelineRegistry(self.workbench, self.me).deploy(folder / "close_lock.yaml")

    def run(self, approve: bool, **params: Any):
        runs = RunService(self.workbench, self.me)
        run = asyncio.run(runs.start("close-lock", params))
        gates = ApprovalService(self.workbench, self.me)
        _wait_for(lambda: gates.pending(), what="the sign-off gate")
        asyncio.run(gates.decide(run.id, "sign_off", approve, "checked" if approve else "no"))
        return asyncio.run(runs.wait(run.id))


def _record(lake: Lake, run_id: str) -> dict[str, dict[str, Any]]:
    rows = lake.read("gold.odoo_lock_dates").to_pylist()
    return {r["lock_date"]: r for r in rows if r["run_id"] == run_id}


@pytest.mark.timeout(600)
@pytest.mark.parametrize("version", ["16.0", "18.0"])
def test_an_approved_close_locks_the_period_in_odoo_once(
    version, pg_cluster, workbench, worker, temporal_address, task_queue, tmp_path: Path
) -> None:
    with pg_cluster.fresh_database() as url:
        build_close_source(url, version)
        register_company_model(url, version)
        with running_odoo(url, writable={"res.company"}, version=version) as odoo:
            ConnectionService(workbench, local_principal()).create(
                ConnectionCreate(name="odoo_api", settings=odoo.settings())
            )
            closer = Closer(workbench, temporal_address, task_queue)
            folder = tmp_path / "flows"
            folder.mkdir()
            # Each version's default lock dates.
            if version == "18.0":
                fields = ["sale_lock_date", "purchase_lock_date"]
            else:
                fields = ["period_lock_date"]
            closer.deploy(folder, None)
            before = _locks(url, 1, fields)
            assert set(before.values()) == {date(2025, 12, 31)}
            lake = Lake.of(workbench, local_principal(), None)

            # -- rejected: Odoo is not touched -----------------------------------------------
            rejected = closer.run(False, period="2026-01")
            assert rejected.status == "failed"
            assert _locks(url, 1, fields) == before
            assert not lake.exists("gold.odoo_lock_dates")

            # -- approved: locked through the month's last day --------------------------------
            approved = closer.run(True, period="2026-01")
            assert approved.status == "succeeded", failure(approved)
            assert _locks(url, 1, fields) == dict.fromkeys(fields, date(2026, 1, 31))
            assert _locks(url, 2, fields) == dict.fromkeys(fields, date(2026, 3, 31))
            record = _record(lake, approved.id)
            assert set(record) == set(fields)
            for row in record.values():
                assert row["before"] == date(2025, 12, 31) and row["after"] == date(2026, 1, 31)
                assert row["changed"] and row["odoo_version"] == version
                assert row["connection"] == "odoo_api" and row["company_id"] == 1

            # -- the same close again: nothing changes, and the record says so -----------------
            again = closer.run(True, period="2026-01")
            assert again.status == "succeeded", failure(again)
            assert _locks(url, 1, fields) == dict.fromkeys(fields, date(2026, 1, 31))
            assert {f: r["changed"] for f, r in _record(lake, again.id).items()} == dict.fromkeys(
                fields, False
            )

            # -- an earlier month after a later one: never lowered ------------------------------
            older = closer.run(True, period="2025-12")
            assert older.status == "succeeded", failure(older)
            assert _locks(url, 1, fields) == dict.fromkeys(fields, date(2026, 1, 31))
            if version != "18.0":
                return
            # 18's hard lock, already later than the month: left as it is (Odoo 18 would
            # refuse to lower it; the step never asks).
            with psycopg.connect(url, autocommit=True) as db:
                db.execute("UPDATE res_company SET hard_lock_date = '2026-06-30' WHERE id = 1")
            closer.deploy(folder, [*fields, "hard_lock_date"])
            hard = closer.run(True, period="2026-01")
            assert hard.status == "succeeded", failure(hard)
            assert _locks(url, 1, ["hard_lock_date"]) == {"hard_lock_date": date(2026, 6, 30)}
            row = _record(lake, hard.id)["hard_lock_date"]
            assert row["before"] == row["after"] == date(2026, 6, 30) and not row["changed"]


@pytest.mark.timeout(600)
def test_odoo_refusing_the_lock_fails_the_step_naming_connection_and_company(
    pg_cluster, workbench, worker, temporal_address, task_queue, tmp_path: Path
) -> None:
    with pg_cluster.fresh_database() as url:
        build_close_source(url, "17.0")
        register_company_model(url, "17.0")
        with running_odoo(
            url,
            users={"admin": "admin", "clerk": "clerk"},
            writable={"res.company"},
            denied_writes={"clerk": {"res.company"}},
        ) as odoo:
            service = ConnectionService(workbench, local_principal())
            service.create(ConnectionCreate(name="odoo_api", settings=odoo.settings()))
            closer = Closer(workbench, temporal_address, task_queue)
            folder = tmp_path / "flows"
            folder.mkdir()
            # The fiscal-year lock with a draft entry in January: Odoo refuses it.
            closer.deploy(folder, ["period_lock_date", "fiscalyear_lock_date"])
            refused = closer.run(True, period="2026-01")
            assert refused.status == "failed"
            assert "Odoo connection 'odoo_api', company 1" in failure(refused), failure(refused)
            assert "unposted entries in the period you want to lock" in failure(refused)
            fields = ["period_lock_date", "fiscalyear_lock_date"]
            assert _locks(url, 1, fields) == dict.fromkeys(fields, date(2025, 12, 31))

            # A login Odoo lets read companies but not change them.
            shutil.rmtree(folder)
            folder.mkdir()
            service.delete("odoo_api")
            service.create(
                ConnectionCreate(
                    name="odoo_api", settings=odoo.settings(login="clerk", password="clerk")
                )
            )
            closer.deploy(folder, None)
            denied = closer.run(True, period="2026-01")
            assert denied.status == "failed"
            assert "PermissionDeniedError" in failure(denied), failure(denied)
            assert "Odoo connection 'odoo_api', company 1" in failure(denied)
            assert "not allowed to modify 'Companies' (res.company)" in failure(denied)
            assert _locks(url, 1, ["period_lock_date"]) == {"period_lock_date": date(2025, 12, 31)}

            # An unknown company: named, nothing written.
            unknown = closer.run(True, company_id=99, period="2026-01")
            assert unknown.status == "failed"
            assert "company 99" in failure(unknown)


def test_odoo_lock_steps_are_checked_with_file_and_line() -> None:
    text = SPEC.replace("LOCKS", "    lock_dates: [period_lock_date, nope_lock_date]\n")
    errors = {(e.line, e.path): e.message for e in validate_text(text, file="p.yaml")}
    assert "hard_lock_date" in errors[(13, "steps[1].lock_dates[1]")], errors
    text = SPEC.replace("LOCKS", "").replace('      period: "{{ params.period }}"\n', "")
    errors = {(e.line, e.path): e.message for e in validate_text(text, file="p.yaml")}
    assert any("give period" in m for m in errors.values()), errors
