"""Pipeline YAML files in JupyterLab's text editor: the workbench checks the text as it is
edited and shows each problem at its line, against a real ``workbench up``."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

from tests.support.notebooks import write_notebook
from tests.ui.conftest import Workbench, wait_for_lab

BAR = ".jp-WorkbenchPipelineYaml"
EDITOR = ".jp-FileEditor:visible"

# Line 5 has a misspelt field.
BROKEN = """\
name: yaml_check
description: Checked while it is edited.
steps:
  - id: extract
    timout: 30m
    notebook: extract.ipynb
"""


def open_file(page: Page, workbench: Workbench, path: str) -> Locator:
    """Open a file of the notebook folder in JupyterLab's text editor; the editor."""
    page.goto(f"{workbench.url}/lab/tree/{path}?token={workbench.token}")
    wait_for_lab(page)
    editor = page.locator(EDITOR)
    expect(editor).to_be_visible()
    return editor


def code_line(editor: Locator, number: int) -> Locator:
    """The editor's line ``number`` (from 1)."""
    return editor.locator(".cm-content .cm-line").nth(number - 1)


def test_problem_shows_at_its_line_and_fixing_it_clears_it(
    page: Page, workbench: Workbench
) -> None:
    folder = workbench.root / "notebooks" / "yaml_check"
    write_notebook(folder / "extract.ipynb", "rows = 1")
    (folder / "pipeline.yaml").write_text(BROKEN)
    editor = open_file(page, workbench, "yaml_check/pipeline.yaml")
    bar = page.locator(f"{BAR}:visible")

    expect(bar).to_have_attribute("data-status", "invalid")
    expect(bar).to_contain_text("1 problem in this pipeline")
    problem = bar.locator(".jp-WorkbenchPipelineYaml-problem")
    expect(problem).to_have_count(1)
    expect(problem).to_have_attribute("data-line", "5")
    expect(problem).to_contain_text("Line 5")
    expect(problem).to_contain_text("unknown field 'timout'; did you mean 'timeout'?")
    # In the text: that line is marked, with the message at its end; no other line is.
    expect(code_line(editor, 5)).to_have_class("cm-line jp-WorkbenchPipelineYaml-errorLine")
    expect(code_line(editor, 5).locator(".jp-WorkbenchPipelineYaml-errorMessage")).to_contain_text(
        "unknown field 'timout'"
    )
    expect(editor.locator(".jp-WorkbenchPipelineYaml-errorLine")).to_have_count(1)

    # The problem's line number takes the cursor there: replace the field as typed.
    problem.click()
    page.keyboard.press("Shift+End")
    page.keyboard.type("timeout: 30m")
    expect(code_line(editor, 5)).to_have_text("    timeout: 30m")
    expect(bar).to_have_attribute("data-status", "valid")
    expect(bar).to_have_text("Valid pipeline")
    expect(editor.locator(".jp-WorkbenchPipelineYaml-errorLine")).to_have_count(0)

    # A new mistake while typing shows up without saving: a notebook that is not there.
    code_line(editor, 6).click()
    page.keyboard.press("End")
    for _ in range(len("extract.ipynb")):
        page.keyboard.press("Backspace")
    page.keyboard.type("missing.ipynb")
    expect(bar).to_have_attribute("data-status", "invalid")
    expect(bar.locator(".jp-WorkbenchPipelineYaml-problem")).to_have_attribute("data-line", "6")
    expect(bar).to_contain_text("notebook 'missing.ipynb' does not exist")
    expect(code_line(editor, 6)).to_have_class("cm-line jp-WorkbenchPipelineYaml-errorLine")


def test_other_yaml_files_are_left_alone(page: Page, workbench: Workbench) -> None:
    folder = workbench.root / "notebooks" / "yaml_other"
    folder.mkdir(parents=True)
    (folder / "compose.yaml").write_text("services:\n  hub:\n    image: hub\n    steps: 3\n")
    editor = open_file(page, workbench, "yaml_other/compose.yaml")
    expect(code_line(editor, 1)).to_have_text("services:")
    # Typing gives the checker every chance to (wrongly) step in.
    code_line(editor, 4).click()
    page.keyboard.press("End")
    page.keyboard.type("0")
    expect(code_line(editor, 4)).to_have_text("    steps: 30")
    page.wait_for_timeout(1_500)
    expect(page.locator(f"{BAR}:visible")).to_have_count(0)
    expect(editor.locator(".jp-WorkbenchPipelineYaml-errorLine")).to_have_count(0)
