"""The capability commands, generated from :data:`agent.capabilities.CAPABILITIES`.

Each capability becomes ``lorebook NAME``: its first required parameter takes the words after
the name, every other parameter is an option named after it (``max_words`` → ``--max-words``)
with the parameter's description as its help, and the capability's own model checks the values
before anything is opened. :data:`SPELLING` keeps the flags users had before the commands were
generated (``--to`` for ``target``, ``--words`` for ``max_words``, ``--no-exec``); a new
capability needs no entry there. ``ask`` streams, so it is written out in :mod:`agent.cli.chat`
with the same parameter names.

A capability that needs no model runs on the stores alone (:class:`~agent.cli.common.StoresHost`),
a tool on the stores and the models without the turn graph (:class:`~agent.cli.common.ToolsHost`).
Output: a report (a result with ``to_markdown``) through :func:`~agent.cli.common.show`, anything
else as the capability's text; ``--json`` prints the typed result. A result the capability calls
a failure (a rejected fact) goes to stderr with status 1; its notes (a skipped file) to stderr.
"""

from __future__ import annotations

import argparse
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from agent.capabilities import CAPABILITIES, Capability
from agent.cli.common import Handler, StoresHost, ToolsHost, open_agent, show
from agent.errors import ConfigError
from agent.settings import Settings

WRITTEN_OUT = {"ask": "agent.cli.chat"}
"""Capabilities whose command is written by hand (same parameter names), and where."""


def _text(words: list[str]) -> str:
    """The words as one text; ``-`` alone reads stdin (a file's path stays a path string)."""
    return sys.stdin.read() if words == ["-"] else " ".join(words)


def _pairs(option: str) -> Callable[[list[str]], dict[str, str] | None]:
    def convert(pairs: list[str]) -> dict[str, str] | None:
        out = {}
        for pair in pairs:
            key, sep, value = pair.partition("=")
            if not sep or not key.strip() or not value.strip():
                raise ConfigError(f"{option} takes TERM=TRANSLATION pairs, not {pair!r}")
            out[key.strip()] = value.strip()
        return out or None

    return convert


def _summary_source(words: list[str]) -> str | list[str]:
    """Several existing files are summarized together; anything else is one text or path."""
    paths = [Path(w).expanduser() for w in words]
    if len(paths) > 1 and all(p.is_file() for p in paths):
        return [str(p) for p in paths]
    return _text(words)


