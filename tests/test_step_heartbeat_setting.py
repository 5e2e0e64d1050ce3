"""The step heartbeat timeout is an installation's setting: read from the environment,
handed to the children of ``workbench up``, and a bad value stops the start naming the
variable (the runs that use it are tested where attempts are lost: test_pipeline_runs,
test_temporal_stall, test_pipeline_outage)."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench_server.errors import ConfigurationError
from workbench_server.settings import WorkbenchSettings


def test_the_setting_is_read_and_reaches_children(monkeypatch, home: Path) -> None:
    monkeypatch.delenv("WORKBENCH_STEP_HEARTBEAT_TIMEOUT", raising=False)
    assert WorkbenchSettings.from_env(home).step_heartbeat_timeout_s == 10
    monkeypatch.setenv("WORKBENCH_STEP_HEARTBEAT_TIMEOUT", "2.5")
    settings = WorkbenchSettings.from_env(home)
    assert settings.step_heartbeat_timeout_s == 2.5
    assert settings.child_env()["WORKBENCH_STEP_HEARTBEAT_TIMEOUT"] == "2.5"


@pytest.mark.parametrize("raw", ["0.5", "0", "-3", "ten", "nan", "inf"])
def test_a_bad_value_is_refused_naming_the_variable(monkeypatch, home: Path, raw: str) -> None:
    monkeypatch.setenv("WORKBENCH_STEP_HEARTBEAT_TIMEOUT", raw)
    with pytest.raises(ConfigurationError) as refused:
        WorkbenchSettings.from_env(home)
    assert str(refused.value) == (
        f"WORKBENCH_STEP_HEARTBEAT_TIMEOUT={raw!r}: expected a number of seconds, at least 1"
    )
