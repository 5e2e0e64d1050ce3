"""Where a lake's tables live: a folder or ``s3://bucket/prefix``, and how to reach it.

Each table ``layer.name`` is a Delta table at ``<root>/<layer>/<name>``. The default lake
is ``$WORKBENCH_LAKE_URI`` (the team stack's bucket) or else the workbench home's
``lake`` folder, shared by every user of the installation; a
``lake`` connection names another folder or bucket, and only those who may use the
connection reach its tables.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..connections.kinds import LakeConfig
from ..errors import NotFoundError
from ..sql_text import quote_literal
from .models import TableName

if TYPE_CHECKING:
    from pyarrow.fs import FileSystem

    from ..core import Workbench
    from ..principal import Principal
    from ..settings import WorkbenchSettings

DEFAULT_LAKE = "lake"  # the name kernels give the default lake (``%sql lake``)


@dataclass(frozen=True)
class LakeLocation:
    """A lake: its root (folder or ``s3://bucket/prefix``) and, for S3, its storage."""

    root: str
    name: str = DEFAULT_LAKE
    storage: LakeConfig | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", self.root.rstrip("/") or "/")

    @property
    def is_s3(self) -> bool:
        return self.root.startswith("s3://")

    def uri(self, table: TableName | str) -> str:
        """Where ``table`` lives: ``<root>/<layer>/<name>``."""
        table = TableName.parse(table)
        return f"{self.root}/{table.layer}/{table.name}"

    def storage_options(self) -> dict[str, str] | None:
        """delta-rs's storage options: the connection's keys, region and endpoint.

        S3 commits use conditional puts (``If-None-Match: *``), which delta-rs 1.x does by
        default: no locking provider, and never ``AWS_S3_ALLOW_UNSAFE_RENAME``. A plain
        ``http://`` endpoint (MinIO on a private network, moto in tests) must be allowed
        explicitly.
        """
        if not self.is_s3:
            return None
        cfg = self.storage or LakeConfig(location=self.root)
        options = {"AWS_REGION": cfg.region or "us-east-1"}
        if cfg.access_key_id:
            options["AWS_ACCESS_KEY_ID"] = cfg.access_key_id
        if cfg.secret_access_key is not None:
            options["AWS_SECRET_ACCESS_KEY"] = cfg.secret_access_key.get_secret_value()
        if cfg.session_token is not None:
            options["AWS_SESSION_TOKEN"] = cfg.session_token.get_secret_value()
        if cfg.endpoint_url is not None:
            endpoint = str(cfg.endpoint_url).rstrip("/")
            options["AWS_ENDPOINT_URL"] = endpoint
            if endpoint.startswith("http://"):
                options["AWS_ALLOW_HTTP"] = "true"
        return options

    def filesystem(self) -> tuple[FileSystem, str]:
        """pyarrow's filesystem for the lake and the root's path in it (made once)."""
        return self._filesystem

    @cached_property
    def _filesystem(self) -> tuple[FileSystem, str]:
        if self.is_s3:
            from ..connections.lake import s3_filesystem

            cfg = self.storage or LakeConfig(location=self.root)
            return s3_filesystem(cfg), self.root.removeprefix("s3://")
        from pyarrow.fs import LocalFileSystem

        return LocalFileSystem(), self.root

    def fs_path(self, table: TableName | str) -> str:
        """``table``'s folder as a path in :meth:`filesystem`."""
        return self.uri(table).removeprefix("s3://")

    def duckdb_secret(self) -> str | None:
        """``CREATE SECRET`` for DuckDB's httpfs/delta reads of an S3 lake, scoped to it."""
        if not self.is_s3:
            return None
        cfg = self.storage or LakeConfig(location=self.root)
        parts = ["TYPE s3", f"SCOPE {quote_literal(self.root)}"]
        if cfg.access_key_id:
            parts.append(f"KEY_ID {quote_literal(cfg.access_key_id)}")
        if cfg.secret_access_key is not None:
            parts.append(f"SECRET {quote_literal(cfg.secret_access_key.get_secret_value())}")
        if cfg.session_token is not None:
            parts.append(f"SESSION_TOKEN {quote_literal(cfg.session_token.get_secret_value())}")
        parts.append(f"REGION {quote_literal(cfg.region or 'us-east-1')}")
        if cfg.endpoint_url is not None:
            endpoint = urlsplit(str(cfg.endpoint_url))
            parts += [
                f"ENDPOINT {quote_literal(endpoint.netloc)}",
                "URL_STYLE 'path'",
                f"USE_SSL {'true' if endpoint.scheme == 'https' else 'false'}",
            ]
        # One secret per lake: a session that reads two lakes (a user's sandbox and the
        # team's) keeps both, each scoped to its own root.
        name = f"wb_lake_{hashlib.sha256(self.root.encode()).hexdigest()[:12]}"
        return f"CREATE OR REPLACE SECRET {name} ({', '.join(parts)})"


def default_lake(settings: WorkbenchSettings) -> LakeLocation:
    """The installation's own lake: ``$WORKBENCH_LAKE_URI`` (a folder, or S3 with the
    keys, endpoint and region the environment gives; see :mod:`..lake_env`) when set,
    else the home's ``lake`` folder."""
    return LakeLocation(settings.lake_root, storage=settings.lake)


def connection_lake(workbench: Workbench, principal: Principal, name: str) -> LakeLocation:
    """The lake of connection ``name``, if ``principal`` may use it (else not found).

    The folder is resolved below the data roots and an S3 endpoint checked against the
    network policy, as every server-side open of a connection is.
    """
    from ..connections.egress import EgressPolicy, pin
    from ..connections.service import ConnectionService

    cfg = ConnectionService(workbench, principal).resolve(name)
    if not isinstance(cfg, LakeConfig):
        raise NotFoundError(f"no lake connection named {name!r} ({name!r} is a {cfg.kind})")
    checked = pin(name, cfg, EgressPolicy.from_settings(workbench.settings))
    return LakeLocation(checked.location, name=name, storage=checked)


def resolve_lake(
    workbench: Workbench, principal: Principal, name: str | None = None
) -> LakeLocation:
    """The default lake (``None`` or ``"lake"``) or the lake connection ``name``."""
    if name is None or name == DEFAULT_LAKE:
        return default_lake(workbench.settings)
    return connection_lake(workbench, principal, name)
