"""Rough edges a new user hit (issue 19): help that scrolls, the memory search box focused,
dialogs that name a thread by its title, a sidebar without doubles, /ingest in the chat."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path
from typing import Any

from textual.widgets import Label, ListView

import tui.actions
from tests.tui.conftest import ready, run, say, wait_for
from tui.screens import AskScreen, ConfirmScreen, HelpScreen
from tui.widgets import MessageView


def _screen_lines(app: Any) -> list[str]:
    """The screen's lines of text, from its SVG screenshot."""
    svg = app.export_screenshot()
    rows: dict[float, list[tuple[float, str]]] = {}
    for m in re.finditer(r'<text class="[^"]*" x="([\d.]+)" y="([\d.]+)"[^>]*>(.*?)</text>', svg):
        rows.setdefault(float(m.group(2)), []).append((float(m.group(1)), unescape(m.group(3))))
    return [
        "".join(t for _, t in sorted(parts)).replace("\xa0", " ")
        for _, parts in sorted(rows.items())
    ]


#: The thread title of LONG: cut at a word and ended with an ellipsis, not at "…Pyrenees i".
LONG = "What should I pack for two weeks of hiking in the Pyrenees in June"
TITLE = "What should I pack for two weeks of hiking in the Pyrenees…"


def _titles(app: Any) -> list[str]:
    lv = app.query_one("#threads", ListView)
    return [str(item.query_one(Label).render()) for item in lv.children]


def test_help_scrolls_to_the_commands_and_thread_keys_at_140x40(app_factory: Any) -> None:
    app = app_factory()

    async def scenario() -> None:
        async with app.run_test(size=(140, 40)) as pilot:
            await ready(pilot)
            await pilot.press("f1")
            screen = await wait_for(
                pilot, lambda: isinstance(app.screen, HelpScreen) and app.screen
            )
            await pilot.pause()
            pane = screen.query_one("#help-scroll")
            assert pane.has_focus and pane.max_scroll_y > 0  # more than a screenful
            assert not any("/quit" in line for line in _screen_lines(app))
            seen: set[str] = set()
            for _ in range(40):  # ten lines at a time: every line is on screen at some point
                await pilot.press(*["down"] * 10)
                await pilot.pause()
                seen.update(_screen_lines(app))
                if pane.scroll_y >= pane.max_scroll_y:
                    break
            assert pane.scroll_y == pane.max_scroll_y
            assert any("In the threads list" in line and "r renames" in line for line in seen)
            assert any("/memories [query]" in line for line in seen)
            assert any("/quit" in line for line in _screen_lines(app))
            # A | inside a command's usage no longer splits its table cell.
            assert any("/summarize [bullets|extractive]" in line for line in seen)

    run(scenario)


def test_rename_and_delete_dialogs_name_the_thread_by_its_title(app_factory: Any) -> None:
    app = app_factory()

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            await pilot.press("ctrl+n")
            await wait_for(pilot, lambda: "New chat" in _titles(app))
            thread = app.thread
            await say(pilot, "let us plan the garden")
            await wait_for(pilot, lambda: "let us plan the garden" in _titles(app))
            await pilot.press("f2")
            ask = await wait_for(pilot, lambda: isinstance(app.screen, AskScreen) and app.screen)
            assert ask.question == "New title for “let us plan the garden”"
            assert ask.value == "let us plan the garden"  # to edit, not to retype
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, AskScreen))
            app.action_delete_thread()
            confirm = await wait_for(
                pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen
            )
            assert confirm.question == "Delete “let us plan the garden” and all its messages?"
            assert thread not in confirm.question
            await pilot.press("y")
            await wait_for(pilot, lambda: app.noted("deleted “let us plan the garden”"))

    run(scenario)


def test_sidebar_lists_each_thread_once_and_ends_a_long_title_with_an_ellipsis(
    app_factory: Any,
) -> None:
    app = app_factory()
    long = LONG

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            await say(pilot, long)
            for _ in range(4):  # refreshes close together (a turn ends as a rename lands)
                app._refresh_threads()
            await pilot.pause()
            await wait_for(pilot, lambda: _titles(app) == [TITLE])
            await pilot.pause()
            await wait_for(pilot, lambda: _titles(app) == [TITLE])
            sidebar = [line for line in _screen_lines(app) if "What should" in line]
            assert sidebar and "…" in sidebar[0]

    run(scenario)


def test_ingest_shows_progress_and_a_summary_in_the_conversation(
    app_factory: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    folder = tmp_path / "papers"
    folder.mkdir()
    (folder / "lease.md").write_text(
        "\n\n".join(f"Clause {n}. The monthly rent is {900 + n} euros." for n in range(300))
    )
    (folder / "empty.txt").write_text("")
    shown: list[str] = []
    real = tui.actions.ingest_progress_text

    def recording(path: str, p: Any) -> str:
        text = real(path, p)
        shown.append(text)
        return text

    monkeypatch.setattr(tui.actions, "ingest_progress_text", recording)
    monkeypatch.chdir(tmp_path)
    app = app_factory()

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            app.session.agent.documents.embed_batch = 10
            await pilot.press(*"/ingest papers", "enter")  # a short path: each key is an update

            def summary() -> Any:
                views = [v for v in app.query(MessageView) if v.label == "lorebook · ingest"]
                return views and views[-1].text.startswith("Ingested") and views[-1]

            view = await wait_for(pilot, summary, tries=3000)
            assert "Ingested `papers`: 1 new, 0 changed, 0 unchanged files" in view.text
            assert "`lease.md`" in view.text and "- error:" in view.text
            assert "empty.txt" in view.text  # the error names the file
            assert any("chunks embedded" in s for s in shown), shown
            assert any("file 1 of 2" in s or "file 2 of 2" in s for s in shown)
            assert app.noted("ingested")

    run(scenario)


def test_a_long_title_wraps_in_the_dialogs_and_the_question_stays_whole(
    app_factory: Any,
) -> None:
    """A title of the sidebar's 60 characters made the delete question wider than its dialog:
    the label was cut at the border, and 'and all its messages?' never showed."""
    app = app_factory()
    long = LONG

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            await say(pilot, long)
            await wait_for(pilot, lambda: _titles(app) == [TITLE])
            app.action_delete_thread()
            confirm = await wait_for(
                pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen
            )
            await pilot.pause()
            label, dialog = confirm.query_one(Label), confirm.query_one("#dialog")
            assert label.region.right <= dialog.content_region.right  # wrapped, not cut
            assert any("messages?" in line for line in _screen_lines(app))
            await pilot.press("n")
            await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
            await pilot.press("f2")
            ask = await wait_for(pilot, lambda: isinstance(app.screen, AskScreen) and app.screen)
            await pilot.pause()
            label, dialog = ask.query_one(Label), ask.query_one("#dialog")
            assert label.region.right <= dialog.content_region.right
            assert any("Pyrenees…”" in line for line in _screen_lines(app))  # the end

    run(scenario)
