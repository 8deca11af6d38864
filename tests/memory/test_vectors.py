"""VectorIndex search details that the integrity tests do not cover."""

from __future__ import annotations

from typing import Any

import faiss
import numpy as np

from memory.vectors import VectorIndex


class _Spy:
    """Wraps a FAISS index and records the OpenMP thread count each search runs with."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.threads: list[int] = []

    @property
    def ntotal(self) -> int:
        return int(self.inner.ntotal)

    def search(self, queries: np.ndarray, k: int) -> Any:
        self.threads.append(faiss.omp_get_max_threads())
        return self.inner.search(queries, k)


def test_a_single_query_searches_on_one_thread_and_restores_the_count() -> None:
    vecs = np.eye(8, dtype=np.float32)
    idx = VectorIndex.build(8, np.arange(10, 18), vecs)
    spy = _Spy(idx.index)
    idx.index = spy
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(3)
    try:
        _scores, ids = idx.search(vecs[2], 1)
        assert int(ids[0, 0]) == 12
        assert spy.threads == [1]
        assert faiss.omp_get_max_threads() == 3  # restored for torch and everyone else
        idx.search(vecs[:4], 1)  # a batch keeps FAISS's own parallelism
        assert spy.threads == [1, 3]
    finally:
        faiss.omp_set_num_threads(before)
