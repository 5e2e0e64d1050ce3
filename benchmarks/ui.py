"""The Data Catalog panel in a real Chromium, next to the bare REST calls behind it.

Fills the catalog of a fresh workbench home with 10,000 tables of 10 columns (100,000
columns, one schema of a DuckDB connection, merged through the catalog's own store) on
top of the demo data, starts ``workbench up`` on it, opens JupyterLab in Debian's Chromium
with Playwright, and measures inside the page (``performance.now()``):

- ``search_p50_ms`` / ``search_p95_ms``: from the last keystroke of a query in the panel's
  search box (the whole query entered as one input event, like a paste or the last key)
  to its results shown: the panel says it answers that query and its first result row is
  in the page. A seeded mix of exact names, prefixes, words and misspellings. Next to
  it, the same search as a bare ``fetch()`` of ``catalog/search`` from the same page,
  answer parsed (``rest_search_p50_ms``/``rest_search_p95_ms``; ``search_vs_rest_ratio``
  is the median of per-query ratios).
- ``tree_first_paint_ms``: from clicking the source holding the 10,000 tables in the
  browse tree (the panel lists its schemas and opens its only one, ``warehouse``, by
  itself) to that schema's first table rows painted; next to a bare ``fetch()`` of the
  first page of its tables (``rest_tables_ms``). ``tree_rows_in_dom`` counts the rows the
  virtual list keeps in the page, ``tree_end_ms`` the time to reach the last table by
  scrolling to the end (``End``), pages loaded on the way.
- The Pipeline Editor on a 200-step pipeline (see ``benchmarks/ui_builder.py``):
  ``builder_open_ms``, Open With > Pipeline Editor to all steps laid out and painted, next
  to JupyterLab's text editor opening the same file (``text_open_ms``); and
  ``builder_edit_ms``, a keystroke in the properties panel to the YAML text showing it,
  next to a key typed in the text editor itself (``text_keystroke_ms``).

    python benchmarks/ui.py [--queries 40] [--pause-ms 100] [--repeat 5] [--only catalog|builder]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Browser

    from tests.support.processes import WorkbenchUp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the browser tests' helpers and the catalog benchmark's mix

from benchmarks import ui_builder  # noqa: E402 - after the path
from benchmarks.catalog import WORDS, percentile, queries  # noqa: E402 - after the path

TABLES = 10_000
COLUMNS = 10
SCHEMA = "warehouse"
CONNECTION = "bench"
SEED = 20_261_126
# The panel's typing debounce (SEARCH_DEBOUNCE_MS in extensions/core/src/catalog/search.ts):
# a key that comes sooner after the previous one waits this long before its search.
DEBOUNCE_MS = 30

# Types the query into the panel (React reads the native setter + input event) and
# resolves with [the time until the panel shows the answer to it (first row painted), the
# time since the previous query was typed]. A query is typed at least pauseMs after the
# previous one, as a person's last key or paste comes: the panel merges keys that come
# faster than its debounce (30 ms) and searches them after that pause, so without it the
# figure measured that wait whenever the machine answered the previous query quickly.
TYPE_AND_WAIT = """
async ([q, limitMs, pauseMs]) => {
  const input = document.querySelector('.jp-WorkbenchCatalog-search input');
  const setValue = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;
  const last = window.__wbTypedAt ?? -Infinity;
  const wait = pauseMs - (performance.now() - last);
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  const started = performance.now();
  window.__wbTypedAt = started;
  setValue.call(input, q);
  input.dispatchEvent(new Event('input', { bubbles: true }));
  return await new Promise((resolve, reject) => {
    const look = () => {
      const summary = document.querySelector('.jp-WorkbenchCatalog-summary');
      const answered = summary?.dataset.status === 'ready' && summary?.dataset.answered === q;
      const row = document.querySelector(
        '.jp-WorkbenchCatalog-results .jp-WorkbenchCatalog-result');
      const none = summary?.textContent.startsWith('No tables');
      if (answered && (row || none)) {
        resolve([performance.now() - started, started - last]);
        return;
      }
      if (performance.now() - started > limitMs) {
        reject(new Error(`no results for ${q}: ${summary?.dataset.status}`));
        return;
      }
      setTimeout(look, 1);
    };
    look();
  });
}
"""
FETCH_JSON = """
async ([url, token]) => {
  const started = performance.now();
  const response = await fetch(url, { headers: { Authorization: 'token ' + token } });
  const body = await response.json();
  if (!response.ok) throw new Error(JSON.stringify(body));
  return performance.now() - started;
}
"""
# Notes when the user last clicked or pressed a key (Playwright's own real input events):
# the measure runs from the click that opened the source.
NOTE_INPUT = """
() => {
  window.__wbInputAt = null;
  for (const type of ['click', 'keydown']) {
    document.addEventListener(type, () => { window.__wbInputAt = performance.now(); },
                              { capture: true });
  }
}
"""
# Resolves with the time from that input until the schema's first table rows are in the
# page, and how many rows the virtual list holds.
ROWS_PAINTED = """
async () => {
  return await new Promise((resolve, reject) => {
    const look = () => {
      const rows = document.querySelectorAll('.jp-WorkbenchCatalog-tree [data-table^="t_"]');
      const clicked = window.__wbInputAt;
      if (clicked !== null && rows.length > 0) {
        resolve([performance.now() - clicked, rows.length]);
        return;
      }
      if (clicked !== null && performance.now() - clicked > 20000) {
        reject(new Error('tree did not load'));
        return;
      }
      setTimeout(look, 1);
    };
    look();
  });
}
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def table_name(i: int) -> str:
    return f"t_{i:05d}_{WORDS[i % len(WORDS)]}_{WORDS[(i * 7) % len(WORDS)]}"


