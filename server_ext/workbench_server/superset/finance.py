"""The starter finance dashboard's charts, over the month-end close's gold tables
(pipelines/templates/month_end_close.yaml): the trial balance (a table), AR/AP ageing (a
bar chart: receivable and payable, one bar per bucket) and the close checks (a table).

Every chart shows one close: the source, company and period given, else the latest
period the ageing table holds (the lowest company id among that period's closes), as
Superset filters on the chart, so the figures never mix companies (currencies) or
months. Made again after a later close, the same charts move to it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..errors import NotFoundError

if TYPE_CHECKING:
    from ..core import Workbench
    from ..principal import Principal

TRIAL_BALANCE = "gold.trial_balance"
AGEING = "gold.ar_ap_ageing"
CHECKS = "gold.close_checks"
TABLES = (TRIAL_BALANCE, AGEING, CHECKS)

# The ageing table's buckets, as the chart labels them (payables shown as what is owed:
# the ledger keeps them as credits, negative).
BUCKETS = (
    ("not_due", "not due"),
    ("days_1_30", "1-30 days"),
    ("days_31_60", "31-60 days"),
    ("days_61_90", "61-90 days"),
    ("over_90", "over 90 days"),
)
TRIAL_BALANCE_COLUMNS = [
    "code",
    "account_name",
    "account_type",
    "opening",
    "debit",
    "credit",
    "closing",
]
CHECK_COLUMNS = ["check_name", "status", "amount", "items", "detail"]


def which_close(
    workbench: Workbench,
    principal: Principal,
    lake_name: str | None,
    company_id: int | None,
    period: str | None,
) -> tuple[str, int, str]:
    """(source, company, period) of the close the dashboard shows: the one asked for, else
    the latest period in the ageing table (of the company asked for, if any)."""
    from ..lake import Lake

    lake = Lake.of(workbench, principal, lake_name)
    if not lake.exists(AGEING):
        raise NotFoundError(
            f"no lake table {AGEING} in {lake.name}: run the month-end close "
            "(pipelines/templates/month_end_close.yaml) first, or name the tables to chart"
        )
    found = lake.read(AGEING, columns=["source", "company_id", "period"]).to_pylist()
    closes = sorted(
        {(r["source"], r["company_id"], r["period"]) for r in found},
        key=lambda c: (c[2], -c[1], c[0]),
    )
    if company_id is not None:
        closes = [c for c in closes if c[1] == company_id]
    if period is not None:
        closes = [c for c in closes if c[2] == period]
    if not closes:
        asked = " and ".join(
            part
            for part in (
                f"company {company_id}" if company_id is not None else "",
                f"period {period}" if period is not None else "",
            )
            if part
        )
        raise NotFoundError(f"{AGEING} in {lake.name} has no close of {asked or 'any month'}")
    return closes[-1]


def close_filters(source: str, company_id: int, period: str) -> list[dict[str, Any]]:
    """Superset's adhoc filters keeping one close's rows."""
    return [
        _equals("source", source),
        _equals("company_id", company_id),
        _equals("period", period),
    ]


def _equals(column: str, value: str | int) -> dict[str, Any]:
    return {
        "clause": "WHERE",
        "expressionType": "SIMPLE",
        "subject": column,
        "operator": "==",
        "comparator": value,
        "filterOptionName": f"close_{column}",
    }


def ageing_metrics() -> list[dict[str, Any]]:
    """One metric per bucket; payables (credits) turned positive: what is owed."""
    return [
        {
            "expressionType": "SQL",
            "sqlExpression": f"SUM(CASE WHEN kind = 'payable' THEN -{column} ELSE {column} END)",
            "label": label,
            "optionName": f"metric_{column}",
        }
        for column, label in BUCKETS
    ]


def chart_specs(
    datasets: dict[str, int], close: tuple[str, int, str]
) -> list[tuple[str, str, int, dict[str, Any], dict[str, Any]]]:
    """(name, viz type, dataset id, params, query) of each chart. The names stay the same
    from close to close (a chart is found again by its name); the close is in the filters
    and in the chart's description."""
    source, company_id, period = close
    filters = close_filters(source, company_id, period)
    specs = []

    tb = datasets[TRIAL_BALANCE]
    specs.append(
        (
            "Trial balance",
            "table",
            tb,
            {
                "viz_type": "table",
                "query_mode": "raw",
                "all_columns": TRIAL_BALANCE_COLUMNS,
                "order_by_cols": [json.dumps(["code", True])],
                "adhoc_filters": filters,
                "row_limit": 1000,
            },
            {
                "columns": TRIAL_BALANCE_COLUMNS,
                "orderby": [["code", True]],
                "filters": _query_filters(close),
                "row_limit": 1000,
            },
        )
    )

    ageing = datasets[AGEING]
    metrics = ageing_metrics()
    specs.append(
        (
            "AR/AP ageing",
            "echarts_timeseries_bar",
            ageing,
            {
                "viz_type": "echarts_timeseries_bar",
                "x_axis": "kind",
                "x_axis_sort_asc": True,
                "metrics": metrics,
                "groupby": [],
                "adhoc_filters": filters,
                "orientation": "vertical",
                "stack": None,
                "show_legend": True,
                "show_value": True,
                "y_axis_format": ",.2f",
                "row_limit": 10,
            },
            {
                "columns": ["kind"],
                "metrics": metrics,
                "orderby": [["kind", True]],
                "filters": _query_filters(close),
                "series_columns": [],
                "row_limit": 10,
            },
        )
    )

    checks = datasets[CHECKS]
    specs.append(
        (
            "Close checks",
            "table",
            checks,
            {
                "viz_type": "table",
                "query_mode": "raw",
                "all_columns": CHECK_COLUMNS,
                "order_by_cols": [json.dumps(["check_name", True])],
                "adhoc_filters": filters,
                "row_limit": 1000,
            },
            {
                "columns": CHECK_COLUMNS,
                "orderby": [["check_name", True]],
                "filters": _query_filters(close),
                "row_limit": 1000,
            },
        )
    )
    return specs


def _query_filters(close: tuple[str, int, str]) -> list[dict[str, Any]]:
    source, company_id, period = close
    return [
        {"col": "source", "op": "==", "val": source},
        {"col": "company_id", "op": "==", "val": company_id},
        {"col": "period", "op": "==", "val": period},
    ]
