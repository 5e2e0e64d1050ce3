"""The rag step (issue 18, RAG preparation): lake tables, documents and OCR'd receipts
made into chunks of text in a gold table, run by a real Temporal worker. What a user
sees: the chunks are there with their metadata, personal data is not, a run again
changes nothing, a deleted row or file takes its chunks with it, and vectors are there
when an embedding connection is configured (an OpenAI-protocol server in the test:
no embeddings API can run here)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import yaml

from tests.support.embeddings_server import running_embeddings, vector_of
from tests.support.ingest import attempt_log, run_pipeline, step_context
from workbench_pipelines.ingest.rag import run_rag
from workbench_server.connections import ConnectionCreate, ConnectionService
from workbench_server.errors import (
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    SourceUnavailableError,
)
from workbench_server.lake import Lake
from workbench_server.pipelines.registry import PipelineRegistry
from workbench_server.principal import Principal, local_principal
from workbench_server.rag.chunking import chunk_id

NOTE_1 = "Prefers e-mail: ann.perrin@example.com. Refund to IBAN DE89 3704 0044 0532 0130 00."
NOTE_2 = " ".join(
    f"Visit {i}: discussed the invoice, call back on +33 6 12 34 56 78." for i in range(8)
)
CUSTOMERS = {
    "id": [1, 2, 3],
    "name": ["Ann Perrin", "Bob Stone", "Cid Moreau"],
    "email": ["ann@perrin.example", "bob@stone.example", "cid@moreau.example"],
    "city": ["Lyon", "Brest", "Nantes"],
    "note": [NOTE_1, NOTE_2, "Pays on time."],
}
SECRETS = [
    "ann@perrin.example", "bob@stone.example", "cid@moreau.example", "Lyon", "Brest", "Nantes",
    "ann.perrin@example.com", "DE89", "0532 0130", "12 34 56 78",
]  # fmt: skip
HANDBOOK = "# Expenses\n\nReceipts go to expenses@acme.example within 30 days.\n"
PIPELINE = """\
name: {name}
steps:
  - id: chunks
    kind: rag
    target: gold.rag_chunks
    chunk_size: 200
    chunk_overlap: 20
    sources:
      - table: silver.customers
        template: "Customer {{name}} ({{email}}) in {{city}}: {{note}}"
      - documents: docs/handbook{embedding}
