"""``workbench agent``: register agents (webhook endpoints) that hear your events.

In a JupyterHub user's terminal the commands act through the hub's workbench service with
the terminal's own hub token (the agent is that user's); elsewhere on the home's core as
the local user, as every ``workbench`` command does.
"""

from __future__ import annotations

from typing import Any

import click

from . import home_option


class _Agents:
    """The same five operations, through the service's REST API or on the local core."""

    def __init__(self, home: str | None) -> None:
        from .remote import service_from_env

        self.client = service_from_env() if home is None else None
        self.home = home

    def _local(self) -> Any:
        from ..agents.hooks import AgentHookService
        from ..principal import local_principal
        from .connection import _workbench

        return AgentHookService(_workbench(self.home, "manage agents"), local_principal())

    def list(self) -> list[dict[str, Any]]:
        if self.client is not None:
            return self.client.call("GET", "agents/hooks")
        return [a.model_dump(mode="json") for a in self._local().list()]

    def add(self, name: str, url: str, events: list[str]) -> dict[str, Any]:
        from ..agents.hooks import AgentIn

        body: dict[str, Any] = {"name": name, "url": url}
        if events:
            body["events"] = events
        if self.client is not None:
            return self.client.call("POST", "agents/hooks", body)
        return self._local().create(AgentIn.model_validate(body)).model_dump(mode="json")

    def rotate(self, agent_id: int) -> dict[str, Any]:
        if self.client is not None:
            return self.client.call("POST", f"agents/hooks/{agent_id}/secret")
        return self._local().rotate(agent_id).model_dump(mode="json")

    def remove(self, agent_id: int) -> None:
        if self.client is not None:
            self.client.call("DELETE", f"agents/hooks/{agent_id}")
        else:
            self._local().delete(agent_id)

    def deliveries(self, agent_id: int, limit: int) -> list[dict[str, Any]]:
        if self.client is not None:
            return self.client.call("GET", f"agents/hooks/{agent_id}/deliveries", limit=limit)
        return [d.model_dump(mode="json") for d in self._local().deliveries(agent_id, limit)]


def _secret_notice(made: dict[str, Any]) -> None:
    click.echo(f"signing secret (shown once, keep it with the agent): {made['secret']}")
    click.echo("each event carries Workbench-Signature: t=<unix time>,v1=<HMAC-SHA256>")


@click.group()
def agent() -> None:
    """Agents that hear events (dataset updated, run finished, approval requested) of
    what you may see, signed, at a URL of yours."""


@agent.command("list")
@home_option
def list_agents(home: str | None) -> None:
    """Your agents."""
    found = _Agents(home).list()
    if not found:
        click.echo("no agents: add one with `workbench agent add NAME URL`")
    for item in found:
        click.echo(f"{item['id']}  {item['name']}  {item['url']}  {','.join(item['events'])}")


@agent.command("add")
@home_option
@click.argument("name")
@click.argument("url")
@click.option(
    "--event",
    "events",
    multiple=True,
    help="An event it hears (repeat); default: dataset.updated, run.succeeded, run.failed, "
    "approval.requested.",
)
def add(home: str | None, name: str, url: str, events: tuple[str, ...]) -> None:
    """Register agent NAME at URL (http or https, allowed by the network policy)."""
    from pydantic import ValidationError

    from ..errors import InvalidInputError

    try:
        made = _Agents(home).add(name, url, list(events))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInputError(f"{where}: {first['msg']}") from None
    click.echo(f"agent {made['id']} {made['name']} hears {', '.join(made['events'])}")
    _secret_notice(made)


@agent.command("rotate")
@home_option
@click.argument("agent_id", type=int)
def rotate(home: str | None, agent_id: int) -> None:
    """A new signing secret for agent AGENT_ID (the old one signs nothing more)."""
    _secret_notice(_Agents(home).rotate(agent_id))


@agent.command("remove")
@home_option
@click.argument("agent_id", type=int)
def remove(home: str | None, agent_id: int) -> None:
    """Remove agent AGENT_ID and its deliveries."""
    _Agents(home).remove(agent_id)
    click.echo(f"agent {agent_id} removed")


@agent.command("deliveries")
@home_option
@click.argument("agent_id", type=int)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
def deliveries(home: str | None, agent_id: int, limit: int) -> None:
    """Agent AGENT_ID's latest deliveries and how each was answered."""
    found = _Agents(home).deliveries(agent_id, limit)
    if not found:
        click.echo("no deliveries yet")
    for item in found:
        last = item["history"][-1] if item["history"] else None
        answer = (last["status_code"] or last["error"]) if last else "-"
        click.echo(
            f"{item['created_at']}  {item['event']}  {item['status']}  "
            f"attempts={item['attempts']}  last answer: {answer}"
        )
