"""``memory.db`` damaged by another program while the app runs: the app names the file and
the fix, keeps running, and an error met only at close is one line on stderr afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest

import tui.app
from agent.api import Agent
from tests.tui.conftest import RecordingApp, Script, make_session, ready, run, say, wait_for


def _filled(home: Path) -> None:
    with Agent.open(home, llm=None, backend="fake", embedder="hash") as bot:
        for i in range(60):
            bot.remember(f"Note {i}: the spare key number {i} is in box {i * 7} in the attic.")


def test_a_database_emptied_mid_session_fails_the_next_turn_with_the_fix(
    home: Path, script: Script
) -> None:
    _filled(home)
    script.reply = "Sure."
    app = RecordingApp(make_session(home, script))
    db = home / "memory.db"

    async def scenario() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await ready(pilot)
            first = await say(pilot, "Where is the spare key number 3?")
            assert first.error is None
            db.write_bytes(b"")  # another program empties the file
            await pilot.press(*"Where is the spare key number 4?", "enter")
            await wait_for(pilot, lambda: app.noted(f"database {db} is damaged", "error"))
            note = next(m for m, _ in app.notes if "is damaged" in m)
            assert "it is empty now; it was damaged while lorebook had it open" in note
            assert "lorebook doctor --repair" in note and "Traceback" not in note
            assert app.is_running and app.current is None

    run(scenario)
    # the error was shown in the app: closing does not raise it again
    assert app.session.agent is None and app.session.closing_error is None


def test_damage_met_only_at_close_is_printed_after_the_app(
    home: Path, script: Script, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _filled(home)
    script.reply = "Sure."
    db = home / "memory.db"

    class CutShortApp(RecordingApp):
        """Answers one message, then another program cuts the file short; then the user quits."""

        async def _cut_and_quit(self) -> None:
            data = db.read_bytes()
            db.write_bytes(data[: len(data) // 3])
            self.exit()

    async def drive(app: CutShortApp) -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await ready(pilot)
            await say(pilot, "Where is the spare key number 3?")
            await app._cut_and_quit()

    def run_in_test(self: CutShortApp) -> None:
        run(lambda: drive(self))

    monkeypatch.setattr(tui.app, "LorebookApp", CutShortApp)
    monkeypatch.setattr(CutShortApp, "run", run_in_test)
    assert tui.app.run(make_session(home, script)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: database {db} is damaged: ") and err.count("\n") == 1
    assert "damaged while lorebook had it open" in err and "lorebook doctor --repair" in err
    assert "Traceback" not in err
