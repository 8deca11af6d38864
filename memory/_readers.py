"""Turn a file into pages of text, or a :class:`~agent.errors.DocumentError` saying why not.

Supported: ``.txt`` ``.md`` ``.markdown`` ``.rst`` (UTF-8 text), ``.html`` ``.htm`` (visible text
via the standard library's HTML parser; scripts and styles dropped), ``.pdf`` (pypdf, one page
of text per PDF page). Every failure is a ``DocumentError`` with a ``reason`` and a fix, never a
third-party exception: empty, binary, not UTF-8, too large, encrypted, corrupt, no text layer.
"""

from __future__ import annotations

import io
import logging
from html.parser import HTMLParser
from pathlib import Path

from agent.errors import DocumentError

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".rst"}
HTML_SUFFIXES = {".html", ".htm"}
PDF_SUFFIXES = {".pdf"}
SUPPORTED = TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES

Page = tuple[int | None, str]  # (1-based page number for PDFs, else None; text)


def read_pages(path: Path, data: bytes) -> list[Page]:
    """Pages of text of ``path`` whose bytes are ``data``.

    Raises:
        DocumentError: unsupported type, empty, binary, not UTF-8, encrypted, corrupt, no text.
    """
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise DocumentError(
            path,
            "unsupported",
            f"unsupported file type {suffix or '(none)'}",
            f"Convert it to one of {', '.join(sorted(SUPPORTED))}.",
        )
    if not data.strip():
        raise DocumentError(path, "empty", "the file is empty", "Add text or leave it out.")
    if suffix in PDF_SUFFIXES:
        pages = _pdf(path, data)
    else:
        text = _decode(path, data)
        pages = [(None, _html_text(text) if suffix in HTML_SUFFIXES else text)]
    if not any(t.strip() for _, t in pages):
        raise DocumentError(
            path,
            "no-text",
            "no extractable text (a scanned PDF or an empty page?)",
            "Run OCR on it first, or leave it out.",
        )
    return pages


def _decode(path: Path, data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise DocumentError(
            path,
            "binary",
            "looks binary (NUL bytes), not text",
            "Check the file type; only text, Markdown, HTML and PDF are read.",
        )
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DocumentError(
            path,
            "encoding",
            f"not valid UTF-8 (byte {exc.start})",
            "Convert it, e.g. `iconv -f latin1 -t utf-8 in > out`.",
        ) from exc


class _TextOnly(HTMLParser):
    _SKIP = {"script", "style", "noscript", "template", "head"}
    _BLOCK = {
        "p",
        "div",
        "br",
        "li",
        "tr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "section",
        "article",
        "blockquote",
        "pre",
        "table",
        "ul",
        "ol",
        "hr",
    }

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in self._SKIP:
            self.skip += 1
        elif tag in self._BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self.skip:
            self.skip -= 1
        elif tag in self._BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def _html_text(html: str) -> str:
    parser = _TextOnly()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).split("\n")]
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.strip()


def _pdf(path: Path, data: bytes) -> list[Page]:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise DocumentError(
            path, "unreadable", "pypdf is not installed", "Run `make setup`."
        ) from exc
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # it logs every recoverable oddity
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception:
                ok = 0
            if not ok:
                raise DocumentError(
                    path,
                    "encrypted",
                    "the PDF is password-protected",
                    "Save an unencrypted copy (e.g. `qpdf --decrypt`).",
                )
        pages = [(n, page.extract_text() or "") for n, page in enumerate(reader.pages, 1)]
    except DocumentError:
        raise
    except (
        PdfReadError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        IndexError,
        OSError,
        RecursionError,
        AssertionError,
        ZeroDivisionError,
    ) as exc:
        raise DocumentError(
            path,
            "corrupt",
            f"the PDF could not be read ({type(exc).__name__}: {exc})",
            "Re-export or repair it (e.g. `qpdf in.pdf out.pdf`).",
        ) from exc
    return pages
