"""Access to lake storage: a local folder or an S3-compatible bucket (pyarrow's S3)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .kinds import LakeConfig

if TYPE_CHECKING:
    from pyarrow.fs import S3FileSystem


def s3_filesystem(cfg: LakeConfig) -> S3FileSystem:
    """pyarrow's S3 filesystem for ``cfg`` (DuckDB's httpfs cannot be installed offline)."""
    from pyarrow.fs import S3FileSystem

    endpoint = str(cfg.endpoint_url).rstrip("/") if cfg.endpoint_url else None
    return S3FileSystem(
        access_key=cfg.access_key_id,
        secret_key=cfg.secret_access_key.get_secret_value() if cfg.secret_access_key else None,
        session_token=cfg.session_token.get_secret_value() if cfg.session_token else None,
        endpoint_override=endpoint,
        region=cfg.region or "us-east-1",
        scheme=endpoint.split("://", 1)[0] if endpoint else "https",
        connect_timeout=5,
        request_timeout=10,
        allow_bucket_creation=False,
    )
