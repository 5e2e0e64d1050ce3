"""The Pipelines panel as a user sees it: a deployed two-step pipeline run from its view,
its DAG turning green step by step, a failing step's traceback, and a schedule's next run,
pause, resume and trigger, against a real ``workbench up`` (Temporal dev server and
pipeline worker)."""

from __future__ import annotations

import json
import re

from playwright.sync_api import Locator, Page, Route, expect

from tests.support.notebooks import write_notebook
from tests.ui.conftest import Workbench

PANEL = "#workbench-pipelines"
VIEW = ".jp-WorkbenchPipeline:visible"
# A step runs in a fresh kernel through papermill: a few seconds each, in order.
RUN_TIMEOUT_MS = 60_000


def deploy(workbench: Workbench, name: str, last_cell: str, schedule: str = "") -> None:
    """Write two notebooks (``load`` waits for ``extract``) and deploy them over REST;
    ``schedule`` is the YAML of a ``schedule:`` mapping's body, if any."""
    folder = workbench.root / "notebooks" / name
    write_notebook(folder / "extract.ipynb", "rows = [1, 2, 3]", parameters="month = ''")
    write_notebook(folder / "load.ipynb", "total = 6", last_cell, parameters="month = ''")
    (folder / "pipeline.yaml").write_text(
        f"name: {name}\n"
        "description: Two steps for the browser tests.\n"
        "parameters:\n"
        "  month: {type: string, default: '2024-01'}\n"
        + (f"schedule: {schedule}\n" if schedule else "")
        + "steps:\n"
        "  - {id: extract, notebook: extract.ipynb}\n"
        "  - {id: load, notebook: load.ipynb, depends_on: [extract]}\n"
    )
    answer = workbench.api.post("pipelines/deploy", json={"path": f"{name}/pipeline.yaml"})
    assert answer.status_code == 201, answer.text


def open_pipeline(page: Page, name: str) -> Locator:
    """Show the Pipelines sidebar, open one pipeline's view; the view."""
    panel = page.locator(PANEL)
    if not panel.is_visible():
        page.locator('.jp-SideBar [data-id="workbench-pipelines"]').click()
    expect(panel).to_be_visible()
    item = panel.locator(f'.jp-WorkbenchPipelines-item[data-pipeline="{name}"]')
    expect(item).to_be_visible()
    item.click()
    view = page.locator(VIEW)
    expect(view.locator(".jp-WorkbenchPipeline-name")).to_have_text(name)
    # Both steps drawn before anything ran.
    expect(view.locator(".jp-WorkbenchPipeline-node")).to_have_count(2)
    return view


def run_now(page: Page, view: Locator) -> None:
    view.get_by_role("button", name="Run now").click()
    dialog = page.locator(".jp-Dialog")
    # Prefilled with the parameters of the last run, or empty for a first run.
    expect(dialog.locator(".jp-WorkbenchRunForm-parameters")).to_be_visible()
    dialog.get_by_role("button", name="Run").click()
    expect(dialog).to_be_hidden()


def node(view: Locator, step: str) -> Locator:
    return view.locator(f'.jp-WorkbenchPipeline-node[data-step="{step}"]')


def test_run_now_turns_the_dag_green(page: Page, workbench: Workbench) -> None:
    deploy(workbench, "ui_two_steps", "assert total == 6")
    view = open_pipeline(page, "ui_two_steps")
    run_now(page, view)

    for step in ("extract", "load"):
        expect(node(view, step)).to_have_attribute(
            "data-state", "succeeded", timeout=RUN_TIMEOUT_MS
        )
        expect(node(view, step)).to_have_class("jp-WorkbenchPipeline-node jp-mod-succeeded")
    history = view.locator(".jp-WorkbenchPipeline-runs tbody tr")
    expect(history).to_have_count(1)
    expect(history.first).to_have_attribute("data-state", "succeeded")
    expect(history.first).to_contain_text("manual")

    # The sidebar shows the last run's outcome too (polled every 5 s).
    item = page.locator(f'{PANEL} .jp-WorkbenchPipelines-item[data-pipeline="ui_two_steps"]')
    expect(item).to_have_attribute("data-state", "succeeded", timeout=15_000)


