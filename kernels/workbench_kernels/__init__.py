"""IPython extension loaded by the workbench kernel spec (``--ext workbench_kernels``).

It loads jupysql, makes every connection the user may use available under its name
(``%sql odoo SELECT ...``), makes the DuckDB ``lake`` connection the default (whose
``CREATE TABLE silver.x AS ...`` and other writes to ``layer.name`` tables write Delta
tables), adds ``%workbench`` and ``%odoo``, and sets up ``from workbench_kernels import
lake`` (lake.py) for writes and time travel from Python.

Each of these is loaded when a cell first needs it, not when the kernel starts
(extension.py): a kernel that runs no SQL starts about as fast as plain ipykernel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell


def load_ipython_extension(shell: InteractiveShell) -> None:
    from .extension import KernelExtension

    KernelExtension(shell).install()


def unload_ipython_extension(shell: InteractiveShell) -> None:
    # IPython has no public way to remove magics; leaving them registered is harmless.
    return None
