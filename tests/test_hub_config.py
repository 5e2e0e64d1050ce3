"""jupyterhub_config.py stays thin: configure(c) sets up the local mode."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from traitlets.config import Config

from workbench_hub.config import configure
from workbench_server.errors import ConfigurationError

ROOT = Path(__file__).resolve().parents[1]


def test_jupyterhub_config_file_applies_local_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORKBENCH_MODE", raising=False)
    c = Config()
    runpy.run_path(str(ROOT / "jupyterhub_config.py"), init_globals={"c": c})
    assert c.JupyterHub.ip == "127.0.0.1"
    assert c.Spawner.default_url == "/lab"
    assert c.Spawner.environment == {"WORKBENCH_MODE": "local"}


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="WORKBENCH_MODE='cloud' is not supported"):
        configure(Config(), mode="cloud")
