"""The Operations view as a user sees it, against a real ``workbench up`` (Temporal dev
server, pipeline worker, the server's own alert engine): the success rate and durations
of the runs made here, an SLA put at risk by a failed upstream run, the alerts the engine
fired for it, silenced and acknowledged by the admin, the task queue and the workers, what
a team member who administers nothing sees, and an unavailable API said in words."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, Route, expect

from tests.support.notebooks import write_notebook
from tests.ui.conftest import Workbench, start_workbench, stop_workbench
from tests.ui.principals import GROUP, as_user

VIEW = ".jp-WorkbenchOperations:visible"
RUN_TIMEOUT_S = 120
# The view polls every 10 s, the engine evaluates every second.
POLLED_MS = 25_000

# The engine's rules: ops_load's failure pages, and so does the SLA it puts at risk.
ALERT_RULES = """\
interval_seconds: 1
rules:
  - {name: PipelineFailed, kind: pipeline_failed, severity: P1, pipelines: [ops_load]}
  - {name: SlaAtRisk, kind: sla_at_risk, severity: P2}
"""


def pipelines() -> dict[str, str]:
    """ops_load writes the invoices that ops_report (with an SLA two hours from now)
    reads to write the report (kept no older than 26 h); both are shared with finance.
    ops_private is the admin's alone."""
    finish_by = (datetime.now(UTC) + timedelta(hours=2)).strftime("%H:%M")
    shared = f"access: {{viewers: [{GROUP}]}}\n"
    return {
        "ops_load": "name: ops_load\ndescription: Load the day's invoices.\n"
        + shared
        + "parameters:\n  fail: {type: boolean, default: false}\n"
        "steps:\n"
        "  - id: extract\n"
        "    notebook: work.ipynb\n"
        '    parameters: {fail: "{{ params.fail }}"}\n'
        "    outputs: [lake.silver.invoices]\n",
        "ops_report": "name: ops_report\ndescription: The controllers' morning report.\n"
        + shared
        + f'sla: {{finish_by: "{finish_by}"}}\n'
        "freshness:\n  - {dataset: gold.report, max_age: 26h}\n"
        "steps:\n"
        "  - id: build\n"
        "    notebook: work.ipynb\n"
        "    inputs: [lake.silver.invoices]\n"
        "    outputs: [lake.gold.report]\n",
        "ops_private": "name: ops_private\nsteps:\n  - {id: sum, notebook: work.ipynb}\n",
    }


# In this order: load's last run fails after report succeeded, so report is at risk.
RUNS = [
    ("ops_load", False),
    ("ops_private", False),
    ("ops_load", False),
    ("ops_report", False),
    ("ops_load", True),
]


def write_alert_rules(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "alerts.yaml").write_text(ALERT_RULES)


def make_runs(workbench: Workbench) -> list[dict]:
    """Deploy the three pipelines over REST and make :data:`RUNS`, each to its end; the
    runs as the server lists them."""
    folder = workbench.root / "notebooks" / "ops"
    write_notebook(
        folder / "work.ipynb",
        "if fail:\n    raise RuntimeError('the invoice export is empty')",
        parameters="fail = False",
    )
    for name, spec in pipelines().items():
        (folder / f"{name}.yaml").write_text(spec)
        answer = workbench.api.post("pipelines/deploy", json={"path": f"ops/{name}.yaml"})
        assert answer.status_code == 201, answer.text
    for name, fail in RUNS:
        body = {"parameters": {"fail": fail}} if name == "ops_load" else {}
        run = workbench.api.post(f"pipelines/{name}/runs", json=body).json()
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while (state := workbench.api.get(f"runs/{run['id']}").json())["status"] not in (
            "succeeded",
            "failed",
            "cancelled",
        ):
            assert time.monotonic() < deadline, f"run of {name} did not end: {state}"
            time.sleep(0.5)
        assert state["status"] == ("failed" if fail else "succeeded"), state
    return workbench.api.get("runs", params={"limit": 500}).json()


def wait_for_alerts(workbench: Workbench, rules: set[str]) -> list[dict]:
    """The firing alerts once every rule of ``rules`` fired (the engine runs each second)."""
    deadline = time.monotonic() + 30
    while True:
        firing = workbench.api.get("alerts", params={"status": "firing"}).json()
        if rules <= {a["rule"] for a in firing}:
            return firing
        assert time.monotonic() < deadline, f"alerts did not fire: {firing}"
        time.sleep(0.5)


def open_operations(page: Page) -> Locator:
    """The Operations view, opened from the command palette."""
    page.keyboard.press("Control+Shift+C")
    palette = page.locator("#command-palette input")
    expect(palette).to_be_focused()
    palette.fill("Open Operations")
    item = page.locator('#command-palette [data-command="workbench:operations-open"]')
    expect(item).to_have_text(re.compile("^Open Operations"))
    item.click()
    view = page.locator(VIEW)
    expect(view.locator(".jp-WorkbenchOperations-tiles")).to_be_visible()
    return view


