"""The ``lorebook`` command line, one module per group of subcommands.

=======================  ================================================================
module                   subcommands
=======================  ================================================================
``chat``                 ask, chat
``capabilities``         remember, recall, forget, ingest, search, translate, summarize,
                         code, review: generated from the capability registry
``batch``                batch, eval, compare
``admin``                threads, logs, graph, doctor, serve-model
``models``               models
``mcp``                  mcp
=======================  ================================================================

A thin front end: it builds :class:`~agent.settings.Settings` from flags and calls the same
library functions the other front ends use; :func:`~agent.cli.common.open_agent` is its one way
to open an agent. Errors lorebook raises on purpose are printed as one ``error:`` line (exit
status 2); Ctrl-C stops a reply mid-stream. Nothing heavy (the model, LangGraph, torch, the MCP
SDK) is imported before a command needs it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from agent.cli import admin, batch, capabilities, chat, mcp, models
from agent.cli.common import Handler, common_parser, open_agent, settings_from_args
from agent.errors import LorebookError

__all__ = ["build_parser", "main", "open_agent", "settings_from_args"]

_GROUPS = (chat, capabilities, batch, admin, models, mcp)


def _parser_and_handlers() -> tuple[argparse.ArgumentParser, dict[str, Handler]]:
    common = common_parser()
    parser = argparse.ArgumentParser(
        prog="lorebook",
        allow_abbrev=False,  # "--to" must not read as an abbreviation of --top-k/--top-p
        parents=[common],
        description="A local-first memory and retrieval agent on a quantized llama.cpp model.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    handlers: dict[str, Handler] = {}
    for group in _GROUPS:
        handlers.update(group.add_parsers(sub, common))
    return parser, handlers


def build_parser() -> argparse.ArgumentParser:
    """The whole ``lorebook`` argument parser."""
    return _parser_and_handlers()[0]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lorebook`` console script; returns the exit status."""
    # Nothing is downloaded at run time, and the embedder's loading bars are noise here.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    parser, handlers = _parser_and_handlers()
    args = parser.parse_args(argv)
    try:
        return handlers[args.command](args, settings_from_args(args))
    except LorebookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
