"""BM25 tokens (identifier splitting), query terms, the surprise of a BM25 match, the gated
fusion, and how hybrid search in Documents uses them. The Documents tests use an embedder with
hand-set vectors, so the dense ranking is known exactly and differs from the BM25 ranking on
purpose."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from agent.errors import ConfigError
from memory import Documents, Embedder, Store
from memory._lexical import (
    Lexical,
    bm25_confidence,
    fuse,
    lexical_trust,
    query_terms,
    tokenize,
)
from tests.memory.conftest import make_settings

# -- tokens ------------------------------------------------------------------------------------


def test_identifiers_are_split_and_kept_whole() -> None:
    assert tokenize("get_user_id") == ["get_user_id", "get", "user", "id"]
    assert tokenize("HTTPServer") == ["httpserver", "http", "server"]
    assert tokenize("userName") == ["usernam", "user", "name"]  # Snowball: "username" -> "usernam"
    # plain words, acronyms and Titlecase words are not split
    assert tokenize("Hello URL utf8") == ["hello", "url", "utf8"]


def test_stop_words_and_one_letter_tokens_are_dropped_and_words_stemmed() -> None:
    assert tokenize("The dogs are running to a x") == ["dog", "run"]
    assert tokenize("the of and") == []


def test_query_terms_drop_the_words_that_only_shape_a_question() -> None:
    assert query_terms("How much is the rent?") == ["rent"]
    assert query_terms("Does my lease allow dogs?") == ["leas", "allow", "dog"]
    # each term once, in the order of the query
    assert query_terms("Is the heating working, the heating upstairs?") == [
        "heat",
        "work",
        "upstair",
    ]
    # a query of nothing but question words keeps them, so it still searches
    assert query_terms("Who are you?") == ["who", "you"]


def test_question_words_do_not_pull_bm25_to_chunks_that_repeat_them() -> None:
    lex = Lexical(
        [1, 2],
        ["How do you do? How are you? What do you want?", "The monthly rent is 950 euros."],
    )
    assert [i for i, _ in lex.search("How much is the rent, do you know?", 2)] == [2]


def test_bm25_finds_code_by_the_words_of_its_identifiers() -> None:
    lex = Lexical(
        [1, 2, 3],
        [
            "def get_user_id(self): return self.uid",
            "def parse_date(text): return datetime.strptime(text)",
            "class HTTPServer: pass",
        ],
    )
    assert [i for i, _ in lex.search("user id", 3)] == [1]
    assert [i for i, _ in lex.search("parse a date", 3)] == [2]
    assert [i for i, _ in lex.search("http server", 3)] == [3]


def test_lexical_scores_every_row_and_picks_the_top() -> None:
    lex = Lexical([10, 20, 30], ["red apples", "green apples and red apples", "blue sky"])
    scores = lex.scores("red apples")
    assert scores.shape == (3,) and scores[2] == 0 and scores[0] > 0 and scores[1] > 0
    assert lex.score_of(scores, [30, 10, 99]).tolist() == [0.0, float(scores[0]), 0.0]
    top = lex.top(scores, 3)
    assert [i for i, _ in top] == sorted([10, 20], key=lambda i: -scores[[10, 20].index(i)])
    assert lex.search("unknown words only", 3) == []
    assert Lexical([], []).search("red", 3) == []


# -- fusion ------------------------------------------------------------------------------------


def test_confidence_is_the_gap_of_the_best_score_over_the_next_nine() -> None:
    assert bm25_confidence(np.array([0.0, 0.0])) == 0.0
    assert bm25_confidence(np.array([3.0, 0.0, 0.0])) == 1.0
    assert bm25_confidence(np.array([2.0, 2.0, 2.0, 2.0])) == 0.0
    assert bm25_confidence(np.array([4.0, 2.0, 1.0, 0.0])) == pytest.approx((4 - 1.5) / 4)
    # only the next nine count: an 11th low score does not change it
    ten = np.array([10.0] + [5.0] * 9)
    assert bm25_confidence(np.append(ten, 0.1)) == pytest.approx(bm25_confidence(ten))


def _order(scores: np.ndarray) -> list[int]:
    return [int(i) for i in np.argsort(-scores, kind="stable")]


def test_fusion_with_weight_zero_is_the_dense_order() -> None:
    dense = np.array([0.2, 0.9, 0.5, 0.7])
    bm25 = np.array([9.0, 0.0, 0.0, 1.0])
    assert _order(fuse(dense, bm25, 0.0)) == [1, 3, 2, 0]


def test_a_decisive_bm25_match_lifts_a_close_dense_runner_up() -> None:
    dense = np.array([0.90, 0.80, 0.30, 0.20, 0.10, 0.10])
    bm25 = np.array([0.0, 5.0, 0.0, 0.0, 0.0, 0.0])
    assert _order(fuse(dense, bm25, 0.25))[:2] == [1, 0]
    # ...but not a dense outsider
    assert _order(fuse(dense, np.array([0, 0, 0, 0, 0, 5.0]), 0.25))[0] == 0


def test_flat_bm25_scores_leave_the_dense_order_even_at_full_weight() -> None:
    dense = np.array([0.1, 0.4, 0.3, 0.9])
    bm25 = np.array([2.0, 2.0, 2.0, 2.0])
    assert _order(fuse(dense, bm25, 1.0)) == [3, 1, 2, 0]


def test_fusion_does_not_depend_on_the_scale_of_either_score() -> None:
    dense = np.array([0.90, 0.80, 0.30, 0.20])
    bm25 = np.array([1.0, 6.0, 0.0, 2.0])
    base = fuse(dense, bm25, 0.4)
    assert np.allclose(fuse(dense * 0.5, bm25 * 10, 0.4), base)


def test_surprise_is_the_idf_a_chunk_holds_less_log_n() -> None:
    texts = ["alpha beta gamma delta"] + [f"filler text number {i}" for i in range(39)]
    texts[1] = "alpha and some filler"
    lex = Lexical(range(40), texts)
    n = 40

    def idf(df: int) -> float:
        return float(np.log(1 + (n - df + 0.5) / (df + 0.5)))

    assert lex.surprise("alpha", 0) == pytest.approx(idf(2) - np.log(n), rel=1e-6)
    together = lex.surprise("alpha beta gamma delta", 0)
    assert together == pytest.approx(idf(2) + 3 * idf(1) - np.log(n), rel=1e-6)
    # one rare word is no evidence (a chance match is expected); four held together are
    assert lex.surprise("alpha", 0) < 0 < 5 < together
    # words the chunk lacks add nothing; question words are not query terms
    assert lex.surprise("What is alpha, and zeta?", 1) == pytest.approx(idf(2) - np.log(n))
    assert lex.surprise("alpha", 999) == 0.0


def test_trust_rises_from_5_to_15_nats() -> None:
    assert [lexical_trust(x) for x in (-3.0, 5.0, 7.5, 15.0, 30.0)] == [0.0, 0.0, 0.25, 1.0, 1.0]


def test_no_trust_is_the_dense_order_and_full_trust_the_weighted_mix() -> None:
    dense = np.array([0.90, 0.80, 0.30, 0.20, 0.10, 0.10])
    bm25 = np.array([0.0, 5.0, 0.0, 0.0, 0.0, 0.0])  # decisive for the dense runner-up
    assert _order(fuse(dense, bm25, 1.0, trust=0.0))[:2] == [0, 1]
    assert _order(fuse(dense, bm25, 0.5, trust=1.0))[:2] == [1, 0]
    half = fuse(dense, bm25, 0.5, trust=0.5)
    z = lambda x: (x - x.mean()) / x.std()  # noqa: E731
    assert np.allclose(half, 0.75 * z(dense) + 0.25 * z(bm25))


# -- in Documents ------------------------------------------------------------------------------

QUERY = "zyxtor"
LONG_QUERY = "quarry sluice gatehouse windlass ferrule capstan"
MATCH = "The quarry sluice, gatehouse windlass, ferrule and capstan were inspected."
# text of each file -> its cosine with the query's vector
COSINES = {
    "The yearly budget overview for the harbor.": 0.90,
    "Zyxtor was mentioned at the meeting, once.": 0.80,
    "Minutes of the rowing club.": 0.30,
    "A recipe for bread.": 0.20,
    "Train times to the coast.": 0.10,
    "Notes on the garden fence.": 0.05,
}


class TableEmbedder(Embedder):
    """Hand-set vectors: ``[cos, sin, 0...]`` rotated into a dimension of its own per text, so
    the cosine with the query ``[1, 0, ...]`` is exactly the table's value."""

    name = "table"

    def __init__(self, cosines: dict[str, float]):
        self.cosines = cosines
        self.slot = {t: n + 1 for n, t in enumerate(cosines)}
        self.dim = max(16, len(cosines) + 1)

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), np.float32)
        for row, text in enumerate(texts):
            if text in (QUERY, LONG_QUERY, "budget"):  # the queries
                out[row, 0] = 1.0
                continue
            c = self.cosines[text.strip()]
            out[row, 0], out[row, self.slot[text.strip()]] = c, np.sqrt(1 - c * c)
        return out