def figure(view: Locator, key: str) -> Locator:
    return view.locator(f'[data-figure="{key}"] .jp-WorkbenchOperations-tileValue')


def cell(view: Locator, pipeline: str, column: str) -> Locator:
    return view.locator(f'tr[data-pipeline="{pipeline}"] [data-col="{column}"]')


def alert_item(view: Locator, rule: str) -> Locator:
    return view.locator(f'.jp-WorkbenchOperations-alert[data-rule="{rule}"]')


@pytest.fixture(scope="module")
def workbench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workbench]:
    """A workbench whose home has the alert rules from the start, with the runs made."""
    root = tmp_path_factory.mktemp("ui-ops")
    write_alert_rules(root / "home")
    up = start_workbench(root)
    running = Workbench(up, root)
    try:
        running.runs = make_runs(running)  # type: ignore[attr-defined]
        wait_for_alerts(running, {"PipelineFailed", "SlaAtRisk"})
        yield running
    finally:
        running.api.close()
        stop_workbench(up)


def test_figures_match_the_runs_made(page: Page, workbench: Workbench) -> None:
    runs = workbench.runs  # type: ignore[attr-defined]
    ended = [r for r in runs if r["status"] in ("succeeded", "failed")]
    assert len(ended) == len(RUNS)
    view = open_operations(page)

    # 4 of the 5 runs made succeeded.
    expect(figure(view, "success-rate")).to_have_text("80 %")
    expect(figure(view, "runs")).to_have_text("5")
    expect(view.locator('[data-figure="runs"]')).to_contain_text("1 failed · 0 cancelled")
    # ops_report's SLA and its report's freshness, both at risk.
    expect(figure(view, "sla")).to_have_text("0 · 2")
    expect(
        view.locator(".jp-WorkbenchOperations-tile.jp-mod-bad[data-figure='runs']")
    ).to_be_visible()
    # One bar per hour of the last day, the runs in the last ones.
    expect(view.get_by_role("button", name="7 days")).to_have_attribute("aria-pressed", "true")
    view.get_by_role("button", name="24 hours").click()
    expect(view.locator(".jp-WorkbenchOperations-trend g[data-bucket]")).to_have_count(24)
    expect(view.locator(".jp-WorkbenchOperations-bar.jp-mod-failed")).to_have_count(1)
    expect(figure(view, "success-rate")).to_have_text("80 %")

    # Per pipeline: ops_load ran three times, the last one failed.
    expect(cell(view, "ops_load", "runs")).to_have_text("3")
    expect(cell(view, "ops_load", "success-rate")).to_have_text("66.6 %")
    expect(cell(view, "ops_load", "success-rate")).to_have_class(re.compile("jp-mod-bad"))
    expect(cell(view, "ops_load", "last")).to_contain_text("failed")
    expect(cell(view, "ops_report", "success-rate")).to_have_text("100 %")
    # The durations shown are those the server recorded for the runs.
    [report] = [r for r in runs if r["pipeline"] == "ops_report"]
    seconds = (
        datetime.fromisoformat(report["finished_at"]) - datetime.fromisoformat(report["started_at"])
    ).total_seconds()
    shown = f"{round(seconds * 1000)} ms" if seconds < 1 else f"{round(seconds)} s"
    expect(cell(view, "ops_report", "p50")).to_have_text(shown)

    # ops_report's SLA is at risk because ops_load failed, before its deadline.
    expect(cell(view, "ops_report", "sla")).to_have_attribute("data-sla", "at-risk")
    expect(cell(view, "ops_report", "sla")).to_contain_text("upstream ops_load failed")
    risk = view.locator('.jp-WorkbenchOperations-risk[data-pipeline="ops_report"]')
    expect(risk).to_contain_text("upstream ops_load failed · due")
    expect(cell(view, "ops_load", "sla")).to_contain_text("no SLA")
    fresh = view.locator('.jp-WorkbenchOperations-datasets tr[data-dataset="lake.gold.report"]')
    expect(fresh).to_have_attribute("data-status", "at_risk")
    expect(fresh).to_contain_text("no older than 1d2h")
    expect(fresh.locator('[data-col="state"]')).to_have_text("at risk ops_load failed")

    # The parts are up, the worker polls the task queue, and nothing waits in it.
    health = view.locator('[data-section="health"]')
    for part in ("metadata_db", "temporal", "worker"):
        expect(health.locator(f'[data-part="{part}"]')).to_have_attribute("data-status", "ok")
    expect(health.locator(".jp-WorkbenchOperations-queue")).to_have_attribute("data-backlog", "0")
    expect(health.locator('[data-queue="activity"] [data-col="backlog"]')).to_have_text("0")
    expect(health.locator(".jp-WorkbenchOperations-workers")).to_contain_text("Workers: ")

    # A pipeline's name opens its own view.
    view.locator('tr[data-pipeline="ops_load"] .jp-WorkbenchOperations-link').click()
    expect(page.locator(".jp-WorkbenchPipeline:visible .jp-WorkbenchPipeline-name")).to_have_text(
        "ops_load"
    )


