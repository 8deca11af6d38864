"""Who a fact is about and what it says: the subject/attribute parser behind supersession,
memory answers and forgetting in words.

A fact such as "I just moved to Lyon" fills a *slot*: subject ``"i"`` (the user), attribute
``"residence"``. A later "I'm all settled in Lisbon now" fills the same slot, so it replaces the
first; "My dog is called Rex" fills ``("my dog", "name")`` and leaves ``("my cat", "name")``
alone. Questions parse to the slot they ask about ("Where do I live?" → ``("i",
"residence")``), and so do the phrases of a forget request ("my passport number" → ``("i",
"passport number")``).

Deliberately rules, not the model: measured on the 270M default model, a yes/no "same subject?"
question was answered at chance, and a wrong "yes" silently hid a true fact. A rule that does
not recognise a sentence returns None, and None never supersedes anything (keeping two facts is
safe; hiding one is data loss). Subjects are normalised: ``"i"``, ``"my sister"``, or a person's
lower-cased first name when one is given ("my colleague Priya" → ``"priya"``).
"""

from __future__ import annotations

import re

Slot = tuple[str, str]

#: Nouns that, after "my", name one of the user's own attributes rather than a person or a pet.
_OWN_ATTRIBUTES = {
    "name": "name",
    "full name": "name",
    "first name": "name",
    "surname": "surname",
    "last name": "surname",
    "job": "work",
    "work": "work",
    "occupation": "work",
    "profession": "work",
    "employer": "work",
    "career": "work",
    "job title": "work",
    "title at work": "work",
    "position": "work",
    "line of work": "work",
    "home": "residence",
    "address": "residence",
    "home address": "residence",
    "city": "residence",
    "age": "age",
    "birthday": "birthday",
    "date of birth": "birthday",
    "phone": "phone",
    "phone number": "phone",
    "mobile": "phone",
    "mobile number": "phone",
    "cell": "phone",
    "cell number": "phone",
    "number": "phone",
    "email": "email",
    "email address": "email",
    "e-mail": "email",
    "passport": "passport number",
    "passport number": "passport number",
    "blood type": "blood type",
    "hometown": "hometown",
    "nationality": "nationality",
    "salary": "salary",
    "height": "height",
    "weight": "weight",
}
#: People and animals a user says "my …" of; facts about them keep them as the subject.
_RELATIONS = set(
    """
mother mom mum father dad dad's parents sister brother sibling son daughter kid kids child
children baby wife husband partner girlfriend boyfriend fiance fiancee spouse friend best
colleague coworker co-worker boss manager neighbour neighbor roommate flatmate landlord
landlady uncle aunt cousin nephew niece grandmother grandma grandfather grandpa grandson
granddaughter grandchild teacher doctor dentist lawyer therapist mentor student team
dog cat puppy kitten horse bird parrot rabbit hamster fish turtle pet goldfish snake terrier
""".split()
)
#: One word for each of the user's kin, so "my mum" and "my mother" are one subject
_KIN_WORD = {
    "mum": "mother",
    "mom": "mother",
    "mam": "mother",
    "mummy": "mother",
    "mommy": "mother",
    "dad": "father",
    "daddy": "father",
    "grandma": "grandmother",
    "gran": "grandmother",
    "granny": "grandmother",
    "nan": "grandmother",
    "nana": "grandmother",
    "grandpa": "grandfather",
    "granddad": "grandfather",
    "grandad": "grandfather",
    "kid": "child",
    "neighbor": "neighbour",
    "co-worker": "colleague",
    "coworker": "colleague",
    "boss": "manager",
    "supervisor": "manager",
}
KIN_WORDS = {
    word: [w for w, k in _KIN_WORD.items() if k == word] + [word] for word in _KIN_WORD.values()
}

