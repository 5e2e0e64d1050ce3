"""nginx as the team stack runs it: the repo's template and certificate script.

The compose file's nginx image renders ``images/nginx/templates/*.template`` with
``envsubst`` (only variables set in its environment, so nginx's own ``$host`` stays) and
runs ``15-workbench-certificate.sh`` first. Here the same two files are used the same
way; only the listen addresses, the upstream and the certificate paths differ (loopback,
free ports, a private folder), and nginx runs as this user with its own prefix, pid file
and logs.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from workbench_server.supervisor import free_port

ROOT = Path(__file__).resolve().parents[2]
IMAGE = ROOT / "images" / "nginx"
TEMPLATES = IMAGE / "templates"
CERT_SCRIPT = IMAGE / "15-workbench-certificate.sh"
IP = "127.0.0.1"

# What the image's own nginx.conf gives the rendered conf.d/ files: an http block.
MAIN_CONF = """\
worker_processes 1;
error_log {work}/error.log warn;
pid {work}/nginx.pid;
events {{ worker_connections 128; }}
http {{
    access_log {work}/access.log;
    client_body_temp_path {work}/tmp/body;
    proxy_temp_path {work}/tmp/proxy;
    fastcgi_temp_path {work}/tmp/fastcgi;
    uwsgi_temp_path {work}/tmp/uwsgi;
    scgi_temp_path {work}/tmp/scgi;
    include {work}/conf.d/*.conf;
}}
"""


def nginx_binary() -> str:
    """Debian's nginx; a missing one fails the test with what to install (never a skip)."""
    found = shutil.which("nginx") or next(
        (str(p) for p in (Path("/usr/sbin/nginx"), Path("/usr/local/sbin/nginx")) if p.exists()),
        None,
    )
    if found is None:
        pytest.fail("nginx is not installed: `apt-get install nginx gettext-base` (.ci/run does)")
    return found


def render(template: Path, env: dict[str, str]) -> str:
    """``envsubst`` limited to ``env``'s names, as the image's 20-envsubst script does."""
    names = " ".join(f"${{{name}}}" for name in sorted(env))
    done = subprocess.run(
        ["envsubst", names],
        input=template.read_text(),
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", "")} | env,
        timeout=10,
        check=True,
    )
    return done.stdout


@dataclass
class Nginx:
    http_url: str
    https_url: str
    cert: Path
    work: Path
    proc: subprocess.Popen[bytes]

    def error_log(self) -> str:
        log = self.work / "error.log"
        return log.read_text(errors="replace")[-4000:] if log.exists() else ""


def prepare(work: Path, upstream: str) -> tuple[dict[str, str], Path]:
    """Certificate (the image's script) and rendered config in ``work``; its variables."""
    http_port = free_port(IP)
    while (https_port := free_port(IP)) == http_port:
        continue
    certs = work / "certs"
    env = {
        "NGINX_SERVER_NAME": IP,
        "NGINX_HTTP_LISTEN": f"{IP}:{http_port}",
        "NGINX_HTTPS_LISTEN": f"{IP}:{https_port}",
        "NGINX_UPSTREAM": upstream,
        "NGINX_CERT": str(certs / "fullchain.pem"),
        "NGINX_CERT_KEY": str(certs / "privkey.pem"),
        "WORKBENCH_PUBLIC_URL": f"https://{IP}:{https_port}",
    }
    subprocess.run(
        ["sh", str(CERT_SCRIPT)],
        env={"PATH": os.environ.get("PATH", "")} | env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    (work / "conf.d").mkdir()
    for folder in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (work / "tmp" / folder).mkdir(parents=True)
    for template in TEMPLATES.glob("*.template"):
        (work / "conf.d" / template.name.removesuffix(".template")).write_text(
            render(template, env)
        )
    main = work / "nginx.conf"
    main.write_text(MAIN_CONF.format(work=work))
    return env, main


def _args(binary: str, work: Path, main: Path) -> list[str]:
    return [binary, "-p", str(work), "-c", str(main), "-e", str(work / "error.log")]


def check_config(binary: str, work: Path, main: Path) -> subprocess.CompletedProcess[str]:
    """``nginx -t`` on the rendered configuration."""
    return subprocess.run(
        [*_args(binary, work, main), "-t"],
        capture_output=True,
        text=True,
        timeout=30,
    )


@contextmanager
def running_nginx(upstream: str) -> Iterator[Nginx]:
    """nginx terminating TLS on free loopback ports in front of ``upstream`` (host:port)."""
    binary = nginx_binary()
    # Not under pytest's tmp dir: a root master's workers run as nobody and need to reach it.
    work = Path(tempfile.mkdtemp(prefix="workbench-nginx-"))
    work.chmod(0o755)
    proc = None
    try:
        env, main = prepare(work, upstream)
        checked = check_config(binary, work, main)
        assert checked.returncode == 0, checked.stderr
        with (work / "stderr.log").open("wb") as stderr:
            proc = subprocess.Popen(
                [*_args(binary, work, main), "-g", "daemon off;"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )
        https_port = int(env["NGINX_HTTPS_LISTEN"].rsplit(":", 1)[1])
        _wait_port(https_port, proc, work)
        yield Nginx(
            http_url=f"http://{env['NGINX_HTTP_LISTEN']}",
            https_url=env["WORKBENCH_PUBLIC_URL"],
            cert=Path(env["NGINX_CERT"]),
            work=work,
            proc=proc,
        )
    finally:
        if proc is not None:
            _stop(proc)
        shutil.rmtree(work, ignore_errors=True)


def _wait_port(port: int, proc: subprocess.Popen[bytes], work: Path, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            stderr = (work / "stderr.log").read_text()
            raise AssertionError(f"nginx exited ({proc.returncode}): {stderr}")
        try:
            with socket.create_connection((IP, port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nginx not listening on {port} within {timeout}s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Fast shutdown of the master (it stops its workers), by its own pid."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
