"""BM25 over document chunks, and the fusion of BM25 with dense similarity.

**Tokens** (:func:`tokenize`, the same for chunks and queries): runs of word characters,
lower-cased. An identifier is also split at underscores and camelCase humps, and both the whole
identifier and its parts are kept. So ``get_user_id`` yields ``get_user_id get user id`` and
``HTTPServer`` yields ``httpserver http server``. English stop words are dropped, one-letter
tokens are dropped, and the rest are Snowball-stemmed when PyStemmer is installed.

**Query terms** (:func:`query_terms`): the query's tokens less the words that only shape a
question (what, how, does, can, my, you, tell, ...; :data:`QUESTION_WORDS`), each once. "How
long does it take to get a permit?" searches ``long take permit``. A query made only of such
words keeps them all. Chunks are tokenized in full, so nothing is lost from the index.

**BM25** is bm25s (Lucene variant, k1=1.5, b=0.75). The index lives in memory only and is
rebuilt from SQLite when the chunk table changed (bm25s has no incremental add or delete). That
keeps forgotten text out of any BM25 file on disk. :meth:`Lexical.scores` gives every chunk's
score for a query, so the fusion can use the BM25 score of a chunk that only dense search found.

**Fusion** (:func:`fuse`): over the candidate pool (the union of both retrievers' top
``depth``), each retriever's scores are standardised per query (z-scores), then combined::

    fused    = (1 - w) * z(cosine) + w * z(bm25)
    w        = weight * clip((surprise - 5) / (15 - 5), 0, 1)
    surprise = sum(idf of the query terms in BM25's best chunk) - log(number of chunks)

``surprise`` (:meth:`Lexical.surprise`) is minus the log of how many chunks would hold those
words by chance. BM25 has a say only when its best match could hardly be a coincidence:
several rare words of the query held by one chunk (a summary of a paper, "clause 14.2 of the
Harbour Street lease"). A question in the user's own words, which shares a word or two with
many chunks, leaves the dense order as it is. One word alone, however rare, is never enough
(one chunk is expected to hold it), and in a store of a handful of chunks no match gets there
(an IDF is at most about log N): search then follows the dense ranking. That is the failure this
replaced: on question/answer corpora BM25 is far weaker than dense search, yet the previous
gate (how far BM25's best score stands above its next nine, :func:`bm25_confidence`) opened
for weak matches as readily as for strong ones, and the hybrid fell below dense search alone.
Ties keep the dense order. ``weight`` is ``Settings.hybrid_bm25_weight``. The thresholds (5
and 15 nats) were chosen on one corpus (chatterbot-corpus) and measured on others; see
``bench/bench_retrieval.py`` and ``bench/results/retrieval.txt``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import numpy as np

__all__ = [
    "QUESTION_WORDS",
    "Lexical",
    "bm25_confidence",
    "fuse",
    "lexical_trust",
    "query_terms",
    "rrf",
    "stopwords",
    "tokenize",
]

_STEMMER: list[object] = []

_WORD = re.compile(r"\w+")
# Split points inside an identifier piece: lower/digit -> Upper ("userId"), and the last capital
# of an acronym before a capitalised word ("HTTPServer" -> "HTTP", "Server").
_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


_STOPWORDS: list[frozenset[str]] = []

#: Words that shape a question rather than say what it is about: question words, auxiliaries,
#: pronouns of the asker and the asked, and request verbs. Dropped from queries only. "may" is
#: not in it (it is also a month).
QUESTION_WORDS = frozenset(
    """what which who whom whose when where why how do does did done doing can could should
    would must shall i me my mine myself we us our ours you your yours yourself he him his she
    her hers its am is are was were be been being have has had having about tell explain please
    know want need get there here any some much many""".split()
)
_QUESTION_STEMS: list[frozenset[str]] = []


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


def _question_stems() -> frozenset[str]:
    if not _QUESTION_STEMS:
        stemmer = _stemmer()
        words = sorted(QUESTION_WORDS)
        stems = stemmer.stemWords(words) if stemmer is not None else words  # type: ignore[attr-defined]
        _QUESTION_STEMS.append(frozenset(stems) | QUESTION_WORDS)
    return _QUESTION_STEMS[0]


IDENTIFIER = re.compile(r"(?=[a-z0-9-]*\d)(?=[0-9-]*[a-z])[a-z0-9-]{4,}")
"""A token of letters and digits mixed (a code, a number plate, a key): "x1234567"."""


def query_terms(query: str) -> list[str]:
    """The BM25 terms of a query: its tokens less :data:`QUESTION_WORDS`, each once.

    A query made only of such words keeps them (so "Who are you?" still searches).

    Example:
        >>> query_terms("How long does it take to get a building permit?")
        ['long', 'take', 'build', 'permit']
        >>> query_terms("who are you")
        ['who', 'you']
    """
    tokens = list(dict.fromkeys(tokenize(query)))
    drop = _question_stems()
    content = [t for t in tokens if t not in drop]
    return content or tokens


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
        """The BM25 score of every row for ``query``'s :func:`query_terms` (zeros when none of
        them is indexed)."""
        terms = [self._vocab[t] for t in query_terms(query) if t in self._vocab]
        if not terms:
            return np.zeros(len(self.ids), np.float32)
        return np.asarray(self.model.get_scores_from_ids(terms), dtype=np.float32)

    def surprise(self, query: str, chunk_id: int) -> float:
        """How unlikely it is that chunk ``chunk_id`` holds the query's words by chance, in nats.

        The sum of the Lucene IDF, ``log(1 + (N - df + 0.5) / (df + 0.5))``, of the query's
        :func:`query_terms` that the chunk contains, less ``log N``. A term in ``df`` of ``N``
        chunks turns up in a random chunk with probability about ``exp(-idf)``, so with terms
        taken as independent, ``exp(-surprise)`` is about the number of chunks expected to
        hold them all by chance: at 0 one such chunk is expected anyway, at 10 one in 22,000.
        0 for a chunk that is not indexed.

        Example:
            >>> lex = Lexical(range(8), ["lease"] * 6 + ["garage lease notice", "notes"])
            >>> lex.surprise("notice period of the garage lease", 6) > 0 > lex.surprise("lease", 0)
            True
        """
        row = self._row.get(int(chunk_id))
        if row is None:
            return 0.0
        n = len(self.ids)
        indptr, indices = self.model.scores["indptr"], self.model.scores["indices"]
        matched = 0.0
        for term in query_terms(query):
            tid = self._vocab.get(term)
            if tid is None:
                continue
            postings = indices[indptr[tid] : indptr[tid + 1]]
            if np.any(postings == row):
                df = len(postings)
                matched += float(np.log(1.0 + (n - df + 0.5) / (df + 0.5)))
        return matched - float(np.log(n))

    def holding_identifiers(self, query: str) -> set[int] | None:
        """The chunks that hold every identifier of the query ("X1234567", "canary3f9e1c",
        "AB-1204": letters and digits mixed, 4 characters or more), or None when it names
        none. An embedder has no sense of such a token; a chunk that holds it is what was
        asked for."""
        idents = [t for t in query_terms(query) if IDENTIFIER.fullmatch(t)]
        if not idents or not self.ids.size:
            return None
        indptr, indices = self.model.scores["indptr"], self.model.scores["indices"]
        held: set[int] | None = None
        for term in idents:
            tid = self._vocab.get(term)
            rows = (
                set() if tid is None else {int(r) for r in indices[indptr[tid] : indptr[tid + 1]]}
            )
            ids = {int(self.ids[r]) for r in rows}
            held = ids if held is None else held & ids
        return held

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


#: Surprise (nats, see :meth:`Lexical.surprise`) below which BM25's best match has no say in
#: the fusion, and above which it has all of ``weight``; linear in between.
TRUST_FROM, TRUST_FULL = 5.0, 15.0


def lexical_trust(surprise: float, low: float = TRUST_FROM, high: float = TRUST_FULL) -> float:
    """The share of its weight BM25 gets when its best chunk's match has this surprise: 0 up
    to ``low`` nats, rising linearly to 1 at ``high``.

    Example:
        >>> lexical_trust(2.0), lexical_trust(10.0), lexical_trust(40.0)
        (0.0, 0.5, 1.0)
    """
    return float(min(1.0, max(0.0, (surprise - low) / (high - low))))


def fuse(
    dense: np.ndarray, bm25: np.ndarray, weight: float, trust: float | None = None
) -> np.ndarray:
    """Fused scores of a candidate pool from its cosine and BM25 scores (same order).

    ``(1 - w) * z(dense) + w * z(bm25)`` with ``w = weight * trust``. ``trust`` is what
    :class:`~memory.documents.Documents` passes: :func:`lexical_trust` of the surprise of
    BM25's best chunk. Left out, it is :func:`bm25_confidence` of the pool's BM25 scores (the
    previous default, kept for the benchmarks). With ``weight=0`` or ``trust=0`` the order is
    the dense order.

    Example:
        >>> dense = np.array([0.80, 0.78, 0.10]); bm25 = np.array([0.0, 6.0, 0.0])
        >>> [int(i) for i in np.argsort(-fuse(dense, bm25, 0.0))]
        [0, 1, 2]
        >>> [int(i) for i in np.argsort(-fuse(dense, bm25, 0.25))]
        [1, 0, 2]
    """
    dense = np.asarray(dense, dtype=np.float64)
    bm25 = np.asarray(bm25, dtype=np.float64)
    w = weight * (bm25_confidence(bm25) if trust is None else trust)
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
