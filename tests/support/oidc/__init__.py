"""A real OpenID Connect provider for tests, and a browser's way through its sign-in.

``provider.mjs`` runs panva's ``oidc-provider`` (``npm ci --prefix tests/support/oidc``)
on 127.0.0.1 with static clients and accounts. :func:`sign_in` walks the authorization
code flow as a browser does: the relying party's redirect to ``/auth``, the provider's
login form, its consent form, and the redirect back to the relying party's callback.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "provider.mjs"
FORM = re.compile(r'<form method="post" action="([^"]+)"')


@dataclass(frozen=True)
class Account:
    """Someone the provider knows: a password, the groups in their ``groups`` claim, and
    their ``preferred_username`` claim (by default the name they sign in with)."""

    password: str
    groups: tuple[str, ...]
    preferred_username: str | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "password": self.password,
            "groups": list(self.groups),
            "preferred_username": self.preferred_username,
        }


@dataclass
class OidcProvider:
    issuer: str
    proc: subprocess.Popen[str]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@contextmanager
def running_provider(
    root: Path, clients: list[dict[str, object]], accounts: dict[str, Account], timeout: float = 30
) -> Iterator[OidcProvider]:
    """Start ``provider.mjs`` with these clients and accounts; stop it on exit."""
    node = shutil.which("node")
    if node is None or not (HERE / "node_modules" / "oidc-provider").is_dir():
        raise AssertionError(
            "the OIDC tests need Node.js and `npm ci --prefix tests/support/oidc` (.ci/run does it)"
        )
    root.mkdir(parents=True, exist_ok=True)
    config = root / "oidc-provider.json"
    config.write_text(
        json.dumps({"clients": clients, "accounts": {n: a.as_json() for n, a in accounts.items()}})
    )
    config.chmod(0o600)
    log = root / "oidc-provider.log"
    with log.open("a") as err:
        proc = subprocess.Popen(
            [node, str(SCRIPT), str(config)],
            stdout=subprocess.PIPE,
            stderr=err,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
    try:
        issuer = _first_line(proc, timeout)
        if not issuer:
            raise AssertionError(f"the OIDC provider did not start:\n{log.read_text()[-4000:]}")
        yield OidcProvider(json.loads(issuer)["issuer"], proc, log)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if proc.stdout:
            proc.stdout.close()


def _first_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """The provider's ready line, or "" if it exits or stays silent for ``timeout``."""
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return line[0].strip() if line else ""


def sign_in(
    session: requests.Session,
    start: str,
    login: str,
    password: str,
    callback_path: str = "/hub/oauth_callback",
    max_steps: int = 20,
) -> requests.Response:
    """From ``start`` (the relying party's login URL) to its OAuth callback, as a browser.

    Redirects are followed one by one; the provider's login form gets ``login`` and
    ``password``, its consent form is accepted. Returns the callback's own answer (not
    followed further, so a hub does not go on to spawn a server).
    """
    url, method, data = start, "GET", None
    for _ in range(max_steps):
        answer = session.request(method, url, data=data, allow_redirects=False, timeout=30)
        if urlsplit(url).path == callback_path:
            return answer
        if answer.is_redirect:
            url, method, data = urljoin(url, answer.headers["Location"]), "GET", None
            continue
        form = FORM.search(answer.text) if answer.status_code == 200 else None
        if form is None:
            raise AssertionError(f"{method} {url} -> {answer.status_code}: {answer.text[:500]}")
        action = urljoin(url, unescape(form.group(1)))
        if action.endswith("/login"):
            data = {"login": login, "password": password}
        elif action.endswith("/confirm"):
            data = {}
        else:
            raise AssertionError(f"unexpected form {action} at {url}")
        url, method = action, "POST"
    raise AssertionError(f"no OAuth callback after {max_steps} steps from {start}")
