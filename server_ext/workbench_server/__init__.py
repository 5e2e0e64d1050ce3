"""Data Engineering Workbench: the core and its jupyter-server extension."""

from ._version import __version__


def _jupyter_server_extension_points() -> list[dict[str, object]]:
    from .extension import WorkbenchApp

    return [{"module": "workbench_server", "app": WorkbenchApp}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "@workbench/core"}]


__all__ = ["__version__"]
