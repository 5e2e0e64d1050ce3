"""S3 (MinIO) credentials scoped to what each part of the team stack may read or write.

At every spawn the hub asks the S3 endpoint's STS for temporary credentials (AssumeRole
with a session policy) that reach only what the user may: their own notebooks prefix
(``<notebooks bucket>/<user>/``) and the team lake, whose layers (``bronze/``,
``silver/``, ``gold/`` below ``$WORKBENCH_LAKE_URI``) they read and whose
``sandbox/<user>/`` prefix, a lake of their own with the same layers, they read and
write. The request is signed as the MinIO user the hub alone holds the password of; the
session policy can only narrow what that user may do, never widen it.

Why users do not write the shared layers: bronze is the audit trail of what the sources
said and silver and gold are what pipelines made of it, each version tied to the run
that wrote it. A notebook writing there could rewrite a past close's inputs, and would
record itself as whatever writer it claims. Shared tables are written by pipeline steps
on the workers (their MinIO user reaches the layers, :func:`worker_lake_policy`); a
notebook's own tables go to its user's sandbox, and a pipeline publishes them.

Every prefix in a policy ends with ``/``, so that ``al`` reaches nothing of ``alice``;
user names are checked (no ``*`` or ``?``, wildcards in a policy) before any request.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from workbench_server.errors import ConfigurationError
from workbench_server.lake_layout import LAYERS

from .names import check_user_name

NOTEBOOKS_BUCKET_ENV = "WORKBENCH_NOTEBOOKS_BUCKET"
# The team lake: s3://bucket/prefix; its layers are <prefix>/bronze/, /silver/, /gold/.
LAKE_URI_ENV = "WORKBENCH_LAKE_URI"
# Where a user's server finds their own lake (read and write): s3://bucket/sandbox/<user>.
LAKE_SANDBOX_ENV = "WORKBENCH_LAKE_SANDBOX_URI"
SANDBOX = "sandbox"
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_PREFIX = re.compile(r"(?:[A-Za-z0-9_.-]+/)*")
# What reading and writing a Delta table takes (delta-rs commits with conditional puts;
# vacuum and failed multipart uploads delete).
READ_ACTIONS = ["s3:GetObject"]
WRITE_ACTIONS = [
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
]


@dataclass(frozen=True)
class LakeScope:
    """The team lake in S3: its bucket and the prefix its layers are below (``""`` or
    ending with ``/``)."""

    bucket: str
    prefix: str = ""

    @classmethod
    def parse(cls, uri: str) -> LakeScope:
        """``s3://lake/main`` -> LakeScope("lake", "main/"); one clear error otherwise."""
        parts = urlsplit(uri.strip())
        prefix = parts.path.strip("/")
        prefix = f"{prefix}/" if prefix else ""
        if (
            parts.scheme != "s3"
            or not _BUCKET.fullmatch(parts.netloc)
            or not _PREFIX.fullmatch(prefix)
            or ".." in prefix.split("/")
            or prefix.split("/")[0] == SANDBOX
            or parts.query
            or parts.fragment
        ):
            raise ConfigurationError(
                f"{LAKE_URI_ENV}={uri!r}: use s3://bucket/prefix (letters, digits, '.', '-' "
                f"and '_'; not below {SANDBOX}/, where users' own lakes are)"
            )
        return cls(parts.netloc, prefix)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def layers(self) -> list[str]:
        """The shared layers' prefixes: ``main/bronze/``, ``main/silver/``, ``main/gold/``."""
        return [f"{self.prefix}{layer}/" for layer in LAYERS]

    def sandbox(self, user: str) -> str:
        """``user``'s own lake prefix: ``sandbox/<user>/`` (an unsafe name is refused)."""
        return f"{SANDBOX}/{check_user_name(user)}/"

    def sandbox_uri(self, user: str) -> str:
        return f"s3://{self.bucket}/{self.sandbox(user)}".rstrip("/")


