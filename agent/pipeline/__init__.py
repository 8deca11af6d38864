"""The turn pipeline: a LangGraph state machine over routing, memory, retrieval and the model.

``agent.pipeline.graph`` builds it (``Services``, ``build_graph``); this package imports nothing
of it, so the rule modules (``toolargs``, ``routing``, ``facts`` …) load without LangGraph: the
capability registry parses chat commands with ``toolargs``, and the graph's tool nodes are made
from the registry.
"""

from agent.pipeline.state import TurnState, new_turn

__all__ = ["TurnState", "new_turn"]
