"""Superset: lake tables published as datasets with the catalog's metadata (issue 18)."""

from .client import SupersetClient, SupersetError
from .publish import (
    PublishRequest,
    PublishResult,
    UnpublishRequest,
    UnpublishResult,
    publish,
    unpublish,
)

__all__ = [
    "PublishRequest",
    "PublishResult",
    "SupersetClient",
    "SupersetError",
    "UnpublishRequest",
    "UnpublishResult",
    "publish",
    "unpublish",
]
