"""Document retrieval (RAG): ingest files and folders, hybrid search with citations.

- :meth:`Documents.ingest` reads ``.txt .md .html .pdf`` files (folders recursively), chunks
  them (:mod:`memory.chunking`), embeds the chunks through the embedding cache and stores
  document, chunks and vectors in **one transaction per file**: a file is fully in or fully out,
  whatever fails. Unchanged files (same sha256) are skipped, changed ones replaced, and files
  that disappeared from an ingested folder are dropped. Each bad file yields an
  :class:`IngestError` record (reason and fix) and the ingest carries on.
- :meth:`Documents.search` fuses BM25 and dense similarity (``hybrid``, the default: a
  convex combination of per-query z-scores in which BM25 has a say only when its best chunk's
  match could hardly be a coincidence, see :func:`memory._lexical.fuse`) or uses one of them
  (``bm25``, ``dense``). Hits carry a
  :class:`Citation`: path, page, character offsets in that page's extracted text, and the
  quoted text.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from agent.errors import ConfigError, DocumentError
from memory._lexical import Lexical, fuse, lexical_trust
from memory._readers import SUPPORTED, read_pages
from memory.chunking import Chunk, chunk_text
from memory.embeddings import text_hash
from memory.store import Store

if TYPE_CHECKING:
    from agent.settings import Settings

__all__ = ["Candidate", "Citation", "DocumentHit", "Documents", "IngestError", "IngestReport"]

Mode = Literal["hybrid", "bm25", "dense"]


@dataclass(frozen=True)
class Citation:
    """Where a chunk comes from: ``page`` is 1-based for PDFs and None otherwise; ``start`` and
    ``end`` index the page's extracted text; ``quote`` is the chunk text."""

    path: str
    page: int | None
    start: int
    end: int
    quote: str

    def __str__(self) -> str:
        where = f"{self.path}" + (f", p. {self.page}" if self.page else "")
        return f"{where}, chars {self.start}-{self.end}"


@dataclass(frozen=True)
class DocumentHit:
    """A retrieved chunk with its fused score, its ranks in each retriever, and its citation."""

    chunk_id: int
    document_id: int
    score: float
    citation: Citation
    bm25_rank: int | None = None
    dense_rank: int | None = None


@dataclass(frozen=True)
class Candidate:
    """A chunk in a search's candidate pool: its cosine similarity to the query, its BM25 score
    (0 when it shares no word with the query), and its rank in each retriever's top list."""

    chunk_id: int
    document_id: int
    dense: float
    bm25: float
    citation: Citation
    bm25_rank: int | None = None
    dense_rank: int | None = None


@dataclass(frozen=True)
class IngestError:
    """A file the ingest could not take, and why."""

    path: str
    reason: str
    message: str


