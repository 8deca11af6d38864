"""Deciding what a turn is, without generating: rules first, then nearest labelled examples.

The old router asked the 270M model to classify every message (4–15 s a turn on 2 cores) and
sent a holiday story to legal review and a job offer to code generation. Now:

1. An explicit command (``/remember …``, a batch task type) routes deterministically.
2. Plain-word memory commands ("remember that …", "forget my passport number", "delete what
   I told you about Priya") match patterns anchored at the start of the message.
3. A tool is reached only by an imperative naming its task *and* carrying an object
   ("Translate 'good morning' into French", "Summarize this: …", "Write a Python function
   that …", "Review this clause: …"). A statement about the user's life never reaches a tool.
4. A statement (every sentence states something, at least one a fact about someone) goes to
   ``remember``: its facts are stored and acknowledged.
5. A question about the user ("what is my…", "where do I…", "do you remember…", "what does
   the user…") goes to ``ask_memory``; one naming their documents to ``ask_documents``.
6. Everything else is classified by its nearest labelled example utterances, embedded with the
   embedder already loaded for memory (no generation; ~10 ms), among the conversation routes;
   a tool label from the neighbours counts only for a request that carries an object.
7. The model is consulted only when the neighbours are split, the model is instruction-tuned
   (has a chat template) and ``route_with_model`` is on.

The decision and its reason go into the turn record.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from agent.capabilities import TOOLS
from agent.errors import LorebookError
from agent.llm.prompts import Message
from agent.pipeline.facts import (
    EMBEDDED_QUESTION,
    QUESTION_TAG,
    SCRATCH_SWAP,
    SLURRED_QUESTION,
    is_correction,
    is_statement,
    stated_sentences,
)

TOOL_ROUTES = TOOLS
"""The tools of the capability registry: a new tool's declaration gives it its route."""
ROUTES = ("chat", "ask_memory", "ask_documents", "remember", "forget", *TOOL_ROUTES)

DOCUMENT_FOLLOW_UP = "rule: a follow-up about the document just quoted"
"""The reason of a question routed to the document a reply just quoted from."""

