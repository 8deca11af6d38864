"""The notes of a translation: what happened (``explain=True``) and outputs that look wrong.

All notes are computed from what the translator did, not written by the model: the 270M base
model cannot explain idioms or choices usefully, so it is not asked to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from tools._translate_protect import has_term


class _Segment(Protocol):
    @property
    def source(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def origin(self) -> str: ...


@dataclass
class Trace:
    """What happened during one translation, gathered for the notes."""

    examples: set[str] = field(default_factory=set)
    """Sources of the few-shot examples shown (built-in and translation-memory)."""
    tm_ids: set[int] = field(default_factory=set)
    """Translation-memory entries used, as examples or reused exactly."""
    forced: list[int] = field(default_factory=list)
    """Segments whose glossary terms were substituted on the retry."""
    retried: list[int] = field(default_factory=list)
    """Segments translated a second time after a failed check."""
    kinds: dict[str, int] = field(default_factory=dict)
    """Protected items by kind."""


def quality_notes(segments: Sequence[_Segment]) -> list[str]:
    """Warnings on model outputs that look wrong (unchanged, or far longer than the source)."""
    notes = []
    for i, seg in enumerate(segments):
        if seg.origin != "model":
            continue
        if seg.target == seg.source and len(seg.source.split()) > 2:
            notes.append(f"Segment {i + 1} came back unchanged (untranslated?): {seg.source!r}")
        elif len(seg.target) > 3 * len(seg.source) + 20:
            notes.append(f"Segment {i + 1} is much longer than its source; check it.")
    return notes


def explain_notes(
    trace: Trace,
    segments: Sequence[_Segment],
    body: str,
    glossary: Mapping[str, str],
    with_memory: bool,
) -> list[str]:
    """What ``explain=True`` adds: memory use, glossary, protected items, retries."""
    notes = []
    reused = [i + 1 for i, s in enumerate(segments) if s.origin == "memory"]
    if reused:
        notes.append(f"Reused from the translation memory as is: segments {_list(reused)}.")
    if trace.tm_ids:
        ids = ", ".join(f"#{i}" for i in sorted(trace.tm_ids))
        notes.append(f"Translation-memory entries used: {ids}.")
    elif with_memory:
        notes.append("No similar entry in the translation memory; built-in examples only.")
    for src, tgt in glossary.items():
        where = [i + 1 for i, s in enumerate(segments) if has_term(s.source, src)]
        if where:
            notes.append(f"Glossary {src!r} → {tgt!r} applied in segments {_list(where)}.")
    if trace.forced:
        notes.append(
            "The model ignored the glossary at first; the required terms were substituted "
            f"in segments {_list([i + 1 for i in trace.forced])}."
        )
    if trace.kinds:
        kept = ", ".join(f"{n} {kind}" for kind, n in sorted(trace.kinds.items()))
        notes.append(f"Protected from translation (kept as is): {kept}.")
    if trace.retried:
        notes.append(
            f"Retried once after a check failed: segments {_list([i + 1 for i in trace.retried])}."
        )
    covered = sum(s.end - s.start for s in segments)
    if len(body.strip()) - covered > 200:
        notes.append("Code blocks, list markers and layout were copied without translation.")
    return notes


def _list(numbers: list[int]) -> str:
    return ", ".join(str(n) for n in numbers)
