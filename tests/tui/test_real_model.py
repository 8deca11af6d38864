"""The app on the real default model: a message gets a reply streamed token by token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static

from agent.api import Agent, Event, TokenEvent
from tests.tui.conftest import RecordingApp, ready, run, say
from tui import Session


class CountingSession(Session):
    """A session that also keeps the events of each turn, to see the stream."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.events: list[Event] = []

    def stream(self, message: str, thread: str) -> Iterator[Event]:
        for event in super().stream(message, thread):
            self.events.append(event)
            yield event


@pytest.mark.integration
def test_a_real_reply_streams_into_the_app(tmp_path: Path, real_model_path: Path) -> None:
    def opener(model: str | None) -> Agent:
        return Agent.open(
            tmp_path / "home",
            model=str(real_model_path),
            temperature=0,
            n_ctx=2048,
            max_tokens=48,
        )

    session = CountingSession(opener)
    app = RecordingApp(session)

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            status = str(app.query_one("#status", Static).render())
            assert "gemma" in status.lower() and ("CPU" in status or "GPU" in status)
            view = await say(pilot, "What is the capital of France?")
            tokens = [e.text for e in session.events if isinstance(e, TokenEvent)]
            assert len(tokens) >= 2  # streamed, not delivered at once
            assert view.text == "".join(tokens) and view.text.strip()
            assert view.turn.completion_tokens > 0
            status = str(app.query_one("#status", Static).render())
            assert "– tok/s" not in status and f"ctx {view.turn.prompt_tokens}/2048" in status
            assert not any(s == "error" for _, s in app.notes)

    run(scenario)
