"""``memory.db`` damaged by another program while a session has it open: the library and the
command line say which file, what is wrong and what to do, never a raw ``sqlite3`` traceback
(the TUI's test: ``tests/tui/test_damage.py``; the store's: ``tests/memory/test_damage_store.py``).
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.cli import main
from agent.errors import StoreDamagedError
from tests.agent.test_pipeline import Brain, _agent


def cut_short(db: Path) -> None:
    """What another program might do: overwrite the file with its first third."""
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 3])


def _filled(home: Path) -> None:
    """A store with memories, checkpointed into ``memory.db`` (closed once)."""
    with _agent(home, Brain()) as bot:
        for i in range(60):
            bot.remember(f"Note {i}: the spare key number {i} is in box {i * 7} in the attic.")
        bot.remember("My sister is called Ana.")


def test_the_library_names_the_file_and_the_fix(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _filled(home)
    bot = _agent(home, Brain(routes={"sister": "ask_memory"}))
    assert "Ana" in bot.chat("What is my sister called?").text
    cut_short(home / "memory.db")
    for call in (
        lambda: bot.chat("What is my sister called?"),
        lambda: bot.recall("sister"),
        lambda: bot.remember("My cat is called Miso."),
    ):
        with pytest.raises(StoreDamagedError) as caught:
            call()
        assert caught.value.path == home / "memory.db"
        assert "damaged while lorebook had it open" in str(caught.value)
        assert "lorebook doctor --repair" in str(caught.value)
    bot.close()  # reported already: closing does not raise it again


@pytest.fixture
def cli_env(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("LOREBOOK_BACKEND", "fake")
    monkeypatch.setenv("LOREBOOK_EMBEDDER", "hash")
    monkeypatch.setenv("LOREBOOK_ROUTE_WITH_MODEL", "false")
    yield home


def test_the_plain_chat_ends_with_one_line_and_status_2(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["remember", "My sister is called Ana."]) == 0
    for i in range(60):
        assert main(["remember", f"Note {i}: the spare key {i} is in box {i * 7}."]) == 0
    capsys.readouterr()
    lines = iter(["What is my sister called?", "And my brother?", "/quit"])

    def typed(prompt: str = "") -> str:
        line = next(lines)
        if line == "And my brother?":  # between two turns, another program cuts the file
            cut_short(cli_env / "memory.db")
        return line

    monkeypatch.setattr(builtins, "input", typed)
    assert main(["chat", "--plain"]) == 2
    out, err = capsys.readouterr()
    assert "Ana" in out  # the first turn was answered
    db = cli_env / "memory.db"
    assert err.startswith(f"error: database {db} is damaged: SQLite cannot read it (")
    assert "lorebook doctor --repair" in err and err.count("\n") == 1
    assert "Traceback" not in out + err
