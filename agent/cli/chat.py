"""``lorebook ask`` and ``lorebook chat``: turns through the agent, streamed as they come.

``ask`` is the ``ask`` capability's command line, written out rather than generated because it
streams the reply and prints its provenance on stderr; its arguments keep the capability's
parameter names (``message``, ``user``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from agent.cli.common import Handler, ctrl_c_calls, open_agent
from agent.errors import LorebookError, StoreDamagedError
from agent.settings import Settings


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> dict[str, Handler]:
    """Add ``ask`` and ``chat``; returns their handlers by name."""
    ask = sub.add_parser("ask", parents=[common], help="answer one question, streamed")
    ask.add_argument(
        "message", nargs="+", metavar="question", help="the question ('-' reads it from stdin)"
    )
    ask.add_argument(
        "--raw",
        action="store_true",
        help="continue the text as a raw completion instead of answering as a chat",
    )
    ask.add_argument("--user", default="me", help="whose memories to use (default: me)")

    chat = sub.add_parser("chat", parents=[common], help="chat in the terminal (the Textual app)")
    chat.add_argument("--thread", default="main", help="conversation to continue (default: main)")
    chat.add_argument(
        "--plain",
        action="store_true",
        help="a line-by-line chat instead of the app (also used when stdin is not a terminal)",
    )
    chat.add_argument("--user", default="me", help="whose memories to use (default: me)")
    return {"ask": cmd_ask, "chat": cmd_chat}


def stream_out(stream: Any, out: Any) -> Any:
    """Print a Stream as it arrives. Ctrl-C cancels it; returns None when it was cancelled."""
    with ctrl_c_calls(stream.cancel):
        for piece in stream:
            out.write(piece)
            out.flush()
    done = stream.completion
    if done is None or done.finish_reason == "cancelled":
        out.write("\n[stopped]\n")
        return None
    out.write("\n")
    return done


def turn_out(agent: Any, events: Any, out: Any) -> Any:
    """Print a turn's tokens as they arrive; Ctrl-C cancels the reply. Returns the ``Turn``."""
    from agent.api import DoneEvent, TokenEvent  # loaded with the agent already

    turn = None
    streamed: list[str] = []
    with ctrl_c_calls(agent.cancel):
        for event in events:
            if isinstance(event, TokenEvent):
                out.write(event.text)
                out.flush()
                streamed.append(event.text)
            elif isinstance(event, DoneEvent):
                turn = event.turn
    assert turn is not None
    if not streamed:
        out.write(turn.text)
    elif turn.finish_reason != "cancelled" and "".join(streamed).strip() != turn.text.strip():
        # the streamed reply repeated a planted instruction; the thread keeps the cleaned one
        out.write(f"\n[cleaned: what your documents planted is left out] {turn.text}")
    out.write("\n[stopped]\n" if turn.finish_reason == "cancelled" else "\n")
    return turn


def provenance(turn: Any) -> str:
    """One line: the route, memories and sources used, facts stored, tokens and time."""
    parts = [f"route {turn.route}"]
    if turn.memories:
        parts.append("memories: " + "; ".join(f"#{m.id} {m.text[:40]}" for m in turn.memories))
    if turn.citations:
        parts.append(
            "sources: "
            + "; ".join(
                f"[{c.n}] {Path(c.path).name}" + (f" p.{c.page}" if c.page else "")
                for c in turn.citations
            )
        )
    stored = [f["text"] for f in turn.facts if f.get("action") == "added"]
    if stored:
        parts.append("remembered: " + "; ".join(stored))
    total = sum(turn.timings.values()) / 1000
    parts.append(f"{turn.completion_tokens} tokens, {total:.1f} s")
    return "  [" + " · ".join(parts) + "]"


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    question = " ".join(args.message)
    if question == "-":
        question = sys.stdin.read()
    if args.raw:
        from agent.llm import open_llm

        with open_llm(settings) as llm:
            done = stream_out(llm.stream(question), sys.stdout)
        return 0 if done is not None else 130
    with open_agent(settings) as agent:
        turn = turn_out(agent, agent.stream(question, thread=None, user=args.user), sys.stdout)
    print(provenance(turn), file=sys.stderr)  # stdout carries the answer alone
    return 130 if turn.finish_reason == "cancelled" else 0


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    if args.plain or not (sys.stdin.isatty() and sys.stdout.isatty()):
        return plain_chat(args, settings)
    from tui import Session, run  # Textual: only for the app

    def opener(model: str | None) -> Any:
        return open_agent(settings if model is None else settings.replace(model=model))

    return run(Session(opener, user=args.user), thread=args.thread)


def plain_chat(args: argparse.Namespace, settings: Settings) -> int:
    """A line-by-line chat on stdin/stdout (piped input, or ``--plain``)."""
    with open_agent(settings) as agent:
        device = agent.llm.info().get("device", "?")
        print(
            f"lorebook chat: {agent.llm.model_name} on {device}, thread {args.thread!r}. "
            "Ctrl-C stops a reply; /ingest PATH adds documents; /new starts a thread; "
            "/quit or Ctrl-D leaves.",
            flush=True,
        )
        thread = args.thread
        while True:
            try:
                line = input("you> ")
            except (EOFError, KeyboardInterrupt):
                print()
                return 0
            text = line.strip()
            if text in ("/quit", "/exit"):
                return 0
            if not text:
                continue
            if text.startswith("/ingest "):
                report = agent.ingest([text.split(" ", 1)[1].strip()])
                print(
                    f"  [ingested {report.chunks} chunks from {len(report.added)} new and "
                    f"{len(report.updated)} changed files; {len(report.errors)} errors]"
                )
                for err in report.errors:
                    print(f"  [error] {err}")
                continue
            if text == "/new":
                thread = f"t{int(time.time())}"
                print(f"  [new thread {thread!r}]")
                continue
            sys.stdout.write("lorebook> ")
            try:
                turn = turn_out(
                    agent, agent.stream(line, thread=thread, user=args.user), sys.stdout
                )
            except StoreDamagedError:
                print()
                raise  # every later turn would fail the same way: one line on stderr, status 2
            except LorebookError as exc:
                print(f"\n  [error] {exc}")
                continue
            print(provenance(turn), flush=True)
