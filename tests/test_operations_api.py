"""``/workbench/api/operations/summary``: success rates, durations and their trend from the
run history (SQLite and a real PostgreSQL), over the pipelines the caller may see, with
the task queue and the health of the parts from a real Temporal dev server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tornado.httpclient import HTTPClientError

from tests.support.servers import workbench_server
from tests.ui.principals import HeaderPrincipalProvider, as_user

PROVIDER = f"{HeaderPrincipalProvider.__module__}.{HeaderPrincipalProvider.__name__}"
NOW = datetime(2026, 12, 6, 15, 30, tzinfo=UTC)
STEPS = {"steps": [{"id": "a", "notebook": "a.ipynb"}]}


def add_pipeline(session, pid: int, name: str, **spec) -> None:
    from workbench_server.db.models import Pipeline, PipelineVersion

    session.add(Pipeline(id=pid, name=name, owner="alice", current_version=1))
    session.add(
        PipelineVersion(
            pipeline_id=pid,
            version=1,
            content_hash="0" * 64,
            spec={"name": name, **STEPS, **spec},
            snapshot_dir="",
            deployed_by="alice",
        )
    )


def add_run(session, number: int, pid: int, status: str, ended: datetime | None, **more) -> None:
    from workbench_server.db.models import Run

    seconds = more.pop("seconds", 60)  # None: it never started
    session.add(
        Run(
            id=f"{number:032x}",
            pipeline_id=pid,
            version=1,
            status=status,
            trigger="manual",
            parameters={},
            logical_date="2026-12-06",
            workflow_id=f"w{number}",
            requested_by="alice",
            started_at=None if seconds is None else (ended or NOW) - timedelta(seconds=seconds),
            finished_at=ended,
            **more,
        )
    )


def fill(session) -> None:
    """close: an SLA, shared with finance; ledger: private to alice."""
    add_pipeline(
        session,
        1,
        "close",
        sla={"finish_by": "06:00"},
        schedule={"cron": "0 5 * * *", "timezone": "Europe/Paris"},
        access={"viewers": ["finance"]},
    )
    add_pipeline(session, 2, "ledger")
    today, yesterday, old = (
        NOW - timedelta(hours=1),
        NOW - timedelta(days=1),
        NOW - timedelta(days=9),
    )
    # close: 3 succeeded (60, 120, 180 s) and 1 failed today, 1 succeeded yesterday (30 s),
    # one that missed its SLA yesterday, one cancelled before it started, one running.
    add_run(session, 1, 1, "succeeded", today, seconds=60)
    add_run(session, 2, 1, "succeeded", today, seconds=120)
    add_run(session, 3, 1, "succeeded", today, seconds=180)
    add_run(session, 4, 1, "failed", today + timedelta(minutes=5), seconds=10)
    add_run(session, 5, 1, "succeeded", yesterday, seconds=30, sla_missed_at=yesterday)
    add_run(session, 6, 1, "cancelled", yesterday, seconds=None)
    add_run(session, 7, 1, "running", None)
    # ledger: one failed 9 days ago (outside a 7-day window), one succeeded today.
    add_run(session, 8, 2, "failed", old)
    add_run(session, 9, 2, "succeeded", today, seconds=600)


def test_window_figures_on_sqlite_and_postgresql(metadata) -> None:
    from workbench_server.operations.runs import Window, run_figures

    with metadata.sessions.begin() as session:
        fill(session)
    window = Window.parse("7d", NOW)
    with metadata.sessions() as session:
        figures = run_figures(session, window, None)
        shared = run_figures(session, window, {1: "close"})

    assert (figures.bucket, len(figures.trend)) == ("day", 7)
    assert figures.start == datetime(2026, 11, 30, tzinfo=UTC)
    totals = figures.totals
    assert (totals.runs, totals.succeeded, totals.failed, totals.cancelled) == (7, 5, 1, 1)
    assert totals.success_rate == pytest.approx(5 / 6)  # cancelled runs do not count
    assert (figures.active, figures.sla_misses) == (1, 1)
    # The trend's bars add up to the totals: today and yesterday.
    assert [b.runs for b in figures.trend] == [0, 0, 0, 0, 0, 2, 5]
    assert figures.trend[-1].start == datetime(2026, 12, 6, tzinfo=UTC)

    close, ledger = figures.pipelines
    assert (close.pipeline, close.runs, close.failed, close.active) == ("close", 6, 1, 1)
    assert close.success_rate == pytest.approx(4 / 5)
    # Durations of 10, 30, 60, 120 and 180 s (the cancelled run never started).
    assert (close.p50_s, close.max_s) == (60, 180)
    assert close.p95_s == pytest.approx(168)
    assert close.trend_p50_s == [None] * 5 + [30, 90]
    assert close.last_status == "failed"
    assert close.sla is not None
    assert (close.sla.finish_by, close.sla.timezone, close.sla_misses) == (
        "06:00",
        "Europe/Paris",
        1,
    )
    # ledger's failure is older than the window; its latest ended run is still shown.
    assert (ledger.runs, ledger.succeeded, ledger.success_rate, ledger.sla) == (1, 1, 1.0, None)
    assert ledger.last_status == "succeeded"

    # A user who may see close only: nothing of ledger, in the totals either.
    assert [p.pipeline for p in shared.pipelines] == ["close"]
    assert (shared.totals.runs, shared.totals.succeeded) == (6, 4)


def test_windows_of_hours_and_refusals() -> None:
    from workbench_server.errors import InvalidInputError
    from workbench_server.operations.runs import Window, percentile

    day = Window.parse("1d", NOW)
    assert (day.bucket, len(day.buckets)) == ("hour", 24)
    assert day.buckets[-1] == datetime(2026, 12, 6, 15, tzinfo=UTC)
    assert day.index(NOW) == 23 and day.index(day.start) == 0
    for bad in ("0d", "91d", "7", "1w", "-1d", "1.5d", "٣d"):
        with pytest.raises(InvalidInputError, match="from 1d to 90d"):
            Window.parse(bad, NOW)
    assert percentile([], 50) is None
    assert percentile([4.0], 95) == 4.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5


@pytest.fixture
def jp_server_config(home: Path, temporal_address: str, task_queue: str):
    return workbench_server(
        home,
        principal_provider_class=PROVIDER,
        temporal_address=temporal_address,
        task_queue=task_queue,
        metrics_cache_seconds=0.1,
        health_timeout=2.0,
    )


async def _summary(jp_fetch, **kwargs) -> dict:
    response = await jp_fetch("workbench", "api", "operations", "summary", **kwargs)
    assert response.code == 200
    return json.loads(response.body)


async def test_summary_over_rest_per_user(jp_fetch, jp_serverapp, task_queue: str) -> None:
    workbench = jp_serverapp.web_app.settings["workbench"]
    now = datetime.now(UTC)
    with workbench.sessions.begin() as session:
        add_pipeline(session, 1, "close", access={"viewers": ["finance"]})
        add_pipeline(session, 2, "ledger")
        add_run(session, 1, 1, "succeeded", now, seconds=42)
        add_run(session, 2, 2, "failed", now)

    mine = await _summary(jp_fetch, params={"window": "1d"})
    assert (mine["admin"], mine["runs"]["window"], mine["runs"]["bucket"]) == (True, "1d", "hour")
    assert [p["pipeline"] for p in mine["runs"]["pipelines"]] == ["close", "ledger"]
    assert mine["runs"]["totals"]["success_rate"] == 0.5
    # Temporal answers: both kinds of the task queue, nothing waiting, nobody polling.
    queue = mine["queue"]
    assert (queue["task_queue"], queue["detail"]) == (task_queue, None)
    assert [(t["type"], t["backlog"], t["pollers"]) for t in queue["types"]] == [
        ("workflow", 0, 0),
        ("activity", 0, 0),
    ]
    assert mine["workers"] == []
    checks = mine["health"]["checks"]
    assert sorted(checks) == ["metadata_db", "temporal", "worker"]
    assert checks["temporal"]["status"] == "ok"
    assert checks["worker"]["status"] == "down"
    assert "no worker is polling" in checks["worker"]["detail"]

    bobs = await _summary(jp_fetch, params={"window": "7d"}, headers=as_user("bob"))
    assert (bobs["user"], bobs["admin"]) == ("bob", False)
    assert [p["pipeline"] for p in bobs["runs"]["pipelines"]] == ["close"]
    assert bobs["runs"]["totals"]["runs"] == 1
    assert bobs["runs"]["pipelines"][0]["p50_s"] == 42

    with pytest.raises(HTTPClientError) as refused:
        await jp_fetch("workbench", "api", "operations", "summary", params={"window": "1y"})
    assert refused.value.code == 400
    body = json.loads(refused.value.response.body)
    assert body["message"] == "window: a number of days from 1d to 90d, e.g. 7d"


def test_without_temporal_the_figures_still_come_with_the_reason(workbench) -> None:
    import asyncio

    from workbench_server.operations.runs import Window
    from workbench_server.operations.summary import summary

    with workbench.sessions.begin() as session:
        add_pipeline(session, 1, "close")
        add_run(session, 1, 1, "succeeded", datetime.now(UTC))
    found = asyncio.run(
        summary(
            workbench,
            Window.parse("7d"),
            None,
            user="alice",
            admin=False,
            collector=None,
            timeout=1.0,
        )
    )
    assert found.runs.totals.runs == 1
    assert (found.queue.types, found.queue.detail) == ([], "Temporal is not configured")
    assert found.workers == []
    temporal = found.health.checks["temporal"]
    assert temporal.status == "down" and "WORKBENCH_TEMPORAL_ADDRESS" in temporal.detail
