"""What the tools run with in one agent: their models, its stores and its settings.

``tools/`` holds plain functions that take the model, embedder and translation memory as
arguments; each tool's capability (:data:`agent.capabilities.CAPABILITIES`, ``tool``) calls its
function with what a :class:`ToolBox` holds, so the library (``Agent.translate`` …), the graph's
tool nodes (slash commands in the TUI), the batch runner and the MCP server all run the same
declaration. A chat command's text becomes the tool's parameters through the capability's own
parser (:meth:`ToolBox.run_command`). Each tool runs on the model its setting names
(``code_model`` ...), through the agent's :class:`~agent.llm.pool.ModelPool`; without a pool, or
with none of those settings, on ``llm``. :meth:`ToolBox.call` runs one tool call so the agent's
cancel token stops it, and measures its tokens.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, TypeVar

from agent.capabilities import Capability
from agent.errors import CancelledError, ConfigError, LorebookError, ToolInputError
from agent.llm import LLM, CancelToken, UsageTotals
from memory.translations import TranslationMemory

if TYPE_CHECKING:
    from agent.llm.pool import ModelPool
    from agent.settings import Settings

T = TypeVar("T")


class ToolBox:
    """The models, stores and settings the tools (translate, summarize, code, review) use.

    Args:
        settings: the agent's settings (code execution, sandbox timeout, input size limit).
        llm: the model the tools generate with when ``models`` gives them none.
        store: the agent's ``memory.Store`` (embedder, translation memory); None for tools
            without either (summaries and reviews fall back to the hash-free paths they have).
        models: the agent's model pool: each tool runs on ``models.llm_for(tool)``.
    """

    def __init__(
        self,
        settings: Settings,
        llm: LLM,
        store: Any = None,
        documents: Any = None,
        *,
        models: ModelPool | None = None,
    ):
        self.settings = settings
        self.llm = llm
        self.models = models
        self.store = store
        self.documents = documents
        self._tm: Any = None

    def find_document(self, name: str) -> str | None:
        """The path of the one ingested document ``name`` refers to, else None.

        ``name`` is a short reference from a command — "lease.md", "my lease", "the contract
        pdf" — matched against the file names of ingested documents (name, or stem).

        Example: after ``ingest(["~/docs/lease.md"])``, ``find_document("my lease")`` gives
        that path.
        """
        if self.documents is None or "\n" in name or len(name) > 200:
            return None
        try:
            if Path(name).expanduser().exists():
                return None
        except (OSError, ValueError):  # not a usable file name: it is text
            return None
        words = [w for w in name.lower().split() if w not in _FILLER]
        if not 1 <= len(words) <= 4:
            return None
        wanted = " ".join(words)
        found = []
        for doc in self.documents.list():
            path = Path(doc["path"])
            if wanted in (path.name.lower(), path.stem.lower()) or str(path).lower().endswith(
                "/" + wanted
            ):
                found.append(doc["path"])
        return found[0] if len(found) == 1 else None

    def llm_for(self, tool: str) -> LLM:
        """The model ``tool`` runs on (its ``*_model`` setting, else the main model).

        Raises:
            ConfigError: the tool's model cannot be loaded (at its first use); the message
                names the setting.
        """
        return self.llm if self.models is None else self.models.llm_for(tool)

    @property
    def embedder(self) -> Any:
        return getattr(self.store, "embedder", None)

    @property
    def translation_memory(self) -> Any:
        """The translation memory in the agent's database (None without a store)."""
        if self._tm is None and self.store is not None:
            self._tm = TranslationMemory(self.store)
        return self._tm

    def accept_translation(self, translation: Any) -> int:
        """Keep an accepted translation in the translation memory; returns entries stored.

        ``translation`` is a ``Translation`` or its JSON form (``Turn.tool``, a batch record's
        ``result``).
        """
        tm = self.translation_memory
        if tm is None:
            return 0
        if isinstance(translation, Mapping):
            translation = SimpleNamespace(
                source_lang=translation["source_lang"],
                target_lang=translation["target_lang"],
                segments=[SimpleNamespace(**seg) for seg in translation["segments"]],
            )
        return int(tm.accept(translation))

    def call(
        self, name: str, fn: Callable[[], Any], cancel: CancelToken
    ) -> tuple[Any, UsageTotals]:
        """Run ``fn`` (one tool call) so ``cancel`` stops it; returns its result and usage.

        The tools make many model calls without a token of their own, so the model's cancel
        scope hands them ``cancel``: once set, the running call stops within a decode step and
        later ones return at once.

        Raises:
            CancelledError: ``cancel`` was set before the tool finished (its result is dropped).
        """
        llm = self.llm_for(name)
        before = llm.totals.snapshot()
        with llm.cancel_scope(cancel):
            result = fn()
        if cancel.cancelled:
            raise CancelledError(name)
        return result, llm.totals.since(before)

    def logged_call(
        self, name: str, work: Callable[[ToolBox], T], cancel: CancelToken, log: Any
    ) -> T:
        """:meth:`call` ``work`` on this box and record it in the turn log ``log``: the tool's
        model, its tokens and time, or the error (the Agent's and the CLI's ``run_tool``).

        Raises:
            LorebookError: what the tool raised (also recorded in the turn log).
        """
        start = time.perf_counter()
        model = self.llm_for(name).model_name
        try:
            result, used = self.call(name, lambda: work(self), cancel)
        except LorebookError as exc:
            log.record("-", "-", route=name, model=model, error=str(exc))
            raise
        log.record(
            "-",
            "-",
            route=name,
            model=model,
            prompt_tokens=used.prompt_tokens,
            completion_tokens=used.completion_tokens,
            finish_reason="stop",
            timings={name: (time.perf_counter() - start) * 1000},
        )
        return result

    def run_tool(self, name: str, work: Callable[[ToolBox], T]) -> T:
        """Hand ``work`` this box (:class:`agent.capabilities.ToolHost`): inside a turn, whose
        tool node holds the agent's lock and measures the call itself (:meth:`call`)."""
        return work(self)

    def run_command(self, cap: Capability, payload: str) -> Any:
        """Run tool ``cap`` on a command's text (``/translate French good morning``).

        The text is parsed by the capability's own parser; a short name of an ingested
        document ("my lease") stands for its file.

        Raises:
            ToolError: the text does not say what the tool needs, or the tool refused it.
        """
        if not cap.tool:
            raise ValueError(f"{cap.name} is not a tool")
        values = cap.parse(payload)
        first = next(iter(cap.params.model_fields))  # the text, source or prompt
        what = _NEEDS.get(cap.name, f"its {first}")
        _need(cap.name, str(values.get(first) or ""), what)
        if isinstance(values.get("source"), str):
            values["source"] = self.find_document(values["source"]) or values["source"]
        try:
            params = cap.validate(values)
        except ConfigError as exc:
            raise ToolInputError(
                cap.name, "bad-argument", str(exc), "See /help for the usage"
            ) from None
        return cap.run(self, params)


_NEEDS = {
    "translate": "the text to translate",
    "summarize": "a file path or the text to summarize",
    "code": "what the code should do",
    "review": "a file path or the text of the document",
}
"""What a tool command's text must give, said to the user (other tools: their first parameter)."""


_FILLER = {"my", "the", "this", "that", "our", "document", "file", "doc", "please"}


def _need(tool: str, text: str, what: str) -> None:
    if not text.strip():
        raise ToolInputError(tool, "empty", f"the command has no input: give it {what}", "")
