"""Extracting the facts a user stated in a message, for the memorize and remember steps.

Rules, not the model: the default model is a 270M base model, and measured through the old
model-driven extractor it turned "My cat is called Miso." into "I am a cat." and "My colleague
Priya is a nurse" into "I am a nurse". What the rules do:

- only the user's own message is read (recalled memories, document text and the model's
  replies never become facts — the loop that filled mem0's stores with junk); the previous
  assistant message is read only to complete a short answer to its question ("It's Jonas
  Berg." after "What's your name?" becomes "My name is Jonas Berg.");
- questions, requests, greetings, thanks and filler are dropped;
- compound statements are split ("My name is Tom and my dog is called Rex." → two facts), a
  clause without its own subject takes the previous one ("I live in Paris and work as a nurse"
  → "I work as a nurse."), and he/she/they after "my daughter" become "my daughter";
- the subject is kept: a fact about someone else stays about them, by name;
- what is kept is the user's own words, so a stored fact is always supported by them.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

from agent.pipeline.evidence import SAME_IDEA, content_words
from memory._slots import NOT_NAMES as _NOT_NAMES
from memory._slots import RELATIONS, secret_slot

__all__ = [
    "correction",
    "extract_facts",
    "facts_in",
    "is_correction",
    "is_statement",
    "said_of_someone_before",
    "stated_sentences",
]

# a sentence ends at . ! ? before a space, except after a title or an initial ("Dr. Okonkwo")
SENTENCE_SPLIT = re.compile(
    r"(?<!\bDr\.)(?<!\bMr\.)(?<!\bMs\.)(?<!\bMx\.)(?<!\bSt\.)(?<!\bMrs\.)(?<!\bProf\.)"
    r"(?<!\b[A-Z]\.)(?<=[.!?])\s+|\n+"
)
_LEAD = re.compile(
    r"^\s*(?:(?:oh|ok|okay|so|well|also|btw|by the way|anyway|fyi|just so you know|hey|hi|"
    r"hello|and|but|actually|oh and|by the by|right|anyhow|haha+|hah|lol|lmao|ha|hmm+|"
    r"yeah|yep|yes|alright|fine|welp|ugh|argh|wow|omg|random thing but|get this|"
    r"(?:to cut a )?long story short|fun fact|for context|basically|fair(?: enough)?|"
    r"change of plans?|heads up|quick (?:update|one|thing)|update|news|small update|"
    r"(?:(?:a\s+)?(?:quick|short|brief|little)\s+)?intro(?:duction)?(?:\s+so\s+you\s+know\s+"
    r"(?:me|who i am))?|about me|"
    r"good news|bad news|big news|great news|some news|exciting news|guess what|sorry|typo(?!')|"
    r"my bad|oops|correction|scratch that|no wait|starting (?:on\s+)?(?:monday|tuesday|"
    r"wednesday|thursday|friday|saturday|sunday|today|tomorrow|next week|next month)|"
    r"from (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|next week))"
    r"\b\s*[,:!.—–-]?\s*)+",
    re.I,
)
_TRAIL = re.compile(r"\s*,?\s*(?:by the way|btw|too|as well|lol|haha)\s*([.!]?)\s*$", re.I)
_QUESTION_START = re.compile(
    r"^\s*(what|who|whom|whose|where|when|which|how|why|do|does|did|is|are|am|was|were|can|"
    r"could|would|should|will|shall|have|has|had|may|might)\b",
    re.I,
)
#: A question typed fast, without its apostrophe ("whats the cat called again, I always
#: forget"), or a statement a tag makes a question ("ugh mondays, am I right")
QUESTION_TAG = re.compile(
    r",\s*(?:am i right|right|isn'?t it|aren'?t they|don'?t you think|yeah)\s*[.!]*\s*$", re.I
)
SLURRED_QUESTION = re.compile(r"^\s*(?:whats|wheres|whos|hows|whens|whys|wats?|wots?)\s", re.I)
#: A question inside a longer message, its verb before its subject: "haha thanks. wait what
#: am i cooking tonight again", "survived the in-laws 😂 what were their names again", "if i
#: lose my laptop who do i ring" — not "I know what I'm doing", "ask him where he is"
EMBEDDED_QUESTION = re.compile(
    r"(?<![A-Za-z'])(?<!know )(?<!knew )(?<!asked )(?<!ask )(?<!wonder )(?<!remember )"
    r"(?<!forgot )(?<!forget )(?<!told )(?<!tell )(?<!sure )(?<!idea )(?<!decide )(?<!see )"
    r"(?<!understand )(?<!explain )(?<!show )(?<!out )(?<!matter )(?<!about )(?<!is )"
    # at a clause's start ("wait what am i…", "😂 what were their…"), or with "I"/"we"/"you"
    # after the verb anywhere ("if i lose my laptop who do i ring"); not a relative clause
    # ("Ralph is the groundsman who does the pitches")
    r"(?P<q>(?:(?<=^)|(?<=[^\w\s] )|(?<=[^\w\s])|(?<=\bwait )|(?<=\bso )|(?<=\bok )|"
    r"(?<=\boh )|(?<=\band )|(?<=\bbut )|(?<=\banyway )|(?<=\bbtw )|(?<=\blol )|"
    r"(?<=\bhaha ))(?:what|who|where|when|which|how)\s+(?:am|is|are|was|were|do|does|did|"
    r"have|has|can|should|will|would)\s+(?:i|we|you|they|he|she|it|my|our|their|his|her|the)\b"
    r"[^.!?,;]*|(?:what|who|where|when|which|how)\s+(?:am|do|did|can|should|have)\s+(?:i|we)\b"
    r"[^.!?,;]*)",
    re.I,
)
QUESTION_SHAPE = re.compile(f"{SLURRED_QUESTION.pattern}|{QUESTION_TAG.pattern}", re.I)
#: A request to the assistant after a comma or "so" ("I'm bored, say something fun")
_LATER_REQUEST = re.compile(
    r"(?:,|\bso|\band)\s+(?:now\s+|just\s+)?(?:please\s+)?(?:say|tell me|give me|show me|"
    r"recommend|suggest|help me|make me|cheer me up|entertain me|surprise me|talk to me|sing|"
    r"write me|teach me|explain|amuse me|distract me)\b",
    re.I,
)
_REQUEST = re.compile(
    r"^\s*(please|tell|give|show|write|make|list|explain|describe|help|translate|"
    r"summari[sz]e|review|find|search|look|let's|let us|remind|suggest|recommend|create|"
    r"generate|draft|compose|fix|check|compute|calculate|define|compare|forget|remember|"
    r"delete|erase|i want you|i need you|i'd like you|i would like you|can you|could you|"
    r"would you|will you|say|sing|draw|name|pick|choose|imagine|pretend|guess|count|spell|"
    r"read|teach|send|book|set|add|open|start|stop|plan|think of|recommend|greet|invent|"
    r"rewrite|rephrase|convert|answer|continue|go on|try|do)\b",
    re.I,
)
_NOT_A_FACT = re.compile(
    r"^\s*(thanks?|thank you|thx|cheers|hi|hello|hey|good (?:morning|evening|night|afternoon)|"
    r"bye|goodbye|see you|ok|okay|night|nighty|evening|morning|afternoon|cool|great|nice|"
    r"awesome|sure|yes|no|yeah|nope|hmm+|lol|"
    r"haha|sorry|never ?mind|i see(?=\s*(?:[,.!?;:]|$))|got it|i don't know|i dont know|"
    r"no idea|not sure|"
    r"i'?m (?:fine|good|ok|okay|well|great|alright|doing (?:well|fine|good|great|ok))|"
    r"i (?:think|wonder|guess|suppose|was wondering|want to know|would like to know)|"
    r"i (?:always |just |kind of |kinda )?(?:want|wanted) to say\b|"
    r"i (?:hope|trust) (?:you|you're|all)|hope you|glad to|nice to (?:meet|see|talk)|"
    r"i'?m (?:just )?(?:curious|wondering|asking)|"
    # the user's memory of the moment, said before a question: "I forgot, what's my …?"
    r"i(?:'ve| have)? (?:totally |completely |clean |just |kind of |kinda )?(?:forgot|forgotten|"
    r"forget|can't remember|cannot remember|don't remember|do not remember|can't recall|"
    r"blanked)(?=\s*(?:[,.!?;:—–-]|$|(?:again|sorry|though|but|so|what|where|when|which|who|"
    r"how)\b))|i(?:'ve| have)? (?:totally |completely |just )?lost track of (?:the )?(?:time|days?|"
    r"dates?|weeks?)|i'?m (?:confused|lost|blanking|drawing a blank)|"
    # asking the assistant to go on is not an answer: "Please continue." is not a name
    r"(?:please\s+)?(?:continue|go on|carry on|keep going|tell me more|more please|and\?)|"
    # announcing what comes next in the chat is not a fact: "I'm going to give you my policy"
    r"(?:i'?m|i am) (?:going to|gonna|about to) (?:give|send|show|paste|share|upload|read|"
    r"tell|ask) you\b|i'?ll (?:give|send|show|paste|share|upload) you\b|"
    r"let me (?:give|send|show|paste|share|ask)\b|"
    # "here's his care plan from the agency": a document handed over
    r"here(?:'s| is| are)\s+(?:the|my|our|his|her|their|a|an)\b|"
    # handing documents over: "put my car insurance summary … in there", "dropped the book
    # club notes in", "uploaded the lease": what ingest keeps, not a fact of the user's life
    r"(?:i(?:'ve| have)?\s+(?:just\s+)?)?(?:put|dropped|popped|added|uploaded|ingested|attached|"
    r"loaded|stuck|chucked|threw)\b[^.!?]{0,80}\b(?:notes?|docs?|documents?|files?|pdfs?|"
    r"letters?|summary|minutes|manual|lease|contract|policy|receipts?|scans?)\b[^.!?]{0,20}?"
    r"(?:\s+(?:in|in there|in here|up|into (?:the|your) \w+))?\s*[.!]*$|"
    # asides that carry no fact: "Change of plan, …", "Chaos, but the good kind."
    r"chaos\b|long story(?: short)?|fun times|good times|not ideal|no big deal|"
    r"just saying|fair enough|whatever|typical|classic|lucky me|oh well|so yeah|"
    r"such is life|"
    # "Random pub quiz question incoming."
    r"(?:(?:a|one|random|quick|another|little|pub|quiz|trivia)\s+)*(?:question|riddle|one)s?\s+"
    r"(?:incoming|for you|coming(?: up)?))\b",
    re.I,
)
#: Leaving or coming back is conversation, not a fact: "I'm off to bed."
_LEAVING = re.compile(
    r"^\s*(?:i'?m|i am) (?:off|going|heading|away|back)\b"
    r"(?: (?:now|home|out|off|to (?:bed|sleep)))?\s*[.!]*$",
    re.I,
)
_SUBJECT_START = re.compile(r"^(?:i|i'm|i've|i'd|i'll|im|my|our|we|we're|we've)\b", re.I)
_PRONOUN_START = re.compile(r"^(he|she|they|his|her|their|it|its)\b\s*", re.I)
_NAME_START = re.compile(
    r"^([A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)(?:\s+[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)?(?:'s)?\s+(?:is|was|has|had|does|did|lives|works|"
    r"studies|teaches|loves|likes|hates|plays|runs|owns|keeps|drives|just|also|and|got|"
    r"moved|started|turned|handles|designs|wants|needs|[a-z]+s|[a-z]+ed)\b"
)
# "me" and "us" are left out: they mark requests ("tell me a story"), not statements; but a
# third party doing something to the user is about them ("they've moved me onto earlies")
_DONE_TO_ME = re.compile(
    r"^(?:they|they've|they're|he|he's|she|she's|(?:the|that|this) [a-z]+|"
    r"[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)\b"
    r".*\b(?:me|us)\b"
)
_NAME_IS = re.compile(
    r"^([A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)'s\s+(?:the|a|an|not|never|always|still|our|my|[a-z]+ing)\b"
)
_FIRST_PERSON = re.compile(r"\b(i|i'm|i've|i'd|my|mine|we|we're|our)\b", re.I)
# "My sister", "My dad's mother", "My colleague Priya": up to the verb
_MY_NP = re.compile(
    r"^((?:[Mm]y|[Oo]ur)\s+(?:[a-z-]+(?:'s)?\s+){0,3}?[a-z-]+(?:\s+[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+){0,2}),?\s+"
    r"(?=(?:is|was|has|had|does|did|lives|works|just|also|called|named|[a-z]+s|[a-z]+ed)\b)"
)

# Short answers to the assistant's question: (question pattern, fact template).
_ANSWER_FORMS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(your name|call you|who are you|your first name)\b", re.I), "My name is {}."),
    (re.compile(r"\bwhere\b.*\b(live|living|based)\b", re.I), "I live in {}."),
    (re.compile(r"\bwhere\b.*\bfrom\b", re.I), "I am from {}."),
    (re.compile(r"\bwhere\b.*\bwork\b", re.I), "I work at {}."),
    (
        re.compile(r"\b(what do you do|your (?:job|work|profession|occupation))\b", re.I),
        "I work as {}.",
    ),
    (re.compile(r"\bhow old\b", re.I), "I am {} years old."),
    (re.compile(r"\bwhen is your birthday\b", re.I), "My birthday is {}."),
    (
        re.compile(r"\bwhat(?:'s| is| was) your ([a-z ]{2,30}?) (?:called|named)\b", re.I),
        "My {attr} is called {}.",
    ),
    (re.compile(r"\bwhat(?:'s| is) your ([a-z ]{2,30}?)\s*\?", re.I), "My {attr} is {}."),
)
_ANSWER_PREFIX = re.compile(
    r"^\s*(?:it's|it is|that's|that is|i'm|i am|im|my name is|my name's|call me|i live in|"
    r"i work as|i work at|i'm from|i am from|in|at|as|a|an|just)\s+",
    re.I,
)


def _clean(sentence: str) -> str:
    s = _LEAD.sub("", sentence.strip())
    s = _TRAIL.sub(r"\1", s).strip()
    return s


def _finish(s: str) -> str:
    # "Dagný is 34, not 31": the value corrected away is not part of the fact
    s = re.sub(r",\s*not\s+[^,.;!]+(?=[.!]?\s*$)", "", s.strip())
    s = s.strip().strip(",;: ")
    if not s:
        return s
    s = s[0].upper() + s[1:]
    return s if s[-1] in ".!" else s + "."


def _is_statement(s: str) -> bool:
    if not s or s.rstrip().endswith("?"):
        return False
    if _QUESTION_START.match(s) or _REQUEST.match(s) or _NOT_A_FACT.match(s):
        return False
    if QUESTION_SHAPE.search(s) or EMBEDDED_QUESTION.search(s):
        return False
    if _LATER_REQUEST.search(s):
        return False  # "I'm bored, say something fun": a request with its reason
    if _LEAVING.match(s):
        return False
    return True


#: "The whole team …", "the landlord …": people and things of the user's own life
_PERSONAL_WORLD = re.compile(
    r"^\s*the\s+(?:whole\s+|entire\s+|new\s+|old\s+)?(?:team|office|boss|manager|club|"
    r"book club|class|landlord|landlady|neighbours?|neighbors?|kids|children|twins|school|gym|"
    r"band|choir|project|meeting|appointment|wedding|party|trip|holiday|flight|dentist|doctor|"
    r"vet|nursery|allotment|flat|house|garden|car|family|in-laws|surgery|landlords?|clinic|"
    r"boiler|heating|fridge|freezer|oven|washing machine|dishwasher|roof|shower|sink|toilet|"
    r"kettle|laptop|printer|router|wifi|bike|van|"
    r"salon|garage|practice|council|agency|hotel|airline|hospital|gp)\b",
    re.I,
)
#: A time of the user's own week: "last week", "this month", "on Monday", "tomorrow"
_PERSONAL_TIME = re.compile(
    r"\b(?:yesterday|today|tonight|tomorrow|(?:last|this|next)\s+(?:week|month|year|weekend|"
    r"night|monday|tuesday|wednesday|thursday|friday|saturday|sunday|spring|summer|autumn|fall|"
    r"winter)|on\s+(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)s?)\b",
    re.I,
)


_KIN_AND = re.compile(r"^(?i:my|our)\s+(?:[a-z-]+\s+)?[a-z-]+(?:\s+[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+){0,2}$")
#: "Benedikt's favourite cake is carrot cake"
_NAME_POSSESSIVE = re.compile(
    r"^([A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)['’]s\s+[a-z-]+(?:\s+[a-z-]+)?\s+(?:is|are|was|were|has|have)\b"
)


def _about_someone(s: str, possessive: bool = False) -> bool:
    """The clause says something about the user, or about a person or thing they name; with
    ``possessive``, also a sentence about a named person's thing ("Benedikt's favourite cake
    is …"), which as a clause after a comma stays with the one before ("… got a new phone, her
    number is …")."""
    whose = _NAME_POSSESSIVE.match(s) if possessive else None
    if whose and whose.group(1) not in _NOT_NAMES:
        return True
    if _SUBJECT_START.match(s):
        return len(s.split()) >= 2
    if _FIRST_PERSON.search(s):
        return True  # "At work I sit next to Mark"
    m = _NAME_START.match(s) or _NAME_IS.match(s)
    if m and m.group(1) not in _NOT_NAMES:
        return True  # "Priya works at the city hospital", "Rudi's the one who…"
    if _DONE_TO_ME.match(s):
        return True  # "they've moved me onto earlies"
    if _starts_with_name(s) and len(s.split()) > 2:
        return True  # "Katie at number 31 gives piano lessons"
    words = s.split()
    # "There's also Marc, who runs the IT helpdesk": a name further in
    bare = (re.sub(r"['’]s$", "", w.strip(",.!;:")) for w in words[1:])  # "Harriet's"
    return any(w[:1].isupper() and w not in _NOT_NAMES and w.isalpha() for w in bare)


