"""Where the core finds its parts: one pydantic model shared by every adapter."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, Field

from .errors import ConfigurationError
from .home import WorkbenchHome

DB_URL_ENV = "WORKBENCH_DB_URL"
TEMPORAL_ADDRESS_ENV = "WORKBENCH_TEMPORAL_ADDRESS"
TEMPORAL_NAMESPACE_ENV = "WORKBENCH_TEMPORAL_NAMESPACE"
TASK_QUEUE_ENV = "WORKBENCH_TASK_QUEUE"
OPENLINEAGE_TRANSPORT_ENV = "WORKBENCH_OPENLINEAGE_TRANSPORT"
OPENLINEAGE_NAMESPACE_ENV = "WORKBENCH_OPENLINEAGE_NAMESPACE"
DEFAULT_TASK_QUEUE = "workbench"
DEFAULT_OPENLINEAGE_NAMESPACE = "workbench"


def json_object_env(name: str) -> dict | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name}: not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ConfigurationError(f"{name}: expected a JSON object")
    return value


class WorkbenchSettings(BaseModel):
    """Resolved settings of one workbench installation."""

    home: Path
    db_url: str
    temporal_address: str | None = Field(
        default=None, description="host:port of the Temporal frontend; None when not configured"
    )
    temporal_namespace: str = "default"
    task_queue: str = DEFAULT_TASK_QUEUE
    openlineage_transport: dict | None = Field(
        default=None,
        description="an openlineage-python transport config (http, file, kafka, ...); "
        "None sends lineage events nowhere unless OPENLINEAGE_URL/OPENLINEAGE_CONFIG is set",
    )
    openlineage_namespace: str = DEFAULT_OPENLINEAGE_NAMESPACE

    @property
    def workbench_home(self) -> WorkbenchHome:
        return WorkbenchHome(self.home)

    @classmethod
    def from_env(
        cls, home: str | os.PathLike[str] | None = None, **overrides: object
    ) -> WorkbenchSettings:
        """Settings from ``WORKBENCH_*`` variables; explicit overrides win when not None."""
        resolved = WorkbenchHome.resolve(home)
        values: dict[str, object] = {
            "home": resolved.root,
            "db_url": os.environ.get(DB_URL_ENV) or resolved.default_db_url,
            "temporal_address": os.environ.get(TEMPORAL_ADDRESS_ENV) or None,
            "temporal_namespace": os.environ.get(TEMPORAL_NAMESPACE_ENV) or "default",
            "task_queue": os.environ.get(TASK_QUEUE_ENV) or DEFAULT_TASK_QUEUE,
            "openlineage_transport": json_object_env(OPENLINEAGE_TRANSPORT_ENV),
            "openlineage_namespace": os.environ.get(OPENLINEAGE_NAMESPACE_ENV)
            or DEFAULT_OPENLINEAGE_NAMESPACE,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)

    def with_running_stack(self) -> WorkbenchSettings:
        """Fill in Temporal from the ``workbench up`` running on this home, if any."""
        state_file = self.workbench_home.run_dir / "state.json"
        try:
            state = json.loads(state_file.read_text())
        except (OSError, ValueError):
            return self
        return self.model_copy(
            update={
                "temporal_address": state.get("temporal"),
                "task_queue": state.get("task_queue", self.task_queue),
            }
        )

    def child_env(self) -> dict[str, str]:
        """Environment variables that hand these settings to a child process."""
        env = {
            "WORKBENCH_HOME": str(self.home),
            DB_URL_ENV: self.db_url,
            TEMPORAL_NAMESPACE_ENV: self.temporal_namespace,
            TASK_QUEUE_ENV: self.task_queue,
            OPENLINEAGE_NAMESPACE_ENV: self.openlineage_namespace,
        }
        if self.openlineage_transport:
            env[OPENLINEAGE_TRANSPORT_ENV] = json.dumps(self.openlineage_transport)
        if self.temporal_address:
            env[TEMPORAL_ADDRESS_ENV] = self.temporal_address
        return env
