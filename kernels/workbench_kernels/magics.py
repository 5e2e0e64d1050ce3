"""``%workbench``: the kernel-side entry point of the workbench."""

from __future__ import annotations

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class

SUBCOMMANDS = ("version", "home")


@magics_class
class WorkbenchMagics(Magics):
    """Magics available in every workbench kernel."""

    @line_magic
    def workbench(self, line: str) -> str:
        """``%workbench version`` | ``%workbench home``."""
        command = line.strip() or "version"
        if command == "version":
            from workbench_server import __version__

            return __version__
        if command == "home":
            from workbench_server.home import default_home

            return str(default_home())
        raise UsageError(
            f"%workbench: unknown subcommand {command!r}; choose one of {', '.join(SUBCOMMANDS)}"
        )


__all__ = ["WorkbenchMagics"]