def _holds_secret(sentence: str) -> bool:
    """The sentence gives a code or password with its value ("The door code for the office
    is 4417"): the user's to keep, though it names no one."""
    return secret_slot(sentence) is not None and bool(re.search(r"\d", sentence))


def _subject_of(clause: str) -> str | None:
    """The subject words a following clause may borrow ("I", "my dad's mother Greta")."""
    if re.match(r"^(?:i|i'm|i've|im)\b", clause, re.I):
        return "I"
    if re.match(r"^(?:we|we're|we've)\b", clause, re.I):
        return "We"
    pron = re.match(r"^(he|she)(?:'s|\s)", clause, re.I)
    if pron:
        return pron.group(1)  # "she's not with Dario anymore": she, not Dario
    m = _MY_NP.match(clause)
    if m:
        np_ = m.group(1)
        named = re.match(
            rf"^{re.escape(np_)}\s+(?:is|was)\s+(?:called|named)\s+([A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)",
            clause,
        )
        return f"{np_} {named.group(1)}" if named else np_
    m = _NAME_START.match(clause)
    if m and m.group(1) not in _NOT_NAMES:
        return m.group(1)
    names = [
        n for n in re.findall(r"(?<!^)\b([A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)\b", clause) if n not in _NOT_NAMES
    ]
    return names[-1] if names else None  # "At work I sit next to Mark, he handles payroll"


