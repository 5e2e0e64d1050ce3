"""IPython extension loaded by the workbench kernel spec (``--ext workbench_kernels``).

It registers the ``%workbench`` line magic; connections, ``%sql`` and ``%odoo`` build on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell


def load_ipython_extension(shell: InteractiveShell) -> None:
    from .magics import WorkbenchMagics

    shell.register_magics(WorkbenchMagics(shell))


def unload_ipython_extension(shell: InteractiveShell) -> None:
    # IPython has no public way to remove magics; leaving them registered is harmless.
    return None
