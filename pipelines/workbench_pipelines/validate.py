"""Validate pipeline YAML files and report every problem at once, with line numbers.

Line numbers come from PyYAML's composed node tree: each field path maps to the line and
column of its value (and of its key), and each pydantic error location is walked down the
document to the deepest path that exists there.
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from workbench_server.errors import InvalidInputError

from .spec import REFERENCE_ERROR, PipelineSpec
from .spec_checks import Loc, reference_problems

__all__ = [
    "PipelineSpecError",
    "SpecError",
    "check_file",
    "check_text",
    "load_spec",
    "validate_file",
    "validate_run_parameters",
    "validate_text",
]


class SpecError(BaseModel):
    """One problem in a pipeline spec, located in its YAML source."""

    file: str = ""
    line: int | None = None
    column: int | None = None
    path: str = ""
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where = f"{where}:{self.line}:{self.column or 1}"
        return ": ".join(part for part in (where, self.path, self.message) if part)


class PipelineSpecError(InvalidInputError):
    """A pipeline spec is invalid; ``errors`` holds every problem found."""

    def __init__(self, errors: list[SpecError]):
        self.errors = errors
        super().__init__("\n".join(str(error) for error in errors))


# --- reading YAML ----------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 scalars, as editors' YAML language servers read them.

    PyYAML's YAML 1.1 rules would turn ``finish_by: 06:30`` into the integer 390,
    ``country: NO`` into False, a dated string into a ``date`` and ``code: 0100`` into 64.
    """