_CLAUSE_START = re.compile(
    r"^(?i:i|i'm|i've|i'd|i'll|im|my|our|we|we're|we've|he|she|they|he's|she's|they're|his|"
    r"her|their|everyone|everybody|nobody|no one|people|most people|all my|all our|"
    r"(?:honestly|frankly|basically|really|obviously|to be honest|tbh),?\s+(?:everyone|"
    r"everybody|people|my|our|we|he|she|they|i)\b)\b|^[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+(?:\s+[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)?\s+(?:is|was|has|had|lives|works|[a-z]+s|"
    r"[a-z]+ed)\b"
)
_NOT_VERBS = frozenset(
    "the a an this that these those it its there then so also too very in on at to for with "
    "from of by about as not no yes".split()
)
_RELATIVE = re.compile(r"^(?:who|which|that|where|when|whose|whom|with|and)\b", re.I)


_FEMALE = frozenset(
    "sister mother mum mom daughter wife girlfriend aunt auntie niece grandmother grandma gran "
    "nan granddaughter landlady fiancee fiancée lady woman girl mrs ms miss stepmother stepmum "
    "stepmom stepdaughter stepsister goddaughter".split()
)
_MALE = frozenset(
    "brother father dad son husband boyfriend uncle nephew grandfather grandpa grandad grandson "
    "landlord fiance fiancé guy man boy mr bloke lad stepfather stepdad stepson stepbrother "
    "godson".split()
)


def _gender(who: str, context: str) -> str | None:
    """ "f", "m" or None for a subject ("my sister Marisol") or a name, from its own words or
    the word before it in ``context`` ("this guy Teodor", "mr Adeyemi")."""
    words = {w.lower().rstrip("'s") for w in who.split()}
    name = who.split()[-1] if who.split() else ""
    # "this guy Teodor", "mr Adeyemi", "a guy called Teodor"
    before = (
        re.findall(rf"\b([A-Za-z]+)\.?\s+(?:(?:called|named)\s+)?{re.escape(name)}\b", context)
        if name
        else []
    )
    words |= {w.lower() for w in before}
    if words & _FEMALE and not words & _MALE:
        return "f"
    if words & _MALE and not words & _FEMALE:
        return "m"
    return None


#: Animals a "she"/"he" may be: "we adopted a retired greyhound … she's 4"
_ANIMALS = "|".join(
    sorted(
        {w for w, idea in SAME_IDEA.items() if idea in ("dog", "cat")}
        | set("dog cat puppy kitten horse pony rabbit hamster parrot tortoise".split()),
        key=len,
        reverse=True,
    )
)


def _agreeing(pronoun: str, subject: str | None, context: str) -> str | None:
    """The one "he"/"she" refers to: ``subject`` unless its gender disagrees, else the last
    person named in ``context`` who agrees ("my sister Marisol married this guy Teodor, he's a
    luthier" → Teodor), else None."""
    want = {"he": "m", "his": "m", "him": "m", "she": "f", "her": "f"}.get(pronoun.lower())
    if want is None or subject is None or subject in ("I", "We"):
        return subject
    if {"she": "f", "he": "m"}.get(subject.lower()) == want:
        return None  # "she's not with Dario anymore, her coach is …": still the one unnamed
    person = (
        any(w in RELATIONS for w in subject.lower().split())
        or bool(re.search(r"\b[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+\b", subject.split(" ", 1)[-1]))
        # "our greyhound … she's 4": an animal is a she or a he too
        or bool(re.search(rf"\b(?:{_ANIMALS})$", subject, re.I))
    )
    named = [
        n
        for n in re.findall(r"(?<!^)\b([A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)\b", context)
        if n not in _NOT_NAMES
    ]
    said = _gender(subject, context)
    if person and said == want:
        return subject
    if person and said is None:
        # "my mum Philippa … her physio, Dariusz, comes round … she's on warfarin": the one
        # known to agree (Philippa) before the one of unknown gender (Dariusz)
        agree = [n for n in named if n not in subject.split() and _gender(n, context) == want]
        return agree[-1] if agree else subject
    for pick in (want, None):
        for n in reversed(named):
            if n not in subject.split() and _gender(n, context) == pick:
                return n
    return None


_HEAD_NOUN = re.compile(
    r"^(?:(?:my|our|your|his|her|their)\s+(?:[\w-]+'s\s+)?|[A-ZÀ-ÖØ-Þ][\w-]*'s\s+)"
    r"(?P<noun>[a-z][\w-]*(?:\s+[a-z][\w-]*)?)\s+(?:is|are|was|were)\b",
    re.I,
)
_ELIDED = re.compile(r"^((?:(?:my|our|his|her|their)\s+)?[\w-]+'s)\s+(is|are|was|were)\b", re.I)


def _restore_head(part: str, before: str) -> str:
    """ "… and my mother-in-law's is on the 12th": the noun the clause leaves out, from the
    clause before ("my mum's birthday is …").

    Example:
        >>> _restore_head("my wife's is blue", "My car is red")
        "my wife's car is blue"
    """
    head = _HEAD_NOUN.match(before)
    if head is None or not _ELIDED.match(part):
        return part
    return _ELIDED.sub(lambda m: f"{m.group(1)} {head.group('noun')} {m.group(2)}", part, count=1)


