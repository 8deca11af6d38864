"""Answering a question about the user from what they told us, and nothing else.

Measured on the old loop: with "My daughter is called Zoe and she is seven." recalled and on
screen, "How old is my daughter?" got "My daughter is 20 years old." (sampling at 0.7). So:

- **Evidence.** A recalled memory is evidence when it fills the slot the question asks about
  (:func:`memory._slots.question_slot` = :func:`memory._slots.slot`: "Where do I live?" meets
  "I'm all settled in Lisbon now"), or shares a content word with it
  (:func:`agent.pipeline.evidence.holds_answer`). No evidence → "I don't know", never a guess.
- **The model, checked.** An instruction-tuned model answers greedily from the evidence only;
  its answer is kept when every number and name in it appears in the evidence (or the question)
  and it carries something of the evidence the question did not. Otherwise — and always with a
  base model, which was measured to invent — the answer is the memory itself, said back to the
  user with its date: "Your dog is called Rex (you told me on 2 Dec 2026)."
- **Time and history.** "When did I…" answers with the date the fact was stated; "where did I
  live before?" answers from superseded facts of the same slot.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from agent.llm import LLM, Message
from agent.pipeline.evidence import (
    GENERIC_WORDS,
    LEMMA,
    SAME_IDEA,
    content_words,
    holds_answer,
)
from memory._slots import (
    KIN_WORDS,
    NOT_NAMES,
    RELATIONS,
    names_occupation,
    people,
    question_slot,
    same_secret,
    second_person,
    slot,
)

__all__ = [
    "UNKNOWN_REPLY",
    "DOES_NOT_SAY",
    "asks_history",
    "answers_question",
    "best_sentence",
    "beyond_title",
    "extractive_document_answer",
    "model_document_answer",
    "supported",
    "asks_when",
    "fills",
    "names_what_user_told",
    "points_at",
    "salient",
    "says_change",
    "sentence_cover",
    "with_antecedent",
    "coverage",
    "evidence",
    "extractive_answer",
    "holds_asked_value",
    "grounded",
    "model_answer",
]

UNKNOWN_REPLY = (
    "I don't know: you haven't told me that, and I found nothing about it in your documents."
)
_HISTORY = re.compile(
    # "before" asks about the past ("my job before this one"), unless it starts a clause:
    # "how long before I can run again?"
    r"\b(before(?!\s+(?:i|we|you|he|she|they)\s+(?:can|could|will|'ll|may|might|get|need|have)\b)|"
    r"previous(?:ly)?|used to|ex-?(?=\w*\b)|use to|earlier|former(?:ly)?|originally|at first|"
    r"(?:my|the|an?) old)\b",
    re.I,
)
_WHEN = re.compile(
    r"^\s*(?:and\s+)?(?:since\s+)?when\b|\bwhat (?:day|date|time)\b|\bhow long ago\b", re.I
)
#: "When did I mention Ruairí?", "how long ago did I tell you…", "since when do you know about
#: Zeppelin?": the answer is the day it was told, whatever the fact's own words
_ASKS_TOLD_DAY = re.compile(
    r"^\s*(?:and\s+)?(?:(?:since\s+)?when|what (?:day|date)|how long ago|on what (?:day|date))\b"
    r".*\b(?:(?:did|have)\s+(?:i|we)\s+(?:first\s+)?(?:tell|told|mention|mentioned|say|said|"
    r"bring|brought|talk|talked|write|wrote|share|shared)|(?:i|we)\s+(?:first\s+)?(?:told|"
    r"mentioned|said|brought up|talked about|wrote|shared))\b|"
    r"^\s*(?:and\s+)?(?:since\s+)?when\b.*\b(?:did|do|have)\s+you\s+(?:first\s+)?(?:know|"
    r"known|learn|learnt|learned|hear|heard|find out|found out)\b",
    re.I,
)
_TOLD_WORDS = frozenset(
    w[:4]
    for w in "tell told mention mentioned say said bring brought talk talked write wrote "
    "share shared know known learn learnt learned hear heard find found first ago long since "
    "day date".split()
)
_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9'-]*|\d[\d.,:/-]*\w*")
_DONT_KNOW = re.compile(
    r"\b(don't|do not|dont) know\b|\bno idea\b|\bnot (?:sure|mentioned)\b", re.I
)
#: Words an answer may add around the facts ("Yes, your dog is called Rex.")
_SPEECH = frozenset(
    "yes your you you're yours they them their he she his her it's its also currently now "
    "still told said".split()
)
_SPEECH = frozenset(w[:4] for w in _SPEECH)
_FIRST_PERSON = re.compile(r"\b(i|i'm|i've|my|mine|me)\b", re.I)
_INSTRUCTIONS = (
    "Answer the user's question using only the facts below, which the user told you earlier. "
    "Answer in one short sentence and speak to the user as 'you'. If the facts do not answer "
    "the question, reply exactly: I don't know."
)


def names_what_user_told(question: str, memories: Sequence[dict[str, Any]]) -> bool:
    """True when the question names a person or pet the user told us of ("Mango", "Brandon"):
    then it is about the user's life, and only their memories may answer it.

    Example:
        >>> names_what_user_told("What colour are Mango's feathers?",
        ...     [{"text": "My parrot Mango learned a new word.", "similarity": 0.5}])
        True
        >>> names_what_user_told("What is the capital of Italy?",
        ...     [{"text": "I visited Italy last year.", "similarity": 0.5}])
        False
        >>> names_what_user_told("Where is the gig?",
        ...     [{"text": "Our band's got a gig on Saturday.", "similarity": 0.46}])
        True
    """
    told: set[str] = set()
    for m in memories:
        told |= people(m["text"])
    asked = {name.lower() for name in _asked_names(question)}
    if asked & told:
        return True
    # "Where is the gig?" after "our band's got a gig on Saturday": "the gig" is the user's
    return any(m.get("similarity", 0.0) >= 0.4 and points_at(question, m["text"]) for m in memories)


def _asked_names(question: str) -> set[str]:
    """The capitalised words of a question after its first, without a possessive: the names
    it asks about ("What does Priya's son do?" → {"Priya"})."""
    return {
        w.removesuffix("'s")
        for w in re.findall(r"(?<!^)\b[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ][\w'-]*", question.strip())
    }


def about_the_same(question: str, memories: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Current memories about the person, pet or relation the question names ("Priya", "my
    nephew"), at most two, most similar first: what the user told of them, when none answers.

    Example:
        >>> [m["id"] for m in about_the_same("What diet does Priya follow?", [
        ...     {"id": 1, "text": "Deshawn's wife Priya is vegan.", "similarity": 0.4},
        ...     {"id": 2, "text": "I live in Leeds.", "similarity": 0.3}])]
        [1]
    """
    names = _asked_names(question) - NOT_NAMES
    rels = re.findall(r"\bmy\s+((?:[a-z-]+\s+){0,2}?[a-z-]+?)(?:'s)?\b(?=\s|\?|$)", question, re.I)
    patterns = [rf"\b{re.escape(n)}\b" for n in names]
    patterns += [
        rf"\b(?:my|our)\s+{re.escape(r.lower())}\b" for r in rels if r.lower() in RELATIONS
    ]
    if not patterns:
        return []
    found = [
        m
        for m in memories
        if m.get("current", True) and any(re.search(p, m["text"], re.I) for p in patterns)
    ]
    return sorted(found, key=lambda m: -m.get("similarity", 0.0))[:2]


