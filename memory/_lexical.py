"""BM25 over document chunks (bm25s, English stop words, Snowball stemming) and rank fusion.

The BM25 index lives in memory only and is rebuilt from SQLite when the chunk table changed
(bm25s has no incremental add or delete). That keeps forgotten text out of any BM25 file on
disk, and rebuilding is fast: bm25s indexes ~100k short chunks per second.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

__all__ = ["Lexical", "rrf"]

_STEMMER: list[object] = []


def _stemmer() -> object | None:
    if not _STEMMER:
        try:
            import Stemmer

            _STEMMER.append(Stemmer.Stemmer("english"))
        except ImportError:  # PyStemmer is optional: plain lower-cased words then
            _STEMMER.append(None)
    return _STEMMER[0]


class Lexical:
    """A BM25 index over ``texts`` whose rows are ``ids``.

    Example:
        >>> lex = Lexical([10, 11], ["the cat sat", "dogs bark loudly"])
        >>> [chunk_id for chunk_id, _score in lex.search("barking dog", 1)]
        [11]
    """

    def __init__(self, ids: Sequence[int], texts: Sequence[str]):
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.ERROR)
        self.ids = np.asarray(ids, dtype=np.int64)
        self._bm25s = bm25s
        self.model = bm25s.BM25()
        if len(texts):
            tokens = bm25s.tokenize(
                list(texts), stopwords="en", stemmer=_stemmer(), show_progress=False
            )
            self.model.index(tokens, show_progress=False)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """Top-``k`` (id, BM25 score) with a positive score, best first."""
        if len(self.ids) == 0:
            return []
        tokens = self._bm25s.tokenize(
            [query], stopwords="en", stemmer=_stemmer(), show_progress=False
        )
        if not tokens.vocab:
            return []
        k = min(k, len(self.ids))
        docs, scores = self.model.retrieve(tokens, k=k, show_progress=False, n_threads=1)
        return [
            (int(self.ids[d]), float(s)) for d, s in zip(docs[0], scores[0], strict=True) if s > 0
        ]


def rrf(
    rankings: Sequence[Sequence[int]], k: int = 60, weights: Sequence[float] | None = None
) -> list[tuple[int, float]]:
    """Weighted reciprocal rank fusion: ``score(d) = sum_i weights[i] / (k + rank_i(d))``.

    Example:
        >>> rrf([[1, 2, 3], [3, 1]])[0][0]
        1
    """
    scores: dict[int, float] = {}
    for n, ranking in enumerate(rankings):
        w = 1.0 if weights is None else weights[n]
        for rank, item in enumerate(ranking, 1):
            scores[item] = scores.get(item, 0.0) + w / (k + rank)
    return sorted(scores.items(), key=lambda p: (-p[1], p[0]))