#: A clause that opens with a plural noun and its verb: "hazelnuts make my throat swell",
#: "the kids love it" — it has a subject of its own
_OWN_SUBJECT = re.compile(
    r"^(?:the\s+|my\s+|our\s+)?[a-z][a-z-]+\s+(?:make|makes|made|are|were|is|was|have|has|had|"
    r"give|gives|gave|do|does|did|can|can't|cannot|could|will|won't|would|keep|keeps|kept|"
    r"cost|costs|take|takes|took|get|gets|got|seem|seems|seemed|look|looks|looked|go|goes|went|"
    r"drive|drives|drove|love|loves|loved|hate|hates|hated|need|needs|needed|start|starts|"
    r"started|run|runs|ran)\b",
    re.I,
)


def _is_person(who: str) -> bool:
    """A subject that is a person: a name ("Tobiah") or a relation ("my son")."""
    words = who.split()
    if any(w[:1].isupper() and w.lower() not in ("my", "our") for w in words):
        return True
    return any(w.lower().removesuffix("'s") in RELATIONS for w in words)


def _split(sentence: str) -> list[str]:
    """Split a compound statement into clauses that each have a subject.

    "and"/"but"/";" split when what follows can stand alone or borrows the subject ("I live in
    Paris and work as a nurse"); a bare comma only before a new subject ("…, he handles
    payroll"). A clause that cannot stand alone (a relative clause, no subject of its own, a
    pronoun that cannot be resolved) stays joined to the one before: a fact is never dropped
    for being hard to split.
    """
    pieces = re.split(r"(\s*(?:,\s*and|;|,\s*but|\band\b|\bbut\b|,|\s[—–])\s+)", sentence)
    if len(pieces) == 1:
        return [sentence]
    out: list[str] = []
    subject: str | None = None
    glue = ""
    for i, raw in enumerate(pieces):
        if i % 2 == 1:
            glue = raw
            continue
        part = raw.strip()
        if not part:
            continue
        if not out:
            out.append(part)
            subject = _subject_of(part)
            continue
        part = _restore_head(part, out[-1])
        if (
            len(out) == 1
            and glue.strip() == "and"
            and (
                len(out[0].split()) <= 2
                # "My husband Wojtek and I got married in 2019"
                or (_KIN_AND.match(out[0]) and re.match(r"(?:i|we)\b", part, re.I))
            )
        ):
            out[0] = f"{out[0]}{glue}{part}"  # "Marco and I broke up"
            subject = _subject_of(out[0]) or _subject_of(part)
            continue
        if glue.strip() in ("—", "–") and _PRONOUN_START.match(part):
            out[-1] = f"{out[-1]}{glue}{part}"  # "Bramley is my mum's horse — she keeps him…"
            continue
        comma_only = glue.strip() == ","
        if (
            glue.strip() in ("and", ", and")
            and len(part.split()) <= 2
            and part[0].islower()
            and not _PRONOUN_START.match(part)
            and not _SUBJECT_START.match(part)
        ):
            out[-1] = f"{out[-1]}{glue}{part}"  # "… mostly deadlifts and squats"
            continue
        # "…, but honestly most folks call me Dee": the user is its object, so it has a
        # subject of its own
        standalone = bool(_CLAUSE_START.match(part)) or bool(
            re.match(r"^(?:[a-z]+,?\s+){1,3}(?:call|calls|know|knows)\s+me\b", part)
        )
        if _RELATIVE.match(part) or (comma_only and not standalone):
            out[-1] = f"{out[-1]}{glue}{part}"  # "Marc, who runs the IT helpdesk"
            continue
        pron = _PRONOUN_START.match(part)
        who = _agreeing(pron.group(1), subject, sentence) if pron else subject
        if pron and who in ("I", "We"):
            # "I look after my dad Cormac, he's 81 and lives with us": the one named before
            # whom "he" agrees with
            want = {"he": "m", "she": "f"}.get(pron.group(1).lower())
            named = [
                n
                for n in re.findall(r"(?<!^)\b([A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)\b", out[-1])
                if n not in _NOT_NAMES and want and _gender(n, out[-1]) == want
            ]
            who = named[-1] if named else who
        if (
            pron
            and pron.group(1).lower() == "it"
            and re.search(r"(?:^|[.!?]\s+)(?i:it)\b[^.!?]*$", out[-1])
        ):
            out[-1] = f"{out[-1]}{glue}{part}"  # "It's in Lyon and it's called …": the same "it"
            continue
        if pron and pron.group(1).lower() in ("it", "its") and who is not None and _is_person(who):
            who = None  # "… renamed her Juniper and it stuck": "it" is the name, not the son
        if pron and who is not None and who not in ("I", "We"):
            subject = who
            word, rest = pron.group(1).lower(), part[pron.end() :]
            if rest.startswith("'s "):
                part = f"{subject} is {rest[3:]}"  # "he's an architect"
            else:
                owner = subject if word in ("he", "she", "they", "it") else subject + "'s"
                part = f"{owner} {rest}"
        elif (
            not standalone
            and subject is not None
            and part[0].islower()
            and part.split()[0] not in _NOT_VERBS
            and glue.strip() in ("and", ", and", "but", ", but")
            # "… and peanuts make me itch": a subject of its own, before its verb
            and not _OWN_SUBJECT.match(part)
        ):
            if subject in ("I", "We") and re.match(r"(?:is|has|does|[a-z]+[^s\W]s)\b", part):
                # "…, she's a nurse and lives in Leeds": "lives" is not the user's verb
                out[-1] = f"{out[-1]}{glue}{part}"
                continue
            part = f"{subject} {part}"  # "… and work as a nurse", "… and bought a Yaris"
        if (
            _PRONOUN_START.match(part)
            or not _about_someone(part)
            # "the band finally has a name, we're called The Paper Lanterns": a lead clause
            # about no one is the context of the one after it
            or (len(out) == 1 and not _about_someone(out[0]))
        ):
            out[-1] = f"{out[-1]}{glue}{part}"  # "…, the beach was lovely"
            subject = subject or _subject_of(part)
            continue
        out.append(part)
        subject = _subject_of(part) or subject
    return out


def _short_answer(message: str, previous: str) -> list[str]:
    """A short answer to the assistant's question, as a full fact (or nothing)."""
    question = previous.strip().rsplit("\n", 1)[-1]
    if not question.rstrip().endswith("?"):
        return []
    words = message.split()
    if not words or len(words) > 8 or message.rstrip().endswith("?"):
        return []
    value = _ANSWER_PREFIX.sub("", _clean(message)).strip().rstrip(".!")
    value = re.sub(r"\s*,?\s*(?:thanks|thank you)\b.*$", "", value, flags=re.I).strip()
    if not value or _NOT_A_FACT.match(value):
        return []
    for pattern, template in _ANSWER_FORMS:
        m = pattern.search(question)
        if m:
            if "{attr}" in template:
                return [_finish(template.replace("{attr}", m.group(1).strip()).format(value))]
            return [_finish(template.format(value))]
    return []


def is_statement(message: str) -> bool:
    """True when every sentence of ``message`` is a statement (no question, no request).

    Example:
        >>> is_statement("My name is Tom and my dog is called Rex.")
        True
        >>> is_statement("I'm allergic to peanuts. What's a good snack?")
        False
    """
    sentences = [_own_thing(_clean(s)) for s in SENTENCE_SPLIT.split(message.strip()) if s.strip()]
    sentences = [s for s in sentences if len(s) > 1]
    # an aside that states nothing ("no more damp 🎉", "lol") does not make it a question
    return any(_is_statement(s) for s in sentences) and all(
        _is_statement(s) or _is_aside(s) for s in sentences
    )


def _is_aside(s: str) -> bool:
    """An exclamation or aside beside a statement: "no more damp 🎉", "yay!", "lol"."""
    return not s.rstrip().endswith("?") and bool(_NOT_A_FACT.match(s)) and len(s.split()) <= 5


#: A clause that only sets up a question: "If I want to move out, …?", "When I retire, …?"
_SUBORDINATE = re.compile(
    r"^(?:if|when|whenever|once|because|since|while|although|though|before|after|unless|"
    r"until|in case|as soon as|whether|say|suppose|supposing|assuming|let's say)\b",
    re.I,
)


