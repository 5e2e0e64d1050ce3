"""The installed workbench kernel spec starts a kernel with the workbench extension."""

from __future__ import annotations

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import start_new_kernel

from workbench_server import __version__


def _run(client, code: str) -> tuple[dict, list[dict]]:
    outputs: list[dict] = []
    reply = client.execute_interactive(
        code, timeout=30, output_hook=lambda msg: outputs.append(msg)
    )
    return reply["content"], outputs


def test_kernel_spec_is_installed_and_loads_the_extension() -> None:
    spec = KernelSpecManager().get_kernel_spec("workbench")
    assert spec.display_name == "Workbench (Python 3)"
    manager, client = start_new_kernel(kernel_name="workbench", startup_timeout=60)
    try:
        reply, outputs = _run(client, "v = %workbench version\nprint(v)")
        assert reply["status"] == "ok"
        printed = "".join(
            m["content"].get("text", "") for m in outputs if m["msg_type"] == "stream"
        )
        assert printed.strip() == __version__

        # A user mistake is one line, not a traceback.
        reply, outputs = _run(client, "%workbench nonsense")
        assert (reply["status"], reply["ename"], reply["traceback"]) == ("error", "UsageError", [])
        shown = [m["content"]["text"] for m in outputs if m["msg_type"] == "stream"]
        assert shown == [
            "UsageError: %workbench: unknown subcommand 'nonsense'; "
            "choose one of connections, refresh, version, home\n"
        ]
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_outside_a_workbench_sql_says_why_there_are_no_connections(monkeypatch) -> None:
    """Started by plain Jupyter, the kernel has no workbench to ask: %sql says so, not
    jupysql's "connection None: No active connection"."""
    for name in ("WORKBENCH_API_URL", "WORKBENCH_KERNEL_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    manager, client = start_new_kernel(kernel_name="workbench", startup_timeout=60)
    try:
        for code in ("%sql SELECT 1", "%%sql\nSELECT 1", "%sql odoo SELECT 1"):
            reply, outputs = _run(client, code)
            assert (reply["status"], reply["ename"], reply["traceback"]) == (
                "error",
                "UsageError",
                [],
            ), code
            shown = [m["content"]["text"] for m in outputs if m["msg_type"] == "stream"]
            assert shown == [
                "UsageError: %sql: this kernel was not started by a workbench server or "
                "pipeline worker, so it has no connections\n"
            ], code
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
