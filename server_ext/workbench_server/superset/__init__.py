"""Superset: lake tables published as datasets with the catalog's metadata (issue 18)."""

from .client import SupersetClient, SupersetError
from .publish import PublishRequest, PublishResult, publish

__all__ = ["PublishRequest", "PublishResult", "SupersetClient", "SupersetError", "publish"]
