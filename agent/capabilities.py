"""Every capability lorebook offers, declared once: memory, documents and the four tools.

A :class:`Capability` holds what a front end needs to offer it: the function, a pydantic model
of its parameters (descriptions, defaults, bounds: the MCP server's JSON schema is this model's),
the type of its result, how a chat command's text becomes parameters, how the result reads as
text, whether it needs the language model, and whether it is safe to expose to other programs::

    cap = CAPABILITIES["recall"]
    params = cap.validate({"query": "where do I live", "user": "ann", "k": 3})
    hits = cap.run(host, params)           # host: an Agent, or anything with .memory/.documents
    print(cap.render(hits))

``host`` is an :class:`~agent.api.Agent` for capabilities with ``needs_model``; the others use
only ``host.memory`` and ``host.documents`` (:class:`Stores`), so a front end can serve them
without loading the model (the MCP server does; the CLI's remember/recall/forget/ingest too).
The four tools (``tool``) run on a :class:`~agent.toolbox.ToolBox`, which binds them to the
agent's models, embedder and translation memory; their host hands them one through
:meth:`ToolHost.run_tool`: an ``Agent`` under its lock, with the call in its turn log, the
``ToolBox`` itself inside a turn (the graph's tool node already holds the lock).

Generated from here: the MCP server's tools (``agent/mcp_server.py``), the CLI subcommands
(``agent/cli/capabilities.py``), the batch task table (``agent/batch/tasks.py``), the chat
app's slash commands (``tui/commands.py``), the turn graph's tool nodes
(``agent/pipeline/commands.py``) and the ``Agent`` methods (typed shortcuts that validate
through the parameter model); ``tests/agent/test_front_ends.py`` checks that each front end
takes every capability with the same parameter names.

Deliberate shortcuts: ``forget`` only deletes by id or by query (never "everything of a user",
which the library still offers); a memory id given to ``forget`` must belong to ``user``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)

from agent.errors import ConfigError, MemoryNotFoundError
from agent.pipeline import toolargs

if TYPE_CHECKING:
    from agent.toolbox import ToolBox

__all__ = [
    "AskParams",
    "CAPABILITIES",
    "Capability",
    "CodeParams",
    "ForgetParams",
    "IngestParams",
    "RecallParams",
    "RememberParams",
    "ReviewParams",
    "SearchParams",
    "Stores",
    "SummarizeParams",
    "TOOLS",
    "TextOrFile",
    "ToolHost",
    "TranslateParams",
    "describe_validation_error",
    "jsonable",
]

MAX_QUERY_CHARS = 2_000
MAX_FACT_CHARS = 4_000
MAX_TEXT_CHARS = 2_000_000
"""A sanity bound on a tool's input; the tools enforce ``Settings.tool_max_chars`` themselves."""

_User = Field(
    default="me",
    min_length=1,
    max_length=200,
    description="Whose memories: each user's are kept apart (default: the front end's user).",
)


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _paths_as_are(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    if isinstance(value, Path):
        return value
    if isinstance(value, list) and any(isinstance(v, Path) for v in value):
        checked = handler([str(v) if isinstance(v, Path) else v for v in value])
        return [v if isinstance(v, Path) else c for v, c in zip(value, checked, strict=True)]
    return handler(value)


_FILES_AS_ARE = WrapValidator(_paths_as_are)
TextOrFile = Annotated[str, _FILES_AS_ARE]
"""Text, or a file's path: a string is checked as one (its schema is a string's); a ``Path``
from a library caller, alone or in a list (``_FILES_AS_ARE``), passes as it is and always means
a file (``tools._common.load_text`` reads a string as a path only when it names a file or is
shaped like a path), so ``Agent.review(Path(...))`` keeps its meaning."""


class RememberParams(_Params):
    text: str = Field(
        min_length=1,
        max_length=MAX_FACT_CHARS,
        description="A fact the user states, as a sentence ('My sister is called Ana').",
    )
    user: str = _User
    thread: str | None = Field(
        default=None, max_length=200, description="The conversation the fact was stated in."
    )


class RecallParams(_Params):
    query: str = Field(
        min_length=1, max_length=MAX_QUERY_CHARS, description="What to look for in memory."
    )
    user: str = _User
    k: int = Field(default=5, ge=1, le=50, description="How many memories to return, best first.")


class ForgetParams(_Params):
    id: int | None = Field(default=None, ge=1, description="One memory, by its id.")
    query: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_QUERY_CHARS,
        description="Every memory of the user containing this text or very like it.",
    )
    user: str = _User

    @model_validator(mode="after")
    def _one_target(self) -> ForgetParams:
        if (self.id is None) == (self.query is None):
            raise ValueError("say what to forget: a query, or an id (not both)")
        return self


