"""The turn graph's nodes that carry out a command: remember, forget, and one per tool.

``remember`` and ``forget`` act on the user's memory and say back what they did, in the user's
terms ("Noted: your sister is called Ana.", "Forgotten: your passport number …"). The tool node
is one function for every tool of the capability registry (:data:`agent.capabilities.TOOLS`):
``build_graph`` binds each tool's :class:`~agent.capabilities.Capability`, whose parser turns
the turn's payload into the tool's parameters (``ToolBox.run_command``). Like every node, each
takes the :class:`~agent.pipeline.services.Services` first.
"""

from __future__ import annotations

import re
from typing import Any

from agent.capabilities import Capability
from agent.errors import CancelledError, ToolError
from agent.pipeline.facts import RESCHEDULE, correction, facts_in, rescheduled, swapped
from agent.pipeline.forgetting import clean_phrase, kept_part, matching, refers_back, said_in
from agent.pipeline.services import (
    Services,
    previous_reply,
    previous_user,
    store_facts,
    unanswered_question,
)
from agent.pipeline.state import TurnState
from memory._slots import second_person, slot

__all__ = ["acknowledge", "forget", "remember", "tool"]


#: The clause that reschedules or swaps a value
_CHANGE_SAID = re.compile(
    r"\b(?:moved|pushed|put|rescheduled|changed|postponed|brought|shifted|bumped|switched|"
    r"scratch|strike|cross)\b|\bnot\b|\bnow\b|\binstead\b",
    re.I,
)


def remember(s: Services, state: TurnState) -> dict[str, Any]:
    """Store what the user stated or asked to be kept, and say it back."""
    text = state.get("payload", "").strip()
    if s.memory is None or not text:
        return {"reply": 'Tell me what to remember, e.g. "remember that my sister is Ana".'}
    explicit = not state.get("route_reason", "").startswith("rule")
    facts = facts_in(text, previous_reply(state), previous_user(state), unanswered_question(state))
    fix = correction(text, previous_user(state))
    current = s.memory.list(state["user"], kinds=["fact"])
    if fix is not None and s.memorize:
        # "sorry, I meant 2985": the wrong value was never true, so it leaves no history
        wrong, right = fix
        s.memory.forget_ids([r.id for r in current if r.text == wrong])
        facts = [right, *facts]
    told = [r.text for r in current]
    moved = rescheduled(text, previous_user(state), told) if fix is None else None
    if moved is None and fix is None and s.memorize:
        # "the work trip got changed - it's Oslo now, not Reykjavik": said in any thread
        moved = swapped(text, told)
    if moved is not None:
        # "they pushed it back to the 23rd": the appointment told just before, on its new day
        # the clause that said it changed is not a fact of its own ("The work trip got
        # changed - it's Oslo now.")
        said = next((p for p in re.split(r"(?<=[.!?])\s+", text) if _CHANGE_SAID.search(p)), "")
        facts = [
            moved[1],
            *(
                f
                for f in facts
                if not RESCHEDULE.search(f) and f.rstrip(".!").lower()[:25] not in said.lower()
            ),
        ]
    if not facts and explicit:
        facts = [text]  # the user asked for these words to be kept
    if not s.memorize and not explicit:
        facts = []
    done = store_facts(s, state, facts, [])
    if moved is not None and done and done[0]["id"] is not None:
        for r in current:  # the facts as they were before this message
            if r.text == moved[0] and r.id != done[0]["id"]:
                s.memory.supersede(r.id, done[0]["id"])
                done[0]["superseded"].append(r.id)
    return {"reply": acknowledge(done), "facts": done, "finish_reason": "stop"}


def forget(s: Services, state: TurnState) -> dict[str, Any]:
    """Delete the user's memories the payload names, everywhere; say what was forgotten."""
    payload = state.get("payload", "")
    earlier = previous_user(state) if refers_back(payload) else None
    phrase = clean_phrase(payload)
    message = state.get("message", "")
    said_before = message[: message.rfind(payload)] if payload and payload in message else ""
    named = re.search(r"\b(?:my|our)\s+[a-z-]+\b", said_before, re.I)
    if s.memory is None:
        return {"reply": 'Tell me what to forget, e.g. "forget that I live in Paris".'}
    records = s.memory.list(state["user"], kinds=["fact"], include_history=True)
    if earlier and named and matching(named.group(0), said_in(earlier, records)):
        # "I don't love having my weight saved. delete that please": that is my weight, not
        # all the message before told ("… and my sister's getting married in May")
        earlier, phrase = None, named.group(0)
    if not (phrase or earlier):
        return {"reply": 'Tell me what to forget, e.g. "forget that I live in Paris".'}
    if earlier:  # "erase that": what the user's last message told
        phrase = "what you said last"
        said = [h["content"] for h in state.get("history", []) if h["role"] == "assistant"]
        found = said_in(earlier, records) or said_in(said[-1] if said else "", records)
    else:
        found = matching(phrase, records)
    if not found:
        near = [
            h.record.text
            for h in s.memory.search(phrase, user=state["user"], k=3, include_history=True)
            if h.similarity >= 0.45
        ]
        hint = (" Did you mean: " + "; ".join(f'"{t}"' for t in near) + "?") if near else ""
        return {"reply": f'I found nothing about "{phrase}" to forget.{hint}'}
    # "forget the door code" of "I live in flat 3. The door code is 4471.": the sentences
    # it names go, the rest is stored again as it was (the old row is erased either way)
    kept = {
        r.id: part
        for r in found
        if r.current and not earlier and (part := kept_part(phrase, r.text)) is not None
    }
    s.memory.forget_ids([r.id for r in found])
    others = [r.id for r in records if r.id not in kept]
    for r in found:
        if r.id in kept:
            s.memory.add(
                kept[r.id],
                user=state["user"],
                thread=r.thread,
                source=r.source,
                created=r.created,
                metadata=r.metadata,
                keep=others,
            )
    s.forgotten = [
        r.text if r.id not in kept else r.text.replace(kept[r.id], "").strip() for r in found
    ]
    listed = "; ".join(_describe(t) for t in s.forgotten[:5])
    more = f" and {len(found) - 5} more" if len(found) > 5 else ""
    n = len(found)
    return {
        "reply": f"Forgotten: {listed}{more} ({n} memor{'y' if n == 1 else 'ies'}, deleted "
        "everywhere, conversation lines included).",
    }


def tool(s: Services, cap: Capability, state: TurnState) -> dict[str, Any]:
    """Run tool ``cap`` on the turn's payload; the reply is the result's Markdown, the typed
    result rides on ``tool_result``. A tool error is a reply, never an exception."""
    name = cap.name
    if s.tools is None:
        return {"reply": f"The {name} tool is not set up here.", "finish_reason": "error"}
    payload = state.get("payload", "")
    try:
        result, used = s.tools.call(name, lambda: s.tools.run_command(cap, payload), s.cancel)
    except CancelledError:
        return {"reply": f"Stopped: the {name} tool was cancelled.", "finish_reason": "cancelled"}
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


def acknowledge(facts: list[dict[str, Any]]) -> str:
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
