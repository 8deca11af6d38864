"""What remember, recall, forget and ingest load: the store and embedder; no model, no torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli import main


def test_memory_commands_and_ingest_never_open_the_model(
    home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LOREBOOK_EMBEDDER", "hash")
    monkeypatch.setenv("LOREBOOK_MODEL", str(home / "no-such-model.gguf"))
    assert main(["ask", "hello"]) == 2  # a command that needs the model cannot open it
    assert "no-such-model.gguf" in capsys.readouterr().err
    assert main(["remember", "My", "dog", "is", "called", "Rex"]) == 0
    assert "added #1: My dog is called Rex" in capsys.readouterr().out
    assert main(["recall", "dog"]) == 0
    assert "My dog is called Rex" in capsys.readouterr().out
    assert main(["forget", "--id", "1"]) == 0
    assert "forgot 1 memory: [1]" in capsys.readouterr().out
    (tmp_path / "notes.txt").write_text("The boiler was serviced in March.")
    assert main(["ingest", str(tmp_path / "notes.txt")]) == 0
    assert "added 1," in capsys.readouterr().out


@pytest.mark.integration
def test_memory_commands_on_the_real_embedder_import_no_torch(home: Path) -> None:
    code = (
        "import sys\n"
        "from agent.cli import main\n"
        "assert main(['remember', 'My sister lives in Lyon']) == 0\n"
        "assert main(['recall', 'where does my sister live']) == 0\n"
        "assert main(['forget', 'my sister']) == 0\n"
        "loaded = ('torch', 'sentence_transformers', 'transformers', 'langgraph', 'agent.api')\n"
        "print(sorted(m for m in loaded if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    lines = out.stdout.splitlines()
    assert lines[0].startswith("added #1")
    assert "My sister lives in Lyon" in lines[1]
    assert lines[-1] == "[]", out.stderr


@pytest.mark.integration
def test_the_library_opens_and_answers_without_a_word_on_stderr(
    home: Path, real_model_path: Path
) -> None:
    """A new user saw a "Loading weights" bar on every open: the default embedder, the model
    and a turn write nothing to the terminal that the program did not ask for."""
    code = (
        "import sys\n"
        "from agent import Agent\n"
        "with Agent.open(sys.argv[1], model=sys.argv[2], temperature=0) as bot:\n"
        "    bot.remember('My dog is called Rex')\n"
        "    print(bot.chat('What is my dog called?').text)\n"
        "    print(bot.chat('What is the capital of Italy?').text)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TQDM", "TRANSFORMERS"))}
    out = subprocess.run(
        [sys.executable, "-c", code, str(home), str(real_model_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert "Rex" in out.stdout.splitlines()[0]
    assert out.stderr == ""


def test_tool_commands_run_without_the_turn_graph_and_are_logged(home: Path) -> None:
    """A tool command loads the model and the stores, not LangGraph (a third of `lorebook
    code`'s start-up), and its call is in the turn log as the Agent records one."""
    code = (
        "import json, sys\n"
        "from agent.cli import main\n"
        "assert main(['translate', 'Good', 'morning', '--to', 'fr']) == 0\n"
        "print(sorted(m for m in ('langgraph', 'agent.api') if m in sys.modules))\n"
        "assert main(['logs', '-n', '1', '--json']) == 0\n"
    )
    env = {**os.environ, "LOREBOOK_BACKEND": "fake", "LOREBOOK_EMBEDDER": "hash"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env
    )
    assert out.returncode == 0, out.stderr
    *_, loaded, logged = out.stdout.splitlines()
    assert loaded == "[]", out.stdout
    record = json.loads(logged)
    assert record["route"] == "translate" and record["error"] is None
    assert set(record["timings"]) == {"translate"} and record["model"]


def test_deleting_a_thread_opens_no_model_and_leaves_no_checkpoint(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    from agent.cli import build_parser, open_agent, settings_from_args

    monkeypatch.setenv("LOREBOOK_BACKEND", "fake")
    monkeypatch.setenv("LOREBOOK_EMBEDDER", "hash")
    settings = settings_from_args(build_parser().parse_args(["threads"]))
    with open_agent(settings) as agent:
        agent.chat("My dog is called Rex", thread="pets", user="me")
        agent.chat("hello", thread="other", user="me")

    def checkpointed() -> set[str]:
        with sqlite3.connect(home / "threads.sqlite") as conn:
            return {r[0] for r in conn.execute("SELECT DISTINCT thread_id FROM checkpoints")}

    assert checkpointed() == {"me/pets", "me/other"}
    monkeypatch.setenv("LOREBOOK_BACKEND", "llama_cpp")
    monkeypatch.setenv("LOREBOOK_MODEL", str(home / "no-such-model.gguf"))
    assert main(["threads", "--delete", "pets"]) == 0
    assert capsys.readouterr().out.startswith("deleted thread 'pets'")
    assert checkpointed() == {"me/other"}
    assert main(["threads"]) == 0
    assert capsys.readouterr().out.startswith("other ")
