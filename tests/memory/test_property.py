"""Property test: random add / forget / supersede / save / reopen against a brute-force oracle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memory import HashEmbedder, Memory
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


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=st.lists(op_st, min_size=1, max_size=30))
def test_search_matches_brute_force(tmp_path_factory, ops) -> None:  # type: ignore[no-untyped-def]
    home: Path = tmp_path_factory.mktemp("prop")
    s = make_settings(home, duplicate_threshold=1.01)  # every add is a new record
    oracle = Oracle()
    mem = Memory.open(s)
    added: list[int] = []
    try:
        for op in ops:
            if op[0] == "add":
                rec = mem.add(op[2], user=op[1]).record
                assert rec is not None
                oracle.rows[rec.id] = (op[1], oracle.emb.embed(op[2]), True)
                added.append(rec.id)
            elif op[0] == "forget" and added:
                victim = added[op[1] % len(added)]
                if victim in oracle.rows:
                    assert mem.forget(victim) == [victim]
                    del oracle.rows[victim]
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
            elif op[0] == "search":
                _, user, query, k, history = op
                got = [
                    (h.record.id, h.similarity)
                    for h in mem.search(query, user=user, k=k, include_history=history)
                ]
                _same_ranking(got, oracle.top(user, query, k, history))
        # Finally: the index holds exactly SQLite's rows.
        space = mem.store.spaces["memories"]
        space.ensure_current()
        assert sorted(space.index.ids().tolist()) == sorted(oracle.rows)
    finally:
        mem.close()
