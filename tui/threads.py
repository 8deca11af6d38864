"""The threads sidebar and what the app does with threads: create, switch, rename, delete.

A thread made here (Ctrl+N, /new) exists only in the app until its first message: the turn
log records a thread when it has a turn. Its title, if the user renamed it before that, is
applied after the first turn. Everything reaches the library through ``Session`` calls run in
thread workers (``_work``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual.binding import Binding
from textual.widgets import Label, ListItem, ListView, Static

from tui.screens import AskScreen, ConfirmScreen
from tui.widgets import MessageView, StatusInfo, provenance_text

if TYPE_CHECKING:
    from textual.app import App

    from tui.session import Session

    _Host = App[None]
else:
    _Host = object


class ThreadList(ListView):
    """The threads sidebar: Enter switches, r renames, d deletes, n starts a new one."""

    BINDINGS = [
        Binding("r", "app.rename_thread", "rename"),
        Binding("d,delete", "app.delete_thread", "delete"),
        Binding("n", "app.new_thread", "new"),
    ]


class ThreadsMixin(_Host):
    """The app's thread actions (mixed into ``LorebookApp``)."""

    if TYPE_CHECKING:
        session: Session
        thread: str
        status: StatusInfo
        current: MessageView | None
        selected: MessageView | None
        titles: dict[str, str]
        _shown_titles: dict[str, str]
        _threads_lock: asyncio.Lock

        def _work(self, fn: Callable[[], Any], then: Callable[[Any], Any]) -> None: ...
        def _q(self, selector: str, kind: Any = None) -> Any: ...
        def _render_status(self) -> None: ...

    def _refresh_threads(self) -> None:
        self._work(self.session.threads, self._show_threads)

    def title_of(self, thread: str) -> str:
        """What the user sees for ``thread``: its title, else the id (a thread with no turn)."""
        return self.titles.get(thread) or self._shown_titles.get(thread) or thread

    async def _show_threads(self, infos: list[Any]) -> None:
        known = {t.thread: t.title for t in infos}
        for thread in list(self.titles):
            if thread in known:
                del self.titles[thread]
        rows = dict([*self.titles.items(), *known.items()])  # one row per thread
        if self.thread not in rows:
            rows = {self.thread: self.thread, **rows}
        self._shown_titles = rows
        # Two refreshes close together (a turn ends as a rename lands) both cleared the list
        # and appended without waiting for the clear: every thread was listed twice. The
        # lock makes one refresh finish before the next starts.
        async with self._threads_lock:
            lv = self._q("#threads", ListView)
            await lv.clear()
            await lv.extend(
                ListItem(Label(title, markup=False), name=thread) for thread, title in rows.items()
            )
            lv.index = list(rows).index(self.thread)

    def on_list_view_selected(self, event: ListView.Selected) -> None:
        if event.list_view.id != "threads":
            return
        name = event.item.name
        if name and name != self.thread:
            self.switch_thread(name)

    def switch_thread(self, thread: str) -> None:
        if self.current is not None:
            self.notify("stop the reply first (Esc)", severity="warning")
            return
        self.thread = self.status.thread = thread
        self.status.prompt_tokens = 0
        self._render_status()
        self._load_history(thread)

    def _load_history(self, thread: str, then: Callable[[], Any] | None = None) -> None:
        self._work(
            lambda: self.session.history(thread), lambda h: self._show_history(thread, h, then)
        )

    async def _show_history(
        self, thread: str, messages: list[dict[str, str]], then: Callable[[], Any] | None = None
    ) -> None:
        if thread != self.thread:
            return
        chat = self._q("#chat")
        await chat.remove_children()
        self.selected = None
        self._q("#prov-body", Static).update(provenance_text(None))
        await chat.mount_all(
            MessageView("user" if m["role"] == "user" else "assistant", m["content"])
            for m in messages
        )
        if not messages:
            await chat.mount(
                Static("Type a message and press Enter; /help lists the commands.", id="welcome")
            )
        chat.scroll_end(animate=False)
        self._q("#prompt").focus()
        if then is not None:
            await then()

    def action_new_thread(self) -> None:
        if self.current is not None:
            self.notify("stop the reply first (Esc)", severity="warning")
            return
        thread = time.strftime("t%Y%m%d-%H%M%S")
        while thread in self.titles:
            thread += "x"
        self.titles[thread] = "New chat"
        self.switch_thread(thread)
        self._refresh_threads()
        self.notify("new chat: F2 names it")

    def _after_first_turn(self, thread: str) -> None:
        title = self.titles.get(thread)
        if title and title != "New chat":
            self._work(lambda: self.session.rename_thread(thread, title), lambda _: None)
        self._refresh_threads()

    def _highlighted_thread(self) -> str:
        lv = self._q("#threads", ListView)
        item = lv.highlighted_child if lv.has_focus else None
        return (item.name if item is not None else None) or self.thread

    def action_rename_thread(self, thread: str | None = None) -> None:
        thread = thread or self._highlighted_thread()

        def done(title: str | None) -> None:
            if not title:
                return
            if thread in self.titles:
                self.titles[thread] = title
                self._refresh_threads()
                return
            self._work(
                lambda: self.session.rename_thread(thread, title),
                lambda _: self._refresh_threads(),
            )

        title = self.title_of(thread)
        self.push_screen(AskScreen(f"New title for “{title}”", title), done)

    def action_delete_thread(self, thread: str | None = None) -> None:
        thread = thread or self._highlighted_thread()
        title = self.title_of(thread)

        def done(yes: bool | None) -> None:
            if not yes:
                return
            if thread == self.thread and self.current is not None:
                self.notify("stop the reply first (Esc)", severity="warning")
                return
            self.titles.pop(thread, None)
            self._work(lambda: self.session.delete_thread(thread), lambda _: deleted())

        def deleted() -> None:
            self.notify(f"deleted “{title}”")
            if thread == self.thread:
                self.switch_thread("main" if thread != "main" else time.strftime("t%H%M%S"))
            self._refresh_threads()

        self.push_screen(ConfirmScreen(f"Delete “{title}” and all its messages?"), done)
