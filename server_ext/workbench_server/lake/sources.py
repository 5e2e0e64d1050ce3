"""The data a write takes, as Arrow: read once (a stream) or again (a table, a spool).

A stream (RecordBatchReader, DuckDB relation, anything with ``__arrow_c_stream__``) is
written batch by batch with bounded memory. Operations that may have to run again after
a commit conflict (merge, overwrite, SCD2) need to read their source again: a stream is
then spooled to a local Parquet file first, batch by batch too.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import InvalidInputError

BATCH_ROWS = 64 * 1024


class Source:
    """Arrow data to write; :meth:`open` gives it (again, if :attr:`replayable`)."""

    def __init__(self, data: Any) -> None:
        self.table: pa.Table | None = None
        self._stream: pa.RecordBatchReader | None = None
        self._spool: Path | None = None
        self.error: BaseException | None = None  # what the caller's stream raised
        if isinstance(data, pa.Table):
            self.table = data
        elif isinstance(data, pa.RecordBatch):
            self.table = pa.Table.from_batches([data])
        elif isinstance(data, pa.RecordBatchReader):
            self._stream = data
        elif _is_pandas(data):
            self.table = pa.Table.from_pandas(data, preserve_index=False)
        elif hasattr(data, "to_arrow_reader"):  # a DuckDB relation: streamed
            self._stream = data.to_arrow_reader(BATCH_ROWS)
        elif hasattr(data, "__arrow_c_stream__"):  # polars, arro3, another engine
            self._stream = pa.RecordBatchReader.from_stream(data)
        else:
            raise InvalidInputError(
                f"cannot write a {type(data).__name__}: give an Arrow table or record batch "
                "reader, a pandas DataFrame or a DuckDB relation"
            )
        given = (self.table if self.table is not None else self._stream).schema
        self.schema: pa.Schema = delta_schema(given)
        if self.schema != given:  # types Delta has no equal of, cast to the nearest it has
            if self.table is not None:
                self.table = self.table.cast(self.schema)
            else:
                stream, target = self._stream, self.schema
                self._stream = pa.RecordBatchReader.from_batches(
                    target, (batch.cast(target) for batch in stream)
                )

    @property
    def replayable(self) -> bool:
        return self._stream is None

    @property
    def spool_path(self) -> str | None:
        """The local Parquet file a stream was spooled to (DuckDB reads it directly)."""
        return str(self._spool) if self._spool is not None else None

    def open(self) -> pa.Table | pa.RecordBatchReader:
        """The data: the table, the spooled file's batches, or the stream (once)."""
        if self.table is not None:
            return self.table
        if self._spool is not None:
            # Here, not at the top: pyarrow.dataset imports pandas (0.3-1 s, 110 MB), which
            # a kernel that only reads the lake never needs.
            import pyarrow.dataset as pads

            return (
                pads.dataset(self._spool, format="parquet")
                .scanner(batch_size=BATCH_ROWS)
                .to_reader()
            )
        stream, self._stream = self._stream, None
        if stream is None:
            raise RuntimeError("a stream can be written once; spool it to write it again")
        return pa.RecordBatchReader.from_batches(stream.schema, self._guarded(stream))

    def spool(self) -> None:
        """Make a stream replayable: write it to a local Parquet file, batch by batch."""
        if self.replayable:
            return
        folder = Path(tempfile.mkdtemp(prefix="workbench-lake-"))
        path = folder / "source.parquet"
        reader = self.open()
        try:
            with pq.ParquetWriter(path, reader.schema) as out:
                for batch in reader:
                    out.write_batch(batch)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            self.raise_caller_error()
            raise
        self._spool = path

    def _guarded(self, stream: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
        """The stream's batches; an error it raises is kept to be raised as itself (the
        writer sees it only as a failed Arrow stream)."""
        try:
            yield from stream
        except BaseException as exc:
            self.error = exc
            raise

    def raise_caller_error(self) -> None:
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        if self._spool is not None:
            shutil.rmtree(self._spool.parent, ignore_errors=True)
            self._spool = None

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_pandas(data: Any) -> bool:
    module = type(data).__module__
    return module.startswith("pandas") and hasattr(data, "to_records")


def delta_type(kind: pa.DataType) -> pa.DataType:
    """The type a column of ``kind`` is written as: Delta has no unsigned integers (an
    unsigned value would wrap in the signed type of its width), no time of day, and
    timestamps in microseconds, zoned in UTC or not at all."""
    if pa.types.is_unsigned_integer(kind):
        return {8: pa.int16(), 16: pa.int32(), 32: pa.int64()}.get(
            kind.bit_width, pa.decimal128(20, 0)
        )
    if pa.types.is_timestamp(kind):
        return pa.timestamp("us", "UTC" if kind.tz is not None else None)
    if pa.types.is_time(kind):
        return pa.string()
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return pa.list_(pa.field("element", delta_type(kind.value_type), True))
    if pa.types.is_struct(kind):
        return pa.struct([f.with_type(delta_type(f.type)) for f in kind])
    return kind


def delta_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` with each column's type as Delta stores it (:func:`delta_type`)."""
    return pa.schema([f.with_type(delta_type(f.type)) for f in schema], metadata=schema.metadata)
