"""A scripted fake LLM for tests: replies from a list, records every call.

Tokens are whitespace-delimited words (with their leading spaces), so token counts are
predictable in tests. It honours ``max_tokens``, stop sequences and cancellation like the real
backend, and can wait ``delay`` seconds per token to make streaming and cancellation testable.
A script entry may be a string, a callable ``(prompt, settings) -> str``, or an exception
instance to raise.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from agent.errors import GenerationError
from agent.llm.base import LLM, CancelToken, GenerationSettings, Usage, timed_ms

Script = str | Callable[[str, GenerationSettings], str] | BaseException
_PIECE = re.compile(r"\s*\S+|\s+")


@dataclass(frozen=True)
class FakeCall:
    """One recorded call: the prompt text as the model saw it, and the settings."""

    prompt: str
    settings: GenerationSettings


class FakeLLM(LLM):
    """Replies with the scripted texts in order; ``default`` once they run out.

    Example:
        >>> llm = FakeLLM(["Hi there!"])
        >>> llm.chat([{"role": "user", "content": "hello"}]).text
        'Hi there!'
        >>> llm.calls[0].prompt.endswith("<start_of_turn>model\\n")
        True
    """

    backend_name = "fake"

    def __init__(
        self,
        script: Iterable[Script] = (),
        *,
        default: str | None = None,
        delay: float = 0.0,
        n_ctx: int = 4096,
        **kwargs: Any,
    ):
        super().__init__(n_ctx=n_ctx, model_name=kwargs.pop("model_name", "fake"), **kwargs)
        self.script: list[Script] = list(script)
        self.default = default
        self.delay = delay
        self.calls: list[FakeCall] = []
        self._vocab: dict[str, int] = {}
        self._pieces: list[str] = []

    def tokenize(self, text: str) -> list[int]:
        ids = []
        for piece in _PIECE.findall(text):
            if piece not in self._vocab:
                self._vocab[piece] = len(self._pieces)
                self._pieces.append(piece)
            ids.append(self._vocab[piece])
        return ids

    def detokenize(self, tokens: Sequence[int]) -> str:
        return "".join(self._pieces[t] for t in tokens)

    def _next_reply(self, prompt: str, settings: GenerationSettings) -> str:
        if self.script:
            entry = self.script.pop(0)
        elif self.default is not None:
            entry = self.default
        else:
            raise GenerationError("FakeLLM: no scripted reply left (pass more, or default=...)")
        if isinstance(entry, BaseException):
            raise entry
        return entry(prompt, settings) if callable(entry) else entry

    def _generate(
        self, tokens: list[int], settings: GenerationSettings, cancel: CancelToken
    ) -> Generator[str, None, Usage]:
        prompt = self.detokenize(tokens)
        self.calls.append(FakeCall(prompt, settings))
        reply = self._next_reply(prompt, settings)
        start = time.perf_counter()
        for stop in settings.stop:
            if stop and stop in reply:
                reply = reply[: reply.index(stop)]
        pieces = _PIECE.findall(reply)
        emitted = 0
        finish: str = "stop"
        for piece in pieces:
            if cancel.cancelled:
                finish = "cancelled"
                break
            if emitted >= settings.max_tokens:
                finish = "length"
                break
            if self.delay:
                time.sleep(self.delay)
            emitted += 1
            yield piece
        if cancel.cancelled:
            finish = "cancelled"
        return Usage(finish, len(tokens), emitted, 0.0, timed_ms(start))  # type: ignore[arg-type]
