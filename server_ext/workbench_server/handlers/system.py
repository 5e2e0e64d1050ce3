"""Health and version of the workbench."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

import tornado.web
from jupyter_server.auth.decorator import authorized
from pydantic import BaseModel

from .._version import __version__
from .base import WorkbenchHandler

COMPONENTS = ("jupyterlab", "jupyter-server", "temporalio", "duckdb", "sqlalchemy", "papermill")


class VersionInfo(BaseModel):
    version: str
    python: str
    components: dict[str, str]


def _installed(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "not installed"


class HealthHandler(WorkbenchHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        report = await self.workbench.health(self.settings["workbench_health_timeout"])
        # Starting is no failure: the lab serves and runs wait for the worker's first poll.
        self.write_json(report, status=503 if report.status in ("degraded", "down") else 200)


class VersionHandler(WorkbenchHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json(
            VersionInfo(
                version=__version__,
                python=platform.python_version(),
                components={name: _installed(name) for name in COMPONENTS},
            )
        )


ROUTES = [("health", HealthHandler), ("version", VersionHandler)]
