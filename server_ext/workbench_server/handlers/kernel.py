"""REST for workbench kernels: the connections (with credentials) a kernel may use.

Kernels cannot log in like a browser. The server extension gives the kernels it starts
a token of their own (``WORKBENCH_KERNEL_TOKEN`` in their environment, never on a
command line or in a file); this route accepts only that token, and answers only with
the connections the server's user may use. The browser token does not work here, and
this token works nowhere else.
"""

from __future__ import annotations

import hmac

from jupyter_server.auth.decorator import allow_unauthenticated
from pydantic import BaseModel
from tornado.web import HTTPError

from ..connections import ConnectionService
from .base import WorkbenchHandler

KERNEL_AUTH_SCHEME = "WorkbenchKernel"


class KernelConnection(BaseModel):
    name: str
    kind: str
    settings: dict[str, object]


class KernelBootstrap(BaseModel):
    connections: list[KernelConnection]
    lake: str | None


class KernelConnectionsHandler(WorkbenchHandler):
    auth_resource = "workbench.kernel"

    def _check_kernel_token(self) -> None:
        expected = self.settings["workbench_kernel_token"]
        scheme, _, token = self.request.headers.get("Authorization", "").partition(" ")
        if scheme != KERNEL_AUTH_SCHEME or not hmac.compare_digest(
            token.encode(), expected.encode()
        ):
            raise HTTPError(403, "a workbench kernel token is required")

    # Authenticated by the kernel token below instead of Jupyter's login.
    @allow_unauthenticated
    async def get(self) -> None:
        self._check_kernel_token()
        service = ConnectionService(self.workbench, self.principal)
        connections = []
        for name, settings in service.resolve_all().items():
            values = settings.model_dump(mode="json", by_alias=True)
            values.update(settings.secrets())  # clear text, for this kernel only
            connections.append(KernelConnection(name=name, kind=settings.kind, settings=values))
        lake = self.workbench.settings.workbench_home.lake
        self.set_header("Cache-Control", "no-store")
        self.write_json(KernelBootstrap(connections=connections, lake=str(lake)))


ROUTES = [("kernel/connections", KernelConnectionsHandler)]
