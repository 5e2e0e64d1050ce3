"""Field types of the pipeline spec: durations, clock times, names and parameter values.

Each type validates with a one-sentence message that says what to write instead, and
publishes a JSON Schema that matches what it accepts (editors validate against it).
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError


def custom_error(kind: str, message: str) -> PydanticCustomError:
    """A pydantic error whose message is ``message`` exactly."""
    # The message goes through a placeholder so braces in it ("{{ ds }}") are not formatted.
    return PydanticCustomError(kind, "{message}", {"message": message})


# --- durations and clock times ---------------------------------------------------------

_DURATION_RE = re.compile(r"^(?:\d+(?:\.\d+)?[smhd])+$")
_DURATION_PART_RE = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> timedelta:
    """Parse ``"30s"``, ``"10m"``, ``"2h"``, ``"1d"`` or ``"1h30m"`` (or seconds) to a timedelta."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and _DURATION_RE.match(value.replace(" ", "")):
        seconds = sum(
            float(number) * _UNIT_SECONDS[unit]
            for number, unit in _DURATION_PART_RE.findall(value.replace(" ", ""))
        )
    else:
        raise custom_error(
            "duration",
            f"invalid duration {value!r}: write a number followed by s, m, h or d, "
            "e.g. '30s', '10m', '2h' or '1d'",
        )
    if seconds <= 0:
        raise custom_error("duration", f"duration {value!r} must be longer than zero")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The compact form that :func:`parse_duration` reads back, e.g. ``"1h30m"``."""
    seconds = value.total_seconds()
    parts = []
    for unit in ("d", "h", "m"):
        count, seconds = divmod(seconds, _UNIT_SECONDS[unit])
        if count:
            parts.append(f"{int(count)}{unit}")
    if seconds or not parts:
        parts.append(f"{seconds:g}s")
    return "".join(parts)


def _parse_clock(value: Any) -> time:
    if isinstance(value, time):
        return value
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", value) if isinstance(value, str) else None
    if not match:
        raise custom_error("clock_time", f"invalid time {value!r}: write HH:MM, e.g. '09:30'")
    return time(int(match.group(1)), int(match.group(2)))


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^\s*(\d+(\.\d+)?\s*[smhd]\s*)+$"},
                {"type": "number", "exclusiveMinimum": 0},
            ],
            "description": "A duration such as '30s', '10m', '2h', '1d' or '1h30m' (or seconds).",
        }
    ),
]
ClockTime = Annotated[
    time,
    BeforeValidator(_parse_clock),
    PlainSerializer(lambda value: value.strftime("%H:%M"), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^([01]?[0-9]|2[0-3]):[0-5][0-9]$"}),
]


def named(pattern: str, what: str, rule: str) -> Any:
    """A string type whose pattern shows in the JSON Schema and whose error says the rule."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise custom_error("name", f"{value!r} is not a valid {what}: {rule}")
        return value

    return Annotated[
        str, AfterValidator(check), WithJsonSchema({"type": "string", "pattern": pattern})
    ]


PipelineName = named(
    r"^[a-z][a-z0-9_-]*$", "pipeline name", "use lower-case letters, digits, '_' and '-'"
)
StepId = named(r"^[a-z][a-z0-9_]*$", "step id", "use lower-case letters, digits and '_'")
# Step parameters become Python variables in the notebook (papermill), so identifiers only.
Identifier = named(r"^[A-Za-z_][A-Za-z0-9_]*$", "name", "use letters, digits and '_'")
DatasetName = named(
    r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){1,3}$",
    "dataset name",
    "write dotted names such as 'lake.silver.invoices' or 'odoo.public.account_move'",
)
# JupyterHub group names (team mode takes them from the identity provider's claims).
GroupName = named(
    r"^[^\s,*/]{1,200}$", "group name", "write a hub group's name, without spaces, ',', '*' or '/'"
)
NotificationTarget = named(
    r"^(email:[^@\s]+@[^@\s]+\.[^@\s]+|webhook:https?://\S+)$",
    "notification target",
    "write 'email:someone@example.com' or 'webhook:https://...'",
)

# An error a step may fail with: the exception's class name as the notebook shows it,
# optionally followed by ": " and text its message contains ("UsageError: Binder Error").
ErrorMatch = named(
    r"^[A-Za-z_][A-Za-z0-9_.]*(: .+)?$",
    "error",
    "write an exception's class name such as 'KeyError', optionally followed by ': ' and "
    "text its message contains, e.g. 'UsageError: Binder Error'",
)


