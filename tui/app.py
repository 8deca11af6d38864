"""The lorebook chat app: the layout, the conversation, provenance and copying.

Threads live in :mod:`tui.threads`, the commands that are not chat turns (ingest, model,
memories, inbox, help, the palette) in :mod:`tui.actions`; both are mixed into the app.

The UI mounts first and the model loads in a thread worker, so the app answers keys at once;
the status bar says "loading model…" until it is ready. Every call into the library runs in a
thread worker through :class:`~tui.session.Session`, and the worker hands events back with
``call_from_thread``. Failures (model, ingest, a bad command) become notifications: nothing a
worker raises reaches Textual's error handler, which would end the app.

Provenance is kept for the replies of this session; replies loaded from an earlier session show
their text only (the turn log keeps no link from a reply to its record).
"""

from __future__ import annotations

import asyncio
import inspect
import sys
from collections.abc import Callable
from typing import Any, cast

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import (
    Footer,
    Label,
    LoadingIndicator,
    Markdown,
    Static,
)

from agent.api import CitationEvent, DoneEvent, NodeEnd, NodeStart, TokenEvent, Turn
from tui.actions import ActionsMixin
from tui.commands import CommandError, complete, parse
from tui.screens import InboxItem
from tui.session import ModelInfo, Session
from tui.threads import ThreadList, ThreadsMixin
from tui.widgets import (
    MessageView,
    PromptInput,
    StatusInfo,
    code_blocks,
    provenance_text,
    status_text,
)

CSS = """
#sidebar { width: 22; border-right: solid $primary-darken-2; }
#sidebar.hidden, #provenance.hidden { display: none; }
#sidebar > Label { padding: 0 1; text-style: bold; }
#threads { height: 1fr; }
#threads Label { width: 1fr; text-wrap: nowrap; text-overflow: ellipsis; }
#main { width: 1fr; }
#chat { height: 1fr; padding: 0 1; }
#provenance { width: 36; border-left: solid $primary-darken-2; padding: 0 1; }
MessageView { height: auto; margin: 0 0 1 0; }
#welcome { color: $text-muted; }
#loading { height: 1; }
MessageView > .label { color: $text-muted; text-style: bold; }
MessageView.user > .label { color: $accent; }
MessageView:focus { background: $boost; }
MessageView:focus > .label { color: $success; }
MessageView > Markdown { margin: 0; padding: 0; }
#hint { height: auto; max-height: 4; color: $text-muted; padding: 0 1; }
#hint.empty { display: none; }
PromptInput { height: auto; max-height: 8; min-height: 3; }
#status { height: 1; background: $panel; }
ModalScreen { align: center middle; }
#dialog { width: 70; max-width: 95%; height: auto; max-height: 90%; border: thick $primary;
          background: $surface; padding: 0 1; }
#dialog.wide { width: 100; height: 90%; }
#dialog > .title { text-style: bold; }
#dialog > Label { width: 100%; }  /* a long question wraps instead of running past the border */
#help-scroll { height: 1fr; }
#help { height: auto; }
#memories, #inbox { height: 1fr; }
#detail { height: auto; max-height: 8; color: $text-muted; }
"""


