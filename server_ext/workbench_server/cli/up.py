"""``workbench up``: the whole local stack (Temporal, worker, JupyterLab) as one command.

``workbench up --hub`` puts JupyterHub in JupyterLab's place: a multi-user hub on this
machine (``WORKBENCH_MODE=local`` of :mod:`workbench_hub.config`), which runs the core as
its workbench service and a JupyterLab per signed-in user.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import getpass
import json
import logging
import os
import secrets
import signal
import sys
from pathlib import Path
from typing import IO
from urllib.parse import parse_qs, urlsplit

import click

from .. import temporal
from .._version import __version__
from ..accounts import STEP_ACCOUNTS_ENV
from ..errors import ConfigurationError
from ..home import (
    COMPONENTS_FILE,
    ROUTES_READY,
    WORKER_HEARTBEAT_ENV,
    WORKER_HEARTBEAT_FILE,
    WorkbenchHome,
)
from ..prepared import DEMO_FILE, is_prepared
from ..settings import DATA_ROOTS_ENV, DB_URL_ENV, WorkbenchSettings
from ..supervisor import Component, StartupError, Supervisor, port_in_use, reserve_port
from . import home_option
from .up_keeper import Keeper, write_component_state

log = logging.getLogger(__name__)
# A crashed worker or Temporal is restarted after 1, 2, 4 ... s, at most a minute apart;
# one that then ran for a minute counts as recovered.
RESTART_MAX_DELAY_S = 60.0
RESTART_RESET_S = 60.0
WORKER_POLLING = "polling task queue"  # the worker's log line once it polls
# Temporal is alive while its HTTP API answers: a dev server that is stopped or hung
# still accepts connections on its ports (the kernel completes the handshake). One that
# misses this many probes in a row, one every interval, each given the timeout, is
# killed and restarted by the keeper (cli/up_keeper.py): 15-30 s after it stopped.
TEMPORAL_LIVENESS = {
    "path": "/api/v1/system-info",
    "interval": 5.0,
    "timeout": 5.0,
    "failures": 3,
}
# The worker is alive while its event loop touches run/worker.alive (every 2 s, see
# workbench_pipelines.worker.beat): a file older than the interval is a miss, and after
# this many in a row, 15-20 s stuck, the keeper kills and restarts it as Temporal.
WORKER_LIVENESS = {"kind": "file", "interval": 5.0, "timeout": 0.0, "failures": 3}
# The logs in the home's logs/ are copied aside and truncated past this size, this many
# copies kept (NAME.1 ... NAME.5): 60 MB a log at most. WORKBENCH_LOG_MAX_BYTES (bytes,
# or with K, M or G) and WORKBENCH_LOG_KEEP change them; 0 bytes never rotates.
LOG_MAX_BYTES_ENV, LOG_KEEP_ENV = "WORKBENCH_LOG_MAX_BYTES", "WORKBENCH_LOG_KEEP"
# TEMPORAL_LIVENESS's interval (each probe given as long) and misses, for an installation
# that wants a hung Temporal restarted sooner or later (tests use 1 s).
PROBE_INTERVAL_ENV = "WORKBENCH_TEMPORAL_PROBE_INTERVAL"
PROBE_MISSES_ENV = "WORKBENCH_TEMPORAL_PROBE_MISSES"
LOG_MAX_BYTES, LOG_KEEP = 10 * 2**20, 5
# The stop signals; blocked while handing over to the keeper, which then receives them.
KEEPER_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _lock_home(home: WorkbenchHome) -> IO[str]:
    """Hold an exclusive lock so two ``up`` never share one home."""
    handle = (home.run_dir / "up.lock").open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        handle.close()
        raise ConfigurationError(
            f"another workbench is already running on home {home.root} (pid {holder})"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def log_rotation(environ: dict[str, str]) -> tuple[int, int]:
    """The logs' size limit and copies kept, from the environment (see LOG_MAX_BYTES)."""
    raw = environ.get(LOG_MAX_BYTES_ENV, "").strip()
    max_bytes = LOG_MAX_BYTES
    if raw:
        units = {"K": 2**10, "M": 2**20, "G": 2**30}
        number, unit = (raw[:-1], units[raw[-1].upper()]) if raw[-1].upper() in units else (raw, 1)
        if not number.isdigit() or 0 < int(number) * unit < 4096:
            raise ConfigurationError(
                f"{LOG_MAX_BYTES_ENV}={raw!r}: give a size of at least 4096 bytes, such as "
                "10M or 500K (or 0 to never rotate the logs)"
            )
        max_bytes = int(number) * unit
    raw = environ.get(LOG_KEEP_ENV, "").strip()
    keep = LOG_KEEP
    if raw:
        if not raw.isdigit() or not 1 <= int(raw) <= 100:
            raise ConfigurationError(
                f"{LOG_KEEP_ENV}={raw!r}: give how many rotated copies of a log to keep, 1 to 100"
            )
        keep = int(raw)
    return max_bytes, keep


