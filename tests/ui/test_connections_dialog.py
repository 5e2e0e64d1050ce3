"""The connections dialog as a user sees it: add a PostgreSQL connection (the test
cluster's Odoo-shaped database), test it, find it in the catalog, edit it without ever
seeing its password, a wrong password reported with the server's reason, and remove it;
a connection someone else shared, or a built-in one, is shown read-only."""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlsplit

from playwright.sync_api import Locator, Page, expect

from tests.support.postgres import postgres_settings
from tests.ui.conftest import Workbench, wait_for_lab
from tests.ui.principals import GROUP, as_user
from tests.ui.test_catalog_panel import open_catalog

DIALOG = ".jp-WorkbenchConnectionsDialog"
TREE = ".jp-WorkbenchCatalog-tree"


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:6]}"


def open_from_catalog(page: Page) -> Locator:
    open_catalog(page)
    page.locator("#workbench-catalog").get_by_role("button", name="Manage connections").click()
    dialog = page.locator(DIALOG)
    expect(dialog).to_be_visible()
    return dialog


def open_from_palette(page: Page) -> Locator:
    page.keyboard.press("Control+Shift+C")
    palette = page.locator("#command-palette input")
    expect(palette).to_be_focused()
    palette.fill("Manage connections")
    item = page.locator('#command-palette [data-command="workbench:manage-connections"]')
    expect(item).to_have_text(re.compile("^Manage connections"))
    item.click()
    dialog = page.locator(DIALOG)
    expect(dialog).to_be_visible()
    return dialog


def field(dialog: Locator, name: str) -> Locator:
    return dialog.locator(f'.jp-WorkbenchConnections-form [data-field="{name}"]')


def item(dialog: Locator, name: str) -> Locator:
    return dialog.locator(f'.jp-WorkbenchConnections-item[data-connection="{name}"]')


def tree_source(page: Page, name: str) -> Locator:
    return page.locator(TREE).get_by_role("treeitem", name=re.compile(rf"^{name}\b"))


def create_by_api(workbench: Workbench, name: str, url: str) -> None:
    answer = workbench.api.post(
        "connections", json={"name": name, "settings": postgres_settings(url)}
    )
    assert answer.status_code == 201, answer.text


def test_add_test_and_find_a_postgres_connection(
    page: Page, workbench: Workbench, odoo_db: str
) -> None:
    db = urlsplit(odoo_db)
    name = unique_name("erp")
    dialog = open_from_catalog(page)
    # Keyboard first: the Add button has the focus when the dialog opens.
    expect(dialog.locator(".jp-WorkbenchConnections-add")).to_be_focused()
    dialog.locator(".jp-WorkbenchConnections-add").press("Enter")
    expect(dialog.locator(".jp-WorkbenchConnections-heading")).to_have_text("New connection")
    expect(field(dialog, "name")).to_be_focused()

    field(dialog, "name").fill(name)
    field(dialog, "kind").select_option("postgres")
    field(dialog, "host").fill(db.hostname or "")
    field(dialog, "port").fill(str(db.port))
    field(dialog, "database").fill(db.path.lstrip("/"))
    field(dialog, "user").fill(db.username or "")
    field(dialog, "password").fill(db.password or "")
    # Enter in a field saves the form; it does not close the dialog.
    field(dialog, "password").press("Enter")

    expect(item(dialog, name)).to_be_visible()
    expect(item(dialog, name)).to_have_attribute("aria-current", "true")
    expect(dialog.locator(".jp-WorkbenchConnections-heading")).to_contain_text(name)
    expect(field(dialog, "password")).to_have_value("")

    dialog.get_by_role("button", name="Test", exact=True).click()
    status = dialog.locator(".jp-WorkbenchConnections-result")
    expect(status).to_have_attribute("data-ok", "true")
    expect(status).to_contain_text(re.compile(rf"connection '{name}': PostgreSQL \d+"))
    expect(item(dialog, name).locator(".jp-WorkbenchConnections-badge")).to_have_text("OK")

    # The catalog panel lists the new source as soon as it was added.
    dialog.get_by_role("button", name="Close").click()
    expect(page.locator(DIALOG)).to_have_count(0)
    expect(tree_source(page, name)).to_be_visible()

    # Stored encrypted: the API says a password is set and never what it is.
    answer = workbench.api.get(f"connections/{name}")
    assert answer.json()["settings"]["password"] == "***set***"
    assert db.password not in answer.text
    assert db.password not in workbench.api.get("connections").text


