"""Extractive sentence selection for :mod:`tools.summarize`: centrality, MMR, a word budget.

A candidate is a sentence span of one source. Its score is its LexRank centrality (PageRank on
the graph of positive cosine similarities between sentence embeddings, min-max scaled to 0..1)
plus a small prior for sentences near the start of their source. Sentences are then picked
greedily by maximal marginal relevance (score against similarity to what is already picked);
a near-duplicate of a picked sentence is never picked. Picking stops once the words reach the
target; a sentence that would take the total past ``target * (1 + tolerance)`` is skipped, so
the result lands within the tolerance whenever the sentence lengths allow it.

Markdown: :func:`prose_spans` cuts a span where a list item, heading or quote line starts and
trims the markers (``#``, ``-``, ``*``, ``+``, ``1.``, ``>``) off each piece, so neither the
summary's prose nor its bullets carry them; offsets stay exact (``text == source[start:end]``).
Headings are left out unless the text has nothing else. Inline emphasis is left as it is: it
cannot be removed from an exact span.

Deliberate shortcuts: the knobs (position weight, MMR lambda) were chosen on the dev split of
the benchmark (``bench/bench_summarize.py --tune``), not learned; a sentence longer than the
whole budget is cut at a word boundary only when nothing else fits.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tools._common import Span, words

POSITION_WEIGHT = 0.0
"""Weight of the lead prior (1 at a source's first sentence, falling linearly to 0). Zero: on the
dev split every positive weight lowered ROUGE (papers open with background, not findings)."""
MMR_LAMBDA = 0.85
"""Relevance against redundancy in MMR (1 = relevance only)."""
DUPLICATE_SIMILARITY = 0.92
"""Cosine similarity above which a sentence counts as a copy of one already picked."""
TOLERANCE = 0.2
"""Allowed relative distance from the word target (the tool promises ±20%)."""
_MIN_WORDS = 4
"""Shorter spans (headings, list labels) are not candidates unless nothing else is."""


_MARKER = r"(?:#{1,6}[ \t]+|[-*+](?:[ \t]+|$)|\d{1,3}[.)](?:[ \t]+|$)|>[ \t]?)"
_LEAD = re.compile(rf"[ \t]*{_MARKER}+")
_RULE = r"(?:[-*_][ \t]*){3,}(?:\n|$)"  # a horizontal rule line
_BLOCK = re.compile(rf"\n(?=[ \t]*(?:{_MARKER}|{_RULE}))")
_HEADING = re.compile(r"[ \t]*#{1,6}[ \t]")
_TRAILING_HASHES = re.compile(r"[ \t]+#+[ \t]*$")


def prose_spans(text: str, spans: Sequence[Span]) -> list[Span]:
    """``spans`` without Markdown structure: cut where a list item, heading or quote line
    starts, each piece's markers trimmed, headings dropped (kept only when nothing else is).

    Example:
        >>> from tools._common import sentences
        >>> src = "# Plans\\n\\n- Call the plumber.\\n- Pay the bill.\\n1. Renew it"
        >>> [s.text for s in prose_spans(src, sentences(src))]
        ['Call the plumber.', 'Pay the bill.', 'Renew it']
    """
    prose: list[Span] = []
    headings: list[Span] = []
    for span in spans:
        cuts = [0, *(m.start() + 1 for m in _BLOCK.finditer(span.text)), len(span.text)]
        for a, b in zip(cuts, cuts[1:], strict=False):
            piece = span.text[a:b]
            heading = bool(_HEADING.match(piece))
            if heading and "\n" in piece.strip():  # a heading's line, then text after it
                nl = piece.index("\n", len(piece) - len(piece.lstrip()))
                _piece(text, span.start + a, piece[:nl], headings)
                _piece(text, span.start + a + nl + 1, piece[nl + 1 :], prose)
            else:
                _piece(text, span.start + a, piece, headings if heading else prose)
    return prose or headings


def strip_markdown(text: str) -> str:
    """``text`` (a model's reply) without heading and rule lines and without the list and
    quote markers that open its lines; what :func:`prose_spans` does for a source, for text
    that needs no offsets.

    Example:
        >>> strip_markdown("## Summary\\n- Cats purr.\\n2. Dogs bark.\\n---")
        'Cats purr.\\nDogs bark.'
    """
    lines = []
    for line in text.splitlines():
        if _HEADING.match(line) or re.fullmatch(_RULE, line.strip() + "\n"):
            continue
        lead = _LEAD.match(line)
        lines.append(line[lead.end() :] if lead else line)
    return "\n".join(lines).strip()


def _piece(text: str, start: int, piece: str, out: list[Span]) -> None:
    lead = _LEAD.match(piece)
    skip = lead.end() if lead else 0
    core = _TRAILING_HASHES.sub("", piece[skip:].rstrip())
    stripped = core.lstrip()
    if not any(ch.isalnum() for ch in stripped):
        return  # a rule, a bare marker: nothing to say
    begin = start + skip + len(core) - len(stripped)
    end = begin + len(stripped)
    out.append(Span(begin, end, text[begin:end]))


@dataclass(frozen=True)
class Candidate:
    """A sentence of source ``source`` (index into the sources), ``rank`` = its position there."""

    source: int
    span: Span
    rank: int
    count: int  # words


def candidates(spans_per_source: Sequence[Sequence[Span]]) -> list[Candidate]:
    """All sentences of all sources, in source order then document order."""
    out = []
    for s, spans in enumerate(spans_per_source):
        for i, span in enumerate(spans):
            out.append(Candidate(s, span, i, words(span.text)))
    return out


def centrality(vectors: np.ndarray, damping: float = 0.85, iterations: int = 50) -> np.ndarray:
    """LexRank scores of unit-row ``vectors`` (continuous LexRank, power iteration), in 0..1."""
    n = len(vectors)
    if n == 0:
        return np.zeros(0)
    sim = np.clip(vectors @ vectors.T, 0.0, None)
    np.fill_diagonal(sim, 0.0)
    rows = sim.sum(axis=1, keepdims=True)
    # A sentence similar to nothing links to every sentence equally (a dangling node).
    trans = np.where(rows > 0, sim / np.where(rows > 0, rows, 1.0), 1.0 / n)
    rank = np.full(n, 1.0 / n)
    for _ in range(iterations):
        rank = (1 - damping) / n + damping * (trans.T @ rank)
    lo, hi = float(rank.min()), float(rank.max())
    return (rank - lo) / (hi - lo) if hi > lo else np.ones(n)


def scores(
    cands: Sequence[Candidate], vectors: np.ndarray, position_weight: float = POSITION_WEIGHT
) -> np.ndarray:
    """Centrality plus the lead prior, per candidate."""
    base = centrality(vectors)
    sizes: dict[int, int] = {}
    for c in cands:
        sizes[c.source] = max(sizes.get(c.source, 0), c.rank + 1)
    prior = np.array([1.0 - c.rank / max(1, sizes[c.source]) for c in cands])
    return base + position_weight * prior


def select(
    cands: Sequence[Candidate],
    vectors: np.ndarray,
    target: int,
    *,
    position_weight: float = POSITION_WEIGHT,
    mmr_lambda: float = MMR_LAMBDA,
    exclude: Sequence[np.ndarray] = (),
    already: int = 0,
) -> list[int]:
    """Indices (into ``cands``, in document order) of the sentences that make the summary.

    Args:
        cands / vectors: the candidates and their unit embeddings (same order).
        target: words wanted in total, ``already`` of which are spent (abstractive sentences
            being extended); ``exclude`` are their vectors, so nothing repeats them.

    Example:
        >>> from memory.embeddings import HashEmbedder
        >>> spans = [Span(0, 9, "Cats purr loudly."), Span(10, 20, "Dogs bark.")]
        >>> cs = candidates([spans])
        >>> select(cs, HashEmbedder().embed_multi([s.span.text for s in cs]), 3)
        [0]
    """
    if not cands:
        return []
    if not already and not exclude and sum(c.count for c in cands) <= target:
        # The whole text fits: every sentence and list item, however short ("fix the tap"
        # is a whole bullet of a note), except repeats.
        kept: list[int] = []
        for i in range(len(cands)):
            if all(float(vectors[i] @ vectors[j]) < DUPLICATE_SIMILARITY for j in kept):
                kept.append(i)
        return kept
    rel = scores(cands, vectors, position_weight)
    high = target * (1 + TOLERANCE)
    eligible = [i for i, c in enumerate(cands) if c.count >= _MIN_WORDS] or list(range(len(cands)))
    picked: list[int] = []
    seen = [np.asarray(v) for v in exclude]
    total = already
    while total < target:
        best, best_value = -1, -np.inf
        for i in eligible:
            if i in picked or total + cands[i].count > high:
                continue
            redundancy = max((float(vectors[i] @ v) for v in seen), default=0.0)
            if redundancy >= DUPLICATE_SIMILARITY:
                continue
            value = mmr_lambda * rel[i] - (1 - mmr_lambda) * redundancy
            if value > best_value:
                best, best_value = i, value
        if best < 0:
            break
        picked.append(best)
        seen.append(vectors[best])
        total += cands[best].count
    return sorted(picked)


def lead(cands: Sequence[Candidate], target: int) -> list[int]:
    """The lead baseline under the same length rule: first sentences while they fit."""
    picked: list[int] = []
    total = 0
    for i, c in enumerate(cands):
        if total >= target:
            break
        if total + c.count > target * (1 + TOLERANCE):
            if total == 0:
                continue
            break
        picked.append(i)
        total += c.count
    return picked


def cut_to_words(text: str, span: Span, n: int) -> Span:
    """The first ``n`` words of ``span`` as a span of ``text`` (offsets stay exact)."""
    pos = span.start
    for count, word in enumerate(span.text.split()):
        if count == n:
            break
        pos = text.index(word, pos) + len(word)
    return Span(span.start, pos, text[span.start : pos])
