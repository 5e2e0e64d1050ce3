"""Agents' event hooks: a user registers an agent (a webhook endpoint of theirs) and it
hears the events of what that user may see, each with its data context.

An agent is owned by one user: a name, an http(s) URL (checked against the network
policy as webhook targets are), the events it wants, and a signing secret shown once
(``Workbench-Signature``, the scheme of every webhook here). Its events go through the
same outbox, Temporal delivery workflow, retries and attempt records as a pipeline's
webhook targets (:mod:`..webhooks`); only who hears what differs:

- run and step events (``run.*``, ``step.failed``): runs of pipelines the owner may see
  (owner, ``access.viewers``/``operators`` groups, admins);
- ``approval.requested``: gates the owner may decide (a named approver, a member of an
  approver group, an admin), with what is asked and where to decide;
- ``dataset.updated``: tables of lake connections the owner may use, with the table's
  catalog id, columns and types, version, rows and upstream lineage; the writing run is
  included only if the owner may see its pipeline.

Rights are the owner's as the workbench last saw them: the server records the owner's
groups and admin flag when the owner registers an agent and at each later call of the
owner to the agents' API (a worker has no identity provider to ask). A user who leaves a
group keeps hearing what it gave until they next use the API or an admin removes the
agent (docs/agents.md says so).
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import delete, select

from ..connections.service import usable_by
from ..db.models import (
    AgentHook,
    CatalogColumn,
    CatalogTable,
    Connection,
    LineageDataset,
    LineageEdge,
    Pipeline,
    PipelineVersion,
    Run,
    WebhookAttempt,
    WebhookDelivery,
)
from ..errors import InvalidInputError, NotFoundError
from ..principal import Principal
from ..webhooks import signing
from ..webhooks.payloads import (
    EVENTS,
    AttemptOut,
    DeliveryOut,
    check_url,
    known_events,
    queued_delivery,
    run_payload,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..core import Workbench

log = logging.getLogger(__name__)

MAX_AGENTS = 20  # per user
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
DEFAULT_EVENTS = ["dataset.updated", "run.succeeded", "run.failed", "approval.requested"]
RUN_EVENTS = {e for e in EVENTS if e.startswith(("run.", "step."))}


def _now() -> datetime:
    return datetime.now(UTC)


class AgentIn(BaseModel):
    """A registration: a name of the owner's choosing, where to POST, which events."""

    name: str = Field(min_length=1, max_length=100)
    url: str = Field(min_length=8, max_length=2000)
    events: list[str] = Field(
        default_factory=lambda: list(DEFAULT_EVENTS), min_length=1, max_length=10
    )

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not _NAME.fullmatch(name):
            raise ValueError("letters, digits, '_', '.', '-', starting with a letter or digit")
        return name

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError("an http:// or https:// URL")
        return url

    @field_validator("events")
    @classmethod
    def _known(cls, events: list[str]) -> list[str]:
        return known_events(events)


class AgentOut(BaseModel):
    id: int
    name: str
    owner: str
    url: str
    events: list[str]
    created_at: datetime


class AgentSecret(AgentOut):
    """The answer to registering an agent or renewing its secret: the one time the
    signing secret is shown."""

    secret: str


def _out(row: AgentHook) -> AgentOut:
    return AgentOut.model_validate(row, from_attributes=True)


