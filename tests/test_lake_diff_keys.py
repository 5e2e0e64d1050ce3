"""``lake.diff`` of a table no merge has keyed: the error says how to name the keys
from where the user called it (Python's ``keys=``), not only the CLI's and REST's."""

from __future__ import annotations

import pyarrow as pa
import pytest

from workbench_server.errors import InvalidInputError
from workbench_server.lake import Lake


def test_a_diff_without_keys_says_how_to_give_them_in_python(tmp_path) -> None:
    lake = Lake.at(str(tmp_path / "lake"))
    lake.write("gold.balances", pa.table({"account_id": [1, 2], "balance": [10, 20]}))
    lake.write("gold.balances", pa.table({"account_id": [1], "balance": [11]}), mode="overwrite")
    with pytest.raises(InvalidInputError) as refused:
        lake.diff("gold.balances", 1, 2)
    assert "keys=" in str(refused.value)
    found = lake.diff("gold.balances", 1, 2, keys=["account_id"])  # as it says
    assert (found.added, found.removed, found.changed) == (0, 1, 1)
