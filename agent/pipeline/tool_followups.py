"""Questions about what a tool was just given or just said, answered from it.

After "summarise this: <newsletter>" the user asks "who do I talk to about the litter pick?";
after a contract review, "what would you push back on if you were me?". The text is in the
thread, not in the user's documents or memories: a small base model asked instead invents
("I would push back on the sand"). Both are answered here, without the model:

- :func:`from_given_text`: the sentence of the text the last summarize or review request
  carried that answers the question (:func:`agent.pipeline.answers.best_sentence`,
  the same choice as for documents), quoted; None when no sentence covers it.
- :func:`review_advice`: the risks the last review listed, as what to push back on.

Deliberate shortcut: only the thread's last turn is looked at; a question two turns later goes
to memories and documents as any other.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from agent.pipeline.answers import best_sentence, coverage, holds_asked_value

__all__ = ["TEXT_TOOLS", "from_given_text", "given_text", "last_reply", "review_advice"]

TEXT_TOOLS = ("summarize", "review")
"""The tools whose request carries a text the user may then ask about."""

#: "what would you push back on?", "anything I should worry about?", "should I sign it?"
_ADVICE = re.compile(
    r"\b(?:push back|negotiate|object to|worr(?:y|ied)|concern(?:s|ed)?|watch out|careful|"
    r"red flags?|risk(?:s|y)?|dangerous|problem(?:s|atic)?|unfair|fair|fairer|sign it|sign this|"
    r"should i sign|ask (?:them )?(?:to change|for)|change (?:in it|anything)|bad for me|"
    r"look out for|catch(?:es)?)\b",
    re.I,
)
_RISKS = re.compile(r"^## Risks\s*$(?P<body>.*?)(?=^## |\Z)", re.M | re.S)
_RISK_ITEM = re.compile(
    r"^- \*\*(?P<name>[^*]+)\*\*: (?P<why>[^(\n]+?)\s*(?:\(chars [^\n]*)?$", re.M
)
_QUOTED = re.compile(r"\"([^\"]{10,})\"\)\s*$", re.M)


def given_text(message: str) -> str:
    """The text a tool request carried: what follows its colon or sits in quotes, else the
    request itself.

    Example:
        >>> given_text('summarise this: The club met. Noreen runs the litter pick.')
        'The club met. Noreen runs the litter pick.'
    """
    quoted = re.search(r"[\"“]([^\"”]{20,})[\"”]", message)
    if quoted:
        return quoted.group(1)
    _, colon, after = message.partition(":")
    return after.strip() if colon and len(after.strip()) >= 20 else message


def from_given_text(
    question: str,
    request: str,
    similar: Callable[[str, list[str]], Sequence[float]] | None = None,
) -> str | None:
    """The sentence of the last tool request's text that answers ``question``, quoted; None
    when none shares enough of it.

    Example:
        >>> from_given_text("who do I talk to about the litter pick?",
        ...     "summarise this: The club met on Tuesday. For the litter pick contact Noreen.")
        'The text you gave me says: “For the litter pick contact Noreen.”'
    """
    text = given_text(request)
    chunk = {"n": 1, "quote": text, "start": 0, "path": "", "source": "", "page": None}
    found = best_sentence(question, [chunk], similar)
    if found is None:
        return None
    sentence = found["sentence"]
    if coverage(question, sentence) < 0.5 and not (
        coverage(question, sentence) > 0 and holds_asked_value(question, sentence)
    ):
        return None
    return f"The text you gave me says: \u201c{' '.join(sentence.split())}\u201d"


def review_advice(question: str, review: str) -> str | None:
    """What to push back on, from the risks the last review listed; None when ``question``
    asks for something else or the reply was not a review.

    Example:
        >>> review = ("## Risks\\n\\n- **automatic renewal**: It renews unless cancelled."
        ...           ' (chars 1-9: "Without notice it renews for 24 months.")\\n')
        >>> print(review_advice("what would you push back on if you were me?", review))
        From the review, I would push back on:
        - automatic renewal: It renews unless cancelled. ("Without notice it renews for 24 months.")
    """
    if not _ADVICE.search(question):
        return None
    risks = _RISKS.search(review)
    if risks is None:
        return None
    lines = []
    for line in risks.group("body").strip().splitlines():
        item = _RISK_ITEM.match(line)
        if item is None:
            continue
        quoted = _QUOTED.search(line)
        said = f" (\u201c{quoted.group(1)}\u201d)" if quoted else ""
        said = said.replace("\u201c", '"').replace("\u201d", '"')
        lines.append(f"- {item.group('name').strip()}: {item.group('why').strip()}{said}")
    if not lines:
        return (
            "The review found no clause of the kinds it flags as risky; "
            "its summary and the clauses it found are in its report above."
        )
    return "From the review, I would push back on:\n" + "\n".join(lines)


def last_reply(history: Sequence[dict[str, Any]]) -> str:
    """The assistant's last reply in ``history``, or ""."""
    for h in reversed(history):
        if h["role"] == "assistant":
            return str(h["content"])
    return ""
