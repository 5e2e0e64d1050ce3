"""OpenLineage export: events reach an HTTP consumer, and a consumer that is down or a
bad config never fails the caller."""

from __future__ import annotations

import logging
import time

import pytest

from tests.support.openlineage import validate_event
from tests.support.receivers import webhook_receiver
from workbench_server.lineage import sql_lineage
from workbench_server.lineage.openlineage import (
    JobRun,
    LineageEmitter,
    RunState,
    WorkbenchRunFacet,
    run_uuid,
)
from workbench_server.lineage.service import SqlContext
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
