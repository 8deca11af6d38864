"""Slash commands, the command palette and the help screen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static

from tests.tui.conftest import ready, run, say, wait_for
from tui.commands import COMMANDS, CommandError, complete, parse
from tui.screens import HelpScreen, MemoryBrowser
from tui.widgets import MessageView


def test_parse_and_complete() -> None:
    assert parse("hello") is None
    assert parse("//not a command") is None
    cmd, arg = parse("/translate French good morning")  # type: ignore[misc]
    assert (cmd.name, cmd.turn, arg) == ("translate", True, "French good morning")
    assert parse("/memories")[0].name == "memories"  # type: ignore[index]
    with pytest.raises(CommandError, match="unknown command /frobnicate"):
        parse("/frobnicate now")
    with pytest.raises(CommandError, match=r"usage: /ingest <path>"):
        parse("/ingest")
    assert [c.name for c in complete("/re")] == ["remember", "recall", "review"]
    assert [c.name for c in complete("/a")] == ["ask", "accept"]
    assert complete("/translate x") == [] and complete("hi") == []


@pytest.mark.parametrize("tool", ["translate", "summarize", "code", "review"])
def test_tool_commands_go_to_the_agent(app_factory: Any, tool: str) -> None:
    app = app_factory()

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            view = await say(pilot, f"/{tool} French some text")
            assert view.turn.route == tool
            assert view.turn.route_reason == f"slash command /{tool}"
            # the tool's Markdown report, or what its input lacks — never a crash
            assert view.turn.tool is not None or view.text.startswith(f"I could not {tool}")
            assert view.text == view.turn.text and view.text.strip()
            assert f"lorebook · {tool}" in str(view.query_one(".label", Static).render())

    run(scenario)


def test_remember_and_forget_commands(app_factory: Any) -> None:
    app = app_factory()

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            view = await say(pilot, "/remember My sister is called Ana")
            assert view.turn.route == "remember"
            assert view.text == "Noted: Your sister is called Ana."
            agent = app.session.agent
            assert [h.record.text for h in agent.recall("sister")] == ["My sister is called Ana."]
            assert [i.state for i in app.inbox] == ["stored"]  # stored at once: undo-able
            view = await say(pilot, "/forget sister")
            assert view.turn.route == "forget" and "(1 memory, deleted everywhere" in view.text
            assert agent.recall("sister") == []

    run(scenario)


def test_recall_and_search_commands_show_what_they_found(app_factory: Any, tmp_path: Path) -> None:
    doc = tmp_path / "lease.md"
    doc.write_text("# Lease\n\nThe monthly rent is 950 euros, due on the first day.\n")
    app = app_factory()

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            agent = app.session.agent
            agent.remember("My sister is called Ana", user="me")
            agent.ingest([doc])
            await app.handle_line("/recall sister")
            await wait_for(
                pilot, lambda: "My sister is called Ana" in app.query(MessageView)[-1].text
            )
            view = app.query(MessageView)[-1]
            assert "lorebook · recall" in str(view.query_one(".label", Static).render())
            assert view.turn is None  # the app ran it: no turn, nothing in the thread
            await app.handle_line("/search monthly rent")
            await wait_for(pilot, lambda: "950 euros" in app.query(MessageView)[-1].text)
            assert "lease.md" in app.query(MessageView)[-1].text
            await app.handle_line("/recall")
            assert app.noted("usage: /recall <query>", "warning")

    run(scenario)


def test_ingest_command_and_its_errors(
    app_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "lease.md").write_text(
        "# Lease\n\nThe monthly rent is 950 euros, due on the first day.\n"
    )
    monkeypatch.chdir(tmp_path)  # short paths to type: each key is a screen update (~0.1 s)
    app = app_factory()

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            await pilot.press(*"/ingest lease.md", "enter")
            await wait_for(pilot, lambda: app.noted("ingested", "information"))
            assert app.noted("1 new")
            assert app.session.agent.search("monthly rent")[0].citation.path.endswith("lease.md")
            await pilot.press(*"/ingest missing.pdf", "enter")
            await wait_for(pilot, lambda: any(s == "error" for _, s in app.notes))
            await pilot.press(*"/ingest", "enter")
            assert app.noted("usage: /ingest <path>", "warning")
            assert app.is_running

    run(scenario)


def test_bad_commands_are_notifications(app_factory: Any) -> None:
    app = app_factory()

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            await pilot.press(*"/frobnicate", "enter")
            assert app.noted("unknown command /frobnicate", "warning")
            await pilot.press(*"/translate", "enter")
            assert app.noted("usage: /translate <lang> <text>", "warning")
            assert not app.query(MessageView)  # nothing was sent
            assert app.is_running

    run(scenario)


def test_help_new_model_and_quit_commands(app_factory: Any) -> None:
    app = app_factory()

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            await pilot.press(*"/help", "enter")
            await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
            shown = app.screen.query_one("#help").source
            for c in COMMANDS:
                assert f"`{c.usage}`".replace("|", "\\|") in shown  # | escaped in a table
            assert "Esc" in shown and "Ctrl+P" in shown
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen))
            await pilot.press("f1")
            await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
            await pilot.press("escape")

            await say(pilot, "hello")
            old = app.thread
            await pilot.press(*"/new", "enter")
            await wait_for(pilot, lambda: app.thread != old)
            assert not app.query(MessageView)  # a fresh conversation

            await pilot.press(*"/model", "enter")
            await wait_for(pilot, lambda: app.noted("model fake-model on CPU, context 2048"))
            await pilot.press(*"/model nosuch", "enter")
            await wait_for(pilot, lambda: app.noted("nosuch", "error"))
            await wait_for(pilot, lambda: not app.status.loading)
            assert app.session.ready and app.status.model == "fake-model"

            await pilot.press(*"/quit", "enter")
            await wait_for(pilot, lambda: not app.is_running)

    run(scenario)


def _palette_offers(app: Any, text: str) -> bool:
    """The palette (which searches its providers in the background) lists ``text`` first."""
    from textual.command import CommandList

    found = app.screen.query(CommandList)
    if not found or not found.first().option_count:
        return False
    return text in str(found.first().get_option_at_index(0).prompt)


def test_the_command_palette_reaches_the_actions(app_factory: Any) -> None:
    app = app_factory()

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            await pilot.press("ctrl+p")
            await pilot.press(*"Memories")
            await wait_for(pilot, lambda: _palette_offers(app, "Memories"))
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, MemoryBrowser))
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, MemoryBrowser))
            await pilot.press("ctrl+p")
            await pilot.press(*"/translate")
            await wait_for(pilot, lambda: _palette_offers(app, "/translate"))
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.query_one("#prompt").text == "/translate ")

    run(scenario)


def test_model_command_switches_to_a_registered_model(app_factory: Any, home: Path) -> None:
    from agent.registry import ModelRegistry
    from tests.conftest import write_tiny_gguf

    home.mkdir(parents=True, exist_ok=True)
    ModelRegistry(home).add(write_tiny_gguf(home / "tiny.gguf"), "tiny")
    app = app_factory()

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            await pilot.press(*"/model", "enter")
            await wait_for(pilot, lambda: app.noted("Registered: *tiny"))  # * = current
            await pilot.press(*"/model tiny", "enter")
            await wait_for(pilot, lambda: app.noted("now using tiny"))
            assert app.status.model == "tiny" and app.session.agent.llm.model_name == "tiny"
            assert ModelRegistry(home).current_name() == "tiny"
            reply = await say(pilot, "hello")  # the re-opened agent answers
            assert reply.turn.route == "chat"

    run(scenario)


def test_accept_keeps_the_last_translation_in_the_memory(app_factory: Any, script: Any) -> None:
    app = app_factory()
    script.reply = "Bonjour, comment allez-vous aujourd'hui ?"

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            await app.handle_line("/accept")
            assert app.noted("no translation to accept yet")
            view = await say(pilot, "/translate French Good morning, how are you today?")
            assert view.turn.tool["target_lang"] == "fr", view.text
            await app.handle_line("/accept")
            await wait_for(pilot, lambda: app.noted("kept 1 segment pair"))
            tm = app.session._agent().tools.translation_memory
            [entry] = tm.list("en", "fr")
            assert entry.source == "Good morning, how are you today?"
            assert entry.target == "Bonjour, comment allez-vous aujourd'hui ?"

    run(scenario)
