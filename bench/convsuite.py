"""The conversation suite: load it, run one conversation through an ``Agent``, check the replies.

Shared by ``bench/bench_conversations.py`` (the benchmark) and
``tests/agent/test_conversations_real.py`` (a fixed subset on the real default model). It imports
nothing from lorebook: the caller hands in ``open_agent(home)``, so the runner can score an older
checkout of the code (``--tree``) with the same checks.

The suite is every ``*.jsonl`` file in ``bench/conversations/``, one conversation per line::

    {"id": "recall-name-and-dog", "category": "recall", "turns": [
        {"user": "My name is Tom and my dog is called Rex.", "thread": "t1"},
        {"user": "What's my dog's name?", "thread": "t2", "expect": {"any": ["Rex"]}},
        {"restart": true},
        {"ingest": {"name": "lease.txt", "text": "The monthly rent is 950 euros."}}
    ]}

Steps, in order:

- ``{"user": TEXT, "thread": NAME}``: one chat turn (``thread`` defaults to ``"t1"``), with an
  optional ``"expect"``: the check on its reply, described below.
- ``{"restart": true}``: ``agent.close()``, then the agent is opened again on the same data
  directory (memories, documents and thread checkpoints must survive it).
- ``{"ingest": {"name": FILE, "text": TEXT}}``: TEXT is written to FILE in a folder of the
  conversation's own and passed to ``agent.ingest``.

An ``expect`` is one check; it passes when every condition it names holds. Text matching is a
case-insensitive substring test on the reply (curly apostrophes read as straight ones):

- ``any``: [str] - at least one appears.
- ``all``: [str] - every one appears.
- ``none``: [str] - none appears (an invented or forgotten or superseded value).
- ``unknown``: true - the reply says it does not know (:data:`UNKNOWN` lists the phrasings:
  "don't know", "no idea", "haven't told me", "not sure", "found nothing", ...).
- ``route``: str or [str] - ``turn.route`` is (one of) these.
- ``max_words``: int - the reply has at most this many words.
- ``no_fact``: true - nothing was stored: ``turn.facts`` has no entry whose action is other than
  ``"rejected"`` (``added``, ``refreshed`` and ``pending`` all count as stored).
- ``no_self_intro``: true - the assistant does not introduce itself ("I'm Lorebook").
- ``today``: true - the reply names the day the conversation ran ("2026-12-02", "2 Dec",
  "December 2nd", "02/12", "today", ...) and is not an "I don't know".
- ``cites``: FILE - one of ``turn.citations`` is that ingested file.
- ``recalled``: [str] - one of ``turn.memories`` (what was put in front of the model) contains
  one of these: the answer came from memory, not from the thread or the documents.

Deliberate shortcuts: substring matching is crude (a reply that lists both the right and a wrong
value fails ``none``; "cat" matches "indicate"), so values in the suite are chosen to be
distinctive. Dates are accepted for the day the conversation started and the day of the check,
so a run that crosses midnight does not fail the ``today`` checks.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SUITE_DIR = Path(__file__).resolve().parent / "conversations"
CATEGORIES = (
    "recall",
    "supersede",
    "similar_names",
    "forget",
    "unknown",
    "time",
    "smalltalk",
    "tools",
    "documents",
)
DEFAULT_SETTINGS: dict[str, Any] = {"temperature": 0}
"""What the runner and the test pass to ``Agent.open`` unless told otherwise: greedy decoding, so
that a difference between two runs is the code's, not the sampler's."""

UNKNOWN = re.compile(
    r"\b(?:"
    r"(?:do not|don'?t|didn'?t|did not) (?:know|remember|have (?:any |that |this )?"
    r"(?:information|info|record|details|data))"
    r"|no idea|not sure|unsure|(?:do not|don'?t|does not|doesn'?t) say"
    r"|(?:have not|haven'?t|never|not|didn'?t|did not) (?:yet )?(?:told|tell|mentioned|mention"
    r"|said|shared)"
    r"|found nothing|find nothing|(?:could not|couldn'?t|can'?t|cannot) find"
    r"|no (?:information|record|memory|memories) (?:of|about|on)"
    r")\b",
    re.I,
)
"""The phrasings of an "I don't know" reply."""

_SELF_INTRO = re.compile(r"\b(?:i'm|i am|my name is|this is|it's)\s+lorebook\b", re.I)
_STEP_KEYS = {"user", "thread", "expect", "restart", "ingest"}
_EXPECT_KEYS = {
    "any",
    "all",
    "none",
    "unknown",
    "route",
    "max_words",
    "no_fact",
    "no_self_intro",
    "today",
    "cites",
    "recalled",
}
_MONTHS = (
    "january february march april may june july august september october november december"
).split()


class SuiteError(ValueError):
    """A conversation file does not follow the format (which file, which line, what to fix)."""


@dataclass(frozen=True)
class Step:
    """One step of a conversation: a user turn, a restart or an ingest."""

    kind: str
    """"user", "restart" or "ingest"."""
    text: str = ""
    thread: str = "t1"
    expect: dict[str, Any] | None = None
    name: str = ""
    """The file name of an ingest step."""


@dataclass(frozen=True)
class Conversation:
    id: str
    category: str
    steps: tuple[Step, ...]

    @property
    def n_checks(self) -> int:
        return sum(1 for s in self.steps if s.expect is not None)


@dataclass
class CheckResult:
    """One ``expect`` evaluated against the reply of its turn."""

    conversation: str
    category: str
    step: int
    """1-based index of the step in the conversation."""
    thread: str
    user: str
    expect: dict[str, Any]
    reply: str = ""
    route: str = ""
    conditions: dict[str, bool] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def explain(self) -> str:
        """A readable account of a failed check: where, what was said, what was wrong."""
        return (
            f"{self.conversation} step {self.step} [{self.thread}] user: {self.user!r}\n"
            f"  reply ({self.route or '?'}): {self.reply!r}\n"
            + "".join(f"  FAILED {f}\n" for f in self.failures)
        )


@dataclass
class TurnRecord:
    step: int
    thread: str
    user: str
    reply: str
    route: str
    route_reason: str
    wall_ms: float
    timings: dict[str, float]
    facts: list[dict[str, Any]]
    memories: list[str]
    citations: list[str]
    finish_reason: str


@dataclass
class ConversationResult:
    id: str
    category: str
    seconds: float = 0.0
    checks: list[CheckResult] = field(default_factory=list)
    turns: list[TurnRecord] = field(default_factory=list)
    error: str | None = None

    @property
    def passed(self) -> int:
        return sum(c.passed for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "category": self.category,
            "seconds": round(self.seconds, 2),
            "error": self.error,
            "passed": self.passed,
            "total": len(self.checks),
            "checks": [{**asdict(c), "passed": c.passed} for c in self.checks],
            "turns": [asdict(t) for t in self.turns],
        }


# -- loading ------------------------------------------------------------------------------------


def load_suite(folder: Path = SUITE_DIR) -> list[Conversation]:
    """Every conversation in ``folder``'s ``*.jsonl`` files, in file then line order.

    Raises:
        SuiteError: a malformed line, an unknown key or category, a duplicate id.

    Example:
        >>> len(load_suite()) >= 64
        True
    """
    conversations: list[Conversation] = []
    seen: set[str] = set()
    files = sorted(folder.glob("*.jsonl"))
    if not files:
        raise SuiteError(f"no *.jsonl conversation files in {folder}")
    for path in files:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            where = f"{path.name}:{n}"
            try:
                conv = _parse(json.loads(line), where)
            except json.JSONDecodeError as exc:
                raise SuiteError(f"{where}: not JSON ({exc})") from exc
            if conv.id in seen:
                raise SuiteError(f"{where}: duplicate id {conv.id!r}; ids must be unique")
            seen.add(conv.id)
            conversations.append(conv)
    return conversations


def select(
    conversations: Iterable[Conversation],
    *,
    categories: Iterable[str] = (),
    ids: Iterable[str] = (),
    limit: int | None = None,
) -> list[Conversation]:
    """The conversations of ``categories`` and/or with ``ids`` (all when both are empty).

    Raises:
        SuiteError: an id or category that the suite does not have.
    """
    conversations = list(conversations)
    cats, wanted = set(categories), set(ids)
    unknown_cats = cats - set(CATEGORIES)
    if unknown_cats:
        raise SuiteError(
            f"unknown categor(ies) {', '.join(sorted(unknown_cats))}; "
            f"valid: {', '.join(CATEGORIES)}"
        )
    missing = wanted - {c.id for c in conversations}
    if missing:
        raise SuiteError(f"no conversation with id(s) {', '.join(sorted(missing))}")
    chosen = [
        c
        for c in conversations
        if (not cats or c.category in cats) and (not wanted or c.id in wanted)
    ]
    return chosen[:limit] if limit is not None else chosen


def _parse(raw: Any, where: str) -> Conversation:
    if not isinstance(raw, dict) or not {"id", "category", "turns"} <= set(raw):
        raise SuiteError(f"{where}: a conversation needs 'id', 'category' and 'turns'")
    if raw["category"] not in CATEGORIES:
        raise SuiteError(
            f"{where}: category {raw['category']!r} is not one of {', '.join(CATEGORIES)}"
        )
    steps = []
    for i, s in enumerate(raw["turns"], 1):
        at = f"{where} ({raw['id']}, step {i})"
        if not isinstance(s, dict) or set(s) - _STEP_KEYS:
            raise SuiteError(f"{at}: a step has only the keys {', '.join(sorted(_STEP_KEYS))}")
        if "user" in s:
            expect = s.get("expect")
            if expect is not None:
                bad = set(expect) - _EXPECT_KEYS
                if bad:
                    raise SuiteError(
                        f"{at}: unknown check(s) {', '.join(sorted(bad))}; "
                        f"valid: {', '.join(sorted(_EXPECT_KEYS))}"
                    )
                for key in ("any", "all", "none", "recalled"):
                    if key in expect and not (
                        isinstance(expect[key], list)
                        and all(isinstance(v, str) and v for v in expect[key])
                    ):
                        raise SuiteError(f"{at}: {key!r} must be a list of non-empty strings")
            steps.append(Step("user", s["user"], s.get("thread", "t1"), expect))
        elif s.get("restart") is True:
            steps.append(Step("restart"))
        elif isinstance(s.get("ingest"), dict) and {"name", "text"} <= set(s["ingest"]):
            name = s["ingest"]["name"]
            if "/" in name or name.startswith("."):
                raise SuiteError(f"{at}: an ingest name is a plain file name, not {name!r}")
            steps.append(Step("ingest", s["ingest"]["text"], name=name))
        else:
            raise SuiteError(
                f"{at}: a step is {{'user': ...}}, {{'restart': true}} or "
                "{'ingest': {'name': ..., 'text': ...}}"
            )
    if not any(s.expect is not None for s in steps):
        raise SuiteError(f"{where}: conversation {raw['id']!r} has no check")
    return Conversation(raw["id"], raw["category"], tuple(steps))


# -- checking -----------------------------------------------------------------------------------


def _norm(text: str) -> str:
    return text.replace("\u2019", "'").replace("\u2018", "'").lower()


def is_unknown(reply: str) -> bool:
    """Whether ``reply`` says "I don't know" in one of the :data:`UNKNOWN` phrasings."""
    return bool(UNKNOWN.search(_norm(reply)))


def date_pattern(day: dt.date) -> re.Pattern[str]:
    """The ways a reply may name ``day``: ISO, "2 Dec", "December 2nd", "02/12", "12/2", "today".

    Example:
        >>> bool(date_pattern(dt.date(2026, 12, 2)).search("you told me on December 2nd"))
        True
    """
    d, m = day.day, day.month
    month = f"(?:{_MONTHS[m - 1]}|{_MONTHS[m - 1][:3]}\\.?)"
    dd = f"0?{d}(?:st|nd|rd|th)?"
    mm = f"0?{m}"
    forms = [
        r"\btoday\b",
        day.isoformat(),
        rf"\b{month}\s+{dd}\b",
        rf"\b{dd}\s+(?:of\s+)?{month}(?![a-z])",
        rf"(?<![\d/.]){dd}[/.]{mm}(?:[/.]\d{{2,4}})?(?![\d/])",
        rf"(?<![\d/.]){mm}/{dd}(?:/\d{{2,4}})?(?![\d/])",
    ]
    return re.compile("|".join(forms), re.I)


def _stored(facts: Iterable[dict[str, Any]]) -> list[str]:
    return [str(f.get("text")) for f in facts if f.get("action") != "rejected"]


def evaluate(expect: dict[str, Any], turn: Any, days: Iterable[dt.date] = ()) -> dict[str, str]:
    """Check ``turn`` (an ``agent.api.Turn`` or anything with its fields) against ``expect``.

    Args:
        expect: the check, as in the suite (see the module docstring).
        turn: the turn's result: ``text``, ``route``, ``facts``, ``memories``, ``citations``.
        days: the days that count as "today" (default: today).

    Returns:
        ``{condition: ""}`` for each condition that held, ``{condition: why}`` for each that
        failed.

    Example:
        >>> from types import SimpleNamespace as T
        >>> evaluate({"any": ["Rex"], "route": "chat"}, T(text="Your dog is Rex.", route="chat"))
        {'any': '', 'route': ''}
    """
    reply = _norm(getattr(turn, "text", "") or "")
    out: dict[str, str] = {}
    if "any" in expect:
        ok = any(_norm(v) in reply for v in expect["any"])
        out["any"] = "" if ok else f"any: none of {expect['any']} in the reply"
    if "all" in expect:
        missing = [v for v in expect["all"] if _norm(v) not in reply]
        out["all"] = f"all: {missing} missing from the reply" if missing else ""
    if "none" in expect:
        found = [v for v in expect["none"] if _norm(v) in reply]
        out["none"] = f"none: the reply contains {found}" if found else ""
    if expect.get("unknown"):
        out["unknown"] = "" if is_unknown(reply) else "unknown: the reply does not say I don't know"
    if "route" in expect:
        routes = [expect["route"]] if isinstance(expect["route"], str) else expect["route"]
        route = getattr(turn, "route", "")
        out["route"] = "" if route in routes else f"route: {route!r}, expected {routes}"
    if "max_words" in expect:
        n = len(reply.split())
        out["max_words"] = (
            "" if n <= expect["max_words"] else f"max_words: {n} words > {expect['max_words']}"
        )
    if expect.get("no_fact"):
        stored = _stored(getattr(turn, "facts", ()) or ())
        out["no_fact"] = f"no_fact: stored {stored}" if stored else ""
    if expect.get("no_self_intro"):
        intro = _SELF_INTRO.search(reply)
        out["no_self_intro"] = f"no_self_intro: {intro.group(0)!r}" if intro else ""
    if expect.get("today"):
        days = list(days) or [dt.date.today()]
        named = any(date_pattern(d).search(reply) for d in days)
        if not named:
            out["today"] = f"today: no mention of {', '.join(d.isoformat() for d in days)}"
        elif is_unknown(reply):
            out["today"] = "today: the reply names the day but says it does not know"
        else:
            out["today"] = ""
    if "cites" in expect:
        paths = [str(getattr(c, "path", "")) for c in getattr(turn, "citations", ()) or ()]
        ok = any(Path(p).name == expect["cites"] for p in paths)
        out["cites"] = "" if ok else f"cites: {expect['cites']} not among citations {paths}"
    if "recalled" in expect:
        texts = [str(getattr(m, "text", "")) for m in getattr(turn, "memories", ()) or ()]
        ok = any(_norm(v) in _norm(t) for v in expect["recalled"] for t in texts)
        out["recalled"] = (
            "" if ok else f"recalled: none of {expect['recalled']} in the memories used {texts}"
        )
    return out


# -- running ------------------------------------------------------------------------------------


def run_conversation(
    conv: Conversation,
    open_agent: Callable[[Path], Any],
    workdir: Path,
    *,
    on_turn: Callable[[TurnRecord, CheckResult | None], None] | None = None,
) -> ConversationResult:
    """Run ``conv`` on a fresh agent in ``workdir`` and check every reply that has an ``expect``.

    Args:
        conv: the conversation.
        open_agent: opens an ``Agent`` on a data directory (called again after a restart).
        workdir: an empty folder of this conversation's own; the data directory is
            ``workdir/home``, ingested files go to ``workdir/docs``.
        on_turn: called after each user turn (``--show`` prints through it).

    Returns:
        The checks and turns. An exception (in a turn, an ingest, a restart) does not propagate:
        it is recorded in ``error`` and every check not yet evaluated fails with it.
    """
    home, docs = workdir / "home", workdir / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    result = ConversationResult(conv.id, conv.category)
    start_day = dt.date.today()
    start = time.perf_counter()
    agent = None
    done = 0
    try:
        agent = open_agent(home)
        for i, step in enumerate(conv.steps, 1):
            done = i - 1
            if step.kind == "restart":
                agent.close()
                agent = None
                agent = open_agent(home)
            elif step.kind == "ingest":
                path = docs / step.name
                path.write_text(step.text, encoding="utf-8")
                agent.ingest([path], progress=False)
            else:
                t0 = time.perf_counter()
                turn = agent.chat(step.text, thread=step.thread, user="me")
                record = TurnRecord(
                    step=i,
                    thread=step.thread,
                    user=step.text,
                    reply=turn.text,
                    route=turn.route,
                    route_reason=turn.route_reason,
                    wall_ms=round((time.perf_counter() - t0) * 1000, 1),
                    timings={k: round(v, 1) for k, v in turn.timings.items()},
                    facts=[dict(f) for f in turn.facts],
                    memories=[m.text for m in turn.memories],
                    citations=[c.path for c in turn.citations],
                    finish_reason=turn.finish_reason,
                )
                result.turns.append(record)
                check = None
                if step.expect is not None:
                    outcome = evaluate(step.expect, turn, {start_day, dt.date.today()})
                    check = CheckResult(
                        conv.id,
                        conv.category,
                        i,
                        step.thread,
                        step.text,
                        step.expect,
                        reply=turn.text,
                        route=turn.route,
                        conditions={k: not why for k, why in outcome.items()},
                        failures=[why for why in outcome.values() if why],
                    )
                    result.checks.append(check)
                if on_turn is not None:
                    on_turn(record, check)
            done = i
    except Exception as exc:  # one broken conversation must not end the run: it scores 0
        result.error = f"step {done + 1}: {type(exc).__name__}: {exc}\n{traceback.format_exc()}"
        evaluated = {c.step for c in result.checks}
        for i, step in enumerate(conv.steps, 1):
            if i not in evaluated and step.expect is not None:
                result.checks.append(
                    CheckResult(
                        conv.id,
                        conv.category,
                        i,
                        step.thread,
                        step.text,
                        step.expect,
                        failures=[f"error: {type(exc).__name__}: {exc}"],
                    )
                )
    finally:
        if agent is not None:
            try:
                agent.close()
            except Exception as exc:
                result.error = (result.error or "") + f"close: {type(exc).__name__}: {exc}"
    result.seconds = time.perf_counter() - start
    return result
