"""The app's one door to the library: an :class:`~agent.api.Agent` and what the screens ask of it.

Widgets never touch the model or the stores; they call a :class:`Session`, which calls the
``Agent`` API. Every method blocks (the ``Agent`` is synchronous), so the app calls them from
thread workers, never from the UI thread. The Agent runs one turn at a time under its own lock,
so a worker that starts a turn while another is finishing simply waits.

Deliberate shortcuts: the memory browser needs listing, version history and editing, and the
inbox an undo that restores what a fact superseded, which the ``Agent`` facade does not expose
yet; those four go through ``agent.memory`` here, in this one place, so a future
``Agent.memories()``/``update_memory()``/``undo_fact()`` replaces four lines.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from agent.api import Agent, Event
from agent.capabilities import CAPABILITIES
from agent.errors import LorebookError

Opener = Callable[[str | None], Agent]
"""Opens an Agent; the argument is a model to use instead of the configured one (or None)."""


@dataclass(frozen=True)
class ModelInfo:
    """What the status bar shows about the loaded model."""

    name: str
    device: str
    n_ctx: int
    inbox: bool


@dataclass(frozen=True)
class MemoryRow:
    """One line of the memory browser."""

    id: int
    text: str
    date: str
    current: bool
    superseded_by: int | None
    score: float | None = None


def _row(record: Any, score: float | None = None) -> MemoryRow:
    return MemoryRow(
        record.id,
        record.text,
        record.created.strftime("%Y-%m-%d"),
        record.current,
        record.superseded_by,
        score,
    )


class Session:
    """The agent behind the app, opened on demand by ``opener``.

    Args:
        opener: builds the Agent (the CLI passes one that reads the settings; tests pass one
            with a scripted fake model).
        user: whose memories and threads these are.
    """

    def __init__(self, opener: Opener, user: str = "me"):
        self._opener = opener
        self.user = user
        self.agent: Agent | None = None
        #: What went wrong closing the agent (a database found damaged only then), for the
        #: caller to show once the app has gone: an app being torn down shows nothing.
        self.closing_error: LorebookError | None = None
        self._lock = threading.Lock()

    # -- lifecycle --------------------------------------------------------------------------

    def open(self, model: str | None = None) -> ModelInfo:
        """Open (or re-open on another model) the agent; returns what the status bar shows.

        Raises:
            LorebookError: the model or the data directory could not be opened.
        """
        with self._lock:
            if self.agent is not None:
                self.agent.close()
                self.agent = None
            self.agent = self._opener(model)
            return self.info()

    def info(self) -> ModelInfo:
        agent = self._agent()
        return ModelInfo(
            agent.llm.model_name,
            str(agent.llm.info().get("device", "CPU")),
            agent.llm.n_ctx,
            agent.settings.memory_inbox,
        )

    @property
    def ready(self) -> bool:
        return self.agent is not None

    def _agent(self) -> Agent:
        if self.agent is None:
            raise RuntimeError("the model is still loading")
        return self.agent

    def close(self) -> None:
        """Close the agent; a lorebook error doing so is kept in :attr:`closing_error`."""
        with self._lock:
            agent, self.agent = self.agent, None
            if agent is not None:
                agent.cancel()
                try:
                    agent.close()
                except LorebookError as exc:
                    self.closing_error = exc

    # -- turns ------------------------------------------------------------------------------

    def stream(self, message: str, thread: str) -> Iterator[Event]:
        """One turn's events (see ``Agent.stream``)."""
        return self._agent().stream(message, thread=thread, user=self.user)

    def cancel(self) -> None:
        if self.agent is not None:
            self.agent.cancel()

    # -- threads ----------------------------------------------------------------------------

    def threads(self) -> list[Any]:
        return self._agent().threads(self.user)

    def history(self, thread: str) -> list[dict[str, str]]:
        return self._agent().history(thread, self.user)

    def rename_thread(self, thread: str, title: str) -> bool:
        return self._agent().rename_thread(thread, title, user=self.user)

    def delete_thread(self, thread: str) -> bool:
        return self._agent().delete_thread(thread, user=self.user)

    # -- documents and memories -------------------------------------------------------------

    def ingest(self, path: str, on_progress: Callable[[Any], None] | None = None) -> Any:
        """Add a file or folder to the documents; ``on_progress`` hears of each batch (see
        ``Documents.ingest``) from this, the worker's, thread."""
        return self._agent().documents.ingest([path], progress=False, on_progress=on_progress)

    def run(self, name: str, text: str) -> str:
        """Run capability ``name`` on a command's text (``/recall sister``) for this user;
        returns what it says (its failure, or its result as text).

        Raises:
            LorebookError: the text does not give the capability what it needs.
        """
        cap = CAPABILITIES[name]
        user = {"user": self.user} if "user" in cap.params.model_fields else {}
        result = cap.run(self._agent(), cap.from_command(text, **user))
        return cap.failure(result) or cap.render(result)

    def memories(self, query: str = "", *, include_history: bool = False) -> list[MemoryRow]:
        """The user's facts: all of them in order, or the best matches for ``query``."""
        agent = self._agent()
        if query.strip():
            hits = agent.memory.search(
                query, user=self.user, k=50, kinds=("fact",), include_history=include_history
            )
            return [_row(h.record, h.score) for h in hits]
        records = agent.memory.list(self.user, kinds=("fact",), include_history=include_history)
        return [_row(r) for r in reversed(records)]

    def memory_history(self, memory_id: int) -> list[MemoryRow]:
        """The versions of a fact, oldest first (superseded ones included)."""
        return [_row(r) for r in self._agent().memory.history(memory_id)]

    def edit_memory(self, memory_id: int, text: str) -> MemoryRow:
        return _row(self._agent().memory.update(memory_id, text=text))

    def forget(self, memory_id: int) -> list[int]:
        return self._agent().forget(memory_id)

    def undo_fact(self, memory_id: int) -> list[int]:
        """Take back a fact the chat stored: it is deleted and the facts it superseded are
        current again (see ``Memory.undo``); returns the ids restored."""
        return self._agent().memory.undo(memory_id)

    def accept_fact(self, text: str, thread: str | None) -> Any:
        return self._agent().accept_fact(text, user=self.user, thread=thread)

    def accept_translation(self, translation: dict[str, Any]) -> int:
        """Keep a translation reply (its ``Turn.tool``) in the translation memory."""
        return int(self._agent().accept_translation(translation))

    # -- models -----------------------------------------------------------------------------

    def models(self) -> tuple[list[str], str | None]:
        """Registered model names and the current one (no default model is assembled here)."""
        from agent.registry import ModelRegistry

        reg = ModelRegistry(self._agent().settings.home)
        return [e.name for e in reg.entries()], reg.current_name()

    def use_model(self, name: str) -> ModelInfo:
        """Make ``name`` the registry's current model and re-open the agent on it."""
        from agent.registry import ModelRegistry

        ModelRegistry(self._agent().settings.home).use(name)
        return self.open(name)
