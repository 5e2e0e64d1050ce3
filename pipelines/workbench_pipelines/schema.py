"""The published JSON Schema of pipeline files, generated from :class:`PipelineSpec`.

Editors validate pipeline YAML against ``pipelines/pipeline.schema.json``, e.g. with the
first line ``# yaml-language-server: $schema=../pipeline.schema.json``. A test keeps that
file equal to this module's output; regenerate it with::

    python -m workbench_pipelines.schema > pipelines/pipeline.schema.json
"""

from __future__ import annotations

import json
import sys
from typing import Any

from .spec import PipelineSpec

SCHEMA_ID = "urn:data-engineering-workbench:pipeline-spec:v1"
"""The schema's ``$id``: a stable name, not a download address."""


def pipeline_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a pipeline file."""
    schema = PipelineSpec.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "title": "Workbench pipeline",
    }


def render() -> str:
    """The schema as the committed file holds it (stable key order, trailing newline)."""
    return json.dumps(pipeline_json_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
