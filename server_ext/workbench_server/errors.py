"""Domain errors shared by the core and its adapters (REST, CLI, kernel, worker).

Adapters translate these in exactly one place each (the REST base handler maps them to
HTTP statuses, the CLI to a one-line message and a non-zero exit code).
"""


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
