"""REST: a lake table's versions in the catalog and its preview as of a version, over a
real jupyter-server, for the default lake (every user's) and a lake connection (its
users' only)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from tornado.httpclient import HTTPClientError

from tests.support.servers import workbench_server
from tests.ui.principals import HeaderPrincipalProvider, as_user
from workbench_server.lake import Lake, WriterInfo
from workbench_server.settings import WorkbenchSettings

PROVIDER = f"{HeaderPrincipalProvider.__module__}.{HeaderPrincipalProvider.__name__}"
RUN = WriterInfo(pipeline="close", run_id="r-3", step="merge", attempt=1, user="ana")


@pytest.fixture
def jp_server_config(home: Path, tmp_path: Path):
    return workbench_server(home, data_roots=[str(tmp_path)], principal_provider_class=PROVIDER)


async def _json(jp_fetch, *path: str, **kwargs):
    response = await jp_fetch("workbench", "api", "catalog", *path, **kwargs)
    return json.loads(response.body)


async def _error(jp_fetch, *path: str, **kwargs) -> tuple[int, str]:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("workbench", "api", "catalog", *path, **kwargs)
    return info.value.code, json.loads(info.value.response.body)["message"]


def _history(lake: Lake) -> None:
    lake.write("silver.partners", pa.table({"id": [1, 2], "city": ["Lyon", "Gent"]}), writer=RUN)
    lake.write(
        "silver.partners",
        pa.table({"id": [2, 3], "city": ["Gand", "Oslo"]}),
        mode="merge",
        keys=["id"],
        writer=RUN,
    )


async def _table_id(jp_fetch, connection: str, **kwargs) -> int:
    page = await _json(jp_fetch, "tables", params={"connection": connection}, **kwargs)
    [table] = page["items"]
    return table["id"]


async def test_versions_and_previews_as_of_a_version(jp_fetch, home: Path) -> None:
    _history(Lake.default(WorkbenchSettings.from_env(home)))
    # Any user lists the sources (the default lake among them) and scans the lake.
    sources = await _json(jp_fetch, "sources", headers=as_user("bo"))
    assert [s["connection"] for s in sources] == ["lake"]
    scan = await _json(
        jp_fetch, "sources", "lake", "scans", method="POST", body=b"", headers=as_user("bo")
    )
    assert scan["status"] == "succeeded"
    table = await _table_id(jp_fetch, "lake", headers=as_user("bo"))
    detail = await _json(jp_fetch, "tables", str(table))
    assert (detail["extra"]["version"], detail["extra"]["versions"]) == (2, 3)
    assert detail["extra"]["last_writer"] == "pipeline close run r-3 step merge attempt 1 by ana"

    versions = await _json(jp_fetch, "tables", str(table), "versions", headers=as_user("bo"))
    assert [(v["version"], v["mode"], v["rows_added"]) for v in versions] == [
        (2, "merge", 1),
        (1, "append", 2),
        (0, "create", 0),
    ]
    assert versions[0]["writer"]["run_id"] == "r-3"
    page = await _json(
        jp_fetch, "tables", str(table), "versions", params={"limit": "1", "before": "2"}
    )
    assert [v["version"] for v in page] == [1]

    now = await _json(jp_fetch, "tables", str(table), "preview")
    assert now["version"] is None and sorted(now["rows"]) == [[1, "Lyon"], [2, "Gand"], [3, "Oslo"]]
    then = await _json(jp_fetch, "tables", str(table), "preview", params={"version": "1"})
    assert then["version"] == 1 and sorted(then["rows"]) == [[1, "Lyon"], [2, "Gent"]]
    assert then["notes"][0] == "as of version 1"
    assert await _error(jp_fetch, "tables", str(table), "preview", params={"version": "7"}) == (
        404,
        "silver.partners has versions 0 to 2, not 7",
    )
    code, message = await _error(
        jp_fetch, "tables", str(table), "preview", params={"version": "-1"}
    )
    assert (code, message) == (400, f"version: a whole number from 0 to {2**62}")
    code, _ = await _error(jp_fetch, "tables", str(table), "versions", params={"before": "0"})
    assert code == 400


async def test_a_lake_connections_versions_are_its_users_only(jp_fetch, tmp_path: Path) -> None:
    folder = tmp_path / "finance-lake"
    body = {"name": "finance_lake", "settings": {"kind": "lake", "location": str(folder)}}
    await jp_fetch("workbench", "api", "connections", method="POST", body=json.dumps(body))
    _history(Lake.at(str(folder), name="finance_lake"))
    await _json(jp_fetch, "sources", "finance_lake", "scans", method="POST", body=b"")
    table = await _table_id(jp_fetch, "finance_lake")
    assert len(await _json(jp_fetch, "tables", str(table), "versions")) == 3
    fresh = await _json(jp_fetch, "tables", str(table), "freshness")
    assert (fresh["version"], fresh["versions"]) == (2, 3)
    for path, params in (
        ("versions", {}),
        ("preview", {"version": "1"}),
        ("preview", {}),
        ("freshness", {}),
    ):
        assert await _error(
            jp_fetch, "tables", str(table), path, params=params, headers=as_user("eve")
        ) == (404, f"no catalog table {table}")


async def test_a_scan_of_named_lake_tables(jp_fetch, home: Path) -> None:
    lake = Lake.default(WorkbenchSettings.from_env(home))
    _history(lake)
    await _json(jp_fetch, "sources")  # the default lake's source
    scan = await _json(
        jp_fetch,
        "sources",
        "lake",
        "scans",
        method="POST",
        body=b"",
        params={"table": "silver.partners"},
    )
    assert scan["stats"]["only"] == ["silver.partners"] and scan["stats"]["tables"] == 1
    code, message = await _error(
        jp_fetch,
        "sources",
        "lake",
        "scans",
        method="POST",
        body=b"",
        params={"table": "silver.partners", "wait": "false"},
    )
    assert (code, message) == (400, "table: a scan of named tables runs at once (wait)")
