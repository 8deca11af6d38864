"""Visual snapshots of the main screens (pytest-textual-snapshot), with deterministic content.

What varies from run to run is pinned before the picture is taken: the tokens per second and
the per-node milliseconds (measured), memory dates (fixed ``created``) and recency (weight 0).
Update after an intended change with ``pytest tests/tui/test_snapshots.py --snapshot-update``.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from textual.widgets import Input

from tests.tui.conftest import ready, say, wait_for
from tui.screens import HelpScreen, MemoryBrowser
from tui.widgets import MessageView

FIXED = datetime(2026, 1, 2, 9, 30, tzinfo=UTC)


async def _pin(pilot: Any) -> None:
    """Replace measured numbers by fixed ones, clear the toasts, stop the cursor blinking."""
    app = pilot.app
    app.status.tokens_per_s = 42.0
    app._render_status()
    for view in app.query(MessageView):
        if view.turn is not None:
            view.turn = dataclasses.replace(
                view.turn, timings={k: 10.0 * (i + 1) for i, k in enumerate(view.turn.timings)}
            )
            app._show_provenance(view)
    app.clear_notifications()
    # a blinking cursor is drawn or not depending on when the picture is taken: held on
    for box in app.query(Input):
        box.cursor_blink = False
    await pilot.pause()


def test_chat_after_a_reply_at_80x24(snap_compare: Any, app_factory: Any) -> None:
    async def before(pilot: Any) -> None:
        await ready(pilot)
        await say(pilot, "show me some code")
        # whether the prompt has its focus back (and its cursor drawn) when the picture is
        # taken depends on timing: the picture is of the conversation, without a focus
        pilot.app.set_focus(None)
        await _pin(pilot)

    assert snap_compare(app_factory(), terminal_size=(80, 24), run_before=before)


def test_provenance_of_a_reply(snap_compare: Any, app_factory: Any) -> None:
    async def before(pilot: Any) -> None:
        await ready(pilot)
        pilot.app.session.agent.memory.add("My sister is called Ana", user="me", created=FIXED)
        view = await say(pilot, "What is my sister called?")
        view.focus()
        await _pin(pilot)

    app = app_factory(recency_weight=0.0)
    assert snap_compare(app, terminal_size=(120, 30), run_before=before)


def test_help_screen(snap_compare: Any, app_factory: Any) -> None:
    async def before(pilot: Any) -> None:
        await ready(pilot)
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))
        await _pin(pilot)

    assert snap_compare(app_factory(), terminal_size=(80, 24), run_before=before)


def test_memory_browser(snap_compare: Any, app_factory: Any) -> None:
    async def before(pilot: Any) -> None:
        await ready(pilot)
        mem = pilot.app.session.agent.memory
        old = mem.add("I live in Paris", user="me", created=FIXED).record
        new = mem.add("I moved to Berlin", user="me", created=FIXED).record
        mem.supersede(old.id, new.id)
        mem.add("My cat is called Tom", user="me", created=FIXED)
        await pilot.press(*"/memories", "enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, MemoryBrowser))
        await pilot.press("down", "a")  # from the search box to the list; all versions
        await wait_for(pilot, lambda: len(pilot.app.screen.rows) == 3)
        await _pin(pilot)

    assert snap_compare(app_factory(), terminal_size=(100, 30), run_before=before)
