"""One frozen settings object, built at the entry points and passed down explicitly.

Precedence, lowest to highest: built-in defaults < ``config.toml`` < ``LOREBOOK_*`` environment
variables < explicit overrides (command-line flags, ``load_settings(**overrides)``).

The config file is ``$LOREBOOK_CONFIG`` if set, else ``$LOREBOOK_HOME/config.toml`` if
``LOREBOOK_HOME`` is set, else ``$XDG_CONFIG_HOME/lorebook/config.toml``
(``~/.config/lorebook/config.toml``). Nothing here runs at import time: there is no global
settings instance, so tests build their own.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_type_hints

from agent.errors import ConfigError

OverflowPolicy = Literal["error", "truncate"]
EmbedderBackend = Literal["numpy", "torch"]


def _doc(text: str) -> dict[str, str]:
    return {"doc": text}


def default_home(env: Mapping[str, str] | None = None) -> Path:
    """The data directory: ``$LOREBOOK_HOME``, else ``$XDG_DATA_HOME/lorebook``."""
    env = os.environ if env is None else env
    if env.get("LOREBOOK_HOME"):
        return Path(env["LOREBOOK_HOME"]).expanduser()
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser() / "lorebook"


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """Where the config file is looked for (it need not exist)."""
    env = os.environ if env is None else env
    if env.get("LOREBOOK_CONFIG"):
        return Path(env["LOREBOOK_CONFIG"]).expanduser()
    if env.get("LOREBOOK_HOME"):
        return Path(env["LOREBOOK_HOME"]).expanduser() / "config.toml"
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser() / "lorebook" / "config.toml"


@dataclass(frozen=True)
class Settings:
    """Everything configurable in lorebook. Build it with :func:`load_settings`."""

    home: Path = field(
        default_factory=default_home,
        metadata=_doc(
            "Data directory: model registry, assembled models, databases. Env: LOREBOOK_HOME."
        ),
    )
    model: str | None = field(
        default=None,
        metadata=_doc(
            "Model to use: a registry name or a path to a .gguf file. None: the registry's current."
        ),
    )
    chat_model: str | None = field(
        default=None,
        metadata=_doc(
            "Model for chat turns (routing, answers): a registry name or a .gguf path. None: "
            "the main model."
        ),
    )
    code_model: str | None = field(
        default=None,
        metadata=_doc(
            "Model for the code tool (e.g. qwen2.5-coder-0.5b-instruct), loaded on its first "
            "use. None: the main model."
        ),
    )
    translate_model: str | None = field(
        default=None,
        metadata=_doc(
            "Model for the translate tool, loaded on its first use. None: the main model."
        ),
    )
    summarize_model: str | None = field(
        default=None,
        metadata=_doc(
            "Model for the summarize tool, loaded on its first use. None: the main model."
        ),
    )
    review_model: str | None = field(
        default=None,
        metadata=_doc("Model for the review tool, loaded on its first use. None: the main model."),
    )
    max_loaded_models: int = field(
        default=2,
        metadata=_doc(
            "Most models kept loaded at once when capabilities use different models; the least "
            "recently used is unloaded to make room (one busy generating never is)."
        ),
    )
    backend: str = field(
        default="llama_cpp",
        metadata=_doc(
            "LLM backend by name: 'llama_cpp' (in process), 'llama_server' (llama.cpp's HTTP "
            "server at server_urls) or 'fake' (scripted, for tests)."
        ),
    )
    server_urls: str = field(
        default="",
        metadata=_doc(
            "backend llama_server: comma-separated base URLs of llama-server replicas "
            "(http://host:8080,...); requests are spread over them, a dead one is skipped."
        ),
    )
    server_deterministic: bool = field(
        default=False,
        metadata=_doc(
            "backend llama_server: no prompt-cache reuse and one reply at a time per replica, so "
            "greedy replies repeat exactly on a GPU server (slower; CPU servers repeat anyway)."
        ),
    )
    database_url: str | None = field(
        default=None,
        metadata=_doc(
            "Where memory lives: None keeps SQLite in the data directory; a "
            "postgresql://user@host/db URL shares one PostgreSQL store between processes and "
            "hosts (FAISS indexes stay per process, in the data directory)."
        ),
    )
    chat_format: str = field(
        default="auto",
        metadata=_doc(
            "How chat turns become a prompt: 'gemma' (Gemma's turn format), 'transcript' (a "
            "User:/Assistant: transcript for base models), or 'auto' (from the model file)."
        ),
    )
    n_ctx: int = field(default=8192, metadata=_doc("Context window in tokens (prompt plus reply)."))
    n_batch: int = field(default=512, metadata=_doc("Prompt tokens evaluated per llama.cpp batch."))
    n_threads: int = field(
        default=0,
        metadata=_doc(
            "CPU threads for llama.cpp; 0 picks the cores not kept busy by other processes "
            "(at load time)."
        ),
    )
    gpu_layers: int = field(
        default=-1,
        metadata=_doc(
            "Layers to offload to the GPU when llama.cpp was built with CUDA: -1 all, 0 none. "
            "If the GPU context fails, fewer layers and then the CPU are tried."
        ),
    )
    max_tokens: int = field(default=512, metadata=_doc("Default reply length limit in tokens."))
    temperature: float = field(
        default=0.7, metadata=_doc("Sampling temperature; 0 means greedy decoding.")
    )
    top_k: int = field(default=40, metadata=_doc("Top-k sampling; 0 disables."))
    top_p: float = field(default=0.95, metadata=_doc("Nucleus (top-p) sampling; 1.0 disables."))
    min_p: float = field(default=0.05, metadata=_doc("Min-p sampling; 0 disables."))
    repeat_penalty: float = field(
        default=1.1, metadata=_doc("Penalty on recently generated tokens; 1.0 disables.")
    )
    seed: int = field(default=-1, metadata=_doc("Sampling seed; -1 picks a random one per call."))
    overflow: OverflowPolicy = field(
        default="truncate",
        metadata=_doc(
            "When a prompt does not fit the context: 'truncate' drops the oldest chat turns "
            "(or the middle of a single prompt); 'error' raises ContextOverflowError."
        ),
    )
    verbose: bool = field(default=False, metadata=_doc("Let llama.cpp print its own logs."))
    embedder: str = field(
        default="minilm",
        metadata=_doc(
            "Embedding model by name: 'minilm' (the packaged all-MiniLM-L6-v2, 384 dims) or 'hash' "
            "(deterministic word hashing, for tests)."
        ),
    )
    embedder_backend: EmbedderBackend = field(
        default="numpy",
        metadata=_doc(
            "What runs the minilm embedder: 'numpy' (no torch; loads in well under a second, "
            "CPU only) or 'torch' (sentence-transformers; ~8 s to import, can use a GPU). Both "
            "give the same vectors (to ~1e-6), so stored embeddings stay valid either way."
        ),
    )
    embedding_device: str = field(
        default="auto",
        metadata=_doc(
            "Where the torch embedder backend runs: 'auto' (the GPU when torch sees one, else the "
            "CPU), 'cpu', 'cuda'. The numpy backend always runs on the CPU."
        ),
    )
    recency_half_life_days: float = field(
        default=30.0,
        metadata=_doc("Memory search: a memory's recency bonus halves every this many days."),
    )
    recency_weight: float = field(
        default=0.1,
        metadata=_doc(
            "Memory search: score = (1 - w) * similarity + w * recency; 0 ranks by similarity only."
        ),
    )
    ann_threshold: int = field(
        default=50_000,
        metadata=_doc(
            "Vectors above which a FAISS index is rebuilt as approximate (IVF) instead of exact."
        ),
    )
    chunk_tokens: int = field(
        default=200,
        metadata=_doc(
            "Document chunks: at most this many tokens (word pieces, approximated) per chunk."
        ),
    )
    chunk_overlap: int = field(
        default=40,
        metadata=_doc(
            "Document chunks: tokens of the previous chunk repeated at the start of the next."
        ),
    )
    max_document_bytes: int = field(
        default=50_000_000,
        metadata=_doc(
            "Files larger than this are refused by ingest (an error record, the ingest goes on)."
        ),
    )
    duplicate_threshold: float = field(
        default=0.92,
        metadata=_doc(
            "Memory: a new fact this similar to a current one, and saying the same (no other "
            "number, name, place or word that matters), refreshes it instead of adding."
        ),
    )
    memorize: bool = field(
        default=True,
        metadata=_doc(
            "Agent: after each reply, store the facts the user stated (through the write filter)."
        ),
    )
    memory_inbox: bool = field(
        default=False,
        metadata=_doc(
            "Agent: facts extracted from the conversation wait in an inbox for the user to "
            "accept (Agent.accept_fact) instead of being stored at once."
        ),
    )
    route_with_model: bool = field(
        default=True,
        metadata=_doc(
            "Agent: let an instruction-tuned model settle a message that the routing rules and "
            "the nearest labelled examples leave split (a base model is never asked); false "
            "routes by rules and examples alone."
        ),
    )
    code_execution: bool = field(
        default=True,
        metadata=_doc(
            "Code tool: run generated Python and its tests in the sandbox (a separate, limited "
            "process). False only generates; nothing runs."
        ),
    )
    code_samples: int = field(
        default=1,
        metadata=_doc(
            "Code tool: candidates generated per request when none is given; the first that "
            "passes its tests is returned."
        ),
    )
    code_timeout_s: float = field(
        default=10.0,
        metadata=_doc("Code tool: wall-clock limit for one sandboxed test run, in seconds."),
    )
    tool_max_chars: int = field(
        default=2_000_000,
        metadata=_doc(
            "Tools: the largest text (in characters) translate, summarize and review accept."
        ),
    )
    hybrid_bm25_weight: float = field(
        default=0.5,
        metadata=_doc(
            "Document search (hybrid): the most weight BM25 gets against dense similarity. It "
            "gets all of it when its best match stands far above its next nine, less when its "
            "scores are flat. 0 ranks by dense similarity only; raise it for keyword-heavy text."
        ),
    )

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied (validated like :func:`load_settings`)."""
        merged = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        merged.update(changes)
        return _build(merged)

    @property
    def models_dir(self) -> Path:
        """Where assembled and added model files live."""
        return self.home / "models"


