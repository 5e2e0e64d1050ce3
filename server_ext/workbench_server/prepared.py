"""Whether ``workbench up`` must prepare the home again before the banner.

Preparing (``python -m workbench_server.bootstrap``: the metadata DB brought to the newest
schema, the demo data made once) costs a Python process that imports the whole core:
about 0.8 s of CPU on every start, spent while JupyterLab, the worker and Temporal start
on the same cores, and for nothing once a home is prepared. The bootstrap leaves a
fingerprint of what it prepared; ``up`` skips it while the fingerprint still matches.

The fingerprint covers what would make preparing do something again: this package's
version, the migrations it ships (their file names: a new one changes it), the metadata
DB it was done for (a digest of its URL, never the URL), and whether the demo data was
asked for. ``up`` also checks that the demo file is still there (deleted, it is made
again). Only the standard library here: the supervisor imports this module and must stay
small. JupyterLab's server and the worker migrate the schema themselves too (under a
lock), so a stale fingerprint can at worst delay a message, never skip a migration.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ._version import __version__

MARKER = "prepared.json"
DEMO_FILE = "odoo_demo.duckdb"  # in the home's demo folder
_MIGRATIONS = Path(__file__).parent / "db" / "migrations" / "versions"


def fingerprint(db_url: str, demo: bool) -> str:
    migrations = sorted(
        name for name in os.listdir(_MIGRATIONS) if name.endswith(".py") and name[0].isdigit()
    )
    material = json.dumps(
        {
            "version": __version__,
            "migrations": migrations,
            "db": hashlib.sha256(db_url.encode()).hexdigest(),
            "demo": demo,
        },
        sort_keys=True,
    )
    return hashlib.sha256(material.encode()).hexdigest()


def is_prepared(run_dir: Path, db_url: str, demo: bool, demo_file: Path) -> bool:
    try:
        recorded = json.loads((run_dir / MARKER).read_text()).get("fingerprint")
    except (OSError, ValueError, AttributeError):
        return False
    if demo and not demo_file.exists():
        return False
    if not _sqlite_file_intact(db_url):
        return False  # preparing again says why it cannot be read, before the banner
    return recorded == fingerprint(db_url, demo)


def _sqlite_file_intact(db_url: str) -> bool:
    """Whether the SQLite file behind ``db_url`` still starts as one (a damaged file, a bad
    copy, would otherwise be found only by the lab and the worker after the banner said
    ready). True for other databases: they are checked by opening them."""
    if not db_url.startswith("sqlite:///"):
        return True
    path = db_url.removeprefix("sqlite:///").split("?", 1)[0]
    try:
        with open(path, "rb") as handle:
            return handle.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def mark_prepared(run_dir: Path, db_url: str, demo: bool) -> None:
    """Written after a successful preparation, atomically (a rename)."""
    target = run_dir / MARKER
    partial = run_dir / f".{MARKER}.{os.getpid()}"
    partial.write_text(json.dumps({"fingerprint": fingerprint(db_url, demo)}))
    os.replace(partial, target)


def forget(run_dir: Path) -> None:
    """After a failed preparation: the next start prepares again."""
    try:
        (run_dir / MARKER).unlink()
    except FileNotFoundError:
        pass
