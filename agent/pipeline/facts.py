"""Extracting the facts a user stated in a message, for the memorize step.

Only the user's own message is looked at: recalled memories, document text and the model's
replies never become facts (the loop that filled mem0's stores with junk). A message is a
candidate only if it is a first-person statement, not a question. The model rewrites it into
short facts under a JSON grammar; each fact must be *grounded* — most of its content words
appear in the message — or it is dropped as invented. If the model yields nothing usable, the
user's own first-person sentences are kept verbatim: the user said them.
"""

from __future__ import annotations

import re

from agent.errors import LorebookError
from agent.llm import LLM, few_shot

_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")
# "me" is left out: it marks requests ("tell me a story"), not statements about the user.
_FIRST_PERSON = re.compile(r"\b(i|i'm|i've|i'd|i'll|my|mine|we|we're|our|ours)\b", re.I)
_REQUEST = re.compile(
    r"^\s*(please|tell|give|show|write|make|list|explain|describe|help|"
    r"translate|summari[sz]e|review|find|let's|let us|can you|could you|"
    r"would you)\b",
    re.I,
)
_QUESTION = re.compile(
    r"\?\s*$|^\s*(what|who|where|when|which|how|why|do|does|did|is|are|can|"
    r"could|would|should|will)\b",
    re.I,
)
_WORD = re.compile(r"[a-z0-9']+")
_STOP = frozenset(
    "a an the is are was were am be been to of in on at and or for with that this "
    "it its i my me we our you your he she they his her their".split()
)
_SCHEMA = {
    "type": "object",
    "properties": {"facts": {"type": "array", "items": {"type": "string"}, "maxItems": 3}},
    "required": ["facts"],
}
_EXAMPLES = [
    ("My sister Ana lives in Lisbon.", '{"facts": ["My sister Ana lives in Lisbon."]}'),
    (
        "btw I'm allergic to peanuts, anyway what's a good snack?",
        '{"facts": ["I am allergic to peanuts."]}',
    ),
    (
        "I moved to Berlin last year and I work as a nurse.",
        '{"facts": ["I moved to Berlin last year.", "I work as a nurse."]}',
    ),
]


def stated_sentences(message: str) -> list[str]:
    """The message's first-person statements (not questions)."""
    out = []
    for raw in _SENTENCE.findall(message):
        s = raw.strip()
        if (
            len(s) > 3
            and _FIRST_PERSON.search(s)
            and not _QUESTION.search(s)
            and not _REQUEST.search(s)
        ):
            out.append(s)
    return out


def _content(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def grounded(fact: str, message: str, share: float = 0.6) -> bool:
    """True when at least ``share`` of the fact's content words occur in the message.

    Example:
        >>> grounded("I live in Paris.", "I live in Paris and love it")
        True
        >>> grounded("I live in Rome.", "I live in Paris")
        False
    """
    words = _content(fact)
    return bool(words) and len(words & _content(message)) / len(words) >= share


def extract_facts(llm: LLM | None, message: str) -> list[str]:
    """The facts the user stated in ``message`` (possibly none)."""
    sentences = stated_sentences(message)
    if not sentences or llm is None:
        return sentences
    prompt = few_shot(
        _EXAMPLES,
        " ".join(sentences)[:600],
        input_label="Message",
        output_label="Facts",
        instruction="List the facts the user states about themselves.",
    )
    try:
        answer = llm.complete_json(prompt.prompt, _SCHEMA, max_tokens=96)
        facts = [f.strip() for f in answer["facts"] if isinstance(f, str)]
    except (LorebookError, KeyError, TypeError):
        return sentences
    # A fact must come from the message and still be about the user.
    facts = [f for f in facts if f and grounded(f, message) and _FIRST_PERSON.search(f)]
    return facts or sentences
