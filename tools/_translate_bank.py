"""The built-in example bank: translated segments, the most similar shown to the model.

``_translate_bank.tsv`` (beside this file) holds 600 English segments with their French, German
and Spanish translations, all written for lorebook (under the project's licence, see
``_translate_bank_NOTICE.txt``): 200 application labels and messages (many with placeholders or
inline markup), 200 help, documentation and command-line texts, and 200 everyday messages and
personal notes (the ``origin`` column: ``lorebook-ui``, ``lorebook-docs``, ``lorebook-chat``).
None comes from another program's catalogues or documentation: text that software installs on
the machine is what held-out checks are built from (issue 18).
``bench/data/check_translate_bank.py`` checks the file (placeholders kept on every side, no
duplicates, no empty cells, nothing from the benchmark's held-out catalogues) and keeps it in
normal form. Rows are aligned on the English, so the bank serves every direction among ``en``,
``fr``, ``de`` and ``es``; other languages get nothing.

:func:`similar` returns the ``k`` pairs whose source side is most similar to a unit, by BM25 over
lower-cased words (protected items — placeholders, markup, URLs — left out), least similar first
so that the best example sits nearest the query. A 270M base model copies words and turns of
phrase from the examples next to the query, so an example about the same thing ("Save the
file", "file could not be saved") does more than a generic one.

Deliberate shortcuts: lexical similarity, not the embedder: the bank is read and indexed on
first use in about 0.1 s with nothing else loaded, and a shared word ("password", "upload") is
what the model can copy. No stemming or stop words: BM25's IDF already weighs "the" to nothing.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tools._translate_protect import spans

__all__ = ["BANK_FILE", "BANK_LANGUAGES", "similar"]

BANK_FILE = Path(__file__).with_name("_translate_bank.tsv")
BANK_LANGUAGES = ("en", "fr", "de", "es")
"""The languages of the bank's columns; a direction between two of them has examples."""
_K1, _B = 1.2, 0.75
_SAME = 0.8
"""Word-set overlap (Jaccard) at which a candidate counts as a repeat of one already chosen."""
_WORD = re.compile(r"[^\W\d_]+")


def words(text: str) -> list[str]:
    """The lower-cased words of ``text`` outside protected items (placeholders, markup, URLs).

    Example:
        >>> words("Delete %(count)s <b>selected</b> files?")
        ['delete', 'selected', 'files']
    """
    cut, parts = 0, []
    for start, end, _ in spans(text):
        parts.append(text[cut:start])
        cut = end
    parts.append(text[cut:])
    return _WORD.findall(" ".join(parts).lower())


@dataclass(frozen=True)
class _Index:
    """BM25 over the source side of one direction's pairs."""

    pairs: tuple[tuple[str, str], ...]
    postings: dict[str, tuple[tuple[int, int], ...]]
    """word -> (pair index, term frequency) for every pair whose source has the word."""
    lengths: tuple[int, ...]
    avg_length: float

    @classmethod
    def build(cls, pairs: list[tuple[str, str]]) -> _Index:
        postings: dict[str, list[tuple[int, int]]] = {}
        lengths = []
        for i, (src, _) in enumerate(pairs):
            counts = Counter(words(src))
            lengths.append(sum(counts.values()))
            for word, tf in counts.items():
                postings.setdefault(word, []).append((i, tf))
        avg = sum(lengths) / max(len(lengths), 1)
        frozen = {w: tuple(p) for w, p in postings.items()}
        return cls(tuple(pairs), frozen, tuple(lengths), avg or 1.0)

    def scores(self, query: list[str]) -> dict[int, float]:
        n = len(self.pairs)
        out: dict[int, float] = {}
        for word in set(query):
            hits = self.postings.get(word, ())
            if not hits:
                continue
            idf = math.log(1 + (n - len(hits) + 0.5) / (len(hits) + 0.5))
            for i, tf in hits:
                norm = tf + _K1 * (1 - _B + _B * self.lengths[i] / self.avg_length)
                out[i] = out.get(i, 0.0) + idf * tf * (_K1 + 1) / norm
        return out


@functools.cache
def _rows() -> tuple[dict[str, str], ...]:
    lines = BANK_FILE.read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    return tuple(dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:])


@functools.cache
def _index(source: str, target: str) -> _Index:
    pairs = [(r[source], r[target]) for r in _rows() if r[source] and r[target]]
    return _Index.build(pairs)


def similar(text: str, source: str, target: str, k: int) -> list[tuple[str, str]]:
    """The ``k`` bank pairs most similar to ``text``, least similar first.

    Only pairs sharing at least one word with ``text`` are returned, so fewer than ``k`` (or
    none) come back for an unusual text or a direction the bank does not cover.

    Args:
        text: the unit to translate (protected items in it are ignored).
        source: its language code.
        target: the target language code.
        k: how many pairs at most.

    Returns:
        ``(source text, target text)`` pairs from the bank, as they are in it (placeholders
        not yet protected).

    Example:
        >>> similar("The folder could not be renamed.", "en", "fr", 2)[-1][0]  # doctest: +SKIP
        'The attachment "%s" could not be opened.'
    """
    if k <= 0 or source == target or not {source, target} <= set(BANK_LANGUAGES):
        return []
    query = words(text)
    if not query:
        return []
    index = _index(source, target)
    scores = index.scores(query)
    best: list[int] = []
    seen: list[set[str]] = []
    for i in sorted(scores, key=lambda i: (-scores[i], index.pairs[i][0])):
        bag = set(words(index.pairs[i][0]))
        # near-duplicates ("... stage", "... stage.") would fill the prompt with one example
        if any(len(bag & other) >= _SAME * len(bag | other) for other in seen):
            continue
        best.append(i)
        seen.append(bag)
        if len(best) == k:
            break
    return [index.pairs[i] for i in reversed(best)]