class IngestParams(_Params):
    paths: list[str] = Field(
        min_length=1,
        description="Files or folders on the machine lorebook runs on (folders recursively).",
    )


class SearchParams(_Params):
    query: str = Field(
        min_length=1, max_length=MAX_QUERY_CHARS, description="What to look for in the documents."
    )
    k: int = Field(default=5, ge=1, le=50, description="How many passages to return, best first.")


class AskParams(_Params):
    message: str = Field(
        min_length=1,
        max_length=MAX_FACT_CHARS,
        description="A question or message; answered from the user's memories and documents.",
    )
    user: str = _User


class TranslateParams(_Params):
    text: TextOrFile = Field(
        min_length=1,
        max_length=MAX_TEXT_CHARS,
        description="The text, or the path of a txt/md/html/pdf file.",
    )
    target: str = Field(min_length=1, max_length=40, description="Target language: name or code.")
    source: str | None = Field(
        default=None, max_length=40, description="Source language (default: detected)."
    )
    context: str | None = Field(
        default=None, max_length=500, description="A line about the text that helps translate it."
    )
    glossary: dict[str, str] | None = Field(
        default=None, description="Terms and the translation each must get."
    )
    explain: bool = Field(default=False, description="Add notes on the choices made.")


class SummarizeParams(_Params):
    source: Annotated[str | list[str], _FILES_AS_ARE] = Field(
        min_length=1,
        max_length=MAX_TEXT_CHARS,
        description="The text, the path of a txt/md/html/pdf file, or several paths to "
        "summarize together.",
    )
    style: Literal["abstractive", "extractive", "bullets"] = Field(
        default="abstractive", description="Written anew, quoted sentences, or bullet points."
    )
    max_words: int | None = Field(
        default=None, ge=1, le=2_000, description="Target length in words (default: from length)."
    )


class CodeParams(_Params):
    prompt: str = Field(
        min_length=1,
        max_length=MAX_FACT_CHARS * 4,
        description="What the code should do, or a signature with a docstring.",
    )
    language: str = Field(default="python", description="python, javascript or bash.")
    tests: str | None = Field(
        default=None, description="Tests to pass: asserts, or a check(candidate) function."
    )
    samples: int | None = Field(
        default=None, ge=1, le=16, description="Candidates to generate; the first passing wins."
    )
    execute: bool | None = Field(
        default=None, description="Run the code and tests in the sandbox (default: settings)."
    )


class ReviewParams(_Params):
    source: TextOrFile = Field(
        min_length=1,
        max_length=MAX_TEXT_CHARS,
        description="The document's text, or the path of a txt/md/html/pdf file.",
    )
    use_model: bool = Field(
        default=False, description="Let the model confirm uncertain clauses (slower)."
    )


class Stores(Protocol):
    """What memory and document capabilities need: an ``Agent`` is one, so is a bare pair."""

    @property
    def memory(self) -> Any: ...

    @property
    def documents(self) -> Any: ...


T = TypeVar("T")