def stated_sentences(message: str) -> list[str]:
    """The message's statements about the user or someone they name, split into clauses.

    Example:
        >>> stated_sentences("My name is Tom and my dog is called Rex.")
        ['My name is Tom.', 'My dog is called Rex.']
        >>> stated_sentences("My daughter is called Zoe and she is seven.")
        ['My daughter is called Zoe.', 'My daughter Zoe is seven.']
        >>> stated_sentences("I live in Paris and work as a nurse. What's the weather?")
        ['I live in Paris.', 'I work as a nurse.']
        >>> stated_sentences("Thanks! How are you?")
        []
        >>> stated_sentences("If I move out early, do I lose my deposit?")
        []
        >>> stated_sentences("started volunteering at the care home today, shattered")
        ['I started volunteering at the care home today, shattered.']
        >>> stated_sentences("The pharmacy holds my prescription. I pick it up on Fridays.")
        ['The pharmacy holds my prescription. I pick it up on Fridays.']
    """
    out: list[str] = []
    named = _INTRODUCED.match(message)
    if named and _introduced(named):
        out.append(f"My name is {_introduced(named)}.")  # "evening! Tamsin here"
        message = message[named.end() :]
    subject: str | None = None  # the subject a "She …" of the next sentence refers to
    asked = False  # the sentence before asked something
    for raw in SENTENCE_SPLIT.split(_asides(message.strip())):
        s = _own_thing(_clean(_label(_clean(raw))))
        if s.endswith("?") and "," in s:
            # "I'm allergic to peanuts, anyway what's a good snack?": keep the statement part,
            # when it is the user's ("At sea level, what temperature…?" holds none)
            s = _clean(s.rsplit(",", 1)[0])
            if not _FIRST_PERSON.search(s) or _SUBORDINATE.match(s):
                s = ""  # "If I want to move out, how much notice…?" states nothing
        if not _is_statement(s) or (asked and _WHY_ASKED.match(s)):
            # "where are rehearsals held? giving my mate directions": why it was asked
            asked = not _is_statement(s)
            subject = None
            continue
        asked = False
        s = _implied_i(s)
        pron = _PRONOUN_START.match(s)
        if pron and subject is not None and pron.group(1).lower() in ("his", "her", "their"):
            # "my brother Theo is a plumber. his wife Thea is a midwife": Theo's wife
            who = _agreeing(pron.group(1), subject, " ".join(out[-2:]))
            if who is not None and who not in ("I", "We") and s[pron.end() :][:1].islower():
                s = f"{who}'s {s[pron.end() :]}"
                pron = None
        if pron and subject is not None and pron.group(1).lower() in ("he", "she", "they"):
            who = _agreeing(pron.group(1), subject, " ".join(out[-2:]))
            if pron.group(1).lower() == "they" and who is not None and " and " not in who:
                who = None  # "Ralph is the groundsman … they're forever arguing": both of them
            if who is not None:
                rest = s[pron.end() :]
                # "… is Kiki. She belongs to Doreen.", "he's a Hermann's tortoise"
                s = f"{who} is {rest[3:]}" if rest.startswith("'s ") else f"{who} {rest}"
        kept = False
        for i, clause in enumerate(_split(s.rstrip(".!"))):
            clause = _clean(clause)
            if not _is_statement(clause):
                continue
            if (
                out
                and len(clause.split()) >= 3
                and (
                    _needs_context(clause)
                    if i == 0
                    # "… and hazelnuts make my throat swell so I avoid them": "them" is its own
                    else bool(_POINTS_BACK.search(clause))
                    and not _OWN_SUBJECT.match(clause)
                    # "…, and Kasper still owes me 60 euros - gotta chase him up on that": a
                    # named subject of its own, another person than the clause before
                    and not _named_verb(clause)
                )
            ):
                # "I pick it up every second Friday" says nothing without the sentence before
                out[-1] = f"{out[-1]} {_finish(clause)}"
                kept = True
            elif (
                _about_someone(clause, possessive=True)
                or _holds_secret(s)
                # "the whole team got moved up to the 11th floor last week"
                or _PERSONAL_WORLD.match(clause)
                or _PERSONAL_TIME.search(clause)
                or _MOVED_IT.search(clause)  # "the clinic moved it to Wednesday"
            ):
                out.append(_finish(clause))
                kept = True
        last = out[-1].rstrip(".!") if kept else ""
        subject = _subject_of(_split(last)[-1]) if kept else None
        if subject in ("I", "We"):
            # "I owe my cousin Lorcan 250 quid. He lives in Galway": the one named; not a
            # word of an organisation's name ("the Harrowgate Greyhound Trust")
            others = [
                m.group(1)
                for m in re.finditer(r"(?<!^)\b([A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)\b", last)
                if m.group(1) not in _NOT_NAMES
                and not re.match(r"\s+[A-ZÀ-ÖØ-Þ]", last[m.end() :])
                and not re.search(r"[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+\s+$", last[: m.start()])
            ]
            # "We adopted a retired greyhound … She's 4": the animal, as "our greyhound"
            pet = re.search(rf"\b(?:a|an)\s+(?:[a-z-]+\s+)?({_ANIMALS})\b", last, re.I)
            owner = "Our" if subject == "We" else "My"
            subject = others[-1] if others else f"{owner} {pet.group(1).lower()}" if pet else None
    return _with_bare_news(out)


def _with_bare_news(facts: list[str]) -> list[str]:
    """ "We moved!! We're in a terraced house on Lindel Street now": news that says only that
    something happened ("We moved.", "I quit.") goes with the fact after it, which says what;
    alone it answered "what street do I live on?" with "You moved"."""
    out: list[str] = []
    for fact in facts:
        if out and _BARE_NEWS.fullmatch(out[-1]):
            out[-1] = f"{out[-1]} {fact}"
        else:
            out.append(fact)
    return out


_BARE_NEWS = re.compile(r"(?:i|we)(?:'ve| have)?\s+(?:finally\s+|just\s+)?[a-z]+(?:ed)?[.!]*", re.I)


#: "evening! Tamsin here", "hi, this is Tamsin": the user says who they are
_INTRODUCED = re.compile(
    r"^\s*(?:(?:hi|hey|hello|hiya|evening|morning|afternoon|good (?:morning|afternoon|evening))"
    r"\b[\s,.!]*)+(?:(?:it's|it is|this is)\s+([A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)|"
    r"([A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)\s+here)\b",
    re.I,
)


def _introduced(m: re.Match[str]) -> str | None:
    name = m.group(1) or m.group(2)
    return name if name and name[0].isupper() and name not in _NOT_NAMES else None


def _asides(message: str) -> str:
    """Drop a parenthesis that holds no name or number ("(yes, we know)"); keep the others as
    a clause ("(she's 7)" → ", she's 7,")."""

    def aside(m: re.Match[str]) -> str:
        inner = m.group(1)
        named = [w for w in re.findall(r"\b[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+", inner) if w not in _NOT_NAMES]
        if re.search(r"\d", inner) or named:  # "(Dieter, the one with the loud parrot)"
            return f", {inner},"
        return ""

    # "Marisol (my wife) turns 40", "Rosie (our springer spaniel) is 11": who or what they
    # are goes before the name, where facts keep it
    message = re.sub(
        r"\b([A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)\s*\(\s*((?:my|our)\s+(?:[a-z-]+\s+)?[a-z-]+)\s*\)",
        lambda m: f"{m.group(2)} {m.group(1)}",
        message,
    )
    message = re.sub(r"\s*\(([^()]{0,80})\)", aside, message)
    # "my other friend Anna — two n's — lives in Gdańsk": a dashed aside likewise
    return re.sub(r"\s+[—–]\s+([^—–.!?]{1,60}?)\s+[—–]\s+", lambda m: aside(m) + " ", message)