def test_admin_silences_and_acknowledges_alerts(page: Page, workbench: Workbench) -> None:
    view = open_operations(page)
    failed = alert_item(view, "PipelineFailed")
    expect(failed).to_have_attribute("data-silenced", "false")
    expect(failed.locator(".jp-WorkbenchOperations-severity")).to_have_text("P1")
    expect(failed).to_contain_text("pipeline=ops_load")
    expect(failed).to_contain_text("the latest run of critical pipeline ops_load failed")
    at_risk = alert_item(view, "SlaAtRisk")
    expect(at_risk).to_contain_text("the SLA of ops_report")

    failed.get_by_role("button", name="Silence…").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text(
        "No notice is sent for PipelineFailed alerts with pipeline=ops_load"
    )
    dialog.locator("select").select_option(label="4 hours")
    dialog.get_by_role("button", name="Silence").click()
    expect(dialog).to_be_hidden()
    expect(failed).to_have_attribute("data-silenced", "true")
    expect(failed.locator(".jp-mod-silenced")).to_contain_text("silenced until")
    [silence] = workbench.api.get("alerts/silences").json()
    assert (silence["rule"], silence["labels"]) == ("PipelineFailed", {"pipeline": "ops_load"})
    ends = datetime.fromisoformat(silence["ends_at"]) - datetime.now(UTC)
    assert timedelta(hours=3, minutes=58) < ends <= timedelta(hours=4)

    at_risk.get_by_role("button", name="Acknowledge").click()
    expect(at_risk).to_have_attribute("data-acknowledged", "true")
    expect(at_risk.get_by_role("button", name="Acknowledge")).to_have_count(0)
    [acked] = [
        a
        for a in workbench.api.get("alerts", params={"status": "firing"}).json()
        if a["rule"] == "SlaAtRisk"
    ]
    expect(at_risk).to_contain_text(f"acknowledged by {acked['acknowledged_by']}")

    # Ending the silence from the view: the alert is no longer silenced.
    failed.get_by_role("button", name="End silence").click()
    expect(failed).to_have_attribute("data-silenced", "false")
    assert workbench.api.get("alerts/silences").json() == []


def test_a_team_member_sees_their_pipelines_and_no_admin_actions(
    bob_page: Page, workbench: Workbench
) -> None:
    view = open_operations(bob_page)
    # ops_private is not bob's to see: not in the table, not in the figures.
    expect(view.locator("tr[data-pipeline]")).to_have_count(2)
    expect(view.locator('tr[data-pipeline="ops_private"]')).to_have_count(0)
    expect(figure(view, "runs")).to_have_text("4")
    expect(figure(view, "success-rate")).to_have_text("75 %")
    expect(view.locator(".jp-WorkbenchOperations-since")).to_contain_text("as bob")

    # He sees the alerts but has no button to act on them, and is told why.
    expect(alert_item(view, "PipelineFailed")).to_be_visible()
    expect(view.locator(".jp-WorkbenchOperations-alert button")).to_have_count(0)
    expect(view.locator(".jp-WorkbenchOperations-note")).to_have_text(
        "Only an admin may acknowledge or silence alerts."
    )
    # The server refuses him anyway.
    refused = workbench.api.post(
        "alerts/silences", json={"rule": "PipelineFailed", "minutes": 60}, headers=as_user("bob")
    )
    assert refused.status_code == 403


def test_an_unavailable_api_is_said_in_words(page: Page, workbench: Workbench) -> None:
    message = "the metadata database is unavailable (connection refused); try again shortly"

    def unavailable(route: Route) -> None:
        route.fulfill(
            status=503, content_type="application/json", body=json.dumps({"message": message})
        )

    def broken(route: Route) -> None:
        route.fulfill(status=500, content_type="text/html", body="<html>Traceback ...</html>")

    page.route(re.compile(r"/workbench/api/operations/summary(\?.*)?$"), unavailable)
    page.route(re.compile(r"/workbench/api/sla/at-risk(\?.*)?$"), broken)
    page.keyboard.press("Control+Shift+C")
    page.locator("#command-palette input").fill("Open Operations")
    page.locator('#command-palette [data-command="workbench:operations-open"]').click()
    view = page.locator(VIEW)
    expect(view.locator('[data-error="summary"]')).to_have_text(
        f"Run figures and health not loaded: {message}"
    )
    expect(view.locator('[data-error="risks"]')).to_have_text(
        "SLA risks not loaded: the workbench API answered HTTP 500"
    )
    # The alerts still show: each part loads on its own.
    expect(alert_item(view, "PipelineFailed")).to_be_visible()
    assert "Traceback" not in view.inner_text()


def test_the_launcher_opens_it(page: Page, workbench: Workbench) -> None:
    card = page.locator('.jp-LauncherCard[data-category="Workbench"]', has_text="Operations")
    expect(card).to_have_text("Operations")
    card.click()
    expect(page.locator(VIEW).locator('[data-figure="success-rate"]')).to_be_visible()
