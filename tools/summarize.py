"""Summaries of texts and files: extractive (always available), abstractive, or bullet points.

- **extractive**: the most central sentences (LexRank on sentence embeddings, a small lead prior,
  MMR against repeats), in document order; every sentence is an exact span of its source. It
  needs no language model and is fast.
- **abstractive**: the language model writes the summary from a few-shot prompt (see
  :mod:`tools._summarize_abstract`); texts longer than the context window are map-reduced. Each
  model sentence points at its best-matching source sentence (or ``start == -1``). A reply
  that is empty, repetitive, copied from the prompt or not grounded in the source is replaced
  by the extractive summary (``method="extractive-fallback"``, with a note saying why).
- **bullets**: the extractive sentences as ``- `` lines. Deliberately extractive: a 270M base
  model does not write reliable lists, and bullets are most useful when each one is traceable.
  A note shorter than the target gives one bullet per sentence or list item.
- **short budgets** (``max_words`` <= 20, abstractive): a one-line synopsis rather than a first
  sentence cut short (:mod:`tools._summarize_synopsis`): the model writes it (few-shot for a
  base model, an instruction for an instruction-tuned one), it is checked (grounded, within
  budget, not a copy of the lead) and, when it fails, a source sentence is shortened by
  dropping clauses and keeping its head (``method="compressed"``).
- Markdown headings and list markers never reach the summary: source sentences are cut at list
  items and headings and lose their markers (:func:`tools._summarize_extract.prose_spans`),
  and so do the model's sentences.

Length: ``max_words`` (default: 20% of the source, clamped to 40..200 words and never more
than the source) is honoured within ±20%. Extractive picking respects it by construction
(except when a single sentence is longer than the whole budget: it is then cut at a word
boundary). A model summary that is too long is trimmed at a sentence boundary; one that is too
short is extended with extractive sentences that do not repeat it. Both are recorded in
``notes``.

Several sources are summarized together: extractive sentences are ranked across all of them,
and the model summarizes each source and then the joined summaries.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from agent.errors import EmbedderError, GenerationError, ToolInputError
from agent.llm import LLM
from memory.embeddings import Embedder, HashEmbedder, open_embedder
from tools import _summarize_abstract as _abs
from tools import _summarize_extract as _ext
from tools import _summarize_synopsis as _syn
from tools._common import DEFAULT_MAX_CHARS, Result, Span, load_text, sentences, words

__all__ = ["STYLES", "Summary", "SummarySentence", "default_target", "summarize"]

STYLES = ("abstractive", "extractive", "bullets")
TOOL = "summarize"
SUPPORT_SIMILARITY = 0.35
"""Cosine similarity a source sentence needs to count as the support of a model sentence."""


@dataclass(frozen=True)
class SummarySentence(Result):
    """One sentence of a summary.

    ``start``/``end`` are offsets into the text of ``source`` (a path, or ``<text>`` for literal
    text): for an extractive sentence ``text == source_text[start:end]``; for a model sentence
    they locate the source sentence that supports it best, or are ``-1`` (and ``source`` None)
    when no source sentence is close enough.
    """

    text: str
    start: int
    end: int
    source: str | None


@dataclass(frozen=True)
class Summary(Result):
    """A summary and how it was made."""

    text: str
    style: str
    method: str
    """``extractive``, ``abstractive``, ``map-reduce`` (abstractive in several model calls),
    ``extractive-fallback`` (abstractive was asked for but could not be used; see ``notes``),
    and for short budgets (``max_words`` <= 20) ``synopsis`` (the model's one-line summary) or
    ``compressed`` (a source sentence shortened by dropping clauses, when the synopsis failed
    its checks; ``start``/``end`` locate that sentence)."""
    sentences: tuple[SummarySentence, ...]
    words: int
    target_words: int
    source_words: int
    sources: tuple[str, ...]
    model: str | None
    notes: tuple[str, ...]

    def to_markdown(self) -> str:
        """The summary followed by a one-line italic description and the notes as a list.

        Example:
            >>> s = Summary("Hi.", "extractive", "extractive", (), 1, 40, 1, ("<text>",), None, ())
            >>> print(s.to_markdown())
            Hi.
            <BLANKLINE>
            *Extractive summary: 1 words (target 40) of 1 words; sources: <text>.*
        """
        how = self.method.replace("-", " ").capitalize()
        if self.style == "bullets":  # bullets are extractive by design; say what they are
            how = "Bullet-point"
        model = f"; model: {self.model}" if self.model else ""
        lines = [
            self.text,
            "",
            f"*{how} summary: {self.words} words (target {self.target_words}) of "
            f"{self.source_words} words; sources: {', '.join(self.sources)}{model}.*",
        ]
        lines += [f"- note: {n}" for n in self.notes]
        return "\n".join(lines)


@dataclass(frozen=True)
class _Doc:
    label: str
    text: str
    spans: list[Span]


def default_target(source_words: int) -> int:
    """Words a summary aims at when no ``max_words`` is given.

    Example:
        >>> default_target(1000), default_target(50), default_target(30)
        (200, 40, 30)
    """
    return min(source_words, max(40, min(200, round(0.2 * source_words))))


def summarize(
    source: str | Path | Sequence[str | Path],
    style: str = "abstractive",
    max_words: int | None = None,
    *,
    llm: LLM | None = None,
    embedder: Embedder | None = None,
    max_chars: int = DEFAULT_MAX_CHARS,
) -> Summary:
    """Summarize text, a file, or several of them.

    Args:
        source: literal text, a path (``Path`` or a one-line string naming a file: txt, md,
            html, pdf), or a sequence of those.
        style: ``abstractive`` (needs ``llm``; extractive without one), ``extractive`` or
            ``bullets``.
        max_words: the summary's length in words, honoured within ±20%; default
            :func:`default_target` of the source's length.
        llm: the model for abstractive summaries.
        embedder: sentence embeddings for ranking; default the packaged MiniLM (the hash
            embedder, with a note, when it cannot be loaded).
        max_chars: the largest input accepted, per source.

    Returns:
        A :class:`Summary`. Model failures never raise: they fall back to extractive.

    Raises:
        ToolInputError: an unknown style, a bad ``max_words``, no sources, or a source that is
            empty, too large or unreadable.

    Example:
        >>> from memory.embeddings import HashEmbedder
        >>> s = summarize("Cats purr. Dogs bark loudly at night. Birds sing.", "extractive", 5,
        ...               embedder=HashEmbedder())
        >>> s.text, s.sentences[0].start
        ('Dogs bark loudly at night.', 11)
    """
    if style not in STYLES:
        raise ToolInputError(
            TOOL, "bad-argument", f"unknown style {style!r}", f"Use one of: {', '.join(STYLES)}."
        )
    if max_words is not None and (not isinstance(max_words, int) or max_words < 1):
        raise ToolInputError(
            TOOL, "bad-argument", f"max_words={max_words!r}", "Give a positive whole number."
        )
    docs = _load(source, max_chars)
    notes: list[str] = []
    source_words = sum(words(d.text) for d in docs)
    target = max_words or default_target(source_words)
    if target >= source_words:
        notes.append(f"the text has {source_words} words, no more than the target")
    emb = embedder or _default_embedder(notes)
    cands = _ext.candidates([d.spans for d in docs])
    vectors = emb.embed_multi([c.span.text for c in cands])
    if style == "abstractive" and target <= _syn.SHORT_BUDGET and target < source_words:
        return _synopsis(docs, cands, vectors, emb, llm, target, source_words, notes)
    if style != "abstractive" or llm is None:
        if style == "abstractive":
            notes.append("no language model was given, so the sentences are extractive")
        picked = _extract(docs, cands, vectors, target, notes)
        method = "extractive" if style != "abstractive" else "extractive-fallback"
        return _summary(picked, style, method, target, source_words, docs, None, notes)
    return _abstractive(docs, cands, vectors, emb, llm, target, source_words, notes)


def _load(source: str | Path | Sequence[str | Path], max_chars: int) -> list[_Doc]:
    items = [source] if isinstance(source, str | Path) else list(source)
    if not items:
        raise ToolInputError(TOOL, "empty", "no sources were given", "Give a text or a path.")
    docs = []
    for n, item in enumerate(items, 1):
        try:
            text, path = load_text(TOOL, item, max_chars=max_chars)
        except OSError:
            # tools._common stats a one-line string to see if it names a file; a line longer
            # than the system's file-name limit raises ENAMETOOLONG. Such a line is text.
            text, path = _long_line(str(item), max_chars), None
        label = path or ("<text>" if len(items) == 1 else f"<text {n}>")
        docs.append(_Doc(label, text, _ext.prose_spans(text, sentences(text))))
    return docs


def _long_line(text: str, max_chars: int) -> str:
    if len(text) > max_chars:
        raise ToolInputError(
            TOOL,
            "too-large",
            f"the input is {len(text):,} characters, more than the limit of {max_chars:,}",
            "Split it into smaller parts, or pass a larger max_chars.",
        )
    return text


@functools.cache
def _minilm() -> Embedder:
    return open_embedder("minilm")


def _default_embedder(notes: list[str]) -> Embedder:
    try:
        return _minilm()
    except EmbedderError as exc:
        notes.append(f"MiniLM could not be loaded ({exc}); sentences ranked by word hashing")
        return HashEmbedder()


def _extract(
    docs: list[_Doc],
    cands: list[_ext.Candidate],
    vectors: np.ndarray,
    target: int,
    notes: list[str],
    *,
    exclude: Sequence[np.ndarray] = (),
    already: int = 0,
) -> list[SummarySentence]:
    picked = _ext.select(cands, vectors, target, exclude=exclude, already=already)
    if not picked and not already and cands:
        # Every sentence is longer than the budget allows: cut the most central one.
        best = int(np.argmax(_ext.scores(cands, vectors)))
        c = cands[best]
        span = _ext.cut_to_words(docs[c.source].text, c.span, target)
        notes.append(f"every sentence is longer than {target} words; one was cut short")
        return [SummarySentence(span.text, span.start, span.end, docs[c.source].label)]
    return [
        SummarySentence(
            cands[i].span.text, cands[i].span.start, cands[i].span.end, docs[cands[i].source].label
        )
        for i in picked
    ]


def _abstractive(
    docs: list[_Doc],
    cands: list[_ext.Candidate],
    vectors: np.ndarray,
    emb: Embedder,
    llm: LLM,
    target: int,
    source_words: int,
    notes: list[str],
) -> Summary:
    def fallback(text: str, words: int) -> str:
        spans = _ext.prose_spans(text, sentences(text))
        cs = _ext.candidates([spans])
        vs = emb.embed_multi([c.span.text for c in cs])
        return " ".join(cs[i].span.text for i in _ext.select(cs, vs, words))

    try:
        if len(docs) == 1:
            got = _abs.map_reduce(llm, docs[0].text, target, fallback)
        else:
            share = max(25, -(-target // len(docs)))
            parts = [_abs.map_reduce(llm, d.text, share, fallback) for d in docs]
            joined = "\n\n".join(p.text for p in parts)
            last = _abs.map_reduce(llm, joined, target, fallback)
            got = _abs.Generated(last.text, last.problem, last.calls + sum(p.calls for p in parts))
        problem = got.problem or _abs.problem(got.text, "\n\n".join(d.text for d in docs))
    except GenerationError as exc:
        got, problem = _abs.Generated("", f"the model failed ({exc})", 0), "the model failed"
    if problem is not None or got.calls == 0:
        notes.append(f"the model's summary was not used: {problem or 'nothing fit the model'}")
        picked = _extract(docs, cands, vectors, target, notes)
        return _summary(
            picked, "abstractive", "extractive-fallback", target, source_words, docs, None, notes
        )
    method = "map-reduce" if got.calls > 1 else "abstractive"
    out = _fit_length(got.text, target, notes)
    out_vectors = emb.embed_multi([s.text for s in out])
    sents = [_supported(s, v, cands, vectors, docs) for s, v in zip(out, out_vectors, strict=True)]
    have = sum(words(s.text) for s in sents)
    if have < target * (1 - _ext.TOLERANCE):
        more = _extract(
            docs, cands, vectors, target, notes, exclude=list(out_vectors), already=have
        )
        if more:
            notes.append(
                f"the model wrote {have} words; {len(more)} source sentences were added to reach "
                f"the target"
            )
        sents += more
    return _summary(sents, "abstractive", method, target, source_words, docs, llm.model_name, notes)


def _synopsis(
    docs: list[_Doc],
    cands: list[_ext.Candidate],
    vectors: np.ndarray,
    emb: Embedder,
    llm: LLM | None,
    target: int,
    source_words: int,
    notes: list[str],
) -> Summary:
    """A one-line summary for a short budget: the model's synopsis, else a compressed sentence."""
    text = "\n\n".join(d.text for d in docs)
    lead_spans = [c.span for c in cands if c.source == 0]
    lead = lead_spans[0].text if lead_spans else ""
    why = "no language model was given"
    if llm is not None:
        if not _syn.fits(llm, text, target):
            why = "the text does not fit the model's context window"
        else:
            try:
                got = _syn.generate(llm, text, target, lead)
                why = got.problem or ""
            except GenerationError as exc:
                why = f"the model failed ({exc})"
            if not why:
                vec = emb.embed_multi([got.text])[0]
                sent = _supported(Span(-1, -1, got.text), vec, cands, vectors, docs)
                return _summary(
                    [sent],
                    "abstractive",
                    "synopsis",
                    target,
                    source_words,
                    docs,
                    llm.model_name,
                    notes,
                )
    notes.append(f"the model's synopsis was not used: {why}; a source sentence was shortened")
    base = _syn.pick_sentence([s.text for s in lead_spans]) if lead_spans else ""
    at = next((c for c in cands if c.source == 0 and c.span.text == base), None)
    short = _syn.compress(base, target) if base else ""
    if not short:
        picked = _extract(docs, cands, vectors, target, notes)
        return _summary(
            picked, "abstractive", "extractive-fallback", target, source_words, docs, None, notes
        )
    sent = SummarySentence(
        short, at.span.start if at else -1, at.span.end if at else -1, docs[0].label if at else None
    )
    return _summary([sent], "abstractive", "compressed", target, source_words, docs, None, notes)


def _fit_length(reply: str, target: int, notes: list[str]) -> list[Span]:
    """The reply's sentences without Markdown markers, trimmed at a sentence boundary to at
    most target + 20%."""
    spans = _ext.prose_spans(reply, sentences(reply)) or sentences(reply)
    high = target * (1 + _ext.TOLERANCE)
    kept: list[Span] = []
    total = 0
    for span in spans:
        n = words(span.text)
        if total + n > high:
            break
        kept.append(span)
        total += n
    if not kept:
        kept = [_ext.cut_to_words(reply, spans[0], int(high))]
        notes.append("the model's first sentence was longer than the target; it was cut short")
    elif len(kept) < len(spans):
        notes.append(f"the model's summary was trimmed to {len(kept)} of {len(spans)} sentences")
    return kept


def _supported(
    span: Span,
    vector: np.ndarray,
    cands: list[_ext.Candidate],
    vectors: np.ndarray,
    docs: list[_Doc],
) -> SummarySentence:
    sims = vectors @ vector
    best = int(np.argmax(sims))
    if float(sims[best]) < SUPPORT_SIMILARITY:
        return SummarySentence(span.text, -1, -1, None)
    c = cands[best]
    return SummarySentence(span.text, c.span.start, c.span.end, docs[c.source].label)


def _summary(
    sents: list[SummarySentence],
    style: str,
    method: str,
    target: int,
    source_words: int,
    docs: list[_Doc],
    model: str | None,
    notes: list[str],
) -> Summary:
    flat = [t for t in (" ".join(s.text.split()) for s in sents) if t]
    text = "\n".join(f"- {t}" for t in flat) if style == "bullets" else " ".join(flat)
    return Summary(
        text=text,
        style=style,
        method=method,
        sentences=tuple(sents),
        words=sum(words(t) for t in flat),
        target_words=target,
        source_words=source_words,
        sources=tuple(d.label for d in docs),
        model=model,
        notes=tuple(notes),
    )
