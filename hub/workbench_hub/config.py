"""``configure(c)``: the whole hub configuration behind a thin ``jupyterhub_config.py``.

Today only the local mode exists: one machine, local processes, the workbench server
extension and kernel in every user server. Team mode (OIDC login, DockerSpawner, the
central workbench service) is built on top of this in its own issue.
"""

from __future__ import annotations

import os
from typing import Any

from workbench_server.errors import ConfigurationError

MODES = ("local",)


def configure(c: Any, mode: str | None = None) -> None:
    """Apply the workbench hub settings for ``mode`` (default ``$WORKBENCH_MODE`` or local)."""
    mode = mode or os.environ.get("WORKBENCH_MODE", "local")
    if mode not in MODES:
        raise ConfigurationError(f"WORKBENCH_MODE={mode!r} is not supported; use one of {MODES}")
    c.JupyterHub.ip = os.environ.get("WORKBENCH_HUB_IP", "127.0.0.1")
    c.Spawner.default_url = "/lab"
    c.Spawner.cmd = ["jupyterhub-singleuser"]
    c.Spawner.environment = {"WORKBENCH_MODE": mode}
    if os.geteuid() == 0:
        # Single-user servers refuse to run as root unless told; local mode only.
        c.Spawner.args = ["--allow-root"]
