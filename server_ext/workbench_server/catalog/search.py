"""Ranked, typo-tolerant search over the catalog, held in memory and rebuilt on change.

Results are tables. A table scores from its own words (name, Odoo model and label,
tags, description, comment) and, less, from its columns' words (names, labels, help,
selection values). Per query word the best match counts: exact word > prefix (typing)
> a close spelling (rapidfuzz over the vocabulary, so "acount" finds "account"). Every
query word must match somewhere. On top: the whole query as the exact name, model or
label, or as a prefix of the name; how much of the name the query covers; usage
(queries through ``%sql`` and pipelines), and certification.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

WORD = re.compile(r"[a-z0-9]+")
# How much a word found in each place is worth.
NAME, LABEL, TAG, TEXT, COLUMN = 30.0, 24.0, 14.0, 8.0, 5.0
PREFIX_FACTOR, FUZZY_FACTOR = 0.75, 0.6
FUZZY_CUTOFF = 75


def stem(word: str) -> str:
    """A light English plural folding: items -> item, entries -> entry, taxes -> tax."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("xes", "ses", "ches", "shes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def words(*texts: str | None) -> set[str]:
    out: set[str] = set()
    for text in texts:
        if text:
            out.update(stem(w) for w in WORD.findall(text.lower()))
    return out


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


class SearchIndex:
    def __init__(self, docs: Iterable[Doc]) -> None:
        self.docs = list(docs)
        self.postings: dict[str, list[int]] = defaultdict(list)
        for i, doc in enumerate(self.docs):
            for word in doc.fields.keys() | doc.columns.keys():
                self.postings[word].append(i)
        self.vocabulary = sorted(self.postings)

    def _candidates(self, word: str) -> list[tuple[str, float]]:
        """Words of the index that may stand for ``word``, with how much they count."""
        found: dict[str, float] = {}
        if word in self.postings:
            found[word] = 1.0
        if len(word) >= 2:
            start = bisect.bisect_left(self.vocabulary, word)
            for other in self.vocabulary[start : start + 200]:
                if not other.startswith(word):
                    break
                found.setdefault(other, PREFIX_FACTOR)
        if len(word) >= 4:
            for other, similarity, _ in process.extract(
                word, self.vocabulary, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF, limit=8
            ):
                found.setdefault(other, FUZZY_FACTOR * similarity / 100)
        return list(found.items())

    def search(self, query: str, allowed: set[int] | None = None) -> list[Hit]:
        phrase = "_".join(WORD.findall(query.lower()))
        query_words = sorted({stem(w) for w in WORD.findall(query.lower())})
        if not query_words:
            return []
        scores: dict[int, float] = {}
        matched_columns: dict[int, set[str]] = defaultdict(set)
        for n, word in enumerate(query_words):
            best: dict[int, float] = {}
            for candidate, factor in self._candidates(word):
                for i in self.postings[candidate]:
                    doc = self.docs[i]
                    if allowed is not None and doc.connection_id not in allowed:
                        continue
                    own = doc.fields.get(candidate, 0.0)
                    in_columns = doc.columns.get(candidate, ())
                    column_score = COLUMN * min(len(in_columns), 6) ** 0.5 if in_columns else 0.0
                    value = factor * max(own, column_score)
                    if value > best.get(i, 0.0):
                        best[i] = value
                    if in_columns:
                        matched_columns[i].update(in_columns[:5])
            if n == 0:
                scores = best
            else:  # every word must match
                scores = {i: s + best[i] for i, s in scores.items() if i in best}
            if not scores:
                return []
        hits = []
        for i, score in scores.items():
            doc = self.docs[i]
            names = {doc.name.lower(), (doc.odoo_model or "").replace(".", "_")}
            if phrase in names or phrase == "_".join(WORD.findall((doc.label or "").lower())):
                score += 100
            elif doc.name.lower().startswith(phrase):
                score += 50
            covered = len(doc.name_words & set(query_words)) / max(1, len(doc.name_words))
            score += 15 * covered
            score += 3 * math.log1p(doc.usage) + (5 if doc.certified else 0)
            hits.append(Hit(doc, round(score, 3), sorted(matched_columns.get(i, ()))[:10]))
        hits.sort(key=lambda h: (-h.score, h.doc.name, h.doc.id))
        return hits


def facets(hits: list[Hit]) -> dict[str, dict[str, int]]:
    counters: dict[str, Counter[str]] = {
        k: Counter() for k in ("connection", "schema", "layer", "kind", "tag", "steward")
    }
    for hit in hits:
        doc = hit.doc
        counters["connection"][doc.connection] += 1
        counters["schema"][doc.schema] += 1
        counters["kind"][doc.kind] += 1
        if doc.layer:
            counters["layer"][doc.layer] += 1
        if doc.steward:
            counters["steward"][doc.steward] += 1
        for tag in doc.tags:
            counters["tag"][tag] += 1
    return {k: dict(c.most_common(50)) for k, c in counters.items() if c}
