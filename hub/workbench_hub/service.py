"""The workbench service: the core, run once, behind JupyterHub.

JupyterHub starts it as a managed service with its URL and API token in the
environment; in the team stack it is an external service instead, in a container of its
own whose environment (``JUPYTERHUB_SERVICE_NAME``, ``JUPYTERHUB_SERVICE_URL``,
``JUPYTERHUB_SERVICE_PREFIX``, ``JUPYTERHUB_API_URL``, ``JUPYTERHUB_API_TOKEN``) gives it
the same (see :func:`workbench_hub.config.workbench_service`). It is a Jupyter server
that loads only
the workbench extension, so it serves the very routes of local mode
(``/services/workbench/workbench/api/...``) and nothing else: no contents, no kernels,
no terminals. It opens the metadata DB and holds the secrets key; user servers hold
neither and forward their users' requests here (``WorkbenchApp.service_url``).

Callers are known by JupyterHub API tokens only, never by browser cookies (another
user's server on the same origin could make a browser send those). JupyterHub says whose
a token is, in which groups, and whether an admin; that is the :class:`Principal` every
permission check of the core is made against.

Run as ``python -m workbench_hub.service``.
"""

from __future__ import annotations

import os
import sys
from typing import Any
from urllib.parse import urlsplit

from jupyter_server.serverapp import ServerApp
from jupyterhub.services.auth import HubAuth
from jupyterhub.singleuser.extension import (
    JupyterHubAuthorizer,
    JupyterHubIdentityProvider,
    JupyterHubUser,
)
from tornado.web import HTTPError
from traitlets import Instance, default
from traitlets.config import Config

from workbench_server.home import WorkbenchHome
from workbench_server.principal import Principal, PrincipalProvider

IDENTITY_CACHE_ENV = "WORKBENCH_IDENTITY_CACHE_SECONDS"
# Where the service listens when its URL names only one of the host's addresses.
BIND_IP_ENV = "WORKBENCH_SERVICE_BIND_IP"


class HubTokenIdentityProvider(JupyterHubIdentityProvider):
    """JupyterHub's own identity provider, for API tokens only (no OAuth login, no cookies).

    A token must carry ``access:services!service=<this service>``; user servers get it
    through ``Spawner.server_token_scopes``.
    """

    hub_auth = Instance(HubAuth)

    @default("hub_auth")
    def _default_hub_auth(self) -> HubAuth:
        return HubAuth(parent=self, cache_max_age=_identity_cache_seconds())

    async def get_user(self, handler: Any) -> JupyterHubUser | None:
        handler.get_login_url = _no_login_here
        return await super().get_user(handler)

    def get_handlers(self) -> list:
        return []  # no OAuth callback, no logout: nobody logs in here


def _no_login_here() -> str:
    """Where tornado would redirect an anonymous request to log in: a 403 instead."""
    raise HTTPError(403, "a JupyterHub API token is required")


class WorkbenchRoutesAuthorizer(JupyterHubAuthorizer):
    """The hub's access check, and only the workbench's own routes (defence in depth)."""

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        return resource.startswith("workbench") and super().is_authorized(
            handler, user, action, resource
        )


class HubPrincipalProvider(PrincipalProvider):
    """The hub user who owns the calling token: name, hub groups, hub admin flag."""

    def principal(self, handler: Any) -> Principal:
        hub_user = handler.current_user.hub_user
        return Principal(
            name=hub_user["name"],
            groups=frozenset(hub_user.get("groups") or ()),
            admin=bool(hub_user.get("admin")),
        )


class WorkbenchService(ServerApp):
    """A Jupyter server with the workbench routes and nothing else."""

    name = "workbench-service"  # also keeps jupyter_server_config files (and lab) away
    description = "The workbench core as a JupyterHub service."
    default_services = ()


def _identity_cache_seconds() -> int:
    """How long a token's user and groups are trusted before asking the hub again."""
    return int(os.environ.get(IDENTITY_CACHE_ENV) or 60)


def service_config(service_url: str, prefix: str) -> Config:
    """The service's server configuration, from the URL and prefix the hub gave it."""
    address = urlsplit(service_url)
    # An empty folder as root: pipeline files are the users' and live in their servers;
    # the service must never read its own folders on anyone's behalf.
    home = WorkbenchHome.resolve()
    home.prepare()
    root = home.run_dir / "service-root"
    root.mkdir(exist_ok=True)
    c = Config()
    c.ServerApp.update(
        # In the team stack its URL names one of its container's networks only: the
        # service listens on all of them (every request needs a hub token anyway).
        ip=os.environ.get(BIND_IP_ENV) or address.hostname or "127.0.0.1",
        port=address.port or 80,
        port_retries=0,
        base_url=prefix,
        root_dir=str(root),
        open_browser=False,
        # Every request carries a hub token; the Host check is for token-less servers.
        allow_remote_access=True,
        allow_unauthenticated_access=False,
        # No kernels, terminals or files here: running as root (a local hub started by
        # root) gives users nothing to run code with. The team stack's container runs
        # it as an account of its own.
        allow_root=True,
        jpserver_extensions={"workbench_server": True},
        identity_provider_class=HubTokenIdentityProvider,
        authorizer_class=WorkbenchRoutesAuthorizer,
    )
    c.WorkbenchApp.update(
        principal_provider_class=HubPrincipalProvider,
        kernels_via_hub=True,
        service_url="",  # this is the service: never forward
    )
    return c


def main(argv: list[str] | None = None) -> None:
    url, prefix = (
        os.environ.get("JUPYTERHUB_SERVICE_URL"),
        os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/"),
    )
    if not url:
        sys.exit(
            "workbench service: JUPYTERHUB_SERVICE_URL is not set; JupyterHub starts it, "
            "or its container's environment gives it (docker-compose.yml)"
        )
    app = WorkbenchService.instance(config=service_config(url, prefix))
    app.initialize(argv or [], find_extensions=False)
    app.start()


if __name__ == "__main__":
    main(sys.argv[1:])
