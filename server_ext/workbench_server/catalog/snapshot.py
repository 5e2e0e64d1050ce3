"""The catalog as search sees it, held in memory once per metadata DB and kept fresh.

A :class:`Snapshot` holds the search index (:mod:`.search`), the summary of every live
table (what a result shows) and the connections with what decides who may use them. A
search reads only the snapshot: no query of the metadata DB per search.

How it stays fresh:

- Every writer of the catalog's tables (a scan's merge, an edit of a table or column)
  also writes a new random *generation* into ``workbench_settings`` in its own
  transaction (:func:`mark_changed`). Reading it is one primary-key lookup.
- A process checks the generation and re-reads the connections (a few small rows) when
  its snapshot was last checked more than ``MAX_STALENESS_S`` ago, so changes made by
  other processes (the worker's scans, CLI commands) show within a second. Changes of
  this process show at once: its catalog writers say so after they commit
  (:func:`changed`), and a session listener notices the connections and tables it
  changes through the ORM (a connection created, shared, unshared or deleted, a table
  curated), so unsharing a connection applies to the next search of that process.
- A new generation is taken in by comparing each live table's ``updated_at`` (which
  every change of a table, its columns or its curation sets) with the snapshot's: only
  the tables that changed are read again; their order of commit does not matter.
- Usage counts are a ranking hint that changes with every query: they are taken in
  without a rebuild every ``USAGE_REFRESH_S``, and at the next search after this process
  recorded usage.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, Text, cast, event, select
from sqlalchemy.orm import Session

from ..connections.service import usable_by
from ..db.models import CatalogColumn, CatalogTable, Connection, Setting
from ..principal import Principal
from .models import TableOut
from .search import LABEL, NAME, SCHEMA, TAG, TEXT, Doc, words

if TYPE_CHECKING:
    from ..core import Workbench
    from .search_index import SearchIndex

GENERATION_KEY = "catalog.generation"
# Changes made by other processes show in a search within this many seconds.
MAX_STALENESS_S = 1.0
# Usage counts change with every query; search takes them in this often (no rebuild).
USAGE_REFRESH_S = 30.0
# Above this many changed tables (and this share of all), the index is built anew.
PATCH_LIMIT, PATCH_SHARE = 500, 0.2
_SUMMARY_FIELDS = tuple(name for name in TableOut.model_fields if name != "connection")


@dataclass(frozen=True)
class Rights:
    """A connection as the permission check needs it (see ``connections.usable_by``)."""

    id: int
    name: str
    created_at: datetime  # with the id, tells a connection from one that took its id
    owner: str
    shared_groups: tuple[str, ...]
    builtin: bool


@dataclass
class Snapshot:
    """One consistent view of the live tables: index, summaries and connections."""

    index: SearchIndex
    rows: dict[int, dict[str, Any]]  # table id -> its summary's values
    stamps: dict[int, tuple[datetime, datetime]]  # table id -> (updated_at, last_seen)
    connections: dict[int, Rights]
    _summaries: dict[int, TableOut] = field(default_factory=dict)
    _json: dict[int, bytes] = field(default_factory=dict)
    _memo: dict[int, dict[str, Any]] = field(default_factory=dict)

    def usable(self, principal: Principal) -> set[int] | None:
        """Ids of the connections ``principal`` may use; None when that is all of them
        (every table held is of a connection held: see ``_read``)."""
        ids = {c.id for c in self.connections.values() if usable_by(principal, c)}
        return None if len(ids) == len(self.connections) else ids

    def summary(self, table_id: int) -> TableOut:
        """The table as a result shows it (made once; shared, so never changed by callers)."""
        out = self._summaries.get(table_id)
        if out is None:
            values = dict(self.rows[table_id])
            connection = self.connections[values.pop("connection_id")]
            out = TableOut(**values, connection=connection.name)
            self._summaries[table_id] = out
        return out

    def summary_json(self, table_id: int) -> bytes:
        """The summary as JSON (by its REST names), made once."""
        out = self._json.get(table_id)
        if out is None:
            summary = self.summary(table_id)
            out = summary.__pydantic_serializer__.to_json(summary, by_alias=True)
            self._json[table_id] = out
        return out

    def memo(self, kind: str, table_id: int, make: Callable[[TableOut], Any]) -> Any:
        """``make(summary)``, made once per table and ``kind`` while the table does not
        change: another view of a result than the REST one (an agent's hit) kept as ready
        as :meth:`summary_json` is."""
        made = self._memo.get(table_id)
        if made is None:
            made = self._memo[table_id] = {}
        out = made.get(kind)
        if out is None:
            out = made[kind] = make(self.summary(table_id))
        return out

    def copy(self) -> Snapshot:
        return Snapshot(
            self.index,
            dict(self.rows),
            dict(self.stamps),
            self.connections,
            dict(self._summaries),
            dict(self._json),
            dict(self._memo),
        )

    def _update(self, table_id: int, **values: Any) -> None:
        # Only on a snapshot no search sees yet: summaries already made stay as they were
        # (a page holding one never changes), the next use makes a new one.
        self.rows[table_id] = {**self.rows[table_id], **values}
        self._summaries.pop(table_id, None)
        self._json.pop(table_id, None)
        self._memo.pop(table_id, None)


class _Held:
    """The snapshot of one metadata DB and what is known about its freshness."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.snapshot: Snapshot | None = None
        self.generation: Any = None
        self.checked_at = float("-inf")
        self.usage_at = 0.0
        # Set when this process changed the catalog or its connections (read at once).
        self.stale = False
        self.usage_stale = False


# Engines of one metadata DB (several cores of one process, e.g. in tests) share its
# snapshot, found by engine (the URL's text is made once per engine, not per search) and
# dropped with the last of them.
_HELD: weakref.WeakValueDictionary[str, _Held] = weakref.WeakValueDictionary()
_BY_ENGINE: weakref.WeakKeyDictionary[Engine, _Held] = weakref.WeakKeyDictionary()
_HELD_LOCK = threading.Lock()


def _held(engine: Engine) -> _Held:
    held = _BY_ENGINE.get(engine)
    if held is None:
        with _HELD_LOCK:
            key = str(engine.url)
            held = _HELD.get(key)
            if held is None:
                held = _HELD[key] = _Held()
            _BY_ENGINE[engine] = held
    return held


def current(workbench: Workbench) -> Snapshot:
    """The snapshot of the installation's metadata DB, fresh as the module doc says."""
    held = _held(workbench.engine)
    snapshot = held.snapshot
    if (
        snapshot is not None
        and not (held.stale or held.usage_stale)
        and time.monotonic() - held.checked_at < MAX_STALENESS_S
    ):
        return snapshot
    with held.lock:
        if (
            held.snapshot is None
            or held.stale
            or held.usage_stale
            or time.monotonic() - held.checked_at >= MAX_STALENESS_S
        ):
            _refresh(workbench, held)
        assert held.snapshot is not None
        return held.snapshot


def fresh(workbench: Workbench) -> Snapshot | None:
    """The snapshot if it may be used without reading the metadata DB, else None."""
    held = _held(workbench.engine)
    if (
        held.snapshot is None
        or held.stale
        or held.usage_stale
        or time.monotonic() - held.checked_at >= MAX_STALENESS_S
    ):
        return None
    return held.snapshot


def changed(workbench: Workbench) -> None:
    """This process changed the catalog (after its commit): the next search reads it."""
    _held(workbench.engine).stale = True


def usage_changed(workbench: Workbench) -> None:
    """This process recorded usage: the next search takes the counts in."""
    _held(workbench.engine).usage_stale = True


def mark_changed(session: Session) -> None:
    """Write a new catalog generation in the writer's transaction, so that every process
    takes the change in at its next check (one upsert of one row)."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    now = datetime.now(UTC)
    generation = uuid.uuid4().hex
    statement = insert(Setting).values(key=GENERATION_KEY, value=generation, updated_at=now)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[Setting.key], set_={"value": generation, "updated_at": now}
        )
    )


# -- this process's own changes --------------------------------------------------------
_WATCHED = (Connection, CatalogTable, CatalogColumn)
_CHANGED = "workbench.catalog_changed"


@event.listens_for(Session, "after_flush")
def _note_changes(session: Session, _context: Any) -> None:
    # (Before the flush's lists are cleared: they still hold what it wrote.)
    if any(isinstance(o, _WATCHED) for o in chain(session.new, session.dirty, session.deleted)):
        session.info[_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _take_changes(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        bind = session.get_bind()
        engine = bind if isinstance(bind, Engine) else bind.engine
        _held(engine).stale = True


@event.listens_for(Session, "after_rollback")
def _drop_changes(session: Session) -> None:
    session.info.pop(_CHANGED, None)


# -- reading the metadata DB -----------------------------------------------------------
def _refresh(workbench: Workbench, held: _Held) -> None:
    """Bring ``held`` up to date (called with its lock held)."""
    # Cleared first: a change committed while this reads marks it stale again.
    held.stale = False
    usage_due = held.usage_stale or time.monotonic() - held.usage_at > USAGE_REFRESH_S
    held.usage_stale = False
    checked = time.monotonic()
    with workbench.sessions() as session:
        # The generation is read before the tables: a snapshot is never labelled newer
        # than what it holds.
        generation = session.scalar(select(Setting.value).where(Setting.key == GENERATION_KEY))
        connections = {
            id_: Rights(id_, name, created, owner, tuple(groups or ()), bool(builtin))
            for id_, name, created, owner, groups, builtin in session.execute(
                select(
                    Connection.id,
                    Connection.name,
                    Connection.created_at,
                    Connection.owner,
                    Connection.shared_groups,
                    Connection.builtin,
                )
            )
        }
        old = held.snapshot
        if old is None:
            held.snapshot = build(session, connections)
            held.usage_at = checked
        else:
            if generation != held.generation or _identities(connections) != _identities(
                old.connections
            ):
                # (A deleted connection's tables went with it, without a new generation.)
                held.snapshot = _patched(session, old, connections)
                held.usage_at = checked
            else:
                # Rights may have changed (shared, unshared): the rest stays. (Searches
                # under way see the old rights or the new, never a mix.)
                old.connections = connections
                if usage_due:
                    fresh = old.copy()
                    _take_usage(session, fresh)
                    held.snapshot = fresh
                    held.usage_at = checked
    held.generation = generation
    held.checked_at = checked


def _identities(connections: dict[int, Rights]) -> dict[int, tuple[str, datetime]]:
    return {c.id: (c.name, c.created_at) for c in connections.values()}


def build(session: Session, connections: dict[int, Rights]) -> Snapshot:
    """A snapshot of every live table, from scratch."""
    from .search_index import SearchIndex

    rows, stamps, docs = _read(session, connections, None)
    return Snapshot(SearchIndex(docs.values()), rows, stamps, connections)


def _patched(session: Session, old: Snapshot, connections: dict[int, Rights]) -> Snapshot:
    """The snapshot with only the tables that changed since ``old`` read again."""
    before = _identities(old.connections)
    if any(before.get(id_, same) != same for id_, same in _identities(connections).items()):
        # A connection that took the id of a deleted one: the documents of the deleted
        # one's tables carry its name (a facet) and must not become the new one's.
        return build(session, connections)
    now = {
        id_: (updated, seen)
        for id_, updated, seen in session.execute(
            select(CatalogTable.id, CatalogTable.updated_at, CatalogTable.last_seen).where(
                CatalogTable.dropped_at.is_(None)
            )
        )
    }
    changed = {
        id_ for id_, (updated, _) in now.items() if old.stamps.get(id_, (None,))[0] != updated
    }
    gone = old.stamps.keys() - now.keys()
    if len(changed) > max(PATCH_LIMIT, PATCH_SHARE * len(now)):
        return build(session, connections)
    rows, stamps, docs = _read(session, connections, changed) if changed else ({}, {}, {})
    snapshot = Snapshot(
        old.index.replaced(docs, changed | gone) if changed or gone else old.index,
        {id_: row for id_, row in old.rows.items() if id_ not in gone} | rows,
        {id_: stamp for id_, stamp in old.stamps.items() if id_ not in gone} | stamps,
        connections,
        {id_: out for id_, out in old._summaries.items() if id_ not in changed | gone},
        {id_: out for id_, out in old._json.items() if id_ not in changed | gone},
    )
    # A re-scan that found nothing new still says when each table was last seen.
    for id_, (updated, seen) in now.items():
        if id_ not in changed and snapshot.stamps[id_][1] != seen:
            snapshot.stamps[id_] = (updated, seen)
            snapshot._update(id_, last_seen=seen)
    _take_usage(session, snapshot)
    return snapshot


def _take_usage(session: Session, snapshot: Snapshot) -> None:
    usage = dict(
        session.execute(
            select(CatalogTable.id, CatalogTable.usage_count).where(CatalogTable.usage_count > 0)
        ).all()
    )
    snapshot.index.set_usage(usage)
    for table_id, count in usage.items():
        if table_id in snapshot.rows and snapshot.rows[table_id]["usage_count"] != count:
            snapshot._update(table_id, usage_count=count)


def _read(
    session: Session, connections: dict[int, Rights], only: Iterable[int] | None
) -> tuple[dict[int, dict[str, Any]], dict[int, tuple[datetime, datetime]], dict[int, Doc]]:
    """Summaries, stamps and search documents of the live tables (of ``only`` those)."""
    query = select(CatalogTable).where(CatalogTable.dropped_at.is_(None))
    if only is not None:
        query = query.where(CatalogTable.id.in_(list(only)))
    rows: dict[int, dict[str, Any]] = {}
    stamps: dict[int, tuple[datetime, datetime]] = {}
    docs: dict[int, Doc] = {}
    for t in session.scalars(query):
        connection = connections.get(t.connection_id)
        if connection is None:  # made since the connections were read: taken in next time
            continue
        rows[t.id] = {name: getattr(t, name) for name in _SUMMARY_FIELDS}
        rows[t.id]["connection_id"] = t.connection_id
        stamps[t.id] = (t.updated_at, t.last_seen)
        doc = Doc(
            id=t.id,
            connection_id=t.connection_id,
            connection=connection.name,
            schema=t.schema_name,
            name=t.name,
            kind=t.kind,
            layer=t.layer,
            label=t.label,
            odoo_model=t.odoo_model,
            tags=sorted({*t.tags, *t.auto_tags}),
            steward=t.steward,
            certified=t.certified,
            usage=t.usage_count,
            name_words=words(t.name),
        )
        for weight, text in (
            (SCHEMA, t.schema_name),
            (TEXT, t.comment),
            (TEXT, t.description),
            (TAG, " ".join(doc.tags)),
            (LABEL, t.label),
            (NAME, t.odoo_model),
            (NAME, t.name),
        ):
            for word in words(text):
                doc.fields[word] = max(doc.fields.get(word, 0.0), weight)
        docs[t.id] = doc
    # JSON arrives as text and is decoded only when not empty: most columns have no
    # tags and no selection, and decoding 300,000 "[]" costs seconds.
    column_query = select(
        CatalogColumn.table_id,
        CatalogColumn.name,
        CatalogColumn.label,
        CatalogColumn.description,
        cast(CatalogColumn.tags, Text),
        cast(CatalogColumn.auto_tags, Text),
        cast(CatalogColumn.selection, Text),
    ).where(CatalogColumn.dropped_at.is_(None))
    if only is not None:
        column_query = column_query.where(CatalogColumn.table_id.in_(list(docs)))
    for table_id, name, label, description, *json_texts in session.execute(column_query):
        doc = docs.get(table_id)
        if doc is None:
            continue
        tags, auto_tags, selection = (_json_list(text) for text in json_texts)
        texts = [name, label, description, *tags, *auto_tags]
        texts += [pair[1] for pair in selection if len(pair) > 1]
        for word in words(*texts):
            doc.columns.setdefault(word, []).append(name)
        for tag in {*tags, *auto_tags}:
            if tag not in doc.tags:
                doc.tags.append(tag)
    return rows, stamps, docs


def _json_list(text: str | None) -> list[Any]:
    if not text or text == "[]":
        return []
    value = json.loads(text)
    return value if isinstance(value, list) else []
