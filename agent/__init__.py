"""lorebook's agent package: the LLM runtime, model registry, settings, CLI.

Heavy modules (llama.cpp) load only when a backend is opened, so ``import agent`` is cheap.

Example:
    >>> from agent import load_settings, open_llm
    >>> llm = open_llm(load_settings({"backend": "fake"}, env={}))
    >>> llm.complete("hello").text
    '(fake model) you said: hello'
"""

from agent.errors import (
    ConfigError,
    ContextOverflowError,
    GenerationError,
    GrammarError,
    LorebookError,
    ModelError,
    ModelFileError,
    ModelLoadError,
    RegistryError,
    UnknownBackendError,
)
from agent.llm import (
    LLM,
    CancelToken,
    Completion,
    GenerationSettings,
    Message,
    Stream,
    backend_names,
    few_shot,
    open_llm,
)
from agent.registry import ModelEntry, ModelRegistry
from agent.settings import Settings, load_settings

__all__ = [
    "CancelToken",
    "Completion",
    "ConfigError",
    "ContextOverflowError",
    "GenerationError",
    "GenerationSettings",
    "GrammarError",
    "LLM",
    "LorebookError",
    "Message",
    "ModelEntry",
    "ModelError",
    "ModelFileError",
    "ModelLoadError",
    "ModelRegistry",
    "RegistryError",
    "Settings",
    "Stream",
    "UnknownBackendError",
    "backend_names",
    "few_shot",
    "load_settings",
    "open_llm",
]
