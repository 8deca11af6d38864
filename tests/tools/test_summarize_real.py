"""Integration: tools.summarize with the real model (Gemma 3 270M base) and MiniLM."""

from __future__ import annotations

import pytest

from memory.embeddings import open_embedder
from tools import _summarize_abstract as abstract
from tools.summarize import summarize

pytestmark = pytest.mark.integration

TEXT = """\
The city library will close its old building on Main Street at the end of March. The building
is more than a hundred years old, and its roof has leaked for several winters. Repairs would cost
more than a new building, the library board said in its report.

A new library is being built next to the central train station. It will have twice as many
books, a children's room, and study rooms that students can book online. The board expects it to
open in May, so the city will be without a library for about six weeks.

During those weeks, readers can borrow books from a bus that will stop at four schools and at the
market square. Books borrowed before the move can be returned at the bus or at the new building.
"""


@pytest.fixture(scope="module")
def minilm():  # type: ignore[no-untyped-def]
    return open_embedder("minilm")


def test_extractive_with_minilm_is_exact_and_within_length(minilm) -> None:  # type: ignore[no-untyped-def]
    s = summarize(TEXT, "extractive", 40, embedder=minilm)
    assert s.method == "extractive" and abs(s.words - 40) <= 8
    for x in s.sentences:
        assert TEXT[x.start : x.end] == x.text
    # Central sentences without repeats spread over the text, not just its first paragraph.
    assert len({TEXT.count("\n\n", 0, x.start) for x in s.sentences}) >= 2


def test_abstractive_is_grounded_or_falls_back(real_llm, minilm) -> None:  # type: ignore[no-untyped-def]
    s = summarize(TEXT, "abstractive", 40, llm=real_llm, embedder=minilm)
    assert abs(s.words - 40) <= 8, (s.words, s.text)
    if s.method == "extractive-fallback":
        assert any("not used" in n for n in s.notes)
        assert all(TEXT[x.start : x.end] == x.text for x in s.sentences)
    else:
        assert s.method == "abstractive" and s.model == real_llm.model_name
        assert abstract.problem(s.text, TEXT) is None
        supported = [x for x in s.sentences if x.start >= 0]
        assert supported, s.sentences
        for x in supported:  # a supported sentence points at a real source sentence
            assert x.source == "<text>" and TEXT[x.start : x.end].strip()