class ToolHost(Protocol):
    """Where a tool runs: it hands ``work`` a :class:`~agent.toolbox.ToolBox` and returns what
    ``work`` returns (an ``Agent`` under its lock, logged; a ``ToolBox`` as it is)."""

    def run_tool(self, name: str, work: Callable[[ToolBox], T]) -> T: ...


@dataclass(frozen=True)
class Capability:
    """One capability, everything a front end needs to offer it.

    Attributes:
        name: the command, tool and task name (``recall``).
        description: one or two sentences for a help line or an MCP tool list.
        params: the parameter model; :meth:`validate` builds it from plain values.
        function: ``function(host, params)`` does the work (``host``: see the module docstring).
        result: the type ``function`` returns (for documentation and front ends' rendering).
        parse: a chat command's text (what follows ``/recall``) to parameter values.
        render: the result as the text a person reads (the CLI's output).
        needs_model: it calls the language model (``host`` must be an ``Agent``).
        tool: ``function`` takes a ``ToolBox``; ``host`` is a :class:`ToolHost` that hands it
            one, and the turn graph has a node of this name that runs a chat command's text.
        safe: it may be offered to other programs by default; ``code`` runs generated code,
            so front ends offer it only when the user enabled it.
        failure: the message when a result means the call did not do what was asked (a
            rejected fact), else None.
        notes: what went wrong on the way without failing the call, one line each, starting
            with ``warning:`` or ``error:`` (a file ingest skipped or could not read).
    """

    name: str
    description: str
    params: type[_Params]
    function: Callable[[Any, Any], Any]
    result: Any
    parse: Callable[[str], dict[str, Any]]
    render: Callable[[Any], str]
    needs_model: bool
    tool: bool = False
    safe: bool = True
    failure: Callable[[Any], str | None] = lambda _result: None
    notes: Callable[[Any], list[str]] = lambda _result: []

    def validate(self, values: Mapping[str, Any]) -> Any:
        """The parameter model built from ``values``.

        Raises:
            ConfigError: a missing, unknown or out-of-range parameter (the message names it).
        """
        try:
            return self.params.model_validate(dict(values))
        except ValidationError as exc:
            raise ConfigError(describe_validation_error(self.name, exc)) from None

    def from_command(self, text: str, **values: Any) -> Any:
        """Parameters from a chat command's text, plus ``values`` (``user=...``)."""
        return self.validate({**self.parse(text), **values})

    def run(self, host: Any, params: Any) -> Any:
        """Run the capability with already validated ``params`` (a tool: on ``host``'s
        ``ToolBox``, see :class:`ToolHost`)."""
        if not isinstance(params, self.params):
            raise TypeError(f"{self.name} takes {self.params.__name__}, not {type(params)}")
        if self.tool:
            return host.run_tool(self.name, lambda box: self.function(box, params))
        return self.function(host, params)

    def schema(self) -> dict[str, Any]:
        """The JSON schema of the parameters (what an MCP client shows and checks)."""
        return self.params.model_json_schema()


