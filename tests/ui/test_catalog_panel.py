"""The Data Catalog panel as a user sees it: search, table view, preview, queries into a
notebook, and descriptions edited in place, against the demo Odoo data."""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import Locator, Page, Route, expect

from tests.ui.conftest import Workbench, wait_for_lab

SEARCH = ".jp-WorkbenchCatalog-search input"
RESULTS = ".jp-WorkbenchCatalog-results"
TABLE_VIEW = ".jp-WorkbenchCatalogTable:visible"


def open_catalog(page: Page) -> None:
    """Show the catalog sidebar (its tab may already be open from the last layout)."""
    panel = page.locator("#workbench-catalog")
    if not panel.is_visible():
        page.locator('.jp-SideBar [data-id="workbench-catalog"]').click()
    expect(panel).to_be_visible()


def search(page: Page, text: str, *, typed: bool = True) -> Locator:
    """Type a query as a person would, key by key (else paste it); the results list."""
    open_catalog(page)
    box = page.locator(SEARCH)
    box.fill("")
    if typed:
        box.press_sequentially(text, delay=25)
    else:
        box.fill(text)
    expect(box).to_have_value(text)  # no key lost on the way
    return page.locator(RESULTS)


def result(page: Page, table: str) -> Locator:
    return page.locator(f'{RESULTS} .jp-WorkbenchCatalog-result[data-table="{table}"]')


def open_table(page: Page, query: str, table: str) -> Locator:
    """Find a table by searching and open its view; the view."""
    search(page, query)
    result(page, table).click()
    view = page.locator(TABLE_VIEW)
    expect(view.locator(".jp-WorkbenchCatalogTable-name")).to_have_text(f"main.{table}")
    return view


def table_id(workbench: Workbench, name: str) -> int:
    page = workbench.api.get("catalog/tables", params={"connection": "demo_odoo", "limit": 500})
    page.raise_for_status()
    return next(t["id"] for t in page.json()["items"] if t["name"] == name)


