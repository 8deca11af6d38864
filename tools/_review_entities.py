"""Entities and risk flags for the legal review: regular expressions over the exact text.

Entities are parties, dates, amounts of money, durations and jurisdictions; each keeps its
character offsets, so ``document[start:end] == text`` always holds. Risk flags are patterns over
one sentence each (unlimited liability, automatic renewal, one-sided termination, broad
indemnity, perpetual/irrevocable licence, unilateral amendment, no warranty, ...), each with a
one-line reason.

Deliberate shortcuts: English only; jurisdictions are matched from a fixed list (countries, US
states, a few cities) and only inside sentences that talk about law, courts or arbitration, so
"United States export laws" outside such a sentence is not reported; parties are company names
with a legal suffix and quoted defined roles ("Licensee"), not a named-entity model.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from tools._common import Span

_NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fourteen|fifteen|"
    r"twenty|thirty|forty|forty-five|fifty|sixty|ninety|hundred|one hundred|"
    r"one hundred twenty|one hundred and twenty"
)
_MONTHS = (
    r"January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Jan\.?|Feb\.?|Mar\.?|Apr\.?|Jun\.?|Jul\.?|Aug\.?|Sept?\.?|Oct\.?|Nov\.?|Dec\.?"
)

_MONEY = re.compile(
    r"(?:(?:U\.?S\.?\s?)?[$€£¥]\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:USD|EUR|GBP))?"
    r"|\b(?:USD|EUR|GBP|CHF|CZK|JPY)\s?\d[\d,]*(?:\.\d+)?"
    r"|\b\d[\d,]*(?:\.\d+)?\s?(?:USD|EUR|GBP|CHF|CZK|dollars|euros|pounds)\b"
    r"|\b(?:(?:" + _NUMBER_WORDS + r")\s)+(?:U\.S\. )?dollars\b)",
    re.IGNORECASE,
)
_DATE = re.compile(
    r"\b(?:(?:" + _MONTHS + r")\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}"
    r"|\d{1,2}(?:st|nd|rd|th)?\s+(?:" + _MONTHS + r"),?\s+\d{4}"
    r"|(?:January|February|March|April|May|June|July|August|September|October|November|"
    r"December)\s+\d{4}"
    r"|\d{4}-\d{2}-\d{2}"
    r"|\d{1,2}/\d{1,2}/\d{2,4})\b"
)
_DURATION = re.compile(
    r"\b(?:(?:" + _NUMBER_WORDS + r")\s*\(\d+\)|\d+|" + _NUMBER_WORDS + r"|a|an)"
    r"[\s-](?:calendar |business |working )?(?:days?|weeks?|months?|years?)\b"
    r"(?:['’] (?:advance |prior |written )*notice)?",
    re.IGNORECASE,
)
_COMPANY = re.compile(
    r"\b(?:[A-Z][\w&.'-]*[ ,]+){0,4}?[A-Z][\w&.'-]*,? "
    r"(?:Inc\.|LLC|L\.L\.C\.|Ltd\.?|Limited|GmbH|AG|s\.r\.o\.|S\.A\.|B\.V\.|Corporation|Corp\.|"
    r"Co\. Ltd\.)"
)
_ROLE = re.compile(
    r"[(\s][\"“'](Licensor|Licensee|Customer|Supplier|Vendor|Provider|Client|Company|Affirmer|"
    r"You|User|Contractor|Recipient|Discloser|Affiliate)[\"”']"
)
_LAW_CONTEXT = re.compile(
    r"\b(laws?|courts?|jurisdiction|arbitration|venue|governed|construed)\b", re.IGNORECASE
)
_PLACES = (
    "Alabama Alaska Arizona Arkansas California Colorado Connecticut Delaware Florida Georgia "
    "Hawaii Idaho Illinois Indiana Iowa Kansas Kentucky Louisiana Maine Maryland Massachusetts "
    "Michigan Minnesota Mississippi Missouri Montana Nebraska Nevada Ohio Oklahoma Oregon "
    "Pennsylvania Tennessee Texas Utah Vermont Virginia Washington Wisconsin Wyoming "
    "Germany France Finland Sweden Norway Denmark Netherlands Belgium Switzerland Austria Italy "
    "Spain Portugal Ireland Poland Japan China India Canada Australia Singapore Israel Brazil "
    "Mexico Luxembourg Berlin Munich Muenchen München Paris London Turku Prague Quebec Québec "
    "Delaware"
).split() + [
    "New York", "New Jersey", "North Carolina", "South Carolina", "New Mexico", "Rhode Island",
    "West Virginia", "District of Columbia", "United States", "United Kingdom", "England and Wales",
    "Czech Republic", "Federal Republic of Germany", "San Francisco", "Santa Clara", "San Mateo",
    "Northern District of California", "Hong Kong", "New Zealand", "South Korea", "European Union",
]  # fmt: skip
_PLACE = re.compile(
    r"\b(?:" + "|".join(sorted(map(re.escape, _PLACES), key=len, reverse=True)) + r")\b"
)


@dataclass(frozen=True)
class RawEntity:
    kind: str
    start: int
    end: int


def find_entities(text: str, spans: list[Span]) -> list[RawEntity]:
    """Entities in ``text``: parties, dates, money, durations, jurisdictions (sorted, deduplicated).

    ``spans`` are the sentences; jurisdictions are looked for only in those about law or courts.

    Example:
        >>> t = "Governed by the laws of Germany. Pay $5.00 within thirty (30) days."
        >>> from tools._common import sentences
        >>> [(e.kind, t[e.start:e.end]) for e in find_entities(t, sentences(t))]
        [('jurisdiction', 'Germany'), ('money', '$5.00'), ('duration', 'thirty (30) days')]
    """
    found: list[RawEntity] = []
    for kind, pattern in (("money", _MONEY), ("date", _DATE), ("duration", _DURATION)):
        found += [RawEntity(kind, m.start(), m.end()) for m in pattern.finditer(text)]
    found += _parties(text)
    for span in spans:
        if _LAW_CONTEXT.search(span.text):
            found += [
                RawEntity("jurisdiction", span.start + m.start(), span.start + m.end())
                for m in _PLACE.finditer(span.text)
            ]
    return _dedupe(text, found)


def _parties(text: str) -> list[RawEntity]:
    out = [RawEntity("party", m.start(1), m.end(1)) for m in _ROLE.finditer(text)]
    for m in _COMPANY.finditer(text):
        start = m.start()
        # "between X and Y" / leading words of a sentence: trim common lead-ins.
        lead = re.match(r"(?:(?:The|This|By|And|Between|Of|For|With|From)\s+)+", m.group())
        if lead:
            start += lead.end()
        if start < m.end() and not m.group().isupper():  # "OUR AG" in a capitalised disclaimer
            out.append(RawEntity("party", start, m.end()))
    return out


def _dedupe(text: str, found: list[RawEntity]) -> list[RawEntity]:
    """Drop overlaps (keep the longer) and repeats of the same kind and text (keep the first)."""
    found.sort(key=lambda e: (e.start, -(e.end - e.start)))
    out: list[RawEntity] = []
    seen: set[tuple[str, str]] = set()
    last_end = -1
    for e in found:
        if e.start < last_end:
            continue
        key = (e.kind, " ".join(text[e.start : e.end].lower().split()))
        last_end = e.end
        if key in seen:
            continue
        seen.add(key)
        out.append(e)
    return out


@dataclass(frozen=True)
class RiskRule:
    flag: str
    reason: str
    all_of: tuple[re.Pattern[str], ...]


def _r(flag: str, reason: str, *patterns: str) -> RiskRule:
    return RiskRule(
        flag,
        reason,
        tuple(re.compile(p.replace(" ", r"\s+"), re.IGNORECASE | re.DOTALL) for p in patterns),
    )


RISK_RULES: tuple[RiskRule, ...] = (
    _r(
        "unlimited_liability",
        "Liability is unlimited or fully accepted for some cases; no cap applies there.",
        r"\b(unlimited liability|fully liable|liable without limit|uncapped)\b",
    ),
    _r(
        "automatic_renewal",
        "The agreement or its charges renew automatically unless cancelled in time.",
        r"\b(automatic(ally)?[\w\s-]{0,20}renew|renew(s|ed)? automatically|auto-?renew"
        r"|charge[\w\s']{0,40}automatically|recurring (basis|payments?))\b",
    ),
    _r(
        "one_sided_termination",
        "One party may end the agreement or access at will (any time, any reason, sole "
        "discretion).",
        r"\b(terminat|cancel|suspend)",
        r"\b(at any time|for any reason|for any or no reason|sole discretion|for convenience"
        r"|without (cause|notice))\b",
    ),
    _r(
        "broad_indemnity",
        "The indemnity covers any and all claims, including those from ordinary use.",
        r"\bindemnif",
        r"\b(any and all|any claims?|all claims|arising (out of|from) (or relating to )?your use"
        r"|your use of)\b",
    ),
    _r(
        "perpetual_irrevocable_licence",
        "A licence is perpetual or irrevocable: it cannot be withdrawn later.",
        r"\b(perpetual|irrevocable)\b",
        r"\b(licen[cs]e|right)",
    ),
    _r(
        "unilateral_amendment",
        "One party may change the terms (or prices) by itself, e.g. by posting a new version.",
        r"\b(may|reserves? the right to) (modify|amend|change|update)\b.{0,60}"
        r"\b(terms|agreement|prices|fees)\b|\bsubject to change at any time\b",
    ),
    _r(
        "no_warranty",
        "The subject is provided as is: no warranty of quality or fitness.",
        r"[\"“']?\bas[ -]is\b|\bwithout (any )?warrant(y|ies)\b|\bno warrant(y|ies)\b",
    ),
    _r(
        "broad_liability_exclusion",
        "Indirect, consequential or all damages are excluded.",
        r"\b(in no event|not be liable|no liability|cannot recover)\b",
        r"\b(damages|loss)\b",
    ),
    _r(
        "mandatory_arbitration",
        "Disputes go to binding arbitration, not to court (often with a class-action waiver).",
        r"\b(binding|mandatory|final(ly)?)\b.{0,40}\barbitrat",
    ),
    _r(
        "no_refund",
        "Payments are not refundable.",
        r"\b(non-?refundable|no (pro-rated )?refunds?|not entitled to a refund)\b",
    ),
    _r(
        "waiver_of_rights",
        "A party gives up a right it would otherwise have (to withhold payment, to go to court, "
        "to a jury, to object).",
        r"\b(waives?|waived|waiving|gives? up|relinquish(es)?|forfeits?)\b.{0,60}\b(rights?|"
        r"claims?|remed(y|ies)|defen[cs]es?)\b|\bwaiver of\b",
    ),
    _r(
        "all_costs_on_one_party",
        "One party carries all of a kind of cost or work with no exception (for example all "
        "repairs, structural ones included): usually shared or limited.",
        r"\b(responsible|liable|bears?|pays?)\b.{0,20}\b(for )?(all|any and all|every|the entire)\b"
        r".{0,30}\b(repairs?|maintenance|costs?|expenses?|damages?|losses|fees|taxes)\b",
    ),
    _r(
        "late_payment_charges",
        "Late payments carry interest or extra charges.",
        r"\b(late payment|past due|delinquent)\b",
    ),
)


def find_risks(spans: list[Span]) -> Iterator[tuple[RiskRule, Span]]:
    """``(rule, sentence)`` for each risk rule whose patterns all match a sentence.

    Each flag is reported at most twice (its first two sentences), so a long disclaimer does not
    flood the report.

    Example:
        >>> from tools._common import sentences
        >>> t = "We may terminate your account at any time for any reason."
        >>> [r.flag for r, _ in find_risks(sentences(t))]
        ['one_sided_termination']
    """
    counts: dict[str, int] = {}
    for span in spans:
        for rule in RISK_RULES:
            if counts.get(rule.flag, 0) >= 2:
                continue
            if all(p.search(span.text) for p in rule.all_of):
                counts[rule.flag] = counts.get(rule.flag, 0) + 1
                yield rule, span