_SLASH = re.compile(rf"^/(remember|forget|{'|'.join(TOOL_ROUTES)}|ask|chat)\b\s*(.*)$", re.S | re.I)
_POLITE = (
    r"^\s*(?:(?:please|pls|hey|ok|okay|now|and|also|actually|oh|so|well|btw|but|hmm+|wait|"
    r"sorry|one more thing|on second thoughts?|come to think of it|kindly|just|right)[,.!]?\s+)*"
    r"(?:(?:can|could|would|will)\s+you\s+(?:please\s+|kindly\s+|just\s+)?|"
    r"i(?:'d| would) like you to\s+|i (?:want|need) you to\s+)?(?:please\s+|kindly\s+)?"
)
_PLAIN = (
    (
        "remember",
        re.compile(
            _POLITE + r"(?:remember|memori[sz]e|note|keep in mind|"
            # "can you hang on to this for me: my locker combination is 8841"
            r"(?:hang|hold) on to (?:this|that)(?: for me)?\s*[:,—–-]|"
            r"(?:keep|save|store) (?:this|that)(?: safe)?(?: for me)?\s*[:,—–-]|"
            r"make a note(?: of (?:this|that))?\s*[:,—–-]|(?:note|jot|write) (?:this|that) down"
            r"\s*[:,—–-]?)\s*(?:that\s+)?(?P<text>.+)$",
            re.S | re.I,
        ),
    ),
    (
        "forget",
        re.compile(
            # "ok that's embarrassing, stop remembering the nickname": after a lead-in too
            r"^(?:[^.!?,;]{0,80}[.!?,;]\s+){0,3}?"
            # "on reflection I'd rather you didn't keep medical things"
            + r"(?:(?:on (?:second thoughts?|reflection)|actually|tbh|honestly|hmm+)\s*,?\s+)?"
            + _POLITE.removeprefix("^")
            # "Kasimir and I are square now, so you can stop remembering that I owe him money"
            + r"(?:(?:so|and)\s+)?(?:you can|you may|feel free to)?\s*"
            + r"(?P<verb>forget|erase|un-?\s?remember|(?:delete|remove|drop|wipe|scrap|scratch|"
            r"strike|cross out|cross off|clear|purge|get rid of|bin|lose|ditch|scrub)"
            r"(?=\s+(?:what|whatever|everything|all|my|our|the|that|those|this|about|any)\b)|"
            r"stop remembering|(?:don't|do not) (?:remember|store|keep|hang on to|hold on to)|"
            # "you don't need to hold on to the teacher's name"
            r"you (?:don't|do not) (?:need|have) to (?:remember|store|keep|hang on to|"
            r"hold on to)|"
            # "I don't want Declan anywhere in your memory"
            r"i (?:don't|do not) want(?= .{1,60}\b(?:in your (?:memory|notes|records)|remembered|"
            r"stored|kept)\b)|"
            # "I'd rather you didn't keep anything about my ex"
            r"i(?:'d| would) (?:rather|prefer(?: it if)?) you (?:didn't|did not|don't) "
            r"(?:remember|store|keep|hold on to)|"
            r"unlearn)\s+(?P<text>.+)$",
            re.S | re.I,
        ),
    ),
)
#: "forget it" / "forget that" with nothing after the pronoun: a command only after a lead-in
#: of discourse words ("Hmm, on second thought, forget that"), not inside a story ("I told her,
#: forget it, we are done")
_BARE_PRONOUN = re.compile(
    r"\s*(?:about\s+)?(?:it|him|her|them|that|this)(?:\s*$|\s*[.,;:!?—–-]|\s+(?:from|please|"
    r"now|too|for|then|ok|as|out|off|altogether|entirely|completely)\b)",
    re.I,
)
_LEAD_IN = re.compile(
    r"(?:\s*(?:please|pls|hey|ok|okay|now|and|also|actually|oh|so|well|btw|but|hmm+|um+|uh+|"
    r"wait|sorry|no|nah|never ?mind|on second thoughts?|come to think of it|kindly|just|"
    r"right|ugh|oops|scratch that|you know what|can you|could you|would you|will you)"
    r"[\s,.!—–-]*)*",
    re.I,
)
_MEMORY_WORDS = re.compile(
    r"\b(?:memory|memories|notes?|records?|stored|store|written down|saved|remember)\b", re.I
)
_OBJECT = (  # what the task acts on: quoted text, "this …", "my notes", or a few words
    r"(?:\s*[:\"'“‘«]|\s+(?:this|that|the following|these|those|it|my|the|a|an|our)\b|"
    r"\s+\S+(?:\s+\S+){2,})"
)
#: Languages a request may name in lower case ("in french")
LANGUAGE_NAMES = (
    "french|german|spanish|italian|portuguese|dutch|english|polish|swedish|danish|norwegian|"
    "finnish|greek|turkish|russian|ukrainian|czech|romanian|hungarian|japanese|chinese|"
    "korean|arabic|hebrew|hindi|catalan|irish|welsh"
)
_TOOL_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("translate", re.compile(_POLITE + r"translate\b" + _OBJECT, re.I | re.S)),
    (
        "translate",
        re.compile(
            _POLITE + r"(?:how (?:do|would|should|can) (?:you|i|we) say|what(?:'s| is) the "
            r"(?:\w+ )?(?:word|phrase) for)\b.+\b(?:in|into) (?-i:[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)\b",
            re.I | re.S,
        ),
    ),
    (
        # "what's 'the kitchen is on the left' in German?", "how do you say 'X' in french?"
        "translate",
        re.compile(
            r"^(?=.*[\"“‘«'][^\"”’»']{2,}[\"”’»']).*\b(?:in|into|to)\s+(?:"
            + LANGUAGE_NAMES
            + r")\b"
            r"(?!\s+(?:food|cuisine|class|classes|lessons?|people|history|culture))",
            re.I | re.S,
        ),
    ),
    (
        "summarize",
        re.compile(
            _POLITE + r"(?:summari[sz]e|tl;?dr|give me (?:a|the) (?:summary|gist) of|"
            r"sum up|sum (?:this|it|that) up|condense|shorten)\b" + _OBJECT,
            re.I | re.S,
        ),
    ),
    (
        # "Got this leaflet through the door, can you summarise it for me?\n\n<the leaflet>"
        "summarize",
        re.compile(
            r"^[^\n]{0,200}\b(?:summari[sz]e|sum up|tl;?dr)\b[^\n]*\n\s*\S.{80,}",
            re.I | re.S,
        ),
    ),
    (
        "review",
        re.compile(
            _POLITE + r"(?:review|check|audit|look (?:at|over)|go over|(?:have|take) a look at)"
            r"\s+(?:this|the following|my|the|these)?\s*(?:\w+\s+){0,2}?"
            r"(?:contract|clause|clauses|agreement|lease|terms|nda|policy|document|text|"
            r"licen[cs]e)\b",
            re.I,
        ),
    ),
    (
        # "I'm about to sign a freelance contract and this clause worries me, can you review
        # it? 'The Client may terminate …'": the request after its reason, the text quoted
        "review",
        re.compile(
            r"^(?=[^\n]*\b(?:contract|clause|agreement|lease|terms|nda|licen[cs]e)\b)"
            r"[^\n]{0,200}?\b(?:can|could|would|will)\s+you\s+(?:please\s+)?(?:review|check|"
            r"look over|go over|(?:have|take) a look at)\s+(?:it|this|that|them|these)\b"
            r"[^\n\"'“‘«]{0,40}[\"'“‘«]\s*\S.{40,}",
            re.I | re.S,
        ),
    ),
    (
        "code",
        re.compile(
            _POLITE + r"(?:(?:write|generate|implement|create|code|make|give me)\s+(?:me\s+)?"
            r"(?:a|an|the|some)?\s*(?:\w+\s+){0,3}?(?:function|code|script|program|class|"
            r"method|regex|regular expression|sql query|unit tests?|snippet|algorithm|"
            r"one-?\s?liner|(?:shell|bash|terminal) command)\b|"
            # "I need an SQL query that counts…": a request, not a fact about the user ("I need
            # a new code for the alarm" is one)
            r"(?:i (?:need|want)|i(?:'d| would) like|can i (?:get|have))\s+(?:a|an|some)\s+"
            r"(?:\w+\s+){0,3}?(?:function|script|regex|regular expression|(?:sql|database) query|"
            r"unit tests?|code snippet|algorithm)\b(?=\s+(?:that|which|to|for|in|using)\b))",
            re.I,
        ),
    ),
)
_DOCUMENTS = re.compile(
    r"\b(documents?|docs|files?|my notes|the notes|pdfs?|report|contract|lease|"
    r"according to|in my (?:notes|files|documents)|the manual|the policy|meeting notes?|"
    # "how many people does the recipe serve?": a thing only the user's documents hold
    r"the (?:recipe|guide|quick guide|user guide|handbook|booklet|leaflet|newsletter|minutes|"
    r"invoice|receipt|warranty|timetable|itinerary|agenda|brochure|datasheet|spec sheet)|"
    # "does it say when she can go swimming again?": what a document says
    r"(?:does|did) (?:it|that|this) (?:say|mention|state|specify))\b",
    re.I,
)
#: Words a question may open with before its question word: "also what's the physio's name,
#: I want to get him a card", "and who's my teacher again", "ok so where do we meet"
_OPENERS = (
    r"(?:(?:and|also|ok|okay|oh|ah|but|btw|hmm+|um+|wait|right|anyway|sorry|so|"
    r"quick (?:one|q|question)|by the way)\b[\s,.:!-]*)*"
)
_QUESTION = re.compile(
    r"\?(?:\s|$)|"
    rf"^\s*{_OPENERS}(what|who|whom|whose|where|when|which|how|why)\b|"
    # "and is she still in Leeds", but not "so do I" (a reply)
    r"^\s*(?:(?:and|also|oh|btw)\b[\s,]*)?(do|does|did|is|are|am|was|were|can|could|have|has)\b"
    r"(?!\s+(?:i|we)\s*[.!]*$)|"
    r"^\s*(?:please\s+)?tell me (?:more )?about\b",
    re.I,
)
_ABOUT_USER = re.compile(
    # "we"/"us" is the user's household or team, not "can we chat?" with the assistant
    r"(?<!can )(?<!could )(?<!shall )(?<!should )(?<!may )(?<!would )(?<!let )\b(?:we|us)\b|"
    r"\b(my|mine|i|i'm|i've|i'd|am i|do i|did i|have i|myself|the user|user's|our|ours|"
    r"about me|do you remember|did i tell you|have i told you|what do you know about)\b|"
    # "who was it that took me the first time?", "who handed me the keys?"
    r"\b(?:took|gave|handed|sent|lent|sold|showed|taught|introduced|invited|drove|hired|"
    r"bought|owes|paid|got|left|recommended|referred)\s+me\b",
    re.I,
)

