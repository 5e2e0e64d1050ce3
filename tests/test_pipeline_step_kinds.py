"""Declarative step kinds in the pipeline YAML: extract, merge, scd2 and sql validate with
file and line, publish their JSON Schema, and are deployed (SQL files snapshotted) and
planned like notebook steps."""

from __future__ import annotations

import json
import textwrap
from datetime import date
from pathlib import Path

import jsonschema
import pytest
import yaml

from workbench_pipelines.spec import ExtractStep, MergeStep, NotebookStep, PipelineSpec, SqlStep
from workbench_pipelines.validate import validate_text

PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"

VALID = """\
name: odoo_lake
parameters:
  company: {type: integer, default: 1}
steps:
  - id: extract
    kind: extract
    source: odoo_db
    tables:
      - account_move
      - {table: public.account_move_line, columns: [id, move_id, balance, write_date]}
      - {model: res.partner, target: bronze.partners}
    deletes: every 1d
  - id: silver
    kind: merge
    depends_on: [extract]
    tables:
      - bronze.account_move
      - {source: bronze.partners, target: silver.partners, columns: {id: bigint, name: varchar}}
  - id: dim_partner
    kind: scd2
    depends_on: [silver]
    source: silver.partners
    target: gold.dim_partner
  - id: balances
    kind: sql
    depends_on: [silver]
    file: sql/balances.sql
    target: gold.balances
    parameters: {company: "{{ params.company }}"}
  - id: report
    notebook: report.ipynb
    depends_on: [balances]
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "sql").mkdir()
    (tmp_path / "sql" / "balances.sql").write_text(
        "SELECT company_id, sum(balance) AS balance FROM silver.account_move_line\n"
        "WHERE company_id = $company GROUP BY company_id\n"
    )
    from tests.support.notebooks import write_notebook

    write_notebook(tmp_path / "report.ipynb", "print(1)")
    (tmp_path / "pipeline.yaml").write_text(VALID)
    return tmp_path


def _errors(folder: Path, text: str) -> list[str]:
    return [
        str(e).removeprefix("<pipeline>:")
        for e in validate_text(
            textwrap.dedent(text).lstrip(), notebook_folder=folder, kernels=False
        )
    ]


def test_every_kind_reads_into_its_model(folder: Path) -> None:
    assert _errors(folder, VALID) == []
    spec = PipelineSpec.model_validate(yaml.safe_load(VALID))
    kinds = {s.id: type(s) for s in spec.steps}
    assert kinds["extract"] is ExtractStep and kinds["report"] is NotebookStep
    extract = spec.step("extract")
    assert [t.bronze for t in extract.tables] == [
        "bronze.account_move",
        "bronze.account_move_line",
        "bronze.partners",
    ]
    assert extract.mode == "incremental" and extract.overlap.total_seconds() == 600
    merge = spec.step("silver")
    assert isinstance(merge, MergeStep) and merge.tables[0].target == "silver.account_move"
    sql = spec.step("balances")
    assert isinstance(sql, SqlStep) and sql.files == ["sql/balances.sql"]
    # A sql step's parameters render like a notebook's, typed.
    assert spec.render_parameters("balances", {"company": 3}, date(2026, 11, 30)) == {"company": 3}
    # Round trip through JSON (the deployed version stores the spec so).
    again = PipelineSpec.model_validate(json.loads(spec.model_dump_json()))
    assert again == spec


CASES = {
    "unknown kind": (
        """
        name: k
        steps:
          - id: a
            kind: extrakt
            source: odoo
        """,
        "4:11: steps[0].kind: unknown step kind 'extrakt'; kinds are: notebook, extract, "
        "merge, scd2, sql, approval, publish, odoo_lock, ocr_inbox, rag",
    ),
    "misspelt field of a kind": (
        """
        name: k
        steps:
          - id: a
            kind: extract
            source: odoo
            tables: [account_move]
            overlapp: 5m
        """,
        "7:5: steps[0].overlapp: unknown field 'overlapp'; did you mean 'overlap'?",
    ),
    "extract into silver": (
        """
        name: k
        steps:
          - id: a
            kind: extract
            source: odoo
            tables: [{table: account_move, target: silver.account_move}]
        """,
        "6:14: steps[0].tables[0]: target 'silver.account_move': extracts write bronze "
        "tables (bronze.<name>); a merge step makes the silver table",
    ),
    "bad deletes schedule": (
        """
        name: k
        steps:
          - id: a
            kind: extract
            source: odoo
            tables: [account_move]
            deletes: sometimes
        """,
        "7:14: steps[0].deletes: 'sometimes' is not a schedule: write 'every run', 'every "
        "1d' (a duration such as 12h or 7d) or 'never'",
    ),
    "a statement that is not a query": (
        """
        name: k
        steps:
          - id: a
            kind: sql
            sql: "DELETE FROM silver.x"
            target: gold.x
        """,
        "5:10: steps[0].sql: a sql step runs one query (SELECT ...), not DELETE: the step "
        "itself writes its result to the target with the step's mode",
    ),
    "a query that does not parse": (
        """
        name: k
        steps:
          - id: a
            kind: sql
            sql: |
              SELECT id
              FROM silver.x WHERE
            target: gold.x
        """,
        "5:10: steps[0].sql: the query does not parse: Parser Error: syntax error at end of input",
    ),
    "missing sql file": (
        """
        name: k
        steps:
          - id: a
            kind: sql
            file: missing.sql
            target: gold.x
        """,
        "5:11: steps[0].file: SQL file 'missing.sql' does not exist (looked for {folder}/"
        "missing.sql)",
    ),
    "merge without keys": (
        """
        name: k
        steps:
          - id: a
            kind: sql
            sql: SELECT 1 AS x
            target: gold.x
            mode: merge
        """,
        "3:5: steps[0]: mode merge needs keys (the columns that identify a row)",
    ),
    "queries beside a target": (
        """
        name: k
        steps:
          - id: a
            kind: sql
            target: gold.x
            queries: [{sql: SELECT 1 AS x, target: gold.y}]
        """,
        "3:5: steps[0]: give either queries or target (a query's fields go in each entry of "
        "queries)",
    ),
    "two queries writing one table": (
        """
        name: k
        steps:
          - id: a
            kind: sql
            queries:
              - {sql: SELECT 1 AS x, target: gold.x}
              - {sql: SELECT 2 AS x, target: gold.x}
        """,
        "3:5: steps[0]: queries: gold.x is the target of more than one query",
    ),
    "a missing sql file among queries": (
        """
        name: k
        steps:
          - id: a
            kind: sql
            queries:
              - {sql: SELECT 1 AS x, target: gold.x}
              - {file: missing.sql, target: gold.y}
        """,
        "7:16: steps[0].queries[1].file: SQL file 'missing.sql' does not exist (looked for "
        "{folder}/missing.sql)",
    ),
    "a query among queries that is not one": (
        """
        name: k
        steps:
          - id: a
            kind: sql
            queries:
              - {sql: "DROP TABLE silver.x", target: gold.x}
        """,
        "6:15: steps[0].queries[0].sql: a sql step runs one query (SELECT ...), not DROP: the "
        "step itself writes its result to the target with the step's mode",
    ),
    "a column type that is not one": (
        """
        name: k
        steps:
          - id: a
            kind: merge
            tables: [{source: bronze.a, target: silver.a, columns: {id: bigint, x: "int; drop"}}]
        """,
        "5:76: steps[0].tables[0].columns.x: 'int; drop' is not a column type: use boolean, "
        "integer, bigint, decimal(P,S), double, date, timestamp, timestamptz, varchar, json "
        "or blob",
    ),
    "a lake table without its layer": (
        """
        name: k
        steps:
          - id: a
            kind: scd2
            source: partners
            target: gold.dim_partner
        """,
        "5:13: steps[0].source: 'partners' is not a valid lake table: write layer.name with "
        "a layer of bronze, silver or gold, e.g. silver.invoices",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_problem_gives_one_exact_error_with_its_line(folder: Path, case: str) -> None:
    text, expected = CASES[case]
    assert _errors(folder, text) == [expected.format(folder=folder)]


def test_existing_notebook_steps_read_as_before(folder: Path) -> None:
    text = """
    name: old
    steps:
      - id: a
        notebook: report.ipynb
        retries: {attempts: 2}
    """
    assert _errors(folder, text) == []
    step = PipelineSpec.model_validate(yaml.safe_load(textwrap.dedent(text))).steps[0]
    assert isinstance(step, NotebookStep) and step.kind == "notebook"


def test_the_json_schema_validates_every_kind() -> None:
    schema = json.loads((PIPELINES / "pipeline.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    document = yaml.safe_load(VALID)
    assert list(validator.iter_errors(document)) == []
    document["steps"][0]["kind"] = "extrakt"
    document["steps"][1]["tables"][0] = "silver_without_layer"
    assert len(list(validator.iter_errors(document))) == 2


def test_deploy_snapshots_sql_files_and_plans_declarative_steps(folder: Path, workbench) -> None:
    from workbench_pipelines.validate import PipelineSpecError
    from workbench_server.connections import ConnectionCreate, ConnectionService
    from workbench_server.pipelines.registry import PipelineRegistry
    from workbench_server.pipelines.runs import RunService
    from workbench_server.principal import local_principal

    me = local_principal()
    registry = PipelineRegistry(workbench, me)
    # The connections steps name must be the deployer's to use, of the right kind.
    with pytest.raises(PipelineSpecError) as refused:
        registry.deploy(folder / "pipeline.yaml")
    assert [f"{e.line}:{e.column}: {e.path}: {e.message}" for e in refused.value.errors] == [
        "7:13: steps[0].source: no connection named 'odoo_db' that you may use (yours: none)"
    ]
    service = ConnectionService(workbench, me)
    service.create(ConnectionCreate(name="odoo_db", settings={"kind": "duckdb"}))
    with pytest.raises(PipelineSpecError, match="'odoo_db' is a duckdb connection; source"):
        registry.deploy(folder / "pipeline.yaml")
    service.delete("odoo_db")
    service.create(
        ConnectionCreate(
            name="odoo_db",
            settings={"kind": "postgres", "host": "db", "database": "odoo", "user": "u"},
        )
    )
    first = registry.deploy(folder / "pipeline.yaml")
    snapshot = registry.root / "odoo_lake" / f"v{first.version}"
    assert (snapshot / "sql" / "balances.sql").read_text().startswith("SELECT company_id")
    # Changing only the SQL file is a new version.
    (folder / "sql" / "balances.sql").write_text("SELECT 1 AS company_id, 0 AS balance\n")
    second = registry.deploy(folder / "pipeline.yaml")
    assert second.new_version and second.version == first.version + 1
    assert registry.get("odoo_lake").kinds["extract"] == "extract"

    plan, _ = RunService(workbench, me).prepare("odoo_lake", {"company": 2})
    steps = {s.id: s for s in plan.steps}
    assert steps["extract"].kind == "extract" and steps["extract"].notebook == ""
    assert steps["extract"].config["source"] == "odoo_db"
    # The query travels inlined in the plan, from the deployed snapshot.
    assert steps["balances"].config["sql"] == "SELECT 1 AS company_id, 0 AS balance\n"
    assert steps["balances"].parameters == {"company": 2}
    assert steps["report"].kind == "notebook" and steps["report"].notebook.endswith("report.ipynb")


def test_a_sql_step_with_several_queries_snapshots_and_inlines_each(
    folder: Path, workbench
) -> None:
    from workbench_server.pipelines.registry import PipelineRegistry
    from workbench_server.pipelines.runs import RunService
    from workbench_server.principal import local_principal

    (folder / "sql" / "totals.sql").write_text("SELECT sum(balance) AS total FROM gold.balances\n")
    (folder / "pipeline.yaml").write_text(
        textwrap.dedent(
            """
            name: several
            steps:
              - id: gold
                kind: sql
                parameters: {company: 3}
                queries:
                  - file: sql/balances.sql
                    target: gold.balances
                    replace_where: "company_id = $company"
                  - {file: sql/totals.sql, target: gold.totals, mode: append}
            """
        )
    )
    assert _errors(folder, (folder / "pipeline.yaml").read_text()) == []
    me = local_principal()
    deployed = PipelineRegistry(workbench, me).deploy(folder / "pipeline.yaml")
    snapshot = PipelineRegistry(workbench, me).root / "several" / f"v{deployed.version}"
    assert (snapshot / "sql" / "totals.sql").read_text().startswith("SELECT sum(balance)")
    plan, _ = RunService(workbench, me).prepare("several", {})
    (step,) = plan.steps
    queries = step.config["queries"]
    assert [q["target"] for q in queries] == ["gold.balances", "gold.totals"]
    assert queries[0]["sql"].startswith("SELECT company_id") and queries[0]["replace_where"]
    assert queries[1]["sql"] == "SELECT sum(balance) AS total FROM gold.balances\n"
    assert queries[1]["mode"] == "append"
