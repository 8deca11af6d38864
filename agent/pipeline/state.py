"""The state one turn carries through the graph, and its reducers.

Per-turn fields have no reducer: the turn's input sets them afresh, so nothing leaks from the
previous turn of a thread. ``history`` accumulates across turns (it is what the checkpointer
keeps), and ``timings`` merges one entry per node (``None`` in the input resets it). Everything
here is plain JSON-like data, so LangGraph's SQLite checkpointer stores it without custom types.
"""

from __future__ import annotations

from typing import Annotated, Any, TypedDict


def add_history(old: list[dict[str, str]] | None, new: list[dict[str, str]] | None) -> list:
    """Append the turn's messages to the thread's history."""
    return (old or []) + (new or [])


def merge_timings(old: dict[str, float] | None, new: dict[str, float] | None) -> dict:
    """Merge per-node milliseconds; a ``None`` update starts a new turn's record."""
    if new is None:
        return {}
    return {**(old or {}), **new}


class TurnState(TypedDict, total=False):
    """What flows between the nodes of one turn."""

    # input
    message: str
    user: str
    thread: str
    command: str | None
    """An explicit route (a slash command, a batch task type); None lets ``route`` decide."""
    # across turns
    history: Annotated[list[dict[str, str]], add_history]
    # this turn
    route: str
    route_reason: str
    payload: str
    """The text the route acts on (the fact to remember, the query to forget...)."""
    memories: list[dict[str, Any]]
    personal: bool
    """The question names someone or something only the user's memories know."""
    related: list[dict[str, Any]]
    """Memories about whom or what the question names that do not answer it: shown with an
    "I don't know" so the user sees what is known ("what diet does Priya follow?")."""
    chunks: list[dict[str, Any]]
    direct: str
    """A reply that needs neither memories nor the model: today's date, what the user told
    today, a greeting answered (base models); set by ``recall``, said by ``answer``."""
    prompt: str
    dropped: list[str]
    reply: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    facts: list[dict[str, Any]]
    tool_result: dict[str, Any] | None
    """A tool route's typed result as JSON (``Translation.to_dict()`` …)."""
    error: str | None
    timings: Annotated[dict[str, float], merge_timings]


def new_turn(message: str, user: str, thread: str, command: str | None = None) -> TurnState:
    """The input of a turn: the message, and every per-turn field reset."""
    return TurnState(
        message=message,
        user=user,
        thread=thread,
        command=command,
        route="",
        route_reason="",
        payload="",
        memories=[],
        personal=False,
        related=[],
        chunks=[],
        direct="",
        prompt="",
        dropped=[],
        reply="",
        finish_reason="",
        prompt_tokens=0,
        completion_tokens=0,
        facts=[],
        tool_result=None,
        error=None,
        timings=None,  # type: ignore[typeddict-item]
    )
