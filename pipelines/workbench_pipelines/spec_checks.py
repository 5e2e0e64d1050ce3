"""Cross-field checks of a pipeline spec (step graph, templates) and template rendering.

The checks work on plain data, not only on models: the YAML validator runs them on the
raw document too, so that a spec with a type error *and* a cycle reports both at once.
"""

from __future__ import annotations

import heapq
import math
import re
from collections import deque
from collections.abc import Iterator, Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .spec_types import tag_decimal

Loc = tuple[str | int, ...]
Problem = tuple[Loc, str]

TEMPLATE_NAMES = frozenset({"ds", "ds_nodash", "logical_date", "params"})
"""Names a step parameter template may use besides Jinja's own globals."""

# Sandboxed because specs come from users and are rendered inside the worker; strict so
# that a misspelt name fails the run instead of silently passing an empty string. The
# output is a notebook parameter, not HTML, hence no autoescaping.
# A rendered value is a notebook parameter that travels in the run's plan through
# Temporal (4 MB a message): a template may not make more than this, nor compute its way
# there ('x' * n, [0] * n, 9 ** n are refused before they are made).
MAX_RENDERED_CHARS = 100_000
MAX_POWER_DIGITS = 4_300  # Python's own bound on the digits of an int made text


class _BoundedEnvironment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset(["*", "**"])

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for sequence, times in ((left, right), (right, left)):
                if (
                    isinstance(sequence, str | list | tuple)
                    and isinstance(times, int)
                    and len(sequence) * times > MAX_RENDERED_CHARS
                ):
                    raise SecurityError(_too_large(len(sequence) * times))
        if operator == "**" and isinstance(left, int | float) and isinstance(right, int | float):
            size = abs(right) * math.log10(abs(left)) if abs(left) > 1 else 0
            if size > MAX_POWER_DIGITS:
                raise SecurityError(
                    f"{left} ** {right} has about {size:,.0f} digits, more than a parameter "
                    f"holds ({MAX_POWER_DIGITS:,})"
                )
        return super().call_binop(context, operator, left, right)


def _too_large(size: int) -> str:
    return (
        f"renders to {size:,} characters or items, more than the {MAX_RENDERED_CHARS:,} a "
        "parameter holds: pass large data through a file or a lake table"
    )


_ENV = _BoundedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
# A value that is exactly one {{ expression }}: rendered to the expression's own type.
_SINGLE_EXPRESSION = re.compile(r"\{\{(?P<expr>(?:(?!\{\{|\}\}|\{%|\{#).)*)\}\}", re.S)


# --- the step graph --------------------------------------------------------------------


def graph_problems(steps: list[tuple[Any, Any]]) -> tuple[list[str], list[Problem]]:
    """Order and check a step graph given as ``(id, depends_on)`` per step, in file order.

    Returns the topological order of every step that is not blocked by a cycle (ties
    broken by file order) and the problems: duplicate ids, unknown or repeated
    ``depends_on`` entries and cycles, each located at the offending entry. Values that
    are not strings (already reported as type errors) are ignored.
    """
    problems: list[Problem] = []
    index: dict[str, int] = {}
    for i, (step_id, _) in enumerate(steps):
        if isinstance(step_id, str):
            if step_id in index:
                message = f"duplicate step id {step_id!r}: steps[{index[step_id]}] has it already"
                problems.append((("steps", i, "id"), message))
            else:
                index[step_id] = i
    requires: dict[str, list[str]] = {step_id: [] for step_id in index}
    successors: dict[str, list[str]] = {step_id: [] for step_id in index}
    for i, (step_id, depends_on) in enumerate(steps):
        if not isinstance(depends_on, list):
            continue
        for j, dependency in enumerate(depends_on):
            if not isinstance(dependency, str):
                continue
            loc = ("steps", i, "depends_on", j)
            if dependency not in index:
                known = ", ".join(index) or "none"
                problems.append((loc, f"unknown step {dependency!r}; steps are: {known}"))
            elif dependency in depends_on[:j]:
                problems.append((loc, f"{dependency!r} is listed twice in depends_on"))
            elif isinstance(step_id, str) and index[step_id] == i:
                requires[step_id].append(dependency)
                successors[dependency].append(step_id)
    order = _kahn(index, requires, successors)
    problems.extend(_cycles(index, requires, successors, set(order), steps))
    return order, problems


