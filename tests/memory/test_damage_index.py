"""Index files that verify by their stamp but are wrong, or are not files at all: rebuilt."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from memory import Memory
from memory.vectors import VectorIndex, load_index, save_index
from tests.memory.conftest import make_settings


def _fill(home: Path, n: int) -> dict[str, int]:
    texts = [f"memory {i}: item{i} sits on shelf {i % 13} near box{i * 7}" for i in range(n)]
    with Memory.open(make_settings(home)) as mem:
        ids = {t: mem.add(t, user="ann", kind="turn").record.id for t in texts}  # type: ignore[union-attr]
        mem.search(texts[0], user="ann")
    return ids


def _all_found(mem: Memory, ids: dict[str, int]) -> int:
    return sum(mem.search(t, user="ann", k=1)[0].record.id == i for t, i in ids.items())


def test_zeroed_vectors_under_a_valid_checksum_are_found_and_rebuilt(home: Path) -> None:
    ids = _fill(home, 500)
    path = home / "index" / "memories.faiss"
    settings = make_settings(home)
    with Memory.open(settings) as mem:
        store_id, emb = mem.store.store_id, mem.store.embedder
    index, stamp = load_index(path, "memories", emb.name, emb.dim, store_id)
    got_ids, vecs = index.vectors()
    vecs = vecs.copy()
    vecs[[3, 50, 200, 333, 499]] = 0.0  # five memories a search would never find
    save_index(path, VectorIndex.build(emb.dim, got_ids, vecs), stamp)  # a valid checksum
    load_index(path, "memories", emb.name, emb.dim, store_id)  # the file verifies
    with Memory.open(settings) as mem:
        assert _all_found(mem, ids) == 500
        space = mem.store.spaces["memories"]
        assert space.rebuilds == 1 and "vectors disagree" in (space.last_load_error or "")


def test_a_folder_in_place_of_the_index_file_is_moved_aside_and_rebuilt(home: Path) -> None:
    ids = _fill(home, 20)
    path = home / "index" / "memories.faiss"
    path.unlink()
    path.mkdir()
    (path / "keep.txt").write_text("someone's file")
    with Memory.open(make_settings(home)) as mem:
        assert _all_found(mem, ids) == 20
        assert "a folder" in (mem.store.spaces["memories"].last_load_error or "")
    assert path.is_file()
    aside = list(path.parent.glob("memories.faiss.in-the-way-*"))
    assert len(aside) == 1 and (aside[0] / "keep.txt").read_text() == "someone's file"


def test_a_fifo_in_place_of_the_index_file_does_not_block(home: Path) -> None:
    ids = _fill(home, 20)
    path = home / "index" / "memories.faiss"
    path.unlink()
    os.mkfifo(path)
    with Memory.open(make_settings(home)) as mem:  # read_bytes() would wait for a writer
        assert _all_found(mem, ids) == 20
        assert "not a regular file" in (mem.store.spaces["memories"].last_load_error or "")
    assert path.is_file()


def test_vectors_of_an_ivf_index_are_its_own() -> None:
    rng = np.random.default_rng(3)
    vecs = rng.standard_normal((400, 16)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    ids = np.arange(1000, 1400, dtype=np.int64)
    idx = VectorIndex.build(16, ids, vecs, ann_threshold=100)
    assert idx.kind == "ivf"
    got_ids, got = idx.vectors()
    order = np.argsort(got_ids)
    assert np.array_equal(got_ids[order], ids)
    assert np.allclose(got[order], vecs)
