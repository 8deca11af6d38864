"""Translation on the local model, with a translation memory, a glossary and protected spans.

:func:`translate` works unit by unit (sentences, see :mod:`tools._translate_units`), and for each:

1. An exact match in the translation memory is reused as it is (``origin="memory"``); a unit
   with no letters (numbers, protected items only) is copied (``origin="copy"``).
2. Placeholders, markup, code spans and URLs become sentinels ``⟦n⟧``
   (:mod:`tools._translate_protect`).
3. The model continues a few-shot transcript, greedy, stopping at the newline::

       Context: <context, when given>

       English: <built-in example>          five, aligned for every language pair
       French: <its translation>
       English: <bank example>              up to eight, the most similar last
       French: <its translation>
       English: <translation-memory hit>    up to three, most similar last (nearest the query)
       French: <the accepted translation>
       English: invoice                     glossary terms that occur in the unit
       French: facture
       English: <the unit>
       French:

   Bank examples are the project's own translated segments (application messages, help text,
   everyday messages) chosen by word overlap with the unit (:mod:`tools._translate_bank`; en,
   fr, de, es). The generic built-in examples come first and memory hits last, because a base
   model copies most from the examples nearest the query, and accepted translations are the
   user's own style.
4. Every sentinel must come back exactly once, every glossary term that occurs must be in
   the output, and the words before the first protected item must not be dropped (the 270M
   model turns "Hello ⟦1⟧, ..." into "⟦1⟧, ..."). If not, one retry: glossary terms are
   replaced by sentinels that restore to the required term, the examples with sentinels are
   moved next to the query, and after a dropped opening the placeholders are shown as names
   ("Hello Alice, ...", which the model keeps) and mapped back. The attempt
   with fewer problems is kept; the remaining ones are :class:`Violation` s in the result.

Deliberate shortcuts: units are translated one at a time (no cross-sentence context beyond
``context``), which keeps each prompt short and the 270M model on task. ``explain=True`` adds
notes computed from what happened (detection, memory use, glossary, protected items, suspicious
outputs); the 270M base model cannot write useful notes on idioms, so none are asked of it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from agent.errors import ToolInputError
from agent.llm import few_shot
from tools._common import Result, Span, load_text
from tools._translate_bank import similar
from tools._translate_checks import doubts, drop_strays, fix_edges, strip_sentinels
from tools._translate_languages import LANGUAGES, builtin_pairs, detect, resolve
from tools._translate_notes import Trace, explain_notes, quality_notes
from tools._translate_protect import (
    Protected,
    force_terms,
    glossary_terms,
    has_term,
    protect,
    protect_pair,
    restore,
    spans,
)
from tools._translate_units import units

if TYPE_CHECKING:
    from agent.llm import LLM
    from memory.translations import TMHit, TranslationMemory

__all__ = [
    "LANGUAGES",
    "MAX_CHARS",
    "Segment",
    "Translation",
    "Violation",
    "detect_language",
    "language_code",
    "translate",
]

MAX_CHARS = 100_000
"""Default input limit (characters): about 1,000 sentences, several minutes on a laptop CPU."""
BANK_EXAMPLES = 8
"""Pairs from the built-in bank offered to each prompt (the most similar ones)."""
TM_EXAMPLES = 3
"""Translation-memory entries offered to each prompt as examples."""
TM_MIN_SCORE = 0.4
"""Cosine similarity below which a memory entry is not used as an example."""
_CALM_BANK = 4
"""Bank pairs (without protected items) in the retry after a doubtful reply."""
_SURROGATES = ("Alice", "Bruno", "Clara", "David", "Emma", "Felix")
"""Names that stand for placeholders in the retry after the model dropped a sentence's lead."""
_TOOL = "translate"


