"""Figures read at scrape time: run and scan totals from the metadata DB, disk use.

Run totals come from the runs table, not from counters bumped in a process: the table is
the one record every worker writes, so ``workbench_pipeline_runs_total`` is right after
any restart, does not depend on which worker ended a run, and is exported by one
process only (the workbench server, or the hub's workbench service), so summing over
targets never counts a run twice. A row deleted with its pipeline leaves the total;
Prometheus reads the drop as a counter reset, which ``increase()`` tolerates.

The DB is read at most once per ``ttl`` seconds however often anyone scrapes; a scrape
in between gets the cached figures.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text

from ..db.models import CatalogScan, Notification, Pipeline, PipelineVersion, Run, StepRun
from ..sla.freshness import STATUSES, Freshness, freshness
from ..sla.risk import AtRisk, at_risk, latest_ended, latest_sla_verdicts

if TYPE_CHECKING:
    from ..core import Workbench

log = logging.getLogger(__name__)

ENDED = ("succeeded", "failed", "cancelled")
GOING = ("queued", "running")
"""Run states that are final: counted in ``workbench_pipeline_runs_total``. Runs still
queued or running are a gauge (they move on)."""


@dataclass
class _Figures:
    runs: dict[tuple[str, str], int] = field(default_factory=dict)
    active: dict[tuple[str, str], int] = field(default_factory=dict)
    last_ok: dict[str, int] = field(default_factory=dict)
    critical: list[str] = field(default_factory=list)
    sla_misses: dict[str, int] = field(default_factory=dict)
    last_sla_missed: dict[str, int] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    scans: dict[str, int] = field(default_factory=dict)
    notifications: dict[tuple[str, str], int] = field(default_factory=dict)
    at_risk: list[AtRisk] = field(default_factory=list)
    freshness: list[Freshness] = field(default_factory=list)
    pg_active: int | None = None


class MetadataCollector(Collector):
    """Totals of the metadata DB: runs, step attempts, catalog scans, SLA misses."""

    def __init__(self, workbench: Workbench, ttl: float = 15.0) -> None:
        self.workbench = workbench
        self.ttl = ttl
        self._lock = threading.Lock()
        self._figures: _Figures | None = None
        self._read_at = 0.0

    def figures(self) -> _Figures | None:
        """The cached figures, read again when older than ``ttl``; None when the DB is
        unreachable (the scrape then lacks them, and ``up`` stays 1)."""
        with self._lock:
            if self._figures is None or time.monotonic() - self._read_at >= self.ttl:
                try:
                    self._figures = self._read()
                except Exception:  # a scrape never fails for the DB; the log says why
                    log.warning("metrics: the metadata DB could not be read", exc_info=True)
                    self._figures = None
                self._read_at = time.monotonic()
            return self._figures

    def _read(self) -> _Figures:
        out = _Figures()
        with self.workbench.sessions() as session:
            # Every final status of every pipeline exists from deployment on, at 0: a
            # series that appears at 1 would hide its first run from increase(). The
            # runs going on are 0 too, not absent, when none is (a chart shows 0, not
            # "no data").
            for name in session.scalars(select(Pipeline.name)):
                out.runs.update({(name, status): 0 for status in ENDED})
                out.active.update({(name, status): 0 for status in GOING})
            counts = session.execute(
                select(Pipeline.name, Run.status, func.count())
                .join(Run, Run.pipeline_id == Pipeline.id)
                .group_by(Pipeline.name, Run.status)
            ).all()
            for name, status, count in counts:
                target = out.runs if status in ENDED else out.active
                target[(name, status)] = count
            # Each pipeline's latest ended run (by end time): failed or not.
            for name, status, _ in latest_ended(session):
                out.last_ok[name] = int(status == "succeeded")
            for name, spec in session.execute(
                select(Pipeline.name, PipelineVersion.spec).join(
                    PipelineVersion,
                    (PipelineVersion.pipeline_id == Pipeline.id)
                    & (PipelineVersion.version == Pipeline.current_version),
                )
            ):
                if isinstance(spec, dict) and spec.get("sla"):
                    out.critical.append(name)
            out.sla_misses = dict(
                session.execute(
                    select(Pipeline.name, func.count())
                    .join(Run, Run.pipeline_id == Pipeline.id)
                    .where(Run.sla_missed_at.is_not(None))
                    .group_by(Pipeline.name)
                ).all()
            )
            out.last_sla_missed = {
                verdict.pipeline: int(verdict.missed_at is not None)
                for verdict in latest_sla_verdicts(session)
            }
            out.attempts = dict(
                session.execute(
                    select(StepRun.status, func.count())
                    .where(StepRun.attempt > 0)
                    .group_by(StepRun.status)
                ).all()
            )
            out.scans = dict(
                session.execute(
                    select(CatalogScan.status, func.count()).group_by(CatalogScan.status)
                ).all()
            )
            out.notifications = {
                (event, status): count
                for event, status, count in session.execute(
                    select(Notification.event, Notification.status, func.count()).group_by(
                        Notification.event, Notification.status
                    )
                )
            }
            try:
                out.at_risk = at_risk(session)
            except Exception:  # the other figures still count
                log.warning("metrics: SLA risks could not be worked out", exc_info=True)
            try:
                out.freshness = freshness(session)
            except Exception:
                log.warning("metrics: dataset freshness could not be worked out", exc_info=True)
            if session.get_bind().dialect.name == "postgresql":
                out.pg_active = session.scalar(
                    text("SELECT count(*) FROM pg_stat_activity WHERE state = 'active'")
                )
        return out

    def describe(self) -> Iterator:
        return iter(())  # figures are read lazily: never touch the DB at registration

    def collect(self) -> Iterator:
        figures = self.figures()
        if figures is None:
            return
        runs = CounterMetricFamily(
            "workbench_pipeline_runs",
            "Pipeline runs that ended, by pipeline and final status (from the run history).",
            labels=["pipeline_name", "status"],
        )
        for (name, status), count in sorted(figures.runs.items()):
            runs.add_metric([name, status], count)
        yield runs
        active = GaugeMetricFamily(
            "workbench_pipeline_runs_active",
            "Pipeline runs queued or running now, by pipeline and status.",
            labels=["pipeline_name", "status"],
        )
        for (name, status), count in sorted(figures.active.items()):
            active.add_metric([name, status], count)
        yield active
        last = GaugeMetricFamily(
            "workbench_pipeline_last_run_success",
            "1 when the pipeline's latest ended run succeeded, 0 when it failed or was cancelled.",
            labels=["pipeline_name"],
        )
        for name, ok in sorted(figures.last_ok.items()):
            last.add_metric([name], ok)
        yield last
        critical = GaugeMetricFamily(
            "workbench_pipeline_critical",
            "1 for each pipeline whose current version declares an SLA (the pipelines "
            "PipelineFailed pages for).",
            labels=["pipeline_name"],
        )
        for name in sorted(figures.critical):
            critical.add_metric([name], 1)
        yield critical
        last_missed = GaugeMetricFamily(
            "workbench_pipeline_last_sla_missed",
            "1 when the pipeline's latest run with an SLA verdict missed its deadline, 0 when "
            "it succeeded in time (the pipelines PipelineSlaMissed pages for, if critical).",
            labels=["pipeline_name"],
        )
        for name, missed in sorted(figures.last_sla_missed.items()):
            last_missed.add_metric([name], missed)
        yield last_missed
        misses = CounterMetricFamily(
            "workbench_pipeline_sla_misses",
            "Runs that missed their pipeline's SLA deadline, by pipeline (dataset empty); "
            "and the freshness SLA misses of each dataset a pipeline declares (dataset set).",
            labels=["pipeline_name", "dataset"],
        )
        for name, count in sorted(figures.sla_misses.items()):
            misses.add_metric([name, ""], count)
        for item in figures.freshness:
            misses.add_metric([item.declared.pipeline, item.declared.dataset], item.misses)
        yield misses
        yield from _freshness_metrics(figures.freshness)
        attempts = CounterMetricFamily(
            "workbench_step_attempts",
            "Step attempts by outcome (succeeded, failed, timed_out, cancelled, lost, running).",
            labels=["status"],
        )
        for status, count in sorted(figures.attempts.items()):
            attempts.add_metric([status], count)
        yield attempts
        scans = CounterMetricFamily(
            "workbench_catalog_scans",
            "Catalog scans by outcome.",
            labels=["status"],
        )
        for status, count in sorted(figures.scans.items()):
            scans.add_metric([status], count)
        yield scans
        risks = GaugeMetricFamily(
            "workbench_pipeline_sla_at_risk",
            "1 while a pipeline with an SLA has not succeeded since a pipeline upstream of it "
            "(by the datasets they share) failed or ran past its deadline, and its own "
            "deadline has not passed.",
            labels=["pipeline_name", "upstream", "reason"],
        )
        deadlines = GaugeMetricFamily(
            "workbench_pipeline_sla_deadline_timestamp_seconds",
            "The deadline (Unix time) of each pipeline at risk, when it is known.",
            labels=["pipeline_name"],
        )
        for risk in figures.at_risk:
            risks.add_metric([risk.pipeline, risk.upstream, risk.reason], 1)
        for pipeline, deadline in sorted(
            {r.pipeline: r.deadline for r in figures.at_risk if r.deadline}.items()
        ):
            deadlines.add_metric([pipeline], deadline.timestamp())
        yield risks
        yield deadlines
        notices = CounterMetricFamily(
            "workbench_notifications",
            "Run notifications (e-mail, webhooks) by event and fate: sent, failed (after "
            "its retries), skipped.",
            labels=["event", "status"],
        )
        for (event, status), count in sorted(figures.notifications.items()):
            notices.add_metric([event, status], count)
        yield notices
        if figures.pg_active is not None:
            yield GaugeMetricFamily(
                "workbench_postgres_connections_active",
                "Active connections of the metadata DB's PostgreSQL (pg_stat_activity).",
                value=figures.pg_active,
            )


def _freshness_metrics(found: list[Freshness]) -> Iterator:
    """Each dataset's age and where it stands against its freshness SLA."""
    now = datetime.now(UTC)
    age = GaugeMetricFamily(
        "workbench_dataset_freshness_seconds",
        "Seconds since the last write of each dataset with a freshness SLA.",
        labels=["dataset"],
    )
    for dataset, seconds in sorted(
        {f.declared.dataset: f.age(now) for f in found if f.last_write}.items()
    ):
        age.add_metric([dataset], seconds)
    yield age
    status = GaugeMetricFamily(
        "workbench_dataset_sla_status",
        "1 for the status (ok, at_risk, missed) a dataset's freshness SLA has now, 0 for "
        "the others; at_risk: a pipeline that writes it, or one upstream, failed or is late.",
        labels=["dataset", "pipeline_name", "status"],
    )
    risks = GaugeMetricFamily(
        "workbench_dataset_sla_at_risk",
        "1 while a dataset's freshness SLA is at risk: upstream, a pipeline that writes it "
        "or one feeding such a pipeline, failed or is late since the dataset's last write.",
        labels=["dataset", "pipeline_name", "upstream", "reason"],
    )
    due = GaugeMetricFamily(
        "workbench_dataset_sla_deadline_timestamp_seconds",
        "When (Unix time) each dataset must next be written (or the deadline it missed).",
        labels=["dataset", "pipeline_name"],
    )
    for f in found:
        for name in STATUSES:
            status.add_metric(
                [f.declared.dataset, f.declared.pipeline, name], float(f.status == name)
            )
        if f.due is not None:
            due.add_metric([f.declared.dataset, f.declared.pipeline], f.due.timestamp())
        if f.status == "at_risk":
            labels = [f.declared.dataset, f.declared.pipeline, f.upstream or "", f.reason or ""]
            risks.add_metric(labels, 1)
    yield status
    yield risks
    yield due


