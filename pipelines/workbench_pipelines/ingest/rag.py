"""The rag step: lake tables, documents and receipts made into chunks of text (with
metadata, personal data left out, vectors when an embedding connection is given) in a
gold table, kept in step with its sources by chunk id.

Each run reads every source (tables as of their version now), redacts each text
(:mod:`workbench_server.rag.redaction`), cuts it (:mod:`workbench_server.rag.chunking`)
and compares the chunks with the target's: a chunk whose id is new, or whose text or
metadata changed, is written; a chunk of the target no source gives any more (a deleted
row or file, a text now shorter, a source taken out of the step) is deleted; the others
are left as they are, with their vectors. All of it is one merge commit by chunk id, or
no commit at all when nothing changed, so a run again over the same sources changes
nothing. Only the written chunks are sent to the embeddings API.

The target belongs to the step: chunks of sources the step no longer names are removed.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import TYPE_CHECKING, Any

from workbench_server.errors import InvalidInputError

from ..spec_steps import RagStep
from .context import StepContext
from .rag_sources import SourceRead, SourceText, read_source

if TYPE_CHECKING:
    import pyarrow as pa

    from workbench_server.lake import Lake
    from workbench_server.rag.embeddings import EmbeddingClient

DELETE = "d"
MARKER = "_op"
MAX_CHUNKS = 2_000_000


def chunk_schema() -> pa.Schema:
    """The target table's columns (``embedding`` null without an embedding connection)."""
    import pyarrow as pa

    return pa.schema(
        [
            ("chunk_id", pa.string()),
            ("source", pa.string()),
            ("source_key", pa.string()),
            ("chunk_index", pa.int32()),
            ("text", pa.string()),
            ("metadata", pa.string()),
            ("source_version", pa.int64()),
            ("content_sha256", pa.string()),
            ("embedding", pa.list_(pa.float32())),
            ("embedding_model", pa.string()),
            ("run_id", pa.string()),
            ("prepared_at", pa.timestamp("us", tz="UTC")),
        ]
    )


def run_rag(ctx: StepContext) -> None:
    spec = RagStep.model_validate({**ctx.config, "id": ctx.step_id, "kind": "rag"})
    lake = ctx.lake(spec.lake)
    ctx.progress.table = spec.target
    embedder = _embedder(ctx, spec)
    reads: list[SourceRead] = []
    for source in spec.sources:
        ctx.progress.check()
        read = read_source(ctx, lake, source, ctx.step_id)
        reads.append(read)
        ctx.log(
            f"{source.label}: {len(read.texts)} text(s)"
            + (f", columns {', '.join(read.columns)}" if read.columns else "")
            + (f", pii left out: {', '.join(read.pii_left_out)}" if read.pii_left_out else "")
        )
        for skipped in read.skipped:
            ctx.log(f"{source.label}: skipped {skipped}")
    chunks, redacted = _chunks(ctx, spec, reads)
    existing = _existing(lake, spec.target)
    changed = [
        c
        for c in chunks
        if (found := existing.get(c["chunk_id"])) is None
        or found != (c["content_sha256"], embedder.model if embedder else None)
    ]
    wanted = {c["chunk_id"] for c in chunks}
    gone = sorted(k for k in existing if k not in wanted)
    if embedder is not None and changed:
        ctx.progress.table = f"{spec.target} (embedding {len(changed)} chunks)"
        vectors = embedder.embed([c["text"] for c in changed])
        for chunk, vector in zip(changed, vectors, strict=True):
            chunk["embedding"], chunk["embedding_model"] = vector, embedder.model
        ctx.progress.table = spec.target
    summary = (
        f"{len(chunks)} chunk(s): {len(changed)} new or changed, {len(gone)} removed"
        + (f"; redacted {_counts(redacted)}" if redacted else "")
        + (
            f"; {embedder.requests} embedding request(s) to {spec.embedding}"
            + (f" ({embedder.retries} retried)" if embedder.retries else "")
            if embedder is not None and embedder.requests
            else ""
        )
    )
    if not changed and not gone:
        ctx.log(f"{summary} -> {spec.target}: unchanged")
        ctx.stats[spec.target] = {"chunks": len(chunks), "changed": 0, "removed": 0}
        _record_lineage(ctx, lake, spec, reads)
        return
    result = lake.write(
        spec.target,
        _changes(changed, gone, ctx),
        mode="merge",
        keys=["chunk_id"],
        delete_marker=_marker(),
        writer=ctx.writer,
    )
    ctx.wrote(lake, result)
    _record_lineage(ctx, lake, spec, reads)
    ctx.log(f"{summary} -> {spec.target}: version {result.version}")
    ctx.stats[spec.target] = {
        "version": result.version,
        "chunks": len(chunks),
        "changed": len(changed),
        "removed": len(gone),
    }


