"""``workbench connection add|list|show|test|remove`` and ``workbench secrets rotate``.

Secrets never travel on the command line (anyone on the machine can read process
arguments): they are prompted for without echo, or read from standard input.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import click
from pydantic import ValidationError

from ..connections.kinds import KINDS, NAME_HELP
from ..errors import ConflictError, InvalidInputError
from . import home_option


def _fields(kind: str) -> list[str]:
    """Settings of ``kind`` by their API names, secrets included."""
    return [
        field.alias or name for name, field in KINDS[kind].model_fields.items() if name != "kind"
    ]


def _kinds_help() -> str:
    """Each kind's fields, for ``connection add --help`` (required ones marked *)."""
    lines = ["\b", "Fields of each kind (* required; secret ones are prompted for):"]
    for kind, config in KINDS.items():
        shown = []
        for name, field in config.model_fields.items():
            if name == "kind":
                continue
            label = field.alias or name
            if name in config.secret_fields:
                label += " (secret)"
            elif field.is_required():
                label += "*"
            elif (default := field.get_default(call_default_factory=True)) not in (
                None,
                "",
                False,
                [],
            ):
                label += f"={default}"
            shown.append(label)
        lines.append(f"  {kind:11} {', '.join(shown)}")
    return "\n".join(lines)


def _invalid(name: str, kind: str, exc: ValidationError) -> InvalidInputError:
    """One line naming each wrong field and what to give instead, never a value (a
    mistyped secret would be one)."""
    known = ", ".join(_fields(kind))
    problems = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = [str(part) for part in error["loc"]]
        if loc == ["name"]:
            return InvalidInputError(f"connection name {name!r}: use {NAME_HELP}")
        field = loc[2] if loc[:1] == ["settings"] and len(loc) > 2 else ".".join(loc)
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            problems.append(f"{field!r} is not a field of a {kind} connection ({known})")
        elif error["type"] == "missing":
            problems.append(f"{field} is required (--set {field}=...)")
        else:
            problems.append(f"{field}: {message[:1].lower()}{message[1:]}")
    return InvalidInputError(f"connection {name!r}: " + "; ".join(problems))


def _workbench(home: str | None, what: str = "manage connections and the catalog"):
    from ..core import Workbench
    from ..settings import WorkbenchSettings
    from .remote import refuse_local_core_in_hub

    refuse_local_core_in_hub(what)
    settings = WorkbenchSettings.from_env(home)
    settings.workbench_home.prepare()
    if settings.temporal_address is None:
        settings = settings.with_running_stack()
    return Workbench(settings)


def _service(home: str | None):
    from ..connections import ConnectionService
    from ..principal import local_principal

    return ConnectionService(_workbench(home), local_principal())


