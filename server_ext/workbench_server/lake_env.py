"""Where the installation's lake is, from the environment: ``$WORKBENCH_LAKE_URI``.

Unset, the default lake is the workbench home's ``lake`` folder. Set, it is that folder
(an absolute path) or ``s3://bucket/prefix``, reached with:

- the endpoint ``$WORKBENCH_LAKE_ENDPOINT_URL``, else ``$AWS_ENDPOINT_URL_S3`` (what the
  hub gives users' servers), else ``$AWS_ENDPOINT_URL``; none: AWS itself;
- the region ``$AWS_REGION``, else ``$AWS_DEFAULT_REGION``;
- the keys ``$AWS_ACCESS_KEY_ID``, ``$AWS_SECRET_ACCESS_KEY`` and ``$AWS_SESSION_TOKEN``
  (temporary credentials, as the hub hands out), each also read from the file that
  ``$<NAME>_FILE`` names (a docker secret), so that a key is in no process's
  environment.

Read once, into :class:`~workbench_server.settings.WorkbenchSettings`; a bad value stops
the start with what to set. Secrets stay ``SecretStr`` and are never logged.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import ValidationError

from .connections.kinds import LakeConfig
from .errors import ConfigurationError

LAKE_URI_ENV = "WORKBENCH_LAKE_URI"
# A user's own lake in team mode (the hub sets it): where their kernels write.
LAKE_SANDBOX_ENV = "WORKBENCH_LAKE_SANDBOX_URI"
LAKE_ENDPOINT_ENV = "WORKBENCH_LAKE_ENDPOINT_URL"
ENDPOINT_ENVS = (LAKE_ENDPOINT_ENV, "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
REGION_ENVS = ("AWS_REGION", "AWS_DEFAULT_REGION")
# field of LakeConfig -> the standard variable that holds it (or its file, NAME_FILE)
KEY_ENVS = {
    "access_key_id": "AWS_ACCESS_KEY_ID",
    "secret_access_key": "AWS_SECRET_ACCESS_KEY",
    "session_token": "AWS_SESSION_TOKEN",
}
# The lake login of a process, as a step's kernel must not inherit it from the worker.
KEY_ENV_NAMES = tuple(n for name in KEY_ENVS.values() for n in (name, f"{name}_FILE"))


def lake_from_env(uri_env: str = LAKE_URI_ENV) -> LakeConfig | None:
    """The lake ``$uri_env`` names with its storage settings, or None when it is unset."""
    uri = os.environ.get(uri_env, "").strip()
    if not uri:
        return None
    values: dict[str, object] = {"location": uri}
    if uri.startswith("s3://"):
        values["endpoint_url"] = _first(ENDPOINT_ENVS)
        values["region"] = _first(REGION_ENVS)
        for field, name in KEY_ENVS.items():
            values[field] = _value_or_file(name)
    try:
        return LakeConfig.model_validate(values)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(p) for p in problem["loc"]) or "location"
        variable = {
            "location": uri_env,
            "endpoint_url": next((n for n in ENDPOINT_ENVS if os.environ.get(n)), where),
            "region": next((n for n in REGION_ENVS if os.environ.get(n)), where),
        }.get(where, KEY_ENVS.get(where, where))
        shown = uri if variable == uri_env else os.environ.get(variable, "")
        if variable in KEY_ENVS.values():
            shown = "..."  # never echo a key
        hint = (
            f" ({uri_env} takes an absolute folder path or s3://bucket/prefix)"
            if variable == uri_env
            else ""
        )
        raise ConfigurationError(
            f"{variable}={shown!r}: {problem['msg'].removeprefix('Value error, ')}{hint}"
        ) from None


def _first(names: tuple[str, ...]) -> str | None:
    return next((os.environ[n].strip() for n in names if os.environ.get(n, "").strip()), None)


def _value_or_file(name: str) -> str | None:
    """``$NAME``, else the contents of the file ``$NAME_FILE`` names, else None."""
    if os.environ.get(name):
        return os.environ[name].strip()
    file = os.environ.get(f"{name}_FILE")
    if not file:
        return None
    try:
        return Path(file).read_text(encoding="utf-8").strip() or None
    except OSError as exc:
        raise ConfigurationError(f"{name}_FILE={file} cannot be read ({exc.strerror})") from None
