"""Index files: verified on open, rebuilt from SQLite when damaged; never a wrong hit."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pytest

from memory import Memory, Store
from memory.vectors import VectorIndex
from tests.memory.conftest import make_settings

FACTS = [
    f"fact {i}: the {w} is {c}"
    for i, (w, c) in enumerate(
        [
            ("sky", "blue"),
            ("grass", "green"),
            ("sun", "yellow"),
            ("coal", "black"),
            ("snow", "white"),
            ("blood", "red"),
            ("sea", "deep"),
            ("desert", "dry"),
            ("ice", "cold"),
            ("fire", "hot"),
        ]
    )
]


def _fill(home: Path) -> dict[str, int]:
    with Memory.open(make_settings(home)) as mem:
        return {f: mem.add(f, user="ann").record.id for f in FACTS}  # type: ignore[union-attr]


def _check_no_wrong_hit(mem: Memory, ids: dict[str, int]) -> None:
    for text, memory_id in ids.items():
        top = mem.search(text, user="ann", k=1)[0]
        assert (top.record.id, top.record.text) == (memory_id, text)
        assert top.similarity == pytest.approx(1.0, abs=1e-5)


def _damage(path: Path, how: str, home: Path) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "zeroed":
        path.write_bytes(b"\x00" * len(data))
    elif how == "flipped":
        path.write_bytes(data[:-20] + bytes(b ^ 0xFF for b in data[-20:]))
    elif how == "foreign-faiss":  # a raw FAISS file, not ours
        idx = faiss.IndexFlatIP(384)
        idx.add(np.random.default_rng(0).standard_normal((5, 384)).astype("float32"))
        faiss.write_index(idx, str(path))
    elif how == "empty":
        path.write_bytes(b"")


@pytest.mark.parametrize("how", ["truncated", "zeroed", "flipped", "foreign-faiss", "empty"])
def test_damaged_index_is_detected_and_rebuilt(home: Path, how: str) -> None:
    ids = _fill(home)
    path = home / "index" / "memories.faiss"
    assert path.exists()
    _damage(path, how, home)
    with Memory.open(make_settings(home)) as mem:
        _check_no_wrong_hit(mem, ids)
        space = mem.store.spaces["memories"]
        assert space.rebuilds == 1 and space.last_load_error
    with Memory.open(make_settings(home)) as mem:  # the rebuilt file is good again
        _check_no_wrong_hit(mem, ids)
        assert mem.store.spaces["memories"].rebuilds == 0


def test_a_valid_index_from_another_store_is_rejected(home: Path, tmp_path: Path) -> None:
    ids = _fill(home)
    other = tmp_path / "other"
    with Memory.open(make_settings(other)) as mem:  # same ids 1..10, different texts
        for i in range(len(FACTS)):
            mem.add(f"unrelated memory {i} about turnips", user="ann")
        mem.add("one more so the count differs", user="ann")
    (home / "index" / "memories.faiss").write_bytes(
        (other / "index" / "memories.faiss").read_bytes()
    )
    with Memory.open(make_settings(home)) as mem:
        _check_no_wrong_hit(mem, ids)
        assert mem.store.spaces["memories"].rebuilds == 1


def test_same_count_foreign_vectors_are_caught_on_load(home: Path, tmp_path: Path) -> None:
    ids = _fill(home)
    with Store(make_settings(home)) as store:
        store_id = store.store_id
    other = tmp_path / "other"
    with Memory.open(make_settings(other)) as mem:  # same ids and count, other vectors
        # ... and even the same store id (a copied database), so that the file verifies
        mem.store.store_id = store_id
        with mem.store.write() as conn:
            conn.execute("UPDATE meta SET value=? WHERE key='store_id'", (store_id,))
        for i in range(len(FACTS)):
            mem.add(f"unrelated memory {i} about turnips", user="ann")
    # Same store, space, embedder, seq, count and ids: the file verifies; only vectors differ.
    (home / "index" / "memories.faiss").write_bytes(
        (other / "index" / "memories.faiss").read_bytes()
    )
    with Memory.open(make_settings(home)) as mem:
        _check_no_wrong_hit(mem, ids)
        space = mem.store.spaces["memories"]
        # The file verifies; its vectors, compared with SQLite's on load, do not.
        assert "vectors disagree" in (space.last_load_error or "")
        assert space.rebuilds == 1


def test_drift_in_a_live_index_triggers_a_rebuild(home: Path) -> None:
    ids = _fill(home)
    with Memory.open(make_settings(home)) as mem:
        mem.search("sky", user="ann")
        space = mem.store.spaces["memories"]
        # Simulate an index whose id map drifted: vectors under the wrong ids.
        all_ids = np.array(sorted(ids.values()), dtype=np.int64)
        vecs = np.vstack([space.index.index.reconstruct(int(i)) for i in all_ids])
        space.index = VectorIndex.build(vecs.shape[1], all_ids[::-1].copy(), vecs)
        _check_no_wrong_hit(mem, ids)
        assert space.rebuilds >= 1


def test_missing_index_is_rebuilt_and_the_stamp_catches_up(home: Path) -> None:
    ids = _fill(home)
    (home / "index" / "memories.faiss").unlink()
    with Memory.open(make_settings(home)) as mem:
        _check_no_wrong_hit(mem, ids)
        mem.add("a new fact about owls", user="ann")
    with Memory.open(make_settings(home)) as mem:
        assert mem.search("owls", user="ann", k=1)[0].record.text == "a new fact about owls"
        assert mem.store.spaces["memories"].rebuilds == 0


def test_approximate_index_above_threshold_supports_delete_and_reopen(home: Path) -> None:
    s = make_settings(home, ann_threshold=100)
    with Memory.open(s) as mem:
        recs = [
            mem.add(f"memory {i} word{i} alpha{i % 7} beta{i % 11}", user="ann").record
            for i in range(300)
        ]
        mem.store.spaces["memories"].rebuild()
        assert mem.store.spaces["memories"].index.kind == "ivf"
        mem.forget(recs[5].id)  # type: ignore[union-attr]
        found = sum(
            mem.search(r.text, user="ann", k=1)[0].record.id == r.id  # type: ignore[union-attr]
            for r in recs[10:60]
        )
        assert found >= 48  # approximate, but exact matches are nearly always found
    with Memory.open(s) as mem:
        space = mem.store.spaces["memories"]
        space.ensure_current()
        assert space.index.kind == "ivf" and space.rebuilds == 0 and len(space.index) == 299
        assert recs[5].id not in set(space.index.ids().tolist())  # type: ignore[union-attr]


def test_trimmed_change_log_forces_a_rebuild(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import memory.store as store_mod

    ids = _fill(home)
    with Memory.open(make_settings(home)) as stale:
        stale.search("sky", user="ann")  # loaded at the current seq
        with Memory.open(make_settings(home)) as writer:
            monkeypatch.setattr(store_mod, "KEEP_CHANGES", 1)
            for i in range(5):
                writer.add(f"late fact {i} on the moon", user="ann")
        # The writer's close() trimmed the log past the stale process's stamp.
        assert (
            stale.search("late fact 3 on the moon", user="ann", k=1)[0].record.text
            == "late fact 3 on the moon"
        )
        assert stale.store.spaces["memories"].rebuilds == 1
        _check_no_wrong_hit(stale, ids)
