"""The threads sidebar: create, switch, rename, delete; they persist across restarts."""

from __future__ import annotations

from typing import Any

from textual.widgets import Label, ListView

from tests.tui.conftest import ready, run, say, wait_for
from tui.screens import AskScreen, ConfirmScreen
from tui.widgets import MessageView


def _titles(app: Any) -> list[str]:
    lv = app.query_one("#threads", ListView)
    return [str(item.query_one(Label).render()) for item in lv.children]


def _chat(app: Any) -> list[str]:
    return [v.text for v in app.query(MessageView)]


def test_create_switch_rename_delete_and_persist(app_factory: Any) -> None:
    app = app_factory()

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            await say(pilot, "hello main")
            await wait_for(pilot, lambda: _titles(app) == ["hello main"])

            await pilot.press("ctrl+n")  # a new thread, renamed before its first message
            await wait_for(pilot, lambda: "New chat" in _titles(app))
            second = app.thread
            assert second != "main" and _chat(app) == []
            await pilot.press("f2")
            await wait_for(pilot, lambda: isinstance(app.screen, AskScreen))
            await pilot.press(*"Plans", "enter")
            await wait_for(pilot, lambda: "Plans" in _titles(app))
            await say(pilot, "let us plan")
            agent = app.session.agent
            await wait_for(
                pilot, lambda: {t.title for t in agent.threads()} == {"hello main", "Plans"}
            )

            # Switch back to main from the sidebar: its history comes back.
            lv = app.query_one("#threads", ListView)
            lv.focus()
            await wait_for(pilot, lambda: _titles(app) and lv.has_focus)
            lv.index = next(i for i, t in enumerate(_titles(app)) if t == "hello main")
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.thread == "main" and _chat(app))
            assert _chat(app)[0] == "hello main"

            # Rename main from the sidebar (r), then delete the other thread (d, y).
            lv.focus()
            await pilot.press("r")
            await wait_for(pilot, lambda: isinstance(app.screen, AskScreen))
            await pilot.press(*"Main talk", "enter")
            await wait_for(pilot, lambda: "Main talk" in _titles(app))
            assert {t.title for t in agent.threads()} == {"Main talk", "Plans"}
            lv.focus()
            lv.index = _titles(app).index("Plans")
            await pilot.press("d")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await wait_for(pilot, lambda: _titles(app) == ["Main talk"])
            assert [t.thread for t in agent.threads()] == ["main"]
            assert agent.history(second) == []

        # A new app on the same data directory: the threads and the messages are there.
        again = app_factory()
        async with again.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            await wait_for(pilot, lambda: _titles(again) == ["Main talk"] and _chat(again))
            assert _chat(again)[0] == "hello main"

    run(scenario)
