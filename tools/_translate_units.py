"""Cutting a text into the units the translator sends to the model, with exact offsets.

Paragraphs, then sentences (:func:`tools._common.sentences`), then lines: a unit never spans a
line break, because the prompt's answer ends at the first newline. Leading list, heading and
quote markers (``- ``, ``1. ``, ``## ``, ``> ``) stay outside the unit, so the model never sees
(and cannot drop) them. A unit is never cut inside a protected item (a code span with a full
stop in it stays whole), fenced code blocks produce no units at all, and a unit longer than
:data:`MAX_UNIT_CHARS` is cut at clause boundaries (``,;:``), else at spaces.

Everything outside the units (whitespace, blank lines, markers, fenced blocks) is copied to the
output as it is; that is how reassembly keeps the document's structure.
"""

from __future__ import annotations

import re

from tools._common import Span, sentences
from tools._translate_protect import fenced_blocks, spans

MAX_UNIT_CHARS = 600
"""Longest unit sent in one prompt (~150 tokens), so prompt and reply fit a 2,048 context."""

_MARKER = re.compile(r"(?:[-*+•]|\d{1,3}[.)]|#{1,6}|>)[ \t]+")
_CLAUSE = re.compile(r"[,;:](?=\s)")


def units(text: str) -> list[Span]:
    """The spans of ``text`` to translate, in order, never overlapping.

    Example:
        >>> [u.text for u in units("# Title\\n\\n- One. Two `a. b` end\\n- Three")]
        ['Title', 'One.', 'Two `a. b` end', 'Three']
    """
    protected = [(a, b) for a, b, _ in spans(text)]
    out: list[Span] = []
    cut = 0
    for start, end in [*fenced_blocks(text), (len(text), len(text))]:
        for sentence in sentences(text, cut, start):
            out += _lines(text, sentence)
        cut = end
    out = _merge_across(text, out, protected)
    return [piece for unit in out for piece in _split_long(text, unit, protected)]


def _lines(text: str, span: Span) -> list[Span]:
    out = []
    pos = span.start
    for line in span.text.split("\n"):
        start, end = pos, pos + len(line)
        pos = end + 1
        stripped = line.strip()
        if not stripped:
            continue
        start += len(line) - len(line.lstrip())
        end = start + len(stripped)
        marker = _MARKER.match(text, start, end)
        if marker and marker.end() < end:
            start = marker.end()
        out.append(Span(start, end, text[start:end]))
    return out


def _inside(pos: int, protected: list[tuple[int, int]]) -> bool:
    return any(a < pos < b for a, b in protected)


def _merge_across(text: str, found: list[Span], protected: list[tuple[int, int]]) -> list[Span]:
    merged: list[Span] = []
    for unit in found:
        if merged and (_inside(merged[-1].end, protected) or _inside(unit.start, protected)):
            first = merged.pop()
            unit = Span(first.start, unit.end, text[first.start : unit.end])
        merged.append(unit)
    return merged


def _split_long(text: str, unit: Span, protected: list[tuple[int, int]]) -> list[Span]:
    if len(unit.text) <= MAX_UNIT_CHARS:
        return [unit]
    cuts = [m.end() for m in _CLAUSE.finditer(text, unit.start, unit.end)]
    cuts = [c for c in cuts if not _inside(c, protected)]
    if not cuts:
        cuts = [m.start() for m in re.finditer(r"\s+", text[unit.start : unit.end])]
        cuts = [unit.start + c for c in cuts if not _inside(unit.start + c, protected)]
    out: list[Span] = []
    start = unit.start
    last = start
    for c in [*cuts, unit.end]:
        if c - start > MAX_UNIT_CHARS and last > start:
            out.append(_trimmed(text, start, last))
            start = last
        last = c
    out.append(_trimmed(text, start, unit.end))
    return [s for s in out if s.text]


def _trimmed(text: str, start: int, end: int) -> Span:
    piece = text[start:end]
    s = start + len(piece) - len(piece.lstrip())
    stripped = piece.strip()
    return Span(s, s + len(stripped), stripped)
