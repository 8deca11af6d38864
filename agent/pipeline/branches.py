"""The turn graph's two conditional edges: which node follows ``route``, and ``retrieve``.

After ``route``: a command's own node (remember, forget, a tool of
:data:`agent.capabilities.TOOLS`), else ``recall``. After ``retrieve``: a question the memories
answer goes to ``answer``, one the documents answer (or should, and do not) to ``cite``, a
question about the user that nothing answers to ``unknown``, everything else to ``compose`` and
the model. The measure is how much of the question a memory or a document sentence covers
(:func:`agent.pipeline.answers.coverage`), and for a document sentence how close it is in
meaning (the memory embedder, :attr:`Services.meaning`).
"""

from __future__ import annotations

from typing import Literal, get_args

from agent.capabilities import TOOLS
from agent.pipeline.answers import (
    DOC_SURE,
    asks_whom,
    best_sentence,
    coverage,
    holds_asked_value,
    points_at,
)
from agent.pipeline.compose import relevant_chunks
from agent.pipeline.routing import DOCUMENT_FOLLOW_UP, asked_part, is_question, question_of
from agent.pipeline.services import Services, instruct
from agent.pipeline.state import TurnState

__all__ = ["AFTER_RETRIEVE", "AFTER_ROUTE", "route_after_retrieve", "route_after_route"]

AFTER_ROUTE = ("remember", "forget", *TOOLS, "recall")
"""Where ``route`` may lead: the command routes' own nodes, else ``recall``."""

AfterRetrieve = Literal["answer", "cite", "compose", "unknown"]
AFTER_RETRIEVE: tuple[AfterRetrieve, ...] = get_args(AfterRetrieve)

_DOC_MEANS = 0.5
"""A document sentence this similar to a question about the user answers it (MiniLM cosine)."""
_DOC_ABOUT = 0.4
"""A question this close to a retrieved excerpt (and sharing a word) is about the documents."""


def route_after_route(state: TurnState) -> str:
    """The command route's node (one of :data:`AFTER_ROUTE`), else ``recall``."""
    r = state["route"]
    return r if r in AFTER_ROUTE else "recall"


def route_after_retrieve(s: Services, state: TurnState) -> AfterRetrieve:
    """Answer from memories, quote the documents, say "I don't know", or let the model reply."""
    route, message = state["route"], state["message"]
    if state.get("direct"):
        return "answer"  # the date, what was told today, a greeting: nothing to look up
    memories = state.get("memories", [])
    chunks = state.get("chunks", [])
    meaning = s.meaning
    # a sentence must share a word with the question ("paid" meets "pay") to be chosen
    # of the whole message, and of its question alone ("put my insurance in there. what's the
    # excess?"): the one that covers more of what it was chosen for
    doc, doc_cover, chunk_cover = None, 0.0, 0.0
    for asked in dict.fromkeys((message, asked_part(message))):
        found = best_sentence(asked, chunks, meaning) if chunks and is_question(message) else None
        if found is not None and (doc is None or coverage(asked, found["sentence"]) > doc_cover):
            doc, doc_cover = found, coverage(asked, found["sentence"])
            # how much of the question the best sentence's whole excerpt is about
            chunk_cover = coverage(asked, found["quote"])
    # "also what's the physio's name, I want to get him a card": of what is asked
    asked_alone = question_of(message)
    mem_cover = max((coverage(asked_alone, m["text"]) for m in memories), default=0.0)
    by_slot = any(m.get("slot") for m in memories)
    # an FAQ's question that means the one asked: "I lost my membership card, what now?" /
    # "What happens if I lose my membership card?" — the documents answer, unless a memory
    # says most of what is asked
    faq = doc is not None and (doc.get("lead_similarity") or 0.0) >= DOC_SURE
    if route == "ask_memory":
        if memories and (by_slot or mem_cover >= doc_cover) and not (faq and mem_cover < 0.5):
            return "answer"
        # a question about the user that a document answers ("is flood damage covered by
        # my insurance?") — only when the excerpt covers half the question
        if doc is not None and (
            faq
            or chunk_cover >= 0.5
            or (doc_cover > 0 and holds_asked_value(message, doc["sentence"]))
            # "what's the excess on my contents insurance?": a sentence that means it
            or (doc.get("similarity") or 0.0) >= _DOC_MEANS
            # "do I need to bring my own crampons?" with nothing told of them and a packing
            # list that says "(crampons are provided by the guide)": the documents answer
            or (not memories and doc_cover > 0 and (doc.get("similarity") or 0.0) >= _DOC_ABOUT)
        ):
            return "cite"
        return "unknown"
    if route == "ask_documents":
        if by_slot and state.get("route_reason") == DOCUMENT_FOLLOW_UP:
            return "answer"  # "how old is she again?" after a quote about Juniper: memory says
        if chunks:
            return "cite"
        return "answer" if memories else "unknown"
    if is_question(message) and memories and by_slot:
        return "answer"  # "What does Priya do?": a question memory answers
    if is_question(message) and memories and mem_cover >= max(0.5, doc_cover):
        return "answer"  # "Who does the weeding?" after "My partner Femi does the weeding"
    if is_question(message) and memories and doc is None and asks_whom(message):
        return "answer"  # "which neighbour teaches piano?" / "Katie … gives piano lessons"
    if is_question(message) and state.get("personal") and doc is None:
        # about someone or something the user told us of ("What colour are Mango's
        # feathers?"), and nothing says: the model would invent an answer
        return "unknown"
    if doc is not None and (
        (faq and is_question(message))
        or doc_cover >= 0.5
        or (doc_cover >= 0.3 and holds_asked_value(message, doc["sentence"]))
        # "which database is billing moving to?" / "…will be migrated to PostgreSQL 17"
        or (is_question(message) and (doc.get("similarity") or 0.0) >= _DOC_MEANS)
    ):
        return "cite"  # "When did I plant the tomatoes?": a question a document answers
    if (
        is_question(message)
        and chunks
        and meaning is not None
        and not instruct(s.llm)
        and any(x >= _DOC_ABOUT for x in meaning(message, [c["quote"] for c in chunks[:3]]))
        and relevant_chunks(message, chunks[:3])
    ):
        # "how long does it have to cook altogether?" beside the recipe: a base model
        # given the excerpt invents ("It takes 10 years"); quote it or say it does not say
        return "cite"
    if is_question(message) and any(
        c.get("lexical") and points_at(message, c["quote"]) for c in chunks
    ):
        # "how many calories are in a slice of the plum cake?": about the user's document,
        # which does not say; the model would invent a value
        return "cite"
    return "compose"
