"""The Pipeline Editor as a user drives it, against a real ``workbench up`` (Temporal dev
server and pipeline worker): a four-step diamond built from notebooks dragged out of the
file browser and connected port to port, a step parameter and a schedule set in the
properties panel, saved, valid for the server, deployed and run green from the editor's
toolbar with the canvas showing the run; the YAML text and the canvas showing each other's
edits; undo and redo; a kind from the palette, Delete, copy and paste with the keyboard,
and the server's problems on a step and its field."""

from __future__ import annotations

import re

import yaml
from playwright.sync_api import Locator, Page, expect

from tests.support.notebooks import write_notebook
from tests.ui.conftest import Workbench, wait_for_lab

EDITOR = ".jp-WorkbenchBuilder-document:visible"
TEXT = ".jp-FileEditor:visible"
# Four notebook steps through papermill, two at a time at best (ms).
RUN_TIMEOUT_MS = 90_000
DIAMOND = ("extract", "left", "right", "report")
# A document tab with unsaved changes.
DIRTY = re.compile(r"\bjp-mod-dirty\b")


def open_in_pipeline_editor(page: Page, workbench: Workbench, folder: str, file: str) -> Locator:
    """Open With > Pipeline Editor on a file of the file browser; the editor."""
    page.goto(f"{workbench.url}/lab/tree/{folder}?reset&token={workbench.token}")
    wait_for_lab(page)
    listing = page.locator(".jp-DirListing-content")
    listing.locator(f'.jp-DirListing-item[title*="{file}"]').click(button="right")
    page.locator(".lm-Menu-item", has_text="Open With").hover()
    page.locator(".lm-Menu-item", has_text="Pipeline Editor").click()
    editor = page.locator(EDITOR)
    expect(editor.locator(".jp-WorkbenchBuilder-canvas")).to_be_visible()
    return editor


def drag(page: Page, source: Locator, to: tuple[float, float]) -> None:
    """Press on ``source``, move the mouse to ``to`` in steps and release, as a hand
    would (JupyterLab's file browser starts a drag past a few pixels of movement; React
    Flow connects when a port is released over another)."""
    box = source.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 12, y + 4, steps=3)
    page.mouse.move(*to, steps=12)
    page.mouse.up()


def centre(locator: Locator) -> tuple[float, float]:
    box = locator.bounding_box()
    assert box is not None
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def node(editor: Locator, step: str) -> Locator:
    return editor.locator(f'.jp-WorkbenchBuilder-node[data-step="{step}"]')


def port(editor: Locator, step: str, side: str) -> Locator:
    """A step's port: ``source`` (right, is waited for) or ``target`` (left, waits)."""
    return editor.locator(f'.react-flow__node[data-id="{step}"] .react-flow__handle.{side}')


def code_line(editor: Locator, text: str) -> Locator:
    return editor.locator(".cm-content .cm-line", has_text=text)


