"""A lake table as an Arrow dataset for the agents' sandboxed DuckDB.

The Delta log says which Parquet files are the table now; delta-rs opens them. In a
local lake every one of those files must really lie below the lake's folder: a pipeline
step could have swapped one for a link to a file of the server (the catalog's previews
check the same, :mod:`..catalog.delta`).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ..errors import NotFoundError, PermissionDeniedError
from ..lake_layout import MAIN

if TYPE_CHECKING:
    from ..lake.location import LakeLocation


def table_uri(location: LakeLocation, layer: str, name: str) -> str:
    return f"{location.root}/{name}" if layer == MAIN else f"{location.root}/{layer}/{name}"


def open_delta_dataset(location: LakeLocation, layer: str, name: str) -> Any:
    """``layer.name``'s current files as a ``pyarrow.dataset.Dataset``."""
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError, TableNotFoundError

    uri = table_uri(location, layer, name)
    try:
        table = DeltaTable(uri, storage_options=location.storage_options())
    except TableNotFoundError:
        raise NotFoundError(
            f"{layer}.{name} is not a Delta table of lake {location.name!r} (a Parquet "
            "dataset can be previewed, or converted with `workbench lake migrate`)"
        ) from None
    except (DeltaError, OSError) as exc:
        raise NotFoundError(f"{layer}.{name} cannot be read: {str(exc)[:200]}") from None
    if not location.is_s3:
        root = os.path.realpath(location.root)
        for file in table.file_uris():
            path = file.removeprefix("file://")
            if not os.path.realpath(path).startswith(root + os.sep):
                raise PermissionDeniedError(
                    f"{layer}.{name} has a data file outside the lake's folder; it is not read"
                )
    return table.to_pyarrow_dataset()
