"""The library API: ``Agent``, what the TUI, the CLI and the batch runner all go through.

    from agent import Agent

    with Agent.open() as bot:                          # default data directory and model
        bot.ingest(["~/notes"])
        bot.remember("My sister is called Ana", user="me")
        turn = bot.chat("What is my sister called?", thread="main", user="me")
        print(turn.text, turn.memories, turn.citations, turn.timings)

One ``Agent`` owns its models (by default one, shared by chat and every tool; with the
``*_model`` settings one per capability, loaded on first use: :mod:`agent.llm.pool`), one memory
store and the thread checkpoints; turns run one at a time (a lock), and :meth:`Agent.cancel`
stops the running one from another thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from agent.capabilities import CAPABILITIES
from agent.errors import ConfigError, LorebookError
from agent.llm import LLM, CancelToken, open_llm
from agent.llm.pool import ModelPool, PooledLLM
from agent.pipeline.forgetting import REDACTED, mentions
from agent.pipeline.graph import Services, build_graph
from agent.pipeline.state import new_turn
from agent.settings import Settings, load_settings
from agent.toolbox import ToolBox
from agent.turnlog import ThreadInfo, TurnLog, TurnRecord, open_checkpointer
from memory import Documents, Memory, Store

T = TypeVar("T")


@dataclass(frozen=True)
class MemoryUsed:
    """A memory that was put in front of the model for this turn."""

    id: int
    text: str
    score: float
    date: str


@dataclass(frozen=True)
class CitationRef:
    """A numbered document excerpt the reply may cite as ``[n]``."""

    n: int
    path: str
    page: int | None
    start: int
    end: int
    quote: str
    score: float


@dataclass(frozen=True)
class Turn:
    """The result of one turn: the reply and its provenance."""

    text: str
    route: str
    route_reason: str
    thread: str
    user: str
    memories: tuple[MemoryUsed, ...] = ()
    citations: tuple[CitationRef, ...] = ()
    facts: tuple[dict[str, Any], ...] = ()
    """What the memorize step did with the facts the user stated (added/refreshed/rejected)."""
    timings: dict[str, float] = field(default_factory=dict)
    """Milliseconds per node."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = ""
    dropped: tuple[str, ...] = ()
    """What did not fit the context window (see agent.pipeline.compose)."""
    tool: dict[str, Any] | None = None
    """A tool route's typed result as JSON (``Translation.to_dict()`` …), else None."""


@dataclass(frozen=True)
class TokenEvent:
    text: str


@dataclass(frozen=True)
class NodeStart:
    node: str


@dataclass(frozen=True)
class NodeEnd:
    node: str
    ms: float


@dataclass(frozen=True)
class CitationEvent:
    citation: CitationRef


@dataclass(frozen=True)
class DoneEvent:
    turn: Turn


Event = TokenEvent | NodeStart | NodeEnd | CitationEvent | DoneEvent


