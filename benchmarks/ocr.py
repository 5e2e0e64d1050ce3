"""Receipts to Odoo expenses next to the raw OCR engine (issue 17, must-show 4, receipts).

Starts a throwaway PostgreSQL cluster with the Odoo demo database and the project's Odoo
stand-in (``tests/support``), generates a seeded set of receipts and bills (PNG, JPEG,
scanned PDF, PDF with a text layer; some rotated, skewed or noisy) and, document by
document, alternates:

- raw: the file decoded (PDF pages rendered with pypdfium2 at 200 dpi) and RapidOCR
  (``rapidocr_onnxruntime.RapidOCR``) called directly on the image;
- workbench: ``workbench_server.ocr.flow.process_document``: OCR (the text layer where a
  PDF has one), field extraction, bronze and silver Delta writes, matching in Odoo over
  XML-RPC and the ``hr.expense`` + ``ir.attachment`` creation (a fresh lake per pass; the
  second pass finds the expenses by their attachment's checksum instead of creating).

Figures: ``receipts_per_min`` (workbench, sequential, on this machine's cores) and
``raw_receipts_per_min``; per-receipt latency p50/p95 of both; ``latency_ratio`` (p50
workbench / p50 raw), and ``scanned_latency_ratio`` the same over the documents without a
text layer (which the flow reads without OCR); the share of totals and dates read exactly.

    python benchmarks/ocr.py [--count 24] [--passes 2]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tests' PostgreSQL, Odoo stand-in and receipt helpers
SEED = 20_261_206


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def raw_read(engine: object, path: Path) -> int:
    """The raw contender: decode the file, call RapidOCR on each page; boxes found."""
    import numpy as np
    import pypdfium2 as pdfium
    from PIL import Image

    if path.suffix == ".pdf":
        pdf = pdfium.PdfDocument(str(path))
        images = [pdf[i].render(scale=200 / 72).to_pil().convert("RGB") for i in range(len(pdf))]
        pdf.close()
    else:
        images = [Image.open(io.BytesIO(path.read_bytes())).convert("RGB")]
    found = 0
    for image in images:
        result, _ = engine(np.asarray(image))  # type: ignore[operator]
        found += len(result or [])
    return found


def measure(count: int = 24, passes: int = 2) -> dict[str, dict]:
    """Run the comparison; ``{"figures": ..., "units": ..., "goals": ...}`` (also what
    benchmarks/finance.py reports as its receipts figures)."""
    from rapidocr_onnxruntime import RapidOCR

    from tests.support.ocr_setup import demo_vendors, expense_setup, writable_odoo
    from tests.support.postgres import running_cluster
    from tests.support.receipts import generate_receipts
    from workbench_server.connections.kinds import OdooConfig
    from workbench_server.connections.odoo import OdooClient
    from workbench_server.lake.location import LakeLocation
    from workbench_server.ocr import flow
    from workbench_server.ocr.engines import RapidOcrEngine

    work = Path(tempfile.mkdtemp(prefix="wb-bench-ocr-"))
    work.chmod(0o755)  # the cluster may run as another account
    raw_engine = RapidOCR()
    engine = RapidOcrEngine()
    raw_s: list[float] = []
    flow_s: list[float] = []
    scanned: list[tuple[float, float]] = []  # (flow, raw) of documents without a text layer
    exact_total = exact_date = created = 0
    with running_cluster(work / "pg") as cluster, writable_odoo(cluster) as (server, url):
        client = OdooClient(OdooConfig.model_validate(server.settings()))
        settings = flow.FlowSettings(employee_id=expense_setup(url))
        receipts = generate_receipts(work / "receipts", demo_vendors(url), count, SEED)
        log(f"{len(receipts)} documents; warming up both engines")
        raw_read(raw_engine, receipts[0].path)
        engine.read(receipts[0].path.read_bytes(), receipts[0].path.name)
        for n in range(passes):
            lake = LakeLocation(str(work / f"lake{n}"))
            for i, receipt in enumerate(receipts):
                data = receipt.path.read_bytes()
                order = ("raw", "flow") if (i + n) % 2 == 0 else ("flow", "raw")
                timed: dict[str, float] = {}
                for who in order:
                    started = time.perf_counter()
                    if who == "raw":
                        raw_read(raw_engine, receipt.path)
                        raw_s.append(timed.setdefault("raw", time.perf_counter() - started))
                    else:
                        outcome = flow.process_document(
                            lake, data, receipt.path.name, engine, client, settings
                        )
                        flow_s.append(timed.setdefault("flow", time.perf_counter() - started))
                        if n == 0:
                            exact_total += outcome.fields.total == receipt.total
                            exact_date += outcome.fields.date == receipt.date
                            created += outcome.status == "created"
                if receipt.form != "pdf-text":
                    scanned.append((timed["flow"], timed["raw"]))
            log(f"pass {n + 1}: flow p50 {statistics.median(flow_s):.2f} s")

    figures = {
        "receipts_per_min": 60 * len(flow_s) / sum(flow_s),
        "raw_receipts_per_min": 60 * len(raw_s) / sum(raw_s),
        "latency_p50_s": statistics.median(flow_s),
        "latency_p95_s": percentile(flow_s, 0.95),
        "raw_latency_p50_s": statistics.median(raw_s),
        "raw_latency_p95_s": percentile(raw_s, 0.95),
        "latency_ratio": statistics.median(flow_s) / statistics.median(raw_s),
        # the same on images and scanned PDFs only: OCR in both, the flow's own work on top
        "scanned_latency_ratio": statistics.median(f for f, _ in scanned)
        / statistics.median(r for _, r in scanned),
        "totals_exact_share": exact_total / len(receipts),
        "dates_exact_share": exact_date / len(receipts),
        "created_share": created / len(receipts),
    }
    shutil.rmtree(work, ignore_errors=True)
    print(f"{len(receipts)} receipts x {passes} passes, {os.cpu_count()} cores")
    for key, value in figures.items():
        print(f"{key:24} {value:10.3f}")
    units = {
        k: "ratio"
        if k.endswith(("ratio", "share"))
        else "s"
        if k.endswith("_s")
        else "receipts/min"
        for k in figures
    }
    goals = {"totals_exact_share": ">= 0.95", "dates_exact_share": ">= 0.95"}
    return {"figures": {k: round(v, 3) for k, v in figures.items()}, "units": units, "goals": goals}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=24)
    parser.add_argument("--passes", type=int, default=2)
    args = parser.parse_args()
    found = measure(args.count, args.passes)
    print(json.dumps({"benchmark": "ocr", **found}))


if __name__ == "__main__":
    main()
