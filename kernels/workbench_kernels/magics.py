"""``%workbench``: the kernel-side entry point of the workbench."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class

if TYPE_CHECKING:
    from .registry import KernelConnections

SUBCOMMANDS = ("connections", "refresh", "version", "home")


@magics_class
class WorkbenchMagics(Magics):
    """Magics available in every workbench kernel."""

    def __init__(self, shell: Any, connections: KernelConnections | None = None) -> None:
        super().__init__(shell)
        if connections is None:
            from .registry import KernelConnections

            connections = KernelConnections()
        self.connections = connections

    @line_magic
    def workbench(self, line: str) -> Any:
        """``%workbench connections | refresh | version | home``."""
        command = line.strip() or "connections"
        if command in ("connections", "refresh"):
            self.connections.refresh()
            if command == "refresh":
                self.connections.refresh_lakes()
            if self.connections.unavailable:
                raise UsageError(f"%workbench: {self.connections.unavailable}")
            return self._table()
        if command == "version":
            from workbench_server import __version__

            return __version__
        if command == "home":
            from workbench_server.home import default_home

            return str(default_home())
        raise UsageError(
            f"%workbench: unknown subcommand {command!r}; choose one of {', '.join(SUBCOMMANDS)}"
        )

    def _table(self) -> Any:
        import pandas as pd

        from .registry import LAKE

        rows = [{"name": LAKE, "kind": "lake", "use with": "%sql lake … (default)"}]
        for name, settings in sorted(self.connections.settings.items()):
            if name == LAKE:
                continue
            use = {
                "odoo": "%odoo … (external API)",
                "superset": f"workbench publish gold.… --to {name}",
            }.get(settings.kind, f"%sql {name} …")
            rows.append({"name": name, "kind": settings.kind, "use with": use})
        for name, problem in sorted(self.connections.problems.items()):
            rows.append({"name": name, "kind": "?", "use with": problem})
        return pd.DataFrame(rows).set_index("name")
