"""Unit tests of tools.translate with the scripted fake model (no real model, no network)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.errors import GenerationError, ToolInputError, UnknownLanguageError
from agent.llm.base import GenerationSettings
from agent.llm.fake import FakeLLM
from agent.settings import load_settings
from memory import Store
from memory.translations import TranslationMemory
from tools._translate_languages import LANGUAGES, detect, resolve
from tools._translate_protect import protect, restore
from tools._translate_units import MAX_UNIT_CHARS, units
from tools.translate import Translation, translate

QUERY = re.compile(r"\n(?:English|French|German|Spanish|Italian|Portuguese|Dutch): (.*)\n\w+:$")


def query_of(prompt: str) -> str:
    """The unit the prompt asks to translate (the last input line)."""
    m = QUERY.search(prompt)
    assert m, prompt[-200:]
    return m.group(1)


def upper(prompt: str, settings: GenerationSettings) -> str:
    """A fake translator: upper-cases the query, keeping sentinels (which are not letters)."""
    return query_of(prompt).upper()


@pytest.fixture
def tm(tmp_path: Path) -> Iterator[TranslationMemory]:
    settings = load_settings({"home": tmp_path / "home", "embedder": "hash"}, env={})
    store = Store(settings)
    yield TranslationMemory(store)
    store.close()


# -- languages -------------------------------------------------------------------------------


def test_languages_include_the_required_set() -> None:
    assert {"en", "fr", "de", "es", "it", "pt", "nl"} <= set(LANGUAGES)


@pytest.mark.parametrize(
    ("name", "code"),
    [("fr", "fr"), ("French", "fr"), ("français", "fr"), ("pt-BR", "pt"), ("  DEUTSCH ", "de")],
)
def test_resolve_names_and_codes(name: str, code: str) -> None:
    assert resolve(name) == code


def test_unknown_target_language_lists_supported_ones() -> None:
    llm = FakeLLM(default="x")
    with pytest.raises(UnknownLanguageError) as info:
        translate("Hello there.", "Klingon", llm=llm)
    assert "fr (French)" in str(info.value)
    assert llm.calls == []


def test_unknown_source_language_is_an_error() -> None:
    with pytest.raises(UnknownLanguageError):
        translate("Hello there.", "fr", source="xx", llm=FakeLLM(default="x"))


def test_detect_picks_the_language() -> None:
    assert detect("Wo ist der Bahnhof? Ich suche ihn seit einer Stunde.")[0] == "de"
    assert detect("¿Dónde está la estación de tren? La busco desde hace una hora.")[0] == "es"
    assert detect("12345 678")[0] is None


def test_source_is_detected_when_not_given() -> None:
    llm = FakeLLM(default="Good morning.")
    result = translate("Bonjour, je voudrais un café s'il vous plaît.", "en", llm=llm)
    assert (result.source_lang, result.detected) == ("fr", True)
    assert llm.calls[0].prompt.rstrip().endswith("English:")
    assert "\nFrench: Bonjour, je voudrais" in llm.calls[0].prompt


def test_undetectable_source_asks_for_source() -> None:
    with pytest.raises(ToolInputError) as info:
        translate("1234 5678", "fr", llm=FakeLLM(default="x"))
    assert info.value.reason == "bad-argument" and "source=" in str(info.value)


def test_same_language_returns_the_text_without_the_model() -> None:
    llm = FakeLLM(default="x")
    result = translate("Hello there, friend.", "en", source="English", llm=llm)
    assert result.text == "Hello there, friend." and llm.calls == []
    assert "already in English" in result.notes[-1]


# -- input errors ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   \n\n "])
def test_empty_input_is_an_error(text: str) -> None:
    with pytest.raises(ToolInputError) as info:
        translate(text, "fr", source="en", llm=FakeLLM(default="x"))
    assert info.value.reason == "empty"


def test_oversized_input_is_an_error() -> None:
    with pytest.raises(ToolInputError) as info:
        translate("word " * 100, "fr", source="en", llm=FakeLLM(default="x"), max_chars=50)
    assert info.value.reason == "too-large"


def test_unreadable_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ToolInputError) as info:
        translate(tmp_path / "missing.txt", "fr", source="en", llm=FakeLLM(default="x"))
    assert info.value.reason == "unreadable"


def test_file_input_is_read(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("Good morning.\n")
    result = translate(path, "fr", source="en", llm=FakeLLM(default="Bonjour."))
    assert result.text == "Bonjour.\n"


def test_bad_glossary_is_an_error() -> None:
    with pytest.raises(ToolInputError) as info:
        translate("Hi.", "fr", source="en", glossary={"": "x"}, llm=FakeLLM(default="x"))
    assert info.value.reason == "bad-argument"


def test_model_failure_is_a_generation_error() -> None:
    llm = FakeLLM([GenerationError("model broke")])
    with pytest.raises(GenerationError):
        translate("Hello there.", "fr", source="en", llm=llm)


# -- segmentation and reassembly -------------------------------------------------------------

DOC = """# A title

