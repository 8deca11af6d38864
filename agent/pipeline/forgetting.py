"""Forgetting said in words: which memories "forget my passport number" means, and which
transcript lines must go with them.

The old forget matched the request as a substring or by 0.8 similarity, so "forget my passport
number" found nothing in "My passport number is X1234567" once the words differed, and the
number came back in a later answer. Here a memory matches when:

- it fills the slot the phrase names ("my passport number", "my old job", "where I live"); for
  "old/previous/former" only superseded versions match when there are any;
- it names the person the phrase names ("what I told you about Priya");
- it contains every content word of the phrase (4-letter stems, so "dogs" meets "dog").

Transcripts: a thread's stored history holds the user's own words ("My passport number is
X1234567") and replies that repeated them, and every checkpoint of the thread holds its prompt.
:func:`mentions` tells which messages carry a forgotten fact; the agent rewrites each of the
user's threads to its redacted history (earlier checkpoints dropped) — see ``Agent._scrub``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from agent.pipeline.answers import fills, salient
from agent.pipeline.evidence import content_words
from agent.pipeline.facts import SENTENCE_SPLIT
from memory._slots import NOT_NAMES as _NOT_NAMES
from memory._slots import phrase_slot, slot

__all__ = [
    "clean_phrase",
    "kept_part",
    "matching",
    "mentions",
    "refers_back",
    "said_in",
    "REDACTED",
]

REDACTED = "[forgotten]"
_PREAMBLE = re.compile(
    r"^\s*(?:whatever\s+(?:you(?:'ve| have)? (?:got|know|have|stored|kept)|i (?:told|said to) "
    r"you)\s+(?:about|on|regarding)\s+|"
    r"(?:everything|all|anything)\s+(?:(?:that\s+)?i\s+(?:told|said to)\s+you\s+)?"
    r"(?:about|on|regarding)\s+|what\s+i\s+(?:told\s+you|said|mentioned)\s+(?:about|on|"
    r"regarding)\s+|(?:the\s+)?(?:memory|memories|fact|facts|note|notes)\s+(?:about|on)\s+|"
    r"(?:the\s+)?(?:bit|part|thing|stuff|info|information|details?|line|one)\s+(?:about|on|"
    r"regarding|where i (?:said|told you|mentioned))\s+|"
    r"about\s+|that\s+|the\s+fact\s+that\s+)+",
    re.I,
)
_OLD = re.compile(r"\b(old|previous|former|past)\b", re.I)
_NAME = re.compile(r"\b([A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)\b")
#: Words of a forget phrase that say nothing about which memory is meant ("which bank I use").
_VERBS = frozenset(
    "use usi used have havi get gett got take taki took go goin went stuf thin info deta bit "
    "bits him her hers them thei his".split()
)
#: A phrase word also matches memories using a word of its topic ("my medication" → tablets).
_GROUPS = (
    "medi meds pill tabl pres drug dose inha inje diag doct illn cond alle heal symp hosp",
    "job work care empl offi boss",
    "addr home live flat apar hous stre",
    "phon mobi cell numb",
    "mail emai",
    "bank acco card",
    "pass visa",
    "car driv vehi",
    "nick call",
    "sala earn inco wage pay paid",
    "inte appl hiri",
    "mone cash debt owe owes owed owin lent lend borr loan",
    "weig kilo ston lbs heav",
)
_TOPICS = {w: set(g.split()) for g in _GROUPS for w in g.split()}


_TAIL = re.compile(
    r"\s*(?:,|[.!?;]\s|\s[—–-]\s|[—–]|"
    r"\bfrom (?:your|my|the) (?:memory|memories|notes|records|list|files|"
    r"database|brain|head|system|storage)\b|\bfrom memory\b|\b(?:please|pls|plz)\b|\bfor good\b|"
    r"\bi (?:don't|do not) want\b|\bit's\b|\bit is\b|\bi shouldn't\b).*$",
    re.I | re.S,
)


def _topic_words(text: str) -> set[str]:
    """:func:`content_words`, plus "dose" for a dose ("sertraline, 50mg in the mornings" is
    the medication the user asks to forget)."""
    words = content_words(text)
    if re.search(r"\d\s?(?:mg|mcg|ml)\b|\b(?:tablets?|pills?|capsules?)\b", text, re.I):
        words.add("dose")
    if re.search(
        r"[£$€]\s?\d|\d[\d,.]*\s*k?\b.{0,20}\b(?:a|an|per)\s+(?:year|month|week|hour)\b", text, re.I
    ):
        words.add("sala")  # "I make 39,000 a year" is the salary to forget
    if re.search(r"[£$€]\s?\d|\d\s?(?:quid|pounds|dollars|euros|bucks)\b", text, re.I):
        words.add("mone")  # "I owe Kasimir £250" is the money to forget
    if re.search(r"\d\s*(?:kg|kilos?|stone|lbs?)\b", text, re.I):
        words.add("weig")  # "I'm 94 kilos right now" is the weight to forget
    if re.search(r"\bcalls? me\b|\bknown as\b|\bgo by\b", text, re.I):
        words.add("nick")  # "my friends call me Biscuit" is the nickname to forget
    return words


def clean_phrase(payload: str) -> str:
    """The thing to forget, without "everything about" / "what I told you about".

    Example:
        >>> clean_phrase("everything about my old job")
        'my old job'
        >>> clean_phrase("what I told you about Priya")
        'Priya'
        >>> clean_phrase("the door code from your memory, it's meant to be confidential.")
        'the door code'
    """
    return _TAIL.sub("", _PREAMBLE.sub("", payload.strip())).strip(" .!?")


_ANAPHOR = re.compile(
    r"\s*(?:about\s+)?(?:(?:all\s+(?:of\s+)?)?(?:it|that|this|those|these)|"
    r"what i (?:just |last )?(?:said|told you|wrote|mentioned)|"
    r"(?:the|that|my) last (?:thing|bit|part|one|message|fact|sentence)"
    r"(?: i (?:said|told you|wrote|mentioned))?)"
    r"(?:\s*$|\s*[.,;:!?—–-]|\s+(?:from|please|now|too|for|then|as|out|off|altogether|"
    r"entirely|completely)\b)",
    re.I,
)


def refers_back(payload: str) -> bool:
    """True when a forget request names no memory but points back at the user's last message
    ("remove that from your memory", "erase what I just said", "forget the last thing").

    Example:
        >>> refers_back("that from your memory. I'm not ready to have it written down")
        True
        >>> refers_back("that gate code, security would kill me")
        False
    """
    return bool(_ANAPHOR.match(payload))


def said_in(message: str, records: Iterable[Any]) -> list[Any]:
    """The records whose text came from ``message``: most of their content words are in it.

    Example:
        >>> from types import SimpleNamespace as R
        >>> rs = [R(id=1, text="The gate code at work is 1942."), R(id=2, text="I live in Oslo.")]
        >>> [r.id for r in said_in("The gate code at work is 1942, press hash after.", rs)]
        [1]
    """
    have = content_words(message)
    out = []
    for r in records:
        words = content_words(r.text)
        if words and len(words & have) / len(words) >= 0.75:
            out.append(r)
    return out


def matching(phrase: str, records: Iterable[Any]) -> list[Any]:
    """The records (``.text``, ``.current``) that ``phrase`` designates (module docstring)."""
    records = list(records)
    wanted = phrase_slot(phrase)
    names = {n.lower() for n in _NAME.findall(phrase) if n not in _NOT_NAMES}
    words = (
        content_words(
            re.sub(r"\b(my|old|previous|former|everything|all)\b", "", phrase, flags=re.I)
        )
        - _VERBS
    )
    out: dict[int, Any] = {}
    past = (wanted[0], f"past {wanted[1]}") if wanted is not None else None
    by_slot = [r for r in records if wanted is not None and fills(slot(r.text), wanted, r.text)]
    if by_slot and _OLD.search(phrase):
        # "my old job": the superseded versions and what was said as past, not today's
        old = [r for r in by_slot if not r.current or slot(r.text) == past]
        by_slot = old or by_slot
    for r in by_slot:  # a slot is precise: the topic words below would also catch today's job
        out[r.id] = r
    # "what I said about owing Lorcan money": Lorcan's facts about owing, not where he lives
    others = words - {n[:4] for n in names}
    named = [
        r
        for r in records
        if names and any(re.search(rf"\b{re.escape(n)}\b", r.text.lower()) for n in names)
    ]
    precise = [r for r in named if others & content_words(r.text)]
    for r in precise or named:
        out[r.id] = r
    named_ids = {r.id for r in named}
    for r in records:
        if r.id in named_ids:
            continue
        if not by_slot and words and all(_TOPICS.get(w, {w}) & _topic_words(r.text) for w in words):
            out[r.id] = r
    return [out[i] for i in sorted(out)]


def kept_part(phrase: str, text: str) -> str | None:
    """What a memory of several sentences keeps when ``phrase`` names only some of them
    ("forget the door code" of "I live in flat 3, Harbour Court. The door code is 4471."), or
    None when it names the whole memory.

    Example:
        >>> kept_part("the door code", "I live at Harbour Court. The door code is 4471.")
        'I live at Harbour Court.'
        >>> kept_part("the door code", "The door code is 4471.") is None
        True
    """
    # "Dr. Okonkwo" is not two sentences: the name would outlive its doctor
    parts = [p for p in SENTENCE_SPLIT.split(text.strip()) if p.strip()]
    if len(parts) < 2:
        return None
    hit = {r.id for r in matching(phrase, [_Part(i, p) for i, p in enumerate(parts)])}
    if not hit or len(hit) == len(parts):
        return None
    return " ".join(p for i, p in enumerate(parts) if i not in hit)


class _Part:
    """One sentence of a memory, as :func:`matching` reads records."""

    current = True

    def __init__(self, id: int, text: str):
        self.id, self.text = id, text


def mentions(message: str, forgotten: Sequence[str]) -> bool:
    """True when ``message`` carries one of the ``forgotten`` facts: it holds the fact's
    numbers or names, or most of its content words.

    Example:
        >>> mentions("btw my passport number is X1234567", ["My passport number is X1234567."])
        True
        >>> mentions("What is the capital of Italy?", ["My passport number is X1234567."])
        False
    """
    low = set(re.findall(r"[a-z0-9][\w'-]*", message.lower()))
    have = content_words(message)
    for fact in forgotten:
        names = salient(fact)
        if names and names & low:
            return True
        words = content_words(fact)
        if words and len(words & have) / len(words) >= 0.8:
            return True
    return False
