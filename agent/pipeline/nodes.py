"""The turn graph's nodes for conversation and questions: route, recall, retrieve, compose,
generate, memorize, answer, cite, unknown and finish.

Each is a module-level function ``node(services, state)`` returning a partial state update;
:func:`agent.pipeline.graph.build_graph` binds the services with ``functools.partial``. The
nodes that carry out a command (remember, forget, the tools) are in
:mod:`agent.pipeline.commands`, the conditional edges in :mod:`agent.pipeline.branches`.

Routing generates nothing (:mod:`agent.pipeline.routing`); questions about the user are answered
from evidence and checked (:mod:`agent.pipeline.answers`). The model writes the reply only for
conversation and general questions (``generate``), with only relevant memories in view; tokens
are streamed through LangGraph's custom stream (``get_stream_writer``).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from langgraph.config import get_stream_writer

from agent.pipeline.answers import (
    DOC_SURE,
    UNKNOWN_REPLY,
    about_the_same,
    answers_question,
    asks_history,
    asks_when,
    best_sentence,
    clock_reply,
    closest_told,
    evidence,
    extractive_answer,
    extractive_document_answer,
    grounded,
    holds_asked_value,
    is_naming,
    model_answer,
    model_document_answer,
    names_what_user_told,
    related_reply,
    small_talk_reply,
    supported,
    the_one_named,
    told_reply,
    told_window,
    with_antecedent,
)
from agent.pipeline.arithmetic import arithmetic_reply
from agent.pipeline.commands import acknowledge
from agent.pipeline.compose import (
    blank_injections,
    clean_history,
    clean_reply,
    invented_numbers,
    relevant_chunks,
    taint,
)
from agent.pipeline.compose import compose as compose_prompt
from agent.pipeline.evidence import content_words
from agent.pipeline.facts import facts_in, said_of_someone_before
from agent.pipeline.routing import (
    DOCUMENT_FOLLOW_UP,
    Decision,
    asked_part,
    explicit_route,
    follow_up,
    is_question,
    question_of,
)
from agent.pipeline.services import (
    Services,
    date,
    instruct,
    previous_question,
    previous_quoted_documents,
    previous_reply,
    previous_route,
    previous_user,
    store_facts,
    unanswered_question,
)
from agent.pipeline.state import TurnState
from agent.pipeline.tool_followups import (
    TEXT_TOOLS,
    from_given_text,
    last_reply,
    review_advice,
)
from memory._slots import question_slot

__all__ = [
    "answer",
    "cite",
    "compose",
    "finish",
    "generate",
    "memorize",
    "recall",
    "retrieve",
    "route",
    "unknown",
]

_POINTS_BACK = re.compile(
    r"\b(?:it|its|they|them|their|that|this|those|these|he|she|her|him)\b", re.I
)


def route(s: Services, state: TurnState) -> dict[str, Any]:
    """Decide what the turn is (:mod:`agent.pipeline.routing`): a command, or the rules and
    the nearest labelled examples, then the follow-ups of the previous turn."""
    assert s.router is not None  # build_graph makes one
    decision = explicit_route(state["message"], state.get("command"))
    if decision is None:
        ask = s.llm if s.classify_with_model and instruct(s.llm) else None
        decision = s.router.route(state["message"], llm=ask)
        before = previous_route(state)
        if decision.route in ("chat", "ask_memory", "ask_documents"):
            # "and 'thank you very much'?" after a translation: the same tool again
            decision = follow_up(state["message"], before, previous_user(state)) or decision
        if decision.route == "chat" and said_of_someone_before(
            state["message"], previous_user(state)
        ):
            # "he's a sound engineer at a theatre there" after a message about the user's
            # brother: a fact about him, not small talk
            decision = Decision("remember", SAID_OF_SOMEONE, decision.payload)
        elif (
            decision.route in ("chat", "ask_memory")
            and is_question(state["message"])
            and previous_quoted_documents(state)
            and (_POINTS_BACK.search(state["message"]) or _ASKS_THERE.match(state["message"]))
        ):
            # "how long does it have to cook altogether?" after a quote from the recipe: the
            # same document, where only it may answer (a base model invented "10 minutes")
            decision = Decision("ask_documents", DOCUMENT_FOLLOW_UP, decision.payload)
        elif (
            (
                decision.route == "chat"
                and is_question(state["message"])
                and before in ("ask_memory", "remember")
                # not "him" of "…, I want to get him a card": a pronoun of the question itself
                and re.search(
                    r"\b(?:he|she|his|her|him|they|their|them)\b",
                    question_of(state["message"]),
                    re.I,
                )
            )
            or (
                # "what time?" after "when's my dentist appointment?": the same thing, one detail
                # …or after the statement that told it ("Booked the optician for 9 March at
                # 11:20." / "what time is it at?")
                decision.route in ("chat", "ask_documents")
                and before in ("ask_memory", "remember")
                and _ELLIPTIC.match(state["message"])
            )
            or (
                # "and which city is it in?" after "what did my cousin call his bakery?"; "which
                # knee was it, left or right?" after "I've got physio for my knee…"
                decision.route == "chat"
                and is_question(state["message"])
                and before in ("ask_memory", "remember")
                and re.search(r"\b(?:it|its|there)\b", state["message"], re.I)
                and (
                    (before == "ask_memory" and re.match(r"^\s*(?:and|so|ok)\b", state["message"]))
                    or bool(
                        content_words(state["message"]) & content_words(previous_user(state) or "")
                    )
                )
            )
        ):
            # "and which city is his workshop in?" after a question about the user's
            # sister's husband: about the user's world, where only memories may answer
            decision = Decision("ask_memory", FOLLOW_UP_ABOUT, decision.payload)
    return {
        "route": decision.route,
        "route_reason": decision.reason,
        "payload": decision.payload,
    }


FOLLOW_UP_ABOUT = "rule: a follow-up about who or what was just discussed"
#: "is there a hot tub?", "can we bring the dog?" after a quote from the cottage's welcome
#: sheet: what the document offers or allows, where only it may answer
_ASKS_THERE = re.compile(
    r"^\s*(?:(?:and|also|oh|so|ok|okay)\b[\s,]*)?(?:is there|are there|"
    r"do (?:they|you|we) (?:have|get|provide|offer)|does (?:it|the \w+) (?:have|come with|include)|"
    r"can (?:i|we)|are (?:we|you) allowed|am i allowed)\b",
    re.I,
)
#: A question of one detail with no subject of its own: "what time?", "and where?", "how much?"
_ELLIPTIC = re.compile(
    r"^\s*(?:(?:and|so|ok|okay|oh)[,\s]+)?(?:(?:in|at|on|from|to|for)\s+)?"
    r"(?:(?:what|which|how)\s+(?:time|day|date|much|many|"
    r"long|often|colou?r|size|number|year|month|city|town|country|street|floor|room|kind|sort|"
    r"type|brand|model|name)|when|where|who|whose|why|how much|how many|how long|what about "
    r"(?:it|that|him|her|them))(?:\s+(?:is|was|'s|will)\s+(?:it|that)(?:\s+be)?"
    r"(?:\s+(?:in|at|on|from))?)?"
    r"(?:\s+(?:again|exactly|then|though))?\s*\?*\s*$",
    re.I,
)
SAID_OF_SOMEONE = "rule: a statement about whom the user just named"


def _direct(s: Services, state: TurnState) -> str:
    """The reply to a turn that needs neither memories nor the model, or "": a greeting (for
    a base model, which continued its own primer after "Hi!"), today's date or the time,
    what the user told today / yesterday / this week."""
    message = state["message"]
    if state.get("route_reason") == "rule: small talk" and not instruct(s.llm):
        return small_talk_reply(message)
    summed = arithmetic_reply(message)
    if summed is not None:
        return summed  # "what's 12 times 12?": worked out, not guessed ("= 120")
    before = previous_route(state)
    if before in TEXT_TOOLS and is_question(message):
        # "who do I talk to about the litter pick?" after "summarise this: …", "what would
        # you push back on?" after a review: the text in the thread answers, not the model
        advice = review_advice(message, last_reply(state.get("history", [])))
        request = previous_user(state)
        said = advice or (from_given_text(message, request, s.meaning) if request else None)
        if said:
            return said
    now = dt.datetime.now().astimezone()
    clock = clock_reply(message, now)
    if clock is not None:
        return clock
    window = told_window(message, now.date()) if s.memory is not None else None
    if window is None:
        return ""
    first, last, said = window
    since = dt.datetime.combine(first, dt.time.min, tzinfo=now.tzinfo)
    until = dt.datetime.combine(last, dt.time.max, tzinfo=now.tzinfo)
    hits = s.memory.search(message, user=state["user"], k=50, since=since, until=until)
    told = sorted(({"id": h.record.id, "text": h.record.text} for h in hits), key=lambda m: m["id"])
    return told_reply(said, told)


def recall(s: Services, state: TurnState) -> dict[str, Any]:
    """The user's memories that answer the message (a question) or are close to it."""
    if s.memory is None:
        return {"memories": [], "direct": _direct(s, state)}
    direct = _direct(s, state)
    if direct:
        return {"memories": [], "direct": direct}
    message = state["message"]
    if is_question(message):
        # "also what's the physio's name, I want to get him a card": what is asked decides
        asked_alone = question_of(message)
        message = with_antecedent(asked_alone, previous_question(state))
        own = question_slot(message)
        if (
            state.get("route_reason") == FOLLOW_UP_ABOUT
            and message == asked_alone
            # "and Theo - what's his job?" names whom it asks about
            and (own is None or own[0] in ("he", "she", "they", "it", "i"))
        ):
            # the question before, or the statement that told what "it" is
            before = previous_question(state) or previous_user(state)
            message = f"{before or ''} {message}".strip()
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
    items = [_item(h) for h in hits]
    related: list[dict[str, Any]] = []
    if is_question(message):
        # evidence only: a memory that does not answer the question stays out of view
        found = evidence(message, items)
        before = previous_question(state)
        if not found and state.get("route_reason") == FOLLOW_UP_ABOUT and before:
            # "and in which city?" after "what do I do for work?": the fact that answered
            # the question before holds the detail, or nothing does
            found = evidence(before, items)
        by_name = the_one_named(message, items)
        if by_name is not None and all(is_naming(m["text"]) for m in found):
            # "how much does my flatmate owe me?" with "Sam is my flatmate": ask it of Sam
            have = {m["id"] for m in items}
            named = [
                _item(h)
                for h in s.memory.search(by_name, user=state["user"], k=s.recall_k)
                if h.record.id not in have
            ]
            found = evidence(by_name, items + named) or found
            items += named
        related = [] if found else about_the_same(message, items)
    else:
        found = [m for m in items if m["similarity"] >= s.min_similarity][: s.recall_k]
    return {
        "memories": found,
        "personal": names_what_user_told(message, items) or bool(related),
        # said with an "I don't know" when nothing answers for sure
        "related": related or ([] if found else closest_told(message, items)),
    }


