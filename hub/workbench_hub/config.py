"""``configure(c)``: the whole hub configuration behind a thin ``jupyterhub_config.py``.

One setting picks the shape, ``WORKBENCH_MODE``:

- ``local`` (default): one machine, no Docker. Users sign in with JupyterHub's
  ``SharedPasswordAuthenticator`` (one password for users, a longer one for admins) and
  their servers are local processes. A hub run as root starts each as the user's own OS
  account (:class:`workbench_hub.spawner.UserAccountSpawner`); any other hub can only
  start them as its own account, where every user can read every other user's files and
  the workbench's secrets. The hub listens on loopback only: this mode is for one
  machine, demos and tests, never for a network.
- ``team``: OIDC login through the company's provider (``GenericOAuthenticator``, hub
  groups and admins from the token's claims) and a container per user
  (``DockerSpawner``), behind the TLS proxy of ``docker-compose.yml``. On a host without
  Docker, and in tests, ``WORKBENCH_SPAWNER=local`` keeps all of that but starts user
  servers as local processes, as in local mode.

Hub user names are restricted (:mod:`workbench_hub.names`) in both modes: a name becomes
a folder, an OS account and an S3 prefix.

In both, the workbench core runs once as the hub service ``workbench``
(:mod:`workbench_hub.service`; started by the hub, or with DockerSpawner in a container
of its own, see :func:`workbench_service`) and every user server forwards
``/workbench/api`` to it with its user's hub token; user servers get neither the
metadata DB URL nor the key.

Every setting comes from a ``WORKBENCH_*`` variable (listed in ``docs/deploy.md``);
secrets also from ``<NAME>_FILE`` or a docker secret in ``/run/secrets``.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import secrets
import sys
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from workbench_server.accounts import DEFAULT_PREFIX, PREFIX_ENV, account_map_from_env
from workbench_server.errors import ConfigurationError, InvalidInputError
from workbench_server.home import KEY_FILE_ENV, WorkbenchHome
from workbench_server.settings import DB_URL_ENV, SERVICE_URL_ENV, WorkbenchSettings

from .names import USER_NAME_PATTERN, check_user_name
from .s3 import (
    LAKE_URI_ENV,
    NOTEBOOKS_BUCKET_ENV,
    LakeScope,
    ScopedS3Credentials,
    notebook_policy,
)
from .service import IDENTITY_CACHE_ENV

__all__ = ["ScopedS3Credentials", "configure", "notebook_policy"]

MODES = ("local", "team")
SPAWNERS = ("docker", "local")
SERVICE = "workbench"
# The workbench service's API token at the hub, when the service runs on its own.
SERVICE_TOKEN_ENV = "WORKBENCH_SERVICE_API_TOKEN"  # noqa: S105 - a variable name
LOOPBACK = ("127.0.0.1", "localhost", "::1")
# Where a docker secret holding the workbench's Fernet key is mounted by default.
KEY_SECRET = Path("/run/secrets/workbench_secrets_key")
# Users' homes when the hub runs as root (each user's own account); outside every
# workbench home, which stays private to root.
USERS_DIR_ENV = "WORKBENCH_HUB_USERS_DIR"
ROOT_USERS_DIR = Path("/home/workbench-users")
SHARED_ACCOUNT_WARNING = (
    "user servers run as this hub's own OS account {account!r} (it is not root): every "
    "user can read every other user's files and data and the workbench's secrets (key, "
    "database); run the hub as root to give each user an OS account of their own"
)
log = logging.getLogger("JupyterHub")

# The user server's own hub token (JUPYTERHUB_API_TOKEN) is the user's identity at the
# workbench service: it may reach the service and show the hub who and in which groups.
SERVER_TOKEN_SCOPES = [
    "users:activity!user",
    "access:servers!server",
    f"access:services!service={SERVICE}",
    "read:users:name!user",
    "read:users:groups!user",
]


def configure(c: Any, mode: str | None = None) -> None:
    """Apply the workbench hub settings for ``mode`` (default ``$WORKBENCH_MODE`` or local)."""
    mode = mode or os.environ.get("WORKBENCH_MODE", "local")
    if mode not in MODES:
        raise ConfigurationError(f"WORKBENCH_MODE={mode!r} is not supported; use one of {MODES}")
    spawner = spawner_kind(mode)
    default_host = "workbench-service" if spawner == "docker" else "127.0.0.1"
    service_url = os.environ.get(SERVICE_URL_ENV) or f"http://{default_host}:8181"
    _common(c, mode, service_url)
    _user_names(c)
    if mode == "local":
        _local(c, service_url)
    else:
        _team(c, spawner)


def spawner_kind(mode: str) -> str:
    """``$WORKBENCH_SPAWNER``: ``docker`` (team default) or ``local`` (local processes).

    Local mode always runs local processes. In team mode ``local`` keeps the provider
    login, the groups, the workbench service and its PostgreSQL, and only swaps the
    container per user for a process per user: for hosts without Docker, and for tests.
    """
    kind = os.environ.get("WORKBENCH_SPAWNER") or ("docker" if mode == "team" else "local")
    if kind not in SPAWNERS:
        raise ConfigurationError(
            f"WORKBENCH_SPAWNER={kind!r} is not supported; use one of {SPAWNERS}"
        )
    if mode == "local" and kind != "local":
        raise ConfigurationError(
            "WORKBENCH_SPAWNER=docker needs WORKBENCH_MODE=team (local mode runs processes)"
        )
    return kind


def _common(c: Any, mode: str, service_url: str) -> None:
    c.JupyterHub.port = int(os.environ.get("WORKBENCH_HUB_PORT") or 8000)
    c.JupyterHub.services = [workbench_service(mode, service_url)]
    c.JupyterHub.load_roles = [
        # Every user may reach the workbench service (it decides what they see).
        {"name": "user", "scopes": ["self", f"access:services!service={SERVICE}"]},
    ]
    c.Spawner.server_token_scopes = SERVER_TOKEN_SCOPES
    c.Spawner.default_url = "/lab"
    c.Spawner.cmd = ["jupyterhub-singleuser"]
    c.Spawner.environment = {
        "WORKBENCH_MODE": mode,
        SERVICE_URL_ENV: f"{service_url.rstrip('/')}/services/{SERVICE}/",
    }
    c.Spawner.args = ["--MappingKernelManager.default_kernel_name=workbench"]


def workbench_service(mode: str, service_url: str) -> dict[str, Any]:
    """The hub's entry for the workbench service, external or started by the hub.

    In team mode with an API token for the service (``$WORKBENCH_SERVICE_API_TOKEN``, the
    file named by ``$WORKBENCH_SERVICE_API_TOKEN_FILE`` or the docker secret
    ``workbench_service_api_token``) the service is external: it runs in a container of
    its own (``workbench-service`` in ``docker-compose.yml``), with its own environment,
    and the hub knows it by URL and token only. The hub then holds neither the metadata
    DB password nor the secrets key. Without a token (local mode, or team mode with
    ``WORKBENCH_SPAWNER=local``) the hub starts it as a process and hands it what the core
    needs (:func:`_service_env`).
    """
    entry: dict[str, Any] = {"name": SERVICE, "url": service_url, "display": False}
    token = _secret(SERVICE_TOKEN_ENV, "") if mode == "team" else ""
    if token:
        entry["api_token"] = token
    else:
        entry["command"] = [sys.executable, "-m", "workbench_hub.service"]
        entry["environment"] = _service_env(mode)
    return entry


def _service_env(mode: str) -> dict[str, str]:
    """What the core needs, and only that (not the hub's own secrets)."""
    env = WorkbenchSettings.from_env().child_env()
    for name in (KEY_FILE_ENV, IDENTITY_CACHE_ENV, "PYTHONPATH"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    if mode == "team" and KEY_FILE_ENV not in env and KEY_SECRET.is_file():
        env[KEY_FILE_ENV] = str(KEY_SECRET)
    return env


def _local(c: Any, service_url: str) -> None:
    ip = os.environ.get("WORKBENCH_HUB_IP", "127.0.0.1")
    for what, host in (("WORKBENCH_HUB_IP", ip), (SERVICE_URL_ENV, urlsplit(service_url).hostname)):
        if host not in LOOPBACK:
            raise ConfigurationError(
                f"{what}={host!r}: local mode listens on loopback only (its users sign in with "
                "one shared password); use WORKBENCH_MODE=team to serve a network"
            )
    home = WorkbenchHome.resolve()
    home.prepare()
    state = home.root / "hub"
    state.mkdir(mode=0o700, exist_ok=True)
    c.JupyterHub.ip = ip
    c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
    c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
    c.ConfigurableHTTPProxy.pid_file = str(state / "jupyterhub-proxy.pid")
    c.JupyterHub.authenticator_class = "shared-password"
    admin = (os.environ.get("WORKBENCH_HUB_ADMIN") or getpass.getuser()).lower()
    try:
        check_user_name(admin)
    except InvalidInputError as exc:
        raise ConfigurationError(f"{exc}; set WORKBENCH_HUB_ADMIN to such a name") from None
    c.SharedPasswordAuthenticator.admin_users = {admin}
    c.SharedPasswordAuthenticator.allow_all = True
    c.SharedPasswordAuthenticator.user_password = _password(
        "WORKBENCH_HUB_PASSWORD", state / "user-password", 16
    )
    c.SharedPasswordAuthenticator.admin_password = _password(
        "WORKBENCH_HUB_ADMIN_PASSWORD", state / "admin-password", 32
    )
    _local_processes(c, state / "users")


def _local_processes(c: Any, users: Path) -> None:
    """A ``jupyterhub-singleuser`` process per user: local mode, or team mode on a host
    without Docker.

    As root, each user runs as their own OS account with a private home in
    ``$WORKBENCH_HUB_USERS_DIR`` (default ``/home/workbench-users``), never as root.
    Otherwise every user runs as the hub's account in ``users/<name>``, and the hub log
    says at start what that lets users read.
    """
    # JupyterLab with its extensions can take longer than the default 30 s to answer on a
    # small, busy machine; a slow start is better than a failed one.
    c.Spawner.http_timeout = 90
    c.Spawner.start_timeout = 120
    if os.geteuid() == 0:
        c.JupyterHub.spawner_class = "workbench_hub.spawner.UserAccountSpawner"
        spawner = c.UserAccountSpawner
        spawner.users_dir = str(_users_folder())
        spawner.account_prefix = os.environ.get(PREFIX_ENV, DEFAULT_PREFIX)
        spawner.accounts = _account_map()
        return
    log.warning(SHARED_ACCOUNT_WARNING.format(account=getpass.getuser()))
    c.JupyterHub.spawner_class = "simple"
    # Each user's folder; the workbench home (key, DB) is not below it.
    c.SimpleLocalProcessSpawner.home_dir_template = str(users / "{username}")


def _users_folder() -> Path:
    """``$WORKBENCH_HUB_USERS_DIR``, made if missing: root's alone to write, and a path
    every user's account can traverse (0711) but not list."""
    users = Path(os.environ.get(USERS_DIR_ENV) or ROOT_USERS_DIR).absolute()
    home = WorkbenchHome.resolve().root
    if users == home or home in users.parents:
        raise ConfigurationError(
            f"{USERS_DIR_ENV}={users} is inside the workbench home {home}, which is private "
            "to root: choose a folder outside it"
        )
    if not users.exists():
        users.mkdir(parents=True)
        users.chmod(0o711)
    info = users.stat()
    if info.st_uid != 0 or info.st_mode & 0o022:
        raise ConfigurationError(
            f"{USERS_DIR_ENV}={users} must be owned and writable by root only "
            "(chown root and chmod 711 it), or users could swap each other's homes"
        )
    for folder in (users, *users.parents):
        if not folder.stat().st_mode & 0o001:
            raise ConfigurationError(
                f"{USERS_DIR_ENV}={users}: users' accounts cannot reach their homes because "
                f"{folder} is not traversable by others; chmod o+x {folder} or choose another "
                "folder"
            )
    return users


def _account_map() -> dict[str, str]:
    """``$WORKBENCH_HUB_SYSTEM_USERS``: ``alice=asmith,bob=bjones``, hub user to account
    (the same map the worker runs pipeline steps by), with hub names checked."""
    accounts = {}
    for hub_name, account in account_map_from_env().items():
        try:
            accounts[check_user_name(hub_name)] = account
        except InvalidInputError as exc:
            raise ConfigurationError(f"WORKBENCH_HUB_SYSTEM_USERS: {exc}") from None
    return accounts


def _user_names(c: Any) -> None:
    """Only names that are safe as a folder, an account and an S3 prefix may sign in
    (checked by JupyterHub after it lower-cases them), with any authenticator."""
    c.Authenticator.username_pattern = USER_NAME_PATTERN


def _password(env: str, file: Path, length: int) -> str:
    """``$env``, else the password kept in ``file`` (made on first start, mode 0600)."""
    if os.environ.get(env):
        return os.environ[env]
    if not file.exists():
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(length))
    return file.read_text().strip()


def _team(c: Any, spawner: str) -> None:
    state = Path(os.environ.get("WORKBENCH_HUB_STATE_DIR") or "/srv/jupyterhub")
    c.JupyterHub.ip = os.environ.get("WORKBENCH_HUB_IP", "0.0.0.0")  # noqa: S104 - behind nginx
    c.JupyterHub.db_url = _secret("WORKBENCH_HUB_DB_URL", f"sqlite:///{state / 'hub.sqlite'}")
    c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
    c.ConfigurableHTTPProxy.pid_file = str(state / "jupyterhub-proxy.pid")
    _oidc(c)
    service = c.JupyterHub.services[0]
    if "command" in service:
        # Started by the hub: the core's database (PostgreSQL; its password in the URL)
        # goes to the service's process only.
        # (As a file private to the hub's account, not in the service's environment.)
        environment = service["environment"]
        environment.pop(DB_URL_ENV, None)
        environment.update(WorkbenchSettings.from_env(db_url=_secret(DB_URL_ENV)).db_url_env())
    if spawner == "docker":
        if "command" in service:
            raise ConfigurationError(
                "team mode with DockerSpawner runs the workbench service in its own "
                "container: give the hub the service's API token (the docker secret "
                f"workbench_service_api_token, {SERVICE_TOKEN_ENV} or "
                f"{SERVICE_TOKEN_ENV}_FILE) and the service the same token"
            )
        # The hub API, for user containers and the workbench service.
        c.JupyterHub.hub_ip = "0.0.0.0"  # noqa: S104 - on the compose networks only
        c.JupyterHub.hub_connect_ip = os.environ.get("WORKBENCH_HUB_HOST", "hub")
        _docker(c)
    else:
        c.JupyterHub.hub_ip = "127.0.0.1"  # user servers are processes on this host
        _local_processes(c, state / "users")
    lifetime = _scoped_s3(c)
    _idle_culler(c, max_age=lifetime)


def _oidc(c: Any) -> None:
    issuer = os.environ.get("WORKBENCH_OIDC_ISSUER", "").rstrip("/")
    public_url = os.environ.get("WORKBENCH_PUBLIC_URL", "").rstrip("/")
    if not issuer or not public_url:
        raise ConfigurationError(
            "team mode needs WORKBENCH_OIDC_ISSUER (the provider's issuer URL) and "
            "WORKBENCH_PUBLIC_URL (https://your-host, where users open the workbench)"
        )
    provider = discover(issuer)
    groups_claim = os.environ.get("WORKBENCH_OIDC_GROUPS_CLAIM", "groups")
    c.JupyterHub.authenticator_class = "generic-oauth"
    oauth = c.GenericOAuthenticator
    oauth.login_service = os.environ.get("WORKBENCH_OIDC_NAME", "company login")
    oauth.client_id = _secret("WORKBENCH_OIDC_CLIENT_ID")
    oauth.client_secret = _secret("WORKBENCH_OIDC_CLIENT_SECRET")
    oauth.oauth_callback_url = f"{public_url}/hub/oauth_callback"
    oauth.authorize_url = provider["authorization_endpoint"]
    oauth.token_url = provider["token_endpoint"]
    oauth.userdata_url = provider["userinfo_endpoint"]
    oauth.scope = os.environ.get("WORKBENCH_OIDC_SCOPES", "openid profile email groups").split()
    oauth.username_claim = os.environ.get("WORKBENCH_OIDC_USERNAME_CLAIM", "preferred_username")
    # Hub groups (and so workbench permissions) follow the provider's groups at each login.
    oauth.manage_groups = True
    oauth.auth_state_groups_key = f"oauth_user.{groups_claim}"
    oauth.admin_groups = _names("WORKBENCH_OIDC_ADMIN_GROUPS", "workbench-admins")
    oauth.allowed_groups = _names("WORKBENCH_OIDC_ALLOWED_GROUPS", "workbench-users")


def discover(issuer: str, timeout: float = 10.0) -> dict[str, Any]:
    """The provider's OpenID configuration (``/.well-known/openid-configuration``)."""
    url = f"{issuer}/.well-known/openid-configuration"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - https
            document = json.load(response)
    except (OSError, ValueError) as exc:
        raise ConfigurationError(
            f"OIDC discovery at {url} failed ({exc}); check WORKBENCH_OIDC_ISSUER"
        ) from None
    missing = {"authorization_endpoint", "token_endpoint", "userinfo_endpoint"} - set(document)
    if missing:
        raise ConfigurationError(f"OIDC discovery at {url} lacks {', '.join(sorted(missing))}")
    return document


def _docker(c: Any) -> None:
    image = os.environ.get("WORKBENCH_SINGLEUSER_IMAGE", "workbench-singleuser:latest")
    c.JupyterHub.spawner_class = "docker"
    docker = c.DockerSpawner
    docker.image = image
    docker.allowed_images = sorted(_names("WORKBENCH_ALLOWED_IMAGES", image) | {image})
    docker.network_name = os.environ.get("WORKBENCH_DOCKER_NETWORK", "workbench_internal")
    docker.use_internal_ip = True
    docker.remove = True
    docker.notebook_dir = "/home/jovyan/work"
    # One named volume per user keeps their notebooks across container restarts.
    docker.volumes = {"workbench-user-{username}": "/home/jovyan/work"}
    docker.mem_limit = os.environ.get("WORKBENCH_USER_MEM_LIMIT", "4G")
    docker.cpu_limit = float(os.environ.get("WORKBENCH_USER_CPU_LIMIT") or 2)


def _scoped_s3(c: Any) -> int | None:
    """Users' notebooks and their part of the team lake in S3 (MinIO), each user reaching
    only their own prefixes (:mod:`workbench_hub.s3`).

    With ``WORKBENCH_NOTEBOOKS_BUCKET`` set, or ``WORKBENCH_LAKE_URI`` an ``s3://`` URI,
    the hub asks the S3 endpoint's STS for temporary credentials at every spawn
    (AssumeRole with a session policy: ``<bucket>/<user>/`` for notebooks; the lake's
    layers to read and ``sandbox/<user>/`` to write), signed with the MinIO user the hub
    alone holds the password of, and gives them to the user's server (s3contents, in the
    singleuser image, and its kernels). No user server holds a credential that reaches
    another user's notebooks or sandbox, or writes the shared layers. Returns the
    credentials' lifetime in seconds: servers are restarted before it ends.
    """
    bucket = os.environ.get(NOTEBOOKS_BUCKET_ENV) or None
    lake_uri = os.environ.get(LAKE_URI_ENV) or ""
    lake = LakeScope.parse(lake_uri) if lake_uri.startswith("s3://") else None
    if bucket is None and lake is None:
        return None
    hours = int(os.environ.get("WORKBENCH_S3_CREDENTIALS_HOURS") or 24 * 7)
    c.Spawner.pre_spawn_hook = ScopedS3Credentials(
        bucket=bucket,
        endpoint=os.environ.get("WORKBENCH_S3_ENDPOINT") or "http://minio:9000",
        access_key=os.environ.get("WORKBENCH_S3_ACCESS_KEY") or "workbench",
        secret_key=_secret("WORKBENCH_S3_SECRET_KEY"),
        seconds=hours * 3600,
        lake=lake,
    )
    return hours * 3600


def _idle_culler(c: Any, max_age: int | None = None) -> None:
    timeout = int(os.environ.get("WORKBENCH_IDLE_TIMEOUT") or 3600)
    command = [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={timeout}"]
    if max_age:  # restart servers (even busy ones) before their credentials run out
        command.append(f"--max-age={max(max_age - 3600, 3600)}")
    c.JupyterHub.services.append({"name": "idle-culler", "command": command})
    c.JupyterHub.load_roles.append(
        {
            "name": "idle-culler",
            "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
            "services": ["idle-culler"],
        }
    )


def _names(env: str, default: str) -> set[str]:
    return {name.strip() for name in os.environ.get(env, default).split(",") if name.strip()}


def _secret(name: str, default: str | None = None) -> str:
    """``$NAME``, else the file named by ``$NAME_FILE``, else the docker secret ``name``."""
    if os.environ.get(name):
        return os.environ[name]
    file = Path(os.environ.get(f"{name}_FILE") or f"/run/secrets/{name.lower()}")
    if file.is_file():
        return file.read_text().strip()
    if default is not None:
        return default
    raise ConfigurationError(
        f"{name} is not set: set it, point {name}_FILE at a file holding it, "
        f"or give the hub the docker secret {name.lower()}"
    )
