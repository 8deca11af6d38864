import pytest

from agent.pipeline.evidence import content_words, holds_answer


@pytest.mark.parametrize(
    "question, memory, similarity, expected",
    [
        # MiniLM similarities measured for these pairs; see agent/pipeline/evidence.py
        ("What is my dog's name?", "my cat is called Miso", 0.504, False),
        ("What is my cat called?", "my cat is called Miso", 0.718, True),
        ("Where do I live?", "I live in Lyon.", 0.409, True),
        ("Where do I work?", "I live in Lyon and I work as a baker.", 0.371, True),
        ("What is my mother's name?", "my sister is called Ana", 0.45, False),
        ("Which city was I born in?", "I live in Lyon.", 0.3, False),
        ("What food am I allergic to?", "I am allergic to peanuts", 0.55, True),
    ],
)
def test_holds_answer(question: str, memory: str, similarity: float, expected: bool) -> None:
    assert holds_answer(question, memory, similarity) is expected


def test_content_words_drop_question_and_generic_words() -> None:
    assert content_words("What is my sister's name?") == {"sist"}
    assert content_words("How do I call you?") == set()


@pytest.mark.parametrize(
    "message, expected",
    [
        ("I live in Paris.", ["I live in Paris."]),
        ("My sister is Ana. What is the time?", ["My sister is Ana."]),
        ("Tell me a long story about a dragon and a knight.", []),
        ("Please write my essay about cats.", []),
        ("Where do I live?", []),
        ("The sky is blue.", []),
    ],
)
def test_only_first_person_statements_are_candidate_facts(
    message: str, expected: list[str]
) -> None:
    from agent.pipeline.facts import stated_sentences

    assert stated_sentences(message) == expected


@pytest.mark.parametrize(
    "message, previous, expected",
    [
        (
            "My name is Tom and my dog is called Rex.",
            None,
            ["My name is Tom.", "My dog is called Rex."],
        ),
        ("My cat is called Miso.", None, ["My cat is called Miso."]),
        (
            "My colleague Priya is a nurse at the city hospital",
            None,
            ["My colleague Priya is a nurse at the city hospital."],
        ),
        (
            "My daughter is called Zoe and she is seven.",
            None,
            ["My daughter is called Zoe.", "My daughter Zoe is seven."],
        ),
        ("I live in Paris and work as a nurse.", None, ["I live in Paris.", "I work as a nurse."]),
        ("It's Jonas Berg.", "Nice to meet you! What's your name?", ["My name is Jonas Berg."]),
        ("Lisbon, since May.", "Where do you live these days?", ["I live in Lisbon, since May."]),
        ("Thanks!", "Anything else?", []),
        ("Hi! How are you?", None, []),
        (
            "btw I'm allergic to peanuts, anyway what's a good snack?",
            None,
            ["I'm allergic to peanuts."],
        ),
    ],
)
def test_facts_keep_their_subject_and_split(
    message: str, previous: str | None, expected: list[str]
) -> None:
    from agent.pipeline.facts import extract_facts

    assert extract_facts(message, previous) == expected
