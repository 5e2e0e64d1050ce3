"""A starter dashboard in Superset, made through its REST API; made again it is updated,
its charts reused by name.

With no tables named it is the finance dashboard over the month-end close's gold tables
(:mod:`.finance`: trial balance, AR/AP ageing as a bar chart, close checks); with tables
named, each is published and gets a table chart of its own."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from . import finance
from .client import SupersetClient
from .publish import PublishRequest, _superset_settings, publish

if TYPE_CHECKING:
    from ..core import Workbench
    from ..principal import Principal

MAX_TABLES = 12
FINANCE_TITLE = "Finance close"
NAME = r"^[a-z][a-z0-9_]{0,62}$"


class DashboardRequest(BaseModel):
    """The REST body and the CLI's arguments: no ``tables``, the finance dashboard."""

    model_config = {"extra": "forbid"}

    title: str = Field(FINANCE_TITLE, min_length=1, max_length=200)
    to: str = Field(pattern=NAME, description="a superset connection")
    tables: list[str] = Field(
        default_factory=list,
        max_length=MAX_TABLES,
        description="lake tables, one table chart each; none: the close's finance dashboard",
    )
    lake: str | None = Field(None, pattern=NAME, description="lake connection")
    company_id: int | None = Field(
        None, ge=1, description="finance dashboard: the company (default: the latest close's)"
    )
    period: str | None = Field(
        None,
        pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$",
        description="finance dashboard: the month, YYYY-MM (default: the latest closed)",
    )


class DashboardResult(BaseModel):
    dashboard_id: int
    dashboard_url: str
    charts: dict[str, int]  # table (or, for the finance dashboard, chart) -> chart id
    close: str | None = None  # the finance dashboard's close: "source, company N, YYYY-MM"


def starter_dashboard(
    workbench: Workbench, principal: Principal, request: DashboardRequest
) -> DashboardResult:
    if not request.tables:
        return finance_dashboard(workbench, principal, request)
    published = {
        table: publish(
            workbench, principal, PublishRequest(table=table, to=request.to, lake=request.lake)
        )
        for table in request.tables
    }
    client = SupersetClient(_superset_settings(workbench, principal, request.to)).login()
    dashboard_id = _dashboard(client, request.title)
    charts: dict[str, int] = {}
    for table, result in published.items():
        params = {
            "datasource": f"{result.dataset_id}__table",
            "viz_type": "table",
            "query_mode": "raw",
            "all_columns": result.columns,
            "row_limit": 1000,
        }
        charts[table] = _chart(
            client, f"{request.title}: {table}", "table", result.dataset_id, params, dashboard_id
        )
    return _laid_out(client, request.title, dashboard_id, charts)


def finance_dashboard(
    workbench: Workbench, principal: Principal, request: DashboardRequest
) -> DashboardResult:
    """The close's trial balance, AR/AP ageing and checks for one close (the latest, or
    the company and period asked for)."""
    cfg = _superset_settings(workbench, principal, request.to)  # another's: not found, first
    close = finance.which_close(
        workbench, principal, request.lake, request.company_id, request.period
    )
    datasets = {
        table: publish(
            workbench, principal, PublishRequest(table=table, to=request.to, lake=request.lake)
        ).dataset_id
        for table in finance.TABLES
    }
    client = SupersetClient(cfg).login()
    dashboard_id = _dashboard(client, request.title)
    shown = f"{close[0]}, company {close[1]}, {close[2]}"
    charts: dict[str, int] = {}
    for name, viz, dataset_id, params, query in finance.chart_specs(datasets, close):
        params = {**params, "datasource": f"{dataset_id}__table"}
        context = {
            "datasource": {"id": dataset_id, "type": "table"},
            "force": False,
            "queries": [query],
            "form_data": params,
            "result_format": "json",
            "result_type": "full",
        }
        charts[name] = _chart(
            client,
            f"{request.title}: {name}",
            viz,
            dataset_id,
            params,
            dashboard_id,
            description=f"Month-end close of {shown} (workbench superset-dashboard)",
            query_context=context,
        )
    result = _laid_out(client, request.title, dashboard_id, charts)
    result.close = shown
    return result


def _dashboard(client: SupersetClient, title: str) -> int:
    """The dashboard titled ``title``, made if there is none."""
    found = client.find("dashboard", dashboard_title=title)
    if found:
        return int(found[0]["id"])
    made = client.call(
        "POST",
        "/api/v1/dashboard/",
        {"dashboard_title": title, "published": True},
        what=f"create dashboard {title!r}",
    )
    return int(made["id"])


def _chart(
    client: SupersetClient,
    name: str,
    viz: str,
    dataset_id: int,
    params: dict[str, Any],
    dashboard_id: int,
    *,
    description: str | None = None,
    query_context: dict[str, Any] | None = None,
) -> int:
    """Chart ``name`` on the dashboard, updated if one has that name, else made."""
    body: dict[str, Any] = {
        "slice_name": name,
        "viz_type": viz,
        "datasource_id": dataset_id,
        "datasource_type": "table",
        "params": json.dumps(params),
        "dashboards": [dashboard_id],
    }
    if description is not None:
        body["description"] = description
    if query_context is not None:
        # What Superset's API, reports and cache warm-up run for the chart.
        body["query_context"] = json.dumps(query_context)
        body["query_context_generation"] = True
    existing = client.find("chart", slice_name=name)
    if existing:
        chart_id = int(existing[0]["id"])
        client.call("PUT", f"/api/v1/chart/{chart_id}", body, what=f"update chart {name!r}")
        return chart_id
    made = client.call("POST", "/api/v1/chart/", body, what=f"create chart {name!r}")
    return int(made["id"])


def _laid_out(
    client: SupersetClient, title: str, dashboard_id: int, charts: dict[str, int]
) -> DashboardResult:
    client.call(
        "PUT",
        f"/api/v1/dashboard/{dashboard_id}",
        {"position_json": json.dumps(_layout(list(charts.values())))},
        what=f"lay out dashboard {title!r}",
    )
    return DashboardResult(
        dashboard_id=dashboard_id,
        dashboard_url=f"{client.url}/superset/dashboard/{dashboard_id}/",
        charts=charts,
    )


def _layout(chart_ids: list[int]) -> dict[str, object]:
    """Superset's dashboard layout: one row per chart, full width."""
    layout: dict[str, object] = {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"type": "ROOT", "id": "ROOT_ID", "children": ["GRID_ID"]},
        "GRID_ID": {"type": "GRID", "id": "GRID_ID", "children": [], "parents": ["ROOT_ID"]},
    }
    for chart_id in chart_ids:
        row, chart = f"ROW-{chart_id}", f"CHART-{chart_id}"
        layout["GRID_ID"]["children"].append(row)  # type: ignore[index]
        layout[row] = {
            "type": "ROW",
            "id": row,
            "children": [chart],
            "parents": ["ROOT_ID", "GRID_ID"],
            "meta": {"background": "BACKGROUND_TRANSPARENT"},
        }
        layout[chart] = {
            "type": "CHART",
            "id": chart,
            "children": [],
            "parents": ["ROOT_ID", "GRID_ID", row],
            "meta": {"chartId": chart_id, "width": 12, "height": 50},
        }
    return layout