@dataclass
class IngestReport:
    """What one :meth:`Documents.ingest` call did."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    errors: list[IngestError] = field(default_factory=list)
    chunks: int = 0
    embedded: int = 0
    """Chunks that needed the model (the rest came from the embedding cache)."""
    seconds: float = 0.0

    @property
    def chunks_per_second(self) -> float:
        return self.chunks / self.seconds if self.seconds > 0 else 0.0


class Documents:
    """The document side of a :class:`~memory.store.Store`.

    Example:
        >>> import tempfile; from pathlib import Path; from agent.settings import load_settings
        >>> home = Path(tempfile.mkdtemp()); (home / "a.txt").write_text("Cats purr when happy.")
        21
        >>> s = load_settings({"home": home / "data", "embedder": "hash"}, env={})
        >>> with Documents.open(s) as docs:
        ...     docs.ingest([home / "a.txt"], progress=False).chunks
        ...     docs.search("why do cats purr", k=1)[0].citation.quote
        1
        'Cats purr when happy.'
    """

    def __init__(self, store: Store):
        self.store = store
        self.settings = store.settings
        if not 0.0 <= self.settings.hybrid_bm25_weight <= 1.0:
            raise ConfigError(
                f"hybrid_bm25_weight={self.settings.hybrid_bm25_weight} must be in [0, 1] "
                "(LOREBOOK_HYBRID_BM25_WEIGHT)."
            )
        self._lexical: Lexical | None = None
        self._lexical_seq = -1

    @classmethod
    def open(cls, settings: Settings, **kwargs: Any) -> Documents:
        return cls(Store(settings, kwargs.pop("embedder", None)))

    # -- ingest ----------------------------------------------------------------------------

    def ingest(self, paths: Iterable[Path | str], *, progress: bool | None = None) -> IngestReport:
        """Ingest files and folders (recursively); see the module docstring.

        Args:
            progress: show a progress bar on stderr (default: when stderr is a terminal and
                there are more than 20 files).

        Returns:
            An :class:`IngestReport`; per-file failures are in ``errors``, never raised.
        """
        t0 = time.perf_counter()
        report = IngestReport()
        files: list[Path] = []
        roots: list[Path] = []
        for raw in paths:
            p = Path(raw).expanduser().resolve()
            if p.is_dir():
                roots.append(p)
                files += sorted(
                    f
                    for f in p.rglob("*")
                    if f.is_file()
                    and f.suffix.lower() in SUPPORTED
                    and not any(part.startswith(".") for part in f.relative_to(p).parts)
                )
            elif p.is_file():
                files.append(p)
            else:
                report.errors.append(IngestError(str(p), "missing", f"{p}: no such file or folder"))
        show = progress if progress is not None else (sys.stderr.isatty() and len(files) > 20)
        for path in _progress(files, show):
            self._ingest_file(path, report)
        for root in roots:
            self._drop_vanished(root, report)
        if report.added or report.updated or report.removed:
            with self.store.lock:
                self.store.spaces["chunks"].ensure_current()
                self.store.spaces["chunks"].save()
        report.seconds = time.perf_counter() - t0
        return report

    def _ingest_file(self, path: Path, report: IngestReport) -> None:
        key = str(path)
        try:
            size = path.stat().st_size
            if size > self.settings.max_document_bytes:
                raise DocumentError(
                    path,
                    "too-large",
                    f"{size} bytes is over the limit of {self.settings.max_document_bytes}",
                    "Split the file, or raise max_document_bytes (LOREBOOK_MAX_DOCUMENT_BYTES).",
                )
            data = path.read_bytes()
            digest = text_hash(data.decode("latin-1"))  # sha256 of the raw bytes
            with self.store.read() as conn:
                row = conn.execute("SELECT id, hash FROM documents WHERE path=?", (key,)).fetchone()
            if row and row[1] == digest:
                report.unchanged.append(key)
                return
            pages = read_pages(path, data)
            chunks = [
                c
                for page, text in pages
                for c in chunk_text(
                    text, self.settings.chunk_tokens, self.settings.chunk_overlap, page
                )
            ]
            if not chunks:
                raise DocumentError(
                    path, "no-text", "no text to index", "Check that the file has readable text."
                )
            misses_before = self.store.cache.misses
            vecs = self.store.cache.embed([c.text for c in chunks])  # before locking the db
            with self.store.write() as conn:
                if row:
                    self._delete_document(conn, row[0])
                self._insert(conn, key, digest, size, len(pages), chunks, vecs)
            report.embedded += self.store.cache.misses - misses_before
        except DocumentError as exc:
            report.errors.append(IngestError(key, exc.reason, str(exc)))
            return
        except OSError as exc:
            report.errors.append(
                IngestError(
                    key, "unreadable", f"{path}: {exc.strerror or exc}. Check the permissions."
                )
            )
            return
        (report.updated if row else report.added).append(key)
        report.chunks += len(chunks)

    def _insert(
        self,
        conn: Any,
        key: str,
        digest: str,
        size: int,
        pages: int,
        chunks: Sequence[Chunk],
        vecs: np.ndarray,
    ) -> None:
        cur = conn.execute(
            "INSERT INTO documents (path, hash, size, pages, chunks, ingested) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (key, digest, size, pages, len(chunks), time.time()),
        )
        doc_id = cur.lastrowid
        ids = []
        for n, (c, vec) in enumerate(zip(chunks, vecs, strict=True)):
            cur = conn.execute(
                'INSERT INTO chunks (document, ord, page, start, "end", text, vec) '
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (doc_id, n, c.page, c.start, c.end, c.text, vec.astype(np.float32).tobytes()),
            )
            ids.append(cur.lastrowid)
        self.store.log_changes(conn, "chunks", ids)

    def _delete_document(self, conn: Any, doc_id: int) -> list[str]:
        rows = conn.execute("SELECT id, text FROM chunks WHERE document=?", (doc_id,)).fetchall()
        self.store.log_changes(conn, "chunks", [r[0] for r in rows])
        conn.execute("DELETE FROM chunks WHERE document=?", (doc_id,))
        conn.execute("DELETE FROM documents WHERE id=?", (doc_id,))
        return [r[1] for r in rows]

    def _drop_vanished(self, root: Path, report: IngestReport) -> None:
        prefix = str(root) + os.sep
        with self.store.read() as conn:
            known = conn.execute(
                "SELECT id, path FROM documents WHERE substr(path, 1, ?) = ?", (len(prefix), prefix)
            ).fetchall()
        for doc_id, path in known:
            if not Path(path).exists():
                with self.store.write() as conn:
                    self._delete_document(conn, doc_id)
                report.removed.append(path)

    # -- remove ----------------------------------------------------------------------------

    def remove(self, document: Path | str | int) -> bool:
        """Delete a document (by path or id) and its chunks from SQLite and every index.

        Returns False when no such document was ingested.
        """
        with self.store.write() as conn:
            if isinstance(document, int):
                row = conn.execute("SELECT id FROM documents WHERE id=?", (document,)).fetchone()
            else:
                key = str(Path(document).expanduser().resolve())
                row = conn.execute("SELECT id FROM documents WHERE path=?", (key,)).fetchone()
            if row is None:
                return False
            texts = self._delete_document(conn, row[0])
            self.store.cache.drop(texts)
        with self.store.lock:
            self.store.spaces["chunks"].ensure_current()
            self.store.spaces["chunks"].save()
        self._lexical = None
        self.store.erase(("chunks", "documents", "embedding_cache"))
        return True

    def list(self) -> list[dict[str, Any]]:
        """Ingested documents: id, path, hash, size, pages, chunks, ingested (epoch seconds)."""
        with self.store.read() as conn:
            rows = conn.execute(
                "SELECT id, path, hash, size, pages, chunks, ingested FROM documents ORDER BY path"
            ).fetchall()
        keys = ("id", "path", "hash", "size", "pages", "chunks", "ingested")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    # -- search ----------------------------------------------------------------------------

    def search(
        self, query: str, k: int = 5, *, mode: Mode = "hybrid", depth: int = 50
    ) -> list[DocumentHit]:
        """The ``k`` best chunks for ``query`` with citations.

        Args:
            mode: ``hybrid`` (BM25 and dense similarity fused, see :func:`memory._lexical.fuse`
                and ``Settings.hybrid_bm25_weight``), ``bm25`` or ``dense``.
            depth: how many candidates each retriever contributes to the fusion.

        Returns:
            Hits, best first. ``score`` is the fused score (``hybrid``), the BM25 score
            (``bm25``) or the cosine similarity (``dense``).

        Example:
            >>> # for hit in docs.search("notice period", k=3): print(hit.citation)
        """
        if k <= 0:
            return []
        pool = self.candidates(query, max(depth, k), mode=mode)
        if not pool:
            return []
        if mode == "hybrid":
            best = next((c for c in pool if c.bm25_rank == 1), None)
            surprise = (
                self._lexical.surprise(query, best.chunk_id)
                if best is not None and self._lexical is not None
                else 0.0
            )
            scores = fuse(
                np.array([c.dense for c in pool]),
                np.array([c.bm25 for c in pool]),
                self.settings.hybrid_bm25_weight,
                lexical_trust(surprise),
            )
        else:
            scores = np.array([c.dense if mode == "dense" else c.bm25 for c in pool])
        # Equal scores (flat BM25 at full BM25 weight) keep the dense order.
        order = sorted(
            range(len(pool)), key=lambda n: (-scores[n], -pool[n].dense, pool[n].chunk_id)
        )[:k]
        return [
            DocumentHit(
                pool[n].chunk_id,
                pool[n].document_id,
                float(scores[n]),
                pool[n].citation,
                pool[n].bm25_rank,
                pool[n].dense_rank,
            )
            for n in order
        ]

    def candidates(self, query: str, depth: int = 50, *, mode: Mode = "hybrid") -> list[Candidate]:
        """The candidate pool of a search, each chunk with both of its scores.

        The pool is the union of BM25's and the dense index's top ``depth`` (only one of them
        for ``mode="bm25"`` or ``"dense"``). Every candidate carries its BM25 score and its
        cosine similarity, the latter computed from the vector stored in SQLite. Dense hits
        whose index score disagrees with SQLite make the index rebuild and the search rerun.
        :meth:`search` ranks this pool; the benchmark uses it to compare fusion functions.
        """
        if depth <= 0:
            return []
        lexical = self._lexical_index() if mode != "dense" else None
        bm25_all = lexical.scores(query) if lexical is not None else None
        bm25_top = lexical.top(bm25_all, depth) if lexical and bm25_all is not None else []
        qvec = self.store.embedder.embed_query(query) if mode != "bm25" else None
        space = self.store.spaces["chunks"]
        for _attempt in range(3):
            dense_top: list[tuple[int, float]] = []
            if qvec is not None:
                with self.store.lock:
                    dense_top = space.search(qvec, depth)
            ids = sorted({i for i, _ in bm25_top} | {i for i, _ in dense_top})
            if not ids:
                return []
            rows = self._chunk_rows(ids)
            vecs = {i: np.frombuffer(r[7], dtype=np.float32) for i, r in rows.items()}
            if qvec is None or space.verify_scores(qvec, dense_top, vecs):
                break
            with self.store.lock:
                space.rebuild()
        else:  # pragma: no cover
            raise RuntimeError("chunk index kept disagreeing with SQLite")
        if lexical is None or bm25_all is None:  # dense mode: no BM25 scores needed
            bm25 = np.zeros(len(ids), np.float32)
        else:
            bm25 = lexical.score_of(bm25_all, ids)
        brank = {i: n for n, (i, _) in enumerate(bm25_top, 1)}
        drank = {i: n for n, (i, _) in enumerate(dense_top, 1)}
        out = []
        for chunk_id, b in zip(ids, bm25, strict=True):
            r = rows.get(chunk_id)
            if r is None:  # deleted between the index lookup and now
                continue
            cos = float(vecs[chunk_id] @ qvec) if qvec is not None else 0.0
            out.append(
                Candidate(
                    chunk_id,
                    r[1],
                    cos,
                    float(b),
                    Citation(r[2], r[3], r[4], r[5], r[6]),
                    brank.get(chunk_id),
                    drank.get(chunk_id),
                )
            )
        return out

    def _chunk_rows(self, ids: Sequence[int]) -> dict[int, tuple[Any, ...]]:
        marks = ",".join("?" * len(ids))
        with self.store.read() as conn:
            return {
                r[0]: r
                for r in conn.execute(
                    'SELECT c.id, c.document, d.path, c.page, c.start, c."end", c.text, c.vec '
                    f"FROM chunks c JOIN documents d ON d.id = c.document WHERE c.id IN ({marks})",
                    list(ids),
                )
            }

    def _lexical_index(self) -> Lexical:
        seq = self.store.space_seq("chunks")
        if self._lexical is None or seq != self._lexical_seq:
            with self.store.read() as conn:
                seq = self.store.space_seq("chunks")
                rows = conn.execute("SELECT id, text FROM chunks ORDER BY id").fetchall()
            self._lexical = Lexical([r[0] for r in rows], [r[1] for r in rows])
            self._lexical_seq = seq
        return self._lexical

    # -- lifetime --------------------------------------------------------------------------

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Documents:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _progress(files: list[Path], show: bool) -> Iterator[Path]:
    if not show:
        yield from files
        return
    from tqdm import tqdm

    yield from tqdm(files, desc="ingest", unit="file", file=sys.stderr)
