"""Escalation in the built-in alert engine: an alert nobody acknowledges goes to further
channels, and up in severity, after the delays of its rule; an acknowledgement or the
resolve stops it; every step is in the alert's history, and a restarted engine carries on
where the last one left off."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.receivers import Webhooks, webhook_receiver
from workbench_server.alerts import service
from workbench_server.alerts.engine import AlertEngine
from workbench_server.alerts.rules import parse
from workbench_server.core import Workbench
from workbench_server.errors import InvalidInputError
from workbench_server.principal import Principal

ADMIN = Principal(name="controller", admin=True)


def _rules(hooks: str, threshold: float) -> str:
    return f"""\
channels:
  chat: {{type: slack, url: "{hooks}/chat"}}
  pager: {{type: pagerduty, url: "{hooks}/pager", routing_key: rk}}
rules:
  - name: DiskSpace
    kind: disk_space
    severity: P2
    threshold_percent: {threshold}
    channels: [chat]
    escalate:
      - {{after: 15m, to: [pager]}}
      - {{after: 1h, severity: P1}}
"""


def _received(hooks: Webhooks) -> list[tuple[str, str]]:
    """(path, what it said) of every POST: a Slack text's first words, a PagerDuty event's
    action and severity."""
    out = []
    for _, path, body in hooks.received:
        if path == "/chat":
            out.append((path, " ".join(body["text"].split()[:3])))
        else:
            severity = body.get("payload", {}).get("severity", "-")
            out.append((path, f"{body['event_action']} {severity}"))
    return out


def test_an_unacknowledged_alert_escalates_until_acknowledged_or_resolved(
    metadata: Workbench,
) -> None:
    workbench = metadata
    home = workbench.settings.workbench_home.root
    t0 = datetime.now(UTC)
    with webhook_receiver() as hooks:
        (home / "alerts.yaml").write_text(_rules(hooks.url, 0.0001))
        asyncio.run(AlertEngine(workbench).evaluate(t0))
        # Fired for the home and the lake volume: the chat hears of both, the pager not yet.
        assert _received(hooks) == [("/chat", "[P2] FIRING DiskSpace:")] * 2
        asyncio.run(AlertEngine(workbench).evaluate(t0 + timedelta(minutes=14)))
        assert len(hooks.received) == 2

        # 15 minutes and nobody acknowledged: the pager is paged (a restarted engine:
        # the state is in the DB), once however often it is evaluated.
        engine = AlertEngine(workbench)
        for minutes in (16, 17, 18):
            asyncio.run(engine.evaluate(t0 + timedelta(minutes=minutes)))
        assert _received(hooks)[2:] == [("/pager", "trigger error")] * 2
        summary = hooks.received[2][2]["payload"]["summary"]
        assert summary.endswith("(escalated: not acknowledged 15m)"), summary

        alerts = service.list_alerts(workbench, "firing", 10)
        by_volume = {a.labels["volume"]: a for a in alerts}
        assert {a.escalation_level for a in alerts} == {1}
        # The controller acknowledges the home's alert: it escalates no further.
        service.acknowledge(workbench, ADMIN, by_volume["home"].id)
        asyncio.run(engine.evaluate(t0 + timedelta(minutes=61)))
        # The lake's goes to P1: the chat and the pager are told again, at P1.
        assert sorted(_received(hooks)[4:]) == [
            ("/chat", "[P1] FIRING DiskSpace:"),
            ("/pager", "trigger critical"),
        ]
        dedup = [p["dedup_key"] for _, path, p in hooks.received if path == "/pager"]
        assert len(set(dedup)) == 2  # the P1 updates the lake's incident, not a new one

        alerts = {a.labels["volume"]: a for a in service.list_alerts(workbench, "firing", 10)}
        assert (alerts["home"].severity, alerts["home"].escalation_level) == ("P2", 1)
        assert (alerts["lake"].severity, alerts["lake"].escalation_level) == ("P1", 2)
        steps = [
            (e.event, e.level, e.detail) for e in alerts["lake"].history if e.event == "escalated"
        ]
        assert steps == [
            (
                "escalated",
                1,
                "not acknowledged 15m after firing: to pager",
            ),
            (
                "escalated",
                2,
                "not acknowledged 1h after firing: to chat, pager; P2 -> P1",
            ),
        ]
        assert [
            (e.channel, e.level, e.status) for e in alerts["lake"].history if e.event == "notified"
        ] == [("chat", 0, "sent"), ("pager", 1, "sent"), ("chat", 2, "sent"), ("pager", 2, "sent")]

        # Resolved: every channel told of it hears so, once; nothing escalates after.
        (home / "alerts.yaml").write_text(_rules(hooks.url, 100))
        asyncio.run(engine.evaluate(t0 + timedelta(minutes=62)))
        asyncio.run(engine.evaluate(t0 + timedelta(hours=5)))
        assert sorted(_received(hooks)[6:]) == [
            ("/chat", "[P1] RESOLVED DiskSpace:"),
            ("/chat", "[P2] RESOLVED DiskSpace:"),
            ("/pager", "resolve -"),
            ("/pager", "resolve -"),
        ]
        assert len(hooks.received) == 10


def test_a_silenced_alert_does_not_escalate(workbench: Workbench) -> None:
    home = workbench.settings.workbench_home.root
    t0 = datetime.now(UTC)
    with webhook_receiver() as hooks:
        (home / "alerts.yaml").write_text(_rules(hooks.url, 0.0001))
        engine = AlertEngine(workbench)
        asyncio.run(engine.evaluate(t0))
        service.create_silence(
            workbench, ADMIN, service.SilenceIn(rule="DiskSpace", minutes=90, comment="known")
        )
        asyncio.run(engine.evaluate(t0 + timedelta(minutes=20)))
        assert len(hooks.received) == 2  # the two first notices, before the silence
        assert {a.escalation_level for a in service.list_alerts(workbench, "firing", 10)} == {0}


def test_escalation_mistakes_name_the_line_and_field() -> None:
    text = """\
