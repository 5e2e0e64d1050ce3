"""First-start setup of a local workbench: the demo Odoo dataset and its connection."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import select

from .connections.kinds import DuckDBConfig
from .core import Workbench
from .db.models import Connection, Setting
from .prepared import DEMO_FILE, forget, mark_prepared
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

    target = workbench.settings.workbench_home.demo_dir / DEMO_FILE
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


def prepare(demo: bool) -> dict[str, str | None]:
    """What ``workbench up`` has done before the banner, in a process of its own: the
    metadata DB brought up to date (opening the core migrates it) and, with ``demo``, the
    demo data. ``{"error": ...}`` when the core cannot open; ``{"note": ...}`` otherwise
    (what was done, or why the demo data is missing: the workbench starts without it)."""
    from .errors import WorkbenchError, metadata_db_failure
    from .settings import WorkbenchSettings

    try:
        workbench = Workbench(WorkbenchSettings.from_env(None))
    except WorkbenchError as exc:
        return {"error": str(exc)}
    except Exception as exc:  # a damaged or refusing metadata DB: one line, as the CLI's
        message = metadata_db_failure(exc)
        if message is None:
            raise
        return {"error": message}
    run_dir = workbench.settings.workbench_home.run_dir
    forget(run_dir)
    try:
        note = ensure_demo(workbench) if demo else None
    except Exception as exc:
        log.exception("demo data generation failed")
        logs = workbench.settings.workbench_home.logs / "workbench.log"
        return {"note": f"demo data could not be generated ({exc}); see {logs}"}
    else:
        mark_prepared(run_dir, workbench.settings.db_url, demo)
        return {"note": note}
    finally:
        workbench.close()


if __name__ == "__main__":
    # ``python -m workbench_server.bootstrap [--no-demo]``, run by ``workbench up`` with
    # the stack's environment: the long-lived supervisor never imports the core (the
    # lake's Arrow, DuckDB and Delta libraries alone are 90 MB it would keep all day).
    import json
    import sys

    logging.basicConfig(level=logging.WARNING)
    print(json.dumps(prepare(demo="--no-demo" not in sys.argv[1:])), flush=True)