def fill_catalog(home: Path) -> list[str]:
    """A DuckDB connection whose catalog has TABLES tables of COLUMNS columns."""
    import duckdb

    from workbench_server.catalog.discovered import Discovery, FoundColumn, FoundTable
    from workbench_server.catalog.store import merge
    from workbench_server.connections import ConnectionCreate, ConnectionService
    from workbench_server.core import Workbench
    from workbench_server.db.models import CatalogScan, Connection
    from workbench_server.principal import local_principal
    from workbench_server.settings import WorkbenchSettings

    settings = WorkbenchSettings.from_env(home)
    settings.workbench_home.prepare()
    # In a folder connections may use (the home's demo folder is one of its data roots).
    database = home / "demo" / "bench.duckdb"
    database.parent.mkdir(parents=True, exist_ok=True)
    duckdb.connect(str(database)).close()
    rng = random.Random(SEED)
    names = [table_name(i) for i in range(TABLES)]
    tables = [
        FoundTable(
            schema=SCHEMA,
            name=name,
            kind="table",
            comment=f"{rng.choice(WORDS)} {rng.choice(WORDS)} of the {rng.choice(WORDS)} team",
            columns=[
                FoundColumn(f"{rng.choice(WORDS)}_{j}", j, rng.choice(("text", "integer")))
                for j in range(COLUMNS)
            ],
        )
        for name in names
    ]
    workbench = Workbench(settings)
    try:
        ConnectionService(workbench, local_principal()).create(
            ConnectionCreate(name=CONNECTION, settings={"kind": "duckdb", "path": str(database)})
        )
        with workbench.sessions.begin() as session:
            connection_id = session.query(Connection.id).filter_by(name=CONNECTION).scalar()
            scan = CatalogScan(
                connection_id=connection_id, status="succeeded", requested_by="bench", stats={}
            )
            session.add(scan)
            session.flush()
            merge(session, connection_id, scan.id, Discovery(tables=tables), first_scan=True)
    finally:
        workbench.close()
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument(
        "--pause-ms",
        type=float,
        default=100,
        help="least time between typing one query and the next (0: at once, as before)",
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--only", choices=("catalog", "builder"), help="measure one panel (default: both)"
    )
    args = parser.parse_args()
    catalog = args.only in (None, "catalog")
    builder = args.only in (None, "builder")

    from playwright.sync_api import sync_playwright

    from tests.ui.conftest import (
        CHROMIUM_ARGS,
        VIEWPORT,
        chromium_path,
        start_workbench,
        stop_workbench,
    )

    root = Path(tempfile.mkdtemp(prefix="wb-bench-ui-"))
    names: list[str] = []
    if catalog:
        log(f"filling a catalog of {TABLES:,} tables, {TABLES * COLUMNS:,} columns ...")
        names = fill_catalog(root / "home")
    log("starting workbench up ...")
    up = start_workbench(root)
    figures: dict[str, float] = {}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium_path(), args=CHROMIUM_ARGS
            )
            if builder:
                log("pipeline editor ...")
                page = browser.new_page(viewport=VIEWPORT)
                page.set_default_timeout(60_000)
                lab = f"{up.url}/lab?token={up.token}"
                figures.update(ui_builder.measure(page, lab, root / "notebooks", args.repeat))
                page.close()
            if catalog:
                figures.update(measure_catalog(browser, up, names, args))
            browser.close()
    finally:
        stop_workbench(up)
        shutil.rmtree(root, ignore_errors=True)

    if catalog:
        print(f"catalog: {TABLES:,} tables, {TABLES * COLUMNS:,} columns (plus the demo data)")
    if builder:
        print(f"pipeline editor: {ui_builder.STEPS} steps")
    for name, value in figures.items():
        print(f"{name:28} {value:>10}")
    units = {name: "ms" for name in figures}
    units.update(
        search_vs_rest_ratio="ratio", tree_rows_in_dom="rows", builder_open_vs_text_ratio="ratio"
    )
    goals = {}
    if catalog:
        goals.update({"search_p95_ms": "<= 80", "tree_first_paint_ms": "<= 1000"})
    if builder:
        goals.update({"builder_open_ms": "<= 1000", "builder_edit_ms": "<= 50"})
    units = {name: unit for name, unit in units.items() if name in figures}
    print(json.dumps({"benchmark": "ui", "figures": figures, "units": units, "goals": goals}))