@dataclass(frozen=True)
class Segment(Result):
    """One translated unit; ``source == text[start:end]`` of the input.

    ``origin`` is ``model`` (translated now), ``memory`` (an exact translation-memory match,
    reused) or ``copy`` (nothing to translate: numbers, symbols, protected items only).
    """

    source: str
    target: str
    start: int
    end: int
    origin: str = "model"


@dataclass(frozen=True)
class Violation(Result):
    """Something that should have survived translation and did not.

    ``kind``: ``placeholder``, ``markup``, ``code``, ``url``, ``glossary`` or ``omission`` (the
    words before the first protected item are missing: "Hello %s, ..." came back as
    "%s, ..."); ``expected``: the text that should be in the output (for an omission, the
    source words that were lost); ``segment``: index into ``Translation.segments``.
    """

    kind: str
    expected: str
    segment: int
    detail: str


@dataclass(frozen=True)
class Translation(Result):
    """The result of :func:`translate`."""

    text: str
    source_lang: str
    target_lang: str
    detected: bool
    """True when ``source_lang`` was detected rather than given."""
    segments: tuple[Segment, ...]
    violations: tuple[Violation, ...]
    notes: tuple[str, ...]
    examples_used: int
    """Distinct few-shot examples shown to the model (built-in and translation-memory)."""
    model: str
    reused: int = 0
    """Segments taken verbatim from the translation memory."""

    def to_markdown(self) -> str:
        """The translation, then a line on how it was made, the violations and the notes."""
        how = f"{LANGUAGES[self.source_lang]} → {LANGUAGES[self.target_lang]}"
        how += " (detected)" if self.detected else ""
        how += f" · {len(self.segments)} segments"
        if self.reused:
            how += f" · {self.reused} from translation memory"
        lines = [self.text.rstrip(), "", "---", f"*{how} · {self.model}*"]
        if self.violations:
            lines += ["", "**Check these:**"]
            lines += [f"- segment {v.segment + 1}, {v.kind}: {v.detail}" for v in self.violations]
        if self.notes:
            lines += ["", "**Notes:**"] + [f"- {n}" for n in self.notes]
        return "\n".join(lines) + "\n"


@dataclass
class _Run:
    """One call's inputs, and the :class:`Trace` of what happened for the notes."""

    llm: LLM
    source: str
    target: str
    context: str | None
    glossary: Mapping[str, str]
    memory: TranslationMemory | None
    bank: int = BANK_EXAMPLES
    trace: Trace = field(default_factory=Trace)


