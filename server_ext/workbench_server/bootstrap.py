"""First-start setup of a local workbench: the demo Odoo dataset and its connection."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import select

from .connections.kinds import DuckDBConfig
from .core import Workbench
from .db.models import Connection, Setting
from .principal import local_principal

log = logging.getLogger(__name__)

DEMO_CONNECTION = "demo_odoo"
DEMO_SETTING = "demo.odoo"


def ensure_demo(workbench: Workbench) -> str | None:
    """Generate the demo dataset once and register it as ``demo_odoo``.

    Returns what was done, for the start-up banner. A user who deleted the demo
    connection keeps it deleted: the setting row remembers that it was offered.
    """
    from .demo import generate_odoo_demo

    target = workbench.settings.workbench_home.demo_dir / "odoo_demo.duckdb"
    with workbench.sessions.begin() as session:
        offered = session.get(Setting, DEMO_SETTING)
        if offered is not None and target.exists():
            return None
        if (
            offered is not None
            and session.scalar(select(Connection).where(Connection.name == DEMO_CONNECTION)) is None
        ):
            return None  # removed by the user on purpose
    summary = generate_odoo_demo(target)
    with workbench.sessions.begin() as session:
        connection = session.scalar(select(Connection).where(Connection.name == DEMO_CONNECTION))
        if connection is None:
            session.add(
                Connection(
                    name=DEMO_CONNECTION,
                    kind="duckdb",
                    description="Demo Odoo 17 accounting data (generated, read-only)",
                    owner=local_principal().name,
                    shared_groups=[],
                    config=DuckDBConfig(path=str(target), read_only=True).public(),
                    secret_names=[],
                    builtin=True,
                )
            )
        session.merge(
            Setting(
                key=DEMO_SETTING,
                value={
                    "path": str(target),
                    "generated_at": datetime.now(UTC).isoformat(),
                    "tables": summary.model_dump(mode="json"),
                },
            )
        )
    log.info("Generated demo Odoo data at %s", target)
    _catalog_demo(workbench)
    return f"demo Odoo data generated at {target} (connection {DEMO_CONNECTION})"


def _catalog_demo(workbench: Workbench) -> None:
    """Put the demo tables in the catalog, so search and browse have something at once."""
    from .catalog import CatalogService
    from .errors import WorkbenchError

    try:
        CatalogService(workbench, local_principal()).scan(DEMO_CONNECTION)
    except WorkbenchError as exc:  # the demo data is there; the catalog can be scanned later
        log.warning("The demo data was not added to the catalog: %s", exc)
