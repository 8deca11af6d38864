"""lorebook's agent package: the Agent API, the turn pipeline, the LLM runtime, registry, CLI.

Heavy modules (llama.cpp) load only when a backend is opened, and the Agent API (LangGraph,
the memory store) only when one of its names is first used, so ``import agent`` is cheap and
``agent.llm`` works on a machine with llama.cpp alone (the GPU check's bare machine).

Example:
    >>> from agent import load_settings, open_llm
    >>> llm = open_llm(load_settings({"backend": "fake"}, env={}))
    >>> llm.complete("hello").text
    '(fake model) you said: hello'
"""

import importlib as _importlib
import typing as _typing

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

if _typing.TYPE_CHECKING:
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
    from agent.turnlog import ThreadInfo, TurnRecord

_LAZY = {
    **dict.fromkeys(
        ["Agent", "CitationEvent", "CitationRef", "DoneEvent", "MemoryUsed", "NodeEnd"]
        + ["NodeStart", "TokenEvent", "Turn"],
        "agent.api",
    ),
    "ThreadInfo": "agent.turnlog",
    "TurnRecord": "agent.turnlog",
}


def __getattr__(name: str) -> _typing.Any:
    if name in _LAZY:
        value = getattr(_importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'agent' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


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