def test_failed_step_shows_its_traceback(page: Page, workbench: Workbench) -> None:
    deploy(workbench, "ui_failing", "raise ValueError('ledger does not balance')")
    view = open_pipeline(page, "ui_failing")
    run_now(page, view)

    expect(node(view, "extract")).to_have_attribute(
        "data-state", "succeeded", timeout=RUN_TIMEOUT_MS
    )
    expect(node(view, "load")).to_have_attribute("data-state", "failed", timeout=RUN_TIMEOUT_MS)
    expect(view.locator(".jp-WorkbenchPipeline-runs tbody tr").first).to_have_attribute(
        "data-state", "failed"
    )

    node(view, "load").click()
    details = view.locator('.jp-WorkbenchPipeline-step[data-step="load"]')
    expect(details).to_be_visible()
    expect(details.locator(".jp-WorkbenchPipeline-traceback")).to_contain_text(
        "ValueError: ledger does not balance"
    )
    # ANSI colours stripped: no escape characters reach the page.
    assert "\x1b" not in details.locator(".jp-WorkbenchPipeline-traceback").inner_text()
    # Counted from 1 as people count cells (the API's index counts from 0), and it is the
    # cell that raised.
    [run] = workbench.api.get("runs", params={"pipeline": "ui_failing"}).json()
    [load] = [
        a
        for a in workbench.api.get(f"runs/{run['id']}").json()["attempts"]
        if a["step_id"] == "load"
    ]
    number = load["failing_cell"] + 1
    expect(details.locator(".jp-WorkbenchPipeline-failingCell")).to_have_text(
        f"Failing cell: {number} of the executed notebook"
    )
    executed = workbench.api.get(
        f"runs/{run['id']}/steps/load/attempts/{load['attempt']}/notebook"
    ).json()
    assert "raise ValueError" in "".join(executed["cells"][number - 1]["source"])
    expect(view.get_by_role("button", name="Repair run")).to_be_enabled()

    # Repair starts a new run of the failed step only: extract is reused.
    view.get_by_role("button", name="Repair run").click()
    history = view.locator(".jp-WorkbenchPipeline-runs tbody tr")
    expect(history).to_have_count(2)
    expect(history.first).to_contain_text("repair")
    expect(node(view, "extract")).to_have_attribute("data-state", "reused", timeout=RUN_TIMEOUT_MS)
    expect(node(view, "load")).to_have_attribute("data-state", "failed", timeout=RUN_TIMEOUT_MS)

    # The executed notebook opens in JupyterLab, read-only, with the error in its output.
    # The step stays selected across runs: its details now show the repair's attempt.
    expect(details.locator(".jp-WorkbenchPipeline-traceback")).to_contain_text("ValueError")
    details.get_by_role("button", name="Open executed notebook").click()
    notebook = page.locator(".jp-NotebookPanel:visible")
    expect(notebook).to_be_visible()
    expect(notebook.locator(".jp-OutputArea-output")).to_contain_text(["ledger does not balance"])
    expect(page.locator(".jp-mod-current .lm-TabBar-tabLabel")).to_have_text(
        re.compile(r"-load-1\.ipynb$")
    )
    cell = notebook.locator(".jp-CodeCell").last
    cell.click()
    page.keyboard.press("Enter")
    page.keyboard.type("edited = True")
    expect(cell).not_to_contain_text("edited = True")


