"""Whether a PostgreSQL source allows change data capture (logical replication), and
what to change if not: for ``workbench doctor --cdc NAME`` and the connection test.

A cdc extract (docs/cdc.md) needs, on the source: ``wal_level = logical``; a free
replication slot and WAL sender; a role with the REPLICATION attribute (or, on Amazon
RDS and Aurora, membership of ``rds_replication``); the right to create a publication
(``CREATE`` on the database) of tables the role owns; and ``pg_hba.conf`` letting it
open a replication connection (tried here with ``IDENTIFY_SYSTEM``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Readiness:
    """What was found, and the problems with what to do about each."""

    facts: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.ok:
            return "logical replication ready (" + ", ".join(self.facts) + ")"
        return "logical replication not possible: " + "; ".join(self.problems)


_FACTS = """
SELECT current_setting('wal_level'),
       current_setting('max_replication_slots')::int,
       (SELECT count(*) FROM pg_catalog.pg_replication_slots)::int,
       current_setting('max_wal_senders')::int,
       (SELECT count(*) FROM pg_catalog.pg_stat_replication)::int,
       r.rolname::text, r.rolreplication, r.rolsuper,
       coalesce((SELECT pg_catalog.pg_has_role(current_user, oid, 'MEMBER')
                 FROM pg_catalog.pg_roles WHERE rolname = 'rds_replication'), false),
       (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = 'rds_replication') IS NOT NULL,
       pg_catalog.has_database_privilege(current_database(), 'CREATE'),
       current_schema()::text
FROM pg_catalog.pg_roles r WHERE r.rolname = current_user
"""
# Ordinary tables of the connection's schema the role does not own (a publication of a
# table needs its ownership).
_NOT_OWNED = """
SELECT c.relname::text FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema()
  AND NOT pg_catalog.pg_has_role(current_user, c.relowner, 'USAGE')
ORDER BY c.relname
"""


def check(kwargs: dict[str, Any]) -> Readiness:
    """Check the database libpq ``kwargs`` (``PostgresConfig.psycopg_kwargs``) reach."""
    import psycopg

    out = Readiness()
    with psycopg.connect(**kwargs, autocommit=True) as conn:
        row = conn.execute(_FACTS).fetchone()
        not_owned = [r[0] for r in conn.execute(_NOT_OWNED).fetchall()]
    (
        wal_level, slots, slots_used, senders, senders_used, role, replication, superuser,
        rds_member, rds, create, schema,
    ) = row  # fmt: skip
    out.facts.append(f"wal_level {wal_level}")
    if wal_level != "logical":
        out.problems.append(
            f"wal_level is {wal_level}, logical is needed: run ALTER SYSTEM SET wal_level = "
            "logical as a superuser and restart PostgreSQL (on Amazon RDS or Aurora set "
            "rds.logical_replication = 1 in the parameter group and reboot)"
        )
    out.facts.append(f"{slots - slots_used} of {slots} replication slot(s) free")
    if slots_used >= slots:
        out.problems.append(
            f"all {slots} replication slot(s) are in use (max_replication_slots = {slots}): "
            "raise max_replication_slots (ALTER SYSTEM SET max_replication_slots = ..., then "
            "restart) or drop an unused slot (SELECT pg_drop_replication_slot('name'))"
        )
    out.facts.append(f"{senders - senders_used} of {senders} WAL sender(s) free")
    if senders_used >= senders:
        out.problems.append(
            f"all {senders} WAL senders are busy (max_wal_senders = {senders}): raise "
            "max_wal_senders (ALTER SYSTEM SET max_wal_senders = ..., then restart)"
        )
    if superuser or replication or rds_member:
        who = "is a superuser" if superuser else "may replicate" if replication else ""
        out.facts.append(f"role {role} {who or 'is in rds_replication'}")
    else:
        fix = f'GRANT rds_replication TO "{role}"' if rds else f'ALTER ROLE "{role}" REPLICATION'
        out.problems.append(
            f"role {role} may not replicate: as a superuser (or the RDS master user) run {fix}"
        )
    if not (create or superuser):
        out.problems.append(
            f"role {role} may not create a publication in this database: GRANT CREATE ON "
            f'DATABASE to "{role}", or have its owner create the publication'
        )
    if not_owned and not superuser:
        shown = ", ".join(not_owned[:3]) + (
            f" and {len(not_owned) - 3} more" if len(not_owned) > 3 else ""
        )
        out.problems.append(
            f"role {role} does not own {len(not_owned)} table(s) of schema {schema} ({shown}), "
            "and a publication of a table needs its owner: connect as the tables' owner (Odoo's "
            "database user) or have a superuser create the publication"
        )
    if wal_level == "logical" and (superuser or replication or rds_member):
        problem = _replication_connection(kwargs)
        if problem:
            out.problems.append(problem)
        else:
            out.facts.append("replication connection accepted")
    return out


def _replication_connection(kwargs: dict[str, Any]) -> str | None:
    """Open a replication connection (``IDENTIFY_SYSTEM``): pg_hba.conf must allow it."""
    import psycopg2
    from psycopg2.extras import LogicalReplicationConnection

    settings = {k: v for k, v in kwargs.items() if v is not None}
    try:
        conn = psycopg2.connect(connection_factory=LogicalReplicationConnection, **settings)
    except psycopg2.Error as exc:
        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return (
            f"a replication connection was refused ({text}): allow it in pg_hba.conf (a "
            "line for this database, user and address) and reload PostgreSQL"
        )
    try:
        conn.cursor().execute("IDENTIFY_SYSTEM")
    except psycopg2.Error as exc:
        return f"a replication connection failed: {str(exc).strip().splitlines()[0]}"
    finally:
        conn.close()
    return None


# -- the workbench's slots -----------------------------------------------------------------
SLOT_PREFIX = "wb_"
MAX_NAME = 63  # PostgreSQL's identifiers


def slot_name(source: str, pipeline: str, step: str) -> str:
    """The slot (and publication) of a cdc extract: ``wb_<source>_<pipeline>_<step>`` in
    the letters slots allow (a-z, 0-9, _), cut with a hash of the whole when longer than
    PostgreSQL's 63 characters."""
    import hashlib
    import re

    name = re.sub(r"[^a-z0-9_]", "_", f"{SLOT_PREFIX}{source}_{pipeline}_{step}".lower())
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return f"{name[: MAX_NAME - 11]}_{digest}"