class AgentHookService:
    """One user's agents (an admin's too: an admin manages their own, and may remove
    anyone's)."""

    def __init__(self, workbench: Workbench, principal: Principal) -> None:
        self.workbench = workbench
        self.principal = principal

    def _own(self, session: Session, agent_id: int) -> AgentHook:
        row = session.get(AgentHook, agent_id)
        if row is None or (row.owner != self.principal.name and not self.principal.admin):
            raise NotFoundError(f"you have no agent {agent_id}")
        if row.owner == self.principal.name:
            self._remember(row)
        return row

    def _remember(self, row: AgentHook) -> None:
        """The owner's rights as this request shows them (see the module's note)."""
        row.owner_groups = sorted(self.principal.groups)
        row.owner_admin = self.principal.admin

    def list(self) -> list[AgentOut]:
        with self.workbench.sessions.begin() as session:
            rows = list(
                session.scalars(
                    select(AgentHook)
                    .where(AgentHook.owner == self.principal.name)
                    .order_by(AgentHook.id)
                )
            )
            for row in rows:
                self._remember(row)
            return [_out(r) for r in rows]

    def get(self, agent_id: int) -> AgentOut:
        with self.workbench.sessions.begin() as session:
            return _out(self._own(session, agent_id))

    def create(self, agent: AgentIn) -> AgentSecret:
        check_url(self.workbench, agent.url, f"agent {agent.name!r}: url {agent.url!r}")
        secret = signing.new_secret()
        with self.workbench.sessions.begin() as session:
            mine = list(
                session.scalars(
                    select(AgentHook.name).where(AgentHook.owner == self.principal.name)
                )
            )
            if agent.name in mine:
                raise InvalidInputError(
                    f"name: you have an agent named {agent.name!r} already; choose another "
                    "name or remove that one"
                )
            if len(mine) >= MAX_AGENTS:
                raise InvalidInputError(
                    f"you have {len(mine)} agents, the most one may have: remove one first"
                )
            row = AgentHook(
                owner=self.principal.name,
                name=agent.name,
                url=agent.url,
                events=agent.events,
                secret=self.workbench.secret_box.seal({"secret": secret}) or b"",
                owner_groups=sorted(self.principal.groups),
                owner_admin=self.principal.admin,
                created_at=_now(),
            )
            session.add(row)
            session.flush()
            out = _out(row)
        return AgentSecret(**out.model_dump(), secret=secret)

    def rotate(self, agent_id: int) -> AgentSecret:
        """A new signing secret (shown in this answer only); every delivery from now on,
        retries included, is signed with it."""
        secret = signing.new_secret()
        with self.workbench.sessions.begin() as session:
            row = self._own(session, agent_id)
            row.secret = self.workbench.secret_box.seal({"secret": secret}) or b""
            out = _out(row)
        return AgentSecret(**out.model_dump(), secret=secret)

    def delete(self, agent_id: int) -> None:
        """Remove the agent and its deliveries (a delivery still being retried finds
        its agent gone and stops)."""
        with self.workbench.sessions.begin() as session:
            row = self._own(session, agent_id)
            ids = select(WebhookDelivery.id).where(WebhookDelivery.agent_id == row.id)
            session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(ids)))
            session.execute(delete(WebhookDelivery).where(WebhookDelivery.agent_id == row.id))
            session.delete(row)

    def deliveries(self, agent_id: int, limit: int = 100) -> list[DeliveryOut]:
        """The agent's deliveries, newest first, each with its attempts' answers."""
        with self.workbench.sessions.begin() as session:
            self._own(session, agent_id)
            rows = list(
                session.scalars(
                    select(WebhookDelivery)
                    .where(WebhookDelivery.agent_id == agent_id)
                    .order_by(WebhookDelivery.id.desc())
                    .limit(max(1, min(limit, 1000)))
                )
            )
            return delivery_list(session, rows)


def delivery_list(session: Session, rows: list[WebhookDelivery]) -> list[DeliveryOut]:
    history: dict[int, list[AttemptOut]] = {}
    if rows:
        for attempt in session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_([r.id for r in rows]))
            .order_by(WebhookAttempt.attempt)
        ):
            history.setdefault(attempt.delivery_id, []).append(
                AttemptOut.model_validate(attempt, from_attributes=True)
            )
    return [
        DeliveryOut(
            id=r.id,
            event=r.event,
            event_id=r.event_id,
            url=r.url,
            target_id=r.target_id,
            status=r.status,
            attempts=r.attempts,
            created_at=r.created_at,
            delivered_at=r.delivered_at,
            last_error=r.last_error,
            history=history.get(r.id, []),
        )
        for r in rows
    ]


# -- choosing who hears an event, and what it says ----------------------------------------


def _owner(row: AgentHook) -> Principal:
    return Principal(
        name=row.owner, groups=frozenset(row.owner_groups or []), admin=bool(row.owner_admin)
    )


def _may_view_pipeline(principal: Principal, pipeline: Pipeline, spec: dict[str, Any]) -> bool:
    access = (spec or {}).get("access") or {}
    groups = [*(access.get("viewers") or []), *(access.get("operators") or [])]
    return principal.may_use(pipeline.owner, groups)


def _may_decide(principal: Principal, approvers: dict[str, Any]) -> bool:
    from ..approvals.models import may_decide

    return may_decide(principal, approvers or {})


def enqueue_for_agents(
    session: Session,
    run: Run,
    event: str,
    key: str,
    step: dict[str, Any] | None = None,
    dataset: dict[str, Any] | None = None,
    workbench: Workbench | None = None,
) -> int:
    """Write the deliveries of ``event`` (of ``run``) to every agent that wants it and
    whose owner may see it (inside the caller's transaction); how many are new."""
    agents = [
        a
        for a in session.scalars(select(AgentHook).order_by(AgentHook.id))
        if event in (a.events or [])
    ]
    if not agents:
        return 0
    done = set(
        session.scalars(
            select(WebhookDelivery.agent_id).where(
                WebhookDelivery.event_key == key, WebhookDelivery.agent_id.is_not(None)
            )
        )
    )
    agents = [a for a in agents if a.id not in done]
    if not agents:
        return 0
    pipeline = session.get(Pipeline, run.pipeline_id)
    # Who may see a pipeline is its current version's access, as the registry reads it.
    version = pipeline and session.scalar(
        select(PipelineVersion.spec).where(
            PipelineVersion.pipeline_id == pipeline.id,
            PipelineVersion.version == pipeline.current_version,
        )
    )
    context = _dataset_context(session, dataset, workbench) if dataset is not None else None
    event_id = f"evt_{uuid.uuid4().hex}"
    count = 0
    for agent in agents:
        owner = _owner(agent)
        sees_run = pipeline is not None and _may_view_pipeline(owner, pipeline, version or {})
        if event == "approval.requested":
            if not _may_decide(owner, (step or {}).get("approvers") or {}):
                continue
        elif event == "dataset.updated":
            if context is None or not _may_see_dataset(session, owner, context):
                continue
        elif not sees_run:
            continue
        payload = _payload(session, event_id, event, run, pipeline, sees_run, step, context, agent)
        session.add(
            queued_delivery(
                run_id=run.id,
                agent_id=agent.id,
                event_id=event_id,
                key=key,
                event=event,
                url=agent.url,
                payload=payload,
            )
        )
        count += 1
    return count


