"""Pipeline specs: the shipped template, validation errors with lines, DAG order, templates,
``workbench pipeline validate`` and the published JSON Schema."""

from __future__ import annotations

import json
import textwrap
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import jsonschema
import nbformat
import pytest
import yaml

from tests.support.processes import run_workbench
from workbench_pipelines.schema import render
from workbench_pipelines.spec import PipelineSpec
from workbench_pipelines.spec_cron import cron_problem
from workbench_pipelines.spec_types import untag_decimals
from workbench_pipelines.validate import (
    PipelineSpecError,
    load_spec,
    validate_file,
    validate_run_parameters,
    validate_text,
)
from workbench_server.errors import InvalidInputError

PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"
TEMPLATE = PIPELINES / "templates" / "month_end_close.yaml"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A pipeline folder with notebooks a.ipynb, b.ipynb and c.ipynb."""
    for name in "abc":
        nbformat.write(nbformat.v4.new_notebook(), tmp_path / f"{name}.ipynb")
    return tmp_path


def write(folder: Path, text: str) -> Path:
    path = folder / "pipeline.yaml"
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def errors_of(folder: Path, text: str) -> list[str]:
    return [str(error) for error in validate_file(write(folder, text))]


DIAMOND = """
    name: diamond
    parameters:
      company_id: {type: integer, default: 1}
    steps:
      - id: a
        notebook: a.ipynb
      - id: b
        notebook: b.ipynb
        depends_on: [a]
      - id: c
        notebook: c.ipynb
        depends_on: [a]
      - id: d
        notebook: c.ipynb
        depends_on: [b, c]
        parameters: {run_date: "{{ ds }}", company: "{{ params.company_id }}"}
