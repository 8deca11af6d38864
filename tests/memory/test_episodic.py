"""Episodic memory on the hash embedder: add, search, filter, supersede, forget, export."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.errors import ConfigError, MemoryNotFoundError
from agent.llm.fake import FakeLLM
from memory import Memory, Store
from tests.memory.conftest import make_settings


def texts(hits) -> list[str]:  # type: ignore[no-untyped-def]
    return [h.record.text for h in hits]


def test_add_then_search_returns_the_record_with_scores_and_dates(mem: Memory) -> None:
    mem.add("I live in Paris", user="ann", thread="t1")
    mem.add("My dog is called Rex", user="ann", thread="t2")
    hits = mem.search("where do I live", user="ann", k=2)
    assert texts(hits)[0] == "I live in Paris"
    top = hits[0]
    assert 0 < top.similarity <= 1 and top.score == pytest.approx(top.similarity)
    assert top.record.created.tzinfo is not None and top.record.current
    assert top.record.id == mem.get(top.record.id).id


def test_search_is_scoped_by_user_and_optionally_thread(mem: Memory) -> None:
    # Visits, not homes: "I live in Oslo" would supersede "I live in Paris" in any thread.
    mem.add("I visited Paris", user="ann", thread="t1")
    mem.add("I visited Rome", user="bob", thread="t1")
    mem.add("I visited Oslo", user="ann", thread="t2")
    assert set(texts(mem.search("visited", user="ann", k=10))) == {
        "I visited Paris",
        "I visited Oslo",
    }
    assert texts(mem.search("visited", user="bob", k=10)) == ["I visited Rome"]
    assert texts(mem.search("visited", user="ann", k=10, thread="t2")) == ["I visited Oslo"]
    assert mem.search("visited", user="carol") == []


def test_kinds_and_date_filters(mem: Memory) -> None:
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    mem.add("I like green tea", user="ann", created=t0)
    mem.add("user asked about tea", user="ann", kind="turn", created=t0 + timedelta(days=10))
    mem.add(
        "summary: tea talk",
        user="ann",
        kind="summary",
        role="system",
        source="summary",
        created=t0 + timedelta(days=20),
    )
    assert texts(mem.search("tea", user="ann", kinds=["turn"])) == ["user asked about tea"]
    assert set(texts(mem.search("tea", user="ann", since=t0 + timedelta(days=5)))) == {
        "user asked about tea",
        "summary: tea talk",
    }
    assert texts(mem.search("tea", user="ann", until=t0 + timedelta(days=1))) == [
        "I like green tea"
    ]


def test_write_filter_keeps_only_user_statements(mem: Memory) -> None:
    assert mem.add("Paris is lovely", user="ann", role="assistant").action == "rejected"
    assert mem.add("Paris is lovely", user="ann", source="document").action == "rejected"
    assert mem.add("Where do I live?", user="ann").action == "rejected"
    retrieved = "The handbook says: employees get 25 days of leave per year."
    r = mem.add("employees get 25 days of leave per year", user="ann", context=[retrieved])
    assert r.action == "rejected" and "context" in (r.reason or "")
    # A model reply may still be logged as a turn: it is not a fact.
    assert (
        mem.add(
            "Paris is lovely", user="ann", role="assistant", kind="turn", source="assistant"
        ).action
        == "added"
    )
    assert [m.kind for m in mem.list("ann")] == ["turn"]


def test_recalled_memories_are_not_restored_as_new_facts(mem: Memory) -> None:
    mem.add("My sister is called Eva", user="ann")
    recalled = mem.search("sister", user="ann")[0].record.text
    again = mem.add(recalled, user="ann")
    assert again.action == "rejected" and "recalled" in (again.reason or "")
    assert len(mem.list("ann")) == 1


def test_one_users_recall_does_not_block_another_users_statement(mem: Memory) -> None:
    # found by the property test: bob recalled "piano", then ann's own "piano" was rejected
    mem.add("apple", user="ann")
    mem.add("piano", user="bob")
    assert [h.record.text for h in mem.search("piano", user="bob", k=1)] == ["piano"]
    assert mem.add("piano", user="ann").action == "added"
    assert mem.add("piano", user="bob").action != "added"  # bob's own recall still counts


def test_near_duplicates_refresh_instead_of_adding(mem: Memory) -> None:
    first = mem.add("I work as a nurse", user="ann", created=1000.0)
    second = mem.add("I work as a nurse.", user="ann", created=2000.0)
    assert second.action == "refreshed" and second.record is not None
    assert second.record.id == first.record.id  # type: ignore[union-attr]
    assert second.record.refreshed.timestamp() == 2000.0
    assert second.record.metadata["times_stated"] == 2
    assert len(mem.list("ann")) == 1
    # The same text from another user is that user's own fact.
    assert mem.add("I work as a nurse", user="bob").action == "added"


def test_superseding_marks_the_old_fact_and_keeps_history(home: Path) -> None:
    # Decided by the slot rule (both are about the favourite car); the model is never asked.
    llm = FakeLLM(default='{"same_subject": false}')
    with Memory.open(make_settings(home), llm=llm) as mem:
        old = mem.add("My favourite car is a red Fiat", user="ann").record
        mem.add("I like jazz", user="ann")
        res = mem.add("My favourite car is a blue Volvo now", user="ann")
        assert res.action == "added" and res.superseded == (old.id,)  # type: ignore[union-attr]
        assert llm.calls == []
        fiat = mem.get(old.id)  # type: ignore[union-attr]
        assert fiat.valid_to is not None and fiat.superseded_by == res.record.id  # type: ignore[union-attr]
        query = "what is my favourite car"
        assert "My favourite car is a red Fiat" not in texts(mem.search(query, user="ann", k=5))
        history = texts(mem.search(query, user="ann", k=5, include_history=True))
        assert "My favourite car is a red Fiat" in history
        assert "My favourite car is a blue Volvo now" in history
        assert [r.text for r in mem.history(old.id)] == [  # type: ignore[union-attr]
            "My favourite car is a red Fiat",
            "My favourite car is a blue Volvo now",
        ]


def test_facts_the_slot_rule_does_not_recognise_supersede_nothing(home: Path) -> None:
    # The old model-driven check was asked here; a model saying "yes" no longer matters.
    llm = FakeLLM(default='{"same_subject": true}')
    with Memory.open(make_settings(home), llm=llm) as mem:
        mem.add("I like red apples", user="ann")
        assert mem.add("I like green apples", user="ann").superseded == ()
        assert mem.add("I like walking past the park", user="ann").superseded == ()
        assert len(mem.search("like", user="ann", k=5)) == 3 and llm.calls == []
        # a car is a slot (memory._slots): the new one replaces the old
        mem.add("I drive a red Fiat Panda", user="ann")
        assert mem.add("I bought a green Toyota Yaris", user="ann").superseded != ()


def test_update_reembeds_and_search_follows(mem: Memory) -> None:
    rec = mem.add("I drive a red car", user="ann").record
    mem.update(rec.id, text="I ride a blue bicycle", metadata={"k": 1})  # type: ignore[union-attr]
    got = mem.get(rec.id)  # type: ignore[union-attr]
    assert got.text == "I ride a blue bicycle" and got.metadata == {"k": 1}
    assert texts(mem.search("bicycle", user="ann", k=1)) == ["I ride a blue bicycle"]
    with pytest.raises(MemoryNotFoundError):
        mem.update(999, text="x")


def test_recency_blends_with_similarity(home: Path) -> None:
    now = 1_000_000_000.0
    settings = make_settings(home, recency_weight=0.5, recency_half_life_days=1.0)
    with Memory.open(settings, clock=lambda: now) as mem:
        # Not one slot (a favourite food would be superseded): two facts that both stay.
        mem.add("the canteen serves pasta", user="ann", created=now - 30 * 86400)
        mem.add("the canteen serves sushi", user="ann", created=now - 60)
        hits = mem.search("the canteen serves", user="ann", k=2)
        assert texts(hits)[0] == "the canteen serves sushi"
        assert hits[0].recency > 0.99 and hits[1].recency < 0.01


def test_forget_by_id_query_and_user(mem: Memory) -> None:
    a = mem.add("My PIN is 4711", user="ann").record
    mem.add("I like chess", user="ann")
    mem.add("I like cricket", user="bob")
    assert mem.forget(a.id) == [a.id]  # type: ignore[union-attr]
    with pytest.raises(MemoryNotFoundError):
        mem.get(a.id)  # type: ignore[union-attr]
    assert mem.search("PIN 4711", user="ann", k=5)[0].record.text == "I like chess"
    assert len(mem.forget(query="CHESS", user="ann")) == 1
    assert mem.list("ann") == []
    assert len(mem.forget(user="bob")) == 1 and mem.list() == []
    with pytest.raises(ConfigError):
        mem.forget(query="x")


def test_export_import_round_trip_keeps_history_and_is_idempotent(
    home: Path, tmp_path: Path
) -> None:
    with Memory.open(make_settings(home)) as mem:
        mem.add("I live in Paris", user="ann", metadata={"src": "chat"})
        mem.add("I live in Berlin now", user="ann")
        mem.add("hello there", user="ann", kind="turn", role="assistant", source="assistant")
        buf = io.StringIO()
        assert mem.export(buf) == 3
    lines = [json.loads(x) for x in buf.getvalue().splitlines()]
    assert {d["text"] for d in lines} >= {"I live in Paris", "I live in Berlin now"}
    with Memory.open(make_settings(tmp_path / "other")) as fresh:
        assert fresh.import_(io.StringIO(buf.getvalue())) == 3
        assert fresh.import_(io.StringIO(buf.getvalue())) == 0
        recs = {r.text: r for r in fresh.list("ann", include_history=True)}
        paris, berlin = recs["I live in Paris"], recs["I live in Berlin now"]
        assert paris.superseded_by == berlin.id and paris.valid_to is not None
        assert paris.metadata == {"src": "chat"}
        assert texts(fresh.search("live", user="ann", kinds=["fact"])) == ["I live in Berlin now"]
    with pytest.raises(ConfigError):
        Memory.open(make_settings(tmp_path / "x")).import_(io.StringIO("{not json}\n"))


def test_reopen_sees_everything_without_rebuilding(home: Path) -> None:
    with Memory.open(make_settings(home)) as mem:
        for i in range(20):
            mem.add(f"fact number {i} about topic {i % 3}", user="ann")
        mem.search("topic", user="ann")
    with Memory.open(make_settings(home)) as mem:
        assert texts(mem.search("fact number 7", user="ann", k=1)) == [
            "fact number 7 about topic 1"
        ]
        assert mem.store.spaces["memories"].rebuilds == 0  # the saved index verified


def test_store_refuses_another_embedders_database(home: Path) -> None:
    Store(make_settings(home)).close()

    class Other:
        name, dim = "other", 8

    from agent.errors import StoreFormatError

    with pytest.raises(StoreFormatError, match="LOREBOOK_EMBEDDER=hash"):
        Store(make_settings(home), embedder=Other())  # type: ignore[arg-type]


def test_search_builds_records_only_for_the_hits_it_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from memory.episodic import MemoryRecord

    with Memory(Store(make_settings(tmp_path / "h", recency_weight=0.1))) as mem:
        for n in range(40):
            mem.add(f"note number {n} about the garden", user="ann", kind="turn", role="user")
        built: list[int] = []
        real = MemoryRecord._from_row.__func__  # type: ignore[attr-defined]

        def counting(cls, row):  # type: ignore[no-untyped-def]
            built.append(row[0])
            return real(cls, row)

        monkeypatch.setattr(MemoryRecord, "_from_row", classmethod(counting))
        hits = mem.search("garden note", user="ann", k=3)
        assert len(hits) == 3 and sorted(built) == sorted(h.record.id for h in hits)


def test_undo_deletes_a_fact_and_restores_what_it_superseded(mem: Memory) -> None:
    lyon = mem.add("I live in Lyon", user="me").record
    paris = mem.add("I live in Paris", user="me")
    assert paris.superseded == (lyon.id,)
    assert mem.undo(paris.record.id) == [lyon.id]
    back = mem.get(lyon.id)
    assert back.current and back.superseded_by is None and back.valid_to is None
    assert [h.record.id for h in mem.search("where do I live", user="me")] == [lyon.id]
    with pytest.raises(MemoryNotFoundError):
        mem.get(paris.record.id)
    # forget, by contrast, leaves the older fact in the history
    rome = mem.add("I live in Rome", user="me").record
    mem.forget(rome.id)
    assert not mem.get(lyon.id).current


def test_undo_of_a_fact_already_replaced_leaves_only_the_newest_current(mem: Memory) -> None:
    """Lyon, then Paris by mistake, then Berlin: undoing Paris must not bring Lyon back as a
    second current residence beside Berlin; Lyon becomes Berlin's history instead."""
    lyon = mem.add("I live in Lyon", user="me").record
    paris = mem.add("I live in Paris", user="me").record
    berlin = mem.add("I live in Berlin", user="me")
    assert berlin.superseded == (paris.id,)
    assert mem.undo(paris.id) == []
    assert [r.id for r in mem.list("me", kinds=("fact",))] == [berlin.record.id]
    assert mem.get(lyon.id).superseded_by == berlin.record.id
    assert [r.text for r in mem.history(berlin.record.id)] == ["I live in Lyon", "I live in Berlin"]