def error_matches(patterns: list[str], name: str, message: str) -> bool:
    """Whether an error called ``name`` (a class name, e.g. ``KeyError``) with ``message``
    matches one of ``patterns`` (as :data:`ErrorMatch` reads them)."""
    for pattern in patterns:
        wanted, _, text = pattern.partition(": ")
        if wanted.rpartition(".")[2] == name.rpartition(".")[2] and text in message:
            return True
    return False


def _notebook_path(value: str) -> str:
    # Deploy snapshots these files: a path leaving the pipeline's folder could copy anything.
    parts = value.replace("\\", "/").split("/")
    if value.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", value) or ".." in parts:
        raise custom_error(
            "notebook", f"notebook path {value!r} must be relative and stay inside the folder"
        )
    if not value.endswith(".ipynb"):
        raise custom_error("notebook", f"notebook path {value!r} must name an .ipynb file")
    return value


NotebookPath = Annotated[str, AfterValidator(_notebook_path)]


# --- parameters ------------------------------------------------------------------------

ParameterType = Literal["string", "integer", "number", "decimal", "boolean", "date"]
_TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "decimal": "an exact decimal number (such as 1234567.10)",
    "boolean": "true or false",
    "date": "a date (YYYY-MM-DD)",
}


def coerce_parameter(kind: ParameterType, value: Any) -> Any:
    """Check ``value`` against a parameter type and return its JSON form.

    Strings are accepted for every type (command-line and form input arrive as text);
    dates come back as ISO strings so that they travel through Temporal and papermill,
    and so do decimals, as written ("1234567.10", never through a binary float).
    Raises ``ValueError`` with a one-sentence message.
    """
    ok: Any = None
    if kind == "decimal":
        return _decimal_text(value)
    if kind == "string":
        ok = value if isinstance(value, str) else None
    elif isinstance(value, bool):
        ok = value if kind == "boolean" else None
    elif kind == "boolean":
        ok = {"true": True, "false": False}.get(str(value).lower())
    elif kind == "integer":
        if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
            ok = int(value)
        elif isinstance(value, str) and re.fullmatch(r"[-+]?\d+", value.strip()):
            ok = int(value)
    elif kind == "number":
        if isinstance(value, int | float):
            ok = value
        elif isinstance(value, str):
            try:
                ok = float(value) if "." in value or "e" in value.lower() else int(value)
            except ValueError:
                ok = None
        # JSON has no infinity or NaN: such a value reached the notebook as None.
        if isinstance(ok, float) and not math.isfinite(ok):
            ok = None
    elif kind == "date":
        if isinstance(value, date) and not isinstance(value, datetime):
            ok = value.isoformat()
        elif isinstance(value, str):
            try:
                ok = date.fromisoformat(value.strip()).isoformat()
            except ValueError:
                ok = None
    if ok is None:
        raise ValueError(f"expected {_TYPE_WORDS[kind]}, got {value!r}")
    return ok


_DECIMAL_RE = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
# A JSON number has at most this many significant digits that a float keeps: its
# shortest repr gives back the number as written (less trailing zeros), no more.
_FLOAT_DIGITS = 15


