"""The LLM protocol: a few primitives per backend, every convenience built on them once.

A backend subclasses :class:`LLM` and implements three methods:

- ``tokenize(text) -> list[int]`` and ``detokenize(tokens) -> str``;
- ``_generate(tokens, settings, cancel)``: a generator yielding text pieces and *returning*
  :class:`Usage` (finish reason, token counts, timings).

Everything callers use — :meth:`LLM.complete`, :meth:`LLM.stream`, :meth:`LLM.chat`,
:meth:`LLM.stream_chat`, :meth:`LLM.count_tokens`, :meth:`LLM.budget` and the overflow policy —
lives here, so an HTTP backend (llama.cpp's ``llama-server``) only has to supply those three.

Deliberate shortcuts: stop sequences are matched by the backend on decoded text (so they may
span tokens); beam search is not offered (greedy, top-k, top-p, min-p and temperature are).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from agent.errors import ConfigError, ContextOverflowError, GenerationError
from agent.llm.prompts import ChatFormat, GemmaChatFormat, Message, as_messages

if TYPE_CHECKING:
    from agent.settings import OverflowPolicy, Settings

FinishReason = Literal["stop", "length", "cancelled"]


@dataclass(frozen=True)
class GenerationSettings:
    """How to decode. ``temperature=0`` is greedy; other samplers apply only when sampling.

    Example:
        >>> GenerationSettings(temperature=0, max_tokens=8).greedy
        True
    """

    max_tokens: int = 512
    temperature: float = 0.7
    top_k: int = 40
    top_p: float = 0.95
    min_p: float = 0.05
    repeat_penalty: float = 1.1
    repeat_last_n: int = 64
    seed: int = -1
    stop: tuple[str, ...] = ()
    grammar: str | None = None
    """A GBNF grammar the output must match (llama.cpp grammar syntax, root rule ``root``)."""
    json_schema: Mapping[str, Any] | None = None
    """A JSON schema the output must match (converted to GBNF)."""
    ignore_eos: bool = False
    """Keep generating past end-of-generation tokens (benchmarks only)."""

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> GenerationSettings:
        """Defaults taken from the user's :class:`~agent.settings.Settings`."""
        base = cls(
            max_tokens=settings.max_tokens,
            temperature=settings.temperature,
            top_k=settings.top_k,
            top_p=settings.top_p,
            min_p=settings.min_p,
            repeat_penalty=settings.repeat_penalty,
            seed=settings.seed,
        )
        return base.merged(overrides)

    def merged(self, overrides: Mapping[str, Any]) -> GenerationSettings:
        """A copy with the non-None ``overrides`` applied (``stop`` may be any sequence)."""
        changes = {k: v for k, v in overrides.items() if v is not None}
        if "stop" in changes:
            stop = changes["stop"]
            changes["stop"] = (stop,) if isinstance(stop, str) else tuple(stop)
        try:
            return replace(self, **changes)
        except TypeError as exc:
            raise ConfigError(f"unknown generation setting: {exc}") from exc


@dataclass(frozen=True)
class Usage:
    """What a backend reports at the end of one generation."""

    finish_reason: FinishReason
    prompt_tokens: int
    completion_tokens: int
    prompt_ms: float = 0.0
    decode_ms: float = 0.0
    cached_tokens: int = 0
    """Prompt tokens reused from the previous call's KV cache (not evaluated again)."""


@dataclass(frozen=True)
class Completion:
    """The result of one generation."""

    text: str
    finish_reason: FinishReason
    prompt_tokens: int
    completion_tokens: int
    prompt_ms: float = 0.0
    decode_ms: float = 0.0
    truncated: bool = False
    """True when the prompt was shortened by the ``truncate`` overflow policy."""
    cached_tokens: int = 0
    """Prompt tokens reused from the KV cache of the previous call."""

    @property
    def tokens_per_second(self) -> float:
        """Decode speed of this reply (0 when nothing was decoded)."""
        if self.completion_tokens <= 1 or self.decode_ms <= 0:
            return 0.0
        # The first token comes from the prompt pass; decode time covers the rest.
        return (self.completion_tokens - 1) / (self.decode_ms / 1000)


