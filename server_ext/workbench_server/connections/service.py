"""Create, read, update, delete and resolve connections, with permissions and secrets.

Every method acts for one :class:`Principal`. A connection the principal may not use is
reported as not found, so names of private connections do not leak.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..db.models import Connection
from ..errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from ..principal import Principal
from ..secrets import MASK
from .kinds import KIND_ADAPTER, KINDS, NAME_HELP, NAME_PATTERN, KindConfig, KindSettings

if TYPE_CHECKING:
    from ..core import Workbench


# Names that are the workbench's own, never a user's connection: ``lake`` is the
# default lake (``%sql lake``, the catalog's built-in source, lineage's ``lake:``
# datasets); a connection of that name would take its place in a kernel.
RESERVED_NAMES = {"lake": "the workbench's default lake (%sql lake)"}
MAX_DESCRIPTION = 5000
MAX_GROUPS = 200
GroupName = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class ConnectionCreate(BaseModel):
    """Body of a create request (bounded: a description is a paragraph, groups a list)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=NAME_PATTERN, description=NAME_HELP)
    description: str = Field("", max_length=MAX_DESCRIPTION)
    shared_groups: list[GroupName] = Field(default_factory=list, max_length=MAX_GROUPS)
    settings: KindSettings


class ConnectionUpdate(BaseModel):
    """Body of an update: omitted fields keep their value; so do secrets sent as ***set***.

    A secret set to ``null`` is removed.
    """

    model_config = ConfigDict(extra="forbid")
    description: str | None = Field(None, max_length=MAX_DESCRIPTION)
    shared_groups: list[GroupName] | None = Field(None, max_length=MAX_GROUPS)
    settings: dict[str, Any] | None = Field(None, max_length=50)


class ConnectionOut(BaseModel):
    """A connection as users see it: secrets appear only as ``***set***``."""

    name: str
    kind: str
    description: str
    owner: str
    shared_groups: list[str]
    builtin: bool
    settings: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    may_change: bool = False  # the caller may edit, share or remove it


def usable_by(principal: Principal, row: Connection) -> bool:
    """Whether ``principal`` may use (see, query, scan) connection ``row``: its owner,
    members of a group it is shared with, admins; built-in ones (the demo) everyone."""
    return row.builtin or principal.may_use(row.owner, row.shared_groups or [])


