"""The pipeline spec: a YAML DAG of steps (notebooks and declarative kinds) as pydantic models.

A :class:`PipelineSpec` that exists is valid on its own terms: every field has the right
type, cron expressions and time zones are ones Temporal accepts, step ids are unique,
``depends_on`` names known steps without cycles and templates only use known names.
Checks that need the file system (notebooks exist) or the YAML source (line numbers) live
in :mod:`workbench_pipelines.validate`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails

from workbench_server.errors import InvalidInputError

from .spec_checks import (
    TEMPLATE_NAMES,
    graph_problems,
    reference_problems,
    render_value,
    template_context,
)
from .spec_cron import cron_problem, timezone_problem
from .spec_steps import (
    ApprovalStep,
    ExtractStep,
    MergeStep,
    NotebookStep,
    Scd2Step,
    SqlStep,
    StepSpec,
)
from .spec_types import (
    DEFAULT_NON_RETRYABLE,
    TIMEOUT_ERROR,
    ClockTime,
    DatasetName,
    Duration,
    GroupName,
    Identifier,
    NotificationTarget,
    ParameterType,
    PipelineName,
    RetrySpec,
    coerce_parameter,
    custom_error,
    format_duration,
    parse_duration,
)

__all__ = [
    "DEFAULT_NON_RETRYABLE",
    "TEMPLATE_NAMES",
    "TIMEOUT_ERROR",
    "AccessSpec",
    "ApprovalStep",
    "ExtractStep",
    "FreshnessSpec",
    "MergeStep",
    "NotebookStep",
    "NotificationsSpec",
    "ParameterSpec",
    "PipelineSpec",
    "RetrySpec",
    "Scd2Step",
    "ScheduleSpec",
    "SlaSpec",
    "SqlStep",
    "StepSpec",
    "coerce_parameter",
    "format_duration",
    "parse_duration",
]

# The error type of cross-field problems raised by PipelineSpec's own validator; the YAML
# validator recognises it to know that field-level validation had passed.
REFERENCE_ERROR = "pipeline_reference"


class _Model(BaseModel):
    # Unknown keys are errors: a misspelt `retires:` must not silently mean "no retries".
    model_config = ConfigDict(extra="forbid")


class ParameterSpec(_Model):
    """A typed pipeline parameter; runs may override its default."""

    type: ParameterType = Field(
        description="string, integer, number, decimal (exact, for money), boolean or date."
    )
    default: Any = Field(None, description="Value used when a run does not give one.")
    description: str = ""
    required: bool = Field(False, description="Every run must give a value (no default).")

    @field_validator("default")
    @classmethod
    def _default_matches_type(cls, value: Any, info: ValidationInfo) -> Any:
        kind = info.data.get("type")
        if value is None or kind is None:
            return value
        if kind == "decimal" and isinstance(value, float):
            # YAML reads 10.10 as a binary float: its digits as written are gone.
            raise custom_error(
                "parameter_type",
                f"default {value!r} of a decimal parameter is read as a binary "
                f"floating-point number: write it quoted, as text (default: '{value!r}')",
            )
        try:
            return coerce_parameter(kind, value)
        except ValueError as exc:
            raise custom_error("parameter_type", f"default {exc}") from None

    @model_validator(mode="after")
    def _required_has_no_default(self) -> ParameterSpec:
        if self.required and self.default is not None:
            raise custom_error(
                "parameter", "a required parameter has no default: remove one of them"
            )
        return self


# --- schedule, SLA, notifications, retries ---------------------------------------------

OverlapPolicy = Literal[
    "skip", "buffer_one", "buffer_all", "cancel_other", "terminate_other", "allow_all"
]


class ScheduleSpec(_Model):
    """When runs start: a cron expression in a time zone, or a fixed interval."""

    cron: str | None = Field(None, description="Cron expression, e.g. '0 6 1 * *'.")
    interval: Duration | None = Field(None, description="Fixed interval, e.g. '15m'.")
    timezone: str = Field("UTC", description="IANA time zone of the cron expression.")
    catchup_window: Duration | None = Field(
        None, description="How late a missed run may still start (Temporal default: 1 year)."
    )
    overlap: OverlapPolicy = Field(
        "skip", description="What to do when a run is due while the previous one still runs."
    )
    paused: bool = False

    @field_validator("cron")
    @classmethod
    def _cron_is_valid(cls, value: str | None) -> str | None:
        problem = cron_problem(value) if value is not None else None
        if problem:
            raise custom_error("cron", f"bad cron expression {value!r}: {problem}")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone_is_known(cls, value: str) -> str:
        problem = timezone_problem(value)
        if problem:
            raise custom_error("timezone", problem)
        return value

    @field_validator("catchup_window")
    @classmethod
    def _catchup_is_long_enough(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value < timedelta(seconds=10):
            raise custom_error(
                "duration", "catchup_window must be at least 10s (Temporal's minimum)"
            )
        return value

    @model_validator(mode="after")
    def _cron_or_interval(self) -> ScheduleSpec:
        if (self.cron is None) == (self.interval is None):
            raise custom_error("schedule", "give either cron or interval (exactly one of them)")
        return self


ChangeOverlap = Literal["buffer_one", "allow_all"]


class OnChangeSpec(_Model):
    """Runs started when datasets change: after each committed batch of a change data
    capture step (``mode: cdc``) or a declarative step's write of one of ``datasets``.

    Changes are coalesced: the changes that arrive while ``debounce`` runs, or while a
    run started by them is still running, start one run after it (``buffer_one``), never
    a second one beside it; ``allow_all`` starts a run per change even while others run.
    """

    datasets: list[DatasetName] = Field(
        min_length=1,
        max_length=50,
        description="The datasets whose changes start a run, e.g. 'lake.bronze.res_partner' "
        "('bronze.res_partner' is the default lake's).",
    )
    debounce: Duration | None = Field(
        None,
        description="Wait this long after a change for more before starting a run, e.g. '2s' "
        "(default: start at once; changes during a run wait for it anyway).",
    )
    overlap: ChangeOverlap = Field(
        "buffer_one",
        description="buffer_one: changes during a run start one run after it; allow_all: "
        "a run per change, also beside a running one.",
    )

    @model_validator(mode="before")
    @classmethod
    def _short_forms(cls, value: Any) -> Any:
        if isinstance(value, str):  # on_change: bronze.res_partner
            return {"datasets": [value]}
        if isinstance(value, list):  # on_change: [bronze.a, bronze.b]
            return {"datasets": value}
        return value

    @field_validator("datasets")
    @classmethod
    def _default_lake(cls, value: list[str]) -> list[str]:
        full = [f"lake.{d}" if d.count(".") == 1 else d for d in value]
        return sorted(set(full), key=full.index)

    @field_validator("debounce")
    @classmethod
    def _short_debounce(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value > timedelta(hours=1):
            raise custom_error("duration", "debounce must be at most 1h")
        return value


class SlaSpec(_Model):
    """When a run must be done; missing it notifies ``notifications.on_sla_miss``."""

    finish_by: ClockTime | None = Field(
        None, description="HH:MM in the schedule's time zone (UTC without a schedule)."
    )
    max_duration: Duration | None = Field(None, description="Longest acceptable run.")

    @model_validator(mode="after")
    def _something_to_check(self) -> SlaSpec:
        if self.finish_by is None and self.max_duration is None:
            raise custom_error("sla", "give finish_by, max_duration or both")
        return self


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_SETS = {"daily": WEEKDAYS, "weekdays": WEEKDAYS[:5]}


class FreshnessSpec(_Model):
    """A dataset this pipeline keeps fresh: written no longer than ``max_age`` ago, or
    written by ``updated_by`` on each of ``days``. At risk before it misses when a
    pipeline that writes it (or feeds one that does) fails or runs late."""

    dataset: DatasetName = Field(
        description="The dataset, e.g. 'lake.gold.trial_balance' ('gold.trial_balance' "
        "is the default lake's)."
    )
    max_age: Duration | None = Field(
        None, description="Longest time since its last write, e.g. '26h'."
    )
    updated_by: ClockTime | None = Field(
        None, description="HH:MM by which each due day's write must be there."
    )
    timezone: str | None = Field(
        None, description="IANA time zone of updated_by (the schedule's, else UTC)."
    )
    days: list[Weekday] = Field(
        default_factory=lambda: list(WEEKDAYS),
        description="Days updated_by applies to: names (mon ... sun), 'weekdays' or 'daily'.",
    )

    @field_validator("dataset")
    @classmethod
    def _default_lake(cls, value: str) -> str:
        return f"lake.{value}" if value.count(".") == 1 else value

    @field_validator("days", mode="before")
    @classmethod
    def _day_set(cls, value: Any) -> Any:
        if isinstance(value, str) and value in _DAY_SETS:
            return list(_DAY_SETS[value])
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone_is_known(cls, value: str | None) -> str | None:
        problem = timezone_problem(value) if value is not None else None
        if problem:
            raise custom_error("timezone", problem)
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> FreshnessSpec:
        if (self.max_age is None) == (self.updated_by is None):
            raise custom_error("freshness", "give either max_age or updated_by (one of them)")
        if not self.days:
            raise custom_error("freshness", "days: name at least one day, e.g. weekdays")
        return self


class NotificationsSpec(_Model):
    """Who hears about runs: targets such as ``email:x@y.com`` or ``webhook:https://...``."""

    on_failure: list[NotificationTarget] = Field(default_factory=list)
    on_sla_miss: list[NotificationTarget] = Field(default_factory=list)
    on_success: list[NotificationTarget] = Field(default_factory=list)


