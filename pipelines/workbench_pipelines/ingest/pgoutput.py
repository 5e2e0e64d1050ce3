"""PostgreSQL's ``pgoutput`` logical replication messages, decoded.

Why here and not a library: the replication connection itself is psycopg2's
(``LogicalReplicationConnection``: the walsender protocol, keepalives, feedback), which
hands over each message's bytes. Of the PyPI decoders of those bytes, ``pypgoutput``
(0.0.3) has had no release since 2022, ``pypg-cdc`` is a 0.0.1 of 2023 and
``pgoutput-decoder`` (0.1.0, 2026) is a single early release that brings its own
connection handling rather than decoding bytes it is given. The format is small,
documented and stable ("Logical Replication Message Formats" in PostgreSQL's manual,
protocol version 1, unchanged since PostgreSQL 10): the messages below, in network byte
order, with NUL-terminated strings. Values arrive in their text form (PostgreSQL's
output functions, as ``COPY`` writes them); the extract turns them into exact types in
DuckDB.

Protocol version 1 only: no streamed in-progress transactions (``streaming`` off), so a
transaction's changes arrive after its ``Begin`` and before its ``Commit``, in commit
order.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
UNCHANGED = object()  # a TOASTed value the update left as it was ('u'): not sent


class DecodeError(ValueError):
    """Bytes that are not a pgoutput message of protocol version 1."""


@dataclass(frozen=True)
class RelColumn:
    name: str
    type_oid: int
    typmod: int
    key: bool  # part of the replica identity


@dataclass(frozen=True)
class Relation:
    oid: int
    namespace: str
    name: str
    replica_identity: str  # d default, n nothing, f full, i index
    columns: tuple[RelColumn, ...]

    @property
    def qualified(self) -> str:
        return f"{self.namespace}.{self.name}"


@dataclass(frozen=True)
class Begin:
    final_lsn: int
    committed_at: datetime
    xid: int


@dataclass(frozen=True)
class Commit:
    commit_lsn: int
    end_lsn: int
    committed_at: datetime


# A tuple's values: the UTF-8 bytes of each value's text form (decoded to text column by
# column, in Arrow), None for NULL, UNCHANGED for an unchanged TOASTed value.
Values = tuple[object, ...]


@dataclass(frozen=True)
class Change:
    op: str  # i, u, d
    relation: int
    new: Values | None = None  # inserts and updates
    old: Values | None = None  # deletes; updates whose key changed (or REPLICA IDENTITY FULL)
    old_is_key: bool = False  # old holds the key columns only (others None)


@dataclass(frozen=True)
class Truncate:
    relations: tuple[int, ...]
    cascade: bool = False
    restart_identity: bool = False


@dataclass(frozen=True)
class Other:
    """A message the extract has no use for (Origin, Type, logical Message)."""

    kind: str


Message = Begin | Commit | Relation | Change | Truncate | Other


@dataclass
class _Reader:
    data: bytes
    pos: int = 0
    _struct: dict[str, struct.Struct] = field(default_factory=dict)

    def take(self, fmt: str) -> int:
        s = self._struct.get(fmt) or self._struct.setdefault(fmt, struct.Struct("!" + fmt))
        if self.pos + s.size > len(self.data):
            raise DecodeError("message ends early")
        (value,) = s.unpack_from(self.data, self.pos)
        self.pos += s.size
        return value

    def byte(self) -> str:
        if self.pos >= len(self.data):
            raise DecodeError("message ends early")
        self.pos += 1
        return chr(self.data[self.pos - 1])

    def string(self) -> str:
        end = self.data.find(b"\0", self.pos)
        if end < 0:
            raise DecodeError("string without its terminating NUL")
        text = self.data[self.pos : end].decode("utf-8")
        self.pos = end + 1
        return text

    def raw(self, length: int) -> bytes:
        if self.pos + length > len(self.data):
            raise DecodeError("message ends early")
        out = self.data[self.pos : self.pos + length]
        self.pos += length
        return out

    def tuple_data(self) -> Values:
        values, self.pos = _tuple_data(self.data, self.pos)
        return values


_SHORT = struct.Struct("!h").unpack_from
_INT = struct.Struct("!i").unpack_from
_T, _N, _U, _B = (ord(c) for c in "tnub")


def _tuple_data(data: bytes, pos: int) -> tuple[Values, int]:
    """A TupleData at ``pos``: its values, and where it ends. The hot loop of a
    catch-up (every column of every row), so written flat: no method calls per value."""
    (count,) = _SHORT(data, pos)
    pos += 2
    values: list[object] = []
    append = values.append
    for _ in range(count):
        kind = data[pos]
        pos += 1
        if kind == _T or kind == _B:  # binary is not asked for; kept as bytes if it comes
            (length,) = _INT(data, pos)
            pos += 4
            append(data[pos : pos + length])
            pos += length
        elif kind == _N:
            append(None)
        elif kind == _U:
            append(UNCHANGED)
        else:
            raise DecodeError(f"unknown tuple value kind {chr(kind)!r}")
    if pos > len(data):
        raise DecodeError("message ends early")
    return tuple(values), pos


def timestamp(micros: int) -> datetime:
    """PostgreSQL's microseconds since 2000-01-01 UTC."""
    return PG_EPOCH + timedelta(microseconds=micros)