def test_edit_keeps_the_password_unless_typed(
    page: Page, workbench: Workbench, odoo_db: str
) -> None:
    name = unique_name("ledger")
    create_by_api(workbench, name, odoo_db)
    page.reload()  # the connection was added behind the page's back
    wait_for_lab(page)
    dialog = open_from_palette(page)
    item(dialog, name).click()
    password = field(dialog, "password")
    expect(password).to_have_value("")
    expect(password).to_have_attribute("type", "password")
    expect(dialog.locator(".jp-WorkbenchConnections-form")).to_contain_text(
        "Stored encrypted and never shown. Leave empty to keep it"
    )

    # An edit of another field leaves the stored password as it was: the test passes.
    field(dialog, "description").fill("Odoo ledger, read only")
    dialog.get_by_role("button", name="Save", exact=True).click()
    expect(dialog.locator(".jp-WorkbenchConnections-result")).to_have_text(f"Saved {name}.")
    assert workbench.api.get(f"connections/{name}").json()["description"] == (
        "Odoo ledger, read only"
    )
    dialog.get_by_role("button", name="Test", exact=True).click()
    expect(dialog.locator(".jp-WorkbenchConnections-result")).to_have_attribute("data-ok", "true")

    # A wrong password typed in replaces it; testing shows the server's reason.
    password.fill("not-the-password")
    dialog.get_by_role("button", name="Save", exact=True).click()
    expect(dialog.locator(".jp-WorkbenchConnections-result")).to_have_text(f"Saved {name}.")
    expect(password).to_have_value("")
    dialog.get_by_role("button", name="Test", exact=True).click()
    # Said once, in the dialog, the reason first (no notification repeating it).
    status = dialog.locator(".jp-WorkbenchConnections-result")
    expect(status).to_have_attribute("data-ok", "false")
    expect(status).to_contain_text(f"Test of {name} failed: authentication failed.")
    expect(status).to_contain_text("password authentication failed")
    expect(page.locator(".Toastify__toast", has_text=f"Test of {name}")).to_have_count(0)
    expect(item(dialog, name).locator(".jp-WorkbenchConnections-badge")).to_have_text("failed")
    assert "not-the-password" not in workbench.api.get(f"connections/{name}").text


def test_invalid_form_and_server_refusal_are_explained(
    page: Page, workbench: Workbench, odoo_db: str
) -> None:
    taken = unique_name("taken")
    create_by_api(workbench, taken, odoo_db)
    dialog = open_from_catalog(page)
    dialog.locator(".jp-WorkbenchConnections-add").click()
    field(dialog, "name").fill("Bad-Name")
    dialog.get_by_role("button", name="Add", exact=True).click()
    problem = dialog.locator(".jp-WorkbenchConnections-problem")
    expect(problem).to_contain_text('Name "Bad-Name": use lower-case letters')

    # The server's own refusal (a name in use) comes back in a notification too.
    field(dialog, "name").fill(taken)
    field(dialog, "kind").select_option("duckdb")
    dialog.get_by_role("button", name="Add", exact=True).click()
    toast = page.locator(".Toastify__toast", has_text=f"Adding connection {taken} failed")
    expect(toast).to_contain_text(f"a connection named '{taken}' already exists")
    expect(problem).to_contain_text("already exists")
    expect(page.locator(DIALOG)).to_be_visible()


def test_remove_a_connection(page: Page, workbench: Workbench, odoo_db: str) -> None:
    name = unique_name("old")
    create_by_api(workbench, name, odoo_db)
    page.reload()
    wait_for_lab(page)
    open_catalog(page)
    expect(tree_source(page, name)).to_be_visible()

    dialog = open_from_catalog(page)
    item(dialog, name).click()
    dialog.get_by_role("button", name="Remove…").click()
    confirm = dialog.locator(".jp-WorkbenchConnections-confirm")
    expect(confirm).to_be_focused()
    expect(dialog.locator(".jp-WorkbenchConnections-confirmRow")).to_contain_text(f"Remove {name}?")
    confirm.press("Enter")
    expect(item(dialog, name)).to_have_count(0)
    expect(dialog.locator(".jp-WorkbenchConnections-result")).to_have_text(f"Removed {name}.")
    assert workbench.api.get(f"connections/{name}").status_code == 404

    # The focus stays in the dialog, on the connection now selected, so keys still work.
    expect(item(dialog, "demo_odoo")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator(DIALOG)).to_have_count(0)
    expect(tree_source(page, name)).to_have_count(0)
    expect(page.locator(TREE)).to_contain_text("demo_odoo")


