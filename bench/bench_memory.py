"""Benchmark of memory/: ingest throughput, search latency, retrieval quality. Prints figures.

Run: ``.venv/bin/python bench/bench_memory.py`` (all parts), or pick parts with
``--parts ingest,latency,quality``; ``--sizes 10000,100000`` sets the latency store sizes.

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
- **quality**: the English part of the ``chatterbot-corpus`` package (PyPI; conversations
  written by its contributors, not by us): each conversation's first line is a query, its reply
  the relevant document (answers shared by several questions are one document; questions asked
  in several conversations have all their answers as relevant). Every answer is ingested as a
  file through ``Documents.ingest``; recall@1, recall@5 and MRR@10 of hybrid, BM25 alone and
  dense alone come from one run over the same store.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from agent.settings import load_settings  # noqa: E402
from memory import Documents, Memory, Store, open_embedder  # noqa: E402

WORDS = ("time year people way day man thing woman life child world school state family student "
         "group country problem hand part place case week company system program question work "
         "government number night point home water room mother area money story fact month lot "
         "right study book eye job word business issue side kind head house service friend father "
         "power hour game line end member law car city community name president team minute idea "
         "kid body information back parent face others level office door health person art war "
         "history party result change morning reason research girl guy moment air teacher force "
         "education garden river mountain market train music letter doctor paper").split()


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import faiss
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{cpu}, {os.cpu_count()} cores, {mem_gb:.0f} GiB RAM, {gpu}; Python "
            f"{platform.python_version()}, torch {torch.__version__} ({torch.get_num_threads()} "
            f"threads), faiss {faiss.__version__}")


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
            paras = ["\n".join(sentence(rng) for _ in range(rng.randint(2, 6)))
                     for _ in range(rng.randint(4, 12))]
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
            print(f"| {name} | {n_files} | {r.chunks} | {r.embedded} | {r.seconds:.1f} | "
                  f"{r.chunks_per_second:.0f} |")


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
            rows = [("bench", None, "user", "fact", f"synthetic memory {start + i}", "user",
                     now - i, now - i, now - i, "{}", vecs[i].astype(np.float32).tobytes())
                    for i in range(count)]
            first = conn.execute("SELECT coalesce(max(id), 0) FROM memories").fetchone()[0]
            conn.executemany(
                "INSERT INTO memories (user, thread, role, kind, text, source, created, refreshed, "
                "valid_from, metadata, vec) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            store.log_changes(conn, "memories", range(first + 1, first + 1 + count))


def bench_latency(sizes: list[int], embedder: object, queries: int = 200) -> None:
    rng = random.Random(11)
    base = embedder.embed_multi([sentence(rng) for _ in range(2000)])  # type: ignore[attr-defined]
    print(f"\n## Search latency ({queries} queries, k=5, 1 user; ms)")
    print("| memories | index | open (load+verify) s | end-to-end p50 | end-to-end p95 | "
          "FAISS p50 | FAISS p95 | query embedding p50 |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
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
                    space.index.search(qv.reshape(1, -1), 5)
                    df = time.perf_counter() - t
                    if i >= 20:  # warm-up
                        e2e.append(dt * 1000)
                        fai.append(df * 1000)
                        emb.append(de * 1000)
                kind = space.index.kind
                mem.close()
            print(f"| {n:,} | {kind} | {open_s:.2f} | {pct(e2e, 50):.1f} | {pct(e2e, 95):.1f} | "
                  f"{pct(fai, 50):.2f} | {pct(fai, 95):.2f} | {statistics.median(emb):.1f} |")


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


def bench_quality(embedder: object) -> bool:
    """Both corpora; returns True when hybrid beats BM25 and dense on every measure of both."""
    ok = True
    for title, (docs_text, qrels) in (
        ("chatterbot-corpus English (question -> its answer)", chatterbot_pairs()),
        ("CPython standard library (docstring summary -> function code)", stdlib_pairs()),
    ):
        ok &= _quality(title, docs_text, qrels, embedder)
    return ok


def _quality(title: str, docs_text: list[str], qrels: dict[str, set[int]],
             embedder: object) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "answers"
        folder.mkdir()
        for i, text in enumerate(docs_text):
            (folder / f"a{i:05d}.txt").write_text(text)
        s = load_settings({"home": Path(tmp) / "home", "embedder": "minilm"}, env={})
        with Documents(Store(s, embedder=embedder)) as docs:  # type: ignore[arg-type]
            report = docs.ingest([folder], progress=False)
            assert not report.errors, report.errors[:3]
            results = {}
            for mode in ("hybrid", "bm25", "dense"):
                r1 = r5 = mrr = 0.0
                for q, rel in qrels.items():
                    hits = docs.search(q, k=10, mode=mode)  # type: ignore[arg-type]
                    ranked = [int(Path(h.citation.path).stem[1:]) for h in hits]
                    first = next((n for n, d in enumerate(ranked, 1) if d in rel), None)
                    r1 += first == 1
                    r5 += first is not None and first <= 5
                    mrr += 1.0 / first if first else 0.0
                n = len(qrels)
                results[mode] = (r1 / n, r5 / n, mrr / n)
    print(f"\n## Retrieval quality: {title}; {len(qrels)} queries, {len(docs_text)} documents")
    print("| retriever | recall@1 | recall@5 | MRR@10 |")
    print("|---|---:|---:|---:|")
    for mode, (r1, r5, mrr) in results.items():
        print(f"| {mode} | {r1:.3f} | {r5:.3f} | {mrr:.3f} |")
    h = results["hybrid"]
    beats = all(h[i] > results[m][i] for m in ("bm25", "dense") for i in range(3))
    print(f"hybrid beats both on all three measures: {'yes' if beats else 'NO'}")
    return beats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default="ingest,latency,quality")
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--files", type=int, default=200)
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    print("# lorebook memory benchmark")
    print(f"machine: {machine()}")
    embedder = open_embedder("minilm")
    print(f"embedder: all-MiniLM-L6-v2 on {getattr(embedder, 'device', '?')}")
    if "ingest" in parts:
        bench_ingest(args.files, embedder)
    if "latency" in parts:
        bench_latency([int(x) for x in args.sizes.split(",")], embedder)
    if "quality" in parts:
        bench_quality(embedder)



def stdlib_pairs(limit: int = 1500) -> tuple[list[str], dict[str, set[int]]]:
    """CodeSearchNet-style pairs from CPython's standard library on this machine: the first
    sentence of a function's docstring is the query, the function's code without its docstring
    the relevant document."""
    import ast
    import sysconfig

    root = Path(sysconfig.get_paths()["stdlib"])
    docs: list[str] = []
    qrels: dict[str, set[int]] = {}
    for path in sorted(root.glob("*.py")) + sorted(root.glob("*/*.py")):
        if any(part in {"test", "tests", "idlelib", "lib2to3", "site-packages", "turtledemo"}
               for part in path.relative_to(root).parts):
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
            if len(summary.split()) < 5 or summary in qrels:
                continue
            body_start = node.body[1].lineno - 1
            code = "\n".join([lines[node.lineno - 1]] + lines[body_start:node.end_lineno])
            if len(code.splitlines()) < 3:
                continue
            qrels[summary] = {len(docs)}
            docs.append(code)
            if len(docs) >= limit:
                return docs, qrels
    return docs, qrels


if __name__ == "__main__":
    main()