def _read_tests(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the tests file {path}: {exc.strerror}") from exc


@dataclass(frozen=True)
class Spelling:
    """How one parameter is written on the command line, where not ``--name VALUE``."""

    flags: tuple[str, ...] = ()
    """Option strings (``--to``); empty: ``--name`` (or the words, for the first parameter)."""
    positional: bool = False
    convert: Callable[[Any], Any] | None = None
    """The parsed value to the parameter's value (None: leave the parameter to its default)."""
    options: dict[str, Any] = field(default_factory=dict)
    """More ``add_argument`` keywords (``nargs``, ``type``, ``action``, ``help``)."""


SPELLING: dict[str, dict[str, Spelling]] = {
    "forget": {
        "query": Spelling(
            positional=True,
            convert=lambda words: " ".join(words) or None,
            options={"nargs": "*", "help": "memories containing or like this"},
        ),
        "id": Spelling(options={"help": "one memory by id"}),
    },
    "translate": {
        "target": Spelling(("--to",), options={"required": True}),
        "source": Spelling(("--from",)),
        "glossary": Spelling(
            convert=_pairs("--glossary"), options={"nargs": "*", "metavar": "TERM=TRANSLATION"}
        ),
    },
    "summarize": {
        "source": Spelling(positional=True, convert=_summary_source),
        "max_words": Spelling(("--words",)),
    },
    "code": {
        "tests": Spelling(
            convert=_read_tests,
            options={"type": Path, "help": "a file of tests (asserts or a check() function)"},
        ),
        "execute": Spelling(
            ("--no-exec",),
            options={"action": "store_false", "help": "generate only; run nothing"},
        ),
    },
}

_EMPTY = {
    "recall": "no memories of {user!r} match {query!r}",
    "search": "no passages match {query!r}",
}
"""What an empty result says, on stderr: stdout stays one line per hit for scripts."""


def _status(name: str, result: Any) -> int:
    if name == "code" and getattr(result, "passed", None) is False:
        return 1  # the code did not pass its tests
    return 0


def _kind(annotation: Any) -> tuple[Any, bool]:
    """The annotation without ``None``, and whether ``None`` was allowed."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        rest = args[0] if len(args) == 1 else Union[tuple(args)]  # noqa: UP007
        return rest, len(args) < len(get_args(annotation))
    return annotation, False


def _argument(
    name: str, info: Any, spelling: Spelling | None, first: bool
) -> tuple[list[str], dict[str, Any]]:
    """``add_argument``'s names and keywords for one parameter."""
    spelling = spelling or Spelling()
    kind, optional = _kind(info.annotation)
    origin = get_origin(kind)
    kw: dict[str, Any] = {"help": info.description}
    if first or spelling.positional:
        kw.update(nargs="+")
        names = [name]
    else:
        names = list(spelling.flags) or [("-" if len(name) == 1 else "--") + name.replace("_", "-")]
        kw.update(dest=name, default=argparse.SUPPRESS)
        if kind is bool and optional:
            kw.update(action=argparse.BooleanOptionalAction)
        elif kind is bool:
            kw.update(action="store_true")
        elif origin is Literal:
            kw.update(choices=get_args(kind))
        elif origin is list:
            kw.update(nargs="+")
        elif origin is dict:
            kw.update(nargs="*", metavar="KEY=VALUE")
        elif kind is int:
            kw.update(type=int)
    kw.update(spelling.options)
    return names, kw


def _values(cap: Capability, args: argparse.Namespace) -> dict[str, Any]:
    """The capability's parameters from the parsed arguments (absent ones keep their default)."""
    spelled = SPELLING.get(cap.name, {})
    given = vars(args)
    values = {}
    for name, info in cap.params.model_fields.items():
        if name not in given:
            continue
        value = given[name]
        spelling = spelled.get(name)
        if spelling is not None and spelling.convert is not None:
            value = spelling.convert(value)
        elif isinstance(value, list) and get_origin(_kind(info.annotation)[0]) is dict:
            value = _pairs("--" + name.replace("_", "-"))(value)
        elif isinstance(value, list) and get_origin(_kind(info.annotation)[0]) is not list:
            value = _text(value)
        if value is not None:
            values[name] = value
    return values


def _handler(cap: Capability) -> Handler:
    def run(args: argparse.Namespace, settings: Settings) -> int:
        params = cap.validate(_values(cap, args))  # before anything is opened
        opener: Callable[[Settings], Any] = (
            ToolsHost if cap.tool else open_agent if cap.needs_model else StoresHost
        )
        with opener(settings) as host:
            result = cap.run(host, params)
            if getattr(args, "accept", False):
                host.accept_translation(result)
        failure = cap.failure(result)
        if failure is not None:
            print(failure, file=sys.stderr)
            return 1
        if args.json or hasattr(result, "to_markdown"):
            show(result, args.json)
        elif result == [] and cap.name in _EMPTY:
            print(_EMPTY[cap.name].format(**params.model_dump()), file=sys.stderr)
        else:
            print(cap.render(result))
        notes = cap.notes(result)
        for note in notes:
            print(note, file=sys.stderr)
        return 1 if any(n.startswith("error") for n in notes) else _status(cap.name, result)

    return run


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> dict[str, Handler]:
    """Add one subcommand per capability (but :data:`WRITTEN_OUT`); returns the handlers."""
    handlers = {}
    for cap in CAPABILITIES.values():
        if cap.name in WRITTEN_OUT:
            continue
        p = sub.add_parser(cap.name, parents=[common], help=cap.description)
        spelled = SPELLING.get(cap.name, {})
        fields = cap.params.model_fields
        first = next((n for n, f in fields.items() if f.is_required()), None)
        for name, info in fields.items():
            names, kw = _argument(name, info, spelled.get(name), name == first)
            p.add_argument(*names, **kw)
        if cap.name == "translate":
            p.add_argument(
                "--accept", action="store_true", help="keep it in the translation memory"
            )
        p.add_argument("--json", action="store_true", help="print the typed result as JSON")
        handlers[cap.name] = _handler(cap)
    return handlers
