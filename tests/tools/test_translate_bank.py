"""The built-in example bank: its file, similarity selection, and its use in the prompt."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from agent.llm.fake import FakeLLM
from tools import _translate_bank
from tools._translate_bank import BANK_FILE, _Index, _rows, similar, words
from tools._translate_protect import protect
from tools.translate import BANK_EXAMPLES, translate

ROOT = Path(__file__).resolve().parents[2]


def examples_in(prompt: str) -> list[str]:
    """The English lines of a few-shot prompt, in order (the last one is the query)."""
    return re.findall(r"^English: (.*)$", prompt, flags=re.M)


# -- the file ------------------------------------------------------------------------------

ORIGINS = {"lorebook-ui", "lorebook-docs", "lorebook-chat"}


def checker() -> ModuleType:
    """``bench/data/check_translate_bank.py``, the bank's validator, as a module."""
    spec = importlib.util.spec_from_file_location(
        "check_translate_bank", ROOT / "bench" / "data" / "check_translate_bank.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_bank_rows_are_aligned_on_english_and_our_own() -> None:
    header = BANK_FILE.read_text(encoding="utf-8").splitlines()[0].split("\t")
    assert header == ["en", "fr", "de", "es", "origin"]
    rows = _rows()
    assert 500 <= len(rows) <= 5000
    assert all(all(r.values()) for r in rows)  # every row has all three translations
    assert {r["origin"] for r in rows} == ORIGINS
    # the three kinds of segment in about equal parts
    assert min(sum(r["origin"] == o for r in rows) for o in ORIGINS) >= len(rows) // 4
    assert len({r["en"] for r in rows}) == len(rows)


def test_bank_passes_its_checker_and_is_in_normal_form() -> None:
    module = checker()
    header, rows = module.read(BANK_FILE)
    assert list(module.problems(header, rows)) == []
    assert BANK_FILE.read_text(encoding="utf-8") == module.render(module.normalise(rows))


@pytest.mark.parametrize(
    ("row", "complaint"),
    [
        (["Delete %s?", "Supprimer ?", "%s löschen?", "¿Eliminar %s?", "lorebook-ui"], "fr"),
        (["Open <b>it</b>", "Ouvrir <b>ça", "<b>Öffnen</b>", "<b>Abrir</b>", "lorebook-ui"], "fr"),
        (["Hello {name}", "Bonjour {nom}", "Hallo {name}", "Hola {name}", "lorebook-ui"], "fr"),
        (["Good night", "", "Gute Nacht", "Buenas noches", "lorebook-chat"], "empty fr"),
        (["Good night", "Bonne nuit", "Gute Nacht", "Buenas noches", "imported"], "origin"),
        (["Good  night", "Bonne nuit", "Gute Nacht", "Buenas noches", "lorebook-chat"], "space"),
        (["Good night", "Good night", "Gute Nacht", "Buenas noches", "lorebook-chat"], "English"),
    ],
)
def test_the_checker_catches_a_broken_row(row: list[str], complaint: str) -> None:
    module = checker()
    found = list(module.problems(list(module.COLUMNS), [row]))
    assert found and complaint in found[0]


def test_the_checker_catches_a_duplicate() -> None:
    module = checker()
    row = ["Good night", "Bonne nuit", "Gute Nacht", "Buenas noches", "lorebook-chat"]
    other = ["good night", "Bonne soirée", "Guten Abend", "Buenas tardes", "lorebook-chat"]
    assert "same en as line 2" in next(module.problems(list(module.COLUMNS), [row, other]))


def test_bank_notice_gives_the_projects_licence() -> None:
    notice = BANK_FILE.with_name("_translate_bank_NOTICE.txt").read_text(encoding="utf-8")
    assert "written for lorebook" in notice
    assert "MIT" in notice


def test_bank_holds_no_source_of_the_held_out_catalogs() -> None:
    pytest.importorskip("django")
    pytest.importorskip("mailman")
    module = checker()
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
    query = "The attachment could not be opened because it is damaged."
    found = similar(query, "en", "fr", 4)
    assert len(found) == 4
    assert all(set(words(src)) & set(words(query)) for src, _ in found)
    assert found[-1][0] == 'The attachment "%s" could not be opened.'
    assert similar("Zzyzx qwfp.", "en", "fr", 4) == []


def test_similar_skips_near_duplicates(monkeypatch: pytest.MonkeyPatch) -> None:
    pairs = [
        ("The page was submitted for approval.", "La page a été soumise pour approbation."),
        ("The page was submitted for approval", "La page a été soumise pour approbation"),
        ("The page has been submitted for approval.", "La page a été soumise à approbation."),
        ("Approval is needed for this page.", "Cette page doit être approuvée."),
        ("The draft was submitted.", "Le brouillon a été soumis."),
    ]
    monkeypatch.setattr(_translate_bank, "_index", lambda source, target: _Index.build(pairs))
    found = similar("The page was submitted for approval.", "en", "fr", 4)
    assert found[-1] in pairs[:2]
    assert (pairs[0] in found) != (pairs[1] in found)  # the same words: only one is shown
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
