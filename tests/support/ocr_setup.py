"""What the OCR tests share: a writable Odoo stand-in of their own, the demo's vendors,
and a generated set of receipts read once by the real engine."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from workbench_server.ocr.engines import RapidOcrEngine
from workbench_server.ocr.models import OcrResult

from .odoo_attachments import add_attachment_model
from .odoo_server import OdooServer, running_odoo
from .postgres import PostgresCluster
from .receipts import Vendor

__all__ = ["CachedEngine", "demo_vendors", "expense_setup", "writable_odoo"]


@contextmanager
def writable_odoo(pg_cluster: PostgresCluster) -> Iterator[tuple[OdooServer, str]]:
    """A fresh demo Odoo database with attachments, whose stand-in creates expenses: a
    copy of one loaded once per cluster."""
    template = pg_cluster.template("odoo_attachments", _demo_with_attachments)
    with pg_cluster.fresh_database(template=template) as url:
        with running_odoo(url, writable={"hr.expense", "ir.attachment"}) as server:
            yield server, url


def _demo_with_attachments(url: str) -> None:
    from workbench_server.demo import build_dataset, write_postgres

    write_postgres(url, build_dataset())
    add_attachment_model(url)


def demo_vendors(conninfo: str, with_vat: int = 5, without_vat: int = 1) -> list[Vendor]:
    """Vendor companies of the demo: some with a tax id, some without."""
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            "(SELECT id, name, vat FROM res_partner WHERE is_company AND active"
            " AND vat IS NOT NULL AND supplier_rank > 0 ORDER BY id LIMIT %s)"
            " UNION ALL (SELECT id, name, NULL FROM res_partner WHERE is_company AND active"
            " AND vat IS NULL AND supplier_rank > 0 ORDER BY id LIMIT %s)",
            [with_vat, without_vat],
        ).fetchall()
    return [Vendor(name=str(n), vat=v, partner_id=int(i)) for i, n, v in rows]


def expense_setup(conninfo: str) -> int:
    """An employee of the demo's first company the expenses are for (its id)."""
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(
            "SELECT id FROM hr_employee WHERE active ORDER BY company_id, id LIMIT 1"
        ).fetchone()
    assert row is not None, "the demo has no employee"
    return int(row[0])


class CachedEngine:
    """The real RapidOCR engine, each distinct file read once per test session (OCR on two
    shared cores is slow; the flow under test still gets the engine's own output)."""

    name = RapidOcrEngine.name

    def __init__(self) -> None:
        self.engine = RapidOcrEngine()
        self.cache: dict[str, OcrResult] = {}
        self.calls = 0

    def read(self, data: bytes, filename: str) -> OcrResult:
        self.calls += 1
        key = hashlib.sha256(data).hexdigest() + Path(filename).suffix.lower()
        if key not in self.cache:
            self.cache[key] = self.engine.read(data, filename)
        return self.cache[key]
