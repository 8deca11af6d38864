"""tools.translate on the real default model (Gemma 3 270M base, greedy, so deterministic).

The assertions are what the 270M model reliably gets right, checked by hand first: common
words, the protected placeholders, the glossary term, the document's layout. Its sentences are
often imperfect ("too short" came back as "trop long"), which is what the benchmark measures.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tools.translate import translate

pytestmark = pytest.mark.integration


def test_placeholders_survive_and_words_are_translated(real_llm: Any) -> None:
    result = translate(
        "Hello %(name)s, you have {count} new messages.", "fr", source="en", llm=real_llm
    )
    assert result.text.count("%(name)s") == 1 and result.text.count("{count}") == 1
    # "you" has no register: the bank's everyday messages say "tu", its UI strings "vous", and
    # which the model picks here depends on the tests run before it (llama.cpp's state)
    words = set(re.findall(r"\w+", result.text.lower()))
    assert "messages" in words and words & {"vous", "tu"}
    assert result.violations == ()


def test_glossary_term_is_in_the_output(real_llm: Any) -> None:
    result = translate(
        "Please pay the invoice before Friday.",
        "German",
        source="English",
        glossary={"invoice": "Rechnung"},
        llm=real_llm,
    )
    assert "Rechnung" in result.text and "Freitag" in result.text
    assert result.violations == ()


def test_detected_german_to_english(real_llm: Any) -> None:
    result = translate("Ich habe heute keine Zeit.", "en", llm=real_llm)
    assert (result.source_lang, result.detected) == ("de", True)
    assert "time" in result.text.lower()


def test_layout_is_kept(real_llm: Any) -> None:
    doc = "# Hello\n\n- The password is too short.\n- Thank you very much.\n"
    result = translate(doc, "fr", source="en", llm=real_llm)
    lines = result.text.split("\n")
    assert lines[0].startswith("# ") and lines[1] == "" and lines[4] == ""
    assert lines[2].startswith("- ") and lines[3].startswith("- ")
    assert "mot de passe" in lines[2].lower() and "merci" in lines[3].lower()
