"""Benchmark of memory/: ingest throughput, search latency, retrieval quality. Prints figures.

Run: ``.venv/bin/python bench/bench_memory.py`` (all parts), or pick parts with
``--parts ingest,latency,quality,tune``; ``--sizes 10000,100000`` sets the latency store sizes.

- **ingest**: a generated corpus (files of generated English-like paragraphs), into a fresh data
  directory with a cold embedding cache, then again after every file was edited (one paragraph
  appended, so the hash changes and the file is re-ingested, while most chunk texts are in the
  cache: the "warm" figure).
- **latency**: stores of N memories. Embedding 100k texts with MiniLM takes ~25 min on 2 cores,
  so the stored vectors are real MiniLM embeddings of 2,000 generated sentences plus Gaussian
  noise (renormalised), inserted through the store's own SQL; queries are real MiniLM query
  embeddings of fresh sentences (no query-cache hits). End to end = ``Memory.search`` (query
  embedding, index catch-up check, FAISS, SQLite fetch and re-scoring, recency blend); FAISS =
  the index search alone.
- **quality**: three real corpora we did not write, each ingested file by file through
  ``Documents.ingest``: the English part of the ``chatterbot-corpus`` package (each
  conversation's first line is a query, its reply the relevant document; answers shared by
  several questions are one document, and a question asked in several conversations has all
  its answers as relevant); CPython's standard library on this machine (the first sentence of a
  function's docstring is the query, the function's code without the docstring the document;
  the first 1,500 such functions); and the functions after those, as a held-out corpus. The
  queries of each corpus are split in two halves by a hash of their text: **dev** (used only
  by ``--parts tune`` to choose the fusion and its weight) and **test** (reported, never used
  for choosing). recall@1, recall@5 and MRR@10 of hybrid (the library default), BM25 alone,
  dense alone and the previous default (plain RRF) come from one run over the same store, with
  paired-bootstrap confidence intervals of the hybrid's gain on the test split.
- **tune** (with quality): every fusion family and weight on the dev queries of the first two
  corpora, ranked by the mean gain over dense; this is how the default was chosen.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _machine import cpu_name  # noqa: E402

from agent.settings import load_settings  # noqa: E402
from memory import Documents, Memory, Store, open_embedder  # noqa: E402
from memory._lexical import fuse  # noqa: E402

WORDS = (
    "time year people way day man thing woman life child world school state family student "
    "group country problem hand part place case week company system program question work "
    "government number night point home water room mother area money story fact month lot "
    "right study book eye job word business issue side kind head house service friend father "
    "power hour game line end member law car city community name president team minute idea "
    "kid body information back parent face others level office door health person art war "
    "history party result change morning reason research girl guy moment air teacher force "
    "education garden river mountain market train music letter doctor paper"
).split()


def machine() -> str:
    cpu = cpu_name()
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import faiss
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{cpu}, {os.cpu_count()} cores, {mem_gb:.0f} GiB RAM, {gpu}; Python "
        f"{platform.python_version()}, torch {torch.__version__} ({torch.get_num_threads()} "
        f"threads), faiss {faiss.__version__}"
    )


def sentence(rng: random.Random, n: int | None = None) -> str:
    words = [rng.choice(WORDS) for _ in range(n or rng.randint(8, 20))]
    return " ".join(words).capitalize() + "."


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


# -- ingest ---------------------------------------------------------------------------------


def bench_ingest(files: int, embedder: object) -> None:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        for i in range(files):
            paras = [
                "\n".join(sentence(rng) for _ in range(rng.randint(2, 6)))
                for _ in range(rng.randint(4, 12))
            ]
            (corpus / f"doc{i:04d}.md").write_text("\n\n".join(paras))
        s = load_settings({"home": Path(tmp) / "home", "embedder": "minilm"}, env={})
        with Documents(Store(s, embedder=embedder)) as docs:  # type: ignore[arg-type]
            cold = docs.ingest([corpus], progress=False)
            for f in sorted(corpus.iterdir()):
                f.write_text(f.read_text() + "\n\n" + sentence(rng))
            warm = docs.ingest([corpus], progress=False)
        print(f"\n## Ingest ({files} generated Markdown files)")
        print("| run | files | chunks | embedded by the model | seconds | chunks/s |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, r in (("cold cache", cold), ("warm cache (every file edited)", warm)):
            n_files = len(r.added) + len(r.updated)
            print(
                f"| {name} | {n_files} | {r.chunks} | {r.embedded} | {r.seconds:.1f} | "
                f"{r.chunks_per_second:.0f} |"
            )


# -- latency --------------------------------------------------------------------------------


def fill(store: Store, n: int, base: np.ndarray, rng: np.random.Generator) -> None:
    now = time.time()
    batch = 10_000
    for start in range(0, n, batch):
        count = min(batch, n - start)
        pick = base[rng.integers(0, len(base), count)]
        vecs = pick + rng.standard_normal(pick.shape).astype(np.float32) * 0.03
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        with store.write() as conn:
            rows = [
                (
                    "bench",
                    None,
                    "user",
                    "fact",
                    f"synthetic memory {start + i}",
                    "user",
                    now - i,
                    now - i,
                    now - i,
                    "{}",
                    vecs[i].astype(np.float32).tobytes(),
                )
                for i in range(count)
            ]
            first = conn.execute("SELECT coalesce(max(id), 0) FROM memories").fetchone()[0]
            conn.executemany(
                "INSERT INTO memories (user, thread, role, kind, text, source, created, refreshed, "
                "valid_from, metadata, vec) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            store.log_changes(conn, "memories", range(first + 1, first + 1 + count))


def bench_latency(sizes: list[int], embedder: object, queries: int = 200) -> None:
    rng = random.Random(11)
    base = embedder.embed_multi([sentence(rng) for _ in range(2000)])  # type: ignore[attr-defined]
    # Memory.search asks the index for max(4 * want, 32) neighbours, want = max(4k, 32) with
    # recency on: 128 for k=5. The FAISS columns time that same request alone.
    fetch = 128
    print(f"\n## Search latency ({queries} queries, k=5, 1 user; ms)")
    print(
        "| memories | index | open (load+verify) s | end-to-end p50 | end-to-end p95 | "
        f"FAISS (k={fetch}) p50 | FAISS p95 | query embedding p50 | load avg (1 min) |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for n in sizes:
        for ann in ("default", "exact"):
            if ann == "exact" and n <= 50_000:
                continue
            with tempfile.TemporaryDirectory() as tmp:
                overrides = {"home": tmp, "embedder": "minilm"}
                if ann == "exact":
                    overrides["ann_threshold"] = 10**9
                s = load_settings(overrides, env={})
                store = Store(s, embedder=embedder)  # type: ignore[arg-type]
                fill(store, n, base, np.random.default_rng(n))
                store.spaces["memories"].rebuild()
                store.close()
                t0 = time.perf_counter()
                mem = Memory(Store(s, embedder=embedder))  # type: ignore[arg-type]
                mem.store.spaces["memories"].ensure_current()
                open_s = time.perf_counter() - t0
                space = mem.store.spaces["memories"]
                qs = [sentence(rng, 8) + f" {i}" for i in range(queries + 20)]
                e2e, fai, emb = [], [], []
                for i, q in enumerate(qs):
                    t = time.perf_counter()
                    hits = mem.search(q, user="bench", k=5)
                    dt = time.perf_counter() - t
                    assert len(hits) == 5
                    qv = embedder.embed(q + " again")  # type: ignore[attr-defined]
                    t = time.perf_counter()
                    embedder.embed(q + " more")  # type: ignore[attr-defined]
                    de = time.perf_counter() - t
                    t = time.perf_counter()
                    space.index.search(qv.reshape(1, -1), fetch)
                    df = time.perf_counter() - t
                    if i >= 20:  # warm-up
                        e2e.append(dt * 1000)
                        fai.append(df * 1000)
                        emb.append(de * 1000)
                kind = space.index.kind
                mem.close()
            print(
                f"| {n:,} | {kind} | {open_s:.2f} | {pct(e2e, 50):.1f} | {pct(e2e, 95):.1f} | "
                f"{pct(fai, 50):.2f} | {pct(fai, 95):.2f} | {statistics.median(emb):.1f} | "
                f"{os.getloadavg()[0]:.2f} |"
            )


# -- quality --------------------------------------------------------------------------------


def chatterbot_pairs() -> tuple[list[str], dict[str, set[int]]]:
    """Unique answers (documents) and, per unique question, the indexes of its answers."""
    import chatterbot_corpus
    import yaml

    root = Path(chatterbot_corpus.__file__).parent / "data" / "english"
    answers: dict[str, int] = {}
    qrels: dict[str, set[int]] = {}
    for path in sorted(root.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for conv in data.get("conversations") or []:
            if len(conv) < 2 or not isinstance(conv[0], str) or not isinstance(conv[1], str):
                continue
            q, a = conv[0].strip(), conv[1].strip()
            if not q or not a:
                continue
            doc = answers.setdefault(a, len(answers))
            qrels.setdefault(q, set()).add(doc)
    return list(answers), qrels


QUALITY_DEPTH = 50  # candidates per retriever, as in Documents.search
FAMILIES = ("rrf", "convex-minmax", "convex-z", "convex-z-gap2", "convex-z-gap10")
GRID = tuple(round(0.05 * i, 2) for i in range(1, 17))  # 0.05 .. 0.80


def split_of(query: str) -> str:
    """``dev`` or ``test``, fixed by the query text (first byte of its sha256, even or odd)."""
    return "dev" if hashlib.sha256(query.encode("utf-8")).digest()[0] % 2 == 0 else "test"


def corpora() -> list[tuple[str, list[str], dict[str, set[int]]]]:
    held_docs, held_qrels = stdlib_pairs(1500, 10**6)
    return [
        ("chatterbot-corpus English (question -> its answer)", *chatterbot_pairs()),
        ("CPython stdlib (docstring summary -> function code)", *stdlib_pairs(0, 1500)),
        (
            f"CPython stdlib, held out (the next {len(held_docs)} functions; not used for tuning)",
            held_docs,
            held_qrels,
        ),
    ]


def _first_relevant(ranked_docs: list[int], rel: set[int]) -> np.ndarray:
    first = next((n for n, d in enumerate(ranked_docs, 1) if d in rel), None)
    return np.array(
        [first == 1, first is not None and first <= 5, 1.0 / first if first else 0.0], float
    )


def _doc_of(citation_path: str) -> int:
    return int(Path(citation_path).stem[1:])


def _fused_ranking(pool: list[Any], family: str, weight: float) -> list[int]:
    """Document numbers of the top 10 chunks of ``pool`` under one fusion function."""
    dense = np.array([c.dense for c in pool])
    bm25 = np.array([c.bm25 for c in pool])
    if family == "rrf":
        # weight 0.5 is plain RRF (both lists count the same)
        scores = np.array(
            [
                ((1 - weight) / (60 + c.dense_rank) if c.dense_rank else 0.0)
                + (weight / (60 + c.bm25_rank) if c.bm25_rank else 0.0)
                for c in pool
            ]
        )
    elif family == "convex-minmax":
        mm = [(x - x.min()) / (x.max() - x.min() + 1e-12) for x in (dense, bm25)]
        scores = (1 - weight) * mm[0] + weight * mm[1]
    else:
        if family == "convex-z":
            w = weight
        elif family == "convex-z-gap2":
            top = np.sort(bm25[bm25 > 0])[::-1]
            w = weight * (0.0 if len(top) == 0 else 1.0 if len(top) == 1 else 1 - top[1] / top[0])
        else:  # convex-z-gap10: the library's fuse()
            return _ranking(pool, fuse(dense, bm25, weight))
        scores = (1 - w) * _z(dense) + w * _z(bm25)
    return _ranking(pool, scores)


def _ranking(pool: list[Any], scores: np.ndarray) -> list[int]:
    order = sorted(range(len(pool)), key=lambda n: (-scores[n], pool[n].chunk_id))[:10]
    return [_doc_of(pool[n].citation.path) for n in order]


def _z(x: np.ndarray) -> np.ndarray:
    sd = float(x.std())
    return (x - x.mean()) / sd if sd > 1e-12 else np.zeros_like(x)


def evaluate(title: str, docs_text: list[str], qrels: dict[str, set[int]], embedder: object):
    """Ingest ``docs_text``, run every query. Returns the per-query measures of each retriever
    (``hybrid``/``bm25``/``dense`` through Documents.search, ``rrf`` the previous default), the
    queries' splits and the candidate pools (for the fusion sweep)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "answers"
        folder.mkdir()
        for i, text in enumerate(docs_text):
            (folder / f"a{i:05d}.txt").write_text(text)
        s = load_settings({"home": Path(tmp) / "home", "embedder": "minilm"}, env={})
        with Documents(Store(s, embedder=embedder)) as docs:  # type: ignore[arg-type]
            report = docs.ingest([folder], progress=False)
            assert not report.errors, report.errors[:3]
            per: dict[str, list[np.ndarray]] = {m: [] for m in ("hybrid", "bm25", "dense", "rrf")}
            pools, splits = [], []
            for q, rel in qrels.items():
                for mode in ("hybrid", "bm25", "dense"):
                    hits = docs.search(q, k=10, mode=mode)  # type: ignore[arg-type]
                    ranked = [_doc_of(h.citation.path) for h in hits]
                    per[mode].append(_first_relevant(ranked, rel))
                pool = docs.candidates(q, QUALITY_DEPTH)
                per["rrf"].append(_first_relevant(_fused_ranking(pool, "rrf", 0.5), rel))
                pools.append((pool, rel))
                splits.append(split_of(q))
            chunks = report.chunks
    return {m: np.array(v) for m, v in per.items()}, np.array(splits), pools, chunks


