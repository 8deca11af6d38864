"""What remember, recall, forget and ingest load: the store and embedder; no model, no torch."""

from __future__ import annotations

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