def _kahn(
    index: dict[str, int], requires: dict[str, list[str]], successors: dict[str, list[str]]
) -> list[str]:
    waiting = {step_id: len(deps) for step_id, deps in requires.items()}
    ready = [index[step_id] for step_id, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    by_index = {i: step_id for step_id, i in index.items()}
    order = []
    while ready:
        step_id = by_index[heapq.heappop(ready)]
        order.append(step_id)
        for successor in successors[step_id]:
            waiting[successor] -= 1
            if waiting[successor] == 0:
                heapq.heappush(ready, index[successor])
    return order


def _cycles(
    index: dict[str, int],
    requires: dict[str, list[str]],
    successors: dict[str, list[str]],
    ordered: set[str],
    steps: list[tuple[Any, Any]],
) -> list[Problem]:
    """One problem per cycle, named in run order from its first step in the file."""
    problems: list[Problem] = []
    reported: set[str] = set()
    for start in sorted(set(index) - ordered, key=index.__getitem__):
        if start in reported:
            continue
        # Shortest way from `start` back to itself, following "runs before" edges.
        came_from: dict[str, str] = {}
        queue = deque([start])
        while queue and start not in came_from:
            current = queue.popleft()
            for successor in successors[current]:
                if successor not in came_from and successor not in ordered:
                    came_from[successor] = current
                    queue.append(successor)
        if start not in came_from:
            continue  # blocked by a cycle upstream, not part of one
        cycle = [start]
        while len(cycle) == 1 or cycle[-1] != start:
            cycle.append(came_from[cycle[-1]])
        cycle.reverse()
        reported.update(cycle)
        closing = steps[index[start]][1].index(cycle[-2])
        message = (
            f"dependency cycle {' -> '.join(cycle)}: "
            "remove one of these depends_on entries to break it"
        )
        problems.append((("steps", index[start], "depends_on", closing), message))
    return problems


# --- templates -------------------------------------------------------------------------


def template_problems(text: str, declared: set[str]) -> list[str]:
    """What is wrong with one templated string: syntax, unknown names, unknown params."""
    if "{" not in text:
        return []
    try:
        tree = _ENV.parse(text)
    except TemplateSyntaxError as exc:
        return [f"template syntax error in {text!r}: {exc.message}"]
    try:  # compiles the template: an unknown filter or test is found here, not by parse
        undeclared = meta.find_undeclared_variables(tree)
    except TemplateSyntaxError as exc:  # TemplateAssertionError: no filter named ...
        return [f"template error in {text!r}: {exc.message}"]
    problems = [
        f"unknown template variable {name!r} in {text!r}; "
        "use ds, ds_nodash, logical_date or params.NAME"
        for name in sorted(undeclared - TEMPLATE_NAMES - set(_ENV.globals))
    ]
    used: list[str] = []
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if not (isinstance(node.node, nodes.Name) and node.node.name == "params"):
            continue
        if isinstance(node, nodes.Getattr):
            used.append(node.attr)
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            used.append(node.arg.value)
    names = ", ".join(sorted(declared)) or "none"
    problems.extend(
        f"template {text!r} uses params.{name}, which is not a declared parameter "
        f"(declared: {names})"
        for name in dict.fromkeys(used)
        if name not in declared
    )
    return problems


def _strings(value: Any, loc: Loc) -> Iterator[tuple[Loc, str]]:
    if isinstance(value, str):
        yield loc, value
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, (*loc, i))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, (*loc, key))