def bench_quality(embedder: object, tune: bool) -> bool:
    """Every corpus; True when hybrid beats BM25 and dense on all three measures of the test
    split of every corpus."""
    all_ok = True
    dev_pools = []
    rng = np.random.default_rng(0)
    for title, docs_text, qrels in corpora():
        per, splits, pools, chunks = evaluate(title, docs_text, qrels, embedder)
        dev_pools.append((title, [p for p, sp in zip(pools, splits, strict=True) if sp == "dev"]))
        n_test = int((splits == "test").sum())
        print(
            f"\n## Retrieval quality: {title}; {len(docs_text)} documents ({chunks} chunks), "
            f"{len(qrels)} queries ({len(qrels) - n_test} dev, {n_test} test)"
        )
        print("| split | retriever | recall@1 | recall@5 | MRR@10 |")
        print("|---|---|---:|---:|---:|")
        names = {
            "hybrid": "hybrid (default fusion)",
            "bm25": "BM25",
            "dense": "dense",
            "rrf": "RRF k=60 (previous default)",
        }
        for part in ("test", "dev", "all"):
            mask = np.ones(len(splits), bool) if part == "all" else splits == part
            for mode, label in names.items():
                r1, r5, mrr = per[mode][mask].mean(0)
                print(f"| {part} | {label} | {r1:.3f} | {r5:.3f} | {mrr:.3f} |")
        test = splits == "test"
        for other in ("dense", "bm25"):
            diff = per["hybrid"][test] - per[other][test]
            boot = np.array(
                [diff[rng.integers(0, len(diff), len(diff))].mean(0) for _ in range(2000)]
            )
            lo, hi = np.percentile(boot, 2.5, axis=0), np.percentile(boot, 97.5, axis=0)
            cells = ", ".join(
                f"{name} {d:+.3f} [{a:+.3f}, {b:+.3f}]"
                for name, d, a, b in zip(("R@1", "R@5", "MRR"), diff.mean(0), lo, hi, strict=True)
            )
            print(f"test: hybrid - {other} (95% paired bootstrap CI): {cells}")
        h = per["hybrid"][test].mean(0)
        beats = all(h[i] > per[m][test].mean(0)[i] for m in ("bm25", "dense") for i in range(3))
        print(f"hybrid beats both on all three measures (test split): {'yes' if beats else 'NO'}")
        all_ok &= beats
    if tune:
        sweep(dev_pools[:2])
    return all_ok


