"""The translation memory: add, search (exact first, then similar), persist, accept, remove."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.errors import ConfigError, MemoryNotFoundError
from agent.settings import Settings
from memory import Memory, Store
from memory.translations import TranslationMemory


@pytest.fixture
def tm(store: Store) -> TranslationMemory:
    return TranslationMemory(store)


def test_add_and_exact_search(tm: TranslationMemory) -> None:
    first = tm.add("Save your changes.", "Enregistrez vos modifications.", "en", "fr")
    tm.add("Delete the file.", "Supprimez le fichier.", "en", "fr")
    hits = tm.search("Save   your changes.", "en", "fr", k=2)
    assert hits[0].id == first and hits[0].exact and hits[0].score == 1.0
    assert hits[0].target == "Enregistrez vos modifications."
    assert len(hits) == 2 and not hits[1].exact


def test_search_ranks_by_similarity_within_the_pair(tm: TranslationMemory) -> None:
    tm.add("The red car is fast.", "La voiture rouge est rapide.", "en", "fr")
    tm.add("Open the settings menu.", "Ouvrez le menu des paramètres.", "en", "fr")
    tm.add("The red car is fast.", "Das rote Auto ist schnell.", "en", "de")
    hits = tm.search("the red car is very fast", "en", "fr", k=3)
    assert [h.target for h in hits] == [
        "La voiture rouge est rapide.",
        "Ouvrez le menu des paramètres.",
    ]
    assert not hits[0].exact and hits[0].score > hits[1].score
    assert tm.search("anything", "fr", "en") == []


def test_adding_the_same_source_replaces_the_translation(tm: TranslationMemory) -> None:
    a = tm.add("Cancel", "Annuler", "en", "fr")
    b = tm.add(" Cancel ", "Abandonner", "en", "fr")
    assert a == b and len(tm) == 1
    assert tm.search("Cancel", "en", "fr")[0].target == "Abandonner"


def test_empty_pairs_are_refused(tm: TranslationMemory) -> None:
    with pytest.raises(ConfigError):
        tm.add("  ", "x", "en", "fr")


def test_entries_persist_across_reopening(settings: Settings) -> None:
    with Store(settings) as store:
        TranslationMemory(store).add("Good night.", "Bonne nuit.", "en", "fr")
    with Store(settings) as store:
        tm = TranslationMemory(store)
        assert tm.search("Good night.", "en", "fr")[0].target == "Bonne nuit."
        assert [e.source for e in tm.list()] == ["Good night."]


def test_another_process_view_sees_new_entries(settings: Settings, store: Store) -> None:
    tm = TranslationMemory(store)
    tm.add("One.", "Un.", "en", "fr")
    assert tm.search("Two.", "en", "fr")[0].target == "Un."  # vectors now cached in tm
    with Store(settings) as other:
        TranslationMemory(other).add("Two.", "Deux.", "en", "fr")
    hit = tm.search("Two.", "en", "fr")[0]
    assert (hit.target, hit.exact) == ("Deux.", True)
    assert {h.target for h in tm.search("Three.", "en", "fr", k=5)} == {"Un.", "Deux."}


def test_list_filters_and_remove_deletes(tm: TranslationMemory) -> None:
    a = tm.add("Yes.", "Oui.", "en", "fr")
    tm.add("Yes.", "Ja.", "en", "de")
    assert [e.target for e in tm.list(target_lang="de")] == ["Ja."]
    tm.remove(a)
    assert tm.search("Yes.", "en", "fr") == []
    assert len(tm) == 1
    with pytest.raises(MemoryNotFoundError):
        tm.remove(a)
    with pytest.raises(MemoryNotFoundError):
        tm.get(a)


def test_remove_drops_the_cached_embedding(tm: TranslationMemory, store: Store) -> None:
    entry = tm.add("A private sentence.", "Une phrase privée.", "en", "fr")
    count = "SELECT count(*) FROM embedding_cache"
    before = store.conn.execute(count).fetchone()[0]
    tm.remove(entry)
    assert store.conn.execute(count).fetchone()[0] == before - 1


@dataclass(frozen=True)
class _Seg:
    source: str
    target: str


@dataclass(frozen=True)
class _Result:
    source_lang: str
    target_lang: str
    segments: tuple[_Seg, ...]


def test_accept_stores_each_translated_segment(tm: TranslationMemory) -> None:
    result = _Result("en", "fr", (_Seg("Hello.", "Bonjour."), _Seg("42", "42"), _Seg("Bye.", "")))
    assert tm.accept(result) == 1
    (entry,) = tm.list()
    assert (entry.source, entry.target, entry.target_lang) == ("Hello.", "Bonjour.", "fr")


def test_shares_the_database_with_memory(store: Store, tmp_path: Path) -> None:
    Memory(store).add("I like tea.", role="user", source="user", user="u")
    TranslationMemory(store).add("I like tea.", "J'aime le thé.", "en", "fr")
    sql = (
        "SELECT name FROM sqlite_master"
        if store.db_path is not None
        else "SELECT table_name FROM information_schema.tables"
    )
    tables = {r[0] for r in store.conn.execute(sql)}
    assert {"memories", "translations"} <= tables