def prefix_statements(
    bucket: str,
    *,
    read: Sequence[str] = (),
    write: Sequence[str] = (),
    listed: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Statements that list and read below each prefix of ``read`` and ``write``, and
    write and delete below each of ``write``; ``listed`` prefixes are listed themselves
    only (e.g. the lake's top, which holds its layers' names). Prefixes end with ``/``."""
    below = list(dict.fromkeys([*read, *write]))
    for prefix in [*below, *listed]:
        if not prefix.endswith("/") or set(prefix) & {"*", "?"} or prefix.startswith("/"):
            raise ValueError(f"{prefix!r}: an S3 policy prefix ends with '/' and has no wildcard")
    arn = f"arn:aws:s3:::{bucket}"
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": ["s3:GetBucketLocation"], "Resource": [arn]},
        {
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [arn],
            "Condition": {
                "StringLike": {
                    "s3:prefix": [*listed, *(p for prefix in below for p in (prefix, f"{prefix}*"))]
                }
            },
        },
        {
            "Effect": "Allow",
            "Action": list(READ_ACTIONS),
            "Resource": [f"{arn}/{prefix}*" for prefix in below],
        },
    ]
    if write:
        statements.append(
            {
                "Effect": "Allow",
                "Action": list(WRITE_ACTIONS),
                "Resource": [f"{arn}/{prefix}*" for prefix in dict.fromkeys(write)],
            }
        )
    return statements


def _document(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": statements}


def notebook_statements(bucket: str, user: str) -> list[dict[str, Any]]:
    """List, read and write below ``<bucket>/<user>/`` only (object versions included:
    notebooks are kept with their history)."""
    user = check_user_name(user)
    return [
        {
            "Effect": "Allow",
            "Action": ["s3:GetBucketLocation"],
            "Resource": [f"arn:aws:s3:::{bucket}"],
        },
        {
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:ListBucketVersions"],
            "Resource": [f"arn:aws:s3:::{bucket}"],
            "Condition": {"StringLike": {"s3:prefix": [f"{user}/", f"{user}/*"]}},
        },
        {
            "Effect": "Allow",
            "Action": [
                "s3:GetObject",
                "s3:GetObjectVersion",
                "s3:PutObject",
                "s3:DeleteObject",
            ],
            "Resource": [f"arn:aws:s3:::{bucket}/{user}/*"],
        },
    ]


def notebook_policy(bucket: str, user: str) -> dict[str, Any]:
    """An S3 session policy: list, read and write below ``<bucket>/<user>/`` only.

    ``user`` must be a valid hub user name (no ``*`` or ``?``, which are wildcards in a
    policy); prefixes end with ``/`` so that ``al`` reaches nothing of ``alice``.
    """
    return _document(notebook_statements(bucket, user))


def user_lake_statements(lake: LakeScope, user: str) -> list[dict[str, Any]]:
    """A user's server: read the shared layers, read and write their own sandbox."""
    return prefix_statements(
        lake.bucket,
        read=lake.layers(),
        write=[lake.sandbox(user)],
        listed=[lake.prefix] if lake.prefix else [],
    )


def user_policy(notebooks: str | None, lake: LakeScope | None, user: str) -> dict[str, Any]:
    """The session policy of ``user``'s server: their notebooks and their part of the
    lake (either may be absent). An unsafe name is refused before anything is built."""
    user = check_user_name(user)
    statements: list[dict[str, Any]] = []
    if notebooks:
        statements += notebook_statements(notebooks, user)
    if lake is not None:
        statements += user_lake_statements(lake, user)
    return _document(statements)


def worker_lake_policy(lake: LakeScope) -> dict[str, Any]:
    """The workers' MinIO user: read and write the shared layers (pipeline steps,
    maintenance), nothing of users' sandboxes or notebooks."""
    listed = [lake.prefix] if lake.prefix else []
    return _document(
        prefix_statements(lake.bucket, read=lake.layers(), write=lake.layers(), listed=listed)
    )


def service_lake_policy(lake: LakeScope) -> dict[str, Any]:
    """The workbench service's MinIO user: read the shared layers (catalog scans,
    previews, versions, diffs); it writes nothing."""
    listed = [lake.prefix] if lake.prefix else []
    return _document(prefix_statements(lake.bucket, read=lake.layers(), listed=listed))


@dataclass(frozen=True)
class ScopedS3Credentials:
    """``Spawner.pre_spawn_hook``: the user's own S3 credentials into their server's env:
    their notebooks prefix (``bucket``) and their part of the team lake (``lake``)."""

    bucket: str | None
    endpoint: str
    access_key: str
    secret_key: str = field(repr=False)
    seconds: int
    lake: LakeScope | None = None

    async def __call__(self, spawner: Any) -> None:
        # boto3 blocks: off the hub's event loop.
        spawner.environment.update(await asyncio.to_thread(self.grant, spawner.user.name))

    def policy(self, user: str) -> dict[str, Any]:
        return user_policy(self.bucket, self.lake, user)

    def grant(self, user: str) -> dict[str, str]:
        """Temporary credentials for ``user``'s scope, as the environment of a server."""
        import boto3

        policy = json.dumps(self.policy(user), separators=(",", ":"))  # refuses unsafe names
        sts = boto3.client(
            "sts",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        )
        granted = sts.assume_role(
            RoleArn="arn:minio:iam:::role/workbench-notebooks",  # MinIO ignores the role
            RoleSessionName=re.sub(r"[^\w+=,.@-]", "-", user)[:64].ljust(2, "-"),
            Policy=policy,
            DurationSeconds=self.seconds,
        )["Credentials"]
        env = {
            "AWS_ENDPOINT_URL_S3": self.endpoint,
            "AWS_ACCESS_KEY_ID": granted["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": granted["SecretAccessKey"],
            "AWS_SESSION_TOKEN": granted["SessionToken"],
        }
        if self.bucket:
            env[NOTEBOOKS_BUCKET_ENV] = self.bucket
        if self.lake is not None:
            env[LAKE_URI_ENV] = self.lake.uri
            env[LAKE_SANDBOX_ENV] = self.lake.sandbox_uri(user)
        return env
