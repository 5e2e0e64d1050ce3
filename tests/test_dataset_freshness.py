"""Freshness SLAs of datasets (issue 19): declared in the pipeline that keeps the dataset,
known from the writes the run history and lineage record, ok / at risk / missed, flagged
at risk as soon as a pipeline upstream fails (before the miss), and shown over REST,
in /workbench/metrics and by the built-in alert engine. On SQLite and a real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from tornado.httpclient import HTTPClientError

from tests.support.processes import base_env, run_workbench
from tests.support.receivers import webhook_receiver
from tests.support.servers import workbench_server
from tests.ui.principals import HeaderPrincipalProvider, as_user
from workbench_pipelines.validate import check_text
from workbench_server.alerts.engine import AlertEngine
from workbench_server.core import Workbench
from workbench_server.db.models import (
    LineageDataset,
    LineageEdge,
    Pipeline,
    PipelineVersion,
    Run,
    RunTable,
)
from workbench_server.metrics.collectors import MetadataCollector
from workbench_server.sla.freshness import freshness

PROVIDER = f"{HeaderPrincipalProvider.__module__}.{HeaderPrincipalProvider.__name__}"
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(autouse=True)
def _now(monkeypatch: pytest.MonkeyPatch) -> None:
    """NOW is when each test starts, not when the module was collected: the metrics and
    REST tests compare ages with the server's own clock, minutes later in a full run."""
    monkeypatch.setitem(globals(), "NOW", datetime.now(UTC).replace(microsecond=0))


STEP = {"id": "a", "notebook": "a.ipynb"}


def _pipeline(session, pid: int, name: str, spec: dict[str, Any], deployed: datetime) -> None:
    session.add(Pipeline(id=pid, name=name, owner="me", current_version=1))
    session.add(
        PipelineVersion(
            pipeline_id=pid,
            version=1,
            content_hash="0" * 64,
            spec={"name": name, **spec},
            snapshot_dir="",
            deployed_by="me",
            deployed_at=deployed,
        )
    )


def _run(session, run_id: str, pid: int, status: str, finished: datetime) -> None:
    session.add(
        Run(
            id=run_id,
            pipeline_id=pid,
            version=1,
            status=status,
            trigger="schedule",
            parameters={},
            logical_date=f"{finished:%Y-%m-%d}",
            workflow_id=run_id,
            requested_by="me",
            started_at=finished - timedelta(minutes=5),
            finished_at=finished,
        )
    )


def _close_and_extract(
    session, freshness_sla: dict[str, Any], deployed: datetime | None = None
) -> None:
    """extract writes silver.moves; close reads it, writes gold.trial_balance, and
    keeps it fresh by ``freshness_sla``; both deployed at ``deployed`` (25 h ago)."""
    deployed = deployed or NOW - timedelta(hours=25)
    _pipeline(
        session, 1, "extract", {"steps": [{**STEP, "outputs": ["lake.silver.moves"]}]}, deployed
    )
    _pipeline(
        session,
        2,
        "close",
        {
            "freshness": [{"dataset": "lake.gold.trial_balance", **freshness_sla}],
            "steps": [{**STEP, "inputs": ["lake.silver.moves"]}],
        },
        deployed,
    )


def _status(workbench: Workbench, now: datetime) -> tuple[str, str | None, str | None, int]:
    with workbench.sessions() as session:
        [found] = freshness(session, now)
    return found.status, found.reason, found.upstream, found.misses


