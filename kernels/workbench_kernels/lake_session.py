"""A lake connection (``lake``, or a lake connection's name): one DuckDB session over the
lake's tables and the other sources.

Every table of the lake becomes a view named after its layer and folder
(``silver.invoices``): a Delta table reads its current version with ``delta_scan`` (so a
version another kernel or a pipeline commits shows at the next query), a Parquet dataset
not yet converted reads its files. ``lake_at`` and ``lake_at_run`` read a Delta table as
of a version, a time or a pipeline run (time_travel.py). PostgreSQL connections (Odoo's
database) and DuckDB files are attached read-only under their connection names the first
time a query mentions them, so ``SELECT ... FROM odoo.public.account_move JOIN
gold.balances ...`` works in one query. PostgreSQL's unconstrained ``numeric`` (Odoo's
amounts) reads as DECIMAL, never DOUBLE (lake_postgres.py).

DuckDB cannot download extensions here; they come from their PyPI wheels, pinned to
DuckDB's exact version. The lake library (``workbench_server.lake``) is imported the
first time a Delta table is found or written, not when a kernel starts.
"""

from __future__ import annotations

import getpass
import importlib
import os
import re
import sys
import threading
import time
from functools import wraps
from os import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from workbench_server.lake_layout import LAYERS, MAIN, dataset_key
from workbench_server.sql_text import quote_identifier as _quote
from workbench_server.sql_text import quote_literal as _literal

from .lake_postgres import INTEGER_DIGITS, OVERFLOW, attach_postgres, detach_postgres, too_wide

if TYPE_CHECKING:
    from workbench_server.lake import Lake

    from .time_travel import Resolver

S3_RELIST_SECONDS = 30
DEFAULT_LAKE = "lake"
EXTENSION_WHEELS = {
    "postgres_scanner": "duckdb_extension_postgres_scanner",
    "httpfs": "duckdb_extension_httpfs",
}
FIRST_COMMIT = f"{0:020d}.json"
DELTA_MARKERS = (FIRST_COMMIT, "_last_checkpoint")  # a folder with one is a Delta table
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


_ahead: duckdb.DuckDBPyConnection | None = None  # made by prepare_ahead, for the first session


def prepare_ahead() -> None:
    """Import the lake library and make the first lake session's DuckDB database now, with
    the delta extension loaded (together 0.3-1 s, most of a report's first read): a
    pipeline's spare kernel calls this in its forked child before its kernel starts, while
    no step waits for it. Only the engine's set-up: no lake, connection or secret is known
    yet (those come with the attempt and are set up as before), no table is read and no
    name is set."""
    global _ahead
    if _ahead is not None:
        return
    import workbench_server.lake.service  # noqa: F401  (Arrow, delta-rs: the first read's)
    from workbench_server.lake import engine

    db = duckdb.connect(":memory:")
    engine.load_extension(db, "delta")
    _ahead = db


def _database() -> duckdb.DuckDBPyConnection:
    """A new in-memory database for a session: the one made ahead, once, else a new one."""
    global _ahead
    db, _ahead = _ahead, None
    return db if db is not None else duckdb.connect(":memory:")


def load_extension(db: duckdb.DuckDBPyConnection, name: str) -> None:
    module = importlib.import_module(EXTENSION_WHEELS[name])
    path = next(Path(module.__file__).parent.glob(f"extensions/*/{name}.duckdb_extension"))
    db.execute(f"LOAD {_literal(str(path))}")


def _locked(method):
    """``method`` run by one thread at a time (it changes the session's views or set-up)."""

    @wraps(method)
    def run(self: LakeSession, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)

    return run


