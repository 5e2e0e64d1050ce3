"""Arrow streams handed to the lake library: counted for heartbeats, stopped on demand."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from .context import Progress


def counted(reader: pa.RecordBatchReader, progress: Progress) -> pa.RecordBatchReader:
    """``reader``'s batches, counted into ``progress``; a stop ends the stream with
    :class:`~.context.StepStopped`, so the write it feeds commits nothing."""

    def batches() -> Iterator[pa.RecordBatch]:
        for batch in reader:
            progress.check()
            progress.rows += batch.num_rows
            yield batch
        progress.check()

    return pa.RecordBatchReader.from_batches(reader.schema, batches())