def measure_catalog(
    browser: Browser, up: WorkbenchUp, names: list[str], args: argparse.Namespace
) -> dict[str, float]:
    """Searches and the browse tree of the catalog panel; the figures."""
    from tests.ui.conftest import VIEWPORT, open_lab

    page = browser.new_page(viewport=VIEWPORT)
    open_lab(page, up.url, up.token)
    page.locator('.jp-SideBar [data-id="workbench-catalog"]').click()
    page.wait_for_selector(".jp-WorkbenchCatalog-search input")
    api = f"{up.url}/workbench/api/catalog"

    log("searches ...")
    mix = queries(names, args.queries)
    # The first search builds the server's index: seconds on a loaded machine.
    page.evaluate(TYPE_AND_WAIT, [names[0], 180_000, args.pause_ms])
    page.evaluate(FETCH_JSON, [f"{api}/search?q=warm", up.token])
    ui_ms, rest_ms, ratios, gaps = [], [], [], []
    for query in mix:
        # Each query starts from the last one's results, as when refining a search.
        shown, gap = page.evaluate(TYPE_AND_WAIT, [query, 10_000, args.pause_ms])
        url = f"{api}/search?q={query.replace(' ', '+')}&limit=50"
        bare = page.evaluate(FETCH_JSON, [url, up.token])
        ui_ms.append(shown)
        rest_ms.append(bare)
        ratios.append(shown / bare)
        gaps.append(gap)
    merged = sum(gap < DEBOUNCE_MS for gap in gaps)
    log(
        f"search typed to shown p50 {percentile(ui_ms, 0.5):.1f} ms, "
        f"p95 {percentile(ui_ms, 0.95):.1f} ms; bare REST p50 {percentile(rest_ms, 0.5):.1f} "
        f"ms, p95 {percentile(rest_ms, 0.95):.1f} ms; typed {min(gaps):.0f}-{max(gaps):.0f} "
        f"ms after the query before, {merged} of {len(gaps)} within the panel's "
        f"{DEBOUNCE_MS} ms debounce"
    )

    log("browse tree ...")
    paints, rests, ends, in_dom = [], [], [], 0
    for _ in range(args.repeat):
        # A fresh page with JupyterLab's default layout: nothing expanded yet.
        page.close()
        page = browser.new_page(viewport=VIEWPORT)
        open_lab(page, up.url, up.token)
        page.locator('.jp-SideBar [data-id="workbench-catalog"]').click()
        page.wait_for_selector(".jp-WorkbenchCatalog-search input", timeout=60_000)
        # The node whose name is the connection's, exactly (other sources' names, such as
        # the lake's, may contain it).
        source = page.locator(
            ".jp-WorkbenchCatalog-tree .jp-WorkbenchCatalog-node",
            has=page.locator(f".jp-WorkbenchCatalog-name:text-is('{CONNECTION}')"),
        ).first
        source.wait_for()
        # One click: the panel lists the source's schemas and opens its only one itself
        # (clicking or pressing a key on that schema afterwards would close it again).
        page.evaluate(NOTE_INPUT)
        source.click()
        painted, in_dom = page.evaluate(ROWS_PAINTED)
        schema_row = page.locator(
            ".jp-WorkbenchCatalog-tree [role=treeitem]",
            has=page.locator(f".jp-WorkbenchCatalog-name:text-is('{SCHEMA}')"),
        ).first
        if schema_row.get_attribute("aria-expanded") != "true":
            raise RuntimeError(f"the source's only schema {SCHEMA!r} did not open by itself")
        paints.append(painted)
        rests.append(
            page.evaluate(
                FETCH_JSON,
                [
                    f"{api}/tables?connection={CONNECTION}&schema={SCHEMA}&limit=200",
                    up.token,
                ],
            )
        )
        started = time.perf_counter()
        tree = page.locator(".jp-WorkbenchCatalog-tree")
        last = names[-1]
        deadline = time.monotonic() + 120
        while not page.locator(f'[data-table="{last}"]').count():
            if time.monotonic() > deadline:
                page.screenshot(path="/tmp/ui-debug.png")
                seen = page.eval_on_selector_all(
                    ".jp-WorkbenchCatalog-tree [data-table]",
                    "rows => rows.map(r => r.dataset.table)",
                )
                raise RuntimeError(f"the last table never came into view: {seen[-3:]}")
            tree.focus()
            page.keyboard.press("End")
            page.wait_for_timeout(50)
        ends.append((time.perf_counter() - started) * 1000)
    page.close()
    return {
        "search_p50_ms": round(percentile(ui_ms, 0.5), 1),
        "search_p95_ms": round(percentile(ui_ms, 0.95), 1),
        "rest_search_p50_ms": round(percentile(rest_ms, 0.5), 1),
        "rest_search_p95_ms": round(percentile(rest_ms, 0.95), 1),
        "search_vs_rest_ratio": round(statistics.median(ratios), 3),
        "tree_first_paint_ms": round(statistics.median(paints), 1),
        "rest_tables_ms": round(statistics.median(rests), 1),
        "tree_rows_in_dom": in_dom,
        "tree_end_ms": round(statistics.median(ends), 1),
    }


if __name__ == "__main__":
    main()