def decode(data: bytes) -> Message:
    """One pgoutput message."""
    if not data:
        raise DecodeError("empty message")
    try:
        return _decode(bytes(data))
    except (struct.error, IndexError):
        raise DecodeError("message ends early") from None


def _decode(data: bytes) -> Message:
    r = _Reader(data, 1)
    kind = chr(data[0])
    if kind == "B":
        return Begin(r.take("q"), timestamp(r.take("q")), r.take("I"))
    if kind == "C":
        r.take("b")  # flags, unused
        return Commit(r.take("q"), r.take("q"), timestamp(r.take("q")))
    if kind == "R":
        oid, namespace, name = r.take("I"), r.string(), r.string()
        identity = r.byte()
        columns = []
        for _ in range(r.take("h")):
            flags = r.take("b")
            columns.append(RelColumn(r.string(), r.take("I"), r.take("i"), bool(flags & 1)))
        return Relation(oid, namespace or "pg_catalog", name, identity, tuple(columns))
    if kind == "I":
        oid = r.take("I")
        if r.byte() != "N":
            raise DecodeError("insert without its new tuple")
        return Change("i", oid, new=r.tuple_data())
    if kind == "U":
        oid = r.take("I")
        marker = r.byte()
        old, is_key = None, False
        if marker in ("K", "O"):
            old, is_key = r.tuple_data(), marker == "K"
            marker = r.byte()
        if marker != "N":
            raise DecodeError("update without its new tuple")
        return Change("u", oid, new=r.tuple_data(), old=old, old_is_key=is_key)
    if kind == "D":
        oid = r.take("I")
        marker = r.byte()
        if marker not in ("K", "O"):
            raise DecodeError("delete without its old key or tuple")
        return Change("d", oid, old=r.tuple_data(), old_is_key=marker == "K")
    if kind == "T":
        count, options = r.take("I"), r.take("b")
        oids = tuple(r.take("I") for _ in range(count))
        return Truncate(oids, bool(options & 1), bool(options & 2))
    if kind in ("O", "Y", "M"):
        return Other(kind)
    raise DecodeError(f"unknown pgoutput message {kind!r} (protocol version 1 is asked for)")


def lsn_text(lsn: int) -> str:
    """An LSN as PostgreSQL writes it: ``16/B374D848``."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def parse_lsn(text: str) -> int:
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


# -- many tuples at once ---------------------------------------------------------------------
def tuple_at(data: bytes, start: int) -> Values:
    """The TupleData of message ``data`` that starts at ``start``."""
    try:
        return _tuple_data(data, start)[0]
    except (struct.error, IndexError):
        raise DecodeError("message ends early") from None


def columns(messages: list[bytes], start: int, count: int) -> list[tuple[Any, Any]] | None:
    """The values of the TupleData each message holds from ``start`` on, column by
    column: per column an Arrow ``large_binary`` array (the UTF-8 bytes of the text
    forms; NULL for NULL and for unchanged TOASTed values) and a numpy mask of the
    unchanged ones (None if none). A catch-up spends its time here: this walks all the
    batch's tuples one column at a time with numpy (gathers of positions, lengths and
    bytes) rather than one value at a time in Python. None if a tuple is not ``count``
    values of kinds t, b, n or u (the caller then decodes them one by one)."""
    import numpy as np
    import pyarrow as pa

    n = len(messages)
    if not n:
        return None
    sizes = np.fromiter(map(len, messages), dtype=np.int64, count=n)
    ends = np.cumsum(sizes)
    buf = np.frombuffer(b"".join(messages), dtype=np.uint8)
    pos = ends - sizes + start
    if np.any(pos + 2 > ends):
        return None
    counts = (buf[pos].astype(np.int64) << 8) | buf[pos + 1]
    if np.any(counts != count):
        return None
    pos = pos + 2
    out: list[tuple[Any, Any]] = []
    for _ in range(count):
        if np.any(pos >= ends):
            return None
        kind = buf[pos]
        text = (kind == _T) | (kind == _B)
        unchanged = kind == _U
        if np.any(~(text | unchanged | (kind == _N))):
            return None
        at = np.where(text, pos + 1, 0)  # the 4-byte length of a text value
        if np.any(text & (at + 4 > ends)):
            return None
        length = (
            (buf[at].astype(np.int64) << 24)
            | (buf[at + 1].astype(np.int64) << 16)
            | (buf[at + 2].astype(np.int64) << 8)
            | buf[at + 3].astype(np.int64)
        )
        length = np.where(text, length, 0)
        first = pos + 5
        if np.any(text & (first + length > ends)):
            return None
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(length, out=offsets[1:])
        total = int(offsets[-1])
        if total:
            index = np.repeat(first - offsets[:-1], length) + np.arange(total, dtype=np.int64)
            data = buf[index]
        else:
            data = np.zeros(0, dtype=np.uint8)
        valid = np.packbits(text, bitorder="little")
        array = pa.Array.from_buffers(
            pa.large_binary(),
            n,
            [pa.py_buffer(valid), pa.py_buffer(offsets), pa.py_buffer(data)],
            null_count=int(n - text.sum()),
        )
        out.append((array, unchanged if unchanged.any() else None))
        pos = np.where(text, first + length, pos + 1)
    return out
