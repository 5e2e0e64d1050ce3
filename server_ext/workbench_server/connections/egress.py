"""Which hosts the workbench may reach on a user's behalf, checked before every connect.

Connection tests, catalog scans and previews, and the worker's webhooks open network
connections to hosts that users name. Without a policy a user could map the service's
network (open, closed, HTTP status) and reach what sits beside it (the metadata
PostgreSQL, Temporal, the hub, cloud metadata endpoints). :class:`EgressPolicy` decides,
from the admin's deny and allow lists, whether a host may be reached:

- link-local and cloud metadata addresses are always denied, and so are the
  "unspecified" addresses (``0.0.0.0``, ``::``) that reach the machine itself;
- the deny list (host names, addresses, CIDRs) adds to that; a name on it is denied as
  written and so are the addresses it resolves to;
- a non-empty allow list is then the only thing allowed (deny still wins);
- a host name is resolved and *every* address it resolves to must pass, so a name that
  points at a denied address is denied.

A denial is one answer, :class:`~workbench_server.errors.NetworkPolicyError`, raised
before anything is sent: it reads the same whether anything listens there or not.

To leave no time for a name to resolve differently between the check and the connect
(DNS rebinding), :func:`pin` returns the connection's settings carrying the checked
address, and the drivers connect to that address (libpq's ``hostaddr``, an HTTP
connection opened to the address while TLS and ``Host`` keep the name). Where a driver
resolves names itself and takes no address (pyarrow's S3 client, non-PostgreSQL
SQLAlchemy dialects), the check runs right before the connect; that is said where it
happens.

Every server-side connect on a user's behalf goes through :func:`pin` (connection
tests, scans, previews) or :meth:`EgressPolicy.check_url` (webhooks). The kernel's
connections are the user's own code and are not checked here. Files and folders
(DuckDB, a local lake, SQLite URLs) are checked in :func:`pin` too, against the
policy's :class:`~workbench_server.connections.data_roots.DataRoots`.
"""

from __future__ import annotations

import http.client
import ipaddress
import re
import socket
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..errors import NetworkPolicyError, SourceUnavailableError
from .data_roots import DataRoots, data_roots_from_env