def test_a_connection_shared_with_you_is_read_only(
    bob_page: Page, workbench: Workbench, odoo_db: str
) -> None:
    page = bob_page
    db = urlsplit(odoo_db)
    name = unique_name("alice_ledger")
    answer = workbench.api.post(
        "connections",
        json={
            "name": name,
            "description": "Alice's ledger replica",
            "shared_groups": [GROUP],
            "settings": postgres_settings(odoo_db),
        },
        headers=as_user("alice"),
    )
    assert answer.status_code == 201, answer.text
    # What bob may do is the server's say: use it, not change it.
    mine = {c["name"]: c for c in workbench.api.get("connections", headers=as_user("bob")).json()}
    assert mine[name]["may_change"] is False

    dialog = open_from_palette(page)
    item(dialog, name).click()
    form = dialog.locator(".jp-WorkbenchConnections-form")
    expect(form.get_by_role("note")).to_have_text(
        "Shared with you by alice; only alice or an admin can change it."
    )
    # No Save, no Remove, nothing to type in: its settings are text.
    expect(form.get_by_role("button", name="Save", exact=True)).to_have_count(0)
    expect(form.get_by_role("button", name=re.compile("^Remove"))).to_have_count(0)
    expect(form.locator("input, select")).to_have_count(0)
    expect(form.locator('[data-setting="host"] dd')).to_have_text(db.hostname or "")
    expect(form.locator('[data-setting="password"] dd')).to_have_text("stored, never shown")
    expect(form.locator('[data-setting="description"] dd')).to_have_text("Alice's ledger replica")
    expect(form).not_to_contain_text(db.password or "***set***")

    # Using it is allowed, so Test stays and connects.
    form.get_by_role("button", name="Test", exact=True).click()
    status = dialog.locator(".jp-WorkbenchConnections-result")
    expect(status).to_have_attribute("data-ok", "true")

    # The demo is built in: only an admin changes it.
    item(dialog, "demo_odoo").click()
    expect(form.get_by_role("note")).to_have_text("Built-in; only an admin can change it.")
    expect(form.get_by_role("button", name="Save", exact=True)).to_have_count(0)

    # bob's own connections stay editable.
    dialog.locator(".jp-WorkbenchConnections-add").click()
    own = unique_name("bob_scratch")
    field(dialog, "name").fill(own)
    field(dialog, "kind").select_option("duckdb")
    expect(field(dialog, "path")).to_have_value(":memory:")
    dialog.get_by_role("button", name="Add", exact=True).click()
    expect(item(dialog, own)).to_have_attribute("aria-current", "true")
    expect(form.get_by_role("note")).to_have_count(0)
    expect(form.get_by_role("button", name="Save", exact=True)).to_be_visible()
    expect(form.get_by_role("button", name="Remove…")).to_be_visible()
    assert workbench.api.get(f"connections/{own}").json()["owner"] == "bob"


def test_add_an_ocr_service_connection(page: Page, workbench: Workbench) -> None:
    """The ocr kind: the offline engine needs nothing more; the http engine shows its
    URL, token and reply mapping, and the token is stored write-only."""
    name = unique_name("ocr")
    dialog = open_from_catalog(page)
    dialog.locator(".jp-WorkbenchConnections-add").click()
    field(dialog, "name").fill(name)
    field(dialog, "kind").select_option("ocr")
    expect(field(dialog, "engine")).to_have_value("rapidocr")
    expect(field(dialog, "url")).to_have_count(0)  # nothing to set for the offline engine
    field(dialog, "engine").select_option("http")
    expect(field(dialog, "url")).to_be_visible()
    expect(field(dialog, "document_field")).to_have_count(0)  # raw body: no field name
    dialog.get_by_role("button", name="Add", exact=True).click()
    problem = dialog.locator(".jp-WorkbenchConnections-problem")
    expect(problem).to_contain_text("Service URL: required.")

    field(dialog, "url").fill("https://ocr.example.com/v1/read")
    field(dialog, "token").fill("ocr-t0ken")
    field(dialog, "body").select_option("json")
    field(dialog, "document_field").fill("image")
    field(dialog, "lines_path").fill("result.lines")
    field(dialog, "confidence_scale").fill("100")
    dialog.get_by_role("button", name="Add", exact=True).click()
    expect(item(dialog, name)).to_be_visible()
    expect(field(dialog, "token")).to_have_value("")

    answer = workbench.api.get(f"connections/{name}")
    settings = answer.json()["settings"]
    assert settings["engine"] == "http" and settings["url"] == "https://ocr.example.com/v1/read"
    assert settings["body"] == "json" and settings["document_field"] == "image"
    assert settings["lines_path"] == "result.lines" and settings["confidence_scale"] == 100
    assert settings["token"] == "***set***" and "ocr-t0ken" not in answer.text
