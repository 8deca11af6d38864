"""The LangGraph state machine of one turn.

```
START → route ─┬─ remember (statements and "remember …") ───────────────────────┐
               ├─ forget ("forget my passport number") ─────────────────────────┤
               ├─ translate | summarize | code | review (agent.toolbox) ────────┤
               └─ recall → retrieve ─┬─ answer (a question memory answers) ──────┤
                                     ├─ cite (a question documents answer) ─────┤
                                     ├─ unknown ("I don't know") ───────────────┤
                                     └─ compose → generate → memorize ──────────┤
                                                                        finish ─┴→ END
```

Routing generates nothing (:mod:`agent.pipeline.routing`: rules and nearest labelled
examples); facts are extracted by rules (:mod:`agent.pipeline.facts`); questions about the user
are answered from evidence and checked (:mod:`agent.pipeline.answers`). The model writes the
reply only for conversation and general questions, and with only relevant memories in view.

Nodes are small functions returning a partial state update; ``route_*`` functions pick the
next node. ``build_graph`` takes the services (model, memory, documents) and the checkpointer,
so tests pass fakes and an in-memory saver. Tokens are streamed through LangGraph's custom
stream (``get_stream_writer``); each node's wall time lands in ``timings``.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph

from agent.errors import CancelledError, ToolError
from agent.llm import LLM, CancelToken
from agent.pipeline.answers import (
    UNKNOWN_REPLY,
    about_the_same,
    asks_history,
    asks_when,
    asks_whom,
    best_sentence,
    closest_told,
    coverage,
    evidence,
    extractive_answer,
    extractive_document_answer,
    grounded,
    holds_asked_value,
    model_answer,
    model_document_answer,
    named_in,
    names_what_user_told,
    points_at,
    related_reply,
    sentence_cover,
    supported,
    with_antecedent,
)
from agent.pipeline.compose import blank_injections, clean_history, compose, relevant_chunks, taint
from agent.pipeline.facts import correction, extract_facts
from agent.pipeline.forgetting import clean_phrase, matching
from agent.pipeline.routing import (
    TOOL_ROUTES,
    Decision,
    Router,
    explicit_route,
    follow_up,
    is_question,
)
from agent.pipeline.state import TurnState
from memory._slots import question_slot, second_person, slot

Node = Callable[[TurnState], dict[str, Any]]
__all__ = ["UNKNOWN_REPLY", "Services", "build_graph"]


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
    """An ``agent.toolbox.ToolBox`` for the translate/summarize/code/review routes."""
    cancel: CancelToken = field(default_factory=CancelToken)
    router: Router | None = None
    """Built from the memory embedder when None."""
    forgotten: list[str] = field(default_factory=list)
    """Texts the last forget turn deleted, for the agent to scrub from transcripts (never in
    the checkpointed state)."""


def _timed(name: str, fn: Node) -> Node:
    def run(state: TurnState) -> dict[str, Any]:
        start = time.perf_counter()
        update = fn(state)
        update["timings"] = {name: (time.perf_counter() - start) * 1000}
        return update

    run.__name__ = name
    return run


_DOC_RELEVANT = 0.45
"""A document sentence less similar than this, sharing under half the question's words, does
not answer it (MiniLM cosine)."""
_DOC_MEANS = 0.5
#: A question this close to a retrieved excerpt (and sharing a word) is about the documents
_DOC_ABOUT = 0.4
"""A document sentence this similar to a question about the user answers it (MiniLM cosine)."""


def _date(ts: Any) -> str:
    return ts.date().isoformat() if isinstance(ts, dt.datetime) else str(ts)[:10]


def _instruct(llm: LLM) -> bool:
    """An instruction-tuned model (it has a chat template); base models get the transcript."""
    return getattr(llm.chat_format, "name", "transcript") != "transcript"


def _previous_reply(state: TurnState) -> str | None:
    for h in reversed(state.get("history", [])):
        if h["role"] == "assistant":
            return None if h.get("notice") else h["content"]
    return None


def _previous_route(state: TurnState) -> str | None:
    for h in reversed(state.get("history", [])):
        if h["role"] == "assistant":
            return h.get("route")
    return None


def _previous_user(state: TurnState) -> str | None:
    for h in reversed(state.get("history", [])):
        if h["role"] == "user":
            return str(h["content"])
    return None


def _previous_question(state: TurnState) -> str | None:
    for h in reversed(state.get("history", [])):
        if h["role"] == "user":
            return h["content"] if is_question(h["content"]) else None
    return None


def _store_facts(s: Services, state: TurnState, facts: list[str], context: list[str]) -> list:
    out: list[dict[str, Any]] = []
    for fact in facts:
        if s.inbox:  # the user accepts or rejects it first (Agent.accept_fact)
            out.append(
                {"text": fact, "action": "pending", "reason": None, "id": None, "superseded": []}
            )
            continue
        added = s.memory.add(
            fact, user=state["user"], thread=state["thread"], source="user", context=context
        )
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


def build_graph(services: Services, checkpointer: Any = None) -> Any:
    """The compiled turn graph. ``checkpointer`` persists each thread's state (None: none)."""
    s = services
    store: Any = getattr(s.memory, "store", None)
    if s.router is None:
        s.router = (
            Router(store.cache.embed, embed_query=store.embedder.embed_query)
            if store is not None
            else Router(None)
        )
    router = s.router

    def similar(question: str, sentences: list[str]) -> Any:
        """Cosine similarity of the question to each document sentence (the memory embedder;
        the question is not cached, the documents' sentences are)."""
        q = store.embedder.embed_query(question)
        return store.cache.embed(sentences) @ q

    # the hash embedder of the tests has no sense of meaning to weigh
    meaning = similar if store is not None and store.embedder.name != "hash" else None

    def route(state: TurnState) -> dict[str, Any]:
        decision = explicit_route(state["message"], state.get("command"))
        if decision is None:
            ask = s.llm if s.classify_with_model and _instruct(s.llm) else None
            decision = router.route(state["message"], llm=ask)
            before = _previous_route(state)
            if decision.route in ("chat", "ask_memory", "ask_documents"):
                # "and 'thank you very much'?" after a translation: the same tool again
                decision = follow_up(state["message"], before, _previous_user(state)) or decision
            if (
                decision.route == "chat"
                and is_question(state["message"])
                and before in ("ask_memory", "remember")
                and re.search(r"\b(?:he|she|his|her|him|they|their|them)\b", state["message"], re.I)
            ):
                # "and which city is his workshop in?" after a question about the user's
                # sister's husband: about the user's world, where only memories may answer
                decision = Decision(
                    "ask_memory", "rule: a follow-up about who was just discussed", decision.payload
                )
        return {
            "route": decision.route,
            "route_reason": decision.reason,
            "payload": decision.payload,
        }

    def recall(state: TurnState) -> dict[str, Any]:
        if s.memory is None:
            return {"memories": []}
        message = state["message"]
        if is_question(message):
            message = with_antecedent(message, _previous_question(state))
        history = is_question(message) and (asks_history(message) or asks_when(message))
        hits = s.memory.search(message, user=state["user"], k=s.recall_k, include_history=history)
        asked = question_slot(message) if is_question(message) else None
        if asked is not None:
            # the facts that fill the slot asked about, however differently they were worded
            seen = {h.record.id for h in hits}
            hits += [
                h
                for h in s.memory.search(
                    f"{asked[0]} {asked[1]}".replace("i ", "my ", 1),
                    user=state["user"],
                    k=s.recall_k,
                    include_history=history,
                )
                if h.record.id not in seen
            ]
        items = [
            {
                "id": h.record.id,
                "text": h.record.text,
                "score": round(h.score, 4),
                "similarity": round(h.similarity, 4),
                "date": _date(h.record.created),
                "current": h.record.current,
            }
            for h in hits
        ]
        related: list[dict[str, Any]] = []
        if is_question(message):
            # evidence only: a memory that does not answer the question stays out of view
            found = evidence(message, items)
            related = [] if found else about_the_same(message, items)
        else:
            found = [m for m in items if m["similarity"] >= s.min_similarity][: s.recall_k]
        return {
            "memories": found,
            "personal": names_what_user_told(message, items) or bool(related),
            # said with an "I don't know" when nothing answers for sure
            "related": related or ([] if found else closest_told(message, items)),
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
        if state["route"] == "chat" and not any(c["lexical"] for c in chunks):
            chunks = []  # small talk and general questions get no unrelated excerpts
        return {"chunks": chunks}

    def compose_node(state: TurnState) -> dict[str, Any]:
        chunks = state.get("chunks", [])
        if chunks:  # only chunks about the message reach the model and the citations
            sims = meaning(state["message"], [c["quote"] for c in chunks]) if meaning else None
            chunks = relevant_chunks(state["message"], chunks, sims)
        done = compose(
            s.llm,
            state["message"],
            memories=state.get("memories", []),
            chunks=chunks,
            # replies flagged by finish (they echoed retrieved text or carried an injection)
            # are not carried forward as the assistant's own precedent
            history=clean_history([h for h in state.get("history", []) if not h.get("notice")]),
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
        # grounded answers are decoded greedily; conversation keeps the configured sampling
        greedy: dict[str, Any] = (
            {"temperature": 0} if state["route"] in ("ask_memory", "ask_documents") else {}
        )
        stream = s.llm.stream(
            state["prompt"],
            max_tokens=s.max_tokens,
            stop=s.llm.chat_format.stop,
            cancel=s.cancel,
            **greedy,
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
        # Facts come from the user's message only; recalled memories and document text are
        # what must not be stored again. The reply is left out: a model that echoes the user
        # would otherwise block the user's own statement.
        context = [m["text"] for m in state.get("memories", [])]
        context += [c["quote"] for c in state.get("chunks", [])]
        facts = extract_facts(state["message"], _previous_reply(state))
        return {"facts": _store_facts(s, state, facts, context)}

    def remember(state: TurnState) -> dict[str, Any]:
        text = state.get("payload", "").strip()
        if s.memory is None or not text:
            return {"reply": 'Tell me what to remember, e.g. "remember that my sister is Ana".'}
        explicit = not state.get("route_reason", "").startswith("rule")
        facts = extract_facts(text, _previous_reply(state))
        fix = correction(text, _previous_user(state))
        if fix is not None and s.memorize:
            # "sorry, I meant 2985": the wrong value was never true, so it leaves no history
            wrong, right = fix
            current = s.memory.list(state["user"], kinds=["fact"])
            s.memory.forget_ids([r.id for r in current if r.text == wrong])
            facts = [right, *facts]
        if not facts and explicit:
            facts = [text]  # the user asked for these words to be kept
        if not s.memorize and not explicit:
            facts = []
        done = _store_facts(s, state, facts, [])
        return {"reply": _acknowledge(done), "facts": done, "finish_reason": "stop"}

    def forget(state: TurnState) -> dict[str, Any]:
        phrase = clean_phrase(state.get("payload", ""))
        if s.memory is None or not phrase:
            return {"reply": 'Tell me what to forget, e.g. "forget that I live in Paris".'}
        records = s.memory.list(state["user"], kinds=["fact"], include_history=True)
        found = matching(phrase, records)
        if not found:
            near = [
                h.record.text
                for h in s.memory.search(phrase, user=state["user"], k=3, include_history=True)
                if h.similarity >= 0.45
            ]
            hint = (" Did you mean: " + "; ".join(f'"{t}"' for t in near) + "?") if near else ""
            return {"reply": f'I found nothing about "{phrase}" to forget.{hint}'}
        s.memory.forget_ids([r.id for r in found])
        s.forgotten = [r.text for r in found]
        listed = "; ".join(_describe(r.text) for r in found[:5])
        more = f" and {len(found) - 5} more" if len(found) > 5 else ""
        n = len(found)
        return {
            "reply": f"Forgotten: {listed}{more} ({n} memor{'y' if n == 1 else 'ies'}, deleted "
            "everywhere, conversation lines included).",
        }

    def answer(state: TurnState) -> dict[str, Any]:
        question = state["message"]
        found = state.get("memories", [])
        reply = ""
        if _instruct(s.llm) and not (asks_history(question) or asks_when(question)):
            reply = model_answer(s.llm, question, found, s.cancel)
            if not grounded(reply, found, question):
                reply = ""
        reply = reply or extractive_answer(question, found)
        get_stream_writer()({"type": "token", "text": reply})
        return {"reply": reply, "finish_reason": "stop"}

    def cite(state: TurnState) -> dict[str, Any]:
        question = state["message"]
        # a planted instruction is never the quoted answer (blanked, so offsets still hold)
        chunks = [
            {**c, "n": i + 1, "quote": blank_injections(c["quote"])}
            for i, c in enumerate(state.get("chunks", []))
        ]
        found = best_sentence(question, chunks, meaning)
        if (
            found is not None
            and (found.get("similarity") or 1.0) < _DOC_RELEVANT
            and sentence_cover(question, found["sentence"]) < 0.5
            # "How much money does Mila need for the museum trip?": the sentence before says
            # which trip "8 euros for the entry fee" is for
            and sentence_cover(question, found.get("context", "")) <= 0.5
            and not named_in(question, found["sentence"])
        ):
            found = None  # it shares a word but is about something else: the documents don't say
        reply = ""
        if found is not None and _instruct(s.llm):
            reply = model_document_answer(s.llm, question, found, s.cancel)
            reply = f"{reply} [1]" if supported(reply, found["sentence"], question) else ""
        if found is not None:
            # the citation is the sentence that holds the answer, with its own offsets
            found = {
                **found,
                "n": 1,
                "quote": found["sentence"],
                "start": found["sentence_start"],
                "end": found["sentence_end"],
            }
            reply = reply or extractive_document_answer(found)
        else:
            reply = extractive_document_answer(None)
        get_stream_writer()({"type": "token", "text": reply})
        return {"reply": reply, "chunks": [found] if found else [], "finish_reason": "stop"}

    def unknown(state: TurnState) -> dict[str, Any]:
        related = state.get("related") or []
        reply = related_reply(related) if related else UNKNOWN_REPLY
        return {"reply": reply, "finish_reason": "unknown"}

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
            {"role": "assistant", "content": state.get("reply", ""), "route": state["route"]},
        ]
        if state.get("prompt"):
            flag = taint(state.get("reply", ""), [c["quote"] for c in state.get("chunks", [])])
            if flag:  # kept in the thread for the user, never again in a prompt
                turn[1]["flag"] = flag
        else:
            # Replies the model did not write (commands, "Noted: …", answers quoted from
            # memories and documents, "I don't know…") stay in the thread but are not
            # conversation: a base model copied their wording into later replies.
            turn = [{**m, "notice": "1"} for m in turn]
        return {"history": turn}

    def route_after_route(
        state: TurnState,
    ) -> Literal["remember", "forget", "translate", "summarize", "code", "review", "recall"]:
        r = state["route"]
        return r if r in ("remember", "forget", *TOOL_ROUTES) else "recall"  # type: ignore[return-value]

    def route_after_retrieve(
        state: TurnState,
    ) -> Literal["answer", "cite", "compose", "unknown"]:
        route, message = state["route"], state["message"]
        memories = state.get("memories", [])
        chunks = state.get("chunks", [])
        # a sentence must share a word with the question ("paid" meets "pay") to be chosen
        doc = best_sentence(message, chunks, meaning) if chunks and is_question(message) else None
        doc_cover = coverage(message, doc["sentence"]) if doc else 0.0
        # how much of the question the best sentence's whole excerpt is about
        chunk_cover = coverage(message, doc["quote"]) if doc else 0.0
        mem_cover = max((coverage(message, m["text"]) for m in memories), default=0.0)
        by_slot = any(m.get("slot") for m in memories)
        if route == "ask_memory":
            if memories and (by_slot or mem_cover >= doc_cover):
                return "answer"
            # a question about the user that a document answers ("is flood damage covered by
            # my insurance?") — only when the excerpt covers half the question
            if doc is not None and (
                chunk_cover >= 0.5
                or (doc_cover > 0 and holds_asked_value(message, doc["sentence"]))
                # "what's the excess on my contents insurance?": a sentence that means it
                or (doc.get("similarity") or 0.0) >= _DOC_MEANS
            ):
                return "cite"
            return "unknown"
        if route == "ask_documents":
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
            doc_cover >= 0.5
            or (doc_cover >= 0.3 and holds_asked_value(message, doc["sentence"]))
            # "which database is billing moving to?" / "…will be migrated to PostgreSQL 17"
            or (is_question(message) and (doc.get("similarity") or 0.0) >= _DOC_MEANS)
        ):
            return "cite"  # "When did I plant the tomatoes?": a question a document answers
        if (
            is_question(message)
            and chunks
            and meaning is not None
            and not _instruct(s.llm)
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
        "answer": answer,
        "cite": cite,
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
    for name in ("memorize", "remember", "forget", "answer", "cite", "unknown", *TOOL_ROUTES):
        g.add_edge(name, "finish")
    g.add_edge("finish", END)
    return g.compile(checkpointer=checkpointer)


def _describe(fact: str) -> str:
    """What a forgotten fact was about, without repeating its value ("your passport number").

    Example:
        >>> _describe("My passport number is X1234567.")
        'your passport number'
        >>> _describe("My colleague Priya is a nurse at the city hospital.")
        "Priya's work"
        >>> _describe("I take iron tablets every morning.")
        'you take iron …'
    """
    found = slot(fact)
    if found is None:
        words = second_person(fact.rstrip(".!")).split()
        text = " ".join(words[:3]) + (" …" if len(words) > 3 else "")
        return text[0].lower() + text[1:]
    subject, attribute = found
    attribute = {"residence": "home"}.get(
        attribute.removeprefix("past "), attribute.removeprefix("past ")
    )
    if subject == "i":
        whose = "your"
    elif subject.startswith("my "):
        whose = "your " + subject.removeprefix("my ") + "'s"
    else:
        whose = subject.capitalize() + "'s"
    return f"{whose} {attribute}"


def _lower_first(text: str) -> str:
    """'Your dog…' → 'your dog…' inside a sentence; a name ('Lorcan lives…') stays as it is."""
    first = text.split(" ", 1)[0]
    if first in ("Your", "You", "You're", "You've", "The", "A", "An", "I", "It", "There"):
        return (text[0].lower() + text[1:]) if first != "I" else text
    return text


def _acknowledge(facts: list[dict[str, Any]]) -> str:
    """The reply to a statement: what was stored, said back to the user."""
    if not facts:
        return "OK."
    said: list[str] = []
    for f in facts:
        text = second_person(f["text"].rstrip(".!"))
        if f["action"] == "rejected":
            said.append(f'I did not store "{f["text"]}": {f["reason"]}')
        elif f["action"] == "refreshed":
            said.append(f"I already knew that {text[0].lower() + text[1:]}")
        elif f["action"] == "pending":
            said.append(f"{text} (waiting in your memory inbox)")
        else:
            extra = " (this replaces what you told me before)" if f["superseded"] else ""
            said.append(text + extra)
    said = [said[0]] + [_lower_first(t) for t in said[1:]]
    return "Noted: " + "; ".join(said) + "."