First sentence here. Second one follows!   Third?

- item one
- item two with `code. inside` it

```python
print("not translated.")
```

Last   paragraph.
"""


def test_units_skip_markers_and_fences_and_keep_code_spans_whole() -> None:
    got = [u.text for u in units(DOC)]
    assert got == [
        "A title",
        "First sentence here.",
        "Second one follows!",
        "Third?",
        "item one",
        "item two with `code. inside` it",
        "Last   paragraph.",
    ]
    assert all(DOC[u.start : u.end] == u.text for u in units(DOC))


def test_long_units_are_cut_at_clauses() -> None:
    text = ", ".join(["a clause of several words"] * 60) + "."
    parts = units(text)
    assert len(parts) > 1 and all(len(p.text) <= MAX_UNIT_CHARS for p in parts)
    assert " ".join(p.text for p in parts).replace(" ", "") == text.replace(" ", "")


def test_reassembly_keeps_structure_and_translates_each_unit() -> None:
    llm = FakeLLM(default=upper)
    result = translate(DOC, "fr", source="en", llm=llm)
    expected = DOC
    for u in reversed(units(DOC)):
        expected = expected[: u.start] + u.text.upper() + expected[u.end :]
    # the code span is protected: restored from the source, not upper-cased by the fake
    assert result.text == expected.replace("`CODE. INSIDE`", "`code. inside`")
    assert 'print("not translated.")' in result.text
    assert len(llm.calls) == len(result.segments) == 7
    assert result.segments[1].source == "First sentence here."
    assert result.segments[1].target == "FIRST SENTENCE HERE."
    assert result.violations == ()


def test_prompt_is_few_shot_greedy_and_stops_at_newline() -> None:
    llm = FakeLLM(default="Bonjour.")
    translate("Good morning.", "fr", source="en", context="A greeting card.", llm=llm)
    call = llm.calls[0]
    assert call.prompt.startswith("Context: A greeting card.\n\n")
    assert "English: Where is the train station?\nFrench: Où est la gare ?" in call.prompt
    assert call.prompt.endswith("English: Good morning.\nFrench:")
    assert call.settings.temperature == 0 and "\n" in call.settings.stop


def test_units_without_letters_are_copied() -> None:
    llm = FakeLLM(default="x")
    result = translate("Hello there.\n\n42 %s", "fr", source="en", llm=FakeLLM(default="Salut."))
    assert result.text == "Salut.\n\n42 %s"
    assert result.segments[1].origin == "copy"
    assert llm.calls == []


def test_empty_model_reply_keeps_the_source() -> None:
    result = translate("Hello there.", "fr", source="en", llm=FakeLLM(default=""))
    assert result.text == "Hello there."


# -- protection ------------------------------------------------------------------------------


def test_protect_and_restore_every_kind() -> None:
    text = (
        "Hi %(name)s, %d new {count} {{x}} ${v} %% in <a href='x.html'>here</a> &amp; "
        "`run me` at https://example.org/a?b=1, or mail me@example.org."
    )
    masked, items = protect(text)
    assert [i.kind for i in items] == (
        ["placeholder"] * 6 + ["markup", "markup", "markup", "code", "url", "url"]
    )
    for item in items:
        assert item.original not in masked
    assert masked.endswith("or mail ⟦12⟧.")
    assert restore(masked, items) == (text, [])


def test_plain_percent_and_prose_braces_are_not_placeholders() -> None:
    assert protect("It is 100% sure, { not this }.")[1] == []


def test_placeholders_markup_and_code_are_restored() -> None:
    source = "Hello %(name)s, click <b>Save</b> or run `make test`."

    def translator(prompt: str, settings: GenerationSettings) -> str:
        assert "%(name)s" not in query_of(prompt) and "<b>" not in query_of(prompt)
        return "Bonjour ⟦1⟧, cliquez ⟦2⟧Enregistrer⟦3⟧ ou lancez ⟦4⟧."

    result = translate(source, "fr", source="en", llm=FakeLLM(default=translator))
    assert result.text == "Bonjour %(name)s, cliquez <b>Enregistrer</b> ou lancez `make test`."
    assert result.violations == ()


def test_a_dropped_placeholder_is_retried_then_reported() -> None:
    llm = FakeLLM(default="Supprimer les objets.")
    result = translate("Delete %s objects.", "fr", source="en", llm=llm)
    assert len(llm.calls) == 2  # one retry
    (v,) = result.violations
    assert (v.kind, v.expected, v.segment) == ("placeholder", "%s", 0)
    assert "missing" in v.detail
    assert "Check these" in result.to_markdown() and "'%s' is missing" in result.to_markdown()


def test_the_retry_wins_when_it_keeps_the_placeholder() -> None:
    llm = FakeLLM(["Supprimer les objets.", "Supprimer ⟦1⟧ objets."])
    result = translate("Delete %s objects.", "fr", source="en", llm=llm)
    assert result.text == "Supprimer %s objets." and result.violations == ()
    # the retry puts the examples with sentinels next to the query
    assert llm.calls[1].prompt.index("⟦1⟧") > llm.calls[1].prompt.index("train station")


def test_a_dropped_opening_is_retried_with_the_placeholder_shown_as_a_name() -> None:
    # The README example: the 270M model turned "Hello ⟦1⟧, ..." into "⟦1⟧, ..." (issue 18).
    llm = FakeLLM(["⟦1⟧, votre facture est prête.", "Bonjour Alice, votre facture est prête."])
    result = translate(
        "Hello %s, your invoice is ready.",
        "fr",
        source="en",
        glossary={"invoice": "facture"},
        llm=llm,
    )
    assert result.text == "Bonjour %s, votre facture est prête." and result.violations == ()
    # the retry also forces the glossary term
    assert query_of(llm.calls[1].prompt) == "Hello Alice, your ⟦2⟧ is ready."


def test_a_dropped_opening_that_the_retry_cannot_fix_is_reported() -> None:
    llm = FakeLLM(default="⟦1⟧, votre facture est prête.")
    result = translate("Hello %s, your invoice is ready.", "fr", source="en", llm=llm)
    assert len(llm.calls) == 2
    (v,) = result.violations
    assert (v.kind, v.expected) == ("omission", "Hello")
    assert result.text == "%s, votre facture est prête."


def test_a_placeholder_at_the_start_is_no_omission() -> None:
    llm = FakeLLM(default="⟦1⟧ fichiers supprimés.")
    result = translate("%d files deleted.", "fr", source="en", llm=llm)
    assert result.violations == () and len(llm.calls) == 1


def test_a_duplicated_placeholder_is_reported() -> None:
    llm = FakeLLM(default="⟦1⟧ et ⟦1⟧")
    result = translate("Delete %s now.", "fr", source="en", llm=llm)
    assert result.violations[0].detail.endswith(
        "appears 2 times in the translation, once in the source"
    )


# -- glossary --------------------------------------------------------------------------------


def test_glossary_pairs_are_shown_and_checked() -> None:
    llm = FakeLLM(default="Veuillez payer la facture.")
    result = translate(
        "Please pay the invoice.", "fr", source="en", glossary={"invoice": "facture"}, llm=llm
    )
    assert "English: invoice\nFrench: facture\n\nEnglish: Please pay" in llm.calls[0].prompt
    assert result.violations == () and len(llm.calls) == 1


def test_glossary_is_forced_on_retry() -> None:
    llm = FakeLLM(["Veuillez payer la note.", "Veuillez payer la ⟦1⟧."])
    result = translate(
        "Please pay the Invoice.",
        "fr",
        source="en",
        glossary={"invoice": "facture"},
        explain=True,
        llm=llm,
    )
    assert "English: Please pay the ⟦1⟧." in llm.calls[1].prompt
    assert result.text == "Veuillez payer la facture." and result.violations == ()
    assert "Retried once after a check failed: segments 1." in result.notes
    assert any("substituted in segments 1." in n for n in result.notes)


def test_glossary_violation_is_reported_when_both_attempts_miss() -> None:
    llm = FakeLLM(default="Veuillez payer la note.")
    result = translate(
        "Please pay the invoice.", "fr", source="en", glossary={"invoice": "facture"}, llm=llm
    )
    (v,) = result.violations
    assert (v.kind, v.expected) == ("glossary", "facture")


def test_glossary_terms_absent_from_a_unit_are_not_required() -> None:
    llm = FakeLLM(default="Bonjour.")
    result = translate("Good morning.", "fr", source="en", glossary={"invoice": "facture"}, llm=llm)
    assert result.violations == () and "invoice" not in llm.calls[0].prompt


# -- translation memory ----------------------------------------------------------------------


def test_exact_memory_match_is_reused_without_the_model(tm: TranslationMemory) -> None:
    tm.add("Save your changes.", "Enregistrez vos modifications.", "en", "fr")
    llm = FakeLLM(default=upper)
    result = translate(
        "Save your changes. Then quit.", "fr", source="en", memory=tm, explain=True, llm=llm
    )
    assert result.text == "Enregistrez vos modifications. THEN QUIT."
    assert [s.origin for s in result.segments] == ["memory", "model"]
    assert result.reused == 1 and len(llm.calls) == 1
    assert any("Reused from the translation memory" in n for n in result.notes)


def test_similar_memory_entries_are_examples_nearest_the_query(tm: TranslationMemory) -> None:
    tm.add("Save the report %s as a file.", "Enregistrez le rapport %s.", "en", "fr")
    llm = FakeLLM(default="Enregistrez le rapport.")
    result = translate("Save the report as a file.", "fr", source="en", memory=tm, llm=llm)
    prompt = llm.calls[0].prompt
    example = "English: Save the report ⟦1⟧ as a file.\nFrench: Enregistrez le rapport ⟦1⟧."
    assert example in prompt
    assert prompt.index(example) > prompt.index("train station")
    assert result.examples_used == 14  # five built-in, eight from the bank, one from memory


def test_accepting_a_translation_stores_its_segments(tm: TranslationMemory) -> None:
    result = translate("One fine day. 42", "fr", source="en", llm=FakeLLM(default="Un beau jour."))
    assert tm.accept(result) == 1
    assert [e.target for e in tm.list()] == ["Un beau jour."]
    llm = FakeLLM(default="x")
    again = translate("One fine day.", "fr", source="en", memory=tm, llm=llm)
    assert again.text == "Un beau jour." and llm.calls == []


# -- result ----------------------------------------------------------------------------------


def test_result_serialises_and_renders() -> None:
    result = translate("Hello there.", "fr", source="en", llm=FakeLLM(default="Salut."))
    assert isinstance(result, Translation)
    data: dict[str, Any] = result.to_dict()
    assert data["segments"][0] == {
        "source": "Hello there.",
        "target": "Salut.",
        "start": 0,
        "end": 12,
        "origin": "model",
    }
    assert data["model"] == "fake" and data["violations"] == []
    md = result.to_markdown()
    assert md.startswith("Salut.\n") and "English → French" in md


def test_explain_notes_say_what_was_protected_and_detected() -> None:
    result = translate(
        "Hello %s, see <b>this</b> now.", "fr", explain=True, llm=FakeLLM(default="⟦1⟧ ⟦2⟧⟦3⟧")
    )
    assert any(n.startswith("Source language detected as English") for n in result.notes)
    assert any("2 markup, 1 placeholder" in n for n in result.notes)


# -- property: an identity "translation" gives back the input exactly -------------------------

_PIECES = st.sampled_from(
    ["Word", "two words", ".", "!", "?", ",", " ", "  ", "\n", "\n\n", "- ", "# ", "%s",
     "{name}", "<b>", "</b>", "`x. y`", "https://a.org/b.", "Dr.", "42", "\t", "```\ncode.\n```\n"]
)  # fmt: skip


def echo(prompt: str, settings: GenerationSettings) -> str:
    return query_of(prompt)


@settings(max_examples=150, deadline=None)
@given(st.lists(_PIECES, min_size=1, max_size=40).map("".join))
def test_identity_translation_reproduces_the_input(text: str) -> None:
    if not text.strip():
        return
    found = units(text)
    assert all(text[u.start : u.end] == u.text and u.text == u.text.strip() for u in found)
    assert all(a.end <= b.start for a, b in zip(found, found[1:], strict=False))
    result = translate(text, "fr", source="en", llm=FakeLLM(default=echo))
    assert result.text == text
    assert result.violations == ()
