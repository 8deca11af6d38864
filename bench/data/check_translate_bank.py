"""Check and normalise ``tools/_translate_bank.tsv``, the translator's built-in example bank.

Run: ``.venv/bin/python bench/data/check_translate_bank.py`` (fails, listing the problems, if
the bank breaks a rule below or is not in normal form); ``--fix`` rewrites it in normal form
first; ``--installed`` also compares it with every gettext catalogue on this machine.

The bank is our own text, written for lorebook (issue 18): English segments with French,
German and Spanish translations by the project, none taken from or modelled on another
program's catalogues or documentation. It replaced a bank built from the locale catalogues of
installed packages: text that other software installs on the machine is what held-out checks
are built from, so no tuning set or example may come from it. Three kinds of segment, about
as many of each (the ``origin`` column):

- ``lorebook-ui``: application labels, buttons and messages, many with placeholders
  (``%s``, ``%(name)s``, ``{count}``, ``{0}``) or inline markup (``<b>``, ``<a href>``,
  ``<kbd>``, Markdown emphasis);
- ``lorebook-docs``: documentation, help and command-line option text, one or two sentences,
  some with inline code;
- ``lorebook-chat``: everyday messages and personal notes, what a user asks the assistant to
  translate.

Rules: header ``en fr de es origin``; every cell filled, no surrounding or doubled white space;
no two rows with the same text in any column (compared lower-cased); every translation differs
from the English and carries exactly the English's protected items (placeholders, markup,
inline code, URLs as :func:`tools._translate_protect.spans` finds them, as a multiset; their
order may change). Normal form: rows sorted by origin, then by English, case-insensitively.

Held out: no English segment may equal (lower-cased, white space collapsed) a source string of
the benchmark's held-out catalogues, Django's and Mailman's (checked when the ``bench`` extra
is installed). With ``--installed``, the same holds against every ``.po``/``.mo`` catalogue in
the Python environment and under ``/usr/share/locale``: a coincidence there ("Save changes")
would be a segment to reword.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tools._translate_protect import spans  # noqa: E402

BANK = ROOT / "tools" / "_translate_bank.tsv"
COLUMNS = ("en", "fr", "de", "es", "origin")
LANGS = ("fr", "de", "es")
ORIGINS = ("lorebook-ui", "lorebook-docs", "lorebook-chat")


def _key(text: str) -> str:
    return " ".join(text.lower().split())


def protected(text: str) -> Counter[str]:
    """The protected items of ``text`` (placeholders, markup, code, URLs), with counts."""
    return Counter(text[a:b] for a, b, _ in spans(text))


def read(path: Path = BANK) -> tuple[list[str], list[list[str]]]:
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines[0].split("\t"), [line.split("\t") for line in lines[1:]]


def normalise(rows: Iterable[list[str]]) -> list[list[str]]:
    """Cells with white space collapsed; rows in origin order, then by English."""
    out = [[" ".join(cell.split()) for cell in row] for row in rows]
    rank = {o: i for i, o in enumerate(ORIGINS)}
    return sorted(out, key=lambda r: (rank.get(r[-1], len(rank)), r[0].lower(), r[0]))


def render(rows: Iterable[list[str]]) -> str:
    return "\n".join("\t".join(r) for r in [list(COLUMNS), *rows]) + "\n"


def problems(header: list[str], rows: list[list[str]]) -> Iterator[str]:
    """Every broken rule, one line each (empty when the bank is valid)."""
    if header != list(COLUMNS):
        yield f"header is {header}, expected {list(COLUMNS)}"
        return
    seen: dict[str, dict[str, int]] = {c: {} for c in COLUMNS[:-1]}
    for n, row in enumerate(rows, start=2):
        if len(row) != len(COLUMNS):
            yield f"line {n}: {len(row)} cells, expected {len(COLUMNS)}"
            continue
        cells = dict(zip(COLUMNS, row, strict=True))
        for col, text in cells.items():
            if not text:
                yield f"line {n}: empty {col}"
            elif text != " ".join(text.split()):
                yield f"line {n}: surrounding or doubled white space in {col}"
        if cells["origin"] not in ORIGINS:
            yield f"line {n}: origin {cells['origin']!r} is not one of {', '.join(ORIGINS)}"
        for col in COLUMNS[:-1]:
            first = seen[col].setdefault(_key(cells[col]), n)
            if cells[col] and first != n:
                yield f"line {n}: same {col} as line {first}: {cells[col]!r}"
        items = protected(cells["en"])
        for lang in LANGS:
            if cells[lang] == cells["en"]:
                yield f"line {n}: {lang} is the English text"
            if protected(cells[lang]) != items:
                lost = sorted((items - protected(cells[lang])).elements())
                extra = sorted((protected(cells[lang]) - items).elements())
                yield f"line {n}: {lang} protected items differ: lost {lost}, added {extra}"


def _catalog_keys(paths: Iterable[Path]) -> dict[str, str]:
    """msgid key -> the catalogue it is in, for every entry of the given .po/.mo files."""
    import polib

    keys: dict[str, str] = {}
    for path in paths:
        try:
            cat = polib.mofile(str(path)) if path.suffix == ".mo" else polib.pofile(str(path))
        except (OSError, ValueError, UnicodeDecodeError):
            continue
        for entry in cat:
            for msgid in (entry.msgid, entry.msgid_plural):
                if msgid:
                    keys.setdefault(_key(msgid), str(path))
    return keys


def held_out() -> set[str]:
    """English sources of the bench's held-out catalogs (Django, Mailman), as keys."""
    import django
    import mailman

    paths = [*Path(django.__file__).parent.glob("**/locale/*/LC_MESSAGES/django.po")]
    paths += [*Path(mailman.__file__).parent.glob("messages/*/LC_MESSAGES/mailman.po")]
    return set(_catalog_keys(paths))