def _documents(tmp_path: Path, cosines: dict[str, float], **settings: object) -> Documents:
    folder = tmp_path / "docs"
    folder.mkdir()
    for n, text in enumerate(cosines):
        (folder / f"d{n}.txt").write_text(text)
    s = make_settings(tmp_path / "home", **settings)
    docs = Documents(Store(s, embedder=TableEmbedder(cosines)))
    report = docs.ingest([folder], progress=False)
    assert report.errors == [] and report.chunks == len(cosines)
    return docs


def _names(hits: list) -> list[str]:
    return [Path(h.citation.path).name for h in hits]


def test_one_shared_word_does_not_override_dense(tmp_path: Path) -> None:
    # "zyxtor" is in one of six chunks: BM25 finds only that chunk, but a single word matching
    # in a corpus this small is what chance gives (surprise < 5 nats), so dense decides.
    with _documents(tmp_path, COSINES) as docs:
        assert _names(docs.search(QUERY, k=2, mode="dense")) == ["d0.txt", "d1.txt"]
        assert _names(docs.search(QUERY, k=2, mode="bm25")) == ["d1.txt"]
        hybrid = docs.search(QUERY, k=2)
        assert _names(hybrid) == ["d0.txt", "d1.txt"]
        assert (hybrid[1].bm25_rank, hybrid[1].dense_rank) == (1, 2)


