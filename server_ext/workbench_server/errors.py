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
