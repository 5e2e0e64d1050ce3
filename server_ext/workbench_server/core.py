"""The workbench core: settings, metadata store and Temporal client, owned in one place.

Adapters (REST handlers, CLI, hub service) hold one :class:`Workbench` and call into the
domain modules with it; none of them opens its own engine or client.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from . import temporal
from .db import make_engine, session_factory, upgrade_to_head
from .errors import ConfigurationError
from .health import (
    HealthReport,
    database_probe,
    temporal_probe,
    timed,
    with_restarts,
    worker_probe,
)
from .secrets import SecretBox
from .settings import WorkbenchSettings

if TYPE_CHECKING:
    from temporalio.client import Client

log = logging.getLogger(__name__)

T = TypeVar("T")


class Workbench:
    """One installation's core services."""

    def __init__(self, settings: WorkbenchSettings, *, migrate: bool = True) -> None:
        self.settings = settings
        home = settings.workbench_home
        if settings.db_url == home.default_db_url:
            home.prepare()  # the SQLite file lives in the home: make sure the home exists
        self.engine: Engine = make_engine(settings.db_url)
        if migrate:
            upgrade_to_head(self.engine, home.secrets_key)
        self.sessions: sessionmaker[Session] = session_factory(self.engine)
        self._client: Client | None = None
        self._client_lock = asyncio.Lock()
        self._resources: dict[str, Any] = {}
        self._resources_lock = threading.Lock()

    @cached_property
    def secret_box(self) -> SecretBox:
        """Encrypts connection secrets with the key of this installation."""
        return SecretBox(self.settings.workbench_home.secrets_key)

    def resource(self, name: str, make: Callable[[], T]) -> T:
        """The installation's one ``name`` (such as the OpenLineage emitter), made by
        ``make`` on first use and closed (its ``close()``, if any) with the workbench.

        The domain modules own what they keep per installation; the core holds it
        without importing them (the import graph points from them to the core).
        """
        with self._resources_lock:
            if name not in self._resources:
                self._resources[name] = make()
            return self._resources[name]

    async def temporal_client(self) -> Client:
        """A connected client, created on first use and reused afterwards."""
        async with self._client_lock:
            if self._client is None:
                if not self.settings.temporal_address:
                    raise ConfigurationError(
                        "Temporal is not configured (set WORKBENCH_TEMPORAL_ADDRESS)"
                    )
                self._client = await temporal.connect(
                    self.settings.temporal_address, self.settings.temporal_namespace
                )
            return self._client

    async def health(self, timeout: float = 3.0) -> HealthReport:
        """Check every part concurrently, each bounded by ``timeout`` seconds."""
        names = ("metadata_db", "temporal", "worker")
        checks = await asyncio.gather(
            timed(database_probe(self.engine), timeout),
            timed(temporal_probe(self.temporal_client), timeout),
            timed(worker_probe(self.temporal_client, self.settings.task_queue), timeout),
        )
        found = dict(zip(names, checks, strict=True))
        return HealthReport.of(with_restarts(found, self.settings.workbench_home.run_dir))

    def close(self) -> None:
        with self._resources_lock:
            resources, self._resources = list(self._resources.values()), {}
        for resource in reversed(resources):
            close = getattr(resource, "close", None)
            if close is not None:
                close()
        self.engine.dispose()