_EXAMPLES: tuple[tuple[str, str], ...] = (
    ("Hello there!", "chat"),
    ("Good morning, how are you today?", "chat"),
    ("Thanks, that was helpful.", "chat"),
    ("What is the capital of Italy?", "chat"),
    ("Explain how photosynthesis works.", "chat"),
    ("Write a short poem about autumn leaves.", "chat"),
    ("Tell me a joke.", "chat"),
    ("Why is the sky blue?", "chat"),
    ("How many legs does a spider have?", "chat"),
    ("Give me some ideas for a birthday party.", "chat"),
    ("What's a good recipe for pancakes?", "chat"),
    ("Can you recommend a book about history?", "chat"),
    ("Who wrote the novel Moby Dick?", "chat"),
    ("What should I cook tonight?", "chat"),
    ("I'm bored, let's talk.", "chat"),
    ("What is my sister's name?", "ask_memory"),
    ("Where do I live?", "ask_memory"),
    ("Do you remember what I told you about my job?", "ask_memory"),
    ("What's my dog called?", "ask_memory"),
    ("How old is my daughter?", "ask_memory"),
    ("When did I move to my new flat?", "ask_memory"),
    ("What does my colleague do for a living?", "ask_memory"),
    ("What do you know about me?", "ask_memory"),
    ("What is the user's phone number?", "ask_memory"),
    ("Which city did I say my brother lives in?", "ask_memory"),
    ("What does the contract say about termination?", "ask_documents"),
    ("According to my notes, when is the meeting?", "ask_documents"),
    ("How much is the rent in the lease?", "ask_documents"),
    ("What did the meeting notes decide about the launch?", "ask_documents"),
    ("Which page of the manual covers the warranty?", "ask_documents"),
    ("Translate 'good morning' into German.", "translate"),
    ("How do you say thank you in Spanish?", "translate"),
    ("Put this sentence into French: the train is late.", "translate"),
    ("Summarize this article for me: ...", "summarize"),
    ("Give me the gist of this text: ...", "summarize"),
    ("Make this paragraph shorter: ...", "summarize"),
    ("Write a Python function that reverses a list.", "code"),
    ("Implement binary search in JavaScript.", "code"),
    ("I need a bash script that renames all files in a folder.", "code"),
    ("Review this agreement for risky clauses.", "review"),
    ("Check this contract clause for problems: ...", "review"),
    ("Is this non-compete clause enforceable? ...", "review"),
)
_CONVERSATION = ("chat", "ask_memory", "ask_documents")
_SCHEMA = {"type": "object", "properties": {"route": {"enum": list(ROUTES)}}, "required": ["route"]}


