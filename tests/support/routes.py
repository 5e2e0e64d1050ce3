"""Every workbench route of a running server, with paths made from its URL patterns.

Routes are read from the server's own router (``web_app``), not listed by hand, so a
route added tomorrow is walked by the tests that use this without anyone remembering it.
"""

from __future__ import annotations

import inspect
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tornado.web import Application, RequestHandler

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# Values tried for each named group of a URL pattern: those the group's own pattern
# accepts are used. Huge numbers go where digits do (table ids, attempts).
GROUP_VALUES = (
    "9" * 40,
    "1",
    "0" * 32,
    "demo_odoo",
    "x",
    "pause",
    "cancel",
    "repair",
    "trigger",
    "approve",
    "kernel/connections",
    "a" * 62,
    "f" * 64,  # an OCR document's id (its SHA-256)
)
_GROUP = re.compile(r"\(\?P<(\w+)>")
# Query arguments a handler reads, found in its source (so new ones are covered too).
_QUERY_ARG = re.compile(r"""(?:get_query_argument|query_int|_int)\(\s*["'](\w+)["']""")


@dataclass(frozen=True)
class Route:
    """One concrete path of one URL pattern, and what its handler answers."""

    pattern: str
    path: str  # below the server's base URL, without a leading slash
    handler: type[RequestHandler]
    methods: tuple[str, ...]
    query_args: tuple[str, ...]


def _groups(pattern: str) -> list[tuple[str, str, int, int]]:
    """(name, sub-pattern, start, end) of each top-level named group in ``pattern``."""
    out = []
    for match in _GROUP.finditer(pattern):
        depth, i = 1, match.end()
        while depth:
            if pattern[i] == "\\":
                i += 2
                continue
            depth += {"(": 1, ")": -1}.get(pattern[i], 0)
            i += 1
        out.append((match.group(1), pattern[match.end() : i - 1], match.start(), i))
    return out


def _fill(pattern: str) -> list[str]:
    """Concrete paths for ``pattern``: every value of GROUP_VALUES its groups accept,
    combined (at most a few per pattern), as long as the whole pattern accepts them."""
    groups = _groups(pattern)
    choices = []
    for name, sub, _, _ in groups:
        fitting = [v for v in GROUP_VALUES if re.fullmatch(sub, v)]
        if not fitting:
            raise AssertionError(f"no test value fits {{{name}}} ({sub}) of {pattern}")
        choices.append(fitting)
    paths = []
    for values in itertools.islice(itertools.product(*choices), 6):
        text, last = "", 0
        for (_, _, start, end), value in zip(groups, values, strict=True):
            text += pattern[last:start] + value
            last = end
        text += pattern[last:]
        path = text.removesuffix("$").replace("\\", "")
        if re.fullmatch(pattern.removesuffix("$"), path):
            paths.append(path)
    return paths


def _methods(handler: type[RequestHandler]) -> tuple[str, ...]:
    return tuple(
        m
        for m in METHODS
        if getattr(handler, m.lower()) is not getattr(RequestHandler, m.lower(), None)
    )


def _query_args(handler: type[RequestHandler]) -> tuple[str, ...]:
    found: set[str] = set()
    for cls in handler.__mro__:
        if cls.__module__.startswith("workbench_server"):
            found.update(_QUERY_ARG.findall(inspect.getsource(cls)))
    return tuple(sorted(found))


def _rules(router: Any) -> Iterator[Any]:
    """The rules of ``router`` and of the routers it holds (one per host pattern)."""
    for rule in router.rules:
        if hasattr(rule.target, "rules"):
            yield from _rules(rule.target)
        else:
            yield rule


def workbench_routes(
    app: Application, base_url: str, prefix: str = "workbench/api/"
) -> Iterator[Route]:
    """Each route of ``app`` under ``base_url + prefix``, once per concrete path."""
    start = base_url + prefix
    for rule in _rules(app.default_router):
        regex = getattr(rule.matcher, "regex", None)
        handler = rule.target
        if regex is None or not isinstance(handler, type):
            continue
        pattern = regex.pattern
        if not pattern.startswith(start):
            continue
        for path in _fill(pattern):
            yield Route(
                pattern=pattern[len(base_url) :],
                path=path[len(base_url) :],
                handler=handler,
                methods=_methods(handler),
                query_args=_query_args(handler),
            )
