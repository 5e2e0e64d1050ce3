"""The catalog's search index: posting lists scored with numpy, close spellings found with
rapidfuzz (see :mod:`.search` for how tables score). Built by the first search."""

from __future__ import annotations

import bisect
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

from .search import (
    COLUMN,
    FUZZY_CUTOFF,
    FUZZY_FACTOR,
    PREFIX_FACTOR,
    RANKED_KEPT,
    RECENT_QUERIES,
    WORD,
    Doc,
    Hit,
    Result,
    phrase,
    stem,
)


@dataclass
class _Ranked:
    """A query's matches, best first: all that a page of it needs."""

    total: int
    order: list[int]  # positions in the index of the first matches
    scores: list[float]
    candidates_of: list[list[tuple[str, float]]]  # per query word, the words it matched
    facets: dict[str, dict[str, int]]


class SearchIndex:
    def __init__(self, docs: Iterable[Doc]) -> None:
        self.docs = list(docs)
        n = len(self.docs)
        postings: dict[str, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
        name_postings: dict[str, list[int]] = defaultdict(list)
        self.exact: dict[str, list[int]] = defaultdict(list)
        for i, doc in enumerate(self.docs):
            for word in doc.fields.keys() | doc.columns.keys():
                in_columns = len(doc.columns.get(word, ()))
                column_score = COLUMN * min(in_columns, 6) ** 0.5 if in_columns else 0.0
                idx, weight = postings[word]
                idx.append(i)
                weight.append(max(doc.fields.get(word, 0.0), column_score))
            for word in doc.name_words:
                name_postings[word].append(i)
            qualified = phrase(f"{doc.schema} {doc.name}")  # schema.name as SQL writes it
            keys = {doc.name.lower(), qualified, phrase(doc.odoo_model), phrase(doc.label)}
            for key in keys - {""}:
                self.exact[key].append(i)
        self.postings = {
            w: (np.asarray(i, dtype=np.int32), np.asarray(s, dtype=np.float32))
            for w, (i, s) in postings.items()
        }
        self.name_postings = {w: np.asarray(i, dtype=np.int32) for w, i in name_postings.items()}
        self.vocabulary = sorted(self.postings)
        self.by_length: dict[int, list[str]] = defaultdict(list)
        for word in self.vocabulary:
            if not word.isdigit():
                self.by_length[len(word)].append(word)
        names = sorted((doc.name.lower(), i) for i, doc in enumerate(self.docs))
        self.sorted_names = [name for name, _ in names]
        self.sorted_ids = np.asarray([i for _, i in names], dtype=np.int32)
        self.name_rank = np.empty(n, dtype=np.int32)
        self.name_rank[self.sorted_ids] = np.arange(n, dtype=np.int32)
        self.name_length = np.asarray([max(1, len(d.name_words)) for d in self.docs], np.float32)
        self.position = {doc.id: i for i, doc in enumerate(self.docs)}
        self.base = np.zeros(n, dtype=np.float32)
        self._set_base()
        self.connection_ids = np.asarray([d.connection_id for d in self.docs], dtype=np.int64)
        self.facet_values: dict[str, list[str]] = {}
        self.facet_codes: dict[str, np.ndarray] = {}
        for facet in ("connection", "schema", "layer", "kind", "steward"):
            values: dict[str | None, int] = {}
            codes = [values.setdefault(getattr(d, facet), len(values)) for d in self.docs]
            self.facet_values[facet] = list(values)  # type: ignore[arg-type]
            self.facet_codes[facet] = np.asarray(codes, dtype=np.int32)
        tags: dict[str, list[int]] = defaultdict(list)
        for i, doc in enumerate(self.docs):
            for tag in doc.tags:
                tags[tag].append(i)
        self.tag_postings = {t: np.asarray(i, dtype=np.int32) for t, i in tags.items()}
        # The same as (document, tag code) pairs, to count every tag's hits at once.
        self.tag_names = list(self.tag_postings)
        self.tag_docs = np.concatenate([np.zeros(0, np.int32), *self.tag_postings.values()])
        self.tag_codes = np.repeat(
            np.arange(len(self.tag_names), dtype=np.int32),
            [len(i) for i in self.tag_postings.values()],
        )
        self._near: dict[int, list[str]] = {}
        self._recent: OrderedDict[tuple[object, ...], _Ranked] = OrderedDict()
        self._recent_lock = threading.Lock()
        self._usage_taken = 0

    def replaced(self, fresh: dict[int, Doc], changed: set[int]) -> SearchIndex:
        """A new index: these tables' documents replaced (dropped ones left out).

        The documents of every other table are reused as they are, which is most of the
        cost of building an index from the database.
        """
        docs = [d for d in self.docs if d.id not in changed]
        return SearchIndex([*docs, *fresh.values()])

    def _set_base(self) -> None:
        n = len(self.docs)
        usage = np.fromiter((doc.usage for doc in self.docs), dtype=np.float64, count=n)
        certified = np.fromiter((doc.certified for doc in self.docs), dtype=np.float64, count=n)
        self.base[:] = 3 * np.log1p(usage) + 5 * certified

    def set_usage(self, usage: dict[int, int]) -> None:
        """Take in new usage counts without rebuilding (they change with every query)."""
        for table_id, count in usage.items():
            i = self.position.get(table_id)
            if i is not None:
                self.docs[i].usage = count
        self._set_base()
        with self._recent_lock:
            self._usage_taken += 1
            self._recent.clear()

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
        if len(word) >= 4 and not word.isdigit():
            near = self._near.get(len(word))
            if near is None:  # (a benign race: two threads make the same list)
                lengths = range(len(word) - 2, len(word) + 3)
                near = self._near[len(word)] = [w for n in lengths for w in self.by_length[n]]
            for other, similarity, _ in process.extract(
                word, near, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF, limit=8
            ):
                found.setdefault(other, FUZZY_FACTOR * similarity / 100)
        return list(found.items())

    def search(
        self,
        query: str,
        allowed: set[int] | None = None,
        filters: dict[str, str] | None = None,
        offset: int = 0,
        limit: int = 20,
    ) -> Result:
        """One page of the tables matching ``query`` (of connections ``allowed``, all when
        None) with ``filters``, best first, with the facets of all matches."""
        whole = "_".join(WORD.findall(query.lower()))
        if not whole or not self.docs:
            return Result(0, [], {})
        key = (
            whole,
            None if allowed is None else frozenset(allowed),
            tuple(sorted((filters or {}).items())),
        )
        with self._recent_lock:
            ranked = self._recent.get(key)
            if ranked is not None:
                self._recent.move_to_end(key)
        if ranked is None or (
            offset + limit > len(ranked.order) and ranked.total > len(ranked.order)
        ):
            usage_seen = self._usage_taken
            ranked = self._rank(whole, allowed, filters, max(RANKED_KEPT, offset + limit))
            with self._recent_lock:
                if usage_seen == self._usage_taken:  # (not ranked with old usage counts)
                    self._recent[key] = ranked
                    while len(self._recent) > RECENT_QUERIES:
                        self._recent.popitem(last=False)
        page = []
        shown = slice(offset, offset + limit)
        for i, value in zip(ranked.order[shown], ranked.scores[shown], strict=True):
            doc = self.docs[i]
            matched: set[str] = set()
            for candidates in ranked.candidates_of:
                for candidate, _ in candidates:
                    matched.update(doc.columns.get(candidate, ())[:5])
            page.append(Hit(doc, round(value, 3), sorted(matched)[:10]))
        return Result(ranked.total, page, ranked.facets)

    def _rank(
        self, whole: str, allowed: set[int] | None, filters: dict[str, str] | None, kept: int
    ) -> _Ranked:
        """Score every table for the query and order the matches (the first ``kept``)."""
        n = len(self.docs)
        query_words = sorted({stem(w) for w in whole.split("_")})
        total: np.ndarray | None = None
        candidates_of: list[list[tuple[str, float]]] = []
        for word in query_words:
            best = np.zeros(n, dtype=np.float32)
            candidates = self._candidates(word)
            candidates_of.append(candidates)
            if candidates:
                # Every candidate's postings at once: per document, the best of them.
                found = [self.postings[candidate] for candidate, _ in candidates]
                factors = np.repeat(
                    np.asarray([factor for _, factor in candidates], dtype=np.float32),
                    [len(idx) for idx, _ in found],
                )
                weights = np.concatenate([weight for _, weight in found]) * factors
                np.maximum.at(best, np.concatenate([idx for idx, _ in found]), weights)
            total = best if total is None else np.where((total > 0) & (best > 0), total + best, 0)
        assert total is not None
        keep = total > 0
        if allowed is not None:
            keep &= np.isin(self.connection_ids, np.fromiter(allowed, dtype=np.int64))
        for key, value in (filters or {}).items():
            keep &= self._facet_mask(key, value)
        hit_ids = np.nonzero(keep)[0]
        if not hit_ids.size:
            return _Ranked(0, [], [], candidates_of, {})
        score = total + self.base
        exact = np.asarray(self.exact.get(whole, []), dtype=np.int32)
        bonus = np.zeros(n, dtype=np.float32)
        lo = bisect.bisect_left(self.sorted_names, whole)
        hi = bisect.bisect_right(self.sorted_names, whole + "\uffff")
        bonus[self.sorted_ids[lo:hi]] = 50
        bonus[exact] = 100
        covered = np.zeros(n, dtype=np.float32)
        for word in query_words:
            if word in self.name_postings:
                covered[self.name_postings[word]] += 1
        score += bonus + 15 * np.minimum(covered / self.name_length, 1)
        hit_scores = score[hit_ids]
        order = hit_ids[np.lexsort((self.name_rank[hit_ids], -hit_scores))][:kept]
        return _Ranked(
            int(hit_ids.size),
            order.tolist(),
            score[order].tolist(),
            candidates_of,
            self._facets(hit_ids),
        )

    def _facet_mask(self, key: str, value: str) -> np.ndarray:
        mask = np.zeros(len(self.docs), dtype=bool)
        if key == "tag":
            if value in self.tag_postings:
                mask[self.tag_postings[value]] = True
            return mask
        values = self.facet_values[key]
        if value in values:
            mask = self.facet_codes[key] == values.index(value)
        return mask

    def _facets(self, hit_ids: np.ndarray) -> dict[str, dict[str, int]]:
        """Per facet, its 50 most frequent values among the hits (ties: first seen)."""
        out: dict[str, dict[str, int]] = {}
        for facet, codes in self.facet_codes.items():
            values = self.facet_values[facet]
            counts = np.bincount(codes[hit_ids], minlength=len(values)).tolist()
            ranked = sorted(range(len(values)), key=counts.__getitem__, reverse=True)
            # (sorted() is stable, and reverse=True keeps equal counts in code order.)
            named = {
                values[c]: counts[c] for c in ranked[:50] if counts[c] and values[c] is not None
            }
            if named:
                out[facet] = named
        hits = np.zeros(len(self.docs), dtype=bool)
        hits[hit_ids] = True
        counts = np.bincount(
            self.tag_codes[hits[self.tag_docs]], minlength=len(self.tag_names)
        ).tolist()
        tags = sorted((-c, t) for t, c in zip(self.tag_names, counts, strict=True) if c)
        if tags:
            out["tag"] = {t: -c for c, t in tags[:50]}
        return out
