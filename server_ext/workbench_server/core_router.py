"""Routes ``/workbench/...`` requests to the workbench's handlers once the core is open.

With ``WorkbenchApp.core_in_background`` (``workbench up`` sets it), JupyterLab starts
serving without the core (SQLAlchemy, the models, Temporal's client, the handlers: about
1 s of CPU); the core then opens while the server runs. A request that comes before it is
open is held, not refused: it reaches its handler, as any other, once the core is there.
This module imports nothing but Tornado and jupyter-server, which the server has loaded.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from jupyter_server.base.handlers import APIHandler
from tornado import httputil
from tornado.routing import Matcher, PathMatches, Rule, RuleRouter
from tornado.web import Application, HTTPError, RequestHandler

log = logging.getLogger(__name__)


class CoreRouter(RuleRouter):
    """The workbench's routes, and until they exist, a delegate that holds the request."""

    def __init__(self, app: Application, prefix: str) -> None:
        super().__init__()
        self.app = app
        self.matcher: Matcher = PathMatches(re.escape(prefix) + ".*")
        self.opened = asyncio.Event()
        self.failure = ""

    def rule(self) -> Rule:
        return Rule(self.matcher, self)

    def open(self, handlers: list[tuple[Any, ...]]) -> None:
        """The core is open: route to ``handlers`` (pattern, class[, kwargs]) from now on."""
        self.add_rules(handlers)
        self.opened.set()

    def failed(self, reason: str) -> None:
        """The core could not open: every workbench request answers 503 with ``reason``."""
        self.failure = reason
        self.opened.set()

    def get_target_delegate(
        self, target: Any, request: httputil.HTTPServerRequest, **target_params: Any
    ) -> httputil.HTTPMessageDelegate | None:
        if isinstance(target, type) and issubclass(target, RequestHandler):
            return self.app.get_handler_delegate(request, target, **target_params)
        return super().get_target_delegate(target, request, **target_params)

    def find_handler(
        self, request: httputil.HTTPServerRequest, **kwargs: Any
    ) -> httputil.HTTPMessageDelegate | None:
        if not self.opened.is_set():
            return _Held(self, request)
        if self.failure:
            return self.app.get_handler_delegate(
                request, CoreUnavailableHandler, {"reason": self.failure}
            )
        # No workbench route matches: the application's next rules (its 404) answer.
        return super().find_handler(request, **kwargs)


class CoreUnavailableHandler(APIHandler):
    """What every workbench request answers when the core could not open: 503 and why, to
    a signed-in user (403 to anyone else, as the workbench's routes would)."""

    def initialize(self, reason: str) -> None:
        self.reason = reason

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        if self.current_user is None:
            raise HTTPError(403)
        raise HTTPError(503, reason="Workbench Unavailable")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        message = f"the workbench could not start: {self.reason}" if status_code == 503 else ""
        self.finish({"error": message or "Forbidden"})


class _Held(httputil.HTTPMessageDelegate):
    """Keeps what a connection delivers of one request until the core is open, then hands
    it, in the same order, to the delegate the workbench's routes give for it."""

    def __init__(self, router: CoreRouter, request: httputil.HTTPServerRequest) -> None:
        self.router = router
        self.request = request
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.delegate: httputil.HTTPMessageDelegate | None = None
        self.closed = False

    def headers_received(
        self,
        start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
        headers: httputil.HTTPHeaders,
    ) -> Awaitable[None] | None:
        self.calls.append(("headers_received", (start_line, headers)))
        return None

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        self.calls.append(("data_received", (chunk,)))
        return None

    def finish(self) -> None:
        self.calls.append(("finish", ()))
        task = asyncio.ensure_future(self._hand_over())
        task.add_done_callback(_log_failure)

    def on_connection_close(self) -> None:
        self.closed = True
        if self.delegate is not None:
            self.delegate.on_connection_close()

    async def _hand_over(self) -> None:
        await self.router.opened.wait()
        if self.closed:
            return
        # The workbench's handler, or when none matches, the application's (its 404).
        self.delegate = self.router.find_handler(self.request) or self.router.app.find_handler(
            self.request
        )
        for name, args in self.calls:
            method: Callable[..., Awaitable[None] | None] = getattr(self.delegate, name)
            result = method(*args)
            if inspect.isawaitable(result):
                await result


def _log_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("a held workbench request failed", exc_info=task.exception())
