"""Split text into chunks on paragraph and sentence boundaries within a token budget.

Each :class:`Chunk` keeps the character offsets of its text in the page it came from, so a
citation can point at the exact span. Paragraphs (blank-line separated) are kept whole when they
fit; longer ones are split into sentences; a sentence longer than the budget is split on word
boundaries. The next chunk starts with the last sentences of the previous one, up to
``overlap`` tokens, so a fact straddling a boundary is whole in at least one chunk.

Deliberate shortcut: tokens are counted with a regex (words and punctuation marks, long words
counted as one per 6 characters), which tracks MiniLM's word pieces closely enough for
budgeting and costs no tokenizer call. Pass ``count_tokens`` to use a real tokenizer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Chunk", "chunk_text", "count_tokens"]

_TOKEN = re.compile(r"\w+|[^\w\s]")
_PARA = re.compile(r"\n[ \t]*\n\s*")
# A sentence ends at . ! ? (optionally followed by quotes/brackets) before whitespace.
_SENT_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+")


def count_tokens(text: str) -> int:
    """Approximate word-piece count of ``text``.

    Example:
        >>> count_tokens("Hello, world!")
        4
    """
    return sum(1 + len(m) // 6 if m[0].isalnum() else 1 for m in _TOKEN.findall(text))


@dataclass(frozen=True)
class Chunk:
    """A piece of a page: ``text == page_text[start:end]``."""

    text: str
    start: int
    end: int
    page: int | None = None


def _spans(text: str, pattern: re.Pattern[str], start: int, end: int) -> list[tuple[int, int]]:
    out, pos = [], start
    for m in pattern.finditer(text, start, end):
        if m.start() > pos:
            out.append((pos, m.start()))
        pos = m.end()
    if pos < end:
        out.append((pos, end))
    return [(a, b) for a, b in out if text[a:b].strip()]


def _word_spans(
    text: str, start: int, end: int, budget: int, count: Callable[[str], int]
) -> list[tuple[int, int]]:
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text[start:end])]
    out: list[tuple[int, int]] = []
    a: int | None = None
    used = prev_end = 0
    for ws, we in words:
        n = count(text[start + ws : start + we])
        if a is not None and used + n > budget:
            out.append((a, prev_end))
            a, used = None, 0
        if a is None:
            a = start + ws
        used += n
        prev_end = start + we
    if a is not None:
        out.append((a, prev_end))
    return out


def _units(text: str, budget: int, count: Callable[[str], int]) -> list[tuple[int, int, int]]:
    """(start, end, tokens) pieces no larger than ``budget``, paragraph ends marked by order."""
    units = []
    for ps, pe in _spans(text, _PARA, 0, len(text)):
        if count(text[ps:pe]) <= budget:
            units.append((ps, pe))
            continue
        for ss, se in _spans(text, _SENT_END, ps, pe):
            if count(text[ss:se]) <= budget:
                units.append((ss, se))
            else:
                units += _word_spans(text, ss, se, budget, count)
    return [(a, b, count(text[a:b])) for a, b in units]


def chunk_text(
    text: str,
    budget: int = 200,
    overlap: int = 40,
    page: int | None = None,
    count: Callable[[str], int] = count_tokens,
) -> list[Chunk]:
    """Chunks of ``text`` of at most ``budget`` tokens, overlapping by up to ``overlap``.

    Example:
        >>> text = "Alpha beta gamma. Delta epsilon.\\n\\nZeta eta theta iota. Kappa lambda mu."
        >>> [(c.text, c.start) for c in chunk_text(text, budget=8, overlap=4)]
        ... # doctest: +NORMALIZE_WHITESPACE
        [('Alpha beta gamma. Delta epsilon.', 0), ('Zeta eta theta iota.', 34),
         ('Kappa lambda mu.', 55)]
    """
    if budget < 8:
        raise ValueError("chunk budget must be at least 8 tokens")
    overlap = max(0, min(overlap, budget // 2))
    units = _units(text, budget, count)
    chunks: list[Chunk] = []
    i = 0
    while i < len(units):
        j, used = i, 0
        while j < len(units) and used + units[j][2] <= budget:
            used += units[j][2]
            j += 1
        j = max(j, i + 1)
        start, end = units[i][0], units[j - 1][1]
        chunks.append(Chunk(text[start:end], start, end, page))
        if j >= len(units):
            break
        # Step back over trailing units worth at most `overlap` tokens, but always advance.
        back, k = 0, j
        while k - 1 > i and back + units[k - 1][2] <= overlap:
            k -= 1
            back += units[k][2]
        i = k
    return chunks