def translate(
    text: str | Path,
    target: str,
    source: str | None = None,
    context: str | None = None,
    glossary: Mapping[str, str] | None = None,
    explain: bool = False,
    *,
    llm: LLM,
    memory: TranslationMemory | None = None,
    max_chars: int = MAX_CHARS,
    bank_examples: int = BANK_EXAMPLES,
) -> Translation:
    """Translate ``text`` into ``target``, keeping placeholders, markup and code intact.

    Args:
        text: the text, or a path to a txt/md/html/pdf file.
        target: the target language, by code (``fr``) or name (``French``, ``français``).
        source: the source language; detected (py3langid) when None.
        context: one line on what the text is (e.g. "buttons of a photo app"), shown to the
            model before the examples.
        glossary: source term -> required target term; enforced and checked.
        explain: add notes on how the translation was made.
        llm: the model.
        memory: a translation memory for examples and exact reuse.
        max_chars: the input size limit.
        bank_examples: how many of the most similar pairs of the built-in bank each prompt
            shows (0: only the five generic built-in sentences).

    Returns:
        A :class:`Translation`: the text (same paragraphs, lines and spacing as the input),
        the segments, the :class:`Violation` s that remain, and notes.

    Raises:
        UnknownLanguageError: ``target`` or ``source`` is not supported (lists the supported).
        ToolInputError: empty, oversized or unreadable input; a bad glossary; a source
            language that cannot be detected (pass ``source``).
        GenerationError: the model failed.

    Example:
        >>> from agent.llm.fake import FakeLLM
        >>> t = translate("Hello %s!", "fr", source="en", llm=FakeLLM(default="Bonjour ⟦1⟧ !"))
        >>> t.text, t.violations
        ('Bonjour %s !', ())
    """
    target_lang = resolve(target)
    source_lang = resolve(source) if source is not None else None
    terms = _check_glossary(glossary)
    body = _load(text, max_chars)
    notes: list[str] = []
    detected = source_lang is None
    if source_lang is None:
        source_lang = _detect(body, notes if explain else [])
    model = llm.model_name
    found = units(body)
    if source_lang == target_lang:
        segs = tuple(Segment(u.text, u.text, u.start, u.end, "copy") for u in found)
        note = f"The text is already in {LANGUAGES[target_lang]}; it is returned unchanged."
        return Translation(
            body, source_lang, target_lang, detected, segs, (), (*notes, note), 0, model
        )
    run = _Run(llm, source_lang, target_lang, context, terms, memory, max(0, bank_examples))
    segments: list[Segment] = []
    violations: list[Violation] = []
    for index, unit in enumerate(found):
        seg, problems = _translate_unit(run, index, unit)
        segments.append(seg)
        violations += problems
    out, cut = [], 0
    for seg in segments:
        out += [body[cut : seg.start], seg.target]
        cut = seg.end
    out.append(body[cut:])
    reused = sum(s.origin == "memory" for s in segments)
    notes += quality_notes(segments)
    if explain:
        notes += explain_notes(run.trace, segments, body, run.glossary, run.memory is not None)
    return Translation(
        "".join(out),
        source_lang,
        target_lang,
        detected,
        tuple(segments),
        tuple(violations),
        tuple(notes),
        len(run.trace.examples),
        model,
        reused,
    )


def language_code(name: str) -> str:
    """The ISO 639-1 code of a supported language given by code or name (any of its names).

    Raises:
        UnknownLanguageError: not supported (the message lists the supported languages).

    Example:
        >>> language_code("Deutsch"), language_code("fr-CA"), language_code("Spanish")
        ('de', 'fr', 'es')
    """
    return resolve(name)


def detect_language(text: str) -> str | None:
    """The supported language ``text`` is most likely in; None when the text gives no clue.

    Example:
        >>> detect_language("Où est la gare ? Je la cherche depuis une heure.")
        'fr'
    """
    return detect(text)[0]


def _load(text: str | Path, max_chars: int) -> str:
    try:
        return load_text(_TOOL, text, max_chars=max_chars)[0]
    except OSError:
        # load_text asked the filesystem whether a long one-line text names a file and got
        # ENAMETOOLONG: it is text, checked here the way load_text checks text.
        if not isinstance(text, str):
            raise
        if len(text) > max_chars:
            raise ToolInputError(
                _TOOL,
                "too-large",
                f"the input is {len(text):,} characters, more than the limit of {max_chars:,}",
                "Split it into smaller parts, or pass a larger max_chars.",
            ) from None
        return text


def _check_glossary(glossary: Mapping[str, str] | None) -> dict[str, str]:
    if glossary is None:
        return {}
    if not isinstance(glossary, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and k.strip() and v.strip()
        for k, v in glossary.items()
    ):
        raise ToolInputError(
            _TOOL,
            "bad-argument",
            "the glossary must map non-empty source terms to non-empty target terms",
            'Pass a dict such as {"invoice": "facture"}.',
        )
    return {k.strip(): v.strip() for k, v in glossary.items()}


def _detect(body: str, notes: list[str]) -> str:
    cut, plain = 0, []
    for start, end, _ in spans(body):
        plain.append(body[cut:start])
        cut = end
    plain.append(body[cut:])
    code, prob = detect(" ".join(plain)[:5000])
    if code is None:
        raise ToolInputError(
            _TOOL,
            "bad-argument",
            "the source language cannot be detected from this text",
            f"Pass source= (one of {', '.join(LANGUAGES)}).",
        )
    notes.append(f"Source language detected as {LANGUAGES[code]} (probability {prob:.2f}).")
    return code


