"""What remember, recall, forget and ingest load: the store and embedder; no model, no torch."""

from __future__ import annotations

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
