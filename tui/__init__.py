"""The Textual chat app (``lorebook chat``): conversation, threads, provenance, memories.

The app is a thin front end: everything it does goes through :class:`tui.session.Session`,
which calls the :class:`agent.Agent` API.
"""

from tui.app import LorebookApp, run
from tui.session import Session

__all__ = ["LorebookApp", "Session", "run"]