"""


def _pdf(path: Path, lines: list[str]) -> None:
    """A PDF with a text layer (reportlab, its built-in Helvetica)."""
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path))
    for i, line in enumerate(lines):
        pdf.drawString(72, 760 - 16 * i, line)
    pdf.showPage()
    pdf.save()


def _deploy(workbench: Any, tmp_path: Path, name: str, embedding: str = "") -> None:
    folder = tmp_path / name
    folder.mkdir()
    extra = f"\n    embedding: {embedding}" if embedding else ""
    (folder / "pipeline.yaml").write_text(PIPELINE.format(name=name, embedding=extra))
    PipelineRegistry(workbench, local_principal()).deploy(folder / "pipeline.yaml")


def _sources(workbench: Any) -> tuple[Lake, Path]:
    lake = Lake.default(workbench.settings)
    lake.write("silver.customers", pa.table(CUSTOMERS), mode="overwrite")
    docs = Path(lake.location.root) / "docs" / "handbook"
    docs.mkdir(parents=True)
    (docs / "expenses.md").write_text(HANDBOOK)
    # A link to a file outside the lake is not followed (the worker's own files).
    outside = docs.parents[3] / "outside.txt"
    outside.write_text("worker secret")
    (docs / "linked.txt").symlink_to(outside)
    _pdf(docs / "refunds.pdf", ["Refunds are paid within 14 days.", "Ask finance@acme.example."])
    return lake, docs


def _chunks(lake: Lake) -> list[dict[str, Any]]:
    return sorted(lake.read("gold.rag_chunks").to_pylist(), key=lambda r: r["chunk_id"])


def _run(workbench: Any, name: str, temporal_address: str, task_queue: str) -> Any:
    run = run_pipeline(workbench, local_principal(), name, temporal_address, task_queue)
    assert run.status == "succeeded", [(a.step_id, a.error) for a in run.attempts]
    return run


def test_a_pipeline_makes_chunks_without_pii_and_keeps_them_in_step_with_the_sources(
    tmp_path: Path, workbench: Any, worker: Any, temporal_address: str, task_queue: str
) -> None:
    lake, docs = _sources(workbench)
    _deploy(workbench, tmp_path, "rag_prep")
    first = _run(workbench, "rag_prep", temporal_address, task_queue)

    chunks = _chunks(lake)
    by_source = {(c["source"], c["source_key"]) for c in chunks}
    assert by_source == {
        ("silver.customers", "id=1"),
        ("silver.customers", "id=2"),
        ("silver.customers", "id=3"),
        ("documents:docs/handbook", "expenses.md"),
        ("documents:docs/handbook", "refunds.pdf"),
    }
    # Bob's long note is several chunks of at most 200 characters, overlapping.
    bob = [c for c in chunks if c["source_key"] == "id=2"]
    assert len(bob) > 2 and all(len(c["text"]) <= 200 for c in chunks)
    assert sorted(c["chunk_index"] for c in bob) == list(range(len(bob)))
    # Ids are the hash of source, key and chunk number: the same every run.
    assert chunk_id("silver.customers", "id=2", 1) in {c["chunk_id"] for c in bob}
    # The PDF's text layer and the Markdown are read.
    text = "\n".join(c["text"] for c in chunks)
    assert "Refunds are paid within 14 days." in text and "# Expenses" in text
    assert "worker secret" not in text
    log = attempt_log(workbench.settings.home, first.id, "chunks")
    assert "skipped linked.txt: a link to outside the lake" in log
    # PII: the pii-tagged columns (email; city, in a table about customers) are left out,
    # e-mails, the IBAN and phone numbers in free text are replaced.
    assert not [s for s in SECRETS if s in text], [s for s in SECRETS if s in text]
    ann = next(c for c in chunks if c["source_key"] == "id=1" and c["chunk_index"] == 0)
    assert ann["text"].startswith("Customer Ann Perrin ([pii]) in [pii]: Prefers e-mail: [email]")
    assert "[iban]" in text and "[phone]" in text and "[email] within 30 days" in text
    meta = json.loads(ann["metadata"])
    assert meta["table"] == "silver.customers" and meta["key"] == {"id": 1}
    assert meta["columns"] == ["name", "note"] and meta["pii_left_out"] == ["email", "city"]
    assert meta["redacted"] == {"email": 1, "iban": 1}
    assert ann["source_version"] == lake.version("silver.customers")
    pdf = next(c for c in chunks if c["source_key"] == "refunds.pdf")
    assert json.loads(pdf["metadata"])["path"] == "docs/handbook/refunds.pdf"
    assert all(c["embedding"] is None for c in chunks)  # no embedding connection: none
    version = lake.version("gold.rag_chunks")
    # The run recorded what it read and wrote (lineage: silver.customers -> the chunks).
    from workbench_server.lineage.service import LineageService

    graph = LineageService(workbench, local_principal()).graph("lake", "gold.rag_chunks")
    assert "silver.customers" in {d.name for d in graph.datasets}

    # Again over the same sources: nothing changes, no new version.
    second = _run(workbench, "rag_prep", temporal_address, task_queue)
    assert lake.version("gold.rag_chunks") == version and _chunks(lake) == chunks
    assert "unchanged" in attempt_log(workbench.settings.home, second.id, "chunks")

    # A customer deleted, another's note changed, a document removed.
    lake.delete("silver.customers", "id = 3")
    lake.update("silver.customers", {"note": "'Moved; no phone.'"}, "id = 1")
    (docs / "expenses.md").unlink()
    _run(workbench, "rag_prep", temporal_address, task_queue)
    after = _chunks(lake)
    keys = {c["source_key"] for c in after}
    assert "id=3" not in keys and "expenses.md" not in keys
    assert [c["text"] for c in after if c["source_key"] == "id=1"] == [
        "Customer Ann Perrin ([pii]) in [pii]: Moved; no phone."
    ]
    # Bob's chunks did not change: left as the first run wrote them.
    assert [c for c in after if c["source_key"] == "id=2"] == bob
    assert {c["run_id"] for c in after if c["source_key"] == "id=2"} == {first.id}
    assert lake.version("gold.rag_chunks") == version + 1


def test_vectors_are_added_with_an_embedding_connection_batched_and_retried(
    tmp_path: Path, workbench: Any, worker: Any, temporal_address: str, task_queue: str
) -> None:
    lake, _ = _sources(workbench)
    with running_embeddings() as api:
        api.fail_next = 1  # the first request is answered 503: retried
        ConnectionService(workbench, local_principal()).create(
            ConnectionCreate(
                name="vectors",
                settings={
                    "kind": "embedding",
                    "url": api.url,
                    "model": api.model,
                    "api_key": api.key,
                    "batch_size": 4,
                },
            )
        )
        _deploy(workbench, tmp_path, "rag_vectors", embedding="vectors")
        run = _run(workbench, "rag_vectors", temporal_address, task_queue)
        chunks = _chunks(lake)
        assert chunks and all(c["embedding_model"] == api.model for c in chunks)
        for chunk in chunks:  # each chunk's own vector, in order
            assert chunk["embedding"] == pytest.approx(vector_of(chunk["text"]), abs=1e-6)
        assert api.statuses[0] == 503 and all(len(r["input"]) <= 4 for r in api.requests)
        assert sum(len(r["input"]) for r in api.requests) == len(chunks)
        log = attempt_log(workbench.settings.home, run.id, "chunks")
        assert "1 retried" in log and api.key not in log
        # The key is write-only: never shown back.
        shown = ConnectionService(workbench, local_principal()).get("vectors")
        assert api.key not in json.dumps(shown.model_dump(mode="json"))

        # Nothing changed: no chunk is sent again.
        sent = len(api.requests)
        _run(workbench, "rag_vectors", temporal_address, task_queue)
        assert len(api.requests) == sent
        # One changed row: only its chunk is embedded.
        lake.update("silver.customers", {"note": "'Pays late.'"}, "id = 3")
        _run(workbench, "rag_vectors", temporal_address, task_queue)
        assert [r["input"] for r in api.requests[sent:]] == [
            ["Customer Cid Moreau ([pii]) in [pii]: Pays late."]
        ]


def _embedding(workbench: Any, name: str, url: str, key: str, model: str) -> None:
    ConnectionService(workbench, local_principal()).create(
        ConnectionCreate(
            name=name, settings={"kind": "embedding", "url": url, "model": model, "api_key": key}
        )
    )


def test_an_embedding_api_that_refuses_or_is_down_fails_the_step_naming_the_connection(
    workbench: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import workbench_server.rag.embeddings as embeddings

    monkeypatch.setattr(embeddings, "FIRST_PAUSE_S", 0.01)
    me = local_principal()
    lake = Lake.default(workbench.settings)
    lake.write("silver.customers", pa.table(CUSTOMERS), mode="overwrite")
    config = {"target": "gold.rag_chunks", "sources": [{"table": "silver.customers"}]}
    with running_embeddings() as api:
        _embedding(workbench, "wrong_key", api.url, "sk-wrong", api.model)
        _embedding(workbench, "no_model", api.url, api.key, "no-such-model")
        with pytest.raises(InvalidInputError) as refused:
            run_rag(step_context(workbench, me, "rag", {**config, "embedding": "wrong_key"}))
        assert str(refused.value) == (
            f"embedding connection 'wrong_key' ({api.url}/embeddings) answered HTTP 401: "
            "Incorrect API key provided."
        )
        with pytest.raises(InvalidInputError, match=r"'no_model'.*HTTP 404: The model"):
            run_rag(step_context(workbench, me, "rag", {**config, "embedding": "no_model"}))
        url = api.url
    _embedding(workbench, "down", url, "sk-x", "m")  # the server is stopped now
    with pytest.raises(SourceUnavailableError, match=r"'down'.*failed 4 time.*no answer"):
        run_rag(step_context(workbench, me, "rag", {**config, "embedding": "down"}))
    ConnectionService(workbench, me).create(
        ConnectionCreate(name="files", settings={"kind": "duckdb"})
    )
    with pytest.raises(InvalidInputError, match="'files' is a duckdb connection; embedding"):
        run_rag(step_context(workbench, me, "rag", {**config, "embedding": "files"}))
    with pytest.raises(NotFoundError):
        run_rag(step_context(workbench, me, "rag", {**config, "embedding": "nobody_has"}))
    # None of it wrote a table.
    assert not lake.exists("gold.rag_chunks")


def test_pii_columns_are_kept_only_when_asked_by_someone_who_may_see_them(workbench: Any) -> None:
    lake = Lake.default(workbench.settings)
    lake.write("silver.customers", pa.table(CUSTOMERS), mode="overwrite")
    source = {"table": "silver.customers", "columns": ["name", "email"], "include_pii": True}
    config = {"target": "gold.rag_chunks", "sources": [source]}
    bob = Principal(name="bob", admin=False)
    with pytest.raises(PermissionDeniedError, match=r"include_pii on silver\.customers"):
        run_rag(step_context(workbench, bob, "rag", config))
    assert not lake.exists("gold.rag_chunks")
    run_rag(step_context(workbench, local_principal(), "rag", config))
    texts = {c["source_key"]: c["text"] for c in _chunks(lake)}
    assert texts["id=1"] == "name: Ann Perrin\nemail: [email]"  # kept, and still redacted
    (meta,) = {c["metadata"] for c in _chunks(lake) if c["source_key"] == "id=1"}
    assert json.loads(meta)["pii_included"] == ["email"]
    # Without include_pii the column is left out of 'column: value' text altogether.
    run_rag(
        step_context(
            workbench, bob, "rag", {**config, "sources": [{**source, "include_pii": False}]}
        )
    )
    assert {c["text"] for c in _chunks(lake)} == {f"name: {n}" for n in CUSTOMERS["name"]}


def test_receipts_text_from_ocr_in_words_with_their_fields(workbench: Any) -> None:
    lake = Lake.default(workbench.settings)
    lines = ["ACME Office Supplies", "Contact: shop@acme.example", "Total 42.50 EUR"]
    ocr = {"engine": "rapidocr", "lines": [{"text": t, "confidence": 0.9} for t in lines]}
    lake.write(
        "bronze.ocr_documents",
        pa.table({"document_id": ["d1"], "file_name": ["r1.pdf"], "ocr": [json.dumps(ocr)]}),
    )
    lake.write(
        "silver.ocr_expenses",
        pa.table({"document_id": ["d1"], "file_name": ["r1.pdf"], "vendor": ["ACME"],
                  "date": ["2026-11-30"], "total": ["42.50"], "currency": ["EUR"],
                  "status": ["created"]}),
    )  # fmt: skip
    config = {
        "target": "gold.receipt_chunks",
        "sources": [{"receipts": True}],
        "chunk_unit": "tokens",
        "chunk_size": 20,
        "chunk_overlap": 4,
    }
    ctx = step_context(workbench, local_principal(), "rag", config)
    run_rag(ctx)
    (chunk,) = lake.read("gold.receipt_chunks").to_pylist()
    assert chunk["text"] == "ACME Office Supplies\nContact: [email]\nTotal 42.50 EUR"
    meta = json.loads(chunk["metadata"])
    assert (meta["vendor"], meta["total"], meta["document_id"]) == ("ACME", "42.50", "d1")
    assert {t.table for t in ctx.tables if t.access == "read"} == {
        "bronze.ocr_documents",
        "silver.ocr_expenses",
    }


def _errors(tmp_path: Path, text: str) -> list[str]:
    from workbench_pipelines.validate import validate_text

    found = validate_text(textwrap.dedent(text).lstrip(), notebook_folder=tmp_path, kernels=False)
    return [str(e).removeprefix("<pipeline>:") for e in found]


def test_a_wrong_rag_step_says_file_line_and_field(tmp_path: Path) -> None:
    text = """
    name: k
    steps:
      - id: a
        kind: rag
        target: gold.chunks
        sources:
          - {table: silver.customers, template: "Hello {name.upper}"}
          - {documents: ../secrets}
          - {receipts: true, columns: [x]}
          - {table: silver.a, documents: docs}
    """
    assert _errors(tmp_path, text) == [
        "7:45: steps[0].sources[0].template: template: '{name.upper}' is not a column "
        "placeholder: write {column} with a column's name, and {{ or }} for a literal brace",
        "8:21: steps[0].sources[1].documents: documents '../secrets': write a folder inside "
        "the lake, relative to its root, e.g. docs/handbook (letters, digits, _, -, . and "
        "spaces; no ..)",
        "9:9: steps[0].sources[2]: columns go with a table source, not receipts",
        "10:9: steps[0].sources[3]: give one of table, documents or receipts: true (this "
        "source gives table and documents)",
    ]
    text = """
    name: k
    steps:
      - id: a
        kind: rag
        target: silver.chunks
        sources: [{table: silver.a}]
    """
    assert _errors(tmp_path, text) == [
        "3:5: steps[0]: target 'silver.chunks': chunks go to a gold table"
    ]
    # A valid one reads back from its JSON (as a deployed version is stored) the same.
    from workbench_pipelines.spec import PipelineSpec

    spec = PipelineSpec.model_validate(yaml.safe_load(PIPELINE.format(name="p", embedding="")))
    assert PipelineSpec.model_validate(json.loads(spec.model_dump_json())) == spec
    text = """
    name: k
    steps:
      - id: a
        kind: rag
        target: gold.chunks
        sources: [{table: silver.a}]
        redact: [email, passport]
    """
    assert _errors(tmp_path, text) == [
        "7:21: steps[0].redact[1]: expected 'email', 'iban' or 'phone', got 'passport'"
    ]
    text = text.replace("redact: [email, passport]", "chunk_size: 100\n        chunk_overlap: 100")
    assert _errors(tmp_path, text) == [
        "3:5: steps[0]: chunk_overlap must be smaller than chunk_size"
    ]


def test_deploy_checks_the_embedding_connection(tmp_path: Path, workbench: Any) -> None:
    from workbench_pipelines.validate import PipelineSpecError

    ConnectionService(workbench, local_principal()).create(
        ConnectionCreate(name="files", settings={"kind": "duckdb"})
    )
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "pipeline.yaml").write_text(
        "name: p\nsteps:\n  - id: a\n    kind: rag\n    target: gold.c\n"
        "    sources: [{table: silver.a}]\n    embedding: files\n"
    )
    with pytest.raises(PipelineSpecError) as refused:
        PipelineRegistry(workbench, local_principal()).deploy(folder / "pipeline.yaml")
    assert [f"{e.line}: {e.path}: {e.message}" for e in refused.value.errors] == [
        "7: steps[0].embedding: connection 'files' is a duckdb connection; embedding takes "
        "an embedding connection"
    ]


def test_the_connection_test_embeds_one_text() -> None:
    import asyncio

    from workbench_server.connections.kinds import EmbeddingConfig
    from workbench_server.connections.probes import probe

    with running_embeddings() as api:
        good = EmbeddingConfig(url=api.url, model=api.model, api_key=api.key)
        result = asyncio.run(probe("vectors", good, timeout=10))
        assert result.ok, result.message
        assert api.requests[-1]["input"] == ["connection test"]
        bad = good.model_copy(update={"api_key": None})
        result = asyncio.run(probe("vectors", bad, timeout=10))
        assert (result.ok, result.reason) == (False, "authentication_failed")
        assert "HTTP 401" in result.message and "'vectors'" in result.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail jane.doe@example.co.uk now", "mail [email] now"),
        (
            "IBAN DE89 3704 0044 0532 0130 00 AND GB82 WEST 1234 5698 7654 32",
            "IBAN [iban] AND [iban]",
        ),
        ("REF AB12 DE89370400440532013000.", "REF AB12 [iban]."),
        ("call 0612345678 0698765432 or (030) 1234-5678", "call [phone] [phone] or [phone]"),
        # Look-alikes stay: a reference failing the IBAN checksum, dates, amounts, ids.
        ("ref AB12 3456 7890 1234 of 2026-12-07: 1 234.50 EUR, order 00123", None),
        ("INV/2026/0001 and XDE89370400440532013000", None),
    ],
)
def test_free_text_redaction_finds_what_it_says_and_keeps_look_alikes(
    text: str, expected: str | None
) -> None:
    from workbench_server.rag.redaction import redact

    assert redact(text)[0] == (text if expected is None else expected)


def test_documents_and_tables_of_a_lake_in_s3(workbench: Any, s3_endpoint: str) -> None:
    """A lake connection to an S3 bucket (moto): the folder is a prefix, read through the
    lake's own filesystem; its table is read and the chunks written there."""
    import uuid

    import boto3

    me = local_principal()
    bucket = f"rag-{uuid.uuid4().hex[:10]}"
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="wb-key",
        aws_secret_access_key="wb-secret",
        region_name="us-east-1",
    )
    s3.create_bucket(Bucket=bucket)
    ConnectionService(workbench, me).create(
        ConnectionCreate(
            name="s3lake",
            settings={
                "kind": "lake",
                "location": f"s3://{bucket}/finance",
                "endpoint_url": s3_endpoint,
                "access_key_id": "wb-key",
                "secret_access_key": "wb-secret",
            },
        )
    )
    lake = Lake.of(workbench, me, "s3lake")
    lake.write("silver.customers", pa.table(CUSTOMERS), mode="overwrite")
    s3.put_object(Bucket=bucket, Key="finance/docs/policy.txt", Body=b"Pay within 30 days.")
    s3.put_object(
        Bucket=bucket, Key="finance/docs/sub/more.md", Body=b"# More\nCall +44 20 7946 0958"
    )
    config = {
        "target": "gold.rag_chunks",
        "lake": "s3lake",
        "sources": [{"table": "silver.customers", "columns": ["name"]}, {"documents": "docs"}],
    }
    run_rag(step_context(workbench, me, "rag", config))
    texts = {c["source_key"]: c["text"] for c in lake.read("gold.rag_chunks").to_pylist()}
    assert texts == {
        "id=1": "name: Ann Perrin",
        "id=2": "name: Bob Stone",
        "id=3": "name: Cid Moreau",
        "policy.txt": "Pay within 30 days.",
        "sub/more.md": "# More\nCall [phone]",
    }
    assert not Lake.default(workbench.settings).exists("gold.rag_chunks")


