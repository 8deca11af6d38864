"""The conversation: start-up, streamed Markdown replies, Esc, the prompt, status bar, copying."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from textual.widgets import Static
from textual.widgets._markdown import MarkdownFence

from agent.errors import GenerationError, ModelLoadError
from tests.tui.conftest import (
    CODE_REPLY,
    RecordingApp,
    Script,
    make_session,
    ready,
    run,
    say,
    submit,
    wait_for,
)
from tui import Session
from tui.widgets import MessageView, PromptInput


def _status(app: Any) -> str:
    return str(app.query_one("#status", Static).render())


def test_the_app_is_usable_while_the_model_loads(home: Path, script: Script) -> None:
    gate = threading.Event()
    inner = make_session(home, script)

    def slow_opener(model: str | None) -> Any:
        assert gate.wait(30)
        return inner._opener(model)

    app = RecordingApp(Session(slow_opener))

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            assert "loading model" in _status(app)
            assert app.query("#loading")  # the indicator in the chat
            prompt = app.query_one(PromptInput)
            assert prompt.has_focus
            await pilot.press(*"hello there", "enter")  # typed and sent before the model is up
            assert app.noted("still loading")
            assert not app.query(MessageView)
            gate.set()
            await wait_for(pilot, lambda: [v for v in app.query(MessageView) if v.turn])
            assert "loading model" not in _status(app) and not app.query("#loading")
            assert app.query(MessageView).first().text == "hello there"

    run(scenario)


def test_a_reply_streams_token_by_token_as_markdown(app_factory: Any) -> None:
    app = app_factory(delay=0.03)

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            await submit(pilot, "show me code")
            # Part of the reply is on screen while the rest is still being written.
            partial = await wait_for(
                pilot,
                lambda: [
                    v
                    for v in app.query(MessageView)
                    if v.role == "assistant" and v.text and v.turn is None
                ],
            )
            assert 0 < len(partial[0].text) < len(CODE_REPLY)
            view = await wait_for(pilot, lambda: partial[0].turn and partial[0])
            assert view.text == CODE_REPLY
            await pilot.pause()
            fences = list(view.body.query(MarkdownFence))
            assert len(fences) == 1 and fences[0].lexer == "python"  # highlighted as Python
            assert view.turn.route == "chat"
            assert "lorebook · chat" in str(view.query_one(".label", Static).render())

    run(scenario)


def test_escape_stops_a_reply_at_once_and_the_chat_goes_on(app_factory: Any) -> None:
    app = app_factory(delay=0.02)

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            await submit(pilot, "a long one")
            view = await wait_for(
                pilot,
                lambda: next((v for v in app.query(MessageView) if len(v.text) > 20), None),
            )
            assert "Esc stops" in _status(app)
            await pilot.press("escape")
            assert view.stopped  # the screen stops taking tokens at once
            shown = view.text
            await wait_for(pilot, lambda: view.turn)
            assert view.turn.finish_reason == "cancelled"
            assert view.text == shown and len(view.text.split()) < 400
            assert "stopped" in str(view.query_one(".label", Static).render())
            assert "Esc stops" not in _status(app)
            reply = await say(pilot, "and now?")
            assert reply.turn.finish_reason == "stop" and reply.text == CODE_REPLY

    run(scenario)


def test_prompt_history_multiline_and_completion(app_factory: Any) -> None:
    app = app_factory()

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            await say(pilot, "first")
            await say(pilot, "second")
            prompt = app.query_one(PromptInput)
            await pilot.press(*"draft")
            await pilot.press("up")
            assert prompt.text == "second"
            await pilot.press("up")
            assert prompt.text == "first"
            await pilot.press("down")
            assert prompt.text == "second"
            await pilot.press("down")
            assert prompt.text == "draft"  # the unsent draft comes back
            prompt.load_text("")
            await pilot.press("a", "ctrl+j", "b")
            assert prompt.text == "a\nb"
            prompt.load_text("")
            await pilot.press("x", "backslash", "enter", "y")
            assert prompt.text == "x\ny"
            prompt.load_text("")
            await pilot.press(*"/tr")
            hint = app.query_one("#hint", Static)
            assert "/translate <lang> <text>" in str(hint.render())
            await pilot.press("tab")
            assert prompt.text == "/translate "
            prompt.load_text("")
            await pilot.press(*"/m")
            assert "/memories" in str(hint.render()) and "/model" in str(hint.render())
            await pilot.press("tab")
            assert prompt.text == "/m"  # two candidates: completed to what they share
            await pilot.press("e", "tab")
            assert prompt.text == "/memories "

    run(scenario)


def test_status_bar_shows_model_device_speed_and_context(app_factory: Any) -> None:
    app = app_factory()

    async def scenario() -> None:
        async with app.run_test(size=(120, 30)) as pilot:
            await ready(pilot)
            assert "fake-model · CPU · – tok/s · ctx 0/2048" in _status(app)
            view = await say(pilot, "tell me a story")
            turn = view.turn
            tps = turn.completion_tokens / (turn.timings["generate"] / 1000)
            assert f"{tps:.1f} tok/s" in _status(app)
            pct = 100 * turn.prompt_tokens / 2048
            assert f"ctx {turn.prompt_tokens}/2048 ({pct:.0f}%)" in _status(app)

    run(scenario)


def test_copy_a_reply_and_its_code_blocks(app_factory: Any, script: Script) -> None:
    script.reply = "Two:\n\n```sh\nls\n```\n\n```python\nx = 1\n```\n"
    app = app_factory()

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            view = await say(pilot, "code please")
            view.focus()
            await pilot.press("c")
            assert app.clipboard == view.turn.text == script.reply.strip()
            await pilot.press("y")
            assert app.clipboard == "ls\n"
            await pilot.press("y")
            assert app.clipboard == "x = 1\n"
            assert app.noted("code block 2/2")

    run(scenario)


def test_model_and_generation_errors_are_notifications(home: Path, script: Script) -> None:
    def broken(model: str | None) -> Any:
        raise ModelLoadError("no such file: /nowhere.gguf")

    app = RecordingApp(Session(broken))

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: app.noted("no such file", "error"))
            assert "model failed" in _status(app)
            await pilot.press(*"tell me a story", "enter")
            assert app.noted("no model is loaded", "error")
            assert app.is_running

    run(scenario)

    script.reply = GenerationError("the model ran out of memory")
    app2 = RecordingApp(make_session(home, script))

    async def failing_turn() -> None:
        async with app2.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            await pilot.press(*"tell me a story", "enter")
            await wait_for(pilot, lambda: app2.noted("out of memory", "error"))
            assert app2.current is None and app2.is_running
            assert "Esc stops" not in _status(app2)

    run(failing_turn)


def test_at_80_columns_provenance_makes_room(app_factory: Any) -> None:
    app = app_factory()

    async def scenario() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            assert not app.query_one("#provenance").display  # narrow: hidden at start
            assert app.query_one("#sidebar").display
            await pilot.press("ctrl+o")
            assert app.query_one("#provenance").display
            assert not app.query_one("#sidebar").display

    run(scenario)


def test_escape_after_the_reply_is_written_keeps_it_whole(app_factory: Any) -> None:
    app = app_factory()

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            view = await say(pilot, "tell me a story")
            assert ("generate", view.turn.timings["generate"]) in view.nodes
            app.current = view  # as while the facts of a finished reply are being stored
            app.action_stop()
            assert not view.stopped and not app.noted("reply stopped")

    run(scenario)