@dataclass(frozen=True)
class Slot:
    """A workbench slot of the database, and what it costs."""

    name: str
    active: bool
    confirmed_flush: str | None
    lag_bytes: int  # WAL written since what the consumer acknowledged
    retained_bytes: int  # WAL the server keeps for the slot (since its restart_lsn)


_SLOTS = """
SELECT slot_name::text, active, confirmed_flush_lsn::text,
       coalesce(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(),
                                           confirmed_flush_lsn), 0)::bigint,
       coalesce(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(),
                                           restart_lsn), 0)::bigint
FROM pg_catalog.pg_replication_slots
WHERE database = current_database() AND slot_type = 'logical' AND slot_name LIKE 'wb\\_%'
ORDER BY slot_name
"""


def slots(kwargs: dict[str, Any]) -> list[Slot]:
    """The workbench's slots (``wb_...``) of the database ``kwargs`` reach."""
    import psycopg

    with psycopg.connect(**kwargs, autocommit=True) as conn:
        return [Slot(*row) for row in conn.execute(_SLOTS).fetchall()]


def drop(kwargs: dict[str, Any], name: str) -> bool:
    """Drop the workbench's slot ``name`` and its publication; False if there was no
    slot. A slot a consumer is reading is refused (stop the run first)."""
    import psycopg
    from psycopg import sql

    from ..errors import ConflictError, InvalidInputError

    if not name.startswith(SLOT_PREFIX):
        raise InvalidInputError(
            f"{name!r} is not a workbench slot (they are named {SLOT_PREFIX}<source>_"
            "<pipeline>_<step>); drop other slots in PostgreSQL itself"
        )
    with psycopg.connect(**kwargs, autocommit=True) as conn:
        row = conn.execute(
            "SELECT active, active_pid FROM pg_catalog.pg_replication_slots "
            "WHERE slot_name = %s AND database = current_database()",
            (name,),
        ).fetchone()
        if row is not None and row[0]:
            raise ConflictError(
                f"slot {name} is being read (server process {row[1]}): stop the pipeline's "
                "run first, then drop it"
            )
        if row is not None:
            conn.execute("SELECT pg_catalog.pg_drop_replication_slot(%s)", (name,))
        conn.execute(sql.SQL("DROP PUBLICATION IF EXISTS {}").format(sql.Identifier(name)))
    return row is not None
