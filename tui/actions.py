"""The app's commands that are not chat turns: ingest, model, memories, inbox, help, palette.

``/ingest``, ``/model``, ``/memories``, ``/inbox`` and ``/help`` land here, and the command
palette (Ctrl+P) lists the same actions. Library calls run in thread workers through the
``Session``; their failures become notifications.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import SystemCommand
from textual.screen import Screen

from tui.commands import COMMANDS
from tui.screens import HelpScreen, InboxItem, InboxScreen, MemoryBrowser
from tui.widgets import MessageView, PromptInput, StatusInfo

if TYPE_CHECKING:
    from textual.app import App

    from memory.documents import IngestProgress
    from tui.session import ModelInfo, Session

    _Host = App[None]
else:
    _Host = object


class ActionsMixin(_Host):
    """Commands handled by the app itself (mixed into ``LorebookApp``)."""

    if TYPE_CHECKING:
        session: Session
        status: StatusInfo
        model: ModelInfo | None
        current: MessageView | None
        inbox: list[InboxItem]

        def _work(self, fn: Callable[[], Any], then: Callable[[Any], Any]) -> None: ...
        def _q(self, selector: str, kind: Any = None) -> Any: ...
        def _render_status(self) -> None: ...
        def _model_ready(self, info: ModelInfo) -> None: ...
        def _model_failed(self, exc: Exception) -> None: ...
        def action_new_thread(self) -> None: ...
        def action_rename_thread(self, thread: str | None = None) -> None: ...
        def action_delete_thread(self, thread: str | None = None) -> None: ...
        def action_copy_reply(self) -> None: ...
        def action_copy_code(self) -> None: ...
        def action_stop(self) -> None: ...

    async def ingest(self, path: str) -> None:
        """``/ingest PATH``: a message in the conversation shows the progress, then the summary
        (a toast alone vanished before a long ingest ended)."""
        if not self.session.ready:
            self.notify("the model is still loading", severity="warning")
            return
        chat = self._q("#chat")
        for welcome in chat.query("#welcome"):
            await welcome.remove()
        view = MessageView("assistant", f"Reading `{path}`…", label="lorebook · ingest")
        await chat.mount(view)
        chat.scroll_end(animate=False)
        last = 0.0

        def progress(p: IngestProgress) -> None:  # in the worker thread
            nonlocal last
            now = time.monotonic()
            if p.chunks and p.done < p.chunks and now - last < 0.25:
                return  # the UI is told at most four times a second, and at each file's end
            last = now
            self.call_from_thread(view.body.update, ingest_progress_text(path, p))

        self._work(
            lambda: self.session.ingest(path, on_progress=progress),
            lambda report: self._ingested(view, path, report),
        )

    async def _ingested(self, view: MessageView, path: str, report: Any) -> None:
        view.text = ingest_summary(path, report)
        await view.body.update(view.text)
        self._q("#chat").scroll_end(animate=False)
        msg = (
            f"ingested {report.chunks} chunks: {len(report.added)} new, "
            f"{len(report.updated)} changed, {len(report.unchanged)} unchanged files"
        )
        self.notify(msg, severity="error" if report.errors else "information")

    async def run_capability(self, name: str, text: str) -> None:
        """``/recall``, ``/search``: a capability the app runs itself; its text in the chat."""
        if not self.session.ready:
            self.notify("the model is still loading", severity="warning")
            return
        chat = self._q("#chat")
        for welcome in chat.query("#welcome"):
            await welcome.remove()
        view = MessageView("assistant", f"/{name} {text}…", label=f"lorebook · {name}")
        await chat.mount(view)
        chat.scroll_end(animate=False)

        async def show(shown: str) -> None:
            view.text = f"```text\n{shown}\n```"
            await view.body.update(view.text)
            self._q("#chat").scroll_end(animate=False)

        self._work(lambda: self.session.run(name, text), show)

    def accept_translation(self) -> None:
        """``/accept``: the newest translation reply goes into the translation memory."""
        results = [
            v.turn.tool
            for v in self.query(MessageView)
            if v.turn is not None and v.turn.route == "translate" and v.turn.tool
        ]
        if not results:
            self.notify("no translation to accept yet: /translate <language> <text>")
            return
        result = results[-1]

        def done(stored: int) -> None:
            self.notify(
                f"kept {stored} segment pair{'s' if stored != 1 else ''} in your translation "
                "memory: later translations use them as examples"
            )

        self._work(lambda: self.session.accept_translation(result), done)

    def model_command(self, name: str) -> None:
        if not self.session.ready:
            self.notify("the model is still loading", severity="warning")
            return
        if not name:
            self._work(self.session.models, self._show_models)
            return
        if self.current is not None:
            self.notify("stop the reply first (Esc)", severity="warning")
            return
        self.status.loading = True
        self._render_status()
        self._switch_model(name)

    @work(thread=True, exit_on_error=False, group="model")
    def _switch_model(self, name: str) -> None:
        try:
            info = self.session.use_model(name)
        except Exception as exc:
            self.call_from_thread(self._model_failed, exc)
            if not self.session.ready:
                return
            self.call_from_thread(self._model_ready, self.session.info())
            return
        self.call_from_thread(self._model_ready, info)
        self.call_from_thread(self.notify, f"now using {info.name}")

    def _show_models(self, result: tuple[list[str], str | None]) -> None:
        names, current = result
        assert self.model is not None
        listed = ", ".join(("*" if n == current else "") + n for n in names) or "none registered"
        self.notify(
            f"model {self.model.name} on {self.model.device}, context {self.model.n_ctx}. "
            f"Registered: {listed}. /model NAME switches.",
            timeout=10,
        )

    def action_memories(self, query: str = "") -> None:
        if not self.session.ready:
            self.notify("the model is still loading", severity="warning")
            return
        self.push_screen(MemoryBrowser(self.session, query))

    def action_inbox(self) -> None:
        if not self.session.ready:
            self.notify("the model is still loading", severity="warning")
            return
        inbox_on = self.model.inbox if self.model else False

        def closed(_: None) -> None:
            self.status.inbox = sum(1 for i in self.inbox if i.state == "pending")
            self._render_status()

        self.push_screen(InboxScreen(self.session, self.inbox, inbox_on), closed)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_toggle_panel(self, panel: str) -> None:
        widget = self._q(f"#{panel}")
        widget.toggle_class("hidden")
        if panel == "provenance" and not widget.has_class("hidden") and self.size.width < 100:
            self._q("#sidebar").add_class("hidden")  # at 80 columns the chat needs the room

    def action_prefill(self, text: str) -> None:
        prompt = self._q("#prompt", PromptInput)
        prompt._set(text)
        prompt.focus()

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield SystemCommand("New thread", "start a new conversation (/new)", self.action_new_thread)
        yield SystemCommand("Rename thread", "rename this conversation", self.action_rename_thread)
        yield SystemCommand("Delete thread", "delete this conversation", self.action_delete_thread)
        yield SystemCommand(
            "Memories", "browse and edit memories (/memories)", self.action_memories
        )
        yield SystemCommand("Inbox", "review facts from the chat (/inbox)", self.action_inbox)
        yield SystemCommand("Model", "show or switch the model (/model)", self.action_model)
        yield SystemCommand("Copy reply", "copy the selected reply", self.action_copy_reply)
        yield SystemCommand("Copy code block", "copy a code block", self.action_copy_code)
        yield SystemCommand("Stop reply", "stop the reply being written (Esc)", self.action_stop)
        yield SystemCommand("Help", "keys and commands (/help)", self.action_help)
        for c in COMMANDS:
            if c.capability:
                yield SystemCommand(
                    f"/{c.name}", c.help, lambda n=c.name: self.action_prefill(f"/{n} ")
                )
        yield SystemCommand("Quit", "leave lorebook (/quit)", self.exit)

    def action_model(self) -> None:
        self.model_command("")


def ingest_progress_text(path: str, p: IngestProgress) -> str:
    """The ingest message while it runs: which file of how many, and its chunks embedded."""
    where = (
        f"file {p.index} of {p.files}, `{Path(p.path).name}`"
        if p.files > 1
        else (f"`{Path(p.path).name}`")
    )
    if not p.chunks:
        return f"Ingesting `{path}`: reading {where}…"
    pct = 100 * p.done // p.chunks
    return f"Ingesting `{path}`: {where}, {p.done} of {p.chunks} chunks embedded ({pct}%)…"


def ingest_summary(path: str, report: Any) -> str:
    """The ingest message once done: what was added, changed, dropped, and what went wrong."""
    counts = [
        f"{len(report.added)} new",
        f"{len(report.updated)} changed",
        f"{len(report.unchanged)} unchanged",
    ]
    if report.removed:
        counts.append(f"{len(report.removed)} removed")
    lines = [
        f"Ingested `{path}`: {', '.join(counts)} files, {report.chunks} chunks "
        f"in {report.seconds:.1f} s."
    ]
    names = [Path(p).name for p in [*report.added, *report.updated]]
    if names:
        shown = ", ".join(f"`{n}`" for n in names[:8])
        lines.append(f"Added or updated: {shown}" + (" …" if len(names) > 8 else "") + ".")
    problems = [f"- error: {e.message}" for e in report.errors]
    problems += [f"- skipped: {w.message}" for w in getattr(report, "skipped", [])]
    if problems:
        lines.append("\n".join(problems))
    if names:
        lines.append("Ask about them in the chat; answers cite the passage.")
    return "\n\n".join(lines)
