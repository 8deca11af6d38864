"""Abstractive summaries with a base model for :mod:`tools.summarize`: prompt, checks, map-reduce.

The default model (Gemma 3 270M, base) continues text; it does not follow instructions. So the
prompt is a few-shot transcript of short ``Text:`` / ``Summary:`` pairs written for this
project, decoded greedily, and the summary ends at the next ``Text:`` or blank line.

A reply is checked before it is used (:func:`problem`): empty, repetitive (few distinct word
trigrams, or a sentence said twice), copied from the prompt's examples, or not grounded in the
source (too few of its content words occur there) all count as failures, and the caller falls
back to extractive sentences.

Texts longer than the context window are map-reduced (:func:`map_reduce`): chunks on paragraph
and sentence boundaries that fit the window are summarized one by one, then the joined chunk
summaries are summarized again, to a bounded depth.

Deliberate shortcuts: the few-shot examples are fixed and short (a 270M model copies their
length more than it obeys a number); grounding is word overlap, not entailment.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from agent.llm import LLM, few_shot
from memory.chunking import chunk_text
from tools._summarize_extract import strip_markdown

EXAMPLES: tuple[tuple[str, str], ...] = (
    (
        "The town council met on Tuesday to discuss the old bridge over the river. Engineers "
        "said that cracks in the supports had grown over the winter and that heavy trucks "
        "should no longer cross. Several shop owners worried that a closure would keep "
        "customers away. After two hours of debate, the council voted to close the bridge to "
        "trucks at once and to ask the region for money to repair it next year.",
        "The council closed the cracked old bridge to trucks and will seek regional money to "
        "repair it next year, despite shop owners' worries about lost customers.",
    ),
    (
        "Honey bees find food by scouting. When a scout finds a good patch of flowers, it "
        "returns to the hive and performs a dance. The angle of the dance shows the direction "
        "of the flowers relative to the sun, and its length shows how far away they are. Other "
        "bees watch the dance and fly out to the same flowers, so the colony quickly gathers "
        "food from the best sources.",
        "Scout bees tell the hive where flowers are with a dance whose angle gives the "
        "direction and whose length gives the distance, so the colony gathers food quickly.",
    ),
)
INPUT_LABEL = "Text"
OUTPUT_LABEL = "Summary"
TOKENS_PER_WORD = 1.6
"""Room per wanted word in ``max_tokens`` (Gemma's tokenizer needs ~1.3 for English prose)."""
MAX_DEPTH = 3
"""Map-reduce rounds before the remaining text is left to the extractive fallback."""
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_STOP = frozenset(
    "a an and are as at be been but by can for from had has have he her his how in into is it "
    "its of on or our she so than that the their them then there these they this to was we "
    "were what when which while who will with would you your not no also more most such".split()
)


@dataclass(frozen=True)
class Generated:
    """One model summary: its text, or ``problem`` saying why it cannot be used."""

    text: str
    problem: str | None
    calls: int


def prompt_for(text: str) -> tuple[str, tuple[str, ...]]:
    """The few-shot prompt for ``text`` and its stop sequences."""
    p = few_shot(EXAMPLES, text, input_label=INPUT_LABEL, output_label=OUTPUT_LABEL)
    return p.prompt, p.stop


def reply_tokens(target_words: int) -> int:
    """``max_tokens`` for a summary of about ``target_words`` words (room for +20% and more)."""
    return math.ceil(target_words * 1.2 * TOKENS_PER_WORD) + 16


def fits(llm: LLM, text: str, target_words: int) -> bool:
    """Whether the prompt for ``text`` plus the reply fits the model's context window."""
    prompt, _ = prompt_for(text)
    return llm.count_tokens(prompt) + reply_tokens(target_words) <= llm.n_ctx


def content_words(text: str) -> list[str]:
    """Lower-cased words of ``text`` that carry content (stop words dropped)."""
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP]


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _trigrams(words: list[str]) -> list[tuple[str, ...]]:
    return [tuple(words[i : i + 3]) for i in range(len(words) - 2)]


