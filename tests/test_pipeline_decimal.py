"""A decimal parameter (issue 17): money given to a run reaches a notebook as
decimal.Decimal and a sql step as a DuckDB DECIMAL, digit for digit, on a real Temporal
worker with papermill; run history shows it as it was written."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import nbformat
import pytest

from tests.support.ingest import _run
from tests.support.notebooks import write_notebook
from workbench_pipelines.spec import PipelineSpec
from workbench_server.errors import InvalidInputError
from workbench_server.lake import Lake
from workbench_server.pipelines.registry import PipelineRegistry
from workbench_server.pipelines.runs import RunService
from workbench_server.principal import local_principal

PIPELINE = """\
name: payments
parameters:
  amount: {type: decimal, default: '0.10'}
steps:
  - id: check
    notebook: check.ipynb
    kernel: python3
    parameters: {amount: "{{ params.amount }}", label: "pay {{ params.amount }}"}
  - id: totals
    kind: sql
    sql: |
      SELECT typeof($amount) AS bound, $amount + 0.01 AS total,
             (SELECT sum(x) FROM (VALUES ($amount), ($amount), ($amount)) t(x)) AS tripled
    target: gold.payment_totals
    parameters: {amount: "{{ params.amount }}"}
"""

CHECK = """\
assert type(amount) is Decimal, type(amount)
assert amount == Decimal("1234567.10") and str(amount) == "1234567.10", amount
assert label == "pay 1234567.10", label
"""


@pytest.mark.timeout(300)
def test_a_decimal_parameter_is_exact_in_the_notebook_the_sql_and_the_history(
    tmp_path: Path, workbench, worker, temporal_address, task_queue
) -> None:
    me = local_principal()
    src = tmp_path / "src"
    write_notebook(src / "check.ipynb", CHECK, parameters="amount = 0\nlabel = ''")
    (src / "pipeline.yaml").write_text(PIPELINE)
    PipelineRegistry(workbench, me).deploy(src / "pipeline.yaml")

    service = RunService(workbench, me)
    plan, _ = service.prepare("payments", {"amount": "1234567.10"})
    asyncio.run(_run(temporal_address, task_queue, plan))
    run = service.get(plan.run_id)
    assert run.status == "succeeded", [(a.step_id, a.error) for a in run.attempts]
    assert run.parameters == {"amount": "1234567.10"}

    (attempt,) = [a for a in run.attempts if a.step_id == "check"]
    executed = nbformat.read(attempt.output_notebook, as_version=4)
    (injected,) = [c for c in executed.cells if "injected-parameters" in c.metadata["tags"]]
    assert "from decimal import Decimal" in injected.source
    assert 'amount = Decimal("1234567.10")' in injected.source
    assert executed.metadata["papermill"]["parameters"]["amount"] == "1234567.10"

    (row,) = Lake.of(workbench, me, None).read("gold.payment_totals").to_pylist()
    assert row["bound"].startswith("DECIMAL(")
    assert row["total"] == Decimal("1234567.11")
    assert row["tripled"] == Decimal("3703701.30")


def test_bad_decimal_run_parameters_are_refused_naming_the_parameter(tmp_path: Path) -> None:
    spec = PipelineSpec.model_validate(
        {
            "name": "payments",
            "parameters": {"amount": {"type": "decimal"}},
            "steps": [{"id": "a", "notebook": "a.ipynb"}],
        }
    )
    for bad in ("NaN", "inf", "12,50", "12.5.1", float("inf")):
        with pytest.raises(InvalidInputError) as refused:
            spec.resolve_parameters({"amount": bad})
        assert str(refused.value) == (
            "run parameter 'amount': expected an exact decimal number (such as 1234567.10), "
            f"got {bad!r}"
        )
