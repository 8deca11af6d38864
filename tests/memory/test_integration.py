"""Integration: the real embedder (all-MiniLM-L6-v2) on memories and documents."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.llm.fake import FakeLLM
from memory import Documents, Memory, Store, open_embedder
from tests.memory._facts import LOCKERS, UNRELATED_19, distinct_facts
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
        hit = docs.search("when must I tell the landlord that I am moving out", k=1)[0]
        assert "three months' notice" in hit.citation.quote
        assert hit.citation.path.endswith("lease.md")


def test_superseding_by_slot_with_the_real_embedder(home: Path, minilm) -> None:  # type: ignore[no-untyped-def]
    # The model used to decide this and answered no better than chance; the slot rule
    # decides now, so the outcome is fixed. The real model is not needed (nor asked).
    llm = FakeLLM(default='{"same_subject": false}')
    s = make_settings(home, embedder="minilm")
    with Memory(Store(s, embedder=minilm), llm=llm) as mem:
        old = mem.add("I just moved to Lyon", user="ann").record
        mem.add("My brother lives in Lisbon", user="ann")
        res = mem.add("I relocated to Lisbon last spring", user="ann")
        assert res.action == "added" and res.superseded == (old.id,)  # type: ignore[union-attr]
        assert mem.get(old.id).superseded_by == res.record.id  # type: ignore[union-attr]
        found = [h.record.text for h in mem.search("where do I live", user="ann", k=5)]
        assert "I relocated to Lisbon last spring" in found and "I just moved to Lyon" not in found
        assert [
            r.text for r in mem.current_slot("ann", "i", "residence", include_history=True)
        ] == [
            "I just moved to Lyon",
            "I relocated to Lisbon last spring",
        ]
        assert llm.calls == []


def test_distinct_facts_stay_distinct_with_the_real_embedder(home: Path, minilm) -> None:  # type: ignore[no-untyped-def]
    # MiniLM puts many of these pairs at >= 0.92 (the twelve lockers were stored as three
    # rows by the similarity rule alone); the content rule keeps each as its own row.
    facts = [*distinct_facts(180, seed=7), *LOCKERS, *UNRELATED_19]
    facts = list(dict.fromkeys(facts))
    llm = FakeLLM(default='{"same_subject": true}')
    s = make_settings(home, embedder="minilm")
    with Memory(Store(s, embedder=minilm), llm=llm) as mem:
        results = [mem.add(f, user="ann") for f in facts]
        assert [r.action for r in results] == ["added"] * len(facts)
        assert all(r.superseded == () for r in results) and llm.calls == []
        stored = {r.id: r.text for r in mem.list("ann")}
        assert sorted(stored.values()) == sorted(facts)
        missed = [f for f in facts if mem.search(f, user="ann", k=1)[0].record.text != f]
        assert missed == []
        # A restatement with filler only is still a refresh.
        again = mem.add("Locker 12 holds 3 red boxes now.", user="ann")
        assert again.action == "refreshed" and again.record is not None
        assert again.record.text == "Locker 12 holds 3 red boxes"