def wait_until_layout_saved(workbench: Workbench, key: str) -> None:
    """JupyterLab saves the layout a moment after it changes; a reload before that
    would restore the layout before the change."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        answer = workbench.api.get(f"{workbench.url}/lab/api/workspaces/default")
        if answer.status_code == 200 and key in answer.json().get("data", {}):
            return
        time.sleep(0.2)
    raise AssertionError(f"JupyterLab did not save {key} in its layout within 15 s")


def test_search_as_you_type_finds_journal_items(page: Page) -> None:
    results = search(page, "journal items")
    expect(result(page, "account_move_line")).to_be_visible()
    # Odoo's label shows under the name: people search by what Odoo calls things.
    expect(result(page, "account_move_line")).to_contain_text("Journal Item")

    search(page, "account move")
    expect(result(page, "account_move")).to_be_visible()
    expect(result(page, "account_move_line")).to_be_visible()
    names = results.locator(".jp-WorkbenchCatalog-result").evaluate_all(
        "rows => rows.map(r => r.dataset.table)"
    )
    assert names[0] == "account_move", names
    expect(page.locator(".jp-WorkbenchCatalog-summary")).to_have_text(re.compile(r"^\d+ tables?$"))

    # Emptying the box brings back the browse tree.
    page.locator(SEARCH).fill("")
    expect(page.locator(".jp-WorkbenchCatalog-tree")).to_contain_text("demo_odoo")


def test_facet_chip_filters_and_clears(page: Page) -> None:
    search(page, "partner")
    expect(result(page, "res_partner")).to_be_visible()
    summary = page.locator(".jp-WorkbenchCatalog-summary")
    # The counts of the whole query, not of an answer to the keys typed before its end.
    expect(summary).to_have_attribute("data-answered", "partner")
    expect(summary).to_have_text(re.compile(r"^\d+ tables$"))
    unfiltered = int(summary.inner_text().split()[0])

    chip = page.locator(".jp-WorkbenchCatalog-chip", has_text="pii")
    count = int(chip.locator(".jp-WorkbenchCatalog-chipCount").inner_text())
    assert 0 < count < unfiltered
    chip.click()
    expect(chip).to_have_attribute("aria-pressed", "true")
    expect(summary).to_have_text(re.compile(rf"^{count} tables?$"))
    expect(page.locator(f"{RESULTS} .jp-WorkbenchCatalog-result")).to_have_count(count)

    chip.click()
    expect(chip).to_have_attribute("aria-pressed", "false")
    expect(summary).to_have_text(f"{unfiltered} tables")


def synthetic_search(total: int):
    """A search endpoint with ``total`` results, answering any page asked for."""

    def answer(route: Route) -> None:
        params = parse_qs(urlparse(route.request.url).query)
        offset, limit = int(params["offset"][0]), int(params["limit"][0])
        hits = [
            {
                "table": {
                    "id": 100_000 + i,
                    "connection": "warehouse",
                    "schema": "public",
                    "name": f"synthetic_{i:05d}",
                    "kind": "table",
                    "label": f"Synthetic {i}",
                    "description": None,
                    "certified": False,
                    "tags": [],
                    "auto_tags": [],
                },
                "score": 1.0,
                "matched_columns": [],
            }
            for i in range(offset, min(total, offset + limit))
        ]
        body = {"query": params["q"][0], "total": total, "hits": hits, "facets": {}}
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    return answer


def test_ten_thousand_results_render_only_what_is_in_view(page: Page) -> None:
    requested: list[str] = []
    page.on(
        "request",
        lambda r: requested.append(r.url) if "/catalog/search" in r.url else None,
    )
    page.route("**/workbench/api/catalog/search?**", synthetic_search(10_000))
    results = search(page, "synthetic")
    expect(page.locator(".jp-WorkbenchCatalog-summary")).to_have_text("10000 tables")
    expect(result(page, "synthetic_00000")).to_be_visible()
    rendered = results.locator('[role="option"]').count()
    assert 5 < rendered < 60, rendered

    # Straight to the end: the last page is fetched and shown, the rows in between never.
    results.evaluate("list => { list.scrollTop = list.scrollHeight; }")
    expect(result(page, "synthetic_09999")).to_be_visible()
    assert results.locator('[role="option"]').count() < 60
    pages = sorted({parse_qs(urlparse(u).query)["offset"][0] for u in requested}, key=int)
    assert len(pages) <= 4, pages

    # The keyboard reaches the last row too, and Enter would open it.
    results.focus()
    page.keyboard.press("End")
    expect(results.locator('[role="option"][aria-selected="true"]')).to_contain_text(
        "synthetic_09999"
    )


def test_browse_tree_opens_a_table_with_the_keyboard(page: Page) -> None:
    open_catalog(page)
    tree = page.locator(".jp-WorkbenchCatalog-tree")
    source = tree.get_by_role("treeitem", name=re.compile("demo_odoo"))
    expect(source).to_have_attribute("aria-expanded", "false")
    tree.focus()
    page.keyboard.press("Home")
    page.keyboard.press("ArrowRight")  # the source; its only schema opens with it
    expect(source).to_have_attribute("aria-expanded", "true")
    table = tree.locator('[data-table="res_partner"]')
    expect(table).to_be_visible()
    table.click()
    expect(page.locator(f"{TABLE_VIEW} .jp-WorkbenchCatalogTable-name")).to_have_text(
        "main.res_partner"
    )


def test_table_view_preview_shows_rows(page: Page) -> None:
    view = open_table(page, "journal items", "account_move_line")
    expect(view.locator('[data-fact="connection"]')).to_have_text("demo_odoo")
    expect(view.locator('[data-fact="rows"]')).to_have_text(re.compile(r"[\d,]+ rows"))
    # The columns grid, with Odoo's labels.
    expect(
        view.locator('.jp-WorkbenchCatalogTable-columns tr[data-column="move_id"]')
    ).to_contain_text("Journal Entry")

    view.get_by_role("tab", name="Preview").click()
    rows = view.locator(".jp-WorkbenchCatalogTable-preview tbody tr")
    expect(rows.first).to_be_visible()
    assert rows.count() == 100
    header = view.locator(".jp-WorkbenchCatalogTable-preview thead th").all_inner_texts()
    assert "move_name" in header and "balance" in header
    # The server cut the preview off at 100 rows and says so.
    expect(view.locator(".jp-WorkbenchCatalogTable-note")).to_contain_text("100")


def test_insert_query_into_notebook_and_run_it(page: Page) -> None:
    page.locator('.jp-LauncherCard[title="Workbench (Python 3)"]').first.click()
    notebook = page.locator(".jp-NotebookPanel:visible")
    # The status bar, not the notebook's execution indicator: that one says "idle"
    # before the kernel is even connected.
    expect(page.locator("#jp-main-statusbar")).to_contain_text(
        "Workbench (Python 3) | Idle", timeout=60_000
    )

    view = open_table(page, "account move", "account_move")
    view.get_by_role("button", name="Insert query into notebook").click()

    cells = notebook.locator(".jp-Cell")
    expect(cells).to_have_count(2)
    expect(cells.nth(1).locator(".jp-InputArea-editor .cm-line")).to_have_text(
        ["%%sql demo_odoo", "SELECT * FROM main.account_move LIMIT 100"]
    )
    expect(cells.nth(1)).to_have_class(re.compile(r"\bjp-mod-active\b"))
    notebook.locator("[data-command='notebook:run-cell-and-select-next']").click()
    expect(cells.nth(1).locator(".jp-InputPrompt")).not_to_have_text("[ ]:")

    output = cells.nth(1).locator(".jp-OutputArea-output")
    table_rows = output.locator("table tbody tr")
    expect(table_rows.first).to_be_visible(timeout=60_000)
    assert table_rows.count() >= 1
    expect(output.locator("table thead")).to_contain_text("move_type")
    expect(cells.nth(1).locator("[data-mime-type='application/vnd.jupyter.stderr']")).to_have_count(
        0
    )
    expect(cells.nth(1)).not_to_contain_text("Error")


def test_description_edited_in_place_persists(page: Page, workbench: Workbench) -> None:
    text = f"Customers and vendors ({uuid.uuid4().hex[:6]})"
    view = open_table(page, "res partner", "res_partner")
    view.get_by_role("button", name="Edit description of res_partner").click()
    editor = view.get_by_role("textbox", name="description of res_partner")
    editor.fill(text)
    editor.press("Control+Enter")
    shown = view.get_by_role("button", name="Edit description of res_partner")
    expect(shown).to_have_text(text)

    # Saved on the server...
    detail = workbench.api.get(f"catalog/tables/{table_id(workbench, 'res_partner')}")
    assert detail.json()["description"] == text

    # ...and shown again after a reload, in the table view the layout restores.
    wait_until_layout_saved(
        workbench, f"workbench-catalog-table:{table_id(workbench, 'res_partner')}"
    )
    page.reload()
    wait_for_lab(page)
    expect(
        page.locator(TABLE_VIEW).get_by_role("button", name="Edit description of res_partner")
    ).to_have_text(text, timeout=30_000)

    # A search finds the table by its new words. (Pasted: after a reload JupyterLab
    # may still move the focus between restored widgets for a moment.)
    search(page, text.split("(")[1].rstrip(")"), typed=False)
    expect(result(page, "res_partner")).to_be_visible()


def test_failed_edit_is_reported_with_the_servers_message(page: Page) -> None:
    view = open_table(page, "journal items", "account_move_line")
    view.get_by_role("button", name="Edit tags of account_move_line").click()
    editor = view.get_by_role("textbox", name="tags of account_move_line")
    editor.fill("finance, month/end")
    editor.press("Enter")
    toast = page.locator(".Toastify__toast", has_text="Saving main.account_move_line failed")
    expect(toast).to_contain_text("tag 'month/end': use up to 50 letters")
    # The editor stays open with what was typed, so nothing is lost.
    expect(editor).to_have_value("finance, month/end")


def test_clicking_a_schema_row_toggles_it_once(page: Page) -> None:
    open_catalog(page)
    tree = page.locator(".jp-WorkbenchCatalog-tree")
    source = tree.get_by_role("treeitem", name=re.compile("^demo_odoo"))
    source.click()  # its only schema opens with it
    expect(source).to_have_attribute("aria-expanded", "true")
    schema = tree.get_by_role("treeitem", name=re.compile(r"^main\b"))
    expect(schema).to_have_attribute("aria-expanded", "true")
    partners = tree.locator('[data-table="res_partner"]')
    expect(partners).to_be_visible()

    schema.click()
    expect(schema).to_have_attribute("aria-expanded", "false")
    expect(partners).to_have_count(0)
    schema.click()
    expect(schema).to_have_attribute("aria-expanded", "true")
    expect(partners).to_be_visible()

    # A double click (as in the file browser) must not open and close it again.
    schema.click()
    expect(schema).to_have_attribute("aria-expanded", "false")
    schema.dblclick()
    expect(schema).to_have_attribute("aria-expanded", "true")
    expect(schema).to_have_attribute("aria-selected", "true")
    page.wait_for_timeout(300)  # nothing collapses it afterwards either
    expect(schema).to_have_attribute("aria-expanded", "true")
    expect(partners).to_be_visible()


def test_a_click_in_a_scrolled_tree_opens_the_row_under_the_pointer(page: Page) -> None:
    page.set_viewport_size({"width": 1400, "height": 520})
    open_catalog(page)
    tree = page.locator(".jp-WorkbenchCatalog-tree")
    tree.get_by_role("treeitem", name=re.compile("^demo_odoo")).click()
    expect(tree.locator("[data-table]").first).to_be_visible()
    # A search and back: the tree comes back with no active row and the focus in the
    # search box, as when someone searched and then browses instead.
    search(page, "partner")
    page.locator(SEARCH).fill("")
    expect(tree.locator("[data-table]").first).to_be_visible()

    tree.evaluate("list => { list.scrollTop = list.scrollHeight; }")
    assert tree.evaluate("list => list.scrollTop") > 0  # the tree is longer than its panel
    last = tree.locator("[data-table]").last
    name = last.get_attribute("data-table")
    last.click()
    expect(page.locator(f"{TABLE_VIEW} .jp-WorkbenchCatalogTable-name")).to_have_text(
        f"main.{name}"
    )
    # The pressed row is the selected one; the tree did not jump to its top.
    row = tree.locator('[role="treeitem"]', has=page.locator(f'[data-table="{name}"]'))
    expect(row).to_have_attribute("aria-selected", "true")
    assert tree.evaluate("list => list.scrollTop") > 0


def record_lineage(workbench: Workbench, inputs: list[str], outputs: list[str], job: str) -> None:
    """Lineage as a pipeline step declares it, written by the core of the running
    workbench (same home, so same metadata DB)."""
    from workbench_server.core import Workbench as Core
    from workbench_server.lineage.service import LineageService
    from workbench_server.principal import local_principal
    from workbench_server.settings import WorkbenchSettings

    core = Core(WorkbenchSettings.from_env(workbench.root / "home"), migrate=False)
    try:
        assert LineageService(core, local_principal()).record_declared(inputs, outputs, job)
    finally:
        core.close()


def test_lineage_graph_shows_both_sides_and_opens_catalog_tables(
    page: Page, workbench: Workbench
) -> None:
    record_lineage(
        workbench,
        ["demo_odoo.main.res_partner", "demo_odoo.main.account_journal"],
        ["demo_odoo.main.account_move"],
        "ui_test.moves",
    )
    record_lineage(
        workbench, ["demo_odoo.main.account_move"], ["lake.gold.partner_moves"], "ui_test.gold"
    )
    view = open_table(page, "account move", "account_move")
    view.get_by_role("button", name="Open lineage").click()
    graph = view.locator(".jp-WorkbenchLineage")
    root = graph.locator(".jp-WorkbenchLineage-node.jp-mod-root")
    expect(root).to_contain_text("main.account_move")
    partner = graph.locator('.jp-mod-upstream[data-dataset="demo_odoo:main.res_partner"]')
    journal = graph.locator('.jp-mod-upstream[data-dataset="demo_odoo:main.account_journal"]')
    gold = graph.locator('.jp-mod-downstream[data-dataset="lake:gold.partner_moves"]')
    for node in (partner, journal, gold):
        expect(node).to_be_visible()
    expect(graph.locator(".jp-WorkbenchLineage-edge")).to_have_count(3)
    # Upstream on the left of the table, downstream on its right.
    left, middle, right = (n.bounding_box()["x"] for n in (partner, root, gold))
    assert left < middle < right, (left, middle, right)
    # Only datasets with a catalog entry open; the lake file has none.
    expect(partner).to_have_attribute("role", "button")
    expect(gold).not_to_have_attribute("role", "button")
    expect(gold).to_have_attribute("aria-label", re.compile("not in the catalog"))
    # The lists stay under the drawing.
    expect(view.locator(".jp-WorkbenchCatalogTable-lineage").first).to_contain_text(
        "demo_odoo:main.res_partner"
    )

    partner.click()
    expect(page.locator(f"{TABLE_VIEW} .jp-WorkbenchCatalogTable-name")).to_have_text(
        "main.res_partner"
    )
    # And from the keyboard: back to account_move's lineage, Enter on a node.
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="account_move").click()
    journal.focus()
    page.keyboard.press("Enter")
    expect(page.locator(f"{TABLE_VIEW} .jp-WorkbenchCatalogTable-name")).to_have_text(
        "main.account_journal"
    )


def add_source_of_one_big_schema(workbench: Workbench, name: str, tables: int) -> None:
    """A DuckDB connection ``name`` whose catalog holds ``tables`` tables in one schema,
    ``warehouse`` (merged through the catalog's own store, as a scan would)."""
    import duckdb

    from workbench_server.catalog.discovered import Discovery, FoundColumn, FoundTable
    from workbench_server.catalog.store import merge
    from workbench_server.connections import ConnectionCreate, ConnectionService
    from workbench_server.core import Workbench as Core
    from workbench_server.db.models import CatalogScan, Connection
    from workbench_server.principal import local_principal
    from workbench_server.settings import WorkbenchSettings

    home = Path(workbench.root) / "home"
    database = home / "demo" / f"{name}.duckdb"  # the home's demo folder is a data root
    duckdb.connect(str(database)).close()
    core = Core(WorkbenchSettings.from_env(home))
    try:
        ConnectionService(core, local_principal()).create(
            ConnectionCreate(name=name, settings={"kind": "duckdb", "path": str(database)})
        )
        found = [
            FoundTable(
                schema="warehouse",
                name=f"t_{i:03d}",
                kind="table",
                columns=[FoundColumn("id", 0, "integer")],
            )
            for i in range(tables)
        ]
        with core.sessions.begin() as session:
            connection_id = session.query(Connection.id).filter_by(name=name).scalar()
            scan = CatalogScan(
                connection_id=connection_id, status="succeeded", requested_by="test", stats={}
            )
            session.add(scan)
            session.flush()
            merge(session, connection_id, scan.id, Discovery(tables=found), first_scan=True)
    finally:
        core.close()


def test_a_source_whose_only_schema_is_longer_than_a_page_opens_it(
    page: Page, workbench: Workbench
) -> None:
    # More tables than the tree asks for at once (200): the panel counts the schema with
    # a second request, which the server once refused (limit=0), and the schema never
    # opened. Last in this module: the other tests see the demo sources only.
    add_source_of_one_big_schema(workbench, "wide_dwh", 250)
    page.reload()
    wait_for_lab(page)
    open_catalog(page)
    tree = page.locator(".jp-WorkbenchCatalog-tree")
    source = tree.get_by_role("treeitem", name=re.compile("^wide_dwh"))
    source.click()
    schema = tree.get_by_role("treeitem", name=re.compile(r"^warehouse\b"))
    expect(schema).to_have_attribute("aria-expanded", "true")
    expect(schema).to_contain_text("250")  # counted, not just the first page's 200
    expect(tree.locator('[data-table="t_000"]')).to_be_visible()
    expect(tree).not_to_contain_text("retry")
    # Its last table comes with the next page, scrolled to.
    tree.focus()
    for _ in range(20):
        if tree.locator('[data-table="t_249"]').count():
            break
        page.keyboard.press("End")
        page.wait_for_timeout(100)
    expect(tree.locator('[data-table="t_249"]')).to_be_visible()
