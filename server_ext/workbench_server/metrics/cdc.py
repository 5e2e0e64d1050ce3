"""Replication slots of change data capture, read from the sources at scrape time.

A slot whose consumer stopped makes its source keep WAL until the disk fills, which is
when its lag matters most: so the lag is asked of the source itself (not reported by the
consumer, which may be the thing that stopped). The sources are the connections that
cdc extracts recorded watermarks for, each opened as the owner of the pipeline that last
wrote them. Read at most once per ``ttl`` seconds, each source within a few seconds; a
source that cannot be reached shows ``workbench_cdc_source_up 0``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import select

from ..db.models import IngestWatermark, Pipeline, Run

if TYPE_CHECKING:
    from ..connections.replication import Slot
    from ..core import Workbench

log = logging.getLogger(__name__)
CONNECT_TIMEOUT_S = 3


class CdcCollector(Collector):
    def __init__(self, workbench: Workbench, ttl: float = 30.0) -> None:
        self.workbench, self.ttl = workbench, ttl
        self._lock = threading.Lock()
        self._read_at = 0.0
        self._found: dict[str, list[Slot] | None] = {}

    def sources(self) -> dict[str, str]:
        """Each cdc source and the owner of the pipeline whose run last wrote to it."""
        query = (
            select(IngestWatermark.source, Pipeline.owner)
            .join(Run, Run.id == IngestWatermark.run_id)
            .join(Pipeline, Pipeline.id == Run.pipeline_id)
            .where(IngestWatermark.kind == "cdc")
            .order_by(IngestWatermark.id)
        )
        with self.workbench.sessions() as session:
            return {source: owner for source, owner in session.execute(query)}

    def read(self) -> dict[str, list[Slot] | None]:
        with self._lock:
            if time.monotonic() - self._read_at < self.ttl:
                return self._found
            found: dict[str, list[Slot] | None] = {}
            for source, owner in self.sources().items():
                found[source] = self._slots(source, owner)
            self._found, self._read_at = found, time.monotonic()
            return found

    def _slots(self, source: str, owner: str) -> list[Slot] | None:
        from ..connections import ConnectionService
        from ..connections.egress import EgressPolicy, pin
        from ..connections.kinds import PostgresConfig
        from ..connections.replication import slots
        from ..principal import Principal

        try:
            cfg = ConnectionService(self.workbench, Principal(name=owner)).resolve(source)
            if not isinstance(cfg, PostgresConfig):
                return None
            pinned = pin(source, cfg, EgressPolicy.from_settings(self.workbench.settings))
            return slots(pinned.psycopg_kwargs("workbench-metrics", CONNECT_TIMEOUT_S))
        except Exception:
            log.warning("replication slots of %s not read", source, exc_info=True)
            return None

    def describe(self) -> Iterator:
        return iter(())

    def collect(self) -> Iterator:
        found = self.read()
        up = GaugeMetricFamily(
            "workbench_cdc_source_up",
            "1 if the slots of a change data capture source could be read.",
            labels=["source"],
        )
        lag = GaugeMetricFamily(
            "workbench_cdc_slot_lag_bytes",
            "WAL written on the source since its slot's consumer acknowledged (committed "
            "to the lake).",
            labels=["source", "slot"],
        )
        kept = GaugeMetricFamily(
            "workbench_cdc_slot_retained_bytes",
            "WAL the source keeps for the slot (from its restart_lsn).",
            labels=["source", "slot"],
        )
        active = GaugeMetricFamily(
            "workbench_cdc_slot_active",
            "1 while a consumer reads the slot.",
            labels=["source", "slot"],
        )
        for source, slots in sorted(found.items()):
            up.add_metric([source], 0 if slots is None else 1)
            for slot in slots or []:
                lag.add_metric([source, slot.name], slot.lag_bytes)
                kept.add_metric([source, slot.name], slot.retained_bytes)
                active.add_metric([source, slot.name], 1 if slot.active else 0)
        yield up
        yield lag
        yield kept
        yield active
