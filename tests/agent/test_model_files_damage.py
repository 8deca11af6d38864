"""Bad model files and damaged registries: one clear line, no traceback, no hang, nothing lost."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli import main
from agent.errors import ModelFileError
from agent.modelfile import check_model_file
from agent.registry import ModelRegistry
from tests.conftest import write_tiny_gguf


def _set_tensor_type(path: Path, name: bytes, ttype: int) -> None:
    """Overwrite the type of tensor ``name`` (2 dimensions) in the file's tensor infos."""
    data = bytearray(path.read_bytes())
    at = data.index(len(name).to_bytes(8, "little") + name + (2).to_bytes(4, "little"))
    at += 8 + len(name) + 4 + 2 * 8
    data[at : at + 4] = ttype.to_bytes(4, "little")
    path.write_bytes(bytes(data))


@pytest.fixture
def cli_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LOREBOOK_EMBEDDER", "hash")
    return home


def test_an_unknown_tensor_type_is_named(
    tiny_gguf: Path, cli_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _set_tensor_type(tiny_gguf, b"a", 99)
    with pytest.raises(ModelFileError) as info:
        check_model_file(tiny_gguf)
    assert info.value.reason == "unknown-type"
    assert main(["models", "add", str(tiny_gguf)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: model file {tiny_gguf}: tensor 'a' has type 99, which this")
    assert "pip install -U gguf" in err and err.count("\n") == 1


def test_a_bad_alignment_or_gguf_version_is_named(tiny_gguf: Path) -> None:
    data = bytearray(tiny_gguf.read_bytes())
    data[4:8] = (7).to_bytes(4, "little")
    tiny_gguf.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="GGUF version 7; lorebook reads versions 2, 3"):
        check_model_file(tiny_gguf)


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_a_fifo_or_folder_named_gguf_is_refused_without_opening_it(
    tmp_path: Path, home: Path, kind: str
) -> None:
    path = tmp_path / "x.gguf"
    os.mkfifo(path) if kind == "fifo" else path.mkdir()
    for argv in (["models", "add", str(path)], ["--model", str(path), "ask", "hi"]):
        done = subprocess.run(
            [sys.executable, "-m", "agent.cli", *argv],
            capture_output=True,
            text=True,
            timeout=60,  # it used to hang for ever on the FIFO
            env={**os.environ, "LOREBOOK_EMBEDDER": "hash"},
        )
        assert done.returncode == 2, done.stderr
        what = "a named pipe (FIFO)" if kind == "fifo" else "a folder"
        assert done.stderr.startswith(f"error: model file {path}: this is {what}, not a model")
        assert "Traceback" not in done.stderr


def _entry(path: Path, name: str) -> dict[str, object]:
    reg = ModelRegistry(path.parent / "scratch")
    entry = reg.add(path, name)
    return {k: v for k, v in entry.__dict__.items()}


BAD_SHAPES = {
    "json-list": lambda good, bad: [good, bad],
    "models-list": lambda good, bad: {"models": [good, bad], "current": "tiny"},
    "missing-fields": lambda good, bad: {
        "models": {"tiny": good, "bad": bad},
        "current": "tiny",
        "previous": "bad",
    },
}


@pytest.mark.parametrize("shape", sorted(BAD_SHAPES))
def test_a_registry_of_the_wrong_shape_is_repaired_keeping_every_valid_entry(
    tmp_path: Path,
    cli_home: Path,
    shape: str,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    good = _entry(write_tiny_gguf(tmp_path / "tiny.gguf"), "tiny")
    bad = {"name": "bad", "path": "/models/bad.gguf"}  # no sha256, no size
    cli_home.mkdir(parents=True)
    text = json.dumps(BAD_SHAPES[shape](good, bad))
    (cli_home / "models.json").write_text(text)
    with caplog.at_level(logging.WARNING, logger="agent.registry"):
        assert main(["models", "use", "tiny"]) == 0  # a JSON list named no current model
    assert capsys.readouterr().out == "now using tiny\n"
    (warning,) = [r.getMessage() for r in caplog.records]
    assert f"model registry {cli_home / 'models.json'} was damaged (" in warning
    assert "was rewritten with its 1 valid entry" in warning
    (aside,) = cli_home.glob("models.json.damaged-*")
    assert aside.read_text() == text  # the bad file is kept as it was
    data = json.loads((cli_home / "models.json").read_text())
    assert list(data["models"]) == ["tiny"] and data["current"] == "tiny"
    assert data["models"]["tiny"]["sha256"] == good["sha256"]
    assert ModelRegistry(cli_home).get("tiny").path == good["path"]
    caplog.clear()
    assert main(["models", "list"]) == 0 and not caplog.records  # repaired once
    out = capsys.readouterr().out
    assert "* tiny" in out and "bad.gguf" not in out


def test_the_repair_warning_reaches_the_terminal_without_a_traceback(
    tmp_path: Path, cli_home: Path
) -> None:
    good = _entry(write_tiny_gguf(tmp_path / "tiny.gguf"), "tiny")
    cli_home.mkdir(parents=True)
    (cli_home / "models.json").write_text(json.dumps({"models": {"tiny": good, "x": []}}))
    done = subprocess.run(
        [sys.executable, "-m", "agent.cli", "models", "list"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "LOREBOOK_EMBEDDER": "hash"},
    )
    assert done.returncode == 0, done.stderr
    assert "the entry 'x' is a JSON list, not an object" in done.stderr
    assert "Traceback" not in done.stderr
