"""The Pipeline Editor's part of ``benchmarks/ui.py`` (run that script, not this module).

A seeded 200-step pipeline (20 layers of 10 notebook steps, each waiting for one or two
steps of the layer before) is opened in a real Chromium:

- ``builder_open_ms``: from the click on Open With > Pipeline Editor to all 200 steps
  laid out, measured and painted on the canvas (the view fitted to them), the editor
  opened once before (its code loaded, the schema fetched; ``builder_first_open_ms`` is
  that first open). Next to it, the same file opened with JupyterLab's own text editor
  (Open With > Editor) to its first line painted (``text_open_ms``): the document
  machinery both share.
- ``builder_edit_ms``: from a keystroke in the properties panel (a step's timeout,
  entered as one input event) to the YAML text showing it in the text editor beside.
  Next to it, a key typed in that text editor to its line showing it
  (``text_keystroke_ms``): the floor of any change of the document's text.

Editor and text editor alternate, several repetitions after the warm-up; medians.
"""

from __future__ import annotations

import random
import re
import statistics
from pathlib import Path

from playwright.sync_api import Page

STEPS = 200
LAYERS = 20
SEED = 20_261_206
FOLDER = "bench_builder"

# Notes when the user last clicked, released a button or pressed a key (Playwright's
# real input events; lumino menus act on pointerup).
NOTE_INPUT = """
() => {
  window.__wbInputAt = null;
  if (window.__wbNoting) return;
  window.__wbNoting = true;
  for (const type of ['pointerup', 'keydown']) {
    document.addEventListener(type, () => { window.__wbInputAt = performance.now(); },
                              { capture: true });
  }
}
"""
# Resolves, a frame after every step of the editor in front is measured and visible and
# the view fitted, with the time since the input noted.
CANVAS_PAINTED = """
async (count) => new Promise((resolve, reject) => {
  const called = performance.now();
  const look = () => {
    const started = window.__wbInputAt;
    const editor = document.querySelector('.jp-WorkbenchBuilder-document:not(.lm-mod-hidden)');
    const nodes = editor ? editor.querySelectorAll('.react-flow__node') : [];
    const viewport = editor?.querySelector('.react-flow__viewport');
    const fitted = viewport && !/scale\\(1\\)$/.test(viewport.style.transform);
    const shown = nodes.length === count &&
      [...nodes].every(n => n.style.visibility !== 'hidden');
    if (started !== null && shown && fitted) {
      requestAnimationFrame(() => resolve(performance.now() - started));
      return;
    }
    if (performance.now() - called > 30000) {
      reject(new Error(`canvas not ready: ${nodes.length} nodes, ${viewport?.style.transform}`));
      return;
    }
    requestAnimationFrame(look);
  };
  look();
})
"""
# Resolves, a frame after the text editor in front shows its first line, with the time
# since the input noted.
TEXT_PAINTED = """
async () => new Promise((resolve, reject) => {
  const called = performance.now();
  const look = () => {
    const started = window.__wbInputAt;
    const line = document.querySelector(
      '.jp-FileEditor:not(.lm-mod-hidden) .cm-content .cm-line');
    if (started !== null && line) {
      requestAnimationFrame(() => resolve(performance.now() - started));
      return;
    }
    if (performance.now() - called > 30000) {
      reject(new Error('text editor not ready'));
      return;
    }
    requestAnimationFrame(look);
  };
  look();
})
"""
# Enters `value` in a properties field (React reads the native setter and an input
# event: the whole value as one keystroke) and resolves with the time until a line of the
# text editor beside reads `line`.
EDIT_REACHES_TEXT = """
async ([selector, value, line]) => {
  const input = document.querySelector(selector);
  const text = document.querySelector('.jp-FileEditor .cm-content');
  const setValue = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;
  return await new Promise((resolve, reject) => {
    const started = performance.now();
    const done = () => [...text.querySelectorAll('.cm-line')].some(l => l.textContent === line);
    const observer = new MutationObserver(() => {
      if (done()) { observer.disconnect(); resolve(performance.now() - started); }
    });
    observer.observe(text, { subtree: true, childList: true, characterData: true });
    setTimeout(() => { observer.disconnect(); reject(new Error(`no ${line}`)); }, 10000);
    setValue.call(input, value);
    input.dispatchEvent(new Event('input', { bubbles: true }));
  });
}
"""
# Waits for a line of the text editor reading `line`: an object whose `done` resolves with
# the time from the input noted last (the key typed after this is set up).
KEY_REACHES_TEXT = """
(line) => {
  const text = document.querySelector('.jp-FileEditor .cm-content');
  const has = () => [...text.querySelectorAll('.cm-line')].some(l => l.textContent === line);
  return { done: new Promise((resolve, reject) => {
    const observer = new MutationObserver(() => {
      if (has()) { observer.disconnect(); resolve(performance.now() - window.__wbInputAt); }
    });
    observer.observe(text, { subtree: true, childList: true, characterData: true });
    setTimeout(() => { observer.disconnect(); reject(new Error(`no ${line}`)); }, 10000);
  }) };
}
"""
COMMENT = "# A 200-step pipeline for the editor's benchmark."


