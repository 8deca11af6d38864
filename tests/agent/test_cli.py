"""The command line, driven in process (fake backend) and as a real subprocess."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli import main


def test_ask_streams_the_reply(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "--backend", "fake", "what", "is", "up?"]) == 0
    assert capsys.readouterr().out == "(fake model) you said: what is up?\n"


def test_models_add_use_rollback_remove(
    home: Path, tiny_gguf: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.gguf"
    shutil.copy(tiny_gguf, other)
    assert main(["models", "add", str(tiny_gguf), "--name", "tiny"]) == 0
    assert main(["models", "add", str(other), "--name", "other", "--use"]) == 0
    assert main(["models", "rollback"]) == 0
    assert "rolled back to tiny" in capsys.readouterr().out
    assert main(["models", "use", "other"]) == 0
    assert main(["models", "remove", "tiny"]) == 0
    out = capsys.readouterr().out
    assert "now using other" in out and "removed tiny" in out


def test_errors_are_one_line_with_status_2(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "use", "ghost"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no model named 'ghost'") and "Traceback" not in err
    html = tmp_path / "page.gguf"
    html.write_text("<!doctype html><p>login</p>")
    assert main(["ask", "--model", str(html), "hi"]) == 2
    assert "HTML page" in capsys.readouterr().err


def test_bad_setting_from_environment(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LOREBOOK_N_CTX", "huge")
    assert main(["ask", "--backend", "fake", "x"]) == 2
    assert "n_ctx" in capsys.readouterr().err


def test_console_script_help_in_a_subprocess() -> None:
    exe = Path(sys.executable).with_name("lorebook")
    out = subprocess.run(
        [str(exe), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "LOREBOOK_HOME": "/nonexistent"},
    )
    assert out.returncode == 0
    for command in ("ask", "chat", "doctor", "models"):
        assert command in out.stdout
