"""Deciding what a turn is: explicit commands first, then the local model under a grammar.

1. An explicit command (``/remember …``, a batch task type) routes deterministically.
2. Plain-word commands ("remember that …", "forget what I said about …") match patterns.
3. Free text is classified by the model: a few-shot prompt and a JSON schema whose ``route``
   is an enum, so even a 270M base model cannot answer off the label set.
4. Keyword rules run beside the model. The model is "unsure" when its label contradicts a
   *strong* keyword match (e.g. it says ``chat`` for "what does my contract say about …"), or
   when it picks a question-about-you route for a message that mentions neither the user nor
   documents; then the keywords win. The decision and its reason go into the turn record.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from agent.errors import LorebookError
from agent.llm import LLM, few_shot

ROUTES = (
    "chat",
    "ask_memory",
    "ask_documents",
    "remember",
    "forget",
    "translate",
    "summarize",
    "code",
    "review",
)
TOOL_ROUTES = ("translate", "summarize", "code", "review")

_SLASH = re.compile(
    r"^/(remember|forget|translate|summarize|code|review|ask|chat)\b\s*(.*)$", re.S | re.I
)
_PLAIN = (
    (
        "remember",
        re.compile(
            r"^\s*(?:please\s+)?(?:remember|memori[sz]e)\s+(?:that\s+)?"
            r"(?P<text>.+)$",
            re.S | re.I,
        ),
    ),
    (
        "forget",
        re.compile(
            r"^\s*(?:please\s+)?(?:forget|erase)\s+(?:that\s+|about\s+|"
            r"what\s+i\s+(?:said|told\s+you)\s+about\s+)?(?P<text>.+)$",
            re.S | re.I,
        ),
    ),
)
_STRONG = (  # first match wins: task verbs at the start outrank topic words
    ("translate", re.compile(r"^\s*translate\b", re.I)),
    ("summarize", re.compile(r"^\s*(summari[sz]e|tl;?dr)\b", re.I)),
    ("review", re.compile(r"^\s*review\b", re.I)),
    (
        "code",
        re.compile(
            r"^\s*(write|generate|implement)\b.*\b(function|code|script|program|"
            r"class)\b",
            re.I,
        ),
    ),
    (
        "ask_documents",
        re.compile(
            r"\b(documents?|docs|files?|notes|pdfs?|report|contract|lease|"
            r"according to|in my (?:notes|files|documents))\b",
            re.I,
        ),
    ),
)
_PERSONAL = re.compile(r"\b(my|me|mine|i|i'm|i've|i'd|myself)\b", re.I)
_QUESTION = re.compile(
    r"\?\s*$|^\s*(what|who|where|when|which|how|why|do|does|did|is|are|can)"
    r"\b",
    re.I,
)

_EXAMPLES = [
    ("Hello there!", "chat"),
    ("What is the capital of Italy?", "chat"),
    ("What is my sister's name?", "ask_memory"),
    ("Where do I live?", "ask_memory"),
    ("What does the contract say about termination?", "ask_documents"),
    ("According to my notes, when is the meeting?", "ask_documents"),
    ("Translate 'good morning' into German.", "translate"),
    ("Summarize this article for me.", "summarize"),
    ("Write a Python function that reverses a list.", "code"),
    ("Review this agreement for risky clauses.", "review"),
]
_SCHEMA = {"type": "object", "properties": {"route": {"enum": list(ROUTES)}}, "required": ["route"]}


@dataclass(frozen=True)
class Decision:
    """Where a turn goes, why, and the text the route acts on."""

    route: str
    reason: str
    payload: str


def explicit_route(message: str, command: str | None = None) -> Decision | None:
    """The route fixed by a command or plain-word pattern, or None for free text."""
    if command:
        if command not in ROUTES:
            raise LorebookError(f"unknown command {command!r}; valid: {', '.join(ROUTES)}")
        return Decision(command, f"explicit command {command!r}", message.strip())
    slash = _SLASH.match(message.strip())
    if slash:
        name = slash.group(1).lower()
        route = {"ask": "chat"}.get(name, name)
        return Decision(route, f"slash command /{name}", slash.group(2).strip())
    for route, pattern in _PLAIN:
        m = pattern.match(message)
        if m:
            return Decision(route, f"plain-word {route} command", m.group("text").strip(" .!"))
    return None


def keyword_route(message: str) -> tuple[str, bool]:
    """The keyword classifier: ``(route, strong)``."""
    for route, pattern in _STRONG:
        if pattern.search(message):
            return route, True
    if _PERSONAL.search(message) and _QUESTION.search(message):
        return "ask_memory", False
    return "chat", False


def classify(llm: LLM, message: str) -> Decision:
    """Classify free text with the model under a JSON grammar, keywords as the fallback."""
    kw, strong = keyword_route(message)
    prompt = few_shot(
        [(text, json.dumps({"route": label})) for text, label in _EXAMPLES],
        message.replace("\n", " ")[:500],
        instruction="Classify each message by what the user wants.",
        input_label="Message",
        output_label="Route",
    )
    try:
        label = llm.complete_json(prompt.prompt, _SCHEMA, max_tokens=24)["route"]
    except (LorebookError, KeyError, TypeError) as exc:
        return Decision(kw, f"keywords ({kw}); the model's label was unusable: {exc}", message)
    if label not in ROUTES:
        return Decision(kw, f"keywords ({kw}); the model answered {label!r}", message)
    if strong and label != kw:
        return Decision(kw, f"keywords ({kw}, strong match) over the model's {label!r}", message)
    if label in ("ask_memory", "ask_documents") and kw == "chat":
        # Only these routes may answer "I don't know" without asking the model, so they need
        # evidence in the message: a reference to the user or to their documents.
        return Decision(
            "chat",
            f"keywords (chat) over the model's {label!r}: nothing in the "
            "message refers to the user or their documents",
            message,
        )
    return Decision(label, f"model ({label}); keywords said {kw}", message)
