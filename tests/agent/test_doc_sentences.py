"""Which document sentence answers a question, and when the documents do not say."""

from __future__ import annotations

from typing import Any

from agent.pipeline.answers import best_sentence, beyond_title


def _chunk(text: str, start: int = 0, path: str = "doc.md", n: int = 1) -> dict[str, Any]:
    return {"n": n, "quote": text, "start": start, "source": path, "path": path, "page": None}


def test_a_word_every_sentence_repeats_counts_less_than_a_rare_one() -> None:
    manual = _chunk(
        "# Kestrel coffee grinder: care guide\n\n"
        "Empty the grinder's bean hopper before a long break.\n"
        "Each grinder setting needs 2 seconds to change.\n"
        "Brush the grinder's burrs once a week, whatever the setting.\n"
        "Turbo grinds 20 g in 9 seconds.\n"
        "Descale the grinder's steam wand every month.\n"
        "Keep the grinder's lid closed while it runs on any setting.\n"
    )
    found = best_sentence("How long does the grinder's turbo setting take?", [manual])
    assert found is not None and "9 seconds" in found["sentence"]


def test_until_what_time_asks_for_a_time() -> None:
    rules = _chunk(
        "Hall rules\n\nPlease keep the noise down in the hall at all times. "
        "On Saturdays quiet hours last until 10:00."
    )
    question = "Until what time do I have to keep the noise down on a Saturday?"
    found = best_sentence(question, [rules])
    assert found is not None and "10:00" in found["sentence"]


def test_the_titles_words_count_little_in_every_excerpt_of_the_document() -> None:
    head = _chunk("Oakridge Tennis Club\n\nCourts open at 07:00. Members bring their own balls.")
    later = _chunk(
        "The Oakridge Tennis Club committee meets monthly. Guests pay 8 euros per visit.",
        start=300,
    )
    found = best_sentence("How much does a guest pay at Oakridge Tennis Club?", [head, later])
    assert found is not None and "8 euros" in found["sentence"]
    assert found["title_words"]  # the title's words travel with the choice, for the gate


def test_a_sentence_that_shares_only_the_documents_name_does_not_answer() -> None:
    found = {
        "sentence": "Adopted by the Oakridge Tennis Club committee in 2024.",
        "context": "Oakridge Tennis Club. Adopted by the Oakridge Tennis Club committee in 2024.",
        "title_words": ["oakri", "tenni", "club"],
    }
    assert not beyond_title("What is the Oakridge Tennis Club's phone number?", found)
    assert beyond_title("Who adopted the Oakridge Tennis Club rules?", found)
    # a question about the whole document ("what's on my packing list?") is answered by it
    assert beyond_title("What's in the Oakridge Tennis Club?", found)