def _payload(
    session: Session,
    event_id: str,
    event: str,
    run: Run,
    pipeline: Pipeline | None,
    sees_run: bool,
    step: dict[str, Any] | None,
    dataset: dict[str, Any] | None,
    agent: AgentHook,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": event_id,
        "type": event,
        "created_at": _now().isoformat(),
        "agent": {"id": agent.id, "name": agent.name},
        # The run only to those who may see its pipeline (a table's reader may not).
        "run": (
            run_payload(session, run, pipeline.name if pipeline else "", event in _END)
            if sees_run
            else None
        ),
    }
    if event == "approval.requested" and step is not None:
        base = f"workbench/api/runs/{run.id}/approvals/{step.get('id')}"
        body["approval"] = {
            **step,
            "run_id": run.id,
            "pipeline": pipeline.name if pipeline else None,
            "asked": step.get("message") or "",
            # Where the owner (with their own token) decides; POST {"reason": ...}.
            "decide": {"approve": f"{base}/approve", "reject": f"{base}/reject"},
        }
    elif step is not None:
        body["step"] = step
    if dataset is not None:
        body["dataset"] = {k: v for k, v in dataset.items() if not k.startswith("_")}
    return body


_END = {"run.succeeded", "run.failed", "run.cancelled"}


def _may_see_dataset(session: Session, owner: Principal, context: dict[str, Any]) -> bool:
    connection = context.get("_connection")
    if connection is None:  # the default lake, before the catalog lists it: everyone's
        return context.get("lake") == "lake"
    return usable_by(owner, connection)


def _dataset_context(
    session: Session, dataset: dict[str, Any], workbench: Workbench | None
) -> dict[str, Any]:
    """What an agent needs to act on a changed table: its catalog id, columns and types,
    version, rows, and the datasets upstream of it in the lineage graph."""
    name = str(dataset.get("name") or "")
    lake, _, rest = name.partition(".")
    layer, _, table = rest.partition(".")
    connection = session.scalar(select(Connection).where(Connection.name == lake))
    context: dict[str, Any] = {**dataset, "lake": lake, "_connection": connection}
    entry = None
    if connection is not None:
        entry = session.scalar(
            select(CatalogTable).where(
                CatalogTable.connection_id == connection.id,
                CatalogTable.schema_name == layer,
                CatalogTable.name == table,
                CatalogTable.dropped_at.is_(None),
            )
        )
    columns: list[dict[str, Any]] = []
    if entry is not None:
        context["table_id"] = entry.id
        context["rows"] = entry.row_estimate
        context["description"] = entry.description
        columns = [
            {"name": c.name, "type": c.data_type, "nullable": c.nullable, "tags": c.tags or []}
            for c in session.scalars(
                select(CatalogColumn)
                .where(CatalogColumn.table_id == entry.id, CatalogColumn.dropped_at.is_(None))
                .order_by(CatalogColumn.position)
            )
        ]
    else:
        context["table_id"] = None
        context["rows"] = None
    context["columns"] = columns or _delta_columns(workbench, lake, layer, table)
    context["upstream"] = _upstream(session, lake, f"{layer}.{table}")
    return context


def _delta_columns(
    workbench: Workbench | None, lake: str, layer: str, table: str
) -> list[dict[str, Any]]:
    """A table the catalog has not scanned yet: its columns from its Delta log (read as
    the lake's reader; who hears of it is decided after)."""
    if workbench is None:
        return []
    try:
        from ..lake.service import Lake

        reader = Principal(name="workbench:agents", admin=True)
        schema = Lake.of(workbench, reader, lake).open(f"{layer}.{table}").schema()
        return [
            {"name": f.name, "type": str(getattr(f.type, "type", f.type)), "nullable": f.nullable}
            for f in schema.fields
        ]
    except Exception:
        log.debug("columns of %s.%s.%s not read", lake, layer, table, exc_info=True)
        return []


def _upstream(session: Session, namespace: str, name: str) -> list[dict[str, Any]]:
    """Datasets one step upstream (their lineage ids, namespaces and names)."""
    target = session.scalar(
        select(LineageDataset.id).where(
            LineageDataset.namespace == namespace, LineageDataset.name == name
        )
    )
    if target is None:
        return []
    rows = session.execute(
        select(LineageDataset.id, LineageDataset.namespace, LineageDataset.name)
        .join(LineageEdge, LineageEdge.source_id == LineageDataset.id)
        .where(LineageEdge.target_id == target)
        .distinct()
        .order_by(LineageDataset.id)
    ).all()
    return [{"id": i, "namespace": ns, "name": n} for i, ns, n in rows]
