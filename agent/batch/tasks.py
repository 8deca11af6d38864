"""The batch task types: what each one calls on :class:`~agent.api.Agent`, and its parameters.

A task line is ``{"id": ..., "task": <type>, <parameters>...}``; parameter names are the
library's (``Agent.translate(text, target, source, ...)`` → ``{"task": "translate", "text":
..., "target": ...}``). Evaluation fields (``reference``, ``expect``) ride along untouched;
``tests`` is both the code tool's parameter and what ``lorebook eval`` scores.

Validation happens before anything runs, so a bad line costs no model time and its error
names the line, the parameter and the valid ones.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from agent.capabilities import jsonable
from agent.errors import LorebookError

__all__ = ["EVAL_FIELDS", "TASKS", "TaskError", "TaskType", "jsonable", "ordering_key", "validate"]

EVAL_FIELDS = ("reference", "expect", "tests")
"""Fields ``lorebook eval`` scores against; copied into the output record under ``expected``."""


class TaskError(LorebookError):
    """A task line that cannot run: malformed JSON, unknown type, bad parameters."""


@dataclass(frozen=True)
class TaskType:
    """One task type: the parameters it takes and how it runs."""

    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    run: Callable[[Any, dict[str, Any]], Any]
    one_of: tuple[str, ...] = ()
    """Exactly one of these must be given (``summarize``: text, paths or source)."""
    shared_write: bool = False
    """It writes what every user's tasks read (``ingest``: the documents), so a runner with
    several workers runs it alone, after every earlier task and before every later one."""


def _turn(agent: Any, p: dict[str, Any], thread: str | None) -> Any:
    return agent.chat(p["message"], thread=thread, user=p.get("user", "me"))


def _source(p: dict[str, Any]) -> Any:
    for key in ("source", "text", "paths", "path"):
        if key in p:
            return p[key]
    raise TaskError("no input")  # unreachable: validate() checks one_of


def _forget(agent: Any, p: dict[str, Any]) -> Any:
    gone = agent.forget(p.get("id"), query=p.get("query"), user=p.get("user", "me"))
    return {"forgotten": gone}


def _ingest(agent: Any, p: dict[str, Any]) -> Any:
    paths = p["paths"]
    report = agent.ingest([paths] if isinstance(paths, str) else paths, progress=False)
    return {**jsonable(report), "chunks_per_second": report.chunks_per_second}


TASKS: dict[str, TaskType] = {
    t.name: t
    for t in (
        TaskType(
            "chat", ("message",), ("thread", "user"), lambda a, p: _turn(a, p, p.get("thread", "main"))  # noqa: E501
        ),
        TaskType("ask", ("message",), ("user",), lambda a, p: _turn(a, p, None)),
        TaskType(
            "translate",
            ("text", "target"),
            ("source", "context", "glossary", "explain"),
            lambda a, p: a.translate(
                p["text"], p["target"], p.get("source"), p.get("context"), p.get("glossary"),
                bool(p.get("explain", False)),
            ),
        ),
        TaskType(
            "summarize",
            (),
            ("style", "max_words"),
            lambda a, p: a.summarize(_source(p), p.get("style", "abstractive"), p.get("max_words")),
            one_of=("source", "text", "paths", "path"),
        ),
        TaskType(
            "code",
            ("prompt",),
            ("language", "tests", "samples", "execute"),
            lambda a, p: a.code(
                p["prompt"], p.get("language", "python"), p.get("tests"), p.get("samples"),
                p.get("execute"),
            ),
        ),
        TaskType(
            "review",
            (),
            ("use_model",),
            lambda a, p: a.review(_source(p), bool(p.get("use_model", False))),
            one_of=("source", "text", "path"),
        ),
        TaskType("ingest", ("paths",), (), _ingest, shared_write=True),
        TaskType(
            "remember",
            ("text",),
            ("user", "thread"),
            lambda a, p: a.remember(p["text"], user=p.get("user", "me"), thread=p.get("thread")),
        ),
        TaskType(
            "recall",
            ("query",),
            ("user", "k"),
            lambda a, p: a.recall(p["query"], user=p.get("user", "me"), k=int(p.get("k", 5))),
        ),
        TaskType("forget", (), ("user",), _forget, one_of=("id", "query")),
    )
}  # fmt: skip


def validate(task: Mapping[str, Any]) -> tuple[TaskType, dict[str, Any]]:
    """The task's type and its parameters (the line minus id, task and evaluation fields).

    Raises:
        TaskError: unknown task type, a missing or unknown parameter, a wrong type.

    Example:
        >>> t, params = validate({"id": 1, "task": "recall", "query": "cats", "k": 3})
        >>> t.name, params
        ('recall', {'query': 'cats', 'k': 3})
    """
    name = task.get("task")
    if name not in TASKS:
        raise TaskError(
            f"unknown task {name!r}; valid tasks: {', '.join(sorted(TASKS))}"
            if name is not None
            else f"the line has no 'task' field; valid tasks: {', '.join(sorted(TASKS))}"
        )
    t = TASKS[name]
    params = {k: v for k, v in task.items() if k not in ("id", "task", "reference", "expect")}
    if name != "code":
        params.pop("tests", None)
    allowed = set(t.required) | set(t.optional) | set(t.one_of)
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise TaskError(
            f"task {name!r} has no parameter {', '.join(map(repr, unknown))}; "
            f"valid: {', '.join(sorted(allowed))}"
        )
    missing = [k for k in t.required if params.get(k) in (None, "")]
    if missing:
        raise TaskError(f"task {name!r} needs {', '.join(map(repr, missing))}")
    if t.one_of and sum(k in params for k in t.one_of) != 1:
        raise TaskError(f"task {name!r} needs exactly one of {', '.join(map(repr, t.one_of))}")
    for key in ("k", "max_words", "samples", "id"):
        if key in params and params[key] is not None and not isinstance(params[key], int):
            raise TaskError(f"task {name!r}: {key!r} must be an integer, not {params[key]!r}")
    return t, params


def ordering_key(task: Mapping[str, Any]) -> str | None:
    """Which tasks must keep their file order relative to this one: None when none must.

    Tasks that take a ``user`` (chat, ask, remember, recall, forget) read and write that user's
    memories and threads (a thread belongs to one user), so they are ordered per user (default
    ``me``). The tools (translate, summarize, code, review) write nothing another task reads.
    ``ingest`` is not keyed: it is ordered against everything (:attr:`TaskType.shared_write`).

    Example:
        >>> ordering_key({"task": "recall", "query": "x"}), ordering_key({"task": "code"})
        ('user:"me"', None)
    """
    kind = TASKS.get(str(task.get("task")))
    if kind is None or "user" not in kind.optional:
        return None
    return "user:" + json.dumps(task.get("user", "me"), sort_keys=True)
