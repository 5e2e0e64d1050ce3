"""Searching: a page of ranked results from the in-memory snapshot of the catalog.

Nothing here reads the metadata DB: the index, the tables' summaries and who may use
which connection come from :mod:`.snapshot`, which also says how fresh they are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import InvalidInputError
from . import snapshot as snapshots
from .models import SearchHit, SearchPage
from .search import FACETS

if TYPE_CHECKING:
    from .access import CatalogAccess
    from .snapshot import Snapshot

MAX_QUERY = 200


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
