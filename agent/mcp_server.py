"""``lorebook mcp``: lorebook's memory, documents and tools for other agents, over MCP.

Built on the official MCP SDK's low-level ``Server`` (not hand-written JSON-RPC): the tools are
the capabilities of :mod:`agent.capabilities`, each with its parameter model's JSON schema, so
nothing here repeats a parameter. Memory is per user: tools that take ``user`` default to the
server's user (``--user``). Resources: ``lorebook://memories/{user}`` (the user's current
memories, JSON) and ``lorebook://documents`` (the ingested documents, JSON).

The stores open on the first call that needs them and the agent, with its model, on the first
call that needs the model, so a client that only remembers and recalls never waits for it.
Calls run one at a time in a worker thread (the agent runs one turn at a time anyway).

Errors lorebook raises on purpose (and bad arguments) come back as tool errors (``isError``)
whose text is the message the CLI prints after ``error:``; the server keeps serving.

Deliberate limits: ``code`` (it runs generated code) is offered only with ``allow_code``;
``ingest`` and the tools read files named by path on the machine the server runs on, which is
what a desktop client wants over stdio; over HTTP on another interface a bearer token is
required (see :func:`serve_http`).

    from mcp import Client
    async with Client(LorebookMCP(settings).server) as client:   # in process, for tests
        await client.call_tool("remember", {"text": "My sister is called Ana"})
"""

from __future__ import annotations

import hmac
import json
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, unquote

import anyio
import anyio.to_thread
import mcp_types as types
from mcp.server import Server, ServerRequestContext
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError

from agent.capabilities import CAPABILITIES, Capability, jsonable
from agent.errors import ConfigError, LorebookError
from agent.settings import Settings

__all__ = ["BearerToken", "LorebookMCP", "Workspace", "serve_http", "serve_stdio"]

_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_MEMORIES = "lorebook://memories/"
_DOCUMENTS = "lorebook://documents"


class Workspace:
    """The stores and the agent of one data directory, each opened when first needed.

    It is a :class:`~agent.capabilities.Stores` (``memory``, ``documents``) without the model;
    :meth:`agent` opens the whole :class:`~agent.api.Agent` on the same store.

    Args:
        settings: the data directory and everything else.
        open_llm: how to open the model (default :func:`agent.llm.open_llm`; tests pass a
            ``FakeLLM`` factory).
    """

    def __init__(self, settings: Settings, open_llm: Callable[[Settings], Any] | None = None):
        self.settings = settings
        self._open_llm = open_llm
        self._lock = threading.Lock()
        self._memory: Any = None
        self._documents: Any = None
        self._agent: Any = None

    def _open_stores(self) -> None:
        with self._lock:
            if self._memory is None:
                from memory import Documents, Memory, Store

                store = Store(self.settings)
                self._memory, self._documents = Memory(store), Documents(store)

    @property
    def memory(self) -> Any:
        self._open_stores()
        return self._memory

    @property
    def documents(self) -> Any:
        self._open_stores()
        return self._documents

    @property
    def agent_opened(self) -> bool:
        """Whether the model has been loaded (by a call that needed it)."""
        return self._agent is not None

    def agent(self) -> Any:
        """The agent on this workspace's store, opening the model on first use."""
        self._open_stores()
        with self._lock:
            if self._agent is None:
                # Imported here, not at the top: LangGraph and the model runtime cost seconds
                # that a client using only memory and documents should not wait for.
                from agent.api import Agent
                from agent.llm import open_llm

                llm = (self._open_llm or open_llm)(self.settings)
                self._agent = Agent(self.settings, llm, self._memory, self._documents)
            return self._agent

    def close(self) -> None:
        with self._lock:
            if self._agent is not None:
                self._agent.close()  # closes the memory store too
            elif self._memory is not None:
                self._memory.close()
            self._agent = self._memory = self._documents = None


