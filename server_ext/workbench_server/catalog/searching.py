"""Searching: a page of ranked results from the in-memory snapshot of the catalog.

Nothing here reads the metadata DB: the index, the tables' summaries and who may use
which connection come from :mod:`.snapshot`, which also says how fresh they are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic_core import to_json

from ..errors import InvalidInputError
from . import snapshot as snapshots
from .models import SearchHit, SearchPage
from .search import FACETS

if TYPE_CHECKING:
    from .access import CatalogAccess
    from .snapshot import Snapshot

MAX_QUERY = 200
# Up to this many tables a search costs about 0.2 ms (0.1 ms for a few hundred, measured
# on 2 cores), less than a hop to a thread: :func:`search_json_in_memory` answers it on
# the caller's thread. Larger catalogs (1.6 ms at 20,000 tables) are searched on a
# thread, so that an event loop is never held long.
IN_MEMORY_DOCS = 2_000


def check(query: str, filters: dict[str, str] | None) -> None:
    if len(query) > MAX_QUERY:
        raise InvalidInputError(f"q: a search is at most {MAX_QUERY} characters")
    unknown = sorted(set(filters or {}) - set(FACETS))
    if unknown:
        raise InvalidInputError(f"{unknown[0]}: filter by one of {', '.join(FACETS)}")


def search(
    access: CatalogAccess,
    query: str,
    filters: dict[str, str] | None = None,
    offset: int = 0,
    limit: int = 20,
) -> SearchPage:
    """Tables matching ``query`` (and ``filters``) of the connections the principal may use."""
    check(query, filters)
    return page(snapshots.current(access.workbench), access, query, filters, offset, limit)


def search_json(
    access: CatalogAccess,
    query: str,
    filters: dict[str, str] | None = None,
    offset: int = 0,
    limit: int = 20,
) -> bytes:
    """:func:`search`'s page as the REST API sends it (``SearchPage`` by its aliases)."""
    check(query, filters)
    return page_json(snapshots.current(access.workbench), access, query, filters, offset, limit)


def search_json_in_memory(
    access: CatalogAccess,
    query: str,
    filters: dict[str, str] | None = None,
    offset: int = 0,
    limit: int = 20,
) -> bytes | None:
    """:func:`search_json`, when it needs no read of the metadata DB (the snapshot is
    fresh) and little work (a small index); else None.

    For callers on an event loop: they answer at once instead of handing a search of a
    fraction of a millisecond to a thread, and leave the others to one.
    """
    check(query, filters)
    snapshot = snapshots.fresh(access.workbench)
    if snapshot is None or len(snapshot.index.docs) > IN_MEMORY_DOCS:
        return None
    return page_json(snapshot, access, query, filters, offset, limit)


def page(
    snapshot: Snapshot,
    access: CatalogAccess,
    query: str,
    filters: dict[str, str] | None,
    offset: int,
    limit: int,
) -> SearchPage:
    result = snapshot.index.search(query, snapshot.usable(access.principal), filters, offset, limit)
    return SearchPage(
        query=query,
        total=result.total,
        hits=[
            SearchHit(table=snapshot.summary(h.doc.id), score=h.score, matched_columns=h.columns)
            for h in result.hits
        ],
        facets=result.facets,
    )


def page_json(
    snapshot: Snapshot,
    access: CatalogAccess,
    query: str,
    filters: dict[str, str] | None,
    offset: int,
    limit: int,
) -> bytes:
    """The bytes ``page(...).model_dump_json(by_alias=True)`` gives, from each table's
    JSON kept in the snapshot: no model is built or serialized per result."""
    result = snapshot.index.search(query, snapshot.usable(access.principal), filters, offset, limit)
    hits = b",".join(
        b'{"table":%b,"score":%b,"matched_columns":%b}'
        % (snapshot.summary_json(h.doc.id), to_json(h.score), to_json(h.columns))
        for h in result.hits
    )
    return b'{"query":%b,"total":%b,"hits":[%b],"facets":%b}' % (
        to_json(query),
        to_json(result.total),
        hits,
        to_json(result.facets),
    )
