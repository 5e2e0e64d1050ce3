"""The odoo_lock step: after a close is signed off, the company's lock dates in Odoo.

Through Odoo's external API (an ``odoo`` connection), as the pipeline's owner: each lock
date asked for moves up to the closed month's last day, never down (a later lock date
stays; Odoo 18 refuses to lower ``hard_lock_date`` anyway). The version, from the
server's ``common.version()``, says which lock dates exist: 16 and 17 have
``period_lock_date``, ``fiscalyear_lock_date`` and ``tax_lock_date``; 18 replaced the
first by ``sale_lock_date``, ``purchase_lock_date`` and ``hard_lock_date``.

Every lock date considered becomes a row of the ``record`` table (before, after, whether
this run changed it) and a line of the attempt's log, so a re-run, which changes
nothing, says so too. Odoo's refusal (no write access to companies, unposted entries in
the period) fails the step naming the connection and the company.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime
from typing import Any

from workbench_server.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)

from ..spec_steps import OdooLockStep
from .context import StepContext

# Lock dates each version stores on res.company, and those set when the step names none.
VERSION_LOCKS = {
    "16": ("period_lock_date", "fiscalyear_lock_date", "tax_lock_date"),
    "17": ("period_lock_date", "fiscalyear_lock_date", "tax_lock_date"),
    "18": (
        "fiscalyear_lock_date",
        "tax_lock_date",
        "sale_lock_date",
        "purchase_lock_date",
        "hard_lock_date",
    ),
}
DEFAULT_LOCKS = {
    "16": ("period_lock_date",),
    "17": ("period_lock_date",),
    "18": ("sale_lock_date", "purchase_lock_date"),
}
_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def period_end(period: object) -> date:
    """The last day of ``period`` (YYYY-MM), or an error naming the parameter."""
    match = _PERIOD.match(str(period))
    if not match:
        raise InvalidInputError(f"parameter period {period!r}: give a month as YYYY-MM")
    year, month = int(match.group(1)), int(match.group(2))
    return date(year, month, calendar.monthrange(year, month)[1])


def run_odoo_lock(ctx: StepContext) -> None:
    from workbench_server.connections.kinds import OdooConfig
    from workbench_server.connections.odoo import OdooClient, OdooError

    spec = OdooLockStep.model_validate(
        {**ctx.config, "id": ctx.step_id, "kind": "odoo_lock", "parameters": ctx.parameters}
    )
    company = _company_id(ctx.parameters.get("company_id"))
    end = period_end(ctx.parameters.get("period"))
    cfg = ctx.connection(spec.connection)
    if not isinstance(cfg, OdooConfig):
        raise InvalidInputError(
            f"connection {spec.connection!r} is a {cfg.kind} connection: odoo_lock needs an "
            "odoo one (Odoo's external API)"
        )
    where = f"Odoo connection {spec.connection!r}, company {company}"
    client = OdooClient(cfg)
    try:
        serie = str(client.version().get("server_serie") or "")
        major = serie.split(".", 1)[0].removeprefix("saas~")
        if major not in VERSION_LOCKS:
            raise InvalidInputError(
                f"{where}: Odoo {serie or '?'} - lock dates are set on Odoo 16, 17 and 18"
            )
        fields = list(spec.lock_dates or DEFAULT_LOCKS[major])
        unknown = [f for f in fields if f not in VERSION_LOCKS[major]]
        if unknown:
            raise InvalidInputError(
                f"step {ctx.step_id!r} lock_dates: Odoo {major} has no {', '.join(unknown)} "
                f"(it has {', '.join(VERSION_LOCKS[major])})"
            )
        found = client.execute_kw("res.company", "read", [[company]], {"fields": fields})
        if not found:
            raise NotFoundError(f"{where}: no such company (res.company) in Odoo")
        before = {f: _as_date(found[0].get(f)) for f in fields}
        # Never lower: only a lock date not set, or set before the period's end, moves.
        moving = {f: end.isoformat() for f, d in before.items() if d is None or d < end}
        if moving:
            ctx.progress.check()
            client.execute_kw("res.company", "write", [[company], moving])
            found = client.execute_kw("res.company", "read", [[company]], {"fields": fields})
        after = {f: _as_date(found[0].get(f)) for f in fields} if found else before
    except OdooError as exc:
        message = f"{where}: Odoo refused to set the lock dates ({exc})"
        if exc.reason in ("permission_denied", "authentication_failed"):
            raise PermissionDeniedError(message) from None
        raise ConflictError(message) from None
    short = [f for f in fields if after[f] is None or after[f] < end]
    if short:  # Odoo took the write but kept an earlier date: say so, never pretend
        raise ConflictError(
            f"{where}: Odoo kept {', '.join(f'{f} {after[f]}' for f in short)} "
            f"instead of {end} after the write"
        )
    for f in fields:
        ctx.log(
            f"{where}: {f} {before[f] or 'not set'} -> {after[f]}"
            + ("" if f in moving else " (unchanged: already locked)")
        )
    _record(ctx, spec, company, major, end, before, after, moving)


def _record(
    ctx: StepContext,
    spec: OdooLockStep,
    company: int,
    major: str,
    end: date,
    before: dict[str, date | None],
    after: dict[str, date | None],
    moving: dict[str, str],
) -> None:
    import pyarrow as pa

    now = datetime.now(UTC)
    rows = [
        {
            "connection": spec.connection,
            "company_id": company,
            "period": f"{end:%Y-%m}",
            "odoo_version": f"{major}.0",
            "lock_date": f,
            "before": before[f],
            "after": after[f],
            "changed": f in moving,
            "run_id": ctx.run_id,
            "step": ctx.step_id,
            "set_at": now,
        }
        for f in before
    ]
    schema = pa.schema(
        [
            ("connection", pa.string()),
            ("company_id", pa.int64()),
            ("period", pa.string()),
            ("odoo_version", pa.string()),
            ("lock_date", pa.string()),
            ("before", pa.date32()),
            ("after", pa.date32()),
            ("changed", pa.bool_()),
            ("run_id", pa.string()),
            ("step", pa.string()),
            ("set_at", pa.timestamp("us", tz="UTC")),
        ]
    )
    lake = ctx.lake()
    ctx.progress.table = spec.record
    # Keyed by run and lock date: a retried attempt replaces its own rows, a run adds its.
    result = lake.write(
        spec.record,
        pa.Table.from_pylist(rows, schema=schema),
        mode="merge",
        keys=["run_id", "connection", "company_id", "lock_date"],
        writer=ctx.writer,
    )
    ctx.wrote(lake, result)
    ctx.stats[spec.record] = {
        "version": result.version,
        "company_id": company,
        "set": sorted(moving),
        "unchanged": sorted(set(before) - set(moving)),
    }


def _company_id(value: Any) -> int:
    try:
        company = int(value)
    except (TypeError, ValueError):
        company = 0
    if company <= 0 or isinstance(value, bool):
        raise InvalidInputError(f"parameter company_id {value!r}: give a res.company id")
    return company


def _as_date(value: Any) -> date | None:
    # Odoo reads an empty date as False, a set one as 'YYYY-MM-DD'.
    if not value:
        return None
    return date.fromisoformat(str(value)[:10])
