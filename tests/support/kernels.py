"""Run code in a real workbench kernel started by a real jupyter-server."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Outcome:
    status: str
    stdout: str = ""
    stderr: str = ""
    error: dict[str, Any] = field(default_factory=dict)
    displays: list[dict[str, Any]] = field(default_factory=list)

    @property
    def everything(self) -> str:
        """All a user would see, for secret and traceback checks."""
        return json.dumps([self.stdout, self.stderr, self.error, self.displays])


class KernelSession:
    """An async client on a kernel of the server under test."""

    def __init__(self, client: Any, interrupt: Callable[[], Awaitable[None]] | None = None) -> None:
        self.client = client
        self.seen: list[Outcome] = []
        self.interrupt = interrupt  # the kernel manager's interrupt_kernel, where given

    async def run(self, code: str, timeout: float = 120) -> Outcome:
        outcome = Outcome(status="?")

        def hook(msg: dict[str, Any]) -> None:
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                if content["name"] == "stdout":
                    outcome.stdout += content["text"]
                else:
                    outcome.stderr += content["text"]
            elif kind in ("display_data", "execute_result"):
                outcome.displays.append(content["data"])
            elif kind == "error":
                outcome.error = content

        reply = await self.client.execute_interactive(code, output_hook=hook, timeout=timeout)
        outcome.status = reply["content"]["status"]
        if outcome.status == "error" and not outcome.error:
            outcome.error = {k: reply["content"].get(k) for k in ("ename", "evalue", "traceback")}
        self.seen.append(outcome)
        return outcome

    async def value(self, expression_code: str) -> Any:
        """Run code whose last line prints JSON; return it decoded."""
        outcome = await self.run(expression_code)
        assert outcome.status == "ok", outcome.everything
        return json.loads(outcome.stdout.strip().splitlines()[-1])


@contextmanager
def workbench_kernel(serverapp: Any, loop: Any) -> Iterator[KernelSession]:
    """A workbench kernel started by ``serverapp`` on ``loop`` (pytest-jupyter runs no
    async fixtures; the test's ``http_server_client`` makes the server listen, so the
    kernel can reach its API), shut down afterwards."""
    manager = serverapp.kernel_manager
    run = loop.run_until_complete
    kernel_id = run(manager.start_kernel(kernel_name="workbench"))
    client = manager.get_kernel(kernel_id).client()
    client.start_channels()
    try:
        run(client.wait_for_ready(timeout=90))
        yield KernelSession(client, manager.get_kernel(kernel_id).interrupt_kernel)
    finally:
        client.stop_channels()
        run(manager.shutdown_kernel(kernel_id, now=True))
