"""Configuration of the jupyter-server that pytest-jupyter's ``jp_serverapp`` starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def workbench_server(home: Path, **workbench: Any) -> dict[str, Any]:
    """A ``jp_server_config`` with the workbench extension on ``home`` and ``workbench``'s
    further ``WorkbenchApp`` settings (temporal_address, principal_provider_class, ...)."""
    return {
        "ServerApp": {"jpserver_extensions": {"workbench_server": True}},
        "WorkbenchApp": {"home": str(home), **workbench},
    }
