"""The import graph of the workbench's packages points one way: adapters -> core.

Every import counts, wherever it is written: at the top of a module, inside a function
(a lazy import is still a dependency) and under ``TYPE_CHECKING`` (a module that names
another's types knows about it). The graph is built from the source with ``ast``, so
nothing is imported to check it.

Two circles were broken and must not come back (issue 15): the core reaching into
lineage (core -> lineage.openlineage -> connections.kernel_access -> catalog -> core) and
the server and the worker importing each other (the server started workflows by
importing workbench_pipelines.workflows; the worker imported the server package).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {
    "workbench_server": ROOT / "server_ext" / "workbench_server",
    "workbench_pipelines": ROOT / "pipelines" / "workbench_pipelines",
    "workbench_kernels": ROOT / "kernels" / "workbench_kernels",
    "workbench_hub": ROOT / "hub" / "workbench_hub",
}
# What the core and the worker share: the pipeline spec (with its step kinds and their
# JSON Schema), its validation, and the plan a run is handed (with the workflows' names).
# The core imports nothing else of the worker.
CONTRACTS = {
    f"workbench_pipelines.{name}"
    for name in (
        "plan",
        "schema",
        "spec",
        "spec_checks",
        "spec_cron",
        "spec_rag",
        "spec_sql",
        "spec_steps",
        "spec_types",
        "triggers",
        "validate",
    )
}
# Adapters that host or check the worker: `workbench worker` runs it, `workbench doctor`
# pings it through Temporal.
HOSTS_THE_WORKER = ("workbench_server.cli",)
# A circle older than this test, in modules its authors own (settings validate their
# values with the policies they configure; the policies read settings): listed so that
# any other circle fails, to be taken out of here when it is broken.
KNOWN_CIRCLES = [
    {
        "workbench_server.settings",
        "workbench_server.connections.egress",
        "workbench_server.connections.data_roots",
        "workbench_server.catalog.pii",
    },
]


def _modules() -> dict[str, tuple[Path, bool]]:
    found = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            if "migrations" in parts:  # Alembic's scripts, run by Alembic alone
                continue
            is_package = parts[-1] == "__init__"
            name = ".".join([package, *(parts[:-1] if is_package else parts)])
            found[name] = (path, is_package)
    return found


def _imported(module: str, is_package: bool, tree: ast.AST, known: set[str]) -> Iterator[str]:
    """The workbench modules ``module`` imports (a name imported from a package that is a
    module of its own counts as that module)."""
    package = module if is_package else module.rpartition(".")[0]

    def closest(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            targets = [
                f"{source}.{alias.name}" if f"{source}.{alias.name}" in known else source
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            found = closest(target)
            if found is not None and found != module:
                yield found


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {
        name: set(_imported(name, is_package, ast.parse(path.read_text()), set(modules)))
        for name, (path, is_package) in modules.items()
    }


def circles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for target in edges:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(component)
    return found


def _path(graph: dict[str, set[str]], component: set[str]) -> str:
    """One circle through the component, for the failure message: a -> b -> ... -> a."""
    start = min(component)
    previous: dict[str, str] = {}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for target in sorted(graph[node] & component):
            if target == start:
                path = [start]
                while node != start:
                    path.append(node)
                    node = previous[node]
                return " -> ".join([start, *reversed(path[1:]), start])
            if target not in previous:
                previous[target] = node
                queue.append(target)
    return ", ".join(sorted(component))


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


def test_the_graph_is_read_from_every_package(graph) -> None:
    # A broken walk would make every other test here pass on nothing.
    assert "workbench_server.core" in graph and "workbench_pipelines.workflows" in graph
    assert "workbench_server.db.models" in graph["workbench_server.catalog.store"]
    assert "workbench_server.catalog.search" in graph["workbench_server.catalog.searching"]


def test_no_import_circles(graph) -> None:
    found = circles(graph)
    new = [c for c in found if c not in KNOWN_CIRCLES]
    assert not new, "import circles:\n" + "\n".join(_path(graph, c) for c in new)
    broken = [c for c in KNOWN_CIRCLES if c not in found]
    assert not broken, f"no longer a circle, take it out of KNOWN_CIRCLES: {broken}"


def test_the_core_imports_no_domain_module(graph) -> None:
    """The core owns the engine, the Temporal client and the key; the domain modules hold
    it, never the other way round."""
    core = "workbench_server.core"
    domain = ("catalog", "connections", "lineage", "pipelines", "handlers", "cli")
    reached = {m for m in graph[core] if m.split(".")[1] in domain}
    assert not reached, f"{core} imports {sorted(reached)}"


def test_the_server_starts_workflows_without_importing_the_worker(graph) -> None:
    """The server imports only the contract it shares with the worker (the pipeline
    spec and a run's plan, with the workflows' names), never its workflows or activities."""
    wrong = sorted(
        f"{source} -> {target}"
        for source, targets in graph.items()
        if source.startswith("workbench_server") and not source.startswith(HOSTS_THE_WORKER)
        for target in targets
        if target.startswith("workbench_pipelines") and target not in CONTRACTS
    )
    assert not wrong, "the server imports the worker:\n" + "\n".join(wrong)


def test_the_contract_needs_nothing_of_the_worker_or_the_server(graph) -> None:
    """So that both sides can import it: it depends on no workflow or activity, and of
    the server only on its errors (a spec error is an invalid input)."""
    wrong = sorted(
        f"{source} -> {target}"
        for source in CONTRACTS
        for target in graph[source]
        if (target.startswith("workbench_pipelines") and target not in CONTRACTS)
        or (target.startswith("workbench_server") and target != "workbench_server.errors")
    )
    assert not wrong, "\n".join(wrong)


def test_a_circle_is_found(graph) -> None:
    # The check itself: an edge back from the core to a module that imports it is caught.
    looped = {name: set(targets) for name, targets in graph.items()}
    looped["workbench_server.core"].add("workbench_server.catalog.service")
    found = [c for c in circles(looped) if c not in KNOWN_CIRCLES]
    assert any({"workbench_server.core", "workbench_server.catalog.service"} <= c for c in found)
    steps = _path(looped, found[0]).split(" -> ")
    assert len(steps) > 2 and steps[0] == steps[-1]