class LorebookMCP:
    """The MCP server over one :class:`Workspace`; ``.server`` is the SDK's ``Server``.

    Args:
        settings: the data directory and everything else.
        user: whose memories a call without ``user`` reads and writes.
        allow_code: offer the ``code`` tool (it runs generated code in the sandbox).
        open_llm: see :class:`Workspace`.

    Example:
        >>> app = LorebookMCP(settings, user="ann")            # doctest: +SKIP
        >>> anyio.run(app.serve_stdio)                         # doctest: +SKIP
    """

    def __init__(
        self,
        settings: Settings,
        *,
        user: str = "me",
        allow_code: bool = False,
        open_llm: Callable[[Settings], Any] | None = None,
    ):
        if not user.strip():
            raise ConfigError("the MCP server's default user is empty: give --user a name")
        self.user = user
        self.workspace = Workspace(settings, open_llm)
        self.capabilities = {
            name: cap for name, cap in CAPABILITIES.items() if cap.safe or allow_code
        }
        self._limiter = anyio.CapacityLimiter(1)
        self.server: Server[Any] = Server(
            "lorebook",
            version=_version(),
            instructions=(
                "lorebook keeps a user's memories (remember, recall, forget) and searches their "
                "documents (ingest, search); ask, translate, summarize and review use its local "
                "model. Pass user to keep several people's memories apart."
            ),
            on_list_tools=self._list_tools,
            on_call_tool=self._call_tool,
            on_list_resources=self._list_resources,
            on_list_resource_templates=self._list_resource_templates,
            on_read_resource=self._read_resource,
        )

    # -- tools -----------------------------------------------------------------------------

    def tool(self, cap: Capability) -> types.Tool:
        """The MCP tool for ``cap``: its schema, with ``user`` defaulting to this server's."""
        schema = cap.schema()
        if "user" in schema.get("properties", {}):
            schema["properties"]["user"]["default"] = self.user
        return types.Tool(
            name=cap.name,
            description=cap.description,
            input_schema=schema,
            annotations=types.ToolAnnotations(
                read_only_hint=cap.name in ("recall", "search"),
                destructive_hint=cap.name == "forget",
                open_world_hint=False,
            ),
        )

    async def _list_tools(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[self.tool(c) for c in self.capabilities.values()])

    async def _call_tool(
        self, ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        return await self.call(params.name, dict(params.arguments or {}))

    async def call(self, name: str, arguments: dict[str, Any]) -> types.CallToolResult:
        """Run tool ``name``; lorebook's errors come back as the result's text, ``is_error``."""
        cap = self.capabilities.get(name)
        if cap is None:
            why = " (start the server with --allow-code)" if name in CAPABILITIES else ""
            return _error(f"no tool {name!r}{why}; tools: {', '.join(self.capabilities)}")
        if "user" in cap.params.model_fields:
            arguments.setdefault("user", self.user)
        try:
            params = cap.validate(arguments)
            result = await anyio.to_thread.run_sync(self._run, cap, params, limiter=self._limiter)
        except LorebookError as exc:
            return _error(str(exc))
        failure, notes = cap.failure(result), cap.notes(result)
        data = jsonable(result)
        return types.CallToolResult(
            content=[types.TextContent(text="\n".join([failure or cap.render(result), *notes]))],
            structured_content=data if isinstance(data, dict) else {"result": data},
            is_error=failure is not None,
        )

    def _run(self, cap: Capability, params: Any) -> Any:
        host = self.workspace.agent() if cap.needs_model else self.workspace
        return cap.run(host, params)

    # -- resources -------------------------------------------------------------------------

    async def _list_resources(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        return types.ListResourcesResult(
            resources=[
                types.Resource(
                    uri=_MEMORIES + quote(self.user, safe=""),
                    name=f"memories of {self.user}",
                    description="The user's current memories (JSON): id, text, dates.",
                    mime_type="application/json",
                ),
                types.Resource(
                    uri=_DOCUMENTS,
                    name="documents",
                    description="The ingested documents (JSON): path, pages, chunks, date.",
                    mime_type="application/json",
                ),
            ]
        )

    async def _list_resource_templates(
        self, ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(
            resource_templates=[
                types.ResourceTemplate(
                    uri_template=_MEMORIES + "{user}",
                    name="memories",
                    description="A user's current memories (JSON).",
                    mime_type="application/json",
                )
            ]
        )

    async def _read_resource(
        self, ctx: ServerRequestContext[Any, Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        uri = str(params.uri)
        text = await anyio.to_thread.run_sync(self.read, uri, limiter=self._limiter)
        return types.ReadResourceResult(
            contents=[types.TextResourceContents(uri=uri, text=text, mime_type="application/json")]
        )

    def read(self, uri: str) -> str:
        """A resource's JSON text.

        Raises:
            MCPError: no such resource (``INVALID_PARAMS``, as the SDK's own servers answer).
        """
        if uri == _DOCUMENTS:
            return json.dumps(jsonable(self.workspace.documents.list()), ensure_ascii=False)
        if uri.startswith(_MEMORIES) and (user := unquote(uri[len(_MEMORIES) :])):
            records = self.workspace.memory.list(user)
            return json.dumps([r.to_json() for r in records], ensure_ascii=False)
        raise MCPError(
            types.INVALID_PARAMS,
            f"no resource {uri!r}: lorebook has {_MEMORIES}{{user}} and {_DOCUMENTS}",
        )

    # -- transports ------------------------------------------------------------------------

    async def serve_stdio(self) -> None:
        """Serve one client over stdin/stdout until it disconnects."""
        try:
            async with stdio_server() as (read, write):
                await self.server.run(read, write, self.server.create_initialization_options())
        finally:
            self.workspace.close()


def serve_stdio(app: LorebookMCP) -> None:
    """Serve ``app`` over stdio (what desktop clients start)."""
    anyio.run(app.serve_stdio)


def serve_http(
    app: LorebookMCP, host: str = "127.0.0.1", port: int = 8765, token: str = ""
) -> None:
    """Serve ``app`` over streamable HTTP at ``http://host:port/mcp``.

    On a loopback address the token is optional (checked when given); on any other address
    the server refuses to start without one, and every request must carry
    ``Authorization: Bearer <token>``.

    Raises:
        ConfigError: ``host`` is not a loopback address and ``token`` is empty.
    """
    import uvicorn

    if host not in _LOOPBACK and not token:
        raise ConfigError(
            f"refusing to serve MCP on {host} without a bearer token: pass --token or set "
            "LOREBOOK_MCP_TOKEN (or bind to 127.0.0.1)"
        )
    asgi: Any = app.server.streamable_http_app(host=host)
    if token:
        asgi = BearerToken(asgi, token)
    try:
        uvicorn.run(asgi, host=host, port=port, log_level="warning")
    finally:
        app.workspace.close()


class BearerToken:
    """ASGI middleware: HTTP requests without ``Authorization: Bearer <token>`` get a 401."""

    def __init__(self, app: Any, token: str):
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or ()).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [
                            (b"content-type", b"text/plain"),
                            (b"www-authenticate", b"Bearer"),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": b"bearer token required\n"})
                return
        await self.app(scope, receive, send)


def _error(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=message)], is_error=True)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lorebook")
    except PackageNotFoundError:
        return "0"