channels:
  chat: {type: slack, url: "http://127.0.0.1:9/chat"}
rules:
  - name: DiskSpace
    kind: disk_space
    severity: P2
    channels: [chat]
    escalate: {after: soon, to: [chat]}
"""
    with pytest.raises(InvalidInputError) as caught:
        parse(text, "alerts.yaml")
    assert "alerts.yaml:8: rules.0.escalate.0.after: " in str(caught.value)
    assert "'soon' is not a duration" in str(caught.value)
    with pytest.raises(InvalidInputError, match=r"rules\[0\].escalate\[0\].to: no channel 'pager'"):
        parse(text.replace("soon", "15m").replace("to: [chat]", "to: [pager]"))
    with pytest.raises(InvalidInputError, match=r"escalate\[0\].severity: P3 is lower than P2"):
        parse(text.replace("soon", "15m").replace("to: [chat]", "severity: P3"))
    with pytest.raises(InvalidInputError, match=r"escalate\[1\].after: each step comes later"):
        parse(
            text.replace(
                "escalate: {after: soon, to: [chat]}",
                "escalate: [{after: 1h, to: [chat]}, {after: 30m, severity: P1}]",
            )
        )


def test_a_higher_severity_tells_everyone_told_before_again_and_only_then() -> None:
    from workbench_server.alerts.engine import targets

    config = parse(
        """\
channels:
  chat: {type: slack, url: "http://127.0.0.1:9/chat"}
  pager: {type: slack, url: "http://127.0.0.1:9/pager"}
  phone: {type: slack, url: "http://127.0.0.1:9/phone"}
rules:
  - name: DiskSpace
    kind: disk_space
    severity: P3
    channels: [chat]
    escalate:
      - {after: 10m, to: [pager], severity: P2}
      - {after: 20m, to: [phone]}
      - {after: 30m, to: [phone], severity: P2}
      - {after: 40m, severity: P1}
"""
    )
    [rule] = config.rules
    assert [targets(rule, level) for level in range(5)] == [
        ["chat"],
        ["pager", "chat"],  # P3 -> P2: chat hears it again
        ["phone"],
        ["phone"],  # P2 already: a reminder to phone only
        ["chat", "pager", "phone"],  # P2 -> P1: everyone, the rule's channels first
    ]
