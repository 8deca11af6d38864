"""lorebook's agent package: the Agent API, the turn pipeline, the LLM runtime, registry, CLI.

Heavy modules (llama.cpp) load only when a backend is opened, so ``import agent`` is cheap.

Example:
    >>> from agent import load_settings, open_llm
    >>> llm = open_llm(load_settings({"backend": "fake"}, env={}))
    >>> llm.complete("hello").text
    '(fake model) you said: hello'
"""

from agent.api import (
    Agent,
    CitationEvent,
    CitationRef,
    DoneEvent,
    MemoryUsed,
    NodeEnd,
    NodeStart,
    TokenEvent,
    Turn,
)
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
from agent.turnlog import ThreadInfo, TurnRecord

__all__ = [
    "Agent",
    "CancelToken",
    "CitationEvent",
    "CitationRef",
    "Completion",
    "ConfigError",
    "ContextOverflowError",
    "DoneEvent",
    "GenerationError",
    "GenerationSettings",
    "GrammarError",
    "LLM",
    "LorebookError",
    "MemoryUsed",
    "Message",
    "ModelEntry",
    "ModelError",
    "ModelFileError",
    "ModelLoadError",
    "ModelRegistry",
    "NodeEnd",
    "NodeStart",
    "RegistryError",
    "Settings",
    "Stream",
    "ThreadInfo",
    "TokenEvent",
    "Turn",
    "TurnRecord",
    "UnknownBackendError",
    "backend_names",
    "few_shot",
    "load_settings",
    "open_llm",
]
