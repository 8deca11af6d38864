"""Which document sentence answers a question, and when the documents do not say."""

from __future__ import annotations

from typing import Any

from agent.pipeline.answers import (
    _stems,
    answers_question,
    best_sentence,
    beyond_title,
    extractive_document_answer,
)


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


def test_a_sentence_saying_the_opposite_does_not_answer() -> None:
    timetable = _chunk(
        "Ferry to Holm Island\n\nThe last ferry from the harbour leaves at 23:10. "
        "The first ferry from the harbour leaves at 06:15."
    )
    found = best_sentence("When does the first ferry leave the harbour?", [timetable])
    assert found is not None and "06:15" in found["sentence"]
    note = _chunk("Choir notes\n\nThe spring term opened on 3 March with twelve singers.")
    assert best_sentence("When does the choir's spring term end?", [note]) is None


def test_everyday_words_for_one_thing_meet() -> None:
    policy = _chunk(
        "Cover summary\n\nYour belongings are covered up to 30,000 euros in total. "
        "Theft of a bicycle is covered up to 800 euros when it was locked."
    )
    found = best_sentence("Is my bike covered if someone steals it?", [policy])
    assert found is not None and "800" in found["sentence"]
    manual = _chunk(
        "Oven manual\n\nThe display shows the time. To lock the buttons, press and hold the "
        "light button. Clean the door with a soft cloth."
    )
    found = best_sentence("How do I stop my toddler pressing the oven buttons?", [manual])
    assert found is not None and "hold the light button" in found["sentence"]


def test_a_list_item_is_quoted_with_the_heading_it_stands_under() -> None:
    summary = _chunk(
        "# Bike insurance\n\n## What is not covered\n\n- Wear and tear\n- Theft from an "
        "unlocked shed\n\n## Claims\n\nCall us within 7 days."
    )
    found = best_sentence("Does the bike insurance pay for theft from an unlocked shed?", [summary])
    assert found is not None and found["sentence"] == "- Theft from an unlocked shed"
    assert found["under"] == "What is not covered"
    reply = extractive_document_answer(found)
    assert "\u201cWhat is not covered\u201d" in reply and "unlocked shed" in reply


def test_a_list_item_is_not_a_heading_over_the_next_item() -> None:
    recipe = _chunk("Plum cake\n\nMakes 12 slices.\n\n## You need\n\n- 500 g plums\n- 3 eggs\n")
    found = best_sentence("How many plums go into the plum cake?", [recipe])
    assert found is not None and found["sentence"] == "- 500 g plums"


def test_the_value_beside_the_asked_word_is_the_answer() -> None:
    recipe = _chunk(
        "# Barley broth\n\nServes 6.\n\n- 2 litres chicken stock\n- 200 g barley\n\n"
        "Pour in the stock, cover and cook for 40 minutes until the barley is soft."
    )
    found = best_sentence("How much stock goes into the barley broth?", [recipe])
    assert found is not None and "2 litres" in found["sentence"]


def test_a_number_the_question_gives_is_not_its_answer() -> None:
    fares = _chunk(
        "Tram fares\n\nDay passes for tram 7 are valid on every ride into the harbour zone. "
        "Rides into the harbour zone cost an extra 1.20 euros."
    )
    question = "How much extra is a ride on the 7 into the harbour zone?"
    found = best_sentence(question, [fares])
    assert found is not None and "1.20" in found["sentence"]


def test_a_name_the_question_gives_points_at_its_document() -> None:
    receipt = _chunk("GARDENCO\nThank you!\nDate 03.02.2026", path="receipt.txt", n=2)
    rules = _chunk("House rules\n\nShop deliveries arrive every Tuesday.", path="rules.md")
    found = best_sentence("What day did I shop at Gardenco?", [rules, receipt])
    assert found is not None and found["path"] == "receipt.txt"


def test_may_the_verb_is_not_a_month() -> None:
    rules = _chunk("Garage rules\n\nGuests may use the garage for a day. Cleaning is every Monday.")
    found = best_sentence("Which day is the garage cleaned?", [rules])
    assert found is not None and "Monday" in found["sentence"]


def test_the_relevance_test_counts_the_words_beyond_the_title() -> None:
    found = {
        "sentence": "TOTAL EUR 95.96",
        "context": "TOTAL EUR 95.96 Paid by card 95.96",
        "title_words": ["build", "garde", "home"],
        "similarity": 0.23,
        "value_beside": True,
    }
    assert answers_question("How much did I spend at BuildMart altogether?", found)
    assert not answers_question(
        "What is BuildMart's phone number?", {**found, "value_beside": False}
    )


