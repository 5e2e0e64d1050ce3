"""The shipped alert rules, checked and unit-tested by Prometheus' own tools.

``promtool test rules`` runs tests/prometheus/workbench.rules.test.yml: every rule of the
plan fires when its condition holds long enough and resolves when it stops. The
Alertmanager example routes each severity where the plan says, by ``amtool``'s own
routing test. Debian's ``prometheus`` and ``prometheus-alertmanager`` packages bring the
tools (.ci/run installs them); a missing tool fails, it does not skip.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "images" / "prometheus" / "workbench.rules.yml"
RULE_TESTS = ROOT / "tests" / "prometheus" / "workbench.rules.test.yml"
ALERTMANAGER = ROOT / "images" / "prometheus" / "alertmanager.yml"
PROMETHEUS = ROOT / "images" / "prometheus" / "prometheus.yml"
PLAN = {
    "HighErrorRate": "P2",
    "SlowQueries": "P3",
    "DiskSpace": "P2",
    "ServiceDown": "P1",
    "PipelineFailed": "P1",
}
# Beyond the plan's table: its SLA tracking.
SLA = {"SlaAtRisk": "P2", "DatasetFreshnessAtRisk": "P2", "DatasetFreshnessMissed": "P2"}
# Beyond it too: change data capture slots keeping WAL on a source (docs/cdc.md).
SLA["CdcSlotLag"] = "P2"
# A critical pipeline that missed its SLA pages as one that failed does.
SLA["PipelineSlaMissed"] = "P1"


def tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: `apt-get install {package}` (.ci/run does)")
    return found


def run(*argv: str, cwd: Path = ROOT) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=cwd)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_rules_are_the_plans_and_valid() -> None:
    promtool = tool("promtool", "prometheus")
    rules = yaml.safe_load(RULES.read_text())["groups"][0]["rules"]
    assert {r["alert"]: r["labels"]["severity"] for r in rules} == PLAN | SLA
    out = run(promtool, "check", "rules", str(RULES))
    assert f"SUCCESS: {len(PLAN | SLA)} rules found" in out, out
    out = run(promtool, "check", "config", "--syntax-only", str(PROMETHEUS))
    assert "SUCCESS" in out, out


def test_each_rule_fires_and_resolves() -> None:
    promtool = tool("promtool", "prometheus")
    tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
    for alert in PLAN | SLA:  # every rule is tested both ways
        checks = [c for group in tests for c in group["alert_rule_test"] if c["alertname"] == alert]
        assert any(c["exp_alerts"] for c in checks), f"{alert} is never expected to fire"
        assert any(not c["exp_alerts"] for c in checks), f"{alert} is never expected quiet"
    out = run(promtool, "test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)
    assert "SUCCESS" in out, out


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        (("alertname=ServiceDown", "severity=P1"), "pager-escalate,chat"),
        (("alertname=PipelineFailed", "severity=P1"), "pager-escalate,chat"),
        (("alertname=PipelineSlaMissed", "severity=P1"), "pager-escalate,chat"),
        (("alertname=HighErrorRate", "severity=P2"), "pager"),
        (("alertname=DiskSpace", "severity=P2"), "email-and-chat"),
        (("alertname=SlowQueries", "severity=P3"), "chat"),
        (("alertname=SlaAtRisk", "severity=P2"), "pager"),
        (("alertname=DatasetFreshnessMissed", "severity=P2"), "pager"),
    ],
)
def test_alertmanager_example_routes_each_severity(labels: tuple[str, ...], receivers: str) -> None:
    amtool = tool("amtool", "prometheus-alertmanager")
    assert "SUCCESS" in run(amtool, "check-config", str(ALERTMANAGER))
    out = run(amtool, "config", "routes", "test", f"--config.file={ALERTMANAGER}", *labels)
    assert out.splitlines()[0].strip() == receivers, out
