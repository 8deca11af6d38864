"""`lorebook chat` opens the app in a terminal; piped input or --plain keeps the line chat."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path
from typing import Any

import pytest

import tui
from agent import cli
from agent.cli import chat as cli_chat


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_chat_opens_the_app_in_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in [v for v in os.environ if v.startswith("LOREBOOK_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("LOREBOOK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LOREBOOK_BACKEND", "fake")
    monkeypatch.setattr(sys, "stdin", _Tty())
    monkeypatch.setattr(sys, "stdout", _Tty())
    seen: dict[str, Any] = {}
    monkeypatch.setattr(tui, "run", lambda session, thread: seen.update(s=session, t=thread) or 0)
    assert cli.main(["chat", "--thread", "work", "--user", "ann"]) == 0
    session = seen["s"]
    assert seen["t"] == "work" and session.user == "ann"
    info = session.open()  # the opener the CLI built: settings from env and flags
    assert session.agent.settings.home == tmp_path / "home" and info.name == "fake"
    session.close()

    called: list[bool] = []
    monkeypatch.setattr(cli_chat, "plain_chat", lambda args, settings: called.append(True) or 0)
    assert cli.main(["chat", "--plain"]) == 0 and called == [True]
    monkeypatch.setattr(sys, "stdin", io.StringIO())  # piped: no terminal, no app
    assert cli.main(["chat"]) == 0 and called == [True, True]
