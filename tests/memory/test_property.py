"""Property test: random add / forget / supersede / save / reopen against a brute-force oracle.

Runs on both backends; each example gets a fresh data directory and (PostgreSQL) a fresh
database. PostgreSQL runs fewer examples (20 instead of 30) to keep the suite's time down.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memory import HashEmbedder, Memory
from memory.episodic import _norm
from tests.memory.conftest import make_settings

WORDS = ["apple", "river", "stone", "cloud", "tiger", "piano", "lemon", "ocean", "maple", "comet"]
USERS = ["ann", "bob"]

text_st = st.lists(st.sampled_from(WORDS), min_size=1, max_size=4).map(" ".join)
op_st = st.one_of(
    st.tuples(st.just("add"), st.sampled_from(USERS), text_st),
    st.tuples(st.just("forget"), st.integers(0, 50)),
    st.tuples(st.just("supersede"), st.integers(0, 50), st.integers(0, 50)),
    st.tuples(st.just("save")),
    st.tuples(st.just("reopen")),
    st.tuples(st.just("search"), st.sampled_from(USERS), text_st, st.integers(1, 6), st.booleans()),
)


class Oracle:
    """Brute force: every live record with its vector, user and current flag."""

    def __init__(self) -> None:
        self.emb = HashEmbedder()
        self.rows: dict[int, tuple[str, np.ndarray, bool]] = {}

    def top(self, user: str, query: str, k: int, history: bool) -> list[tuple[int, float]]:
        q = self.emb.embed(query)
        scored = [
            (i, float(v @ q))
            for i, (u, v, cur) in self.rows.items()
            if u == user and (cur or history)
        ]
        scored.sort(key=lambda p: (-p[1], p[0]))
        return scored[:k]


def _same_ranking(got: list[tuple[int, float]], want: list[tuple[int, float]]) -> None:
    assert len(got) == len(want)
    np.testing.assert_allclose([s for _, s in got], [s for _, s in want], atol=1e-5)
    # Ids must agree except inside groups of tied scores (any order of a tie is correct).
    for (gi, gs), (wi, ws) in zip(got, want, strict=True):
        tied = [i for i, s in want if abs(s - ws) < 1e-5] + [
            i for i, s in got if abs(s - gs) < 1e-5
        ]
        if len(set(tied)) == 1:
            assert gi == wi


EXAMPLES = {"sqlite": 30, "postgres": 20}


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_search_matches_brute_force(backend: str, tmp_path_factory, request) -> None:  # type: ignore[no-untyped-def]
    server = request.getfixturevalue("pg_server") if backend == "postgres" else None

    @settings(
        max_examples=EXAMPLES[backend],
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(ops=st.lists(op_st, min_size=1, max_size=30))
    def run(ops) -> None:  # type: ignore[no-untyped-def]
        home: Path = tmp_path_factory.mktemp("prop")
        url = server.new_database() if server is not None else None
        _check(make_settings(home, duplicate_threshold=1.01, database_url=url), ops)

    run()


def _check(s, ops) -> None:  # type: ignore[no-untyped-def]
    # duplicate_threshold > 1: every add is a new record
    oracle = Oracle()
    mem = Memory.open(s)
    added: list[int] = []
    recalled: set[tuple[str, str]] = set()
    try:
        for op in ops:
            if op[0] == "add":
                res = mem.add(op[2], user=op[1])
                # The write filter refuses a text this Memory recalled for that user.
                assert (res.action == "rejected") == ((op[1], _norm(op[2])) in recalled), res
                if res.action == "rejected":
                    continue
                rec = res.record
                assert rec is not None
                oracle.rows[rec.id] = (op[1], oracle.emb.embed(op[2]), True)
                added.append(rec.id)
            elif op[0] == "forget" and added:
                victim = added[op[1] % len(added)]
                if victim in oracle.rows:
                    gone = _norm(mem.get(victim).text)
                    assert mem.forget(victim) == [victim]
                    del oracle.rows[victim]
                    recalled = {r for r in recalled if r[1] != gone}
            elif op[0] == "supersede" and len(oracle.rows) >= 2:
                live = sorted(oracle.rows)
                old, new = live[op[1] % len(live)], live[op[2] % len(live)]
                if old != new:
                    mem.supersede(old, new)
                    u, v, _ = oracle.rows[old]
                    oracle.rows[old] = (u, v, False)
            elif op[0] == "save":
                mem.store.save()
            elif op[0] == "reopen":
                mem.close()
                mem = Memory.open(s)
                recalled = set()
            elif op[0] == "search":
                _, user, query, k, history = op
                hits = mem.search(query, user=user, k=k, include_history=history)
                recalled |= {(h.record.user, _norm(h.record.text)) for h in hits}
                got = [(h.record.id, h.similarity) for h in hits]
                _same_ranking(got, oracle.top(user, query, k, history))
        # Finally: the index holds exactly SQLite's rows.
        space = mem.store.spaces["memories"]
        space.ensure_current()
        assert sorted(space.index.ids().tolist()) == sorted(oracle.rows)
    finally:
        mem.close()
