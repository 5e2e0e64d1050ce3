"""What lineage found in SQL: statements, the datasets they read and write, and where each
output column comes from. Plain data, apart from :mod:`.sql` so that code recording
lineage it knows (an extract's column mapping) does not load sqlglot."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ColumnSource:
    dataset: str
    column: str
    transformation: str  # identity | aggregation | expression


@dataclass
class StatementLineage:
    kind: str  # create_table_as | create_view | insert | copy | select | other
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    columns: dict[str, list[ColumnSource]] = field(default_factory=dict)


@dataclass
class SqlLineage:
    statements: list[StatementLineage] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def inputs(self) -> list[str]:
        return list(dict.fromkeys(d for s in self.statements for d in s.inputs))

    @property
    def outputs(self) -> list[str]:
        return list(dict.fromkeys(d for s in self.statements for d in s.outputs))
