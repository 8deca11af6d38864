"""Turn a tool command's text into the tool's arguments.

The graph's tool nodes get a payload: what followed ``/translate`` in the TUI, or the whole
message when the router chose the tool for free text ("Translate 'good morning' into
German."). These parsers are deliberately small and predictable — a user who wants exact
control uses the library or a batch task, where every argument has its own name.

    /translate French good morning          target=French, text="good morning"
    /translate to German: see you soon      target=German
    Translate 'good morning' into German.   target=German, text="good morning"
    /summarize bullets 50 notes/report.md   style=bullets, max_words=50, source=the path
    /code python: reverse a list            language=python, prompt="reverse a list"
    /review contracts/lease.pdf             source=the path
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from agent.errors import LorebookError, ToolInputError

#: quoted text; an apostrophe inside a word ("what's") opens and closes nothing
_QUOTED = re.compile(r"(?<![A-Za-z])[\"'“‘«](.+?)[\"'”’»](?![A-Za-z])", re.S)
_INTO = re.compile(r"\b(?:to|into|in)\s+([A-Za-zÀ-ÿ-]+)\s*[:.!?]?\s*$", re.I)
_INTO_ANYWHERE = re.compile(
    r"\b(?:to|into|in)\s+([A-Za-zÀ-ÿ-]+)(?:\s+(?:pls|please|plz|for me|thanks))?\s*:\s*", re.I
)
_ANY_INTO = re.compile(r"\b(?:to|into|in)\s+([A-Za-zÀ-ÿ-]+)", re.I)
_VERB = re.compile(
    r"^\s*(?:please\s+)?(?:translate|summari[sz]e|tl;?dr|review|write|generate|implement)\b"
    r"(?:\s+(?:this|the following|that|it))?\s*:?\s*",
    re.I,
)


@dataclass(frozen=True)
class TranslateArgs:
    text: str
    target: str


@dataclass(frozen=True)
class SummarizeArgs:
    source: str
    style: str
    max_words: int | None


def _language(word: str, languages: Mapping[str, str]) -> str | None:
    w = word.strip(" :,.").lower()
    for code, name in languages.items():
        if w == code.lower() or w == name.lower():
            return code
    try:  # names in their own language and regional codes: "français", "Deutsch", "fr-CA"
        from tools.translate import language_code

        code = language_code(w)
    except (ImportError, LorebookError):
        return None
    return code if code in languages else None


def parse_translate(payload: str, languages: Mapping[str, str]) -> TranslateArgs:
    """Target language and text from a translate command.

    Raises:
        ToolInputError: no target language could be found, or no text.

    Example:
        >>> parse_translate("French good morning", {"fr": "French"})
        TranslateArgs(text='good morning', target='fr')
        >>> parse_translate("Translate 'good morning' into French.", {"fr": "French"})
        TranslateArgs(text='good morning', target='fr')
        >>> parse_translate("can u translate 'the bill please' into french, off to Lyon next "
        ...     "week and my French is rusty", {"fr": "French"})
        TranslateArgs(text='the bill please', target='fr')
    """
    text = payload.strip()
    target = None
    first, _, rest = text.partition(" ")
    if _language(first, languages):  # "/translate French good morning"
        target, text = _language(first, languages), rest
    elif (m := _INTO_ANYWHERE.search(text)) and _language(m.group(1), languages):
        target, text = _language(m.group(1), languages), text[m.end() :]
    elif (m := _INTO.search(text)) and _language(m.group(1), languages):
        target, text = _language(m.group(1), languages), text[: m.start()]
    if target is None:
        # "how do you say 'my cat is asleep' in french?": the language named anywhere
        for m in _ANY_INTO.finditer(text):
            if _language(m.group(1), languages):
                target = _language(m.group(1), languages)
                text = text[: m.start()] + " " + text[m.end() :]
                break
    if target is None:
        names = ", ".join(sorted(languages.values()))
        raise ToolInputError(
            "translate",
            "bad-argument",
            "no target language found",
            f'Say it first, e.g. "/translate French good morning". Known: {names}',
        )
    text = _VERB.sub("", text).strip()
    quoted = _QUOTED.fullmatch(text) or _QUOTED.search(text) if len(text) < 300 else None
    # "can u translate 'I am allergic to peanuts' into german, off to Munich next week and v
    # nervous about food": the quote is what to translate, the rest says why
    asked = quoted and re.search(
        r"\b(?:translate|say|put|write|how do)\b", text.replace(quoted.group(0), ""), re.I
    )
    if quoted and (len(quoted.group(1)) >= len(text) // 3 or asked):
        text = quoted.group(1)
    text = text.strip()
    if not text:
        raise ToolInputError(
            "translate", "empty", "there is no text to translate", "Add it after the language."
        )
    return TranslateArgs(text, target)


def parse_summarize(payload: str) -> SummarizeArgs:
    """Style, word budget and source (a path or text) from a summarize command.

    Example:
        >>> parse_summarize("bullets 50 notes.md")
        SummarizeArgs(source='notes.md', style='bullets', max_words=50)
        >>> parse_summarize("tl;dr this one too pls: The movers come on Friday.").max_words
        30
    """
    # "tl;dr" asks for a line or two, not the default paragraph
    brief = bool(re.match(r"^\s*(?:please\s+)?(?:tl;?dr|in a nutshell|briefly)\b", payload, re.I))
    text = _VERB.sub("", payload.strip())
    style, max_words = "abstractive", (30 if brief else None)
    while True:
        first, _, rest = text.partition(" ")
        if first.lower() in ("bullets", "extractive", "abstractive"):
            style, text = first.lower(), rest
        elif first.isdigit() and rest:
            max_words, text = int(first), rest
        else:
            break
    first, newline, body = text.partition("\n")
    if newline and len(body.strip()) > 80 and re.search(r"summar|sum up|tl;?dr", first, re.I):
        # "Got this leaflet, can you summarise it in a couple of lines?\n\n<the leaflet>"
        if re.search(r"\b(?:couple of|few|two|2|one|a) (?:lines|sentences)\b|\bbriefly\b", first):
            max_words = max_words or 30
        if re.search(r"\bbullet", first, re.I):
            style = "bullets"
        return SummarizeArgs(body.strip(), style, max_words)
    lead = re.match(r"^[^:\n]{0,120}:\s*(?=\S)", text)
    if lead and len(text) - lead.end() > 80:
        # "one too pls: <the text>", "this email from my manager in two bullet points: '…'"
        asked = text[: lead.end()]
        text = text[lead.end() :]
        if re.search(r"\bbullet(?:ed)?(?:\s+points?)?s?\b|\bbullets\b|\bpoints\b", asked, re.I):
            style = "bullets"
        words = re.search(r"\b(\d+)\s+words\b", asked)
        if words:
            max_words = int(words.group(1))
        elif re.search(r"\b(?:one|a single)\s+(?:sentence|line)\b", asked, re.I):
            max_words = 25
        quoted = re.fullmatch(r"\s*[\"'“‘«](.+)[\"'”’»]\s*[.!]?\s*", text, re.S)
        if quoted:
            text = quoted.group(1)
    return SummarizeArgs(text.strip(), style, max_words)


def strip_verb(payload: str) -> str:
    """The payload without a leading task verb ("Review this: …" → "…")."""
    return _VERB.sub("", payload.strip()).strip()


def review_source(payload: str) -> str:
    """What a review request asks to review: the quoted passage of a request that gives its
    reason first ("this clause worries me, can you review it? 'The Client may …'"), else the
    payload without its verb.

    Example:
        >>> review_source("This clause worries me, can you review it? 'The Client may end "
        ...               "this Agreement at any time without notice.'")
        'The Client may end this Agreement at any time without notice.'
    """
    quoted = [q for q in _QUOTED.findall(payload) if len(q.split()) >= 8]
    if quoted:
        return max(quoted, key=len).strip()
    return strip_verb(payload)


def parse_code(payload: str, languages: tuple[str, ...]) -> tuple[str, str]:
    """``(prompt, language)``: a leading ``python:`` / ``bash`` word picks the language.

    Example:
        >>> parse_code("bash: count lines in a file", ("python", "bash"))
        ('count lines in a file', 'bash')
        >>> parse_code("write a JavaScript function that sums a list", ("python", "javascript"))[1]
        'javascript'
        >>> parse_code("reverse a string in Python", ("python", "javascript"))[1]
        'python'
    """
    text = payload.strip()
    first, sep, rest = text.partition(" ")
    word = first.rstrip(":").lower()
    if word in languages and rest.strip():
        return rest.strip(), word
    # "write a JavaScript function that…", "a bash script to…": the language named in it
    named = {"js": "javascript", "node": "javascript", "shell": "bash", "sh": "bash"}
    for w in re.findall(r"[a-z]+", text.lower()):
        lang = named.get(w, w)
        if lang in languages and re.search(
            rf"\b{w}\s+(?:\w+\s+)?(?:function|script|code|program|snippet|class|one-liner|"
            rf"query|queries|statement)\b|"
            rf"\bin\s+{w}\b",
            text,
            re.I,
        ):
            return text, lang
    return text, "python"
