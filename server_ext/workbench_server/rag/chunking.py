"""Text cut into overlapping chunks whose ids stay the same from run to run.

Two units: ``characters`` and ``tokens``. No tokenizer ships with the workbench (the
ones models use are large and model-specific), so a token here is a *word*: a run of
characters that are not white space. For English prose an OpenAI token is about 0.75 of
a word, so ``size: 300`` tokens is roughly 400 of a model's; give sizes with that margin.

Character chunks end at the last paragraph break, line break, sentence end or space in
the window's final fifth when there is one (a word is not cut in two unless it is longer
than that fifth), and the next chunk starts ``overlap`` characters before the end.
Word chunks hold ``size`` words and start ``size - overlap`` words after the previous
one. A chunk's text is the source text between its first and last character, as written.

An id is the SHA-256 of the source, the key and the chunk's number: the same source
row or file cut the same way gives the same ids, so a re-run replaces chunks in place,
and a chunk whose number no longer exists (the text became shorter) is removed.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Literal

Unit = Literal["characters", "tokens"]

_WORD = re.compile(r"\S+")
# Where a character chunk prefers to end, best first.
_BREAKS = (
    re.compile(r"\n\s*\n"),
    re.compile(r"\n"),
    re.compile(r"[.!?;:](?=\s)"),
    re.compile(r"\s"),
)


@dataclass(frozen=True)
class Chunk:
    """One piece of a text: its number in the text, where it starts and ends, its text."""

    index: int
    start: int
    end: int
    text: str


def chunk_text(text: str, size: int, overlap: int, unit: Unit = "characters") -> list[Chunk]:
    """``text`` cut into chunks of at most ``size`` units overlapping by ``overlap``.

    Blank text gives no chunk. ``overlap`` must be smaller than ``size``.
    """
    if size < 1 or not 0 <= overlap < size:
        raise ValueError(f"chunk size {size} and overlap {overlap}: need 0 <= overlap < size")
    if not text.strip():
        return []
    if unit == "tokens":
        return _by_words(text, size, overlap)
    return _by_characters(text, size, overlap)


def _by_words(text: str, size: int, overlap: int) -> list[Chunk]:
    words = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    chunks: list[Chunk] = []
    first = 0
    while first < len(words):
        last = min(first + size, len(words)) - 1
        start, end = words[first][0], words[last][1]
        chunks.append(Chunk(len(chunks), start, end, text[start:end]))
        if last == len(words) - 1:
            break
        first += size - overlap
    return chunks


def _by_characters(text: str, size: int, overlap: int) -> list[Chunk]:
    chunks: list[Chunk] = []
    start = _skip_space(text, 0)
    while start < len(text):
        end = min(start + size, len(text))
        if end < len(text):
            end = _break_before(text, start, end, size)
        piece = text[start:end].rstrip()
        if piece:
            chunks.append(Chunk(len(chunks), start, start + len(piece), piece))
        if end >= len(text):
            break
        # The next chunk starts `overlap` before this one's end, at a word's start, and
        # always after this one's start (or the loop would not end).
        following = max(end - overlap, start + 1)
        if overlap:
            space = text.rfind(" ", start + 1, following + 1)
            following = space + 1 if space > start else following
        start = _skip_space(text, following)
    return chunks


def _break_before(text: str, start: int, end: int, size: int) -> int:
    """The end of a chunk: just after the best break in the window's last fifth."""
    floor = start + max(1, size * 4 // 5)
    for pattern in _BREAKS:
        best = None
        for match in pattern.finditer(text, floor, end):
            best = match.end()
        if best is not None and best > start:
            return best
    return end


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at].isspace():
        at += 1
    return at


def chunk_id(source: str, key: str, index: int) -> str:
    """The chunk's id: SHA-256 (hex) of its source, its key and its number."""
    return hashlib.sha256(f"{source}\x1f{key}\x1f{index}".encode()).hexdigest()


def text_hash(text: str) -> str:
    """SHA-256 (hex) of a chunk's text, kept to tell a changed chunk from the same one."""
    return hashlib.sha256(text.encode()).hexdigest()