#: The relations and partners a fact or question may name ("my nephew", "our dog")
RELATIONS = frozenset(_RELATIONS | {"wife", "husband", "partner", "girlfriend", "boyfriend"})
_NUMBER_WORDS = (
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy "
    "eighty ninety hundred"
).split()
_NUM = r"(?:\d+|" + "|".join(_NUMBER_WORDS) + r")"
_OCCUPATION = re.compile(
    r"\b(?:a|an)\s+(?:[\w]+[\s-])?(nurse|teacher|doctor|engineer|lawyer|chef|cook|baker|developer|"
    r"designer|programmer|student|manager|accountant|pilot|farmer|writer|journalist|"
    r"architect|dentist|pharmacist|plumber|electrician|carpenter|mechanic|scientist|"
    r"researcher|professor|librarian|firefighter|paramedic|waiter|waitress|barista|"
    r"cashier|consultant|analyst|translator|photographer|artist|musician|actor|actress|"
    r"vet|veterinarian|surgeon|therapist|driver|clerk|secretary|receptionist|"
    r"salesman|saleswoman|tailor|butcher|gardener|cleaner|midwife|nanny|carer|caregiver|"
    r"coach|tutor|judge|priest|vicar|soldier|chef|cook|software \w+|\w+ist|\w+er|"
    r"\w+or|\w+ian)\b",
    re.I,
)
_ATTRIBUTE_VERBS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "residence",
        re.compile(
            r"\b(live|lives|(?<!for a )living|lived|moved|move|moving|relocated|relocating|reside|"
            r"resides|based in|home is|settled in|settled down in|staying in|"
            r"new (?:flat|apartment|house|place) in|"
            # "my aunt Philippa is on Rosewood Lane"
            r"(?:is|are|'s)\s+on\s+(?-i:[A-Z])\w+\s+(?:lane|road|street|avenue|close|drive|way|"
            r"crescent|terrace|place|court|square|hill|gardens|row))\b",
            re.I,
        ),
    ),
    (
        "work",
        re.compile(
            r"\b(work|works|working|worked|job|employed|profession|career|employer|"
            r"hired|started at|for a living|first day at|new (?:job|role|employer)|line of work|"
            # "started monday as a lab technician", "handed in my notice at the bistro"
            r"started(?:\s+\w+){0,2}\s+as\s+(?:a|an)\s+(?:[\w-]+\s+)?(?:\w+-)?(?:\w+(?:er|or|ist|"
            r"ian|ant|ent|ess)|nurse|chef|cook|clerk|vet|tech|coach|tutor|nanny|carer|midwife|pilot)"
            r"\b|handed in (?:my |their )?notice|"
            r"(?:quit|left) (?:my|the) job|resigned from|"
            # "I do payroll for a logistics company"
            r"(?<=i )do \w+(?: \w+)? for (?:a|an|the) (?:\w+ )?(?:company|firm|business|agency|"
            r"council|charity|bank|school|hospital|studio|startup|shop)|"
            # "I joined Acme", "joined the team at …"; not "I joined the gym" or "a choir"
            r"joined(?=\s+(?:(?-i:[A-Z])|the (?:company|firm|team|staff|practice|board)\b)))\b",
            re.I,
        ),
    ),
    ("name", re.compile(r"\b(name is|name's|named|called|goes by)\b", re.I)),
    ("age", re.compile(rf"\b({_NUM}\s+years? old|aged? {_NUM}|turned {_NUM})\b", re.I)),
    ("birthday", re.compile(r"\b(birthday|born on)\b", re.I)),
    ("phone", re.compile(r"\b(phone|mobile|cell)(?: number)?\b", re.I)),
    ("email", re.compile(r"\be-?mail\b", re.I)),
)
#: The user's car, by its make: a new one replaces the old ("I sold the Panda and bought a Yaris")
_CAR = re.compile(
    r"\b(?:drive|drives|driving|bought|buy|got|have|own|leased?|picked up)\s+(?:an?|the|my)?\s*"
    r"(?:[\w-]+\s+){0,3}?(?:Toyota|Ford|Volkswagen|VW|Fiat|Honda|BMW|Audi|Volvo|Tesla|Kia|"
    r"Hyundai|Nissan|Renault|Peugeot|Skoda|Škoda|Mazda|Subaru|Mercedes|Opel|Vauxhall|Citroen|"
    r"Citroën|Seat|Mini|Jeep|Lexus|Porsche|Dacia|Suzuki|Mitsubishi|Chevrolet|Chevy|Dodge|Saab|"
    r"Alfa Romeo|Land Rover|Range Rover|Jaguar|Polestar|Cupra|Smart|Lada|Trabant|camper ?van|"
    r"car|hatchback|estate car|pickup|SUV)\b",
)
_FAVOURITE = re.compile(r"\bfavou?rite\s+([a-z]+(?:\s+(?:food|team|band|place))?)", re.I)
_LEADING_FILLER = re.compile(
    r"^\s*(?:(?:so|well|oh|ok|okay|also|btw|by the way|actually|anyway|and|but|now|"
    r"just so you know|fyi|hey|hi|hello|these days|nowadays|currently|lately|recently|"
    r"at the moment|right now|since \w+|as of \w+|honestly|frankly|guess what|"
    # "From Monday I'm a lecturer…", "Starting next week I'll be at…", "As of today …"
    r"(?:from|starting|beginning|as of)\s+(?:next\s+|this\s+|on\s+)?(?:monday|tuesday|"
    r"wednesday|thursday|friday|saturday|sunday|today|tomorrow|now|week|month|year|"
    r"january|february|march|april|may|june|july|august|september|october|november|"
    r"december|\d{1,2}(?:st|nd|rd|th)?)(?:\s+(?:on|onwards))?|"
    r"(?:big|good|great|bad|quick|some)\s+(?:news|update)|update)\b[,:!]?\s*)+",
    re.I,
)
_I = re.compile(
    r"^(?:i|i'm|i am|i've|i have|i'd|i'll|i was|i just|im|we|we're|we are|we've|we have)\b",
    re.I,
)
_PARTNER_CHANGE = re.compile(
    r"\b(?:(?i:i'm|i am|we're)\s+(?i:now\s+)?(?i:seeing|dating|with|engaged to|married to)\s+"
    r"(?i:someone\s+(?:called|named)\s+)?[A-Z]|(?i:broke up|split up|divorced|got married to))",
)
#: A business or place that is named ("a restaurant called Fennick's"): not a pet
_PLACE_NAMED = re.compile(
    r"(?:restaurant|cafe|café|bar|pub|shop|store|company|firm|agency|studio|salon|hotel|"
    r"gym|school|band|club|team|business|startup|bakery|clinic|practice|charity)s?$",
    re.I,
)
_NAMED_PET = re.compile(
    r"\b(?:a|an|the|our|my)\s+(?:\w+\s+)??(\w+)\s+(?:and\s+)?(?:named|called|renamed|"
    r"renaming)\s+(?:her|him|it|them\s+)?\s*[A-Z]|\b(?:renamed|renaming)\s+(?:the|our|my)\s+"
    r"(\w+)\s+[A-Z]",
)
#: A code or password of the user's world: "the door code for the office", "our wifi password"
_SECRET = re.compile(
    r"\b((?:[a-z-]+\s+){0,2}?)(code|password|passcode|passphrase|pin|combination)\b"
    r"(?:\s+(?:for|of|to|at|on)\s+(?:the|our|my)\s+([a-z-]+(?:\s+[a-z-]+)?))?",
    re.I,
)
_SECRET_SKIP = frozenset(
    "the our my a an new old current changed change set reset and is it's was of for to at "
    "facilities they we i".split()
)


