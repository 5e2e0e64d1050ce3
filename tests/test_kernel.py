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