if TYPE_CHECKING:
    from ..settings import WorkbenchSettings
    from .kinds import KindConfig

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Link-local (where clouds put their instance metadata: AWS, GCP, Azure at
# 169.254.169.254, AWS's IPv6 one, Alibaba's) — denied whatever the lists say.
ALWAYS_DENIED = (
    "169.254.0.0/16",
    "fe80::/10",
    "fd00:ec2::254/128",
    "100.100.100.200/32",
    # "This host": connecting to 0.0.0.0 or :: reaches the machine's own services.
    "0.0.0.0/8",
    "::/128",
)
# IPv6 forms that carry an IPv4 address a router or the kernel may deliver to.
NAT64 = ipaddress.ip_network("64:ff9b::/96")
NAME_RESOLUTION_TTL_S = 30.0
_NAME = re.compile(r"^(\*\.)?[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*$")


class UnknownHostError(SourceUnavailableError):
    """The host name resolves to no address; ``str()`` is "host not found: <host>"."""

    def __init__(self, host: str) -> None:
        super().__init__(f"host not found: {host}")
        self.host = host


class KeylessS3Error(NetworkPolicyError):
    """An S3 lake connection without keys: opened by the workbench, it would reach the
    bucket with the workbench's own credentials (its environment, instance role or
    ``~/.aws``) on the user's behalf. Refused like a denied host: 403 to callers, a
    failed scan in the catalog, ``denied`` for a connection test."""


def denied_message(what: str, host: str) -> str:
    """The one answer for every denied host: it names the host and nothing about it."""
    return f"{what}: host {host} is not allowed by this workbench's network policy (ask an admin)"


def parse_rules(entries: Iterable[str]) -> tuple[tuple[Network, ...], tuple[str, ...]]:
    """Split entries into networks (addresses, CIDRs) and host names (``*.`` wildcards).

    Raises ``ValueError`` naming the first entry that is neither.
    """
    networks: list[Network] = []
    names: list[str] = []
    for raw in entries:
        entry = raw.strip().lower().rstrip(".")
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            continue
        except ValueError:
            pass
        if not _NAME.fullmatch(entry):
            raise ValueError(
                f"{raw!r} is neither a host name, an IP address nor a CIDR such as 10.0.0.0/8"
            )
        names.append(entry)
    return tuple(networks), tuple(names)


def _normal_host(host: str) -> str:
    return host.strip().strip("[]").lower().rstrip(".")


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _embedded(address: Address) -> list[Address]:
    """The address and any IPv4 address it carries (mapped, 6to4, NAT64)."""
    out: list[Address] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        for inner in (address.ipv4_mapped, address.sixtofour):
            if inner is not None:
                out.append(inner)
        if address in NAT64:
            out.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return out


def resolve(host: str, port: int | None = None) -> list[Address]:
    """Every address ``host`` resolves to, in the resolver's order; [] if none."""
    literal = _literal(host)
    if literal is not None:
        return [literal]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    out: list[Address] = []
    for family, *_, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            address = ipaddress.ip_address(sockaddr[0])
            if address not in out:
                out.append(address)
    return out


@dataclass
class _NameCache:
    """Addresses of the names on the lists, resolved at most every few seconds."""

    ttl: float = NAME_RESOLUTION_TTL_S
    _seen: dict[str, tuple[float, tuple[Address, ...]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def addresses(self, names: Iterable[str]) -> set[Address]:
        out: set[Address] = set()
        now = time.monotonic()
        for name in names:
            if name.startswith("*."):
                continue  # a wildcard matches names, not addresses
            with self._lock:
                hit = self._seen.get(name)
            if hit is None or now - hit[0] > self.ttl:
                hit = (now, tuple(resolve(name)))
                with self._lock:
                    self._seen[name] = hit
            out.update(hit[1])
        return out


def _name_matches(host: str, names: Sequence[str]) -> bool:
    return any(
        host == name or (name.startswith("*.") and host.endswith(name[1:])) for name in names
    )


@dataclass(frozen=True)
class Checked:
    """A host that passed the policy, with the address to connect to."""

    host: str
    port: int | None
    address: str


class EgressPolicy:
    """Where the workbench may connect on a user's behalf (see the module's docstring)."""

    def __init__(
        self,
        deny: Iterable[str] = (),
        allow: Iterable[str] = (),
        data_roots: DataRoots | None = None,
    ) -> None:
        self.deny_networks, self.deny_names = parse_rules([*ALWAYS_DENIED, *deny])
        self.allow_networks, self.allow_names = parse_rules(allow)
        self._names = _NameCache()
        # Where connections' files and folders may be (None: not checked, in tests).
        self.data_roots = data_roots

    @property
    def restricted(self) -> bool:
        """True when an allow list makes everything else denied."""
        return bool(self.allow_networks or self.allow_names)

    @classmethod
    def from_settings(cls, settings: WorkbenchSettings) -> EgressPolicy:
        """The policy of these settings (one object per distinct pair of lists)."""
        return _policy(
            tuple(settings.egress_deny),
            tuple(settings.egress_allow),
            DataRoots.from_settings(settings),
        )

    @classmethod
    def from_env(cls) -> EgressPolicy:
        """The policy of ``WORKBENCH_EGRESS_DENY``/``_ALLOW`` and ``WORKBENCH_DATA_ROOTS``
        (processes without settings)."""
        from ..home import default_home
        from ..settings import egress_allow_from_env, egress_deny_from_env

        home = default_home()
        roots = DataRoots(tuple(data_roots_from_env(home)), home)
        return _policy(tuple(egress_deny_from_env()), tuple(egress_allow_from_env()), roots)

    # -- deciding --------------------------------------------------------------------
    def _denied(self, address: Address) -> bool:
        forms = _embedded(address)
        if any(form in net for form in forms for net in self.deny_networks):
            return True
        return bool(self.deny_names) and any(
            form in self._names.addresses(self.deny_names) for form in forms
        )

    def _allowed(self, address: Address) -> bool:
        if not self.restricted:
            return True
        forms = _embedded(address)
        if any(form in net for form in forms for net in self.allow_networks):
            return True
        return bool(self.allow_names) and any(
            form in self._names.addresses(self.allow_names) for form in forms
        )

    def addresses(self, host: str, port: int | None = None, *, what: str) -> list[str]:
        """The addresses ``host`` may be reached at, every one of them checked.

        Raises :class:`NetworkPolicyError` (``what`` names the connection or webhook) if
        the name or any address it resolves to is denied, or
        :class:`UnknownHostError` if it resolves to nothing.
        """
        name = _normal_host(host)
        if not name:
            raise UnknownHostError(host)
        if _name_matches(name, self.deny_names):
            raise NetworkPolicyError(denied_message(what, host))
        found = resolve(name, port)
        if not found:
            raise UnknownHostError(host)
        named_allowed = _name_matches(name, self.allow_names)
        for address in found:
            if self._denied(address) or not (named_allowed or self._allowed(address)):
                raise NetworkPolicyError(denied_message(what, host))
        return [str(address) for address in found]

    def check_socket(self, path: str, *, what: str) -> None:
        """A Unix socket reaches this machine as loopback does: allowed when 127.0.0.1 is."""
        loopback = ipaddress.ip_address("127.0.0.1")
        if self._denied(loopback) or not self._allowed(loopback):
            raise NetworkPolicyError(denied_message(what, path))

    def check(self, host: str, port: int | None = None, *, what: str) -> Checked:
        """``host`` checked, with the first of its addresses to connect to."""
        return Checked(host, port, self.addresses(host, port, what=what)[0])

    def check_url(self, url: str, *, what: str) -> Checked:
        """The host of an http(s) URL, checked (see :meth:`addresses`)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise NetworkPolicyError(f"{what}: {url!r} is not an http(s) URL")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return self.check(parts.hostname, port, what=what)


@lru_cache(maxsize=8)
def _policy(
    deny: tuple[str, ...], allow: tuple[str, ...], data_roots: DataRoots | None = None
) -> EgressPolicy:
    return EgressPolicy(deny, allow, data_roots)


# -- per kind: check the connection's hosts, hand the checked address to its driver --------
def _unix_socket(host: str) -> bool:
    return host.startswith(("/", "@"))


def _postgres_hostaddr(hosts: str, port: int | None, policy: EgressPolicy, what: str) -> str:
    """libpq's ``hostaddr`` for a (comma-separated) ``host``: one checked address each.

    A Unix socket reaches this machine as loopback does: it is allowed exactly when
    127.0.0.1 is, and its ``hostaddr`` entry stays empty (libpq then uses the socket).
    """
    out = []
    for host in hosts.split(","):
        if _unix_socket(host.strip()):
            policy.check_socket(host.strip(), what=what)
            out.append("")
        else:
            out.append(policy.check(host.strip(), port, what=what).address)
    return ",".join(out)


def _sqlalchemy_hosts(text: str) -> tuple[str, list[str], int | None]:
    """(backend, hosts, port) of a SQLAlchemy URL; hosts include ``?host=`` entries."""
    from sqlalchemy.engine import make_url

    url = make_url(text)
    hosts = [url.host] if url.host else []
    for key in ("host", "hostaddr", "server", "unix_socket"):
        value = url.query.get(key)
        for item in [value] if isinstance(value, str) else list(value or ()):
            hosts.extend(part for part in item.split(",") if part)
    return url.get_backend_name(), hosts, url.port


FILE_BACKENDS = ("sqlite", "duckdb")


def pin(name: str, cfg: KindConfig, policy: EgressPolicy) -> KindConfig:
    """``cfg`` checked against ``policy``, carrying the address its driver connects to.

    The one place per kind that decides what a server-side connect may reach. Raises
    :class:`NetworkPolicyError` (naming the connection) or :class:`UnknownHostError`.
    """
    from .kinds import (
        EmbeddingConfig,
        LakeConfig,
        OcrConfig,
        OdooConfig,
        PostgresConfig,
        SqlAlchemyConfig,
        SupersetConfig,
    )

    what = f"connection {name!r}"
    if policy.data_roots is not None:  # a file or folder: resolved, below a data root
        cfg = policy.data_roots.confine(name, cfg)
    pinned = cfg.model_copy()
    if isinstance(cfg, PostgresConfig):
        pinned._address = _postgres_hostaddr(cfg.host, cfg.port, policy, what)
    elif isinstance(cfg, OdooConfig | SupersetConfig | EmbeddingConfig):
        pinned._address = policy.check_url(str(cfg.url), what=what).address
    elif isinstance(cfg, OcrConfig) and cfg.url is not None:
        pinned._address = policy.check_url(str(cfg.url), what=what).address
    elif isinstance(cfg, LakeConfig) and cfg.is_s3:
        # pyarrow's S3 client (the AWS SDK) resolves the name itself and takes no address:
        # the check runs right before it connects; an https endpoint's certificate would
        # not match an address put in the URL instead.
        if cfg.endpoint_url is not None:
            policy.check_url(str(cfg.endpoint_url), what=what)
        else:
            policy.check(f"s3.{cfg.region or 'us-east-1'}.amazonaws.com", 443, what=what)
        if not cfg.access_key_id or cfg.secret_access_key is None:
            raise KeylessS3Error(
                f"{what}: an S3 lake needs its own access_key_id and secret_access_key; "
                "the workbench does not lend its own S3 credentials to a connection "
                "(add the keys to the connection)"
            )
    elif isinstance(cfg, SqlAlchemyConfig):
        backend, hosts, port = _sqlalchemy_hosts(cfg.url)
        if backend == "postgresql":
            # psycopg and psycopg2 pass ``hostaddr`` to libpq: they connect to what was
            # checked (the probe hands it over); other PostgreSQL drivers are checked only.
            pinned._address = _postgres_hostaddr(",".join(hosts) or "/", port, policy, what)
        elif backend not in FILE_BACKENDS:
            # Other drivers resolve names themselves and take no address: check only.
            for host in hosts or ["localhost"]:
                if _unix_socket(host):
                    policy.check_socket(host, what=what)
                else:
                    policy.check(host, port, what=what)
    return pinned


def http_connection(url: str, address: str | None, timeout: float) -> http.client.HTTPConnection:
    """An HTTP(S) connection for ``url`` that connects to ``address`` when given.

    The URL's host still names the server in ``Host``, in TLS's SNI and in the
    certificate check; only the TCP connect goes to the checked address. No proxy, no
    redirects: an answer is what that host said.
    """
    parts = urlsplit(url)
    secure = parts.scheme == "https"
    cls = http.client.HTTPSConnection if secure else http.client.HTTPConnection
    # The port always given: http.client would read "::1" as host ":" and port 1.
    conn = cls(parts.hostname or "", parts.port or (443 if secure else 80), timeout=timeout)
    if address:
        # http.client opens its socket through this attribute (HTTPS wraps it afterwards).
        def _connect(
            target: tuple[str, int], timeout: float | None = None, source: Any = None
        ) -> socket.socket:
            return socket.create_connection((address, target[1]), timeout, source)

        conn._create_connection = _connect  # type: ignore[attr-defined]
    return conn