def problem(reply: str, source: str) -> str | None:
    """Why ``reply`` is not a usable summary of ``source``, or None when it is.

    Example:
        >>> problem("Cats purr. Cats purr. Cats purr.", "Cats purr when they are happy.")
        'it repeats itself'
    """
    words = _WORD.findall(reply.lower())
    if len(words) < 3:
        return "it is empty"
    sents = [s.strip().lower() for s in re.split(r"(?<=[.!?])\s+", reply) if s.strip()]
    grams = _trigrams(words)
    if len(set(sents)) < len(sents) or (len(grams) >= 8 and len(set(grams)) < 0.6 * len(grams)):
        return "it repeats itself"
    example_grams = {g for pair in EXAMPLES for t in pair for g in _trigrams(_words(t))}
    source_grams = set(_trigrams(_WORD.findall(source.lower())))
    copied = [g for g in grams if g in example_grams and g not in source_grams]
    if grams and len(copied) > 0.3 * len(grams):
        return "it copies the prompt's examples"
    content = content_words(reply)
    known = set(content_words(source))
    if content and sum(w in known for w in content) < 0.6 * len(content):
        return "it is not grounded in the text (most of its words are not there)"
    return None


def generate(llm: LLM, text: str, target_words: int) -> Generated:
    """One greedy few-shot summary of ``text`` (which must fit, see :func:`fits`)."""
    prompt, stop = prompt_for(text)
    done = llm.complete(
        prompt,
        max_tokens=reply_tokens(target_words),
        temperature=0,
        repeat_penalty=1.1,
        # The model often starts a second summary or a new example inline, not on a new line.
        stop=[*stop, f"{OUTPUT_LABEL}:", f"{INPUT_LABEL}:"],
    )
    # Markdown headings and list markers are lost on the flattened line: drop them first.
    reply = " ".join(strip_markdown(done.text).split())
    if done.finish_reason == "length":
        # Cut off mid-sentence: keep the complete sentences only.
        whole = re.match(r".*[.!?]", reply)
        reply = whole.group() if whole else reply
    return Generated(reply, problem(reply, text), 1)


def map_reduce(
    llm: LLM,
    text: str,
    target_words: int,
    fallback: Callable[[str, int], str],
    depth: int = 0,
) -> Generated:
    """Summarize ``text`` directly if it fits, else by chunks and a summary of their summaries.

    Args:
        fallback: ``(text, words) -> extractive summary``, used for a chunk whose model summary
            failed its checks, and for what is still too long after :data:`MAX_DEPTH` rounds.

    Returns:
        The summary of the last round; ``problem`` is that round's problem (the caller falls
        back on it), ``calls`` counts every model call made.
    """
    if fits(llm, text, target_words):
        return generate(llm, text, target_words)
    if depth >= MAX_DEPTH:
        return Generated(fallback(text, target_words), None, 0)
    prompt_room = llm.n_ctx - llm.count_tokens(prompt_for("")[0])
    # Half the room for a chunk leaves the other half for its summary, whatever its share.
    chunks = chunk_text(text, budget=max(8, prompt_room // 2), overlap=0, count=llm.count_tokens)
    # Each chunk's summary gets a share of the target, with some slack so the reduce step has
    # material to choose from, but no more than lets the joined summaries fit one prompt.
    share = max(25, math.ceil(1.5 * target_words / len(chunks)))
    reduce_room = prompt_room - reply_tokens(target_words)
    share = min(share, max(10, int(reduce_room / TOKENS_PER_WORD / 1.2 / len(chunks))))
    parts: list[str] = []
    calls = 0
    for chunk in chunks:
        if fits(llm, chunk.text, share):
            got = generate(llm, chunk.text, share)
            calls += got.calls
            parts.append(got.text if got.problem is None else fallback(chunk.text, share))
        else:
            parts.append(fallback(chunk.text, share))
    joined = "\n\n".join(p for p in parts if p.strip())
    last = map_reduce(llm, joined, target_words, fallback, depth + 1)
    return Generated(last.text, last.problem, calls + last.calls)
