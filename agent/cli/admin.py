"""``lorebook threads``, ``logs``, ``graph``, ``doctor`` and ``serve-model``: looking after
an installation rather than talking to it."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from agent.cli.common import Handler
from agent.errors import ConfigError
from agent.settings import Settings
from agent.turnlog import TurnLog, open_checkpointer


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> dict[str, Handler]:
    """Add the housekeeping subcommands; returns their handlers by name."""
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
    return {
        "threads": cmd_threads,
        "logs": cmd_logs,
        "graph": cmd_graph,
        "doctor": cmd_doctor,
        "serve-model": cmd_serve_model,
    }


def cmd_threads(args: argparse.Namespace, settings: Settings) -> int:
    log = TurnLog(settings.home / "agent.sqlite")
    try:
        if args.rename:
            thread, title = args.rename
            if not log.rename(args.user, thread, title):
                raise ConfigError(f"no thread {thread!r} for user {args.user!r}")
            print(f"renamed thread {thread!r} to {title!r}")
        if args.delete:
            # As Agent.delete_thread does, without the model and the turn graph (9 s to 1 s).
            known = {t.thread: t.title for t in log.threads(args.user)}
            conn, saver = open_checkpointer(settings.home, settings.database_url)
            try:
                saver.delete_thread(f"{args.user}/{args.delete}")
            finally:
                conn.close()
            if not log.delete(args.user, args.delete):
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
    from agent.pipeline.graph import Services, build_graph  # LangGraph: only for this command

    print(build_graph(Services(llm=FakeLLM())).get_graph().draw_mermaid(), end="")
    return 0


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    from agent.doctor import doctor

    return doctor(settings, repair=args.repair)


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
