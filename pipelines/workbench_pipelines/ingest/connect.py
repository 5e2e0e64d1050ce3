"""An extract's source from the owner's connection, of whichever kind it is."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench_server.errors import InvalidInputError

from .sources import Source

if TYPE_CHECKING:
    import duckdb

    from .context import StepContext


def open_source(ctx: StepContext, name: str, db: duckdb.DuckDBPyConnection) -> Source:
    """The owner's connection ``name`` as a source, checked against the network policy."""
    from workbench_server.connections.kinds import OdooConfig, PostgresConfig, SqlAlchemyConfig

    cfg = ctx.connection(name)
    if isinstance(cfg, PostgresConfig):
        from .postgres import PostgresSource

        return PostgresSource.attach(name, cfg.psycopg_kwargs("workbench-extract", 30), db)
    if isinstance(cfg, SqlAlchemyConfig):
        from sqlalchemy.engine import make_url

        url = make_url(cfg.url)
        if url.get_backend_name() == "postgresql":  # read as PostgreSQL: exact, fast
            from .postgres import PostgresSource, libpq_kwargs

            return PostgresSource.attach(name, libpq_kwargs(url, cfg), db)
        from .sqlalchemy_source import SqlAlchemySource

        return SqlAlchemySource(name, cfg)
    if isinstance(cfg, OdooConfig):
        from .odoo_api import OdooSource

        return OdooSource(name, cfg, ctx.progress)
    raise InvalidInputError(
        f"connection {name!r} is a {cfg.kind} connection: extract reads postgres, odoo "
        "and sqlalchemy connections"
    )
