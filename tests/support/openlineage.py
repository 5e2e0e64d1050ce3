"""Check an emitted OpenLineage event against the spec, as openlineage-python models it.

The spec's JSON Schema file is not in any installable package (openlineage-python ships
classes generated from it, not the file). So an event is rebuilt from its JSON into
those generated classes: every required field must be there, no unknown field may be,
every nested object must have the spec's shape, and the classes' own validators run
(UUID run ids, date-times with a time zone, URIs). Serialising the rebuilt event must
give the JSON back unchanged. Facets the spec does not define (the workbench's own) are
checked against their JSON Schema in ``docs/openlineage``.
"""

from __future__ import annotations

import json
import types
import typing
import uuid
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

import attr
import jsonschema
from openlineage.client.event_v2 import InputDataset, OutputDataset, RunEvent
from openlineage.client.facet_v2 import (
    column_lineage_dataset,
    dataset_version_dataset,
    datasource_dataset,
    error_message_run,
    job_type_job,
    parent_run,
    processing_engine_run,
    sql_job,
    symlinks_dataset,
    tags_job,
    tags_run,
)
from openlineage.client.serde import Serde

DOCS = Path(__file__).resolve().parents[2] / "docs" / "openlineage"
SPEC_FACETS: dict[str, type] = {
    "parent": parent_run.ParentRunFacet,
    "processing_engine": processing_engine_run.ProcessingEngineRunFacet,
    "errorMessage": error_message_run.ErrorMessageRunFacet,
    "jobType": job_type_job.JobTypeJobFacet,
    "sql": sql_job.SQLJobFacet,
    "columnLineage": column_lineage_dataset.ColumnLineageDatasetFacet,
    "dataSource": datasource_dataset.DatasourceDatasetFacet,
    "symlinks": symlinks_dataset.SymlinksDatasetFacet,
    "version": dataset_version_dataset.DatasetVersionDatasetFacet,
}
# The client adds the tags of its config: same key, a class per place.
TAGS = {"run": tags_run.TagsRunFacet, "job": tags_job.TagsJobFacet}
OWN_FACETS = {"workbench": DOCS / "WorkbenchRunFacet.json"}


class InvalidEvent(AssertionError):
    pass


def _fail(path: str, message: str) -> None:
    raise InvalidEvent(f"{path}: {message}")


def _facets(values: Any, path: str) -> dict[str, Any]:
    if not isinstance(values, dict):
        _fail(path, "facets must be an object")
    built = {}
    for key, value in values.items():
        if key in OWN_FACETS:
            schema = json.loads(OWN_FACETS[key].read_text())
            try:
                jsonschema.validate({key: value}, schema)
            except jsonschema.ValidationError as exc:
                _fail(f"{path}.{key}", exc.message)
            # A facet's _schemaURL points into its schema by the schema's $id.
            definition = schema["properties"][key]["$ref"].removeprefix("#")
            if value.get("_schemaURL") != f"{schema['$id']}#{definition}":
                _fail(f"{path}.{key}._schemaURL", f"not {schema['$id']}#{definition}")
            built[key] = value
        elif key == "tags" and path.split(".")[-2] in TAGS:
            built[key] = _build(TAGS[path.split(".")[-2]], value, f"{path}.{key}")
        elif key in SPEC_FACETS:
            built[key] = _build(SPEC_FACETS[key], value, f"{path}.{key}")
        else:
            _fail(f"{path}.{key}", "a facet this check does not know")
    return built


def _value(kind: Any, value: Any, path: str) -> Any:
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        return _value(options[0], value, path)
    if origin is list:
        if not isinstance(value, list):
            _fail(path, "expected a list")
        return [_value(args[0], v, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            _fail(path, "expected an object")
        if path.endswith("facets") or path.endswith("Facets"):
            return _facets(value, path)
        return {k: _value(args[1], v, f"{path}.{k}") for k, v in value.items()}
    if kind is Any:
        return value
    if isinstance(kind, type) and issubclass(kind, Enum):
        try:
            return kind(value)
        except ValueError:
            _fail(path, f"{value!r} is not one of {[m.value for m in kind]}")
    if attr.has(kind):
        return _build(kind, value, path)
    if kind in (str, int, float, bool) and not isinstance(value, kind):
        _fail(path, f"expected {kind.__name__}, got {type(value).__name__}")
    return value


def _build(cls: type, data: Any, path: str) -> Any:
    if not isinstance(data, dict):
        _fail(path, f"expected an object for {cls.__name__}")
    attr.resolve_types(cls)
    fields = {f.name.lstrip("_") if f.name.startswith("_") else f.name: f for f in attr.fields(cls)}
    given = dict(data)
    kwargs = {}
    for key in list(given):
        name = key.lstrip("_")
        if name not in fields:
            _fail(f"{path}.{key}", f"not a field of {cls.__name__}")
        field = fields[name]
        value = given.pop(key)
        if not field.init:  # schemaURL: set by the class itself, checked below
            continue
        kwargs[field.alias or name] = _value(field.type, value, f"{path}.{key}")
    for name, field in fields.items():
        if field.init and field.default is attr.NOTHING and (field.alias or name) not in kwargs:
            _fail(f"{path}.{name}", "required, missing")
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:
        _fail(path, f"{cls.__name__}: {exc}")


def validate_event(event: dict[str, Any]) -> RunEvent:
    """Raise InvalidEvent unless ``event`` is a valid OpenLineage RunEvent."""
    for key in ("eventType", "eventTime", "run", "job", "producer", "schemaURL"):
        if key not in event:
            _fail(key, "required, missing")
    built = _build(RunEvent, event, "event")
    uuid.UUID(built.run.runId)
    if datetime.fromisoformat(event["eventTime"]).tzinfo is None:
        _fail("eventTime", "needs a time zone")
    for i, dataset in enumerate(event.get("inputs", [])):
        _build(InputDataset, dataset, f"inputs[{i}]")
    for i, dataset in enumerate(event.get("outputs", [])):
        _build(OutputDataset, dataset, f"outputs[{i}]")
    again = json.loads(Serde.to_json(built))
    if again != event:
        _fail("event", "does not serialise back to itself")
    if not event["schemaURL"].startswith("https://openlineage.io/spec/"):
        _fail("schemaURL", event["schemaURL"])
    return built