def _embedder(ctx: StepContext, spec: RagStep) -> EmbeddingClient | None:
    if spec.embedding is None:
        return None
    from workbench_server.connections.kinds import EmbeddingConfig
    from workbench_server.rag.embeddings import EmbeddingClient

    cfg = ctx.connection(spec.embedding)  # not the owner's to use: not found
    if not isinstance(cfg, EmbeddingConfig):
        raise InvalidInputError(
            f"rag step {ctx.step_id}: connection {spec.embedding!r} is a {cfg.kind} "
            "connection; embedding takes an embedding connection"
        )
    return EmbeddingClient(spec.embedding, cfg, check=ctx.progress.check)


def _chunks(
    ctx: StepContext, spec: RagStep, reads: list[SourceRead]
) -> tuple[list[dict[str, Any]], Counter[str]]:
    from workbench_server.rag.chunking import chunk_id, chunk_text
    from workbench_server.rag.redaction import redact

    settings = {"size": spec.chunk_size, "overlap": spec.chunk_overlap, "unit": spec.chunk_unit}
    redacted: Counter[str] = Counter()
    chunks: list[dict[str, Any]] = []
    owners: dict[str, SourceText] = {}
    for read in reads:
        for item in read.texts:
            ctx.progress.check()
            text, found = redact(item.text, spec.redact)
            redacted.update(found)
            pieces = chunk_text(text, spec.chunk_size, spec.chunk_overlap, spec.chunk_unit)
            # The text's metadata is serialised once; each chunk adds its own part (one
            # json.dumps per chunk of the whole was a fifth of the step).
            shared = {
                **item.metadata,
                "source": item.source,
                "source_key": item.key,
                **({"redacted": dict(found)} if found else {}),
            }
            rest = json.dumps(shared, sort_keys=True, ensure_ascii=False)[1:]
            for piece in pieces:
                cid = chunk_id(item.source, item.key, piece.index)
                if cid in owners:
                    raise InvalidInputError(
                        f"rag step {ctx.step_id}: {item.source} gives key {item.key} more "
                        "than once; give keys that identify a row"
                    )
                owners[cid] = item
                place = {
                    "index": piece.index,
                    "of": len(pieces),
                    "start": piece.start,
                    "end": piece.end,
                    **settings,
                }
                text_json = '{"chunk": ' + json.dumps(place, sort_keys=True) + ", " + rest
                chunks.append(
                    {
                        "chunk_id": cid,
                        "source": item.source,
                        "source_key": item.key,
                        "chunk_index": piece.index,
                        "text": piece.text,
                        "metadata": text_json,
                        "source_version": item.version,
                        # The version read is left out: a table written again with this
                        # row as it was does not make its chunks new (nor re-embedded).
                        "content_sha256": hashlib.sha256(
                            f"{piece.text}\x1f{text_json}".encode()
                        ).hexdigest(),
                        "embedding": None,
                        "embedding_model": None,
                    }
                )
            ctx.progress.rows = len(chunks)
            if len(chunks) > MAX_CHUNKS:
                raise InvalidInputError(
                    f"rag step {ctx.step_id}: more than {MAX_CHUNKS} chunks; use larger "
                    "chunks or split the sources over several steps"
                )
    return chunks, redacted


def _existing(lake: Lake, target: str) -> dict[str, tuple[str, str | None]]:
    """The target's chunks: id -> (content hash, model of its vector or None)."""
    if not lake.exists(target):
        return {}
    rows = lake.read(target, columns=["chunk_id", "content_sha256", "embedding_model"])
    ids, hashes, models = (rows.column(i).to_pylist() for i in range(3))
    return {i: (h, m) for i, h, m in zip(ids, hashes, models, strict=True)}


def _changes(changed: list[dict[str, Any]], gone: list[str], ctx: StepContext) -> pa.Table:
    import pyarrow as pa

    rows = sorted(changed, key=lambda c: c["chunk_id"])
    schema = chunk_schema().append(pa.field(MARKER, pa.string()))
    given = {"run_id": ctx.run_id, "prepared_at": ctx.started, MARKER: None}
    columns = []
    for field in schema:  # column by column: from_pylist of dicts cost a tenth of the step
        values = (
            [given[field.name]] * len(rows)
            if field.name in given
            else [c[field.name] for c in rows]
        )
        if field.name == "chunk_id":
            values += gone
        elif field.name == MARKER:
            values += [DELETE] * len(gone)
        else:
            values += [None] * len(gone)
        columns.append(pa.array(values, type=field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def _marker() -> Any:
    from workbench_server.lake.models import DeleteMarker

    return DeleteMarker(column=MARKER, value=DELETE)


def _record_lineage(ctx: StepContext, lake: Lake, spec: RagStep, reads: list[SourceRead]) -> None:
    """The chunks' text from the table columns it holds (an expression of them)."""
    from workbench_server.lineage.statements import ColumnSource, SqlLineage, StatementLineage

    from .lineage import context_of, record

    tables = [t for read in reads for t in read.tables]
    if not tables:
        return
    text = [
        ColumnSource(table, column, "expression")
        for read in reads
        for table in read.tables[:1]
        for column in read.columns
    ]
    found = SqlLineage(
        [StatementLineage("insert", tables, [spec.target], {"text": text} if text else {})]
    )
    record(ctx, found, context_of(lake), f"rag {', '.join(tables)}")


def _counts(found: Counter[str]) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in sorted(found.items()))