def installed_catalogs() -> tuple[dict[str, str], int]:
    """msgid key -> catalogue, over every gettext catalogue on ``sys.path`` (this repository
    aside) and under ``/usr/share/locale``; and how many catalogues that is."""
    roots = {Path(p).resolve() for p in sys.path if p and Path(p).is_dir()} - {ROOT}
    roots.add(Path("/usr/share/locale"))
    paths: list[Path] = []
    for root in sorted(roots):
        paths += root.glob("**/LC_MESSAGES/*.po")
        paths += root.glob("**/LC_MESSAGES/*.mo")
    unique = sorted(set(paths))
    return _catalog_keys(unique), len(unique)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fix", action="store_true", help="rewrite the bank in normal form first")
    ap.add_argument(
        "--installed", action="store_true", help="compare with every installed catalogue too"
    )
    args = ap.parse_args()
    header, rows = read()
    if args.fix and header == list(COLUMNS):
        BANK.write_text(render(normalise(rows)), encoding="utf-8")
        header, rows = read()
    found = list(problems(header, rows))
    if not found and BANK.read_text(encoding="utf-8") != render(normalise(rows)):
        found.append(f"{BANK.name} is not in normal form: run with --fix")
    english = {_key(r[0]): r[0] for r in rows if r}
    try:
        excluded = held_out()
    except ImportError:
        print("held-out catalogues not installed (bench extra): not compared", file=sys.stderr)
    else:
        found += [f"held out (Django, Mailman): {english[k]!r}" for k in english.keys() & excluded]
    if args.installed:
        catalogs, files = installed_catalogs()
        found += [f"in {catalogs[k]}: {english[k]!r}" for k in sorted(english.keys() & catalogs)]
        print(
            f"compared with {files} installed catalogues ({len(catalogs)} sources)", file=sys.stderr
        )
    counts = Counter(r[-1] for r in rows if len(r) == len(COLUMNS))
    print(f"{len(rows)} rows: " + ", ".join(f"{o} {counts[o]}" for o in ORIGINS))
    if found:
        sys.exit("\n".join(found))


if __name__ == "__main__":
    main()
