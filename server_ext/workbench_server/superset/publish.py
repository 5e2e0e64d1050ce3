"""Publishing lake tables to Superset as datasets, with the catalog's metadata.

``publish(workbench, principal, "gold.trial_balance", to="bi")``:

1. The caller must be allowed to use the Superset connection and to read the lake table
   (another user's private lake is "not found"); publishing pii-tagged columns needs the
   right to see them (the lake connection's owner, admins, ``pii-readers``) *and* asking
   for it.
2. The table's columns (pii ones left out) are copied into the Superset connection's
   serving DuckDB file (:mod:`.serving`), which Superset reads through its ``duckdb``
   driver as one database.
3. The dataset is created if missing (its columns refreshed from the file otherwise) and
   the catalog's description, column labels (the catalog's, else Odoo's through column
   lineage) and descriptions, certification and owners are written to it.

Manual edits in Superset are kept, as preset-cli does: each field the workbench wrote is
remembered in the dataset's ``extra`` (``workbench``); a field whose value in Superset is
no longer what the workbench wrote was edited there and is left alone (``overwrite``
writes it anyway).
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from ..catalog import CatalogService
from ..catalog.pii import PiiRules
from ..connections.egress import EgressPolicy, UnknownHostError, pin
from ..connections.kinds import SupersetConfig
from ..connections.service import ConnectionService
from ..errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from ..lake.models import TableName
from .client import SupersetClient, SupersetError

if TYPE_CHECKING:
    from ..catalog.models import TableDetail
    from ..core import Workbench
    from ..principal import Principal

DATABASE_PREFIX = "workbench"  # Superset database name: workbench_<superset connection>
DEFAULT_LAKE = "lake"
MARK = "workbench"  # key of what the workbench wrote, in the dataset's extra


class _TableAndSuperset(BaseModel):
    """A lake table and a Superset connection: what publish and unpublish are asked."""

    model_config = {"extra": "forbid"}

    table: str = Field(max_length=140, description="the lake table, layer.name")
    to: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$", description="a superset connection")
    lake: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]{0,62}$", description="lake connection")

    def served_schema(self, table: TableName) -> str:
        """The table's schema in the serving file (and so in Superset)."""
        return table.layer if self.lake is None else f"{self.lake}_{table.layer}"


class PublishRequest(_TableAndSuperset):
    """What to publish where (the REST body, the CLI's arguments, a step's settings)."""

    include_pii: bool = Field(False, description="publish pii-tagged columns too")
    overwrite: bool = Field(False, description="overwrite edits made in Superset")


class PublishResult(BaseModel):
    table: str
    superset: str
    database_id: int
    dataset_id: int
    dataset_url: str
    created: bool
    rows: int
    version: int | None
    columns: list[str]
    excluded_pii: list[str]
    kept_edits: list[str] = Field(description="fields edited in Superset and left as they were")


class UnpublishRequest(_TableAndSuperset):
    """What to take out of Superset (the REST body, the CLI's arguments)."""

    force: bool = Field(False, description="delete the dataset even if charts use it")


class UnpublishResult(BaseModel):
    table: str
    superset: str
    dataset_id: int | None = Field(description="the dataset deleted in Superset, if it had one")
    removed_from_file: bool = Field(description="the table was in the serving file")
    broken_charts: list[str] = Field(description="charts that used it (force): they now fail")


def unpublish(
    workbench: Workbench, principal: Principal, request: UnpublishRequest
) -> UnpublishResult:
    """Delete a published table's dataset in Superset and its copy in the serving file.
    Refused while charts use the dataset, unless ``force``. The lake table may be gone."""
    from ..lake import Lake

    table = TableName.parse(request.table)
    cfg = _superset_settings(workbench, principal, request.to)
    Lake.of(workbench, principal, request.lake)  # others' private lakes: not found
    schema = request.served_schema(table)
    from . import serving

    path = serving.serving_path(workbench.settings.home, request.to)
    client = SupersetClient(cfg).login()
    with serving.locked(path):
        dataset_id = _published_dataset(client, request.to, path, schema, table.name)
        listed = (schema, table.name) in {(s.schema, s.table) for s in serving.served(path)}
        if dataset_id is None and not listed:
            raise NotFoundError(f"{table} is not published to {request.to!r}")
        _check_may_unpublish(workbench, principal, client, request.to, table, dataset_id)
        charts: list[str] = []
        if dataset_id is not None:
            related = client.call(
                "GET", f"/api/v1/dataset/{dataset_id}/related_objects", what="dataset's charts"
            )
            charts = sorted(
                f"{c.get('slice_name')} ({c.get('id')})"
                for c in (related.get("charts") or {}).get("result", [])
            )
            if charts and not request.force:
                raise ConflictError(
                    f"{len(charts)} chart(s) in {request.to!r} use {table}: "
                    f"{', '.join(charts)}; remove them first, or force it (they stop working)"
                )
            client.call(
                "DELETE", f"/api/v1/dataset/{dataset_id}", what=f"delete dataset {dataset_id}"
            )
        removed = serving.remove_table(path, schema, table.name)
    return UnpublishResult(
        table=str(table),
        superset=request.to,
        dataset_id=dataset_id,
        removed_from_file=removed,
        broken_charts=charts,
    )