def secret_slot(text: str) -> Slot | None:
    """``("i", "code door office")`` for a code or password named in ``text``, the words of
    its name sorted, so "the door code for the office" and "the office door code" are one slot.

    Example:
        >>> secret_slot("The door code for the office is 4417")
        ('i', 'code door office')
        >>> secret_slot("facilities changed the office door code, it's 8025 now")
        ('i', 'code door office')
    """
    m = _SECRET.search(text)
    if m is None:
        return None
    words = [w.lower() for w in (m.group(1) or "").split() + [m.group(2)]]
    words += (m.group(3) or "").lower().split()
    kept = sorted({w for w in words if w not in _SECRET_SKIP})
    return ("i", " ".join(kept)) if kept else None


def _secret_named(found: Slot | None, text: str) -> Slot | None:
    """A code or password of the user's is one slot however it was named ("my locker code",
    "the code for my locker")."""
    if found is None or found[0] != "i":
        return found
    named = secret_slot(text) if _SECRET.search(text) else None
    if named is not None and set(found[1].split()) <= set(named[1].split()):
        return named  # "what is the code for my bike lock?" is ("i", "bike code lock")
    return found


def same_secret(a: str, b: str) -> bool:
    """Two code/password attributes name the same thing: one's words hold the other's
    ("code office" is "code door office")."""
    if not (_SECRET.search(a) and _SECRET.search(b)):
        return False
    x, y = set(a.split()), set(b.split())
    return x <= y or y <= x


_MOVED_MY = re.compile(
    r"\b(?:moved|changed|rescheduled|postponed|cancelled|canceled|brought forward|pushed back)"
    r"\s+my\s+([a-z]+(?:\s+[a-z]+)?)\s+(?:to|from|until|back|forward)\b",
    re.I,
)
_IN_PLACE_NOW = re.compile(
    r"^(?:i'm|i am|we're|we are)\s+(?:now\s+)?(?:living\s+|based\s+)?in\s+[A-Z]\w+.*\bnow\b"
    r"|^(?:i'm|i am|we're|we are)\s+now\s+(?:living\s+|based\s+)?in\s+[A-Z]",
    re.I,
)
_I_NAME = re.compile(
    r"^(?i:i'm|i am|im)\s+([A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+(?:\s+[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)*)\s*(?:[,.!]|$)"
)
_MY = re.compile(r"^(?:my|our)\s+", re.I)
_NP_STOP = set(
    """
is are was were be been has have had lives live lived works work worked moved moves moving
just now also really still and or but who which that will would can could does did do
turned turns got gets keeps keep likes like loves love plays play goes go went started
called named living working based staying for to at in on with of from about the a an
this next last
""".split()
)
_NAME_START = re.compile(
    r"^([A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)(?:\s+[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)?(?:'s)?\s+(?!is\b)?", re.U
)
#: Capitalised words that are not names (sentence openers, days, pronouns, verbs of requests).
NOT_NAMES = frozenset(
    """
The This That These Those It Its There Here What Who Where When Why How Which Yes No Maybe
Please Thanks Thank Hi Hello Hey Today Tomorrow Yesterday Tonight Monday Tuesday Wednesday
Thursday Friday Saturday Sunday My Our Your His Her Their We You He She They I I'm Im Can Could
Would Should Will Do Does Did Is Are Was Were Have Has Had Let Tell Give Show Write Make
Explain Describe Translate Summarize Summarise Review Remember Forget Delete Erase Ok Okay
So Well Also Just Anyway But And Or If Because Not Nothing Everything Someone Something
Good Great Nice Cool Sure Sorry Oh Ah Wow Btw Fyi Actually Now Then Last Next Every All Some
Most One
""".split()
)
_NOT_NAMES = NOT_NAMES