def test_palette_runs_the_pipeline_in_front(page: Page, workbench: Workbench) -> None:
    deploy(workbench, "ui_palette", "assert total == 6")
    view = open_pipeline(page, "ui_palette")
    page.keyboard.press("Control+Shift+c")
    palette = page.locator("#command-palette")
    palette.locator("input").fill("Run Pipeline")
    item = palette.locator('.lm-CommandPalette-item[data-command="workbench:pipeline-run"]')
    # Under the Workbench category (the modal palette hides category headers while filtering).
    expect(palette.locator(".lm-CommandPalette-header", has_text="Workbench")).to_have_count(1)
    item.click()
    page.locator(".jp-Dialog").get_by_role("button", name="Run").click()
    expect(node(view, "load")).to_have_attribute("data-state", "succeeded", timeout=RUN_TIMEOUT_MS)


def test_cancel_stops_a_running_run(page: Page, workbench: Workbench) -> None:
    deploy(workbench, "ui_slow", "import time\ntime.sleep(120)")
    view = open_pipeline(page, "ui_slow")
    run_now(page, view)
    expect(node(view, "load")).to_have_attribute("data-state", "running", timeout=RUN_TIMEOUT_MS)
    cancel = view.get_by_role("button", name="Cancel run")
    expect(cancel).to_be_enabled()
    cancel.click()
    # The running step's kernel is stopped and its attempt recorded as cancelled; the run
    # too, so there is nothing left to cancel.
    expect(node(view, "load")).to_have_attribute("data-state", "cancelled", timeout=30_000)
    expect(node(view, "load")).to_have_class("jp-WorkbenchPipeline-node jp-mod-warn")
    expect(cancel).to_be_disabled(timeout=30_000)
    [run] = workbench.api.get("runs", params={"pipeline": "ui_slow"}).json()
    assert run["status"] == "cancelled"


def schedule_bar(view: Locator) -> Locator:
    return view.locator(".jp-WorkbenchPipeline-schedule")


def test_schedule_shows_next_run_and_pauses_and_resumes(page: Page, workbench: Workbench) -> None:
    # 03:00 UTC every day: its next run is always within a day.
    deploy(workbench, "ui_nightly", "assert total == 6", schedule="{cron: '0 3 * * *'}")
    deploy(workbench, "ui_adhoc", "assert total == 6")
    item = page.locator(f'{PANEL} .jp-WorkbenchPipelines-item[data-pipeline="ui_nightly"]')
    view = open_pipeline(page, "ui_nightly")
    schedule = schedule_bar(view)
    expect(schedule).to_have_attribute("data-schedule", "active")
    expect(schedule).to_contain_text("Schedule 0 3 * * *")
    next_run = schedule.locator(".jp-WorkbenchPipeline-nextRun")
    # In the reader's time zone, and how far away: always within a day.
    expect(next_run).to_have_text(
        re.compile(r"^next run .+ \(in (\d+ (s|min|h)( \d+ min)?|1 day)\)$")
    )
    expect(item).to_have_attribute("data-schedule", "active")
    expect(item.locator(".jp-WorkbenchPipelines-schedule")).to_have_text(
        re.compile(r"^next run in (\d+ (s|min|h)|1 day)")
    )

    schedule.get_by_role("button", name="Pause").click()
    expect(schedule).to_have_attribute("data-schedule", "paused")
    expect(schedule.get_by_role("button", name="Pause")).to_have_count(0)
    expect(schedule.get_by_role("button", name="Resume")).to_be_visible()
    expect(next_run).to_have_count(0)
    assert workbench.api.get("pipelines/ui_nightly/schedule").json()["paused"] is True
    # The sidebar says so without waiting for its next poll.
    expect(item).to_have_attribute("data-schedule", "paused", timeout=2_000)
    expect(item).to_contain_text("schedule paused")

    schedule.get_by_role("button", name="Resume").click()
    expect(schedule).to_have_attribute("data-schedule", "active")
    expect(next_run).to_be_visible()
    assert workbench.api.get("pipelines/ui_nightly/schedule").json()["paused"] is False
    expect(item).to_have_attribute("data-schedule", "active", timeout=2_000)

    # A pipeline without a schedule shows none, and no schedule buttons.
    adhoc = page.locator(f'{PANEL} .jp-WorkbenchPipelines-item[data-pipeline="ui_adhoc"]')
    expect(adhoc).to_have_attribute("data-schedule", "none")
    expect(adhoc).to_contain_text("no schedule")
    adhoc.click()
    adhoc_view = page.locator(VIEW)
    expect(adhoc_view.locator(".jp-WorkbenchPipeline-name")).to_have_text("ui_adhoc")
    expect(adhoc_view.locator(".jp-WorkbenchPipeline-meta")).to_contain_text("no schedule")
    expect(schedule_bar(adhoc_view)).to_have_count(0)
    expect(adhoc_view.get_by_role("button", name="Pause")).to_have_count(0)
    expect(adhoc_view.get_by_role("button", name="Trigger now")).to_have_count(0)


