"""Deploying a pipeline: validate, snapshot spec and notebooks, record a new version.

A version is immutable: its notebooks are copied into the workbench home, and runs read
them from there, so editing a notebook never changes a running or scheduled pipeline.
Deploying unchanged content (same hash) creates no new version.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from sqlalchemy import func, select

from workbench_pipelines.spec import PipelineSpec
from workbench_pipelines.validate import load_spec

from ..db.models import Pipeline, PipelineVersion
from ..errors import ConflictError, NotFoundError, PermissionDeniedError
from ..principal import Principal

if TYPE_CHECKING:
    from ..core import Workbench


class Deployment(BaseModel):
    name: str
    version: int
    content_hash: str
    new_version: bool


class PipelineOut(BaseModel):
    name: str
    owner: str
    current_version: int
    description: str
    steps: list[str]
    kinds: dict[str, str] = {}  # step -> notebook, extract, merge, scd2 or sql
    depends_on: dict[str, list[str]] = {}  # step -> the steps it waits for (the DAG)
    parameters: dict[str, Any] = {}  # name -> type, default, description, required
    schedule: dict[str, Any] | None
    updated_at: datetime
    access: dict[str, list[str]] = {}  # viewers and operators (hub groups)
    may_operate: bool = False  # the caller may start, cancel and repair runs
    may_change: bool = False  # the caller may deploy new versions


def _content_hash(spec_file: Path, spec: PipelineSpec) -> str:
    digest = hashlib.sha256(spec_file.read_bytes())
    for step in sorted(spec.steps, key=lambda s: s.id):
        for name in step.files:  # a notebook, or a sql step's query file
            digest.update(f"\0{step.id}\0{name}\0".encode())
            digest.update((spec_file.parent / name).read_bytes())
    return digest.hexdigest()


def _snapshot(spec_file: Path, spec: PipelineSpec, target: Path) -> None:
    """Copy the spec and the files its steps run (notebooks, SQL files); the folder
    appears whole or not at all."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        shutil.copy2(spec_file, staging / "pipeline.yaml")
        for step in spec.steps:
            for name in step.files:
                destination = staging / name
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(spec_file.parent / name, destination)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