#: A past value: it never replaces the current one ("I lived in Rome as a child").
_PAST = re.compile(
    r"\b(used to|as a (?:child|kid|student|teenager)|when i was|grew up|years ago|back then|"
    r"in the past|previously|formerly|once lived|lived|worked)\b",
    re.I,
)


def _strip(text: str) -> str:
    text = _LEADING_FILLER.sub("", text.strip())
    return text.strip().rstrip(".!?").strip()


_AT_WORK = re.compile(
    r"\b(?:at|from|after|before)\s+work\b|\b(?:go|goes|went|going|get|gets|got|cycle|cycles|"
    r"cycled|cycling|drive|drives|drove|driving|walk|walks|walked|walking|commute|commutes|"
    r"commuting|bike|bikes|ride|rides|way|late|back)\s+to\s+work\b",
    re.I,
)


def _attribute(text: str, subject: str) -> str | None:
    fav = _FAVOURITE.search(text)
    if fav:
        return f"favourite {fav.group(1).lower()}"
    # "sits next to me at work", "cycles to work": where the user is, not what the job is
    plain = _AT_WORK.sub(" ", text)
    for name, pattern in _ATTRIBUTE_VERBS:
        if pattern.search(plain):
            if (
                subject == "i"
                and name in ("birthday", "phone", "email")
                and re.search(rf"\b(?:her|his|their|your)\s+{name}\b", plain, re.I)
                and not re.search(rf"\bmy\s+{name}\b|\bborn\b", plain, re.I)
            ):
                continue  # "a pottery class for her birthday" is not the user's birthday
            return name
    if subject != "i" and re.search(rf"\b(?:is|are|'s)\s+(?:now\s+)?{_NUM}\b", text, re.I):
        return "age"  # "my daughter is seven"
    if re.search(r"\b(?:i'm|i am|is|are|'s)\s+(?:now\s+)?(?:a|an)\s", text, re.I) and (
        _OCCUPATION.search(text)
    ):
        return "work"
    return None


_PARTNERS = frozenset(
    "wife husband partner girlfriend boyfriend fiance fiancee fiancé fiancée spouse".split()
)


def names_occupation(text: str) -> bool:
    """The text names an occupation ("… is a midwife", "a lab technician")."""
    return bool(_OCCUPATION.search(text))