def test_build_a_diamond_deploy_and_run_it_from_the_editor(
    page: Page, workbench: Workbench
) -> None:
    folder = workbench.root / "notebooks" / "diamond"
    # Green only if the parameter set in the editor reached the extract notebook.
    for name in DIAMOND:
        check = "assert rows == 3" if name == "extract" else "assert rows == 0"
        write_notebook(folder / f"{name}.ipynb", check, parameters="rows = 0")
    (folder / "pipeline.yaml").write_text("name: ui_diamond\nsteps: []\n")
    editor = open_in_pipeline_editor(page, workbench, "diamond", "pipeline.yaml")
    canvas = editor.locator(".jp-WorkbenchBuilder-canvas")
    expect(editor.locator(".jp-WorkbenchBuilder-node")).to_have_count(0)

    # Each notebook dragged from the file browser onto the canvas becomes a step, where
    # it was dropped: a diamond, left to right.
    box = canvas.bounding_box()
    assert box is not None
    spots = {
        "extract": (0.15, 0.45),
        "left": (0.45, 0.2),
        "right": (0.45, 0.7),
        "report": (0.75, 0.45),
    }
    for name, (fx, fy) in spots.items():
        item = page.locator(f'.jp-DirListing-item[title*="{name}.ipynb"]')
        drag(page, item, (box["x"] + box["width"] * fx, box["y"] + box["height"] * fy))
        expect(node(editor, name)).to_be_visible()
    expect(editor.locator(".jp-WorkbenchBuilder-node")).to_have_count(4)
    left, right = centre(node(editor, "left")), centre(node(editor, "right"))
    assert left[1] < right[1], "left was dropped above right"

    # Ports dragged to ports: extract before left and right, both before report.
    for source, target in (
        ("extract", "left"),
        ("extract", "right"),
        ("left", "report"),
        ("right", "report"),
    ):
        drag(page, port(editor, source, "source"), centre(port(editor, target, "target")))
    expect(editor.locator(".react-flow__edge")).to_have_count(4)

    # A step's parameter, in the properties panel of the selected step.
    node(editor, "extract").click()
    properties = editor.locator('.jp-WorkbenchBuilder-properties[data-step="extract"]')
    expect(properties).to_be_visible()
    properties.get_by_role("button", name="Add parameter").click()
    entry = properties.locator(".jp-WorkbenchBuilder-entry")
    expect(entry).to_have_count(1)
    entry.get_by_label("Name of entry 1").fill("rows")
    entry.get_by_label("Name of entry 1").press("Tab")
    properties.get_by_label("Value of rows").fill("3")

    # The pipeline's schedule, in its properties (nothing selected).
    canvas.locator(".react-flow__pane").click(position={"x": 10, "y": 10})
    pipeline = editor.locator('.jp-WorkbenchBuilder-properties[data-properties="pipeline"]')
    expect(pipeline).to_be_visible()
    schedule = pipeline.locator('[data-field="schedule"]')
    schedule.locator("summary").click()
    schedule.locator('[data-field="schedule.cron"] input').fill("0 6 * * *")

    # Saved with the document's own Ctrl+S: the file holds the diamond.
    tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-current")
    expect(tab).to_have_class(DIRTY)
    canvas.locator(".react-flow__pane").click(position={"x": 10, "y": 10})
    page.keyboard.press("Control+s")
    expect(tab).not_to_have_class(DIRTY)
    spec = yaml.safe_load((folder / "pipeline.yaml").read_text())
    steps = {step["id"]: step for step in spec["steps"]}
    assert sorted(steps) == sorted(DIAMOND)
    assert steps["extract"]["notebook"] == "extract.ipynb"
    assert steps["extract"]["parameters"] == {"rows": 3}
    assert sorted(steps["left"]["depends_on"]) == ["extract"]
    assert sorted(steps["report"]["depends_on"]) == ["left", "right"]
    assert "depends_on" not in steps["extract"]
    assert spec["schedule"]["cron"] == "0 6 * * *"
    # The server finds nothing wrong with it, and the editor says so.
    checked = workbench.api.post("pipelines/validate", json={"path": "diamond/pipeline.yaml"})
    assert checked.status_code == 200, checked.text
    assert checked.json() == {"valid": True, "errors": []}
    expect(editor.locator(".jp-WorkbenchPipelineYaml")).to_have_attribute("data-status", "valid")

    # Run from the editor's toolbar: deployed, run with the run dialog, and the canvas
    # follows the run until every step is green.
    editor.locator(".jp-Toolbar-item", has_text="Run").click()
    dialog = page.locator(".jp-Dialog")
    dialog.get_by_role("button", name="Run").click()
    expect(dialog).to_be_hidden()
    for name in DIAMOND:
        expect(node(editor, name)).to_have_attribute(
            "data-state", "succeeded", timeout=RUN_TIMEOUT_MS
        )
        expect(node(editor, name)).to_have_class(re.compile(r"\bjp-mod-succeeded\b"))
    [run] = workbench.api.get("runs", params={"pipeline": "ui_diamond"}).json()
    assert run["status"] == "succeeded" and run["trigger"] == "manual"
    deployed = workbench.api.get("pipelines/ui_diamond").json()
    assert deployed["schedule"]["cron"] == "0 6 * * *"

    # Opened again later, the editor shows the latest run's state from the start.
    editor = open_in_pipeline_editor(page, workbench, "diamond", "pipeline.yaml")
    for name in DIAMOND:
        expect(node(editor, name)).to_have_attribute("data-state", "succeeded")


