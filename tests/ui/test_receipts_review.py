"""The receipts review in JupyterLab (issue 17, must-show 2): a receipt whose total is
stained waits for a person instead of becoming an expense; the reviewer sees the image
beside its fields, the doubtful field marked, corrects the total and approves; the
expense is then made once in the Odoo stand-in. Against a real ``workbench up``."""

from __future__ import annotations

import io
import random
import re
from decimal import Decimal
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.support.ocr_setup import demo_vendors, expense_setup, writable_odoo
from tests.support.receipts import FONTS, generate_receipts, render_receipt
from tests.ui.conftest import Workbench
from workbench_server.connections.kinds import OdooConfig
from workbench_server.connections.odoo import OdooClient

VIEW = ".jp-WorkbenchReceipts:visible"
OCR_TIMEOUT_S = 180


def test_a_low_confidence_receipt_waits_and_goes_through_once_approved(
    page: Page, workbench: Workbench, pg_cluster, tmp_path: Path
) -> None:
    with writable_odoo(pg_cluster) as (server, url):
        answer = workbench.api.post(
            "connections", json={"name": "erp_receipts", "settings": server.settings()}
        )
        assert answer.status_code == 201, answer.text
        odoo = OdooClient(OdooConfig.model_validate(server.settings()))
        employee = expense_setup(url)
        vendor = demo_vendors(url)[1]
        [receipt] = generate_receipts(tmp_path / "r", [vendor], count=1, seed=77)
        receipt.distortions[:] = ["smudged"]
        image = io.BytesIO()
        render_receipt(receipt, random.Random(7), FONTS[0]).save(image, "PNG")
        count = odoo.execute_kw("hr.expense", "search_count", [[]])

        answer = workbench.api.post(
            "ocr/documents",
            params={"filename": "stained.png", "odoo": "erp_receipts", "employee_id": employee},
            content=image.getvalue(),
            timeout=OCR_TIMEOUT_S,
        )
        assert answer.status_code == 201, answer.text
        waiting = answer.json()
        assert waiting["status"] == "review", waiting
        assert odoo.execute_kw("hr.expense", "search_count", [[]]) == count

        page.keyboard.press("Control+Shift+C")
        page.locator("#command-palette input").fill("Review Receipts")
        item = page.locator('#command-palette [data-command="workbench:receipts-review-open"]')
        expect(item).to_have_text(re.compile("^Review Receipts"))
        item.click()
        view = page.locator(VIEW)
        doc = view.locator(f'[data-document="{waiting["document_id"]}"]')
        expect(doc.locator(".jp-WorkbenchReceipts-reason")).to_contain_text("low confidence")
        picture = doc.locator(".jp-WorkbenchReceipts-file img")
        expect(picture).to_be_visible()
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=picture.element_handle()
        )
        # the total is the doubtful field, marked as such
        expect(doc.locator('[data-field="total"] .jp-mod-low')).to_be_visible()
        expect(doc.locator('input[name="vendor"]')).not_to_have_value("")

        doc.locator('input[name="total"]').fill(str(receipt.total))
        doc.locator('input[name="odoo"]').fill("erp_receipts")
        doc.locator('input[name="employee_id"]').fill(str(employee))
        doc.get_by_role("button", name="Approve").click()
        expect(view.locator(".jp-WorkbenchReceipts-notice")).to_contain_text(
            "stained.png approved", timeout=OCR_TIMEOUT_S * 1000
        )
        expect(view.locator(".jp-WorkbenchReceipts-empty")).to_be_visible()

        assert odoo.execute_kw("hr.expense", "search_count", [[]]) == count + 1
        [expense] = odoo.execute_kw(
            "hr.expense",
            "search_read",
            [[["description", "ilike", waiting["document_id"]]]],
            {"fields": ["total_amount_currency", "date"]},
        )
        assert Decimal(str(expense["total_amount_currency"])) == receipt.total
        assert expense["date"] == receipt.date.isoformat()
        document = workbench.api.get(f"ocr/documents/{waiting['document_id']}").json()
        assert document["status"] == "created" and document["reviewed_by"]