def _my_subject(text: str, question: bool = False) -> tuple[str, str | None, str] | None:
    """``(subject, attribute or None, rest)`` for a text starting with "my …", or None.

    The noun phrase after "my" runs until a verb or a name; a possessive chains ("my dad's
    mother" is one subject; "my dog's name" is the dog's name). A noun phrase naming one of the
    user's attributes ("my phone number") gives subject "i" and that attribute; a partner
    ("my wife", "my boyfriend Marco") gives ``("i", "partner")``; any other thing of the user's
    ("my dentist appointment is …", "my car is …") is an attribute of the user named by it.
    """
    m = _MY.match(text)
    if not m:
        return None
    rest = text[m.end() :]
    owners: list[str] = []  # "dad" in "my dad's mother"
    words: list[str] = []
    name = None
    pos = 0
    for tok in re.finditer(r"[A-Za-zÀ-ÖØ-öø-ÿ][A-Za-zÀ-ÖØ-öø-ÿ'-]*|[^\sA-Za-zÀ-ÖØ-öø-ÿ]", rest):
        w = tok.group(0)
        low = w.lower()
        if w[0].isupper() and words:
            name = w.removesuffix("'s")
            pos = tok.end()
            theirs = re.match(
                r"\s+(?:[a-z-]+\s+)?([a-z-]+)\s+([A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)\b", rest[pos:]
            )
            if w.endswith("'s") and theirs and theirs.group(1) in _RELATIONS:
                # "my brother Theo's wife Thea is a midwife": about Thea, not Theo
                name = theirs.group(2)
                pos += theirs.end()
                break
            surname = re.match(r"\s+([A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)\b", rest[pos:])
            if surname and not w.endswith("'s"):  # "my friend Sam Patel": the whole name
                name = f"{name} {surname.group(1)}"
                pos += surname.end()
            break
        if low == "," and words and not name:
            continue  # "my mum's mother, Rosa, lives in Naples"
        if not w[0].isalpha() or low in _NP_STOP or len(words) == 3:
            break
        pos = tok.end()
        if low.endswith(("'s", "s'")) and len(low) > 3:
            owners.append(" ".join([*words, low[:-2]]))
            words = []
            continue
        words.append(low)
    rest = rest[pos:]
    if not words:
        if owners:  # "my dog's" then the attribute in the rest ("name is Rex")
            own = _OWN_ATTRIBUTES.get(rest.split()[0].lower().strip(",.")) if rest.split() else None
            return f"my {owners[-1]}", own, rest
        return None
    prefix = "my " + "".join(f"{_KIN_WORD.get(o, o)}'s " for o in owners)
    head = _KIN_WORD.get(words[-1], words[-1])  # "my mum" and "my mother" are one person
    if owners and " ".join(words) in _OWN_ATTRIBUTES:
        return prefix.rstrip("'s ").removesuffix("'s"), _OWN_ATTRIBUTES[" ".join(words)], rest
    if name and name.split()[0] not in _NOT_NAMES and head in _RELATIONS and not owners:
        if head in _PARTNERS:
            return "i", "partner", rest
        return name.lower(), None, rest
    if not owners:
        for n in range(len(words), 0, -1):
            phrase = " ".join(words[-n:])
            if phrase in _OWN_ATTRIBUTES:
                return "i", _OWN_ATTRIBUTES[phrase], rest
    if head in _RELATIONS:
        if head in _PARTNERS and not owners:
            return "i", "partner", rest
        if re.match(r"^\s*(?:name|first name)\b", rest, re.I):
            return f"{prefix}{head}", "name", rest
        return f"{prefix}{head}", None, rest
    if not owners and (question or re.match(r"^\s*(?:is|are|was)\b", rest)):
        return "i", " ".join(words), rest  # "my dentist appointment is on Tuesday"
    return None


def people(text: str) -> set[str]:
    """Lower-cased names of the people and pets a fact introduces ("my parrot Mango", "Marc,
    who…", "a kitten called Pixel"), not places or things.

    Example:
        >>> sorted(people("My parrot Mango learned a word and my sister Ana laughed."))
        ['ana', 'mango']
        >>> people("I visited Italy last year.")
        set()
        >>> sorted(people("Our parrot is Kiwi, the cat next door is Kiki."))
        ['kiki', 'kiwi']
    """
    rel = "|".join(sorted(_RELATIONS | _PARTNERS, key=len, reverse=True))
    found = re.findall(
        rf"\b(?i:my|our)\s+(?:[a-z-]+\s+){{0,2}}?(?i:{rel})s?,?\s+([A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)", text
    )
    found += re.findall(r"\b(?:called|named)\s+([A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)", text)
    # "Deshawn's wife Priya", "Kate's beagle Pickle"
    found += re.findall(rf"'s\s+(?:[a-z-]+\s+)?(?i:{rel})s?,?\s+([A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)", text)
    # "Our parrot is Kiwi.", "the cat next door … is Kiki."
    found += re.findall(
        rf"\b(?i:my|our|the)\s+(?:[a-z-]+\s+){{0,2}}?(?i:{rel})s?\b.*?\b(?:is|was)\s+([A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)",
        text,
    )
    found += re.findall(r"\b([A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+),?\s+(?:who|my|our)\s", text)
    start = _NAME_SUBJECT.match(text.strip())
    if start:
        found.append(start.group(1))
    return {n.lower() for n in found if n not in _NOT_NAMES}


_NAME_SUBJECT = re.compile(
    r"^([A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)(?:\s+[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)?\s+(?:is|was|has|had|works|lives|plays|runs|handles|"
    r"keeps|teaches|studies|does|loves|likes)\b"
)


#: the name others use for the user
_NICKNAME = re.compile(
    r"\b(?:calls?|called)\s+me\s+(?-i:[A-Z])|\bi\s+go\s+by\s+(?-i:[A-Z])|"
    r"\bmy\s+(?:\w+\s+)?nick ?name\b|\bknown\s+as\s+(?-i:[A-Z])",
    re.I,
)
_Q_NICKNAME = re.compile(
    r"\bwhat\s+(?:do|does|did)\s+(?:\w+\s+){0,2}call\s+me\b|\bnick ?name\b|"
    r"\bwhat\s+do\s+i\s+go\s+by\b",
    re.I,
)


