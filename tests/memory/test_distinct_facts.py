"""No distinct fact is dropped; a fact supersedes another only by subject and attribute.

On the hash embedder. ``duplicate_threshold=0.0`` makes every current fact a near-duplicate
candidate, so the content rule alone decides refresh or new row; the default threshold is
tested too. The real embedder's version is in test_integration.py.
"""

from __future__ import annotations

import doctest
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.errors import MemoryNotFoundError
from agent.llm.fake import FakeLLM
from memory import Memory
from memory import episodic as episodic_module
from memory._slots import slot
from memory.episodic import _content, _same_content
from tests.memory._facts import LOCKERS, SLOT_TEMPLATES, TEMPLATES, UNRELATED_19
from tests.memory.conftest import make_settings


def test_the_content_rule_examples_hold() -> None:
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in doctest.DocTestFinder().find(_same_content, globs={"_same_content": _same_content}):
        runner.run(test)
    assert runner.tries >= 8 and runner.failures == 0


@pytest.mark.parametrize(
    "a, b",
    [
        ("I work as a nurse", "I really work as a nurse now"),
        ("I'm allergic to peanuts", "I am actually allergic to peanuts."),
        ("Anna keeps the loom in Perth", "Anna keeps a loom in Perth, still"),
        ("Locker 12 holds three red boxes", "Locker 12 holds 3 red boxes"),
        ("I don't eat meat", "I do not eat meat"),
        ("I also play the oboe", "i just play an oboe!"),
    ],
)
def test_a_filler_difference_refreshes(home: Path, a: str, b: str) -> None:
    with Memory.open(make_settings(home, duplicate_threshold=0.0)) as mem:
        first = mem.add(a, user="ann", created=1000.0).record
        assert first is not None
        mem.add("Jonas keeps a coral harpoon in Baku", user="ann")
        again = mem.add(b, user="ann", created=2000.0)
        assert again.action == "refreshed" and again.record is not None
        assert again.record.id == first.id and again.record.text == a
        assert again.record.refreshed.timestamp() == 2000.0
        assert again.record.metadata["times_stated"] == 2
        assert len(mem.list("ann")) == 2


def test_a_restatement_refreshes_at_the_default_threshold(mem: Memory) -> None:
    first = mem.add("Jonas keeps a coral harpoon in Baku", user="ann").record
    again = mem.add("jonas keeps a coral harpoon in Baku!", user="ann")
    assert again.action == "refreshed" and again.record is not None and first is not None
    assert again.record.id == first.id and len(mem.list("ann")) == 1


def test_a_restated_slot_fact_refreshes_even_when_not_similar(home: Path) -> None:
    with Memory.open(make_settings(home)) as mem:
        paris = mem.add("I live in Paris", user="ann").record
        assert paris is not None
        res = mem.add("I really live in Paris now", user="ann")
        assert res.action == "refreshed" and res.record is not None
        assert res.record.id == paris.id and mem.get(paris.id).current
        assert [r.text for r in mem.list("ann", include_history=True)] == ["I live in Paris"]


@pytest.mark.parametrize("threshold", [0.0, None])
def test_a_differing_number_colour_or_name_is_a_new_row(
    home: Path, threshold: float | None
) -> None:
    overrides = {} if threshold is None else {"duplicate_threshold": threshold}
    facts = [
        *LOCKERS,
        "Dmitri keeps a crimson loom in Perth",
        "Jonas keeps a crimson loom in Perth",  # name
        "Jonas keeps a coral loom in Perth",  # colour
        "Jonas keeps a coral loom in Baku",  # place
        "Jonas keeps two coral looms in Baku",  # quantity
        "Jonas flies to Baku on March 3",
        "Jonas flies to Baku on March 4",  # date
    ]
    with Memory.open(make_settings(home, **overrides)) as mem:
        results = [mem.add(f, user="ann") for f in facts]
        assert [r.action for r in results] == ["added"] * len(facts)
        assert all(r.superseded == () for r in results)
        assert sorted(r.text for r in mem.list("ann")) == sorted(facts)
        for f in facts:
            assert mem.search(f, user="ann", k=1)[0].record.text == f


def test_a_move_supersedes_and_keeps_history(mem: Memory) -> None:
    paris = mem.add("I live in Paris", user="ann").record
    mem.add("I live in Rome", user="bob")
    mem.add("My sister lives in Oslo", user="ann")
    assert paris is not None
    res = mem.add("I moved to Berlin", user="ann")
    assert res.action == "added" and res.record is not None
    assert res.superseded == (paris.id,)
    old = mem.get(paris.id)
    assert old.valid_to is not None and old.superseded_by == res.record.id
    assert [r.text for r in mem.history(paris.id)] == ["I live in Paris", "I moved to Berlin"]
    found = [h.record.text for h in mem.search("where do I live", user="ann", k=5)]
    assert "I moved to Berlin" in found and "I live in Paris" not in found
    past = [
        h.record.text for h in mem.search("where do I live", user="ann", k=5, include_history=True)
    ]
    assert "I live in Paris" in past
    # Another subject (my sister) and another user (bob) keep their facts.
    assert mem.current_slot("ann", "my sister", "residence")[0].text == "My sister lives in Oslo"
    assert [r.text for r in mem.current_slot("bob", "i", "residence")] == ["I live in Rome"]


