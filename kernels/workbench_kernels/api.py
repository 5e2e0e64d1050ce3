"""The kernel's line to the workbench: fetch the connections this user may use.

The server extension (or the pipeline worker) puts ``WORKBENCH_API_URL`` and
``WORKBENCH_KERNEL_TOKEN`` into the environment of the kernels it starts. Credentials
come back over HTTP into this process's memory only: nothing is written to disk.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from workbench_server.connections.kernel_access import (
    API_URL_ENV,
    KERNEL_AUTH_SCHEME,
    KERNEL_CONNECTIONS_PATH,
    KERNEL_TOKEN_ENV,
    KERNEL_USABLE_PATH,
)


class WorkbenchUnavailable(Exception):
    """The kernel was not started by a workbench server, or the server did not answer."""


@dataclass
class Bootstrap:
    connections: dict[str, dict[str, Any]] = field(default_factory=dict)
    lake: str | None = None
    # Who this kernel writes the lake for, when its starter says (a pipeline worker: the
    # pipeline and the owner the run acts for).
    writer: dict[str, Any] = field(default_factory=dict)


def workbench_request(path: str, body: object = None) -> urllib.request.Request:
    """A request to the workbench that started this kernel, with the kernel's token."""
    url, token = os.environ.get(API_URL_ENV, ""), os.environ.get(KERNEL_TOKEN_ENV, "")
    headers = {"Authorization": f"{KERNEL_AUTH_SCHEME} {token}"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    return urllib.request.Request(  # noqa: S310 - our own server's URL
        url.rstrip("/") + path,
        data=None if body is None else json.dumps(body).encode(),
        headers=headers,
        method="GET" if body is None else "POST",
    )


def fetch_bootstrap(timeout: float = 10.0) -> Bootstrap:
    url, token = os.environ.get(API_URL_ENV), os.environ.get(KERNEL_TOKEN_ENV)
    if not url or not token:
        raise WorkbenchUnavailable(
            "this kernel was not started by a workbench server or pipeline worker, "
            "so it has no connections"
        )
    request = workbench_request(KERNEL_CONNECTIONS_PATH)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            payload = json.load(response)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise WorkbenchUnavailable(f"the workbench server did not answer: {exc}") from None
    return Bootstrap(
        connections={
            c["name"]: {**c["settings"], "kind": c["kind"]} for c in payload["connections"]
        },
        lake=payload.get("lake"),
        writer=payload.get("writer") or {},
    )


def fetch_usable(names: list[str], timeout: float = 10.0) -> list[str]:
    """Those of ``names`` this kernel's user may still use, as the workbench says now."""
    try:
        with urllib.request.urlopen(  # noqa: S310 - our own server's URL
            workbench_request(KERNEL_USABLE_PATH, {"names": names}), timeout=timeout
        ) as response:
            return list(json.load(response)["usable"])
    except (urllib.error.URLError, OSError, ValueError, KeyError) as exc:
        raise WorkbenchUnavailable(f"the workbench server did not answer: {exc}") from None