def _check_may_unpublish(
    workbench: Workbench,
    principal: Principal,
    client: SupersetClient,
    connection: str,
    table: TableName,
    dataset_id: int | None,
) -> None:
    """Unpublishing deletes the dataset others' charts may stand on: it is for the one who
    published it (as the dataset's extra records), the Superset connection's owner and
    admins, not for everyone the connection is shared with."""
    owner = ConnectionService(workbench, principal).get(connection).owner
    publisher = None
    if dataset_id is not None:
        found = client.call("GET", f"/api/v1/dataset/{dataset_id}", what="dataset")
        try:
            extra = json.loads((found.get("result") or {}).get("extra") or "{}")
        except ValueError:
            extra = {}
        mark = extra.get(MARK) if isinstance(extra, dict) else None
        publisher = mark.get("published_by") if isinstance(mark, dict) else None
    if principal.admin or principal.name in {owner, publisher}:
        return
    if publisher is None:
        who = f"has no recorded publisher: only the connection's owner ({owner})"
    elif publisher == owner:
        who = f"was published by {publisher}: only {publisher} (who owns the connection too)"
    else:
        who = f"was published by {publisher}: only {publisher}, the connection's owner ({owner})"
    raise PermissionDeniedError(f"{table} in {connection!r} {who} and admins may unpublish it")


def _published_dataset(
    client: SupersetClient, connection: str, path: Any, schema: str, name: str
) -> int | None:
    """The id of the dataset a publish made for ``schema.name``, in the serving database
    (never a dataset of the same name in another database); None if there is none."""
    databases = client.find("database", database_name=_database_name(connection, path))
    if not databases:
        return None
    return _dataset_in(client, int(databases[0]["id"]), schema, name)


def _database_name(connection: str, path: Any) -> str:
    """The Superset database's name for the serving file at ``path``. It carries a digest
    of the path: two installations publishing to one Superset under the same connection
    name never take over each other's database."""
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:8]
    return f"{DATABASE_PREFIX}_{connection}_{digest}"


def _dataset_in(client: SupersetClient, database_id: int, schema: str, name: str) -> int | None:
    """The id of dataset ``schema.name`` of database ``database_id`` (Superset may hold
    namesakes in other databases); None if it has none."""
    for found in client.find("dataset", table_name=name, schema=schema):
        if int(found.get("database", {}).get("id", -1)) == database_id:
            return int(found["id"])
    return None


def publish(workbench: Workbench, principal: Principal, request: PublishRequest) -> PublishResult:
    from ..lake import Lake

    table = TableName.parse(request.table)
    cfg = _superset_settings(workbench, principal, request.to)
    lake = Lake.of(workbench, principal, request.lake)  # others' private lakes: not found
    if not lake.exists(table):
        raise NotFoundError(f"no lake table {table} in {lake.name}")
    catalog = CatalogService(workbench, principal)
    catalog_name = request.lake or DEFAULT_LAKE
    detail = _catalog_entry(catalog, catalog_name, table)
    connection = catalog.access.connection(catalog_name)
    if request.include_pii and not catalog.may_see_pii(connection):
        raise PermissionDeniedError(
            f"publishing the pii columns of {table} is for those who may see them (the "
            f"owner of {catalog_name!r}, admins, pii-readers)"
        )

    version = lake.version(table)
    actual = _columns(lake, table, version)
    pii = _pii_columns(workbench, detail, table, actual)
    columns = [c for c in actual if request.include_pii or c not in pii]
    if not columns:
        raise InvalidInputError(f"every column of {table} is tagged pii: nothing to publish")
    schema = request.served_schema(table)
    from . import serving  # DuckDB: loaded by the first publish, not with the server

    path = serving.serving_path(workbench.settings.home, request.to)

    labels = _lineage_labels(workbench, principal, catalog, catalog_name, table, detail, columns)
    client = SupersetClient(cfg).login()  # a bad URL or password fails before any copy
    # One publish at a time per Superset connection, copy and REST calls alike: two at
    # once would both find no dataset and both try to create it.
    with serving.locked(path):
        served = serving.publish_table(path, lake, str(table), columns, schema, table.name, version)
        database_id = _database(client, request.to, path)
        dataset_id, created = _dataset(client, database_id, schema, table.name)
        kept = _sync_metadata(client, dataset_id, detail, labels, principal, request)
    return PublishResult(
        table=str(table),
        superset=request.to,
        database_id=database_id,
        dataset_id=dataset_id,
        dataset_url=f"{client.url}/explore/?datasource_type=table&datasource_id={dataset_id}",
        created=created,
        rows=served.rows,
        version=version,
        columns=columns,
        excluded_pii=sorted(set(actual) - set(columns)),
        kept_edits=kept,
    )


