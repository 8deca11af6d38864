"""LLM runtimes behind one small protocol, picked by name.

``open_llm(settings)`` resolves the model through the registry (assembling the packaged default
on first use), checks the file, and loads the backend named by ``settings.backend``. Backends
are imported lazily, so importing this package does not load llama.cpp.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.errors import UnknownBackendError
from agent.llm.base import (
    LLM,
    Budget,
    CancelToken,
    Completion,
    GenerationSettings,
    Stream,
    Usage,
    UsageTotals,
)
from agent.llm.prompts import FewShotPrompt, Message, chat_format_for, few_shot

if TYPE_CHECKING:
    from agent.registry import ModelEntry
    from agent.settings import Settings

__all__ = [
    "Budget",
    "CancelToken",
    "Completion",
    "FewShotPrompt",
    "GenerationSettings",
    "LLM",
    "Message",
    "Stream",
    "Usage",
    "UsageTotals",
    "backend_names",
    "few_shot",
    "open_llm",
]

_BACKENDS: dict[str, str] = {
    "fake": "agent.llm.fake:FakeLLM",
    "llama_cpp": "agent.llm.llama_cpp:LlamaCppLLM",
    "llama_server": "agent.llm.server:ServerLLM",
}


def backend_names() -> list[str]:
    """Names ``settings.backend`` may take."""
    return sorted(_BACKENDS)


def _backend_class(name: str) -> Any:
    if name not in _BACKENDS:
        raise UnknownBackendError(name, list(_BACKENDS))
    module, _, attr = _BACKENDS[name].partition(":")
    return getattr(importlib.import_module(module), attr)


def _echo(prompt: str, settings: GenerationSettings) -> str:
    last = prompt.rstrip().rsplit("User:", 1)[-1].split("\n", 1)[0].strip()
    return f"(fake model) you said: {last}"


def model_for(settings: Settings) -> tuple[ModelEntry, int]:
    """The registry entry ``settings.model`` names (checked), and the context to run it with:
    ``settings.n_ctx`` capped at the model's own. Used by :func:`open_llm` and ``serve-model``.

    Raises:
        RegistryError, ModelFileError: see :meth:`~agent.registry.ModelRegistry.resolve`.
    """
    from agent.registry import ModelRegistry

    registry = ModelRegistry(settings.home)
    entry = registry.verify(registry.resolve(settings.model))
    return entry, min(settings.n_ctx, entry.context_length or settings.n_ctx)


def open_llm(settings: Settings, **kwargs: Any) -> LLM:
    """Load the model ``settings`` name with the backend it names.

    The ``fake`` backend echoes the last user line (for tests and demos without a model);
    ``llama_server`` talks to the llama-server replicas in ``settings.server_urls``.

    Raises:
        UnknownBackendError: ``settings.backend`` is not registered.
        ServerUnavailableError: backend ``llama_server`` and no replica answered.
        ModelFileError: the model file is missing, damaged, or fails its checksum.
        ModelLoadError: llama.cpp could not load it.

    Example:
        >>> from agent.settings import load_settings
        >>> llm = open_llm(load_settings({"backend": "fake"}, env={}))
        >>> llm.chat([{"role": "user", "content": "hi"}]).text
        '(fake model) you said: hi'
    """
    if settings.backend not in _BACKENDS:
        raise UnknownBackendError(settings.backend, list(_BACKENDS))
    defaults = GenerationSettings.from_settings(settings)
    common: dict[str, Any] = {"defaults": defaults, "overflow": settings.overflow}
    if settings.backend == "fake":
        fmt = chat_format_for(settings.chat_format)
        return _backend_class("fake")(
            default=kwargs.pop("default", None) or _echo,
            n_ctx=settings.n_ctx,
            chat_format=fmt,
            **common,
            **kwargs,
        )
    if settings.backend == "llama_server":
        # The servers hold the model; nothing is loaded or checked here.
        return _backend_class("llama_server")(
            settings.server_urls,
            n_ctx=settings.n_ctx,
            chat_format=settings.chat_format,
            deterministic=settings.server_deterministic,
            **common,
            **kwargs,
        )
    from agent.modelfile import read_gguf_header

    entry, n_ctx = model_for(settings)
    header = read_gguf_header(Path(entry.path))
    fmt = chat_format_for(
        settings.chat_format if settings.chat_format != "auto" else entry.chat_format,
        architecture=header.architecture,
        template=str(header.metadata.get("tokenizer.chat_template") or ""),
    )
    # Imported only now: a bad model file is reported without loading llama.cpp at all.
    return _backend_class(settings.backend)(
        entry.path,
        n_ctx=n_ctx,
        n_batch=settings.n_batch,
        n_threads=settings.n_threads,
        gpu_layers=settings.gpu_layers,
        verbose=settings.verbose,
        model_name=entry.name,
        chat_format=fmt,
        **common,
        **kwargs,
    )
