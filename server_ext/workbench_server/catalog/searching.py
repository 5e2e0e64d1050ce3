"""Searching: the in-memory index of each metadata DB, kept up to date, and result pages.

The index (:mod:`.search`) is built once per metadata DB and patched when tables change;
usage counts are taken in every ``USAGE_REFRESH_S`` without a rebuild.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from sqlalchemy import Text, cast, func, select

from ..db.models import CatalogColumn, CatalogTable, Connection
from ..errors import InvalidInputError
from .access import CatalogAccess, table_out
from .models import SearchHit, SearchPage
from .search import FACETS, LABEL, NAME, TAG, TEXT, Doc, SearchIndex, words

# Usage counts change with every query; search takes them in this often (no rebuild).
USAGE_REFRESH_S = 30.0


class _IndexCache:
    """The search index of one metadata DB, rebuilt when the catalog changed."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.signature: tuple[Any, ...] | None = None
        self.index: SearchIndex | None = None
        self.usage_at = 0.0


_INDEXES: dict[str, _IndexCache] = {}


def index(access: CatalogAccess) -> SearchIndex:
    """The search index of the installation's metadata DB, brought up to date."""
    cache = _INDEXES.setdefault(str(access.workbench.engine.url), _IndexCache())
    with access.workbench.sessions() as session:
        signature = tuple(
            session.execute(
                select(
                    func.count(CatalogTable.id),
                    func.max(CatalogTable.updated_at),
                    select(func.max(Connection.updated_at)).scalar_subquery(),
                )
            ).one()
        )
    with cache.lock:
        if (
            cache.index is not None
            and cache.signature is not None
            and (cache.signature != signature)
        ):
            cache.index = _refreshed(access, cache.index, cache.signature, signature)
            cache.signature = signature
        if cache.index is None or cache.signature != signature:
            cache.index = build_index(access)
            cache.signature = signature
            cache.usage_at = time.monotonic()
        elif time.monotonic() - cache.usage_at > USAGE_REFRESH_S:
            with access.workbench.sessions() as session:
                usage = dict(
                    session.execute(
                        select(CatalogTable.id, CatalogTable.usage_count).where(
                            CatalogTable.usage_count > 0
                        )
                    ).all()
                )
            cache.index.set_usage(usage)
            cache.usage_at = time.monotonic()
        return cache.index


def _refreshed(
    access: CatalogAccess, index: SearchIndex, before: tuple[Any, ...], now: tuple[Any, ...]
) -> SearchIndex | None:
    """The index with only the tables changed since ``before`` rebuilt; None when a
    full rebuild is due (connections changed, or too much changed to patch)."""
    if before[2] != now[2] or before[1] is None:
        return None
    with access.workbench.sessions() as session:
        changed = list(
            session.scalars(
                select(CatalogTable.id).where(CatalogTable.updated_at > before[1]).limit(501)
            )
        )
    if not changed or len(changed) > 500:
        return None
    fresh = docs(access, set(changed))
    return index.replaced(fresh, set(changed))


def build_index(access: CatalogAccess) -> SearchIndex:
    return SearchIndex(docs(access, None).values())


def docs(access: CatalogAccess, only: set[int] | None) -> dict[int, Doc]:
    """Search documents of the live tables (of ``only`` those ids, when given)."""
    with access.workbench.sessions() as session:
        names = dict(session.execute(select(Connection.id, Connection.name)).all())
        query = select(CatalogTable).where(CatalogTable.dropped_at.is_(None))
        if only is not None:
            query = query.where(CatalogTable.id.in_(only))
        tables = session.scalars(query).all()
        found: dict[int, Doc] = {}
        for t in tables:
            doc = Doc(
                id=t.id,
                connection_id=t.connection_id,
                connection=names.get(t.connection_id, "?"),
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
                (TEXT, t.comment),
                (TEXT, t.description),
                (TAG, " ".join(doc.tags)),
                (LABEL, t.label),
                (NAME, t.odoo_model),
                (NAME, t.name),
            ):
                for word in words(text):
                    doc.fields[word] = max(doc.fields.get(word, 0.0), weight)
            found[t.id] = doc
        # JSON arrives as text and is decoded only when not empty: most columns have
        # no tags and no selection, and decoding 300,000 "[]" costs seconds.
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
            column_query = column_query.where(CatalogColumn.table_id.in_(only))
        rows = session.execute(column_query)
        for table_id, name, label, description, *json_texts in rows:
            doc = found.get(table_id)
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
    return found


def search(
    access: CatalogAccess,
    query: str,
    filters: dict[str, str] | None = None,
    offset: int = 0,
    limit: int = 20,
) -> SearchPage:
    if len(query) > 200:
        raise InvalidInputError("q: a search is at most 200 characters")
    unknown = sorted(set(filters or {}) - set(FACETS))
    if unknown:
        raise InvalidInputError(f"{unknown[0]}: filter by one of {', '.join(FACETS)}")
    connections = access.connections()
    result = index(access).search(query, set(connections), filters, offset, limit)
    page = result.hits
    with access.workbench.sessions() as session:
        rows = {
            r.id: r
            for r in session.scalars(
                select(CatalogTable).where(CatalogTable.id.in_([h.doc.id for h in page]))
            )
        }
    return SearchPage(
        query=query,
        total=result.total,
        hits=[
            SearchHit(
                table=table_out(rows[h.doc.id], connections),
                score=h.score,
                matched_columns=h.columns,
            )
            for h in page
            if h.doc.id in rows
        ],
        facets=result.facets,
    )


def _json_list(text: str | None) -> list[Any]:
    if not text or text == "[]":
        return []
    value = json.loads(text)
    return value if isinstance(value, list) else []
