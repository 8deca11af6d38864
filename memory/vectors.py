"""FAISS vector indexes: exact below a size threshold, IVF above it, saved atomically with a stamp.

An index here is a *derived cache* of the vectors stored in SQLite. :class:`VectorIndex` wraps

- ``IndexIDMap2(IndexFlatIP)``: exact inner product (= cosine on unit vectors), below
  ``ann_threshold`` vectors;
- ``IndexIVFFlat`` (inner product, ~sqrt(n) lists, trained on a sample) above it. IVF rather than
  HNSW because FAISS's HNSW cannot delete vectors, and forgetting must remove them for real.
  IVFFlat keeps raw vectors, so its scores are exact for the candidates it visits.

Files are written as one blob: a magic line, a JSON stamp (space, embedder, dim, the last SQLite
change sequence the index contains, the vector count, the store's id, the sha256 and length of
the payload) and the FAISS payload. They are written to a temporary file, fsynced, renamed over
the old file, and the directory is fsynced. :func:`load_index` refuses anything whose magic,
stamp, store, checksum, size, dimension or vector count disagree, and anything that is not a
regular file (a FIFO would block the read; a folder would fail every search); the caller then
rebuilds from the database. :meth:`VectorIndex.vectors` lets the caller compare the vectors
themselves with the database's, since a file can carry a valid checksum over wrong vectors. A
folder standing where an index file belongs is renamed aside (never deleted) by the save.

When faiss-gpu is installed and a GPU is visible, searches on exact indexes run on a GPU copy
(refreshed after changes); adds, deletes and saves always use the CPU master.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

__all__ = ["IndexFileError", "Stamp", "VectorIndex", "load_index", "save_index"]

MAGIC = b"LOREBOOK-FAISS 1\n"

log = logging.getLogger(__name__)


class IndexFileError(Exception):
    """An index file is unusable (internal: the store rebuilds the index when it sees one)."""


@dataclass(frozen=True)
class Stamp:
    """What an index file claims to contain."""

    space: str
    model: str
    dim: int
    seq: int
    """Last SQLite change sequence whose effect is in the index."""
    count: int
    kind: str
    store: str = ""
    """The store's id (``meta.store_id``): an index saved for another database is refused."""


