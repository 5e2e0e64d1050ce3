"""REST /workbench/api/lake over a real jupyter-server: tables, versions and diffs of the
default lake (every user's) and of lake connections (only for those who may use them)."""

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


@pytest.fixture
def jp_server_config(home: Path, tmp_path: Path):
    return workbench_server(home, data_roots=[str(tmp_path)], principal_provider_class=PROVIDER)


async def _json(jp_fetch, *path: str, **kwargs):
    response = await jp_fetch("workbench", "api", "lake", *path, **kwargs)
    return json.loads(response.body)


async def _error(jp_fetch, *path: str, **kwargs) -> tuple[int, str]:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("workbench", "api", "lake", *path, **kwargs)
    return info.value.code, json.loads(info.value.response.body)["message"]


def _history(lake: Lake) -> None:
    run = WriterInfo(pipeline="close", run_id="r-3", step="merge", attempt=1, user="ana")
    lake.write("silver.partners", pa.table({"id": [1, 2], "city": ["Lyon", "Gent"]}), writer=run)
    lake.write(
        "silver.partners",
        pa.table({"id": [2, 3], "city": ["Gand", "Oslo"]}),
        mode="merge",
        keys=["id"],
        writer=run,
    )


async def test_versions_and_diffs_of_the_default_lake(jp_fetch, home: Path) -> None:
    lake = Lake.default(WorkbenchSettings.from_env(home))
    _history(lake)

    assert await _json(jp_fetch, "tables") == [
        {
            "table": "silver.partners",
            "format": "delta",
            "location": lake.uri("silver.partners"),
            "version": 2,  # its current version, as the versions below say
        }
    ]
    versions = await _json(jp_fetch, "tables", "silver.partners", "versions")
    assert [(v["version"], v["operation"], v["mode"]) for v in versions] == [
        (2, "WRITE", "merge"),  # computed by DuckDB, committed as Delta's WRITE
        (1, "WRITE", "append"),
        (0, "CREATE TABLE", "create"),
    ]
    merge = versions[0]
    assert merge["writer"]["run_id"] == "r-3" and merge["writer"]["user"] == "ana"
    assert (merge["rows_added"], merge["rows_updated"], merge["keys"]) == (1, 1, ["id"])
    page = await _json(
        jp_fetch, "tables", "silver.partners", "versions", params={"limit": "1", "before": "2"}
    )
    assert [v["version"] for v in page] == [1]

    diff = await _json(
        jp_fetch, "tables", "silver.partners", "diff", params={"from": "1", "to": "2"}
    )
    assert (diff["added"], diff["removed"], diff["changed"]) == (1, 0, 1)
    assert diff["changed_rows"] == [
        {"key": {"id": 2}, "before": {"city": "Gent"}, "after": {"city": "Gand"}}
    ]
    # The default lake is every user's to read.
    other = await _json(
        jp_fetch,
        "tables",
        "silver.partners",
        "diff",
        params={"from": "2", "to": "1", "key": "id"},
        headers=as_user("bo"),
    )
    assert other["removed_rows"] == [{"id": 3, "city": "Oslo"}]

    assert await _error(jp_fetch, "tables", "x", "versions") == (
        400,
        "'x' is not a lake table name: use layer.name with a layer of bronze, silver, gold "
        "and a name of letters, digits and _ (e.g. silver.invoices)",
    )
    assert await _error(jp_fetch, "tables", "gold.none", "versions") == (
        404,
        "no lake table gold.none in lake",
    )
    assert await _error(
        jp_fetch, "tables", "silver.partners", "diff", params={"from": "1", "to": "9"}
    ) == (404, "silver.partners has versions 0 to 2, not 9")
    code, message = await _error(jp_fetch, "tables", "silver.partners", "diff", params={"to": "1"})
    assert (code, message) == (400, "from: the version to diff from is required")
    code, _ = await _error(
        jp_fetch,
        "tables",
        "silver.partners",
        "diff",
        params={"from": "1", "to": "2", "key": "id;drop"},
    )
    assert code == 400


async def test_a_lake_connection_is_read_only_by_those_who_may_use_it(
    jp_fetch, tmp_path: Path
) -> None:
    folder = tmp_path / "finance-lake"
    body = {"name": "finance_lake", "settings": {"kind": "lake", "location": str(folder)}}
    await jp_fetch("workbench", "api", "connections", method="POST", body=json.dumps(body))
    _history(Lake.at(str(folder), name="finance_lake"))
    params = {"lake": "finance_lake"}

    mine = await _json(jp_fetch, "tables", "silver.partners", "versions", params=params)
    assert len(mine) == 3
    # Another user, whom the connection is not shared with: as if it did not exist.
    for path in (("tables",), ("tables", "silver.partners", "versions")):
        assert await _error(jp_fetch, *path, params=params, headers=as_user("eve")) == (
            404,
            "no connection named 'finance_lake'",
        )
    code, _ = await _error(
        jp_fetch,
        "tables",
        "silver.partners",
        "diff",
        params={**params, "from": "1", "to": "2"},
        headers=as_user("eve"),
    )
    assert code == 404
    # Shared with their group, it is theirs to read too.
    await jp_fetch(
        "workbench",
        "api",
        "connections",
        "finance_lake",
        method="PATCH",
        body=json.dumps({"shared_groups": ["finance"]}),
    )
    shared = await _json(
        jp_fetch, "tables", "silver.partners", "versions", params=params, headers=as_user("eve")
    )
    assert [v["version"] for v in shared] == [2, 1, 0]
    # Scheduling the default lake's maintenance is an admin's.
    code, message = await _error(
        jp_fetch,
        "maintenance",
        "schedule",
        method="PUT",
        body=json.dumps({"cron": "0 3 * * *"}),
        headers=as_user("eve"),
    )
    assert (code, message) == (
        403,
        "the default lake is every user's: only an admin may schedule its maintenance",
    )


async def test_a_bad_maintenance_schedule_names_the_field(jp_fetch) -> None:
    """A cron or time zone the schedule cannot take is a 400 that says which field is
    wrong (the message said "hour '25' is not a value in 0-23" of nothing named)."""
    for body, expected in (
        ({"cron": "0 25 * * *"}, "cron: bad cron expression '0 25 * * *': hour '25' is not"),
        ({"cron": "0 3 * *"}, "cron: bad cron expression '0 3 * *'"),
        ({"cron": "0 3 * * *", "timezone": "Mars/Olympus"}, "timezone: unknown time zone"),
    ):
        code, message = await _error(
            jp_fetch, "maintenance", "schedule", method="PUT", body=json.dumps(body)
        )
        assert code == 400 and message.startswith(expected), (body, message)
