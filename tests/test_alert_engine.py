"""The built-in alert engine (issue 19, must-show 2): rules from the home's alerts.yaml,
evaluated every interval, notices to real webhooks, once per firing, resolved when the
condition clears, held back by silences."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import spawn_worker, stop_worker
from tests.support.notebooks import write_notebook
from tests.support.processes import base_env, run_workbench
from tests.support.receivers import Webhooks, smtp_server, webhook_receiver
from tests.support.waiting import running_engine
from workbench_server import temporal
from workbench_server.alerts.engine import AlertEngine
from workbench_server.alerts.rules import parse
from workbench_server.core import Workbench
from workbench_server.db.models import (
    Alert,
    AlertEvent,
    AlertSilence,
    Pipeline,
    PipelineVersion,
    Run,
)
from workbench_server.errors import InvalidInputError
from workbench_server.settings import WorkbenchSettings


def test_a_bad_rules_file_names_the_line_and_field() -> None:
    text = """\
channels:
  chat: {type: slack, url: http://127.0.0.1:9/hook}
rules:
  - name: DiskSpace
    kind: disk_space
    severity: P1
    threshold_percent: 180
  - {name: Down, kind: service_down, severity: P4, channels: [pager]}
"""
    with pytest.raises(InvalidInputError) as caught:
        parse(text, "alerts.yaml")
    message = str(caught.value)
    assert "alerts.yaml:7: rules.0.threshold_percent" in message
    assert "alerts.yaml:8: rules.1.severity" in message
    with pytest.raises(InvalidInputError, match="no channel 'pager' under channels"):
        parse(text.replace("180", "80").replace("P4", "P1"))
    with pytest.raises(InvalidInputError, match=r"^alerts.yaml:2: channels.email.url: "):
        parse("channels:\n  email: {type: slack, url: 'ftp://x'}\n")


def _disk_rules(hooks: str, threshold: float) -> str:
    return f"""\
interval_seconds: 1
channels:
  chat: {{type: slack, url: "{hooks}/chat"}}
  pager: {{type: pagerduty, url: "{hooks}/pager", routing_key: rk-test}}
rules:
  - {{name: DiskSpace, kind: disk_space, severity: P2, threshold_percent: {threshold},
     channels: [chat, pager]}}
"""


def _service_down_rule(hooks: str, for_seconds: int, answer_within: float = 10) -> str:
    return f"""\
channels:
  chat: {{type: slack, url: "{hooks}/chat"}}
rules:
  - {{name: ServiceDown, kind: service_down, severity: P1, channels: [chat],
     for_seconds: {for_seconds}, answer_within_seconds: {answer_within}}}
"""


def _posts(hooks: Webhooks, path: str) -> list[dict]:
    return [payload for _, where, payload in hooks.received if where == path]


def test_disk_rule_fires_once_resolves_and_is_silenced(metadata: Workbench) -> None:
    workbench = metadata
    home = workbench.settings.workbench_home.root
    engine = AlertEngine(workbench)
    with webhook_receiver() as hooks:
        # A threshold every disk is above: the rule fires, once, however often it is evaluated.
        (home / "alerts.yaml").write_text(_disk_rules(hooks.url, 0.0001))
        for _ in range(3):
            asyncio.run(engine.evaluate())
        # One alert per volume (the home, and the lake folder in it).
        chat = _posts(hooks, "/chat")
        assert sorted(re.search(r"the (\w+) file system", p["text"]).group(1) for p in chat) == [
            "home",
            "lake",
        ]
        assert all(re.match(r"\[P2\] FIRING DiskSpace: .* is .*% full", p["text"]) for p in chat)
        pages = _posts(hooks, "/pager")
        assert len(pages) == 2
        page = pages[0]
        assert page["routing_key"] == "rk-test"
        assert page["event_action"] == "trigger"
        assert page["payload"]["severity"] == "error"
        assert page["payload"]["source"] == "workbench"
        assert "DiskSpace" in page["payload"]["summary"]
        keys = {p["dedup_key"] for p in pages}
        assert len(keys) == 2

        # Raised above any disk: resolved, with the same dedup keys, on both channels.
        (home / "alerts.yaml").write_text(_disk_rules(hooks.url, 100))
        asyncio.run(engine.evaluate())
        asyncio.run(engine.evaluate())
        assert [p["text"][:15] for p in _posts(hooks, "/chat")] == [
            *["[P2] FIRING Dis"] * 2,
            *["[P2] RESOLVED D"] * 2,
        ]
        resolves = _posts(hooks, "/pager")[2:]
        assert {(p["event_action"], p["dedup_key"]) for p in resolves} == {
            ("resolve", key) for key in keys
        }

        # Under a silence of the rule it fires again (in the history), but nobody is told.
        with workbench.sessions() as session:
            session.add(
                AlertSilence(
                    rule="DiskSpace",
                    labels={},
                    ends_at=datetime.now(UTC) + timedelta(hours=1),
                    created_by="test",
                )
            )
            session.commit()
        (home / "alerts.yaml").write_text(_disk_rules(hooks.url, 0.0001))
        asyncio.run(engine.evaluate())
        asyncio.run(engine.evaluate())
        assert len(hooks.received) == 8
        with workbench.sessions() as session:
            alerts = session.query(Alert).order_by(Alert.id).all()
            assert [a.status for a in alerts] == ["resolved"] * 2 + ["firing"] * 2
            events = [e.event for e in session.query(AlertEvent).filter_by(alert_id=alerts[3].id)]
            assert events == ["fired", "silenced"]


FLAKY = """\
name: month_close
sla: {{max_duration: 1h}}
steps:
  - {{id: close, notebook: close.ipynb, kernel: python3, parameters: {{fail: {fail}}}}}
"""


def _wait_for(check, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


async def _pollers(address: str, task_queue: str) -> list[str]:
    client = await temporal.connect(address, "default")
    return await temporal.live_pollers(client, task_queue)


@pytest.mark.timeout(400)
def test_failing_critical_pipeline_pages_p1_and_resolves_after_success(
    tmp_path: Path, home: Path, temporal_address: str, task_queue: str
) -> None:
    interval = 2.0
    src = tmp_path / "src"
    write_notebook(
        src / "close.ipynb",
        "if fail:\n    raise ValueError('ledger does not balance')",
        parameters="fail = False",
    )
    env = base_env(home) | {
        "WORKBENCH_TEMPORAL_ADDRESS": temporal_address,
        "WORKBENCH_TASK_QUEUE": task_queue,
    }
    settings = WorkbenchSettings.from_env(
        home, temporal_address=temporal_address, task_queue=task_queue
    )
    settings.workbench_home.prepare()
    core = Workbench(settings)
    worker = spawn_worker(home, temporal_address, task_queue)
    try:
        _wait_for(lambda: asyncio.run(_pollers(temporal_address, task_queue)), 60)
        with webhook_receiver() as hooks, smtp_server() as mailbox:
            (home / "alerts.yaml").write_text(
                f"""\
interval_seconds: {interval}
source: test-workbench
channels:
  pager: {{type: webhook, url: "{hooks.url}/n8n", routing_key: rk-close}}
  chat: {{type: slack, url: "{hooks.url}/chat"}}
  controllers: {{type: email, to: [controller@example.com], smtp_url: "{mailbox.url}"}}
rules:
  - {{name: PipelineFailed, kind: pipeline_failed, severity: P1, channels: [pager, controllers]}}
  - {{name: HighErrorRate, kind: error_rate, severity: P2, channels: [chat], window_seconds: 600}}
  - {{name: ServiceDown, kind: service_down, severity: P1, channels: [pager], for_seconds: 120}}
"""
            )
            with running_engine(AlertEngine(core)):
                (src / "close.yaml").write_text(FLAKY.format(fail="true"))
                assert (
                    run_workbench("pipeline", "deploy", str(src / "close.yaml"), env=env).returncode
                    == 0
                )
                failed = run_workbench(
                    "pipeline", "run", "month_close", "--wait", env=env, timeout=240
                )
                assert failed.returncode == 1, failed.stdout + failed.stderr
                _wait_for(lambda: _posts(hooks, "/n8n"), interval + 10)
                arrived, _, page = hooks.received[0]
                # Within one evaluation interval of the run's end (and the time to send).
                with core.sessions() as session:
                    [finished] = session.scalars(select(Run.finished_at))
                ended = finished.replace(tzinfo=UTC).timestamp()
                assert 0 < arrived - ended <= interval + 1.0, arrived - ended
                assert page["event_action"] == "trigger"
                assert page["payload"]["severity"] == "critical"
                assert page["payload"]["source"] == "test-workbench"
                assert page["payload"]["custom_details"] == {
                    "pipeline": "month_close",
                    "priority": "P1",
                }
                assert "[P1] FIRING PipelineFailed" in page["payload"]["summary"]
                assert "month_close" in page["payload"]["summary"]
                # The worker polls its queue: ServiceDown does not fire.
                time.sleep(interval * 2)
                assert len(_posts(hooks, "/n8n")) == 1
                [mail] = mailbox.messages
                assert mail["To"] == "controller@example.com"
                assert mail["Subject"].startswith("[workbench] [P1] FIRING PipelineFailed:")
                # One run of one ended, and it failed: more than 5% of runs failed.
                [rate] = _posts(hooks, "/chat")
                assert rate["text"].startswith(
                    "[P2] FIRING HighErrorRate: 1 of the 1 pipeline runs that ended"
                )

                (src / "close.yaml").write_text(FLAKY.format(fail="false"))
                assert (
                    run_workbench("pipeline", "deploy", str(src / "close.yaml"), env=env).returncode
                    == 0
                )
                ok = run_workbench("pipeline", "run", "month_close", "--wait", env=env, timeout=240)
                assert ok.returncode == 0, ok.stdout + ok.stderr
                _wait_for(
                    lambda: len(mailbox.messages) == 2 and len(_posts(hooks, "/n8n")) == 2,
                    interval + 10,
                )
                resolve = _posts(hooks, "/n8n")[1]
                assert resolve == {
                    "routing_key": "rk-close",
                    "event_action": "resolve",
                    "dedup_key": page["dedup_key"],
                }
                assert mailbox.messages[1]["Subject"].startswith(
                    "[workbench] [P1] RESOLVED PipelineFailed:"
                )
    finally:
        stop_worker(worker)
        core.close()


@pytest.mark.timeout(120)
def test_service_down_fires_when_no_worker_polls_the_queue(
    home: Path, temporal_address: str, task_queue: str
) -> None:
    settings = WorkbenchSettings.from_env(
        home, temporal_address=temporal_address, task_queue=task_queue
    )
    settings.workbench_home.prepare()
    core = Workbench(settings)
    try:
        with webhook_receiver() as hooks:
            (home / "alerts.yaml").write_text(_service_down_rule(hooks.url, 1))
            engine = AlertEngine(core)
            # Not before the engine has watched for for_seconds: workers start with it.
            asyncio.run(engine.evaluate())
            assert hooks.received == []
            time.sleep(1.1)
            asyncio.run(engine.evaluate())
            [notice] = _posts(hooks, "/chat")
            assert notice["text"] == (
                # The window is at least a long poll's (90 s): none at all here.
                f"[P1] FIRING ServiceDown: no worker has polled task queue '{task_queue}' for 90 s"
            )
    finally:
        core.close()


@pytest.mark.timeout(300)
def test_service_down_stays_quiet_while_an_idle_worker_long_polls(
    home: Path, temporal_address: str, task_queue: str
) -> None:
    """An idle worker holds one poll open for up to ~70 s and Temporal notes its access
    when a poll starts: with for_seconds 30, a running workbench up paged ServiceDown P1
    and resolved it every minute all morning, its worker healthy throughout."""
    settings = WorkbenchSettings.from_env(
        home, temporal_address=temporal_address, task_queue=task_queue
    )
    settings.workbench_home.prepare()
    core = Workbench(settings)
    worker = spawn_worker(home, temporal_address, task_queue)
    try:
        _wait_for(lambda: asyncio.run(_pollers(temporal_address, task_queue)), 90)
        with webhook_receiver() as hooks:
            (home / "alerts.yaml").write_text(_service_down_rule(hooks.url, 5))
            engine = AlertEngine(core)
            engine.started -= timedelta(seconds=10)
            end = time.monotonic() + 25  # five windows of 5 s, all within one long poll
            while time.monotonic() < end:
                asyncio.run(engine.evaluate())
                time.sleep(1)
            assert worker.poll() is None
            assert hooks.received == []
    finally:
        stop_worker(worker)
        core.close()


@pytest.mark.timeout(300)
def test_service_down_fires_when_temporal_itself_stops_answering_and_resolves(
    tmp_path: Path, home: Path, task_queue: str
) -> None:
    """A Temporal that hangs (SIGSTOP: up, listening, silent) stops every run while its
    last pollers still look fine: the rule was "not evaluated" for as long as it lasted,
    so the engine that runs in the server to page when Temporal is gone never did."""
    from tests.support.processes import terminate
    from tests.support.temporal import wait_for_temporal

    (tmp_path / "t").mkdir()
    proc, address = temporal.spawn_dev_server(tmp_path / "t")
    worker = None
    settings = WorkbenchSettings.from_env(home, temporal_address=address, task_queue=task_queue)
    settings.workbench_home.prepare()
    core = Workbench(settings)
    try:
        asyncio.run(wait_for_temporal(address, proc))
        worker = spawn_worker(home, address, task_queue)
        _wait_for(lambda: asyncio.run(_pollers(address, task_queue)), 90)
        with webhook_receiver() as hooks:
            # Each request to a stopped Temporal waits answer_within_seconds: 2 s instead of
            # the default 10 (three of them were 30 s of the test's 35).
            (home / "alerts.yaml").write_text(_service_down_rule(hooks.url, 2, answer_within=2))
            engine = AlertEngine(core)
            engine.started -= timedelta(seconds=10)  # watched long enough already
            asyncio.run(engine.evaluate())
            assert hooks.received == []  # a worker polls

            os.kill(proc.pid, signal.SIGSTOP)
            asyncio.run(engine.evaluate())  # silent since now: not for 2 s yet
            assert hooks.received == []
            time.sleep(2.1)
            asyncio.run(engine.evaluate())
            asyncio.run(engine.evaluate())  # once, however often it is evaluated
            [notice] = _posts(hooks, "/chat")
            assert notice["text"].startswith(
                f"[P1] FIRING ServiceDown: Temporal at {address} has not answered for "
            ), notice
            assert "(no answer within 2 s)" in notice["text"], notice
            assert f"no run of task queue '{task_queue}' starts" in notice["text"], notice

            os.kill(proc.pid, signal.SIGCONT)  # back, and its worker polls again
            deadline = time.monotonic() + 90
            while len(_posts(hooks, "/chat")) < 2:
                assert time.monotonic() < deadline, hooks.received
                asyncio.run(engine.evaluate())
                time.sleep(0.5)
            resolved = _posts(hooks, "/chat")[1]["text"]
            assert resolved.startswith("[P1] RESOLVED ServiceDown: "), resolved
        with core.sessions() as session:
            [alert] = session.scalars(select(Alert)).all()
            assert alert.status == "resolved"
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        if worker is not None:
            stop_worker(worker)
        core.close()
        terminate(proc)


def test_a_channel_to_a_denied_address_is_not_called(workbench: Workbench) -> None:
    home = workbench.settings.workbench_home.root
    (home / "alerts.yaml").write_text(
        """\
channels:
  metadata: {type: slack, url: "http://169.254.169.254/latest/hook"}
rules:
  - {name: DiskSpace, kind: disk_space, severity: P3, threshold_percent: 0, channels: [metadata]}
"""
    )
    asyncio.run(AlertEngine(workbench).evaluate())
    with workbench.sessions() as session:
        failed = session.query(AlertEvent).filter_by(event="notified").all()
    assert failed and all(e.status == "failed" for e in failed)
    assert all("169.254.169.254" in e.detail and "not" in e.detail for e in failed), [
        e.detail for e in failed
    ]


def _pipeline(session, pid: int, name: str, spec: dict) -> None:
    session.add(Pipeline(id=pid, name=name, owner="me", current_version=1))
    session.add(
        PipelineVersion(
            pipeline_id=pid,
            version=1,
            content_hash="0" * 64,
            spec={"name": name, **spec},
            snapshot_dir="",
            deployed_by="me",
        )
    )


def _ended(session, run_id: str, pid: int, status: str) -> None:
    now = datetime.now(UTC)
    session.add(
        Run(
            id=run_id,
            pipeline_id=pid,
            version=1,
            status=status,
            trigger="manual",
            parameters={},
            logical_date=f"{now:%Y-%m-%d}",
            workflow_id=run_id,
            requested_by="me",
            started_at=now,
            finished_at=now,
        )
    )


def test_sla_at_risk_fires_for_the_downstream_pipeline_until_it_succeeds(
    workbench: Workbench,
) -> None:
    home = workbench.settings.workbench_home.root
    with webhook_receiver() as hooks:
        (home / "alerts.yaml").write_text(
            f"""\
channels:
  chat: {{type: slack, url: "{hooks.url}/chat"}}
rules:
  - {{name: SlaAtRisk, kind: sla_at_risk, severity: P2, channels: [chat]}}
"""
        )
        engine = AlertEngine(workbench)
        with workbench.sessions.begin() as session:
            step = {"id": "a", "notebook": "a.ipynb"}
            _pipeline(
                session, 1, "extract", {"steps": [{**step, "outputs": ["lake.bronze.moves"]}]}
            )
            _pipeline(
                session,
                2,
                "close",
                {
                    "sla": {"max_duration": "1h"},
                    "steps": [{**step, "inputs": ["lake.bronze.moves"]}],
                },
            )
            _ended(session, "r1", 1, "failed")
        asyncio.run(engine.evaluate())
        [notice] = _posts(hooks, "/chat")
        assert re.fullmatch(
            r"\[P2\] FIRING SlaAtRisk: the SLA of close \(deadline unknown\) is at risk: "
            r"upstream pipeline extract failed at .* UTC",
            notice["text"],
        ), notice["text"]
        with workbench.sessions.begin() as session:
            _ended(session, "r2", 2, "succeeded")
        asyncio.run(engine.evaluate())
        assert _posts(hooks, "/chat")[1]["text"].startswith(
            "[P2] RESOLVED SlaAtRisk: the SLA of close"
        )


def test_a_grouping_channel_gets_one_message_per_evaluation(workbench: Workbench) -> None:
    home = workbench.settings.workbench_home.root
    engine = AlertEngine(workbench)
    with webhook_receiver() as hooks:

        def rules(threshold: float) -> str:
            return f"""\
channels:
  chat: {{type: slack, url: "{hooks.url}/chat", group: true}}
rules:
  - {{name: DiskSpace, kind: disk_space, severity: P2, threshold_percent: {threshold},
     channels: [chat]}}
"""

        (home / "alerts.yaml").write_text(rules(0.0001))
        asyncio.run(engine.evaluate())
        [fired] = _posts(hooks, "/chat")
        first, *lines = fired["text"].splitlines()
        assert first == "2 alerts (2 firing)"
        assert sorted(line.split(" file system")[0] for line in lines) == [
            "[P2] FIRING DiskSpace: the home",
            "[P2] FIRING DiskSpace: the lake",
        ]
        (home / "alerts.yaml").write_text(rules(100))
        asyncio.run(engine.evaluate())
        resolved = _posts(hooks, "/chat")[1]["text"]
        assert resolved.startswith("2 alerts (2 resolved)\n[P2] RESOLVED DiskSpace")
        with workbench.sessions() as session:
            sent = session.query(AlertEvent).filter_by(event="notified", status="sent").count()
        assert sent == 4  # each alert's history has its own notices


def test_a_resolve_notice_that_failed_is_sent_again(workbench: Workbench) -> None:
    home = workbench.settings.workbench_home.root
    engine = AlertEngine(workbench)
    with webhook_receiver() as hooks:

        def rules(path: str, threshold: float) -> str:
            return f"""\
channels:
  chat: {{type: slack, url: "{hooks.url}{path}", group: true}}
rules:
  - {{name: DiskSpace, kind: disk_space, severity: P2, threshold_percent: {threshold},
     channels: [chat]}}
"""

        (home / "alerts.yaml").write_text(rules("/chat", 0.0001))
        asyncio.run(engine.evaluate())
        # The chat service answers 500 when the disk clears: the resolve notice fails...
        (home / "alerts.yaml").write_text(rules("/fail", 100))
        asyncio.run(engine.evaluate())
        assert [p["text"].split("\n")[0] for _, _, p in hooks.received] == [
            "2 alerts (2 firing)",
            "2 alerts (2 resolved)",
        ]
        assert [path for _, path, _ in hooks.received] == ["/chat", "/fail"]
        # ... and is sent again at the next evaluation, once it answers.
        (home / "alerts.yaml").write_text(rules("/chat", 100))
        asyncio.run(engine.evaluate())
        asyncio.run(engine.evaluate())
        assert [path for _, path, _ in hooks.received] == ["/chat", "/fail", "/chat"]
        assert hooks.received[2][2]["text"].startswith("2 alerts (2 resolved)")
