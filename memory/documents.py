"""Document retrieval (RAG): ingest files and folders, hybrid search with citations.

- :meth:`Documents.ingest` reads ``.txt .md .html .pdf`` files (folders recursively), chunks
  them (:mod:`memory.chunking`), embeds the chunks through the embedding cache and stores
  document, chunks and vectors in **one transaction per file**: a file is fully in or fully out,
  whatever fails. Unchanged files (same sha256) are skipped, changed ones replaced, and files
  that disappeared from an ingested folder are dropped. Each bad file yields an
  :class:`IngestError` record (reason and fix) and the ingest carries on. Folders are walked
  following symbolic links; a link that loops (to itself, or to a folder above it) is skipped
  with a warning in :attr:`IngestReport.skipped`, and a folder reached twice is read once.
- Memory stays bounded on a large file: the file is hashed in blocks, its text is chunked a
  window at a time (windows end at a paragraph break) keeping only offsets, and chunks are
  embedded :attr:`Documents.embed_batch` at a time; what stays is the text and one float32
  vector per chunk until the file's one transaction writes them. ``on_progress`` hears of every
  batch (:class:`IngestProgress`), so a long file shows how far it has got.
- :meth:`Documents.search` fuses BM25 and dense similarity (``hybrid``, the default: a
  convex combination of per-query z-scores in which BM25 has a say only when its best chunk's
  match could hardly be a coincidence, see :func:`memory._lexical.fuse`) or uses one of them
  (``bm25``, ``dense``). Hits carry a
  :class:`Citation`: path, page, character offsets in that page's extracted text, and the
  quoted text.
"""

from __future__ import annotations

import errno
import hashlib
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from agent.errors import ConfigError, DocumentError
from memory._lexical import Lexical, fuse, lexical_trust
from memory._readers import SUPPORTED, Page, read_pages
from memory.chunking import chunk_text
from memory.store import Store

if TYPE_CHECKING:
    from agent.settings import Settings

__all__ = [
    "Candidate",
    "Citation",
    "DocumentHit",
    "Documents",
    "IngestError",
    "IngestProgress",
    "IngestReport",
]

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


@dataclass(frozen=True)
class IngestProgress:
    """How far an ingest has got: file ``index`` of ``files`` (1-based) is ``path``, of whose
    ``chunks`` chunks ``done`` are embedded (``chunks`` is 0 until the file is read)."""

    path: str
    index: int
    files: int
    done: int
    chunks: int


ProgressCallback = Callable[[IngestProgress], None]


@dataclass
class IngestReport:
    """What one :meth:`Documents.ingest` call did."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    errors: list[IngestError] = field(default_factory=list)
    skipped: list[IngestError] = field(default_factory=list)
    """Warnings: paths left out on purpose (a symbolic link that loops); not failures."""
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

    #: Chunks embedded per call of the embedder: bounds the embedder's working memory and
    #: sets how often ``on_progress`` hears from a long file.
    embed_batch = 128
    #: Characters of text chunked at a time (a window ends at a paragraph break).
    chunk_window = 1_000_000

    def ingest(
        self,
        paths: Iterable[Path | str],
        *,
        progress: bool | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> IngestReport:
        """Ingest files and folders (recursively); see the module docstring.

        Args:
            progress: show a progress bar on stderr (default: when stderr is a terminal).
            on_progress: called with an :class:`IngestProgress` as each file starts and after
                each batch of its chunks is embedded (from the calling thread).

        Returns:
            An :class:`IngestReport`; per-file failures are in ``errors``, symbolic-link loops
            left out in ``skipped``; nothing is raised for a bad path.

        Example:
            >>> # docs.ingest(["~/notes"], on_progress=lambda p: print(p.done, "/", p.chunks))
        """
        t0 = time.perf_counter()
        report = IngestReport()
        files: list[Path] = []
        roots: list[Path] = []
        for raw in paths:
            try:
                p = Path(raw).expanduser().resolve()
            except (RuntimeError, OSError) as exc:  # RuntimeError: 3.11's symlink-loop error
                report.errors.append(
                    IngestError(str(raw), "symlink-loop", f"{raw}: {exc}. Fix or remove the link.")
                )
                continue
            if p.is_dir():
                roots.append(p)
                files += _walk(p, report)
            elif p.is_file():
                files.append(p)
            else:
                report.errors.append(IngestError(str(p), "missing", f"{p}: no such file or folder"))
        files = list(dict.fromkeys(files))
        show = progress if progress is not None else sys.stderr.isatty()
        bar = _Bar() if show else None
        for index, path in enumerate(files, 1):

            def tell(done: int, chunks: int, path: Path = path, index: int = index) -> None:
                update = IngestProgress(str(path), index, len(files), done, chunks)
                if bar is not None:
                    bar(update)
                if on_progress is not None:
                    on_progress(update)

            tell(0, 0)
            self._ingest_file(path, report, tell)
        if bar is not None:
            bar.close()
        for root in roots:
            self._drop_vanished(root, report)
        if report.added or report.updated or report.removed:
            with self.store.lock:
                self.store.spaces["chunks"].ensure_current()
                self.store.spaces["chunks"].save()
        report.seconds = time.perf_counter() - t0
        return report

    def _ingest_file(
        self, path: Path, report: IngestReport, tell: Callable[[int, int], None]
    ) -> None:
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
            digest = _file_digest(path)
            with self.store.read() as conn:
                row = conn.execute("SELECT id, hash FROM documents WHERE path=?", (key,)).fetchone()
            if row and row[1] == digest:
                report.unchanged.append(key)
                return
            pages = read_pages(path, path.read_bytes())  # the bytes go once decoded
            spans = self._spans(pages)
            if not spans:
                raise DocumentError(
                    path, "no-text", "no text to index", "Check that the file has readable text."
                )
            tell(0, len(spans))
            misses_before = self.store.cache.misses
            vecs = self._embed(pages, spans, tell)  # before locking the db
            with self.store.write() as conn:
                if row:
                    self._delete_document(conn, row[0])
                self._insert(conn, key, digest, size, pages, spans, vecs)
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
        report.chunks += len(spans)

    def _spans(self, pages: Sequence[Page]) -> list[tuple[int, int, int]]:
        """(page index, start, end) of every chunk, a window of text at a time.

        Only offsets are kept: the chunk texts of a 50 MB file would be another copy of it.
        """
        spans: list[tuple[int, int, int]] = []
        budget, overlap = self.settings.chunk_tokens, self.settings.chunk_overlap
        for n, (page, text) in enumerate(pages):
            for lo, hi in _windows(text, self.chunk_window):
                spans += [
                    (n, lo + c.start, lo + c.end)
                    for c in chunk_text(text[lo:hi], budget, overlap, page)
                ]
        return spans

    def _embed(
        self,
        pages: Sequence[Page],
        spans: Sequence[tuple[int, int, int]],
        tell: Callable[[int, int], None],
    ) -> np.ndarray:
        """One float32 vector per span, ``embed_batch`` chunks per call of the embedder."""
        out = np.empty((len(spans), self.store.embedder.dim), dtype=np.float32)
        step = max(1, self.embed_batch)
        for lo in range(0, len(spans), step):
            part = spans[lo : lo + step]
            texts = [pages[n][1][a:b] for n, a, b in part]
            out[lo : lo + len(part)] = self.store.cache.embed(texts)
            tell(lo + len(part), len(spans))
        return out

    def _insert(
        self,
        conn: Any,
        key: str,
        digest: str,
        size: int,
        pages: Sequence[Page],
        spans: Sequence[tuple[int, int, int]],
        vecs: np.ndarray,
    ) -> None:
        cur = conn.execute(
            "INSERT INTO documents (path, hash, size, pages, chunks, ingested) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (key, digest, size, len(pages), len(spans), time.time()),
        )
        doc_id = cur.lastrowid
        ids = []
        for n, ((p, start, end), vec) in enumerate(zip(spans, vecs, strict=True)):
            page, text = pages[p]
            cur = conn.execute(
                'INSERT INTO chunks (document, ord, page, start, "end", text, vec) '
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (doc_id, n, page, start, end, text[start:end], vec.tobytes()),
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
        held = self._lexical.holding_identifiers(query) if self._lexical is not None else None
        if held and mode != "dense":
            # "canary3f9e1c…", "policy X1234567": the chunks holding the code come first
            scores = scores + np.array([1e6 if c.chunk_id in held else 0.0 for c in pool])
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


def _file_digest(path: Path) -> str:
    """The document hash, read in blocks: sha256 of the bytes as if each were a Latin-1
    character encoded in UTF-8, which is what earlier versions stored (``text_hash`` of the
    Latin-1 decoding), so unchanged files stay unchanged."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block.decode("latin-1").encode("utf-8"))
    return h.hexdigest()


