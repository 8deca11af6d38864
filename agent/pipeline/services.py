"""What the turn graph's nodes share: the services, and what they read of the thread so far.

:class:`Services` is what ``build_graph`` is given (the model, the memory, the documents, the
tools, the limits); every node takes it as its first argument, bound by ``functools.partial``
when the graph is wired, so a node can be called on its own with fakes. The helpers here read
the thread's history (the previous reply, route, message, question) and store facts, for the
nodes of :mod:`agent.pipeline.nodes` and :mod:`agent.pipeline.commands` alike.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from agent.llm import LLM, CancelToken
from agent.pipeline.answers import says_change
from agent.pipeline.routing import Router, is_question
from agent.pipeline.state import TurnState

__all__ = [
    "Services",
    "date",
    "instruct",
    "previous_question",
    "previous_reply",
    "previous_route",
    "previous_user",
    "store_facts",
]


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
    """Let an instruction-tuned model settle a message the rules and examples leave split."""
    memorize: bool = True
    inbox: bool = False
    """Extracted facts wait for the user's accept (action "pending") instead of being stored."""
    tools: Any = None
    """An ``agent.toolbox.ToolBox`` for the tool routes (:data:`agent.capabilities.TOOLS`)."""
    cancel: CancelToken = field(default_factory=CancelToken)
    router: Router | None = None
    """Built from the memory embedder when None."""
    forgotten: list[str] = field(default_factory=list)
    """Texts the last forget turn deleted, for the agent to scrub from transcripts (never in
    the checkpointed state)."""

    @property
    def store(self) -> Any:
        """The memory's ``memory.Store`` (its embedder and embedding cache), else None."""
        return getattr(self.memory, "store", None)

    @property
    def meaning(self) -> Callable[[str, list[str]], Any] | None:
        """Cosine similarity of a question to each document sentence (the memory embedder; the
        question is not cached, the documents' sentences are); None without a store, or with
        the tests' hash embedder, which has no sense of meaning to weigh."""
        store = self.store
        if store is None or store.embedder.name == "hash":
            return None
        return partial(_similar, store)


def _similar(store: Any, question: str, sentences: list[str]) -> Any:
    q = store.embedder.embed_query(question)
    return store.cache.embed(sentences) @ q


def instruct(llm: LLM) -> bool:
    """An instruction-tuned model (it has a chat template); base models get the transcript."""
    return getattr(llm.chat_format, "name", "transcript") != "transcript"


def date(ts: Any) -> str:
    """A memory's date as ``YYYY-MM-DD``."""
    return ts.date().isoformat() if isinstance(ts, dt.datetime) else str(ts)[:10]


def previous_reply(state: TurnState) -> str | None:
    """The last reply, if the model wrote it (a notice is not conversation) and it was not
    flagged (it echoed retrieved text or carried an injection: its question may be a
    document's, and a short answer to it must not become the user's fact)."""
    for h in reversed(state.get("history", [])):
        if h["role"] == "assistant":
            return None if h.get("notice") or h.get("flag") else h["content"]
    return None


def previous_route(state: TurnState) -> str | None:
    """The route of the last turn."""
    for h in reversed(state.get("history", [])):
        if h["role"] == "assistant":
            return h.get("route")
    return None


def previous_quoted_documents(state: TurnState) -> bool:
    """True when the last reply quoted the user's documents (and cited them)."""
    for h in reversed(state.get("history", [])):
        if h["role"] == "assistant":
            return bool(h.get("documents"))
    return False


def previous_user(state: TurnState) -> str | None:
    """The user's last message."""
    for h in reversed(state.get("history", [])):
        if h["role"] == "user":
            return str(h["content"])
    return None


def unanswered_question(state: TurnState) -> str | None:
    """The user's last message when it was a question the reply said "I don't know" to."""
    last = next((h for h in reversed(state.get("history", [])) if h["role"] == "assistant"), None)
    if last is None or not str(last["content"]).startswith("I don't know"):
        return None
    return previous_question(state)


def previous_question(state: TurnState) -> str | None:
    """The user's last message if it was a question."""
    for h in reversed(state.get("history", [])):
        if h["role"] == "user":
            return h["content"] if is_question(h["content"]) else None
    return None


def store_facts(
    s: Services, state: TurnState, facts: list[str], context: list[str]
) -> list[dict[str, Any]]:
    """Store each fact for the turn's user (or hold it for the inbox); what became of each."""
    out: list[dict[str, Any]] = []
    said: list[int] = []  # the facts this message added
    for fact in facts:
        if s.inbox:  # the user accepts or rejects it first (Agent.accept_fact)
            out.append(
                {"text": fact, "action": "pending", "reason": None, "id": None, "superseded": []}
            )
            continue
        # facts of one message complete each other ("my partner Luca is a chef, he runs a
        # trattoria"); one replaces another only when it says so ("… no wait, he moved")
        added = s.memory.add(
            fact,
            user=state["user"],
            thread=state["thread"],
            source="user",
            context=context,
            keep=() if says_change(fact) else said,
        )
        if added.action == "added" and added.record is not None:
            said.append(added.record.id)
        out.append(
            {
                "text": fact,
                "action": added.action,
                "reason": added.reason,
                "id": added.record.id if added.record else None,
                "superseded": list(added.superseded),
            }
        )
    return out
