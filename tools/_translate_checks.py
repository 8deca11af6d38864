"""Checks on one model reply before it is restored: what to fix in place, what to retry.

The 270M model's replies go wrong in a few recognisable ways that the placeholder checks of
:mod:`tools.translate` do not see. :func:`doubts` names them, and the translator retries once
with another set of examples when one shows up, keeping the reply with fewer problems:

- ``invented``: a sentinel that is not in the query, or half of one (``⟧``). The model copied
  the protected items of a bank example ("… ⟦1⟧Show sources⟦2⟧") into a sentence that has
  none; restoring would silently delete them and leave a hole ("größer als  sind").
- ``untranslated``: the reply is the query again, or made of its words (case kept).
- ``short`` / ``long``: a third of the query's length or less (the model kept the first
  words: "¿Tienes?" for "Do you have it in a larger size?"), or a runaway reply.
- ``repeated``: three words said twice where the query repeats nothing ("se acerca a la vejez
  y se acerca a la vejez").

:func:`fix_edges` mends what needs no second call: the first letter's case and the final
mark (full stop, question or exclamation mark, colon) follow the query's, because the model
takes them from the examples, which are often labels ("Save file") or lower-case fragments.

Deliberate shortcuts: word comparison is by letters only (case kept), which is enough to tell
a copy between the supported languages; the thresholds were set on a held-out fifth of the
project's own bank (``bench/bench_translate.py --sources bank``), never on a benchmark source.
"""

from __future__ import annotations

import re

__all__ = ["doubts", "drop_strays", "fix_edges", "strip_sentinels"]

_SENTINEL = re.compile(r"⟦\d+⟧")
_WORD = re.compile(r"[^\W\d_]+")
_OPENERS = "¿¡«»\"'„“‘‚( "
_MARKS = "?!:"
_SPACED = {"fr": " "}
"""Target languages that put a space before ``? ! :`` (French typography)."""


def strip_sentinels(text: str) -> str:
    """``text`` without its sentinels (``⟦n⟧``)."""
    return _SENTINEL.sub("", text)


def drop_strays(text: str) -> str:
    """``text`` without half sentinels (a ``⟦`` or ``⟧`` outside a whole ``⟦n⟧``), which
    restoring would leave in the translation.

    Example:
        >>> drop_strays("Drücken Sie ⟦1⟧F1⟧, um ⟦2 zu öffnen.")
        'Drücken Sie ⟦1⟧F1, um 2 zu öffnen.'
    """
    parts = _SENTINEL.split(text)
    whole = _SENTINEL.findall(text)
    clean = [re.sub(r"[⟦⟧]", "", part) for part in parts]
    return "".join(c + (whole[i] if i < len(whole) else "") for i, c in enumerate(clean))


def _words(text: str) -> list[str]:
    # case kept: a copy keeps it, and a test's fake that upper-cases is not a copy
    return _WORD.findall(strip_sentinels(text))


def doubts(query: str, reply: str) -> list[str]:
    """What looks wrong with ``reply`` as a translation of ``query`` (both with sentinels).

    Example:
        >>> doubts("Open the file ⟦1⟧.", "Ouvrez le fichier ⟦1⟧ ⟦2⟧.")
        ['invented']
        >>> doubts("Do you have it in a larger size?", "¿Tienes?")
        ['short']
    """
    found = []
    asked = set(_SENTINEL.findall(query))
    if any(s not in asked for s in _SENTINEL.findall(reply)) or re.search(
        r"[⟦⟧]", _SENTINEL.sub("", reply)
    ):
        found.append("invented")
    src, out = _words(query), _words(reply)
    if len(src) >= 3 and out and sum(w in set(src) for w in out) >= 0.8 * len(out):
        found.append("untranslated")
    size, length = len(strip_sentinels(query)), len(strip_sentinels(reply))
    if len(src) >= 4 and length * 3 <= size:
        found.append("short")
    elif length > 3 * size + 20:
        found.append("long")
    if _repeats(out) and not _repeats(src):
        found.append("repeated")
    return found


def _repeats(words: list[str]) -> set[tuple[str, ...]]:
    seen: set[tuple[str, ...]] = set()
    twice = set()
    for i in range(len(words) - 2):
        gram = tuple(words[i : i + 3])
        if gram in seen:
            twice.add(gram)
        seen.add(gram)
    return twice


def fix_edges(query: str, reply: str, target: str) -> str:
    """``reply`` with the first letter's case and the final mark of ``query``.

    Args:
        query: the text translated (sentinels allowed).
        reply: the model's translation of it.
        target: the target language code (French puts a space before ``? ! :``; Spanish
            opens a question or exclamation with ``¿`` / ``¡``).

    Example:
        >>> fix_edges("Where is it?", "où est-il.", "fr")
        'Où est-il ?'
        >>> fix_edges("Delete the file", "Supprimer le fichier.", "fr")
        'Supprimer le fichier'
    """
    reply = _first_letter(query, reply)
    return _final_mark(query, reply, target)


def _first_letter(query: str, reply: str) -> str:
    if not query[:1].isupper():
        return reply
    i = len(reply) - len(reply.lstrip(_OPENERS))
    if i < len(reply) and reply[i].islower():
        return reply[:i] + reply[i].upper() + reply[i + 1 :]
    return reply


def _final_mark(query: str, reply: str, target: str) -> str:
    ends = query[-1:]
    if ends == "." and not query.endswith(".."):
        if re.search(r"[\w)\]\"'»”⟧]$", reply):
            return reply + "."
        return reply
    if ends in _MARKS and not query.endswith(("?!", "!?")):
        if reply.endswith(ends) or not re.search(r"[\w)\]\"'»”⟧.]$", reply):
            return reply
        body = reply[:-1] if reply.endswith(".") and not reply.endswith("..") else reply
        if target == "es" and ends in "?!" and ("¿" if ends == "?" else "¡") not in body:
            body = ("¿" if ends == "?" else "¡") + body
        return body + _SPACED.get(target, "") + ends
    if re.search(r"[\w⟧]$", query) and re.search(r"[\w⟧]\.$", reply):
        return reply[:-1]
    return reply
