"""A model per capability: which model chat and each tool run on, loaded when first needed.

Settings ``chat_model``, ``code_model``, ``translate_model``, ``summarize_model`` and
``review_model`` each name a model (a registry name or a .gguf path); unset, a capability runs
on the main model (``model``). :class:`ModelPool` hands each capability its model:

- **Nothing set** (or every setting naming the main model): one model, the main one, handed out
  as it is — the agent loads it at open and every capability shares it, exactly as before
  these settings existed.
- **Otherwise**: each capability gets a :class:`PooledLLM`, a stand-in that loads its model on
  the first call that needs it (a tool that is never used never loads one) and delegates to it.
  At most ``max_loaded_models`` models stay loaded; loading one more unloads the least recently
  used first. A model in the middle of a generation is never unloaded: the pool then holds more
  than the cap until it finishes, and is trimmed back when it does.

Capabilities naming the same model share one loaded copy. Models are told apart by the setting's
text: ``code_model = "gemma3-270m"`` while the main model is the registry's current
``gemma3-270m`` loads it twice; name the main model with ``model`` too, or leave the capability
unset, to share it.

Deliberate shortcuts: every stand-in of one pool adds its usage to one :class:`UsageTotals`
(the agent's), because the agent runs one turn or tool at a time and per-task accounting (the
batch runner, :meth:`agent.toolbox.ToolBox.call`) wants the task's usage whichever model did the
work. A model that fails to load raises :class:`~agent.errors.ConfigError` naming the setting,
at the first use, and is tried again at the next.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from agent.errors import ConfigError, LorebookError
from agent.llm.base import LLM, CancelToken, GenerationSettings, Usage, UsageTotals

if TYPE_CHECKING:
    from agent.llm.prompts import ChatFormat
    from agent.settings import OverflowPolicy, Settings

__all__ = ["MODEL_SETTINGS", "ModelPool", "PooledLLM"]

MODEL_SETTINGS: dict[str, str] = {
    "chat": "chat_model",
    "code": "code_model",
    "translate": "translate_model",
    "summarize": "summarize_model",
    "review": "review_model",
}
"""Capability -> the setting naming its model."""

Opener = Callable[["Settings"], LLM]
"""Opens the model ``settings.model`` names (default :func:`agent.llm.open_llm`)."""

_MAIN = ""
"""The pool's key of the main model (``settings.model``, whatever it names)."""


