"""Cron expressions and time zones, checked the way Temporal Schedules read them.

Temporal parses a schedule's cron string on the server, so a bad one would only fail at
deploy time. This checker follows Temporal's grammar rather than classic cron's or a
Python library's: 5 fields (minute hour day-of-month month day-of-week), 6 (plus year) or
7 (second first, year last); ``*``, values, ``a-b`` ranges, ``/step`` and comma lists;
month names (3+ letters) and day names (2+ letters); day-of-week 0 or 7 is Sunday; and
the ``@hourly``-style macros. Quartz extras such as ``L``, ``W``, ``#`` and ``?`` are not
Temporal's and are rejected, as is a 6th field meant as seconds (Temporal reads a year).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_FIELDS = {
    5: ("minute", "hour", "day-of-month", "month", "day-of-week"),
    6: ("minute", "hour", "day-of-month", "month", "day-of-week", "year"),
    7: ("second", "minute", "hour", "day-of-month", "month", "day-of-week", "year"),
}
_RANGES = {
    "second": (0, 59),
    "minute": (0, 59),
    "hour": (0, 23),
    "day-of-month": (1, 31),
    "month": (1, 12),
    "day-of-week": (0, 7),
    "year": (2000, 2100),
}
_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = (
    "january february march april may june july august september october november december"
).split()
_DAYS = "sunday monday tuesday wednesday thursday friday saturday".split()


def _value(field: str, text: str) -> int | None:
    if text.isdigit():
        return int(text)
    lowered = text.lower()
    if field == "month" and len(text) >= 3:
        return next((i + 1 for i, name in enumerate(_MONTHS) if name.startswith(lowered)), None)
    if field == "day-of-week" and len(text) >= 2:
        return next((i for i, name in enumerate(_DAYS) if name.startswith(lowered)), None)
    return None


def _field_problem(field: str, text: str) -> str | None:
    low, high = _RANGES[field]
    for part in text.split(","):
        base, slash, step = part.partition("/")
        if slash and not (step.isdigit() and int(step) >= 1):
            return f"{field} step {step!r} is not a whole number of at least 1"
        if base == "*":
            continue
        first, dash, last = base.partition("-")
        start = _value(field, first)
        if start is None or not low <= start <= high:
            return f"{field} {first!r} is not a value in {low}-{high}"
        if dash:
            end = _value(field, last)
            if end is None or not start <= end <= high:
                return f"{field} range {base!r} must run upwards within {low}-{high}"
    return None


def cron_problem(expression: str) -> str | None:
    """Why Temporal would reject ``expression``, or None when it is fine."""
    text = expression.strip()
    if text.startswith(("TZ=", "CRON_TZ=")):
        return "set the time zone in schedule.timezone, not in the expression"
    if text.startswith("@every"):
        return "use schedule.interval for a fixed interval"
    if "#" in text:
        return "'#' is not supported (Temporal reads it as the start of a comment)"
    text = _MACROS.get(text, text)
    if text.startswith("@"):
        return f"unknown macro {text!r}; use @hourly, @daily, @weekly, @monthly or @yearly"
    fields = text.split()
    names = _FIELDS.get(len(fields))
    if names is None:
        return f"it has {len(fields)} fields; use 5: minute hour day-of-month month day-of-week"
    for name, field in zip(names, fields, strict=True):
        problem = _field_problem(name, field)
        if problem:
            return problem
    return None


def timezone_problem(name: str) -> str | None:
    """Why ``name`` is not an IANA time zone this machine knows, or None."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return f"unknown time zone {name!r}; use an IANA name such as 'Europe/Paris' or 'UTC'"
    return None
