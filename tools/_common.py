"""What the four tools share: reading their input, sentence spans, JSON-ready results.

- :func:`load_text` takes text or a path (str or ``Path``) and returns the text, with the same
  readers as document ingest (txt, md, html, pdf); every failure is a
  :class:`~agent.errors.ToolInputError` that says what to do.
- :func:`sentences` and :func:`paragraphs` split text into :class:`Span` s that keep their
  character offsets, so extractive summaries and review findings point at the exact source text.
- :class:`Result` gives every tool's result dataclass ``to_dict()`` (plain JSON types), which
  the batch runner writes as-is.

Deliberate shortcut: sentence splitting is a regular expression with an abbreviation list, not
a trained segmenter; it is right on ordinary prose and keeps offsets exact, which the tools need
more than linguistic perfection.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.errors import DocumentError, ToolInputError

DEFAULT_MAX_CHARS = 2_000_000
"""Largest input a tool accepts (characters); callers may pass their own limit."""

_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "cf", "no",
    "inc", "ltd", "co", "corp", "fig", "art", "sec", "para", "approx", "u.s", "u.k", "jan",
    "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
}  # fmt: skip
_SENT_END = re.compile(r"[.!?。！？]+[\"'”’)\]]*(?=\s|$)")
_PARA = re.compile(r"\n[ \t]*\n\s*")


@dataclass(frozen=True)
class Span:
    """A piece of a text: ``text == source[start:end]``."""

    start: int
    end: int
    text: str


class Result:
    """Mixin for the tools' frozen result dataclasses: ``to_dict()`` gives plain JSON types."""

    def to_dict(self) -> dict[str, Any]:
        assert dataclasses.is_dataclass(self)
        return _plain(dataclasses.asdict(self))  # type: ignore[call-overload, no-any-return, unused-ignore]


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


_PATHLIKE = re.compile(
    r"(?:[~.]{0,2}/)?\S+\.(?:txt|md|markdown|rst|html?|pdf)|(?:~|\.{1,2})?/\S*", re.I
)


def _looks_like_path(text: str) -> bool:
    """An existing file, or one short line shaped like a file path (so a typo is an error)."""
    if "\n" in text or not 0 < len(text) < 4096:
        return False
    try:
        if Path(text).expanduser().is_file():
            return True
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte: text
        return False
    return _PATHLIKE.fullmatch(text) is not None


def load_text(
    tool: str, source: str | Path, *, max_chars: int = DEFAULT_MAX_CHARS
) -> tuple[str, str | None]:
    """The text to work on, and the path it came from (None for literal text).

    ``source`` is literal text, or a path: a ``Path``, or a one-line string naming an existing
    file or shaped like a path (``notes/report.pdf``, ``~/x``, ``/tmp/y``) — a missing file is
    then an error, not text to work on.

    Raises:
        ToolInputError: empty text, more than ``max_chars`` characters, or a file that cannot
            be read (missing, unsupported type, binary, encrypted or text-less PDF...).

    Example:
        >>> load_text("summarize", "Short text.")
        ('Short text.', None)
    """
    path: Path | None = None
    if isinstance(source, Path):
        path = source.expanduser()
    elif isinstance(source, str) and _looks_like_path(source.strip()):
        path = Path(source.strip()).expanduser()
    if path is None:
        text = str(source)
    else:
        text = _read(tool, path)
    if not text.strip():
        where = f" ({path})" if path else ""
        raise ToolInputError(tool, "empty", f"the input is empty{where}", "Give it some text.")
    if len(text) > max_chars:
        raise ToolInputError(
            tool,
            "too-large",
            f"the input is {len(text):,} characters, more than the limit of {max_chars:,}",
            "Split it into smaller parts, or pass a larger max_chars.",
        )
    return text, (str(path) if path else None)


def _read(tool: str, path: Path) -> str:
    from memory._readers import read_pages

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ToolInputError(
            tool, "unreadable", f"{path} does not exist", "Check the path."
        ) from None
    except OSError as exc:
        raise ToolInputError(
            tool, "unreadable", f"{path} cannot be read ({exc.strerror})", "Check its permissions."
        ) from exc
    try:
        pages = read_pages(path, data)
    except DocumentError as exc:
        raise ToolInputError(tool, "unreadable", f"{path}: {exc.detail}", exc.fix) from exc
    return "\n\n".join(text for _, text in pages)


def sentences(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Sentence spans of ``text[start:end]`` (offsets into ``text``), whitespace trimmed.

    Paragraph breaks always end a sentence; "Dr." and "e.g." do not.

    Example:
        >>> [s.text for s in sentences("Dr. Ng came. He left!  Then\\n\\nNew para")]
        ['Dr. Ng came.', 'He left!', 'Then', 'New para']
    """
    out: list[Span] = []
    for para in paragraphs(text, start, end):
        cut = para.start
        for m in _SENT_END.finditer(text, para.start, para.end):
            word = re.search(r"([\w.]+)[.]$", text[cut : m.start() + 1])
            if m.group().startswith(".") and word and _is_abbreviation(word.group(1)):
                continue
            _add_span(out, text, cut, m.end())
            cut = m.end()
        _add_span(out, text, cut, para.end)
    return out


def _is_abbreviation(word: str) -> bool:
    w = word.lower().rstrip(".")
    return w in _ABBREVIATIONS or (len(w) == 1 and w.isalpha())


def paragraphs(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Blank-line separated paragraph spans of ``text[start:end]``, whitespace trimmed."""
    end = len(text) if end is None else end
    out: list[Span] = []
    cut = start
    for m in _PARA.finditer(text, start, end):
        _add_span(out, text, cut, m.start())
        cut = m.end()
    _add_span(out, text, cut, end)
    return out


def _add_span(out: list[Span], text: str, start: int, end: int) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if not stripped:
        return
    s = start + (len(piece) - len(piece.lstrip()))
    out.append(Span(s, s + len(stripped), stripped))


def words(text: str) -> int:
    """Number of words (whitespace-separated) in ``text``."""
    return len(text.split())
