"""Oversized facts and non-positive k: one clear error from every front end, nothing stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.capabilities import MAX_FACT_CHARS
from agent.cli import main
from agent.errors import ConfigError
from memory import Memory
from tests.memory.conftest import make_settings


@pytest.fixture
def env(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LOREBOOK_BACKEND", "fake")
    monkeypatch.setenv("LOREBOOK_EMBEDDER", "hash")
    monkeypatch.setenv("LOREBOOK_ROUTE_WITH_MODEL", "false")
    return home


def test_the_cli_refuses_a_5_mb_fact_and_a_negative_k(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["remember", "a" * 5_000_000]) == 2
    err = capsys.readouterr().err
    assert err == f"error: remember: text: String should have at most {MAX_FACT_CHARS} characters\n"
    assert main(["recall", "-k", "-3", "dog"]) == 2
    assert capsys.readouterr().err == (
        "error: recall: k: Input should be greater than or equal to 1\n"
    )
    assert main(["remember", "My dog is called Rex"]) == 0
    with Memory.open(make_settings(env)) as mem:
        assert [r.text for r in mem.list("me")] == ["My dog is called Rex"]


def test_the_library_and_the_batch_runner_refuse_them_too(env: Path, tmp_path: Path) -> None:
    from agent.api import Agent

    with Agent.open(home=env, backend="fake", embedder="hash") as bot:
        with pytest.raises(ConfigError, match="at most 4000 characters"):
            bot.remember("b" * (MAX_FACT_CHARS + 1))
        for call in (lambda: bot.recall("dog", k=-3), lambda: bot.search("dog", k=0)):
            with pytest.raises(ConfigError, match="k: Input should be greater than or equal to 1"):
                call()
    tasks = tmp_path / "t.jsonl"
    lines = [
        {"id": 1, "task": "remember", "text": "c" * 5_000_000},
        {"id": 2, "task": "recall", "query": "dog", "k": -3},
    ]
    tasks.write_text("".join(json.dumps(t) + "\n" for t in lines))
    out = tmp_path / "out.jsonl"
    assert main(["batch", str(tasks), "-o", str(out), "--no-progress"]) == 1
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["status"] for r in recs] == ["error", "error"]
    assert "at most 4000 characters" in recs[0]["error"]["message"]
    assert "greater than or equal to 1" in recs[1]["error"]["message"]