class PipelineRegistry:
    """Deployed pipelines as one principal may see and change them.

    Rights come from the owner, the admin flag and the current version's ``access``
    (:class:`~workbench_pipelines.spec.AccessSpec`): viewers see a pipeline, its runs and
    their artifacts; operators may also start, cancel and repair runs; only the owner and
    admins deploy. A pipeline the principal may not see is reported as not found.
    """

    def __init__(self, workbench: Workbench, principal: Principal) -> None:
        self.workbench = workbench
        self.principal = principal

    @property
    def root(self) -> Path:
        return self.workbench.settings.workbench_home.root / "pipelines"

    # -- rights ----------------------------------------------------------------------
    def may_view(self, owner: str, spec: PipelineSpec) -> bool:
        return self.principal.may_use(owner, [*spec.access.viewers, *spec.access.operators])

    def may_operate(self, owner: str, spec: PipelineSpec) -> bool:
        return self.principal.may_use(owner, spec.access.operators)

    def require_operate(self, name: str, what: str = "run") -> PipelineOut:
        """The pipeline, if the principal may start, cancel and repair its runs."""
        pipeline = self.get(name)
        if not pipeline.may_operate:
            raise self._not_operator(name, pipeline.owner, what)
        return pipeline

    def check_operate(self, name: str, owner: str, spec: PipelineSpec, what: str = "run") -> None:
        """As :meth:`require_operate`, for a pipeline already read (``spec``: its current
        version's)."""
        if not self.may_operate(owner, spec):
            raise self._not_operator(name, owner, what)

    @staticmethod
    def _not_operator(name: str, owner: str, what: str) -> PermissionDeniedError:
        return PermissionDeniedError(
            f"you may see pipeline {name!r} but not {what} it: ask {owner} to "
            "add one of your groups to its access.operators"
        )

    def visible_ids(self) -> dict[int, str] | None:
        """Ids and names of the pipelines the principal may see; None means all (admin)."""
        if self.principal.admin:
            return None
        with self.workbench.sessions() as session:
            return {
                pipeline.id: pipeline.name
                for pipeline, version in self._current(session)
                if self.may_view(pipeline.owner, PipelineSpec.model_validate(version.spec))
            }

    @staticmethod
    def _current(session: Any) -> Any:
        return session.execute(
            select(Pipeline, PipelineVersion)
            .join(
                PipelineVersion,
                (PipelineVersion.pipeline_id == Pipeline.id)
                & (PipelineVersion.version == Pipeline.current_version),
            )
            .order_by(Pipeline.name)
        )

    # -- deploying -------------------------------------------------------------------
    def deploy(self, spec_file: Path) -> Deployment:
        """Validate (all errors at once, nothing stored on error) and snapshot."""
        from ..connections.service import ConnectionService

        spec_file = spec_file.resolve()
        usable = {c.name: c.kind for c in ConnectionService(self.workbench, self.principal).list()}
        # raises PipelineSpecError listing every problem (with the connections it names)
        spec = load_spec(spec_file, connections=usable)
        content_hash = _content_hash(spec_file, spec)
        with self.workbench.sessions.begin() as session:
            pipeline = session.scalar(select(Pipeline).where(Pipeline.name == spec.name))
            if pipeline is not None and not self.principal.may_change(pipeline.owner):
                current_spec = PipelineSpec.model_validate(
                    session.scalar(
                        select(PipelineVersion.spec).where(
                            PipelineVersion.pipeline_id == pipeline.id,
                            PipelineVersion.version == pipeline.current_version,
                        )
                    )
                )
                if not self.may_view(pipeline.owner, current_spec):
                    # Say nothing of whose it is: its owner did not share it.
                    raise ConflictError(
                        f"the pipeline name {spec.name!r} is taken; choose another name"
                    )
                raise PermissionDeniedError(
                    f"pipeline {spec.name!r} belongs to {pipeline.owner}; "
                    "only they or an admin may deploy it"
                )
            if pipeline is not None:
                current = session.scalar(
                    select(PipelineVersion).where(
                        PipelineVersion.pipeline_id == pipeline.id,
                        PipelineVersion.version == pipeline.current_version,
                    )
                )
                if current is not None and current.content_hash == content_hash:
                    return Deployment(
                        name=spec.name,
                        version=current.version,
                        content_hash=content_hash,
                        new_version=False,
                    )
            else:
                pipeline = Pipeline(name=spec.name, owner=self.principal.name, current_version=0)
                session.add(pipeline)
                session.flush()
            version = (
                session.scalar(
                    select(func.max(PipelineVersion.version)).where(
                        PipelineVersion.pipeline_id == pipeline.id
                    )
                )
                or 0
            ) + 1
            target = self.root / spec.name / f"v{version}"
            _snapshot(spec_file, spec, target)
            session.add(
                PipelineVersion(
                    pipeline_id=pipeline.id,
                    version=version,
                    content_hash=content_hash,
                    spec=spec.model_dump(mode="json"),
                    snapshot_dir=str(target),
                    deployed_by=self.principal.name,
                )
            )
            pipeline.current_version = version
        return Deployment(
            name=spec.name, version=version, content_hash=content_hash, new_version=True
        )

    # -- reading ---------------------------------------------------------------------
    def list(self) -> list[PipelineOut]:
        """The pipelines the principal may see."""
        with self.workbench.sessions() as session:
            found = [
                (pipeline, version, PipelineSpec.model_validate(version.spec))
                for pipeline, version in self._current(session)
            ]
        return [self._out(p, v, spec) for p, v, spec in found if self.may_view(p.owner, spec)]

    def get(self, name: str) -> PipelineOut:
        pipeline, version = self.version(name)
        return self._out(pipeline, version, PipelineSpec.model_validate(version.spec))

    def version(self, name: str, number: int | None = None) -> tuple[Pipeline, PipelineVersion]:
        """The pipeline and one of its versions (the current one by default), if the
        principal may see the pipeline; else :class:`NotFoundError`, as if it did not exist."""
        with self.workbench.sessions() as session:
            pipeline = session.scalar(select(Pipeline).where(Pipeline.name == name))
            current = (
                session.scalar(
                    select(PipelineVersion).where(
                        PipelineVersion.pipeline_id == pipeline.id,
                        PipelineVersion.version == pipeline.current_version,
                    )
                )
                if pipeline is not None
                else None
            )
            if (
                pipeline is None
                or current is None
                or not self.may_view(pipeline.owner, PipelineSpec.model_validate(current.spec))
            ):
                raise NotFoundError(f"no pipeline named {name!r}; deploy it first")
            if number is None or number == current.version:
                return pipeline, current
            version = session.scalar(
                select(PipelineVersion).where(
                    PipelineVersion.pipeline_id == pipeline.id, PipelineVersion.version == number
                )
            )
            if version is None:
                raise NotFoundError(f"pipeline {name!r} has no version {number}")
            return pipeline, version

    def spec(self, name: str) -> PipelineSpec:
        """The spec of the current version."""
        return PipelineSpec.model_validate(self.version(name)[1].spec)

    def _out(self, pipeline: Pipeline, version: PipelineVersion, spec: PipelineSpec) -> PipelineOut:
        """The current ``version`` of ``pipeline`` (whose ``spec`` also says who may do what)."""
        return PipelineOut(
            name=pipeline.name,
            owner=pipeline.owner,
            current_version=version.version,
            description=spec.description,
            steps=[s.id for s in spec.steps],
            kinds={s.id: s.kind for s in spec.steps},
            depends_on={s.id: list(s.depends_on) for s in spec.steps},
            parameters={n: p.model_dump(mode="json") for n, p in spec.parameters.items()},
            schedule=spec.schedule.model_dump(mode="json") if spec.schedule else None,
            updated_at=pipeline.updated_at,
            access=spec.access.model_dump(mode="json"),
            may_operate=self.may_operate(pipeline.owner, spec),
            may_change=self.principal.may_change(pipeline.owner),
        )