class ConnectionService:
    """Connections as one principal may see and change them."""

    def __init__(self, workbench: Workbench, principal: Principal) -> None:
        self.workbench = workbench
        self.principal = principal

    # -- reading -------------------------------------------------------------------
    def list(self) -> list[ConnectionOut]:
        with self.workbench.sessions() as session:
            rows = session.scalars(select(Connection).order_by(Connection.name))
            return [self._out(row) for row in rows if self._visible(row)]

    def get(self, name: str) -> ConnectionOut:
        with self.workbench.sessions() as session:
            return self._out(self._row(session, name))

    def resolve(self, name: str) -> KindConfig:
        """The full settings, secrets included, for code that connects on the user's behalf."""
        with self.workbench.sessions() as session:
            row = self._row(session, name)
            return self._settings(row)

    def resolve_for_test(self, name: str) -> KindConfig:
        """What a connection test connects with: the built-in default lake as the
        installation opens it (``$WORKBENCH_LAKE_URI`` with its own keys, which never
        leave this process), any other connection as :meth:`resolve` gives it."""
        with self.workbench.sessions() as session:
            row = self._row(session, name)
            lake = self.workbench.settings.lake
            if row.builtin and row.kind == "lake" and name in RESERVED_NAMES and lake:
                return lake
            return self._settings(row)

    def resolve_all(self) -> dict[str, KindConfig]:
        with self.workbench.sessions() as session:
            rows = session.scalars(select(Connection).order_by(Connection.name))
            return {row.name: self._settings(row) for row in rows if self._visible(row)}

    # -- changing ------------------------------------------------------------------
    def create(self, spec: ConnectionCreate) -> ConnectionOut:
        if spec.name in RESERVED_NAMES:
            raise ConflictError(
                f"the name {spec.name!r} is {RESERVED_NAMES[spec.name]}; choose another"
            )
        settings = spec.settings
        _refuse_url_passwords(settings)
        self._check_files(spec.name, settings, self.principal.name)
        row = Connection(
            name=spec.name,
            kind=settings.kind,
            description=spec.description,
            owner=self.principal.name,
            shared_groups=sorted(set(spec.shared_groups)),
            config=settings.public(),
            secret=self.workbench.secret_box.seal(settings.secrets()),
            secret_names=sorted(settings.secrets()),
            builtin=False,
        )
        try:
            with self.workbench.sessions.begin() as session:
                session.add(row)
        except IntegrityError:
            raise self._taken(spec.name) from None
        return self._out(row)

    def _taken(self, name: str) -> ConflictError:
        """Why ``name`` cannot be had. Names are one namespace (kernels, lineage and the
        catalog know connections by them): a name held by a connection the principal may
        not see is refused without saying whose, or that it is a connection at all."""
        with self.workbench.sessions() as session:
            row = session.scalar(select(Connection).where(Connection.name == name))
            if row is not None and self._visible(row):
                whose = "yours" if row.owner == self.principal.name else f"{row.owner}'s"
                return ConflictError(f"a connection named {name!r} already exists ({whose})")
        return ConflictError(f"the name {name!r} is not available; choose another")

    def update(self, name: str, patch: ConnectionUpdate) -> ConnectionOut:
        with self.workbench.sessions.begin() as session:
            row = self._row(session, name)
            self._require_change(row)
            if patch.description is not None:
                row.description = patch.description
            if patch.shared_groups is not None:
                row.shared_groups = sorted(set(patch.shared_groups))
            if patch.settings is not None:
                settings = self._merged(row, patch.settings)
                self._check_files(row.name, settings, row.owner)
                row.config = settings.public()
                row.secret = self.workbench.secret_box.seal(settings.secrets())
                row.secret_names = sorted(settings.secrets())
            session.flush()
            return self._out(row)

    def delete(self, name: str) -> None:
        with self.workbench.sessions.begin() as session:
            row = self._row(session, name)
            self._require_change(row)
            self._refuse_while_replicated(session, row)
            session.delete(row)

    def _refuse_while_replicated(self, session: Session, row: Connection) -> None:
        """A postgres connection that change data capture read keeps its slots on the
        database until they are dropped, and each keeps every WAL segment written since
        (the source's disk fills): refuse to remove it while one is there, since the
        slot metrics and ``workbench cdc drop`` reach it through this connection. Only
        connections a cdc step used are asked (a source that cannot be reached has
        nothing to check)."""
        import re

        from ..db.models import IngestWatermark
        from .replication import SLOT_PREFIX, slots

        if row.kind != "postgres" or not session.scalar(
            select(IngestWatermark.id)
            .where(IngestWatermark.kind == "cdc", IngestWatermark.source == row.name)
            .limit(1)
        ):
            return
        prefix = re.sub(r"[^a-z0-9_]", "_", f"{SLOT_PREFIX}{row.name}_".lower())
        try:
            from .egress import EgressPolicy, pin

            policy = EgressPolicy.from_settings(self.workbench.settings)
            cfg = pin(row.name, self._settings(row), policy)
            found = [s.name for s in slots(cfg.psycopg_kwargs("workbench-cdc", 5))]
        except Exception:  # unreachable or no longer allowed: nothing to ask
            return
        held = [n for n in found if n.startswith(prefix)]
        if held:
            raise ConflictError(
                f"connection {row.name!r} still has replication slot(s) {', '.join(held)} on "
                "its database, which keep every WAL segment written since until dropped; "
                "drop them first: " + "; ".join(f"workbench cdc drop {row.name} {n}" for n in held)
            )

    # -- helpers -------------------------------------------------------------------
    def _visible(self, row: Connection) -> bool:
        return usable_by(self.principal, row)

    def _row(self, session: Session, name: str) -> Connection:
        row = session.scalar(select(Connection).where(Connection.name == name))
        if row is None or not self._visible(row):
            raise NotFoundError(f"no connection named {name!r}")
        return row

    def _check_files(self, name: str, settings: KindConfig, owner: str) -> None:
        """A file or folder the connection names must be below a data root (checked
        again at every open: see :mod:`.data_roots`)."""
        from .data_roots import DataRoots, OutsideDataRootsError

        try:
            DataRoots.from_settings(self.workbench.settings).confine(name, settings, owner=owner)
        except OutsideDataRootsError as exc:
            raise InvalidInputError(str(exc)) from None

    def _require_change(self, row: Connection) -> None:
        if not self.principal.may_change(row.owner):
            raise PermissionDeniedError(
                f"connection {row.name!r} belongs to {row.owner}; "
                "only they or an admin may change it"
            )

    def _settings(self, row: Connection) -> KindConfig:
        secrets = self.workbench.secret_box.open(row.secret, what=f"connection {row.name!r}")
        return KIND_ADAPTER.validate_python({**row.config, **secrets, "kind": row.kind})

    def _merged(self, row: Connection, changes: dict[str, Any]) -> KindConfig:
        if changes.get("kind", row.kind) != row.kind:
            raise InvalidInputError(
                f"connection {row.name!r} is of kind {row.kind}; create a new one to change kind"
            )
        current = self._settings(row)
        values = current.model_dump(by_alias=True)
        for field in current.secret_fields:
            secret = values.get(field)
            values[field] = secret.get_secret_value() if secret is not None else None
        for key, value in changes.items():
            if key in current.secret_fields and value == MASK:
                continue  # the masked value came back unchanged: keep the stored secret
            values[key] = value
        try:
            settings = KINDS[row.kind].model_validate(values)
        except ValidationError as exc:
            raise exc from None
        _refuse_url_passwords(settings)
        return settings

    def _out(self, row: Connection) -> ConnectionOut:
        fields = KINDS[row.kind].model_fields
        # By the API's names (rows stored before they were kept that way: `schema_`).
        settings = {
            (fields[key].alias or key) if key in fields else key: value
            for key, value in row.config.items()
        }
        for key in config_url_passwords(settings):
            # Stored before passwords were kept out of URLs, by a kind with nowhere to
            # move it (doctor names it): shown masked, never in clear.
            settings[key] = masked_url(settings[key])
        secret_names = KINDS[row.kind].secret_fields
        for field in secret_names:
            settings[field] = MASK if field in row.secret_names else None
        return ConnectionOut(
            name=row.name,
            kind=row.kind,
            description=row.description,
            owner=row.owner,
            shared_groups=list(row.shared_groups),
            builtin=row.builtin,
            settings=settings,
            created_at=row.created_at,
            updated_at=row.updated_at,
            may_change=self.principal.may_change(row.owner),
        )


