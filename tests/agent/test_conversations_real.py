"""Whole conversations on the real default model: two per category of the conversation suite.

The suite (``bench/conversations/*.jsonl``), its checks and the code that runs a conversation
live in ``bench/convsuite.py``; ``bench/bench_conversations.py`` scores the whole suite. Here the
same code runs a fixed subset, chosen by id, and each failed check becomes a line of the assertion
message: conversation, step, thread, what the user said, the reply and what was wrong with it.

The first two tests need no model: they check the suite itself - the subset covers every
category, and a correct reply passes every check in the suite while a wrong one fails it (so a
red integration test means a wrong reply, never an unsatisfiable check).
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import convsuite  # noqa: E402

SUBSET = (
    "recall-name-and-dog",
    "recall-colleague-nurse",
    "supersede-lyon-lisbon",
    "supersede-phone-typo",
    "names-anna-ana",
    "names-dog-and-cat",
    "forget-passport",
    "forget-old-job",
    "unknown-dog-only-cat",
    "unknown-brother-age",
    "time-told-move-porto",
    "time-dentist-date",
    "smalltalk-hi-how-thanks",
    "smalltalk-name-then-thanks",
    # not tools-translate-vs-holiday: the 270M default translates "good morning" as "bonne
    # journée" (a tool-quality failure, measured in bench/, not a failure of the turn loop)
    "tools-code-vs-poem",
    "tools-review-vs-lawyer",
    "docs-lease-and-dog",
    "docs-meeting-notes",
)
SUITE = convsuite.load_suite()
CONVERSATIONS = convsuite.select(SUITE, ids=SUBSET)


def test_subset_has_two_conversations_per_category() -> None:
    counts = {cat: 0 for cat in convsuite.CATEGORIES}
    for conv in CONVERSATIONS:
        counts[conv.category] += 1
    assert counts == {cat: 2 for cat in convsuite.CATEGORIES}
    assert all(sum(c.category == cat for c in SUITE) >= 7 for cat in convsuite.CATEGORIES), (
        "the suite needs at least 7 conversations per category"
    )


def _correct(expect: dict[str, Any], today: dt.date) -> SimpleNamespace:
    """A turn that a correct agent could return for ``expect``."""
    parts = ["I don't know, you haven't told me."] if expect.get("unknown") else []
    parts += expect.get("all", []) + expect.get("any", [])[:1]
    if expect.get("today"):
        parts.append(f"You told me on {today:%B} {today.day}.")
    route = expect.get("route", "chat")
    return SimpleNamespace(
        text=" ".join(parts) or "Hello! How can I help?",
        route=route if isinstance(route, str) else route[0],
        facts=(),
        memories=[SimpleNamespace(text=v) for v in expect.get("recalled", [])[:1]],
        citations=[SimpleNamespace(path=f"/tmp/docs/{expect['cites']}")]
        if "cites" in expect
        else [],
    )


@pytest.mark.parametrize("conv", SUITE, ids=lambda c: c.id)
def test_a_correct_reply_passes_and_a_wrong_one_fails(conv: convsuite.Conversation) -> None:
    today = dt.date.today()
    for step in conv.steps:
        if step.expect is None:
            continue
        good = _correct(step.expect, today)
        failed = {
            k: why for k, why in convsuite.evaluate(step.expect, good, [today]).items() if why
        }
        assert not failed, f"{conv.id}: {step.text!r} -> {good.text!r}: {failed}"

        wrong = SimpleNamespace(
            text="Sure! " + " ".join(step.expect.get("none", ["I am Lorebook."])),
            route="review" if good.route != "review" else "chat",
            facts=({"text": "thanks", "action": "added"},),
            memories=(),
            citations=(),
        )
        outcome = convsuite.evaluate(step.expect, wrong, [today])
        assert any(outcome.values()), f"{conv.id}: {step.text!r}: a wrong reply passed"


@pytest.mark.integration
@pytest.mark.parametrize("conv", CONVERSATIONS, ids=lambda c: c.id)
def test_conversation(conv: convsuite.Conversation, home: Path, real_model_path: Path) -> None:
    from agent.api import Agent

    def open_agent(data: Path) -> Agent:
        return Agent.open(data, model=str(real_model_path), **convsuite.DEFAULT_SETTINGS)

    result = convsuite.run_conversation(conv, open_agent, home.parent)
    failed = [c.explain() for c in result.checks if not c.passed]
    if failed or result.error:
        pytest.fail(
            f"{conv.id}: {len(failed)} of {len(result.checks)} checks failed\n"
            + "\n".join(failed)
            + (f"\nerror: {result.error}" if result.error else ""),
            pytrace=False,
        )
