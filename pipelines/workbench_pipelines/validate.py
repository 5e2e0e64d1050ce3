"""Validate pipeline YAML files and report every problem at once, with line numbers.

Line numbers come from PyYAML's composed node tree: each field path maps to the line and
column of its value (and of its key), and each pydantic error location is walked down the
document to the deepest path that exists there.

Pipeline files come from users and are read by the service, so reading one is bounded:
at most :data:`MAX_BYTES`, nested at most :data:`MAX_DEPTH` levels, and anchors and
aliases may repeat at most :data:`MAX_ALIASED` values in all. An alias "bomb" (a few
hundred bytes that expand to billions of values) is refused at the alias that crosses
the budget, while it is composed, before anything is expanded.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import sys
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from workbench_server.errors import InvalidInputError

from .spec import REFERENCE_ERROR, PipelineSpec
from .spec_checks import Loc, reference_problems
from .spec_sql import connection_problems, sql_file_problems
from .spec_steps import KINDS, NotebookStep, StepSpec, model_of, step_kind

__all__ = [
    "MAX_ALIASED",
    "MAX_BYTES",
    "MAX_DEPTH",
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

MAX_BYTES = 256 * 1024
"""The largest pipeline file read (pipelines are small; data belongs in notebooks)."""
MAX_DEPTH = 64
"""How deeply mappings and lists may nest."""
MAX_ALIASED = 10_000
"""How many values aliases may repeat in all (``*defaults`` and ``<<: *defaults``)."""


class _LimitExceeded(yaml.MarkedYAMLError):
    """The document goes beyond one of the reading limits; ``problem`` says which."""


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 scalars, as editors' YAML language servers read them, and
    bounded composition.

    PyYAML's YAML 1.1 rules would turn ``finish_by: 06:30`` into the integer 390,
    ``country: NO`` into False, a dated string into a ``date`` and ``code: 0100`` into 64.

    PyYAML composes an alias as a second reference to its anchor's node, which costs
    nothing; the cost comes later, from everything that walks the tree (our line
    index, the constructor's output, pydantic). So while composing, each node's expanded
    size is counted, and every alias adds its anchor's size to a budget.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliased = 0
        self._sizes: dict[int, int] = {}  # id(node) -> values in it, aliases expanded

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            target = self.anchors.get(event.anchor)
            if target is not None:  # an undefined one is PyYAML's error to report
                size = self._sizes.get(id(target))
                if size is None:  # its anchor's node is still being composed
                    raise _LimitExceeded(
                        None,
                        None,
                        f"alias *{event.anchor} is used inside its own anchor "
                        f"&{event.anchor}, which would repeat it for ever",
                        event.start_mark,
                    )
                self._aliased += size
                if self._aliased > MAX_ALIASED:
                    raise _LimitExceeded(
                        None,
                        None,
                        f"alias *{event.anchor} makes the aliases of this file repeat more "
                        f"than {MAX_ALIASED:,} values; pipeline files may use anchors and "
                        "aliases, but not to multiply their content",
                        event.start_mark,
                    )
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _LimitExceeded(
                None,
                None,
                f"values nest more than {MAX_DEPTH} levels deep",
                self.peek_event().start_mark,
            )
        node = super().compose_node(parent, index)
        self._depth -= 1
        if isinstance(node, yaml.SequenceNode):
            children: list[yaml.Node] = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        else:
            children = []
        self._sizes[id(node)] = 1 + sum(self._sizes.get(id(child), 1) for child in children)
        return node


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


def _model_at(path: Loc, data: Any = None) -> type[BaseModel] | None:
    """The model class whose fields live at ``path`` (for "did you mean" suggestions); a
    step's model is the one its ``kind`` in ``data`` (the document) picks."""
    kind: Any = PipelineSpec
    node = data
    for part in (*path, None):
        while get_origin(kind) in (Union, types.UnionType):
            kind = next(arg for arg in get_args(kind) if arg is not type(None))
        if kind == StepSpec:
            kind = model_of(node) or NotebookStep  # the step union: its kind decides
        while get_origin(kind) is Annotated:
            kind = get_args(kind)[0]
        if part is None:
            break
        node = _child(node, part)
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            field = kind.model_fields.get(str(part))
            if field is None:
                return None
            kind = field.annotation
            if field.metadata:
                kind = Annotated[(kind, *field.metadata)]
        elif get_origin(kind) in (list, dict):
            kind = get_args(kind)[-1]
        else:
            return None
    return kind if isinstance(kind, type) and issubclass(kind, BaseModel) else None


