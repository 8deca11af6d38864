"""The LangGraph state machine of one turn: the wiring of its nodes and edges.

```
START → route ─┬─ remember (statements and "remember …") ───────────────────────┐
               ├─ forget ("forget my passport number") ─────────────────────────┤
               ├─ translate | summarize | code | review (the registry's tools) ─┤
               └─ recall → retrieve ─┬─ answer (a question memory answers) ─┐    │
                                     ├─ cite (a question documents answer) ─┤    │
                                     ├─ unknown ("I don't know") ───────────┤    │
                                     └─ compose → generate ─────────────────┴─ memorize
                                                                        finish ─┴→ END
```

Every conversational turn ends in ``memorize``: what a message states besides its question
("fyi my passport runs out in 2031. btw, what's the date?") is kept whichever node answered.

The nodes are module-level functions taking the :class:`Services` first
(:mod:`agent.pipeline.nodes`; remember, forget and the tools in :mod:`agent.pipeline.commands`),
bound here with ``functools.partial``; the conditional edges are in
:mod:`agent.pipeline.branches`. There is one tool node per tool of the capability registry
(:data:`agent.capabilities.TOOLS`), so a new tool reaches the graph with its declaration.
``build_graph`` takes the services (model, memory, documents, tools) and the checkpointer, so
tests pass fakes and an in-memory saver; each node's wall time lands in ``timings``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

from langgraph.graph import END, START, StateGraph

from agent.capabilities import CAPABILITIES, TOOLS
from agent.pipeline import commands, nodes
from agent.pipeline.answers import UNKNOWN_REPLY
from agent.pipeline.branches import (
    AFTER_RETRIEVE,
    AFTER_ROUTE,
    route_after_retrieve,
    route_after_route,
)
from agent.pipeline.routing import Router
from agent.pipeline.services import Services
from agent.pipeline.state import TurnState

Node = Callable[[TurnState], dict[str, Any]]
__all__ = ["UNKNOWN_REPLY", "Services", "build_graph"]

_NODES: dict[str, Callable[..., dict[str, Any]]] = {
    "route": nodes.route,
    "recall": nodes.recall,
    "retrieve": nodes.retrieve,
    "compose": nodes.compose,
    "generate": nodes.generate,
    "memorize": nodes.memorize,
    "remember": commands.remember,
    "forget": commands.forget,
    "answer": nodes.answer,
    "cite": nodes.cite,
    "unknown": nodes.unknown,
    "finish": nodes.finish,
}
"""Every node but the tools', by name: each takes ``(services, state)``."""


class _Timed:
    """A node that records its wall time in ``timings`` under its name."""

    def __init__(self, name: str, node: Node):
        self.name, self.node = name, node
        self.__name__ = name  # LangGraph names the runnable after it

    def __call__(self, state: TurnState) -> dict[str, Any]:
        start = time.perf_counter()
        update = self.node(state)
        update["timings"] = {self.name: (time.perf_counter() - start) * 1000}
        return update


def build_graph(services: Services, checkpointer: Any = None) -> Any:
    """The compiled turn graph. ``checkpointer`` persists each thread's state (None: none).

    ``services.router`` is made from the memory embedder when it is None.
    """
    s = services
    if s.router is None:
        store = s.store
        s.router = (
            Router(store.cache.embed, embed_query=store.embedder.embed_query)
            if store is not None
            else Router(None)
        )
    bound: dict[str, Node] = {name: partial(node, s) for name, node in _NODES.items()}
    bound |= {name: partial(commands.tool, s, CAPABILITIES[name]) for name in TOOLS}
    g = StateGraph(TurnState)
    for name, node in bound.items():
        timed: Any = _Timed(name, node)  # LangGraph's overloads do not type plain callables
        g.add_node(name, timed)
    g.add_edge(START, "route")
    g.add_conditional_edges("route", route_after_route, list(AFTER_ROUTE))
    g.add_edge("recall", "retrieve")
    g.add_conditional_edges("retrieve", partial(route_after_retrieve, s), list(AFTER_RETRIEVE))
    g.add_edge("compose", "generate")
    g.add_edge("generate", "memorize")
    # "fyi my passport runs out in 2031. btw what's the date?": what a question's message
    # also states is kept, whatever answers the question
    for name in ("answer", "cite", "unknown"):
        g.add_edge(name, "memorize")
    for name in ("memorize", "remember", "forget", *TOOLS):
        g.add_edge(name, "finish")
    g.add_edge("finish", END)
    return g.compile(checkpointer=checkpointer)
