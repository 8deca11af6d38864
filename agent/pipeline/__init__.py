"""The turn pipeline: a LangGraph state machine over routing, memory, retrieval and the model."""

from agent.pipeline.graph import Services, build_graph
from agent.pipeline.state import TurnState, new_turn

__all__ = ["Services", "TurnState", "build_graph", "new_turn"]