def reference_problems(data: Any) -> list[Problem]:
    """Graph and template problems of a spec given as plain data (raw YAML or a dump)."""
    if not isinstance(data, Mapping):
        return []
    steps = data.get("steps") if isinstance(data.get("steps"), list) else []
    entries = [
        (step.get("id"), step.get("depends_on")) if isinstance(step, Mapping) else (None, None)
        for step in steps
    ]
    _, problems = graph_problems(entries)
    parameters = data.get("parameters")
    declared = (
        {n for n in parameters if isinstance(n, str)} if isinstance(parameters, Mapping) else set()
    )
    for i, step in enumerate(steps):
        message = step.get("message") if isinstance(step, Mapping) else None
        if isinstance(message, str):  # an approval's question may name parameters
            loc = ("steps", i, "message")
            problems.extend((loc, problem) for problem in template_problems(message, declared))
        values = step.get("parameters") if isinstance(step, Mapping) else None
        if not isinstance(values, Mapping):
            continue
        for loc, text in _strings(values, ("steps", i, "parameters")):
            problems.extend((loc, message) for message in template_problems(text, declared))
    problems.extend(_shared_gate_targets(steps))
    return problems


def _shared_gate_targets(steps: list[Any]) -> list[Problem]:
    """A run tells a target about an approval event once (notifications are kept per
    run, event and target), so two approval steps may not share one."""
    problems: list[Problem] = []
    seen: dict[tuple[str, str], str] = {}
    for i, step in enumerate(steps):
        if not isinstance(step, Mapping) or step.get("kind") != "approval":
            continue
        escalate = step.get("escalate")
        lists: list[tuple[Loc, str, Any]] = [(("notify",), "requested", step.get("notify"))]
        if isinstance(escalate, Mapping):
            lists.append((("escalate", "notify"), "escalated", escalate.get("notify")))
        for where, event, targets in lists:
            if not isinstance(targets, list):
                continue
            for j, target in enumerate(targets):
                if not isinstance(target, str):
                    continue
                first = seen.setdefault((event, target), str(step.get("id")))
                if first != str(step.get("id")):
                    problems.append(
                        (
                            ("steps", i, *where, j),
                            f"{target} is told about approval step {first!r} already; "
                            "a run tells a target about one approval step: use another "
                            "target (e.g. another webhook path)",
                        )
                    )
    return problems


# --- rendering -------------------------------------------------------------------------


class _IsoDateTime(datetime):
    """``{{ logical_date }}`` prints as ISO 8601 but keeps datetime methods (strftime)."""

    def __str__(self) -> str:
        return self.isoformat()


def template_context(logical_date: datetime | date, timezone: str, params: dict[str, Any]) -> dict:
    """The names a step parameter template sees for one run."""
    zone = ZoneInfo(timezone)
    if isinstance(logical_date, datetime):
        moment = (
            logical_date.replace(tzinfo=zone)
            if logical_date.tzinfo is None
            else logical_date.astimezone(zone)
        )
    else:
        moment = datetime.combine(logical_date, time(), tzinfo=zone)
    return {
        "ds": moment.date().isoformat(),
        "ds_nodash": moment.strftime("%Y%m%d"),
        "logical_date": _IsoDateTime.fromisoformat(moment.isoformat()),
        "params": params,
    }


def _plain(value: Any) -> Any:
    # Rendered values travel through Temporal and papermill: JSON types only.
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return tag_decimal(value)
    if isinstance(value, str | int | float | bool | type(None) | list | dict):
        return value
    if isinstance(value, tuple):
        return list(value)
    return str(value)


def render_value(value: Any, context: dict[str, Any]) -> Any:
    """Render every string inside ``value`` (lists and mappings too) with ``context``."""
    if isinstance(value, list):
        return [render_value(item, context) for item in value]
    if isinstance(value, Mapping):
        return {key: render_value(item, context) for key, item in value.items()}
    if not isinstance(value, str) or "{" not in value:
        return value
    single = _SINGLE_EXPRESSION.fullmatch(value)
    if single:
        result = _ENV.compile_expression(single.group("expr"), undefined_to_none=False)(**context)
        if isinstance(result, Undefined):
            str(result)  # StrictUndefined raises here, with Jinja's own message
        result = _plain(result)
    else:
        result = _ENV.from_string(value).render(context)
    if isinstance(result, str | list | tuple) and len(result) > MAX_RENDERED_CHARS:
        raise ValueError(_too_large(len(result)))
    return result
