"""Render the terms-of-service sources in ``src/`` into the HTML and PDF files the bench reviews.

The sources are the publishers' Markdown, copied unchanged (see README.md for where each comes
from). A user reviews terms as a saved web page or a PDF, so each document is measured in the
format given in ``labels.json``:

- HTML: markdown-it-py (CommonMark plus tables, as GitHub renders them) inside a plain page with
  the document's title; no site navigation or footer is added.
- PDF: US Letter, Helvetica 10 pt, greedy line wrapping on estimated glyph widths, headings in
  Helvetica-Bold, a footer "<title> - page N of M" on every page, written with pypdf's object
  model (no layout engine is a dependency). Text outside Windows-1252 becomes "?" (none of the
  sources has any). Sentences run across page breaks, and the footer sits between them, as in
  a browser's "print to PDF".

Run:  .venv/bin/python bench/data/review_tos/build.py          writes docs/<id>.html|pdf
      .venv/bin/python bench/data/review_tos/build.py --check  fails when docs/ is stale
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
from dataclasses import dataclass
from html import escape
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"
DOCS = HERE / "docs"
LABELS = HERE / "labels.json"

_FRONT = re.compile(r"\A---\n(.*?)\n---\n", re.DOTALL)

PAGE_W, PAGE_H, MARGIN = 612.0, 792.0, 72.0
BODY, HEAD, FOOT = 10.0, 12.0, 8.0
LEADING = 1.3


def split_front_matter(md: str) -> tuple[str | None, str]:
    """The YAML front matter's title (if any) and the Markdown after it."""
    m = _FRONT.match(md)
    if not m:
        return None, md
    title = None
    for line in m.group(1).splitlines():
        if line.startswith("title:"):
            title = line.split(":", 1)[1].strip()
    return title, md[m.end() :]


def _parser():  # type: ignore[no-untyped-def]
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable("table")


def to_html(md: str, name: str) -> str:
    """A standalone HTML page for one source; ``name`` is the page title when it has none."""
    title, body = split_front_matter(md)
    heading = f"<h1>{escape(title)}</h1>\n" if title else ""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title or name)}</title>\n"
        "<style>body{font-family:sans-serif;max-width:48em;margin:2em auto;line-height:1.5}"
        "td,th{border:1px solid #ccc;padding:.3em}</style>\n</head>\n<body>\n<main>\n"
        f"{heading}{_parser().render(body)}</main>\n</body>\n</html>\n"
    )


@dataclass
class Block:
    """One paragraph, heading, list item or table row, ready to wrap."""

    text: str
    bold: bool = False
    indent: float = 0.0
    prefix: str = ""
    space_before: float = 0.5


def blocks(md: str) -> tuple[str | None, list[Block]]:
    """The source as a flat list of blocks (the PDF's reading order)."""
    title, body = split_front_matter(md)
    out: list[Block] = [Block(title, bold=True, space_before=0)] if title else []
    lists: list[list[int | None]] = []  # per open list: next number, or None for bullets
    item_prefix: str | None = None
    row: list[str] = []
    in_cell = False
    for tok in _parser().parse(body):
        t = tok.type
        if t == "bullet_list_open":
            lists.append([None])
        elif t == "ordered_list_open":
            lists.append([int(tok.attrGet("start") or 1)])
        elif t in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif t == "list_item_open":
            n = lists[-1][0]
            item_prefix = "\u2022 " if n is None else f"{n}. "
            if n is not None:
                lists[-1][0] = n + 1
        elif t == "tr_open":
            row = []
        elif t == "tr_close":
            out.append(Block("    ".join(row), space_before=0.2))
        elif t in ("th_open", "td_open"):
            in_cell = True
        elif t in ("th_close", "td_close"):
            in_cell = False
        elif t == "inline":
            text = _inline_text(tok)
            if in_cell:
                row.append(text)
                continue
            indent = 18.0 * len(lists)
            out.append(Block(text, indent=indent, prefix=item_prefix or ""))
            item_prefix = None
        elif t == "heading_open":
            out.append(Block("", bold=True, space_before=1.0))
        elif t in ("code_block", "fence", "html_block"):
            text = re.sub(r"<[^>]+>", "", tok.content).strip()
            if text:
                out.append(Block(" ".join(text.split()), indent=18.0))
    # a heading_open block is filled by the inline token that follows it
    merged: list[Block] = []
    for b in out:
        if merged and merged[-1].bold and not merged[-1].text and b.text:
            merged[-1].text = b.text
            merged[-1].indent = 0.0
            continue
        merged.append(b)
    return title, [b for b in merged if b.text]