def sweep(dev_pools: list[tuple[str, list[tuple[list[Any], set[int]]]]]) -> None:
    """The choice of the default fusion: every family and weight on the dev queries of the
    first two corpora; the objective is the mean gain over dense of R@1, R@5 and MRR, averaged
    over the corpora. (The held-out corpus and every test query stay out of it.)"""
    base = []
    for _title, pools in dev_pools:
        base.append(
            np.mean(
                [_first_relevant(_ranking(p, np.array([c.dense for c in p])), r) for p, r in pools],
                axis=0,
            )
        )
    rows = []
    for family in FAMILIES:
        for weight in GRID:
            gains = []
            for (_title, pools), b in zip(dev_pools, base, strict=True):
                m = np.mean(
                    [_first_relevant(_fused_ranking(p, family, weight), r) for p, r in pools],
                    axis=0,
                )
                gains.append(m - b)
            rows.append((float(np.mean(gains)), family, weight, gains))
    rows.sort(key=lambda r: -r[0])
    print("\n## Fusion sweep on the dev queries (gain over dense: R@1, R@5, MRR)")
    print("| objective | family | weight | " + " | ".join(t for t, _ in dev_pools) + " |")
    print("|---:|---|---:|" + "---|" * len(dev_pools))
    for obj, family, weight, gains in rows[:12]:
        cells = " | ".join(", ".join(f"{x:+.3f}" for x in g) for g in gains)
        print(f"| {obj:+.4f} | {family} | {weight:.2f} | {cells} |")
    for family in FAMILIES:
        best = max((r for r in rows if r[1] == family), key=lambda r: r[0])
        print(f"best {family}: weight {best[2]:.2f}, objective {best[0]:+.4f}")


