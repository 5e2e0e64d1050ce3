"""Other users in the browser tests, without a hub: who a request is from, by a header.

The browser tests run one ``workbench up`` per module, whose single local user owns and
administers everything. To see what a team member sees (a connection shared with them,
a pipeline they may only view), the tests' JupyterLab maps requests that carry
``X-Workbench-Test-User`` to that user, not an admin, in the ``finance`` group; every
other request is the local admin as usual. The browser sends the header through
Playwright's ``extra_http_headers``, the REST client per request (:func:`as_user`), so
every right is checked by the real server.

Test-only: a server that trusted such a header would let anyone be anyone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from workbench_server.principal import Principal, PrincipalProvider

HEADER = "X-Workbench-Test-User"
GROUP = "finance"


def as_user(name: str) -> dict[str, str]:
    """Headers that make a REST request ``name``'s."""
    return {HEADER: name}


class HeaderPrincipalProvider(PrincipalProvider):
    """The user the request's ``X-Workbench-Test-User`` header names, a non-admin member
    of ``finance``; without the header, the local admin (the default provider)."""

    def principal(self, handler: Any) -> Principal:
        name = handler.request.headers.get(HEADER)
        if not name:
            return super().principal(handler)
        return Principal(name=name, groups=frozenset({GROUP}), admin=False)


def write_server_config(folder: Path) -> Path:
    """A Jupyter config folder (for ``JUPYTER_CONFIG_PATH``) choosing this provider."""
    folder.mkdir(parents=True, exist_ok=True)
    provider = f"{__name__}.{HeaderPrincipalProvider.__name__}"
    config = {"WorkbenchApp": {"principal_provider_class": provider}}
    (folder / "jupyter_server_config.json").write_text(json.dumps(config))
    return folder
