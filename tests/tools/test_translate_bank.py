"""The built-in example bank: its file, similarity selection, and its use in the prompt."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

from agent.llm.fake import FakeLLM
from tools._translate_bank import BANK_FILE, _rows, similar, words
from tools._translate_protect import protect
from tools.translate import BANK_EXAMPLES, translate

ROOT = Path(__file__).resolve().parents[2]


def examples_in(prompt: str) -> list[str]:
    """The English lines of a few-shot prompt, in order (the last one is the query)."""
    return re.findall(r"^English: (.*)$", prompt, flags=re.M)


# -- the file ------------------------------------------------------------------------------


def test_bank_rows_are_aligned_on_english_and_small_enough_to_ship() -> None:
    header = BANK_FILE.read_text(encoding="utf-8").splitlines()[0].split("\t")
    assert header == ["en", "fr", "de", "es", "origin"]
    rows = _rows()
    assert 1000 < len(rows) <= 5000
    for lang in ("fr", "de", "es"):
        assert sum(bool(r[lang]) for r in rows) <= 5000
    assert all(r["en"] and any(r[x] for x in ("fr", "de", "es")) for r in rows)
    assert {r["origin"] for r in rows} == {"wagtail", "sphinx", "jupyterlab"}
    assert len({r["en"] for r in rows}) == len(rows)


def test_bank_licences_are_shipped_beside_it() -> None:
    notice = BANK_FILE.with_name("_translate_bank_NOTICE.txt").read_text(encoding="utf-8")
    for project in ("wagtail", "sphinx", "jupyterlab-language-pack"):
        assert project in notice
    assert notice.count("Redistribution and use in source and binary forms") == 3


def test_bank_holds_no_source_of_the_held_out_catalogs() -> None:
    pytest.importorskip("django")
    pytest.importorskip("mailman")
    spec = importlib.util.spec_from_file_location(
        "build_translate_bank", ROOT / "bench" / "data" / "build_translate_bank.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    held_out = module.held_out()
    assert len(held_out) > 1000
    assert not [r["en"] for r in _rows() if module._key(r["en"]) in held_out]


# -- selection -------------------------------------------------------------------------------


def test_words_leave_out_protected_items() -> None:
    assert words("Delete %(count)s <b>selected</b> files from {folder}?") == [
        "delete",
        "selected",
        "files",
        "from",
    ]


def test_similar_returns_the_best_match_last_and_only_overlapping_pairs() -> None:
    found = similar("You do not have permission to delete this page.", "en", "fr", 4)
    assert len(found) == 4
    assert all("permission" in words(src) for src, _ in found[-2:])
    assert all(set(words(src)) & {"permission", "delete", "page"} for src, _ in found)
    assert similar("Zzyzx qwfp.", "en", "fr", 4) == []


def test_similar_skips_near_duplicates() -> None:
    found = similar("has been submitted for approval in moderation stage", "en", "fr", 4)
    bags = [frozenset(words(src)) for src, _ in found]
    for i, a in enumerate(bags):
        for b in bags[i + 1 :]:
            assert len(a & b) < 0.8 * len(a | b)


@pytest.mark.parametrize(("source", "target"), [("fr", "en"), ("de", "es"), ("es", "fr")])
def test_similar_serves_every_direction_among_the_bank_languages(source: str, target: str) -> None:
    row = next(r for r in _rows() if r[source] and r[target] and len(r[source].split()) > 3)
    found = similar(row[source], source, target, 3)
    assert found[-1] == (row[source], row[target])


@pytest.mark.parametrize(
    ("source", "target", "k"), [("en", "it", 4), ("nl", "en", 4), ("en", "fr", 0)]
)
def test_similar_is_empty_without_bank_data_or_when_none_asked(
    source: str, target: str, k: int
) -> None:
    assert similar("The file could not be saved.", source, target, k) == []


# -- the prompt ------------------------------------------------------------------------------


def test_bank_examples_sit_between_the_builtin_ones_and_the_query() -> None:
    llm = FakeLLM(default="Vous n'avez pas la permission de supprimer cette page.")
    result = translate("You do not have permission to delete this page.", "fr", "en", llm=llm)
    shown = examples_in(llm.calls[0].prompt)
    assert shown[0] == "Where is the train station?"
    assert shown[-1] == "You do not have permission to delete this page."
    bank = shown[5:-1]
    assert len(bank) == BANK_EXAMPLES
    expected = [protect(src)[0] for src, _ in similar(shown[-1], "en", "fr", BANK_EXAMPLES)]
    assert bank == expected  # placeholders of bank pairs shown as sentinels, best last
    assert result.examples_used == 5 + BANK_EXAMPLES


def test_bank_examples_zero_gives_the_generic_prompt() -> None:
    llm = FakeLLM(default="Vous n'avez pas la permission de supprimer cette page.")
    result = translate(
        "You do not have permission to delete this page.", "fr", "en", llm=llm, bank_examples=0
    )
    assert len(examples_in(llm.calls[0].prompt)) == 6
    assert result.examples_used == 5


@pytest.mark.parametrize(
    ("source", "reply", "expected"),
    [
        ("Enter two valid dates.", "Entrez deux dates valides", "Entrez deux dates valides."),
        ("Save the file", "Enregistrer le fichier.", "Enregistrer le fichier"),
        ("Delete %s.", "Supprimer ⟦1⟧", "Supprimer %s."),
        ("Is it ready?", "Est-ce prêt ?", "Est-ce prêt ?"),
        ("Wait...", "Attendez...", "Attendez..."),
    ],
)
def test_the_final_full_stop_follows_the_source(source: str, reply: str, expected: str) -> None:
    result = translate(source, "fr", "en", llm=FakeLLM(default=reply), bank_examples=0)
    assert result.text == expected


def test_qt_style_positional_placeholders_are_protected() -> None:
    masked, items = protect('"%1" already exists, overwrite? 50% done')
    assert masked == '"⟦1⟧" already exists, overwrite? 50% done'
    assert [i.original for i in items] == ["%1"]
