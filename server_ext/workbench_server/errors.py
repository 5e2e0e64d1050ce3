"""Domain errors shared by the core and its adapters (REST, CLI, kernel, worker).

Adapters translate these in exactly one place each (the REST base handler maps them to
HTTP statuses, the CLI to a one-line message and a non-zero exit code).
"""

import sys


class WorkbenchError(Exception):
    """Base class: ``str(error)`` is a one-sentence, user-facing explanation."""


class NotFoundError(WorkbenchError):
    """The named object does not exist (or the caller may not know it exists)."""


class ConflictError(WorkbenchError):
    """The request clashes with the current state, e.g. a name already taken."""


class PermissionDeniedError(WorkbenchError):
    """The caller is authenticated but may not do this."""


class InvalidInputError(WorkbenchError):
    """The input is well-formed but not acceptable; the message names the field."""


class ConfigurationError(WorkbenchError):
    """The installation or its settings are unusable (home, ports, binaries, DB URL)."""


class SourceUnavailableError(WorkbenchError):
    """A data source the request needs did not answer or refused; the message says why."""


class NetworkPolicyError(PermissionDeniedError, SourceUnavailableError):
    """The workbench's network policy forbids reaching a host on a user's behalf.

    A permission error to callers (403), and a source the catalog could not read to the
    code that records scans: the scan is kept as failed with this message. The message is
    the same whether or not anything listens there.
    """


class RateLimitedError(WorkbenchError):
    """The caller did this too often; ``retry_after`` says in how many seconds to retry."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def metadata_db_failure(exc: BaseException) -> str | None:
    """One line for a metadata DB that refused (disk full, read-only, PostgreSQL gone) or
    is not one (a damaged file), with the driver's reason, as the REST API's 503 says it;
    ``None`` for any other error (other DB errors are bugs: their traceback is kept).
    SQLAlchemy is looked up, not imported: a process that never loaded it has no such
    error, and the CLI's ``--help`` stays light."""
    exc_module = sys.modules.get("sqlalchemy.exc")
    if exc_module is None or not (
        isinstance(exc, exc_module.OperationalError) or type(exc) is exc_module.DatabaseError
    ):
        return None
    reason = " ".join(line.strip() for line in str(exc.orig or "").splitlines() if line.strip())
    if isinstance(exc, exc_module.OperationalError):
        return (
            f"the metadata database is unavailable ({reason or 'no answer'}); "
            "workbench status says more"
        )
    return (
        f"the metadata database cannot be read ({reason}); "
        "restore it from a backup (docs/backup.md)"
    )
