"""Receipts in the lake inbox become Odoo expenses in a pipeline (issue 17): the shipped
``receipts-to-expenses`` template (an ``ocr_inbox`` step) on a real Temporal worker, the
real offline OCR engine in the worker, the Odoo stand-in making ``hr.expense`` records.

The sure receipts are made expenses with their files attached; a smudged one waits in
the review queue; a second run makes nothing again (each file once, by its hash, even
under another name); a file that is not a document fails the run naming it, after the
others were processed.
"""

from __future__ import annotations

import asyncio
import io
import random
from pathlib import Path

import pytest

from tests.support.ocr_setup import demo_vendors, expense_setup, writable_odoo
from tests.support.receipts import FONTS, generate_receipts, render_receipt
from workbench_server.connections import ConnectionCreate, ConnectionService
from workbench_server.connections.kinds import OdooConfig
from workbench_server.connections.odoo import OdooClient
from workbench_server.lake import Lake
from workbench_server.ocr import flow
from workbench_server.ocr.service import OcrService
from workbench_server.pipelines.registry import PipelineRegistry
from workbench_server.pipelines.runs import RunService
from workbench_server.principal import local_principal

TEMPLATE = Path(__file__).resolve().parents[1] / "pipelines" / "templates"


def failure(run) -> str:
    return " | ".join(f"{a.step_id}: {a.error}" for a in run.attempts if a.error)


@pytest.mark.timeout(900)
def test_receipts_in_the_inbox_become_expenses_once(
    pg_cluster, workbench, worker, temporal_address, task_queue, tmp_path: Path
) -> None:
    workbench.settings.temporal_address = temporal_address
    workbench.settings.task_queue = task_queue
    me = local_principal()
    with writable_odoo(pg_cluster) as (server, url):
        client = OdooClient(OdooConfig.model_validate(server.settings()))
        ConnectionService(workbench, me).create(
            ConnectionCreate(name="odoo_api", settings=server.settings())
        )
        employee = expense_setup(url)
        folder = tmp_path / "src"
        folder.mkdir()
        text = (TEMPLATE / "receipts_to_expenses.yaml").read_text()
        assert "    employee_id: 1\n" in text
        (folder / "receipts.yaml").write_text(
            text.replace("    employee_id: 1\n", f"    employee_id: {employee}\n")
        )
        PipelineRegistry(workbench, me).deploy(folder / "receipts.yaml")

        # Two PDFs with a text layer (read exactly, no OCR) and a smudged scan (OCR'd in
        # the worker, its total not read with confidence).
        made = generate_receipts(tmp_path / "made", demo_vendors(url), count=12, seed=5)
        sure = [r for r in made if r.form == "pdf-text"]
        assert len(sure) == 2
        [faint] = generate_receipts(tmp_path / "faint", demo_vendors(url, 7)[-1:], 1, seed=99)
        faint.distortions.append("smudged")
        smudged = io.BytesIO()
        render_receipt(faint, random.Random(1), FONTS[0]).save(smudged, "PNG")
        lake = Lake.of(workbench, me, None)
        fs, root = lake.location.filesystem()
        inbox = f"{root}/{flow.INBOX}"
        fs.create_dir(inbox, recursive=True)

        def drop(name: str, data: bytes) -> None:
            with fs.open_output_stream(f"{inbox}/{name}") as out:
                out.write(data)

        for r in sure:
            drop(r.path.name, r.path.read_bytes())
        drop("faint.png", smudged.getvalue())
        before = client.execute_kw("hr.expense", "search_count", [[]])

        def run():
            runs = RunService(workbench, me)
            started = asyncio.run(runs.start("receipts-to-expenses"))
            return asyncio.run(runs.wait(started.id))

        first = run()
        assert first.status == "succeeded", failure(first)
        silver = {r["file_name"]: r for r in lake.read(flow.SILVER).to_pylist()}
        assert set(silver) == {r.path.name for r in sure} | {"faint.png"}
        for r in sure:
            row = silver[r.path.name]
            assert row["status"] == "created", row
            assert row["total"] == r.total and row["date"] == r.date
            assert row["source"] == f"inbox:{r.path.name}" and row["uploaded_by"] == me.name
            [attachment] = client.execute_kw(
                "ir.attachment",
                "search_read",
                [[["res_model", "=", "hr.expense"], ["res_id", "=", row["odoo_expense_id"]]]],
                {"fields": ["name"]},
            )
            assert attachment["name"] == r.path.name
        assert client.execute_kw("hr.expense", "search_count", [[]]) == before + 2
        waiting = silver["faint.png"]
        assert waiting["status"] == "review" and waiting["odoo_expense_id"] is None
        assert "low confidence or missing" in waiting["reason"]
        queue = OcrService(workbench, me, lake.location).queue()
        assert [o.filename for o in queue] == ["faint.png"]

        # -- again, with one receipt dropped a second time under another name: nothing new
        drop("copy-" + sure[0].path.name, sure[0].path.read_bytes())
        versions = (lake.version(flow.BRONZE), lake.version(flow.SILVER))
        second = run()
        assert second.status == "succeeded", failure(second)
        assert client.execute_kw("hr.expense", "search_count", [[]]) == before + 2
        assert (lake.version(flow.BRONZE), lake.version(flow.SILVER)) == versions
        assert [o.filename for o in OcrService(workbench, me, lake.location).queue()] == [
            "faint.png"
        ]

        # -- a file that is not a receipt: named, the others still taken --------------------
        drop("notes.txt", b"not a receipt")
        third = run()
        assert third.status == "failed"
        assert "inbox/receipts/notes.txt (not a PDF, PNG or JPEG)" in failure(third)
        assert client.execute_kw("hr.expense", "search_count", [[]]) == before + 2


def test_an_ocr_inbox_step_names_connections_of_the_wrong_kind() -> None:
    from workbench_pipelines.spec_sql import connection_problems

    step = {"id": "receipts", "kind": "ocr_inbox", "odoo": "erp", "ocr": "nope"}
    problems = dict(connection_problems({"steps": [step]}, {"erp": "postgres", "x": "ocr"}))
    assert problems[("steps", 0, "odoo")] == (
        "connection 'erp' is a postgres connection; odoo takes an odoo connection"
    )
    assert "no connection named 'nope'" in problems[("steps", 0, "ocr")]
    lock = {"id": "lock", "kind": "odoo_lock", "connection": "scan"}
    problems = dict(connection_problems({"steps": [lock]}, {"scan": "ocr"}))
    assert problems[("steps", 0, "connection")] == (
        "connection 'scan' is a ocr connection; connection takes an odoo connection"
    )
