"""A pipeline file and its notebooks in one message, for a core that cannot read them.

In the hub modes the core (the workbench service) has no access to users' folders: a
user's server, or the ``workbench`` command in the user's terminal, checks the file
where it lives and sends it with its notebooks as a bundle, which the service deploys
from a private temporary folder.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from workbench_pipelines.spec import NotebookStep, SqlStep
from workbench_pipelines.spec_types import NotebookPath, SqlPath
from workbench_pipelines.validate import MAX_BYTES

MAX_PATH = 1024
MAX_NOTEBOOKS = 200
# A bundle's JSON: its notebooks (each checked against MAX_NOTEBOOK_BYTES once written)
# and the YAML, escaped. Larger requests are refused before they are parsed.
MAX_BUNDLE_BYTES = 256 * 2**20


class PipelineBundle(BaseModel):
    """A pipeline file and its notebooks, as sent to the workbench service to deploy."""

    model_config = ConfigDict(extra="forbid")
    file: str = Field(
        min_length=1, max_length=MAX_PATH, description="Where it lives in the user's folder."
    )
    # Longer YAML is refused with a message by the validation; this bounds memory.
    spec: str = Field(max_length=4 * MAX_BYTES, description="The pipeline YAML.")
    notebooks: dict[NotebookPath, str] = Field(
        default_factory=dict,
        max_length=MAX_NOTEBOOKS,
        description="Each step's notebook (JSON) by its path.",
    )
    sql_files: dict[SqlPath, str] = Field(
        default_factory=dict,
        max_length=MAX_NOTEBOOKS,
        description="Each sql step's query file by its path.",
    )

    @classmethod
    def of(cls, spec_file: Path, shown_as: str) -> PipelineBundle:
        """The bundle of ``spec_file`` once it is known to be valid; its problems, each
        named by ``shown_as`` (the path the user knows), raise ``PipelineSpecError``.

        Steps do not run where a bundle is made (a hub user's server or terminal): the
        service checks their kernels where they do, when it deploys the bundle."""
        from workbench_pipelines.validate import PipelineSpecError, check_file

        spec, errors = check_file(spec_file, kernels=False)
        if errors or spec is None:
            for error in errors:
                error.file = shown_as
            raise PipelineSpecError(errors)
        # Checked above: the file is at most MAX_BYTES, each notebook a valid notebook.
        return cls(
            file=shown_as,
            spec=spec_file.read_text(encoding="utf-8"),
            notebooks={
                step.notebook: (spec_file.parent / step.notebook).read_text(encoding="utf-8")
                for step in spec.steps
                if isinstance(step, NotebookStep)
            },
            sql_files={
                file: (spec_file.parent / file).read_text(encoding="utf-8")
                for step in spec.steps
                if isinstance(step, SqlStep)
                for file in step.files
            },
        )

    def write(self, folder: Path) -> Path:
        """The files under ``folder`` (paths stay inside: NotebookPath refuses others)."""
        spec_file = folder / "pipeline.yaml"
        spec_file.write_text(self.spec, encoding="utf-8")
        for relative, content in {**self.notebooks, **self.sql_files}.items():
            target = folder / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
        return spec_file