#: What a question's next sentence says of why it was asked: "giving my mate directions",
#: "need it for the form", "asking for a friend"
_WHY_ASKED = re.compile(
    r"^(?:(?:just|only)\s+)?(?:giving|filling|sorting|booking|writing|sending|getting|trying|"
    r"doing|asking|checking|wondering|need (?:it|them|this|that)|for (?:a|the|my|our)\b|"
    r"(?:i\s+)?(?:want|wanna|wanted|need|needed|have|had|got) to\b|"
    # "… racing name was? the vet asked"
    r"(?:the|my|our)\s+[a-z]+\s+(?:asked|wants to know|needs it)\b)",
    re.I,
)
_SAVE_LEAD = re.compile(
    r"^(?:please\s+)?(?:save|store|note(?: down)?|keep|add|jot down)\s+((?:my|our)\s[^:]{1,50}?)"
    r"\s*:\s*(\S.*)$",
    re.I,
)


def _label(sentence: str) -> str:
    """'good news for once: they've moved me…' → 'they've moved me…': a short lead-in that is
    about no one, before a colon, is not part of the fact."""
    save = _SAVE_LEAD.match(sentence)
    if save:  # "save my sister Tamsin's new number: 07700 900412"
        return f"{save.group(1)} is {save.group(2)}"
    m = re.match(r"^([^:]{1,60}):\s+(\S.*)$", sentence)
    # "two people who'll come up a lot: Marta is my landlady"
    if m and len(m.group(1).split()) <= 8 and not _about_someone(m.group(1)):
        return m.group(2)
    # "bit of a life update - my mum Philippa moved in with us": a dashed lead-in likewise
    dash = re.match(r"^([^:—–]{1,60}?)\s+[-—–]\s+(\S.*)$", sentence)
    if (
        dash
        and len(dash.group(1).split()) <= 6
        and not _about_someone(dash.group(1))
        and not re.search(r"\b(?:my|our|i|i'm|we|me)\b|\d", dash.group(1), re.I)
    ) or (
        # "oh wait no, I'm behind - Gwendolyn stepped down": a correction's preamble
        dash
        and re.match(
            r"(?i)^(?:(?:wait|no|nope|actually|hold on|oh|sorry|ugh)[\s,]+)*"
            r"(?:you(?:'re| are|'ve| have)\b|(?:i'm|i am|i was|we're|we were)\s+(?:so\s+)?"
            r"(?:behind|wrong|out of date|mistaken|confused|mixed up)\b)",
            dash.group(1),
        )
    ):
        return dash.group(2)
    if (
        m
        and len(m.group(1).split()) <= 8
        and not re.search(r"\b(?:my|our|i|i'm|me|we)\b", m.group(1), re.I)
        and not re.search(r"(?<!^)\b[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+", m.group(1))
        and (_starts_with_name(m.group(2)) or re.match(r"(?i:my|our|i|i'm)\b", m.group(2)))
    ):
        return m.group(2)  # a lead about "people", not one of them: the fact follows it
    return sentence


_PAST_VERB = re.compile(
    r"^(?:just |finally |also |recently )?(?:[a-z]{3,}ed|went|got|bought|sold|met|made|took|"
    r"saw|found|lost|left|gave|began|came|ran|had|won|built|spent|sent|broke|quit)\b",
    re.I,
)


#: Things of the user's own that casual speech names without "my": "rent's due on the 1st",
#: "passport runs out in 2031", "tax return has to be in by January"
_OWN_THING = re.compile(
    r"^(?:name|rent|mortgage|passport|visa|salary|pay|lease|tax return|taxes|insurance|"
    r"car insurance|phone bill|bills|birthday|flight|train|appointment|shift|shifts|commute|"
    r"deadline|password|pin|budget|savings|blood type|blood group|allergy|diet)"
    r"(?:'s|\s+(?:is|are|was|were|has|have|runs|run|expires|expire|comes|starts|ends|"
    r"leaves|lands|goes|went|costs|cost)\b)",
    re.I,
)


def _own_thing(sentence: str) -> str:
    """ "rent's due on the 1st" → "My rent is due on the 1st" (see :data:`_OWN_THING`)."""
    if not _OWN_THING.match(sentence):
        return sentence
    head, _, rest = sentence.partition(" ")
    if head.lower().endswith("'s"):
        return f"My {head[:-2].lower()} is {rest}"
    return f"My {sentence[0].lower()}{sentence[1:]}"


def _implied_i(sentence: str) -> str:
    """'started volunteering at the care home today' → 'I started volunteering…': casual
    speech drops the "I" before a past-tense verb; "rent's due on the 1st" → "My rent is
    due on the 1st" (and "name's Oskar" → "My name is Oskar")."""
    sentence = _own_thing(sentence)
    if _PAST_VERB.match(sentence) and not _NOT_A_FACT.match(sentence):
        return "I " + sentence[0].lower() + sentence[1:]
    return sentence


#: an object pronoun or "there" that points back at the sentence before
_POINTS_BACK = re.compile(r"(?<!^)\b(?:it|them|him|her|there|that one)\b(?!'s)", re.I)


def _starts_with_name(clause: str) -> bool:
    """The clause opens with a name ("Katie at number 31 …"), so it has a subject of its own."""
    first = clause.split()[0].strip(",.") if clause.split() else ""
    return first[:1].isupper() and first.isalpha() and first not in _NOT_NAMES


def _named_verb(clause: str) -> bool:
    """The clause opens with a name and its verb: "Kasper still owes me 60 euros"."""
    return bool(
        _starts_with_name(clause)
        and re.match(r"^\S+\s+(?:still\s+|now\s+|also\s+|just\s+)?[a-z]+(?:s|ed)\b", clause)
    )


def _needs_context(clause: str) -> bool:
    """A sentence that says nothing alone: it points back ("I pick it up every Friday"), or
    it has no subject of its own ("Plot 17 at the Fenwick Road gardens", "Cost me £1,450")."""
    if re.match(r"(?i:my|our)\s+[a-z-]+\s+(?-i:[A-ZÀ-ÖØ-Þ])", clause):
        return False  # "my nephew Bartholomew's …, so I'm getting him …": him is Bartholomew
    if _POINTS_BACK.search(clause) or _PRONOUN_START.match(clause):
        return True
    if re.match(r"(?i:that|this|those|these)\s+[a-z]+\b", clause):
        return True  # "… AGAIN. That corgi is going to bankrupt me": the one just named
    if re.match(r"(?i:cost|costs|took|set|gave|left|got|saved|charged)\s+(?:me|us)\b", clause):
        return True
    return not (
        _starts_with_name(clause)  # "Katie at no. 31"
        or _CLAUSE_START.match(clause)
        or _SUBJECT_START.match(clause)
        or _NAME_IS.match(clause)
        or re.match(r"^(?:the|a|an|this|that)\s", clause, re.I)
    )


def extract_facts(message: str, previous: str | None = None) -> list[str]:
    """The facts the user stated in ``message`` (possibly none).

    Args:
        message: the user's message.
        previous: the assistant's previous message, to complete a short answer to it.

    Example:
        >>> extract_facts("It's Jonas Berg.", previous="Nice to meet you! What's your name?")
        ['My name is Jonas Berg.']
        >>> extract_facts("My colleague Priya is a nurse at the city hospital")
        ['My colleague Priya is a nurse at the city hospital.']
        >>> extract_facts("/ask Tell me something about X1234567")
        []
        >>> extract_facts("Say hello to my cat Miso, please.")
        []
    """
    message = re.sub(r"^\s*/\w+\s*", "", message)  # "/ask …": the command is not a statement
    if previous:
        answered = _short_answer(message, previous)
        if answered:
            return answered
    return stated_sentences(message)


_MOVED_IT = re.compile(
    r"\b(?:moved|changed|rescheduled|postponed|cancelled|canceled|pushed|brought|shifted|"
    r"switched|swapped|put|bumped)\s+(?:it|that|them)\b",
    re.I,
)
_SUBJECT_THING = re.compile(
    r"^(?P<s>(?i:my|our)\s+[a-z][\w'-]*(?:\s+[a-z][\w'-]*)?)\s+(?:is|are|was|were|'s)\b"
)


_KIN_FIRST = re.compile(r"^(?i:my|our)\s+([a-z-]+)\b")