def _windows(text: str, size: int) -> list[tuple[int, int]]:
    """Consecutive (start, end) windows of ``text`` of about ``size`` characters, each ending
    at a paragraph break when there is one in its second half."""
    out, lo = [], 0
    while len(text) - lo > size:
        cut = text.rfind("\n\n", lo + size // 2, lo + size)
        hi = cut + 2 if cut >= 0 else lo + size
        out.append((lo, hi))
        lo = hi
    out.append((lo, len(text)))
    return out


def _walk(root: Path, report: IngestReport) -> list[Path]:
    """The supported files under ``root``, sorted, hidden names left out.

    Symbolic links are followed. A link that loops (ELOOP, or a folder that is one of its own
    ancestors) is recorded in ``report.skipped``; a folder already walked by another way is
    not walked again.
    """
    files: list[Path] = []
    seen: set[tuple[int, int]] = set()

    def visit(folder: Path, ancestors: tuple[tuple[int, int], ...]) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            report.errors.append(
                IngestError(str(folder), "unreadable", f"{folder}: {exc.strerror or exc}.")
            )
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = folder / entry.name
            try:
                st = entry.stat()  # follows links
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    _loop(report, path, "the link points to itself, round a loop of links")
                continue  # a dangling link: nothing to read
            if entry.is_dir():
                ident = (st.st_dev, st.st_ino)
                if ident in ancestors:
                    _loop(report, path, f"it leads back to {os.path.realpath(path)}, above it")
                elif ident not in seen:
                    seen.add(ident)
                    visit(path, (*ancestors, ident))
            elif entry.is_file() and Path(entry.name).suffix.lower() in SUPPORTED:
                files.append(path)

    st = root.stat()
    seen.add((st.st_dev, st.st_ino))
    visit(root, ((st.st_dev, st.st_ino),))
    return sorted(files)


def _loop(report: IngestReport, path: Path, why: str) -> None:
    report.skipped.append(
        IngestError(str(path), "symlink-loop", f"{path}: skipped, a symbolic link loop ({why}).")
    )


class _Bar:
    """The terminal's progress: one bar per file of more than one batch of chunks."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._path = ""

    def __call__(self, p: IngestProgress) -> None:
        from tqdm import tqdm

        if p.path != self._path:
            self.close()
            self._path = p.path
        if self._bar is None and p.chunks:
            name = Path(p.path).name
            self._bar = tqdm(
                total=p.chunks, desc=f"ingest {p.index}/{p.files} {name}"[:60], unit="chunk",
                file=sys.stderr, leave=p.files == 1,
            )  # fmt: skip
        if self._bar is not None:
            self._bar.update(p.done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
