"""The review's result types, apart from :mod:`tools.review` so that its helpers
(``_review_model``, ``_review_report``) can import them without importing ``review`` back.

:class:`Review` and its parts are what a caller gets; :class:`Candidate` is a span before
selection, which the rules, the embeddings and the model pass between them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tools._common import Result, Span
from tools._review_report import render_markdown

__all__ = ["MAX_MODEL_CALLS", "Candidate", "Entity", "Finding", "Review", "Risk"]

MAX_MODEL_CALLS = 12
"""Candidates the model is asked about per document (each is one short generation)."""


@dataclass(frozen=True)
class Finding(Result):
    """One clause: ``document[start:end] == quote``."""

    category: str
    quote: str
    start: int
    end: int
    confidence: float
    method: str
    """``rules``, ``embedding`` or ``model``."""


@dataclass(frozen=True)
class Entity(Result):
    """A party, date, amount of money, duration or jurisdiction (``kind``) in the document."""

    kind: str
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Risk(Result):
    """A risk flag with a one-line reason and the sentence that raised it."""

    flag: str
    reason: str
    quote: str
    start: int
    end: int


@dataclass(frozen=True)
class Review(Result):
    """The result of :func:`review`."""

    path: str | None
    findings: tuple[Finding, ...]
    entities: tuple[Entity, ...]
    risks: tuple[Risk, ...]
    summary: str
    missing: tuple[str, ...]
    """Categories with no finding."""
    model: str | None
    """The model that confirmed candidates, or None when the review used rules/embeddings only."""
    notes: tuple[str, ...] = field(default=())
    """What did not go as planned (a model failure and its fallback, dropped quotes)."""
    excerpt: bool = False
    """A clause or two pasted for an opinion: the report leaves out the "not found" list."""

    def to_markdown(self) -> str:
        """A readable report: summary, risks, findings by category, entities, what is missing."""
        return render_markdown(self)


@dataclass(frozen=True)
class Candidate:
    """A span that may be a clause of ``category`` (before selection)."""

    category: str
    span: Span
    confidence: float
    method: str
    uncertain: bool = False
    """True for embedding-only or near-threshold candidates: the ones the model is asked about."""