class Agent:
    """A local agent with memory and documents. Build it with :meth:`Agent.open`.

    ``llm`` is the main model if it is loaded already (else it loads when first needed);
    ``models`` the pool that hands each capability its model (default: one on ``llm``).
    ``self.llm`` is the chat model, ``self.models.llm_for(tool)`` a tool's.
    """

    def __init__(
        self,
        settings: Settings,
        llm: LLM | None,
        memory: Any,
        documents: Any,
        *,
        models: ModelPool | None = None,
    ):
        self.settings = settings
        self.models = models or ModelPool(settings, main=llm)
        llm = self.llm = self.models.llm_for("chat")
        # Replies may take half the context. A chat model not loaded yet (chat_model and the
        # like set) is not loaded for this: the settings' n_ctx stands in for its own.
        n_ctx = settings.n_ctx if isinstance(llm, PooledLLM) and not llm.loaded else llm.n_ctx
        max_tokens = min(settings.max_tokens, n_ctx // 2)
        self.memory = memory
        self.documents = documents
        # Turn log and thread checkpoints: SQLite files in the data directory, or the
        # PostgreSQL database_url that the memory store uses too.
        self.log = TurnLog(settings.home / "agent.sqlite", settings.database_url)
        self._conn, self._saver = open_checkpointer(settings.home, settings.database_url)
        self.tools = ToolBox(
            settings, llm, getattr(memory, "store", None), documents, models=self.models
        )
        self.services = Services(
            llm=llm,
            memory=memory,
            documents=documents,
            max_tokens=max_tokens,
            classify_with_model=settings.route_with_model,
            memorize=settings.memorize,
            inbox=settings.memory_inbox,
            tools=self.tools,
        )
        self.graph = build_graph(self.services, self._saver)
        self._oneshot = build_graph(self.services, None)  # thread=None: no history kept
        self._lock = threading.RLock()

    @classmethod
    def open(
        cls,
        home: Path | str | None = None,
        model: str | None = None,
        *,
        llm: LLM | None = None,
        embedder: Any = None,
        open_model: Callable[[Settings], LLM] | None = None,
        **settings: Any,
    ) -> Agent:
        """Open the agent on a data directory.

        Args:
            home: data directory (default: ``LOREBOOK_HOME`` or the XDG data dir).
            model: registry name or .gguf path (default: the registry's current model).
            llm: the main model, already opened (tests pass a ``FakeLLM``).
            embedder: an embedder instance (tests pass a ``HashEmbedder``).
            open_model: how to load a model, called with settings whose ``model`` names it
                (default :func:`agent.llm.open_llm`; tests return fakes).
            **settings: any other :class:`~agent.settings.Settings` field.

        With none of the ``*_model`` settings, the one model loads here, as it always has.
        Otherwise every model, the chat model included, loads on the first call that needs it,
        at most ``max_loaded_models`` at a time (:mod:`agent.llm.pool`).

        Raises:
            ConfigError: (at a capability's first use, not here) its model cannot be loaded;
                the message names the setting.
            LorebookError: the model (one-model mode) or the stores cannot be opened.

        Example:
            >>> import tempfile
            >>> from agent.llm.fake import FakeLLM
            >>> bot = Agent.open(tempfile.mkdtemp(), llm=FakeLLM(default="Hello!"),
            ...                  embedder="hash", route_with_model=False)
            >>> bot.chat("hi").text
            'Hello!'
        """
        s = load_settings({"home": home, "model": model, **settings})
        if isinstance(embedder, str):
            s, embedder = s.replace(embedder=embedder), None
        if llm is None and ModelPool(s).single:
            llm = (open_model or open_llm)(s)  # one model: loaded now, as always
        pool = ModelPool(s, main=llm, opener=open_model)
        try:
            store = Store(s, embedder)
        except BaseException:
            pool.close()
            raise
        memory = Memory(store, llm)
        try:
            return cls(s, llm, memory, Documents(store), models=pool)
        except BaseException:
            memory.close()
            pool.close()
            raise

    # -- turns --------------------------------------------------------------------------------

    def stream(
        self,
        message: str,
        *,
        thread: str | None = "main",
        user: str = "me",
        command: str | None = None,
    ) -> Iterator[Event]:
        """Run one turn, yielding events: node start/end, tokens, citations, then done.

        ``thread=None`` runs a one-shot turn that keeps no history.

        Raises:
            LorebookError: from any node (also recorded in the turn log).
        """
        if not message.strip():
            raise ConfigError("the message is empty")
        graph = self.graph if thread is not None else self._oneshot
        config = {"configurable": {"thread_id": f"{user}/{thread}"}}
        name = thread if thread is not None else "-"
        with self._lock:
            self.services.cancel = CancelToken()
            values: dict[str, Any] = {}
            try:
                # durability="exit": one checkpoint per turn instead of one per node; a turn
                # killed midway is lost whole, never half-written.
                for mode, data in graph.stream(
                    new_turn(message, user, name, command),
                    config,
                    stream_mode=["custom", "tasks", "values"],
                    **({"durability": "exit"} if thread is not None else {}),
                ):
                    if mode == "values":
                        values = data
                    elif mode == "custom" and data.get("type") == "token":
                        yield TokenEvent(data["text"])
                    elif mode == "tasks" and "result" not in data:
                        yield NodeStart(data["name"])
                    elif mode == "tasks":
                        ms = (data.get("result") or {}).get("timings", {}).get(data["name"], 0.0)
                        yield NodeEnd(data["name"], ms)
            except LorebookError as exc:
                self.log.record(user, name, model=self.llm.model_name, error=str(exc))
                raise
            turn = self._turn(values)
            if thread is not None:
                self.log.touch_thread(user, thread, message)
            if self.services.forgotten:
                self._scrub(user, self.services.forgotten)
                self.services.forgotten = []
            self.log.record(
                user,
                name,
                route=turn.route,
                reason=turn.route_reason,
                model=self.llm.model_name,
                prompt_tokens=turn.prompt_tokens,
                completion_tokens=turn.completion_tokens,
                finish_reason=turn.finish_reason,
                timings=turn.timings,
            )
            for c in turn.citations:
                yield CitationEvent(c)
            yield DoneEvent(turn)

    def chat(
        self,
        message: str,
        *,
        thread: str | None = "main",
        user: str = "me",
        command: str | None = None,
    ) -> Turn:
        """Run one turn and return its :class:`Turn`."""
        turn = None
        for event in self.stream(message, thread=thread, user=user, command=command):
            if isinstance(event, DoneEvent):
                turn = event.turn
        assert turn is not None
        return turn

    def cancel(self) -> None:
        """Stop the running turn or tool (from any thread).

        A turn ends with what was generated so far (``finish_reason`` "cancelled"); a tool
        called as a method raises :class:`~agent.errors.CancelledError`.
        """
        self.services.cancel.cancel()

    async def achat(self, message: str, **kwargs: Any) -> Turn:
        """:meth:`chat` without blocking the event loop."""
        return await asyncio.to_thread(self.chat, message, **kwargs)

    async def astream(self, message: str, **kwargs: Any) -> AsyncIterator[Event]:
        """:meth:`stream` as an async iterator (the turn runs in a worker thread)."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        end = object()

        def work() -> None:
            try:
                for event in self.stream(message, **kwargs):
                    loop.call_soon_threadsafe(queue.put_nowait, event)
            except BaseException as exc:  # handed to the consumer below
                loop.call_soon_threadsafe(queue.put_nowait, exc)
            loop.call_soon_threadsafe(queue.put_nowait, end)

        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        while (item := await queue.get()) is not end:
            if isinstance(item, BaseException):
                raise item
            yield item

    def _turn(self, v: dict[str, Any]) -> Turn:
        return Turn(
            text=v.get("reply", ""),
            route=v.get("route", ""),
            route_reason=v.get("route_reason", ""),
            thread=v["thread"],
            user=v["user"],
            memories=tuple(
                MemoryUsed(m["id"], m["text"], m["score"], m["date"]) for m in v.get("memories", [])
            ),
            citations=tuple(
                CitationRef(
                    c["n"], c["path"], c["page"], c["start"], c["end"], c["quote"], c["score"]
                )
                for c in v.get("chunks", [])
                if "n" in c
            ),
            facts=tuple(v.get("facts", [])),
            timings=dict(v.get("timings") or {}),
            prompt_tokens=v.get("prompt_tokens", 0),
            completion_tokens=v.get("completion_tokens", 0),
            finish_reason=v.get("finish_reason", ""),
            dropped=tuple(v.get("dropped", [])),
            tool=v.get("tool_result"),
        )

    # -- capabilities -------------------------------------------------------------------
    # The methods below are typed shortcuts: each checks its values against the capability's
    # parameter model (agent.capabilities) and runs the capability, as every front end does.

    def _run(self, name: str, **values: Any) -> Any:
        """Run capability ``name`` with ``values``.

        Raises:
            ConfigError: a value out of the capability's bounds (the message names it).
        """
        cap = CAPABILITIES[name]
        return cap.run(self, cap.validate(values))

    def run_tool(self, name: str, work: Callable[[ToolBox], T]) -> T:
        """Run one tool call (``work``, on this agent's :class:`~agent.toolbox.ToolBox`) under
        the agent's lock, stoppable by :meth:`cancel`, and record it in the turn log.

        Raises:
            CancelledError: :meth:`cancel` stopped it.
            LorebookError: what the tool raised (also recorded in the turn log).
        """
        with self._lock:
            self.services.cancel = CancelToken()
            return self.tools.logged_call(name, work, self.services.cancel, self.log)

    def translate(
        self,
        text: str | Path,
        target: str,
        source: str | None = None,
        context: str | None = None,
        glossary: dict[str, str] | None = None,
        explain: bool = False,
    ) -> Any:
        """Translate text (or a file) into ``target``; see :func:`tools.translate.translate`.

        Past translations accepted with :meth:`accept_translation` become its examples.

        Example:
            >>> bot.translate("Good morning.", "fr").text  # doctest: +SKIP
            'Bonjour.'
        """
        return self._run(
            "translate",
            text=text,
            target=target,
            source=source,
            context=context,
            glossary=glossary,
            explain=explain,
        )

    def accept_translation(self, translation: Any) -> int:
        """Keep a translation the user approved in the translation memory (its segments)."""
        with self._lock:
            return self.tools.accept_translation(translation)

    def summarize(
        self,
        source: str | Path | Iterable[str | Path],
        style: str = "abstractive",
        max_words: int | None = None,
    ) -> Any:
        """Summarize text, a file or several files; see :func:`tools.summarize.summarize`."""
        if not isinstance(source, str | Path):
            source = list(source)
        return self._run("summarize", source=source, style=style, max_words=max_words)

    def code(
        self,
        prompt: str,
        language: str = "python",
        tests: str | None = None,
        samples: int | None = None,
        execute: bool | None = None,
    ) -> Any:
        """Generate code and test it in the sandbox; see :func:`tools.code.code`."""
        return self._run(
            "code", prompt=prompt, language=language, tests=tests, samples=samples, execute=execute
        )

    def review(self, source: str | Path, use_model: bool = False) -> Any:
        """Review a legal document (text or file); see :func:`tools.review.review`.

        ``use_model`` lets the model confirm uncertain clauses (slower; it did not improve the
        measured precision/recall with the default 270M model).
        """
        return self._run("review", source=source, use_model=use_model)

    # -- memory and documents -------------------------------------------------------------

    def ingest(self, paths: Iterable[Path | str], *, progress: bool | None = None) -> Any:
        """Add files and folders to the document store (see ``memory.Documents.ingest``).

        Not through the registry's ``ingest``: this one takes ``Path`` objects and a
        ``progress`` choice (None: a bar when stderr is a terminal), which other programs
        are not offered.
        """
        return self.documents.ingest(paths, progress=progress)

    def search(self, query: str, k: int = 5) -> list[Any]:
        """Document chunks for ``query``, each with its citation.

        Raises:
            ConfigError: an empty or oversized query, or ``k`` outside 1..50.
        """
        return self._run("search", query=query, k=k)

    def remember(self, text: str, *, user: str = "me", thread: str | None = None) -> Any:
        """Store a fact the user stated (through the write filter); returns the ``AddResult``.

        Raises:
            ConfigError: empty text, or longer than a fact may be (``MAX_FACT_CHARS``).
        """
        return self._run("remember", text=text, user=user, thread=thread)

    def accept_fact(self, text: str, *, user: str = "me", thread: str | None = None) -> Any:
        """Store a fact the inbox held (a turn's ``facts`` entry with action ``pending``)."""
        return self.remember(text, user=user, thread=thread)

    def recall(self, query: str, *, user: str = "me", k: int = 5) -> list[Any]:
        """The user's memories for ``query``.

        Raises:
            ConfigError: an empty or oversized query, or ``k`` outside 1..50.
        """
        return self._run("recall", query=query, user=user, k=k)

    def forget(
        self, memory_id: int | None = None, *, query: str | None = None, user: str | None = None
    ) -> list[int]:
        """Hard-delete memories by id, by query (with ``user``) or all of a user's.

        Not through the registry's ``forget``, which offers other programs less: one id or a
        query, of one user, never everything of a user.
        """
        return list(self.memory.forget(memory_id, query=query, user=user))

    # -- threads and logs -------------------------------------------------------------------

    def threads(self, user: str | None = "me") -> list[ThreadInfo]:
        """Conversations, most recent first."""
        return self.log.threads(user)

    def history(self, thread: str = "main", user: str = "me") -> list[dict[str, str]]:
        """The messages of a thread so far."""
        state = self.graph.get_state({"configurable": {"thread_id": f"{user}/{thread}"}})
        return [
            {"role": h["role"], "content": h["content"]} for h in state.values.get("history", [])
        ]

    def _scrub(self, user: str, forgotten: list[str]) -> None:
        """Take forgotten facts out of every thread of ``user``.

        Each thread is rewritten to its history with the messages that carried a forgotten
        fact replaced by "[forgotten]"; its earlier checkpoints (which hold old prompts, with
        recalled memories in them) are dropped; a title made from such a message is renamed.
        On SQLite the freed pages are zeroed (``secure_delete``) and the WAL truncated.
        """
        for info in self.log.threads(user):
            config = {"configurable": {"thread_id": f"{user}/{info.thread}"}}
            history = self.graph.get_state(config).values.get("history", [])
            redacted = [
                {**h, "content": REDACTED} if mentions(h["content"], forgotten) else h
                for h in history
            ]
            self._saver.delete_thread(f"{user}/{info.thread}")
            if redacted:
                self.graph.update_state(config, {"history": redacted}, as_node="finish")
            if mentions(info.title, forgotten):
                self.log.rename(user, info.thread, REDACTED)
        if self.settings.database_url is None:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def rename_thread(self, thread: str, title: str, *, user: str = "me") -> bool:
        return self.log.rename(user, thread, title)

    def delete_thread(self, thread: str, *, user: str = "me") -> bool:
        """Delete a conversation: its checkpoints, its log lines and its title."""
        with self._lock:
            self._saver.delete_thread(f"{user}/{thread}")
            return self.log.delete(user, thread)

    def logs(self, n: int = 20) -> list[TurnRecord]:
        return self.log.recent(n)

    def mermaid(self) -> str:
        """The turn graph as a mermaid diagram."""
        return str(self.graph.get_graph().draw_mermaid())

    def close(self) -> None:
        with self._lock:
            for closer in (
                self.log.close,
                self._conn.close,
                getattr(self.memory, "close", None),
                self.models.close,
            ):
                if closer is not None:
                    closer()

    def __enter__(self) -> Agent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
