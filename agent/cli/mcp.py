"""The ``lorebook mcp`` subcommand: serve lorebook to other agents over MCP.

    lorebook mcp                                    stdio, for a desktop client to start
    lorebook mcp --http --port 8765                 streamable HTTP on 127.0.0.1:8765/mcp
    lorebook mcp --http --host 0.0.0.0 --token T    another interface: a bearer token required

The server itself is :mod:`agent.mcp_server`; it is imported when the command runs, because the
MCP SDK and its web stack take about 2 s to import, which no other subcommand should pay.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from agent.cli.common import Handler
from agent.settings import Settings

TOKEN_ENV = "LOREBOOK_MCP_TOKEN"


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> dict[str, Handler]:
    """Add ``mcp`` to the subcommands; returns its handler by name."""
    p = sub.add_parser(
        "mcp",
        parents=[common],
        help="serve memory, documents and tools to other agents (Model Context Protocol)",
    )
    p.add_argument(
        "--user", default="me", help="whose memories a call without 'user' uses (default: me)"
    )
    p.add_argument(
        "--allow-code",
        action="store_true",
        help="offer the code tool, which runs generated code in the sandbox (off by default)",
    )
    p.add_argument("--http", action="store_true", help="streamable HTTP instead of stdio")
    p.add_argument("--host", default="127.0.0.1", help="--http: address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="--http: port (default 8765)")
    p.add_argument(
        "--token",
        default=argparse.SUPPRESS,
        help=f"--http: bearer token clients must send (default: ${TOKEN_ENV}); required when "
        "--host is not a loopback address",
    )
    return {"mcp": cmd_mcp}


def cmd_mcp(args: argparse.Namespace, settings: Settings) -> int:
    from agent.mcp_server import LorebookMCP, serve_http, serve_stdio

    app = LorebookMCP(settings, user=args.user, allow_code=args.allow_code)
    if args.http:
        token = getattr(args, "token", None) or os.environ.get(TOKEN_ENV, "")
        serve_http(app, args.host, args.port, token)
    else:
        serve_stdio(app)
    return 0
