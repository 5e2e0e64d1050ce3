"""Whether OpenLineage events go out: a transport in the settings, or openlineage-python's
own environment variables.

Apart from :mod:`.openlineage` so that a process where export is off (the default) never
imports the OpenLineage client (about 15 MB in JupyterLab's server and in the worker).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..settings import WorkbenchSettings

CLIENT_ENV = ("OPENLINEAGE_URL", "OPENLINEAGE_CONFIG")


def export_configured(settings: WorkbenchSettings) -> bool:
    """True when events may go out (a configuration that turns out invalid is reported
    and switched off by the emitter itself)."""
    return bool(settings.openlineage_transport) or any(os.environ.get(n) for n in CLIENT_ENV)