def _translate_unit(run: _Run, index: int, unit: Span) -> tuple[Segment, list[Violation]]:
    hits: list[TMHit] = []
    if run.memory is not None:
        hits = run.memory.search(unit.text, run.source, run.target, k=TM_EXAMPLES)
    terms = glossary_terms(unit.text, run.glossary)
    if hits and hits[0].exact:
        run.trace.tm_ids.add(hits[0].id)
        target = hits[0].target
        return Segment(unit.text, target, unit.start, unit.end, "memory"), _check(
            index, target, [], terms
        )
    masked, items = protect(unit.text)
    for item in items:
        run.trace.kinds[item.kind] = run.trace.kinds.get(item.kind, 0) + 1
    if not any(ch.isalpha() for ch in strip_sentinels(masked)):
        return Segment(unit.text, unit.text, unit.start, unit.end, "copy"), []
    builtin = builtin_pairs(run.source, run.target)
    bank = [protect_pair(s, t) for s, t in similar(unit.text, run.source, run.target, run.bank)]
    tm = [h for h in hits if h.score >= TM_MIN_SCORE][::-1]
    own = [protect_pair(h.source, h.target) for h in tm]
    examples = builtin + bank + own
    run.trace.tm_ids.update(h.id for h in tm)
    first = _attempt(run, masked, items, examples, terms)
    problems = _check(index, first.text, first.lost, terms, unit.text, items)
    if problems:
        run.trace.retried.append(index)
        forced, extra = force_terms(masked, terms, len(items) + 1)
        # The retry leaves the bank out: a near match ("Select all" for "Select all %(n)s
        # %(things)s") is what makes the model drop or reorder protected items.
        plain = builtin + own
        moved = [e for e in plain if "⟦" not in e[0]] + [e for e in plain if "⟦" in e[0]]
        # A sentinel right after a sentence's first words ("Hello ⟦1⟧, ...") makes the model
        # drop those words; a name in its place does not ("Bonjour Alice, ..."). So when the
        # lead was lost, the retry shows placeholders as names and maps the names back.
        names = _SURROGATES if any(p.kind == "omission" for p in problems) else ()
        second = _attempt(run, forced, items + extra, moved, [], names)
    elif first.doubts:
        run.trace.retried.append(index)
        # Invented sentinels, copies and cut-off replies come from the bank's nearest
        # examples (the model continues one of them): fewer of them, none with sentinels.
        calm = [e for e in bank if "⟦" not in e[0]][-_CALM_BANK:]
        second = _attempt(run, masked, items, builtin + calm + own, terms)
        extra = []
    if problems or first.doubts:
        again = _check(index, second.text, second.lost, terms, unit.text, items)
        # After a violation, the retry (without the bank) must have fewer violations: on a tie
        # the first reply, made with the bank's examples, read better even with a doubt (both
        # such ties on the bank's dev split). After a doubt alone, it must have neither.
        if problems:
            better = len(again) < len(problems)
        else:
            better = not again and len(second.doubts) < len(first.doubts)
        if better:
            first, problems = second, again
            if extra:
                run.trace.forced.append(index)
    return Segment(unit.text, first.text, unit.start, unit.end), problems


class _Reply(NamedTuple):
    """One model call's translation, restored, with what it lost and what looks wrong."""

    text: str
    lost: list[Protected]
    """Protected items whose sentinel is not in the reply exactly once."""
    doubts: list[str]
    """:func:`tools._translate_checks.doubts` of the reply."""