class VectorIndex:
    """Vectors by int64 id with inner-product search.

    Example:
        >>> idx = VectorIndex.build(4, np.array([7, 9]), np.eye(4, dtype="float32")[:2])
        >>> scores, ids = idx.search(np.eye(4, dtype="float32")[:1], 1)
        >>> int(ids[0, 0]), float(scores[0, 0])
        (7, 1.0)
    """

    def __init__(self, index: Any, dim: int, kind: str):
        self.index = index
        self.dim = dim
        self.kind = kind
        self._gpu: Any = None
        self._gpu_dirty = True

    # -- construction --------------------------------------------------------------------

    @classmethod
    def empty(cls, dim: int) -> VectorIndex:
        return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dim)), dim, "flat")

    @classmethod
    def build(
        cls, dim: int, ids: np.ndarray, vecs: np.ndarray, ann_threshold: int = 50_000
    ) -> VectorIndex:
        """An index over ``vecs``: exact up to ``ann_threshold`` vectors, IVF above."""
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        vecs = np.ascontiguousarray(vecs, dtype=np.float32).reshape(-1, dim)
        if len(ids) <= ann_threshold:
            idx = cls.empty(dim)
        else:
            nlist = max(16, int(np.sqrt(len(ids))))
            quantizer = faiss.IndexFlatIP(dim)
            ivf = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
            ivf.cp.max_points_per_centroid = 64  # train on a sample: seconds, not minutes
            ivf.cp.seed = 1234
            ivf.train(vecs)
            ivf.nprobe = max(16, nlist // 8)
            ivf.set_direct_map_type(faiss.DirectMap.Hashtable)
            idx = cls(ivf, dim, "ivf")
        if len(ids):
            idx.add(ids, vecs)
        return idx

    # -- the operations ------------------------------------------------------------------

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def add(self, ids: np.ndarray, vecs: np.ndarray) -> None:
        if len(ids) == 0:
            return
        self.index.add_with_ids(
            np.ascontiguousarray(vecs, dtype=np.float32).reshape(-1, self.dim),
            np.ascontiguousarray(ids, dtype=np.int64),
        )
        self._gpu_dirty = True

    def remove(self, ids: np.ndarray) -> int:
        """Remove ``ids`` (absent ones are ignored); returns how many were removed."""
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if len(ids) == 0 or len(self) == 0:
            return 0
        if self.kind == "ivf":
            present = np.intersect1d(ids, self.ids())
            if len(present) == 0:
                return 0
            ids = present
        # IVF's hashtable direct map only accepts an IDSelectorArray.
        selector = (
            faiss.IDSelectorArray(len(ids), faiss.swig_ptr(ids))
            if self.kind == "ivf"
            else faiss.IDSelectorBatch(ids)
        )
        removed = int(self.index.remove_ids(selector))
        self._gpu_dirty = True
        return removed

    def ids(self) -> np.ndarray:
        """Every id in the index (unsorted)."""
        if self.kind == "flat":
            return faiss.vector_to_array(self.index.id_map).astype(np.int64)
        invlists = self.index.invlists
        parts = []
        for list_no in range(self.index.nlist):
            size = invlists.list_size(list_no)
            if size:
                ptr = invlists.get_ids(list_no)
                parts.append(faiss.rev_swig_ptr(ptr, size).copy())
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)

    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """Every ``(id, vector)`` in the index: ids ``(n,)`` and vectors ``(n, dim)`` (a view of
        the index's own memory for exact indexes, a copy for IVF)."""
        if self.kind == "flat":
            flat: Any = faiss.downcast_index(self.index.index)
            n = len(self)
            vecs = faiss.rev_swig_ptr(flat.get_xb(), n * self.dim) if n else np.zeros(0)
            return self.ids(), np.asarray(vecs, dtype=np.float32).reshape(-1, self.dim)
        invlists = self.index.invlists
        id_parts: list[np.ndarray] = []
        vec_parts: list[np.ndarray] = []
        for list_no in range(self.index.nlist):
            size = invlists.list_size(list_no)
            if size:
                id_parts.append(faiss.rev_swig_ptr(invlists.get_ids(list_no), size).copy())
                raw = faiss.rev_swig_ptr(invlists.get_codes(list_no), size * invlists.code_size)
                vec_parts.append(raw.copy().view(np.float32).reshape(-1, self.dim))
        if not id_parts:
            return np.zeros(0, np.int64), np.zeros((0, self.dim), np.float32)
        return np.concatenate(id_parts).astype(np.int64), np.vstack(vec_parts)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores, ids) per query row; missing slots have id -1."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        k = max(1, min(k, len(self))) if len(self) else 1
        if len(self) == 0:
            n = len(queries)
            return np.zeros((n, 1), np.float32), -np.ones((n, 1), np.int64)
        index = self._search_index()
        if len(queries) > 1 or index is not self.index:
            return index.search(queries, k)
        # One query: FAISS parallelises over queries, so a second OpenMP thread has no work,
        # but waking it and meeting it at the barrier cost 0.3-0.5 ms at 10k vectors and, on
        # a busy 2-core machine, tens of ms at p95. The setting is per calling thread (OpenMP
        # ICV) and restored at once, so torch's threads in the embedder keep their count.
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            return index.search(queries, k)
        finally:
            faiss.omp_set_num_threads(threads)

    def _search_index(self) -> Any:
        if self.kind != "flat" or not _gpu_available():
            return self.index
        if self._gpu is None or self._gpu_dirty:
            try:
                self._gpu = faiss.index_cpu_to_gpu(_gpu_resources(), 0, self.index)
                self._gpu_dirty = False
            except Exception:  # an unsupported index type: search on the CPU master
                return self.index
        return self._gpu

    # -- persistence ---------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        return bytes(faiss.serialize_index(self.index))

    @classmethod
    def from_bytes(cls, payload: bytes, dim: int, kind: str) -> VectorIndex:
        # deserialize_index already returns the concrete class (IndexIDMap2, IndexIVFFlat).
        index = faiss.deserialize_index(np.frombuffer(payload, dtype=np.uint8))
        if kind == "ivf":
            index.set_direct_map_type(faiss.DirectMap.Hashtable)
        return cls(index, dim, kind)


