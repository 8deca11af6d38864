"""Fixtures for the agent tests: a real llama-server on the default model.

``make test`` (scripts/test.sh) sets ``LOREBOOK_REQUIRE_LLAMA_SERVER=1`` so that a missing
binary fails the run; a bare ``pytest`` without the binary skips these tests. It runs the tests
marked ``llama_server`` (tests/conftest.py marks them) after building the binary, and the others
before, with ``LOREBOOK_TEST_LLAMA_SERVER=pending``: then a test that gets here unmarked fails.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.errors import ConfigError

#: The GPU check sets this: on a GPU, greedy replies repeat exactly only in deterministic mode
#: (no prompt-cache reuse, one reply at a time per server); on a CPU they repeat either way.
SERVER_DETERMINISTIC = os.environ.get("LOREBOOK_TEST_SERVER_DETERMINISTIC") == "1"
#: Read once, here: the ``home`` fixture clears every ``LOREBOOK_*`` variable for its test.
_REQUIRE_SERVER = os.environ.get("LOREBOOK_REQUIRE_LLAMA_SERVER") == "1"
_SERVER_PENDING = os.environ.get("LOREBOOK_TEST_LLAMA_SERVER") == "pending"


def server_binary() -> Path:
    """The built llama-server, or a skip (a failure under ``make test``)."""
    from agent.llm.serve import find_server_binary

    if _SERVER_PENDING:
        pytest.fail(
            "this test needs llama-server, which scripts/test.sh runs only after building it: "
            "mark the test @pytest.mark.llama_server (tests/conftest.py marks those that take "
            "the llama_server fixture or call server_binary() or start_server())",
            pytrace=False,
        )
    try:
        return find_server_binary()
    except ConfigError as exc:
        if _REQUIRE_SERVER:
            pytest.fail(str(exc))
        pytest.skip(str(exc))


def start_server(model: Path, tmp: Path, **options: Any) -> Any:
    """A started :class:`~agent.llm.serve.LocalServer` (log in ``tmp``), 1 thread per server
    unless told otherwise: the in-process model and the servers share this machine's cores."""
    from agent.llm.serve import LocalServer

    options.setdefault("n_ctx", 2048)
    options.setdefault("n_threads", 1)
    log = tmp / "llama-server.log"
    return LocalServer(model, binary=server_binary(), log=log, **options).start()


@pytest.fixture(scope="session")
def llama_server(real_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One llama-server on the default model for the whole session (2 slots of 2048 tokens)."""
    server = start_server(real_model_path, tmp_path_factory.mktemp("server"), parallel=2)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def server_llm(llama_server: Any) -> Iterator[Any]:
    """The HTTP backend on that server, set up like ``real_llm`` (transcript chat format)."""
    from agent.llm.prompts import TranscriptChatFormat
    from agent.llm.server import ServerLLM

    llm = ServerLLM(
        llama_server.url,
        n_ctx=2048,
        chat_format=TranscriptChatFormat(),
        deterministic=SERVER_DETERMINISTIC,
    )
    yield llm
    llm.close()