def _attempt(
    run: _Run,
    masked: str,
    items: list[Protected],
    examples: list[tuple[str, str]],
    terms: list[tuple[str, str]],
    names: tuple[str, ...] = (),
) -> _Reply:
    """One model call: the restored output, the protected items it lost, its doubts.

    With ``names``, placeholder sentinels of the query are shown as those names (in order)
    and a name found exactly once in the reply becomes its sentinel again.
    """
    query, shown_as = masked, {}
    placeholders = [i for i in items if i.kind == "placeholder" and i.token in masked]
    # only a placeholder that follows words of the sentence ("Hello %(name)s") becomes a name;
    # a number's ("you have {count} new messages") reads wrong as one
    placeholders = [
        i for i in placeholders if re.search(rf"[A-Za-z]\W{{0,2}}{re.escape(i.token)}", masked)
    ][:1] or placeholders
    if names and len(placeholders) <= len(names):
        for item, name in zip(placeholders, names, strict=False):
            masked = masked.replace(item.token, name, 1)
            shown_as[name] = item.token
    src, tgt = LANGUAGES[run.source], LANGUAGES[run.target]
    shown = examples + terms
    instruction = f"Context: {run.context.strip()}" if run.context and run.context.strip() else ""
    reply_budget = min(512, 2 * run.llm.count_tokens(masked) + 24)
    while True:
        prompt = few_shot(shown, masked, instruction=instruction, input_label=src, output_label=tgt)
        if not shown or run.llm.count_tokens(prompt.prompt) + reply_budget <= run.llm.n_ctx:
            break
        shown = shown[1:]  # drop the oldest built-in examples first
    run.trace.examples.update(a for a, b in shown if (a, b) not in terms)
    done = run.llm.complete(
        prompt.prompt,
        temperature=0,
        repeat_penalty=1.0,
        max_tokens=reply_budget,
        stop=[*prompt.stop, "\n"],
    )
    text = done.text.strip()
    if not text:
        text = masked  # nothing came back: keep the source rather than lose the sentence
    text = fix_edges(masked, text, run.target)
    for name, token in shown_as.items():
        if len(re.findall(rf"(?<!\w){name}(?!\w)", text)) == 1:
            text = re.sub(rf"(?<!\w){name}(?!\w)", token, text)
    found = doubts(query, text)
    if not re.search(r"[⟦⟧]", strip_sentinels(query)):
        text = drop_strays(text)  # the user's own brackets stay; the model's halves go
    restored, lost = restore(text, items)
    return _Reply(restored, lost, found)


def _check(
    index: int,
    output: str,
    lost: list[Protected],
    terms: list[tuple[str, str]],
    source: str = "",
    items: list[Protected] | None = None,
) -> list[Violation]:
    problems = []
    for item in lost:
        if item.kind == "glossary":
            continue  # reported below, by the term check
        n = output.count(item.original)
        detail = (
            f"{item.original!r} is missing from the translation"
            if n == 0
            else f"{item.original!r} appears {n} times in the translation, once in the source"
        )
        problems.append(Violation(item.kind, item.original, index, detail))
    for src, tgt in terms:
        if not has_term(output, tgt):
            detail = f"glossary: {src!r} must be translated as {tgt!r}"
            problems.append(Violation("glossary", tgt, index, detail))
    dropped = _dropped_lead(source, output, items or [])
    if dropped:
        detail = (
            f"the words before {dropped[1]!r} ({dropped[0]!r}) are missing from the translation"
        )
        problems.append(Violation("omission", dropped[0], index, detail))
    return problems


def _dropped_lead(source: str, output: str, items: list[Protected]) -> tuple[str, str] | None:
    """``(lost words, item)`` when the source has words before its first protected item and
    the output has none before it: the model dropped the sentence's opening ("Hello %s, ...")."""
    first = next((i for i in items if i.kind != "glossary"), None)
    if first is None or first.original not in output:
        return None
    before = source[: source.find(first.original)]
    if any(ch.isalpha() for ch in before) and not any(
        ch.isalpha() for ch in output[: output.find(first.original)]
    ):
        return before.strip(), first.original
    return None
