"""The model's part in the legal review: confirm or drop uncertain candidate clauses.

For each uncertain candidate (an embedding-only match, or a rule that half matched) the model
gets a few-shot prompt and must answer JSON matching a schema (grammar-constrained):
``{"category": <a category or "none">, "quote": <words from the clause>}``. A candidate is kept
only when the model names the same category *and* its quote is found in the document; the
finding then quotes the document's own text at the found offsets. A quote that is not in the
document is dropped and noted, so the model can never add text to the review.

Deliberate shortcuts: at most :data:`~tools._review_types.MAX_MODEL_CALLS` candidates per document
(most confident first); quotes are matched word by word with any whitespace between words (the
prompt shows the clause on one line), and case must match exactly.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from agent.errors import GenerationError
from agent.llm import few_shot
from tools._common import Span
from tools._review_rules import CATEGORIES
from tools._review_types import MAX_MODEL_CALLS, Candidate

if TYPE_CHECKING:
    from agent.llm.base import LLM

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "category": {"enum": [*CATEGORIES, "none"]},
        "quote": {"type": "string"},
    },
    "required": ["category", "quote"],
}
_EXAMPLES = (
    (
        "Licensee shall not assign this Agreement without the prior written consent of Licensor.",
        '{"category": "assignment", "quote": "shall not assign this Agreement"}',
    ),
    (
        "THE SOFTWARE IS PROVIDED AS IS, WITHOUT WARRANTY OF ANY KIND.",
        '{"category": "warranty_disclaimer", "quote": "PROVIDED AS IS, WITHOUT WARRANTY"}',
    ),
    (
        "All notices must be sent by registered mail to the addresses above.",
        '{"category": "none", "quote": ""}',
    ),
    (
        "This Agreement shall be governed by the laws of the State of Texas.",
        '{"category": "governing_law", "quote": "governed by the laws of the State of Texas"}',
    ),
    (
        "Customer shall pay each invoice within thirty days of its date.",
        '{"category": "payment", "quote": "shall pay each invoice"}',
    ),
)
_INSTRUCTION = (
    "Classify each contract clause and quote the words that show it. Categories: "
    + ", ".join(CATEGORIES)
    + ", none."
)
_PROMPT_CHARS = 600
_MIN_QUOTE_CHARS = 12
_MAX_FAILURES = 2


def confirm(llm: LLM, text: str, candidates: list[Candidate]) -> tuple[list[Candidate], list[str]]:
    """Ask ``llm`` about the uncertain candidates; return the candidates to keep and notes.

    Confident candidates pass through unchanged. A model failure (``GenerationError``) leaves
    the candidate as it was; after two failures the model is not asked again and a note says so.

    Example:
        >>> from agent.llm.fake import FakeLLM
        >>> from tools._review_types import Candidate
        >>> t = "You may not assign this Agreement."
        >>> c = Candidate("assignment", Span(0, len(t), t), 0.5, "embedding", True)
        >>> llm = FakeLLM(['{"category": "assignment", "quote": "may not assign"}'])
        >>> kept, notes = confirm(llm, t, [c])
        >>> [(k.method, k.span.text) for k in kept], notes
        ([('model', 'may not assign')], [])
    """
    sure = [c for c in candidates if not c.uncertain]
    unsure = sorted((c for c in candidates if c.uncertain), key=lambda c: -c.confidence)
    asked = unsure[:MAX_MODEL_CALLS]
    kept: list[Candidate] = list(unsure[MAX_MODEL_CALLS:])
    notes: list[str] = []
    failures = 0
    for i, cand in enumerate(asked):
        if failures >= _MAX_FAILURES:
            kept += asked[i:]
            notes.append(
                f"the model failed {failures} times; the last {len(asked) - i} candidates were "
                "judged by rules and embeddings only"
            )
            break
        try:
            answer = llm.complete_json(_prompt(cand.span.text), SCHEMA, max_tokens=80)
        except GenerationError as exc:
            failures += 1
            notes.append(f"the model failed on a candidate ({exc}); kept the embedding's verdict")
            kept.append(cand)
            continue
        result = _judge(text, cand, answer, notes)
        if result is not None:
            kept.append(result)
    return sure + kept, notes


def _prompt(clause: str) -> str:
    one_line = " ".join(clause[:_PROMPT_CHARS].split())
    return few_shot(
        _EXAMPLES, one_line, instruction=_INSTRUCTION, input_label="Clause", output_label="Answer"
    ).prompt


def _judge(text: str, cand: Candidate, answer: Any, notes: list[str]) -> Candidate | None:
    if not isinstance(answer, dict) or answer.get("category") != cand.category:
        return None  # the model denies this category for the span
    quote = str(answer.get("quote", "")).strip()
    found = locate(text, quote, cand.span)
    if found is None:
        notes.append(f"dropped a {cand.category} quote that is not in the document: {quote!r}")
        return None
    span = found if len(found.text) >= _MIN_QUOTE_CHARS else cand.span
    return Candidate(cand.category, span, max(cand.confidence, 0.6), "model")


def locate(text: str, quote: str, near: Span) -> Span | None:
    """Where ``quote`` occurs in ``text`` (inside ``near`` first), whitespace-insensitive.

    Returns the document's own text at that place, so ``text[start:end] == span.text``.

    Example:
        >>> t = "Pay the fee\\nwithin 30 days."
        >>> locate(t, "fee within 30", Span(0, len(t), t))
        Span(start=8, end=21, text='fee\\nwithin 30')
        >>> locate(t, "fee within 60", Span(0, len(t), t)) is None
        True
    """
    words = quote.split()
    if not words:
        return None
    pattern = re.compile(r"\s+".join(map(re.escape, words)))
    m = pattern.search(text, near.start, near.end) or pattern.search(text)
    if m is None:
        return None
    return Span(m.start(), m.end(), m.group())
