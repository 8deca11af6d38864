"""One clause category of the review taxonomy, and how its cues are written.

Apart from ``tools._review_rules`` so that the contract categories (there) and the terms-of-service
categories (``tools._review_terms``) can both build on it without importing each other.

A cue is ``(regex, weight)``; a span's score for a category is the sum of the weights of its cues
that match. A negative weight marks words that speak against the category (the sentence is a
liability disclaimer, the subject is the other party), so one cue can be strong without
swallowing its look-alikes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

Cues = tuple[tuple[re.Pattern[str], float], ...]


@dataclass(frozen=True)
class Category:
    """One clause type of the taxonomy."""

    id: str
    label: str
    cues: Cues
    prototypes: tuple[str, ...]


def cues(*pairs: tuple[str, float]) -> Cues:
    """Compile ``(pattern, weight)`` pairs, case-insensitive.

    Licence texts are hard-wrapped and PDF text breaks lines anywhere: a space in a pattern
    matches any run of whitespace (so no space may stand inside a character class).

    Example:
        >>> [(p.pattern, w) for p, w in cues(("may terminate", 1.0))]
        [('may\\\\s+terminate', 1.0)]
    """
    return tuple(
        (re.compile(p.replace(" ", r"\s+"), re.IGNORECASE | re.DOTALL), w) for p, w in pairs
    )
