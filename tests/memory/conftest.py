"""Fixtures for the memory tests: settings on the hash embedder, a store, memory, documents.

``settings`` (and so ``store``, ``mem``, ``docs``) is parametrized over both backends:
``[sqlite]`` keeps the database in the data directory, ``[postgres]`` uses a fresh database on
the session's PostgreSQL server (tests/pgserver.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.settings import Settings, load_settings
from memory import Documents, Memory, Store


def make_settings(home: Path, **overrides: Any) -> Settings:
    """Settings for tests: hash embedder, similarity-only ranking unless overridden."""
    values: dict[str, Any] = {"home": home, "embedder": "hash", "recency_weight": 0.0}
    values.update(overrides)
    return load_settings(values, env={})


BACKENDS = ("sqlite", "postgres")


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest) -> str | None:
    """None for SQLite, else the URL of a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return None
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def settings(home: Path, db_url: str | None) -> Settings:
    return make_settings(home, database_url=db_url)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    s = Store(settings)
    yield s
    if s.conn is not None:
        s.close()


@pytest.fixture
def mem(store: Store) -> Memory:
    return Memory(store)


@pytest.fixture
def docs(store: Store) -> Documents:
    return Documents(store)


def write_pdf(path: Path, pages: list[str]) -> Path:
    """A minimal valid PDF with one line of Helvetica text per page (no external tools)."""
    objects: list[bytes] = []
    n_pages = len(pages)
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n_pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode())
    font_id = 3 + 2 * n_pages
    for i, text in enumerate(pages):
        safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream = f"BT /F1 12 Tf 72 720 Td ({safe}) Tj ET".encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources "
            f"<< /Font << /F1 {font_id} 0 R >> >> /Contents {4 + 2 * i} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    path.write_bytes(bytes(out))
    return path
