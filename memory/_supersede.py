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
from typing import TYPE_CHECKING

from memory._slots import slot

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