class DiskCollector(Collector):
    """Used and total bytes of the file systems holding the home and a local lake."""

    def __init__(self, volumes: dict[str, Path]) -> None:
        self.volumes = volumes

    def describe(self) -> Iterator:
        return iter(())

    def collect(self) -> Iterator:
        used = GaugeMetricFamily(
            "workbench_disk_used_bytes",
            "Bytes used on the file system holding each volume (home, lake).",
            labels=["volume", "path"],
        )
        total = GaugeMetricFamily(
            "workbench_disk_total_bytes",
            "Size in bytes of the file system holding each volume (home, lake).",
            labels=["volume", "path"],
        )
        for volume, path in sorted(self.volumes.items()):
            try:
                usage = shutil.disk_usage(path)
            except OSError:
                continue  # not there (yet): nothing to report
            used.add_metric([volume, str(path)], usage.total - usage.free)
            total.add_metric([volume, str(path)], usage.total)
        yield used
        yield total


def volumes_of(workbench: Workbench) -> dict[str, Path]:
    """The home, and the default lake when it is a folder (an S3 lake has no disk here)."""
    settings = workbench.settings
    volumes = {"home": settings.workbench_home.root}
    lake = getattr(settings, "lake_root", None) or str(settings.workbench_home.lake)
    if "://" not in lake:
        volumes["lake"] = Path(lake)
    return volumes
