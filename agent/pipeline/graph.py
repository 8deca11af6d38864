"""The LangGraph state machine of one turn.

```
START → route ─┬─ remember ─────────────────────────────────────────────┐
               ├─ forget ───────────────────────────────────────────────┤
               ├─ translate | summarize | code | review (agent.toolbox) ─┤
               └─ recall → retrieve ─┬─ compose → generate → memorize ───┤
                                     └─ unknown ────────────────────────┤
                                                                finish ─┴→ END
```

Nodes are small functions returning a partial state update; ``route_*`` functions pick the
next node. ``build_graph`` takes the services (model, memory, documents) and the checkpointer,
so tests pass fakes and an in-memory saver. Tokens are streamed through LangGraph's custom
stream (``get_stream_writer``); each node's wall time lands in ``timings``.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph

from agent.errors import CancelledError, ToolError
from agent.llm import LLM, CancelToken
from agent.pipeline.compose import compose
from agent.pipeline.evidence import holds_answer
from agent.pipeline.facts import extract_facts
from agent.pipeline.routing import (
    TOOL_ROUTES,
    Decision,
    classify,
    explicit_route,
    keyword_route,
)
from agent.pipeline.state import TurnState

Node = Callable[[TurnState], dict[str, Any]]
UNKNOWN_REPLY = (
    "I don't know: I found nothing about that in your memories or documents. You can tell me "
    '("remember that …") or add documents with /ingest.'
)


@dataclass
class Services:
    """What the nodes use. ``memory`` and ``documents`` may be None (no memory features)."""

    llm: LLM
    memory: Any = None
    documents: Any = None
    max_tokens: int = 256
    recall_k: int = 5
    retrieve_k: int = 5
    min_similarity: float = 0.3
    """Memories less similar than this to the message are not recalled."""
    classify_with_model: bool = True
    memorize: bool = True
    inbox: bool = False
    """Extracted facts wait for the user's accept (action "pending") instead of being stored."""
    tools: Any = None
    """An ``agent.toolbox.ToolBox`` for the translate/summarize/code/review routes."""
    cancel: CancelToken = field(default_factory=CancelToken)


def _timed(name: str, fn: Node) -> Node:
    def run(state: TurnState) -> dict[str, Any]:
        start = time.perf_counter()
        update = fn(state)
        update["timings"] = {name: (time.perf_counter() - start) * 1000}
        return update

    run.__name__ = name
    return run


def _date(ts: Any) -> str:
    return ts.date().isoformat() if isinstance(ts, dt.datetime) else str(ts)[:10]