def field_docs() -> dict[str, str]:
    """Each setting's name and its one-line documentation (for --help and docs)."""
    return {f.name: f.metadata.get("doc", "") for f in dataclasses.fields(Settings)}


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> Settings:
    """Build :class:`Settings` from defaults, the config file, the environment and overrides.

    Args:
        overrides: highest-precedence values (e.g. from command-line flags); ``None`` values
            are ignored so that unset flags do not mask lower layers.
        env: the environment to read ``LOREBOOK_*`` from (default ``os.environ``).
        config_file: explicit config file (default :func:`config_path`).

    Raises:
        ConfigError: unknown keys, unparsable TOML, or values of the wrong type.

    Example:
        >>> load_settings({"temperature": 0}, env={}).temperature
        0.0
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    path = config_file or config_path(env)
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {path}: {exc}. Fix or remove the file.") from exc
        values.update(_checked_keys(data, f"config file {path}"))
    names = {f.name for f in dataclasses.fields(Settings)}
    for name in names:
        var = f"LOREBOOK_{name.upper()}"
        if env.get(var, "") != "":
            values[name] = env[var]
    values.update(
        {k: v for k, v in _checked_keys(overrides or {}, "overrides").items() if v is not None}
    )
    if "home" not in values:
        values["home"] = default_home(env)
    return _build(values)


def _checked_keys(data: Mapping[str, Any], where: str) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(Settings)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(
            f"{where}: unknown setting(s) {', '.join(unknown)}; "
            f"valid settings: {', '.join(sorted(names))}"
        )
    return dict(data)


def _build(values: Mapping[str, Any]) -> Settings:
    hints = get_type_hints(Settings)
    kwargs: dict[str, Any] = {}
    for name, raw in values.items():
        kwargs[name] = _coerce(name, raw, hints[name])
    settings = Settings(**kwargs)
    _validate(settings)
    return settings


def _coerce(name: str, raw: Any, hint: Any) -> Any:
    text = raw.strip() if isinstance(raw, str) else None
    try:
        if hint is Path:
            return Path(str(raw)).expanduser()
        if hint is bool:
            if isinstance(raw, bool):
                return raw
            if text is not None and text.lower() in ("1", "true", "yes", "on"):
                return True
            if text is not None and text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError("expected true or false")
        if hint is int:
            if isinstance(raw, bool):
                raise ValueError("expected an integer")
            return int(raw)
        if hint is float:
            return float(raw)
        if hint == (str | None):
            return None if raw is None or text in ("", "none") else str(raw)
        if getattr(hint, "__origin__", None) is Literal:
            if raw not in get_args(hint):
                raise ValueError(f"expected one of {', '.join(map(repr, get_args(hint)))}")
            return raw
        return str(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"setting {name}={raw!r}: {exc}") from exc


def _validate(s: Settings) -> None:
    checks = [
        (s.n_ctx >= 64, "n_ctx must be at least 64"),
        (s.n_batch >= 1, "n_batch must be positive"),
        (s.n_threads >= 0, "n_threads must be 0 (auto) or positive"),
        (s.max_tokens >= 1, "max_tokens must be positive"),
        (
            s.max_tokens < s.n_ctx,
            f"max_tokens ({s.max_tokens}) must be below n_ctx ({s.n_ctx}) "
            "to leave room for the prompt",
        ),
        (s.temperature >= 0, "temperature must be >= 0"),
        (0 < s.top_p <= 1, "top_p must be in (0, 1]"),
        (0 <= s.min_p < 1, "min_p must be in [0, 1)"),
        (s.top_k >= 0, "top_k must be >= 0"),
        (s.repeat_penalty > 0, "repeat_penalty must be > 0"),
        (s.code_samples >= 1, "code_samples must be at least 1"),
        (s.code_timeout_s > 0, "code_timeout_s must be positive"),
        (s.tool_max_chars >= 1, "tool_max_chars must be positive"),
        (s.max_loaded_models >= 1, "max_loaded_models must be at least 1"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(f"invalid settings: {message}")
