"""Extractive sentence selection for :mod:`tools.summarize`: centrality, MMR, a word budget.

A candidate is a sentence span of one source. Its score is its LexRank centrality (PageRank on
the graph of positive cosine similarities between sentence embeddings, min-max scaled to 0..1)
plus a small prior for sentences near the start of their source. Sentences are then picked
greedily by maximal marginal relevance (score against similarity to what is already picked);
a near-duplicate of a picked sentence is never picked. Picking stops once the words reach the
target; a sentence that would take the total past ``target * (1 + tolerance)`` is skipped, so
the result lands within the tolerance whenever the sentence lengths allow it.

Deliberate shortcuts: the knobs (position weight, MMR lambda) were chosen on the dev split of
the benchmark (``bench/bench_summarize.py --tune``), not learned; a sentence longer than the
whole budget is cut at a word boundary only when nothing else fits.
"""

from __future__ import annotations

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
