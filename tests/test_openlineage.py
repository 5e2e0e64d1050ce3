"""OpenLineage export: events reach an HTTP consumer, and a consumer that is down or a
bad config never fails the caller."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support.openlineage import DOCS, validate_event
from tests.support.postgres import postgres_settings
from tests.support.receivers import webhook_receiver
from workbench_server.connections import ConnectionCreate, ConnectionService
from workbench_server.lineage import sql_lineage
from workbench_server.lineage.openlineage import (
    DatasetNaming,
    JobRun,
    LineageEmitter,
    RunState,
    WorkbenchRunFacet,
    run_uuid,
)
from workbench_server.lineage.service import SqlContext
from workbench_server.principal import local_principal
from workbench_server.supervisor import free_port

GOLD = """
CREATE TABLE gold.balances AS
SELECT account_id, date_trunc('month', date) AS month, sum(debit - credit) AS balance
FROM silver.lines GROUP BY 1, 2
"""


def _step_run() -> JobRun:
    job_run = JobRun(
        "workbench",
        "close.gold",
        run_uuid("a" * 32, "gold", 1),
        "STEP",
        WorkbenchRunFacet(pipeline="close", version=3, attempt=1, workbenchRunId="a" * 32),
        parent=("close", run_uuid("a" * 32)),
    )
    job_run.datasets.add_declared(["lake.silver.lines"], ["lake.gold.balances"])
    job_run.datasets.add_sql(sql_lineage(GOLD), SqlContext(connection="lake", kind="lake"), GOLD)
    return job_run


def test_events_reach_an_http_consumer_as_valid_openlineage() -> None:
    with webhook_receiver() as consumer:
        emitter = LineageEmitter({"type": "http", "url": consumer.url, "timeout": 5}, "workbench")
        assert emitter.enabled
        job_run = _step_run()
        assert emitter.emit(job_run.event(RunState.START))
        assert emitter.emit(job_run.event(RunState.FAIL, "cell 2: ValueError: no", "Traceback"))
        emitter.close()  # sends what is queued first
    assert [path for _, path, _ in consumer.received] == ["/api/v1/lineage"] * 2
    start, fail = (validate_event(body) for _, _, body in consumer.received)
    assert (start.eventType, fail.eventType) == (RunState.START, RunState.FAIL)
    assert start.run.runId == fail.run.runId == run_uuid("a" * 32, "gold", 1)
    assert fail.run.facets["errorMessage"].message == "cell 2: ValueError: no"
    # The declared input and the one in the SQL are the same dataset: listed once.
    assert [(d.namespace, d.name) for d in fail.inputs] == [("lake", "silver.lines")]
    fields = fail.outputs[0].facets["columnLineage"].fields
    assert {f.field for f in fields["balance"].inputFields} == {"debit", "credit"}
    assert fields["month"].inputFields[0].transformations[0].subtype == "TRANSFORMATION"


def test_a_consumer_that_is_down_costs_a_warning_not_a_failure(caplog) -> None:
    emitter = LineageEmitter(
        {
            "type": "http",
            "url": f"http://127.0.0.1:{free_port('127.0.0.1')}",
            "timeout": 2,
            "retry": {"total": 1, "backoff_factor": 0.1},
        },
        "workbench",
    )
    with caplog.at_level(logging.WARNING, "workbench_server.lineage.openlineage"):
        started = time.monotonic()
        assert emitter.emit(_step_run().event(RunState.COMPLETE))
        assert time.monotonic() - started < 0.5  # sent off the caller's path
        assert emitter.flush(60)
    assert "OpenLineage event for close.gold not sent" in caplog.text


@pytest.mark.parametrize(
    "transport", [{"type": "no-such-transport"}, {"type": "http"}, {"type": "file"}]
)
def test_a_bad_transport_config_turns_export_off_with_a_reason(transport, caplog) -> None:
    with caplog.at_level(logging.WARNING, "workbench_server.lineage.openlineage"):
        emitter = LineageEmitter(transport, "workbench")
    assert not emitter.enabled
    assert emitter.emit(_step_run().event(RunState.START)) is False
    assert "OpenLineage export is off: the transport config is invalid" in caplog.text


def test_without_config_nothing_is_sent_unless_openlineage_url_is_set(monkeypatch) -> None:
    for name in ("OPENLINEAGE_URL", "OPENLINEAGE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    assert not LineageEmitter(None, "workbench").enabled
    with webhook_receiver() as consumer:
        monkeypatch.setenv("OPENLINEAGE_URL", consumer.url)
        emitter = LineageEmitter(None, "workbench")
        assert emitter.emit(_step_run().event(RunState.COMPLETE))
        emitter.close()
    assert len(consumer.received) == 1


def _sent(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_workbench_facet_names_its_schema_by_id_and_keeps_null_parameters(tmp_path) -> None:
    sent = tmp_path / "openlineage.jsonl"
    emitter = LineageEmitter(
        {"type": "file", "log_file_path": str(sent), "append": True}, "workbench"
    )
    parameters = {"cutoff": None, "companies": [1, None], "opts": {"strict": None, "n": 2}}
    job_run = JobRun(
        "workbench",
        "close.gold",
        run_uuid("b" * 32, "gold", 1),
        "STEP",
        WorkbenchRunFacet(pipeline="close", attempt=1, parameters=parameters),
    )
    emitter.emit(job_run.event(RunState.START))
    emitter.close()
    [event] = _sent(sent)
    validate_event(event)  # the facet's _schemaURL is checked against its schema's $id
    facet = event["run"]["facets"]["workbench"]
    schema = json.loads((DOCS / "WorkbenchRunFacet.json").read_text())
    assert facet["_schemaURL"] == f"{schema['$id']}#/$defs/WorkbenchRunFacet"
    assert facet["nullParameters"] == ["companies[1]", "cutoff", "opts.strict"]
    assert facet["parameters"] == {"companies": [1], "opts": {"n": 2}}


def test_datasets_follow_the_openlineage_naming_spec(
    workbench, home: Path, odoo_db: str, tmp_path
) -> None:
    """PostgreSQL tables, lake datasets and files are named as the spec says, so other
    tools' lineage of the same tables joins; the workbench's own name rides along."""
    service = ConnectionService(workbench, local_principal())
    service.create(ConnectionCreate(name="odoo", settings=postgres_settings(odoo_db)))
    service.create(
        ConnectionCreate(
            name="archive",
            settings={"kind": "lake", "location": "s3://wb-archive/finance", "region": "eu-west-1"},
        )
    )
    sent = tmp_path / "openlineage.jsonl"
    emitter = LineageEmitter(
        {"type": "file", "log_file_path": str(sent), "append": True},
        "workbench",
        naming=DatasetNaming.of(workbench),
    )
    job_run = _step_run()
    job_run.datasets.add_declared(
        ["odoo.public.account_move_line", "archive.silver.fx_rates", "file./data/in.csv"], []
    )
    emitter.emit(job_run.event(RunState.COMPLETE))
    emitter.close()
    [event] = _sent(sent)
    validate_event(event)
    pg = urlsplit(odoo_db)
    lake = str(home / "lake")
    inputs = {(d["namespace"], d["name"]): d.get("facets", {}) for d in event["inputs"]}
    assert set(inputs) == {
        ("file", f"{lake}/silver/lines"),
        (f"postgres://{pg.hostname}:{pg.port}", f"{pg.path[1:]}.public.account_move_line"),
        ("s3://wb-archive", "finance/silver/fx_rates"),
        ("file", "/data/in.csv"),
    }
    odoo = inputs[
        (f"postgres://{pg.hostname}:{pg.port}", f"{pg.path[1:]}.public.account_move_line")
    ]
    assert odoo["dataSource"]["name"] == "odoo"
    assert odoo["dataSource"]["uri"] == f"postgres://{pg.hostname}:{pg.port}{pg.path}"
    assert odoo["symlinks"]["identifiers"] == [
        {"namespace": "odoo", "name": "public.account_move_line", "type": "TABLE"}
    ]
    [output] = event["outputs"]
    assert (output["namespace"], output["name"]) == ("file", f"{lake}/gold/balances")
    assert output["facets"]["symlinks"]["identifiers"][0]["name"] == "gold.balances"
    balance = output["facets"]["columnLineage"]["fields"]["balance"]["inputFields"]
    assert {(f["namespace"], f["name"], f["field"]) for f in balance} == {
        ("file", f"{lake}/silver/lines", "debit"),
        ("file", f"{lake}/silver/lines", "credit"),
    }