def test_max_age_is_at_risk_when_upstream_fails_then_missed_then_ok(metadata: Workbench) -> None:
    workbench = metadata
    with workbench.sessions.begin() as session:
        _close_and_extract(session, {"max_age": "26h"})
        # close wrote a version of gold.trial_balance 20 hours ago (the lake's record).
        _run(session, "c1", 2, "succeeded", NOW - timedelta(hours=20))
        session.flush()
        session.add(
            RunTable(
                run_id="c1",
                step_id="a",
                attempt=1,
                lake="lake",
                table_name="gold.trial_balance",
                access="write",
                version=7,
                recorded_at=NOW - timedelta(hours=20, minutes=1),
            )
        )
        _run(session, "e1", 1, "succeeded", NOW - timedelta(hours=21))
    with workbench.sessions() as session:
        [found] = freshness(session, NOW)
    assert (found.status, found.misses) == ("ok", 0)
    assert found.last_write == NOW - timedelta(hours=20)
    assert found.due == NOW + timedelta(hours=6)
    assert found.declared.rule == "no older than 1d2h"

    # extract (upstream of close, by silver.moves) fails: at risk, six hours before the miss.
    with workbench.sessions.begin() as session:
        _run(session, "e2", 1, "failed", NOW - timedelta(minutes=10))
    assert _status(workbench, NOW) == ("at_risk", "failed", "extract", 0)
    # Six hours on, still unwritten: missed, and counted.
    assert _status(workbench, NOW + timedelta(hours=7)) == ("missed", "stale", None, 1)
    # close runs again (on yesterday's moves, but it writes): ok, the miss stays counted.
    with workbench.sessions.begin() as session:
        _run(session, "c2", 2, "succeeded", NOW + timedelta(hours=8))
    assert _status(workbench, NOW + timedelta(hours=9)) == ("ok", None, None, 1)


def test_updated_by_counts_working_days_in_the_datasets_time_zone(metadata: Workbench) -> None:
    workbench = metadata
    brussels = {"updated_by": "06:00", "timezone": "Europe/Brussels", "days": "weekdays"}
    # Friday 4 December 2026, 05:00 in Brussels (04:00 UTC): close writes the balance.
    friday = datetime(2026, 12, 4, 4, 0, tzinfo=UTC)
    with workbench.sessions.begin() as session:
        _close_and_extract(session, brussels, deployed=friday - timedelta(hours=18))
        _run(session, "c1", 2, "succeeded", friday)
    sunday = datetime(2026, 12, 6, 11, 0, tzinfo=UTC)
    with workbench.sessions() as session:
        [found] = freshness(session, sunday)
    # No due moment on the weekend: Friday's write covers Friday 06:00; Monday's is ahead.
    assert (found.status, found.misses) == ("ok", 0)
    assert found.due == datetime(2026, 12, 7, 5, 0, tzinfo=UTC)  # Monday 06:00 in Brussels
    assert found.declared.rule == "updated by 06:00 Europe/Brussels (weekdays)"
    # extract fails on Sunday: Monday's balance is at risk before Monday 06:00.
    with workbench.sessions.begin() as session:
        _run(session, "e1", 1, "failed", sunday - timedelta(hours=1))
    assert _status(workbench, sunday) == ("at_risk", "failed", "extract", 0)
    # Monday 07:00 in Brussels, nothing written since Friday: missed.
    monday = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
    assert _status(workbench, monday) == ("missed", "stale", None, 1)
    # A statement in a notebook writes it at 08:00 (lineage saw it): late, but fresh
    # for Tuesday; the miss stays counted.
    with workbench.sessions.begin() as session:
        source = LineageDataset(namespace="lake", name="silver.moves")
        target = LineageDataset(namespace="lake", name="gold.trial_balance")
        session.add_all([source, target])
        session.flush()
        session.add(
            LineageEdge(
                source_id=source.id,
                target_id=target.id,
                job="kernel",
                last_seen=monday + timedelta(hours=1),
            )
        )
    assert _status(workbench, monday + timedelta(hours=2)) == ("ok", None, None, 1)


def test_a_new_sla_is_not_missed_before_its_first_deadline(metadata: Workbench) -> None:
    with metadata.sessions.begin() as session:
        _close_and_extract(session, {"max_age": "26h"}, deployed=NOW - timedelta(hours=1))
    assert _status(metadata, NOW) == ("ok", None, None, 0)
    assert _status(metadata, NOW + timedelta(hours=26)) == ("missed", "never written", None, 1)


def test_freshness_mistakes_name_the_line_and_field() -> None:
    text = """\
name: close
freshness:
  - {dataset: gold.trial_balance, max_age: 26h}
  - dataset: gold.ar_open_items
    updated_by: "6am"
    timezone: Europe/Bruxelles
  - {dataset: gold.trial_balance, max_age: 2h, updated_by: "06:00"}
steps:
  - {id: a, notebook: a.ipynb}
"""
    _, problems = check_text(text, file="close.yaml")
    shown = [str(p) for p in problems]
    assert any(p.startswith("close.yaml:5:") and "freshness[1].updated_by" in p for p in shown)
    assert any(p.startswith("close.yaml:6:") and "unknown time zone" in p for p in shown)
    assert any(
        p.startswith("close.yaml:7:") and "give either max_age or updated_by" in p for p in shown
    ), shown


