"""The batch task types, generated from the capability registry, plus ``chat``.

A task line is ``{"id": ..., "task": <type>, <parameters>...}``; each capability of
:data:`agent.capabilities.CAPABILITIES` is a task type taking its parameters by their names
(``{"task": "translate", "text": ..., "target": ...}``), and ``chat`` is a turn in a thread.
A few other names are accepted for old task files (:data:`ALIASES`: ``summarize`` takes
``text``, ``path`` or ``paths`` for ``source``), and ``forget`` and ``ingest`` keep the result
shapes they had (:data:`_SHAPES`). Evaluation fields (``reference``, ``expect``) ride along
untouched; ``tests`` is both the code tool's parameter and what ``lorebook eval`` scores.

Validation happens before anything runs, so a bad line costs no model time and its error
names the line, the parameter and the valid ones; after the checks of the line's shape (unknown,
missing, not an integer), the capability's own model checks the values.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from agent.capabilities import CAPABILITIES, Capability, jsonable
from agent.errors import ConfigError, LorebookError

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
    integers: tuple[str, ...] = ()
    """Parameters that must be JSON integers (``k``, ``max_words``)."""
    check: Callable[[dict[str, Any]], None] = lambda _params: None
    """The capability's own validation of the parameters (bounds, sizes, choices)."""


ALIASES: dict[str, dict[str, str]] = {
    "summarize": {"text": "source", "paths": "source", "path": "source"},
    "review": {"text": "source", "path": "source"},
}
"""Other names a task line may give a capability's parameter (``summarize``'s ``paths``)."""

_SHAPES: dict[str, Callable[[Any], Any]] = {
    "forget": lambda gone: {"forgotten": gone},
    "ingest": lambda report: {**jsonable(report), "chunks_per_second": report.chunks_per_second},
}
"""Results a task line reports in another shape than the capability's (kept for old files)."""


def _canonical(name: str, p: dict[str, Any]) -> dict[str, Any]:
    """A task's parameters under the capability's names (aliases renamed, one path a list)."""
    renamed = {ALIASES.get(name, {}).get(k, k): v for k, v in p.items()}
    if name == "ingest" and isinstance(renamed.get("paths"), str):
        renamed["paths"] = [renamed["paths"]]
    return renamed


def _integer(annotation: Any) -> bool:
    return annotation is int or annotation == int | None


def _from_capability(cap: Capability) -> TaskType:
    fields = cap.params.model_fields
    aliases = ALIASES.get(cap.name, {})
    one_of = tuple(dict.fromkeys([*(v for v in aliases.values()), *aliases])) if aliases else ()
    if cap.name == "forget":
        one_of = ("id", "query")  # the model says "exactly one" in its own words; kept here
    required = tuple(n for n, f in fields.items() if f.is_required() and n not in one_of)
    optional = tuple(n for n, f in fields.items() if not f.is_required() and n not in one_of)
    shape = _SHAPES.get(cap.name, lambda result: result)

    def check(p: dict[str, Any]) -> None:
        try:
            cap.validate(_canonical(cap.name, p))
        except ConfigError as exc:
            raise TaskError(f"task {exc}") from None

    def run(agent: Any, p: dict[str, Any]) -> Any:
        return shape(cap.run(agent, cap.validate(_canonical(cap.name, p))))

    return TaskType(
        cap.name,
        required,
        optional,
        run,
        one_of=one_of,
        shared_write=cap.name == "ingest",
        integers=tuple(n for n, f in fields.items() if _integer(f.annotation)),
        check=check,
    )


_CHAT = TaskType(
    "chat",
    ("message",),
    ("thread", "user"),
    lambda a, p: a.chat(p["message"], thread=p.get("thread", "main"), user=p.get("user", "me")),
)
"""A turn in a thread: the one task type that is not a capability (it keeps a conversation)."""

TASKS: dict[str, TaskType] = {
    "chat": _CHAT,
    **{name: _from_capability(cap) for name, cap in CAPABILITIES.items()},
}


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
    for key in t.integers:
        value = params.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise TaskError(f"task {name!r}: {key!r} must be an integer, not {value!r}")
    t.check(params)
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