@dataclass(frozen=True)
class Decision:
    """Where a turn goes, why, and the text the route acts on."""

    route: str
    reason: str
    payload: str


#: A new value said after what it replaces: "…, new target is 2h15", "…, it's Thursdays now"
_NEW_VALUE = re.compile(
    r"[,;—–-]\s*(?:(?:and|the|my|our)\s+)?(?:new\s+[a-z-]+(?:\s+[a-z-]+)?\s+(?:is|'s|are)|"
    r"it'?s\s+(?:\S+\s+){0,3}now)\b",
    re.I,
)


def explicit_route(message: str, command: str | None = None) -> Decision | None:
    """The route fixed by a command or plain-word pattern, or None for free text.

    Example:
        >>> explicit_route("Please forget my passport number").payload
        'my passport number'
        >>> explicit_route("delete what I told you about Priya").route
        'forget'
        >>> explicit_route("I forgot my keys") is None
        True
    """
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
        if (
            m
            and route == "forget"
            and m.group("verb").lower() in ("scratch", "strike", "cross out")
            and re.match(r"\s*that\s*[,;:—–-]\s*(?:\S+\s+){3,}", m.group("text"))
            and not _MEMORY_WORDS.search(m.group("text"))
        ):
            # "scratch that — forget the security phrase": the request after it decides;
            # "Scratch that, the surgery moved it to Friday": a correction, not a forget
            rest = re.sub(r"^\s*that\s*[,;:—–-]\s*", "", m.group("text"))
            if re.match(r"(?:please\s+)?(?:forget|erase|delete|remove|wipe)\b", rest, re.I):
                return explicit_route(rest)
            continue
        if (
            m
            and route == "forget"
            and m.group("verb").lower() in ("scratch", "strike", "cross out", "cross off")
            and SCRATCH_SWAP.search(message)
        ):
            # "scratch the stegosaurus - he's moved on to the ankylosaurus": a new value
            continue
        if (
            m
            and route == "forget"
            and m.group("verb").lower() == "forget"
            and _BARE_PRONOUN.match(m.group("text"))
            and (
                not _LEAD_IN.fullmatch(message[: m.start("verb")])
                or re.match(r"\s*it\b", m.group("text"), re.I)  # "oh well, forget it"
            )
            and not _MEMORY_WORDS.search(m.group("text"))
        ):
            continue  # "I told her, forget it, we are done": no memory named
        new = _NEW_VALUE.search(m.group("text")) if m and route == "forget" else None
        if m and new:
            # "forget the sub-2 goal, new target is 2h15": a change of value, not a forget
            said = m.group("text")[new.start() + 1 :].strip(" ,;—–-.!")
            said = re.sub(r"(?i)^(?:the\s+)?new\b", "My new", said)  # the user's own
            return Decision("remember", "rule: a new value said to replace one", said)
        if m:
            return Decision(route, f"plain-word {route} command", m.group("text").strip(" .!"))
    return None


def tool_route(message: str) -> Decision | None:
    """A tool, when the message is an imperative naming the task and carrying an object.

    Example:
        >>> tool_route("Translate 'good morning' into French").route
        'translate'
        >>> tool_route("write a long poem about the sea") is None
        True
        >>> tool_route("My lawyer reviewed my contract yesterday") is None
        True
        >>> Router(None).route("ok thanks!").reason
        'rule: small talk'
    """
    for route, pattern in _TOOL_RULES:
        if pattern.match(message):
            return Decision(route, f"rule: an imperative to {route} with its object", message)
    # "about to sign a lease, can you check this clause for anything dodgy?\n\n"…"": a short
    # lead-in clause, then the request
    lead = re.match(r"^[^.!?,;:\n\"“']{1,60}(?:[,;:]|\s[—–-]|[.!]+)\s+", message)
    if lead is not None:
        rest = message[lead.end() :]
        for route, pattern in _TOOL_RULES:
            if pattern.match(rest):
                return Decision(route, f"rule: an imperative to {route} with its object", rest)
    return None


