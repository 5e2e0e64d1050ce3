"""Named data connections with encrypted secrets, ownership, and self-tests."""

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