def _superset_settings(workbench: Workbench, principal: Principal, name: str) -> SupersetConfig:
    cfg = ConnectionService(workbench, principal).resolve(name)  # not usable: not found
    if not isinstance(cfg, SupersetConfig):
        raise InvalidInputError(f"connection {name!r} is a {cfg.kind} connection, not superset")
    try:
        pinned = pin(name, cfg, EgressPolicy.from_settings(workbench.settings))
    except UnknownHostError as exc:
        raise SupersetError(f"cannot reach Superset at {cfg.url}: {exc}") from None
    assert isinstance(pinned, SupersetConfig)
    return pinned


def _catalog_entry(catalog: CatalogService, connection: str, table: TableName) -> TableDetail:
    """The table's catalog entry; a table written since the last scan is scanned now.

    Two publishes of a new table at once both scan it: the second's insert of the same
    entry fails (the catalog's unique key) or its scan is recorded as failed; it then
    finds the entry the first one made (a few bounded tries)."""
    from sqlalchemy.exc import IntegrityError

    from ..catalog.default_lake import ensure_default_lake

    if connection == DEFAULT_LAKE:
        ensure_default_lake(catalog.workbench)
    for attempt in range(3):
        try:
            return catalog.find(connection, table.layer, table.name)
        except NotFoundError:
            if attempt:
                time.sleep(0.2 * attempt)
            try:
                catalog.scan(connection, tables=[str(table)])
            except IntegrityError:
                pass  # another publish (or scan) added it at the same moment
    return catalog.find(connection, table.layer, table.name)


def _columns(lake: Any, table: TableName, version: int | None) -> list[str]:
    db = lake.connect()
    try:
        described = db.execute(f"DESCRIBE SELECT * FROM {lake.scan_sql(table, version)}")
        return [row[0] for row in described.fetchall()]
    finally:
        db.close()


def _pii_columns(
    workbench: Workbench, detail: TableDetail, table: TableName, actual: list[str]
) -> set[str]:
    tagged = {
        c.name
        for c in detail.columns
        if c.dropped_at is None and "pii" in {*(c.tags or []), *(c.auto_tags or [])}
    }
    # A column added since the last scan: the scan's own rules decide.
    known = {c.name for c in detail.columns}
    rules = PiiRules.from_settings(workbench.settings)
    table_name = f"{table.layer}_{table.name}"
    return tagged | {c for c in actual if c not in known and rules.tags(table_name, c)}


def _lineage_labels(
    workbench: Workbench,
    principal: Principal,
    catalog: CatalogService,
    namespace: str,
    table: TableName,
    detail: TableDetail,
    columns: list[str],
) -> dict[str, str]:
    """Each column's label: the catalog's, else the nearest labelled column upstream
    (column lineage), e.g. the Odoo field a gold column was computed from."""
    from ..lineage.service import LineageService

    labels = {c.name: c.label for c in detail.columns if c.label}
    lineage = LineageService(workbench, principal)
    for column in columns:
        if column in labels:
            continue
        try:
            graph = lineage.graph(namespace, str(table), column=column, depth=5)
        except (NotFoundError, PermissionDeniedError, InvalidInputError):
            continue
        for edge in graph.edges:
            if edge.source.table_id is None or not edge.source_column:
                continue
            try:
                source = catalog.table(edge.source.table_id)
            except NotFoundError:
                continue
            found = next(
                (c.label for c in source.columns if c.name == edge.source_column and c.label),
                None,
            )
            if found:
                labels[column] = found
                break
    return labels


