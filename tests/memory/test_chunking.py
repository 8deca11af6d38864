"""Chunking: boundaries, budgets, overlap and exact offsets."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memory.chunking import chunk_text, count_tokens


def test_paragraphs_stay_whole_when_they_fit() -> None:
    text = "First paragraph here.\n\nSecond paragraph here."
    chunks = chunk_text(text, budget=64)
    assert [c.text for c in chunks] == ["First paragraph here.\n\nSecond paragraph here."]


def test_long_paragraph_splits_on_sentences_with_overlap() -> None:
    sentences = [f"Sentence number {i} says something." for i in range(30)]
    text = " ".join(sentences)
    chunks = chunk_text(text, budget=30, overlap=12)  # a sentence is 9 tokens
    assert len(chunks) > 3
    for c in chunks:
        assert count_tokens(c.text) <= 30
        assert c.text.startswith("Sentence") and c.text.endswith(".")
    # Consecutive chunks share their boundary sentence.
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert b.start < a.end
    assert chunks[-1].text.endswith("Sentence number 29 says something.")


def test_overlong_sentence_splits_on_words() -> None:
    text = " ".join(["word"] * 100)
    chunks = chunk_text(text, budget=10, overlap=0)
    assert len(chunks) == 10
    assert all(c.text == " ".join(["word"] * 10) for c in chunks)


def test_budget_must_be_sane() -> None:
    with pytest.raises(ValueError):
        chunk_text("x", budget=2)


@settings(max_examples=60, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("ab .!?\n")), max_size=400),
    st.integers(8, 40),
    st.integers(0, 20),
)
def test_offsets_always_point_at_the_chunk_text(text: str, budget: int, overlap: int) -> None:
    chunks = chunk_text(text, budget=budget, overlap=overlap, page=3)
    for c in chunks:
        assert text[c.start : c.end] == c.text and c.page == 3
        assert c.text.strip()
    # Every non-space character is covered by some chunk.
    covered = set()
    for c in chunks:
        covered.update(range(c.start, c.end))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())