def slot(text: str) -> Slot | None:
    """``(subject, attribute)`` of a stated fact, or None when the rule does not recognise it.

    Example:
        >>> slot("I moved to Berlin last month")
        ('i', 'residence')
        >>> slot("I'm all settled in Lisbon now")
        ('i', 'residence')
        >>> slot("My sister lives in Rome")
        ('my sister', 'residence')
        >>> slot("My dog is called Rex")
        ('my dog', 'name')
        >>> slot("My colleague Priya is a nurse at the city hospital")
        ('priya', 'work')
        >>> slot("My passport number is X1234567")
        ('i', 'passport number')
        >>> slot("My daughter is seven")
        ('my daughter', 'age')
        >>> slot("I'm Jonas Berg, by the way.")
        ('i', 'name')
        >>> slot("I have a dog named Rex")  # the dog's name, not the user's
        ('my dog', 'name')
        >>> slot("We have a rescue greyhound called Pixel, she's 4.") is None
        True
        >>> slot("I used to work at Hollander Logistics")
        ('i', 'past work')
    """
    return _singular(_secret_named(_slot(text), text))


def _singular(found: Slot | None) -> Slot | None:
    """One slot for "my piano lessons are on Mondays" and "what day is my piano lesson?"."""
    if found is None:
        return None
    subject, attribute = found
    last = attribute.rsplit(" ", 1)[-1]
    if len(last) > 3 and last.endswith("s") and not last.endswith(("ss", "us", "is", "news")):
        attribute = attribute[:-1]
    return subject, attribute


def _slot(text: str) -> Slot | None:
    raw = text.strip()
    if raw.endswith("?"):
        return None
    t = _strip(raw)
    if not t:
        return None
    fav = _FAVOURITE.search(t)
    if _NICKNAME.search(t):
        return ("i", "nickname")  # "everyone calls me Dee", "I go by Sam", "my nickname is…"
    if _I_NAME.match(t) and not _OCCUPATION.search(t):
        return ("i", "name")
    if _PARTNER_CHANGE.search(t):
        return ("i", "partner")  # "I'm seeing someone called Tobias now", "Marco and I broke up"
    named = _NAMED_PET.search(t)
    pet = (named.group(1) or named.group(2)).lower() if named else ""
    if pet in _RELATIONS and pet not in _PARTNERS:
        return (f"my {pet}", "name")  # "we adopted a kitten and named her…"
    if named and pet and _I.match(t) and not _I_NAME.match(t) and not _PLACE_NAMED.match(pet):
        # "We have a rescue greyhound called Pixel": the greyhound's name, not the user's
        return None
    if re.search(r"\bmy\s+(?:new\s+|current\s+|all-time\s+)?favou?rite\b", t, re.I) and fav:
        return ("i", f"favourite {fav.group(1).lower()}")
    if re.match(r"^(?:i|my)\b", t, re.I) and fav and not re.match(r"^my\s+\w+\s+\w+'s", t, re.I):
        mine = _my_subject(t)
        subject = mine[0] if mine and mine[1] is None else "i"
        return (subject, f"favourite {fav.group(1).lower()}")
    if _I.match(t) and _PAST.search(t):
        attr = _attribute(t, "i")
        return ("i", f"past {attr}") if attr else None  # "I used to live in Oslo"
    if _I.match(t):
        if _CAR.search(t):
            return ("i", "car")  # "I drive a little red Fiat Panda", "I bought a Toyota Yaris"
        if re.match(
            r"^(?:i|we)(?:'ve)?\s+(?:have|had|own|got|have got)\s+(?:a|an|two|three|\d+)\b",
            t,
            re.I,
        ):
            return None  # "I have a dog named Rex": the dog's name, not the user's
        if re.match(r"^(?:i'm|i am|im)\s+from\b", t, re.I):
            return ("i", "hometown")
        if re.match(r"^(?:i'm|i am|im)\s+(?:now\s+)?" + _NUM + r"\b", t, re.I):
            return ("i", "age")
        if _IN_PLACE_NOW.match(t):
            return ("i", "residence")  # "We're in York now"
        attr = _attribute(t, "i")
        return ("i", attr) if attr else None
    mine = _my_subject(t)
    if mine is not None:
        subject, own, rest = mine
        if own is not None:
            return (subject, own)
        if re.match(r"^\s*(?:is|'s)\s+([A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)\s*$", rest) and subject.startswith(
            "my "
        ):
            return (subject, "name")  # "my wife is Sara"
        attr = _attribute(rest if rest.strip() else t, subject)
        return (subject, attr) if attr else None
    if _SECRET.search(t) and re.search(r"\d|\b(?:is|it's)\s+\S+", t):
        return secret_slot(t)  # "The door code for the office is 4417"
    moved = _MOVED_MY.search(t)
    if moved:
        return ("i", moved.group(1).lower())  # "…, they moved my appointment to Thursday"
    m = _NAME_START.match(t)
    if m and m.group(1) not in _NOT_NAMES:
        attr = _attribute(t[m.end() :] or t, m.group(1).lower())
        return (m.group(1).lower(), attr) if attr else None
    return None


