"""Slash commands: the table the input completes from, ``/help`` lists and the app dispatches.

One command per capability of the registry (:data:`agent.capabilities.CAPABILITIES`), then the
app's own. A command either goes to the agent as a turn (``/translate``, ``/remember`` …: the
pipeline's router recognises the slash and records the route) or is handled by the app itself
(``/recall``, ``/search``, ``/ingest``, ``/memories``, ``/new`` …). Parsing is pure, so it is
tested without an app.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.capabilities import CAPABILITIES, TOOLS


@dataclass(frozen=True)
class Command:
    """One slash command."""

    name: str
    args: str
    help: str
    turn: bool = False
    """True: sent to the agent as a message (the router handles the slash)."""
    needs_arg: bool = False
    capability: bool = False
    """True: a capability of :data:`agent.capabilities.CAPABILITIES` (its parameters are the
    capability's; the app runs it with :meth:`tui.session.Session.run` unless ``turn``)."""

    @property
    def usage(self) -> str:
        return f"/{self.name} {self.args}".rstrip()


BY_TURN = frozenset({"remember", "forget", "ask", *TOOLS})
"""The capabilities the turn pipeline's router takes as slash commands
(``agent/pipeline/routing.py``): their replies are turns, with provenance. The app runs the
others itself (``/recall``, ``/search``; ``/ingest`` with its progress)."""

_USAGE = {
    "translate": ("<lang> <text>", "translate text"),
    "summarize": (
        "[bullets|extractive] [words] <path|document|text>",
        "summarize a file, an ingested document or text",
    ),
    "code": ("<prompt>", "write code"),
    "review": ("<path|document>", "review a contract or licence"),
    "ingest": ("<path>", "add a file or folder to your documents"),
    "remember": ("<fact>", "store a fact about you"),
    "forget": ("<query>", "delete matching memories everywhere"),
    "recall": ("<query>", "search your memories"),
    "search": ("<query>", "search your documents"),
    "ask": ("<question>", "ask once, without keeping it in the conversation"),
}
"""Usage and help as a person types them; a capability missing here shows its first
parameter and its description."""


def _from_capability(name: str) -> Command:
    cap = CAPABILITIES[name]
    first = next(iter(cap.params.model_fields))
    args, help_ = _USAGE.get(name, (f"<{first}>", cap.description))
    return Command(name, args, help_, turn=name in BY_TURN, needs_arg=True, capability=True)


COMMANDS: tuple[Command, ...] = (
    *(_from_capability(name) for name in CAPABILITIES),
    Command("accept", "", "keep the last translation in your translation memory"),
    Command("memories", "[query]", "browse, search, edit and delete memories"),
    Command("inbox", "", "review facts taken from the conversation"),
    Command("model", "[name]", "show the model, or switch to a registered one"),
    Command("new", "", "start a new conversation"),
    Command("help", "", "keys and commands"),
    Command("quit", "", "leave"),
)
BY_NAME = {c.name: c for c in COMMANDS}


class CommandError(ValueError):
    """A bad command line; the message says what to type instead."""


def parse(line: str) -> tuple[Command, str] | None:
    """``(command, argument)`` for a slash command, None for a plain message.

    Raises:
        CommandError: an unknown command, or a missing argument.

    Example:
        >>> cmd, arg = parse("/translate French good morning")
        >>> cmd.name, arg
        ('translate', 'French good morning')
    """
    text = line.strip()
    if not text.startswith("/") or text.startswith("//"):
        return None
    name, _, arg = text[1:].partition(" ")
    name = name.strip().lower()
    cmd = BY_NAME.get(name)
    if cmd is None:
        near = ", ".join("/" + c.name for c in complete("/" + name[:1])) or "/help"
        raise CommandError(f"unknown command /{name} — try {near}")
    arg = arg.strip()
    if cmd.needs_arg and not arg:
        raise CommandError(f"usage: {cmd.usage} — {cmd.help}")
    return cmd, arg


def complete(prefix: str) -> list[Command]:
    """Commands whose ``/name`` starts with ``prefix`` (which starts with a slash)."""
    if not prefix.startswith("/") or " " in prefix:
        return []
    stem = prefix[1:].lower()
    return [c for c in COMMANDS if c.name.startswith(stem)]