def test_current_slot_answers_now_and_before(mem: Memory) -> None:
    mem.add("I live in Paris", user="ann", created=1000.0)
    mem.add("I moved to Berlin", user="ann", created=2000.0)
    mem.add("I relocated to Lisbon", user="ann", created=3000.0)
    mem.add("My dog is called Rex", user="ann")
    assert [r.text for r in mem.current_slot("ann", "i", "residence")] == ["I relocated to Lisbon"]
    every = mem.current_slot("ann", "I", "Residence", include_history=True)
    assert [r.text for r in every] == [
        "I live in Paris",
        "I moved to Berlin",
        "I relocated to Lisbon",
    ]
    assert [r.current for r in every] == [False, False, True]
    assert [r.text for r in mem.current_slot("ann", "my dog", "name")] == ["My dog is called Rex"]
    assert mem.current_slot("ann", "my cat", "name") == []
    assert mem.current_slot("carol", "i", "residence") == []


def test_another_animal_is_another_subject(mem: Memory) -> None:
    miso = mem.add("My cat is called Miso", user="ann").record
    rex = mem.add("My dog is called Rex", user="ann")
    assert miso is not None and rex.record is not None
    assert rex.action == "added" and rex.superseded == ()
    assert mem.get(miso.id).current
    max_ = mem.add("My dog is called Max", user="ann")
    assert max_.superseded == (rex.record.id,) and mem.get(miso.id).current


def test_a_move_far_away_in_embedding_space_is_still_caught(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Whatever the parser recognises, every current fact of that slot is a candidate, not only
    # the nearest vectors. The stand-in parser adds "settled in" to the real one's rules.
    def parser(text: str) -> tuple[str, str] | None:
        return ("i", "residence") if "settled in" in text else slot(text)

    monkeypatch.setattr(episodic_module, "slot", parser)
    with Memory.open(make_settings(home)) as mem:
        lyon = mem.add("I just moved to Lyon", user="ann").record
        assert lyon is not None
        for name in ("Dmitri", "Jonas", "Amara", "Keiko", "Lucia", "Tomasz", "Ingrid", "Rafael"):
            for colour in ("teal", "amber", "ivory", "olive", "jade"):
                mem.add(f"{name} is all settled now with a {colour} kettle", user="ann")
        new = "I'm all settled in Lisbon now"
        near = [h.record.id for h in mem.search(new, user="ann", k=32)]
        assert lyon.id not in near  # not among the 32 nearest neighbours
        res = mem.add(new, user="ann")
        assert res.superseded == (lyon.id,)
        assert [r.text for r in mem.current_slot("ann", "i", "residence")] == [new]


def test_the_model_is_not_asked_and_19_unrelated_facts_stay(home: Path) -> None:
    llm = FakeLLM(default='{"same_subject": true}')
    with Memory.open(make_settings(home), llm=llm) as mem:
        results = [mem.add(f, user="ann") for f in UNRELATED_19]
        assert [r.action for r in results] == ["added"] * 19
        assert all(r.superseded == () for r in results) and llm.calls == []
        assert len(mem.list("ann")) == 19
        for f in UNRELATED_19:
            assert mem.search(f, user="ann", k=1)[0].record.text == f


def test_forget_ids_deletes_several_with_one_erase(
    mem: Memory, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [mem.add(f, user="ann").record.id for f in LOCKERS[:4]]  # type: ignore[union-attr]
    erases: list[Any] = []
    real = mem.store.erase
    monkeypatch.setattr(mem.store, "erase", lambda tables: erases.append(tables) or real(tables))
    assert mem.forget_ids([ids[0], 999_999, ids[2], ids[0]]) == [ids[0], ids[2]]
    assert len(erases) == 1
    for gone in (ids[0], ids[2]):
        with pytest.raises(MemoryNotFoundError):
            mem.get(gone)
    assert [r.id for r in mem.list("ann")] == [ids[1], ids[3]]
    assert {h.record.id for h in mem.search(LOCKERS[0], user="ann", k=10)} == {ids[1], ids[3]}
    assert mem.forget_ids([ids[0], 123_456]) == [] and len(erases) == 1  # nothing to erase


# -- the property: N distinct facts -> N rows, each found by its own text ----------------------

ALL_TEMPLATES = (*TEMPLATES, *SLOT_TEMPLATES)
fact_st = st.builds(
    lambda t, seed: ALL_TEMPLATES[t][1](random.Random(seed)),
    st.integers(0, len(ALL_TEMPLATES) - 1),
    st.integers(0, 2**32),
)
facts_st = st.lists(fact_st, min_size=1, max_size=30, unique_by=_content)


@pytest.mark.parametrize("threshold", [0.0, None])
def test_distinct_facts_all_become_rows_found_by_their_own_text(
    threshold: float | None, tmp_path_factory: pytest.TempPathFactory
) -> None:
    overrides = {} if threshold is None else {"duplicate_threshold": threshold}

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(facts=facts_st, extra=st.sampled_from([(), LOCKERS]))
    def run(facts: list[str], extra: tuple[str, ...]) -> None:
        facts = list(dict.fromkeys([*facts, *extra]))
        home = tmp_path_factory.mktemp("distinct")
        with Memory.open(make_settings(home, **overrides)) as mem:
            _check(mem, facts)

    run()


def _check(mem: Memory, facts: list[str]) -> None:
    # Oracle: a fact supersedes the current facts whose slot equals its own (all contents
    # are distinct); everything else stays current.
    current: dict[int, str] = {}
    superseded: dict[int, str] = {}
    for text in facts:
        res = mem.add(text, user="ann")
        assert res.action == "added" and res.record is not None, (text, res)
        own = slot(text)
        want = [i for i, t in current.items() if own is not None and slot(t) == own]
        assert list(res.superseded) == want, text
        for i in want:
            superseded[i] = current.pop(i)
        current[res.record.id] = text
    assert {r.id: r.text for r in mem.list("ann")} == current
    assert len(mem.list("ann", include_history=True)) == len(facts)
    for i, text in current.items():
        assert mem.search(text, user="ann", k=1)[0].record.id == i, text
    for i, text in superseded.items():
        assert mem.search(text, user="ann", k=1, include_history=True)[0].record.id == i, text
