"""BM25 over document chunks, and the fusion of BM25 with dense similarity.

**Tokens** (:func:`tokenize`, the same for chunks and queries): runs of word characters,
lower-cased. An identifier is also split at underscores and camelCase humps, and both the whole
identifier and its parts are kept. So ``get_user_id`` yields ``get_user_id get user id`` and
``HTTPServer`` yields ``httpserver http server``. English stop words are dropped, one-letter
tokens are dropped, and the rest are Snowball-stemmed when PyStemmer is installed.

**BM25** is bm25s (Lucene variant, k1=1.5, b=0.75). The index lives in memory only and is
rebuilt from SQLite when the chunk table changed (bm25s has no incremental add or delete). That
keeps forgotten text out of any BM25 file on disk. :meth:`Lexical.scores` gives every chunk's
score for a query, so the fusion can use the BM25 score of a chunk that only dense search found.

**Fusion** (:func:`fuse`): over the candidate pool (the union of both retrievers' top
``depth``), each retriever's scores are standardised per query (z-scores), then combined::

    fused = (1 - w) * z(cosine) + w * z(bm25)
    w     = weight * (s1 - mean(s2..s10)) / s1

Here ``s1 >= s2 >= ...`` are the query's best BM25 scores. BM25 gets a say in proportion to
how far its best match stands above its next nine. A rare name or identifier that one chunk
contains gives a large gap, so BM25 counts. Common words spread over many chunks give a small
gap, so dense similarity decides. ``weight`` is ``Settings.hybrid_bm25_weight``. The family,
``weight`` and the pool depth were chosen on a development split of the benchmark queries and
measured on a disjoint test split; see ``docs/memory.md``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import numpy as np

__all__ = ["Lexical", "bm25_confidence", "fuse", "rrf", "stopwords", "tokenize"]

_STEMMER: list[object] = []

_WORD = re.compile(r"\w+")
# Split points inside an identifier piece: lower/digit -> Upper ("userId"), and the last capital
# of an acronym before a capitalised word ("HTTPServer" -> "HTTP", "Server").
_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


_STOPWORDS: list[frozenset[str]] = []


def stopwords() -> frozenset[str]:
    """bm25s's English stop words (imported on first use: bm25s takes 0.2 s to import)."""
    if not _STOPWORDS:
        from bm25s.stopwords import STOPWORDS_EN

        _STOPWORDS.append(frozenset(STOPWORDS_EN))
    return _STOPWORDS[0]


def _stemmer() -> object | None:
    if not _STEMMER:
        try:
            import Stemmer

            _STEMMER.append(Stemmer.Stemmer("english"))
        except ImportError:  # PyStemmer is optional: plain lower-cased words then
            _STEMMER.append(None)
    return _STEMMER[0]


def _is_identifier(word: str) -> bool:
    """True for words worth splitting: snake_case, camelCase, PascalCase, HTTPServer."""
    if "_" in word:
        return True
    return word.isascii() and not (word.islower() or word.isupper() or word.istitle())


def tokenize(text: str) -> list[str]:
    """BM25 tokens of ``text`` (see the module docstring).

    Example:
        >>> tokenize("The parseJSON helper calls get_user_id")
        ['parsejson', 'pars', 'json', 'helper', 'call', 'get_user_id', 'get', 'user', 'id']
    """
    out: list[str] = []
    for word in _WORD.findall(text):
        if _is_identifier(word):
            parts = [p for piece in word.split("_") for p in _HUMP.split(piece) if p]
            if len(parts) > 1:
                out.append(word.lower())
            out += [p.lower() for p in parts]
        else:
            out.append(word.lower())
    stop = stopwords()
    out = [t for t in out if len(t) > 1 and t not in stop]
    stemmer = _stemmer()
    return stemmer.stemWords(out) if stemmer is not None and out else out  # type: ignore[attr-defined]


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
        self._row = {int(i): n for n, i in enumerate(self.ids)}
        self.model = bm25s.BM25()
        self._vocab: dict[str, int] = {}
        if len(texts):
            self.model.index([tokenize(t) for t in texts], show_progress=False)
            self._vocab = self.model.vocab_dict

    def __len__(self) -> int:
        return len(self.ids)

    def scores(self, query: str) -> np.ndarray:
        """The BM25 score of every row for ``query`` (zeros when no query word is indexed)."""
        terms = [self._vocab[t] for t in tokenize(query) if t in self._vocab]
        if not terms:
            return np.zeros(len(self.ids), np.float32)
        return np.asarray(self.model.get_scores_from_ids(terms), dtype=np.float32)

    def score_of(self, scores: np.ndarray, ids: Sequence[int]) -> np.ndarray:
        """The entries of a :meth:`scores` vector for ``ids`` (0 for ids not indexed)."""
        return np.array(
            [scores[self._row[i]] if i in self._row else 0.0 for i in ids], dtype=np.float32
        )

    def top(self, scores: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The ``k`` best (id, score) of a :meth:`scores` vector with a positive score."""
        if len(scores) == 0 or k <= 0:
            return []
        k = min(k, len(scores))
        part = np.argpartition(-scores, k - 1)[:k]
        order = part[np.lexsort((self.ids[part], -scores[part]))]
        return [(int(self.ids[r]), float(scores[r])) for r in order if scores[r] > 0]

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """Top-``k`` (id, BM25 score) with a positive score, best first."""
        return self.top(self.scores(query), k)


def bm25_confidence(bm25: np.ndarray) -> float:
    """How far the best BM25 score stands above the next nine, relative to it (0 to 1).

    Example:
        >>> bm25_confidence(np.array([4.0, 1.0, 1.0, 0.0]))
        0.75
        >>> bm25_confidence(np.array([2.0, 2.0, 2.0])), bm25_confidence(np.array([3.0, 0.0]))
        (0.0, 1.0)
    """
    pos = np.sort(np.asarray(bm25, dtype=np.float64)[np.asarray(bm25) > 0])[::-1][:10]
    if len(pos) == 0:
        return 0.0
    if len(pos) == 1:
        return 1.0
    return float(max(0.0, (pos[0] - pos[1:].mean()) / pos[0]))


def _z(x: np.ndarray) -> np.ndarray:
    sd = float(x.std())
    return (x - x.mean()) / sd if sd > 1e-12 else np.zeros_like(x)


def fuse(dense: np.ndarray, bm25: np.ndarray, weight: float) -> np.ndarray:
    """Fused scores of a candidate pool from its cosine and BM25 scores (same order).

    ``(1 - w) * z(dense) + w * z(bm25)`` with ``w = weight * bm25_confidence(bm25)``; with
    ``weight=0`` the order is the dense order.

    Example:
        >>> dense = np.array([0.80, 0.78, 0.10]); bm25 = np.array([0.0, 6.0, 0.0])
        >>> [int(i) for i in np.argsort(-fuse(dense, bm25, 0.0))]
        [0, 1, 2]
        >>> [int(i) for i in np.argsort(-fuse(dense, bm25, 0.25))]
        [1, 0, 2]
    """
    dense = np.asarray(dense, dtype=np.float64)
    bm25 = np.asarray(bm25, dtype=np.float64)
    w = weight * bm25_confidence(bm25)
    return (1.0 - w) * _z(dense) + w * _z(bm25)


def rrf(
    rankings: Sequence[Sequence[int]], k: int = 60, weights: Sequence[float] | None = None
) -> list[tuple[int, float]]:
    """Weighted reciprocal rank fusion: ``score(d) = sum_i weights[i] / (k + rank_i(d))``.

    Not the default any more (see :func:`fuse`); kept for comparison in the benchmark.

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
