"""Hub user names: one rule for every place a name becomes a path, account or S3 prefix.

A hub user's name is a folder (``<users dir>/<name>``), part of an OS account
(``wb-<name>``), an S3 prefix (``<bucket>/<name>/``) and a string inside an S3 policy,
where ``*`` and ``?`` are wildcards. JupyterHub lower-cases names
(``Authenticator.normalize_username``) and then checks them against
``Authenticator.username_pattern``; with :data:`USER_NAME_PATTERN` there, nobody whose
name holds ``/``, ``*``, ``..`` alone, spaces or upper case can sign in or be created, and
:func:`check_user_name` checks again wherever a name is used.
"""

from __future__ import annotations

import re

from workbench_server.errors import InvalidInputError

# A lower-case letter, then up to 31 letters, digits, "_", "." or "-" (the shape of a
# Linux account name; "\Z" because "$" would also match before a trailing newline).
USER_NAME_PATTERN = r"^[a-z][a-z0-9_.-]{0,31}\Z"
_USER_NAME = re.compile(USER_NAME_PATTERN)


def check_user_name(name: str) -> str:
    """``name`` if it is a valid hub user name, else :class:`InvalidInputError`."""
    if not isinstance(name, str) or not _USER_NAME.match(name):
        raise InvalidInputError(
            f"hub user name {name!r} is not allowed: use a lower-case letter, then up to 31 "
            "lower-case letters, digits, '_', '.' or '-'"
        )
    return name
