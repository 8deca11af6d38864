"""The review's plain-language summary and its Markdown report.

Deliberate shortcut: the summary is a template filled from the findings, entities and risks
(what the document is, who, which law, key terms, top risks, what is missing), not free text
from the model, so every statement in it traces back to a quoted finding.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tools._review_rules import CATEGORIES, LABELS

if TYPE_CHECKING:
    from tools._review_types import Entity, Finding, Review, Risk

_KINDS = (
    (r"\bterms of (use|service)\b", "terms of service"),
    (r"\b(end[- ]user )?licen[cs]e agreement\b|\beula\b", "licence agreement"),
    (r"\bpurchase\b.{0,30}\bterms\b|\bterms and conditions of purchase\b", "purchase terms"),
    (r"\bpublic licen[cs]e\b|\bfree software\b|\bopen source\b", "open-source licence"),
    (r"\blicen[cs]e\b", "licence"),
    (r"\bagreement\b", "agreement"),
)
_KEY_TERMS = ("term_renewal", "termination", "payment", "limitation_of_liability")


def document_kind(text: str) -> str:
    """A rough name for the document from its first 2,000 characters ("terms of service"...)."""
    head = text[:2000]
    for pattern, kind in _KINDS:
        if re.search(pattern, head, re.IGNORECASE):
            return kind
    return "document"


def plain_summary(
    text: str,
    findings: tuple[Finding, ...],
    entities: tuple[Entity, ...],
    risks: tuple[Risk, ...],
    missing: tuple[str, ...],
    excerpt: bool = False,
) -> str:
    """A short plain-language summary built from the review's parts.

    Example:
        >>> s = plain_summary("This licence agreement ...", (), (), (), CATEGORIES[:2])
        >>> s.split(". ")[0], s.split(". ")[-1]
        ('A licence agreement with 20 of 22 clause types', 'Not found: parties, effective date.')
    """
    found = [] if excerpt else [c for c in CATEGORIES if c not in missing]
    n = len(found)
    kind = document_kind(text)
    head = f"{'An' if kind[0] in 'aeiou' else 'A'} {kind}"
    if excerpt:  # a clause pasted for an opinion: nothing is "missing" from it
        head = f"An excerpt of {len(text.split())} words; no clause type was recognised"
    elif n:
        head += f" with {n} of {len(CATEGORIES)} clause types"
    else:
        head += f"; none of the {len(CATEGORIES)} clause types was found"
    parties = _first(entities, "party", 3)
    if parties:
        head += " between/for " + ", ".join(parties)
    parts = [head if head.endswith(".") else head + "."]
    places = _first(entities, "jurisdiction", 2)
    if "governing_law" in found and places:
        parts.append(f"Law/forum: {', '.join(places)}.")
    key = [LABELS[c].lower() for c in _KEY_TERMS if c in found]
    if key:
        parts.append("It covers " + ", ".join(key) + ".")
    if risks:
        seen: list[str] = []
        for r in risks:
            if r.flag not in seen:
                seen.append(r.flag)
        parts.append("Watch: " + "; ".join(f.replace("_", " ") for f in seen[:4]) + ".")
    if missing and not excerpt:
        parts.append("Not found: " + ", ".join(LABELS[c].lower() for c in missing) + ".")
    return " ".join(parts)


def _first(entities: tuple[Entity, ...], kind: str, n: int) -> list[str]:
    out: list[str] = []
    for e in entities:
        name = " ".join(e.text.split())
        if e.kind == kind and name not in out:
            out.append(name)
        if len(out) == n:
            break
    return out


def _quote(text: str, limit: int = 400) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def render_markdown(r: Review) -> str:
    """The Markdown report of a :class:`~tools.review.Review`."""
    lines = [f"# Legal review: {r.path or 'text'}", "", "## Summary", "", r.summary, ""]
    if r.model:
        lines += [f"Candidates were checked by the model `{r.model}`.", ""]
    for note in r.notes:
        lines += [f"> Note: {note}", ""]
    lines += ["## Risks", ""]
    if r.risks:
        for risk in r.risks:
            lines.append(
                f"- **{risk.flag.replace('_', ' ')}**: {risk.reason} "
                f'(chars {risk.start}-{risk.end}: "{_quote(risk.quote, 160)}")'
            )
    else:
        lines.append("No risk flag raised.")
    lines += ["", "## Clauses", ""]
    for cat in CATEGORIES:
        items = [f for f in r.findings if f.category == cat]
        if not items:
            continue
        lines += [f"### {LABELS[cat]}", ""]
        for f in items:
            lines.append(
                f'- chars {f.start}-{f.end} ({f.method}, {f.confidence:.2f}): "{_quote(f.quote)}"'
            )
        lines.append("")
    if r.missing and not r.excerpt:
        lines += ["Not found: " + ", ".join(LABELS[c] for c in r.missing) + ".", ""]
    lines += ["## Entities", ""]
    if r.entities:
        lines += ["| kind | text | chars |", "| --- | --- | --- |"]
        for e in r.entities:
            cell = _quote(e.text, 80).replace("|", "\\|")
            lines.append(f"| {e.kind} | {cell} | {e.start}-{e.end} |")
    else:
        lines.append("None found.")
    return "\n".join(lines).rstrip() + "\n"