class LakeSession:
    """A DuckDB connection that knows the lake's tables and the other sources.

    ``db`` is the session's connection in the thread that made the session, and in any
    other thread a cursor of it of that thread's own (the same database: views, attached
    sources, extensions, secrets and macros; not the ``SET`` options of the other): one
    DuckDB connection must not run queries from two threads at once (a notebook reading
    tables in a thread pool while it writes got "closed pending query result").
    """

    @property
    def db(self) -> duckdb.DuckDBPyConnection:
        """The connection for the calling thread (see the class)."""
        if threading.get_ident() == self._owner:
            return self._db
        cursor = getattr(self._threads, "db", None)
        if cursor is None:
            cursor = self._threads.db = self._db.cursor()
        return cursor

    @db.setter
    def db(self, connection: duckdb.DuckDBPyConnection) -> None:
        """The session's connection, made in ``__init__`` by the thread it belongs to."""
        self._db = connection
        self._owner = threading.get_ident()
        self._threads = threading.local()  # each other thread's cursor, gone with it
        self._lock = threading.RLock()

    def __init__(
        self,
        location: str | None,
        sources: dict[str, Any],
        storage: Any | None = None,
        name: str = DEFAULT_LAKE,
        sandbox: Any | None = None,
        problem: str | None = None,
    ) -> None:
        """``storage`` is the lake connection's settings (keys, endpoint) for S3 lakes;
        ``name`` the connection's (``lake`` for the default lake). ``sandbox`` (team
        mode: the user's own lake, whose settings the hub gives their server) is where
        writes go; its tables are read in place of the lake's of the same name.
        ``problem`` says why the lake cannot be opened, when it cannot."""
        self.location = location.rstrip("/") if location else None
        self.sandbox = sandbox
        self.problem = problem
        self._own: set[str] = set()  # layer.name of the tables read from the sandbox
        self._sandbox_lake: Lake | None = None
        self.sources = sources  # connection name -> settings (postgres / duckdb kinds)
        self.name = name
        self.db = _database()
        self._views: dict[str, str] = {}  # layer.name -> the SQL it selects from
        self._watched: list[str] = []  # the folders whose times make the signature
        self._attached: set[str] = set()
        self._extensions: set[str] = set()
        self.storage = storage
        self._bare: dict[str, str] = {}
        self._seen: object = object()  # matches no signature: the first refresh always runs
        self._said_unreadable = False
        self._lake: Lake | None = None
        self._delta_ready = False
        self.resolver: Resolver | None = None  # time travel, once Delta tables are read
        # Views are made at the first look (refresh_views, before each query), where a
        # lake that cannot be listed is an error of that query, not of the kernel's start.

    @property
    def is_s3(self) -> bool:
        return any(root.startswith("s3://") for root in self._roots())

    def _roots(self) -> list[str]:
        roots = [self.location] if self.location else []
        return roots + ([self.sandbox.location] if self.sandbox is not None else [])

    @property
    def shared(self) -> Lake:
        """The lake library's handle on this lake (the team's, in team mode)."""
        if self._lake is None:
            if self.location is None:
                raise LookupError(
                    self.problem or f"connection {self.name!r} has no lake folder or bucket"
                )
            from workbench_server.lake import Lake

            self._lake = Lake.at(self.location, storage=self.storage, name=self.name)
        return self._lake

    @property
    def lake(self) -> Lake:
        """The lake writes go to: the user's sandbox in team mode, else this lake."""
        if self.sandbox is None:
            return self.shared
        if self._sandbox_lake is None:
            from workbench_server.lake import Lake

            self._sandbox_lake = Lake.at(
                self.sandbox.location, storage=self.sandbox, name=self.name
            )
        return self._sandbox_lake

    def lake_for(self, table: str) -> Lake:
        """Where ``table`` is read from (versions, time travel): the user's sandbox when
        they have a table of that name there, else this lake."""
        if self.sandbox is not None and _qualified(table) in self._own:
            return self.lake
        return self.shared

    def owns(self, table: str) -> bool:
        """Whether the user's sandbox holds ``table`` (team mode)."""
        return _qualified(table) in self._own

    @property
    def records_lineage(self) -> bool:
        """Whether this session's table writes are reported for lineage. Not into a
        sandbox: the workbench names lake datasets ``lake:<layer>.<name>`` by the team's
        lake, so a user's own ``silver.moves`` would be recorded as a write of the team's
        table by their notebook, a false entry in its audit trail."""
        return self.sandbox is None

    def check_changeable(self, table: str) -> None:
        """In team mode, refuse a change (append, merge, delete...) to a table only the
        team's lake holds: it would start a table of that name in the sandbox with only
        the change in it. Replacing it (CREATE OR REPLACE, mode="overwrite") is fine."""
        if self.sandbox is None or self.lake.exists(table) or not self.shared.exists(table):
            return
        from workbench_server.errors import PermissionDeniedError

        raise PermissionDeniedError(
            f"{table} is the team's (pipelines write it); your tables are in your sandbox: "
            f"CREATE TABLE {table} AS SELECT * FROM {table} (or a write with "
            "mode='overwrite') makes your own copy there, which this kernel then reads in "
            "its place"
        )

    def tables(self) -> list[Any]:
        """The lake's tables (TableInfo), the sandbox's in place of those of its names."""
        found = {t.table: t for t in self.shared.tables()}
        if self.sandbox is not None:
            found.update({t.table: t for t in self.lake.tables()})
        return sorted(found.values(), key=lambda t: t.table)

    def _ensure_extension(self, name: str) -> None:
        if name not in self._extensions:
            load_extension(self.db, name)
            self._extensions.add(name)

    @_locked
    def ensure_delta(self) -> None:
        """Make the session read Delta tables (the library's engine set-up: the delta
        extension, and for S3 httpfs with a secret scoped to the lake) and define the
        time-travel functions."""
        if self._delta_ready:
            return
        from workbench_server.lake import engine

        from .time_travel import install

        engine.connect(self.shared.location, self.db)
        if self.sandbox is not None:  # a secret of its own, scoped to the sandbox
            engine.connect(self.lake.location, self.db)
        self._extensions.update({"httpfs", "s3"} if self.is_s3 else set())
        install(self)
        self._delta_ready = True

    def table_sql(self, table: str, version: int | None = None) -> str:
        """What reads ``table`` (as of ``version``) in this session: a ``delta_scan``,
        or ``read_parquet`` of a dataset not yet converted (no versions)."""
        self.ensure_delta()
        return self.lake_for(table).scan_sql(table, version)

    def _delta_scan(self, table: str) -> str:
        from workbench_server.lake import engine

        return engine.scan_sql(self.lake_for(table).location, table)

    @_locked
    def refresh_views(self, force: bool = False) -> list[str]:
        """Create views for tables that appeared since the last look (and drop those that
        went); return all names.

        This runs before every query, so it first compares a cheap signature of the lake
        (folder modification times; for S3 a 30-second clock) and does nothing when it
        is unchanged. A Delta table's view needs no refresh for its new versions: it
        reads the latest one at each query.
        """
        signature = self._signature()
        if not force and signature == self._seen:
            return sorted(self._views)
        found = self._discover()
        self._watched = self._folders_to_watch(found)
        complete = True
        if any(kind == "delta" for kind, _ in found.values()) or (found and self.is_s3):
            self.ensure_delta()
        for (layer, name), (kind, where) in found.items():
            qualified = f"{layer}.{name}"
            # Found as a Delta table already: the engine's scan, without asking storage again.
            source = self._delta_scan(qualified) if kind == "delta" else _parquet(where)
            if self._views.get(qualified) == source:
                continue
            self.db.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(layer)}")
            try:
                self.db.execute(
                    f"CREATE OR REPLACE VIEW {_quote(layer)}.{_quote(name)} AS "
                    f"SELECT * FROM {source}"
                )
            except duckdb.Error:
                # A file another process is still writing (a pipeline step's COPY TO):
                # the view is made at a later look, not in the way of this query.
                complete = False
                continue
            self._views[qualified] = source
        for qualified in set(self._views) - {f"{k[0]}.{k[1]}" for k in found}:
            layer, name = qualified.split(".", 1)
            self.db.execute(f"DROP VIEW IF EXISTS {_quote(layer)}.{_quote(name)}")
            del self._views[qualified]
        self._bare_names()
        if complete:  # else look again at the next query, whatever the signature says
            self._seen = signature
        return sorted(self._views)

    def knows(self, table: str) -> bool:
        return table in self._views

    def _signature(self) -> object:
        """The modification times of the folders that change when a table comes or goes
        (``_folders_to_watch``, as of the last look); for S3 a 30-second clock."""
        if self.location is None:
            return None
        if self.is_s3:
            return int(time.monotonic() // S3_RELIST_SECONDS)
        times = []
        for folder in self._watched:
            try:
                times.append(stat(folder).st_mtime_ns)
            except OSError:
                times.append(None)  # gone since the look: it differs, so look again
        return self._watched, times

    def _folders_to_watch(self, found: dict[tuple[str, str], tuple[str, str]]) -> list[str]:
        """The root, the layers, and each table folder and its Delta log: a new table, a
        new partition, a first file in an empty folder or a first commit changes one.
        Listed at each look, not before each query: a folder that comes or goes changes
        its parent's time, which is watched, and the next look lists it. A Delta table
        the look found is left out: its view reads its latest version at each query, and
        its going shows in its layer's folder. A folder that does not exist at the look
        (a layer not made yet, the Delta log of a Parquet dataset) is not watched: its
        coming changes its parent's time. Before each query this is a stat call per
        folder (a folder listing took 30-45 µs on a loaded machine; a stat of a missing
        folder raises in Python, several times a found one's cost)."""
        if self.location is None or self.is_s3:
            return []
        delta = {os.path.normpath(where) for kind, where in found.values() if kind == "delta"}
        watched = []
        for root in map(os.path.normpath, self._roots()):
            watched.append(root)  # the lake's folder itself, even before it exists
            for folder in (root, *(os.path.join(root, layer) for layer in LAYERS)):
                try:
                    with os.scandir(folder) as entries:
                        if folder != root:
                            watched.append(folder)
                        for entry in entries:
                            if entry.path in delta or not entry.is_dir():
                                continue
                            if folder == root and entry.name in LAYERS:
                                continue  # watched, if it exists, when it is listed
                            watched.append(entry.path)
                            log = os.path.join(entry.path, "_delta_log")
                            if folder != root and os.path.isdir(log):
                                watched.append(log)
                except OSError:
                    continue
        return watched

    def _discover(self) -> dict[tuple[str, str], tuple[str, str]]:
        """(layer, name) -> ("delta", its folder) or ("parquet", the glob of its files);
        the sandbox's tables in place of the lake's of the same name."""
        if self.location is None:
            return {}
        found = self._discover_at(self.location)
        if self.sandbox is not None:
            own = self._discover_at(self.sandbox.location, self.lake)
            self._own = {f"{layer}.{name}" for layer, name in own}
            found.update(own)
        return found

    def _discover_at(
        self, location: str, lake: Lake | None = None
    ) -> dict[tuple[str, str], tuple[str, str]]:
        try:
            if location.startswith("s3://"):
                paths = self._list_s3(lake or self.shared)
            else:
                paths = self._list_local(location)
        except PermissionError:
            # A hub's users run as accounts of their own, which may not read the
            # workbench's own lake folder: no lake tables here, said once.
            if not self._said_unreadable:
                self._said_unreadable = True
                print(f"workbench: {unreadable_lake()}", file=sys.stderr)
            return {}
        return group_tables(location, paths)

    def _list_local(self, location: str) -> list[list[str]]:
        """Relative paths of the Parquet files and Delta markers below the lake folder,
        not walking into Delta tables (their data files are the log's to list)."""
        root = Path(location)
        if not root.is_dir():
            return []
        found: list[list[str]] = []
        for folder, dirs, files in os.walk(root, onerror=_raise_permission):
            relative = Path(folder).relative_to(root).parts
            if "_delta_log" in dirs and len(relative) == 2 and relative[0] in LAYERS:
                log = Path(folder) / "_delta_log"
                found += [
                    [*relative, "_delta_log", m] for m in DELTA_MARKERS if (log / m).is_file()
                ]
                dirs[:] = []
                continue
            dirs[:] = [d for d in dirs if not d.startswith((".", "_"))]
            found += [[*relative, f] for f in files if f.endswith(".parquet")]
        return found

    def _list_s3(self, lake: Lake) -> list[list[str]]:
        from pyarrow.fs import FileSelector, FileType

        fs, root = lake.location.filesystem()
        infos = fs.get_file_info(FileSelector(root, recursive=True, allow_not_found=True))
        return [
            info.path[len(root) + 1 :].split("/") for info in infos if info.type == FileType.File
        ]

    def _bare_names(self) -> None:
        """A dataset whose name is unique across layers is queryable by that name alone."""
        layers_of: dict[str, list[str]] = {}
        for qualified in self._views:
            layer, name = qualified.split(".", 1)
            layers_of.setdefault(name, []).append(layer)
        for name in set(self._bare) - set(layers_of):
            self.db.execute(f"DROP VIEW IF EXISTS main.{_quote(name)}")
            del self._bare[name]
        for name, layers in layers_of.items():
            unique = layers[0] if len(layers) == 1 and layers[0] != MAIN else None
            if self._bare.get(name) == unique:
                continue
            if unique is None:
                self.db.execute(f"DROP VIEW IF EXISTS main.{_quote(name)}")
                self._bare.pop(name, None)
                continue
            self.db.execute(
                f"CREATE OR REPLACE VIEW main.{_quote(name)} AS "
                f"SELECT * FROM {_quote(unique)}.{_quote(name)}"
            )
            self._bare[name] = unique

    def attach_mentioned(self, query: str) -> None:
        """Attach the sources a query names (``name.``) that are not attached yet."""
        for name in self.mentioned(query):
            if name not in self._attached:
                self.attach(name, self.sources[name])

    def detach(self, name: str) -> None:
        """Drop source ``name`` (its secret too) if it is attached."""
        if name not in self._attached:
            return
        self._attached.discard(name)
        detach_postgres(self.db, name)  # also right for DuckDB files: drops what exists

    def explain_denied(self, message: str) -> str | None:
        """What to tell the analyst, instead of an "[Errno 13] Permission denied" naming a
        path in the workbench's private home, when this account may not use the lake
        folder (a hub started as root); None for another error."""
        location = self.location
        if location is None or location.startswith("s3://") or not DENIED.search(message):
            return None
        if location not in message and os.access(location, os.R_OK | os.X_OK):
            return None  # another folder's (a DuckDB file's, say): its own words
        return unreadable_lake()

    def explain_overflow(self, query: str, message: str) -> str | None:
        """What to tell the analyst when ``query`` failed with PostgreSQL's bare "numeric
        field overflow": which connection, table and column hold a value too wide for the
        lake's DECIMAL, and how to read it (None for another error)."""
        if OVERFLOW not in message:
            return None
        postgres = [
            n
            for n in self.mentioned(query)
            if n in self._attached and getattr(self.sources[n], "kind", None) == "postgres"
        ]
        for name in postgres:
            try:
                found = too_wide(self.db, name, query)
            except duckdb.Error:  # e.g. the notebook's transaction is aborted: say less
                continue
            if found:
                schema, table, column = found[0]
                return (
                    f"connection {name!r}, table {schema}.{table}, column {column}: a value "
                    f"has more than {INTEGER_DIGITS} digits before the decimal point, more "
                    f"than the lake's DECIMAL(38,10) holds (numeric field overflow). Read it "
                    f"in PostgreSQL with %sql {name} (e.g. SELECT "
                    f"{_quote(column)}::text, or ::float8 knowing it is approximate), or "
                    f"leave the column out of the lake query"
                )
        if not postgres:
            return None
        return (
            f"connection {', '.join(map(repr, postgres))}: a numeric value has more than "
            f"{INTEGER_DIGITS} digits before the decimal point, more than the lake's "
            f"DECIMAL(38,10) holds (numeric field overflow). Read that column in PostgreSQL "
            f"with %sql NAME (e.g. as ::text), or leave it out of the lake query"
        )

    def mentioned(self, query: str) -> list[str]:
        """The sources a query names (``name.``)."""
        if not self.sources:
            return []
        return [
            n for n in self.sources if n in query and re.search(rf"\b{re.escape(n)}\s*\.", query)
        ]

    def attach(self, name: str, settings: Any) -> None:
        alias = _quote(name)
        if settings.kind == "duckdb":
            if settings.path == ":memory:":
                return
            self.db.execute(f"ATTACH {_literal(settings.path)} AS {alias} (READ_ONLY)")
        elif settings.kind == "postgres":
            self._ensure_extension("postgres_scanner")
            attach_postgres(self.db, name, settings)
        else:
            return
        self._attached.add(name)


def group_tables(root: str, paths: list[list[str]]) -> dict[tuple[str, str], tuple[str, str]]:
    """The lake's tables from the relative paths of its files: a folder holding a Delta
    log's first commit (or checkpoint) is a Delta table; other Parquet files are grouped
    into datasets by the lake layout (lake_layout.py)."""
    delta: set[tuple[str, str]] = set()
    for parts in paths:
        if len(parts) == 4 and parts[2] == "_delta_log" and parts[3] in DELTA_MARKERS:
            if parts[0] in LAYERS and _NAME.fullmatch(parts[1]):
                delta.add((parts[0], parts[1]))
    found: dict[tuple[str, str], tuple[str, str]] = {
        key: ("delta", f"{root}/{key[0]}/{key[1]}") for key in delta
    }
    for parts in sorted(paths):
        if not parts[-1].endswith(".parquet") or tuple(parts[:2]) in delta:
            continue
        key = dataset_key(parts)
        if key is None or key in delta:
            continue
        single = len(parts) == (2 if key[0] != MAIN else 1)
        base = "/".join([root, *parts[: 1 if key[0] == MAIN else 2]])
        found[key] = ("parquet", "/".join([root, *parts]) if single else f"{base}/**/*.parquet")
    return found


def _qualified(table: str) -> str:
    from workbench_server.lake import TableName

    try:
        return str(TableName.parse(table))
    except ValueError:
        return table  # not a lake table's name: none of the sandbox's


def _parquet(where: str) -> str:
    return f"read_parquet({_literal(where)}, hive_partitioning = true, union_by_name = true)"


DENIED = re.compile(r"permission denied|errno 13|os error 13", re.IGNORECASE)


def unreadable_lake() -> str:
    """Why this kernel has no lake, without the lake's path (inside the workbench's
    private home) and with what the administrator can do."""
    return (
        f"this account ({getpass.getuser()}) cannot read the workbench's lake, so lake "
        "tables are neither read nor written in this kernel: on a hub started as root, "
        "users' accounts may not read the workbench home, where the lake is. Ask the "
        "administrator for a lake users can use (docs/deploy.md, 'Started as root'); "
        "other connections work as before"
    )


def _raise_permission(error: OSError) -> None:
    if isinstance(error, PermissionError):
        raise error