@dataclass
class UsageTotals:
    """Token and time totals over every generation of one model (see :attr:`LLM.totals`).

    Callers that make several calls for one task (a tool, a batch task) take the difference
    of two snapshots: ``after.since(before)``.
    """

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    prompt_ms: float = 0.0
    decode_ms: float = 0.0

    def add(self, done: Completion) -> None:
        self.calls += 1
        self.prompt_tokens += done.prompt_tokens
        self.completion_tokens += done.completion_tokens
        self.prompt_ms += done.prompt_ms
        self.decode_ms += done.decode_ms

    def snapshot(self) -> UsageTotals:
        return replace(self)

    def since(self, earlier: UsageTotals) -> UsageTotals:
        """What was used between ``earlier`` (a snapshot) and this one."""
        return UsageTotals(
            self.calls - earlier.calls,
            self.prompt_tokens - earlier.prompt_tokens,
            self.completion_tokens - earlier.completion_tokens,
            self.prompt_ms - earlier.prompt_ms,
            self.decode_ms - earlier.decode_ms,
        )


@dataclass(frozen=True)
class Budget:
    """How a prompt fits the context window."""

    n_ctx: int
    prompt_tokens: int
    max_tokens: int

    @property
    def fits(self) -> bool:
        return self.prompt_tokens + self.max_tokens <= self.n_ctx

    @property
    def prompt_room(self) -> int:
        """Tokens the prompt may use while leaving ``max_tokens`` for the reply."""
        return self.n_ctx - self.max_tokens