def build_graph(services: Services, checkpointer: Any = None) -> Any:
    """The compiled turn graph. ``checkpointer`` persists each thread's state (None: none)."""
    s = services

    def route(state: TurnState) -> dict[str, Any]:
        decision = explicit_route(state["message"], state.get("command"))
        if decision is None:
            if s.classify_with_model:
                decision = classify(s.llm, state["message"])
            else:
                label, _ = keyword_route(state["message"])
                decision = Decision(label, f"keywords ({label})", state["message"])
        return {
            "route": decision.route,
            "route_reason": decision.reason,
            "payload": decision.payload,
        }

    def recall(state: TurnState) -> dict[str, Any]:
        if s.memory is None:
            return {"memories": []}
        hits = s.memory.search(state["message"], user=state["user"], k=s.recall_k)
        return {
            "memories": [
                {
                    "id": h.record.id,
                    "text": h.record.text,
                    "score": round(h.score, 4),
                    "similarity": round(h.similarity, 4),
                    "date": _date(h.record.created),
                }
                for h in hits
                if h.similarity >= s.min_similarity
            ]
        }

    def retrieve(state: TurnState) -> dict[str, Any]:
        if s.documents is None:
            return {"chunks": []}
        hits = s.documents.search(state["message"], k=s.retrieve_k)
        chunks = []
        for h in hits:
            c = h.citation
            where = c.path + (f", p. {c.page}" if c.page else "")
            chunks.append(
                {
                    "chunk_id": h.chunk_id,
                    "document_id": h.document_id,
                    "score": round(h.score, 4),
                    "path": c.path,
                    "page": c.page,
                    "start": c.start,
                    "end": c.end,
                    "quote": c.quote,
                    "source": where,
                    "lexical": h.bm25_rank is not None,
                }
            )
        return {"chunks": chunks}

    def compose_node(state: TurnState) -> dict[str, Any]:
        done = compose(
            s.llm,
            state["message"],
            memories=state.get("memories", []),
            chunks=state.get("chunks", []),
            history=[h for h in state.get("history", []) if not h.get("notice")],
            max_tokens=s.max_tokens,
        )
        return {
            "prompt": done.prompt,
            "memories": done.memories,
            "chunks": done.chunks,
            "dropped": done.dropped,
            "prompt_tokens": done.prompt_tokens,
        }

    def generate(state: TurnState) -> dict[str, Any]:
        write = get_stream_writer()
        stream = s.llm.stream(
            state["prompt"], max_tokens=s.max_tokens, stop=s.llm.chat_format.stop, cancel=s.cancel
        )
        stream.strip = True
        with stream:
            for piece in stream:
                write({"type": "token", "text": piece})
        done = stream.completion
        assert done is not None
        return {
            "reply": done.text,
            "finish_reason": done.finish_reason,
            "prompt_tokens": done.prompt_tokens,
            "completion_tokens": done.completion_tokens,
        }

    def memorize(state: TurnState) -> dict[str, Any]:
        if s.memory is None or not s.memorize or state.get("finish_reason") == "cancelled":
            return {"facts": []}
        # Facts come from the user's message only (extract_facts grounds them in it); recalled
        # memories and document text are what must not be stored again. The reply is left
        # out: a model that echoes the user would otherwise block the user's own statement.
        context = [m["text"] for m in state.get("memories", [])]
        context += [c["quote"] for c in state.get("chunks", [])]
        facts: list[dict[str, Any]] = []
        for fact in extract_facts(s.llm if s.classify_with_model else None, state["message"]):
            if s.inbox:  # the user accepts or rejects it first (Agent.accept_fact)
                facts.append(
                    {
                        "text": fact,
                        "action": "pending",
                        "reason": None,
                        "id": None,
                        "superseded": [],
                    }
                )
                continue
            added = s.memory.add(
                fact, user=state["user"], thread=state["thread"], source="user", context=context
            )
            facts.append(
                {
                    "text": fact,
                    "action": added.action,
                    "reason": added.reason,
                    "id": added.record.id if added.record else None,
                    "superseded": list(added.superseded),
                }
            )
        return {"facts": facts}

    def remember(state: TurnState) -> dict[str, Any]:
        text = state.get("payload", "").strip()
        if s.memory is None or not text:
            return {"reply": 'Tell me what to remember, e.g. "remember that my sister is Ana".'}
        added = s.memory.add(text, user=state["user"], thread=state["thread"], source="user")
        if added.action == "rejected":
            reply = f"I did not store that: {added.reason}."
        elif added.action == "refreshed":
            reply = f"I already knew that: {added.record.text}"
        else:
            extra = (
                f" (it replaces {len(added.superseded)} older fact(s))" if added.superseded else ""
            )
            reply = f"I'll remember that: {added.record.text}{extra}"
        fact = {
            "text": text,
            "action": added.action,
            "reason": added.reason,
            "id": added.record.id if added.record else None,
            "superseded": list(added.superseded),
        }
        return {"reply": reply, "facts": [fact]}

    def forget(state: TurnState) -> dict[str, Any]:
        query = state.get("payload", "").strip()
        if s.memory is None or not query:
            return {"reply": 'Tell me what to forget, e.g. "forget that I live in Paris".'}
        gone = s.memory.forget(query=query, user=state["user"])
        if not gone:
            return {"reply": f'I found nothing about "{query}" to forget.'}
        return {
            "reply": f"Forgotten: {len(gone)} memor{'y' if len(gone) == 1 else 'ies'} "
            f'about "{query}", deleted everywhere.'
        }

    def unknown(state: TurnState) -> dict[str, Any]:
        return {"reply": UNKNOWN_REPLY, "finish_reason": "unknown"}

    def tool(name: str) -> Node:
        def run(state: TurnState) -> dict[str, Any]:
            if s.tools is None:
                return {"reply": f"The {name} tool is not set up here.", "finish_reason": "error"}
            payload = state.get("payload", "")
            try:
                result, used = s.tools.call(
                    name, lambda: s.tools.run_command(name, payload), s.cancel
                )
            except CancelledError:
                return {
                    "reply": f"Stopped: the {name} tool was cancelled.",
                    "finish_reason": "cancelled",
                }
            except ToolError as exc:
                return {
                    "reply": f"I could not {name} that. {exc}",
                    "finish_reason": "error",
                    "error": str(exc),
                }
            return {
                "reply": result.to_markdown(),
                "finish_reason": "stop",
                "tool_result": result.to_dict(),
                "prompt_tokens": used.prompt_tokens,
                "completion_tokens": used.completion_tokens,
            }

        return run

    def finish(state: TurnState) -> dict[str, Any]:
        if state.get("finish_reason") == "cancelled" and not state.get("reply"):
            return {}
        turn = [
            {"role": "user", "content": state["message"]},
            {"role": "assistant", "content": state.get("reply", "")},
        ]
        if (
            state.get("route") not in ("chat", "ask_memory", "ask_documents")
            or state.get("finish_reason") == "unknown"
        ):
            # Commands and canned answers ("I'll remember that…", "I don't know…") stay in
            # the thread but are not conversation: a base model copies them into later replies.
            turn = [{**m, "notice": "1"} for m in turn]
        return {"history": turn}

    def route_after_route(
        state: TurnState,
    ) -> Literal["remember", "forget", "translate", "summarize", "code", "review", "recall"]:
        r = state["route"]
        return r if r in ("remember", "forget", *TOOL_ROUTES) else "recall"  # type: ignore[return-value]

    def route_after_retrieve(state: TurnState) -> Literal["compose", "unknown"]:
        if state["route"] not in ("ask_memory", "ask_documents"):
            return "compose"
        question = state["message"]
        found = any(
            holds_answer(question, m["text"], m["similarity"]) for m in state.get("memories", [])
        )
        found = found or any(c.get("lexical") for c in state.get("chunks", []))
        return "compose" if found else "unknown"

    g = StateGraph(TurnState)
    nodes: dict[str, Node] = {
        "route": route,
        "recall": recall,
        "retrieve": retrieve,
        "compose": compose_node,
        "generate": generate,
        "memorize": memorize,
        "remember": remember,
        "forget": forget,
        "unknown": unknown,
        "finish": finish,
        **{name: tool(name) for name in TOOL_ROUTES},
    }
    for name, fn in nodes.items():
        timed: Any = _timed(name, fn)  # LangGraph's overloads do not type plain callables
        g.add_node(name, timed)
    g.add_edge(START, "route")
    g.add_conditional_edges("route", route_after_route)
    g.add_edge("recall", "retrieve")
    g.add_conditional_edges("retrieve", route_after_retrieve)
    g.add_edge("compose", "generate")
    g.add_edge("generate", "memorize")
    for name in ("memorize", "remember", "forget", "unknown", *TOOL_ROUTES):
        g.add_edge(name, "finish")
    g.add_edge("finish", END)
    return g.compile(checkpointer=checkpointer)