# -- questions and phrases ---------------------------------------------------------------------

#: A name question, unless it asks for the name of a thing ("what's the gym called that I
#: joined?", "what is the name of the hotel we stayed at?") or a person the user met ("who did
#: I have lunch with?"): those are about something told, not the user's own name.
_Q_OWN_NAME = re.compile(
    r"^(?!.*\b(?:the|a|an|that|this)\s+(?:\w+\s+)?(?:called|named)\b)"
    r"(?!.*\bname of\b)(?!\s*(?:and\s+)?who\s+(?:did|do|does|was|were|will)\s+i\b)"
    r".*(?:\b(?:name|called|call)\b|\bwho\b)",
    re.I,
)
_Q_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bwhat (?:car|vehicle)\b|\bwhat (?:do|did) i drive\b", re.I), "car"),
    (re.compile(r"\bwhere\b.*\b(live|living|based|stay|staying|reside|home)\b", re.I), "residence"),
    (
        re.compile(
            r"\b(?:what|which)\s+(?:city|town|country|village)\b.*\b(live|living|in)\b", re.I
        ),
        "residence",
    ),
    (re.compile(r"\b(address)\b", re.I), "residence"),
    (
        re.compile(
            r"\bwhat\s+(?:street|road|avenue|neighbou?rhood|area|part of town|postcode)\b", re.I
        ),
        "residence",
    ),
    (re.compile(r"\b(?:where|who)\b.*\b(work|working|employed)\b", re.I), "work"),
    (
        re.compile(
            r"\bwhat\b.*\b(do|does|did)\b.*\b(do|does)\b(?:\s+for\s+(?:a\s+)?(?:living|work))?\s*\??$",
            re.I,
        ),
        "work",
    ),
    (re.compile(r"\b(job|occupation|profession|work as|career|employer)\b", re.I), "work"),
    (re.compile(r"\bhow old\b|\bage\b", re.I), "age"),
    (re.compile(r"\bbirthday\b|\bborn\b", re.I), "birthday"),
    (re.compile(r"\b(phone|mobile|cell)\b", re.I), "phone"),
    (re.compile(r"\be-?mail\b", re.I), "email"),
    (re.compile(r"\bpassport\b", re.I), "passport number"),
    (re.compile(r"\bwhere\b.*\bfrom\b|\bhometown\b", re.I), "hometown"),
    (
        re.compile(r"\bwho\b.*\b(?:dating|seeing|going out with|married to|engaged to)\b", re.I),
        "partner",
    ),
    (_Q_OWN_NAME, "name"),
    (re.compile(r"\b(move|moved|moving|relocate|relocated)\b", re.I), "residence"),
)
_Q_ME = re.compile(r"\b(i|me|am i|do i|did i|i'm)\b", re.I)
_Q_NAME = re.compile(r"(?<![.?!]\s)(?<!^)\b([A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)\b")


def question_slot(question: str) -> Slot | None:
    """The slot a question about the user asks for, or None.

    Example:
        >>> question_slot("Where do I live?")
        ('i', 'residence')
        >>> question_slot("What is my dog called?")
        ('my dog', 'name')
        >>> question_slot("How old is my daughter?")
        ('my daughter', 'age')
        >>> question_slot("What does Priya do?")
        ('priya', 'work')
        >>> question_slot("What's my phone number?")
        ('i', 'phone')
        >>> question_slot("What is my favourite colour?")
        ('i', 'favourite colour')
        >>> question_slot("What is the capital of Italy?") is None
        True
    """
    if _Q_NICKNAME.search(question) and not re.search(
        r"\w's\s+nick|\b(?:his|her|their)\s+nick", question, re.I
    ):
        return ("i", "nickname")  # "what do most people call me?", "what's my nickname?"
    return _singular(_secret_named(_question_slot(question), question))


#: "and Theo - what's his job?": the name before the dash is whom "his" means
_NAMED_FIRST = re.compile(
    r"^\s*(?:and\s+|so\s+|what about\s+)?([A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)\s*[-–—,:]\s*(.*)$", re.S
)


