"""An approval gate in the Pipelines panel: the run waits with a banner saying what is
asked and of whom; an approver approves (the run goes on) or rejects with a reason (the
run fails with it); a viewer sees the banner without buttons. Against a real
``workbench up`` (Temporal dev server and pipeline worker)."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

from tests.support.notebooks import write_notebook
from tests.ui.conftest import Workbench
from tests.ui.principals import GROUP, as_user

PANEL = "#workbench-pipelines"
VIEW = ".jp-WorkbenchPipeline:visible"
RUN_TIMEOUT_MS = 60_000


def deploy_gated(workbench: Workbench, name: str) -> None:
    """extract -> signoff (an approval, asked of the owner) -> load, viewable by finance."""
    folder = workbench.root / "notebooks" / name
    write_notebook(folder / "extract.ipynb", "rows = [1, 2, 3]")
    write_notebook(folder / "load.ipynb", "total = 6")
    (folder / "pipeline.yaml").write_text(
        f"name: {name}\n"
        "parameters:\n"
        "  month: {type: string, default: '2024-01'}\n"
        f"access: {{viewers: [{GROUP}]}}\n"
        "steps:\n"
        "  - {id: extract, notebook: extract.ipynb}\n"
        "  - id: signoff\n"
        "    kind: approval\n"
        "    depends_on: [extract]\n"
        '    message: "Sign off {{ params.month }}"\n'
        "  - {id: load, notebook: load.ipynb, depends_on: [signoff]}\n"
    )
    answer = workbench.api.post("pipelines/deploy", json={"path": f"{name}/pipeline.yaml"})
    assert answer.status_code == 201, answer.text


def open_pipeline(page: Page, name: str) -> Locator:
    panel = page.locator(PANEL)
    if not panel.is_visible():
        page.locator('.jp-SideBar [data-id="workbench-pipelines"]').click()
    item = panel.locator(f'.jp-WorkbenchPipelines-item[data-pipeline="{name}"]')
    item.click()
    view = page.locator(VIEW)
    expect(view.locator(".jp-WorkbenchPipeline-name")).to_have_text(name)
    return view


def run_now(page: Page, view: Locator) -> None:
    view.get_by_role("button", name="Run now").click()
    dialog = page.locator(".jp-Dialog")
    dialog.get_by_role("button", name="Run").click()
    expect(dialog).to_be_hidden()


def node(view: Locator, step: str) -> Locator:
    return view.locator(f'.jp-WorkbenchPipeline-node[data-step="{step}"]')


def waiting_gate(view: Locator) -> Locator:
    gate = view.locator('.jp-WorkbenchPipeline-approval.jp-mod-pending[data-step="signoff"]')
    expect(gate).to_be_visible(timeout=RUN_TIMEOUT_MS)
    expect(gate.locator(".jp-WorkbenchPipeline-approvalMessage")).to_have_text("Sign off 2024-01")
    return gate


def test_approving_in_the_panel_lets_the_run_go_on(page: Page, workbench: Workbench) -> None:
    deploy_gated(workbench, "ui_gated_ok")
    view = open_pipeline(page, "ui_gated_ok")
    run_now(page, view)
    gate = waiting_gate(view)
    expect(node(view, "load")).not_to_have_attribute("data-state", "succeeded")
    gate.get_by_role("button", name="Approve").click()

    expect(node(view, "load")).to_have_attribute("data-state", "succeeded", timeout=RUN_TIMEOUT_MS)
    decided = view.locator('.jp-WorkbenchPipeline-approval.jp-mod-approved[data-step="signoff"]')
    expect(decided).to_contain_text("signoff approved by")
    expect(decided).to_contain_text("(panel)")
    expect(decided.get_by_role("button")).to_have_count(0)


def test_rejecting_asks_why_and_fails_the_run_with_it(
    page: Page, bob_page: Page, workbench: Workbench
) -> None:
    deploy_gated(workbench, "ui_gated_no")
    view = open_pipeline(page, "ui_gated_no")
    run_now(page, view)
    gate = waiting_gate(view)

    # bob views the pipeline (finance) but is no approver: the banner, no buttons.
    bobs = open_pipeline(bob_page, "ui_gated_no")
    bobs_gate = waiting_gate(bobs)
    expect(bobs_gate.get_by_role("button")).to_have_count(0)
    run_id = workbench.api.get("runs", params={"pipeline": "ui_gated_no"}).json()[0]["id"]
    refused = workbench.api.post(
        f"runs/{run_id}/approvals/signoff/approve", json={}, headers=as_user("bob")
    )
    assert refused.status_code == 403, refused.text

    gate.get_by_role("button", name="Reject…").click()
    dialog = page.locator(".jp-Dialog")
    dialog.locator("input").fill("totals do not tie out")
    dialog.get_by_role("button", name="Reject").click()
    expect(dialog).to_be_hidden()

    expect(node(view, "signoff")).to_have_attribute("data-state", "failed", timeout=RUN_TIMEOUT_MS)
    expect(view.locator(".jp-WorkbenchPipeline-runError")).to_contain_text("totals do not tie out")
    rejected = view.locator('.jp-WorkbenchPipeline-approval.jp-mod-rejected[data-step="signoff"]')
    expect(rejected).to_contain_text("totals do not tie out")
    expect(node(view, "load")).to_have_attribute("data-state", "upstream_failed")
