"""The Pipelines panel as a user sees it: a deployed two-step pipeline run from its view,
its DAG turning green step by step, a failing step's traceback, who started, repaired and
cancelled each run, a schedule's next run, pause, resume and trigger, a pipeline file
validated and deployed from the file browser, and what a viewer of someone else's
pipeline sees, against a real ``workbench up`` (Temporal dev server and pipeline
worker)."""

from __future__ import annotations

import json
import re

from playwright.sync_api import Locator, Page, Route, expect

from tests.support.notebooks import write_notebook
from tests.ui.conftest import Workbench, wait_for_lab
from tests.ui.principals import GROUP, as_user

PANEL = "#workbench-pipelines"
VIEW = ".jp-WorkbenchPipeline:visible"
# A step runs in a fresh kernel through papermill: a few seconds each, in order.
RUN_TIMEOUT_MS = 60_000


def write_pipeline(
    workbench: Workbench, name: str, last_cell: str, schedule: str = "", extra: str = ""
) -> str:
    """Write two notebooks (``load`` waits for ``extract``) and their pipeline file;
    ``schedule`` is the YAML of a ``schedule:`` mapping's body, ``extra`` more top-level
    YAML. The file's path in the server's folder."""
    folder = workbench.root / "notebooks" / name
    write_notebook(folder / "extract.ipynb", "rows = [1, 2, 3]", parameters="month = ''")
    write_notebook(folder / "load.ipynb", "total = 6", last_cell, parameters="month = ''")
    (folder / "pipeline.yaml").write_text(
        f"name: {name}\n"
        "description: Two steps for the browser tests.\n"
        "parameters:\n"
        "  month: {type: string, default: '2024-01'}\n"
        + (f"schedule: {schedule}\n" if schedule else "")
        + extra
        + "steps:\n"
        "  - {id: extract, notebook: extract.ipynb}\n"
        "  - {id: load, notebook: load.ipynb, depends_on: [extract]}\n"
    )
    return f"{name}/pipeline.yaml"


def deploy(
    workbench: Workbench,
    name: str,
    last_cell: str,
    schedule: str = "",
    extra: str = "",
    user: str | None = None,
) -> None:
    """Write a pipeline (see :func:`write_pipeline`) and deploy it over REST, as the
    local admin or as ``user``."""
    path = write_pipeline(workbench, name, last_cell, schedule, extra)
    headers = as_user(user) if user else None
    answer = workbench.api.post("pipelines/deploy", json={"path": path}, headers=headers)
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
    # A field per declared parameter, prefilled with its default.
    expect(dialog.locator('[data-parameter="month"] input')).to_have_value("2024-01")
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
    # Who started it: the local user, as the server recorded it.
    [run] = workbench.api.get("runs", params={"pipeline": "ui_two_steps"}).json()
    assert run["trigger"] == "manual" and run["requested_by"] not in ("", "scheduler")
    expect(history.first.locator(".jp-WorkbenchPipeline-runOrigin")).to_have_text(
        run["requested_by"]
    )

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
    expect(history.first.locator(".jp-WorkbenchPipeline-runOrigin")).to_have_text(
        f"{run['requested_by']}repair of {run['id'][:8]}"
    )
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


