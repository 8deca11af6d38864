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


def test_model_facts_must_be_grounded_and_about_the_user() -> None:
    from agent.llm.fake import FakeLLM
    from agent.pipeline.facts import extract_facts

    llm = FakeLLM(
        ['{"facts": ["I work as a baker.", "a dragon and a knight.", "I live in Rome."]}']
    )
    assert extract_facts(llm, "I work as a baker, and a dragon and a knight.") == [
        "I work as a baker."
    ]