def _database(client: SupersetClient, connection: str, path: Any) -> int:
    """The Superset database reading the serving file (made once; see
    :func:`_database_name`)."""
    name = _database_name(connection, path)
    uri = f"duckdb:///{path}"
    extra = json.dumps(
        {
            "engine_params": {
                # Read-only, and no files or network beyond the serving file itself.
                "connect_args": {"read_only": True, "config": {"enable_external_access": False}}
            },
            "allows_virtual_table_explore": False,
        }
    )
    found = client.find("database", database_name=name)
    body = {
        "database_name": name,
        "sqlalchemy_uri": uri,
        "expose_in_sqllab": False,
        "allow_dml": False,
        "allow_file_upload": False,
        "extra": extra,
    }
    if found:
        database_id = int(found[0]["id"])
        current = client.call("GET", f"/api/v1/database/{database_id}", what="database")
        if current.get("result", {}).get("sqlalchemy_uri") != uri:
            client.call("PUT", f"/api/v1/database/{database_id}", body, what="update its database")
        return database_id
    made = client.call("POST", "/api/v1/database/", body, what="create the serving database")
    return int(made["id"])


def _dataset(client: SupersetClient, database_id: int, schema: str, name: str) -> tuple[int, bool]:
    dataset_id = _dataset_in(client, database_id, schema, name)
    if dataset_id is not None:
        client.call("PUT", f"/api/v1/dataset/{dataset_id}/refresh", what="refresh the dataset")
        return dataset_id, False
    try:
        made = client.call(
            "POST",
            "/api/v1/dataset/",
            {"database": database_id, "schema": schema, "table_name": name},
            what=f"create dataset {schema}.{name}",
        )
    except SupersetError as exc:
        others = client.find("dataset", table_name=name)
        if others:  # e.g. a SQLite metadata DB keeps dataset names unique across databases
            where = ", ".join(
                f"{o.get('database', {}).get('database_name')}.{o.get('schema')}" for o in others
            )
            raise SupersetError(
                f"{exc}; Superset already has a dataset named {name!r} ({where}): its "
                "metadata DB may keep dataset names unique, rename or remove that one"
            ) from None
        raise
    return int(made["id"]), True


def _sync_metadata(
    client: SupersetClient,
    dataset_id: int,
    detail: TableDetail,
    labels: dict[str, str],
    principal: Principal,
    request: PublishRequest,
) -> list[str]:
    """Write the catalog's metadata to the dataset; returns the fields left alone because
    they were edited in Superset."""
    current = client.call("GET", f"/api/v1/dataset/{dataset_id}", what="dataset")["result"]
    try:
        extra = json.loads(current.get("extra") or "{}")
    except ValueError:
        extra = {}
    extra = extra if isinstance(extra, dict) else {}
    before = extra.get(MARK, {}) if isinstance(extra.get(MARK), dict) else {}
    before_columns = before.get("columns", {}) if isinstance(before.get("columns"), dict) else {}
    kept: list[str] = []

    def merged(field: str, now: Any, new: str | None, wrote: Any) -> str | None:
        if request.overwrite or now in (None, "") or now == wrote or now == new:
            return new
        kept.append(field)
        return now

    description = merged(
        "description",
        current.get("description"),
        detail.description or detail.comment or detail.label,
        before.get("description"),
    )
    by_name = {c.name: c for c in detail.columns if c.dropped_at is None}
    columns, wrote_columns = [], {}
    for column in current.get("columns", []):
        name = column["column_name"]
        entry = by_name.get(name)
        new_label = labels.get(name)
        new_text = (entry.description or entry.comment or entry.help) if entry else None
        was = before_columns.get(name, {}) if isinstance(before_columns.get(name), dict) else {}
        columns.append(
            {
                "id": column["id"],
                "column_name": name,
                "verbose_name": merged(
                    f"{name}.label", column.get("verbose_name"), new_label, was.get("label")
                ),
                "description": merged(
                    f"{name}.description", column.get("description"), new_text, was.get("text")
                ),
            }
        )
        wrote_columns[name] = {"label": new_label, "text": new_text}

    certified_by = detail.steward or principal.name
    if detail.certified:
        extra["certification"] = {
            "certified_by": certified_by,
            "details": "certified in the workbench catalog",
        }
    elif before.get("certified"):
        extra.pop("certification", None)  # ours, and the catalog no longer certifies it
    extra[MARK] = {
        "source": f"{request.lake or DEFAULT_LAKE}:{request.table}",
        "published_by": principal.name,
        "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "description": description if "description" not in kept else before.get("description"),
        "certified": detail.certified,
        "columns": wrote_columns,
    }
    wanted = [n for n in {detail.steward, principal.name} if n]
    owners = {int(o["id"]) for o in current.get("owners", []) if "id" in o}
    me = client.me()
    owners |= {me} if me is not None else set()
    owners |= set(client.user_ids(wanted))
    client.call(
        "PUT",
        f"/api/v1/dataset/{dataset_id}",
        {
            "description": description,
            "extra": json.dumps(extra),
            "owners": sorted(owners),
            "columns": columns,
        },
        what=f"update dataset {dataset_id}",
    )
    return kept