def is_question(message: str) -> bool:
    """True for a question (a question mark, or a question word first, its apostrophe left
    out or not); a remark with a tag ("ugh mondays, am I right") asks nothing.

    Example:
        >>> is_question("whats my GP called again"), is_question("ugh mondays, am I right")
        (True, False)
    """
    return bool(
        _QUESTION.search(message.strip())
        or SLURRED_QUESTION.match(message)
        or EMBEDDED_QUESTION.search(message)
    )


def asked_part(message: str) -> str:
    """The message from its first question on, when statements set it up: what a document
    is searched and checked for.

    Example:
        >>> asked_part("put my car insurance in there. what's the excess on the car?")
        "what's the excess on the car?"
        >>> asked_part("How much is the rent?")
        'How much is the rent?'
    """
    parts = [p for p in re.split(r"(?<=[.!])\s+", message.strip()) if p.strip()]
    for i, part in enumerate(parts):
        if is_question(part):
            return " ".join(parts[i:]) if i else message
    return message


#: What follows a question to say why it is asked: "…, I want to get him a card", "… need it
#: for the water rota form", "giving my mate directions"
_PURPOSE = re.compile(
    r"(?:,|\s[-—–])\s*(?:(?:i|i'm|i've|we|we're)\s+(?:want|need|wanna|have|gotta|got|am|'m|'re|"
    r"was|were|'ve)\b|need (?:it|them|this|that)\b|(?:giving|filling|sorting|booking|writing|"
    r"sending|getting|trying|doing)\b|for (?:a|the|my|our)\b|just (?:wondering|checking)\b|"
    r"(?:cheers|thanks|ta)\b).*$",
    re.I | re.S,
)


def question_of(message: str) -> str:
    """The question a message asks, without what sets it up or says why: the sentences that
    end with a question mark, from a dash or colon on, its purpose clause cut.

    Example:
        >>> question_of("also what's the physio's name, I want to get him a thank you card")
        "also what's the physio's name"
        >>> question_of("where are rehearsals held? giving my mate directions")
        'where are rehearsals held?'
        >>> question_of("my brain is mush - what's my candle business called?")
        "what's my candle business called?"
    """
    asked = (
        " ".join(p for p in re.split(r"(?<=[.!?])\s+", message.strip()) if p.rstrip().endswith("?"))
        or message.strip()
    )
    # "quick q, settling an argument with my nephew — how many legs does a spider have?"
    parts = re.split(r"\s[—–-]\s|:\s", asked)
    # …but "and Theo - what's his job?" names whom it asks about
    if len(parts) > 1 and _QUESTION.search(parts[-1].strip()) and len(parts[-2].split()) > 3:
        asked = parts[-1].strip()
    inside = EMBEDDED_QUESTION.search(asked)
    if inside and not _QUESTION.search(asked.strip()) and not SLURRED_QUESTION.match(asked):
        # "haha thanks. wait what am i cooking tonight again": the question; "survived the
        # in-laws 😂 what were their names again": with whom "their" points back at
        start = inside.start("q")
        if re.search(r"\b(?:they|their|them|he|she|his|her|him|it|its)\b", inside.group("q"), re.I):
            ends = [m.end() for m in re.finditer(r"[.!?]+\s+|\n", asked[:start])]
            start = ends[-1] if ends else 0
        asked = asked[start : inside.end("q")].strip()
    if is_question(asked):
        cut = _PURPOSE.sub("", asked).strip()
        if cut and is_question(cut + "?"):
            asked = cut
    return asked


_SMALL_TALK = re.compile(
    r"^\s*(?:(?:hi|hello|hey|yo|morning|good (?:morning|afternoon|evening|night)|thanks?|"
    r"thank you|thx|cheers|ok(?:ay)?|cool|great|nice|awesome|perfect|sure|bye|goodbye|"
    r"see you|good|fine|lol|haha|wow|sorry|no worries|never ?mind|how are you|how's it going|"
    r"what's up|sup|night night|nighty night|night|right|i'm off(?: to bed)?|off to bed|"
    r"gotta go|got to go|talk (?:to you )?(?:later|soon)|ttyl)\b[\s,.!?]*)+"
    r"(?:(?:a lot|so much|very much|for (?:that|the help|everything)|there|again|mate|"
    r"everyone)\b[\s,.!?]*)*$",
    re.I,
)
_ASK_REQUEST = re.compile(
    r"^\s*(?:please\s+)?(?:tell|remind)\s+me\b(?!\s+(?:a|an|some|about yourself)\b)"
    r".*\b(?:my|mine|i|i'm|i've)\b",
    re.I,
)
_ABOUT_PERSON = re.compile(
    r"\b(?:does|did|do|is|was|has)\s+(?P<a>[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)\s+(?:do|teach|work|live|like|study|"
    r"play|own|have|want|need|drive|speak|prefer|love|hate|call|still|currently|now)\b|"
    r"\b(?P<b>[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)'s\s+(?:job|birthday|age|name|wife|husband|partner|phone|number|"
    r"address|email|dog|cat|son|daughter|kids|children|favourite|favorite|surname)\b|"
    r"\bhow old is (?P<c>[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)\b|\bwhere does (?P<d>[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)\b|"
    r"\b(?i:do you (?:know|remember)|what do you know|what can you tell me)\b.*\babout "
    r"(?P<e>[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)\b"
)