def test_repair_after_a_fix_asks_which_version_and_runs_the_fixed_one(
    page: Page, workbench: Workbench
) -> None:
    """An analyst fixes the failing notebook, deploys it and repairs the failed run: the
    view asks whether to run the new version or the run's own (the repair ran the broken
    version again, without a word, before), and the latest one succeeds."""
    deploy(workbench, "ui_fixed", "raise ValueError('ledger does not balance')")
    view = open_pipeline(page, "ui_fixed")
    run_now(page, view)
    expect(node(view, "load")).to_have_attribute("data-state", "failed", timeout=RUN_TIMEOUT_MS)
    [failed] = workbench.api.get("runs", params={"pipeline": "ui_fixed"}).json()

    deploy(workbench, "ui_fixed", "assert total == 6")  # version 2, the notebook fixed
    expect(view.locator(".jp-WorkbenchPipeline-meta")).to_contain_text("version 2", timeout=15_000)
    view.get_by_role("button", name="Repair run").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text(
        f"Run {failed['id'][:8]} ran version 1; version 2 has been deployed since."
    )
    expect(dialog.get_by_role("button", name="Version 1 (the run's)")).to_be_visible()
    dialog.get_by_role("button", name="Version 2 (latest)").click()
    expect(dialog).to_be_hidden()

    history = view.locator(".jp-WorkbenchPipeline-runs tbody tr")
    expect(history).to_have_count(2)
    expect(history.first).to_have_attribute("data-state", "succeeded", timeout=RUN_TIMEOUT_MS)
    expect(node(view, "load")).to_have_attribute("data-state", "succeeded")
    repair = workbench.api.get("runs", params={"pipeline": "ui_fixed"}).json()[0]
    assert (repair["repair_of"], repair["version"]) == (failed["id"], 2)


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
    # The table says who cancelled it.
    assert run["cancelled_by"] == run["requested_by"]
    expect(view.locator(".jp-WorkbenchPipeline-runs tbody tr").first).to_contain_text(
        f"cancelled by {run['cancelled_by']}"
    )


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
    # In the cron's zone, labelled (and the reader's when it differs), and how far
    # away: always within a day.
    expect(next_run).to_have_text(
        re.compile(r"^next run .+ UTC \((.+, )?in (\d+ (s|min|h)( \d+ min)?|1 day)\)$")
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


def show_folder(page: Page, folder: str) -> Locator:
    """The file browser, in ``folder`` (a folder of the server's root)."""
    browser = page.locator("#filebrowser")
    if not browser.is_visible():
        page.locator('.jp-SideBar [data-id="filebrowser"]').click()
    expect(browser).to_be_visible()
    browser.locator(".jp-DirListing-itemText").get_by_text(folder, exact=True).dblclick()
    expect(browser.locator(".jp-BreadCrumbs")).to_contain_text(folder)
    return browser


def file_menu(page: Page, file_name: str, command: str) -> None:
    """Right-click a YAML file of the file browser and choose ``command``."""
    page.locator(
        '#filebrowser .jp-DirListing-item[data-file-type="yaml"]', has_text=file_name
    ).click(button="right")
    page.locator(f'.lm-Menu-item[data-command="{command}"]').click()


DEPLOY = "workbench:pipeline-deploy-file"
VALIDATE = "workbench:pipeline-validate-file"
BROKEN = """name: ui_from_files
shedule: {cron: '0 3 * * *'}
steps:
  - {id: extract, notebook: extract.ipynb}
  - {id: load, notebook: load.ipynb, depends_on: [extract]}
  - {id: report, notebook: report.ipynb}
"""


def test_deploy_and_validate_a_pipeline_file_from_the_file_browser(
    page: Page, workbench: Workbench
) -> None:
    name = "ui_from_files"
    path = write_pipeline(workbench, name, "assert total == 6")
    page.reload()  # the files were written behind the page's back
    wait_for_lab(page)
    show_folder(page, name)

    file_menu(page, "pipeline.yaml", DEPLOY)
    toast = page.locator(".Toastify__toast", has_text=f"Deployed pipeline {name}")
    expect(toast).to_contain_text(f"Deployed pipeline {name}: version 1.")
    assert workbench.api.get(f"pipelines/{name}").json()["current_version"] == 1
    # From the notification to the pipeline's view.
    toast.get_by_role("button", name="Open", exact=True).click()
    expect(page.locator(VIEW).locator(".jp-WorkbenchPipeline-name")).to_have_text(name)

    # Nothing changed: no new version, and it says so.
    file_menu(page, "pipeline.yaml", DEPLOY)
    unchanged = page.locator(".Toastify__toast", has_text=f"Pipeline {name} unchanged")
    expect(unchanged).to_contain_text(f"Pipeline {name} unchanged, still version 1.")

    # A broken file: validate lists every problem with its line.
    (workbench.root / "notebooks" / path).write_text(BROKEN)
    file_menu(page, "pipeline.yaml", VALIDATE)
    dialog = page.locator(".jp-Dialog")
    expect(dialog.locator(".jp-Dialog-header")).to_have_text("pipeline.yaml has 2 problems.")
    problems = dialog.locator(".jp-WorkbenchSpecErrors li")
    expected = [
        re.compile(r"^line 2: shedule: unknown field 'shedule'; did you mean 'schedule'\?$"),
        re.compile(r"^line 6: steps\[2\]\.notebook: notebook 'report\.ipynb' does not exist"),
    ]
    expect(problems).to_have_text(expected)
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_have_count(0)

    # Deploying it is refused with the same problems; the deployed version stays.
    file_menu(page, "pipeline.yaml", DEPLOY)
    expect(dialog.locator(".jp-Dialog-header")).to_have_text(
        "pipeline.yaml was not deployed: 2 problems"
    )
    expect(problems).to_have_text(expected)
    assert workbench.api.get(f"pipelines/{name}").json()["current_version"] == 1

    # Open File: the editor marks the problems at their lines.
    dialog.get_by_role("button", name="Open File").click()
    bar = page.locator(".jp-WorkbenchPipelineYaml:visible")
    expect(bar).to_have_attribute("data-status", "invalid")

    # From the palette, on the file in the editor: the same check, no Open File.
    page.keyboard.press("Control+Shift+c")
    palette = page.locator("#command-palette")
    palette.locator("input").fill("Validate Pipeline")
    palette.locator(f'.lm-CommandPalette-item[data-command="{VALIDATE}"]').click()
    expect(dialog.locator(".jp-Dialog-header")).to_have_text("pipeline.yaml has 2 problems.")
    expect(dialog.get_by_role("button", name="Open File")).to_have_count(0)
    dialog.get_by_role("button", name="Close").click()


def test_a_viewer_sees_who_ran_and_cancelled_but_cannot_run(
    bob_page: Page, workbench: Workbench
) -> None:
    page = bob_page
    name = "ui_alices"
    deploy(
        workbench,
        name,
        "import time\ntime.sleep(120)",
        extra=f"access: {{viewers: [{GROUP}]}}\n",
        user="alice",
    )
    started = workbench.api.post(f"pipelines/{name}/runs", json={}, headers=as_user("alice"))
    assert started.status_code == 201, started.text
    run_id = started.json()["id"]
    cancelled = workbench.api.post(f"runs/{run_id}/cancel", headers=as_user("alice"))
    assert cancelled.status_code == 202, cancelled.text
    # The server's say: bob, in the viewers group, sees it and operates nothing.
    seen = workbench.api.get(f"pipelines/{name}", headers=as_user("bob")).json()
    assert seen["may_operate"] is False

    view = open_pipeline(page, name)
    expect(view.get_by_role("note")).to_have_text(
        "View only: to run, cancel or repair runs, ask alice to add one of your groups "
        "to its access.operators."
    )
    for label in ("Run now", "Cancel run", "Repair run"):
        expect(view.get_by_role("button", name=label)).to_have_count(0)
    row = view.locator(f'.jp-WorkbenchPipeline-runs tbody tr[data-run="{run_id}"]')
    expect(row.locator(".jp-WorkbenchPipeline-runOrigin")).to_have_text("alice")
    expect(row).to_have_attribute("data-state", "cancelled", timeout=RUN_TIMEOUT_MS)
    expect(row).to_contain_text("cancelled by alice")

    # Narrow (the sidebar open beside a small window): who and when stay, the
    # attempts and run id columns go.
    page.set_viewport_size({"width": 820, "height": 900})
    expect(view.locator("th.jp-mod-wide").first).to_be_hidden()
    expect(row.locator(".jp-WorkbenchPipeline-runOrigin")).to_be_visible()
    expect(view.get_by_role("columnheader", name="Started by")).to_be_visible()
