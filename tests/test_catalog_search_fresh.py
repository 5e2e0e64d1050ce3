"""Search answers from memory and still shows what changed: at once for changes of this
process (curation, scans, sharing and unsharing, usage), within a second for changes of
other processes (a CLI command, the worker's scans), and never a deleted connection's
tables under a new connection that took its id."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable

import pytest
from sqlalchemy import event

from tests.support.postgres import postgres_settings
from tests.support.processes import base_env, run_workbench
from workbench_server.catalog import CatalogService, TablePatch, snapshot
from workbench_server.connections import ConnectionCreate, ConnectionService, ConnectionUpdate
from workbench_server.principal import Principal, local_principal

BOB = Principal(name="bob", groups=frozenset({"finance"}))


@pytest.fixture
def catalog(workbench, odoo_db: str) -> CatalogService:
    """The local user's catalog of an Odoo database shared with the finance group."""
    ConnectionService(workbench, local_principal()).create(
        ConnectionCreate(
            name="odoo", shared_groups=["finance"], settings=postgres_settings(odoo_db)
        )
    )
    catalog = CatalogService(workbench, local_principal())
    catalog.scan("odoo")
    return catalog


def statements(workbench) -> list[str]:
    """The SQL the metadata DB receives from now on."""
    seen: list[str] = []
    event.listen(workbench.engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


def until(check: Callable[[], bool], timeout: float) -> float:
    """Seconds until ``check()`` held (fails after ``timeout``)."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, "not seen in time"
        time.sleep(0.02)
    return time.monotonic() - started


def in_another_process(home, code: str) -> None:
    script = (
        "from workbench_server.core import Workbench\n"
        "from workbench_server.settings import WorkbenchSettings\n"
        "from workbench_server.connections import *\n"
        "from workbench_server.principal import local_principal\n"
        f"wb = Workbench(WorkbenchSettings.from_env({str(home)!r}))\n"
        "connections = ConnectionService(wb, local_principal())\n"
        f"{code}\n"
        "wb.close()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=base_env(home), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_a_search_reads_nothing_from_the_metadata_db_while_fresh(
    workbench, catalog, monkeypatch
) -> None:
    monkeypatch.setattr(snapshot, "MAX_STALENESS_S", 60.0)  # however slow this machine
    assert catalog.search("journal items").hits[0].table.name == "account_move_line"
    sent = statements(workbench)
    for query in ("partner", "invoice", "acount move", "res.partner", "tax"):
        assert catalog.search(query).total > 0
        assert CatalogService(workbench, BOB).search(query).total > 0
    assert sent == []
    # Once a second it asks whether anything changed: one row, and the connections.
    snapshot._held(workbench.engine).checked_at -= snapshot.MAX_STALENESS_S
    catalog.search("partner")
    assert len(sent) == 2
    assert "catalog_tables" not in " ".join(sent)


def test_unsharing_applies_to_the_next_search(workbench, catalog) -> None:
    bob = CatalogService(workbench, BOB)
    assert bob.search("journal items").total > 0
    ConnectionService(workbench, local_principal()).update(
        "odoo", ConnectionUpdate(shared_groups=[])
    )
    assert bob.search("journal items").total == 0
    assert bob.search("journal items", {"connection": "odoo"}).facets == {}
    ConnectionService(workbench, local_principal()).update(
        "odoo", ConnectionUpdate(shared_groups=["finance"])
    )
    assert bob.search("journal items").total > 0


def test_results_show_the_tables_as_they_are_now(workbench, catalog) -> None:
    move = catalog.find("odoo", "public", "account_move")
    catalog.edit_table(move.id, TablePatch(description="Shipped to Zanzibar", tags=["gl"]))
    hit = catalog.search("zanzibar").hits[0].table
    assert (hit.description, hit.tags) == ("Shipped to Zanzibar", ["gl"])
    catalog.record_usage("odoo", [("public", "account_move")], 7)
    assert catalog.search("zanzibar").hits[0].table.usage_count == 7
    # A re-scan that changed nothing still says when the table was last seen.
    catalog.scan("odoo")
    _, listed = catalog.tables("odoo", "public", limit=500)
    assert catalog.search("zanzibar").hits[0].table == next(
        t for t in listed if t.name == "account_move"
    )


def test_changes_of_another_process_show_within_a_second(workbench, catalog, home) -> None:
    bob = CatalogService(workbench, BOB)
    assert bob.search("zanzibar").total == 0
    described = run_workbench(
        "catalog",
        "describe",
        "odoo",
        "account_move",
        "--description",
        "Shipped to Zanzibar",
        env=base_env(home),
    )
    assert described.returncode == 0, described.stderr
    took = until(lambda: bob.search("zanzibar").total == 1, 5)
    assert took <= snapshot.MAX_STALENESS_S + 0.3

    in_another_process(home, "connections.update('odoo', ConnectionUpdate(shared_groups=[]))")
    took = until(lambda: bob.search("journal items").total == 0, 5)
    assert took <= snapshot.MAX_STALENESS_S + 0.3


def test_a_new_connection_never_shows_a_deleted_ones_tables(
    workbench, catalog, home, odoo_db
) -> None:
    """Another process removes the connection and makes one of the same name (SQLite
    gives it the same id), shared with nobody: its tables were never scanned."""
    bob = CatalogService(workbench, BOB)
    assert bob.search("journal items").total > 0
    settings = postgres_settings(odoo_db)
    in_another_process(
        home,
        "connections.delete('odoo')\n"
        f"connections.create(ConnectionCreate(name='odoo', settings={settings!r}))",
    )
    until(lambda: catalog.search("journal items").total == 0, 5)
    assert bob.search("journal items").total == 0
    assert catalog.search("journal items", {"connection": "odoo"}).total == 0


def test_an_event_loop_gets_the_same_page_from_memory_or_is_told_to_wait(
    workbench, catalog, monkeypatch
) -> None:
    from workbench_server.catalog import searching

    monkeypatch.setattr(snapshot, "MAX_STALENESS_S", 60.0)  # however slow this machine
    bob = CatalogService(workbench, BOB)
    page = bob.search("journal items", {"kind": "table"}, 1, 3)
    sent = bob.search_json_in_memory("journal items", {"kind": "table"}, 1, 3)
    assert sent == page.model_dump_json(by_alias=True).encode()
    # A check of the metadata DB is due: the caller hands the search to a thread.
    snapshot._held(workbench.engine).checked_at -= snapshot.MAX_STALENESS_S
    assert bob.search_json_in_memory("journal items") is None
    assert (
        bob.search_json("journal items")
        == bob.search("journal items").model_dump_json(by_alias=True).encode()
    )
    assert bob.search_json_in_memory("journal items") is not None
    monkeypatch.setattr(searching, "IN_MEMORY_DOCS", 10)  # a catalog too large for it
    assert bob.search_json_in_memory("journal items") is None


@pytest.mark.parametrize("who", [local_principal(), BOB, Principal(name="stranger")])
def test_the_json_sent_is_the_page_serialized(workbench, catalog, who) -> None:
    """The REST answer is built from each table's JSON kept in memory: byte for byte what
    serializing the page gives, whatever the query, filters, page and rights."""
    catalog.edit_table(
        catalog.find("odoo", "public", "res_partner").id,
        TablePatch(description='Contacts: "quotes", \\ back-slashes, émigré ✓', tags=["pii"]),
    )
    catalog.record_usage("odoo", [(None, "res_partner")], 3)
    service = CatalogService(workbench, who)
    for query in ("partner", "émigré", "acount move", "id", "res.partner", "x", "tax rate"):
        for filters in (None, {"tag": "pii"}, {"kind": "table", "schema": "public"}):
            for offset, limit in ((0, 20), (2, 3), (0, 200)):
                page = service.search(query, filters, offset, limit)
                sent = service.search_json(query, filters, offset, limit)
                assert sent == page.model_dump_json(by_alias=True).encode(), (query, filters)


@pytest.mark.parametrize("who", [local_principal(), BOB, Principal(name="stranger")])
def test_an_agents_search_from_memory_is_its_answer_from_the_db_and_follows_edits(
    workbench, catalog, monkeypatch, who
) -> None:
    """The MCP search tool answers from each table's hit kept in memory: the same answer
    its DB path gives, for each caller's rights, and an edited table is shown as it is
    now (its kept hit is dropped with its summary)."""
    import json

    from workbench_server.agents.tools import AgentTools

    monkeypatch.setattr(snapshot, "MAX_STALENESS_S", 60.0)  # however slow this machine
    agent = AgentTools(workbench, who)
    for query in ("partner", "journal items", "acount move", "res.partner", "x", "zanzibar"):
        for limit in (1, 3, 50):
            answer = agent.search(query, limit)
            kept = agent.search_in_memory(query, limit)
            assert kept is not None and json.loads(kept) == answer, (query, limit)
    move = catalog.find("odoo", "public", "account_move")
    catalog.edit_table(move.id, TablePatch(description='Shipped to "Zanzibar" ✓'))
    found = agent.search("zanzibar", 5)  # (memory says "not now" until a search reads it)
    assert json.loads(agent.search_in_memory("zanzibar", 5)) == found
    if who.name == "stranger":  # may use no connection: sees no table
        assert found["total"] == 0
    else:
        assert [(t["ref"], t["description"]) for t in found["tables"]] == [
            ("odoo.public.account_move", 'Shipped to "Zanzibar" ✓')
        ]


def test_the_pages_of_a_result_list_are_ranked_once(workbench, catalog, monkeypatch) -> None:
    index = snapshot.current(workbench).index
    ranked = []
    original = index._rank
    monkeypatch.setattr(index, "_rank", lambda *args: ranked.append(args) or original(*args))
    whole = catalog.search("id", limit=16)
    assert whole.total > 16
    pages = [catalog.search("id", offset=offset, limit=4) for offset in range(0, 16, 4)]
    assert [h.table.id for p in pages for h in p.hits] == [h.table.id for h in whole.hits]
    assert {p.total for p in pages} == {whole.total} and len(ranked) == 1
    # New usage counts rank anew.
    catalog.record_usage("odoo", [(None, whole.hits[-1].table.name)], 1000)
    assert catalog.search("id", limit=1).hits[0].table.id == whole.hits[-1].table.id