_HELP_REQUEST = re.compile(
    r"^\s*(?:(?:can|could|would|will) you (?:please )?(?:help|suggest|recommend|think of|"
    r"come up|give me (?:some |a few )?(?:ideas|tips|suggestions))|(?:any|some) "
    r"(?:ideas|suggestions|tips)\b|help me\b)",
    re.I,
)


def asks_about_user(message: str) -> bool:
    """True for a question about the user, the people they told us of, or what they said.

    Example:
        >>> asks_about_user("What is my dog called?")
        True
        >>> asks_about_user("Tell me my passport number.")
        True
        >>> asks_about_user("What does Priya teach?")
        True
        >>> asks_about_user("Can you tell me how photosynthesis works?")
        False
        >>> asks_about_user("What is Python?")
        False
    """
    if _ASK_REQUEST.match(message):
        return True
    if not is_question(message):
        return False
    if _HELP_REQUEST.match(message):
        return False  # "can you help me pick a name for my new tortoise?" asks for ideas
    if _ABOUT_PERSON.search(message) or _ANYTHING_ABOUT.search(message):
        return True
    text = re.sub(
        r"\b(?:can|could|would|will) you (?:please )?(?:tell|show|give|help) me\b",
        "",
        message,
        flags=re.I,
    )
    return bool(_ABOUT_USER.search(text))


#: "is there anything about a pottery class?", "do you have anything on my boiler?"
_ANYTHING_ABOUT = re.compile(
    r"^\s*(?:and\s+|so\s+)?(?:is there|do you have|have you got|did i (?:say|tell you|mention)|"
    r"do you know|have i told you)\s+(?:anything|something|much)\s+(?:about|on|regarding|re)\b",
    re.I,
)


class Router:
    """Routes free text by rules and nearest labelled examples (see the module docstring).

    Args:
        embed: texts → unit vectors, for the labelled examples (the store's embedding cache,
            so they are embedded once per data directory); None routes by rules alone.
        embed_query: one message → its vector (default: through ``embed``). The agent passes
            the embedder's in-memory query path: a message must not land in the persistent
            embedding cache, where a forgotten fact would outlive its memory.
        k: how many neighbours vote.
    """

    def __init__(
        self,
        embed: Callable[[Sequence[str]], np.ndarray] | None,
        k: int = 5,
        embed_query: Callable[[str], np.ndarray] | None = None,
    ):
        self.embed = embed
        self.embed_query = embed_query
        self.k = k
        self._vectors: np.ndarray | None = None
        self._labels = [label for _, label in _EXAMPLES]

    def neighbours(self, message: str) -> tuple[str, float]:
        """The examples' vote: ``(label, share of the k votes)``; ``("chat", 0)`` without
        an embedder."""
        if self.embed is None:
            return "chat", 0.0
        if self._vectors is None:
            self._vectors = np.asarray(self.embed([t for t, _ in _EXAMPLES]), dtype=np.float32)
        if self.embed_query is not None:
            q = np.asarray(self.embed_query(message), dtype=np.float32)
        else:
            q = np.asarray(self.embed([message]), dtype=np.float32)[0]
        sims = self._vectors @ q
        top = np.argsort(-sims)[: self.k]
        votes: dict[str, float] = {}
        for i in top:
            votes[self._labels[i]] = votes.get(self._labels[i], 0.0) + float(max(sims[i], 0))
        total = sum(votes.values()) or 1.0
        label = max(votes, key=lambda lab: votes[lab])
        return label, votes[label] / total

    def route(self, message: str, llm: Any = None) -> Decision:
        """The route of a free-text message (explicit commands are handled before)."""
        tool = tool_route(message)
        if tool is not None:
            return tool
        if _SMALL_TALK.match(message):
            return Decision("chat", "rule: small talk", message)
        if QUESTION_TAG.search(message) and not _ABOUT_USER.search(QUESTION_TAG.sub("", message)):
            return Decision("chat", "rule: a remark with a tag", message)  # "mondays, am I right"
        if _ASK_REQUEST.match(message):
            return Decision("ask_memory", "rule: a request for what the user told", message)
        if is_correction(message):
            return Decision("remember", "rule: a correction of what was just said", message)
        if is_statement(message) and stated_sentences(message):
            return Decision("remember", "rule: a statement of facts", message)
        # "What's the capital of Australia? I always want to say Sydney.": the question decides
        question = question_of(message)
        # "sorry, who did I marry? joking, but tell me anyway" asks, whatever follows
        if is_question(message) or (question != message.strip() and is_question(question)):
            if _DOCUMENTS.search(message):
                return Decision("ask_documents", "rule: a question naming documents", message)
            if asks_about_user(question):
                return Decision("ask_memory", "rule: a question about the user", message)
        label, share = self.neighbours(message)
        if label in TOOL_ROUTES:
            # a neighbour's tool label counts only for a request carrying an object
            if not is_question(message) and re.search(r"[:\"“'«]", message):
                return Decision(label, f"examples ({label}, {share:.0%} of votes)", message)
            label = "chat"
        if label == "ask_memory" and not asks_about_user(question):
            label = "chat"
        if label == "ask_documents" and not is_question(message):
            label = "chat"  # only a question can be answered from documents
        if share < 0.4 and llm is not None:
            asked = classify(llm, message)
            if asked is not None and asked.route in _CONVERSATION:
                return asked
        return Decision(label, f"examples ({label}, {share:.0%} of votes)", message)


