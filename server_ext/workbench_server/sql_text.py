"""Quoting for the few places that must write SQL text (DuckDB statements that take no
parameters, such as ``CREATE VIEW`` and ``LOAD``): an identifier in double quotes and a
literal in single quotes, each with its quote doubled. Everything else uses parameters."""

from __future__ import annotations


def quote_identifier(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
