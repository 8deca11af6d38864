"""The slot rule that decides supersession: same subject and attribute, and nothing else."""

import pytest

from memory._slots import phrase_slot, question_slot, slot


@pytest.mark.parametrize(
    "old, new, expected",
    [
        ("I live in Paris", "I moved to Berlin", True),
        ("I just moved to Lyon", "I'm all settled in Lisbon now", True),
        ("I work as a nurse", "I started a new job as a teacher", True),
        ("My favourite colour is blue", "My favourite colour is green", True),
        ("My sister is called Ana", "My sister is called Anna", True),
        ("My phone number is 555 0101", "My mobile number is 555 0199", True),
        ("I live in Paris", "My favourite colour is green", False),
        ("My sister lives in Rome", "I live in Madrid", False),
        ("My sister is called Ana", "My brother is called Leo", False),
        ("My dog is called Rex", "My cat is called Miso", False),
        ("I have a dog named Rex", "My dog is called Max now", True),
        ("We adopted a kitten and named her Pixel", "We renamed the kitten Mochi", True),
        ("My boyfriend Marco is lovely", "I'm seeing someone called Tobias now", True),
        ("My favourite food is sushi", "These days ramen has become my new favourite food", True),
        ("I live in Bristol", "We're in York now, closer to my parents", True),
        ("I am 34 years old", "I live in Oslo", False),
        ("I live in Paris", "I used to live in Oslo", False),  # a past value is not a move
        ("My colleague Priya is a nurse", "My colleague Sam is a teacher", False),
    ],
)
def test_same_slot_means_superseded(old: str, new: str, expected: bool) -> None:
    a, b = slot(old), slot(new)
    assert (a is not None and a == b) is expected, (a, b)


@pytest.mark.parametrize(
    "text",
    [
        "I visited Berlin last week",
        "Dmitri keeps a crimson loom in Perth",
        "Jonas keeps a coral harpoon in Baku",
        "What is my dog called?",
    ],
)
def test_unrecognised_facts_supersede_nothing(text: str) -> None:
    assert slot(text) is None


@pytest.mark.parametrize(
    "question, expected",
    [
        ("Where do I live?", ("i", "residence")),
        ("What is my dog called?", ("my dog", "name")),
        ("What's my dog's name?", ("my dog", "name")),
        ("How old is my daughter?", ("my daughter", "age")),
        ("What does Priya do?", ("priya", "work")),
        ("When did I move to Lyon?", ("i", "residence")),
        ("What's my surname?", ("i", "surname")),
        ("What is the capital of Italy?", None),
    ],
)
def test_questions_ask_for_a_slot(question: str, expected: tuple[str, str] | None) -> None:
    assert question_slot(question) == expected


def test_forget_phrases_name_a_slot() -> None:
    assert phrase_slot("my passport number") == ("i", "passport number")
    assert phrase_slot("my old job") == ("i", "work")
    assert phrase_slot("Priya") is None
