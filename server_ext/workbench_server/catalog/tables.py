"""Reading and curating the catalog's tables.

Anyone who may use a connection may describe and tag its tables and columns; certifying
a table, or naming its steward, is for the connection's owner and admins. What people
curate lives in columns that scans never touch.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from ..db.models import CatalogChange, CatalogColumn, CatalogTable, Connection
from ..errors import InvalidInputError, NotFoundError, PermissionDeniedError
from . import snapshot
from .access import CatalogAccess, table_out
from .models import ChangeOut, ColumnOut, ColumnPatch, TableDetail, TableOut, TablePatch


def tables(
    access: CatalogAccess,
    connection: str | None = None,
    schema: str | None = None,
    include_dropped: bool = False,
    offset: int = 0,
    limit: int = 100,
) -> tuple[int, list[TableOut]]:
    """One page of the tables the principal may see, and how many there are in all."""
    connections = access.connections()
    ids = list(connections)
    if connection is not None:
        ids = [access.connection(connection).id]
    query = select(CatalogTable).where(CatalogTable.connection_id.in_(ids))
    if schema is not None:
        query = query.where(CatalogTable.schema_name == schema)
    if not include_dropped:
        query = query.where(CatalogTable.dropped_at.is_(None))
    with access.workbench.sessions() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(
            query.order_by(CatalogTable.connection_id, CatalogTable.schema_name, CatalogTable.name)
            .offset(offset)
            .limit(limit)
        )
        found = [table_out(r, connections) for r in rows]
    return total, shown_writers(access, found)


def table(access: CatalogAccess, table_id: int) -> TableDetail:
    """The table with its columns (dropped ones last) and its latest history."""
    with access.workbench.sessions() as session:
        row, connections = access.row(session, table_id)
        columns = session.scalars(
            select(CatalogColumn)
            .where(CatalogColumn.table_id == table_id)
            .order_by(CatalogColumn.dropped_at.is_not(None), CatalogColumn.position)
        )
        history = session.scalars(
            select(CatalogChange)
            .where(CatalogChange.table_id == table_id)
            .order_by(CatalogChange.id.desc())
            .limit(200)
        )
        [base] = shown_writers(access, [table_out(row, connections)])
        return TableDetail(
            **base.model_dump(),
            columns=[ColumnOut.model_validate(c) for c in columns],
            history=[ChangeOut.model_validate(h) for h in history],
        )


def shown_writers(access: CatalogAccess, found: list[TableOut]) -> list[TableOut]:
    """``found`` with each lake table's last writer as the principal may read it: a
    private pipeline's name and run, another user's notebook path left out."""
    from ..pipelines.visibility import WriterVisibility, names_a_writer

    if access.principal.admin or not any(names_a_writer(t.extra) for t in found):
        return found
    visibility = WriterVisibility(access.workbench, access.principal)
    visibility.know_texts(t.extra.get("last_writer") for t in found if names_a_writer(t.extra))
    for table in found:
        table.extra = visibility.catalog_extra(table.extra) or {}
    return found


def find(access: CatalogAccess, connection: str, schema: str, name: str) -> TableDetail:
    conn = access.connection(connection)
    with access.workbench.sessions() as session:
        table_id = session.scalar(
            select(CatalogTable.id).where(
                CatalogTable.connection_id == conn.id,
                CatalogTable.schema_name == schema,
                CatalogTable.name == name,
            )
        )
    if table_id is None:
        raise NotFoundError(f"no table {schema}.{name} in the catalog of {connection!r}")
    return table(access, table_id)


def edit_table(access: CatalogAccess, table_id: int, patch: TablePatch) -> TableDetail:
    with access.workbench.sessions.begin() as session:
        row, connections = access.row(session, table_id)
        changes = patch.model_dump(exclude_unset=True)
        if {"certified", "steward"} & changes.keys():
            owner = connections[row.connection_id].owner
            if not access.principal.may_change(owner):
                raise PermissionDeniedError(
                    "only the connection's owner or an admin may certify a table or "
                    "name its steward"
                )
        if "tags" in changes:
            changes["tags"] = clean_tags(changes["tags"] or [])
            _check_pii_kept(access, connections[row.connection_id], row.tags, changes["tags"])
        for key, value in changes.items():
            setattr(row, key, value)
        row.updated_at = datetime.now(UTC)
        snapshot.mark_changed(session)
    return table(access, table_id)


def edit_column(
    access: CatalogAccess, table_id: int, column: str, patch: ColumnPatch
) -> TableDetail:
    with access.workbench.sessions.begin() as session:
        row, connections = access.row(session, table_id)
        found = session.scalar(
            select(CatalogColumn).where(
                CatalogColumn.table_id == table_id, CatalogColumn.name == column
            )
        )
        if found is None:
            raise NotFoundError(f"table {row.name} has no column {column!r}")
        changes = patch.model_dump(exclude_unset=True)
        if "tags" in changes:
            changes["tags"] = clean_tags(changes["tags"] or [])
            _check_pii_kept(access, connections[row.connection_id], found.tags, changes["tags"])
        for key, value in changes.items():
            setattr(found, key, value)
        row.updated_at = datetime.now(UTC)
        snapshot.mark_changed(session)
    return table(access, table_id)


def _check_pii_kept(
    access: CatalogAccess, connection: Connection, before: list[str] | None, after: list[str]
) -> None:
    """Only the connection's owner or an admin takes a ``pii`` tag off: previews mask what
    it tags for everyone else, so a user of a shared connection who removed it unmasked it
    for themselves and all. Adding one (more masking) is anyone's."""
    if "pii" in (before or []) and "pii" not in after:
        if not access.principal.may_change(connection.owner):
            raise PermissionDeniedError(
                "only the connection's owner or an admin may remove a pii tag (it masks "
                "the column in previews)"
            )


def clean_tags(tags: list[str]) -> list[str]:
    out = []
    for tag in tags:
        tag = tag.strip().lower()
        if not tag or len(tag) > 50 or not all(c.isalnum() or c in "-_:." for c in tag):
            raise InvalidInputError(
                f"tag {tag!r}: use up to 50 letters, digits and '-', '_', ':' or '.'"
            )
        if tag not in out:
            out.append(tag)
    return out