def _resolve_pronoun(fact: str, told: list[str]) -> str:
    """ "Her teacher is Mrs Fairweather" after "My daughter goes to St Brendan's": the
    daughter's teacher, when the user's previous message was about one relation it agrees with.

    Example:
        >>> _resolve_pronoun("Her teacher is Mrs Fairweather.", ["My daughter goes to St Ives."])
        "My daughter's teacher is Mrs Fairweather."
        >>> _resolve_pronoun("He is a chef.", ["My daughter goes to St Ives."])
        'He is a chef.'
    """
    m = re.match(r"^(She|He|Her|His)\b\s*", fact)
    if m is None:
        return fact
    kin = [_KIN_FIRST.match(f) for f in told]
    whom = {k.group(0) for k in kin if k}
    if len(whom) != 1:
        return fact
    subject = whom.pop()
    noun = subject.split()[-1].lower()
    female = m.group(1) in ("She", "Her")
    if noun not in (_FEMALE if female else _MALE):
        return fact
    rest = fact[m.end() :]
    owner = subject[0].upper() + subject[1:]
    return f"{owner} {rest}" if m.group(1) in ("She", "He") else f"{owner}'s {rest}"


def with_referent(facts: list[str], previous: str | None) -> list[str]:
    """Facts that move "it" keep what "it" was, from the user's previous message: after "My
    dentist appointment is on Thursday", "the surgery moved it to Friday" is stored as
    "Re my dentist appointment: the surgery moved it to Friday." — recalled and read alone
    later, it still says what moved.

    Example:
        >>> with_referent(["The surgery just rang and moved it to Friday."],
        ...     "My dentist appointment is on Thursday at 3pm.")
        ['Re my dentist appointment: the surgery just rang and moved it to Friday.']
    """
    if not previous or not facts:
        return facts
    told = stated_sentences(previous)
    facts = [_resolve_pronoun(f, told) for f in facts]
    things = (_SUBJECT_THING.match(f) for f in told)
    subject = next((m.group("s") for m in things if m), None)
    if subject is None:
        return facts
    noun = subject.split()[-1].lower()
    return [
        f"Re {subject[0].lower()}{subject[1:]}: {f[0].lower()}{f[1:]}"
        if _MOVED_IT.search(f) and noun not in f.lower()
        else f
        for f in facts
    ]


_HE_SHE = re.compile(
    r"^(?:he|she)(?:'s|\s+(?:is|was|has|had|works|lives|teaches|runs|"
    r"plays|does|studies|drives|owns|keeps|loves|hates|just|also|still|now|[a-z]+s|[a-z]+ed)\b)",
    re.I,
)


def said_of_someone_before(message: str, previous: str | None) -> list[str]:
    """ "he's a sound engineer at a theatre there", after a message about "my brother
    Tobiah": the fact about him, named (or nothing when no one agrees).

    Example:
        >>> said_of_someone_before("he's a sound engineer at a theatre there",
        ...     "My brother Tobiah moved to Galway over the summer.")
        ['My brother Tobiah is a sound engineer at a theatre there.']
        >>> said_of_someone_before("she's lovely", "My brother Tobiah moved to Galway.")
        []
    """
    text = _clean(message)
    if not previous or not _HE_SHE.match(text) or not _is_statement(text) or "?" in text:
        return []
    if len(SENTENCE_SPLIT.split(text.strip())) > 1 or len(text.split()) < 3:
        return []
    told = stated_sentences(previous)
    pronoun = text.split()[0].lower().removesuffix("'s")
    for fact in reversed(told):
        subject = _subject_of(_split(fact.rstrip(".!"))[0])
        if subject is None or subject in ("I", "We") or not _is_person(subject):
            continue
        who = _agreeing(pronoun, subject, fact)
        # "a guy called Teodor …. Teodor is teaching me Romanian": his gender, said before
        if who is None or _gender(who, " ".join(told)) is None:
            return []  # "he" of someone whose gender the user never said: not guessed
        return [_said_of(who, pronoun, text)]
    # "I've started a language exchange with a guy called Teodor …" then "he's a vet btw":
    # told of by the user, not the subject, and said to be a "guy"
    joined = " ".join(told)
    want = {"he": "m", "she": "f"}.get(pronoun)
    for name in reversed(re.findall(r"(?<!^)\b([A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)\b", joined)):
        if name not in _NOT_NAMES and _gender(name, joined) == want:
            return [_said_of(name, pronoun, text)]
    return []


def _said_of(who: str, pronoun: str, text: str) -> str:
    """ "he's a vet" of Teodor → "Teodor is a vet."."""
    if text.lower().startswith(f"{pronoun}'s"):
        return _finish(f"{who} is {text[len(pronoun) + 2 :].strip()}")
    return _finish(f"{who} {text.split(None, 1)[1] if ' ' in text else ''}")


def _answers_own_question(message: str, asked: str | None) -> list[str]:
    """ "ha fair, it's Ngozi" after the user's "do you know my name?" got "I don't know": the
    value the user then gave, as the fact their question asked for ("My name is Ngozi.")."""
    if not asked or "?" not in asked:
        return []
    value = _ANSWER_PREFIX.sub("", _clean(message))
    if re.search(
        r"\b(?:is|was|were|are|be|been|had|did|joking|kidding|test|testing)\b", value, re.I
    ):
        return []  # "fair enough, that was a test" gives no value
    swaps = {"my": "your", "i": "you", "me": "you", "am": "are", "i'm": "you're"}
    theirs = re.sub(r"\b(my|i|me|am|i'm)\b", lambda m: swaps[m.group(1).lower()], asked, flags=re.I)
    return _short_answer(message, theirs.rsplit("?", 1)[0] + "?")


def facts_in(
    message: str,
    previous_reply: str | None,
    previous_user: str | None,
    unanswered: str | None = None,
) -> list[str]:
    """The facts of a user's message in its conversation: the value given after the user's
    own question got "I don't know" (``unanswered``), its own statements
    (:func:`extract_facts`, the assistant's last message completing a short answer), else a
    "he …"/"she …" about whom the user's last message named; "it" kept with what it was
    (:func:`with_referent`)."""
    facts = (
        _answers_own_question(message, unanswered)
        or extract_facts(message, previous_reply)
        or said_of_someone_before(message, previous_user)
    )
    return with_referent(facts, previous_user)


_CORRECTION = re.compile(
    r"^\s*(?:(?:sorry|oops|whoops|no|nope|wait|correction|actually|my bad|typo|sorry again)"
    r"[,!.:;\s-]*)*(?:i meant(?: to say)?|i mean|make that|that should (?:be|have been)|"
    r"it should (?:be|have been)|it's actually|it is actually|"
    # "actually no wait, it's the 23rd of July": "it's" corrects only after such a lead
    r"(?<=[,!.:;\s-])(?<![^\s,!.:;-]\s)(?:it's|it is|that's|that is)(?= (?:the )?\d))"
    r"\s+(?P<v>[^.,;!?]{1,40}?)\s*(?:[.,;!?]|$)",
    re.I,
)


def is_correction(message: str) -> bool:
    """'sorry, I meant 2985': the user corrects a value in what they just said."""
    return bool(_CORRECTION.match(message))


def correction(message: str, previous: str | None) -> tuple[str, str] | None:
    """``(wrong fact, corrected fact)`` when ``message`` corrects a value of a fact in the
    user's ``previous`` message, or None.

    The value replaced is the one of the same kind (digits for digits, a name for a name)
    most like the new one: a corrected typo, a swapped digit, another day.

    Example:
        >>> correction("sorry, I meant 2985.", "the PIN for the bike shed at work is 2958")
        ('The PIN for the bike shed at work is 2958.', 'The PIN for the bike shed at work is 2985.')
        >>> correction("Oops, I meant Tuesday", "My dentist appointment is on Monday at 9.")
        ('My dentist appointment is on Monday at 9.', 'My dentist appointment is on Tuesday at 9.')
        >>> correction("I meant 2985", "What is the weather like?") is None
        True
    """
    m = _CORRECTION.match(message)
    if m is None or not previous:
        return None
    return _with_value(m.group("v").strip(), previous)


#: "they pushed it back to the 23rd of Feb", "the surgery moved my appointment to Friday"
RESCHEDULE = re.compile(
    r"\b(?:moved|moving|moves|pushed|put|rescheduled|changed|postponed|brought|shifted|bumped|"
    r"switched|switching)\s+"
    r"(?:it|that|me|us|the (?:\w+ )?(?:appointment|meeting|session|booking|flight|trip|date|"
    r"time|call|interview|lesson|class|party|dinner))\s+(?:back\s+|forward\s+|up\s+|over\s+)?"
    r"(?:to|till|until|for)\s+(?P<v>[^.,;!?]{1,40}?)\s*(?:[.,;!?]|$)",
    re.I,
)


