"""Integration: the real embedder (all-MiniLM-L6-v2) and the real local model (Gemma 3 270M)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memory import Documents, Memory, Store, open_embedder
from memory._supersede import SCHEMA, prompt_for, same_subject
from tests.memory.conftest import make_settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def minilm():  # type: ignore[no-untyped-def]
    return open_embedder("minilm")


def test_semantic_recall_with_the_real_embedder(home: Path, minilm) -> None:  # type: ignore[no-untyped-def]
    s = make_settings(home, embedder="minilm")
    with Memory(Store(s, embedder=minilm)) as mem:
        mem.add("I live in Paris", user="ann")
        mem.add("My daughter plays the violin", user="ann")
        mem.add("I am allergic to peanuts", user="ann")
        # Restated: a near-duplicate (cosine 0.97), refreshed, not added.
        assert mem.add("I live in Paris.", user="ann").action == "refreshed"
        assert (
            mem.search("which city is my home in", user="ann", k=1)[0].record.text
            == "I live in Paris"
        )
        assert (
            mem.search("what food should I avoid", user="ann", k=1)[0].record.text
            == "I am allergic to peanuts"
        )


def test_hybrid_document_search_with_the_real_embedder(home: Path, tmp_path: Path, minilm) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "lease.md").write_text(
        "# Lease\n\nThe tenant must give three months' notice before moving out.\n\n"
        "Pets are allowed with the landlord's written consent."
    )
    (tmp_path / "recipes.txt").write_text("Knead the dough for ten minutes, then let it rise.")
    s = make_settings(home, embedder="minilm")
    with Documents(Store(s, embedder=minilm)) as docs:
        assert not docs.ingest([tmp_path], progress=False).errors
        hit = docs.search("how long before I can leave the flat", k=1)[0]
        assert "three months' notice" in hit.citation.quote
        assert hit.citation.path.endswith("lease.md")


def test_same_subject_check_is_grammar_constrained_json(real_llm) -> None:  # type: ignore[no-untyped-def]
    reply = real_llm.complete(
        prompt_for("I live in Paris", "I moved to Berlin"),
        temperature=0,
        json_schema=SCHEMA,
        max_tokens=16,
    ).text
    assert isinstance(json.loads(reply)["same_subject"], bool)
    assert isinstance(same_subject(real_llm, "I like tea", "My car is red"), bool)


def test_superseding_with_the_real_model(home: Path, real_llm, minilm) -> None:  # type: ignore[no-untyped-def]
    s = make_settings(home, embedder="minilm")
    with Memory(Store(s, embedder=minilm), llm=real_llm) as mem:
        old = mem.add("I live in Paris", user="ann").record
        res = mem.add("I moved to Berlin", user="ann")
        assert res.action == "added"
        # Whatever the small model decided, the store is consistent with its decision.
        paris = mem.get(old.id)  # type: ignore[union-attr]
        if res.superseded:
            assert paris.superseded_by == res.record.id and paris.valid_to is not None  # type: ignore[union-attr]
            assert [h.record.text for h in mem.search("where do I live", user="ann")] == [
                "I moved to Berlin"
            ]
        else:
            assert paris.current
