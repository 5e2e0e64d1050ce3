"""Named data connections with encrypted secrets, ownership, and self-tests."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .kinds import KINDS, KindConfig
    from .service import ConnectionCreate, ConnectionOut, ConnectionService, ConnectionUpdate

__all__ = [
    "KINDS",
    "ConnectionCreate",
    "ConnectionOut",
    "ConnectionService",
    "ConnectionUpdate",
    "KindConfig",
]
# Imported at first use, so that a kernel that needs one module of this package (kinds,
# kernel_access) does not import the service with the ORM and the DB models too.
_WHERE = {"KINDS": "kinds", "KindConfig": "kinds"} | {
    name: "service"
    for name in ("ConnectionCreate", "ConnectionOut", "ConnectionService", "ConnectionUpdate")
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{_WHERE[name]}", __name__), name)
