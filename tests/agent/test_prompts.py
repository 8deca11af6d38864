import doctest

import pytest

import agent.llm.prompts
from agent.errors import ConfigError
from agent.llm.prompts import (
    LLAMA_CPP_FALLBACK_TEMPLATE,
    ChatMLChatFormat,
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
    assert "User: Hi!\nAssistant: Hello! What can I do for you?" in text  # the primer
    assert "Lorebook" not in text  # no self-introduction for the model to copy
    assert text.endswith("User: Q?\nAssistant:")
    bare = TranscriptChatFormat(primer=False).render([Message("user", "Q?")])
    assert "Who are you" not in bare


def test_chatml_system_turn_and_assistant_cue() -> None:
    fmt = ChatMLChatFormat()
    text = fmt.render(
        [
            Message("system", "Be brief."),
            Message("user", "Hi"),
            Message("assistant", "Hello."),
            Message("system", "Use English."),
            Message("user", "Bye"),
        ]
    )
    assert text == (
        "<|im_start|>system\nBe brief.\n\nUse English.<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello.<|im_end|>\n"
        "<|im_start|>user\nBye<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert fmt.render([Message("user", "Hi")]) == (
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    )
    assert fmt.stop == ("<|im_end|>", "<|im_start|>")


# The start of the template in Qwen2.5-Coder's GGUF files.
_QWEN_TEMPLATE = (
    "{%- if tools %}\n    {{- '<|im_start|>system\\n' }}\n    {%- if messages[0]['role'] == "
    "'system' %}\n        {{- messages[0]['content'] }}\n"
)
_GEMMA_TEMPLATE = "{{ bos_token }}{% for message in messages %}<start_of_turn>{{ role }}\n"


def test_auto_chat_format_depends_on_template() -> None:
    def auto(architecture: str = "", template: str = "") -> str:
        return chat_format_for("auto", architecture=architecture, template=template).name

    assert auto("qwen2", _QWEN_TEMPLATE) == "chatml"
    assert auto("gemma3", _GEMMA_TEMPLATE) == "gemma"
    assert auto("gemma3") == "transcript"  # the default base model has no template
    assert auto("llama", "{{ '<|start_header_id|>' }}") == "transcript"
    # llama-server (which names no architecture) reports the template, or its own ChatML
    # fallback for a model without one, which must not count as the model's own
    assert auto(template=_GEMMA_TEMPLATE) == "gemma"
    assert auto(template=_QWEN_TEMPLATE) == "chatml"
    assert auto(template=LLAMA_CPP_FALLBACK_TEMPLATE) == "transcript"
    assert chat_format_for("chatml").name == "chatml"
    assert chat_format_for("gemma", template=_QWEN_TEMPLATE).name == "gemma"  # a name wins
    with pytest.raises(ConfigError, match="valid: auto, chatml, gemma, transcript"):
        chat_format_for("vicuna")


def test_module_doctests_pass() -> None:
    result = doctest.testmod(agent.llm.prompts)
    assert result.attempted >= 3 and result.failed == 0


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
