"""How a lake folder is laid out: which dataset a Parquet file belongs to.

``bronze|silver|gold/<dataset>/...`` (any depth, e.g. hive partitions ``year=2026/``) or
``<layer>/<dataset>.parquet``; anything else at the top is in the ``main`` layer. Names
starting with ``.`` or ``_`` (``_delta_log``, ``.tmp``) are not data. The kernel's lake
views and the catalog's lake scans both follow this rule.
"""

from __future__ import annotations

import re

LAYERS = ("bronze", "silver", "gold")
MAIN = "main"


def dataset_key(relative: list[str]) -> tuple[str, str] | None:
    """(layer, name) of the dataset a Parquet file belongs to, from its path in the lake."""
    if any(part.startswith((".", "_")) for part in relative):
        return None
    if len(relative) >= 3 and relative[0] in LAYERS:
        layer, name = relative[0], relative[1]
    elif len(relative) == 2 and relative[0] in LAYERS and relative[1].endswith(".parquet"):
        layer, name = relative[0], relative[1].removesuffix(".parquet")
    elif len(relative) >= 2 and relative[0] not in LAYERS:
        layer, name = MAIN, relative[0]
    elif len(relative) == 1 and relative[0].endswith(".parquet"):
        layer, name = MAIN, relative[0].removesuffix(".parquet")
    else:
        return None
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        return None
    return layer, name


def partition_values(relative: list[str]) -> dict[str, str]:
    """Hive partition keys in a file's path: ``year=2026/month=11`` -> {year, month}."""
    values = {}
    for part in relative[:-1]:
        key, sep, value = part.partition("=")
        if sep and key:
            values[key] = value
    return values
