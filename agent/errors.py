"""Every error lorebook raises on purpose, in one hierarchy.

    LorebookError                  base: catch this to handle anything lorebook reports
    ├── ConfigError                a bad setting, config file or environment variable
    ├── UnknownBackendError        a backend name not in the registry (lists the valid ones)
    ├── RegistryError              model registry: unknown name, nothing to roll back to, ...
    ├── ModelError
    │   ├── ModelFileError         the model file is missing, truncated, an LFS pointer, HTML,
    │   │                          not GGUF, not a regular file, of an unknown tensor type, or
    │   │                          fails its sha256 (``reason`` says which)
    │   └── ModelLoadError         llama.cpp could not load a file that looked valid
    ├── GenerationError
    │   ├── ContextOverflowError   the prompt does not fit the context window
    │   ├── GrammarError           a GBNF grammar / JSON schema llama.cpp rejects
    │   ├── ServerUnavailableError no llama-server replica answered (lists each and why)
    │   └── CancelledError         Agent.cancel() stopped a tool before it finished
    ├── MemoryStoreError           episodic memory / document store (``memory/``)
    │   ├── UnknownEmbedderError   an embedder name not in the registry (lists the valid ones)
    │   ├── EmbedderError          the embedding model failed to load or to run
    │   ├── StoreBusyError         another process held the database past every retry
    │   │   └── PostgresBusyError  the same, for the PostgreSQL store (its lock or server)
    │   ├── PostgresUnreachableError  the PostgreSQL server could not be reached
    │   ├── StoreFormatError       the database was written by another schema / embedder
    │   ├── StoreDamagedError      the database file is damaged (says which file, what is
    │   │                          wrong, and how to repair: ``lorebook doctor --repair``)
    │   ├── MemoryNotFoundError    no memory with that id
    │   └── DocumentError          one file could not be ingested (``reason`` says why)
    └── ToolError                  a tool (``tools/``) cannot do what was asked
        ├── ToolInputError         empty, oversized or unreadable input (``reason`` says which)
        ├── UnknownLanguageError   a language name/code the translator does not know
        └── SandboxError           generated code could not be run (sandbox off or broken)

Each message says what went wrong, where (the file, the setting), and what to do about it.
Third-party exceptions are wrapped at the backend boundary so callers never see a raw
``ValueError`` from llama-cpp-python.
"""

from __future__ import annotations

from pathlib import Path


class LorebookError(Exception):
    """Base class of all errors lorebook raises on purpose."""


class ConfigError(LorebookError):
    """A setting, config file or environment variable has a bad value."""


class UnknownBackendError(LorebookError):
    """The requested backend name is not registered."""

    def __init__(self, name: str, valid: list[str]):
        self.name = name
        self.valid = sorted(valid)
        super().__init__(f"unknown LLM backend {name!r}; valid backends: {', '.join(self.valid)}")


class RegistryError(LorebookError):
    """The model registry cannot do what was asked."""


class ModelError(LorebookError):
    """Something is wrong with a model."""


class ModelFileError(ModelError):
    """A model file is unusable.

    ``reason`` is one of: ``missing``, ``empty``, ``lfs-pointer``, ``html``, ``not-gguf``,
    ``truncated``, ``checksum``, ``unreadable``, ``not-a-file`` (a FIFO, device, socket or
    folder under a model's name), ``unknown-type`` (a tensor type or header value this version
    cannot read).
    """

    def __init__(self, path: Path | str, reason: str, detail: str, fix: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"model file {self.path}: {detail}. {fix}")


class ModelLoadError(ModelError):
    """llama.cpp refused to load a model or create its context."""


class GenerationError(LorebookError):
    """Text generation failed."""


class ContextOverflowError(GenerationError):
    """The prompt plus the reply budget does not fit in the model's context window."""

    def __init__(self, prompt_tokens: int, max_tokens: int, n_ctx: int):
        self.prompt_tokens = prompt_tokens
        self.max_tokens = max_tokens
        self.n_ctx = n_ctx
        super().__init__(
            f"prompt is {prompt_tokens} tokens and the reply may use {max_tokens}, but the context "
            f"window holds {n_ctx}. Shorten the prompt, lower max_tokens, raise n_ctx "
            f"(LOREBOOK_N_CTX), or set overflow='truncate' to drop the oldest text."
        )


class GrammarError(GenerationError):
    """A grammar or JSON schema could not be compiled by llama.cpp."""


class ServerUnavailableError(GenerationError):
    """No llama-server replica could take a request (backend ``llama_server``)."""

    def __init__(self, failures: dict[str, str]):
        self.failures = dict(failures)
        listing = "; ".join(f"{url}: {why}" for url, why in self.failures.items()) or "none given"
        super().__init__(
            f"no llama-server answered ({listing}). Start one with `lorebook serve-model`, or "
            "check the server_urls setting (LOREBOOK_SERVER_URLS)."
        )


class CancelledError(GenerationError):
    """A tool was stopped by :meth:`Agent.cancel` before it finished; its result is dropped."""

    def __init__(self, what: str):
        super().__init__(f"{what} was cancelled before it finished; nothing was returned")