#: A short turn that carries on the thread's last tool request: "and 'thank you very much'?",
#: "now 'the bill, please'", "and how would I say good night", "now one that returns …"
_FOLLOW_UP = re.compile(
    r"^\s*(?:(?:ok|okay|nice|great|cool|perfect|thanks|thank you|cheers)[,.!]*\s+)?"
    r"(?:and|now|also|then|next|what about|how about|same for|same with|do)\b[\s,:]*(?P<rest>.*)$",
    re.I | re.S,
)
#: quoted words; an apostrophe inside a word ("what's") opens and closes nothing
_QUOTE = re.compile(r"(?<![A-Za-z])[\"'“‘«](.+?)[\"'”’»](?![A-Za-z])")
_SAY = re.compile(
    r"^\s*(?:how (?:would|do|should|can) (?:i|you|we) say|what(?:'s| is) the (?:word|phrase) for)"
    r"\s*",
    re.I,
)


_CODE_LANGUAGES = (
    r"python|javascript|typescript|bash|shell|rust|golang|java|ruby|php|sql|powershell|c\+\+|c#"
)
#: The lead of a change to the last code request: "nice. can you also …"
_CHANGE_LEAD = (
    r"^\s*(?:(?:ok|okay|nice|great|cool|perfect|thanks|cheers)[.!,]*\s*)*"
    r"(?:(?:can|could|would|will) you\s+(?:please\s+)?|please\s+|now\s+)?(?:also\s+)?"
)
_ADD_TO_IT = re.compile(
    _CHANGE_LEAD + r"(?:add|include|put|write)\s+(?P<what>(?:a|an|some)\s+[\w-]+(?:\s+[\w-]+)?)\s+"
    r"(?:to|in|for)\s+(?:it|that|the function|the code|the script)\b",
    re.I,
)
_CHANGE_IT = re.compile(
    _CHANGE_LEAD + r"(?:(?:make|have|get) (?:it|that|the function|the code)\s+(?:also\s+)?|"
    # "can you change it so it rounds the result to 1 decimal place"
    r"(?:change|tweak|update|modify|adjust|edit|rewrite|fix) (?:it|that|the function|the code)"
    r"\s+(?:so (?:that )?(?:it )?|to )?)(?P<what>.+)$",
    re.I | re.S,
)


