"""Each kernel a Jupyter server starts gets a workbench token of its own.

A kernel asks its server for the connections it may use with ``WORKBENCH_KERNEL_TOKEN``.
One token per kernel (never one per server in the server's environment) means that a
token read from one kernel, or from an ended kernel, opens nothing else, and that the
server knows which kernel, and so which notebook, a request comes from: lineage is
recorded under the notebook the server knows, not a name the kernel chose.

Kernels also lose what only the server needs: the server's own access token and the
workbench's database URL and key. The mixin goes onto the server's kernel manager when
the extension starts (:func:`give_kernels_tokens`), whichever manager class the server
was configured with, so no one has to configure a class for it.
"""

from __future__ import annotations

import os
import secrets
import uuid
from typing import Any

# The server's own credentials: a kernel that holds them could act as the server.
SERVER_TOKENS_ENV = ("JUPYTER_TOKEN", "JPY_API_TOKEN")


class KernelTokensMixin:
    """Start every kernel with a fresh token and the workbench API's address."""

    workbench_api_url: str
    workbench_tokens: dict[str, str]  # token -> kernel id

    async def start_kernel(
        self, *, kernel_id: str | None = None, path: str | None = None, **kwargs: Any
    ) -> str:
        if kernel_id is None or kernel_id not in self:  # type: ignore[operator]
            kernel_id = kernel_id or str(uuid.uuid4())
            kwargs["env"] = self.kernel_environment(kernel_id, kwargs.get("env"))
        return await super().start_kernel(  # type: ignore[misc]
            kernel_id=kernel_id, path=path, **kwargs
        )

    def kernel_environment(self, kernel_id: str, given: dict[str, str] | None) -> dict[str, str]:
        # Here, not at the top: the server installs this mixin before it listens, and the
        # module (pydantic, the principal's model) costs the lab's start ~50 ms of CPU.
        from .connections.kernel_access import API_URL_ENV, KERNEL_TOKEN_ENV, SERVER_ONLY_ENV

        env = dict(given if given is not None else os.environ)
        for name in (*SERVER_ONLY_ENV, *SERVER_TOKENS_ENV):
            env.pop(name, None)
        token = secrets.token_urlsafe(32)
        self.workbench_tokens[token] = kernel_id
        env[KERNEL_TOKEN_ENV] = token
        env[API_URL_ENV] = self.workbench_api_url
        return env

    def kernel_of_token(self, token: str | None) -> str | None:
        """The id of the running kernel holding ``token`` (tokens of ended kernels are
        forgotten here)."""
        if not token:
            return None
        for known, kernel_id in list(self.workbench_tokens.items()):
            if kernel_id not in self:  # type: ignore[operator]
                self.workbench_tokens.pop(known, None)
            elif secrets.compare_digest(known.encode(), token.encode()):
                return kernel_id
        return None


def give_kernels_tokens(kernel_manager: Any, api_url: str) -> KernelTokensMixin:
    """Make ``kernel_manager`` (a jupyter-server MappingKernelManager) start kernels with
    tokens of their own; returns it, now a :class:`KernelTokensMixin`."""
    if not isinstance(kernel_manager, KernelTokensMixin):
        cls = type(kernel_manager)
        kernel_manager.__class__ = type(cls)(
            f"Workbench{cls.__name__}", (KernelTokensMixin, cls), {}
        )
        kernel_manager.workbench_tokens = {}
    kernel_manager.workbench_api_url = api_url
    return kernel_manager