def test_a_pii_key_is_refused_rather_than_written_into_every_chunk(workbench: Any) -> None:
    """A contacts list from a spreadsheet has no id: keyed by its e-mail column (tagged
    pii), the addresses would be each chunk's source_key and metadata, in a gold table
    every user of the lake reads, while the text says the column was left out."""
    lake = Lake.default(workbench.settings)
    lake.write("silver.customers", pa.table(CUSTOMERS), mode="overwrite")
    source = {"table": "silver.customers", "keys": ["email"], "columns": ["name", "note"]}
    config = {"target": "gold.rag_chunks", "sources": [source]}
    bob = Principal(name="bob", admin=False)
    with pytest.raises(InvalidInputError, match=r"keys.*email.*pii") as refused:
        run_rag(step_context(workbench, bob, "rag", config))
    assert "ann@perrin.example" not in str(refused.value)
    assert not lake.exists("gold.rag_chunks")
    # Asked for by someone who may see it, the key is kept, and said so in each chunk.
    keep = {"target": "gold.rag_chunks", "sources": [{**source, "include_pii": True}]}
    run_rag(step_context(workbench, local_principal(), "rag", keep))
    chunks = _chunks(lake)
    assert "email=ann@perrin.example" in {c["source_key"] for c in chunks}
    assert all(json.loads(c["metadata"])["pii_included"] == ["email"] for c in chunks)