_TAG = "tag:yaml.org,2002:"
_REPLACED = {f"{_TAG}{name}" for name in ("bool", "int", "float", "timestamp")}
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _REPLACED]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    f"{_TAG}bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(
    f"{_TAG}int", re.compile(r"^[-+]?(?:0|[1-9][0-9_]*|0x[0-9a-fA-F_]+)$"), list("-+0123456789")
)
_Loader.add_implicit_resolver(
    f"{_TAG}float",
    re.compile(
        r"^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)

Position = tuple[int, int]


class _Source:
    """A parsed document with the position of every value and key, by field path."""

    def __init__(self, text: str):
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            self.values: dict[Loc, Position] = {}
            self.keys: dict[Loc, Position] = {}
            self.duplicates: list[tuple[Loc, Position, str]] = []
            if node is not None:
                self._walk(node, ())
            self.data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()

    def _walk(self, node: yaml.Node, path: Loc) -> None:
        self.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.value == "<<":
                    continue
                child = (*path, key_node.value)
                here = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                if child in self.keys:
                    # PyYAML would silently keep the last one.
                    first = self.keys[child][0]
                    message = f"duplicate key {key_node.value!r}: line {first} has it already"
                    self.duplicates.append((child, here, message))
                    continue
                self.keys[child] = here
                self._walk(value_node, child)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._walk(item, (*path, i))

    def position(self, path: Loc, *, key: bool = False) -> Position | None:
        if key and path in self.keys:
            return self.keys[path]
        while path not in self.values and path:
            path = path[:-1]
        return self.values.get(path)


def format_path(path: Loc) -> str:
    """``("steps", 2, "depends_on", 0)`` as ``steps[2].depends_on[0]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", str(part)):
            text += f".{part}" if text else str(part)
        else:
            text += f"[{str(part)!r}]"
    return text


# --- pydantic errors to messages -------------------------------------------------------


def _model_at(path: Loc) -> type[BaseModel] | None:
    """The model class whose fields live at ``path`` (for "did you mean" suggestions)."""
    kind: Any = PipelineSpec
    for part in (*path, None):
        while get_origin(kind) in (Union, types.UnionType):
            kind = next(arg for arg in get_args(kind) if arg is not type(None))
        if part is None:
            break
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            field = kind.model_fields.get(str(part))
            if field is None:
                return None
            kind = field.annotation
        elif get_origin(kind) in (list, dict):
            kind = get_args(kind)[-1]
        else:
            return None
    return kind if isinstance(kind, type) and issubclass(kind, BaseModel) else None


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "nothing"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


_EXPECTED = {
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "string": "a string",
    "list": "a list",
    "dict": "a mapping",
    "model": "a mapping",
    "model_attributes": "a mapping",
}


def _message(error: dict[str, Any], path: Loc) -> str:
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if kind == "missing":
        return f"missing required field {path[-1]!r}"
    if kind == "extra_forbidden":
        model = _model_at(path[:-1])
        allowed = list(model.model_fields) if model else []
        close = difflib.get_close_matches(str(path[-1]), allowed, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"allowed: {', '.join(allowed)}"
        return f"unknown field {path[-1]!r}; {hint}"
    if "message" in ctx and len(ctx) == 1:  # our own PydanticCustomError messages
        return str(ctx["message"])
    base = kind.removesuffix("_type").removesuffix("_parsing").removesuffix("_from_float")
    if base in _EXPECTED:
        return f"expected {_EXPECTED[base]}, got {_shown(value)}"
    if kind == "literal_error":
        return f"expected {ctx['expected']}, got {_shown(value)}"
    if kind in ("greater_than_equal", "greater_than"):
        return f"must be at least {ctx.get('ge', ctx.get('gt'))}, got {_shown(value)}"
    if kind == "too_short":
        return f"needs at least {ctx['min_length']} item(s)"
    return f"{error['msg']} (got {_shown(value)})"


def _from_pydantic(error: dict[str, Any], source: _Source) -> tuple[Loc, Position | None, str]:
    path: list[str | int] = []
    node: Any = source.data
    at_key = False
    for i, part in enumerate(error["loc"]):
        if part == "[key]":
            at_key = True
        elif isinstance(node, Mapping) and part in node:
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path.append(part)
            node = node[part]
        elif i == len(error["loc"]) - 1 and error["type"] == "missing":
            path.append(part)
        # Anything else is a union member's tag in pydantic's location, not a field.
    loc = tuple(path)
    if error["type"] == "missing":
        return loc, source.position(loc[:-1]), _message(error, loc)
    key = at_key or error["type"] == "extra_forbidden"
    return loc, source.position(loc, key=key), _message(error, loc)


# --- the checks ------------------------------------------------------------------------


def _notebook_problems(data: Any, folder: Path) -> list[tuple[Loc, str]]:
    steps = data.get("steps") if isinstance(data, Mapping) else None
    problems = []
    for i, step in enumerate(steps if isinstance(steps, list) else []):
        notebook = step.get("notebook") if isinstance(step, Mapping) else None
        if not isinstance(notebook, str) or Path(notebook).is_absolute() or ".." in notebook:
            continue  # the model reports such paths
        if not (folder / notebook).is_file():
            message = f"notebook {notebook!r} does not exist (looked for {folder / notebook})"
            problems.append((("steps", i, "notebook"), message))
    return problems


def check_text(
    text: str, *, file: str = "<pipeline>", notebook_folder: Path | str | None = None
) -> tuple[PipelineSpec | None, list[SpecError]]:
    """The spec in ``text`` and every problem in it (the spec is None unless there are none).

    Notebooks are looked up under ``notebook_folder``, and not at all when it is None.
    """

    def error(loc: Loc, position: Position | None, message: str) -> SpecError:
        line, column = position or (None, None)
        return SpecError(
            file=file, line=line, column=column, path=format_path(loc), message=message
        )

    try:
        source = _Source(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        position = (mark.line + 1, mark.column + 1) if mark else None
        return None, [error((), position, f"YAML syntax error: {exc.problem or exc.context}")]
    except yaml.YAMLError as exc:
        return None, [error((), None, f"YAML syntax error: {exc}")]
    if not isinstance(source.data, Mapping):
        message = "a pipeline file must be a YAML mapping with at least 'name' and 'steps'"
        return None, [error((), source.position(()) or (1, 1), message)]

    errors = [error(loc, position, message) for loc, position, message in source.duplicates]
    spec = None
    try:
        spec = PipelineSpec.model_validate(source.data)
    except ValidationError as exc:
        details = exc.errors(include_url=False)
        errors += [error(*_from_pydantic(detail, source)) for detail in details]
        if any(detail["type"] != REFERENCE_ERROR for detail in details):
            # Field errors stop pydantic before the spec's own cross-field checks.
            errors += [
                error(loc, source.position(loc), message)
                for loc, message in reference_problems(source.data)
            ]
    if notebook_folder is not None:
        errors += [
            error(loc, source.position(loc), message)
            for loc, message in _notebook_problems(source.data, Path(notebook_folder))
        ]
    unique = {(e.line, e.column, e.path, e.message): e for e in errors}
    ordered = sorted(unique.values(), key=lambda e: (e.line or 0, e.column or 0))
    return (spec if not ordered else None), ordered


def validate_text(
    text: str, *, file: str = "<pipeline>", notebook_folder: Path | str | None = None
) -> list[SpecError]:
    """Every problem in a pipeline given as YAML text (for the REST endpoint), sorted by line."""
    return check_text(text, file=file, notebook_folder=notebook_folder)[1]


def check_file(
    path: Path | str, *, notebook_root: Path | str | None = None
) -> tuple[PipelineSpec | None, list[SpecError]]:
    """The spec in the file at ``path`` and every problem in it, like :func:`check_text`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return None, [SpecError(file=str(path), message=f"cannot read the file: {reason}")]
    folder = Path(notebook_root) if notebook_root is not None else path.parent
    return check_text(text, file=str(path), notebook_folder=folder)


def validate_file(path: Path | str, *, notebook_root: Path | str | None = None) -> list[SpecError]:
    """Every problem in the pipeline file at ``path``, sorted by line; empty when valid.

    Notebook paths are relative to the file's folder, or to ``notebook_root`` if given.
    """
    return check_file(path, notebook_root=notebook_root)[1]


def load_spec(path: Path | str, *, notebook_root: Path | str | None = None) -> PipelineSpec:
    """The validated spec in ``path``; raises :class:`PipelineSpecError` with every problem."""
    spec, errors = check_file(path, notebook_root=notebook_root)
    if errors or spec is None:
        raise PipelineSpecError(errors)
    return spec


def validate_run_parameters(spec: PipelineSpec, given: Mapping[str, Any]) -> list[SpecError]:
    """Problems with the parameters given to a run: undeclared, missing or mistyped."""
    return [
        SpecError(path=path, message=message) for path, message in spec.check_run_parameters(given)
    ]
