"""Fixtures for the app's pilot tests: a session on a scripted fake model and the hash embedder."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from agent.api import Agent
from agent.llm import GenerationSettings
from agent.llm.fake import FakeLLM
from agent.llm.prompts import TranscriptChatFormat
from tui import LorebookApp, Session

CODE_REPLY = "Here it is:\n\n```python\nprint('hi')\n```\n\nAnd **bold** text."


class Script:
    """The fake model's replies: ``reply`` by default, ``long`` for messages saying 'long'."""

    def __init__(self) -> None:
        self.reply: str | BaseException = CODE_REPLY
        self.prompts: list[str] = []

    def __call__(self, prompt: str, settings: GenerationSettings) -> str:
        self.prompts.append(prompt)
        last = prompt.rstrip().rsplit("User:", 1)[-1]
        if "long" in last:
            return "word " * 400
        if isinstance(self.reply, BaseException):
            raise self.reply
        return self.reply


def make_session(home: Path, script: Script, *, delay: float = 0.0, **settings: Any) -> Session:
    def opener(model: str | None) -> Agent:
        llm = FakeLLM(
            default=script,
            delay=delay,
            n_ctx=2048,
            chat_format=TranscriptChatFormat(),
            model_name=model or "fake-model",
        )
        return Agent.open(home, llm=llm, embedder="hash", route_with_model=False, **settings)

    return Session(opener)


@pytest.fixture
def script() -> Script:
    return Script()


class RecordingApp(LorebookApp):
    """The app, keeping every notification (toasts expire) for the tests to read."""

    def __init__(self, session: Session, **kwargs: Any) -> None:
        super().__init__(session, **kwargs)
        self.notes: list[tuple[str, str]] = []

    def notify(self, message: str, **kwargs: Any) -> None:  # type: ignore[override]
        self.notes.append((str(message), kwargs.get("severity", "information")))
        super().notify(message, **kwargs)

    def noted(self, needle: str, severity: str | None = None) -> bool:
        return any(needle in m and severity in (None, s) for m, s in self.notes)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def app_factory(home: Path, script: Script) -> Callable[..., RecordingApp]:
    def make(delay: float = 0.0, **settings: Any) -> RecordingApp:
        return RecordingApp(make_session(home, script, delay=delay, **settings))

    return make


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    """Run an async pilot scenario from a plain test (no async pytest plugin needed)."""
    asyncio.run(scenario())  # type: ignore[arg-type]


async def ready(pilot: Any) -> None:
    """Wait until the model is loaded and the thread's history is shown."""
    app = pilot.app
    await wait_for(pilot, lambda: app.session.ready and not app.status.loading, tries=12000)
    await pilot.pause()


async def submit(pilot: Any, text: str) -> None:
    """Type ``text`` and send it without waiting for the reply (``press("enter")`` would)."""
    await pilot.press(*text)
    pilot.app.query_one("#prompt").submit()


async def say(pilot: Any, text: str) -> Any:
    """Type ``text``, press Enter and wait for the reply's Turn; returns its MessageView."""
    from tui.widgets import MessageView

    app = pilot.app
    before = len(app.query(MessageView))
    app.query_one("#prompt").focus()
    await pilot.press(*text, "enter")

    def done() -> Any:
        views = list(app.query(MessageView))
        return len(views) >= before + 2 and views[-1].turn is not None and views[-1]

    return await wait_for(pilot, done, tries=12000)


async def wait_for(pilot: Any, condition: Callable[[], Any], tries: int = 400) -> Any:
    """Let the app run until ``condition()`` is truthy (bounded), and return its value."""
    for _ in range(tries):
        value = condition()
        if value:
            return value
        # asyncio.sleep, not pilot.pause: pause waits for the screen to be idle, which a
        # streaming reply keeps busy until it ends.
        await asyncio.sleep(0.01)
    raise AssertionError("the app never reached the expected state")
