"""Lake settings: how long each layer keeps old versions readable.

``WORKBENCH_LAKE_RETENTION_DAYS`` overrides the defaults, e.g. ``bronze=730,gold=180``
(layers not named keep their default). Retention is how far back time travel works: a
vacuum deletes files that no version younger than this needs, and a new table keeps its
log entries as long (``delta.logRetentionDuration``), so a version old enough to be
readable is also listed.
"""

from __future__ import annotations

import os

from pydantic import BaseModel, Field, field_validator

from ..errors import ConfigurationError
from ..lake_layout import LAYERS

RETENTION_ENV = "WORKBENCH_LAKE_RETENTION_DAYS"
# Bronze is the audit trail of what sources said (a past close's inputs): a year. Gold
# holds reports re-read at the next quarter's close: a quarter. Silver is rebuilt from
# bronze at any time: a month.
DEFAULT_RETENTION_DAYS = {"bronze": 365.0, "silver": 30.0, "gold": 90.0}
MIN_RETENTION_DAYS = 1.0  # a reader of a version a vacuum removes would fail mid-read


class LakeSettings(BaseModel):
    """Per-layer retention (days) of old table versions."""

    retention_days: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_RETENTION_DAYS),
        description="layer -> days old versions stay readable (vacuum keeps their files)",
    )

    @field_validator("retention_days")
    @classmethod
    def _days(cls, value: dict[str, float]) -> dict[str, float]:
        merged = {**DEFAULT_RETENTION_DAYS, **value}
        for layer, days in merged.items():
            if layer not in LAYERS:
                raise ValueError(f"{layer!r} is not a lake layer ({', '.join(LAYERS)})")
            if days < MIN_RETENTION_DAYS:
                raise ValueError(f"{layer}: at least {MIN_RETENTION_DAYS:g} day of retention")
        return merged

    def retention(self, layer: str) -> float:
        return self.retention_days[layer]

    def table_configuration(self, layer: str) -> dict[str, str]:
        """Delta table properties a new table of ``layer`` is created with."""
        hours = max(1, round(self.retention(layer) * 24))
        return {
            "delta.logRetentionDuration": f"interval {hours} hours",
            "delta.deletedFileRetentionDuration": f"interval {hours} hours",
        }

    @classmethod
    def from_env(cls) -> LakeSettings:
        raw = os.environ.get(RETENTION_ENV, "").strip()
        values: dict[str, float] = {}
        for item in filter(None, (part.strip() for part in raw.split(","))):
            layer, sep, days = item.partition("=")
            try:
                values[layer.strip()] = float(days) if sep else float("nan")
            except ValueError:
                values[layer.strip()] = float("nan")
            if values[layer.strip()] != values[layer.strip()]:  # NaN: not a number
                raise ConfigurationError(
                    f"{RETENTION_ENV}: {item!r} is not layer=days (e.g. bronze=365)"
                )
        try:
            return cls(retention_days=values)
        except ValueError as exc:
            raise ConfigurationError(f"{RETENTION_ENV}: {exc}") from None
