"""Prompt building: chat messages, chat formats, and few-shot prompts for base models.

The default model (Gemma 3 270M *base*) ships a GGUF without a chat template, and
llama-cpp-python's fallback (the llama-2 format) makes it answer with nothing. So lorebook
renders Gemma's turn format itself::

    <start_of_turn>user
    {system}\\n\\n{user}<end_of_turn>
    <start_of_turn>model
    {reply}<end_of_turn>

Gemma has no system role: the system text is prepended to the first user turn, as Gemma's own
template does. A base model follows examples far better than instructions, hence
:func:`few_shot`, which tools use to show the model the pattern they want.

Instruction-tuned models whose GGUF template uses ``<|im_start|>`` (Qwen2.5 and the packaged
Qwen2.5-Coder models) get ChatML, with the system text as a turn of its own. Only the turn
markers are rendered, not the model's Jinja template: no default system prompt and no tool
blocks, which lorebook does not use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from agent.errors import ConfigError

Role = Literal["system", "user", "assistant"]
_ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Message:
    """One chat message."""

    role: Role
    content: str


def as_messages(messages: Sequence[Message | Mapping[str, str]]) -> list[Message]:
    """Accept ``Message`` objects or ``{"role", "content"}`` dicts; check the roles.

    Raises:
        ConfigError: an unknown role, or no messages at all.
    """
    out: list[Message] = []
    for m in messages:
        if isinstance(m, Message):
            out.append(m)
            continue
        role, content = m.get("role"), m.get("content")
        if role not in _ROLES or not isinstance(content, str):
            raise ConfigError(
                f"bad chat message {dict(m)!r}: role must be one of {', '.join(_ROLES)} "
                "and content a string"
            )
        out.append(Message(role, content))  # type: ignore[arg-type]
    if not out:
        raise ConfigError("a chat needs at least one message")
    return out


class ChatFormat(Protocol):
    """Turns messages into the prompt text a model was trained on (read-only attributes, so
    the frozen dataclasses below satisfy it)."""

    @property
    def name(self) -> str: ...

    @property
    def stop(self) -> tuple[str, ...]:
        """Stop sequences that end the assistant's turn."""
        ...

    def render(self, messages: Sequence[Message]) -> str:
        """The prompt for the assistant's next turn after ``messages``."""
        ...


@dataclass(frozen=True)
class GemmaChatFormat:
    """Gemma's ``<start_of_turn>`` format (Gemma 2 and 3, base and instruction-tuned)."""

    name: str = "gemma"
    stop: tuple[str, ...] = ("<end_of_turn>", "<start_of_turn>")

    def render(self, messages: Sequence[Message]) -> str:
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        parts: list[str] = []
        first_user = True
        for m in messages:
            if m.role == "system":
                continue
            content = m.content
            if m.role == "user" and first_user and system:
                content = f"{system}\n\n{content}"
            if m.role == "user":
                first_user = False
            role = "model" if m.role == "assistant" else "user"
            parts.append(f"<start_of_turn>{role}\n{content}<end_of_turn>\n")
        if first_user and system:  # only a system message: still give the model its text
            parts.append(f"<start_of_turn>user\n{system}<end_of_turn>\n")
        parts.append("<start_of_turn>model\n")
        return "".join(parts)


@dataclass(frozen=True)
class FewShotPrompt:
    """A prompt built from examples, and the stop sequences that end one answer."""

    prompt: str
    stop: tuple[str, ...]


def few_shot(
    examples: Sequence[tuple[str, str]],
    query: str,
    *,
    instruction: str = "",
    input_label: str = "Input",
    output_label: str = "Output",
) -> FewShotPrompt:
    """Build a few-shot prompt that a base model continues with one answer.

    Args:
        examples: ``(input, output)`` pairs showing the task.
        query: the input to answer.
        instruction: an optional first paragraph describing the task.
        input_label / output_label: the labels before inputs and outputs.

    Returns:
        The prompt, ending with ``"{output_label}:"``, and stop sequences that end the answer
        at the next example (a blank line, unless the examples' outputs contain blank lines,
        or the input label on a new line).

    Example:
        >>> p = few_shot([("cat", "chat")], "dog", input_label="English", output_label="French")
        >>> print(p.prompt)
        English: cat
        French: chat
        <BLANKLINE>
        English: dog
        French:
        >>> p.stop
        ('\\nEnglish:', '\\n\\n')
    """
    blocks = [instruction.strip()] if instruction.strip() else []
    for given, wanted in examples:
        blocks.append(f"{input_label}: {given.strip()}\n{output_label}: {wanted.strip()}")
    blocks.append(f"{input_label}: {query.strip()}\n{output_label}:")
    stop = [f"\n{input_label}:"]
    if not any("\n\n" in wanted.strip() for _, wanted in examples):
        stop.append("\n\n")
    return FewShotPrompt("\n\n".join(blocks), tuple(stop))


