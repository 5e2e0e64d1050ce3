"""What a reader may be told of who wrote something: the lineage's jobs, a lake table's
versions and its last writer in the catalog.

A private pipeline and its runs are 404 to those who may not see it, so its name, run
ids, steps and attempts are not given to them by what it wrote either (a lake table of
the shared lake, its lineage); nor the path of another user's notebook (a name of
their private files). What was written, when and by which user stays everyone's who may
read the table. Admins are told everything.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import select

from workbench_pipelines.spec import PipelineSpec

from ..db.models import Pipeline, PipelineVersion, Run
from ..principal import Principal
from .registry import PipelineRegistry

if TYPE_CHECKING:
    from ..core import Workbench
    from ..lake.models import TableVersion, WriterInfo

HIDDEN_PIPELINE = "a pipeline you may not see"
HIDDEN_NOTEBOOK = "another user's notebook"
NOTEBOOK_JOB = "notebook:"
# WriterInfo.describe()'s line, as the catalog keeps it (``last_writer``).
_PIPELINE_TEXT = re.compile(r"pipeline (?P<pipeline>\S+)(?: run (?P<run>\S+))?")
_BY = " by "


class WriterVisibility:
    """Which writers ``principal`` may be told of (one answer's worth: it reads each
    pipeline it is asked about once, and the runs it is told of)."""

    def __init__(self, workbench: Workbench, principal: Principal) -> None:
        self.principal = principal
        self._all = principal.admin
        self._workbench = workbench
        self._seen: dict[int | str, bool] = {}  # pipeline id or name -> the principal sees it
        self._run_pipeline: dict[str, int] = {}

    def _sees(self, key: int | str) -> bool:
        """Whether the principal sees the pipeline of this id (or name: one nobody has
        is no private thing), by its current version's access. One pipeline read, not
        all of them: the catalog's live freshness asks this every few seconds."""
        if key not in self._seen:
            by = Pipeline.id == key if isinstance(key, int) else Pipeline.name == key
            with self._workbench.sessions() as session:
                found = session.execute(
                    select(Pipeline, PipelineVersion)
                    .outerjoin(
                        PipelineVersion,
                        (PipelineVersion.pipeline_id == Pipeline.id)
                        & (PipelineVersion.version == Pipeline.current_version),
                    )
                    .where(by)
                ).first()
            if found is None:
                self._seen[key] = isinstance(key, str)
            else:
                pipeline, version = found
                self._seen[key] = version is not None and PipelineRegistry(
                    self._workbench, self.principal
                ).may_view(pipeline.owner, PipelineSpec.model_validate(version.spec))
        return self._seen[key]

    def know_runs(self, run_ids: Iterable[str | None]) -> None:
        """Read the pipelines of these runs (once, before asking about them)."""
        wanted = {r for r in run_ids if r} - self._run_pipeline.keys()
        if self._all or not wanted:
            return
        with self._workbench.sessions() as session:
            self._run_pipeline.update(
                session.execute(select(Run.id, Run.pipeline_id).where(Run.id.in_(wanted))).all()
            )

    def know_texts(self, texts: Iterable[str | None]) -> None:
        """As :meth:`know_runs`, for the runs writers' lines name."""
        found = (_PIPELINE_TEXT.match(t) for t in texts if t)
        self.know_runs(m["run"] for m in found if m is not None)

    def hides_pipeline(self, pipeline: str | None, run_id: str | None) -> bool:
        """A write of this pipeline (or run) is not to be named to the principal: by the
        run's pipeline, or by the pipeline's name when the run is gone."""
        if self._all:
            return False
        if run_id and run_id in self._run_pipeline:
            return not self._sees(self._run_pipeline[run_id])
        return pipeline is not None and not self._sees(pipeline)

    def hides_notebook(self, user: str | None) -> bool:
        """A notebook's path is its user's (and admins') to read."""
        return not self._all and user != self.principal.name

    def hides_job(self, job: str, run_id: str | None) -> str | None:
        """What a lineage edge's job reads instead, or None when it may be named.
        Under JupyterHub a kernel's job is ``notebook:<user>/<path>``; on a server of
        its own, ``notebook:<path>`` (a non-admin's, with their name first: see
        handlers/kernel.py)."""
        if job.startswith(NOTEBOOK_JOB):
            owner = job[len(NOTEBOOK_JOB) :].split("/", 1)[0]
            return HIDDEN_NOTEBOOK if self.hides_notebook(owner) else None
        pipeline = job.split(".", 1)[0]
        return HIDDEN_PIPELINE if self.hides_pipeline(pipeline, run_id) else None

    def writer(self, writer: WriterInfo | None) -> tuple[WriterInfo | None, str | None]:
        """The writer as the principal may read it, and its line when it was changed."""
        if writer is None or self._all:
            return writer, None
        by = f"{_BY}{writer.user}" if writer.user else ""
        if writer.pipeline or writer.run_id:
            if self.hides_pipeline(writer.pipeline, writer.run_id):
                hidden = dict.fromkeys(("pipeline", "run_id", "step", "attempt", "notebook"))
                return writer.model_copy(update=hidden), f"{HIDDEN_PIPELINE}{by}"
            return writer, None
        if writer.notebook and self.hides_notebook(writer.user):
            return writer.model_copy(update={"notebook": None}), f"{HIDDEN_NOTEBOOK}{by}"
        return writer, None

    def versions(self, found: list[TableVersion]) -> list[TableVersion]:
        """``found`` with each writer the principal may not be told of left out."""
        if self._all:
            return found
        self.know_runs(v.writer.run_id for v in found if v.writer is not None)
        shown = []
        for version in found:
            writer, text = self.writer(version.writer)
            if text is not None:
                version = version.model_copy(update={"writer": writer, "writer_text": text})
            shown.append(version)
        return shown

    def writer_text(self, text: str | None) -> str | None:
        """A writer's line as the catalog keeps it (WriterInfo.describe()), as the
        principal may read it."""
        if not text or self._all:
            return text
        by = text[text.rindex(_BY) :] if _BY in text else ""
        user = by[len(_BY) :] or None
        found = _PIPELINE_TEXT.match(text)
        if found is not None:
            self.know_runs([found["run"]])
            if self.hides_pipeline(found["pipeline"], found["run"]):
                return f"{HIDDEN_PIPELINE}{by}"
            return text
        if (text.startswith("notebook ") or " notebook " in text) and self.hides_notebook(user):
            return f"{HIDDEN_NOTEBOOK}{by}"
        return text

    def catalog_extra(self, extra: dict | None) -> dict | None:
        """A catalog entry's ``extra`` with its ``last_writer`` as the principal may
        read it (a new dict when it changed)."""
        text = (extra or {}).get("last_writer")
        if not isinstance(text, str):
            return extra
        shown = self.writer_text(text)
        return extra if shown == text else {**(extra or {}), "last_writer": shown}


def names_a_writer(extra: dict | None) -> bool:
    """Whether a catalog entry's ``extra`` names a writer (only then is a
    WriterVisibility worth making for it)."""
    return isinstance((extra or {}).get("last_writer"), str)
