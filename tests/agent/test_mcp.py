"""``lorebook mcp``: driven with the MCP SDK's own client, in process and over stdio.

In process, ``Client(app.server)`` speaks the protocol to the server object; the stdio test
starts the server as a subprocess as a desktop client does. Both use the hash embedder; the
in-process tests give the agent a ``FakeLLM``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client, StdioServerParameters

from agent.capabilities import CAPABILITIES
from agent.errors import ConfigError
from agent.llm.fake import FakeLLM
from agent.mcp_server import BearerToken, LorebookMCP, serve_http
from agent.settings import load_settings

REPO = Path(__file__).resolve().parents[2]


def _app(home: Path, **kw: Any) -> LorebookMCP:
    settings = load_settings(
        {"home": home, "embedder": "hash", "route_with_model": False, "memorize": False}, env={}
    )
    return LorebookMCP(settings, open_llm=lambda s: FakeLLM(default="Hello from the model."), **kw)


def _drive(app: LorebookMCP, script: Callable[[Client], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        async with Client(app.server) as client:
            return await script(client)

    try:
        return anyio.run(main)
    finally:
        app.workspace.close()


def _text(result: Any) -> str:
    return "\n".join(block.text for block in result.content)


def test_tools_are_the_safe_capabilities_with_their_schemas(tmp_path: Path) -> None:
    app = _app(tmp_path, user="ann")
    tools = _drive(app, lambda c: c.list_tools()).tools
    assert [t.name for t in tools] == [c.name for c in CAPABILITIES.values() if c.safe]
    for tool in tools:
        cap = CAPABILITIES[tool.name]
        assert tool.description == cap.description
        expected = cap.schema()
        if "user" in expected["properties"]:
            expected["properties"]["user"]["default"] = "ann"  # the server's user
        assert tool.input_schema == expected
    recall = next(t for t in tools if t.name == "recall")
    assert recall.input_schema["properties"]["k"]["minimum"] == 1
    assert recall.input_schema["required"] == ["query"]


def test_code_is_offered_only_when_allowed(tmp_path: Path) -> None:
    async def call_code(c: Client) -> Any:
        names = [t.name for t in (await c.list_tools()).tools]
        return names, await c.call_tool("code", {"prompt": "reverse a list"})

    names, result = _drive(_app(tmp_path / "a"), call_code)
    assert "code" not in names
    assert result.is_error and "--allow-code" in _text(result)

    names = [t.name for t in _drive(_app(tmp_path / "b", allow_code=True), _list_tools)]
    assert "code" in names


async def _list_tools(c: Client) -> Any:
    return (await c.list_tools()).tools


def test_remember_recall_forget_round_trip_is_scoped_per_user(tmp_path: Path) -> None:
    app = _app(tmp_path, user="ann")

    async def script(c: Client) -> dict[str, Any]:
        out: dict[str, Any] = {}
        out["added"] = await c.call_tool("remember", {"text": "My sister is called Ana"})
        await c.call_tool("remember", {"text": "My sister is called Eve", "user": "bob"})
        out["ann"] = await c.call_tool("recall", {"query": "what is my sister called"})
        out["bob"] = await c.call_tool("recall", {"query": "sister", "user": "bob", "k": 3})
        memory_id = out["added"].structured_content["record"]["id"]
        out["bob_forgets_ann"] = await c.call_tool("forget", {"id": memory_id, "user": "bob"})
        out["forgot"] = await c.call_tool("forget", {"query": "sister"})
        out["after"] = await c.call_tool("recall", {"query": "what is my sister called"})
        out["bob_after"] = await c.call_tool("recall", {"query": "sister", "user": "bob"})
        return out

    out = _drive(app, script)
    assert not out["added"].is_error
    assert out["added"].structured_content["record"]["user"] == "ann"
    assert "My sister is called Ana" in _text(out["ann"])
    assert [h["record"]["text"] for h in out["ann"].structured_content["result"]] == [
        "My sister is called Ana"
    ]
    assert "Eve" in _text(out["bob"]) and "Ana" not in _text(out["bob"])
    assert out["bob_forgets_ann"].is_error
    assert _text(out["bob_forgets_ann"]).startswith("no memory with id")
    assert _text(out["forgot"]).startswith("forgot 1 memory")
    assert _text(out["after"]) == "no memories found"
    assert "Eve" in _text(out["bob_after"])
    assert not app.workspace.agent_opened  # memory alone never loads the model


def test_bad_arguments_are_a_tool_error_with_the_cli_message_and_the_server_goes_on(
    tmp_path: Path,
) -> None:
    async def script(c: Client) -> tuple[Any, Any, Any]:
        bad = await c.call_tool("recall", {"query": "x", "k": 0})
        missing = await c.call_tool("forget", {})
        good = await c.call_tool("remember", {"text": "I live in Lyon"})
        return bad, missing, good

    bad, missing, good = _drive(_app(tmp_path), script)
    assert bad.is_error
    assert _text(bad) == "recall: k: Input should be greater than or equal to 1"
    assert missing.is_error
    assert _text(missing) == "forget: say what to forget: a query, or an id (not both)"
    assert not good.is_error and _text(good).startswith("added #")


def test_a_rejected_fact_is_a_tool_error_saying_why(tmp_path: Path) -> None:
    result = _drive(_app(tmp_path), lambda c: c.call_tool("remember", {"text": "Where do I live?"}))
    assert result.is_error
    assert _text(result).startswith("not stored: ")
    assert result.structured_content["action"] == "rejected"


def test_ingest_then_search_and_the_resources(tmp_path: Path) -> None:
    doc = tmp_path / "lease.md"
    doc.write_text("The notice period is three months.\n\nPets are allowed.", encoding="utf-8")
    app = _app(tmp_path / "home", user="ann")

    async def script(c: Client) -> dict[str, Any]:
        out: dict[str, Any] = {}
        out["ingest"] = await c.call_tool("ingest", {"paths": [str(doc)]})
        out["search"] = await c.call_tool("search", {"query": "notice period", "k": 1})
        await c.call_tool("remember", {"text": "I live in Lyon"})
        await c.call_tool("remember", {"text": "I live in Oslo", "user": "bob"})
        out["listed"] = [str(r.uri) for r in (await c.list_resources()).resources]
        out["mine"] = await c.read_resource("lorebook://memories/ann")
        out["docs"] = await c.read_resource("lorebook://documents")
        return out

    out = _drive(app, script)
    assert _text(out["ingest"]).startswith("added 1, updated 0")
    hits = out["search"].structured_content["result"]
    assert hits[0]["citation"]["path"] == str(doc)
    assert "notice period is three months" in _text(out["search"])
    assert out["listed"] == ["lorebook://memories/ann", "lorebook://documents"]
    mine = json.loads(out["mine"].contents[0].text)
    assert [m["text"] for m in mine] == ["I live in Lyon"]
    assert [d["path"] for d in json.loads(out["docs"].contents[0].text)] == [str(doc)]
    assert not app.workspace.agent_opened


def test_ask_opens_the_model_on_first_use(tmp_path: Path) -> None:
    app = _app(tmp_path)
    result = _drive(app, lambda c: c.call_tool("ask", {"message": "Tell me a joke."}))
    assert not result.is_error
    assert _text(result) == "Hello from the model."
    assert result.structured_content["route"]


def test_http_off_loopback_refuses_to_start_without_a_token(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="without a bearer token"):
        serve_http(_app(tmp_path), host="0.0.0.0", port=0, token="")


def test_the_bearer_token_is_required_on_every_request() -> None:
    async def inner(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def main() -> list[int]:
        transport = httpx.ASGITransport(app=BearerToken(inner, "s3cret"))
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as http:
            return [
                (await http.get("/mcp")).status_code,
                (await http.get("/mcp", headers={"Authorization": "Bearer nope"})).status_code,
                (await http.get("/mcp", headers={"Authorization": "Bearer s3cret"})).status_code,
            ]

    assert anyio.run(main) == [401, 401, 200]


def test_stdio_subprocess_remembers_and_recalls(tmp_path: Path) -> None:
    """The server as a desktop client starts it: a subprocess speaking MCP on stdin/stdout."""
    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "agent.cli", "--home", str(tmp_path / "home"), "mcp"],
        env={**os.environ, "PYTHONPATH": str(REPO), "LOREBOOK_EMBEDDER": "hash"},
        cwd=str(REPO),
    )

    async def main() -> tuple[Any, Any]:
        async with Client(server) as c:
            added = await c.call_tool("remember", {"text": "My dog is called Rex"})
            return added, await c.call_tool("recall", {"query": "what is my dog called"})

    added, recalled = anyio.run(main)
    assert not added.is_error
    assert "My dog is called Rex" in _text(recalled)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_streamable_http_with_a_token(tmp_path: Path) -> None:
    """``serve_http`` in a subprocess, the SDK's HTTP client with and without the token."""
    import subprocess

    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    port = _free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    proc = subprocess.Popen(
        [sys.executable, "-c", _HTTP_MAIN, str(tmp_path / "home"), str(port)],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=str(REPO),
    )

    async def with_token() -> tuple[Any, Any]:
        for _ in range(120):  # the subprocess imports the SDK and starts uvicorn
            try:
                async with httpx2.AsyncClient(headers={"Authorization": "Bearer t0k"}) as http:
                    async with Client(streamable_http_client(url, http_client=http)) as c:
                        added = await c.call_tool("remember", {"text": "My cat is called Miso"})
                        return added, await c.call_tool("recall", {"query": "my cat"})
            except Exception:
                await anyio.sleep(0.25)
        raise AssertionError(f"no MCP server at {url}")

    async def without_token() -> int:
        async with httpx2.AsyncClient() as http:
            return int((await http.post(url, json={})).status_code)

    try:
        added, recalled = anyio.run(with_token)
        assert not added.is_error and "My cat is called Miso" in _text(recalled)
        assert anyio.run(without_token) == 401
    finally:
        proc.terminate()
        proc.wait(timeout=30)


_HTTP_MAIN = """
import sys
from agent.mcp_server import LorebookMCP, serve_http
from agent.settings import load_settings
app = LorebookMCP(load_settings({"home": sys.argv[1], "embedder": "hash"}, env={}))
serve_http(app, port=int(sys.argv[2]), token="t0k")
"""