def describe_validation_error(name: str, exc: ValidationError) -> str:
    """One line per bad parameter: ``recall: k: Input should be greater than or equal to 1``."""
    problems = []
    for err in exc.errors():
        where = ".".join(str(part) for part in err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    return f"{name}: " + "; ".join(problems)


# -- the functions ---------------------------------------------------------------------------


def _remember(host: Stores, p: RememberParams) -> Any:
    return host.memory.add(p.text, user=p.user, thread=p.thread, source="user")


def _recall(host: Stores, p: RecallParams) -> list[Any]:
    return list(host.memory.search(p.query, user=p.user, k=p.k))


def _forget(host: Stores, p: ForgetParams) -> list[int]:
    if p.id is not None:
        if host.memory.get(p.id).user != p.user:
            raise MemoryNotFoundError(p.id)  # another user's memory is not there for this one
        return list(host.memory.forget(p.id))
    return list(host.memory.forget(query=p.query, user=p.user))


def _ingest(host: Stores, p: IngestParams) -> Any:
    # a host may ask for the progress bar (the CLI's, on a terminal); others get none
    return host.documents.ingest(p.paths, progress=getattr(host, "progress", False))


def _search(host: Stores, p: SearchParams) -> list[Any]:
    return list(host.documents.search(p.query, k=p.k))


def _ask(host: Any, p: AskParams) -> Any:
    return host.chat(p.message, thread=None, user=p.user)


# The tools import on first use: a chat session that never translates does not pay for the
# language detector, nor a memory command for any of them. A tool's parameters are named as its
# function's (tests/agent/test_capabilities.py checks), so they pass by name.


def _translate(box: ToolBox, p: TranslateParams) -> Any:
    from tools.translate import translate

    return translate(
        **dict(p),
        llm=box.llm_for("translate"),
        memory=box.translation_memory,
        max_chars=box.settings.tool_max_chars,
    )


def _summarize(box: ToolBox, p: SummarizeParams) -> Any:
    from tools.summarize import summarize

    return summarize(
        **dict(p),
        llm=box.llm_for("summarize"),
        embedder=box.embedder,
        max_chars=box.settings.tool_max_chars,
    )


def _code(box: ToolBox, p: CodeParams) -> Any:
    from tools.code import code

    settings = box.settings  # execution and samples default to the settings
    chosen = {
        "samples": p.samples or settings.code_samples,
        "execute": settings.code_execution if p.execute is None else p.execute,
    }
    return code(**(dict(p) | chosen), llm=box.llm_for("code"), timeout_s=settings.code_timeout_s)


def _review(box: ToolBox, p: ReviewParams) -> Any:
    from tools.review import review

    return review(
        **dict(p),
        llm=box.llm_for("review"),
        embedder=box.embedder,
        max_chars=box.settings.tool_max_chars,
    )


# -- chat command parsers ---------------------------------------------------------------------


def _parse_forget(text: str) -> dict[str, Any]:
    """``#12`` or ``12`` is an id; anything else a query."""
    word = text.strip().removeprefix("#")
    return {"id": int(word)} if word.isdigit() else {"query": text.strip()}


def _parse_translate(text: str) -> dict[str, Any]:
    from tools.translate import LANGUAGES

    args = toolargs.parse_translate(text, LANGUAGES)
    return {"text": args.text, "target": args.target}


def _parse_summarize(text: str) -> dict[str, Any]:
    args = toolargs.parse_summarize(text)
    out: dict[str, Any] = {"source": args.source, "style": args.style}
    if args.max_words is not None:
        out["max_words"] = args.max_words
    return out


def _parse_code(text: str) -> dict[str, Any]:
    from tools.code import supported_languages

    prompt, language = toolargs.parse_code(text, tuple(supported_languages()))
    return {"prompt": prompt, "language": language}


def _parse_review(text: str) -> dict[str, Any]:
    return {"source": toolargs.review_source(text)}


# -- rendering ---------------------------------------------------------------------------------


def _render_add(result: Any) -> str:
    if result.action == "rejected":
        return f"not stored: {result.reason}"
    r = result.record
    superseded = f" (replaces #{', #'.join(map(str, result.superseded))})" * bool(result.superseded)
    return f"{result.action} #{r.id}: {r.text}{superseded}"


def _render_hits(hits: list[Any]) -> str:
    lines = [
        f"#{h.record.id}  {h.score:.3f}  {h.record.created.date()}  {h.record.text}" for h in hits
    ]
    return "\n".join(lines) or "no memories found"


def _render_forgotten(gone: list[int]) -> str:
    return f"forgot {len(gone)} memor{'y' if len(gone) == 1 else 'ies'}: {gone}"


def _render_ingest(r: Any) -> str:
    return (
        f"added {len(r.added)}, updated {len(r.updated)}, unchanged {len(r.unchanged)}, "
        f"removed {len(r.removed)} files; {r.chunks} chunks"
    )


def _ingest_notes(r: Any) -> list[str]:
    skipped = [f"warning: {w.message}" for w in getattr(r, "skipped", [])]
    return skipped + [f"error: {e.message}" for e in r.errors]


def _render_passages(hits: list[Any]) -> str:
    lines = [
        f"[{i}] {h.citation} ({h.score:.3f})\n{h.citation.quote}" for i, h in enumerate(hits, 1)
    ]
    return "\n\n".join(lines) or "no passages found"


def _render_turn(turn: Any) -> str:
    return str(turn.text)


def _render_markdown(result: Any) -> str:
    return str(result.to_markdown())


_WORDS = shlex.split


CAPABILITIES: dict[str, Capability] = {
    c.name: c
    for c in (
        Capability(
            "remember", "Store a fact the user states in their memory (a newer fact about the "
            "same thing supersedes the old one).",
            RememberParams, _remember, "memory.AddResult", lambda t: {"text": t.strip()},
            _render_add, needs_model=False,
            failure=lambda r: f"not stored: {r.reason}" if r.action == "rejected" else None,
        ),
        Capability(
            "recall", "Search the user's memories; best matches first, with ids and dates.",
            RecallParams, _recall, "list[memory.MemoryHit]", lambda t: {"query": t.strip()},
            _render_hits, needs_model=False,
        ),
        Capability(
            "forget", "Delete the user's memories everywhere: one by id, or those matching a "
            "query.",
            ForgetParams, _forget, "list[int]", _parse_forget, _render_forgotten,
            needs_model=False,
        ),
        Capability(
            "ingest", "Add files or folders to the documents (re-ingesting skips unchanged files).",
            IngestParams, _ingest, "memory.IngestReport", lambda t: {"paths": _WORDS(t)},
            _render_ingest, needs_model=False, notes=_ingest_notes,
        ),
        Capability(
            "search", "Search the ingested documents; passages with their file, page and "
            "position.",
            SearchParams, _search, "list[memory.DocumentHit]", lambda t: {"query": t.strip()},
            _render_passages, needs_model=False,
        ),
        Capability(
            "ask", "Ask one question, answered from the user's memories and documents with "
            "the local model (keeps no conversation).",
            AskParams, _ask, "agent.api.Turn", lambda t: {"message": t.strip()}, _render_turn,
            needs_model=True,
        ),
        Capability(
            "translate", "Translate text or a file into a language, keeping markup, "
            "placeholders and code.",
            TranslateParams, _translate, "tools.translate.Translation", _parse_translate,
            _render_markdown, needs_model=True, tool=True,
        ),
        Capability(
            "summarize", "Summarize text or a file (abstractive, extractive or bullets).",
            SummarizeParams, _summarize, "tools.summarize.Summary", _parse_summarize,
            _render_markdown, needs_model=True, tool=True,
        ),
        Capability(
            "code", "Generate code and test it in a sandbox (runs the generated code).",
            CodeParams, _code, "tools.code.CodeResult", _parse_code, _render_markdown,
            needs_model=True, tool=True, safe=False,
        ),
        Capability(
            "review", "Review a legal document: its clauses, risks and what is missing, each "
            "citing the exact text.",
            ReviewParams, _review, "tools.review.Review", _parse_review, _render_markdown,
            needs_model=True, tool=True,
        ),
    )
}  # fmt: skip

TOOLS = tuple(name for name, cap in CAPABILITIES.items() if cap.tool)
"""The tools: translate, summarize, code and review (the turn graph has a node for each)."""


def jsonable(value: Any) -> Any:
    """A result as plain JSON types (results' ``to_dict``, dataclasses, datetimes...)."""
    if hasattr(value, "to_dict"):
        return jsonable(value.to_dict())
    if hasattr(value, "to_json") and callable(value.to_json):
        return jsonable(value.to_json())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