def _child(node: Any, part: str | int) -> Any:
    if isinstance(node, Mapping):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


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


def _message(error: dict[str, Any], path: Loc, data: Any = None) -> str:
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if kind == "missing":
        return f"missing required field {path[-1]!r}"
    if kind == "union_tag_invalid":  # a step's kind
        return f"unknown step kind {ctx.get('tag')!r}; kinds are: {', '.join(KINDS)}"
    if kind == "extra_forbidden":
        model = _model_at(path[:-1], data)
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
    if error["type"] == "union_tag_invalid" and isinstance(node, Mapping) and "kind" in node:
        path.append("kind")
    loc = tuple(path)
    if error["type"] == "missing":
        return loc, source.position(loc[:-1]), _message(error, loc, source.data)
    key = at_key or error["type"] == "extra_forbidden"
    return loc, source.position(loc, key=key), _message(error, loc, source.data)


# --- the checks ------------------------------------------------------------------------


def installed_kernels() -> set[str]:
    """Names of the Jupyter kernels installed where pipeline steps run.

    Steps run in the worker, a process of this installation (in local mode a child of
    ``workbench up``, in team mode an image built from the same package), which finds
    kernels on Jupyter's paths and in this environment's ``share/jupyter/kernels``
    (where the workbench kernel is installed with the package): both are looked at here,
    the latter also when this process's Jupyter paths were changed (a test server's).
    A kernel neither has would fail the step at run time, after its retries.
    """
    from jupyter_client.kernelspec import KernelSpecManager

    shipped = Path(sys.prefix, "share", "jupyter", "kernels")
    found = {spec.parent.name.lower() for spec in shipped.glob("*/kernel.json")}
    return found | set(KernelSpecManager().find_kernel_specs())


def _notebook_error(path: Path) -> str | None:
    """Why the notebook at ``path`` cannot run, or None if it is a valid notebook."""
    import nbformat

    try:
        if path.stat().st_size > MAX_NOTEBOOK_BYTES:
            return f"is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB (clear its outputs)"
        with path.open(encoding="utf-8") as handle:
            notebook = nbformat.read(handle, as_version=nbformat.NO_CONVERT)
        nbformat.validate(notebook)
    except (OSError, UnicodeDecodeError) as exc:
        return f"cannot be read ({exc.strerror if isinstance(exc, OSError) else exc})"
    except (ValueError, json.JSONDecodeError, nbformat.ValidationError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"is not a valid Jupyter notebook ({first[:200]})"
    except Exception as exc:  # nbformat raises several kinds for a malformed notebook
        return f"is not a valid Jupyter notebook ({type(exc).__name__})"
    return None


MAX_NOTEBOOK_BYTES = 64 * 2**20


def _notebook_problems(data: Any, folder: Path, kernels: bool) -> list[tuple[Loc, str]]:
    steps = data.get("steps") if isinstance(data, Mapping) else None
    problems = []
    installed: set[str] | None = None
    for i, step in enumerate(steps if isinstance(steps, list) else []):
        if not isinstance(step, Mapping) or step_kind(step) != "notebook":
            continue  # declarative steps have no notebook (sql files: spec_sql)
        notebook = step.get("notebook")
        if not isinstance(notebook, str) or Path(notebook).is_absolute() or ".." in notebook:
            continue  # the model reports such paths
        if "\0" in notebook:
            continue  # the model reports it
        if not (folder / notebook).is_file():
            message = f"notebook {notebook!r} does not exist (looked for {folder / notebook})"
            problems.append((("steps", i, "notebook"), message))
            continue
        reason = _notebook_error(folder / notebook)
        if reason is not None:
            problems.append((("steps", i, "notebook"), f"notebook {notebook!r} {reason}"))
        kernel = step.get("kernel", "workbench")
        if kernels and isinstance(kernel, str) and kernel:
            installed = installed_kernels() if installed is None else installed
            if kernel not in installed:
                problems.append(
                    (
                        ("steps", i, "kernel"),
                        f"kernel {kernel!r} is not installed where steps run; "
                        f"installed: {', '.join(sorted(installed)) or 'none'}",
                    )
                )
    return problems


def _too_large(size: int) -> str:
    return (
        f"the file has {size:,} bytes; a pipeline file may have at most {MAX_BYTES:,} "
        "(keep data and long code in notebooks)"
    )


def check_text(
    text: str,
    *,
    file: str = "<pipeline>",
    notebook_folder: Path | str | None = None,
    kernels: bool = True,
    connections: Mapping[str, str] | None = None,
) -> tuple[PipelineSpec | None, list[SpecError]]:
    """The spec in ``text`` and every problem in it (the spec is None unless there are none).

    Notebooks and SQL files are looked up under ``notebook_folder``, and not at all when
    it is None (inline queries are always checked); each notebook must be valid, each
    query one DuckDB parses, and with ``kernels`` each notebook step's kernel must be
    installed here (false where steps do not run: a hub user's server, its terminal).
    With ``connections`` (name -> kind, those the deployer may use), the connections
    declarative steps name must be among them and of a kind they read.
    """

    def error(loc: Loc, position: Position | None, message: str) -> SpecError:
        line, column = position or (None, None)
        return SpecError(
            file=file, line=line, column=column, path=format_path(loc), message=message
        )

    size = len(text) if len(text) > MAX_BYTES else len(text.encode("utf-8", "replace"))
    if size > MAX_BYTES:
        return None, [error((), None, _too_large(size))]
    try:
        source = _Source(text)
    except _LimitExceeded as exc:
        mark = exc.problem_mark
        position = (mark.line + 1, mark.column + 1) if mark else None
        return None, [error((), position, str(exc.problem))]
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
            for loc, message in _notebook_problems(source.data, Path(notebook_folder), kernels)
        ]
    folder = Path(notebook_folder) if notebook_folder is not None else None
    errors += [
        error(loc, source.position(loc), message)
        for loc, message in sql_file_problems(source.data, folder)
    ]
    if connections is not None:
        errors += [
            error(loc, source.position(loc), message)
            for loc, message in connection_problems(source.data, connections)
        ]
    unique = {(e.line, e.column, e.path, e.message): e for e in errors}
    ordered = sorted(unique.values(), key=lambda e: (e.line or 0, e.column or 0))
    return (spec if not ordered else None), ordered


