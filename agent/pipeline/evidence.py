"""Does a recalled memory hold the answer to a question about the user?

Embedding similarity alone cannot tell: with all-MiniLM-L6-v2, "What is my dog's name?" is
0.50 similar to "my cat is called Miso" while "Where do I live?" is only 0.41 similar to
"I live in Lyon". Asking the 270M model does not work either: it answered "yes" to every pair we
tried. So a memory counts as evidence when it is very similar (``strong``), or when it shares a
content word (a 4-letter prefix, so "lives" meets "live") with the question once question
words and generic words ("name", "called"...) are set aside. The failure this leaves is a false
"I don't know" ("What is my job?" vs "I work as a baker"), never an invented answer.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9]+")
_CONTRACTION = re.compile(r"'(?:s|ve|ll|re|d|m|t)\b")
GENERIC_WORDS = frozenset(
    """
what who whom whose where when which why how do does did is are am was were be been my me i
mine myself the a an of to in on at for about from with tell know remember say said have has had
name names named call called calls is it its this that there their they you your please any
some can could would should will much many often ever again still like remind reminded got
get kind sort type guy person one these days currently our ours we us now right and or but
so also then just up out off he she him her his hers them those used
""".split()
)
#: Irregular past forms, so "Who did I buy my car from?" meets "I bought it off Henrik".
LEMMA = dict(
    pair.split(":")
    for pair in """
bought:buy sold:sell paid:pay held:hold met:meet went:go gone:go gave:give given:give told:tell
kept:keep drove:drive driven:drive wrote:write written:write ran:run left:leave took:take
taken:take made:make found:find lost:lose began:begin begun:begin grew:grow grown:grow
taught:teach thought:think brought:bring caught:catch fell:fall felt:feel flew:fly led:lead
spent:spend won:win rode:ride sat:sit slept:sleep spoke:speak stood:stand swam:swim wore:wear
built:build chose:choose broke:break forgot:forget lent:lend sent:send sang:sing ate:eat
drank:drink saw:see seen:see knew:know heard:hear came:come became:become bit:bite hid:hide
lived:live living:live lives:live owing:owe owed:owe owes:owe
""".split()
)


#: Everyday words for one idea, so a question in other words meets the fact: "which animal is
#: my nephew mad about?" / "…obsessed with axolotls", "which programming language am I
#: learning?" / "learning to code … Rust". Each maps to one canonical word.
SAME_IDEA = {
    word: idea
    for idea, words in {
        "fond": "mad crazy obsessed obsession loves love loved adores adore keen fan fond "
        "passionate enjoys enjoy",
        "code": "programming coding coder code",
        "learn": "learning learn learns learnt learned studying study studies lessons lesson "
        "classes class course",
        "teach": "teaches teach teaching tutor tutors tutoring taught",
        "kid": "kid kids children child twins twin triplets toddler toddlers",
        # a kind and its everyday members: "any nut I must avoid?" / "allergic to hazelnuts"
        "nut": "nut nuts hazelnut hazelnuts peanut peanuts almond almonds walnut walnuts "
        "cashew cashews pecan pecans pistachio pistachios",
        "plant": "plant plants houseplant houseplants fig ficus fern ferns cactus cacti orchid "
        "orchids monstera succulent succulents bonsai",
        "allergy": "allergy allergies allergic intolerant intolerance",
        "school": "school schools primary secondary academy kindergarten nursery",
        "mother": "mum mom mother mam",
        "father": "dad father",
        "home": "flat apartment house home",
        "film": "film films movie movies",
        "holiday": "holiday holidays vacation trip",
        "doctor": "doctor gp physician",
        "stop": "stop stopped quit quitting",
        "fix": "fix fixes fixed fixing repair repairs repaired repairing mend mends mended",
        "phone": "phone mobile cell",
        "car": "car vehicle",
        "cat": "cat cats kitten kittens kitty tabby moggy siamese",
        # a breed names the kind: "what's my dog called?" / "that corgi chewed my cable"
        "dog": "dog dogs puppy puppies pup corgi corgis labrador labradors lab poodle poodles "
        "beagle beagles terrier terriers spaniel spaniels collie collies retriever retrievers "
        "dachshund dachshunds husky huskies pug pugs greyhound greyhounds whippet whippets "
        "schnauzer schnauzers chihuahua chihuahuas dalmatian dalmatians labradoodle "
        "cockapoo cockapoos",
        "manager": "boss manager supervisor",
        "work": "work job career occupation profession",
        "year": "year years yearly annual annually",
        "date": "date dated day days daily",
        "week": "week weeks weekly",
        "month": "month months monthly",
        "price": "cost costs price prices premium premiums fee fees charge charges pay paid",
        "serve": "serve serves serving servings feed feeds portion portions",
        "notice": "notice notify notifies inform tell",
        "allowed": "allowed permitted allow allows permit permits",
        "start": "start starts started starting began begin begins beginning begun",
        "bike": "bike bikes bicycle bicycles cycle cycles cycling cyclist",
        "grill": "grill grills barbecue barbecues bbq",
        "mail": "email emails mail",
        "total": "total altogether overall",
        "extra": "extra additional supplement surcharge",
        "alcohol": "alcohol alcoholic beer beers wine wines spirits",
        # "what's the most I can get?" / "Max 50,000 SEK"; "my limit" / "the ceiling resets"
        "maximum": "maximum max most highest ceiling cap caps limit limits",
        "minimum": "minimum min least lowest",
        "friend": "friend friends mate mates buddy buddies pal pals",
    }.items()
    for word in words.split()
}


def content_words(text: str) -> set[str]:
    """Lower-cased words of ``text`` that carry meaning, cut to 4-letter prefixes.

    Example:
        >>> sorted(content_words("What is my dog's name?"))
        ['dog']
    """
    words = (
        SAME_IDEA.get(LEMMA.get(w, w), LEMMA.get(w, w))
        for w in _WORD.findall(_CONTRACTION.sub("", text.lower().replace("’", "'")))
        if w not in GENERIC_WORDS
    )
    return {w[:4] for w in words if len(w) > 1}


def holds_answer(question: str, memory: str, similarity: float, strong: float = 0.6) -> bool:
    """True when ``memory`` is evidence for answering ``question`` (see the module docstring).

    Example:
        >>> holds_answer("What is my dog's name?", "my cat is called Miso", 0.50)
        False
        >>> holds_answer("Where do I live?", "I live in Lyon.", 0.41)
        True
    """
    if similarity >= strong:
        return True
    asked = content_words(question)
    return bool(asked & content_words(memory))