def test_trigger_now_starts_a_scheduled_run(page: Page, workbench: Workbench) -> None:
    deploy(workbench, "ui_trigger", "assert total == 6", schedule="{cron: '0 3 1 1 *'}")
    view = open_pipeline(page, "ui_trigger")
    schedule = schedule_bar(view)
    expect(schedule).to_have_attribute("data-schedule", "active")
    schedule.get_by_role("button", name="Trigger now").click()
    expect(
        page.locator(".Toastify__toast", has_text="Schedule of ui_trigger triggered")
    ).to_be_visible()
    history = view.locator(".jp-WorkbenchPipeline-runs tbody tr")
    expect(history).to_have_count(1, timeout=30_000)
    expect(history.first).to_contain_text("schedule")
    expect(node(view, "load")).to_have_attribute("data-state", "succeeded", timeout=RUN_TIMEOUT_MS)


def test_refused_pause_shows_the_servers_message(page: Page, workbench: Workbench) -> None:
    deploy(workbench, "ui_not_mine", "assert total == 6", schedule="{cron: '0 3 * * *'}")
    # The local user administers everything; a team member who does not own the pipeline
    # gets this answer from the server.
    message = "only finance or an admin may pause the schedule of 'ui_not_mine'"

    def refuse(route: Route) -> None:
        route.fulfill(
            status=403, content_type="application/json", body=json.dumps({"message": message})
        )

    page.route(re.compile(r"/workbench/api/pipelines/ui_not_mine/schedule/pause(\?.*)?$"), refuse)
    view = open_pipeline(page, "ui_not_mine")
    schedule = schedule_bar(view)
    schedule.get_by_role("button", name="Pause").click()
    toast = page.locator(".Toastify__toast", has_text="Pausing the schedule of ui_not_mine failed")
    expect(toast).to_contain_text(message)
    expect(schedule).to_have_attribute("data-schedule", "active")
    expect(schedule.get_by_role("button", name="Pause")).to_be_enabled()
    assert workbench.api.get("pipelines/ui_not_mine/schedule").json()["paused"] is False


def test_schedule_of_someone_elses_pipeline_has_no_buttons(
    page: Page, workbench: Workbench
) -> None:
    deploy(workbench, "ui_theirs", "assert total == 6", schedule="{cron: '0 3 * * *'}")

    # What the server answers a team member who neither owns it nor administers.
    def as_other_user(route: Route) -> None:
        answer = route.fetch()
        route.fulfill(response=answer, json={**answer.json(), "may_change": False})

    page.route(re.compile(r"/workbench/api/pipelines/ui_theirs/schedule(\?.*)?$"), as_other_user)
    view = open_pipeline(page, "ui_theirs")
    schedule = schedule_bar(view)
    expect(schedule).to_have_attribute("data-schedule", "active")
    expect(schedule.locator(".jp-WorkbenchPipeline-nextRun")).to_be_visible()
    expect(schedule.get_by_role("button")).to_have_count(0)