def _samples(workbench: Workbench) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MetadataCollector(workbench, ttl=0))
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if "dataset" in s.name or "sla_misses" in s.name
    }


def test_metrics_show_age_status_and_misses(metadata: Workbench) -> None:
    with metadata.sessions.begin() as session:
        _close_and_extract(session, {"max_age": "2h"}, deployed=NOW - timedelta(hours=7))
        _run(session, "c1", 2, "succeeded", NOW - timedelta(hours=3))
        _run(session, "c0", 2, "succeeded", NOW - timedelta(hours=6))
    samples = _samples(metadata)
    age = samples[
        ("workbench_dataset_freshness_seconds", (("dataset", "lake.gold.trial_balance"),))
    ]
    assert 3 * 3600 <= age < 3 * 3600 + 60
    status = {
        dict(labels)["status"]: value
        for (name, labels), value in samples.items()
        if name == "workbench_dataset_sla_status"
    }
    assert status == {"ok": 0.0, "at_risk": 0.0, "missed": 1.0}
    misses = {
        labels: value
        for (name, labels), value in samples.items()
        if name == "workbench_pipeline_sla_misses_total"
    }
    # Gaps of more than 2 h: deployment to the first write, and the last write to now.
    assert misses == {
        (("dataset", "lake.gold.trial_balance"), ("pipeline_name", "close")): 2.0,
    }


def test_the_alert_engine_flags_the_risk_then_the_miss(metadata: Workbench) -> None:
    workbench = metadata
    home = workbench.settings.workbench_home.root
    with workbench.sessions.begin() as session:
        _close_and_extract(session, {"max_age": "26h"})
        _run(session, "c1", 2, "succeeded", NOW - timedelta(hours=20))
        _run(session, "e1", 1, "failed", NOW - timedelta(minutes=5))
    with webhook_receiver() as hooks:
        (home / "alerts.yaml").write_text(
            f"""\
channels:
  chat: {{type: slack, url: "{hooks.url}/chat"}}
rules:
  - {{name: DatasetFreshness, kind: dataset_freshness, severity: P2, channels: [chat]}}
"""
        )
        engine = AlertEngine(workbench)
        asyncio.run(engine.evaluate(NOW))
        [risk] = [p["text"] for _, _, p in hooks.received]
        assert risk.startswith(
            "[P2] FIRING DatasetFreshness: lake.gold.trial_balance (no older than 1d2h, due "
        ), risk
        assert "is at risk: pipeline extract failed at" in risk
        asyncio.run(engine.evaluate(NOW + timedelta(hours=7)))
        texts = [p["text"] for _, _, p in hooks.received]
        assert texts[1].startswith("[P2] RESOLVED DatasetFreshness: lake.gold.trial_balance")
        assert texts[2].startswith(
            "[P2] FIRING DatasetFreshness: lake.gold.trial_balance missed its freshness SLA"
        ), texts
        with workbench.sessions.begin() as session:
            _run(session, "c2", 2, "succeeded", NOW + timedelta(hours=8))
        asyncio.run(engine.evaluate(NOW + timedelta(hours=9)))
        assert hooks.received[3][2]["text"].startswith(
            "[P2] RESOLVED DatasetFreshness: lake.gold.trial_balance missed"
        )
        assert len(hooks.received) == 4


@pytest.fixture
def jp_server_config(home: Path):
    return workbench_server(home, principal_provider_class=PROVIDER)