def temporal_liveness(environ: dict[str, str]) -> dict:
    """TEMPORAL_LIVENESS with the interval and misses the environment sets, if any."""
    live = dict(TEMPORAL_LIVENESS)
    raw = environ.get(PROBE_INTERVAL_ENV, "").strip()
    if raw:
        try:
            interval = float(raw)
        except ValueError:
            interval = float("nan")
        if not 0.5 <= interval <= 300:
            raise ConfigurationError(
                f"{PROBE_INTERVAL_ENV}={raw!r}: give the seconds between two probes of "
                "Temporal (each may take as long), 0.5 to 300"
            )
        live["interval"] = live["timeout"] = interval
    raw = environ.get(PROBE_MISSES_ENV, "").strip()
    if raw:
        if not raw.isdigit() or not 1 <= int(raw) <= 100:
            raise ConfigurationError(
                f"{PROBE_MISSES_ENV}={raw!r}: give how many probes in a row Temporal may "
                "miss before it is restarted, 1 to 100"
            )
        live["failures"] = int(raw)
    return live


def _password_on_command_line(db_url: str) -> bool:
    """Whether ``--db-url`` came on the command line (not from its environment variable)
    with a password in it: ``user:pw@`` or libpq's ``?password=``."""
    source = click.get_current_context().get_parameter_source("db_url")
    if source != click.core.ParameterSource.COMMANDLINE:
        return False
    try:
        parts = urlsplit(db_url)
        return parts.password is not None or "password" in parse_qs(parts.query)
    except ValueError:
        return True  # not a URL one can read: it may hold one, say so


def _choose_port(ip: str, port: int | None, what: str, option: str) -> int:
    if port is None:
        return reserve_port(ip)
    if port_in_use(ip, port):
        raise ConfigurationError(
            f"port {port} on {ip} ({what}) is already in use; choose another with {option}"
        )
    return port


async def _http_ok(url: str, token: str | None = None) -> bool:
    from tornado.httpclient import AsyncHTTPClient, HTTPClientError

    headers = {"Authorization": f"token {token}"} if token else {}
    try:
        response = await AsyncHTTPClient().fetch(url, headers=headers, request_timeout=5)
    except (HTTPClientError, OSError):
        return False
    return response.code == 200


