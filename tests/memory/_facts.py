"""Generated distinct facts, for tests/memory/test_distinct_facts.py and
bench/bench_distinct_facts.py.

Each template varies the things that make two facts different but similar in embedding space:
names, objects, colours, places, numbers, counts and dates. Two facts from these templates are
never the same fact (the generators deduplicate by content), so every one must become a row of
its own. None of the templates is about the user ("I ...", "My ..."), so the slot rule leaves
them alone; ``SLOT_TEMPLATES`` are the ones it recognises.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

NAMES = (
    "Dmitri Jonas Amara Keiko Lucia Tomasz Ingrid Rafael Priya Olusegun Mei Hamid Sven Camila "
    "Yusuf Aiko Bruno Leilani Nikolai Zofia"
).split()
OBJECTS = (
    "loom harpoon kettle lantern violin telescope compass saddle typewriter canoe anvil hammock "
    "banjo sextant teapot"
).split()
COLOURS = "crimson coral teal amber ivory olive indigo scarlet silver ochre violet jade".split()
PLACES = (
    "Perth Baku Lyon Lisbon Oslo Quito Hanoi Accra Tallinn Cusco Dakar Porto Bergen Kyoto "
    "Tbilisi Nairobi Hobart Riga Cork Tunis"
).split()
MONTHS = "January February March April May June July August September October November".split()
RELATIVES = "sister brother mother father cousin aunt uncle daughter son neighbour".split()
PETS = "dog cat parrot rabbit hamster puppy kitten horse".split()

# (name, draw): draw makes one sentence from a random generator.
Template = tuple[str, Callable[[random.Random], str]]

TEMPLATES: tuple[Template, ...] = (
    (
        "keeps",
        lambda r: (
            f"{r.choice(NAMES)} keeps a {r.choice(COLOURS)} {r.choice(OBJECTS)} "
            f"in {r.choice(PLACES)}"
        ),
    ),
    (
        "locker",
        lambda r: f"Locker {r.randint(1, 40)} holds {r.randint(2, 9)} {r.choice(COLOURS)} boxes",
    ),
    (
        "flight",
        lambda r: (
            f"{r.choice(NAMES)} flies to {r.choice(PLACES)} on {r.choice(MONTHS)} "
            f"{r.randint(1, 28)}"
        ),
    ),
    (
        "price",
        lambda r: (
            f"{r.choice(NAMES)} paid {r.randint(11, 99)} dollars for the "
            f"{r.choice(COLOURS)} {r.choice(OBJECTS)}"
        ),
    ),
    (
        "room",
        lambda r: (
            f"Room {r.randint(100, 130)} of the {r.choice(COLOURS)} house has "
            f"{r.randint(2, 9)} windows"
        ),
    ),
)

#: Facts the slot rule recognises: about the user, or one of the user's relatives or pets.
SLOT_TEMPLATES: tuple[Template, ...] = (
    ("moved", lambda r: f"I moved to {r.choice(PLACES)}"),
    ("relative", lambda r: f"My {r.choice(RELATIVES)} lives in {r.choice(PLACES)}"),
    ("pet", lambda r: f"My {r.choice(PETS)} is called {r.choice(NAMES)}"),
)

#: The twelve locker facts that the old rule stored as three rows.
LOCKERS = tuple(
    f"Locker {n} holds {count} {colour} boxes"
    for n in (12, 13)
    for count in (3, 4)
    for colour in ("red", "blue", "green")
)


def distinct_facts(n: int, seed: int = 0, templates: tuple[Template, ...] = TEMPLATES) -> list[str]:
    """``n`` different facts drawn from ``templates`` in turn (deterministic for a seed).

    Distinct by content (:func:`memory.episodic._same_content`), not only by text.
    """
    from memory.episodic import _content

    rng = random.Random(seed)
    seen: set[tuple[str, ...]] = set()
    out: list[str] = []
    for text in _draw(rng, templates):
        key = _content(text)
        if key not in seen:
            seen.add(key)
            out.append(text)
            if len(out) == n:
                return out
    raise AssertionError("unreachable")  # pragma: no cover


def _draw(rng: random.Random, templates: tuple[Template, ...]) -> Iterator[str]:
    while True:
        for _name, make in templates:
            yield make(rng)


#: The scenario the model-driven check failed: 19 unrelated facts, one name each.
UNRELATED_19 = tuple(
    f"{name} keeps a {COLOURS[i % len(COLOURS)]} {OBJECTS[i % len(OBJECTS)]} "
    f"in {PLACES[(i * 7) % len(PLACES)]}"
    for i, name in enumerate(NAMES[:19])
)