def validate_text(
    text: str,
    *,
    file: str = "<pipeline>",
    notebook_folder: Path | str | None = None,
    kernels: bool = True,
) -> list[SpecError]:
    """Every problem in a pipeline given as YAML text (for the REST endpoint), sorted by line."""
    return check_text(text, file=file, notebook_folder=notebook_folder, kernels=kernels)[1]


def check_file(
    path: Path | str,
    *,
    notebook_root: Path | str | None = None,
    kernels: bool = True,
    connections: Mapping[str, str] | None = None,
) -> tuple[PipelineSpec | None, list[SpecError]]:
    """The spec in the file at ``path`` and every problem in it, like :func:`check_text`."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)  # more is refused, so never read it all
            size = os.fstat(handle.fileno()).st_size
        text = raw.decode("utf-8") if len(raw) <= MAX_BYTES else None
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # ValueError: a NUL in the path
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return None, [SpecError(file=str(path), message=f"cannot read the file: {reason}")]
    if text is None:
        return None, [SpecError(file=str(path), message=_too_large(size))]
    folder = Path(notebook_root) if notebook_root is not None else path.parent
    return check_text(
        text, file=str(path), notebook_folder=folder, kernels=kernels, connections=connections
    )


def validate_file(
    path: Path | str, *, notebook_root: Path | str | None = None, kernels: bool = True
) -> list[SpecError]:
    """Every problem in the pipeline file at ``path``, sorted by line; empty when valid.

    Notebook paths are relative to the file's folder, or to ``notebook_root`` if given.
    """
    return check_file(path, notebook_root=notebook_root, kernels=kernels)[1]


def load_spec(
    path: Path | str,
    *,
    notebook_root: Path | str | None = None,
    connections: Mapping[str, str] | None = None,
) -> PipelineSpec:
    """The validated spec in ``path``; raises :class:`PipelineSpecError` with every problem."""
    spec, errors = check_file(path, notebook_root=notebook_root, connections=connections)
    if errors or spec is None:
        raise PipelineSpecError(errors)
    return spec


def validate_run_parameters(spec: PipelineSpec, given: Mapping[str, Any]) -> list[SpecError]:
    """Problems with the parameters given to a run: undeclared, missing or mistyped."""
    return [
        SpecError(path=path, message=message) for path, message in spec.check_run_parameters(given)
    ]
