"""Ranked, typo-tolerant search over the catalog, held in memory and rebuilt on change.

Results are tables. A table scores from its own words (name, Odoo model and label,
tags, description, comment) and, less, from its columns' words (names, labels, tags,
selection values). Per query word the best match counts: exact word > prefix (typing)
> a close spelling (rapidfuzz over words of similar length, so "acount" finds
"account"). Every query word must match somewhere (the schema counts, least). On top:
the whole query as the exact name, ``schema.name``, model or label (+100) or as a prefix
of the name (+50); how much of the name the query covers; usage (queries through ``%sql``
and pipelines) and certification.

Scoring is vectorised with numpy over posting lists, so a query costs about the same
for a hundred tables or ten thousand. The index (:mod:`.search_index`, with numpy and
rapidfuzz) is imported when the first one is built, on the first search: the server does
not hold those libraries until someone searches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

WORD = re.compile(r"[a-z0-9]+")
# How much a word found in each place is worth.
NAME, LABEL, TAG, TEXT, COLUMN = 30.0, 24.0, 14.0, 8.0, 5.0
# The table's schema (a lake table's layer), so a name searched as SQL writes it
# ("gold.customer_totals", "public.res_partner") finds it; less than any other place.
SCHEMA = 3.0
PREFIX_FACTOR, FUZZY_FACTOR = 0.75, 0.6
FUZZY_CUTOFF = 75
FACETS = ("connection", "schema", "layer", "kind", "tag", "steward")
# The matches of this many recent queries are kept (their first RANKED_KEPT, in order):
# the next page of a result list, a facet filter toggled back, a query typed again after
# a backspace or by a colleague with the same rights are answered without ranking again.
# They are dropped with the index, and when usage counts (which rank) are taken in.
RECENT_QUERIES, RANKED_KEPT = 256, 1_000


def stem(word: str) -> str:
    """A light English plural folding: items -> item, entries -> entry, taxes -> tax."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("xes", "ses", "ches", "shes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


@lru_cache(maxsize=200_000)
def _words_of(text: str) -> frozenset[str]:
    return frozenset(stem(w) for w in WORD.findall(text.lower()))


def words(*texts: str | None) -> set[str]:
    out: set[str] = set()
    for text in texts:
        if text:
            out |= _words_of(text)
    return out


def phrase(text: str | None) -> str:
    return "_".join(WORD.findall((text or "").lower()))


@dataclass
class Doc:
    """One table as search sees it."""

    id: int
    connection_id: int
    connection: str
    schema: str
    name: str
    kind: str
    layer: str | None
    label: str | None
    odoo_model: str | None
    tags: list[str]
    steward: str | None
    certified: bool
    usage: int
    name_words: set[str] = field(default_factory=set)
    fields: dict[str, float] = field(default_factory=dict)  # word -> best weight
    columns: dict[str, list[str]] = field(default_factory=dict)  # word -> column names


@dataclass
class Hit:
    doc: Doc
    score: float
    columns: list[str]


@dataclass
class Result:
    total: int
    hits: list[Hit]
    facets: dict[str, dict[str, int]]
