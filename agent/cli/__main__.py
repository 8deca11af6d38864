"""``python -m agent.cli``: the ``lorebook`` command."""

import sys

from agent.cli import main

sys.exit(main())
