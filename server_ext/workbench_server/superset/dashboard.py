"""A starter dashboard in Superset: lake tables published, one table chart each, laid
out on one dashboard (made through Superset's REST API; made again it is updated, its
charts reused by name)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from .client import SupersetClient
from .publish import PublishRequest, _superset_settings, publish

if TYPE_CHECKING:
    from ..core import Workbench
    from ..principal import Principal

MAX_TABLES = 12


class DashboardRequest(BaseModel):
    model_config = {"extra": "forbid"}

    title: str = Field(min_length=1, max_length=200)
    to: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")
    tables: list[str] = Field(min_length=1, max_length=MAX_TABLES)
    lake: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]{0,62}$")


class DashboardResult(BaseModel):
    dashboard_id: int
    dashboard_url: str
    charts: dict[str, int]  # table -> chart id


def starter_dashboard(
    workbench: Workbench, principal: Principal, request: DashboardRequest
) -> DashboardResult:
    published = {
        table: publish(
            workbench, principal, PublishRequest(table=table, to=request.to, lake=request.lake)
        )
        for table in request.tables
    }
    client = SupersetClient(_superset_settings(workbench, principal, request.to)).login()
    found = client.find("dashboard", dashboard_title=request.title)
    if found:
        dashboard_id = int(found[0]["id"])
    else:
        made = client.call(
            "POST",
            "/api/v1/dashboard/",
            {"dashboard_title": request.title, "published": True},
            what=f"create dashboard {request.title!r}",
        )
        dashboard_id = int(made["id"])
    charts: dict[str, int] = {}
    for table, result in published.items():
        name = f"{request.title}: {table}"
        params = {
            "datasource": f"{result.dataset_id}__table",
            "viz_type": "table",
            "query_mode": "raw",
            "all_columns": result.columns,
            "row_limit": 1000,
        }
        body = {
            "slice_name": name,
            "viz_type": "table",
            "datasource_id": result.dataset_id,
            "datasource_type": "table",
            "params": json.dumps(params),
            "dashboards": [dashboard_id],
        }
        existing = client.find("chart", slice_name=name)
        if existing:
            chart_id = int(existing[0]["id"])
            client.call("PUT", f"/api/v1/chart/{chart_id}", body, what=f"update chart {name!r}")
        else:
            made = client.call("POST", "/api/v1/chart/", body, what=f"create chart {name!r}")
            chart_id = int(made["id"])
        charts[table] = chart_id
    client.call(
        "PUT",
        f"/api/v1/dashboard/{dashboard_id}",
        {"position_json": json.dumps(_layout(list(charts.values())))},
        what=f"lay out dashboard {request.title!r}",
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
