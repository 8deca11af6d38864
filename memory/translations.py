"""The translation memory: segment pairs the user accepted, found again by similarity.

A view over :class:`~memory.store.Store`, like :class:`~memory.Memory` and
:class:`~memory.Documents`: its own ``translations`` table in the same SQLite database (created
here with ``CREATE TABLE IF NOT EXISTS``), vectors of the source side from ``store.embedder``
through the store's embedding cache.

- :meth:`TranslationMemory.add` keeps one row per (source text, language pair): adding the same
  source again replaces its translation (the user's latest choice wins).
- :meth:`TranslationMemory.search` returns an exact match first (same source up to whitespace,
  score 1.0, ``exact=True``: the translator reuses it as it is), then the most similar sources
  of the same language pair by cosine similarity.
- :meth:`TranslationMemory.accept` stores every segment of a translation result.
- :meth:`TranslationMemory.remove` is a hard delete (row and cached embedding, then
  :meth:`~memory.store.Store.erase` as for a forgotten memory).

Deliberate shortcuts: similarity search is brute force with numpy over the pair's rows, kept
in process memory between searches and re-read when the table changes (about 1 ms per 1,000
rows; fine up to ~50k entries per language pair, beyond which a FAISS space like
``memory.store.VectorSpace`` would be the next step). Entries of the reverse direction
(fr→en when translating en→fr) are not used.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from agent.errors import ConfigError, MemoryNotFoundError
from memory.store import Store

__all__ = ["TMEntry", "TMHit", "TranslationMemory"]

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS translations ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " source TEXT NOT NULL, target TEXT NOT NULL,"
    " source_lang TEXT NOT NULL, target_lang TEXT NOT NULL,"
    " key TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL,"
    " vec BLOB NOT NULL)",
    "CREATE UNIQUE INDEX IF NOT EXISTS translations_key "
    "ON translations (source_lang, target_lang, key)",
)


def _key(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True)
class TMEntry:
    """One stored pair. ``created``/``updated`` are Unix times."""

    id: int
    source: str
    target: str
    source_lang: str
    target_lang: str
    created: float
    updated: float


@dataclass(frozen=True)
class TMHit:
    """A search result: the stored pair, its cosine similarity, and whether it is exact."""

    id: int
    source: str
    target: str
    source_lang: str
    target_lang: str
    score: float
    exact: bool


class _Segment(Protocol):
    @property
    def source(self) -> str: ...
    @property
    def target(self) -> str: ...


class _Accepted(Protocol):
    @property
    def source_lang(self) -> str: ...
    @property
    def target_lang(self) -> str: ...
    @property
    def segments(self) -> Iterable[_Segment]: ...


class TranslationMemory:
    """Past translations the user accepted, in the store's database.

    Example:
        >>> import tempfile; from agent.settings import load_settings
        >>> s = load_settings({"home": tempfile.mkdtemp(), "embedder": "hash"}, env={})
        >>> with Store(s) as store:
        ...     tm = TranslationMemory(store)
        ...     _ = tm.add("Good morning.", "Bonjour.", "en", "fr")
        ...     hit = tm.search("Good  morning.", "en", "fr")[0]
        ...     hit.target, hit.exact
        ('Bonjour.', True)
    """

    def __init__(self, store: Store):
        self.store = store
        self._vectors: dict[tuple[str, str], tuple[Any, np.ndarray, np.ndarray]] = {}
        with store.write() as conn:
            for statement in _SCHEMA:
                conn.execute(statement)

    def add(self, source: str, target: str, source_lang: str, target_lang: str) -> int:
        """Store one accepted pair; returns its id (the existing id when the source was there).

        Raises:
            ConfigError: an empty source or target.

        Example: ``tm.add("Save", "Enregistrer", "en", "fr")``.
        """
        if not source.strip() or not target.strip():
            raise ConfigError("a translation memory entry needs a non-empty source and target")
        vec = self.store.cache.embed([source])[0].astype(np.float32)
        now = time.time()
        with self.store.write() as conn:
            row = conn.execute(
                "SELECT id FROM translations WHERE source_lang=? AND target_lang=? AND key=?",
                (source_lang, target_lang, _key(source)),
            ).fetchone()
            if row is not None:
                conn.execute(
                    "UPDATE translations SET source=?, target=?, updated=?, vec=? WHERE id=?",
                    (source, target, now, vec.tobytes(), row[0]),
                )
                return int(row[0])
            cur = conn.execute(
                "INSERT INTO translations (source, target, source_lang, target_lang, key, "
                "created, updated, vec) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (source, target, source_lang, target_lang, _key(source), now, now, vec.tobytes()),
            )
            return int(cur.lastrowid or 0)

    def accept(self, translation: _Accepted) -> int:
        """Store every segment pair of a translation result (``tools.translate.Translation``).

        Segments the model left unchanged (copied numbers, code) are skipped.

        Returns:
            How many pairs were stored (new or updated).

        Example: ``tm.accept(translate("Good morning.", "fr", llm=llm))``.
        """
        stored = 0
        for seg in translation.segments:
            if seg.source.strip() and seg.target.strip() and seg.source != seg.target:
                self.add(seg.source, seg.target, translation.source_lang, translation.target_lang)
                stored += 1
        return stored

    def search(self, text: str, source_lang: str, target_lang: str, k: int = 3) -> list[TMHit]:
        """The best ``k`` entries for ``text`` in one language pair, exact match first.

        Example: ``tm.search("Save the file", "en", "fr", k=2)``.
        """
        if k <= 0 or not text.strip():
            return []
        with self.store.read() as conn:
            exact = conn.execute(
                "SELECT id, source, target FROM translations "
                "WHERE source_lang=? AND target_lang=? AND key=?",
                (source_lang, target_lang, _key(text)),
            ).fetchone()
        hits = []
        if exact is not None:
            hits.append(TMHit(exact[0], exact[1], exact[2], source_lang, target_lang, 1.0, True))
        ids, vecs = self._load(source_lang, target_lang)
        if len(ids) and len(hits) < k:
            scores = vecs @ self.store.embedder.embed_query(text).astype(np.float32)
            order = np.argsort(-scores, kind="stable")[: k + 1]
            wanted = [(int(ids[i]), float(scores[i])) for i in order]
            wanted = [(i, s) for i, s in wanted if not hits or i != hits[0].id][: k - len(hits)]
            rows = self._rows([i for i, _ in wanted])
            for item, score in wanted:
                if item in rows:
                    src, tgt = rows[item]
                    hits.append(TMHit(item, src, tgt, source_lang, target_lang, score, False))
        return hits

    def get(self, entry_id: int) -> TMEntry:
        """One entry by id.

        Raises:
            MemoryNotFoundError: no entry with that id.
        """
        with self.store.read() as conn:
            row = conn.execute(
                "SELECT id, source, target, source_lang, target_lang, created, updated "
                "FROM translations WHERE id=?",
                (entry_id,),
            ).fetchone()
        if row is None:
            raise MemoryNotFoundError(entry_id)
        return TMEntry(*row)

    def list(
        self, source_lang: str | None = None, target_lang: str | None = None, limit: int = 1000
    ) -> list[TMEntry]:
        """Entries, newest first, optionally of one source and/or target language."""
        where, args = [], []
        for column, value in (("source_lang", source_lang), ("target_lang", target_lang)):
            if value is not None:
                where.append(f"{column}=?")
                args.append(value)
        sql = (
            "SELECT id, source, target, source_lang, target_lang, created, updated "
            "FROM translations"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY updated DESC, id DESC LIMIT ?"
        )
        with self.store.read() as conn:
            return [TMEntry(*row) for row in conn.execute(sql, [*args, limit])]

    def remove(self, entry_id: int) -> None:
        """Hard-delete one entry (its row and its cached embedding; see Store.erase).

        Raises:
            MemoryNotFoundError: no entry with that id.
        """
        entry = self.get(entry_id)
        with self.store.write() as conn:
            conn.execute("DELETE FROM translations WHERE id=?", (entry_id,))
            self.store.cache.drop([entry.source])
        self.store.erase(("translations", "embedding_cache"))

    def __len__(self) -> int:
        with self.store.read() as conn:
            return int(conn.execute("SELECT count(*) FROM translations").fetchone()[0])

    # -- internals ---------------------------------------------------------------------------

    def _load(self, source_lang: str, target_lang: str) -> tuple[np.ndarray, np.ndarray]:
        """Ids and vectors of one pair, re-read only when the pair's rows changed."""
        pair = (source_lang, target_lang)
        with self.store.read() as conn:
            stamp = conn.execute(
                "SELECT count(*), max(id), max(updated) FROM translations "
                "WHERE source_lang=? AND target_lang=?",
                pair,
            ).fetchone()
            cached = self._vectors.get(pair)
            if cached is not None and cached[0] == tuple(stamp):
                return cached[1], cached[2]
            rows = conn.execute(
                "SELECT id, vec FROM translations WHERE source_lang=? AND target_lang=? "
                "ORDER BY id",
                pair,
            ).fetchall()
        dim = self.store.embedder.dim
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        vecs = (
            np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(-1, dim)
            if rows
            else np.zeros((0, dim), np.float32)
        )
        self._vectors[pair] = (tuple(stamp), ids, vecs)
        return ids, vecs

    def _rows(self, ids: builtins.list[int]) -> dict[int, tuple[str, str]]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        with self.store.read() as conn:
            return {
                r[0]: (r[1], r[2])
                for r in conn.execute(
                    f"SELECT id, source, target FROM translations WHERE id IN ({marks})", ids
                )
            }
