"""``alerts.yaml``: the built-in engine's rules and channels, validated with line numbers."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ..errors import InvalidInputError

ALERTS_FILE = "alerts.yaml"
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
MAX_FILE_BYTES = 256 * 1024

Severity = Literal["P1", "P2", "P3"]
Name = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,99}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SlackChannel(_Strict):
    """A Slack-compatible incoming webhook: ``{"text": ...}`` (Slack, Mattermost, ...)."""

    type: Literal["slack"]
    url: str = Field(pattern=r"^https?://", max_length=2000)
    group: bool = Field(default=False, description="all notices of one evaluation in one message")


class WebhookChannel(_Strict):
    """A generic webhook (n8n, PagerDuty's Events API v2 at
    https://events.pagerduty.com/v2/enqueue): the body is a PagerDuty v2 event."""

    type: Literal["webhook", "pagerduty"]
    url: str = Field(pattern=r"^https?://", max_length=2000)
    routing_key: str = Field(default="", max_length=200)


class EmailChannel(_Strict):
    """E-mail through the SMTP server of ``smtp_url`` (else $WORKBENCH_SMTP_URL)."""

    type: Literal["email"]
    to: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")]] = Field(min_length=1)
    smtp_url: str = Field(default="", pattern=r"^(smtps?://.*)?$")
    group: bool = Field(default=False, description="all notices of one evaluation in one mail")


Channel = Annotated[SlackChannel | WebhookChannel | EmailChannel, Field(discriminator="type")]


class Escalation(_Strict):
    """One step of escalation: an alert still firing, not acknowledged (nor silenced),
    ``after`` its firing is sent ``to`` further channels (the rule's own again when
    none are named), at ``severity`` when given (then the channels told before are told
    again, at the new severity)."""

    after: timedelta = Field(description="'15m', '1h', '90s' or seconds, from the firing")
    to: list[str] = Field(default_factory=list)
    severity: Severity | None = None

    @field_validator("after", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return _parse_duration(value)


class _Rule(_Strict):
    name: Name
    severity: Severity
    channels: list[str] = Field(default_factory=list)
    summary: str = Field(default="", max_length=500)
    escalate: list[Escalation] = Field(default_factory=list, max_length=10)

    @field_validator("escalate", mode="before")
    @classmethod
    def _one_or_more(cls, value: Any) -> Any:
        return [value] if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _escalation_goes_up(self) -> _Rule:
        severity, after = self.severity, timedelta(0)
        for i, step in enumerate(self.escalate):
            if step.after <= after:
                raise ValueError(
                    f"escalate[{i}].after: each step comes later than the one before "
                    f"(give more than {after.total_seconds():g} s)"
                )
            if step.severity is not None and step.severity > severity:
                raise ValueError(
                    f"escalate[{i}].severity: {step.severity} is lower than {severity}; "
                    "an escalation keeps or raises the severity (P1 is the highest)"
                )
            if not step.to and step.severity is None and not self.channels:
                raise ValueError(f"escalate[{i}]: give to (channels) or a higher severity")
            after, severity = step.after, step.severity or severity
        return self


class PipelineFailedRule(_Rule):
    """The latest ended run of a critical pipeline (one with an ``sla``, or named in
    ``pipelines``) failed or was cancelled; resolves when a later run succeeds."""

    kind: Literal["pipeline_failed"]
    pipelines: list[str] = Field(default_factory=list)


class DiskSpaceRule(_Rule):
    """The file system of the home or a local lake is more than ``threshold_percent`` full."""

    kind: Literal["disk_space"]
    threshold_percent: float = Field(default=80.0, ge=0, le=100)


class ErrorRateRule(_Rule):
    """More than ``threshold_percent`` of the runs that ended in the last
    ``window_seconds`` failed (at least ``min_runs`` runs)."""

    kind: Literal["error_rate"]
    threshold_percent: float = Field(default=5.0, ge=0, le=100)
    window_seconds: int = Field(default=300, ge=1, le=7 * 86400)
    min_runs: int = Field(default=1, ge=1)


class SlowQueriesRule(_Rule):
    """The ``quantile`` (0.95) of the ``%sql`` query times kernels reported in the last
    ``window_seconds`` is above ``threshold_seconds``, per kind of query and data source
    (at least ``min_queries`` queries), and has been for ``for_seconds`` (Prometheus'
    ``for``: the windows ending each minute since then are slow too)."""

    kind: Literal["slow_queries"]
    threshold_seconds: float = Field(default=30.0, gt=0)
    window_seconds: int = Field(default=300, ge=10, le=1800)
    quantile: float = Field(default=0.95, gt=0, lt=1)
    min_queries: int = Field(default=1, ge=1)
    for_seconds: int = Field(
        default=0,
        ge=0,
        le=1800,
        description="only when it has held this long (checked each minute)",
    )


class ServiceDownRule(_Rule):
    """No worker has polled the task queue for ``for_seconds`` (Temporal's poller record)."""

    kind: Literal["service_down"]
    for_seconds: int = Field(default=120, ge=1, le=86400)
    answer_within_seconds: float = Field(
        default=10, gt=0, le=300, description="how long Temporal is given to answer a request"
    )


class SlaAtRiskRule(_Rule):
    """A pipeline upstream of one with an SLA (by the datasets they share) failed or is
    running past its deadline, and the downstream pipeline has not succeeded since."""

    kind: Literal["sla_at_risk"]


class SlaMissedRule(_Rule):
    """A critical pipeline (one with an ``sla``; ``pipelines`` limits it to some) missed
    its SLA: its latest run with a verdict went past its deadline; resolves when a later
    run succeeds in time."""

    kind: Literal["sla_missed"]
    pipelines: list[str] = Field(default_factory=list, description="only these (all if empty)")


class DatasetFreshnessRule(_Rule):
    """A dataset's freshness SLA (declared under ``freshness:`` in the pipeline that
    keeps it) is at risk (a pipeline that writes it, or one upstream of that, failed or
    is late since its last write) or missed; resolves when the dataset is written."""

    kind: Literal["dataset_freshness"]
    states: list[Literal["at_risk", "missed"]] = Field(
        default_factory=lambda: ["at_risk", "missed"], min_length=1
    )
    datasets: list[str] = Field(default_factory=list, description="only these (all if empty)")


Rule = Annotated[
    PipelineFailedRule
    | DiskSpaceRule
    | ErrorRateRule
    | ServiceDownRule
    | SlaAtRiskRule
    | SlaMissedRule
    | DatasetFreshnessRule
    | SlowQueriesRule,
    Field(discriminator="kind"),
]


class AlertsConfig(_Strict):
    """The whole file."""

    interval_seconds: float = Field(default=30.0, gt=0, le=3600)
    source: str = Field(default="workbench", max_length=200)
    channels: dict[Name, Channel] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _known_channels(self) -> AlertsConfig:
        seen: set[str] = set()
        for i, rule in enumerate(self.rules):
            if rule.name in seen:
                raise ValueError(f"rules[{i}]: a second rule named {rule.name!r}")
            seen.add(rule.name)
            named = [("channels", c) for c in rule.channels] + [
                (f"escalate[{j}].to", c) for j, step in enumerate(rule.escalate) for c in step.to
            ]
            for where, channel in named:
                if channel not in self.channels:
                    raise ValueError(
                        f"rules[{i}].{where}: no channel {channel!r} under channels "
                        f"(there are: {', '.join(sorted(self.channels)) or 'none'})"
                    )
        return self


def _parse_duration(value: Any) -> Any:
    """``"15m"``, ``"1h30m"``, ``"90s"``, ``"1d"`` (or a number of seconds) as a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and value.strip() and (match := _DURATION.fullmatch(value.strip())):
        days, hours, minutes, secs = (int(part or 0) for part in match.groups())
        seconds = ((days * 24 + hours) * 60 + minutes) * 60 + secs
    else:
        raise ValueError(f"{value!r} is not a duration: write e.g. '15m', '1h30m' or '90s'")
    if not 0 < seconds <= 7 * 86400:
        raise ValueError(f"{value!r}: a duration above zero and at most 7 days, e.g. '15m'")
    return timedelta(seconds=seconds)


def _positions(text: str) -> dict[tuple[Any, ...], int]:
    """The line of every value in ``text``, by field path."""
    lines: dict[tuple[Any, ...], int] = {}

    def walk(node: yaml.Node, path: tuple[Any, ...]) -> None:
        lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    walk(value, (*path, key.value))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*path, i))

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is not None:
        walk(root, ())
    return lines


def parse(text: str, where: str = ALERTS_FILE) -> AlertsConfig:
    """The rules in ``text``; raises :class:`InvalidInputError` naming each problem's line."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise InvalidInputError(f"{where}{line}: not valid YAML ({exc})") from None
    try:
        return AlertsConfig.model_validate(data or {})
    except ValidationError as exc:
        lines = _positions(text)
        problems = []
        for error in exc.errors():
            loc = _without_tag(tuple(error["loc"]))
            path = loc
            while path not in lines and path:
                path = path[:-1]
            line = lines.get(path)
            field = ".".join(str(p) for p in loc) or "(top)"
            message = re.sub(r"^Value error, ", "", error["msg"])
            problems.append(f"{where}{f':{line}' if line else ''}: {field}: {message}")
        raise InvalidInputError("; ".join(problems)) from None


def _without_tag(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """pydantic names the member of a tagged union it tried (``rules.0.disk_space.x``,
    ``channels.chat.slack.url``): the file has no such level, so it is left out."""
    if len(loc) > 2 and loc[0] in ("rules", "channels"):
        return loc[:2] + loc[3:]
    return loc


def load(home: Path) -> AlertsConfig | None:
    """The home's rules, or None when it has no ``alerts.yaml`` (the engine stays idle)."""
    path = home / ALERTS_FILE
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return None
    if size > MAX_FILE_BYTES:
        raise InvalidInputError(f"{path}: larger than {MAX_FILE_BYTES:,} bytes")
    return parse(path.read_text(encoding="utf-8"), str(path))
