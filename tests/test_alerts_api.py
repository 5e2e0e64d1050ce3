"""``/workbench/api/alerts``: the server's own engine fires an alert, everyone sees it
with its history, only admins acknowledge it and silence alerts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tornado.httpclient import HTTPClientError

from tests.support.receivers import Webhooks, webhook_receiver
from tests.support.servers import workbench_server
from tests.ui.principals import HeaderPrincipalProvider, as_user
from workbench_server.db.models import Alert

PROVIDER = f"{HeaderPrincipalProvider.__module__}.{HeaderPrincipalProvider.__name__}"


@pytest.fixture
def hooks() -> Iterator[Webhooks]:
    with webhook_receiver() as received:
        yield received


@pytest.fixture
def jp_server_config(home: Path, hooks: Webhooks):
    home.mkdir(parents=True, exist_ok=True)
    (home / "alerts.yaml").write_text(
        f"""\
interval_seconds: 0.5
channels:
  chat: {{type: slack, url: "{hooks.url}/chat"}}
rules:
  - {{name: DiskSpace, kind: disk_space, severity: P2, threshold_percent: 0.0001,
     channels: [chat]}}
"""
    )
    return workbench_server(home, principal_provider_class=PROVIDER)


async def _json(jp_fetch, *path: str, **kwargs):
    response = await jp_fetch("workbench", "api", "alerts", *path, **kwargs)
    return response.code, json.loads(response.body)


async def _refused(jp_fetch, *path: str, **kwargs) -> tuple[int, str]:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("workbench", "api", "alerts", *path, **kwargs)
    return info.value.code, json.loads(info.value.response.body)["message"]


async def test_the_servers_engine_fires_and_admins_acknowledge_and_silence(
    jp_fetch, jp_serverapp, hooks: Webhooks
) -> None:
    await jp_serverapp._post_start()  # as the server does once its loop runs
    for _ in range(200):
        _, alerts = await _json(jp_fetch, params={"status": "firing"})
        if len(alerts) == 2 and len(hooks.received) == 2:
            break
        await asyncio.sleep(0.1)
    assert sorted(a["labels"]["volume"] for a in alerts) == ["home", "lake"]
    alert = alerts[0]
    assert (alert["rule"], alert["severity"], alert["status"]) == ("DiskSpace", "P2", "firing")
    assert [(e["event"], e["channel"], e["status"]) for e in alert["history"]] == [
        ("fired", None, None),
        ("notified", "chat", "sent"),
    ]
    # An alert about a pipeline bob may not see (as PipelineFailed raises them).
    workbench = jp_serverapp.web_app.settings["workbench"]
    with workbench.sessions() as session:
        session.add(
            Alert(
                dedup_key="PipelineFailed{pipeline=payroll}",
                rule="PipelineFailed",
                severity="P1",
                labels={"pipeline": "payroll"},
                summary="the latest run of critical pipeline payroll failed",
                status="resolved",
            )
        )
        session.commit()
    _, everything = await _json(jp_fetch)
    assert len(everything) == 3
    # Another user sees the alerts (not that one) but may not acknowledge or silence them.
    _, seen = await _json(jp_fetch, headers=as_user("bob"))
    assert {a["id"] for a in seen} == {a["id"] for a in alerts}
    assert await _refused(
        jp_fetch, str(alert["id"]), "acknowledge", method="POST", body="{}", headers=as_user("bob")
    ) == (403, "only an admin may acknowledge an alert")
    silence = json.dumps({"rule": "DiskSpace", "minutes": 60, "comment": "disk ordered"})
    assert await _refused(
        jp_fetch, "silences", method="POST", body=silence, headers=as_user("bob")
    ) == (403, "only an admin may silence alerts")

    code, acked = await _json(jp_fetch, str(alert["id"]), "acknowledge", method="POST", body="{}")
    assert code == 200 and acked["acknowledged_by"]
    assert acked["history"][-1]["event"] == "acknowledged"

    code, made = await _json(jp_fetch, "silences", method="POST", body=silence)
    assert code == 201 and made["active"] and made["rule"] == "DiskSpace"
    _, active = await _json(jp_fetch, "silences")
    assert [s["id"] for s in active] == [made["id"]]
    _, ended = await _json(jp_fetch, "silences", str(made["id"]), method="DELETE")
    assert not ended["active"]
    _, active = await _json(jp_fetch, "silences")
    assert active == []

    code, message = await _refused(jp_fetch, "silences", method="POST", body='{"rule": "x"}')
    assert code == 400 and "minutes or ends_at" in message
    # Evaluated every half second, still one notice per alert.
    await asyncio.sleep(1.5)
    assert len(hooks.received) == 2


async def test_silences_that_name_a_pipeline_are_shown_only_to_who_may_see_it(
    jp_fetch, jp_serverapp
) -> None:
    """An admin silences alerts of a private pipeline: another user listing the silences
    (the Operations view does) must not learn that pipeline's name from its labels, nor
    from an upstream label; a silence naming no pipeline stays listed for everyone."""
    made = {}
    for key, body in {
        "private": {"labels": {"pipeline": "payroll_layoffs"}, "comment": "known"},
        "upstream": {"labels": {"upstream": "payroll_layoffs"}, "comment": "known"},
        "rule": {"rule": "DiskSpace", "comment": "disk ordered"},
    }.items():
        code, made[key] = await _json(
            jp_fetch, "silences", method="POST", body=json.dumps({**body, "minutes": 60})
        )
        assert code == 201, made[key]
    _, as_admin = await _json(jp_fetch, "silences")
    assert {s["id"] for s in as_admin} == {s["id"] for s in made.values()}
    for ended in ("false", "true"):
        code, as_bob = await _json(
            jp_fetch, "silences", params={"ended": ended}, headers=as_user("bob")
        )
        assert code == 200
        assert [s["id"] for s in as_bob] == [made["rule"]["id"]], as_bob
        assert "payroll_layoffs" not in json.dumps(as_bob)
