"""REST for workbench kernels: the connections (with credentials) a kernel may use.

Kernels cannot log in like a browser. The server extension gives the kernels it starts
a token of their own (``WORKBENCH_KERNEL_TOKEN`` in their environment, never on a
command line or in a file); this route accepts only that token, and answers only with
the connections the server's user may use. The browser token does not work here, and
this token works nowhere else.
"""

from __future__ import annotations

from jupyter_server.auth.decorator import allow_unauthenticated
from tornado.web import HTTPError

from ..connections.kernel_access import bearer_token, kernel_bootstrap, same_token
from .base import WorkbenchHandler


class KernelConnectionsHandler(WorkbenchHandler):
    auth_resource = "workbench.kernel"

    # Authenticated by the kernel token below instead of Jupyter's login.
    @allow_unauthenticated
    async def get(self) -> None:
        token = bearer_token(self.request.headers.get("Authorization", ""))
        if not same_token(token, self.settings["workbench_kernel_token"]):
            raise HTTPError(403, "a workbench kernel token is required")
        self.set_header("Cache-Control", "no-store")
        self.write_json(kernel_bootstrap(self.workbench, self.principal))


ROUTES = [("kernel/connections", KernelConnectionsHandler)]
