import pytest

from agent.errors import ConfigError
from agent.llm.prompts import (
    GemmaChatFormat,
    Message,
    TranscriptChatFormat,
    as_messages,
    chat_format_for,
    few_shot,
)


def test_gemma_turns_merge_system_into_first_user_turn() -> None:
    text = GemmaChatFormat().render(
        [
            Message("system", "Be brief."),
            Message("user", "Hi"),
            Message("assistant", "Hello."),
            Message("user", "Bye"),
        ]
    )
    assert text == (
        "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n"
        "<start_of_turn>model\nHello.<end_of_turn>\n"
        "<start_of_turn>user\nBye<end_of_turn>\n"
        "<start_of_turn>model\n"
    )


def test_transcript_has_primer_system_and_ends_with_assistant_cue() -> None:
    text = TranscriptChatFormat().render([Message("system", "Rules."), Message("user", "Q?")])
    assert text.startswith("Rules.\n")
    assert "User: Hi! Who are you?" in text  # the primer
    assert text.endswith("User: Q?\nAssistant:")
    bare = TranscriptChatFormat(primer=False).render([Message("user", "Q?")])
    assert "Who are you" not in bare


def test_auto_chat_format_depends_on_template() -> None:
    assert chat_format_for("auto", architecture="gemma3", has_template=True).name == "gemma"
    assert chat_format_for("auto", architecture="gemma3", has_template=False).name == "transcript"
    with pytest.raises(ConfigError, match="valid: auto, gemma, transcript"):
        chat_format_for("chatml")


def test_as_messages_validates() -> None:
    assert as_messages([{"role": "user", "content": "x"}]) == [Message("user", "x")]
    with pytest.raises(ConfigError, match="role must be one of"):
        as_messages([{"role": "robot", "content": "x"}])
    with pytest.raises(ConfigError, match="at least one"):
        as_messages([])


def test_few_shot_layout_and_stops() -> None:
    p = few_shot(
        [("one", "un"), ("two", "deux")],
        "three",
        instruction="Translate.",
        input_label="English",
        output_label="French",
    )
    assert p.prompt == (
        "Translate.\n\nEnglish: one\nFrench: un\n\nEnglish: two\nFrench: deux"
        "\n\nEnglish: three\nFrench:"
    )
    assert p.stop == ("\nEnglish:", "\n\n")
    multi = few_shot([("q", "para 1\n\npara 2")], "q2")
    assert multi.stop == ("\nInput:",)  # a blank line cannot end an answer that contains one
