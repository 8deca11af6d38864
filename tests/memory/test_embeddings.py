"""Embedders: the protocol, the registry, the hash backend, the cache, and the real model."""

from __future__ import annotations

import sqlite3
import threading

import numpy as np
import pytest

from agent.errors import UnknownEmbedderError
from memory.embeddings import EmbeddingCache, HashEmbedder, embedder_names, open_embedder


def test_hash_embedder_is_deterministic_and_normalised() -> None:
    a, b = HashEmbedder(), HashEmbedder()
    vecs = a.embed_batch(["I live in Paris", "the cat sat", ""])
    assert vecs.dtype == np.float32 and vecs.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(vecs, b.embed_batch(["I live in Paris", "the cat sat", ""]))


def test_hash_embedder_ranks_word_overlap() -> None:
    e = HashEmbedder()
    q = e.embed("where do I live")
    assert q @ e.embed("I live in Paris") > q @ e.embed("the cat sat on the mat")


def test_embed_multi_batches_match_embed_batch() -> None:
    e = HashEmbedder(dim=32)
    texts = [f"text number {i}" for i in range(10)]
    np.testing.assert_array_equal(e.embed_multi(texts, batch_size=3), e.embed_batch(texts))


def test_unknown_embedder_lists_valid_names() -> None:
    with pytest.raises(UnknownEmbedderError) as err:
        open_embedder("nope")
    for name in embedder_names():
        assert name in str(err.value)
    assert set(embedder_names()) >= {"hash", "minilm"}


class CountingEmbedder(HashEmbedder):
    def __init__(self) -> None:
        super().__init__(dim=16)
        self.calls: list[list[str]] = []

    def embed_batch(self, texts):  # type: ignore[no-untyped-def]
        self.calls.append(list(texts))
        return super().embed_batch(texts)


def test_cache_skips_the_model_for_known_text() -> None:
    emb = CountingEmbedder()
    cache = EmbeddingCache(sqlite3.connect(":memory:"), emb)
    first = cache.embed(["a b", "c d", "a b"])
    assert emb.calls == [["a b", "c d"]]  # duplicates embedded once
    second = cache.embed(["c d", "a b"])
    assert emb.calls == [["a b", "c d"]]  # nothing new reached the model
    np.testing.assert_array_equal(second, first[[1, 0]])
    assert (cache.hits, cache.misses) == (3, 2)
    cache.drop(["a b"])
    cache.embed(["a b"])
    assert emb.calls[-1] == ["a b"]


def test_cache_keeps_no_text() -> None:
    conn = sqlite3.connect(":memory:")
    EmbeddingCache(conn, HashEmbedder(dim=8)).embed(["secret canary text"])
    dump = "\n".join(conn.iterdump())
    assert "secret canary" not in dump
    assert conn.execute("SELECT count(*) FROM embedding_cache").fetchone()[0] == 1


@pytest.mark.integration
def test_minilm_is_semantic_normalised_and_consistent() -> None:
    e = open_embedder("minilm")
    assert e.dim == 384
    vecs = e.embed_batch(["I live in Paris", "My home is in Paris, France", "I enjoy tennis"])
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, rtol=1e-4)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2] + 0.2
    # The short-input fast path and the batched path agree.
    many = e.embed_multi(["I live in Paris"] * 9 + ["x"], batch_size=10)
    np.testing.assert_allclose(many[0], vecs[0], atol=1e-5)


def test_a_single_text_runs_on_one_torch_thread_and_the_count_is_restored() -> None:
    import threading

    torch = pytest.importorskip("torch")
    from memory.embeddings import MiniLMEmbedder

    emb = object.__new__(MiniLMEmbedder)  # no model: _run is replaced by a spy
    emb._torch_mod, emb._device, emb._one_thread = torch, "cpu", threading.Lock()
    emb._loaded, emb._error = threading.Event(), None
    emb._loaded.set()
    seen: list[int] = []

    def spy(texts: list[str]) -> np.ndarray:
        seen.append(torch.get_num_threads())
        return np.ones((len(texts), 4), np.float32) / 2

    emb._run = spy  # type: ignore[method-assign]
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        emb._forward(["one query"])
        assert seen == [1] and torch.get_num_threads() == 2
        emb._forward(["a", "small", "batch"])  # batches keep every thread
        assert seen == [1, 2]
        emb._device = "cuda"
        emb._forward(["on a GPU the CPU thread count does not matter"])
        assert seen == [1, 2, 2]
    finally:
        torch.set_num_threads(before)


def test_the_network_loads_in_the_background_and_a_failure_reaches_the_first_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from agent.errors import EmbedderError
    from memory.embeddings import MiniLMEmbedder

    pytest.importorskip("sentence_transformers")
    release = threading.Event()
    started = threading.Event()

    def slow_broken_load(self: MiniLMEmbedder) -> None:
        started.set()
        release.wait(10)
        self._error = RuntimeError("weights unreadable")
        self._loaded.set()

    monkeypatch.setattr(MiniLMEmbedder, "_load", slow_broken_load)
    emb = MiniLMEmbedder()  # returns before the network is loaded
    assert started.wait(10) and not emb._loaded.is_set()
    assert emb.dim == 384 and emb.name == "minilm"  # known without the network
    release.set()
    with pytest.raises(EmbedderError, match="weights unreadable"):
        emb.embed("hello")


@pytest.mark.integration
def test_the_torch_backend_loads_without_a_loading_weights_bar() -> None:
    """transformers draws a "Loading weights" bar on every load unless told otherwise; the
    library's own loads are silent, and the user's setting is left as it was."""
    import os
    import subprocess
    import sys

    code = (
        "from memory.embeddings import MiniLMEmbedder\n"
        "from transformers.utils import logging\n"
        "MiniLMEmbedder(background=False, backend='torch', device='cpu').embed('hi')\n"
        "print(logging.is_progress_bar_enabled())\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_HUB_DISABLE", "TQDM"))}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env
    )
    assert out.returncode == 0, out.stderr
    assert "Loading weights" not in out.stderr and "it/s" not in out.stderr, out.stderr
    assert out.stdout.strip() == "True"