#: A thing said to have moved, without "it": "pottery's been moved to thursdays from next
#: week", "the quiz has been pushed back to 8pm"
_MOVED_THING = re.compile(
    r"\b(?P<thing>[a-z][a-z-]+)(?:'s|\s+has|\s+is|\s+was|\s+got|\s+are|\s+have)\s+"
    r"(?:been\s+|now\s+|being\s+|just\s+)*(?:moved|pushed|changed|rescheduled|postponed|"
    r"shifted|switched|bumped|brought)\s+(?:back\s+|forward\s+|up\s+|over\s+)?"
    r"(?:to|till|until|for)\s+(?P<v>[^.,;!?]{1,40}?)\s*(?:[.,;!?]|$)",
    re.I,
)


def rescheduled(
    message: str, previous: str | None, told: Sequence[str] = ()
) -> tuple[str, str] | None:
    """``(fact before, fact now)`` when ``message`` moves what the user's ``previous``
    message set a date or time for, or None. Unlike a correction the old value was true: it
    is superseded, kept in the history.

    Example:
        >>> before, now = rescheduled("ugh they just rang and pushed it back to the 23rd.",
        ...     "my dentist appointment is on the 9th at 10:30")
        >>> now
        'My dentist appointment is on the 23rd at 10:30.'
    """
    m = RESCHEDULE.search(message)
    candidates = stated_sentences(previous) if previous else []
    if m is None:
        # "pottery's been moved to thursdays": the told fact about pottery, in any thread
        m = _MOVED_THING.search(message)
        thing = content_words(m.group("thing")) if m else set()
        candidates = [t for t in told if thing and thing <= content_words(t)]
    if m is None or not candidates:
        return None
    # "to mondays from next week": the new day, not when the change starts
    value = re.split(r"\s+(?:from|starting|as of|because|since)\b", m.group("v"))[0]
    day, time = _DAY_OR_DATE.search(value), _CLOCK_TIME.search(value)
    if day is None and time is None:
        return None
    for fact in candidates:
        moved = fact
        if day is not None:
            # "Tuesdays at 6.30" moved to "thursdays" keeps its capital
            moved = _DAY_OR_DATE.sub(
                lambda was: (
                    day.group(0)[0].upper() + day.group(0)[1:]
                    if was.group(0)[0].isupper()
                    else day.group(0)
                ),
                moved,
                count=1,
            )
        if time is not None:
            moved = _CLOCK_TIME.sub(time.group(0), moved, count=1)
        if moved != fact:
            # only a day, a date or a time is moved: "Dr Lindqvist's" stays
            return fact, moved
    return None


#: A day or a date a rescheduling names: "Friday", "mondays", "the 23rd of Feb", "3 March"
_DAY_OR_DATE = re.compile(
    r"\b(?:(?:mon|tues|wednes|thurs|fri|satur|sun)days?|tomorrow|"
    r"(?:the\s+)?\d{1,2}(?:st|nd|rd|th)(?:\s+of)?(?:\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|"
    r"nov|dec)[a-z]*)?|\d{1,2}\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*)\b",
    re.I,
)
#: A time of day: "9:30 in the morning", "3pm", "10.30", "noon"
_CLOCK_TIME = re.compile(
    r"\b(?:\d{1,2}[:.]\d{2}(?:\s*(?:am|pm))?|\d{1,2}\s*(?:am|pm)|noon|midday|midnight)"
    r"(?:\s+in\s+the\s+(?:morning|afternoon|evening))?",
    re.I,
)


#: "it's Oslo now, not Reykjavik", "Oslo now, not Reykjavik", "the Thursday class instead of
#: the Monday one": a value that replaces another the user told before
_SWAPS = (
    re.compile(
        r"(?:^|[,.;:!—–-]\s*|\b(?:it's|it is|its|now)\s+)(?P<new>[^,.;:!?]{1,30}?)\s+now\s*,?\s+"
        r"not\s+(?P<old>[^,.;:!?]{1,30}?)\s*(?:any ?more)?\s*(?:[,.;!?]|$)",
        re.I,
    ),
    re.compile(
        r"\b(?:it's|it is|its)\s+(?P<new>[^,.;:!?]{1,30}?)\s*,?\s+not\s+(?P<old>[^,.;:!?]{1,30}?)"
        r"\s*(?:any ?more)?\s*(?:[,.;!?]|$)",
        re.I,
    ),
    # "it ends in 417, not 412": digits for digits
    re.compile(r"(?<![\d,])(?P<new>\d{2,})\s*,?\s+not\s+(?P<old>\d{2,})\b"),
)


#: "scratch the stegosaurus - my sister says he's moved on to the ankylosaurus"
SCRATCH_SWAP = re.compile(
    r"\b(?:scratch|strike|cross out|cross off)\s+(?:the\s+|that\s+)?(?P<old>[^,.;:!?—–-]{1,30}?)"
    r"\s*[,;:—–-]\s*[^.!?]{0,60}?\b(?:moved on to|switched to|changed to|now into|into|it's now|"
    r"is now|now it's|it's)\s+(?:the\s+|a\s+|an\s+)?(?P<new>[^,.;:!?]{1,30}?)\s*(?:[,.;!?]|$)",
    re.I,
)


def swapped(message: str, told: Sequence[str]) -> tuple[str, str] | None:
    """``(fact before, fact now)`` when ``message`` says a value the user told before is now
    another ("the work trip got changed - it's Oslo now, not Reykjavik"): the latest fact of
    ``told`` naming the old value, and that fact with the new one; else None.

    Example:
        >>> swapped("the trip got changed - it's Oslo now, not Reykjavik. same date",
        ...         ["I'm flying to Reykjavik on the 3rd of March."])
        ("I'm flying to Reykjavik on the 3rd of March.", "I'm flying to Oslo on the 3rd of March.")
    """
    for pattern in (*_SWAPS, SCRATCH_SWAP):
        m = pattern.search(message)
        if m is None:
            continue
        new = re.sub(r"^(?:it's|it is|its|now)\s+", "", m.group("new").strip(), flags=re.I)
        old = m.group("old").strip()
        # digits may end a longer number: "417, not 412" of "07700 900412"
        where = rf"{re.escape(old)}\b" if old.isdigit() else rf"\b{re.escape(old)}\b"
        for fact in reversed(told):
            if re.search(where, fact, re.I) and not re.search(rf"\b{re.escape(new)}\b", fact, re.I):
                return fact, re.sub(where, new, fact, count=1, flags=re.I)
    return None


def _with_value(value: str, previous: str) -> tuple[str, str] | None:
    """The fact of ``previous`` holding a value of the same kind as ``value`` (digits, a day,
    a name) most like it (a typo, a swapped digit), and that fact with ``value`` in its
    place."""
    if value.lower().startswith(("the ", "a ", "an ")):
        value = value.split(" ", 1)[1]
    if re.fullmatch(r"\d[\d\s:./-]*", value):
        shape = r"\d+(?:[:./-]\d+)*"
    elif re.match(r"\d+(?:st|nd|rd|th)\b", value):
        shape = r"\d+(?:st|nd|rd|th)(?:\s+of)?(?:\s+[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)?"  # "the 8th of July"
    else:
        more = "{0,%d}" % (len(value.split()) - 1)  # noqa: UP031 - a regex quantifier
        word = r"[A-Z][\w'-]*" if value[:1].isupper() else r"[a-z][\w'-]*"
        shape = rf"(?<!^)\b{word}(?:\s+{word}){more}"
    best: tuple[float, str, str] | None = None
    for fact in stated_sentences(previous):
        for old in re.findall(shape, fact):
            if old.lower() == value.lower() or old in ("I", "I'm", "I've", "I'd"):
                continue
            score = difflib.SequenceMatcher(None, old.lower(), value.lower()).ratio()
            if best is None or score > best[0]:
                best = (score, fact, old)
    if best is None or best[0] < 0.3:
        return None
    _, fact, old = best
    return fact, re.sub(rf"\b{re.escape(old)}\b", value, fact, count=1)