_GPU: dict[str, Any] = {}


def _gpu_available() -> bool:
    if "ok" not in _GPU:
        try:
            _GPU["ok"] = hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0
        except Exception:
            _GPU["ok"] = False
    return bool(_GPU["ok"])


def _gpu_resources() -> Any:
    if "res" not in _GPU:
        _GPU["res"] = faiss.StandardGpuResources()
    return _GPU["res"]


def save_index(path: Path, index: VectorIndex, stamp: Stamp) -> None:
    """Write ``index`` with ``stamp`` atomically: temp file, fsync, rename, fsync the folder.

    Raises:
        OSError: the write failed (the previous file is left untouched).
    """
    payload = index.to_bytes()
    header = json.dumps(
        {
            **stamp.__dict__,
            "payload_sha256": hashlib.sha256(payload).hexdigest(),
            "payload_len": len(payload),
        }
    ).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir() and not path.is_symlink():  # rename() cannot replace a folder
        aside = path.with_name(f"{path.name}.in-the-way-{time.strftime('%Y%m%dT%H%M%S')}")
        os.rename(path, aside)
        log.warning("a folder stood where the index file %s belongs: moved it to %s", path, aside)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(MAGIC)
            fh.write(len(header).to_bytes(4, "little"))
            fh.write(header)
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load_index(
    path: Path, space: str, model: str, dim: int, store: str = ""
) -> tuple[VectorIndex, Stamp]:
    """Read and verify an index file.

    Raises:
        IndexFileError: missing, truncated, zeroed, foreign, for another store, space or
            embedder, a checksum mismatch, or a vector count that disagrees with the stamp.
    """
    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):  # checked before opening: a FIFO would block the read
            what = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
            raise IndexFileError(f"{path}: {what}, not an index file")
        blob = path.read_bytes()
    except OSError as exc:
        raise IndexFileError(f"{path}: unreadable ({exc})") from exc
    if not blob.startswith(MAGIC):
        raise IndexFileError(f"{path}: not a lorebook index file")
    pos = len(MAGIC)
    if len(blob) < pos + 4:
        raise IndexFileError(f"{path}: truncated header")
    hlen = int.from_bytes(blob[pos : pos + 4], "little")
    try:
        head = json.loads(blob[pos + 4 : pos + 4 + hlen].decode("utf-8"))
        stamp = Stamp(
            **{k: head[k] for k in ("space", "model", "dim", "seq", "count", "kind")},
            store=str(head.get("store", "")),
        )
        payload = blob[pos + 4 + hlen :]
        expected_len, expected_sha = int(head["payload_len"]), str(head["payload_sha256"])
    except (ValueError, KeyError, TypeError) as exc:
        raise IndexFileError(f"{path}: bad stamp ({exc})") from exc
    if (stamp.space, stamp.model, stamp.dim) != (space, model, dim):
        raise IndexFileError(
            f"{path}: made for {stamp.space}/{stamp.model}/{stamp.dim}, not {space}/{model}/{dim}"
        )
    if stamp.store != store:
        raise IndexFileError(
            f"{path}: made for store {stamp.store or '(unnamed)'}, not {store}: several "
            "stores (databases) share this data directory"
        )
    if len(payload) != expected_len or hashlib.sha256(payload).hexdigest() != expected_sha:
        raise IndexFileError(f"{path}: payload checksum mismatch (truncated or overwritten)")
    try:
        index = VectorIndex.from_bytes(payload, dim, stamp.kind)
    except Exception as exc:  # faiss raises RuntimeError on garbage
        raise IndexFileError(f"{path}: FAISS could not read it ({exc})") from exc
    if len(index) != stamp.count or index.index.d != dim:
        raise IndexFileError(f"{path}: holds {len(index)} vectors, stamp says {stamp.count}")
    return index, stamp
