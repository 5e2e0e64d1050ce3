"""Browser tests of the JupyterLab panels: one real ``workbench up`` per module (with the
demo data), driven by a real Chromium through Playwright.

Chromium is Debian's (``apt-get install chromium``); Playwright never downloads a browser
here (no ``playwright install``). A failing test leaves a screenshot in
``tests/ui/artifacts/<test>.png``.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from tests.support.processes import WorkbenchUp, base_env
from tests.ui.principals import as_user, write_server_config

ROOT = Path(__file__).resolve().parents[2]
# Where `npm run build` in extensions/core writes the labextension.
LABEXTENSION = ROOT / "server_ext" / "workbench_server" / "labextension"
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT = {"width": 1400, "height": 900}
# Every wait in a browser test is bounded by this unless it says otherwise (ms).
UI_TIMEOUT_MS = 20_000
expect.set_options(timeout=UI_TIMEOUT_MS)


def chromium_path() -> str:
    """Debian's Chromium (or ``$WORKBENCH_CHROMIUM``); a clear failure when missing."""
    found = os.environ.get("WORKBENCH_CHROMIUM") or shutil.which("chromium")
    if not found and Path("/usr/bin/chromium").exists():
        found = "/usr/bin/chromium"
    if not found:
        pytest.fail(
            "the browser tests need Chromium: `apt-get install -y chromium` "
            "(or set WORKBENCH_CHROMIUM to a Chromium binary)"
        )
    return found


def lab_env(root: Path) -> dict[str, str]:
    """Environment of a throwaway workbench whose JupyterLab state stays under ``root``.

    JupyterLab's user settings and workspaces would otherwise go to ``~/.jupyter`` and
    leak between runs (and into the developer's own JupyterLab). The labextension is the
    checkout's build, put first on ``JUPYTER_PATH``, so the tests see the TypeScript as
    built last rather than whatever copy an earlier ``pip install`` left in the
    environment. Requests with a test user's header act as that user (see
    ``tests/ui/principals.py``).
    """
    env = base_env(root / "home")
    config = write_server_config(root / "jupyter-config")
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(
        p for p in (str(config), os.environ.get("JUPYTER_CONFIG_PATH", "")) if p
    )
    # The provider lives in this checkout's tests package.
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
    )
    # Empty: the distribution's own defaults apply (no news pop-up over the buttons the
    # tests click, as for every user).
    settings = root / "lab-settings"
    settings.mkdir(parents=True)
    env["JUPYTERLAB_SETTINGS_DIR"] = str(settings)
    env["JUPYTERLAB_WORKSPACES_DIR"] = str(root / "lab-workspaces")
    if (LABEXTENSION / "package.json").exists():
        link = root / "jupyter-path" / "labextensions" / "@workbench" / "core"
        link.parent.mkdir(parents=True)
        link.symlink_to(LABEXTENSION, target_is_directory=True)
        paths = [str(root / "jupyter-path"), os.environ.get("JUPYTER_PATH", "")]
        env["JUPYTER_PATH"] = os.pathsep.join(p for p in paths if p)
    return env


def start_workbench(root: Path) -> WorkbenchUp:
    """``workbench up`` with the demo data on a fresh home under ``root``."""
    notebooks = root / "notebooks"
    notebooks.mkdir(parents=True)
    up = WorkbenchUp("--notebook-dir", str(notebooks), env=lab_env(root))
    try:
        return up.wait_ready(timeout=150)
    except BaseException:
        up.kill()
        raise


def stop_workbench(up: WorkbenchUp) -> None:
    try:
        up.stop(signal.SIGINT, timeout=60)
    except Exception:
        up.kill()
        raise


class Workbench:
    """A running workbench: its URL, token and a REST client."""

    def __init__(self, up: WorkbenchUp, root: Path) -> None:
        self.up = up
        self.root = root
        self.url = up.url
        self.token = up.token
        self.api = httpx.Client(
            base_url=f"{up.url}/workbench/api/",
            headers={"Authorization": f"token {up.token}"},
            timeout=30,
        )

    @property
    def lab_url(self) -> str:
        return f"{self.url}/lab?token={self.token}"


# pytest-jupyter's autouse fixtures (see tests/conftest.py) take the current event loop
# and close it after each test; here that loop is Playwright's own, still running. These
# tests start their server as a process and need neither fixture.
@pytest.fixture
def jp_asyncio_loop() -> None:
    return None


@pytest.fixture
def jp_server_cleanup() -> None:
    return None


@pytest.fixture(scope="module")
def workbench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workbench]:
    root = tmp_path_factory.mktemp("ui")
    up = start_workbench(root)
    running = Workbench(up, root)
    try:
        yield running
    finally:
        running.api.close()
        stop_workbench(up)


def wait_for_lab(page: Page) -> None:
    """Wait until JupyterLab has started and restored its layout.

    JupyterLab focuses the current main-area widget (the launcher, or what the layout
    restored) seconds after its splash screen is gone; keys typed before that land in
    the wrong place.
    """
    page.wait_for_selector("#jp-main-dock-panel", timeout=60_000)
    page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=60_000)
    page.wait_for_function(
        "() => document.activeElement?.closest('#jp-main-dock-panel') != null",
        timeout=30_000,
    )


def open_lab(page: Page, url: str, token: str) -> None:
    """JupyterLab with its default layout (``reset`` drops what an earlier page left)."""
    page.goto(f"{url}/lab?reset&token={token}")
    wait_for_lab(page)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(browser: Browser, workbench: Workbench, request: pytest.FixtureRequest) -> Iterator[Page]:
    """JupyterLab, freshly loaded with its default layout, in a new browser context."""
    yield from lab_page(browser, workbench, request)


@pytest.fixture
def bob_page(
    browser: Browser, workbench: Workbench, request: pytest.FixtureRequest
) -> Iterator[Page]:
    """JupyterLab as bob: a member of ``finance``, not an admin, owner of nothing yet."""
    yield from lab_page(browser, workbench, request, as_user("bob"))


def lab_page(
    browser: Browser,
    workbench: Workbench,
    request: pytest.FixtureRequest,
    headers: dict[str, str] | None = None,
) -> Iterator[Page]:
    """A fresh JupyterLab page whose every request carries ``headers``; a failing test
    leaves its screenshot and the page's errors."""
    context = browser.new_context(viewport=VIEWPORT, extra_http_headers=headers)
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        open_lab(page, workbench.url, workbench.token)
        yield page
    finally:
        report = getattr(request.node, "report_call", None)
        if report is None or report.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            try:
                page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"))
            except Exception as exc:  # a crashed page must not hide the test's own error
                print(f"no screenshot of {request.node.name}: {exc}")
            if errors:
                print("page errors:\n" + "\n".join(errors))
        context.close()