def _refuse_url_passwords(settings: KindConfig) -> None:
    for field in settings.url_passwords():
        raise InvalidInputError(
            f"{field}: no password in the URL (it would be shown to everyone who may use "
            "the connection); give the service's key in its own field"
        )


def config_url_passwords(config: dict[str, Any]) -> list[str]:
    """The keys of a stored ``config`` whose URL holds a password in clear (``user:pw@``
    or ``?password=``): rows saved before passwords were kept out of URLs."""
    found = []
    for key, value in config.items():
        if not isinstance(value, str) or "://" not in value:
            continue
        try:
            parts = urlsplit(value)
            password = parts.password
        except ValueError:
            continue
        if password is not None or "password" in parse_qs(parts.query):
            found.append(key)
    return found


def masked_url(url: str) -> str:
    """``url`` with its password (user info's or ``?password=``) replaced by ***set***."""
    parts = urlsplit(url)
    if parts.password is not None:
        user, _, host = parts.netloc.rpartition("@")
        parts = parts._replace(netloc=f"{user.partition(':')[0]}:{MASK}@{host}")
    query = [(k, MASK if k == "password" else v) for k, v in parse_qsl(parts.query, True)]
    return parts._replace(query=urlencode(query, safe="*")).geturl()


def rotate_secrets(workbench: Workbench) -> int:
    """Re-encrypt every stored secret under a new key; returns how many were re-encrypted.

    See :mod:`workbench_server.secrets` for why this order loses nothing if interrupted.
    """
    from ..db.models import AgentHook, TriggerCredential, WebhookTarget
    from ..secrets import begin_rotation, finish_rotation

    key_path = workbench.secret_box.key_path
    _, rotator = begin_rotation(key_path)
    count = 0
    with workbench.sessions.begin() as session:
        # Connections, pipelines' trigger secrets, webhook targets' and agents' signing
        # secrets.
        for model in (Connection, TriggerCredential, WebhookTarget, AgentHook):
            rows = session.scalars(select(model).where(model.secret.is_not(None))).all()
            for row in rows:
                row.secret = rotator.rotate(row.secret)
            count += len(rows)
    finish_rotation(key_path)
    workbench.__dict__.pop("secret_box", None)  # drop the cached box holding the old key
    return count
