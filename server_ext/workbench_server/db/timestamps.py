"""Timestamps stored and read back in UTC, with their zone, on every database.

SQLite keeps no time zone: a time written as ``2024-01-31T06:00:00+00:00`` was read back
as a naive ``2024-01-31T06:00:00``, so the API answered ``...Z`` when it created a row and
a time without a zone (read as local time by browsers) on every later read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that writes UTC and reads back aware UTC datetimes.

    A naive datetime handed to it is taken to be UTC already (as every one the workbench
    writes is).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None or value.tzinfo is None:
            return value
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