def closest_told(question: str, memories: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The current memory nearest a question none of them answers for sure (at most one):
    it shares a word with what is asked (beyond whom it is about). Shown with "I don't
    know", so a fact told in other words is not hidden ("who has a spare key?" / "our
    neighbour … has a spare key to the flat").

    Example:
        >>> [m["id"] for m in closest_told("Who has a spare key?", [
        ...     {"id": 1, "text": "Mrs Okonkwo has a spare key to the flat.", "similarity": 0.4},
        ...     {"id": 2, "text": "I live in Leeds.", "similarity": 0.2}])]
        [1]
    """
    # what is asked, not whom about: "what is my dog's name?" does not bring up the cat's
    asked = content_words(question) - content_words(" ".join(_subject_words(question)))
    scored = []
    for m in memories:
        if not m.get("current", True):
            continue
        shared = len(asked & content_words(m["text"]))
        if shared:
            scored.append((shared, m.get("similarity", 0.0), m))
    scored.sort(key=lambda t: (-t[0], -t[1]))
    return [m for *_, m in scored[:1]]


def asks_whom(question: str) -> bool:
    """ "Who…?", "which neighbour…?", "which of my friends…?": a person the user told of.

    Example:
        >>> asks_whom("which neighbour teaches piano?"), asks_whom("which train is faster?")
        (True, False)
    """
    m = re.match(r"^\s*(?:and\s+)?(?:who|whom|which of\b|which\s+([a-z-]+))", question, re.I)
    if m is None:
        return False
    return m.group(1) is None or m.group(1).lower().rstrip("s") in RELATIONS


#: A full name asked about: "Kat Ferris", "Jo Marr"
_FULL_NAME = re.compile(r"\b[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+(?:\s+[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)+")


def related_reply(related: Sequence[dict[str, Any]], question: str = "") -> str:
    """ "I don't know" that says what the user did tell about whom the question names (of a
    fact about several, the part about whom it names: "Bramley is your mum's horse", not the
    dog Bramble). A full name asked ("Kat Ferris") keeps only the facts that name it."""
    full = _FULL_NAME.findall(question)
    exact = [m for m in related if any(n in m["text"] for n in full)]
    related = exact or related
    told = "; ".join(
        f"{second_person(part_about(question, m['text']).rstrip('.!'))} ({_when(m['date'])})"
        if m.get("date")
        else second_person(part_about(question, m["text"]).rstrip(".!"))
        for m in related
    )
    return f"I don't know for sure: you haven't told me that in those words. The nearest: {told}."


def points_at(question: str, text: str) -> bool:
    """The question points with "the"/"that" at something ``text`` names: "Where is the gig?"
    at "our band's got a gig on Saturday", "the plum cake" at a recipe for plum cake.

    Example:
        >>> points_at("How long does the plum cake bake?", "Plum cake: bake for 45 minutes.")
        True
        >>> points_at("What is the capital of Italy?", "We spent a week in Italy.")
        False
    """
    pointed = re.findall(r"\b(?:the|that|those|these)\s+((?:[\w-]+\s+)?[\w-]+)", question, re.I)
    have = content_words(text)
    # every content word of the phrase pointed at ("plum cake", not just "cake")
    return any(
        (words := content_words(p)) and words <= have and not words <= _VAGUE for p in pointed
    )


_VAGUE = frozenset(w[:4] for w in "time way thing best most first last other same".split())


def with_antecedent(question: str, previous: str | None) -> str:
    """A follow-up that only points back ("And when did I tell you about it?") carries the
    previous question's words.

    Example:
        >>> with_antecedent("And when did I tell you about it?", "When is my dentist appointment?")
        'When is my dentist appointment? And when did I tell you about it?'
        >>> with_antecedent("Where do I live?", "What is my name?")
        'Where do I live?'
        >>> with_antecedent("And what's my name?", "What is my dog called?")
        "And what's my name?"
        >>> with_antecedent("and my mother?", "What street does my aunt live on?")
        'What street does my mother live on?'
    """
    named = _pronoun_named(question, previous)
    if named != question:
        return named  # "what does he do?" after "where does Bartek live?"
    if previous and not content_words(question) - _FILLER and question_slot(question) is None:
        return f"{previous} {question}"
    # "and my mother?" after "what street does my aunt live on?": the same question of her
    other = re.fullmatch(
        r"\s*(?:and|what about|how about)\s+((?:my|our)\s+[a-z-]+|"
        r"[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)\s*\??\s*",
        question,
        re.I,
    )
    was = question_slot(previous) if previous and other else None
    if other and previous and was is not None and was[0] != "i":
        before = re.search(rf"\b{re.escape(was[0])}\b", previous, re.I)
        if before is not None:
            return previous[: before.start()] + other.group(1) + previous[before.end() :]
    return question


_PETS = frozenset(
    "dog cat horse pony rabbit bunny hamster parrot budgie tortoise turtle snake lizard "
    "guinea pig ferret goldfish fish chicken hen goat".split()
)
_HE_SHE = re.compile(r"\b(he|she|him|her|his)\b", re.I)


def _pronoun_named(question: str, previous: str | None) -> str:
    """ "what does he do?" after "where does Tobiah live?": "what does Tobiah do?"; "what
    colour is she?" after "what's my cat's name?": "what colour is my cat?" — when the
    previous question named one person or pet, and the question names no one itself.

    Example:
        >>> _pronoun_named("what does he do?", "where does Tobiah live?")
        'what does Tobiah do?'
        >>> _pronoun_named("and what's her job?", "where does my sister live?")
        "and what's my sister's job?"
        >>> _pronoun_named("what does he do?", "where do Tom and Ada live?")
        'what does he do?'
    """
    found = _HE_SHE.search(question)
    if not previous or found is None or _asked_names(question) - NOT_NAMES:
        return question
    names = _asked_names(previous) - NOT_NAMES
    kin = [
        m.group(0)
        for m in re.finditer(r"\b(?:my|our)\s+([a-z-]+)", previous, re.I)
        if m.group(1).lower() in RELATIONS or m.group(1).lower() in _PETS
    ]
    if len(names) == 1 and not kin:
        who = names.pop()
    elif len(kin) == 1 and not names:
        who = kin[0]
    else:
        return question
    word = found.group(1).lower()
    after = question[found.end() :]
    possessive = word == "his" or (
        word == "her"
        and re.match(r"\s+(?!(?:to|for|from|with|at|in|on|about|again|up)\b)[a-z]", after)
    )
    said = f"{who}'s" if possessive else who
    return question[: found.start()] + said + after


_FILLER = frozenset({"and", "so", "then", "also", "ok", "okay"})


def asks_when(question: str) -> bool:
    """True for a question about when something was said or happened."""
    return bool(_WHEN.search(question))


def asks_history(question: str) -> bool:
    """True for a question about an earlier value.

    Example:
        >>> asks_history("Where did I live before?"), asks_history("How old is my daughter?")
        (True, False)
    """
    return bool(_HISTORY.search(question))


def evidence(question: str, memories: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The memories that answer ``question``, best first: same slot, then shared words.

    ``memories`` are recall's items (``text``, ``similarity``, ``current``...).
    """
    ident = _IDENTITY.match(question)
    if ident is not None and ident.group(1) not in NOT_NAMES:
        # "who is Priya?": whatever the user told of Priya says who she is
        told = [
            m
            for m in memories
            if m.get("current", True) and re.search(rf"\b{re.escape(ident.group(1))}\b", m["text"])
        ]
        if told:
            return sorted(told, key=lambda m: -m.get("similarity", 0.0))
    if _ASKS_TOLD_DAY.search(question):
        about = content_words(question) - _TOLD_WORDS
        dated = [
            (len(about & content_words(m["text"])), m)
            for m in memories
            if m.get("current", True) and about & content_words(m["text"])
        ]
        if dated:
            dated.sort(key=lambda t: (-t[0], -t[1].get("similarity", 0.0)))
            return [m for _, m in dated]
    asked = question_slot(question)
    # "which of my flatmates never washes up?": the answer is a person, the fact about them
    who = bool(re.match(r"^\s*(?:and\s+)?(?:who|whom|which of)\b", question, re.I))
    same, related = [], []
    for m in memories:
        have = slot(m["text"]) if asked is not None else None
        if asked is not None and fills(have, asked, m["text"]):
            past = have is not None and have[1].startswith("past ")
            same.append({**m, "slot": True, **({"current": False} if past else {})})
        elif (
            # a fact that fills another known slot of the same subject is about something else
            # ("Noor lives in Amman" does not say what Noor does), and one that holds nothing
            # of the kind asked ("My wife is called Sofia" for her birthday) does not answer
            not (
                _other_slot(have, asked)
                # "My brother Jon is a firefighter in Cork" does say where Jon lives
                and not (
                    asked is not None and asked[1] == "residence" and _IN_PLACE.search(m["text"])
                )
            )
            and (asked is None or _HINTS.get(asked[1], _ANY).search(m["text"]))
            and _of_expected_type(question, m["text"])
            and holds_answer(question, m["text"], m.get("similarity", 0.0))
            and (asked is None or who or _subject_matches(asked[0], m["text"], asked[1]))
            and _close_enough(question, m)
            and (
                _beyond_subject(question, m["text"])
                or (asked is not None and asked[1] == "residence" and _IN_PLACE.search(m["text"]))
            )
        ):
            related.append(m)
    # among facts of the same slot, the one sharing the question's words first ("Lyon")
    words = content_words(question)
    same.sort(
        key=lambda m: (
            -len(words & content_words(m["text"])),
            not m.get("current", True),
            # "what does Thea do?": "… Thea is a midwife" before "Thea works in Cork"
            not (asked is not None and asked[1] == "work" and names_occupation(m["text"])),
            -m.get("id", 0),  # the latest said first
        )
    )
    # related facts: the one naming exactly what was asked first ("Cocoa" is not "Coco")
    exact = _exact(question)
    # and what holds now before what it replaced, unless the question asks for before
    before = asks_history(question)
    # "who's the groundsman at the hockey club?": the fact naming the groundsman, not the
    # one sharing more of the rest ("At the hockey club Rafe coaches the under-12s")
    focus = focus_word(question)
    related.sort(
        key=lambda m: (
            focus is not None and focus not in content_words(m["text"]),
            -len(exact & _exact(m["text"])),
            (not m.get("current", True)) != before,
            -m.get("similarity", 0.0),
        )
    )
    found = same + related
    # "which unit does Jo Marr run?": with a fact naming Jo Marr, not one about Jo Marsh
    full = _FULL_NAME.findall(question)
    if full and any(n in m["text"] for n in full for m in memories):

        def named_right(m: dict[str, Any]) -> bool:
            return any(n in m["text"] for n in full) or not any(
                re.search(rf"\b{re.escape(n.split()[0])}\b", m["text"]) for n in full
            )

        found = [m for m in found if named_right(m)]
        memories = [m for m in memories if named_right(m)]
    return _changes_first(question, found, memories)


#: Words by which a user says a value changed: "they've moved me to Friday instead", "IT gave
#: me a new work number", "Turnip is actually five, not three", "these days I'm more into…"
_CHANGE = re.compile(
    r"\b(?:actually|instead|now|new|these days|nowadays|any ?more|no longer|moved|changed|"
    r"switched|swapped|replaced|taken over|(?:mis|re)(?:counted|scheduled|booked|located)|"
    r"postponed|relocated|transferred|promoted|upgraded|downgraded|heads up|change of plans?|"
    r"turns out|ended up|in the end|going forward|from now on|as of|typo|my mistake|i meant|"
    r"put (?:it|the \w+|\w+) (?:up|down)|(?:gone|went|goes) (?:up|down)|raised|increased|"
    r"decreased|lowered|gone (?:right )?off|"
    r"(?<=,)\s*not\s+\w+|"
    r"brought forward|scratch that|correction|updated?|not \w+ (?:any ?more|after all))\b",
    re.I,
)


def says_change(text: str) -> bool:
    """The text says a value changed ("he moved to Galway", "it's actually 9:30 now").

    Example:
        >>> says_change("he moved to Galway over the summer"), says_change("he runs a bar")
        (True, False)
    """
    return bool(_CHANGE.search(text)) or bool(re.search(r"\b(?:no wait|old info)\b", text, re.I))


def _changes_first(
    question: str, found: list[dict[str, Any]], recalled: Sequence[dict[str, Any]] = ()
) -> list[dict[str, Any]]:
    """A later fact that says it changes the first one's value comes first: both answer the
    question, and the user's latest word on it is the current one. The later fact may be one
    recalled that shares nothing with the question but much with the first fact ("The book club
    meets at Harriet's" / "Change of plan, we're meeting at the Crooked Spoon instead because
    Harriet's boiler broke").

    Example:
        >>> [m["id"] for m in _changes_first("When's my dentist appointment?", [
        ...     {"id": 1, "text": "I've got a dentist appointment on Thursday at 3pm."},
        ...     {"id": 2, "text": "The dentist rang, they've moved me to Friday instead."}])]
        [2, 1]
    """
    if not found or asks_history(question):
        return found
    first = found[0]
    known = {m.get("id") for m in found}
    told = content_words(first["text"])
    found = found + [
        m
        for m in recalled
        if m.get("id") not in known
        and len(told & content_words(m["text"])) >= 2
        and slot(m["text"]) is None  # one of a known slot was judged by it ("a new job")
    ]
    if len(found) < 2:
        return found
    names = _asked_names(question) - NOT_NAMES
    # both are already evidence; the later one must share what the question is about
    topic = (content_words(question) - content_words(" ".join(names))) & content_words(
        first["text"]
    )
    later = [
        m
        for m in found[1:]
        if m.get("current", True)
        and m.get("id", 0) > first.get("id", 0)
        and _CHANGE.search(m["text"])
        and _of_expected_type(question, m["text"])  # "Ana has a new job" is not where she lives
        and (
            topic & content_words(m["text"])
            or any(n in m["text"] for n in names)
            or len(told & content_words(m["text"])) >= 2
        )
    ]
    if not later:
        return found
    newest = max(later, key=lambda m: m.get("id", 0))
    return [newest, *(m for m in found if m is not newest)]


#: "who is Priya?", "who's Priya again?", "what do you know about Priya?", "tell me about Priya"
_IDENTITY = re.compile(
    r"^\s*(?i:(?:and\s+|so\s+|remind me,?\s+)?(?:who(?:'s|\s+is|\s+was)|what do you know about|"
    r"tell me (?:more )?about|what can you tell me about|remind me (?:who|about)))\s+"
    r"(?:is\s+|was\s+)?([A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ][\w'-]*)(?:\s+again)?\s*[?.!]*\s*$"
)

_KNOWN = frozenset(
    (
        "residence",
        "work",
        "name",
        "surname",
        "age",
        "birthday",
        "phone",
        "email",
        "partner",
        "passport number",
        "hometown",
    )
)


_ANY = re.compile("")
#: What a fact must hold to answer a question about this attribute, when its slot is unknown.
_HINTS = {
    "birthday": re.compile(r"\bbirthday|\bborn\b|\bbirth\b", re.I),
    "age": re.compile(
        r"\d|\b(?:years?|old|age|one|two|three|four|five|six|seven|eight|nine|ten|eleven|"
        r"twelve|teen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)\b",
        re.I,
    ),
    "residence": re.compile(
        r"\b(?:live|lives|lived|living|moved|home|address|based|stays?)\b|\bin [A-Z]"
    ),
    "phone": re.compile(r"\d{3}"),
    "email": re.compile(r"@"),
    "passport number": re.compile(r"\d"),
}


#: "in ages", "on time", "by then": a preposition before a time is not a place
_TIMES = (
    r"(?:ages|time|then|now|the end|the (?:morning|afternoon|evening|night|weekend)|"
    r"a (?:while|bit|minute|moment|hurry)|(?:\w+ )?(?:days?|weeks?|months?|years?)\b)"
)
#: Things known by their proper names: "which hotel…?" wants one
_NAMED_KINDS = frozenset(
    "hospital hotel school university college company firm employer city town village country "
    "street road restaurant cafe pub bar shop store bank gym team club band airline station "
    "airport church clinic pharmacy office building neighbourhood neighborhood area hotel "
    "surgery practice agency venue theatre cinema museum".split()
)
_PLACE_KINDS = frozenset(
    "city town village country street road neighbourhood neighborhood area".split()
)
_MONTHS_DAYS = frozenset(
    "january february march april may june july august september october november december "
    "monday tuesday wednesday thursday friday saturday sunday".split()
)


_LEAD_CONTEXT = re.compile(
    r"^\s*(?:in|according to|for|from|about|regarding|on|per|looking at|going by)\b[^,?]{1,60},\s*",
    re.I,
)


def without_lead_context(question: str) -> str:
    """The question without a lead naming where to look ("In grandma's soup recipe, how long
    …?" → "how long …?"), so its kind is read from its question word.

    Example:
        >>> without_lead_context("According to the lease, how much is the deposit?")
        'how much is the deposit?'
        >>> without_lead_context("How much is the deposit?")
        'How much is the deposit?'
    """
    return _LEAD_CONTEXT.sub("", question.strip(), count=1)


def _of_expected_type(question: str, text: str) -> bool:
    """Does ``text`` hold a value of the kind the question asks for (a place for "where", a
    name for "who"/"what's … called", a number for "how old/many/much", a date for "when")?

    A fact sharing a word with the question but not holding such a value does not answer it
    ("Your band's got a gig on Saturday" for "Where is the gig?").

    Example:
        >>> _of_expected_type("Where is the gig?", "Our band has a gig on Saturday.")
        False
        >>> _of_expected_type("Who plays the drums?", "Oskar is on drums.")
        True
    """
    question = without_lead_context(question)
    q = question.strip().lower()
    asked_words = {w.lower() for w in re.findall(r"[A-Za-z0-9]+", question)}
    names = [
        w
        for i, w in enumerate(re.findall(r"(?<![.!?] )\b[A-Za-z][\w'’-]*", text))
        if w[0].isupper()
        and w.lower().removesuffix("'s") not in asked_words | _MONTHS_DAYS
        and (i > 0 or re.split(r"['’]", w)[0] not in NOT_NAMES)
        and w not in ("I", "I'm", "I've", "Mr", "Mrs", "Ms", "Dr")
    ]
    numbers = [n for n in re.findall(r"\d[\d.,:]*", text) if n not in asked_words]
    if re.search(r"\bwhen did i (?:tell|say|mention)|\bwhen did you (?:learn|hear)", q):
        return True  # answered by the date it was said
    kind = re.match(r"^\s*(?:and\s+)?(?:which|what)\s+([a-z]+)\b", q)
    if kind and kind.group(1) in ("day", "date", "time"):
        # "what day did I shop there?" is answered by a day or a date, not "thank you for…"
        return bool(_TIME_VALUE.search(text) or re.search(r"\b\d{1,4}[./-]\d{1,2}\b", text))
    if kind and kind.group(1) in _NAMED_KINDS and kind.group(1)[:4] not in text.lower():
        # "which hospital does Beatriz work at?" is answered by a name, not "Beatriz is a nurse";
        # "which airline am I flying with?" not by where to ("flying to Montreal")
        if kind.group(1) not in _PLACE_KINDS:
            names = [
                n
                for n in names
                if not re.search(rf"\b(?:to|in|into|from|via)\s+(?:\w+\s+)?{re.escape(n)}", text)
            ]
        return bool(names)
    if re.match(r"^\s*(?:and\s+)?what\s+colou?r\b", q):
        return bool(_COLOUR.search(text))  # "what colour is my bike?" is not "I bought a Brompton"
    if re.match(r"^\s*(?:and\s+)?what\s+breed\b", q):
        return bool(_BREED.search(text))  # "what breed is Truffle?" is not "she's called Truffle"
    options = re.search(r"\b(\w+)\s+or\s+(\w+)\s*\??\s*$", q)
    if options and "," in q:
        # "which knee was it, left or right?": one of the two, or it does not say
        return any(re.search(rf"\b{re.escape(o)}", text, re.I) for o in options.groups())
    if re.match(r"^\s*(?:and\s+)?whose\b", q):
        # "whose dog is Bramble?": an owner, "my mum's", "Kate's", "ours"; not where the
        # wedding is ("flying to Montréal for a wedding")
        owners = [
            n
            for n in names
            if not re.search(rf"\b(?:to|in|at|from)\s+{re.escape(n)}", text)
            and not text.lstrip().startswith(n)  # "Flying to Montréal…" names no one first
        ]
        return bool(owners) or bool(re.search(r"\b(?:my|our|mine|ours)\b|\w's\b", text, re.I))
    if _MEASURE.match(q):
        return bool(numbers)  # "what's the wattage of the kettle?" needs a number
    unit = _asked_unit(q)
    if unit is not None and not unit.search(text):
        return False  # "how many hours…?" is not answered by "3-6 weeks"
    if _ASKS_PRICE.search(q) and not _AMOUNT.search(text):
        return False  # "how much does it cost?" needs an amount of money, or "free"
    if re.search(r"\bhow (?:old|many|much|long|often|far)\b", q):
        return bool(numbers) or bool(_HINTS["age"].search(text)) or "every" in text.lower()
    if re.match(r"^\s*(?:and\s+)?when did (?:i|we)\b", q) and coverage(question, text) >= 0.6:
        return True  # "when did I start learning the cello?": the day it was said tells
    if re.match(r"^\s*(?:and\s+)?when\b", q):
        return (
            bool(numbers)
            or bool(_DATE.search(text))
            or bool(
                re.search(
                    r"\b(?:today|tomorrow|yesterday|tonight|next|last|ago|since)\b", text, re.I
                )
            )
            or bool(_RECURRING.search(text))  # "The ceiling resets each calendar year."
        )
    if re.match(r"^\s*(?:and\s+)?(?:who|whom|whose)\b", q) or re.search(
        r"\b(?:name|named|naming|names|called|calling|call)\b", q
    ):
        return bool(names)
    if re.match(r"^\s*(?:and\s+)?where\b", q):
        return (
            bool(names)
            or bool(_HINTS["residence"].search(text))
            or bool(
                re.search(r"\b(?:at|in|on|near|by)\s+(?:the\s+)?(?!" + _TIMES + r")[a-z]", text)
            )
        )
    return True


#: A time that comes round: "each calendar year", "every spring", "annually", "at the end of"
_RECURRING = re.compile(
    r"\b(?:each|every|per)\s+(?:calendar\s+|financial\s+|tax\s+|school\s+)?(?:day|week|month|"
    r"quarter|year|season|term|spring|summer|autumn|fall|winter|morning|evening|night)\b|"
    r"\b(?:annually|yearly|monthly|weekly|daily|nightly)\b|\bat the (?:end|start|beginning) of\b",
    re.I,
)
_COLOUR = re.compile(
    r"\b(?:red|orange|yellow|green|blue|purple|violet|pink|brown|black|white|grey|gray|silver|"
    r"gold|golden|beige|cream|navy|teal|turquoise|maroon|burgundy|khaki|olive|tan|ginger|"
    r"tabby|colou?r(?:ed)?|dark|light|pale|bright)\b",
    re.I,
)
#: Units a question may ask a value in, each with the words that give it
_UNITS = {
    "second": r"seconds?|secs?",
    "minute": r"minutes?|mins?",
    "hour": r"hours?|hrs?|\d\s*h\b|overnight",
    "day": r"days?|daily|nights?|overnight",
    "week": r"weeks?|weekly|fortnights?",
    "month": r"months?|monthly",
    "year": r"years?|yearly|annual(?:ly)?|yrs?",
    "kilometre": r"kilomet(?:re|er)s?|km\b",
    "mile": r"miles?",
    "metre": r"met(?:re|er)s?|\d\s*m\b|m²|m2\b",
    "kilo": r"kilo(?:gram)?s?|kg\b",
    "litre": r"lit(?:re|er)s?|\d\s*l\b|ml\b",
    "percent": r"per ?cent|%",
    "calorie": r"calories|kcal\b",
}
_ASKS_PRICE = re.compile(
    r"\bhow much\b.*\b(?:cost|costs|pay|paid|charge|charged|price|fee|fees|spend)\b|"
    r"\bwhat(?:'s| is| does| was)\b.*\b(?:cost|price|fee|total|bill|deposit|balance)\b",
    re.I,
)
_AMOUNT = re.compile(
    r"\d+[.,]\d\d\b|"  # "TOTAL PAID (card) 53.50"
    r"[€$£¥]\s*\d|\d\s*(?:[€$£¥]|eur\b|euros?|usd|dollars?|gbp|pounds?|quid|sek|kr\b|kronor|"
    r"krona|nok|dkk|chf|francs?|yen|cents?|p\b)|\bfree\b|\bno charge\b|\bcosts? nothing\b",
    re.I,
)


def _asked_unit(question: str) -> re.Pattern[str] | None:
    """The unit a question asks its value in ("how many hours…?", "…in kilometres?"), as a
    pattern of the words that give it, or None."""
    m = re.search(
        r"\bhow many\s+(\w+)|\bin\s+(\w+)\s*\??\s*$|\bhow long\b.*\bin\s+(\w+)", question, re.I
    )
    if m is None:
        if re.search(r"\bhow long\b", question, re.I) and not re.search(
            r"\bhow long ago\b|\bhow long (?:is|are|was) (?:the|my|our|a|an)?\s*(?:\w+\s+)?"
            r"(?:name|word|list|queue|line)\b",
            question,
            re.I,
        ):
            # "how long is the bus ride?": a duration or a length, not "leaves at 22:00"
            lengths = "|".join(_UNITS[u] for u in ("kilometre", "mile", "metre"))
            durations = "|".join(
                _UNITS[u] for u in ("second", "minute", "hour", "day", "week", "month", "year")
            )
            return re.compile(
                rf"(?<![a-z])(?:{durations}|{lengths}|\d\s*(?:h|min|cm|ft)\b|until|till|by|since|"
                r"ago|in \d{4})(?![a-z])",
                re.I,
            )
        return None
    word = (m.group(1) or m.group(2) or m.group(3) or "").lower().rstrip("s")
    for unit, pattern in _UNITS.items():
        if re.fullmatch(rf"(?:{pattern})", word) or word in (unit, unit.replace("re", "er")):
            return re.compile(rf"(?<![a-z])(?:{pattern})(?![a-z])", re.I)
    return None


#: What answers "what breed…?": a breed, a cross or a mongrel (cats and dogs, the usual pets)
_BREED = re.compile(
    r"\b(?:terrier|spaniel|retriever|collie|shepherd|poodle|beagle|lurcher|labrador|lab|"
    r"greyhound|whippet|husky|pug|dachshund|sausage dog|corgi|bulldog|boxer|setter|pointer|"
    r"hound|mastiff|rottweiler|dobermann?|schnauzer|chihuahua|pomeranian|shih tzu|bichon|"
    r"cockapoo|labradoodle|cavapoo|cavalier|doodle|malamute|akita|samoyed|weimaraner|vizsla|"
    r"sheepdog|staffie|staffy|mongrel|mutt|cross|mix|mixed breed|breed|tabby|siamese|persian|"
    r"maine coon|ragdoll|bengal|sphynx|burmese|british shorthair|moggy|tortoiseshell)s?\b",
    re.I,
)


def _subject_words(question: str) -> set[str]:
    """Whom a question is about: the names it gives and the relations after "my"/"our"."""
    return (
        _asked_names(question)
        | {
            r.lower()
            for r in re.findall(r"\b(?:my|our)\s+([a-z-]+?)(?:'s)?\b", question, re.I)
            if r.lower() in RELATIONS
        }
        # "what's dad allergic to?": a parent named as one names them
        | {w.lower() for w in re.findall(_NAMED_AS_PARENT, question, re.I)}
    )


_NAMED_AS_PARENT = r"\b(mum|mom|mam|dad|nan|gran|granny|grandma|grandpa|grandad)\b"


def _beyond_subject(question: str, text: str) -> bool:
    """The memory shares a word with what the question asks, not only with whom it asks about:
    "what is my nephew allergic to?" is not answered by "my nephew is obsessed with axolotls".

    Example:
        >>> _beyond_subject("What is my nephew allergic to?", "My nephew Oisin loves axolotls.")
        False
        >>> _beyond_subject("Who is my nephew?", "My nephew Oisin loves axolotls.")
        True
    """
    asked = content_words(question) - content_words(" ".join(_subject_words(question)))
    if _TIMED.match(question) and _TIME_VALUE.search(text):
        # "when's my dentist appointment?" / "the dentist's office moved me to Friday"
        return True
    if re.match(r"^\s*(?:and\s+)?how old\b", question, re.I) and _HINTS["age"].search(text):
        return True  # "how old is Turnip?" / "Turnip is actually five, not three"
    if re.match(r"^\s*(?:and\s+)?what\s+(?:breed|colou?r)\b", question, re.I):
        # "what breed is Brisket?": the breed's name answers, not the word "breed"
        return (_BREED if "breed" in question.lower() else _COLOUR).search(text) is not None
    return not asked or bool(asked & content_words(text))


#: "when is/was/'s …?" (not "when did I tell you"): answered by a day, a date or a time
_TIMED = re.compile(r"^\s*(?:and\s+)?when(?:'s|\s+is|\s+was|\s+are|\s+will)\b", re.I)
_TIME_VALUE = re.compile(
    r"\b(?:mondays?|tuesdays?|wednesdays?|thursdays?|fridays?|saturdays?|sundays?|january|"
    r"february|march|"
    r"april|may|june|july|august|september|october|november|december|tomorrow|tonight|"
    r"next (?:week|month|year)|\d{1,2}(?::\d\d)?\s*(?:am|pm)|\d{1,2}:\d\d|\d{1,2}(?:st|nd|rd|th)|"
    r"\d{4}-\d\d-\d\d|\d{1,2}/\d{1,2})\b",
    re.I,
)


#: The user and someone: "me and Teodor", "Teodor and I", "my sister and me"
_TOGETHER = re.compile(
    r"\b(?:me|i) and (?:my \w+|[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)\b|"
    r"\b(?:my \w+|[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+) and (?:me|i)\b"
)


def _close_enough(question: str, memory: dict[str, Any]) -> bool:
    """Half the question's content words are in the memory, or a few are and the two mean
    nearly the same ("who plays the drums in my band?" / "My flatmate Oskar is on drums.")."""
    cover = coverage(question, memory["text"])
    together = _TOGETHER.search(question)
    if together and re.match(r"(?i)^(?:we|we're|we've|our)\b", memory["text"]):
        # "where do me and Teodor meet?" / "We meet at the Copper Kettle": "we" is the two
        cover = coverage(question.replace(together.group(0), "we"), memory["text"])
    return (
        cover >= 0.5
        or (cover > 0 and memory.get("similarity", 0.0) >= 0.55)
        # "how much did I pay for the replacement bike?" / "… a green Brompton. Cost me £1,450"
        or (cover > 0 and holds_asked_value(question, memory["text"]))
    )


#: "what's the wattage of the kettle?": a quantity, answered by a number
_MEASURE = re.compile(
    r"^\s*(?:and\s+)?what(?:'s|\s+is|\s+are|\s+was)\s+(?:the\s+|its\s+|their\s+)?(?:\w+\s+)?"
    r"(?:wattage|voltage|price|cost|weight|length|height|width|depth|capacity|temperature|"
    r"speed|amount|fee|fees|rent|deposit|distance|duration|percentage|rate|dose|dosage|"
    r"calories|mileage|budget|salary|phone number|number)\b",
    re.I,
)
_TYPED = re.compile(
    r"^\s*(?:and\s+)?(?:how (?:much|many|long|old|often)|when|where|who|"
    r"(?:what|which) (?:day|date|time)\b)\b|" + _MEASURE.pattern,
    re.I,
)


def holds_asked_value(question: str, sentence: str) -> bool:
    """The question asks for a value of a kind ("how much", "when", "where", "who") and the
    sentence holds one: "how much did I pay at the bike shop?" / "TOTAL PAID (card) 53.50"."""
    return bool(_TYPED.match(without_lead_context(question))) and _of_expected_type(
        question, sentence
    )


_IN_PLACE = re.compile(r"\b(?:in|near)\s+[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]")


def _other_slot(have: tuple[str, str] | None, asked: tuple[str, str] | None) -> bool:
    """``have`` is a known attribute of the subject asked about, but not the one asked."""
    if have is None or asked is None or have[0] != asked[0]:
        return False
    mine, theirs = have[1].removeprefix("past "), asked[1]
    return mine != theirs and mine in _KNOWN and theirs in _KNOWN


_FOCUS = re.compile(
    r"^\s*(?:(?:and|also|so|ok|okay|oh|but|btw)\b[\s,]*)*(?:who|what|which|where)"
    r"(?:'s|'re|\s+is|\s+are|\s+was|\s+were|\s+does|\s+do|\s+did)?\s+"
    r"(?:the\s+|my\s+|our\s+|his\s+|her\s+|their\s+)?([a-z][a-z-]+)",
    re.I,
)


def focus_word(question: str) -> str | None:
    """The word a wh-question turns on, as :func:`content_words` spells it: the first content
    word after the question word ("who's the *groundsman* at the club?", "who *coaches* the
    under-12s?"), or None.

    Example:
        >>> focus_word("who's the groundsman at the hockey club?"), focus_word("Who is it?")
        ('grou', None)
    """
    m = _FOCUS.match(question)
    words = content_words(m.group(1)) if m else set()
    return next(iter(words)) if len(words) == 1 else None


def _exact(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[A-Za-z0-9]+", text)} - GENERIC_WORDS


def fills(have: tuple[str, str] | None, asked: tuple[str, str], text: str) -> bool:
    """A fact of slot ``have`` (its text ``text``) answers a question about ``asked``.

    Same attribute (a past value counts; a full name answers the surname) and the same subject
    — also when the fact names the subject both ways: "My daughter Zoe is seven" is about Zoe
    and about "my daughter".
    """
    if have is None:
        return False
    attribute = (
        have[1] in (asked[1], f"past {asked[1]}")
        or (asked[1] == "surname" and have[1] == "name")
        or (have[0] == asked[0] == "i" and same_secret(have[1].removeprefix("past "), asked[1]))
        # "my appointment" and "my dentist appointment" are the same thing of the user's
        or (
            have[0] == "i"
            and (asked[1].endswith(" " + have[1]) or have[1].endswith(" " + asked[1]))
        )
    )
    if not attribute:
        return False
    if have[0] == asked[0]:
        return True
    low = text.lower()
    if asked[0].startswith("my "):
        noun = asked[0].removeprefix("my ")
        return any(f"my {n}" in low for n in KIN_WORDS.get(noun, [noun]))
    # a name asked about: a fact about "my sister Ana" is about Ana, "Sam" may be "Sam Patel";
    # one about the user is not
    if have[0].split()[0] == asked[0] and " " in have[0]:
        return True
    return have[0].startswith("my ") and bool(re.search(rf"\b{re.escape(asked[0])}\b", low))


def coverage(question: str, text: str) -> float:
    """The share of the question's content words that ``text`` holds.

    Example:
        >>> coverage("What time does my flight to Iceland leave?", "I'm going to Iceland.")
        0.25
    """
    asked = content_words(question)
    return len(asked & content_words(text)) / len(asked) if asked else 0.0


def _subject_matches(subject: str, text: str, attribute: str = "") -> bool:
    """A memory can answer a question about ``subject`` only if it is about them (or about
    the thing of theirs asked after: "where is our summer cabin?" / "The cabin is near …")."""
    low = text.lower()
    if subject == "i":
        thing = attribute.split()[-1] if attribute and attribute not in _KNOWN else ""
        return bool(re.search(r"\b(i|i'm|my|me|we|our)\b", low)) or (
            len(thing) > 2 and bool(re.search(rf"\b{re.escape(thing[:4])}", low))
        )
    noun = subject.removeprefix("my ")
    spelled = KIN_WORDS.get(noun, [noun])  # "my mother" is also "my mum"
    # …and "my kids" are "my twins"
    return any(re.search(rf"\b{re.escape(n)}", low) for n in spelled) or bool(
        content_words(noun) & content_words(low)
    )


def _when(date: str) -> str:
    try:
        d = dt.date.fromisoformat(date[:10])
    except ValueError:
        return date
    return f"{d.day} {d.strftime('%b')} {d.year}"


_SENTENCE_OPENERS = frozenset(
    "you your my our the a an this that these those it its there they their we he she his her "
    "i i'm i've".split()
)


def extractive_answer(question: str, found: Sequence[dict[str, Any]]) -> str:
    """The memories themselves, said back to the user with their dates.

    Example:
        >>> extractive_answer("What is my dog called?",
        ...     [{"text": "My dog is called Rex.", "date": "2026-12-02", "current": True}])
        'Your dog is called Rex (you told me on 2 Dec 2026).'
        >>> extractive_answer("When did I move to Lyon?",
        ...     [{"text": "I just moved to Lyon.", "date": "2026-11-30", "current": True}])
        'You told me on 30 Nov 2026: you just moved to Lyon.'
    """
    if not found:
        return UNKNOWN_REPLY
    if asks_when(question):
        best = found[0]
        said = second_person(best["text"].rstrip(".!"))
        # "you just moved…", but "Martha is your physio" keeps its name's capital
        first = said.split(" ", 1)[0]
        keep = first[:1].isupper() and first.lower() not in _SENTENCE_OPENERS
        return (
            f"You told me on {_when(best['date'])}: {said if keep else said[0].lower() + said[1:]}."
        )
    if asks_history(question):
        past = [m for m in found if not m.get("current", True)]
        now = [m for m in found if m.get("current", True)]
        if not past:
            return UNKNOWN_REPLY  # "Where did I use to work?" with only today's job known
        if past:
            lines = [
                f"{second_person(m['text'].rstrip('.!'))} (you told me on {_when(m['date'])})"
                for m in past[:3]
            ]
            text = "Before: " + "; ".join(lines) + "."
            if now:
                text += f" Now: {second_person(now[0]['text'].rstrip('.!'))}."
            return text
    if found[0].get("slot"):
        found = [m for m in found if m.get("slot")]  # the slot's own facts, not neighbours
    current = [m for m in found if m.get("current", True)] or list(found)
    best = current[0]
    asked = question_slot(question)
    named = asked is not None and (asked[1] == "name" or asked == ("i", "partner"))
    value = _name_value(best["text"]) if named else None
    if value is None and named and asked is not None and asked[0].startswith("my "):
        # "what's my partner's name?" of "My partner Luca runs a trattoria": the name beside
        whose = re.search(
            rf"\b(?i:my|our)\s+(?i:{re.escape(asked[0].split()[-1])})\s+([A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)\b",
            best["text"],
        )
        value = whose.group(1) if whose and whose.group(1) not in NOT_NAMES else None
    if value is not None and asked is not None and asked[0].startswith("my "):
        said = f"Your {asked[0].removeprefix('my ')} is called {value}"  # not the old name too
    elif value is not None and asked == ("i", "partner"):
        # "Renata and I broke up… I'm seeing someone new, her name's Juliette": not Renata
        said = f"Your partner is {value}"
    else:
        said = second_person(part_about(question, best["text"]).rstrip(".!"))
    return f"{said} (you told me on {_when(best['date'])})."


#: Where one told fact holds several: sentences, "; ", " — ", ": " and ", and …"
_PARTS = re.compile(
    r"(?<=[.!?])\s+|;\s+|\s+[—–]\s+|:\s+|,\s+(?:and|but|while|whereas)\s+|"
    # "Elsie at number 22 is the vet, Elise at number 26 runs the bike shop"
    r",\s+(?=[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+\s+(?:at|is|was|has|runs|lives|works|does|[a-z]+s)\b)"
)


def part_about(question: str, text: str) -> str:
    """The part of a told fact about whom the question names, when the fact tells of others
    too ("What breed is Brisket?" in "We have two dogs: Biscuit, a greyhound, and Brisket, a
    dachshund"); the whole fact otherwise.

    Example:
        >>> part_about("Where does Johanna live?",
        ...     "My sister Joanna lives in Cork. My sister-in-law Johanna lives in Lisbon.")
        'My sister-in-law Johanna lives in Lisbon.'
        >>> part_about("What breed is Brisket?",
        ...     "We have two dogs: Biscuit, a greyhound, and Brisket, a stubborn dachshund.")
        'Brisket, a stubborn dachshund.'
        >>> part_about("What do I owe Martina?", "Marta owes me 40 euros. My cousin Martina "
        ...     "owes me nothing. I owe her a dinner.")
        'My cousin Martina owes me nothing. I owe her a dinner.'
        >>> part_about("Where do I live?", "I live in Leeds; my sister lives in York.")
        'I live in Leeds; my sister lives in York.'
    """
    names = _asked_names(question) - NOT_NAMES
    if not names and asks_whom(question):
        # "which of my neighbours fixes bikes?" in "Elsie at 22 is the vet, Elise at 26 runs
        # the bike repair shop": the one part that holds what is asked
        parts = [p for p in _PARTS.split(text) if p.strip()]
        held = _only_part(parts, content_words(question) & content_words(text))
        if (
            held is not None
            and len(parts) > 1
            and not _TITLE_END.search(text)  # "My doctor is Dr. Okonkwo" is one part
            and set(re.findall(r"\b[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+", parts[held])) - NOT_NAMES
        ):
            return parts[held]
    if not names:
        return _answering_sentence(question, _new_part(question, text))
    parts = [p for p in _PARTS.split(text) if p.strip()]
    named = [any(re.search(rf"\b{re.escape(n)}\b", p) for n in names) for p in parts]
    # "…Martina doesn't owe me anything. I owe her a dinner": a part that points back at
    # whom the one before named, and names no one else, is about them too
    for i in range(1, len(parts)):
        if (
            not named[i]
            and (
                (named[i - 1] and re.search(r"\b(?:she|he|her|him|his|hers)\b", parts[i], re.I))
                # "Biscuit chewed my cable again. Third one. That corgi will bankrupt me."
                or (any(named[:i]) and re.match(r"(?:that|this)\s+[a-z]+\b", parts[i], re.I))
            )
            and not (_asked_names(parts[i]) - NOT_NAMES)
        ):
            named[i] = True
    about = [p for p, n in zip(parts, named, strict=True) if n]
    if not about or len(about) == len(parts):
        return text
    return " ".join(about)


def the_one_named(question: str, memories: Sequence[dict[str, Any]]) -> str | None:
    """The question asked of the person a told fact names as the relation it asks about
    ("how much does my flatmate owe me?" with "Sam is my flatmate." → "how much does Sam owe
    me?"), or None.

    Example:
        >>> the_one_named("how much does my flatmate owe me?", [{"text": "Sam is my flatmate."}])
        'how much does Sam owe me?'
    """
    for m in re.finditer(r"\b(?:my|our)\s+([a-z-]+)\b", question, re.I):
        noun = re.escape(m.group(1))
        for mem in memories:
            if not mem.get("current", True):
                continue
            named = re.search(
                rf"^([A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+) is (?:my|our) {noun}\b|"
                rf"\b(?:my|our) {noun} is (?:called |named )?([A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)",
                mem["text"],
                re.I,
            )
            name = named and (named.group(1) or named.group(2))
            if name and name[0].isupper() and name not in NOT_NAMES:
                return question[: m.start()] + name + question[m.end() :]
    return None


def is_naming(text: str) -> bool:
    """A fact that only says who someone is to the user: "Sam is my flatmate."."""
    return bool(
        re.fullmatch(
            r"\s*(?:[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+ is (?:my|our) [a-z-]+|(?:my|our) [a-z-]+ is "
            r"(?:called |named )?[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)[.!]?\s*",
            text,
            re.I,
        )
    )


#: A title's full stop, which ends no sentence: "Dr. Okonkwo", "Mrs. Hale", "St. Ives"
_TITLE_END = re.compile(r"\b(?:Dr|Mr|Mrs|Ms|Mx|Prof|St|Rev|Capt|Sgt)\.\s")


_OWN_SUBJECT = re.compile(
    r"^(?:(?:my|our|i|i'm|i've|we|we're)\b|[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+(?:'s\s+[a-z]+)?\s+"
    r"(?:is|was|has|are|were|lives|works|runs|[a-z]+s)\b)",
    re.I,
)


def _answering_sentence(question: str, text: str) -> str:
    """Of a memory of several sentences, the one holding every word of the question the memory
    holds ("who am I mentoring?" in "Dev is the graduate I'm mentoring. Deb's birthday is 4
    May."); the whole memory when the words are spread over its sentences.

    Example:
        >>> _answering_sentence("who am I mentoring?", "Dev is who I'm mentoring. Deb is 40.")
        "Dev is who I'm mentoring."
        >>> _answering_sentence("where are choir rehearsals?", "I joined a choir. Rehearsals "
        ...     "are in St Mark's hall.")
        "I joined a choir. Rehearsals are in St Mark's hall."
    """
    sentences = [p for p in re.split(r"(?<=[.!?])\s+", text.strip()) if p.strip()]
    shared = content_words(question) & content_words(text)
    if len(sentences) < 2 or not shared or _TITLE_END.search(text):
        return text
    one = _only_part(sentences, shared)
    if one is None or not all(
        # only sentences with a subject of their own are left out ("Deb's birthday is …"),
        # not what carries on ("I joined a pottery class. Tuesdays at 6.30 …")
        _OWN_SUBJECT.match(p)
        and p.split()[0].rstrip("'s").lower() not in _MONTHS_DAYS
        # "We named him Dumpling" points back at the rabbit
        and not re.search(r"\b(?:him|her|it|them|he|she|they|his|its|their)\b", p, re.I)
        for i, p in enumerate(sentences)
        if i != one
    ):
        return text
    # "My aunt opened a tea room! It's in Arles and it's called …": what points back stays
    end = one + 1
    while end < len(sentences) and re.match(
        r"(?i)(?:it|its|it's|he|she|his|her|they|their|this|that|there)\b", sentences[end]
    ):
        end += 1
    return " ".join(sentences[one:end])


def _new_part(question: str, text: str) -> str:
    """Of a fact that tells a change ("Gwendolyn stepped down last week, the new captain's
    Rhodri Evans"), the one clause naming the new value of what is asked ("who's the captain
    of the rowing club?"); the whole fact otherwise.

    Example:
        >>> _new_part("who's the captain?", "Gwendolyn stepped down, the new captain's Rhodri.")
        "the new captain's Rhodri."
    """
    focus = focus_word(question)
    if focus is None or not says_change(text):
        return text
    parts = [p for p in re.split(r"(?<=[.!?])\s+|;\s+|,\s+|\s+[—–-]\s+", text) if p.strip()]
    held = _only_part(parts, {focus})
    # …and it holds the value: "it's 8025 now" is not left behind for "changed the door code"
    if held is not None and len(parts) > 1 and says_change(parts[held]) and salient(parts[held]):
        return parts[held]
    return text


def _only_part(parts: Sequence[str], words: set[str]) -> int | None:
    """The index of the one part holding all of ``words`` (none asked, none or several: None)."""
    held = [i for i, p in enumerate(parts) if words and words <= content_words(p)]
    return held[0] if len(held) == 1 else None


_NAME_VALUE = re.compile(
    r"\b(?:called|named|renamed(?:\s+(?:the|our|my)\s+\w+)?|renaming(?:\s+(?:the|our|my)\s+\w+)?|"
    r"name is|name's)\s+(?:her|him|it\s+)?\s*([A-Z][\w-]*(?:\s+[A-Z][\w-]*)?)"
)


def _name_value(text: str) -> str | None:
    """The name a fact gives ("…renaming the kitten Mochi, Pixel just didn't suit her" → Mochi).

    Example:
        >>> _name_value("We ended up renaming the kitten Mochi, Pixel just didn't suit her.")
        'Mochi'
    """
    m = _NAME_VALUE.search(text)
    return m.group(1) if m else None


def _tokens(text: str) -> set[str]:
    return {t.lower().strip(".,") for t in _TOKEN.findall(text)}


def salient(text: str) -> set[str]:
    """Numbers and names in ``text``, lower-cased (a capitalised word that does not open the
    sentence and is not a sentence word such as "The" or "I'm").

    Example:
        >>> sorted(salient("My passport number is X1234567, Anna said."))
        ['anna', 'x1234567']
    """
    out = set()
    words = _TOKEN.findall(text)
    for i, w in enumerate(words):
        if any(c.isdigit() for c in w):
            out.add(w.lower().strip(".,"))
        elif w[0].isupper() and i > 0 and w not in NOT_NAMES and w not in ("You're",):
            out.add(w.lower())
    return out


def grounded(answer: str, found: Sequence[dict[str, Any]], question: str) -> bool:
    """True when ``answer`` is supported by the evidence (see the module docstring).

    Example:
        >>> facts = [{"text": "My daughter is called Zoe and she is seven."}]
        >>> grounded("Your daughter is seven.", facts, "How old is my daughter?")
        True
        >>> grounded("Your daughter is 20 years old.", facts, "How old is my daughter?")
        False
        >>> grounded("My daughter is seven.", facts, "How old is my daughter?")
        False
    """
    if not answer.strip() or _DONT_KNOW.search(answer) or len(answer.split()) > 40:
        return False
    if _FIRST_PERSON.search(answer):
        return False  # the model spoke as the user ("I live in Lisbon"): say it back instead
    source = " ".join(m["text"] for m in found)
    known = _tokens(source) | _tokens(question)
    if not salient(answer) <= known:
        return False
    best = found[0]["text"] if found else ""
    if content_words(answer) - content_words(best) - content_words(question) - _SPEECH:
        return False  # words from another memory ("Sam Patel designs houses") or invented
    new_in_evidence = content_words(best) - content_words(question)
    return bool(content_words(answer) & new_in_evidence)


def model_answer(llm: LLM, question: str, found: Sequence[dict[str, Any]], cancel: Any) -> str:
    """An instruction-tuned model's greedy answer from the evidence ("" if it gave none)."""
    facts = "\n".join(f"- ({m['date']}) {m['text']}" for m in found[:4])
    prompt = llm.chat_format.render(
        [
            Message("system", f"{_INSTRUCTIONS}\n\nFacts:\n{facts}"),
            Message("user", question),
        ]
    )
    done = llm.complete(
        prompt, temperature=0, max_tokens=64, stop=llm.chat_format.stop, cancel=cancel
    )
    return done.text.strip().split("\n")[0].strip()


# -- documents ------------------------------------------------------------------------------

# punctuation followed by a non-space ("1.5 litres", "8.15") does not end a sentence
# dot leaders ("TOTAL PAID ........ 53.50") and an ellipsis inside a line do not end a sentence
# an abbreviation's point ("approx. 10 m²", "e.g. a fan") does not end one either
_SENTENCE = re.compile(
    r"(?:\b(?:approx|incl|excl|e\.g|i\.e|vs|cf|ca|Mr|Mrs|Ms|Dr|St|No|Nr)\.[ \t]+(?=\S)|"
    # an abbreviation before a number is no sentence's end: "AB 04 kap. 5 § 6", "p. 12"
    r"\b[A-Za-z]{1,3}\.[ \t]+(?=\d)|"
    r"[^.!?\n]|[.!?](?=[^\s.!?])|\.{2,}[ \t]*(?=[^\s.]))+(?:[.!?]+|(?=\n)|$)"
)
#: An amount of money: a currency sign, a currency's name or its ISO 4217 code (in capitals)
#: beside a number: "€950", "950 euros", "4,000-15,000 SEK", "CHF 30", "200 kronor"
_MONEY = re.compile(
    r"[€$£¥₹₩₽]\s*\d|\d\s*(?:euros?|eur|dollars?|pounds?|usd|gbp|cents?|pence|kronor|kroner|"
    r"kronur|krona|krone|kr|francs?|yen|yuan|rupees?|zloty|forints?|€|\$|£|¥|₹)(?!\w)|"
    r"\d\s*(?-i:[A-Z]{3})(?!\w)|(?<!\w)(?!ISO)(?-i:[A-Z]{3})\s?\d",
    re.I,
)
_CLOCK = re.compile(r"\b\d{1,2}[:.]\d{2}\b|\b\d{1,2}\s*(?:am|pm)\b|\bo'clock\b", re.I)
_DATE = re.compile(
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b|\b\d{1,2}(?:st|nd|rd|th)\b|"
    r"\b(?:mon|tues|wednes|thurs|fri|satur|sun)days?\b|\b\d{4}-\d{2}-\d{2}\b",
    re.I,
)


def _wanted_amount(question: str) -> re.Pattern[str] | None:
    """What kind of value the question asks for, as a pattern a sentence holding it matches."""
    q = question.lower()
    if re.search(
        r"\bhow much\b.*\b(money|cost|price|pay|fee|rent|charge|spend|euro|dollar|"
        r"pound)|\bhow much (?:is|does|did|do|will)\b.*\bcost|\bprice\b|\bcost\b",
        q,
    ):
        return _MONEY
    if re.search(r"\bwhat time\b|\bat what time\b", q):
        return _CLOCK
    if re.search(r"^\s*(?:and\s+)?when\b|\bwhat date\b|\bwhich day\b", q):
        return _DATE
    if re.search(r"\bhow (?:much|many|long|old|often|far)\b", q):
        return re.compile(r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten)\b", re.I)
    return None


_NEGATION = re.compile(
    r"\b(no|not|never|none|nobody|nothing|cannot|can't|won't|isn't|aren't|don't|doesn't|"
    r"didn't|mustn't|shouldn't|without|forbid\w*|prohibit\w*|disallow\w*|ban\w*|"
    r"exclud\w*|except\w*)\b",
    re.I,
)
_DOC_WORDS = frozenset(
    "document documents doc docs file files note notes lease contract policy manual pdf report "
    "say says said according mention mentions mentioned".split()
)
#: Words that point at no passage ("picked up", "if I want to", "is it OK to")
_FUNCTION_WORDS = frozenset(
    "if up out into onto by want wants wanted just ok okay really actually also ever".split()
)
DOES_NOT_SAY = "I don't know: your documents do not mention it."
_GENERIC_STEMS = frozenset(w[:5] for w in GENERIC_WORDS)


def _stems(text: str) -> set[str]:
    out = set()
    for w in re.findall(r"[a-z0-9]+", text.lower()):
        if w in _DOC_WORDS or w in GENERIC_WORDS or w in _FUNCTION_WORDS or len(w) < 2:
            continue  # "does" is not "doe" once its s is cut
        w = LEMMA.get(w, w)
        w = SAME_IDEA.get(w, w)  # "a year" meets "annual", "apartment" meets "flat"
        w = w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w
        if len(w) > 5 and w.endswith(("iest", "ier")):
            w = w[: -4 if w.endswith("iest") else -3] + "y"  # "the busiest" meets "busy"
        out.add(w[:5])
    return out - _GENERIC_STEMS


#: What "how long / often / far / old / big" asks besides its subject, and fillers ("anyway",
#: "again", "exactly", "though"); 5-letter stems
_HOW_WORDS = frozenset(
    {"long", "often", "far", "old", "big", "large", "early", "late"}
    | {"anywa", "again", "exact", "thoug"}
)


def best_sentence(
    question: str,
    chunks: Sequence[dict[str, Any]],
    similar: Callable[[str, list[str]], Sequence[float]] | None = None,
) -> dict[str, Any] | None:
    """The sentence of the retrieved chunks that shares most words with the question, with its
    chunk and offsets; None when no sentence shares a meaningful word.

    Example:
        >>> chunk = {"n": 1, "quote": "Rent is 950 euros. No dogs are allowed.", "start": 10,
        ...          "source": "lease.txt", "path": "lease.txt", "page": None}
        >>> best_sentence("Does my lease allow dogs?", [chunk])["sentence"]
        'No dogs are allowed.'
    """
    asked = _stems(question)
    wants = _wanted_amount(question)
    # "until what time on a Sunday…?" asks for a time as "what time…?" does
    kind = _LEAD_PREPOSITION.sub("", without_lead_context(question))
    typed = bool(_TYPED.match(kind))
    numbers = set(re.findall(r"\b\d+\b", question))
    # a code the question names ("flashing E4", "form P60", "gate B12") points at its line
    codes = _codes(question)
    best: tuple[float, int, dict[str, Any]] | None = None
    meaning = _meanings(question, chunks, similar)
    split = [_sentences(c) for c in chunks]
    weight = _rarity(asked, [_stems(m.group(0)) for found in split for m in found])
    # "what do I season uncle Bram's stew with?": the title's words name the document,
    # they do not point at the sentence that answers, in any of its excerpts
    titles = {
        c.get("path"): _stems(c["quote"].lstrip().split("\n", 1)[0])
        for c in chunks
        if c.get("start") == 0
    }
    elsewhere = _named_elsewhere(question, chunks)
    for rank, c in enumerate(chunks):
        found = split[rank]
        if c.get("path") in elsewhere:
            continue  # "what day did I shop at BuildMart?": not the house rules, the receipt
        carry = 0.0  # the words a heading or an FAQ's question shares, lent to what follows
        # how near in meaning the FAQ question (or "#" heading) over this paragraph is to the
        # question asked: "Can I claim ROT for work on my summer cottage?" is the FAQ's "Can I
        # get ROT on a holiday home?", whose answer shares no word with it but "ROT"
        under = 0.0
        # the words of that FAQ question: in the paragraph under it they say again what the
        # paragraph is about; the asked word they lack points at the sentence ("What does a
        # seller's hidden-defect insurance usually cost?" under "What is hidden-defect
        # insurance?": "The cost is around 4,000-15,000 SEK", not its first sentence)
        posed: set[str] = set()
        lead_line = ""  # the nearest heading or question above, in this excerpt
        title = titles.get(c.get("path"), set())
        for i, m in enumerate(found):
            lead = _is_lead(m.group(0))
            stems = _stems(m.group(0))
            have = asked & stems
            shared = sum(
                weight[w] * (_COMMON_WEIGHT if w in posed else 1.0) for w in have - title
            ) + _TITLE_WEIGHT * len(have & title)
            if lead:
                # a title lends its words in full when it is all the question asks about
                # ("what's on my packing list for Iceland?" / "Packing list for Iceland:")
                carry = float(len(have)) if have and asked <= title else shared
                lead_line = m.group(0).strip()
                under = _lead_meaning(lead_line, meaning)
                posed = stems if under >= _LEAD_MEANING_FROM else set()
                continue  # a heading or a question is not an answer; it points to one
            if _opposes(question, m.group(0)):
                carry = 0.0
                continue  # "when does the first bus leave?" is not "the last bus leaves at 22:00"
            if typed and not _of_expected_type(kind, _MODAL_MAY.sub("can", m.group(0))):
                carry = 0.0
                continue  # "who is the new treasurer?" is not answered by a sentence with no name
            score, carry = shared + (0.5 * carry if shared or carry >= 2 else 0.0), 0.0
            if score and numbers and numbers & set(re.findall(r"\b\d+\b", m.group(0))):
                score += 1.5  # "what's planned for day 3?" is "Day 3: …", not "Day 4: …"
            if score and codes and codes & _codes(m.group(0)):
                score += 1.5
            valued = _QUESTION_NUMBER.sub(
                lambda n: " " if n.group(0) in numbers else n.group(0), m.group(0)
            )  # "how much extra … on the 42?" is not answered by "line 42"
            valued = _MODAL_MAY.sub("can", valued)  # "Visitors may use…" names no month
            holds_value = wants is not None and bool(wants.search(valued))
            beside = holds_value and _value_beside(asked - title - _MEASURE_WORDS, valued)
            if not score and holds_value and asked & title and not asked - title - _HOW_WORDS:
                # "how long is the warranty?" of "Kestrel K2 Grinder - Limited Warranty": the
                # whole document is about what is asked; the answer is a sentence with the value
                score = 1.0
            if score and holds_value:
                score += 1.5  # "how much…?" is answered by the sentence with the amount
                if beside:
                    score += _BESIDE_WEIGHT  # "Serves 4.", "- 1.2 litres vegetable stock"
            sim = meaning.get(m.group(0).strip(), 0.0)
            if score or under >= DOC_SURE:
                # among sentences sharing words (or under the FAQ's question that is the one
                # asked), the closest
                score += _MEANING_WEIGHT * sim
                score += _LEAD_MEANING_WEIGHT * max(0.0, under - _LEAD_MEANING_FROM)

            if not score or (best is not None and (score, -rank) <= (best[0], best[1])):
                continue
            lo = m.start() + len(m.group(0)) - len(m.group(0).lstrip())
            hi = m.end()
            if _is_heading(m.group(0)) and i + 1 < len(found):
                hi = found[i + 1].end()  # a heading: its answer is what follows it
            sentence = c["quote"][lo:hi].strip()
            start = c["start"] + lo
            # the line (a paragraph, once unwrapped) it stands in: "E4: Low system pressure.
            # Top up through the filling loop…" holds what to do, its first sentence only what
            text = unwrapped(c["quote"])
            line_lo = text.rfind("\n", 0, lo) + 1
            line_hi = text.find("\n", hi)
            line_hi = len(text) if line_hi < 0 else line_hi
            line = c["quote"][line_lo:line_hi].strip()
            best = (
                score,
                -rank,
                {
                    **c,
                    "sentence": sentence,
                    "sentence_start": start,
                    "sentence_end": start + len(sentence),
                    "line": line,
                    "line_start": c["start"]
                    + line_lo
                    + (
                        len(c["quote"][line_lo:line_hi]) - len(c["quote"][line_lo:line_hi].lstrip())
                    ),
                    "similarity": round(sim, 4) if meaning else None,
                    # the sentences around it, for a question its neighbours set the scene of
                    "context": " ".join(f.group(0).strip() for f in found[max(0, i - 1) : i + 2]),
                    "title_words": sorted(title),
                    "under": _heading_over(found, i),
                    # an FAQ's answer: the nearest heading or question above it asks one
                    "lead": lead_line,
                    "faq": lead_line.endswith("?"),
                    "lead_similarity": under,
                    "holds_value": holds_value,
                    "value_beside": beside,
                },
            )
    return best[2] if best else None


#: A document sentence that speaks to the assistant is never the answer to a question (a
#: planted instruction, OWASP LLM01): it is not quoted.
_PLANTED = re.compile(
    r"\b(?:ignore|disregard|forget)\b.{0,30}\b(?:instructions|prompt|rules above)\b|"
    r"\breply only with\b|\byou are now\b|\bsystem (?:notice|prompt|message)\b|"
    r"^\s*(?:user|assistant|system)\s*:|<\s*/?\s*(?:documents|memories|start_of_turn|im_start)",
    re.I | re.M,
)


#: "until what time…?", "by which date…?": the preposition does not change what is asked
_LEAD_PREPOSITION = re.compile(
    r"^\s*(?:until|till|from|by|at|since|before|after|on)\s+(?=(?:what|which)\s+"
    r"(?:time|day|date)\b)",
    re.I,
)
#: A code of letters and digits: "E4", "P60", "B12", "3B"
_CODE = re.compile(r"\b(?=[A-Za-z]*\d)(?=\d*[A-Za-z])[A-Za-z0-9]{2,6}\b")


def _codes(text: str) -> set[str]:
    return {c.lower() for c in _CODE.findall(text)}


_TITLE_WEIGHT = 0.2
"""What a question word found in the document's title line counts for, against 1."""
_MEANING_WEIGHT = 3.0
"""How much the question's embedding similarity to a sentence weighs against one shared word."""
_LEAD_MEANING_WEIGHT = 10.0
"""How much the question's similarity to the FAQ question a sentence stands under, beyond
:data:`_LEAD_MEANING_FROM`, weighs against one shared word."""
_LEAD_MEANING_FROM = 0.5
"""An FAQ question less similar than this to the question asked is another question."""


def _lead_meaning(lead: str, meaning: dict[str, float]) -> float:
    """The similarity of the question to an FAQ's question (0 for a heading or a title line,
    which name a topic, not what is asked, and without an embedder): what the paragraph
    under it answers."""
    text = lead.strip()
    return meaning.get(text, 0.0) if text.endswith("?") else 0.0


#: Words of opposite meaning a question and a sentence may share a topic by: one side each
_OPPOSITES = [
    (
        frozenset("first earliest".split()),
        frozenset("last latest final".split()),
    ),
    (
        frozenset("start starts started begin begins began beginning open opens opened".split()),
        frozenset("end ends ended ending finish finishes finished expire expires".split()),
    ),
    (
        frozenset("minimum min least lowest smallest".split()),
        frozenset("maximum max most highest largest".split()),
    ),
    (frozenset("buy buys bought buying".split()), frozenset("sell sells sold selling".split())),
]


def _value_beside(words: set[str], sentence: str) -> bool:
    """A number in ``sentence`` stands within three words of one of ``words`` (stems): the
    value is about what was asked ("Serves 4." for "how many people does it feed?", "1.2 litres
    vegetable stock" for "how much stock…?").

    Example:
        >>> _value_beside({"stock"}, "- 1.2 litres vegetable stock")
        True
        >>> _value_beside({"stock"}, "Add the stock, bring to the boil and simmer for 25 minutes")
        False
    """
    tokens = re.findall(r"[\w.,:]+", sentence.lower())
    at = [i for i, t in enumerate(tokens) if _stems(t) & words]
    values = [i for i, t in enumerate(tokens) if any(ch.isdigit() for ch in t)]
    return any(abs(i - j) <= 3 for i in at for j in values)


#: "may" the verb, not the month: "Visitors may use…", "it may not be…"
_MODAL_MAY = re.compile(
    r"(?<!\d\s)(?<!\b(?:in|of|on|to|by)\s)(?<!until\s)(?<!since\s)(?<!from\s)(?<!till\s)"
    r"(?<!early\s)(?<!late\s)(?<!mid\s)(?<!mid-)\bmay\b(?!\s+\d)",
    re.I,
)
_BESIDE_WEIGHT = 1.0
"""What a value next to an asked word adds, against one shared word."""
_QUESTION_NUMBER = re.compile(r"\b\d+\b")


def _named_elsewhere(question: str, chunks: Sequence[dict[str, Any]]) -> set[str]:
    """The documents among ``chunks`` that lack a name (or a number such as a bus line) the
    question gives while another retrieved document holds it: "How often does the 42 run on
    Saturdays?" is about the timetable, not the house rules' quiet hours.

    Example:
        >>> bus = {"path": "bus.md", "quote": "Line 42 runs every 30 minutes."}
        >>> rules = {"path": "rules.md", "quote": "Quiet hours run from 22:00."}
        >>> sorted(_named_elsewhere("How often does the 42 run?", [bus, rules]))
        ['rules.md']
    """
    names = {
        w.lower()
        for w in re.findall(r"(?<!^)\b[A-Z][\w]{2,}\b|\b\d{2,}\b", question.strip())
        if w not in NOT_NAMES
    }
    if not names:
        return set()
    texts: dict[str, str] = {}
    for c in chunks:
        texts[c.get("path", "")] = texts.get(c.get("path", ""), "") + " " + c["quote"].lower()
    holds = {
        path: {n for n in names if re.search(rf"(?<![\w]){re.escape(n)}(?![\w])", text)}
        for path, text in texts.items()
    }
    anywhere = set().union(*holds.values())
    return {path for path, have in holds.items() if anywhere - have}


def _heading_over(found: Sequence[re.Match[str]], i: int) -> str:
    """The heading a list item or a table row ``found[i]`` stands under in its excerpt ("## What
    is not covered" over "- Flooding…"), without its marks; "" for a sentence of running text
    or when the excerpt does not show the heading."""
    item = found[i].group(0).strip()
    if not _ITEM.match(item):
        return ""
    for m in reversed(found[:i]):
        line = m.group(0).strip()
        if line.startswith("#") or (line.endswith(":") and len(line.split()) <= 8):
            return line.lstrip("#").strip().rstrip(":")
    return ""


def _opposes(question: str, sentence: str) -> bool:
    """The sentence says the opposite of what the question asks about: one of the question's
    words has its opposite in the sentence, and the sentence does not also hold the word
    ("when does the beta end?" / "The beta opened on 3 March.").

    Example:
        >>> _opposes("When does the first bus leave?", "The last bus leaves at 22:00.")
        True
        >>> _opposes("When is the last bus?", "The first bus is at 5:40, the last at 22:00.")
        False
    """
    asked = set(_WORDS.findall(question.lower()))
    have = set(_WORDS.findall(sentence.lower()))
    for one, other in _OPPOSITES:
        for mine, theirs in ((one, other), (other, one)):
            if asked & mine and have & theirs and not have & mine:
                return True
    return False


_WORDS = re.compile(r"[a-z]+")


def _rarity(asked: set[str], sentences: Sequence[set[str]]) -> dict[str, float]:
    """What each asked word counts for in choosing a sentence: 1 for a word few of the
    candidate sentences hold, down to :data:`_COMMON_WEIGHT` for one most of them hold.

    A word every excerpt repeats names the document ("dishwasher" in its manual, "ROT" in
    the ROT FAQ); the rarer word ("Eco") points at the sentence.

    Example:
        >>> r = _rarity({"dishw", "eco"}, [{"dishw"}, {"dishw", "eco"}, {"dishw"}, {"salt"}])
        >>> r["eco"] > r["dishw"]
        True
    """
    n = len(sentences)
    if n < 4:
        return dict.fromkeys(asked, 1.0)
    df = {w: sum(w in s for s in sentences) for w in asked}
    top = math.log((n + 1) / 2)
    return {w: min(1.0, max(_COMMON_WEIGHT, math.log((n + 1) / (df[w] + 1)) / top)) for w in asked}


_COMMON_WEIGHT = 0.3
"""What a question word that most candidate sentences hold counts for, against 1."""


def _sentences(chunk: dict[str, Any]) -> list[re.Match[str]]:
    """The sentences of a chunk that may answer, as matches whose offsets index its quote.

    A list wrapped over lines ("…, hiking boots,\ncamera…") and a line wrapped inside a
    paragraph are one sentence (same length, so offsets still hold); a planted instruction is
    never one.
    """
    text = unwrapped(chunk["quote"])
    return [
        m
        for m in _SENTENCE.finditer(text)
        if m.group(0).strip() and not _PLANTED.search(m.group(0))
    ]


def _meanings(
    question: str,
    chunks: Sequence[dict[str, Any]],
    similar: Callable[[str, list[str]], Sequence[float]] | None,
) -> dict[str, float]:
    """Each sentence of the first chunks, with its embedding similarity to the question."""
    if similar is None:
        return {}
    sentences: list[str] = []
    for c in chunks[:_MEANING_CHUNKS]:
        sentences += [m.group(0).strip() for m in _sentences(c)]
    sentences = list(dict.fromkeys(sentences))[:_MEANING_SENTENCES]
    if not sentences:
        return {}
    return {t: float(x) for t, x in zip(sentences, similar(question, sentences), strict=True)}


_MEANING_CHUNKS = 5
_MEANING_SENTENCES = 80


def unwrapped(text: str) -> str:
    """``text`` with the line breaks inside a paragraph made spaces (same length, so offsets
    hold): a hard-wrapped licence or manual, a PDF's lines, a list wrapped over lines.

    A break stays where the line ends a sentence (".", "!", "?", ":", ";"), where either line
    is blank, a heading, a table row or the next one a list item, and after a short line (a
    title, an address line) unless the next one carries on in lower case.

    Example:
        >>> text = "If any part is judged invalid under applicable law, then the" + chr(10)
        >>> unwrapped(text + "Waiver holds." + chr(10) + "- an item").split(chr(10))
        ['If any part is judged invalid under applicable law, then the Waiver holds.', '- an item']
    """
    lines = text.split("\n")
    # the width the text is wrapped at: its longest lines; a line near it was wrapped
    width = sorted(len(line.strip()) for line in lines)[int(0.9 * (len(lines) - 1))]
    out = []
    for line, nxt in zip(lines, lines[1:], strict=False):
        here, there = line.strip(), nxt.strip()
        wrapped = len(here) >= max(_WRAPPED, 0.75 * width) and not _title_case(here)
        join = (
            bool(here and there)
            and here[-1] not in ".!?:;|"
            and not here.startswith(("#", "|"))
            and not there.startswith(("#", "|"))
            and not _ITEM.match(there)
            # "Visits: 8:00 and 18:00 daily" / "Allergies: penicillin": a form's fields
            and not (_FIELD.match(here) and _FIELD.match(there))
            and (here[-1] == "," or wrapped or there[0].islower() or there[0] == "(")
        )
        out.append(line + (" " if join else "\n"))
    out.append(lines[-1])
    return "".join(out)


_FIELD = re.compile(r"^[A-Z][\w'’ /&()-]{0,30}:\s+\S")
"""A line of a form or a quote: a label of a few words, a colon, its value."""


def _title_case(line: str) -> bool:
    """A title ("Harbourside Community Choir - Autumn Newsletter"): most words capitalised."""
    words = [w for w in re.findall(r"[^\W\d_][\w'’-]*", line) if len(w) > 3]
    return len(words) >= 2 and sum(w[0].isupper() for w in words) >= 0.6 * len(words)


_WRAPPED = 45
"""A line at least this long that does not end a sentence was wrapped (prose is wrapped at
60-80 characters; titles and address lines are shorter)."""


def sentence_cover(question: str, sentence: str) -> float:
    """The share of the question's words (documents' own words like "lease" set aside) that a
    document sentence holds."""
    asked = _stems(question)
    return len(asked & _stems(sentence)) / len(asked) if asked else 0.0


def _is_lead(sentence: str) -> bool:
    """A heading ("## Deposit") or a question (an FAQ's): it leads to
    the answer, it is not one."""
    s = sentence.strip()
    title = bool(_TITLE.match(s)) and not re.search(
        r"\b(?:is|are|was|were|will|must|may|can|should|has|have|be|need|needs)\b|\d", s, re.I
    )
    return s.startswith("#") or s.endswith("?") or title


#: A document's title or greeting: "Welcome to Heron Cottage!", "Ridgeway Cycling Club -
#: November newsletter.", "Dear members,": it names the subject, it answers nothing
_TITLE = re.compile(
    r"^(?:welcome to|dear)\b[^.!?,]{0,50}[.!,]?$|"
    r"^[A-Z][\w'’]*(?:\s+[\w'’&]+){0,6}\s+[-–—]\s+[\w'’ ,]{1,40}[.]?$",
    re.I,
)


def named_in(question: str, sentence: str) -> bool:
    """The sentence holds a name the question asks about ("what's Gaspard supposed to be
    doing?" / "Action: Gaspard to draft a budget…"): it is about that one.

    Example:
        >>> named_in("What's Gaspard doing?", "Action: Gaspard to draft a budget.")
        True
    """
    names = {
        w
        for w in re.findall(r"(?<!^)\b[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]{2,}\b", question.strip())
        if w not in NOT_NAMES
    }
    return any(re.search(rf"\b{re.escape(n)}\b", sentence) for n in names)


def _is_heading(sentence: str) -> bool:
    s = sentence.strip()
    if _ITEM.match(s):
        return False  # "- 250 g red lentils" is an item of a list, not the heading over the next
    # a line that ends in a value ("TOTAL PAID ..... 53.50") is an answer, not a heading
    return (
        bool(s)
        and s[-1] not in ".!?"
        and len(s.split()) <= 8
        and not s[-1].isdigit()
        # "Allergies: penicillin" is a field with its value
        and not _FIELD.match(s)
    )


#: A list item or a table row
_ITEM = re.compile(r"(?:[-*\u2022]|\d{1,2}[.)]|\|)\s")


def supported(answer: str, sentence: str, question: str) -> bool:
    """True when the model's document answer follows from ``sentence``: its numbers and names
    are there and it does not flip a negation.

    Example:
        >>> supported("Yes, the lease allows dogs.", "No dogs are allowed.", "Are dogs allowed?")
        False
        >>> supported("The rent is 950 euros.", "Rent is 950 euros a month.", "How much is it?")
        True
        >>> supported("The rent is 1,900 euros.", "Rent is 950 euros a month.", "How much?")
        False
    """
    if not answer.strip() or len(answer.split()) > 60:
        return False
    if not salient(answer) <= _tokens(sentence) | _tokens(question):
        return False
    if bool(_NEGATION.search(answer)) != bool(_NEGATION.search(sentence)):
        return False
    if content_words(answer) - content_words(sentence) - content_words(question) - _SPEECH:
        return False  # "Slugs should be eaten by humans": words the sentence does not have
    return bool(_stems(answer) & _stems(sentence))


def answers_question(question: str, found: dict[str, Any]) -> bool:
    """The relevance test a sentence :func:`best_sentence` chose must pass to be quoted;
    failing it, the documents do not say.

    It passes when the FAQ question it answers means the one asked (:data:`DOC_SURE`). It
    fails when it lacks every word the question turns on (:func:`_misses_focus`), or when it
    holds no word of the question beyond the document's title (unless it means the same,
    :data:`DOC_SURE`). Else it passes when it means nearly the same (:data:`DOC_RELEVANT`),
    holds half the question's words, with the sentences around it or alone, or names whom
    the question names. The similarity is None without an embedder: then words decide.

    Example:
        >>> found = {"sentence": "Rent is 950 euros a month.", "context": "",
        ...          "title_words": ["lease"], "similarity": 0.3}
        >>> answers_question("How much is the rent?", found)
        True
        >>> answers_question("How much is the parking spot in the courtyard?", found)
        False
    """
    sim = found.get("similarity")
    sim = 1.0 if sim is None else sim
    if found.get("lead_similarity", 0.0) >= DOC_SURE:
        return True  # the FAQ's question over it means the one asked
    if sim < DOC_SURE and not beyond_title(question, found):
        return False  # it shares only the document's name with the question
    if _misses_focus(question, found, sim):
        return False
    title = set(found.get("title_words", ()))
    asked = (_stems(question) - title) or _stems(question)
    around = " ".join((found.get("under", ""), found.get("context", "")))
    key = len(asked & _stems(found["sentence"])) / len(asked) if asked else 0.0
    near = len(asked & _stems(around)) / len(asked) if asked else 0.0
    return (
        sim >= DOC_RELEVANT
        or key >= 0.5
        # "How much money does Mila need for the museum trip?": the sentence before says
        # which trip "8 euros for the entry fee" is for
        or near > 0.5
        or named_in(question, found["sentence"])
        # "the boiler's flashing E4 - what do I do?" / "E4: Low system pressure."
        or bool(_codes(question) & _codes(found["sentence"]))
        # "how much did I spend at BuildMart altogether?" / "TOTAL EUR 95.96": the asked
        # kind of value beside an asked word
        or bool(found.get("value_beside"))
        # "how long is the warranty?" of the warranty: the sentence with a duration
        or (bool(found.get("holds_value")) and not asked - _HOW_WORDS)
    )


def _misses_focus(question: str, found: dict[str, Any], sim: float) -> bool:
    """The sentence, with the sentences around it and the heading or FAQ question over it,
    holds none of the words the question turns on (those beyond the document's title, the
    names it gives and the kind of value it asks for): "When does the Pebble closed beta
    end?" is not answered by "…move the relaunch of the Pebble app to 5 May", nor "How much
    does it cost to rent the parking spot?" by "…180 euros per month towards the operating
    costs". A sentence that means nearly the same (:data:`FOCUS_SURE`) vouches for itself; an
    FAQ question that means the one asked has vouched before this is asked
    (:func:`answers_question`).

    Example:
        >>> found = {"sentence": "The relaunch moves from 14 April to 5 May.", "context": "",
        ...          "title_words": ["pebbl"]}
        >>> _misses_focus("When does the Pebble closed beta end?", found, 0.7)
        True
        >>> _misses_focus("When is the Pebble relaunch?", found, 0.7)
        False
    """
    sentence = found["sentence"]
    if (
        sim >= FOCUS_SURE
        # the value asked for, beside a word or a name the question gives ("| Eco | 50 °C |
        # 3 h 45 min |"), or in a short line of a form, a receipt or a table ("TOTAL EUR 95.96")
        or found.get("value_beside")
        or named_in(question, sentence)
        or (found.get("holds_value") and sim >= DOC_SURE)
        or (len(sentence.split()) <= 8 and any(ch.isdigit() for ch in sentence))
    ):
        return False
    names = {w for n in re.findall(r"(?<!^)\b[A-Z][\w-]+", question.strip()) for w in _stems(n)}
    focus = (
        _stems(question)
        - set(found.get("title_words", ()))
        - names
        - _HOW_WORDS
        - _MEASURE_WORDS
        - _ASKING_WORDS
    )
    around = " ".join(found.get(k, "") for k in ("sentence", "context", "under", "lead", "line"))
    return bool(focus) and not focus & _stems(around)


FOCUS_SURE = 0.8
"""A document sentence this similar to the question answers it even without the words the
question turns on (MiniLM cosine)."""
#: The kind of value a question asks for and its units (5-letter stems): "how much does the
#: parking spot cost per month?" turns on the parking spot, not on "cost" or "month"
_MEASURE_WORDS = frozenset(
    "price cost pay paid charg month year week day hour minut secon time per total amoun sum "
    "numbe much mani rate value date".split()
)
#: Verbs that ask, not what is asked about: "do I get", "can I have", "what happens"
_ASKING_WORDS = frozenset("get got have need happe allow let usual typic".split())


DOC_RELEVANT = 0.45
"""A document sentence less similar than this, sharing under half the question's words, does
not answer it (MiniLM cosine)."""
DOC_SURE = 0.6
"""A document sentence this similar answers the question even in none of its words (MiniLM
cosine)."""


def beyond_title(question: str, found: dict[str, Any]) -> bool:
    """The chosen sentence, or the sentences around it, holds a word of the question that is
    not only in the document's title: "What is BuildMart's phone number?" is not answered by
    "BUILDMART HOME & GARDEN", nor "How many pets…in Birchwood Court?" by "Adopted by the
    Birchwood Court residents' association".

    Example:
        >>> found = {"sentence": "Adopted by the Birchwood Court association.",
        ...          "context": "", "title_words": ["birch", "court"]}
        >>> beyond_title("How many pets may a flat in Birchwood Court have?", found)
        False
        >>> beyond_title("What are the Birchwood Court rules?", {**found, "title_words": ["birch",
        ...              "court", "rule"]})
        True
    """
    asked = _stems(question) - set(found.get("title_words", ())) - _HOW_WORDS
    if not asked:
        return True  # "what's on my packing list for Iceland?": the whole document is asked for
    return bool(asked & (_stems(found["sentence"]) | _stems(found.get("context", ""))))


def extractive_document_answer(found: dict[str, Any] | None) -> str:
    """The sentence that holds the answer, quoted with its citation number; a list item or a
    table row with the heading it stands under, which its meaning hangs on ("What is not
    covered" over "- Flooding caused by rising groundwater").

    Example:
        >>> extractive_document_answer({"sentence": "- Flooding", "n": 1, "under": "Not covered"})
        'Your documents say, under \u201cNot covered\u201d: \u201c- Flooding\u201d [1]'
    """
    if found is None:
        return DOES_NOT_SAY
    under = f", under \u201c{found['under']}\u201d" if found.get("under") else ""
    said = " ".join(found["sentence"].split())  # a wrapped line's indent is not the text
    return f"Your documents say{under}: \u201c{said}\u201d [{found['n']}]"


def model_document_answer(llm: LLM, question: str, found: dict[str, Any], cancel: Any) -> str:
    """An instruction-tuned model's greedy answer from the one sentence found."""
    prompt = llm.chat_format.render(
        [
            Message(
                "system",
                "Answer the question in one short sentence using only this excerpt from the "
                f'user\'s documents:\n"{found["sentence"]}"',
            ),
            Message("user", question),
        ]
    )
    done = llm.complete(
        prompt, temperature=0, max_tokens=64, stop=llm.chat_format.stop, cancel=cancel
    )
    return done.text.strip().split("\n")[0].strip()


#: "what's the date today?", "what day is it?", "what time is it?": the clock answers, not memory
_ASKS_CLOCK = re.compile(
    r"\bwhat(?:'s|\s+is)\s+(?:the\s+|today's\s+)?(?:date|day|time)(?:\s+(?:today|now|right now))?"
    r"(?=\s*(?:[?,.!;]|$))|"
    # not "what time is it at?" of an appointment just talked about
    r"\bwhat\s+(?:date|day|time)\s+is\s+(?:it|today)\b(?!\s+(?:at|on|for|again|then)\b)|"
    r"\bwhich\s+day\s+is\s+(?:it|today)\b|"
    # "can you tell me today's date pls", "do you know the date?"
    r"\b(?:tell me|give me|know|remind me of)\s+(?:the\s+|today's\s+)(?:date|day)"
    r"(?:\s+(?:today|now))?(?=\s*(?:[?,.!;]|$|pls\b|please\b))",
    re.I,
)


def clock_reply(question: str, now: dt.datetime) -> str | None:
    """Today's date or the time, for a question that asks for it; None otherwise.

    Example:
        >>> at = dt.datetime(2026, 12, 3, 8, 5)
        >>> clock_reply("Sorry, I've lost track of the days, what's the date today?", at)
        'Today is Thursday, 3 December 2026.'
        >>> clock_reply("what time is it?", at)
        "It's 08:05 on Thursday, 3 December 2026."
        >>> clock_reply("and what day is it today, I've lost track", at)
        'Today is Thursday, 3 December 2026.'
        >>> clock_reply("can you tell me today's date pls, I've lost track", at)
        'Today is Thursday, 3 December 2026.'
        >>> clock_reply("What's the date of my dentist appointment?", at) is None
        True
        >>> clock_reply("Can you tell me the date of the party?", at) is None
        True
        >>> clock_reply("what time is it at?", at) is None
        True
    """
    m = _ASKS_CLOCK.search(question)
    if m is None:
        return None
    day = f"{now:%A}, {now.day} {now:%B %Y}"
    if "time" in m.group(0).lower():
        return f"It's {now:%H:%M} on {day}."
    return f"Today is {day}."


#: A whole message of greeting, thanks or goodbye, answered without the model: a 270M base
#: model given "Hi!" continued its own few-shot primer ("What is the largest planet…?").
_GREETING = re.compile(
    r"^(?:hi|hello|hey|hiya|yo|good (?:morning|afternoon|evening)|morning)\b", re.I
)
_THANKS = re.compile(r"\b(?:thanks?|thank you|thx|cheers|ta)\b", re.I)
_BYE = re.compile(
    r"\b(?:bye|goodbye|see you|good ?night|night night|nighty night|"
    r"talk (?:to you )?(?:later|soon)|ttyl|gotta go|got to go|i'm off|off to bed)\b",
    re.I,
)
_HOW_ARE_YOU = re.compile(
    r"\bhow (?:are you|are things|is it going|'s it going)\b|how's it going", re.I
)


def small_talk_reply(message: str) -> str:
    """A short reply to greeting, thanks, goodbye or "how are you" (the router's small talk).

    Example:
        >>> small_talk_reply("Hi!")
        'Hello! What can I do for you?'
        >>> small_talk_reply("thanks, that helps")
        "You're welcome!"
        >>> small_talk_reply("ok cool, talk later")
        'Bye for now! I will remember what you told me.'
        >>> small_talk_reply("Good morning, how are you?")
        "Good morning! I'm well, thank you. What can I do for you?"
    """
    text = message.strip()
    if _BYE.search(text):
        return "Bye for now! I will remember what you told me."
    hello = _GREETING.match(text)
    opening = "Hello!"
    if hello and hello.group(0).lower().startswith(("good", "morning")):
        word = hello.group(0).lower().removeprefix("good ").strip()
        opening = f"Good {word}!"
    if _HOW_ARE_YOU.search(text):
        return f"{opening} I'm well, thank you. What can I do for you?"
    if _THANKS.search(text):
        return "You're welcome!"
    if hello:
        return f"{opening} What can I do for you?"
    return "Okay. What can I do for you?"


#: "What have I told you today?", "what did I say yesterday?", "what did I tell you this week?"
_TOLD_WHEN = re.compile(
    r"^\s*(?:so,?\s+|and\s+)?what\s+(?:have|did|had)\s+i\s+(?:told|tell|said|say|mentioned|"
    r"mention)\s+(?:to\s+)?(?:you\s+)?(?:about\s+)?(today|yesterday|this week|this morning|"
    r"so far|lately|recently|earlier)\b",
    re.I,
)


def told_window(question: str, today: dt.date) -> tuple[dt.date, dt.date, str] | None:
    """The days a "what have I told you today?" question covers, and how to say them.

    Example:
        >>> told_window("What have I told you today?", dt.date(2026, 12, 3))
        (datetime.date(2026, 12, 3), datetime.date(2026, 12, 3), 'today')
        >>> told_window("What did I say yesterday?", dt.date(2026, 12, 3))[2]
        'yesterday'
        >>> told_window("What did I tell you about my dog?", dt.date(2026, 12, 3)) is None
        True
    """
    m = _TOLD_WHEN.match(question)
    if m is None:
        return None
    when = m.group(1).lower()
    if when == "yesterday":
        day = today - dt.timedelta(days=1)
        return day, day, "yesterday"
    if when == "this week":
        return today - dt.timedelta(days=today.weekday()), today, "this week"
    if when in ("so far", "lately", "recently"):
        return today - dt.timedelta(days=30), today, "in the last 30 days"
    return today, today, "today"


def told_reply(said: str, records: Sequence[dict[str, Any]]) -> str:
    """What the user told in a window (``records``: current memories of those days, oldest
    first, with ``text``), said back; a plain "you haven't told me anything" when none.

    Example:
        >>> told_reply("today", [{"text": "I booked a table at Nopi."}, {"text": "My cat is Tom."}])
        'You told me today: you booked a table at Nopi; your cat is Tom.'
    """
    if not records:
        if said == "yesterday":
            return "You didn't tell me anything yesterday."
        return f"You haven't told me anything {said}."
    items = [second_person(r["text"].rstrip(".!")) for r in records[:8]]
    items = [t[0].lower() + t[1:] for t in items]
    more = f" (and {len(records) - 8} more)" if len(records) > 8 else ""
    return f"You told me {said}: " + "; ".join(items) + f"{more}."