def follow_up(
    message: str, previous_route: str | None, previous_message: str | None
) -> Decision | None:
    """The thread's last tool again, for a short turn that carries it on, or None.

    A translation keeps the language of the request before unless this turn names one; a code
    request keeps its task ("one that returns the n-th fibonacci number" → "write a python
    function that returns…").

    Example:
        >>> follow_up("and 'thank you very much'?", "translate",
        ...     "translate 'good morning' into French").payload
        "translate 'thank you very much' into French"
        >>> follow_up("nice. now one that reverses a string", "code",
        ...     "write a python function that counts vowels").payload
        'write a python function that reverses a string'
        >>> follow_up("and where do I live?", "translate", "translate 'hi' into French") is None
        True
    """
    if previous_route not in ("translate", "code") or not previous_message:
        return None
    # "and in Spanish? one of the altos is from Seville": the request is the question
    message = re.split(r"(?<=\?)\s+", message.strip(), maxsplit=1)[0]
    if previous_route == "code":
        # "could you make it ignore spaces as well?", "can you add a docstring to it": the
        # same task, with the change
        added, change = _ADD_TO_IT.match(message), _CHANGE_IT.match(message)
        wanted = f"have {added.group('what')}" if added else change and change.group("what")
        if wanted:
            # "so it rounds the result": "It should also round the result"
            wanted = re.sub(r"^(\w+?[^s\W])s\b", r"\1", wanted.strip())
            task = previous_message.strip().rstrip(".!?")
            return Decision(
                "code",
                "rule: a change to the last code request",
                f"{task}. It should also {wanted.strip(' ?!.')}.",
            )
    text = re.sub(r"^\s*(?:ok|okay|nice|great|cool|perfect|thanks|cheers)[.!,]+\s*", "", message)
    m = _FOLLOW_UP.match(text)
    quoted = _QUOTE.search(text)
    if m is None and not (quoted and len(quoted.group(1)) >= len(text.strip(" ?!.")) - 4):
        return None
    rest = (m.group("rest") if m else text).strip()
    if not rest or len(rest.split()) > 25:
        return None
    if previous_route == "translate":
        named = re.search(rf"\b(?:in|into|to)\s+({LANGUAGE_NAMES})\b", rest, re.I)
        before = re.search(rf"\b({LANGUAGE_NAMES})\b", previous_message, re.I)
        found = named or before
        if found is None:
            return None
        language = found.group(1).capitalize()
        only_language = re.fullmatch(rf"(?:(?:in|into|to)\s+)?({LANGUAGE_NAMES})\W*", rest, re.I)
        said_before = _QUOTE.search(previous_message)
        if quoted:
            phrase = quoted.group(1)
        elif only_language and said_before:
            phrase = said_before.group(1)  # "and in Spanish?": the same words, another language
        elif not (say := _SAY.match(rest)) or not say.group(0).strip():
            return None  # "and my sister is called Ana" is not a phrase to translate
        else:
            phrase = _SAY.sub(
                "", re.sub(rf"\s*\b(?:in|into|to)\s+{language}\b", "", rest, flags=re.I)
            )
            phrase = phrase.strip(" ?!.")
            if is_question(phrase + "?") and re.match(
                r"^(?:what|where|who|when|how|why)\b", phrase, re.I
            ):
                return None  # "and where do I live?" is a new question
        if not phrase:
            return None
        return Decision(
            "translate",
            "rule: a follow-up of the last translation",
            f"translate '{phrase}' into {language}",
        )
    version = re.match(
        rf"^(?:(?:a|an|the)\s+)?(?:{_CODE_LANGUAGES})\s+(?:version|one)\b|^in\s+(?:{_CODE_LANGUAGES})\b",
        rest,
        re.I,
    )
    if version is not None:
        # "and a python version of that?" after a bash one-liner: the same task, that language
        wanted = re.search(_CODE_LANGUAGES, version.group(0), re.I)
        assert wanted is not None
        task = previous_message.strip().rstrip(".!?")
        if re.search(rf"\b(?:{_CODE_LANGUAGES})\b", task, re.I):
            task = re.sub(rf"\b(?:{_CODE_LANGUAGES})\b", wanted.group(0), task, count=1, flags=re.I)
        else:
            task = f"{task} in {wanted.group(0)}"
        task = re.sub(r"\bone-?\s?liner\b", "script", task, flags=re.I)
        return Decision("code", "rule: the last code request in another language", task)
    one = re.match(
        r"^(?:one|another(?: one)?|a function|something)\s+(?:that|which|to|for)\s+(.+)$",
        rest,
        re.I,
    )
    if one is None:
        return None
    lang = re.search(r"\b(python|javascript|bash|rust|go|java)\b", previous_message, re.I)
    language = (lang.group(1) if lang else "python").lower()
    what = f"write a {language} function that {one.group(1).strip()}"
    return Decision("code", "rule: a follow-up of the last code request", what.rstrip(" ?!."))


def classify(llm: Any, message: str) -> Decision | None:
    """Ask an instruction-tuned model for a conversation route (JSON grammar), or None."""
    prompt = llm.chat_format.render(
        [
            Message(
                "system",
                "Classify the user's message. chat: conversation or general "
                "knowledge; ask_memory: a question about the user's own life; ask_documents: a "
                "question about the user's documents.",
            ),
            Message("user", message[:500]),
        ]
    )
    try:
        label = llm.complete_json(prompt, _SCHEMA, max_tokens=24)["route"]
    except (LorebookError, KeyError, TypeError):
        return None
    if label not in ROUTES:
        return None
    return Decision(label, f"model ({label}); the examples were split", message)


__all__ = [
    "ROUTES",
    "TOOL_ROUTES",
    "Decision",
    "Router",
    "asks_about_user",
    "classify",
    "explicit_route",
    "follow_up",
    "asked_part",
    "is_question",
    "tool_route",
]
