"""Temporary S3 credentials for a notebook step: the workers' scope of the team lake, for
one attempt.

A notebook step is users' code. In the team stack it runs as ``workbench-step``, which
can read neither the workers' MinIO password (its docker secret) nor the worker's
environment, and its kernel does not inherit the worker's lake login
(:func:`.kernel_access.kernel_environment`). For each attempt the worker asks the lake's
STS (MinIO's, or AWS's) for credentials with the session policy
:func:`workbench_hub.s3.worker_lake_policy`: list, read and write the layers below
``$WORKBENCH_LAKE_URI`` and nothing else, for as long as the attempt may run, signed
with the worker's own login (a session policy only narrows what that login may do).
The kernel gets them as the hub gives a user's server theirs: ``WORKBENCH_LAKE_URI``,
``AWS_ENDPOINT_URL_S3`` and ``AWS_ACCESS_KEY_ID``/``_SECRET_ACCESS_KEY``/
``_SESSION_TOKEN``.
"""

from __future__ import annotations

import json
import os
import re
from datetime import timedelta

from workbench_server.errors import SourceUnavailableError
from workbench_server.lake_env import LAKE_URI_ENV
from workbench_server.settings import WorkbenchSettings

# STS bounds: AWS takes 15 minutes to 12 hours (the role's maximum); MinIO up to a year.
MIN_SECONDS = 15 * 60
MAX_SECONDS = 12 * 3600
# MinIO ignores the role of an AssumeRole signed by one of its users; on AWS, the role
# the workers' login assumes (WORKBENCH_LAKE_STEP_ROLE_ARN).
STEP_ROLE_ENV = "WORKBENCH_LAKE_STEP_ROLE_ARN"
DEFAULT_STEP_ROLE = "arn:minio:iam:::role/workbench-steps"


def step_lake_env(
    settings: WorkbenchSettings, session: str, lasts: timedelta | None
) -> dict[str, str]:
    """The lake variables of a notebook step's kernel: temporary credentials of the
    workers' scope for ``lasts`` (at least 15 minutes, at most 12 hours), or nothing when
    the lake is not in S3 or the worker has no keys of its own to sign with.

    Raises :class:`SourceUnavailableError` when the lake's STS refuses or does not
    answer, naming the endpoint (no key); :class:`ConfigurationError` for a lake URI
    that is no prefix a policy can name (below ``sandbox/``, say)."""
    lake = settings.lake
    if lake is None or not lake.is_s3 or not lake.access_key_id or not lake.secret_access_key:
        return {}
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from workbench_hub.s3 import LakeScope, worker_lake_policy

    scope = LakeScope.parse(lake.location)  # the prefixes the policy names, or a clear error
    seconds = int(lasts.total_seconds()) if lasts else MAX_SECONDS
    endpoint = str(lake.endpoint_url).rstrip("/") if lake.endpoint_url else None
    sts = boto3.client(
        "sts",
        endpoint_url=endpoint,
        aws_access_key_id=lake.access_key_id,
        aws_secret_access_key=lake.secret_access_key.get_secret_value(),
        aws_session_token=lake.session_token.get_secret_value() if lake.session_token else None,
        region_name=lake.region or "us-east-1",
    )
    try:
        granted = sts.assume_role(
            RoleArn=os.environ.get(STEP_ROLE_ENV) or DEFAULT_STEP_ROLE,
            RoleSessionName=re.sub(r"[^\w+=,.@-]", "-", session)[:64].ljust(2, "-"),
            Policy=json.dumps(worker_lake_policy(scope), separators=(",", ":")),
            DurationSeconds=max(MIN_SECONDS, min(seconds, MAX_SECONDS)),
        )["Credentials"]
    except (BotoCoreError, ClientError) as exc:
        raise SourceUnavailableError(
            f"the lake's STS at {endpoint or 'AWS'} gave no credentials for this step "
            f"({_first_line(exc)})"
        ) from None
    env = {
        LAKE_URI_ENV: lake.location,
        "AWS_ACCESS_KEY_ID": granted["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": granted["SecretAccessKey"],
        "AWS_SESSION_TOKEN": granted["SessionToken"],
    }
    if endpoint:
        env["AWS_ENDPOINT_URL_S3"] = endpoint
    if lake.region:
        env["AWS_REGION"] = lake.region
    return env


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