async def test_rest_lists_the_datasets_a_user_may_see(jp_fetch, jp_serverapp) -> None:
    workbench = jp_serverapp.web_app.settings["workbench"]
    with workbench.sessions.begin() as session:
        _close_and_extract(session, {"max_age": "26h"})
        _run(session, "c1", 2, "succeeded", NOW - timedelta(hours=20))
        _run(session, "e1", 1, "failed", NOW - timedelta(minutes=5))
        # bob (finance) may see close, not extract.
        version = session.query(PipelineVersion).filter_by(pipeline_id=2).one()
        version.spec = {**version.spec, "access": {"viewers": ["finance"]}}

    async def listed(**kwargs: Any) -> list[dict[str, Any]]:
        response = await jp_fetch("workbench", "api", "sla", "datasets", **kwargs)
        return json.loads(response.body)

    [admin] = await listed()
    assert (admin["dataset"], admin["pipeline"], admin["status"]) == (
        "lake.gold.trial_balance",
        "close",
        "at_risk",
    )
    assert (admin["upstream"], admin["reason"], admin["misses"]) == ("extract", "failed", 0)
    assert 20 * 3600 <= admin["age_seconds"] < 20 * 3600 + 60
    assert admin["max_age_seconds"] == 26 * 3600
    assert await listed(params={"status": "missed"}) == []
    # bob sees the dataset's risk, but not the name of the pipeline he may not see.
    [seen] = await listed(headers=as_user("bob"))
    assert (seen["status"], seen["upstream"]) == ("at_risk", None)
    # carol is in no group that may see close: nothing.
    # (HeaderPrincipalProvider puts every user in finance: take the viewers away.)
    with workbench.sessions.begin() as session:
        version = session.query(PipelineVersion).filter_by(pipeline_id=2).one()
        version.spec = {k: v for k, v in version.spec.items() if k != "access"}
    assert await listed(headers=as_user("carol")) == []
    with pytest.raises(HTTPClientError) as refused:
        await listed(params={"status": "late"})
    assert refused.value.code == 400


def test_the_cli_lists_them_and_fails_on_a_miss(workbench: Workbench, home: Path) -> None:
    with workbench.sessions.begin() as session:
        _close_and_extract(session, {"max_age": "26h"})
        _run(session, "c1", 2, "succeeded", NOW - timedelta(hours=20))
        _run(session, "e1", 1, "failed", NOW - timedelta(minutes=5))
    listed = run_workbench("pipeline", "freshness", env=base_env(home))
    assert listed.returncode == 0, listed.stderr
    [line] = listed.stdout.splitlines()
    assert line.split()[:3] == ["lake.gold.trial_balance", "at_risk", "20.0"]
    assert line.endswith("no older than 1d2h  [close, 0 missed] (failed: extract)")
    with workbench.sessions.begin() as session:
        session.get(Run, "c1").finished_at = NOW - timedelta(hours=30)
    missed = run_workbench("pipeline", "freshness", "--json", env=base_env(home))
    assert missed.returncode == 1
    [item] = json.loads(missed.stdout)
    assert (item["status"], item["reason"], item["misses"]) == ("missed", "stale", 1)


def test_a_redeploy_that_keeps_the_sla_keeps_its_history(metadata: Workbench) -> None:
    with metadata.sessions.begin() as session:
        _close_and_extract(session, {"max_age": "26h"}, deployed=NOW - timedelta(hours=30))
        session.flush()
        close = session.get(Pipeline, 2)
        first = session.query(PipelineVersion).filter_by(pipeline_id=2).one()
        spec = dict(first.spec)
        spec["freshness"] = [{"dataset": "gold.trial_balance", "max_age": "26h"}]
        session.add(
            PipelineVersion(
                pipeline_id=2,
                version=2,
                content_hash="1" * 64,
                spec=spec,
                snapshot_dir="",
                deployed_by="me",
                deployed_at=NOW - timedelta(hours=1),
            )
        )
        close.current_version = 2
    # Never written in the 30 hours since version 1 asked for 26: missed, not a fresh start.
    assert _status(metadata, NOW) == ("missed", "never written", None, 1)


def test_metrics_name_the_upstream_of_a_risk(metadata: Workbench) -> None:
    with metadata.sessions.begin() as session:
        _close_and_extract(session, {"max_age": "26h"})
        _run(session, "c1", 2, "succeeded", NOW - timedelta(hours=20))
        _run(session, "e1", 1, "failed", NOW - timedelta(minutes=5))
    samples = _samples(metadata)
    risks = {labels: v for (name, labels), v in samples.items() if name.endswith("_at_risk")}
    assert risks == {
        (
            ("dataset", "lake.gold.trial_balance"),
            ("pipeline_name", "close"),
            ("reason", "failed"),
            ("upstream", "extract"),
        ): 1.0
    }
    due = samples[
        (
            "workbench_dataset_sla_deadline_timestamp_seconds",
            (("dataset", "lake.gold.trial_balance"), ("pipeline_name", "close")),
        )
    ]
    assert due == (NOW + timedelta(hours=6)).timestamp()
