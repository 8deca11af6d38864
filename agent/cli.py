"""The ``lorebook`` command line: ask, chat, doctor, models.

A thin front end: it builds :class:`~agent.settings.Settings` from flags and calls the same
library functions the other front ends use. Errors lorebook raises on purpose are printed as
one ``error:`` line (exit status 2); Ctrl-C stops a reply mid-stream.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from agent.errors import LorebookError
from agent.settings import Settings, field_docs, load_settings

# flag -> (settings field, type)
_FLAGS: dict[str, tuple[str, type]] = {
    "--home": ("home", str),
    "--model": ("model", str),
    "--backend": ("backend", str),
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

    sub.add_parser("chat", parents=[common], help="chat with the model in the terminal")
    sub.add_parser("doctor", parents=[common], help="check the installation, one line per check")

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
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    names = {name for name, _ in _FLAGS.values()} | {"verbose"}
    return load_settings({k: v for k, v in vars(args).items() if k in names})


def _stream_out(stream: Any, out: Any) -> Any:
    """Print a Stream as it arrives. Ctrl-C cancels it; returns None when it was cancelled.

    SIGINT sets the stream's cancel token instead of raising KeyboardInterrupt, so a Ctrl-C
    during a long prompt evaluation takes effect inside llama.cpp (its abort callback polls
    the token) rather than after the current batch.
    """
    previous = signal.getsignal(signal.SIGINT)
    in_main = threading.current_thread() is threading.main_thread()
    if in_main:
        signal.signal(signal.SIGINT, lambda *_: stream.cancel())
    try:
        for piece in stream:
            out.write(piece)
            out.flush()
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous)
    done = stream.completion
    if done is None or done.finish_reason == "cancelled":
        out.write("\n[stopped]\n")
        return None
    out.write("\n")
    return done


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from agent.llm import open_llm

    question = " ".join(args.question)
    if question == "-":
        question = sys.stdin.read()
    with open_llm(settings) as llm:
        if args.raw:
            stream = llm.stream(question)
        else:
            stream = llm.stream_chat([{"role": "user", "content": question}])
        done = _stream_out(stream, sys.stdout)
    return 0 if done is not None else 130


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    from agent.llm import open_llm

    with open_llm(settings) as llm:
        device = llm.info().get("device", "?")
        print(
            f"lorebook chat: {llm.model_name} on {device}. Ctrl-C stops a reply; "
            "/quit or Ctrl-D leaves.",
            flush=True,
        )
        history: list[dict[str, str]] = []
        while True:
            try:
                line = input("you> ")
            except (EOFError, KeyboardInterrupt):
                print()
                return 0
            if line.strip() in ("/quit", "/exit"):
                return 0
            if not line.strip():
                continue
            history.append({"role": "user", "content": line})
            sys.stdout.write("lorebook> ")
            done = _stream_out(llm.stream_chat(history), sys.stdout)
            if done is None:
                history.pop()
                continue
            history.append({"role": "assistant", "content": done.text})
            print(
                f"  [{done.completion_tokens} tokens, {done.tokens_per_second:.1f} tok/s"
                f"{', older turns dropped to fit' if done.truncated else ''}]",
                flush=True,
            )


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    from agent.doctor import doctor

    return doctor(settings)


def cmd_models(args: argparse.Namespace, settings: Settings) -> int:
    from agent.registry import ModelRegistry

    reg = ModelRegistry(settings.home)
    action = args.models_command
    if action == "list":
        reg.resolve(None)  # registers the default model on first run
        current, previous = reg.current_name(), reg.previous_name()
        for e in reg.entries():
            mark = "*" if e.name == current else ("<" if e.name == previous else " ")
            ctx = e.context_length or "?"
            print(
                f"{mark} {e.name:<20} {e.quantization:<8} {e.size / 2**20:>7.0f} MiB  "
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
    return 0


_COMMANDS = {"ask": cmd_ask, "chat": cmd_chat, "doctor": cmd_doctor, "models": cmd_models}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lorebook`` console script."""
    args = build_parser().parse_args(argv)
    try:
        settings = _settings(args)
        return _COMMANDS[args.command](args, settings)
    except LorebookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
