"""Reading files that code the workbench does not trust may have written.

Run artifacts (executed notebooks, logs) are written by the worker while a step's user
code runs beside them, with the same rights: the step could swap a file or a folder for
a link to anything the reading process may open (the hub's cookie secret, the secrets
key). :func:`read_beneath` opens such a file one path component at a time below a
trusted folder, refusing links, special files and anything outside that folder.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath

from .errors import NotFoundError

_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


def read_beneath(base: Path, path: Path, what: str, tail: int | None = None) -> bytes:
    """The content of ``path``, which must lie below ``base`` and be reached without
    following a symbolic link at any level (``base`` itself is trusted). The last ``tail``
    bytes only, if given. :class:`NotFoundError` names ``what`` for anything else."""
    try:
        relative = PurePosixPath(os.path.normpath(path)).relative_to(os.path.normpath(base))
    except ValueError:
        raise NotFoundError(f"no {what}: it is not stored with its run") from None
    if not relative.parts or ".." in relative.parts:
        raise NotFoundError(f"no {what}: it is not stored with its run")
    try:
        fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        raise NotFoundError(f"no {what}") from None
    try:
        for part in relative.parts[:-1]:
            next_fd = os.open(part, _FLAGS | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = next_fd
        file_fd = os.open(relative.parts[-1], _FLAGS, dir_fd=fd)
    except OSError:  # missing, a link (ELOOP), not a folder (ENOTDIR), no right
        raise NotFoundError(f"no {what} (missing, or replaced by a link)") from None
    finally:
        os.close(fd)
    with os.fdopen(file_fd, "rb") as stream:
        info = os.fstat(stream.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise NotFoundError(f"no {what}: it is not a regular file")
        os.set_blocking(stream.fileno(), True)
        if tail is not None:
            stream.seek(max(0, info.st_size - tail))
        return stream.read()
