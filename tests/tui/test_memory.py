"""Provenance of a reply, the memory browser and the memory inbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import DataTable, Input, Static

from tests.tui.conftest import ready, run, say, wait_for
from tui.screens import AskScreen, ConfirmScreen, InboxScreen, MemoryBrowser


def _panel(app: Any) -> str:
    return str(app.query_one("#prov-body", Static).render())


def _rows(screen: Any) -> list[list[str]]:
    table = screen.query_one(DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def test_provenance_panel_shows_memories_citations_route_and_timings(
    app_factory: Any, tmp_path: Path
) -> None:
    doc = tmp_path / "lease.md"
    doc.write_text("# Lease\n\nThe monthly rent is 950 euros, due on the first day.\n")
    app = app_factory()

    async def scenario() -> None:
        async with app.run_test(size=(130, 40)) as pilot:
            await ready(pilot)
            assert app.query_one("#provenance").display  # wide enough: shown
            agent = app.session.agent
            agent.remember("My sister is called Ana")
            agent.ingest([doc])
            first = await say(pilot, "What is my sister called?")
            assert first.turn.route == "ask_memory"
            text = _panel(app)
            assert "Route ask_memory" in text and first.turn.route_reason in text
            assert "Memories (1)" in text and "My sister is called Ana" in text
            m = first.turn.memories[0]
            assert f"score {m.score:.2f} · {m.date[:10]}" in text
            assert "Timings" in text and "answer" in text and "recall" in text

            second = await say(pilot, "What does my lease say about the rent?")
            assert second.turn.route == "ask_documents" and second.turn.citations
            text = _panel(app)
            assert "Citations (1)" in text and "[1] lease.md" in text
            assert "monthly rent is 950 euros" in text

            first.focus()  # selecting an earlier reply shows its provenance
            await wait_for(pilot, lambda: "Route ask_memory" in _panel(app))
            await pilot.press("ctrl+o")
            assert not app.query_one("#provenance").display
            await pilot.press("ctrl+b")
            assert not app.query_one("#sidebar").display

    run(scenario)


def test_memory_browser_search_history_edit_delete(app_factory: Any) -> None:
    app = app_factory()

    async def scenario() -> None:
        async with app.run_test(size=(110, 30)) as pilot:
            await ready(pilot)
            mem = app.session.agent.memory
            paris = mem.add("I live in Paris", user="me").record
            berlin = mem.add("I moved to Berlin", user="me").record
            mem.supersede(paris.id, berlin.id)
            cat = mem.add("My cat is called Tom", user="me").record

            await pilot.press(*"/memories", "enter")
            screen = await wait_for(
                pilot, lambda: isinstance(app.screen, MemoryBrowser) and app.screen
            )
            await wait_for(pilot, lambda: len(_rows(screen)) == 2)
            texts = [r[1] for r in _rows(screen)]
            assert texts == ["My cat is called Tom", "I moved to Berlin"]  # current, newest first

            # Typing goes to the search box, never to the table where d deletes.
            search = screen.query_one("#search", Input)
            assert search.has_focus
            await pilot.press("d", "a")
            assert search.value == "da" and isinstance(app.screen, MemoryBrowser)
            assert len(mem.list("me", kinds=("fact",))) == 2
            search.value = ""
            await pilot.press("down")  # down to the list, where the keys act
            assert screen.query_one(DataTable).has_focus
            await pilot.press("a")  # superseded versions too
            await wait_for(pilot, lambda: len(_rows(screen)) == 3)
            assert [str(paris.id), "I live in Paris"] == _rows(screen)[2][:2]
            assert f"→ #{berlin.id}" in _rows(screen)[2][3]

            screen.query_one(DataTable).move_cursor(row=1)
            await pilot.press("h")
            detail = screen.query_one("#detail", Static)
            await wait_for(pilot, lambda: "History" in str(detail.render()))
            shown = str(detail.render())
            assert shown.index("I live in Paris") < shown.index("I moved to Berlin")
            assert f"(superseded by #{berlin.id})" in shown

            screen.query_one(Input).focus()
            await pilot.press(*"cat", "enter")
            await wait_for(pilot, lambda: _rows(screen) and _rows(screen)[0][1] == cat.text)

            await pilot.press("e")
            ask = await wait_for(pilot, lambda: isinstance(app.screen, AskScreen) and app.screen)
            ask.query_one(Input).value = ""
            await pilot.press(*"My cat is called Felix", "enter")
            await wait_for(pilot, lambda: mem.get(cat.id).text == "My cat is called Felix")
            await wait_for(pilot, lambda: _rows(screen)[0][1] == "My cat is called Felix")

            await pilot.press("d")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await wait_for(pilot, lambda: app.noted(f"forgot memory #{cat.id}"))
            assert [r.id for r in mem.list("me", kinds=("fact",))] == [berlin.id]
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, MemoryBrowser))

    run(scenario)


def test_inbox_holds_facts_until_accepted(app_factory: Any) -> None:
    app = app_factory(memory_inbox=True)

    async def scenario() -> None:
        async with app.run_test(size=(110, 30)) as pilot:
            await ready(pilot)
            agent = app.session.agent
            await say(pilot, "I live in Lyon.")
            await say(pilot, "I work as a nurse.")
            assert [(i.text, i.state) for i in app.inbox] == [
                ("I live in Lyon.", "pending"),
                ("I work as a nurse.", "pending"),
            ]
            assert app.noted("wait in the inbox")
            assert "inbox 2" in str(app.query_one("#status", Static).render())
            assert agent.memory.list("me", kinds=("fact",)) == []  # nothing stored yet

            await pilot.press(*"/inbox", "enter")
            screen = await wait_for(
                pilot, lambda: isinstance(app.screen, InboxScreen) and app.screen
            )
            await pilot.press("a")
            await wait_for(pilot, lambda: _rows(screen)[0][0] == "accepted")
            assert [r.text for r in agent.memory.list("me", kinds=("fact",))] == ["I live in Lyon."]
            screen.query_one(DataTable).move_cursor(row=1)
            await pilot.press("r")
            await wait_for(pilot, lambda: _rows(screen)[1][0] == "rejected")
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, InboxScreen))
            assert [r.text for r in agent.memory.list("me", kinds=("fact",))] == ["I live in Lyon."]
            assert "inbox" not in str(app.query_one("#status", Static).render())

    run(scenario)


def test_inbox_off_stores_at_once_and_undo_forgets(app_factory: Any) -> None:
    app = app_factory()

    async def scenario() -> None:
        async with app.run_test(size=(110, 30)) as pilot:
            await ready(pilot)
            agent = app.session.agent
            await say(pilot, "I live in Lyon.")
            stored = agent.memory.list("me", kinds=("fact",))
            assert [r.text for r in stored] == ["I live in Lyon."]
            assert app.noted("remembered: I live in Lyon. (/inbox to undo)")
            await pilot.press(*"/inbox", "enter")
            screen = await wait_for(
                pilot, lambda: isinstance(app.screen, InboxScreen) and app.screen
            )
            assert "stored at once" in str(screen.query_one("#mode", Static).render())
            assert _rows(screen)[0] == ["stored", "I live in Lyon."]
            await pilot.press("u")
            await wait_for(pilot, lambda: _rows(screen)[0][0] == "undone")
            assert agent.memory.list("me", kinds=("fact",)) == []

    run(scenario)


def test_undo_in_the_inbox_brings_back_the_fact_it_replaced(app_factory: Any) -> None:
    """A wrongly taken fact superseded the real one; undo must not lose the real one."""
    app = app_factory()

    async def scenario() -> None:
        async with app.run_test(size=(110, 30)) as pilot:
            await ready(pilot)
            mem = app.session.agent.memory
            await say(pilot, "I live in Lyon.")
            await say(pilot, "I live in Paris.")
            (lyon,) = [r for r in mem.list("me", kinds=("fact",), include_history=True)
                       if r.text == "I live in Lyon."]  # fmt: skip
            assert not lyon.current  # Paris replaced it
            await pilot.press(*"/inbox", "enter")
            screen = await wait_for(
                pilot, lambda: isinstance(app.screen, InboxScreen) and app.screen
            )
            screen.query_one(DataTable).move_cursor(row=1)
            await pilot.press("u")
            await wait_for(pilot, lambda: _rows(screen)[1][0] == "undone")
            current = mem.list("me", kinds=("fact",))
            assert [(r.text, r.current, r.superseded_by) for r in current] == [
                ("I live in Lyon.", True, None)
            ]
            assert app.noted("the fact it had replaced is current again")

    run(scenario)
