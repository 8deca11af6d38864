"""What every ``lorebook`` subcommand shares: the settings flags, opening an agent, output.

:func:`open_agent` is the one way the command line opens an :class:`~agent.api.Agent`; the
memory and document commands open only the stores (:class:`StoresHost`), because the model's
checks and load and the turn graph's imports (LangGraph) cost ~4 s of 2 cores, more than all
they do. The tool commands open the stores and the model but no turn graph
(:class:`ToolsHost`): a tool runs outside any turn, and LangGraph's imports and the graph's
construction were a third of ``lorebook code``'s start-up. ``agent.api`` is imported inside
:func:`open_agent` for the same reason: ``lorebook recall`` must not import LangGraph
(``tests/agent/test_cli_startup.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import fields
from typing import Any, TextIO, TypeVar

from agent.capabilities import jsonable
from agent.settings import Settings, field_docs, load_settings

T = TypeVar("T")

__all__ = [
    "FLAGS",
    "Handler",
    "StoresHost",
    "common_parser",
    "ctrl_c_calls",
    "open_agent",
    "settings_from_args",
    "show",
]

Handler = Callable[[argparse.Namespace, Settings], int]
"""A subcommand: its parsed arguments and the settings in, the exit status out."""

FLAGS: dict[str, tuple[str, type]] = {
    "--home": ("home", str),
    "--model": ("model", str),
    "--chat-model": ("chat_model", str),
    "--code-model": ("code_model", str),
    "--translate-model": ("translate_model", str),
    "--summarize-model": ("summarize_model", str),
    "--review-model": ("review_model", str),
    "--max-loaded-models": ("max_loaded_models", int),
    "--backend": ("backend", str),
    "--server-urls": ("server_urls", str),
    "--database-url": ("database_url", str),
    "--chat-format": ("chat_format", str),
    "--n-ctx": ("n_ctx", int),
    "--threads": ("n_threads", int),
    "--gpu-layers": ("gpu_layers", int),
    "--max-tokens": ("max_tokens", int),
    "--temperature": ("temperature", float),
    "--top-k": ("top_k", int),
    "--top-p": ("top_p", float),
    "--min-p": ("min_p", float),
    "--repeat-penalty": ("repeat_penalty", float),
    "--seed": ("seed", int),
    "--overflow": ("overflow", str),
}
"""flag -> (settings field, type)"""


def common_parser() -> argparse.ArgumentParser:
    """The settings flags, a parent of every subcommand's parser."""
    common = argparse.ArgumentParser(add_help=False)
    docs = field_docs()
    group = common.add_argument_group("settings (override config file and LOREBOOK_* env)")
    for flag, (name, kind) in FLAGS.items():
        group.add_argument(flag, dest=name, type=kind, default=argparse.SUPPRESS, help=docs[name])
    group.add_argument(
        "--verbose",
        dest="verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help=docs["verbose"],
    )
    return common


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The settings: defaults < config file < ``LOREBOOK_*`` environment < the flags given."""
    names = {name for name, _ in FLAGS.values()} | {"verbose"}
    return load_settings({k: v for k, v in vars(args).items() if k in names})


def open_agent(settings: Settings, **kw: Any) -> Any:
    """An :class:`~agent.api.Agent` on ``settings`` (``kw``: ``Agent.open``'s own arguments).

    Raises:
        LorebookError: the model or the stores cannot be opened (the message says why).
    """
    from agent.api import Agent  # LangGraph and the model: only for commands that need them

    return Agent.open(**{f.name: getattr(settings, f.name) for f in fields(settings)}, **kw)


class StoresHost:
    """The memory and document stores without the model, opened on first use (one ``Store``).

    A :class:`~agent.capabilities.Stores` for the capabilities that need no model.
    ``progress = None`` lets ``Documents.ingest`` draw its bar on a terminal.
    """

    progress: bool | None = None

    def __init__(self, settings: Settings):
        self.settings = settings
        self._stores: tuple[Any, Any] | None = None

    def _open(self) -> tuple[Any, Any]:
        if self._stores is None:
            from memory import Documents, Memory, Store  # the embedder's packages load with it

            store = Store(self.settings)
            self._stores = Memory(store), Documents(store)
        return self._stores

    @property
    def memory(self) -> Any:
        return self._open()[0]

    @property
    def documents(self) -> Any:
        return self._open()[1]

    def __enter__(self) -> StoresHost:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stores is not None:
            self._stores[0].close()  # saves the indexes and closes the store both share


class ToolsHost(StoresHost):
    """The stores and the models, without the turn graph: where a tool command runs.

    A :class:`~agent.capabilities.ToolHost`: each call gets a
    :class:`~agent.toolbox.ToolBox` on these stores and models, and is recorded in the turn
    log as ``Agent.run_tool`` records it (route, model, tokens, its time). The store opens
    first, so the embedder loads in the background while the model loads.
    """

    def __init__(self, settings: Settings):
        super().__init__(settings)
        from agent.llm.pool import ModelPool  # llama.cpp: only for the commands that need it
        from agent.turnlog import TurnLog

        self.models = ModelPool(settings)
        self.log = TurnLog(settings.home / "agent.sqlite", settings.database_url)
        self._box: Any = None

    def _toolbox(self, name: str) -> Any:
        if self._box is None:
            from agent.toolbox import ToolBox

            memory, documents = self._open()
            llm = self.models.llm_for(name)
            self._box = ToolBox(self.settings, llm, memory.store, documents, models=self.models)
        return self._box

    def run_tool(self, name: str, work: Callable[[Any], T]) -> T:
        """Run ``work`` on the tool box and record the call.

        Raises:
            LorebookError: what the tool raised (also recorded in the turn log).
        """
        from agent.llm import CancelToken

        return self._toolbox(name).logged_call(name, work, CancelToken(), self.log)

    def accept_translation(self, translation: Any) -> int:
        """Keep an accepted translation in the translation memory (``translate --accept``)."""
        return int(self._toolbox("translate").accept_translation(translation))

    def __exit__(self, *exc: object) -> None:
        try:
            super().__exit__(*exc)
        finally:
            self.log.close()
            self.models.close()


@contextlib.contextmanager
def ctrl_c_calls(cancel: Callable[[], None]) -> Iterator[None]:
    """While inside, Ctrl-C (SIGINT) calls ``cancel`` instead of raising KeyboardInterrupt.

    The cancel token is polled by llama.cpp's abort callback during prompt evaluation, so a
    Ctrl-C lands inside the current batch rather than after it.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, lambda *_: cancel())
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def show(result: Any, as_json: bool, out: TextIO | None = None) -> None:
    """Print a tool's result: JSON, Markdown rendered for a terminal, or Markdown as it is."""
    out = out or sys.stdout
    if as_json:
        print(json.dumps(jsonable(result), ensure_ascii=False, indent=2), file=out)
    elif out.isatty():
        from rich.console import Console
        from rich.markdown import Markdown

        Console(file=out).print(Markdown(result.to_markdown()))
    else:
        print(result.to_markdown(), file=out)
