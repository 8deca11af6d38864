"""Modal screens: help, a one-line question, a yes/no, the memory browser and the memory inbox.

The browser and the inbox call the :class:`~tui.session.Session` from thread workers and show
failures as notifications; nothing here reaches the model or the store directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Input, Label, Markdown, Static

from tui.commands import COMMANDS
from tui.session import MemoryRow, Session

KEYS = """\
| key | does |
|---|---|
| Enter | send the message |
| Ctrl+J, or end a line with `\\` | new line in the message |
| Up / Down | earlier messages you sent |
| Tab | complete a `/command` |
| Esc | stop the reply being written |
| Ctrl+P | command palette |
| Ctrl+N | new conversation |
| F2 | rename this conversation |
| Ctrl+B / Ctrl+O | show or hide threads / provenance |
| Shift+Tab, Tab, click | select a reply (its provenance shows on the right) |
| c / y (on a reply) | copy the reply / its next code block |
| F1 | this help |
| Ctrl+Q | quit |

In the threads list: Enter switches, `r` renames, `d` deletes.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def help_markdown() -> str:
    # A | in a usage ("[bullets|extractive]") would end the table cell: escape it.
    rows = "\n".join(f"| `{_cell(c.usage)}` | {_cell(c.help)} |" for c in COMMANDS)
    return f"# Keys\n\n{KEYS}\n# Commands\n\n| command | does |\n|---|---|\n{rows}\n"


class HelpScreen(ModalScreen[None]):
    """Keybindings and slash commands, in a pane that scrolls (arrows, Page Up/Down, mouse):
    at 140x40 the commands table and the thread keys are below the first screenful."""

    BINDINGS = [Binding("escape,q,f1", "dismiss", "close")]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="wide"):
            with VerticalScroll(id="help-scroll"):
                yield Markdown(help_markdown(), id="help")
            yield Footer()

    def on_mount(self) -> None:
        self.query_one("#help-scroll").focus()  # so the keys scroll it at once


class AskScreen(ModalScreen[str | None]):
    """Asks for one line of text; dismisses with it, or None on Esc."""

    BINDINGS = [Binding("escape", "dismiss(None)", "cancel")]

    def __init__(self, question: str, value: str = "") -> None:
        super().__init__()
        self.question, self.value = question, value

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.question)
            yield Input(self.value, id="answer")

    @on(Input.Submitted)
    def _done(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question: y or Enter says yes, n or Esc says no."""

    BINDINGS = [
        Binding("y,enter", "dismiss(True)", "yes"),
        Binding("n,escape", "dismiss(False)", "no"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(self.question)
            yield Footer()


class MemoryBrowser(ModalScreen[None]):
    """Search, view versions, edit and delete the user's facts."""

    BINDINGS = [
        Binding("escape", "dismiss", "close"),
        Binding("h", "history", "history"),
        Binding("e", "edit", "edit"),
        Binding("d,delete", "delete", "delete"),
        Binding("a", "toggle_all", "superseded on/off"),
        Binding("down", "to_table", "to the list", show=False),
        Binding("slash", "to_search", "search", show=False),
    ]

    def __init__(self, session: Session, query: str = "") -> None:
        super().__init__()
        self.session, self.query_text = session, query
        self.include_history = False
        self.rows: list[MemoryRow] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="wide"):
            yield Label("Memories", classes="title")
            yield Input(self.query_text, placeholder="search (Enter)", id="search")
            yield DataTable(id="memories", cursor_type="row", zebra_stripes=True)
            yield Static("", id="detail")
            yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("id", "fact", "date", "")
        self.refresh_rows()
        # The search box has the focus: what the user types is a search, never a key of the
        # table (where d deletes). Enter or Down moves to the list, / comes back.
        self.query_one("#search", Input).focus()

    @on(Input.Submitted, "#search")
    def _search(self, event: Input.Submitted) -> None:
        self.query_text = event.value
        self.refresh_rows()
        self.query_one(DataTable).focus()

    def action_to_table(self) -> None:
        self.query_one(DataTable).focus()

    def action_to_search(self) -> None:
        self.query_one("#search", Input).focus()

    def _call(self, fn: Callable[[], Any], then: Callable[[Any], None]) -> None:
        self._worker(fn, then)

    @work(thread=True, exit_on_error=False)
    def _worker(self, fn: Callable[[], Any], then: Callable[[Any], None]) -> None:
        try:
            result = fn()
        except Exception as exc:  # shown, never raised into the app
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.app.call_from_thread(then, result)

    def refresh_rows(self) -> None:
        q, all_ = self.query_text, self.include_history
        self._call(lambda: self.session.memories(q, include_history=all_), self._show)

    def _show(self, rows: list[MemoryRow]) -> None:
        self.rows = rows
        table = self.query_one(DataTable)
        table.clear()
        for r in rows:
            state = "" if r.current else f"→ #{r.superseded_by}"
            table.add_row(str(r.id), r.text, r.date, state, key=str(r.id))
        what = "all versions" if self.include_history else "current facts"
        self.query_one("#detail", Static).update(
            f"{len(rows)} {what}" + (f' matching "{self.query_text}"' if self.query_text else "")
        )

    def _selected(self) -> MemoryRow | None:
        table = self.query_one(DataTable)
        if not self.rows or table.cursor_row is None or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row]

    def action_toggle_all(self) -> None:
        self.include_history = not self.include_history
        self.refresh_rows()

    def action_history(self) -> None:
        row = self._selected()
        if row is not None:
            self._call(lambda: self.session.memory_history(row.id), self._show_history)

    def _show_history(self, chain: list[MemoryRow]) -> None:
        lines = [
            f"{'•' if r.current else '×'} #{r.id} {r.date} {r.text}"
            + ("" if r.current else f"  (superseded by #{r.superseded_by})")
            for r in chain
        ]
        self.query_one("#detail", Static).update("History:\n" + "\n".join(lines))

    def action_edit(self) -> None:
        row = self._selected()
        if row is None:
            return

        def save(text: str | None) -> None:
            if text and text != row.text:
                self._call(lambda: self.session.edit_memory(row.id, text), self._edited)

        self.app.push_screen(AskScreen(f"Edit memory #{row.id}", row.text), save)

    def _edited(self, row: MemoryRow) -> None:
        self.notify(f"memory #{row.id} saved")
        self.refresh_rows()

    def action_delete(self) -> None:
        row = self._selected()
        if row is None:
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self._call(lambda: self.session.forget(row.id), self._deleted)

        self.app.push_screen(ConfirmScreen(f"Forget #{row.id} “{row.text}” everywhere?"), answer)

    def _deleted(self, ids: list[int]) -> None:
        self.notify(f"forgot memory #{', #'.join(map(str, ids))}")
        self.refresh_rows()