def _parse_sets(pairs: tuple[str, ...]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidInputError(f"--set {pair!r}: expected FIELD=VALUE")
        values[key.strip()] = value
    return values


def _read_secrets(kind: str, from_stdin: bool, prompt: bool) -> dict[str, str]:
    fields = KINDS[kind].secret_fields
    if from_stdin:
        # One FIELD=VALUE per line, e.g. `printf 'password=%s\n' "$PW" | workbench ...`.
        secrets: dict[str, str] = {}
        for number, line in enumerate(sys.stdin.read().splitlines(), start=1):
            if not line.strip():
                continue
            key, sep, value = line.partition("=")
            if not sep or not key.strip():
                # The line is not shown: it may well be the secret itself.
                raise InvalidInputError(
                    f"--secrets-stdin: line {number} is not FIELD=VALUE (e.g. "
                    f"password=...; secret fields of {kind}: {', '.join(fields) or 'none'})"
                )
            secrets[key.strip()] = value
        return secrets
    if prompt and fields and sys.stdin.isatty():
        secrets = {}
        for field in fields:
            value = click.prompt(
                f"{field} (empty to leave unset)", default="", hide_input=True, show_default=False
            )
            if value:
                secrets[field] = value
        return secrets
    return {}


def _refuse_secrets_in_args(kind: str, values: dict[str, Any]) -> None:
    named = sorted(set(values) & set(KINDS[kind].secret_fields))
    if named:
        raise InvalidInputError(
            f"{', '.join(named)} may not be given on the command line (others can read it); "
            "you will be prompted, or pipe FIELD=VALUE lines with --secrets-stdin"
        )
    # A password in a URL (user:pw@, ?password=) is one too: the save would move it
    # into the encrypted password, but it was on the command line meanwhile.
    from ..connections.service import config_url_passwords

    for field in config_url_passwords(values):
        raise InvalidInputError(
            f"{field}: a password in a URL may not be given on the command line (others "
            "can read it); give the URL without it, and the password when prompted or as "
            "a password=VALUE line with --secrets-stdin"
        )


@click.group()
def connection() -> None:
    """Manage data connections (Odoo, PostgreSQL, DuckDB, lake, SQLAlchemy, Superset)."""


@connection.command("add", epilog=_kinds_help())
@home_option
@click.argument("name")
@click.option(
    "--kind",
    required=True,
    type=click.Choice(list(KINDS)),
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="FIELD=VALUE",
    help="A non-secret setting, e.g. --set host=db.example.com (repeatable).",
)
@click.option("--description", default="")
@click.option("--share", "groups", multiple=True, metavar="GROUP", help="Share with a group.")
@click.option("--secrets-stdin", is_flag=True, help="Read FIELD=VALUE secret lines from stdin.")
def add(
    home: str | None,
    name: str,
    kind: str,
    sets: tuple[str, ...],
    description: str,
    groups: tuple[str, ...],
    secrets_stdin: bool,
) -> None:
    """Add connection NAME of a KIND; secrets are prompted for or read from stdin.

    NAME is what notebooks use (%sql NAME ...): lower-case letters, digits and _.
    """
    from ..connections import ConnectionCreate

    values = _parse_sets(sets)
    _refuse_secrets_in_args(kind, values)

    def validated(settings: dict[str, Any]) -> ConnectionCreate:
        body = {"name": name, "description": description, "shared_groups": list(groups)}
        try:
            return ConnectionCreate.model_validate({**body, "settings": {**settings, "kind": kind}})
        except ValidationError as exc:
            raise _invalid(name, kind, exc) from None

    validated(values)  # a mistake is reported before any secret is asked for
    service = _service(home)
    existing = next((c for c in service.list() if c.name == name), None)
    if existing is not None and existing.may_change:  # before any secret is asked for
        raise ConflictError(
            f"a connection named {name!r} already exists ({existing.kind}); change it with "
            f"workbench connection edit {name} (--set, --secrets-stdin, --share), or remove it"
        )
    spec = validated({**values, **_read_secrets(kind, secrets_stdin, prompt=True)})
    created = service.create(spec)
    click.echo(f"added connection {created.name!r} ({created.kind})")


@connection.command("edit")
@home_option
@click.argument("name")
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="FIELD=VALUE",
    help="Change a non-secret setting, e.g. --set database=odoo17 (repeatable).",
)
@click.option("--description", default=None, help="A new description.")
@click.option("--share", "share", multiple=True, metavar="GROUP", help="Share with a group.")
@click.option(
    "--unshare", "unshare", multiple=True, metavar="GROUP", help="Stop sharing with a group."
)
@click.option(
    "--secrets-stdin", is_flag=True, help="Read FIELD=VALUE secret lines to change from stdin."
)
def edit(
    home: str | None,
    name: str,
    sets: tuple[str, ...],
    description: str | None,
    share: tuple[str, ...],
    unshare: tuple[str, ...],
    secrets_stdin: bool,
) -> None:
    """Change connection NAME (yours, or any as an admin): settings, secrets, description,
    the groups it is shared with. What is not named stays as it is."""
    from ..connections.service import ConnectionUpdate

    service = _service(home)
    current = service.get(name)  # "no connection named ..." before anything is read
    values = _parse_sets(sets)
    _refuse_secrets_in_args(current.kind, values)
    values |= _read_secrets(current.kind, secrets_stdin, prompt=False)
    both = sorted(set(share) & set(unshare))
    if both:
        raise InvalidInputError(f"--share and --unshare both name {', '.join(both)}")
    groups = None
    if share or unshare:
        groups = sorted((set(current.shared_groups) | set(share)) - set(unshare))
    if not values and description is None and groups is None:
        raise InvalidInputError(
            "nothing to change: give --set FIELD=VALUE, --secrets-stdin, --description, "
            "--share GROUP or --unshare GROUP"
        )
    try:
        patch = ConnectionUpdate(
            description=description, shared_groups=groups, settings=values or None
        )
        updated = service.update(name, patch)  # the settings are checked as merged
    except ValidationError as exc:
        raise _invalid(name, current.kind, exc) from None
    shared = ", ".join(updated.shared_groups) or "no group"
    click.echo(f"updated connection {updated.name!r} ({updated.kind}); shared with {shared}")


@connection.command("list")
@home_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(home: str | None, as_json: bool) -> None:
    """List the connections you may use."""
    rows = _service(home).list()
    if as_json:
        click.echo(json.dumps([row.model_dump(mode="json") for row in rows], indent=2))
        return
    click.echo(f"{'NAME':20} {'KIND':10} {'OWNER':12} DESCRIPTION")
    for row in rows:
        click.echo(f"{row.name:20} {row.kind:10} {row.owner:12} {row.description}")


@connection.command("show")
@home_option
@click.argument("name")
def show(home: str | None, name: str) -> None:
    """Show one connection (secrets appear as ***set***)."""
    click.echo(json.dumps(_service(home).get(name).model_dump(mode="json"), indent=2))


@connection.command("test")
@home_option
@click.argument("name")
@click.option("--timeout", default=10.0, show_default=True, type=click.FloatRange(0.1, 300))
def test(home: str | None, name: str, timeout: float) -> None:
    """Connect once and report the server version and latency, or why it failed."""
    from ..connections.probes import probe

    result = asyncio.run(probe(name, _service(home).resolve_for_test(name), timeout))
    click.echo(result.message, err=not result.ok)
    if result.replication:  # queries, scans and extracts work either way
        click.echo(f"for change data capture only (extract mode: cdc): {result.replication}")
    sys.exit(0 if result.ok else 1)


@connection.command("remove")
@home_option
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def remove(home: str | None, name: str, yes: bool) -> None:
    """Remove connection NAME."""
    service = _service(home)
    service.get(name)  # a clear "no connection named ..." before asking anything
    if not yes:
        click.confirm(f"Remove connection {name!r}?", abort=True)
    service.delete(name)
    click.echo(f"removed connection {name!r}")


@click.group()
def secrets() -> None:
    """Manage the key that encrypts connection secrets."""


@secrets.command("rotate")
@home_option
def rotate(home: str | None) -> None:
    """Re-encrypt every secret under a new key, then retire the old key."""
    from ..connections.service import rotate_secrets

    count = rotate_secrets(_workbench(home))
    click.echo(f"re-encrypted {count} connection secret(s) under a new key")
