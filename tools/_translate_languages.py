"""Languages the translator supports: names and codes, detection, built-in few-shot examples.

- :data:`LANGUAGES` maps ISO 639-1 codes to English names; :func:`resolve` accepts a code
  (``fr``, ``fr-CA``, ``fra``), an English name (``French``) or the language's own name
  (``français``) and raises :class:`~agent.errors.UnknownLanguageError` otherwise.
- :func:`detect` guesses the language of a text with py3langid, restricted to the supported
  set (which makes it much more accurate on short text than the full 97-language model).
- :data:`BUILTIN` holds a few sentences written for this module, aligned across every
  supported language, so any direction (``de`` → ``it`` too) gets examples without an English
  pivot. One of them carries two sentinels so the model sees protected items being copied.

Deliberate shortcuts: detection runs on the whole text, not per paragraph (mixed-language input
gets one source language); regional variants (``pt-BR``, ``fr-CA``) map to the base language,
and the built-in Portuguese examples are Brazilian.

Why py3langid: its model ships inside a 4.6 MB wheel and loads in about a second, fully offline.
lingua-language-detector is more accurate on very short text but its wheel is 96 MB; with the
candidate set cut to the supported languages py3langid is right on ordinary sentences.
"""

from __future__ import annotations

import functools
from typing import Any

from agent.errors import UnknownLanguageError

LANGUAGES: dict[str, str] = {
    "de": "German",
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "it": "Italian",
    "nl": "Dutch",
    "pt": "Portuguese",
}
"""Supported languages: ISO 639-1 code -> English name."""

_ALIASES: dict[str, str] = {
    # English names are added from LANGUAGES below; these are own names, other names, 639-2/3.
    "deutsch": "de", "allemand": "de", "alemán": "de", "tedesco": "de", "deu": "de", "ger": "de",
    "english": "en", "anglais": "en", "englisch": "en", "inglés": "en", "inglese": "en",
    "inglês": "en", "engels": "en", "eng": "en",
    "español": "es", "espanol": "es", "castellano": "es", "castilian": "es", "espagnol": "es",
    "spanisch": "es", "spagnolo": "es", "spa": "es",
    "français": "fr", "francais": "fr", "französisch": "fr", "francés": "fr", "francese": "fr",
    "fra": "fr", "fre": "fr",
    "italiano": "it", "italien": "it", "italienisch": "it", "ita": "it",
    "nederlands": "nl", "flemish": "nl", "vlaams": "nl", "néerlandais": "nl",
    "niederländisch": "nl", "holländisch": "nl", "nld": "nl", "dut": "nl",
    "português": "pt", "portugues": "pt", "portugais": "pt", "portugiesisch": "pt",
    "portoghese": "pt", "por": "pt", "brazilian portuguese": "pt",
}  # fmt: skip
_ALIASES.update({name.lower(): code for code, name in LANGUAGES.items()})

BUILTIN: dict[str, tuple[str, ...]] = {
    "en": (
        "Where is the train station?",
        "I would like a cup of coffee, please.",
        "The file could not be saved.",
        "Click ⟦1⟧ to open ⟦2⟧.",
        "We will meet again next week.",
    ),
    "fr": (
        "Où est la gare ?",
        "Je voudrais une tasse de café, s'il vous plaît.",
        "Le fichier n'a pas pu être enregistré.",
        "Cliquez sur ⟦1⟧ pour ouvrir ⟦2⟧.",
        "Nous nous reverrons la semaine prochaine.",
    ),
    "de": (
        "Wo ist der Bahnhof?",
        "Ich hätte gern eine Tasse Kaffee, bitte.",
        "Die Datei konnte nicht gespeichert werden.",
        "Klicken Sie auf ⟦1⟧, um ⟦2⟧ zu öffnen.",
        "Wir sehen uns nächste Woche wieder.",
    ),
    "es": (
        "¿Dónde está la estación de tren?",
        "Quisiera una taza de café, por favor.",
        "No se pudo guardar el archivo.",
        "Haga clic en ⟦1⟧ para abrir ⟦2⟧.",
        "Nos volveremos a ver la próxima semana.",
    ),
    "it": (
        "Dov'è la stazione ferroviaria?",
        "Vorrei una tazza di caffè, per favore.",
        "Non è stato possibile salvare il file.",
        "Fai clic su ⟦1⟧ per aprire ⟦2⟧.",
        "Ci rivedremo la prossima settimana.",
    ),
    "pt": (
        "Onde fica a estação de trem?",
        "Eu gostaria de uma xícara de café, por favor.",
        "Não foi possível salvar o arquivo.",
        "Clique em ⟦1⟧ para abrir ⟦2⟧.",
        "Nós nos veremos novamente na próxima semana.",
    ),
    "nl": (
        "Waar is het treinstation?",
        "Ik wil graag een kopje koffie, alstublieft.",
        "Het bestand kon niet worden opgeslagen.",
        "Klik op ⟦1⟧ om ⟦2⟧ te openen.",
        "We zien elkaar volgende week weer.",
    ),
}
"""Aligned example sentences per language (written for lorebook, not taken from a corpus)."""


def resolve(name: str) -> str:
    """The ISO 639-1 code of a supported language given by code or name.

    Raises:
        UnknownLanguageError: not a supported language (the message lists them).

    Example:
        >>> resolve("French"), resolve("français"), resolve("pt-BR"), resolve("DE")
        ('fr', 'fr', 'pt', 'de')
    """
    key = " ".join(str(name).strip().lower().replace("_", "-").split())
    if key in _ALIASES:
        return _ALIASES[key]
    base = key.split("-", 1)[0]
    if base in LANGUAGES:
        return base
    raise UnknownLanguageError(str(name), [f"{code} ({lang})" for code, lang in LANGUAGES.items()])


def builtin_pairs(source: str, target: str) -> list[tuple[str, str]]:
    """The built-in ``(source, target)`` example pairs for one direction.

    Example:
        >>> builtin_pairs("en", "fr")[0]
        ('Where is the train station?', 'Où est la gare ?')
    """
    return list(zip(BUILTIN[source], BUILTIN[target], strict=True))


@functools.lru_cache(maxsize=1)
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    ident.set_languages(sorted(LANGUAGES))
    return ident


def detect(text: str) -> tuple[str | None, float]:
    """The most likely supported language of ``text`` and its probability.

    Returns ``(None, p)`` when the text gives no evidence (digits, symbols, a single short
    word the model cannot place): then every language is about equally likely.

    Example:
        >>> detect("Guten Morgen, wie geht es dir heute?")[0]
        'de'
    """
    code, prob = _identifier().classify(text)
    prob = float(prob)
    if prob < 2.0 / len(LANGUAGES):
        return None, prob
    return str(code), prob