@dataclass
class InboxItem:
    """A fact taken from the conversation, and what became of it."""

    text: str
    thread: str | None
    state: str
    """pending | stored | accepted | rejected | undone"""
    id: int | None = None


class InboxScreen(ModalScreen[None]):
    """Facts from the conversation: accept or reject pending ones, undo stored ones."""

    BINDINGS = [
        Binding("escape", "dismiss", "close"),
        Binding("a", "accept", "accept"),
        Binding("r", "reject", "reject"),
        Binding("u", "undo", "undo (forget; what it replaced comes back)"),
    ]

    def __init__(self, session: Session, items: list[InboxItem], inbox_on: bool) -> None:
        super().__init__()
        self.session, self.items, self.inbox_on = session, items, inbox_on

    def compose(self) -> ComposeResult:
        mode = (
            "Facts wait here until you accept them (memory_inbox on)."
            if self.inbox_on
            else "Facts are stored at once (memory_inbox off); undo forgets one and brings back "
            "the fact it replaced."
        )
        with Vertical(id="dialog", classes="wide"):
            yield Label("Memory inbox", classes="title")
            yield Static(mode, id="mode")
            yield DataTable(id="inbox", cursor_type="row")
            yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("state", "fact")
        self._show()
        table.focus()

    def _show(self) -> None:
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        for item in self.items:
            table.add_row(item.state, item.text)
        if not self.items:
            table.add_row("", "nothing yet: facts you state in the chat show up here")
        if row is not None and self.items:
            table.move_cursor(row=min(row, len(self.items) - 1))

    def _selected(self, *states: str) -> InboxItem | None:
        table = self.query_one(DataTable)
        if not self.items or table.cursor_row is None or table.cursor_row >= len(self.items):
            return None
        item = self.items[table.cursor_row]
        return item if item.state in states else None

    @work(thread=True, exit_on_error=False)
    def _run(self, item: InboxItem, action: str) -> None:
        try:
            if action == "accept":
                result = self.session.accept_fact(item.text, item.thread)
                if result.action == "rejected":
                    raise ValueError(f"not stored: {result.reason}")
                item.id, item.state = result.record.id, "accepted"
            else:
                assert item.id is not None
                restored = self.session.undo_fact(item.id)
                item.state = "undone"
                if restored:
                    self.app.call_from_thread(
                        self.notify,
                        f"took back “{item.text}”; the fact it had replaced is current again",
                    )
        except Exception as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error")
        self.app.call_from_thread(self._show)
        self.app.call_from_thread(self.app.refresh_bindings)

    def action_accept(self) -> None:
        item = self._selected("pending")
        if item is not None:
            self._run(item, "accept")

    def action_reject(self) -> None:
        item = self._selected("pending")
        if item is not None:
            item.state = "rejected"
            self._show()

    def action_undo(self) -> None:
        item = self._selected("stored", "accepted")
        if item is not None:
            self._run(item, "undo")