def _question_slot(question: str) -> Slot | None:
    # "what's my line of work?" is the job; "who's my boss again?" is "who's my boss?"
    question = re.sub(r"\bline of work\b", "job", question, flags=re.I)
    named = _NAMED_FIRST.match(question)
    if (
        named
        and named.group(1) not in _NOT_NAMES
        and re.search(r"\b(?:his|her|their)\b", named.group(2), re.I)
    ):
        # "and Theo - what's his job?" is "what's Theo's job?"
        question = re.sub(
            r"\b(?:his|her|their)\b", f"{named.group(1)}'s", named.group(2), count=1, flags=re.I
        )
    # "what does Dervla do for a living, do you remember?", "do you remember what Dervla does?"
    question = re.sub(
        r",?\s*(?:do you (?:remember|know|recall)|remember|any idea|if you know)\s*(?=\??\s*$)",
        "",
        question,
        flags=re.I,
    )
    question = re.sub(
        r"^\s*(?:do you (?:remember|know|recall)|can you remind me|remind me|any idea)\s*,?\s*",
        "",
        question,
        flags=re.I,
    )
    question = re.sub(
        r"\s+(?:again|then|please|pls|these days|nowadays|at the moment|currently|right now|now|"
        r"at present|any ?more)\s*(?=\??\s*$)",
        "",
        question,
        flags=re.I,
    )
    # "my ex-girlfriend", "my old boss": the same slot, asked about in the past
    q = re.sub(
        r"\b(my|our)\s+(?:ex-|ex\s+|former\s+|old\s+|previous\s+)",
        r"\1 ",
        _strip(question),
        flags=re.I,
    )
    subject: str | None = None
    own_attr: str | None = None
    my = re.search(r"\b(?:my|our)\s", q, re.I)
    if my:
        mine = _my_subject(q[my.start() :], question=True)
        subject, own_attr = (mine[0], mine[1]) if mine else ("i", None)
        asked = re.match(
            r"^\s*what\s+(colou?r|size|brand|make|model|year|kind|type|breed)\b", q, re.I
        )
        if asked and mine is not None:
            thing = subject if subject != "i" else "my " + (own_attr or "")
            return (thing.strip(), asked.group(1).lower())  # "What colour is my car?"
    if subject is None:
        names = [n for n in _Q_NAME.findall(q) if n not in _NOT_NAMES]
        if _Q_ME.search(q):
            subject = "i"
        elif names:
            full = re.search(rf"\b{names[0]}(?:\s+[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+)?", q)
            subject = (full.group(0) if full else names[0]).lower()  # "Sam Patel"
    if subject is None:
        return secret_slot(q)  # "what's the door code for the office?"
    fav = _FAVOURITE.search(q)
    if fav:
        return (subject, f"favourite {fav.group(1).lower()}")
    if own_attr is not None:
        return (subject, own_attr)
    for pattern, attr in _Q_PATTERNS:
        if pattern.search(q):
            return (subject, attr)
    return None


def phrase_slot(phrase: str) -> Slot | None:
    """The slot a noun phrase names ("my passport number", "my old job", "Priya's job").

    Example:
        >>> phrase_slot("my passport number")
        ('i', 'passport number')
        >>> phrase_slot("my old job")
        ('i', 'work')
        >>> phrase_slot("where I live")
        ('i', 'residence')
        >>> phrase_slot("Priya") is None
        True
    """
    p = re.sub(r"\b(old|previous|former|current|new)\s+", "", _strip(phrase), flags=re.I)
    got = question_slot(p if p.endswith("?") else p + "?")
    if got is not None:
        return got
    return slot(p)


# -- speaking back to the user ---------------------------------------------------------------

_SWAPS = {
    "i": "you",
    "me": "you",
    "my": "your",
    "mine": "yours",
    "myself": "yourself",
    "am": "are",
    "i'm": "you're",
    "im": "you're",
    "i've": "you've",
    "i'd": "you'd",
    "i'll": "you'll",
    "was": "were",
    "we": "you",
    "our": "your",
    "ours": "yours",
    "us": "you",
}
_SWAP_WORD = re.compile(
    r"\b(i'm|i've|i'd|i'll|im|i|me|my|mine|myself|am|was|we|our|ours|us)\b", re.I
)


def second_person(text: str) -> str:
    """The user's first-person sentence as said back to them.

    Example:
        >>> second_person("My name is Tom and I am a nurse.")
        'Your name is Tom and you are a nurse.'
        >>> second_person("I was born in Lyon")
        'You were born in Lyon'
        >>> second_person("My bike's blue. I named her Bluebell.")
        "Your bike's blue. You named her Bluebell."
    """
    has_i = bool(re.search(r"\b(i|i'm|im|we)\b", text, re.I))

    def swap(m: re.Match[str]) -> str:
        word = m.group(0)
        low = word.lower()
        if low == "was" and not has_i:
            return word
        if low == "am" or low == "was":
            # only after I: "I am" → "you are"; "I was" → "you were"
            before = text[: m.start()].rstrip().lower()
            if not before.endswith(("i", "we")):
                return word
        out = _SWAPS[low]
        # a sentence's first word keeps its capital ("… since uni. You named her Bluebell.")
        first = m.start() == 0 or bool(re.search(r"[.!?]\s+$", text[: m.start()]))
        return out.capitalize() if word[0].isupper() and first else out

    out = _SWAP_WORD.sub(swap, text)
    return out[0].upper() + out[1:] if out else out