def _item(h: Any) -> dict[str, Any]:
    """A memory search hit as the turn state carries it."""
    return {
        "id": h.record.id,
        "text": h.record.text,
        "score": round(h.score, 4),
        "similarity": round(h.similarity, 4),
        "date": date(h.record.created),
        "current": h.record.current,
    }


def retrieve(s: Services, state: TurnState) -> dict[str, Any]:
    """The document excerpts for the message, each with its citation."""
    if s.documents is None:
        return {"chunks": []}
    query = state["message"]
    if state.get("route_reason") == DOCUMENT_FOLLOW_UP:
        query = f"{previous_user(state) or ''} {query}"  # "it" is what was asked about before
    hits = s.documents.search(query, k=s.retrieve_k)
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
    # "what's dad allergic to?" / "Allergies: penicillin": BM25's stems differ, the words not
    if state["route"] == "chat" and not any(
        c["lexical"] or content_words(state["message"]) & content_words(c["quote"]) for c in chunks
    ):
        chunks = []  # small talk and general questions get no unrelated excerpts
    return {"chunks": chunks}


def compose(s: Services, state: TurnState) -> dict[str, Any]:
    """The prompt (:func:`agent.pipeline.compose.compose`): memories, excerpts about the
    message, the conversation so far."""
    chunks = state.get("chunks", [])
    meaning = s.meaning
    if chunks:  # only chunks about the message reach the model and the citations
        sims = meaning(state["message"], [c["quote"] for c in chunks]) if meaning else None
        chunks = relevant_chunks(state["message"], chunks, sims)
    done = compose_prompt(
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


def generate(s: Services, state: TurnState) -> dict[str, Any]:
    """The model's reply to the prompt, streamed token by token."""
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
    reply = done.text
    chunks = state.get("chunks", [])
    if chunks and is_question(state["message"]):
        # a question beside the user's documents: a value the model gives that neither they,
        # the memories nor the conversation hold is made up ("It costs 10,000 SEK/m2" beside
        # a bathroom FAQ that prices no toilet); the documents do not say
        sources = [state["message"], *(c["quote"] for c in chunks)]
        sources += [m["text"] for m in state.get("memories", [])]
        sources += [h["content"] for h in state.get("history", [])]
        if invented_numbers(reply, sources):
            reply = extractive_document_answer(None)
    return {
        "reply": reply,
        "finish_reason": done.finish_reason,
        "prompt_tokens": done.prompt_tokens,
        "completion_tokens": done.completion_tokens,
    }


def memorize(s: Services, state: TurnState) -> dict[str, Any]:
    """Store the facts the user's message states (after a conversational reply)."""
    if s.memory is None or not s.memorize or state.get("finish_reason") == "cancelled":
        return {"facts": []}
    # Facts come from the user's message only; recalled memories and document text are
    # what must not be stored again. The reply is left out: a model that echoes the user
    # would otherwise block the user's own statement.
    context = [m["text"] for m in state.get("memories", [])]
    context += [c["quote"] for c in state.get("chunks", [])]
    facts = facts_in(
        state["message"], previous_reply(state), previous_user(state), unanswered_question(state)
    )
    done = store_facts(s, state, facts, context)
    kept = [f for f in done if f["action"] in ("added", "pending")]
    if not kept or not state.get("reply"):
        return {"facts": done}
    # "fyi my passport runs out in 2031. btw what's the date?": the date, and what was kept,
    # said back as a statement's is (a fact stored silently surprised users)
    note = "\n\n" + acknowledge(kept)
    get_stream_writer()({"type": "token", "text": note})
    return {"facts": done, "reply": state["reply"] + note}


def answer(s: Services, state: TurnState) -> dict[str, Any]:
    """A question the memories answer: the model's answer if it is grounded, else quoted."""
    question = state["message"]
    found = state.get("memories", [])
    reply = state.get("direct", "")
    if reply:
        pass  # the date, what was told today, a greeting
    elif instruct(s.llm) and not (asks_history(question) or asks_when(question)):
        reply = model_answer(s.llm, question, found, s.cancel)
        if not grounded(reply, found, question):
            reply = ""
    reply = reply or extractive_answer(question, found)
    get_stream_writer()({"type": "token", "text": reply})
    return {"reply": reply, "finish_reason": "stop"}


LINE_QUOTED = 300
"""A line or paragraph up to this many characters is quoted whole around its answer when the
question asks what to do, or the value it asks for is beside the sentence."""
FAQ_QUOTED = 700
"""An FAQ's answer up to this many characters is quoted whole when its question means the one
asked (:data:`agent.pipeline.answers.DOC_SURE`): the answer the FAQ gives to it."""
_WHAT_TO_DO = re.compile(
    r"\bwhat (?:do|should|can|must) (?:i|we) do\b|\bwhat now\b|\bhow do (?:i|we) (?:fix|stop|"
    r"sort|deal with|reset|solve)\b|\bwhat happens\b",
    re.I,
)


def cite(s: Services, state: TurnState) -> dict[str, Any]:
    """A question the documents answer: the sentence that holds the answer, cited; or that
    the documents do not say."""
    question = state["message"]
    meaning = s.meaning
    # a planted instruction is never the quoted answer (blanked, so offsets still hold)
    chunks = [
        {**c, "n": i + 1, "quote": blank_injections(c["quote"])}
        for i, c in enumerate(state.get("chunks", []))
    ]
    # of the whole message, else of its question alone ("put my insurance in there. what's
    # the excess?"); a sentence that shares a word but is about something else does not do:
    # the documents don't say
    found = None
    for asked in dict.fromkeys((question, asked_part(question))):
        found = best_sentence(asked, chunks, meaning)
        if found is not None and answers_question(asked, found):
            break
        found = None
    reply = ""
    if found is not None and instruct(s.llm):
        reply = model_document_answer(s.llm, question, found, s.cancel)
        reply = f"{reply} [1]" if supported(reply, found["sentence"], question) else ""
    if found is not None:
        # the citation is the sentence that holds the answer, with its own offsets; a short
        # paragraph or line it stands in is quoted whole (its other sentences say what to do,
        # or whom the value is for)
        whole = found.get("line", "")
        # the answer under an FAQ question that means the one asked is that whole answer
        longest = FAQ_QUOTED if found.get("lead_similarity", 0.0) >= DOC_SURE else LINE_QUOTED
        if (
            not reply
            and found["sentence"] in whole
            and len(whole) <= longest
            and (
                _WHAT_TO_DO.search(question)  # "E4: Low system pressure. Top up through…"
                # an FAQ's answer is the paragraph under its question
                or found.get("faq")
                # "… legal protection of 100,000-300,000 SEK. … Deductible 25%." for "what
                # share do I pay?": the value asked for is in the line, not the sentence
                or (
                    holds_asked_value(question, whole)
                    and not holds_asked_value(question, found["sentence"])
                )
            )
        ):
            found = {**found, "sentence": whole, "sentence_start": found["line_start"]}
            found["sentence_end"] = found["sentence_start"] + len(whole)
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


def unknown(s: Services, state: TurnState) -> dict[str, Any]:
    """A question about the user that nothing answers: "I don't know", with what is known."""
    related = state.get("related") or []
    reply = related_reply(related, state["message"]) if related else UNKNOWN_REPLY
    return {"reply": reply, "finish_reason": "unknown"}


def finish(s: Services, state: TurnState) -> dict[str, Any]:
    """Append the turn to the thread's history, marked for what later prompts may reuse."""
    if state.get("finish_reason") == "cancelled" and not state.get("reply"):
        return {}
    reply = state.get("reply", "")
    update: dict[str, Any] = {}
    flag = None
    if state.get("prompt"):
        retrieved = [c["quote"] for c in state.get("chunks", [])]
        flag = taint(reply, retrieved)
        if flag:  # the reply the user gets loses what a planted instruction made it say
            update["reply"] = reply = clean_reply(reply, retrieved)
    turn = [
        {"role": "user", "content": state["message"]},
        {"role": "assistant", "content": reply, "route": state["route"]},
    ]
    if state.get("chunks") and not state.get("prompt") and "[1]" in reply:
        turn[1]["documents"] = "1"  # a quote from the documents: "it" in a follow-up is there
    if flag:  # kept in the thread for the user, never again in a prompt
        turn[1]["flag"] = flag
    elif not state.get("prompt"):
        # Replies the model did not write (commands, "Noted: …", answers quoted from
        # memories and documents, "I don't know…") stay in the thread but are not
        # conversation: a base model copied their wording into later replies.
        turn = [{**m, "notice": "1"} for m in turn]
    return {**update, "history": turn}
