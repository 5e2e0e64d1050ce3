"""Keeping tokens out of the server's logs.

jupyter-server's access log hides ``?token=`` (its ``_scrub_uri``), but tornado logs
every ``HTTPError`` and uncaught exception with the request's full URI
(``RequestHandler._request_summary``): a ``?token=`` on a route that answers 403 or 404
(a kernel route opened with the browser's token, any URL a user pasted) was written to
the log in clear. :func:`redact` hides such values, :class:`RedactingFilter` applies it
to each record of tornado's loggers, whichever route logged it, and workbench handlers
summarise requests with it.
"""

from __future__ import annotations

import logging
import re

HIDDEN = "[secret]"
# Query parameters whose name contains one of these (as jupyter-server's scrubbing does).
SECRET_NAMES = ("token", "auth", "key", "code", "state", "xsrf", "password", "secret")
_QUERY = re.compile(
    r"(?P<name>[?&;][^=&#\s]*(?:" + "|".join(SECRET_NAMES) + r")[^=&#\s]*=)[^&#\s'\")]*",
    re.IGNORECASE,
)
# Header values as they appear in dumps of headers: "Authorization": "token ...".
_HEADER = re.compile(
    r"(?P<name>(?:authorization|cookie|x-xsrftoken)[\"']?\s*[:=]\s*[\"']?)[^\"'\n]+",
    re.IGNORECASE,
)
# Loggers that write request URIs: tornado's access, HTTPError and uncaught-exception logs.
LOGGERS = ("tornado.access", "tornado.general", "tornado.application")


def redact(text: str) -> str:
    """``text`` with the values of secret query parameters and headers hidden."""
    if "=" not in text and ":" not in text:
        return text
    return _HEADER.sub(rf"\g<name>{HIDDEN}", _QUERY.sub(rf"\g<name>{HIDDEN}", text))


class RedactingFilter(logging.Filter):
    """Rewrites a record's message with :func:`redact` before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's to report
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_FILTER = RedactingFilter("workbench-redact")


def redact_request_logs(*names: str) -> None:
    """Apply :class:`RedactingFilter` to tornado's request loggers (and ``names``).

    A filter on a logger applies to the records created there, before they propagate to
    any handler (the server's stream, a log file, pytest's capture). Idempotent.
    """
    for name in (*LOGGERS, *names):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