def stdlib_pairs(skip: int = 0, limit: int = 1500) -> tuple[list[str], dict[str, set[int]]]:
    """CodeSearchNet-style pairs from CPython's standard library on this machine: the first
    sentence of a function's docstring is the query, the function's code without its docstring
    the relevant document. Functions are taken in a fixed order (files sorted by path); the
    first ``skip`` qualifying functions are passed over, then at most ``limit`` are kept."""
    import ast
    import sysconfig

    root = Path(sysconfig.get_paths()["stdlib"])
    docs: list[str] = []
    qrels: dict[str, set[int]] = {}
    seen: set[str] = set()
    for path in sorted(root.glob("*.py")) + sorted(root.glob("*/*.py")):
        if any(
            part in {"test", "tests", "idlelib", "lib2to3", "site-packages", "turtledemo"}
            for part in path.relative_to(root).parts
        ):
            continue
        try:
            source = path.read_text(encoding="utf-8")
            tree = ast.parse(source)
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        lines = source.splitlines()
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            doc = ast.get_docstring(node)
            if not doc or node.name.startswith("_") or not node.body[1:]:
                continue
            summary = doc.strip().split("\n\n")[0].replace("\n", " ").split(". ")[0].strip()
            if len(summary.split()) < 5 or summary in seen:
                continue
            body_start = node.body[1].lineno - 1
            code = "\n".join([lines[node.lineno - 1]] + lines[body_start : node.end_lineno])
            if len(code.splitlines()) < 3:
                continue
            seen.add(summary)
            if len(seen) <= skip:
                continue
            qrels[summary] = {len(docs)}
            docs.append(code)
            if len(docs) >= limit:
                return docs, qrels
    return docs, qrels


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default="ingest,latency,quality")
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--queries", type=int, default=200, help="latency: timed queries per store")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    print("# lorebook memory benchmark")
    print(f"machine: {machine()}")
    embedder = open_embedder("minilm")
    print(f"embedder: all-MiniLM-L6-v2 on {getattr(embedder, 'device', '?')}")
    if "ingest" in parts:
        bench_ingest(args.files, embedder)
    if "latency" in parts:
        bench_latency([int(x) for x in args.sizes.split(",")], embedder, args.queries)
    if "quality" in parts or "tune" in parts:
        bench_quality(embedder, tune="tune" in parts)


if __name__ == "__main__":
    main()
