"""What must survive translation unchanged: placeholders, markup, code, URLs; and glossary terms.

Before a segment goes to the model, :func:`protect` replaces every protected item with a
numbered sentinel ``⟦1⟧``, ``⟦2⟧``...; :func:`restore` puts the originals back and reports the
sentinels the model lost or duplicated. Protected items:

- ``code``: inline code spans (`` `x` ``); fenced blocks are never sent to the model at all
  (:func:`fenced_blocks`);
- ``url``: ``http(s)://``, ``ftp://``, ``www.`` links and e-mail addresses;
- ``markup``: HTML/XML tags (``<b>``, ``</a>``, ``<a href="...">``, ``<br/>``) and entities;
- ``placeholder``: printf (``%s``, ``%d``, ``%(name)s``, ``%1$s``, ``%.2f``, ``%%``), brace
  (``{0}``, ``{name}``, ``{name:>8}``, ``{{x}}``), ``${var}``, Qt/KDE positional (``%1``).

Why ``⟦n⟧``: on a 30-sentence probe (en→fr/de/es, five sentinel styles, the built-in examples
showing the style) the 270M model kept ``⟦n⟧`` and ``{n}`` best (39 and 40 of 42) against
``[n]``, ``__n__``, ``@@n@@``, ``<xn/>`` (32–36); ``⟦`` never occurs in ordinary text, so a
restored text cannot be confused with the user's own braces.

Glossary terms are matched case-insensitively on word boundaries. :func:`force_terms` turns
them into sentinels that restore to the required target term: the translator's retry when the
model ignored the glossary.

Deliberate shortcut: the text between an opening and a closing tag is translated like any
other text; attribute values inside a tag are never translated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

_PATTERNS = (
    ("code", r"`[^`\n]+`"),
    ("url", r"(?:https?|ftp)://[^\s<>\"'`]*[^\s<>\"'`.,;:!?)\]]|www\.[\w-]+\.[^\s<>\"'`]*\w"),
    ("url", r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    ("markup", r"</?[A-Za-z][\w:.-]*(?:\s+[^<>]*?)?\s*/?>|&(?:[A-Za-z]+|#\d+|#x[0-9A-Fa-f]+);"),
    (
        "placeholder",
        r"%(?:\([^()\s]+\))?(?:\d+\$)?[-+#0]*\d*(?:\.\d+)?[sdifuxXeEgGcr]|%%"
        r"|\{\{[^{}\n]*\}\}|\$\{[^{}\n]*\}|\{[\w.\[\]]*(?:![rsa])?(?::[^{}\s]*)?\}"
        r"|%[1-9]\d?(?![\w$])",
    ),
)
_ITEM = re.compile("|".join(f"(?P<k{i}>{p})" for i, (_, p) in enumerate(_PATTERNS)))
_KINDS = [kind for kind, _ in _PATTERNS]
_SENTINEL = re.compile(r"⟦(\d+)⟧")
_FENCE = re.compile(r"^[ \t]*(```|~~~)[^\n]*\n.*?^[ \t]*\1[ \t]*$", re.M | re.S)


@dataclass(frozen=True)
class Protected:
    """One protected item: its sentinel, the text it stands for, and what kind it is."""

    token: str
    original: str
    kind: str


def spans(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, kind)`` of every protected item in ``text``.

    Example:
        >>> spans("Hi %(name)s, see <b>this</b>")
        [(3, 11, 'placeholder'), (17, 20, 'markup'), (24, 28, 'markup')]
    """
    out = []
    for m in _ITEM.finditer(text):
        kind = _KINDS[int(next(k for k, v in m.groupdict().items() if v is not None)[1:])]
        out.append((m.start(), m.end(), kind))
    return out


def fenced_blocks(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of fenced code blocks (```` ``` ```` or ``~~~``): never translated."""
    return [(m.start(), m.end()) for m in _FENCE.finditer(text)]


def protect(text: str, start_at: int = 1) -> tuple[str, list[Protected]]:
    """``text`` with each protected item replaced by a sentinel, and the items in order.

    Example:
        >>> protect("Delete %s files from {folder}?")
        ('Delete ⟦1⟧ files from ⟦2⟧?', [Protected(token='⟦1⟧', original='%s', \
kind='placeholder'), Protected(token='⟦2⟧', original='{folder}', kind='placeholder')])
    """
    items: list[Protected] = []
    parts: list[str] = []
    cut = 0
    for start, end, kind in spans(text):
        token = f"⟦{start_at + len(items)}⟧"
        items.append(Protected(token, text[start:end], kind))
        parts += [text[cut:start], token]
        cut = end
    parts.append(text[cut:])
    return "".join(parts), items


def protect_pair(source: str, target: str) -> tuple[str, str]:
    """A translation-memory pair with the same sentinels on both sides (for prompt examples).

    Items of the source that the target lacks stay as sentinels only on the source side.

    Example:
        >>> protect_pair("Hello %s", "Bonjour %s")
        ('Hello ⟦1⟧', 'Bonjour ⟦1⟧')
    """
    masked, items = protect(source)
    for item in items:
        target = target.replace(item.original, item.token, 1)
    return masked, target


def restore(text: str, items: Sequence[Protected]) -> tuple[str, list[Protected]]:
    """Put the originals back; return the text and the items whose sentinel is not there once.

    A sentinel the model invented (not in ``items``) is removed.

    Example:
        >>> items = protect("Hi %s and %d")[1]
        >>> restore("Salut ⟦1⟧ et", items)
        ('Salut %s et', [Protected(token='⟦2⟧', original='%d', kind='placeholder')])
    """
    by_token = {item.token: item for item in items}
    counts: dict[str, int] = {}
    for m in _SENTINEL.finditer(text):
        counts[m.group()] = counts.get(m.group(), 0) + 1
    lost = [item for item in items if counts.get(item.token, 0) != 1]

    def _back(m: re.Match[str]) -> str:
        item = by_token.get(m.group())
        return item.original if item else ""

    return _SENTINEL.sub(_back, text), lost


def _term_pattern(term: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + re.escape(term) + r"(?!\w)", re.I)


def glossary_terms(text: str, glossary: Mapping[str, str]) -> list[tuple[str, str]]:
    """The ``(source term, target term)`` pairs whose source term occurs in ``text``.

    Longer terms first, so "credit card" is matched before "card".

    Example:
        >>> glossary_terms("Pay the Invoice.", {"invoice": "facture", "card": "carte"})
        [('invoice', 'facture')]
    """
    ordered = sorted(glossary.items(), key=lambda kv: -len(kv[0]))
    return [(src, tgt) for src, tgt in ordered if src.strip() and _term_pattern(src).search(text)]


def has_term(text: str, term: str) -> bool:
    """True when ``term`` occurs in ``text`` (case-insensitive, on word boundaries)."""
    return bool(_term_pattern(term).search(text))


def force_terms(
    text: str, terms: Sequence[tuple[str, str]], start_at: int
) -> tuple[str, list[Protected]]:
    """Replace each source term by a sentinel that restores to its required target term.

    Example:
        >>> force_terms("Pay the invoice.", [("invoice", "facture")], 1)
        ('Pay the ⟦1⟧.', [Protected(token='⟦1⟧', original='facture', kind='glossary')])
    """
    items: list[Protected] = []
    for src, tgt in terms:
        pattern = _term_pattern(src)
        while (m := pattern.search(text)) is not None:
            token = f"⟦{start_at + len(items)}⟧"
            items.append(Protected(token, tgt, "glossary"))
            text = text[: m.start()] + token + text[m.end() :]
    return text, items
