"""``workbench status``: is the workbench on this home running, and is every part healthy?"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request

import click

from ..errors import ConfigurationError
from ..home import WorkbenchHome
from . import home_option


@click.command()
@home_option
def status(home: str | None) -> None:
    """Ask the running workbench for its health; exit 0 only when every part is ok."""
    workbench_home = WorkbenchHome.resolve(home)
    state_file = workbench_home.run_dir / "state.json"
    try:
        state = json.loads(state_file.read_text())
    except FileNotFoundError:
        raise ConfigurationError(f"no workbench is running on home {workbench_home.root}") from None
    if state.get("hub"):
        raise ConfigurationError(
            f"the workbench on home {workbench_home.root} runs as a hub at {state['url']}; "
            "signed-in users see its health in JupyterLab's status bar"
        )
    request = urllib.request.Request(  # noqa: S310 - the URL is our own, from state.json
        f"{state['url']}/workbench/api/health",
        headers={"Authorization": f"token {state['token']}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            report = json.load(response)
    except urllib.error.HTTPError as exc:
        report = json.load(exc)
    except OSError as exc:
        raise ConfigurationError(f"the workbench at {state['url']} does not answer: {exc}") from exc
    if "checks" not in report:  # e.g. 503: the workbench's core could not open
        raise ConfigurationError(
            f"the workbench at {state['url']} answered: {report.get('error') or report}"
        )
    click.echo(f"{report['status']:8} {state['url']}")
    for name, check in report["checks"].items():
        click.echo(f"  {check['status']:8} {name:12} {check['detail']}")
    sys.exit(0 if report["status"] == "ok" else 1)
