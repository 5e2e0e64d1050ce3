"""Execute one notebook attempt with papermill: progress for heartbeats, stoppable.

papermill runs in a worker thread. Two things have to reach it from outside: which cell
is running (heartbeat details) and "stop now" (cancellation or timeout). Both go through
the kernel manager and execution manager we hand to a small papermill engine: stopping
shuts the kernel down, which makes papermill raise at once.

The worker imports papermill once, when it starts (:func:`preload`), without the storage
clients papermill's I/O module would load for paths a step never has (s3://, gs://,
abfs://, hdfs://): 90 MB and half its import time.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync

from workbench_server.accounts import StepAccount

from .spec_types import untag_decimals

ENGINE = "workbench"
HOME_FOLDER = "home"  # a shared step account's home, in the attempt's working folder
INJECTED_TAG = "injected-parameters"  # papermill's cell with the run's parameters
READY_REPLY_S = 1.0  # how long a kernel_info request waits for its reply before it is resent
IOPUB_CHECK_S = 0.2  # how long the first IOPub message may take to show the channel works
KILL_POLL_S = 0.005  # how often a killed kernel is checked for having exited
PRELUDE_TIMEOUT_S = 30.0
# The history nbclient gives the kernels it starts (none on disk, none shared between
# steps); kernels started ahead (kernel_pool) get the same.
HISTORY_ARGUMENT = "--HistoryManager.hist_file=:memory:"


@dataclass
class Progress:
    """Shared between the executing thread and the heartbeat loop."""

    cell: int = -1
    cells: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    kernel: AsyncKernelManager | None = None

    def halt(self) -> None:
        """Stop from another thread: kill the kernel; nbclient notices within a second.

        The kernel manager belongs to the executing thread's event loop, so it is not
        called from here; its process (group) is killed instead.
        """
        self.stop.set()
        provisioner = getattr(self.kernel, "provisioner", None)
        pid = getattr(provisioner, "pid", None)
        if not pid:
            return
        with contextlib.suppress(ProcessLookupError):
            if os.getpgid(pid) == pid:  # its own group: take its children too
                os.killpg(pid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)


class StepKernelClient(AsyncKernelClient):
    """The step kernel's client: ready as soon as the kernel answers on both channels.

    jupyter_client's ``wait_for_ready`` ends by draining IOPub until 0.2 s pass without a
    message: every step waited those 0.2 s for nothing. What it drains (the kernel_info
    request's busy/idle statuses) cannot reach a cell, since nbclient keeps only the
    messages whose parent is the cell's own request; so what is there is dropped and
    nothing is waited for. The rest is as upstream: kernel_info is asked until it is
    answered, and until an IOPub message arrives too (a PUB socket drops what it sends
    before the subscriber has joined, so a cell's first output could otherwise be lost).
    """

    async def wait_for_ready(self, timeout: float | None = None) -> None:  # type: ignore[override]
        import time
        from queue import Empty

        deadline = time.monotonic() + (timeout if timeout is not None else float("inf"))
        while True:
            self.kernel_info()
            try:
                reply = await self.shell_channel.get_msg(timeout=READY_REPLY_S)
            except Empty:
                reply = None
            if reply is not None and reply["msg_type"] == "kernel_info_reply":
                try:
                    await self.iopub_channel.get_msg(timeout=IOPUB_CHECK_S)
                except Empty:
                    pass  # IOPub not joined yet: ask again
                else:
                    self._handle_kernel_info_reply(reply)
                    break
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")
        for _ in range(100):  # bounded: a kernel is idle once it has answered
            if not await self.iopub_channel.msg_ready():
                break
            await self.iopub_channel.get_msg(timeout=0)
        prelude = getattr(self.parent, "prelude", None)
        if prelude:  # a kernel started ahead: the attempt's environment and folder
            reply = await self.execute_interactive(
                prelude,
                silent=True,
                store_history=False,
                allow_stdin=False,
                timeout=PRELUDE_TIMEOUT_S,
                output_hook=lambda msg: None,
            )
            content = reply["content"]
            if content.get("status") != "ok":
                why = f"{content.get('ename', 'error')}: {content.get('evalue', '')}"
                raise RuntimeError(f"the kernel started ahead could not be set up: {why}")


class StepKernelManager(AsyncKernelManager):
    """Starts the kernel with the environment the step was given (connections access),
    as the step's OS account if it has one (its connection file then lives in the
    attempt's working folder, which only the account's group may enter)."""

    def __init__(
        self,
        *,
        env: dict[str, str] | None = None,
        account: StepAccount | None = None,
        workdir: Path | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.step_env = env
        self.account = account
        self.workdir = workdir
        self.clients: list[Any] = []
        self.client_factory = StepKernelClient
        # Set when a kernel started ahead is given to an attempt (kernel_pool): code its
        # client runs once ready, and the file that code reads.
        self.prelude: str | None = None
        self.prelude_file: Path | None = None
        # Set by kernel_pool for a spare: forks the kernel from its fork server
        # (kernel_fork.py) instead of starting an interpreter. Never for an account.
        self.forker: KernelForker | None = None
        # Set by kernel_pool for a spare: modules its forked kernel imports before it is
        # ready (kernel_fork.PRELOADABLE), none of its code run.
        self.preload: tuple[str, ...] = ()
        if account is not None and workdir is not None:
            self.connection_file = str(workdir / f"kernel-{uuid.uuid4().hex}.json")

    async def start_kernel(self, **kwargs: Any) -> None:  # type: ignore[override]
        if self.step_env is not None:
            kwargs["env"] = dict(self.step_env)
        if self.account is not None:
            kwargs.update(user=self.account.uid, group=self.account.gid, extra_groups=[])
            env = kwargs.setdefault("env", dict(os.environ))
            home = self.account.home
            if self.account.shared and self.workdir is not None:
                home = str(self.workdir / HOME_FOLDER)
            env.update(HOME=home, USER=self.account.name, LOGNAME=self.account.name)
        await super().start_kernel(**kwargs)

    async def _async_pre_start_kernel(self, **kw: Any) -> Any:  # type: ignore[override]
        if self.forker is not None and self.account is None and self.provisioner is None:
            from .kernel_fork import forked_provisioner

            self.kernel_id = self.kernel_id or kw.pop("kernel_id", None) or str(uuid.uuid4())
            self.provisioner = forked_provisioner(self.forker, self)
        return await super()._async_pre_start_kernel(**kw)

    def client(self, **kwargs: Any) -> Any:
        """A client of the kernel (nbclient's), kept so that :meth:`close_clients` can stop it."""
        made = super().client(**kwargs)
        self.clients.append(made)
        return made

    async def _async_wait(self, pollinterval: float = 0.1) -> None:
        """Until the killed kernel has exited: checked every few ms, not every 0.1 s (a
        SIGKILLed process is gone at once, and each step waited up to 0.1 s to notice)."""
        await super()._async_wait(pollinterval=min(pollinterval, KILL_POLL_S))

    def close_clients(self) -> None:
        """Stop the clients' channels and their zmq context. nbclient does so only for a
        kernel manager it made itself: without this, every step left a heartbeat thread
        and a zmq context (3 threads, 14 open files) in the worker."""
        while self.clients:
            self.clients.pop().stop_channels()

    def write_connection_file(self, **kwargs: Any) -> tuple[str, dict[str, Any]]:
        written = super().write_connection_file(**kwargs)
        if self.account is not None:
            # The kernel reads it through the account's group; it stays the worker's, which
            # reads it again after the launch (also without CAP_DAC_OVERRIDE).
            os.chown(self.connection_file, -1, self.account.gid)
            os.chmod(self.connection_file, 0o640)
        return written


# Left out of papermill's import: the clients its I/O module imports, when installed, to
# offer remote notebook paths, and the RFC 3987 grammar jsonschema compiles at import for
# the "iri" formats nbformat's schema never uses (0.9 s of the worker's start on its own).
LEFT_OUT = ("boto3", "botocore", "gcsfs", "azure", "github", "pyarrow", "rfc3987_syntax")


def preload() -> None:
    """Import papermill and register the engine, leaving out what steps never use.

    For a process's start, before it runs anything else: while papermill imports, the
    modules of :data:`LEFT_OUT` not yet imported are marked unimportable (papermill then
    keeps its stand-ins that say which package a remote path needs; jsonschema checks no
    IRI); they import normally afterwards, for the lake steps that use Arrow or boto3.
    """
    if "papermill" in sys.modules:
        return
    blocked = [name for name in LEFT_OUT if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]  # import raises ImportError
    try:
        import papermill  # noqa: F401
    finally:
        for name in blocked:
            if sys.modules.get(name) is None:
                del sys.modules[name]
    _engine()


@functools.cache
def _engine() -> str:
    """Register the workbench's papermill engine (nbclient that reports the running cell
    and runs the kernel through :class:`StepKernelManager`, so that stopping can kill it)
    and return its name."""
    from papermill.engines import NBClientEngine, papermill_engines

    class WorkbenchEngine(NBClientEngine):
        """nbclient engine that reports the running cell and uses a kernel we can kill."""

        @classmethod
        def execute_notebook(cls, nb: Any, kernel_name: str, **kwargs: Any) -> Any:
            # papermill keeps the parameters in the notebook's metadata, saved as JSON:
            # a decimal is kept there as its text.
            papermill = nb.metadata.get("papermill", {})
            if _has_decimal(papermill.get("parameters")):
                papermill["parameters"] = _decimals_as_text(papermill["parameters"])
            return super().execute_notebook(nb, kernel_name, **kwargs)

        @classmethod
        def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, **kwargs: Any) -> Any:
            progress: Progress = kwargs.pop("progress")
            kernel_env: dict[str, str] | None = kwargs.pop("kernel_env", None)
            account: StepAccount | None = kwargs.pop("account", None)
            workdir: Path | None = kwargs.pop("workdir", None)
            pool: KernelPool | None = kwargs.pop("pool", None)
            kernel_cwd: Path | None = kwargs.pop("kernel_cwd", None)
            progress.cells = len(nb_man.nb.cells)
            original = nb_man.cell_start

            def cell_start(cell: Any, cell_index: int | None = None, **kw: Any) -> Any:
                if progress.stop.is_set():
                    raise StepStopped(f"stopped before cell {cell_index}")
                progress.cell = cell_index if cell_index is not None else progress.cell + 1
                return original(cell, cell_index, **kw)

            nb_man.cell_start = cell_start
            # nbclient needs an async manager: a blocking one stalls its dead-kernel check.
            spare = None
            if pool is not None and account is None and kernel_cwd is not None:
                env = kernel_env if kernel_env is not None else dict(os.environ)
                spare = pool.take(kernel_name, env, kernel_cwd, preload=preloads(nb_man.nb))
            progress.kernel = spare or StepKernelManager(
                kernel_name=kernel_name,
                env=kernel_env,
                account=account,
                workdir=workdir,
            )
            try:
                return super().execute_managed_notebook(
                    nb_man, kernel_name, km=progress.kernel, **kwargs
                )
            finally:
                # nbclient leaves a kernel it did not create running, and its client's
                # channels open: shut both down here.
                progress.kernel.close_clients()
                if progress.kernel.has_kernel:
                    run_sync(progress.kernel.shutdown_kernel)(now=True)
                if progress.kernel.prelude_file is not None:  # its prelude never ran
                    progress.kernel.prelude_file.unlink(missing_ok=True)

    papermill_engines.register(ENGINE, WorkbenchEngine)
    _register_translator()
    return ENGINE


def _register_translator() -> None:
    """Inject a decimal parameter as ``Decimal("1234567.10")``: papermill's own Python
    translator writes any type it does not know as a string."""
    from papermill.translators import PythonTranslator, papermill_translators

    class WorkbenchPythonTranslator(PythonTranslator):
        @classmethod
        def translate(cls, val: Any) -> str:
            if isinstance(val, Decimal):
                return f'Decimal("{val}")'  # digits, sign, point and exponent only
            return super().translate(val)

        @classmethod
        def codify(cls, parameters: dict[str, Any], comment: str = "Parameters") -> str:
            content = super().codify(parameters, comment)
            if not _has_decimal(parameters):
                return content
            first, _, rest = content.partition("\n")
            return f"{first}\nfrom decimal import Decimal\n\n{rest}"

    papermill_translators.register("python", WorkbenchPythonTranslator)


def _decimals_as_text(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {key: _decimals_as_text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decimals_as_text(item) for item in value]
    return value


def _has_decimal(value: Any) -> bool:
    if isinstance(value, Decimal):
        return True
    if isinstance(value, dict):
        return any(_has_decimal(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_decimal(item) for item in value)
    return False


class KernelForker(Protocol):
    """Forks kernels from a process that has imported ipykernel (kernel_fork.KernelForker)."""

    def spawn(
        self, argv: list[str], env: dict[str, str], cwd: str, preload: tuple[str, ...] = ()
    ) -> Any:
        """The forked kernel's process, or None to start it as usual."""


class KernelPool(Protocol):
    """Where kernels started ahead come from (kernel_pool.KernelPool in the worker)."""

    def take(
        self, kernel_name: str, env: dict[str, str], cwd: Path, preload: tuple[str, ...] = ()
    ) -> StepKernelManager | None:
        """A kernel of ``kernel_name`` set up for an attempt, or None; ``preload``: what
        the next spare is to import ahead (the modules this notebook uses)."""


# A notebook that uses the lake API (``from workbench_kernels import lake``): the next
# spare kernel imports it ahead, as the step after is likely the same notebook (a
# close's report spent 0.2-0.4 s of its 0.6 s importing it on a quiet machine).
_USES_LAKE = re.compile(r"\bworkbench_kernels(?:\.lake\b|\s+import\s+[^\n]*\blake\b)")


def preloads(nb: Any) -> tuple[str, ...]:
    """The modules (of kernel_fork.PRELOADABLE) the notebook's code cells import."""
    for cell in nb.cells:
        if cell.cell_type == "code" and _USES_LAKE.search(cell.source):
            return ("workbench_kernels.lake",)
    return ()


class StepStopped(Exception):
    """The attempt was stopped from outside (cancelled or timed out)."""


@dataclass
class CellFailure:
    cell_index: int  # in the executed notebook as saved (papermill's cells counted)
    ename: str
    evalue: str
    traceback: str
    notebook_index: int | None = None  # in the step's own notebook, as its author counts


def execute(
    notebook: Path,
    output: Path,
    parameters: dict[str, Any],
    kernel: str,
    progress: Progress,
    log: Path,
    cwd: Path,
    kernel_env: dict[str, str] | None = None,
    account: StepAccount | None = None,
    pool: KernelPool | None = None,
) -> CellFailure | None:
    """Run the notebook; return the failing cell if a cell raised, None on success.

    ``kernel_env`` replaces the environment the kernel would inherit from this process.
    With an ``account``, the kernel runs as it, in a private copy of ``cwd`` it owns
    (removed afterwards); papermill itself reads and writes as this process. Without
    one, a kernel of ``pool`` started ahead is used when there is one.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    output.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as stream, _working_folder(cwd, account) as folder:
        try:
            papermill.execute_notebook(
                str(notebook),
                str(output),
                parameters=untag_decimals(parameters),
                kernel_name=kernel,
                engine_name=_engine(),
                progress_bar=False,
                stdout_file=stream,
                stderr_file=stream,
                cwd=str(folder),
                progress=progress,
                kernel_env=kernel_env,
                account=account,
                workdir=folder.parent if account is not None else None,
                pool=pool,
                kernel_cwd=folder,
            )
        except PapermillExecutionError as exc:
            cells = _saved_cells(output)
            saved = _saved_index(cells, exc.cell_index)
            failure = CellFailure(
                cell_index=saved,
                ename=exc.ename,
                evalue=exc.evalue,
                traceback="\n".join(exc.traceback),
                notebook_index=_own_index(cells, saved),
            )
            if not failure.evalue and failure.cell_index < len(cells):
                _usage_error(cells[failure.cell_index], failure)
            failure.evalue = _cut(failure.evalue, MAX_ERROR_CHARS, 0)
            failure.traceback = _cut(failure.traceback, MAX_TRACEBACK_CHARS, TRACEBACK_HEAD_CHARS)
            return failure
    return None


# What a failure records of the error (the step's error, the run history, Temporal's
# history, every run page): an exception carrying a dump of data (megabytes) was kept
# whole in each attempt's row. The executed notebook keeps the error whole.
MAX_ERROR_CHARS = 2_000
MAX_TRACEBACK_CHARS = 64_000
TRACEBACK_HEAD_CHARS = 16_000  # where it started; the rest of the room is where it ended


def _cut(text: str, limit: int, head: int) -> str:
    """``text``, or its first ``head`` and last characters within ``limit``, with a note
    of how much was left out."""
    if len(text) <= limit:
        return text
    tail = limit - head
    left_out = len(text) - head - tail
    note = f"({left_out:,} characters more: the executed notebook has them)"
    if head == 0:
        return f"{text[:limit]}... {note}"
    return f"{text[:head]}\n... {note} ...\n{text[-tail:]}"


@contextlib.contextmanager
def _working_folder(cwd: Path, account: StepAccount | None) -> Iterator[Path]:
    """Where the kernel runs: ``cwd`` itself, or for an account a copy of it that the
    account owns (the pipeline's snapshot is in the workbench home, private to it).

    The attempt's folder itself stays the worker's, open to the account's group only: the
    worker writes the kernel's connection file there and starts the kernel in the copy,
    which a worker without CAP_DAC_OVERRIDE (the team stack's) could not do in a folder
    private to the account. A shared account also gets a fresh home there, so that no
    step leaves start-up files or packages for the next owner's steps.
    """
    if account is None:
        yield cwd
        return
    folder = Path(tempfile.mkdtemp(prefix="workbench-step-"))
    try:
        os.chown(folder, os.geteuid(), account.gid)
        folder.chmod(0o710)
        copy = folder / "pipeline"
        shutil.copytree(cwd, copy, symlinks=True)
        copy.chmod(0o755)  # the kernel's process enters it before it becomes the account
        made = [copy, *copy.rglob("*")]
        if account.shared:
            (folder / HOME_FOLDER).mkdir(mode=0o700)
            made.append(folder / HOME_FOLDER)
        for path in made:
            os.chown(path, account.uid, account.gid, follow_symlinks=False)
        yield copy
    finally:
        _remove(folder, account)


def _remove(folder: Path, account: StepAccount) -> None:
    """Remove an attempt's folder. What the step made inside is the account's, and the
    worker may lack the right to delete in the account's folders: the account empties them."""
    try:
        inside = [str(path) for path in folder.iterdir()]
    except OSError:
        inside = []
    if inside:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                ["sh", "-c", 'chmod -R u+rwX -- "$@" 2>/dev/null; rm -rf -- "$@"', "sh", *inside],
                user=account.uid,
                group=account.gid,
                extra_groups=[],
                cwd="/",
                env={"PATH": os.defpath},
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=120,
            )
    for path in inside:  # emptied now; only the folder's owner may unlink them from it
        with contextlib.suppress(OSError):
            if os.path.isdir(path) and not os.path.islink(path):
                os.rmdir(path)
            else:
                os.unlink(path)
    shutil.rmtree(folder, ignore_errors=True)


def _saved_cells(output: Path) -> list[Any]:
    import nbformat

    try:
        return nbformat.read(output, as_version=4).cells
    except (OSError, ValueError):
        return []


def _saved_index(cells: list[Any], executed_index: int) -> int:
    """Where the failing cell is in the executed notebook as saved (what people open):
    papermill adds a banner at the top and an anchor just before it."""
    from papermill.execute import ERROR_MARKER_TAG

    for index, cell in enumerate(cells[1:], start=1):
        if ERROR_MARKER_TAG in cell.get("metadata", {}).get("tags", []):
            return index + 1
    return executed_index


def _own_index(cells: list[Any], saved_index: int) -> int | None:
    """Where the cell at ``saved_index`` of the executed notebook is in the step's own
    notebook: the cells papermill added before it (banner, injected parameters, anchor)
    do not count."""
    if not 0 <= saved_index < len(cells):
        return None
    return sum(1 for cell in cells[:saved_index] if not _added_by_papermill(cell))


def _added_by_papermill(cell: Any) -> bool:
    from papermill.execute import ERROR_MARKER_TAG

    tags = cell.get("metadata", {}).get("tags", [])
    return ERROR_MARKER_TAG in tags or INJECTED_TAG in tags


def _usage_error(cell: Any, failure: CellFailure) -> None:
    """IPython shows a UsageError (what ``%sql`` and ``%odoo`` raise for a bad query or
    connection) as text on stderr, not as an error: take the message from there."""
    text = "".join(
        o.get("text", "")
        for o in cell.get("outputs", [])
        if o.get("output_type") == "stream" and o.get("name") == "stderr"
    ).strip()
    if text.startswith("UsageError: "):
        failure.ename, failure.evalue = "UsageError", text.removeprefix("UsageError: ")
        failure.traceback = failure.traceback or text