class AccessSpec(_Model):
    """Who besides the owner and admins may see or run the pipeline, by hub group.

    Viewers see the pipeline, its runs with their parameters, and every attempt's
    executed notebook and log (which hold whatever data the notebooks printed).
    Operators may also start runs (with parameters they choose), cancel and repair them,
    and pause, resume or trigger the schedule. Every run acts with the owner's
    connections, whoever started it: make a group an operator only if its members may
    use what the owner's connections reach. Only the owner and admins deploy new
    versions.
    """

    viewers: list[GroupName] = Field(
        default_factory=list, description="Hub groups that see the pipeline and its runs."
    )
    operators: list[GroupName] = Field(
        default_factory=list,
        description="Hub groups that may also start, cancel and repair runs and control "
        "the schedule; runs act with the owner's connections.",
    )


# --- the pipeline ----------------------------------------------------------------------


class PipelineSpec(_Model):
    """A pipeline: parameters, an optional schedule, an SLA and a DAG of steps (notebooks,
    and declarative extract, merge, scd2 and sql steps)."""

    name: PipelineName
    description: str = ""
    owner: str | None = Field(None, description="User or group responsible for the pipeline.")
    parameters: dict[Identifier, ParameterSpec] = Field(default_factory=dict)
    schedule: ScheduleSpec | None = None
    on_change: OnChangeSpec | None = Field(
        None,
        description="Start a run when datasets change (e.g. a cdc step's bronze tables), "
        "once per batch of changes.",
    )
    sla: SlaSpec | None = None
    freshness: list[FreshnessSpec] = Field(
        default_factory=list,
        description="Datasets this pipeline keeps fresh, each with its freshness SLA.",
    )
    notifications: NotificationsSpec = Field(default_factory=NotificationsSpec)
    access: AccessSpec = Field(default_factory=AccessSpec)
    steps: list[StepSpec] = Field(min_length=1)

    @field_validator("freshness")
    @classmethod
    def _one_sla_per_dataset(cls, value: list[FreshnessSpec]) -> list[FreshnessSpec]:
        seen: set[str] = set()
        for entry in value:
            if entry.dataset in seen:
                raise custom_error("freshness", f"{entry.dataset} is listed twice")
            seen.add(entry.dataset)
        return value

    @model_validator(mode="after")
    def _references_are_sound(self) -> PipelineSpec:
        problems = reference_problems(self.model_dump(include={"parameters", "steps"}))
        if problems:
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [
                    InitErrorDetails(
                        type=custom_error(REFERENCE_ERROR, message), loc=loc, input=None
                    )
                    for loc, message in problems
                ],
            )
        return self

    def step(self, step_id: str) -> StepSpec:
        """The step called ``step_id`` (``KeyError`` if there is none)."""
        for step in self.steps:
            if step.id == step_id:
                return step
        raise KeyError(step_id)

    def topological_order(self) -> list[str]:
        """Step ids with every step after its dependencies; ties keep the file's order."""
        order, _ = graph_problems([(step.id, step.depends_on) for step in self.steps])
        return order

    def downstream(self, step_ids: Iterable[str]) -> list[str]:
        """The given steps and every step depending on them, in topological order."""
        order = self.topological_order()
        selected = set(step_ids)
        unknown = sorted(selected.difference(order))
        if unknown:
            raise KeyError(unknown[0])
        depends_on = {step.id: step.depends_on for step in self.steps}
        for step_id in order:
            if selected.intersection(depends_on[step_id]):
                selected.add(step_id)
        return [step_id for step_id in order if step_id in selected]

    def check_run_parameters(self, given: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Problems with a run's parameters as ``(path, message)``: unknown, missing, mistyped."""
        problems = []
        for name, value in given.items():
            if name not in self.parameters:
                declared = ", ".join(sorted(self.parameters)) or "none"
                message = f"unknown run parameter {name!r}; declared parameters: {declared}"
                problems.append((f"parameters.{name}", message))
                continue
            try:
                coerce_parameter(self.parameters[name].type, value)
            except ValueError as exc:
                problems.append((f"parameters.{name}", f"run parameter {name!r}: {exc}"))
        for name, parameter in self.parameters.items():
            if parameter.required and given.get(name) is None:
                message = f"run parameter {name!r} is required and was not given"
                problems.append((f"parameters.{name}", message))
        return problems

    def resolve_parameters(self, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A run's parameter values: defaults overridden by ``given``, typed, JSON-ready.

        Raises :class:`~workbench_server.errors.InvalidInputError` naming every problem.
        """
        given = dict(given or {})
        problems = self.check_run_parameters(given)
        if problems:
            raise InvalidInputError("; ".join(message for _, message in problems))
        values = {}
        for name, parameter in self.parameters.items():
            value = given.get(name, parameter.default)
            values[name] = None if value is None else coerce_parameter(parameter.type, value)
        return values

    @property
    def timezone(self) -> str:
        """The time zone that ``ds`` and ``finish_by`` are read in."""
        return self.schedule.timezone if self.schedule else "UTC"

    def render_parameters(
        self,
        step: StepSpec | str,
        run_params: Mapping[str, Any] | None,
        logical_date: datetime | date,
    ) -> dict[str, Any]:
        """The parameters papermill injects into ``step`` (a sql step binds them) for one run.

        ``logical_date`` is the run's scheduled time; ``ds`` is its date in the schedule's
        time zone (a naive datetime or a date is taken to be in that zone). A value that is
        a single ``{{ expression }}`` keeps the expression's type (``{{ params.company_id }}``
        stays an integer); any other string renders to text. Unknown names raise
        :class:`~workbench_server.errors.InvalidInputError`.
        """
        step = self.step(step) if isinstance(step, str) else step
        params = self.resolve_parameters(run_params)
        for name, parameter in self.parameters.items():
            if parameter.type == "decimal" and params.get(name) is not None:
                params[name] = Decimal(params[name])  # tagged for the step, exact
        context = template_context(logical_date, self.timezone, params)
        rendered = {}
        for name, value in getattr(step, "parameters", {}).items():
            try:
                rendered[name] = render_value(value, context)
            except Exception as exc:  # jinja2 raises many kinds; the user needs one message
                raise InvalidInputError(
                    f"step {step.id!r} parameter {name!r}: cannot render {value!r}: {exc}"
                ) from exc
        return rendered