async def _answers_200(url: str, token: str | None = None) -> bool:
    """Whether GET ``url`` (plain HTTP on this machine, no redirect) answers 200. A request
    by hand on asyncio's streams: Tornado's HTTP client (:func:`_http_ok`) cost the
    supervisor 15 ms of CPU to import, spent just as the lab became ready."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    auth = f"Authorization: token {token}\r\n" if token else ""
    request = f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n{auth}Connection: close\r\n\r\n"
    writer = None
    try:
        async with asyncio.timeout(5):
            reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
            writer.write(request.encode())
            status = await reader.readline()
    except (OSError, TimeoutError):
        return False
    finally:
        if writer is not None:
            writer.close()
    return status.split(b" ", 2)[1:2] == [b"200"]


class LocalStack:
    """The processes of a local workbench and the checks that say each is ready."""

    def __init__(
        self,
        settings: WorkbenchSettings,
        *,
        ip: str,
        lab_port: int,
        temporal_port: int,
        notebook_dir: Path,
        concurrency: int,
        hub: bool = False,
        log_rotation: tuple[int, int] = (LOG_MAX_BYTES, LOG_KEEP),
        temporal_live: dict | None = None,
    ) -> None:
        self.settings = settings
        self.log_rotation = log_rotation
        self.temporal_live = temporal_live or TEMPORAL_LIVENESS
        # What the keeper keeps, once the stack is up: the keeper (cli/up_keeper.py) runs
        # in this process when it could not become it (see _hand_over).
        self.keeper_spec: dict | None = None
        self.home = settings.workbench_home
        self.ip = ip
        self.lab_port = lab_port
        self.temporal_port = temporal_port
        self.notebook_dir = notebook_dir
        self.concurrency = concurrency
        self.hub = hub
        self.token = secrets.token_urlsafe(32)
        self.supervisor = Supervisor(subreaper=True)
        self.temporal_http_port = 0  # chosen with Temporal's command line

    @property
    def lab_url(self) -> str:
        return f"http://{self.ip}:{self.lab_port}"

    def _env(self) -> dict[str, str]:
        # Not the DB URL as given (with its password): child_env hands children a file.
        env = {k: v for k, v in os.environ.items() if k not in ("JUPYTER_TOKEN", DB_URL_ENV)}
        env.update(self.settings.child_env())
        env["PYTHONUNBUFFERED"] = "1"
        # jupysql's library phones home by default; a finance team's workbench does not.
        env.setdefault("PLOOMBER_STATS_ENABLED", "false")
        env.setdefault("PLOOMBER_VERSION_CHECK_DISABLED", "true")
        return env

    @property
    def worker_heartbeat(self) -> Path:
        return self.home.run_dir / WORKER_HEARTBEAT_FILE

    def _worker_env(self) -> dict[str, str]:
        env = self._env()
        env[WORKER_HEARTBEAT_ENV] = str(self.worker_heartbeat)
        if self.hub and os.geteuid() == 0:
            # Users run as accounts of their own: so does their pipelines' code.
            env.setdefault(STEP_ACCOUNTS_ENV, "hub")
        return env

    # Readiness of Temporal and the worker is judged cheaply here (a listening port, the
    # worker's own "polling" line); the final check, JupyterLab's /workbench/api/health,
    # then asks Temporal itself whether it is healthy and whether the worker polls.
    async def _temporal_ready(self, _component: Component) -> bool:
        try:
            _, writer = await asyncio.open_connection(self.ip, self.temporal_port)
        except OSError:
            return False
        writer.close()
        return True

    async def _worker_ready(self, component: Component) -> bool:
        return WORKER_POLLING in component.output_since_start()

    async def _lab_ready(self, component: Component) -> bool:
        # The lab answers, with the workbench's routes in place (the extension says so in
        # its log); the core behind them opens in the background, and a workbench request
        # that comes sooner waits for it (WorkbenchApp.core_in_background).
        return ROUTES_READY in component.output_since_start() and await _answers_200(
            f"{self.lab_url}/api/status", self.token
        )

    async def _hub_ready(self, _component: Component) -> bool:
        # The hub adds the service's route only once the service answers.
        return await _http_ok(f"{self.lab_url}/hub/api/") and await _http_ok(
            f"{self.lab_url}/services/workbench/api"
        )

    def _hub_component(self) -> Component:
        """JupyterHub in local mode, with the workbench service, on loopback ports."""
        state = self.home.root / "hub"
        state.mkdir(mode=0o700, exist_ok=True)
        config = state / "jupyterhub_config.py"
        config.write_text("from workbench_hub.config import configure\n\nconfigure(c)\n")
        argv = [
            sys.executable,
            "-m",
            "jupyterhub",
            "-f",
            str(config),
            f"--JupyterHub.hub_port={reserve_port(self.ip)}",
            f"--ConfigurableHTTPProxy.api_url=http://{self.ip}:{reserve_port(self.ip)}",
        ]
        env = self._env() | {
            "WORKBENCH_MODE": "local",
            "WORKBENCH_HUB_IP": self.ip,
            "WORKBENCH_HUB_PORT": str(self.lab_port),
            "WORKBENCH_SERVICE_URL": f"http://{self.ip}:{reserve_port(self.ip)}",
        }
        return Component(
            "JupyterHub",
            argv,
            env,
            self.home.logs / "hub.log",
            self._hub_ready,
            ready_timeout=120,
            stop_timeout=60,
            poll_interval=0.25,
        )

    def components(self) -> list[Component]:
        logs = self.home.logs
        binary = temporal.temporal_binary()
        self.temporal_http_port = reserve_port(self.ip)
        temporal_argv = temporal.dev_server_args(
            binary,
            ip=self.ip,
            port=self.temporal_port,
            http_port=self.temporal_http_port,
            metrics_port=reserve_port(self.ip),
            db_file=self.home.temporal_db,
        )
        worker_argv = temporal.worker_argv(concurrency=self.concurrency)
        lab_argv = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            f"--ServerApp.ip={self.ip}",
            f"--ServerApp.port={self.lab_port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={self.notebook_dir}",
            "--MappingKernelManager.default_kernel_name=workbench",
            # Enabled by the installed jupyter-config too; explicit so a source checkout works.
            "--ServerApp.jpserver_extensions",
            "workbench_server=True",
            "--WorkbenchApp.core_in_background=True",
        ]
        if os.geteuid() == 0:
            lab_argv.append("--allow-root")
        lab_env = self._env()
        # The token travels in the environment, never on a command line others can read.
        lab_env["JUPYTER_TOKEN"] = self.token
        front = (
            self._hub_component()
            if self.hub
            else Component(
                "JupyterLab",
                lab_argv,
                lab_env,
                logs / "lab.log",
                self._lab_ready,
                ready_timeout=90,
                stop_timeout=20,
                # The banner follows the lab's readiness by half of this on average; a
                # refused connection or one health answer costs next to nothing (25 ms
                # more of waiting on average at 0.1 s: 2% of a bare lab's start).
                poll_interval=0.05,
            )
        )
        return [
            Component(
                "Temporal",
                temporal_argv,
                self._env(),
                logs / "temporal.log",
                self._temporal_ready,
                ready_timeout=30,
            ),
            Component(
                "worker",
                worker_argv,
                self._worker_env(),
                logs / "worker.log",
                self._worker_ready,
                ready_timeout=30,
                stop_timeout=35,
            ),
            front,
        ]

    def _write_state(self) -> None:
        state = self.home.run_dir / "state.json"
        fd = os.open(state, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(
                {
                    "pid": os.getpid(),
                    "url": self.lab_url,
                    "token": None if self.hub else self.token,
                    "hub": self.hub,
                    "temporal": self.settings.temporal_address,
                    "task_queue": self.settings.task_queue,
                },
                handle,
            )

    async def run(self, demo: bool) -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, stop.set)
        temporal_c, worker_c, lab_c = self.components()
        try:
            # Temporal and JupyterLab start at once; the URL is printed when Temporal
            # accepts connections and the lab answers with the workbench's routes. The
            # worker starts then, not before: on two cores its start (about 1.2 s of CPU)
            # would slow the lab's; a run requested before it polls waits in Temporal's
            # task queue and runs when it does (health shows the worker as starting).
            # Migrations are serialised by a lock: the lab and this process cannot clash.
            # The lab first: its start is the longest; Temporal's fork and exec of a
            # 150 MB binary came first and delayed the lab's by 16-55 ms at load 12-25.
            for component in (lab_c, temporal_c):
                self.supervisor.spawn(component)
            # Stopped in reverse of this order: the worker, the lab, then Temporal.
            self.supervisor.components[:] = [temporal_c, lab_c]
            prepared = asyncio.create_task(self._prepare(demo))
            # The lab may exit while Temporal starts (a broken config): said at once, not
            # after Temporal's start, and whichever of the two exits first.
            await self._ready_or_stop(temporal_c, stop, watch=lab_c)
            demo_note = await prepared
            await self._ready_or_stop(lab_c, stop)
            self.supervisor.spawn(worker_c)
        except StartupError as exc:
            message = self._startup_failures(exc)
            await self.supervisor.stop_all()
            raise ConfigurationError(message) from None
        except _Stopped:
            click.echo("Interrupted during start-up; stopping ...", err=True)
            await self.supervisor.stop_all()
            click.echo("Stopped.", err=True)
            return 130
        except BaseException:
            log.exception("workbench up failed while starting")
            await self.supervisor.stop_all()
            raise
        with contextlib.suppress(FileNotFoundError):
            (self.home.run_dir / COMPONENTS_FILE).unlink()  # a fresh start
        self._component_state(worker_c.name, "starting", None, "", 0)
        self._write_state()
        self._banner(demo_note)
        self.keeper_spec = self._keeper_spec(lab_c, worker_c)
        self._hand_over(self.keeper_spec)  # returns only if it could not
        return 0

    def _keeper_spec(self, front: Component, worker: Component) -> dict:
        """What :mod:`.up_keeper` needs to keep the stack up from here on."""
        parts = []
        for component in self.supervisor.components:
            live = None
            if component is front:
                ready: dict[str, object] = {"kind": "none"}
            elif component is worker:
                ready = {"kind": "log", "text": WORKER_POLLING}
                live = WORKER_LIVENESS | {"path": str(self.worker_heartbeat)}
            else:
                ready = {"kind": "port", "ip": self.ip, "port": self.temporal_port}
                live = self.temporal_live | {"ip": self.ip, "port": self.temporal_http_port}
            parts.append(
                {
                    "name": component.name,
                    "argv": component.argv,
                    "env": component.env,
                    "log_path": str(component.log_path),
                    "ready": ready,
                    "ready_timeout": component.ready_timeout,
                    "stop_timeout": component.stop_timeout,
                    "poll_interval": component.poll_interval,
                    "pid": component.pid,
                    "started_at": component.started_at,
                    "log_offset": component._log_offset,
                    "starting": component is worker,
                    "live": live,
                }
            )
        return {
            "parts": parts,
            "front": front.name,
            "run_dir": str(self.home.run_dir),
            "components_file": COMPONENTS_FILE,
            "workbench_log": str(self.home.logs / "workbench.log"),
            "restart_max_delay": RESTART_MAX_DELAY_S,
            "restart_reset": RESTART_RESET_S,
            "log_max_bytes": self.log_rotation[0],
            "log_keep": self.log_rotation[1],
        }

    def _hand_over(self, spec: dict) -> None:
        """Become the small keeper of :mod:`.up_keeper` (the same process: its children,
        lock, subreaper role and terminal stay): keeping the stack up needs none of the
        40 MB that starting it imported. Returns only when that cannot be done (no memfd,
        the interpreter gone or not executable, out of memory): ``up`` then runs the same
        keeper in this process, once the event loop is closed (:func:`up`). The
        stop signals stay blocked either way: the keeper unblocks them once it handles
        them, so one sent meanwhile stops the stack, not this process alone."""
        keeper = Path(__file__).with_name("up_keeper.py")
        signal.pthread_sigmask(signal.SIG_BLOCK, KEEPER_SIGNALS)
        fd = None
        try:
            # Children were started with close_fds: only this exec inherits the spec's fd.
            fd = os.memfd_create("workbench-up-keeper", 0)
            os.write(fd, json.dumps(spec).encode())
            os.lseek(fd, 0, os.SEEK_SET)
            sys.stdout.flush()
            sys.stderr.flush()
            # -S: the keeper needs only the standard library, not site-packages' hooks.
            argv = [sys.executable, "-S", str(keeper), "up", str(fd)]
            os.execv(sys.executable, argv)  # noqa: S606 - our own interpreter and script
        except OSError as exc:
            # A warning: on the terminal (the CLI's console handler) and in workbench.log.
            log.warning(
                "could not hand over to %s (%s); its keeper runs in this process instead "
                "(the same, with the start's imports still loaded)",
                keeper.name,
                exc,
            )
            if fd is not None:
                os.close(fd)

    async def _prepare(self, demo: bool) -> str | None:
        """Migrations and the demo data, in a child process (see :mod:`..bootstrap`); the
        banner's note about the demo data. A core that cannot open stops the start.
        Skipped on a home already prepared for this version, DB and choice of demo
        (:mod:`..prepared`): it would only spend a core's second the others need."""
        demo_file = self.home.demo_dir / DEMO_FILE
        if is_prepared(self.home.run_dir, self.settings.db_url, demo, demo_file):
            return None
        argv = [sys.executable, "-m", "workbench_server.bootstrap"]
        child = await asyncio.create_subprocess_exec(
            *argv,
            *([] if demo else ["--no-demo"]),
            env=self._env(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await child.communicate()
        try:
            answer = json.loads(out.decode().strip().splitlines()[-1])
        except (IndexError, ValueError):
            last = (err.decode(errors="replace").strip().splitlines() or ["no output"])[-1]
            raise StartupError(
                f"preparing the workbench home failed (exit code {child.returncode}): {last}"
            ) from None
        if answer.get("error"):
            raise StartupError(answer["error"])
        return answer.get("note")

    async def _ready_or_stop(
        self, component: Component, stop: asyncio.Event, watch: Component | None = None
    ) -> None:
        """Until ``component`` is ready; a StartupError as soon as it or ``watch`` (started
        with it, waited for next) exits."""
        start = asyncio.create_task(self.supervisor.wait_ready(component))
        stopped = asyncio.create_task(stop.wait())
        tasks = {start, stopped}
        if watch is not None:
            exited = asyncio.create_task(_exit_of(watch, component.poll_interval))
            tasks.add(exited)
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks - {start}:
            task.cancel()
        if start in done:
            start.result()
            return
        start.cancel()
        with contextlib.suppress(asyncio.CancelledError, StartupError):
            await start
        if stopped in done:
            raise _Stopped
        raise StartupError(Supervisor.exit_reason(watch))

    def _startup_failures(self, first: StartupError) -> str:
        """``first``, and every other part that also exited before the stack was up (a
        failure of one may be the cause of another's)."""
        messages = [str(first)]
        for component in self.supervisor.components:
            if component.process is not None and not component.running():
                reason = Supervisor.exit_reason(component)
                if reason not in messages:
                    messages.append(reason)
        return "; ".join(messages)

    def _component_state(
        self, name: str, status: str, code: int | None, reason: str, restarts: int
    ) -> None:
        """What health reports about a restarted part (``run/components.json``)."""
        write_component_state(
            str(self.home.run_dir / COMPONENTS_FILE), name, status, code, reason, restarts
        )

    def _password_source(self, env: str, who: str) -> str:
        """Where a hub password is (never the password itself)."""
        return f"${env}" if os.environ.get(env) else str(self.home.root / "hub" / f"{who}-password")

    def _banner(self, demo_note: str | None) -> None:
        lines = [f"Data Engineering Workbench {__version__} is ready.", ""]
        if self.hub:
            admin = os.environ.get("WORKBENCH_HUB_ADMIN") or getpass.getuser()
            lines += [
                f"    {self.lab_url}/hub/login",
                "",
                "  A multi-user hub for this machine only. Sign in with any user name and",
                f"  the password in {self._password_source('WORKBENCH_HUB_PASSWORD', 'user')};",
                f"  admin {admin!r} with the one in "
                f"{self._password_source('WORKBENCH_HUB_ADMIN_PASSWORD', 'admin')}.",
                *hub_accounts_note(os.geteuid() == 0, getpass.getuser()),
            ]
        else:
            lines.append(f"    {self.lab_url}/lab?token={self.token}")
        lines += [
            "",
            f"  Temporal:  {self.settings.temporal_address} "
            f"(task queue {self.settings.task_queue!r})",
            f"  Home:      {self.home.root}",
            f"  Logs:      {self.home.logs}",
        ]
        if demo_note:
            lines.append(f"  Demo:      {demo_note}")
        lines += ["", "Press Ctrl-C to stop."]
        click.echo("\n".join(lines))


def hub_accounts_note(as_root: bool, account: str) -> list[str]:
    """What the ``--hub`` banner says about what users can read of each other."""
    if as_root:
        return [
            "  Each user's server runs as an OS account of their own, with a private home;",
            "  the workbench home (key, database, hub state) is root's alone.",
        ]
    return [
        f"  Every user's server runs as your OS account {account!r}: every user can read",
        "  every other user's files and data and the workbench's secrets (key, database).",
        "  Run it as root to give each user an OS account of their own.",
    ]


class _Stopped(Exception):
    """A stop signal arrived while starting."""


async def _exit_of(component: Component, poll_interval: float) -> None:
    """Returns once ``component`` has exited (polled, as its readiness is)."""
    while component.running():  # noqa: ASYNC110 - a child process's exit sets no Event
        await asyncio.sleep(poll_interval)


@click.command()
@home_option
@click.option(
    "--ip",
    default="127.0.0.1",
    show_default=True,
    help="Address JupyterLab and Temporal listen on.",
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="JupyterLab port [default: a free port].",
)
@click.option(
    "--temporal-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Temporal frontend port [default: a free port].",
)
@click.option(
    "--notebook-dir",
    type=click.Path(file_okay=False, exists=True),
    default=".",
    show_default=True,
    help="Folder JupyterLab opens.",
)
@click.option(
    "--db-url",
    envvar="WORKBENCH_DB_URL",
    default=None,
    help="Metadata DB URL [env WORKBENCH_DB_URL, the only place for one with a password; "
    "default SQLite in the home].",
)
@click.option(
    "--concurrency",
    default=4,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Notebook steps the worker runs at once.",
)
@click.option("--no-demo", is_flag=True, help="Do not generate or register the demo Odoo data.")
@click.option(
    "--hub",
    is_flag=True,
    help="Start a multi-user JupyterHub (this machine only, loopback) instead of JupyterLab.",
)
def up(
    home: str | None,
    ip: str,
    port: int | None,
    temporal_port: int | None,
    notebook_dir: str,
    db_url: str | None,
    concurrency: int,
    no_demo: bool,
    hub: bool,
) -> None:
    """Start Temporal, a pipeline worker and JupyterLab (or JupyterHub); Ctrl-C stops them all."""
    if hub and ip not in ("127.0.0.1", "localhost", "::1"):
        raise ConfigurationError(
            f"--hub serves this machine only (its users sign in with one password), not {ip}; "
            "a team server is the Docker deployment described in docs/deploy.md"
        )
    if db_url and _password_on_command_line(db_url):
        raise ConfigurationError(
            "--db-url: a password in it may not be given on the command line (every "
            f"account on this machine can read it); set {DB_URL_ENV} instead"
        )
    rotation = log_rotation(dict(os.environ))
    temporal_live = temporal_liveness(dict(os.environ))
    workbench_home = WorkbenchHome.resolve(home)
    workbench_home.prepare()
    lock = _lock_home(workbench_home)
    os.set_inheritable(lock.fileno(), True)  # held on by the keeper the process becomes
    handler = logging.FileHandler(workbench_home.logs / "workbench.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger("workbench_server").addHandler(handler)
    logging.getLogger("workbench_server").setLevel(logging.INFO)
    try:
        lab_port = _choose_port(ip, port, "JupyterLab", "--port")
        t_port = _choose_port(ip, temporal_port, "Temporal", "--temporal-port")
        settings = WorkbenchSettings.from_env(
            workbench_home.root, db_url=db_url, temporal_address=f"{ip}:{t_port}"
        )
        if not hub and DATA_ROOTS_ENV not in os.environ:
            # The lab's notebook folder holds data too (the lab adds it to its own roots):
            # the worker, which scans and previews on schedule, gets it from here.
            roots = [*settings.allowed_data_roots, str(Path(notebook_dir).absolute())]
            settings = settings.model_copy(update={"data_roots": roots})
        stack = LocalStack(
            settings,
            ip=ip,
            lab_port=lab_port,
            temporal_port=t_port,
            notebook_dir=Path(notebook_dir).absolute(),
            concurrency=concurrency,
            hub=hub,
            log_rotation=rotation,
            temporal_live=temporal_live,
        )
        code = asyncio.run(stack.run(demo=not no_demo))
        if stack.keeper_spec is not None:
            # The hand-over failed (it said why): the same keeper, in this process.
            code = Keeper(stack.keeper_spec).run()
    finally:
        lock.close()
    sys.exit(code)