class ModelPool:
    """The models of one agent, by capability.

    Args:
        settings: ``model``, the ``*_model`` settings and ``max_loaded_models``; every other
            setting (backend, threads, context...) applies to every model.
        main: the main model if it is already loaded (tests pass a ``FakeLLM``); else it loads
            when first needed.
        opener: how to load a model: called with ``settings`` whose ``model`` names it.

    Example:
        >>> from agent.llm.fake import FakeLLM
        >>> from agent.settings import load_settings
        >>> s = load_settings({"code_model": "coder"}, env={})
        >>> pool = ModelPool(s, opener=lambda s: FakeLLM(default="ok", model_name=s.model))
        >>> pool.loaded()
        []
        >>> pool.llm_for("code").complete("def f():").text, pool.loaded()
        ('ok', ['coder'])
    """

    def __init__(
        self, settings: Settings, *, main: LLM | None = None, opener: Opener | None = None
    ):
        self.settings = settings
        self.max_loaded = settings.max_loaded_models
        self._opener = opener
        self._lock = threading.RLock()
        self._loaded: OrderedDict[str, LLM] = OrderedDict()  # least recently used first
        self._busy: dict[str, int] = {}
        self._proxies: dict[str, PooledLLM] = {}
        self.totals = UsageTotals()
        """Usage of every model of this pool (multi-model mode; one model keeps its own)."""
        self.totals_lock = threading.Lock()
        if main is not None:
            self._loaded[_MAIN] = main

    # -- which model a capability runs on ---------------------------------------------------

    def key_for(self, capability: str) -> str:
        """The model ``capability`` runs on, as its setting names it ("" for the main model)."""
        setting = MODEL_SETTINGS.get(capability)
        value = getattr(self.settings, setting) if setting else None
        return _MAIN if value is None or value == self.settings.model else str(value)

    @property
    def single(self) -> bool:
        """True when every capability runs on the main model (no ``*_model`` setting applies)."""
        return all(self.key_for(cap) == _MAIN for cap in MODEL_SETTINGS)

    def llm_for(self, capability: str) -> LLM:
        """The model ``capability`` (chat, code, translate, summarize, review) runs on.

        With one model this is the main model itself, loaded now if it is not yet. Otherwise a
        :class:`PooledLLM` that loads its model on the first call that needs it.

        Raises:
            ConfigError: (one model only) the main model cannot be loaded; the message names
                the setting.
        """
        key = self.key_for(capability)
        if self.single:
            with self.using(_MAIN) as llm:
                return llm
        with self._lock:
            if key not in self._proxies:
                self._proxies[key] = PooledLLM(self, key)
            return self._proxies[key]

    def loaded(self) -> list[str]:
        """The models loaded now, least recently used first, as their settings name them
        (the main model as ``settings.model``, or "(main)" when that is unset)."""
        with self._lock:
            return [self.label(k) for k in self._loaded]

    def label(self, key: str) -> str:
        return key or self.settings.model or "(main)"

    def settings_naming(self, key: str) -> list[str]:
        """The settings that make a capability run on model ``key`` (``model`` for the main)."""
        names = [MODEL_SETTINGS[c] for c in MODEL_SETTINGS if self.key_for(c) == key]
        if key == _MAIN:
            return ["model"]
        return names

    # -- loading and unloading --------------------------------------------------------------

    @contextlib.contextmanager
    def using(self, key: str) -> Iterator[LLM]:
        """Model ``key``, loaded if need be and kept loaded while inside (it counts as busy)."""
        with self._lock:
            llm = self._acquire(key)
            self._busy[key] = self._busy.get(key, 0) + 1
        try:
            yield llm
        finally:
            with self._lock:
                self._busy[key] -= 1
                if not self._busy[key]:  # back to the cap if a busy model held it over
                    self._make_room(self.max_loaded, spare=key)

    def peek(self, key: str) -> LLM | None:
        """Model ``key`` if it is loaded now (nothing is loaded, nothing marked used)."""
        with self._lock:
            return self._loaded.get(key)

    def _acquire(self, key: str) -> LLM:
        llm = self._loaded.get(key)
        if llm is not None:
            self._loaded.move_to_end(key)
            return llm
        self._make_room(self.max_loaded - 1)
        llm = self._open(key)
        self._loaded[key] = llm
        return llm

    def _make_room(self, keep: int, spare: str | None = None) -> None:
        """Unload least recently used models until at most ``keep`` remain; busy ones and
        ``spare`` (the one just used) stay."""
        for key in list(self._loaded):
            if len(self._loaded) <= keep:
                return
            if self._busy.get(key, 0) == 0 and key != spare:
                self._loaded.pop(key).close()

    def _open(self, key: str) -> LLM:
        opener = self._opener
        if opener is None:
            from agent.llm import open_llm

            opener = open_llm
        settings = self.settings if key == _MAIN else self.settings.replace(model=key)
        if self.single:
            return opener(settings)  # one model: its errors as they always were
        try:
            return opener(settings)
        except LorebookError as exc:
            names = ", ".join(self.settings_naming(key))
            value = key or self.settings.model
            what = f"{names} = {value!r}" if value else f"{names} (the registry's current)"
            raise ConfigError(
                f"setting {what}: cannot load the model: {exc} (fix the setting, or leave it "
                "unset to use the main model)"
            ) from exc

    def close(self) -> None:
        """Unload every model."""
        with self._lock:
            while self._loaded:
                self._loaded.popitem(last=False)[1].close()


class PooledLLM(LLM):
    """A stand-in for one model of a :class:`ModelPool`: loads it on first use, delegates to it.

    ``model_name`` never loads the model (before loading it is the setting's text); ``n_ctx``,
    ``chat_format``, ``defaults`` and every generation do. ``close`` leaves the model to the
    pool (:meth:`ModelPool.close`).
    """

    backend_name = "pooled"

    def __init__(self, pool: ModelPool, key: str):  # no super().__init__: the model holds it
        self.pool = pool
        self.key = key
        self.totals = pool.totals
        self._totals_lock = pool.totals_lock
        self._scope = threading.local()

    def _model(self) -> LLM:
        with self.pool.using(self.key) as llm:
            return llm

    @property
    def n_ctx(self) -> int:  # type: ignore[override]
        return self._model().n_ctx

    @property
    def model_name(self) -> str:  # type: ignore[override]
        llm = self.pool.peek(self.key)
        return llm.model_name if llm is not None else self.pool.label(self.key)

    @property
    def chat_format(self) -> ChatFormat:  # type: ignore[override]
        return self._model().chat_format

    @property
    def defaults(self) -> GenerationSettings:  # type: ignore[override]
        return self._model().defaults

    @property
    def overflow(self) -> OverflowPolicy:  # type: ignore[override]
        return self._model().overflow

    @property
    def loaded(self) -> bool:
        """Whether the model is loaded now."""
        return self.pool.peek(self.key) is not None

    def tokenize(self, text: str) -> list[int]:
        with self.pool.using(self.key) as llm:
            return llm.tokenize(text)

    def detokenize(self, tokens: Sequence[int]) -> str:
        with self.pool.using(self.key) as llm:
            return llm.detokenize(tokens)

    def _generate(
        self, tokens: list[int], settings: GenerationSettings, cancel: CancelToken
    ) -> Generator[str, None, Usage]:
        with self.pool.using(self.key) as llm:  # busy until the generation ends or is closed
            return (yield from llm._generate(tokens, settings, cancel))

    def info(self) -> dict[str, Any]:
        return self._model().info()

    def close(self) -> None:
        """Nothing: the pool owns the model."""
