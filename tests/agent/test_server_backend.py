"""The llama-server backend beyond the shared backend suite: replicas, failover, server-side
cancellation, ``lorebook serve-model``. Real llama-server processes on the default model."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent.errors import ConfigError, ServerUnavailableError
from agent.llm import CancelToken, GenerationSettings, open_llm
from agent.llm.prompts import TranscriptChatFormat
from agent.llm.serve import free_port
from agent.llm.server import ServerLLM, parse_urls
from agent.settings import load_settings
from tests.agent.conftest import SERVER_DETERMINISTIC, start_server

GREEDY = GenerationSettings(temperature=0, repeat_penalty=1.0, max_tokens=8)


# -- no server needed ------------------------------------------------------------------------


def test_urls_are_parsed_and_bad_ones_refused() -> None:
    assert parse_urls(" a:1, http://b:2/ ,") == ["http://a:1", "http://b:2"]
    with pytest.raises(ConfigError, match="server_urls"):
        parse_urls(" , ")
    with pytest.raises(ConfigError, match="not http"):
        parse_urls("ftp://x:1")


def test_the_server_binary_is_found_where_the_build_script_puts_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """scripts/build_llama_tools.sh keeps builds under $XDG_CACHE_HOME when that is set (a
    fresh-machine run points it at an empty folder); the tests must look there too."""
    from importlib.metadata import version

    from agent.llm.serve import find_server_binary, tools_cache

    for var in ("LLAMA_TOOLS_CACHE", "LOREBOOK_LLAMA_SERVER"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert tools_cache() == tmp_path / "cache" / "lorebook" / "llama-tools"
    binary = tools_cache() / f"{version('llama-cpp-python')}-abc123" / "llama-server"
    with pytest.raises(ConfigError, match="make llama-server"):
        find_server_binary()
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    assert find_server_binary() == binary
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert tools_cache() == tmp_path / "home" / ".cache" / "lorebook" / "llama-tools"


def test_nobody_listening_is_a_clear_error() -> None:
    urls = [f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"]
    with pytest.raises(ServerUnavailableError) as info:
        ServerLLM(urls, connect_timeout_s=1)
    text = str(info.value)
    assert all(u in text for u in urls) and "lorebook serve-model" in text
    settings = load_settings({"backend": "llama_server", "server_urls": ""}, env={})
    with pytest.raises(ConfigError, match="LOREBOOK_SERVER_URLS"):
        open_llm(settings)


# -- real servers ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_servers(real_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("replicas")
    a = start_server(real_model_path, tmp / "a", n_ctx=1024)
    b = start_server(real_model_path, tmp / "b", n_ctx=1024)
    yield a, b
    a.stop()
    b.stop()


def _served(llm: ServerLLM) -> dict[str, int]:
    return {s["url"]: s["served"] for s in llm.status()}


@pytest.mark.integration
def test_requests_are_spread_over_replicas(two_servers: Any) -> None:
    a, b = two_servers
    llm = ServerLLM(
        [a.url, b.url], chat_format=TranscriptChatFormat(), deterministic=SERVER_DETERMINISTIC
    )
    answers = {}
    for n in range(6):
        prompt = f"{n} plus {n} equals"
        answers[prompt] = llm.complete(prompt, GREEDY).text
    served = _served(llm)
    assert served[a.url] >= 2 and served[b.url] >= 2, served
    # the same prompt gives the same answer whichever replica served it
    assert all(llm.complete(p, GREEDY).text == t for p, t in answers.items())
    llm.close()


@pytest.mark.integration
def test_parallel_callers_use_both_replicas(two_servers: Any) -> None:
    a, b = two_servers
    llm = ServerLLM([a.url, b.url], chat_format=TranscriptChatFormat())
    seen: set[str] = set()
    lock = threading.Lock()

    def run(n: int) -> None:
        llm.complete(f"Count to {n}:", GREEDY)
        with lock:
            seen.update(s["url"] for s in llm.status() if s["in_flight"])

    threads = [threading.Thread(target=run, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    served = _served(llm)
    assert sum(served.values()) == 4 and min(served.values()) >= 1, served
    llm.close()


@pytest.mark.integration
def test_dead_replica_is_skipped_then_used_again(
    real_model_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import agent.llm.server as server_mod

    monkeypatch.setattr(server_mod, "RETRY_FIRST_S", 0.5)
    a = start_server(real_model_path, tmp_path / "a", n_ctx=1024)
    b = start_server(real_model_path, tmp_path / "b", n_ctx=1024)
    try:
        llm = ServerLLM(
            [a.url, b.url], chat_format=TranscriptChatFormat(), deterministic=SERVER_DETERMINISTIC
        )
        prompts = [f"{n} times {n} is" for n in range(2, 6)]
        expected = {p: llm.complete(p, GREEDY).text for p in prompts}
        assert min(_served(llm).values()) >= 1  # both replicas took part
        b.kill()  # as a crash would: SIGKILL
        for p in prompts:  # every request still answered, by the survivor
            assert llm.complete(p, GREEDY).text == expected[p]
        status = {s["url"]: s for s in llm.status()}
        assert not status[b.url]["alive"] and status[b.url]["last_error"]
        # the same replica comes back on the same port: after the back-off it is used again
        b2 = start_server(real_model_path, tmp_path / "b2", n_ctx=1024, port=b.port)
        try:
            time.sleep(1.0)
            before = _served(llm)[b.url]
            for n in range(4):
                llm.complete(f"{n} and {n} make", GREEDY)
            assert _served(llm)[b.url] > before
            assert {s["url"]: s["alive"] for s in llm.status()}[b.url]
        finally:
            b2.stop()
        a.kill()
        b2.kill()
        with pytest.raises(ServerUnavailableError, match=a.url):
            llm.complete("Anyone there?", GREEDY)
        llm.close()
    finally:
        a.stop()
        b.stop()


def _slot_busy(url: str) -> list[tuple[bool, int]]:
    slots = httpx.get(url + "/slots", timeout=5).json()
    return [(s["is_processing"], s.get("next_token", [{}])[0].get("n_decoded", 0)) for s in slots]


@pytest.mark.integration
def test_cancel_closes_the_request_and_the_server_stops_generating(llama_server: Any) -> None:
    llm = ServerLLM(llama_server.url, chat_format=TranscriptChatFormat())
    token = CancelToken()
    stream = llm.stream(
        "Write a very long story about a dragon.",
        GREEDY,
        cancel=token,
        max_tokens=1500,
        ignore_eos=True,
    )
    count = 0
    for _ in stream:
        count += 1
        if count == 5:
            token.cancel()
    assert stream.completion is not None and stream.completion.finish_reason == "cancelled"
    # The server notices the closed connection and frees the slot long before 1500 tokens.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(busy for busy, _ in _slot_busy(llama_server.url)):
        time.sleep(0.05)
    slots = _slot_busy(llama_server.url)
    assert not any(busy for busy, _ in slots), slots
    assert max(n for _, n in slots) < 200, slots
    llm.close()


@pytest.mark.integration
def test_agent_answers_through_the_server(llama_server: Any, home: Path) -> None:
    from agent import Agent

    with Agent.open(
        home,
        backend="llama_server",
        server_urls=llama_server.url,
        embedder="hash",
        temperature=0,
        max_tokens=24,
        n_ctx=2048,
    ) as agent:
        agent.remember("My cat is called Miso.", user="ann")
        turn = agent.chat("What is my cat called?", user="ann")
        chat = agent.chat("Say hello to my cat Miso, please.", user="ann")  # the model writes
    assert "Miso" in turn.text and any("Miso" in m.text for m in turn.memories)
    assert chat.text.strip() and chat.prompt_tokens > 0 and chat.completion_tokens > 0


@pytest.mark.integration
def test_cli_serve_model_then_ask_through_it(home: Path, real_model_path: Path) -> None:
    from tests.agent.conftest import server_binary

    env = {
        **os.environ,
        "LOREBOOK_HOME": str(home),
        "LOREBOOK_LLAMA_SERVER": str(server_binary()),
        "PYTHONUNBUFFERED": "1",
    }
    lorebook = [sys.executable, "-m", "agent.cli"]
    subprocess.run(
        [*lorebook, "models", "add", str(real_model_path), "--name", "gemma", "--use"],
        env=env,
        check=True,
        capture_output=True,
    )
    serve = subprocess.Popen(
        [*lorebook, "serve-model", "--port", "0", "--n-ctx", "1024", "--threads", "1",
         "--parallel", "1"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # Ctrl-C as in a terminal, even when the tests run in a background job, which starts
        # with SIGINT ignored and passes that on (the child would then never see the signal).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        assert serve.stdout is not None
        line = serve.stdout.readline()
        assert line.startswith("llama-server ready at http://127.0.0.1:"), line
        url = line.split(" at ", 1)[1].strip()
        out = subprocess.run(
            [*lorebook, "--backend", "llama_server", "--server-urls", url, "--temperature", "0",
             "--max-tokens", "16", "--n-ctx", "1024",
             "ask", "What is the capital of France?"],
            env={**env, "LOREBOOK_EMBEDDER": "hash"}, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert "Paris" in out.stdout
    finally:
        serve.send_signal(signal.SIGINT)
        serve.communicate(timeout=30)  # also closes the pipes
    assert serve.returncode in (0, 130), serve.returncode
    with pytest.raises(httpx.TransportError):
        httpx.get(url + "/health", timeout=2)


@pytest.mark.integration
def test_a_replica_down_at_start_joins_when_it_comes_up(
    llama_server: Any, real_model_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import agent.llm.server as server_mod

    monkeypatch.setattr(server_mod, "RETRY_FIRST_S", 0.2)
    late = free_port()
    llm = ServerLLM(
        [llama_server.url, f"http://127.0.0.1:{late}"], chat_format=TranscriptChatFormat()
    )
    llm.complete("Warm up:", GREEDY)
    assert {s["url"]: s["alive"] for s in llm.status()}[f"http://127.0.0.1:{late}"] is False
    server = start_server(real_model_path, tmp_path, n_ctx=1024, port=late)
    try:
        time.sleep(0.5)
        for n in range(4):
            llm.complete(f"{n} and {n} make", GREEDY)
        assert _served(llm)[f"http://127.0.0.1:{late}"] >= 1
    finally:
        server.stop()
        llm.close()