def test_text_and_canvas_show_each_other_and_undo_redo(page: Page, workbench: Workbench) -> None:
    folder = workbench.root / "notebooks" / "sync"
    for name in ("extract", "load"):
        write_notebook(folder / f"{name}.ipynb", "x = 1")
    (folder / "pipeline.yaml").write_text(
        "# Two steps.\n"
        "name: ui_sync\n"
        "steps:\n"
        "  - id: extract\n"
        "    notebook: extract.ipynb\n"
        "  - id: load   # waits for extract\n"
        "    notebook: load.ipynb\n"
        "    depends_on: [extract]\n"
    )
    editor = open_in_pipeline_editor(page, workbench, "sync", "pipeline.yaml")
    expect(editor.locator(".jp-WorkbenchBuilder-node")).to_have_count(2)

    # The YAML beside the canvas, the same document.
    editor.locator(".jp-Toolbar-item", has_text="YAML").click()
    text = page.locator(TEXT)
    expect(text).to_be_visible()

    # Typed in the text: a step renamed shows on the canvas, its arrow kept.
    # (Selected, then replaced in one input: one step of the history, however slowly the
    # keys would come.)
    code_line(text, "- id: load").click()
    page.keyboard.press("End")
    for _ in range(len("load   # waits for extract")):
        page.keyboard.press("Shift+ArrowLeft")
    page.keyboard.insert_text("publish   # waits for extract")
    expect(node(editor, "publish")).to_be_visible()
    expect(node(editor, "load")).to_have_count(0)
    expect(editor.locator(".react-flow__edge")).to_have_count(1)

    # Edited on the canvas: the step's timeout shows in the text at once, the comment
    # and the rest of the file as they were.
    node(editor, "publish").click()
    properties = editor.locator('.jp-WorkbenchBuilder-properties[data-step="publish"]')
    properties.locator('[data-field="steps.1.timeout"] input').fill("45m")
    expect(code_line(text, "timeout: 45m")).to_have_count(1)
    expect(code_line(text, "- id: publish   # waits for extract")).to_have_count(1)
    expect(code_line(text, "# Two steps.")).to_have_count(1)

    # Undo in the editor's toolbar takes back the last edit (the timeout), then the
    # rename typed in the text: one history for both; redo brings them back.
    undo = editor.locator('.jp-Toolbar-item[data-jp-item-name="undo"] button')
    redo = editor.locator('.jp-Toolbar-item[data-jp-item-name="redo"] button')
    undo.click()
    expect(code_line(text, "timeout: 45m")).to_have_count(0)
    expect(node(editor, "publish")).to_be_visible()
    undo.click()
    expect(node(editor, "load")).to_be_visible()
    expect(node(editor, "publish")).to_have_count(0)
    expect(code_line(text, "- id: load   # waits for extract")).to_have_count(1)
    redo.click()
    expect(node(editor, "publish")).to_be_visible()
    redo.click()
    expect(code_line(text, "timeout: 45m")).to_have_count(1)
    node(editor, "publish").click()
    expect(properties.locator('[data-field="steps.1.timeout"] input')).to_have_value("45m")


def test_palette_keys_and_the_servers_problems(page: Page, workbench: Workbench) -> None:
    folder = workbench.root / "notebooks" / "keys"
    write_notebook(folder / "extract.ipynb", "x = 1")
    (folder / "pipeline.yaml").write_text(
        "name: ui_keys\n"
        "steps:\n"
        "  - id: extract\n"
        "    notebook: extract.ipynb\n"
        "  - id: load\n"
        "    notebook: missing.ipynb\n"
        "    depends_on: [extract]\n"
    )
    editor = open_in_pipeline_editor(page, workbench, "keys", "pipeline.yaml")
    canvas = editor.locator(".jp-WorkbenchBuilder-canvas")

    # The server's check marks the step and, once selected, its field.
    expect(node(editor, "load")).to_have_class(re.compile(r"\bjp-mod-invalid\b"))
    expect(node(editor, "extract")).not_to_have_class(re.compile(r"\bjp-mod-invalid\b"))
    node(editor, "load").click()
    field = editor.locator('[data-field="steps.1.notebook"]')
    expect(field).to_have_class(re.compile(r"\bjp-mod-invalid\b"))
    expect(field.locator(".jp-WorkbenchBuilder-problem")).to_contain_text("missing.ipynb")

    # A kind dragged from the palette is a new step of that kind, selected; Delete
    # removes it again.
    box = canvas.bounding_box()
    assert box is not None
    editor.locator('.jp-WorkbenchBuilder-paletteItem[data-kind="sql"]').drag_to(
        canvas, target_position={"x": box["width"] * 0.5, "y": box["height"] * 0.85}
    )
    added = editor.locator('.jp-WorkbenchBuilder-node[data-kind="sql"]')
    expect(added).to_have_count(1)
    expect(editor.locator('.jp-WorkbenchBuilder-properties[data-step="sql"]')).to_be_visible()
    added.click()
    page.keyboard.press("Delete")
    expect(added).to_have_count(0)

    # extract cannot wait for load, which waits for it.
    node(editor, "extract").click()
    waits = editor.locator('.jp-WorkbenchBuilder-properties[data-step="extract"]')
    expect(waits.get_by_label("load", exact=True)).to_be_disabled()

    # Copy and paste a step with the keyboard: a copy with a new id; Ctrl+Z takes it back.
    node(editor, "extract").click()
    page.keyboard.press("Control+c")
    page.keyboard.press("Control+v")
    expect(editor.locator(".jp-WorkbenchBuilder-node")).to_have_count(3)
    expect(node(editor, "extract_2")).to_be_visible()
    page.keyboard.press("Control+z")
    expect(editor.locator(".jp-WorkbenchBuilder-node")).to_have_count(2)
    expect(node(editor, "extract_2")).to_have_count(0)