def test_a_time_beside_the_asked_day_passes_the_relevance_test() -> None:
    table = _chunk(
        "# Line 9 timetable\n\n## From the harbour\n\n| Day | Departures |\n|---|---|\n"
        "| Monday to Friday | 05:40, 06:10, then every 20 minutes |\n"
        "| Sunday | every hour from 08:00 |\n"
    )
    question = "What time is the first line 9 bus from the harbour on a Monday morning?"
    found = best_sentence(question, [table])
    assert found is not None and "05:40" in found["sentence"] and found["value_beside"]
    assert answers_question(question, {**found, "similarity": 0.4})
    assert not answers_question(question, {**found, "similarity": 0.4, "value_beside": False})


# -- FAQ questions that mean the one asked, the words a question turns on ----------------------

_BIKES = _chunk(
    "# City bike share: questions and answers\n\n"
    "## Can I take a bike on the tram?\n\n"
    "Folding bikes only, and never at rush hour.\n\n"
    "## What if my bike is stolen while I have it out?\n\n"
    "Report it to us within a day. You are charged the deposit of 150 euros unless you "
    "report it to the police. Members on the annual plan pay nothing.\n\n"
    "## How do I end a ride?\n\n"
    "Dock the bike at any station until the light turns green.\n"
)


def _similar(table: dict[str, float]) -> Any:
    """A stand-in for the embedder: each sentence's similarity to the question, by its text."""
    return lambda question, sentences: [table.get(s.strip(), 0.1) for s in sentences]


def test_the_faq_question_meaning_the_one_asked_leads_to_its_answer() -> None:
    # "nicked" and "rental" share no word with the FAQ's question or its answer: only
    # their meaning leads there
    sims = {"## What if my bike is stolen while I have it out?": 0.74}
    question = "Somebody nicked my rental, what now?"
    found = best_sentence(question, [_BIKES], _similar(sims))
    assert found is not None and found["sentence"].startswith("Report it to us")
    assert answers_question(question, found)
    assert best_sentence(question, [_BIKES]) is None  # without meaning, no word to go by


def test_a_sentence_without_the_words_the_question_turns_on_does_not_answer() -> None:
    lease = _chunk(
        "Tenancy agreement\n\nIn addition, the Tenant pays an advance of 180 euros per month "
        "towards the operating costs (water, waste collection, cleaning of the stairwell)."
    )
    question = "How much does it cost per month to rent a garage box?"
    found = best_sentence(question, [lease], _similar({}))
    assert found is None or not answers_question(question, found)
    asked = "How much are the operating costs per month?"
    found = best_sentence(asked, [lease], _similar({}))
    assert found is not None and answers_question(asked, found)


def test_an_amount_in_any_currency_is_money() -> None:
    faq = _chunk(
        "## Home surveys\n\nA survey of the house takes about three hours. "
        "Expect to pay 6,000-9,000 SEK, depending on its size."
    )
    found = best_sentence("How much does a house survey cost?", [faq])
    assert found is not None and "SEK" in found["sentence"]


def test_an_abbreviation_before_a_number_ends_no_sentence() -> None:
    law = _chunk("Rules\n\nUnder the act, ch. 4 s. 19 the seller is liable for ten years.")
    found = best_sentence("How long is the seller liable under the act?", [law])
    assert found is not None and found["sentence"].startswith("Under the act, ch. 4 s. 19")


def test_when_is_answered_by_a_time_that_comes_round() -> None:
    rules = _chunk(
        "## Library card\n\nA card holds up to 20 loans at a time. "
        "The loan count resets every calendar year."
    )
    found = best_sentence("When does the loan count on my card reset?", [rules])
    assert found is not None and "every calendar year" in found["sentence"]


def test_the_most_is_the_maximum_and_a_limit_a_cap() -> None:
    assert _stems("What's the most I can claim?") & _stems("Max 140 euros a night.")
    assert _stems("When does my limit start over?") & _stems("The ceiling resets yearly.")
    assert _stems("the least I can pay") & _stems("a minimum charge")


def test_the_busiest_is_busy_and_a_mate_a_friend() -> None:
    assert _stems("When is it least busy?") & _stems("Evenings are the busiest.")
    assert _stems("Is it easier on foot?") & _stems("It is easy on foot.")
    assert _stems("Can my mate come along?") & _stems("Can I bring a friend?")