def _inline_text(tok) -> str:  # type: ignore[no-untyped-def]
    parts = []
    for child in tok.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(child.content)
    return " ".join("".join(parts).split())


def _width(text: str, size: float) -> float:
    """Estimated Helvetica width in points (a coarse per-class table, not the font's metrics)."""
    w = 0.0
    for ch in text:
        if ch == " ":
            w += 0.278
        elif ch in "ilI.,:;'!|\u2019\u2018":
            w += 0.25
        elif ch in 'fjrt()[]-/\u201c\u201d"':
            w += 0.33
        elif ch.isupper() or ch in "mwMW@%&\u2014":
            w += 0.72
        else:
            w += 0.556
    return w * size


def wrap(text: str, size: float, width: float) -> list[str]:
    """Greedy word wrap to ``width`` points."""
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        trial = f"{line} {word}" if line else word
        if line and _width(trial, size) > width:
            lines.append(line)
            line = word
        else:
            line = trial
    if line:
        lines.append(line)
    return lines


def _pdf_string(text: str) -> bytes:
    raw = text.encode("cp1252", errors="replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _show(font: bytes, size: float, x: float, y: float, text: str) -> bytes:
    """One positioned text-showing operation of a content stream."""
    return font + b" %.1f Tf 1 0 0 1 %.2f %.2f Tm " % (size, x, y) + _pdf_string(text) + b" Tj"


def to_pdf(md: str, name: str) -> bytes:
    """A paginated PDF of one source (text layer only); ``name`` titles it when it has no title."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    title, items = blocks(md)
    pages: list[list[tuple[float, float, str, bool, float]]] = [[]]
    y = PAGE_H - MARGIN
    bottom = MARGIN + 18
    for b in items:
        size = HEAD if b.bold else BODY
        lead = size * LEADING
        x = MARGIN + b.indent
        width = PAGE_W - MARGIN - x
        lines = wrap(b.prefix + b.text, size, width)
        y -= b.space_before * lead
        for i, line in enumerate(lines):
            if y - lead < bottom:
                pages.append([])
                y = PAGE_H - MARGIN
            y -= lead
            lx = x if i == 0 or not b.prefix else x + _width(b.prefix, size)
            pages[-1].append((lx, y, line, b.bold, size))
    writer = PdfWriter()
    fonts = {}
    for key, base in (("/F1", "/Helvetica"), ("/F2", "/Helvetica-Bold")):
        font = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject(base),
                NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
            }
        )
        fonts[NameObject(key)] = writer._add_object(font)
    label = title or name
    for n, lines in enumerate(pages, 1):
        ops = [b"BT"]
        for lx, ly, line, bold, size in lines:
            ops.append(_show(b"/F2" if bold else b"/F1", size, lx, ly, line))
        footer = f"{label} - page {n} of {len(pages)}"
        ops.append(_show(b"/F1", FOOT, MARGIN, MARGIN / 2, footer))
        ops.append(b"ET")
        page = writer.add_blank_page(PAGE_W, PAGE_H)
        resources = {NameObject("/Font"): DictionaryObject(fonts)}
        page[NameObject("/Resources")] = DictionaryObject(resources)
        stream = DecodedStreamObject()
        stream.set_data(b"\n".join(ops))
        page[NameObject("/Contents")] = writer._add_object(stream)
    writer.add_metadata({"/Title": label, "/Producer": "bench/data/review_tos/build.py (pypdf)"})
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def build(doc: dict) -> tuple[Path, bytes]:
    """The output path and bytes of one labelled document."""
    md = (SRC / f"{doc['id']}.md").read_text(encoding="utf-8")
    path = DOCS / doc["file"]
    if doc["file"].endswith(".html"):
        return path, to_html(md, doc["title"]).encode("utf-8")
    return path, to_pdf(md, doc["title"])


def _pdf_text(data: bytes) -> list[str]:
    from pypdf import PdfReader

    return [p.extract_text() for p in PdfReader(io.BytesIO(data)).pages]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--check", action="store_true", help="compare with docs/ instead of writing")
    args = ap.parse_args()
    docs = json.loads(LABELS.read_text())["documents"]
    DOCS.mkdir(exist_ok=True)
    stale = []
    for doc in docs:
        path, data = build(doc)
        if args.check:
            old = path.read_bytes() if path.exists() else b""
            same = (
                _pdf_text(old) == _pdf_text(data) if path.suffix == ".pdf" and old else old == data
            )
            if not same:
                stale.append(path.name)
        else:
            path.write_bytes(data)
            print(f"wrote {path.relative_to(HERE)} ({len(data):,} bytes)")
    if stale:
        print("stale (rerun build.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