"""


# --- the shipped template --------------------------------------------------------------


def test_month_end_close_template_is_valid() -> None:
    assert validate_file(TEMPLATE) == []
    spec = load_spec(TEMPLATE)
    assert spec.schedule is not None and spec.schedule.cron == "0 6 1 * *"
    assert spec.topological_order() == ["extract", "silver", "close", "report"]
    # The close's queries run in one sql step, in this order (each reads the ones before).
    queries = {q.target: q for q in spec.step("close").all_queries}
    assert list(queries) == [
        "gold.close_periods",
        "silver.account_by_company",
        "gold.trial_balance",
        "gold.open_items",
        "gold.open_items_by_partner",
        "gold.ar_ap_ageing",
        "gold.close_checks",
        "gold.close_runs",
    ]
    # The gold tables of one close are replaced by source, company and period only.
    for table in (
        "trial_balance",
        "open_items",
        "open_items_by_partner",
        "ar_ap_ageing",
        "close_checks",
    ):
        assert queries[f"gold.{table}"].replace_where == (
            "source = $source AND company_id = $company_id AND period = $period"
        )
    assert queries["gold.close_periods"].mode == "merge"
    assert queries["gold.close_runs"].mode == "append"


def test_template_notebooks_take_the_parameters_their_steps_pass() -> None:
    spec = load_spec(TEMPLATE)
    notebooks = [step for step in spec.steps if step.kind == "notebook"]
    assert notebooks
    for step in notebooks:
        notebook = nbformat.read(TEMPLATE.parent / step.notebook, as_version=4)
        nbformat.validate(notebook)
        tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, step.notebook
        names = {line.split("=")[0].strip() for line in tagged[0].source.splitlines()}
        assert set(step.parameters) <= names, (step.id, set(step.parameters) - names)


def test_template_parameters_render_for_the_closed_month() -> None:
    spec = load_spec(TEMPLATE)
    logical = datetime(2024, 2, 1, 5, 0, tzinfo=ZoneInfo("UTC"))  # 06:00 in Paris
    assert spec.render_parameters("close", {"company_id": "3"}, logical) == {
        "source": "odoo",
        "company_id": 3,
        "period": "2024-01",  # the month before the run's date
    }
    january = datetime(2025, 1, 1, 5, 0, tzinfo=ZoneInfo("UTC"))
    assert spec.render_parameters("close", {}, january)["period"] == "2024-12"
    given = spec.render_parameters("report", {"period": "2023-04", "pdf": "true"}, january)
    assert given == {
        "source": "odoo",
        "company_id": 1,
        "period": "2023-04",
        "report_folder": "",
        "pdf": True,
    }


# --- one problem, one exact message ----------------------------------------------------

CASES = {
    "cycle": (
        """
        name: loop
        steps:
          - id: a
            notebook: a.ipynb
            depends_on: [b]
          - id: b
            notebook: b.ipynb
            depends_on: [a]
        """,
        "5:18: steps[0].depends_on[0]: dependency cycle a -> b -> a: "
        "remove one of these depends_on entries to break it",
    ),
    "unknown step": (
        """
        name: typo
        steps:
          - id: extract
            notebook: a.ipynb
          - id: load
            notebook: b.ipynb
            depends_on: [extract, transform]
        """,
        "7:27: steps[1].depends_on[1]: unknown step 'transform'; steps are: extract, load",
    ),
    "duplicate id": (
        """
        name: twice
        steps:
          - id: a
            notebook: a.ipynb
          - id: a
            notebook: b.ipynb
        """,
        "5:9: steps[1].id: duplicate step id 'a': steps[0] has it already",
    ),
    "bad cron": (
        """
        name: cron
        schedule:
          cron: "0 6 32 * *"
        steps:
          - id: a
            notebook: a.ipynb
        """,
        "3:9: schedule.cron: bad cron expression '0 6 32 * *': "
        "day-of-month '32' is not a value in 1-31",
    ),
    "unknown timezone": (
        """
        name: tz
        schedule:
          cron: "0 6 * * *"
          timezone: Europe/Pariss
        steps:
          - id: a
            notebook: a.ipynb
        """,
        "4:13: schedule.timezone: unknown time zone 'Europe/Pariss'; "
        "use an IANA name such as 'Europe/Paris' or 'UTC'",
    ),
    "unknown template parameter": (
        """
        name: params
        parameters:
          company_id: {type: integer}
        steps:
          - id: a
            notebook: a.ipynb
            parameters:
              company: "{{ params.company }}"
        """,
        "8:16: steps[0].parameters.company: template '{{ params.company }}' uses "
        "params.company, which is not a declared parameter (declared: company_id)",
    ),
    "unknown template variable": (
        """
        name: vars
        steps:
          - id: a
            notebook: a.ipynb
            parameters: {day: "{{ date }}"}
        """,
        "5:23: steps[0].parameters.day: unknown template variable 'date' in '{{ date }}'; "
        "use ds, ds_nodash, logical_date or params.NAME",
    ),
    # A filter or test jinja does not know is found only when the template is compiled,
    # past parsing: validate once ended in a traceback.
    "unknown filter": (
        """
        name: vars
        steps:
          - id: a
            notebook: a.ipynb
            parameters: {day: "{{ ds | upperr }}"}
        """,
        "5:23: steps[0].parameters.day: template error in '{{ ds | upperr }}': "
        "No filter named 'upperr'.",
    ),
    "unknown test": (
        """
        name: vars
        steps:
          - id: a
            notebook: a.ipynb
            parameters: {day: "{{ ds is dated }}"}
        """,
        "5:23: steps[0].parameters.day: template error in '{{ ds is dated }}': "
        "No test named 'dated'.",
    ),
    "wrong type": (
        """
        name: types
        steps:
          - id: a
            notebook: a.ipynb
            retries:
              attempts: three
        """,
        "6:17: steps[0].retries.attempts: expected an integer, got 'three'",
    ),
    "default of the wrong type": (
        """
        name: defaults
        parameters:
          start: {type: date, default: last month}
        steps:
          - id: a
            notebook: a.ipynb
        """,
        "3:32: parameters.start.default: default expected a date (YYYY-MM-DD), got 'last month'",
    ),
    "unknown field": (
        """
        name: fields
        steps:
          - id: a
            notebook: a.ipynb
            retry: 3
        """,
        "5:5: steps[0].retry: unknown field 'retry'; did you mean 'retries'?",
    ),
    "bad duration": (
        """
        name: durations
        steps:
          - id: a
            notebook: a.ipynb
            timeout: 10 minutes
        """,
        "5:14: steps[0].timeout: invalid duration '10 minutes': write a number followed by "
        "s, m, h or d, e.g. '30s', '10m', '2h' or '1d'",
    ),
    "missing field": (
        """
        name: missing
        steps:
          - id: a
        """,
        "3:5: steps[0].notebook: missing required field 'notebook'",
    ),
    "duplicate key": (
        """
        name: keys
        steps:
          - id: a
            notebook: a.ipynb
            notebook: b.ipynb
        """,
        "5:5: steps[0].notebook: duplicate key 'notebook': line 4 has it already",
    ),
    "yaml syntax error": (
        """
        name: broken
        steps:
          - id: a
            notebook: a.ipynb
           depends_on: []
        """,
        "5:4: YAML syntax error: expected <block end>, but found '<block mapping start>'",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_problem_gives_one_exact_error_with_its_line(folder: Path, case: str) -> None:
    text, expected = CASES[case]
    path = folder / "pipeline.yaml"
    assert errors_of(folder, text) == [f"{path}:{expected}"]


def test_missing_notebook_names_where_it_was_looked_for(folder: Path) -> None:
    path = write(
        folder,
        """
        name: notebooks
        steps:
          - id: a
            notebook: reports/close.ipynb
        """,
    )
    expected = (
        f"{path}:4:15: steps[0].notebook: notebook 'reports/close.ipynb' does not exist "
        f"(looked for {folder / 'reports/close.ipynb'})"
    )
    assert [str(error) for error in validate_file(path)] == [expected]
    (folder / "shared" / "reports").mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(), folder / "shared" / "reports" / "close.ipynb")
    assert validate_file(path, notebook_root=folder / "shared") == []


def test_all_problems_come_back_at_once_in_line_order(folder: Path) -> None:
    path = write(
        folder,
        """
        name: many
        schedule:
          cron: "0 6 * *"
        steps:
          - id: a
            notebook: a.ipynb
            depends_on: [a]
            timeout: soon
        """,
    )
    assert [str(error) for error in validate_file(path)] == [
        f"{path}:3:9: schedule.cron: bad cron expression '0 6 * *': it has 4 fields; "
        "use 5: minute hour day-of-month month day-of-week",
        f"{path}:7:18: steps[0].depends_on[0]: dependency cycle a -> a: "
        "remove one of these depends_on entries to break it",
        f"{path}:8:14: steps[0].timeout: invalid duration 'soon': write a number followed by "
        "s, m, h or d, e.g. '30s', '10m', '2h' or '1d'",
    ]
    with pytest.raises(PipelineSpecError) as raised:
        load_spec(path)
    assert len(raised.value.errors) == 3


def test_yaml_is_read_with_yaml_12_scalars(folder: Path) -> None:
    # YAML 1.1 would read 09:30 as 570, NO as false and 0100 as 64.
    path = write(
        folder,
        """
        name: scalars
        sla: {finish_by: 09:30}
        steps:
          - id: a
            notebook: a.ipynb
            parameters: {country: NO, account: 0100, day: 2024-01-31, flag: true}
        """,
    )
    spec = load_spec(path)
    assert spec.sla is not None and spec.sla.finish_by.strftime("%H:%M") == "09:30"
    assert spec.steps[0].parameters == {
        "country": "NO",
        "account": "0100",
        "day": "2024-01-31",
        "flag": True,
    }


def test_not_a_mapping_and_unreadable_files(tmp_path: Path) -> None:
    assert [str(e) for e in validate_text("- a\n- b\n", file="p.yaml")] == [
        "p.yaml:1:1: a pipeline file must be a YAML mapping with at least 'name' and 'steps'"
    ]
    assert [str(e) for e in validate_file(tmp_path / "absent.yaml")] == [
        f"{tmp_path / 'absent.yaml'}: cannot read the file: No such file or directory"
    ]


@pytest.mark.parametrize(
    "expression",
    ["0 6 1 * *", "@daily", "*/15 9-17 * * mon-fri", "0 0 1 jan *", "0 12 * * 7", "0 0 1 1 * 2030"],
)
def test_cron_expressions_temporal_accepts(expression: str) -> None:
    assert cron_problem(expression) is None


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("0 6 L * *", "day-of-month 'L' is not a value in 1-31"),
        ("0 0 * * 1#2", "'#' is not supported (Temporal reads it as the start of a comment)"),
        ("CRON_TZ=UTC 0 0 * * *", "set the time zone in schedule.timezone, not in the expression"),
        ("0 18-9 * * *", "hour range '18-9' must run upwards within 0-23"),
        ("*/0 * * * *", "minute step '0' is not a whole number of at least 1"),
    ],
)
def test_cron_expressions_temporal_rejects(expression: str, problem: str) -> None:
    assert cron_problem(expression) == problem


# --- the model: order, downstream, parameters, templates -------------------------------


def diamond(folder: Path) -> PipelineSpec:
    return load_spec(write(folder, DIAMOND))


def test_topological_order_and_downstream(folder: Path) -> None:
    spec = diamond(folder)
    assert spec.topological_order() == ["a", "b", "c", "d"]
    assert spec.downstream(["b"]) == ["b", "d"]
    assert spec.downstream(["a"]) == ["a", "b", "c", "d"]
    assert spec.downstream(["c", "b"]) == ["b", "c", "d"]
    with pytest.raises(KeyError):
        spec.downstream(["nope"])


def test_render_parameters_in_the_schedule_time_zone(folder: Path) -> None:
    spec = diamond(folder).model_copy(deep=True)
    spec.steps[3].parameters |= {
        "tag": "close-{{ ds_nodash }}",
        "at": "{{ logical_date }}",
        "month": "{{ logical_date.strftime('%Y-%m') }}",
        "nested": ["{{ ds }}", {"company": "{{ params.company_id }}"}],
    }
    rendered = spec.render_parameters("d", {}, datetime(2024, 3, 1, 6, 30))
    assert rendered == {
        "run_date": "2024-03-01",
        "company": 1,
        "tag": "close-20240301",
        "at": "2024-03-01T06:30:00+00:00",
        "month": "2024-03",
        "nested": ["2024-03-01", {"company": 1}],
    }
    late_evening_utc = datetime(2024, 2, 29, 23, 30, tzinfo=ZoneInfo("UTC"))
    schedule = {"cron": "0 0 * * *", "timezone": "Europe/Paris"}
    paris = PipelineSpec.model_validate(spec.model_dump() | {"schedule": schedule})
    assert paris.render_parameters("d", {"company_id": 7}, late_evening_utc)["run_date"] == (
        "2024-03-01"
    )
    assert paris.render_parameters("d", None, date(2024, 3, 5))["run_date"] == "2024-03-05"


def test_templates_are_sandboxed_and_strict(folder: Path) -> None:
    spec = diamond(folder).model_copy(deep=True)
    spec.steps[0].parameters = {"x": "{{ params.company_id.__class__.__mro__ }}"}
    with pytest.raises(InvalidInputError, match="step 'a' parameter 'x'"):
        spec.render_parameters("a", {}, date(2024, 1, 1))
    spec.steps[0].parameters = {"x": "{{ params.nope }}"}
    with pytest.raises(InvalidInputError, match="has no attribute 'nope'"):
        spec.render_parameters("a", {}, date(2024, 1, 1))


def test_a_parameter_too_large_to_pass_is_refused_when_the_run_starts(folder: Path) -> None:
    """A template that makes a huge value is refused naming the step and parameter,
    without making it: 30 MB of text once went to Temporal, whose 4 MB limit ended the
    run's start in a raw RPCError traceback; '9 ** 99999999' held the server's CPU."""
    spec = diamond(folder).model_copy(deep=True)
    cases = {
        "blob": "{{ 'x' * 30000000 }}",
        "list": "{{ [0] * params.company_id * 10000000 }}",
        "text": "{{ ds }} {{ 'y' * 200000 }}",
        "power": "{{ 9 ** 99999999 }}",
    }
    for name, template in cases.items():
        spec.steps[0].parameters = {name: template}
        started = time.monotonic()
        with pytest.raises(InvalidInputError) as refused:
            spec.render_parameters("a", {"company_id": 3}, date(2024, 1, 1))
        assert time.monotonic() - started < 2, name
        message = str(refused.value)
        assert message.startswith(f"step 'a' parameter {name!r}: cannot render "), message
        assert ("digits" if name == "power" else "more than the 100,000") in message, message
    spec.steps[0].parameters = {"ok": "{{ 'ab' * 3 }}", "n": "{{ 2 ** 10 }}", "m": "{{ 3 * 4 }}"}
    assert spec.render_parameters("a", {}, date(2024, 1, 1)) == {"ok": "ababab", "n": 1024, "m": 12}


def test_run_parameters_are_checked(folder: Path) -> None:
    path = write(
        folder,
        """
        name: run
        parameters:
          company_id: {type: integer, default: 1}
          period_end: {type: date, required: true}
        steps:
          - id: a
            notebook: a.ipynb
        """,
    )
    spec = load_spec(path)
    assert [str(e) for e in validate_run_parameters(spec, {"company_id": "x", "extra": 1})] == [
        "parameters.company_id: run parameter 'company_id': expected an integer, got 'x'",
        "parameters.extra: unknown run parameter 'extra'; declared parameters: "
        "company_id, period_end",
        "parameters.period_end: run parameter 'period_end' is required and was not given",
    ]
    assert validate_run_parameters(spec, {"period_end": "2024-01-31"}) == []
    assert spec.resolve_parameters({"period_end": date(2024, 1, 31), "company_id": "2"}) == {
        "company_id": 2,
        "period_end": "2024-01-31",
    }


def test_a_number_parameter_is_a_finite_number(folder: Path) -> None:
    """An amount too large for a float (1e400), infinity or NaN, from the command line,
    a form or JSON, is refused naming the parameter: it once reached the notebook as
    None (JSON has no infinity), the run going on with no amount at all."""
    path = write(
        folder,
        """
        name: run
        parameters:
          amount: {type: number, default: 0.1}
        steps:
          - id: a
            notebook: a.ipynb
        """,
    )
    spec = load_spec(path)
    for bad in ("1e400", "-1e999", "NaN", "-inf", "Infinity", float("inf"), float("nan")):
        assert [str(e) for e in validate_run_parameters(spec, {"amount": bad})] == [
            f"parameters.amount: run parameter 'amount': expected a number, got {bad!r}"
        ], bad
    assert spec.resolve_parameters({"amount": "1234567.10"}) == {"amount": 1234567.1}
    assert spec.resolve_parameters({"amount": "-2e3"}) == {"amount": -2000.0}
    assert spec.resolve_parameters({}) == {"amount": 0.1}
    assert errors_of(
        folder,
        """
        name: run
        parameters:
          amount: {type: number, default: .inf}
        steps:
          - id: a
            notebook: a.ipynb
        """,
    ) == [
        f"{folder / 'pipeline.yaml'}:3:35: parameters.amount.default: default expected a number, "
        "got inf"
    ]


def test_a_decimal_parameter_keeps_its_digits(folder: Path) -> None:
    """Money is Decimal end to end: a decimal parameter is kept as written (no float in
    between), refused naming the parameter when it is not a finite number, and reaches
    a step as an exact Decimal."""
    path = write(
        folder,
        """
        name: run
        parameters:
          amount: {type: decimal, default: '10.10'}
        steps:
          - id: a
            notebook: a.ipynb
            parameters:
              amount: "{{ params.amount }}"
              label: "pay {{ params.amount }}"
        """,
    )
    spec = load_spec(path)
    assert spec.resolve_parameters({}) == {"amount": "10.10"}
    assert spec.resolve_parameters({"amount": " 1234567.10 "}) == {"amount": "1234567.10"}
    assert spec.resolve_parameters({"amount": "12345678901234567.89"}) == {
        "amount": "12345678901234567.89"
    }
    assert spec.resolve_parameters({"amount": 42}) == {"amount": "42"}
    assert spec.resolve_parameters({"amount": 0.1}) == {"amount": "0.1"}  # a JSON number
    for bad in ("NaN", "-inf", "Infinity", "sNaN", "1,5", "12abc", "", True, float("nan")):
        assert [str(e) for e in validate_run_parameters(spec, {"amount": bad})] == [
            "parameters.amount: run parameter 'amount': expected an exact decimal number "
            f"(such as 1234567.10), got {bad!r}"
        ], bad
    # A JSON number with more digits than a float keeps has lost them already.
    [problem] = validate_run_parameters(spec, {"amount": 12345678901234567.89})
    assert "parameters.amount: run parameter 'amount':" in str(problem)
    assert "give the amount as a string" in str(problem)
    rendered = spec.render_parameters("a", {"amount": "1234567.10"}, date(2024, 1, 31))
    assert untag_decimals(rendered) == {"amount": Decimal("1234567.10"), "label": "pay 1234567.10"}
    assert type(untag_decimals(rendered)["amount"]) is Decimal
    assert json.loads(json.dumps(rendered)) == rendered  # it travels through Temporal
    # YAML reads an unquoted 10.10 as the float 10.1: refused, not rounded.
    assert errors_of(
        folder,
        """
        name: run
        parameters:
          amount: {type: decimal, default: 10.10}
        steps:
          - id: a
            notebook: a.ipynb
        """,
    ) == [
        f"{folder / 'pipeline.yaml'}:3:36: parameters.amount.default: default 10.1 of a "
        "decimal parameter is read as a binary floating-point number: write it quoted, as "
        "text (default: '10.1')"
    ]


def test_spec_round_trips_through_json(folder: Path) -> None:
    spec = load_spec(TEMPLATE)
    dumped = json.loads(spec.model_dump_json())
    assert dumped["steps"][0]["timeout"] == "30m"
    assert dumped["steps"][0]["retries"]["max_backoff"] == "10m"
    assert dumped["sla"]["finish_by"] == "10:00"
    again = PipelineSpec.model_validate(dumped)
    assert again == spec
    assert again.steps[0].timeout == timedelta(minutes=30)


# --- CLI and JSON Schema ---------------------------------------------------------------


def test_cli_validate_valid_and_invalid(folder: Path) -> None:
    result = run_workbench("pipeline", "validate", str(TEMPLATE))
    assert (result.returncode, result.stdout) == (0, f"{TEMPLATE}: valid (4 steps)\n")

    path = write(folder, CASES["cycle"][0])
    result = run_workbench("pipeline", "validate", str(path))
    assert result.returncode == 1
    assert result.stdout.splitlines() == [f"{path}:{CASES['cycle'][1]}"]
    assert "Traceback" not in result.stderr

    result = run_workbench("pipeline", "validate", "--json", str(path))
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert (report["valid"], report["steps"]) == (False, 0)
    assert report["errors"] == [
        {
            "file": str(path),
            "line": 5,
            "column": 18,
            "path": "steps[0].depends_on[0]",
            "message": CASES["cycle"][1].split(": ", 2)[2],
        }
    ]


def test_published_json_schema_is_up_to_date() -> None:
    committed = (PIPELINES / "pipeline.schema.json").read_text()
    assert committed == render(), (
        "regenerate: python -m workbench_pipelines.schema > pipelines/pipeline.schema.json"
    )


def test_editors_can_validate_with_the_json_schema() -> None:
    schema = json.loads((PIPELINES / "pipeline.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    document = yaml.safe_load(TEMPLATE.read_text())
    assert list(validator.iter_errors(document)) == []
    document["steps"][0]["retry"] = 3
    document["steps"][1]["timeout"] = "ten minutes"
    assert len(list(validator.iter_errors(document))) == 2


def test_a_copy_of_the_templates_keeps_its_schema(tmp_path: Path) -> None:
    """docs/close.md's copy (trial: after copying only the templates folder, the close's
    ``$schema=../pipeline.schema.json`` named a file that was not there): the templates
    folder copied, the schema written beside it by ``workbench pipeline schema``, and the
    editor's ``$schema`` of each template resolves to it and accepts the template."""
    import shutil

    source = tmp_path / "close-src"
    shutil.copytree(PIPELINES / "templates", source / "templates")
    printed = run_workbench("pipeline", "schema")
    assert printed.returncode == 0, printed.stderr
    (source / "pipeline.schema.json").write_text(printed.stdout)
    assert printed.stdout == render()
    for template in sorted((source / "templates").glob("*.yaml")):
        first = template.read_text().splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), template
        schema_file = (template.parent / first.split("$schema=", 1)[1]).resolve()
        assert schema_file.is_file(), (template.name, schema_file)
        validator = jsonschema.Draft202012Validator(json.loads(schema_file.read_text()))
        document = yaml.safe_load(template.read_text())
        assert list(validator.iter_errors(document)) == [], template.name
