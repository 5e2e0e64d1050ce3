"""The installed workbench kernel spec starts a kernel with the workbench extension."""

from __future__ import annotations

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import start_new_kernel

from workbench_server import __version__


def test_kernel_spec_is_installed_and_loads_the_extension() -> None:
    spec = KernelSpecManager().get_kernel_spec("workbench")
    assert spec.display_name == "Workbench (Python 3)"
    manager, client = start_new_kernel(kernel_name="workbench", startup_timeout=60)
    try:
        reply = client.execute_interactive("print(%workbench version)", timeout=30)
        assert reply["content"]["status"] == "ok"
        outputs: list[str] = []
        client.execute_interactive(
            "%workbench nonsense",
            timeout=30,
            output_hook=lambda msg: outputs.append(str(msg["content"])),
        )
        joined = " ".join(outputs)
        assert "unknown subcommand 'nonsense'" in joined
        assert "Traceback" not in joined
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_kernel_prints_the_version() -> None:
    manager, client = start_new_kernel(kernel_name="workbench", startup_timeout=60)
    try:
        seen: list[str] = []
        client.execute_interactive(
            "print(%workbench version)",
            timeout=30,
            output_hook=lambda msg: seen.append(msg["content"].get("text", "")),
        )
        assert __version__ in "".join(seen)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