class MemoryStoreError(LorebookError):
    """The memory or document store cannot do what was asked."""


class UnknownEmbedderError(MemoryStoreError):
    """The requested embedder name is not registered."""

    def __init__(self, name: str, valid: list[str]):
        self.name = name
        self.valid = sorted(valid)
        super().__init__(
            f"unknown embedder {name!r}; valid embedders: {', '.join(self.valid)} "
            "(setting 'embedder', env LOREBOOK_EMBEDDER)"
        )


class EmbedderError(MemoryStoreError):
    """The embedding model could not be loaded or failed on some input."""


class StoreBusyError(MemoryStoreError):
    """Another process kept the database locked longer than every retry allowed."""

    def __init__(self, path: Path | str, waited_s: float):
        self.path = Path(path)
        self.waited_s = waited_s
        super().__init__(
            f"database {self.path} stayed locked by another process for {waited_s:.0f} s. "
            "Close the other lorebook process (TUI or batch run) or retry later."
        )


class PostgresBusyError(StoreBusyError):
    """Other writers held the store's lock (or the server kept failing) past every retry."""

    def __init__(self, where: str, waited_s: float, detail: str = ""):
        self.path = Path(where)
        self.where = where
        self.waited_s = waited_s
        MemoryStoreError.__init__(
            self,
            f"the PostgreSQL store {where} stayed locked for {waited_s:.0f} s"
            + (f" ({detail})" if detail else "")
            + ". Another lorebook process is writing, or a long transaction holds the lock: "
            "retry later, or look for blocked sessions in pg_stat_activity.",
        )


class PostgresUnreachableError(MemoryStoreError):
    """The PostgreSQL server could not be reached, or refused the connection."""

    def __init__(self, where: str, detail: str, waited_s: float = 0.0):
        self.where = where
        self.detail = detail
        tried = f" for {waited_s:.0f} s" if waited_s >= 1 else ""
        super().__init__(
            f"cannot reach the PostgreSQL store at {where}{tried}: {detail}. Check that the "
            "server is running and reachable from this host, and the URL, user and password "
            "in database_url (LOREBOOK_DATABASE_URL); unset it to keep memory in SQLite in "
            "the data directory. Nothing was written."
        )


class StoreFormatError(MemoryStoreError):
    """The data directory holds a store this version cannot use as it is."""


class StoreDamagedError(MemoryStoreError):
    """The database file is damaged: unreadable, failing SQLite's integrity check, missing
    tables, or emptied although the data directory shows it held data.

    ``problem`` says what is wrong; the message also names the file and what to do.
    """

    def __init__(self, path: Path | str, problem: str, fix: str | None = None):
        self.path = Path(path)
        self.problem = problem
        self.fix = fix or (
            "Run `lorebook doctor --repair` to restore it from the newest automatic backup "
            f"(in {self.path.parent / 'backups'}) or recover what is readable; the damaged file "
            "is kept aside, never deleted. Or restore the file from your own backup, after "
            f"moving {self.path.name}-wal and {self.path.name}-shm out of the way (SQLite would "
            "replay the damaged file's log onto it)."
        )
        super().__init__(f"database {self.path} is damaged: {problem}. {self.fix}")


class MemoryNotFoundError(MemoryStoreError, KeyError):
    """No memory has the requested id (it may have been forgotten)."""

    def __init__(self, memory_id: int):
        self.memory_id = memory_id
        super().__init__(f"no memory with id {memory_id}; list ids with Memory.list()")

    def __str__(self) -> str:
        return str(self.args[0])


class DocumentError(MemoryStoreError):
    """One file could not be ingested; the ingest records it and goes on.

    ``reason`` is one of: ``missing``, ``unsupported``, ``empty``, ``binary``, ``encoding``,
    ``too-large``, ``encrypted``, ``corrupt``, ``no-text``, ``unreadable``.
    """

    def __init__(self, path: Path | str, reason: str, detail: str, fix: str):
        self.path = Path(path)
        self.reason = reason
        self.detail = detail
        self.fix = fix
        super().__init__(f"{self.path}: {detail}. {fix}")


class ToolError(LorebookError):
    """A tool (translate, summarize, code, review) cannot do what was asked."""


class ToolInputError(ToolError):
    """The tool's input is unusable.

    ``reason`` is one of: ``empty``, ``too-large``, ``unreadable`` (a file that could not be
    read; ``detail`` says why), ``bad-argument``.
    """

    def __init__(self, tool: str, reason: str, detail: str, fix: str):
        self.tool = tool
        self.reason = reason
        self.detail = detail
        self.fix = fix
        super().__init__(f"{tool}: {detail}. {fix}")


class UnknownLanguageError(ToolError):
    """A language the translator does not know; the message lists the supported ones."""

    def __init__(self, name: str, valid: list[str]):
        self.name = name
        self.valid = sorted(valid)
        super().__init__(
            f"unknown language {name!r}; use a name or ISO 639-1 code such as: "
            f"{', '.join(self.valid)}"
        )


class SandboxError(ToolError):
    """Generated code could not be run: execution is switched off, or the sandbox failed."""