_PRIMER = (
    # No self-introduction here: a base model copies the primer, and "I'm Lorebook, an
    # assistant that runs on your computer" came back as the reply to most small talk.
    # Without a creative example, "write a poem about autumn" got "I am writing a poem about
    # autumn." (Gemma 3 270M base); with it, a few lines of verse. It comes first: placed last,
    # its line breaks leaked into plain answers ("They are made of water,\nand the sun's…").
    Message("user", "Write a short poem about the sea."),
    Message(
        "assistant",
        "The grey sea breathes against the shore,\nit takes the sand and asks for more;\n"
        "the gulls ride high on salted air,\nand evening finds the tide still there.",
    ),
    Message("user", "Hi!"),
    Message("assistant", "Hello! What can I do for you?"),
    Message("user", "What is the largest planet in the solar system?"),
    Message("assistant", "Jupiter is the largest planet in the solar system."),
)


@dataclass(frozen=True)
class TranscriptChatFormat:
    """A plain ``User:`` / ``Assistant:`` transcript, for base models without a chat template.

    A base model has never seen turn markers as a protocol, so it rarely ends its turn; it does
    continue a transcript faithfully. With ``primer`` on, two short example exchanges come first
    to set the pattern (measured on Gemma 3 270M base: "What is the capital of France?" gets
    "Paris is the capital of France." here, and an off-topic ramble in Gemma's turn format).
    """

    name: str = "transcript"
    stop: tuple[str, ...] = ("\nUser:", "\n\n\n")
    system: str = (
        "The following is a conversation between a user and Lorebook, a helpful, "
        "honest and concise assistant."
    )
    primer: bool = True

    def render(self, messages: Sequence[Message]) -> str:
        system = "\n\n".join(m.content for m in messages if m.role == "system") or self.system
        turns = [m for m in messages if m.role != "system"]
        if self.primer:
            turns = [*_PRIMER, *turns]
        lines = [system.strip(), ""]
        for m in turns:
            who = "User" if m.role == "user" else "Assistant"
            lines.append(f"{who}: {m.content.strip()}")
            if m.role == "assistant":
                lines.append("")
        lines.append("Assistant:")
        return "\n".join(lines)


@dataclass(frozen=True)
class ChatMLChatFormat:
    """ChatML's ``<|im_start|>role`` turns (Qwen2 and Qwen2.5, instruction-tuned).

    All system messages become one ``system`` turn at the start.

    Example:
        >>> chat = [Message("system", "Be brief."), Message("user", "Hi")]
        >>> print(ChatMLChatFormat().render(chat))
        <|im_start|>system
        Be brief.<|im_end|>
        <|im_start|>user
        Hi<|im_end|>
        <|im_start|>assistant
        <BLANKLINE>
    """

    name: str = "chatml"
    stop: tuple[str, ...] = ("<|im_end|>", "<|im_start|>")

    def render(self, messages: Sequence[Message]) -> str:
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        parts = [f"<|im_start|>system\n{system}<|im_end|>\n"] if system else []
        for m in messages:
            if m.role != "system":
                parts.append(f"<|im_start|>{m.role}\n{m.content}<|im_end|>\n")
        parts.append("<|im_start|>assistant\n")
        return "".join(parts)


CHAT_FORMATS: dict[str, Callable[[], ChatFormat]] = {
    "chatml": ChatMLChatFormat,
    "gemma": GemmaChatFormat,
    "transcript": TranscriptChatFormat,
}

#: What llama-server reports as ``chat_template`` for a model whose GGUF has none (llama.cpp's
#: ``CHATML_TEMPLATE_SRC`` in ``common/chat.cpp``, whose ``'\n'`` are real newlines, as here):
#: a ChatML template the model itself was never trained on.
LLAMA_CPP_FALLBACK_TEMPLATE = (
    "{%- for message in messages -%}\n"
    "  {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' -}}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "  {{- '<|im_start|>assistant\n' -}}\n"
    "{%- endif -%}"
)


def chat_format_for(name: str, *, architecture: str = "", template: str = "") -> ChatFormat:
    """The chat format called ``name``; ``auto`` picks from the model's chat template.

    Args:
        name: ``auto`` or a key of :data:`CHAT_FORMATS`.
        architecture: the GGUF's ``general.architecture`` (``gemma3``, ``qwen2``, ...).
        template: the model's chat template (the GGUF's ``tokenizer.chat_template``, or what
            llama-server reports); empty when it has none. llama.cpp's built-in fallback
            (:data:`LLAMA_CPP_FALLBACK_TEMPLATE`) counts as none.

    ``auto``: a template with ``<|im_start|>`` turns gets ChatML; Gemma models (or templates
    with ``<start_of_turn>``) with a template get Gemma's turn format; models without one (base
    models, like the default) get the transcript.

    Raises:
        ConfigError: an unknown name (the message lists the valid ones).

    Example:
        >>> chat_format_for("auto", architecture="qwen2", template="<|im_start|>...").name
        'chatml'
        >>> chat_format_for("auto", architecture="gemma3").name
        'transcript'
    """
    if name == "auto":
        name = _auto_format(architecture, template)
    if name not in CHAT_FORMATS:
        raise ConfigError(
            f"unknown chat format {name!r}; valid: auto, " + ", ".join(sorted(CHAT_FORMATS))
        )
    return CHAT_FORMATS[name]()


def _auto_format(architecture: str, template: str) -> str:
    if not template.strip() or template.strip() == LLAMA_CPP_FALLBACK_TEMPLATE:
        return "transcript"
    if "<|im_start|>" in template:
        return "chatml"
    if architecture.startswith("gemma") or "<start_of_turn>" in template:
        return "gemma"
    return "transcript"