class LorebookApp(ThreadsMixin, ActionsMixin, App[None]):
    """The chat app. ``session`` is the library behind it; ``thread`` the one to open first."""

    CSS = CSS
    TITLE = "lorebook"
    BINDINGS = [
        Binding("escape", "stop", "stop reply", show=False),
        Binding("f1", "help", "help"),
        Binding("ctrl+n", "new_thread", "new thread"),
        Binding("f2", "rename_thread", "rename"),
        Binding("ctrl+b", "toggle_panel('sidebar')", "threads"),
        Binding("ctrl+o", "toggle_panel('provenance')", "provenance"),
        Binding("ctrl+q", "quit", "quit"),
    ]

    def __init__(self, session: Session, *, thread: str = "main") -> None:
        super().__init__()
        self.session = session
        self.thread = thread
        self.status = StatusInfo(thread=thread)
        self.model: ModelInfo | None = None
        self.current: MessageView | None = None  # the reply being written
        self.selected: MessageView | None = None
        self.inbox: list[InboxItem] = []
        self.titles: dict[str, str] = {}  # threads created here, before their first turn
        self._shown_titles: dict[str, str] = {}  # what the sidebar lists, by thread
        self._threads_lock = asyncio.Lock()
        self._stream: Any = None
        self._queued: list[str] = []  # typed while the model was loading
        self._code_index = 0

    # -- start-up ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal():
            with Vertical(id="sidebar"):
                yield Label("Threads")
                yield ThreadList(id="threads")
            with Vertical(id="main"):
                yield VerticalScroll(id="chat")
                yield Static("", id="hint", classes="empty")
                yield PromptInput(id="prompt")
            yield VerticalScroll(Static(provenance_text(None), id="prov-body"), id="provenance")
        yield Static("", id="status")
        yield Footer()

    def on_mount(self) -> None:
        self._q("#prompt").focus()
        self._q("#chat").mount(
            Static("Loading the model… you can type already; F1 shows the keys.", id="welcome"),
            LoadingIndicator(id="loading"),
        )
        if self.size.width < 110:
            self.screen.query_one("#provenance").add_class("hidden")
        self._render_status()
        self._load_model(None)

    @work(thread=True, exit_on_error=False, group="model")
    def _load_model(self, model: str | None) -> None:
        try:
            info = self.session.open(model) if model else self.session.open()
        except Exception as exc:
            self.call_from_thread(self._model_failed, exc)
            return
        self.call_from_thread(self._model_ready, info)

    def _model_ready(self, info: ModelInfo) -> None:
        self.model = info
        self.status.loading, self.status.error = False, ""
        self.status.model, self.status.device, self.status.n_ctx = (
            info.name,
            info.device,
            info.n_ctx,
        )
        self._render_status()
        self._refresh_threads()
        self._load_history(self.thread, then=self._send_queued)

    async def _send_queued(self) -> None:
        if self._queued:
            await self.send(self._queued.pop(0))

    def _model_failed(self, exc: Exception) -> None:
        for widget in self._q("#chat").query("#loading"):
            widget.remove()
        self.status.loading, self.status.error = False, str(exc)
        self._render_status()
        self.notify(f"model failed to load: {exc}", severity="error", timeout=15)

    def _render_status(self) -> None:
        self._q("#status", Static).update(status_text(self.status))

    def _q(self, selector: str, kind: Any = None) -> Any:
        """A widget of the chat screen, even while a modal screen is on top."""
        screen = self.screen_stack[0]
        return screen.query_one(selector, kind) if kind else screen.query_one(selector)

    # -- sending ----------------------------------------------------------------------------

    @on(PromptInput.Changed, "#prompt")
    def _hint(self, event: PromptInput.Changed) -> None:
        text = event.text_area.text
        hint = self._q("#hint", Static)
        head = text.split(" ", 1)[0] if text.startswith("/") else ""
        matches = complete(head) if head else []
        if " " in text and head:
            matches = [c for c in matches if c.name == head[1:].lower()]
        hint.update("\n".join(f"{c.usage:<26} {c.help}" for c in matches[:4]))
        hint.set_class(not matches, "empty")

    @on(PromptInput.Submitted)
    async def _submitted(self, event: PromptInput.Submitted) -> None:
        await self.handle_line(event.text)

    async def handle_line(self, line: str) -> None:
        """Run what the user typed: a command, or a message to the agent."""
        try:
            parsed = parse(line)
        except CommandError as exc:
            self.notify(str(exc), severity="warning")
            return
        if parsed is None or parsed[0].turn:
            await self.send(line)
            return
        cmd, arg = parsed
        if cmd.capability and cmd.name != "ingest":  # ingest shows its progress (below)
            await self.run_capability(cmd.name, arg)
            return
        actions: dict[str, Callable[[], Any]] = {
            "ingest": lambda: self.ingest(arg),
            "memories": lambda: self.action_memories(arg),
            "inbox": self.action_inbox,
            "accept": self.accept_translation,
            "model": lambda: self.model_command(arg),
            "new": self.action_new_thread,
            "help": self.action_help,
            "quit": self.exit,
        }
        result = actions[cmd.name]()
        if inspect.isawaitable(result):
            await result

    async def send(self, text: str) -> None:
        if not self.session.ready:
            if self.status.error:
                self.notify("no model is loaded (see the status bar)", severity="error")
            else:
                self._queued.append(text)
                self.notify("the model is still loading: the message goes once it is ready")
            return
        if self.current is not None:
            self.notify("a reply is being written: wait, or press Esc", severity="warning")
            return
        chat = self._q("#chat")
        for welcome in chat.query("#welcome"):
            await welcome.remove()
        view = MessageView("assistant", label="lorebook …")
        await chat.mount_all([MessageView("user", text), view])
        chat.scroll_end(animate=False)
        self.current = view
        self._stream = Markdown.get_stream(view.body)
        self.status.busy = True
        self._render_status()
        self._select(view)
        self._run_turn(text, self.thread, view)

    @work(thread=True, exit_on_error=False, group="turn")
    def _run_turn(self, text: str, thread: str, view: MessageView) -> None:
        try:
            for event in self.session.stream(text, thread):
                self.call_from_thread(cast(Any, self._on_event), view, event)
        except Exception as exc:
            self.call_from_thread(self._turn_failed, view, exc)

    async def _on_event(self, view: MessageView, event: Any) -> None:
        if isinstance(event, TokenEvent):
            if not view.stopped and self._stream is not None and self.current is view:
                view.text += event.text
                await self._stream.write(event.text)
                self._q("#chat").scroll_end(animate=False)
        elif isinstance(event, NodeStart):
            view.nodes.append((event.node, None))
            view.set_label(f"lorebook · {event.node}…")
            self._show_provenance(view)
        elif isinstance(event, NodeEnd):
            view.nodes = [(n, event.ms if n == event.node else ms) for n, ms in view.nodes]
            self._show_provenance(view)
        elif isinstance(event, CitationEvent):
            pass  # the Turn carries them all; the panel shows them at DoneEvent
        elif isinstance(event, DoneEvent):
            await self._finish(view, event.turn)

    async def _finish(self, view: MessageView, turn: Turn) -> None:
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
        stopped = turn.finish_reason == "cancelled"
        view.set_label(f"lorebook · {turn.route}" + (" · stopped" if stopped else ""))
        if not view.stopped and turn.text and turn.text != view.text:
            view.text = turn.text  # tool and memory routes answer without streaming
            await view.body.update(turn.text)
            chat = self._q("#chat")  # a long tool report must come into view once laid out
            self.call_after_refresh(chat.scroll_end, animate=False)
        view.turn = turn  # last: tests and the panel read a finished view
        gen_ms = turn.timings.get("generate", 0.0)
        if turn.completion_tokens and gen_ms > 0:
            self.status.tokens_per_s = turn.completion_tokens / (gen_ms / 1000)
        if turn.prompt_tokens:
            self.status.prompt_tokens = turn.prompt_tokens
        self._collect_facts(turn)
        self._end_turn()
        self._show_provenance(view)
        if turn.thread == self.thread:
            self._after_first_turn(turn.thread)

    def _turn_failed(self, view: MessageView, exc: Exception) -> None:
        view.error = str(exc)
        view.set_label("lorebook · error")
        if not view.text:
            view.body.update(f"*error: {exc}*")
        self.notify(str(exc), severity="error", timeout=10)
        if self._stream is not None:
            self.run_worker(self._stream.stop())
            self._stream = None
        self._end_turn()
        self._show_provenance(view)

    def _end_turn(self) -> None:
        self.current = None
        self.status.busy = False
        self._render_status()

    def action_stop(self) -> None:
        """Esc: stop the reply at once (the model stops at its next token)."""
        view = self.current
        if view is None:
            return
        self.session.cancel()
        if any(node == "generate" and ms is not None for node, ms in view.nodes):
            return  # the reply is complete; what follows (storing facts) is not stopped
        view.stopped = True
        view.set_label("lorebook · stopped")
        self.notify("reply stopped")

    def _collect_facts(self, turn: Turn) -> None:
        new = 0
        for f in turn.facts:
            if f.get("action") == "pending":
                self.inbox.append(InboxItem(f["text"], turn.thread, "pending"))
                new += 1
            elif f.get("action") == "added":
                self.inbox.append(InboxItem(f["text"], turn.thread, "stored", f.get("id")))
                if turn.route != "remember" or turn.route_reason.startswith("rule"):
                    # a command says so in its reply; a statement gets the undo hint
                    self.notify(f"remembered: {f['text']} (/inbox to undo)")
        self.status.inbox = sum(1 for i in self.inbox if i.state == "pending")
        if new:
            self.notify(f"{new} fact(s) wait in the inbox: /inbox to accept or reject")

    # -- provenance and copying -------------------------------------------------------------

    @on(MessageView.Selected)
    def _selected(self, event: MessageView.Selected) -> None:
        self._select(event.view)

    def _select(self, view: MessageView) -> None:
        if view.role == "assistant":
            if view is not self.selected:
                self._code_index = 0
            self.selected = view
            self._show_provenance(view)

    def _show_provenance(self, view: MessageView) -> None:
        if view is self.selected:
            self._q("#prov-body", Static).update(provenance_text(view))

    def copy_text(self, text: str, what: str) -> None:
        if not text:
            self.notify(f"nothing to copy in this {what}", severity="warning")
            return
        self.copy_to_clipboard(text)
        self.notify(f"copied the {what} ({len(text)} characters)")

    def _target(self) -> MessageView | None:
        focused = self.focused
        if isinstance(focused, MessageView):
            return focused
        return self.selected or self._last_reply()

    def action_copy_reply(self) -> None:
        view = self._target()
        if view is not None:
            self.copy_text(view.text, "reply")

    def action_copy_code(self) -> None:
        view = self._target()
        blocks = code_blocks(view.text) if view else []
        if not blocks:
            self.notify("no code block in this reply", severity="warning")
            return
        i = self._code_index % len(blocks)
        self._code_index = i + 1
        self.copy_text(blocks[i], f"code block {i + 1}/{len(blocks)}")

    def _last_reply(self) -> MessageView | None:
        replies = [v for v in self._q("#chat").query(MessageView) if v.role == "assistant"]
        return replies[-1] if replies else None

    # -- plumbing ---------------------------------------------------------------------------

    def _work(self, fn: Callable[[], Any], then: Callable[[Any], Any]) -> None:
        self._worker(fn, then)

    @work(thread=True, exit_on_error=False)
    def _worker(self, fn: Callable[[], Any], then: Callable[[Any], Any]) -> None:
        try:
            result = fn()
        except Exception as exc:  # shown, never raised into the app
            self.call_from_thread(self.notify, str(exc), severity="error", timeout=10)
            return
        self.call_from_thread(then, result)

    def on_unmount(self) -> None:
        self.session.close()


def run(session: Session, thread: str = "main") -> int:
    """Run the app in this terminal until the user quits; returns the exit status.

    An error met only while closing (a database another program damaged) is printed on
    stderr once the terminal is back, as one line, and makes the status 2.
    """
    LorebookApp(session, thread=thread).run()
    session.close()  # already closed at unmount, unless the app failed to start
    if session.closing_error is not None:
        print(f"error: {session.closing_error}", file=sys.stderr)
        return 2
    return 0