def _decimal_text(value: Any) -> str:
    """A decimal parameter's JSON form: its text as written, checked to be a finite number."""
    if isinstance(value, bool):
        raise ValueError(f"expected {_TYPE_WORDS['decimal']}, got {value!r}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"expected {_TYPE_WORDS['decimal']}, got {value!r}")
        text = repr(value)
        if len(Decimal(text).as_tuple().digits) > _FLOAT_DIGITS:
            raise ValueError(
                f"{value!r} came as a binary floating-point number with more digits than it "
                'keeps exactly: give the amount as a string ("12345678901234567.89")'
            )
        value = text
    if isinstance(value, int | Decimal):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError(f"expected {_TYPE_WORDS['decimal']}, got {value!r}")
    text = value.strip()
    number = None
    if _DECIMAL_RE.fullmatch(text):
        with contextlib.suppress(InvalidOperation):
            number = Decimal(text)
    if number is None or not number.is_finite():
        raise ValueError(f"expected {_TYPE_WORDS['decimal']}, got {value!r}")
    return str(number)


# Rendered step parameters travel through Temporal as JSON: a decimal goes as
# {"$decimal": "1234567.10"} and becomes decimal.Decimal again where it is used (the
# notebook's injected parameters, a sql step's bound values).
DECIMAL_TAG = "$decimal"


def tag_decimal(value: Decimal) -> dict[str, str]:
    """The JSON form of a Decimal inside a step's rendered parameters."""
    return {DECIMAL_TAG: str(value)}


def untag_decimals(value: Any) -> Any:
    """``value`` with every tagged decimal (lists and mappings too) a Decimal again."""
    if isinstance(value, list):
        return [untag_decimals(item) for item in value]
    if isinstance(value, Mapping):
        if len(value) == 1 and isinstance(value.get(DECIMAL_TAG), str):
            return Decimal(value[DECIMAL_TAG])
        return {key: untag_decimals(item) for key, item in value.items()}
    return value


def decimals_as_text(value: Any) -> Any:
    """``value`` with every tagged decimal its text again, as the run's parameters show
    it ("1234567.10"): for what records a step's parameters for people to read."""
    if isinstance(value, list):
        return [decimals_as_text(item) for item in value]
    if isinstance(value, Mapping):
        if len(value) == 1 and isinstance(value.get(DECIMAL_TAG), str):
            return value[DECIMAL_TAG]
        return {key: decimals_as_text(item) for key, item in value.items()}
    return value


# --- retries ---------------------------------------------------------------------------

# Errors that fail the same way however often they are retried: code that does not
# compile or names what does not exist, a missing module, column or key, SQL the engine
# cannot parse or bind. A step failing with one of these fails at once, without backoff.
DEFAULT_NON_RETRYABLE: tuple[str, ...] = (
    "SyntaxError",
    "IndentationError",
    "NameError",
    "UnboundLocalError",
    "ImportError",
    "ModuleNotFoundError",
    "AttributeError",
    "TypeError",
    "KeyError",
    "NoSuchKernel",
    "PapermillMissingParameterException",
    "BinderException",  # DuckDB: unknown column or function, wrong types
    "ParserException",  # DuckDB: SQL syntax
    "UndefinedColumn",  # PostgreSQL (psycopg)
    "UndefinedFunction",
    "UsageError: Binder Error",  # the same through %sql
    "UsageError: Parser Error",
    "UsageError: UndefinedColumn",
    "UsageError: UndefinedFunction",
    # The workbench's own domain errors: a table, column or connection that does not
    # exist or may not be used, data that does not fit its table (declarative steps).
    "InvalidInputError",
    "NotFoundError",
    "PermissionDeniedError",
    "NetworkPolicyError",
)
TIMEOUT_ERROR = "Timeout"
"""The error name of an attempt stopped by its step's timeout (for ``retry_on``)."""


class RetrySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    """How a failed step is retried (Temporal's retry policy), and which errors are not."""

    attempts: int = Field(1, ge=1, description="Total attempts, 1 = no retry.")
    backoff: Duration = Field("10s", validate_default=True, description="Wait before 1st retry.")
    backoff_coefficient: float = Field(2.0, ge=1.0, description="Growth of the wait per retry.")
    max_backoff: Duration | None = Field(None, description="Longest wait between attempts.")
    non_retryable: list[ErrorMatch] = Field(
        default_factory=lambda: list(DEFAULT_NON_RETRYABLE),
        description="Errors that fail the step at once, however many attempts are left: "
        "exception class names as the notebook shows them (e.g. KeyError), each optionally "
        "followed by ': ' and text the message contains (e.g. 'UsageError: Binder Error'). "
        "Giving the list replaces the default one (errors a retry cannot fix: "
        + ", ".join(DEFAULT_NON_RETRYABLE)
        + "); [] retries every error.",
    )
    retry_on: list[ErrorMatch] | None = Field(
        None,
        description="If given, only these errors are retried (same form as non_retryable; "
        f"'{TIMEOUT_ERROR}' is an attempt stopped by the step's timeout); every other error "
        "fails the step at once. non_retryable still wins.",
    )

    @model_validator(mode="after")
    def _max_not_below_first(self) -> RetrySpec:
        if self.max_backoff is not None and self.max_backoff < self.backoff:
            raise custom_error("retry", "max_backoff must not be shorter than backoff")
        return self


# --- what declarative steps name: lake tables, connections, columns, types ------------

# The lake's layers and table names (workbench_server.lake.models.TableName, which the
# contract may not import): a Delta table at <lake>/<layer>/<name>.
LAYERS = ("bronze", "silver", "gold")
LAKE_NAME = r"[A-Za-z_][A-Za-z0-9_]{0,127}"
LakeTable = named(
    rf"^(bronze|silver|gold)\.{LAKE_NAME}$",
    "lake table",
    "write layer.name with a layer of bronze, silver or gold, e.g. silver.invoices",
)
ConnectionName = named(
    r"^[a-z][a-z0-9_]{0,62}$",
    "connection name",
    "connections are named with lower-case letters, digits and _",
)
ColumnName = named(
    rf"^{LAKE_NAME}$", "column name", "use letters, digits and '_', starting with a letter"
)
SourceTable = named(
    r"^([A-Za-z_][A-Za-z0-9_$]{0,62}\.)?[A-Za-z_][A-Za-z0-9_$]{0,62}$",
    "table name",
    "write a table, or schema.table, e.g. account_move or public.account_move",
)
OdooModel = named(
    r"^[a-z][a-z0-9_]{0,63}(\.[a-z0-9_]{1,64}){0,7}$",
    "Odoo model",
    "write the model's technical name, e.g. account.move.line",
)
Language = named(
    r"^[a-z]{2,3}(_[A-Za-z0-9]{2,8}){0,2}$", "language", "write an Odoo language code, e.g. fr_FR"
)
# Types a declared column is cast to (SQL the merge step writes: hence a fixed list).
SQL_TYPE = re.compile(
    r"^(boolean|tinyint|smallint|integer|int|bigint|hugeint|double|real|float|date|time|"
    r"timestamp|timestamptz|timestamp with time zone|varchar|text|blob|json|uuid|"
    r"(decimal|numeric)\(\s*([1-9]|[12][0-9]|3[0-8])\s*,\s*([0-9]|[12][0-9]|3[0-8])\s*\))$",
    re.I,
)


def _sql_type(value: str) -> str:
    match = SQL_TYPE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise custom_error(
            "sql_type",
            f"{value!r} is not a column type: use boolean, integer, bigint, decimal(P,S), "
            "double, date, timestamp, timestamptz, varchar, json or blob",
        )
    digits = re.search(r"\(\s*(\d+)\s*,\s*(\d+)\s*\)", value)
    if digits is not None and int(digits.group(2)) > int(digits.group(1)):
        raise custom_error("sql_type", f"{value!r}: the scale may not exceed the precision")
    return value.strip().lower()


SqlType = Annotated[
    str, AfterValidator(_sql_type), WithJsonSchema({"type": "string", "pattern": SQL_TYPE.pattern})
]


def _sql_path(value: str) -> str:
    # Deploy snapshots these files, like notebooks: nothing outside the pipeline's folder.
    parts = value.replace("\\", "/").split("/")
    if value.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", value) or ".." in parts:
        raise custom_error(
            "sql_file", f"SQL file path {value!r} must be relative and stay inside the folder"
        )
    if not value.endswith(".sql") or "\0" in value:
        raise custom_error("sql_file", f"SQL file path {value!r} must name a .sql file")
    return value


SqlPath = Annotated[str, AfterValidator(_sql_path)]
MAX_SQL_CHARS = 64 * 1024
"""The longest SQL a step may hold (inline or in its file): one query, not a program."""

DELETES_RE = re.compile(r"^(never|every run|every\s+(?P<every>\S+))$")


def _deletes(value: Any) -> str:
    text = " ".join(value.split()) if isinstance(value, str) else value
    match = DELETES_RE.fullmatch(text) if isinstance(text, str) else None
    if match is not None and match.group("every"):
        try:
            parse_duration(match.group("every"))
        except ValueError:
            match = None
    if match is None:
        raise custom_error(
            "deletes",
            f"{value!r} is not a schedule: write 'every run', 'every 1d' (a "
            "duration such as 12h or 7d) or 'never'",
        )
    return text


DeleteSchedule = Annotated[
    str,
    BeforeValidator(_deletes),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^(never|every run|every\s+(\d+(\.\d+)?[smhd])+)$",
            "description": "When deleted rows are looked for by comparing keys: 'every "
            "run', 'every 1d' or 'never'.",
        }
    ),
]
