"""Does a new fact replace an old one? A slot rule first, then a grammar-constrained yes/no.

Embeddings find the candidates (facts of the same user at least ``supersede_threshold``
similar); the model decides, because similarity alone cannot tell "I moved to Berlin" (replaces
"I live in Paris") from "I visited Berlin" (does not). The default model is a *base* model, so
the prompt is few-shot rather than an instruction, and the reply is forced into
``{"same_subject": true|false}`` by a JSON schema (a GBNF grammar in llama.cpp). Anything
unparsable counts as "no": keeping an old fact is safer than hiding it.

Measured on Gemma 3 270M (the default), the model's answers were no better than chance: "no"
for Paris→Berlin, nurse→teacher and blue→green, "yes" for Paris vs a favourite colour. So a
deterministic *slot* rule decides first when it recognises both facts: who the fact is about
("I", "my sister") and what it says (where they live, their work, their name, their age, a
favourite thing). Same subject and slot → superseded; a different slot → not. Only facts the
rule does not recognise go to the model, whose answer improves with a bigger model.
"""

from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.llm import LLM

log = logging.getLogger(__name__)

SCHEMA = {
    "type": "object",
    "properties": {"same_subject": {"type": "boolean"}},
    "required": ["same_subject"],
}

_EXAMPLES = [
    ("I live in Paris.", "I moved to Berlin last month.", True),
    ("I have a dog named Rex.", "I work as a nurse.", False),
    ("My favourite colour is blue.", "My favourite colour is green now.", True),
    ("I like tea.", "I play the guitar.", False),
    ("I work at Acme Corp.", "I started a new job at Globex.", True),
    ("My sister lives in Rome.", "I live in Madrid.", False),
]


def prompt_for(old: str, new: str) -> str:
    """The few-shot prompt asking whether ``new`` updates ``old``."""
    lines = ["Does the new statement update the old one (same subject, new value)?", ""]
    for o, n, same in _EXAMPLES:
        lines += [f"Old: {o}", f"New: {n}", f'Answer: {{"same_subject": {str(same).lower()}}}', ""]
    lines += [f"Old: {old}", f"New: {new}", "Answer: "]
    return "\n".join(lines)


_SLOTS = (
    (
        "residence",
        re.compile(
            r"\b(live|lives|living|lived|moved|move|moving|relocated|reside|"
            r"resides|based in|home is)\b",
            re.I,
        ),
    ),
    ("work", re.compile(r"\b(work|works|working|job|employed|profession|career|employer)\b", re.I)),
    ("name", re.compile(r"\b(name is|named|called)\b", re.I)),
    ("age", re.compile(r"\b(\d+ years old|age is|turned \d+)\b", re.I)),
)
_FAVOURITE = re.compile(r"\bfavou?rite (\w+)", re.I)
_I = re.compile(r"^\s*(i|i'm|i am|i've|i'd)\b", re.I)
_I_HAVE = re.compile(r"^\s*i\s+(have|had|own)\b", re.I)  # "I have a dog named Rex": not me
_MY = re.compile(r"^\s*(?:my|our)\s+(\w+)", re.I)
_MY_OWN = {
    "name": "name",
    "job": "work",
    "work": "work",
    "employer": "work",
    "profession": "work",
    "career": "work",
    "home": "residence",
    "address": "residence",
    "age": "age",
}


def slot(text: str) -> tuple[str, str] | None:
    """``(subject, slot)`` of a fact, or None when the rule does not recognise it.

    Example:
        >>> slot("I moved to Berlin last month")
        ('i', 'residence')
        >>> slot("My sister lives in Rome")
        ('my sister', 'residence')
        >>> slot("My favourite colour is green")
        ('i', 'favourite colour')
    """
    fav = _FAVOURITE.search(text)
    if fav:
        return ("i", f"favourite {fav.group(1).lower()}")
    if _I.match(text):
        if _I_HAVE.match(text):
            return None
        subject = "i"
    else:
        m = _MY.match(text)
        if not m:
            return None
        noun = m.group(1).lower()
        if noun in _MY_OWN:
            return ("i", _MY_OWN[noun])
        subject = f"my {noun}"
    for name, pattern in _SLOTS:
        if pattern.search(text):
            return (subject, name)
    return None


def same_subject(llm: LLM, old: str, new: str) -> bool:
    """Ask ``llm`` whether ``new`` supersedes ``old``; False on any unparsable answer.

    Example:
        >>> from agent.llm.fake import FakeLLM
        >>> same_subject(FakeLLM(['{"same_subject": true}']), "I live in Paris", "I moved to Oslo")
        True
    """
    a, b = slot(old), slot(new)
    if a is not None and b is not None:
        return a == b
    reply = llm.complete(
        prompt_for(old, new), temperature=0, json_schema=SCHEMA, max_tokens=16
    ).text
    try:
        value = json.loads(reply.strip())["same_subject"]
    except (ValueError, KeyError, TypeError):
        log.warning("supersede check: unparsable model reply %r; keeping the old fact", reply)
        return False
    return value is True
