"""The slot rule that decides "same subject" before the model is asked."""

import pytest

from agent.errors import GenerationError
from agent.llm.fake import FakeLLM
from memory._supersede import same_subject, slot


@pytest.mark.parametrize(
    "old, new, expected",
    [
        ("I live in Paris", "I moved to Berlin", True),
        ("I work as a nurse", "I started a new job as a teacher", True),
        ("My favourite colour is blue", "My favourite colour is green", True),
        ("My sister is called Ana", "My sister is called Anna", True),
        ("I live in Paris", "My favourite colour is green", False),
        ("My sister lives in Rome", "I live in Madrid", False),
        ("My sister is called Ana", "My brother is called Leo", False),
        ("I am 34 years old", "I live in Oslo", False),
    ],
)
def test_slot_rule_decides_without_the_model(old: str, new: str, expected: bool) -> None:
    llm = FakeLLM([GenerationError("the model must not be asked")])
    assert same_subject(llm, old, new) is expected
    assert llm.calls == []


def test_unrecognised_facts_go_to_the_model() -> None:
    assert slot("I visited Berlin last week") is None
    assert slot("I have a dog named Rex") is None
    llm = FakeLLM(['{"same_subject": true}'])
    assert same_subject(llm, "I live in Paris", "I visited Berlin last week") is True
    assert len(llm.calls) == 1