def test_a_match_no_coincidence_explains_lifts_the_dense_runner_up(tmp_path: Path) -> None:
    # Forty chunks; one holds all six rare words of the query (surprise ~16 nats), and dense
    # search ranks it second, just behind a chunk that shares none of them.
    cosines = {f"Minutes of meeting {i} about the harbour budget.": 0.1 for i in range(38)}
    cosines["The yearly budget overview for the harbour."] = 0.90
    cosines[MATCH] = 0.85
    with _documents(tmp_path, cosines) as docs:
        assert _names(docs.search(LONG_QUERY, k=1, mode="dense")) == ["d38.txt"]
        lex = docs._lexical_index()
        best = docs.search(LONG_QUERY, k=1, mode="bm25")[0]
        assert lexical_trust(lex.surprise(LONG_QUERY, best.chunk_id)) > 0.8
        hybrid = docs.search(LONG_QUERY, k=2)
        assert _names(hybrid) == ["d39.txt", "d38.txt"]
        assert (hybrid[0].bm25_rank, hybrid[0].dense_rank) == (1, 2)


def test_weight_zero_setting_gives_the_dense_ranking(tmp_path: Path) -> None:
    with _documents(tmp_path, COSINES, hybrid_bm25_weight=0.0) as docs:
        dense = _names(docs.search(QUERY, k=6, mode="dense"))
        assert _names(docs.search(QUERY, k=6)) == dense


def test_a_word_in_many_chunks_does_not_override_dense(tmp_path: Path) -> None:
    # "budget" appears once in four texts of equal length: flat BM25, so dense decides even
    # at full BM25 weight; dense order is the reverse of the file order.
    cosines = {
        "budget plan alpha one": 0.2,
        "budget plan beta two": 0.4,
        "budget plan gamma three": 0.6,
        "budget plan delta four": 0.8,
    }
    with _documents(tmp_path, cosines, hybrid_bm25_weight=1.0) as docs:
        bm25 = docs.search("budget", k=4, mode="bm25")
        assert len({round(h.score, 6) for h in bm25}) == 1
        assert _names(docs.search("budget", k=4)) == ["d3.txt", "d2.txt", "d1.txt", "d0.txt"]


def test_candidates_carry_both_scores_from_the_source_of_truth(tmp_path: Path) -> None:
    with _documents(tmp_path, COSINES) as docs:
        pool = {Path(c.citation.path).name: c for c in docs.candidates(QUERY, depth=1)}
        assert set(pool) == {"d0.txt", "d1.txt"}  # dense top-1 and BM25 top-1
        only_bm25, only_dense = pool["d1.txt"], pool["d0.txt"]
        assert only_bm25.dense_rank is None and only_bm25.bm25_rank == 1
        assert only_bm25.dense == pytest.approx(0.80, abs=1e-6)  # from the vector in SQLite
        assert only_dense.bm25 == 0.0 and only_dense.bm25_rank is None
        assert only_dense.dense == pytest.approx(0.90, abs=1e-6)
        dense_hit = docs.search(QUERY, k=1, mode="dense")[0]
        bm25_hit = docs.search(QUERY, k=1, mode="bm25")[0]
        assert dense_hit.score == pytest.approx(0.90, abs=1e-6)
        assert bm25_hit.score == pytest.approx(only_bm25.bm25)


@pytest.mark.parametrize("weight", [-0.1, 1.5])
def test_a_weight_outside_0_1_is_refused(tmp_path: Path, weight: float) -> None:
    s = make_settings(tmp_path / "home", hybrid_bm25_weight=weight)
    with Store(s) as store, pytest.raises(ConfigError, match="hybrid_bm25_weight"):
        Documents(store)


def test_a_chunk_index_that_disagrees_with_sqlite_is_rebuilt(tmp_path: Path) -> None:
    with _documents(tmp_path, COSINES) as docs:
        space = docs.store.spaces["chunks"]
        space.ensure_current()
        wrong = docs.candidates(QUERY, depth=6, mode="dense")
        outsider = next(c.chunk_id for c in wrong if c.dense < 0.1)
        query_vec = docs.store.embedder.embed(QUERY)
        space.index.remove(np.array([outsider]))
        space.index.add(np.array([outsider]), query_vec.reshape(1, -1))  # a wrong vector
        before = space.rebuilds
        hits = docs.search(QUERY, k=1, mode="dense")
        assert space.rebuilds == before + 1
        assert _names(hits) == ["d0.txt"] and hits[0].score == pytest.approx(0.90, abs=1e-6)