def write_pipeline(folder: Path) -> str:
    """The 200-step pipeline and its one notebook; the file's path in the server's folder."""
    from tests.support.notebooks import write_notebook

    write_notebook(folder / "step.ipynb", "rows = 1", parameters="layer = 0")
    rng = random.Random(SEED)
    width = STEPS // LAYERS
    lines = [
        COMMENT,
        "name: bench_builder",
        "description: Twenty layers of ten steps.",
        "steps:",
    ]
    for i in range(STEPS):
        layer = i // width
        lines += [f"  - id: s{i:03d}", "    notebook: step.ipynb", "    timeout: 30m"]
        lines.append(f"    parameters: {{layer: {layer}}}")
        if layer:
            before = range((layer - 1) * width, layer * width)
            waits = sorted(rng.sample(before, rng.choice((1, 2))))
            lines.append(f"    depends_on: [{', '.join(f's{w:03d}' for w in waits)}]")
    (folder / "pipeline.yaml").write_text("\n".join(lines) + "\n")
    return f"{FOLDER}/pipeline.yaml"


def open_with(page: Page, factory: str) -> None:
    """Right-click the pipeline file in the file browser and open it with ``factory``; the
    input noted is the release on the menu item."""
    item = page.locator('.jp-DirListing-item[title*="pipeline.yaml"]')
    item.click(button="right")
    page.locator(".lm-Menu-item", has_text="Open With").hover()
    choice = page.locator(".lm-Menu .lm-Menu-itemLabel", has_text=re.compile(f"^{factory}$"))
    page.evaluate(NOTE_INPUT)
    choice.click()


def close_documents(page: Page) -> None:
    """Close every tab of the main area (nothing to save: the file is not changed)."""
    close = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tabCloseIcon")
    while close.count():
        close.first.click()
    page.wait_for_selector(".jp-WorkbenchBuilder-document", state="detached")
    page.wait_for_selector(".jp-FileEditor", state="detached")


def measure(page: Page, lab_url: str, notebooks: Path, repeat: int) -> dict[str, float]:
    """Opens and edits of the 200-step pipeline in ``page``; the figures."""
    write_pipeline(notebooks / FOLDER)
    page.goto(lab_url.replace("/lab?", f"/lab/tree/{FOLDER}?reset&"))
    page.wait_for_selector('.jp-DirListing-item[title*="pipeline.yaml"]', timeout=60_000)
    page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=60_000)

    open_with(page, "Pipeline Editor")
    first = page.evaluate(CANVAS_PAINTED, STEPS)
    close_documents(page)
    opens, texts = [], []
    for i in range(repeat):
        for kind in ("builder", "text") if i % 2 == 0 else ("text", "builder"):
            if kind == "builder":
                open_with(page, "Pipeline Editor")
                opens.append(page.evaluate(CANVAS_PAINTED, STEPS))
            else:
                open_with(page, "Editor")
                texts.append(page.evaluate(TEXT_PAINTED))
            close_documents(page)

    # The editor with the YAML beside it, the first step selected.
    open_with(page, "Pipeline Editor")
    page.evaluate(CANVAS_PAINTED, STEPS)
    editor = page.locator(".jp-WorkbenchBuilder-document:visible")
    editor.locator('.react-flow__node[data-id="s000"]').click()
    field = '.jp-WorkbenchBuilder-properties [data-field="steps.0.timeout"] input'
    page.wait_for_selector(field)
    editor.locator(".jp-Toolbar-item", has_text="YAML").click()
    text = page.locator(".jp-FileEditor:visible")
    text.locator(".cm-line", has_text="timeout: 30m").first.wait_for()
    page.evaluate(NOTE_INPUT)
    edits, keys = [], []
    for i in range(repeat * 4):
        value = f"{31 + i % 2}m"
        edits.append(page.evaluate(EDIT_REACHES_TEXT, [field, value, f"    timeout: {value}"]))
        page.wait_for_timeout(200)  # the canvas and the validation catch up
        # A key at the end of the comment line of the text, then taken back.
        text.locator(".cm-line", has_text=COMMENT).click()
        page.keyboard.press("End")
        waiting = page.evaluate_handle(KEY_REACHES_TEXT, COMMENT + "x")
        page.keyboard.press("x")
        keys.append(page.evaluate("waiting => waiting.done", waiting))
        page.keyboard.press("Backspace")
        page.wait_for_timeout(200)
    return {
        "builder_open_ms": round(statistics.median(opens), 1),
        "text_open_ms": round(statistics.median(texts), 1),
        "builder_open_vs_text_ratio": round(statistics.median(opens) / statistics.median(texts), 2),
        "builder_first_open_ms": round(first, 1),
        "builder_edit_ms": round(statistics.median(edits), 1),
        "builder_edit_p95_ms": round(sorted(edits)[int(0.95 * (len(edits) - 1))], 1),
        "text_keystroke_ms": round(statistics.median(keys), 1),
    }
