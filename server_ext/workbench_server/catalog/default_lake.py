"""The workbench's own lake as a catalog source, and where a lake source's tables live.

The catalog knows tables by connection, so the default lake (``%sql lake``, every user's
to read) is the built-in connection ``lake``: built-in connections are usable by every
user, its owner is no user (only admins may change or certify), and lineage already
names the default lake's datasets ``lake:<layer>.<name>``, so the catalog's entries and
lineage meet. The row is made the first time the catalog lists its sources or scans the
default lake. Its tables are always read where :meth:`Lake.default` says the lake is;
the location kept on the row is only shown.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..connections.kinds import LakeConfig
from ..db.models import Connection
from ..lake.location import DEFAULT_LAKE, LakeLocation, connection_lake, default_lake

if TYPE_CHECKING:
    from ..core import Workbench
    from .access import CatalogAccess

log = logging.getLogger(__name__)

# No hub user can have this name (they cannot contain ':'): only admins change the source.
OWNER = "workbench:lake"
DESCRIPTION = "The workbench's lake: bronze, silver and gold Delta tables every user may read"


def is_default_lake(connection: Connection) -> bool:
    return connection.builtin and connection.kind == "lake" and connection.name == DEFAULT_LAKE


def ensure_default_lake(workbench: Workbench) -> None:
    """Make (or bring up to date) the built-in ``lake`` connection; a connection someone
    made under that name before keeps it, and the default lake stays out of the catalog."""
    root = default_lake(workbench.settings).root
    config = LakeConfig(location=root).public()
    with workbench.sessions() as session:
        row = session.scalar(select(Connection).where(Connection.name == DEFAULT_LAKE))
        if row is not None and (not is_default_lake(row) or row.config == config):
            if not is_default_lake(row):
                _warn_taken(workbench, row.owner)
            return
    try:
        with workbench.sessions.begin() as session:
            row = session.scalar(select(Connection).where(Connection.name == DEFAULT_LAKE))
            if row is None:
                session.add(
                    Connection(
                        name=DEFAULT_LAKE,
                        kind="lake",
                        description=DESCRIPTION,
                        owner=OWNER,
                        shared_groups=[],
                        config=config,
                        secret_names=[],
                        builtin=True,
                    )
                )
            elif is_default_lake(row):
                row.config = config  # the lake moved (another home or lake URI)
    except IntegrityError:
        pass  # another process made it at the same time


_warned: set[int] = set()


def _warn_taken(workbench: Workbench, owner: str) -> None:
    if id(workbench) not in _warned:
        _warned.add(id(workbench))
        log.warning(
            "The default lake is not in the catalog: %s's connection is named %r; rename "
            "it to catalog the lake",
            owner,
            DEFAULT_LAKE,
        )


def lake_location(access: CatalogAccess, connection: Connection) -> LakeLocation:
    """Where a lake source's tables are: the default lake, or the lake connection's folder
    or bucket (resolved for the principal and checked against the data roots and the
    network policy, as every open of a connection is)."""
    if is_default_lake(connection):
        return default_lake(access.workbench.settings)
    return connection_lake(access.workbench, access.principal, connection.name)
