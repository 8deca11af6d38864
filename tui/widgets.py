"""The chat screen's widgets: the prompt, a message, the provenance panel, the status bar.

They only display what they are given and post messages; the app decides what happens. The
prompt is a ``TextArea`` (multi-line entry) in which Enter sends, Ctrl+J or a line ending in
``\\`` adds a line, Up/Down on the first/last line walk the history, and Tab completes a
slash command.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Markdown, Static, TextArea

from agent.api import Turn
from tui.commands import complete

_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)


def code_blocks(markdown: str) -> list[str]:
    """The fenced code blocks of a reply, in order.

    Example:
        >>> code_blocks("Try:\\n```py\\nprint(1)\\n```\\n")
        ['print(1)\\n']
    """
    return _FENCE.findall(markdown)


class PromptInput(TextArea):
    """The message box: Enter sends, Ctrl+J adds a line, Up/Down recall earlier messages."""

    class Submitted(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, **kwargs: object) -> None:
        super().__init__(show_line_numbers=False, soft_wrap=True, **kwargs)  # type: ignore[arg-type]
        self.sent: list[str] = []
        self._pos = 0  # index into history; len(history) = the draft being typed
        self._draft = ""

    def _set(self, text: str) -> None:
        self.load_text(text)
        lines = text.split("\n")
        self.move_cursor((len(lines) - 1, len(lines[-1])))

    async def _on_key(self, event: events.Key) -> None:
        row = self.cursor_location[0]
        last_row = self.document.line_count - 1
        key = event.key
        handled = True
        if key == "enter":
            if self.text.endswith("\\"):
                self._set(self.text[:-1] + "\n")
            else:
                self.submit()
        elif key in ("ctrl+j", "shift+enter", "alt+enter"):
            self.insert("\n")
        elif key == "up" and row == 0 and self._pos > 0:
            if self._pos == len(self.sent):
                self._draft = self.text
            self._pos -= 1
            self._set(self.sent[self._pos])
        elif key == "down" and row == last_row and self._pos < len(self.sent):
            self._pos += 1
            self._set(self.sent[self._pos] if self._pos < len(self.sent) else self._draft)
        elif key == "tab" and (matches := complete(self.text.strip())):
            self._set(f"/{matches[0].name} " if len(matches) == 1 else self._common(matches))
        else:
            handled = False
        if handled:
            event.stop()
            event.prevent_default()
        else:
            await super()._on_key(event)

    def _common(self, matches: list) -> str:
        names = [c.name for c in matches]
        stem = names[0]
        for n in names[1:]:
            while not n.startswith(stem):
                stem = stem[:-1]
        return "/" + stem

    def submit(self) -> None:
        """Send what is typed (what Enter does)."""
        text = self.text.strip()
        if not text:
            return
        if not self.sent or self.sent[-1] != text:
            self.sent.append(text)
        self._pos, self._draft = len(self.sent), ""
        self.load_text("")
        self.post_message(self.Submitted(text))


class MessageView(Vertical, can_focus=True):
    """One message. A reply is focusable: selecting it shows its provenance."""

    BINDINGS = [
        Binding("c", "app.copy_reply", "copy reply"),
        Binding("y", "app.copy_code", "copy code"),
    ]

    class Selected(Message):
        def __init__(self, view: MessageView) -> None:
            super().__init__()
            self.view = view

    def __init__(self, role: str, text: str = "", *, label: str = "") -> None:
        super().__init__(classes=role)
        self.role = role
        self.text = text
        self.label = label or ("you" if role == "user" else "lorebook")
        self.turn: Turn | None = None
        self.nodes: list[tuple[str, float | None]] = []
        self.stopped = False
        self.error: str | None = None

    def compose(self) -> ComposeResult:
        yield Static(self.label, classes="label")
        yield Markdown(self.text, classes="body")

    @property
    def body(self) -> Markdown:
        return self.query_one(Markdown)

    def set_label(self, label: str) -> None:
        self.label = label
        self.query_one(".label", Static).update(label)

    def on_focus(self) -> None:
        self.post_message(self.Selected(self))

    def on_click(self) -> None:
        self.focus()


def provenance_text(view: MessageView | None) -> Text:
    """The provenance panel's content for a reply (what was recalled, read, and how long)."""
    out = Text()
    if view is None or view.role != "assistant":
        out.append("Select a reply (click it, or Tab to it) to see where it came from.", "dim")
        return out
    turn = view.turn
    if turn is None:
        if view.nodes:
            out.append("running\n", "bold")
            for node, ms in view.nodes:
                out.append(f"  {node:<10} " + ("…" if ms is None else f"{ms:.0f} ms") + "\n")
        elif view.error:
            out.append(f"error: {view.error}\n", "red")
        else:
            out.append("No provenance: replies from earlier sessions keep only their text.", "dim")
        return out
    out.append("Route ", "bold")
    out.append(f"{turn.route}\n", "cyan")
    out.append(f"  {turn.route_reason}\n", "dim")
    out.append(f"\nMemories ({len(turn.memories)})\n", "bold")
    for m in turn.memories:
        out.append(f"  #{m.id} ", "dim")
        out.append(m.text)
        out.append(f"\n    score {m.score:.2f} · {m.date[:10]}\n", "dim")
    out.append(f"\nCitations ({len(turn.citations)})\n", "bold")
    for c in turn.citations:
        page = f" p.{c.page}" if c.page else ""
        out.append(f"  [{c.n}] {Path(c.path).name}{page}\n", "green")
        out.append(f'    "{c.quote[:160]}"\n', "italic")
    stored = [f for f in turn.facts if f.get("action") in ("added", "pending", "refreshed")]
    if stored:
        out.append("\nFacts\n", "bold")
        for f in stored:
            out.append(f"  {f['action']}: {f['text']}\n")
    out.append("\nTimings\n", "bold")
    for node, ms in turn.timings.items():
        out.append(f"  {node:<10} {ms:>7.0f} ms\n")
    out.append(
        f"\nTokens {turn.prompt_tokens} in, {turn.completion_tokens} out"
        f" · {turn.finish_reason or '-'}\n",
        "dim",
    )
    if turn.dropped:
        out.append(f"Dropped to fit: {', '.join(turn.dropped)}\n", "yellow")
    return out


@dataclass
class StatusInfo:
    """What the status bar shows."""

    model: str = ""
    device: str = ""
    loading: bool = True
    error: str = ""
    tokens_per_s: float | None = None
    prompt_tokens: int = 0
    n_ctx: int = 0
    thread: str = "main"
    busy: bool = False
    inbox: int = 0


def status_text(s: StatusInfo) -> Text:
    out = Text(no_wrap=True, overflow="ellipsis")
    if s.error:
        out.append(f" model failed: {s.error}", "bold red")
        return out
    if s.loading:
        out.append(" ⏳ loading model…", "bold yellow")
    else:
        out.append(f" {s.model}", "bold")
        out.append(f" · {s.device}")
        tps = "–" if s.tokens_per_s is None else f"{s.tokens_per_s:.1f}"
        out.append(f" · {tps} tok/s")
        if s.n_ctx:
            pct = 100 * s.prompt_tokens / s.n_ctx
            out.append(f" · ctx {s.prompt_tokens}/{s.n_ctx} ({pct:.0f}%)")
    out.append(f" · thread {s.thread}", "dim")
    if s.inbox:
        out.append(f" · inbox {s.inbox}", "bold magenta")
    if s.busy:
        out.append(" · generating (Esc stops)", "yellow")
    return out