class CancelToken:
    """Set it (from any thread) to stop a running generation within one decode step.

    Example:
        >>> token = CancelToken(); token.cancel(); token.cancelled
        True
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []

    def cancel(self) -> None:
        with self._lock:
            self._event.set()
            callbacks, self._callbacks = self._callbacks, []
        for fn in callbacks:
            with contextlib.suppress(Exception):
                fn()

    def on_cancel(self, fn: Callable[[], None]) -> Callable[[], None]:
        """Call ``fn`` once when the token is cancelled (at once if it already is).

        Returns a function that unregisters ``fn``. A backend that blocks outside Python (an
        HTTP read waiting for a server) uses this to break the wait.
        """
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(fn)
                return lambda: self._discard(fn)
        fn()
        return lambda: None

    def _discard(self, fn: Callable[[], None]) -> None:
        with self._lock, contextlib.suppress(ValueError):
            self._callbacks.remove(fn)

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


@dataclass
class Stream:
    """Text pieces of a generation as they arrive; :attr:`completion` once it is finished.

    Iterate it once. ``cancel()`` stops the generation from another thread (or from inside
    the loop); leaving a ``with`` block closes the generation and frees the model for the
    next caller.

    Example:
        >>> from agent.llm.fake import FakeLLM
        >>> with FakeLLM(["hello world"]).stream("hi") as s:
        ...     "".join(s), s.completion.finish_reason
        ('hello world', 'stop')
    """

    _pieces: Generator[str, None, Usage]
    cancel_token: CancelToken
    truncated: bool = False
    strip: bool = False
    """Drop whitespace at the start and end of the reply (chat replies)."""
    completion: Completion | None = None
    on_done: Any = None
    """Called with the :class:`Completion` when the generation ends (usage accounting)."""
    _text: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[str]:
        usage = yield from self._collect()
        self.completion = Completion(
            text="".join(self._text),
            finish_reason=usage.finish_reason,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            prompt_ms=usage.prompt_ms,
            decode_ms=usage.decode_ms,
            truncated=self.truncated,
            cached_tokens=usage.cached_tokens,
        )
        if self.on_done is not None:
            self.on_done(self.completion)

    def _collect(self) -> Generator[str, None, Usage]:
        gen = self._pieces
        held = ""  # trailing whitespace, emitted only if more text follows
        while True:
            try:
                piece = next(gen)
            except StopIteration as stop:
                usage: Usage = stop.value
                return usage
            if self.strip:
                piece = held + (piece if self._text else piece.lstrip())
                body = piece.rstrip()
                held = piece[len(body) :]
                piece = body
            if piece:
                self._text.append(piece)
                yield piece

    def cancel(self) -> None:
        self.cancel_token.cancel()

    def result(self) -> Completion:
        """Consume what is left and return the :class:`Completion`."""
        for _ in self:
            pass
        assert self.completion is not None
        return self.completion

    def close(self) -> None:
        self._pieces.close()

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LLM(ABC):
    """A loaded language model. Subclasses supply tokenization and ``_generate``."""

    #: Registry name of the backend (``llama_cpp``, ``fake``...).
    backend_name: str = "abstract"

    def __init__(
        self,
        *,
        n_ctx: int,
        model_name: str = "model",
        chat_format: ChatFormat | None = None,
        defaults: GenerationSettings | None = None,
        overflow: OverflowPolicy = "truncate",
    ):
        self.n_ctx = n_ctx
        self.model_name = model_name
        self.chat_format = chat_format or GemmaChatFormat()
        self.defaults = defaults or GenerationSettings()
        self.overflow: OverflowPolicy = overflow
        self.totals = UsageTotals()
        """Tokens and time over every generation so far (for per-task accounting)."""
        self._totals_lock = threading.Lock()
        self._scope = threading.local()

    # -- the primitives a backend implements ------------------------------------------------

    @abstractmethod
    def tokenize(self, text: str) -> list[int]:
        """Token ids of ``text`` as the model sees it at the start of a prompt."""

    @abstractmethod
    def detokenize(self, tokens: Sequence[int]) -> str:
        """Text of ``tokens``."""

    @abstractmethod
    def _generate(
        self, tokens: list[int], settings: GenerationSettings, cancel: CancelToken
    ) -> Generator[str, None, Usage]:
        """Yield the reply's text pieces for prompt ``tokens``; return its :class:`Usage`."""

    def info(self) -> dict[str, Any]:
        """What the backend runs on (device, offloaded layers, build flags...)."""
        return {"backend": self.backend_name, "model": self.model_name, "n_ctx": self.n_ctx}

    def close(self) -> None:  # noqa: B027 - optional hook, most backends have nothing to free
        """Free the model. The default has nothing to free."""

    def __enter__(self) -> LLM:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- conveniences ------------------------------------------------------------------------

    def count_tokens(self, text: str) -> int:
        """Number of tokens ``text`` takes as a prompt (BOS included where the model adds one)."""
        return len(self.tokenize(text))

    def budget(self, prompt: str, max_tokens: int | None = None) -> Budget:
        """How ``prompt`` plus a reply of ``max_tokens`` fits the context window."""
        return Budget(self.n_ctx, self.count_tokens(prompt), max_tokens or self.defaults.max_tokens)

    def settings_for(
        self, settings: GenerationSettings | None, **overrides: Any
    ) -> GenerationSettings:
        return (settings or self.defaults).merged(overrides)

    def stream(
        self,
        prompt: str,
        settings: GenerationSettings | None = None,
        *,
        cancel: CancelToken | None = None,
        **overrides: Any,
    ) -> Stream:
        """Stream a raw completion of ``prompt``.

        Over-long prompts follow the overflow policy: ``error`` raises
        :class:`~agent.errors.ContextOverflowError`; ``truncate`` keeps the first quarter and
        the last three quarters of the room and drops the middle.
        """
        gen = self.settings_for(settings, **overrides)
        self._check_max_tokens(gen)
        tokens = self.tokenize(prompt)
        truncated = False
        room = self.n_ctx - gen.max_tokens
        if len(tokens) > room:
            if self.overflow == "error":
                raise ContextOverflowError(len(tokens), gen.max_tokens, self.n_ctx)
            head = room // 4
            tokens = tokens[:head] + tokens[len(tokens) - (room - head) :]
            truncated = True
        token = cancel or getattr(self._scope, "cancel", None) or CancelToken()
        stream = Stream(self._generate(tokens, gen, token), token, truncated)
        stream.on_done = self._account
        return stream

    @contextlib.contextmanager
    def cancel_scope(self, token: CancelToken) -> Iterator[CancelToken]:
        """Inside, this thread's generations that were given no token use ``token``.

        Code that makes many calls without passing a token (a tool translating sentence by
        sentence) becomes cancellable from outside: once ``token`` is set, the running call
        stops within one decode step and later calls return at once.

        Example:
            >>> from agent.llm.fake import FakeLLM
            >>> llm, stop = FakeLLM(default="a b c"), CancelToken()
            >>> with llm.cancel_scope(stop):
            ...     stop.cancel()
            ...     llm.complete("hi").finish_reason
            'cancelled'
        """
        previous = getattr(self._scope, "cancel", None)
        self._scope.cancel = token
        try:
            yield token
        finally:
            self._scope.cancel = previous

    def _account(self, done: Completion) -> None:
        with self._totals_lock:
            self.totals.add(done)

    def complete(
        self,
        prompt: str,
        settings: GenerationSettings | None = None,
        *,
        cancel: CancelToken | None = None,
        **overrides: Any,
    ) -> Completion:
        """Complete ``prompt`` and return the whole :class:`Completion`.

        Example:
            >>> from agent.llm.fake import FakeLLM
            >>> FakeLLM(["Paris"]).complete("The capital of France is").text
            'Paris'
        """
        with self.stream(prompt, settings, cancel=cancel, **overrides) as stream:
            return stream.result()

    def complete_json(self, prompt: str, schema: Mapping[str, Any], *, max_tokens: int = 64) -> Any:
        """A structured answer: greedy, no repeat penalty, output forced to match ``schema``.

        Raises:
            GenerationError: the model failed, or its reply did not parse as JSON (a reply cut
                off by ``max_tokens`` can be incomplete).

        Example:
            >>> from agent.llm.fake import FakeLLM
            >>> FakeLLM(['{"ok": true}']).complete_json("Is it?", {"type": "object"})
            {'ok': True}
        """
        done = self.complete(
            prompt, temperature=0, repeat_penalty=1.0, max_tokens=max_tokens, json_schema=schema
        )
        try:
            return json.loads(done.text)
        except ValueError as exc:
            raise GenerationError(f"the model's reply is not valid JSON: {done.text!r}") from exc

    def stream_chat(
        self,
        messages: Sequence[Message | Mapping[str, str]],
        settings: GenerationSettings | None = None,
        *,
        cancel: CancelToken | None = None,
        **overrides: Any,
    ) -> Stream:
        """Stream the assistant's next turn after ``messages`` (rendered by the chat format).

        Over-long conversations follow the overflow policy: ``truncate`` drops the oldest turns
        (never the system message nor the last user turn), then falls back to cutting the middle.
        """
        msgs = as_messages(messages)
        gen = self.settings_for(settings, **overrides)
        gen = gen.merged({"stop": tuple(gen.stop) + self.chat_format.stop})
        self._check_max_tokens(gen)
        prompt = self.chat_format.render(msgs)
        truncated = False
        while (
            self.count_tokens(prompt) > self.n_ctx - gen.max_tokens and self.overflow == "truncate"
        ):
            droppable = [i for i, m in enumerate(msgs[:-1]) if m.role != "system"]
            if not droppable:
                break
            del msgs[droppable[0]]
            prompt = self.chat_format.render(msgs)
            truncated = True
        stream = self.stream(prompt, gen, cancel=cancel)
        stream.truncated = stream.truncated or truncated
        stream.strip = True
        return stream

    def chat(
        self,
        messages: Sequence[Message | Mapping[str, str]],
        settings: GenerationSettings | None = None,
        *,
        cancel: CancelToken | None = None,
        **overrides: Any,
    ) -> Completion:
        """The assistant's next turn as a whole :class:`Completion`."""
        with self.stream_chat(messages, settings, cancel=cancel, **overrides) as stream:
            return stream.result()

    def _check_max_tokens(self, gen: GenerationSettings) -> None:
        if gen.max_tokens < 1 or gen.max_tokens >= self.n_ctx:
            raise ConfigError(
                f"max_tokens={gen.max_tokens} must be between 1 and the context size {self.n_ctx} "
                f"minus the prompt; lower max_tokens or raise n_ctx."
            )


def timed_ms(start: float) -> float:
    """Milliseconds since ``start`` (a ``time.perf_counter()`` reading)."""
    return (time.perf_counter() - start) * 1000
