"""The README's command-line examples: every ``lorebook`` line parses as written, and the
Models steps run in order (a new user ran them and ended on an error)."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest

from agent.cli import build_parser, main

README = Path(__file__).resolve().parents[2] / "README.md"


def _sh_blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def _commands(block: str) -> list[list[str]]:
    """The ``lorebook`` invocations of a shell block, as argument lists (after ``lorebook``)."""
    out = []
    for line in block.splitlines():
        for part in line.split("|"):
            if "$'" in part:  # bash's $'...' quoting: rebuild it with Python's escapes
                part = re.sub(
                    r"\$'((?:[^'\\]|\\.)*)'",
                    lambda m: shlex.quote(m.group(1).encode().decode("unicode_escape")),
                    part,
                )
            words = shlex.split(part, comments=True)
            while words and "=" in words[0] and not words[0].startswith("-"):
                words.pop(0)  # VAR=value before the command
            if words and words[0] == "lorebook":
                out.append([w for w in words[1:] if w not in ("[--json]",)])
    return out


def test_every_readme_command_line_parses() -> None:
    commands = [c for block in _sh_blocks() for c in _commands(block)]
    assert len(commands) > 30
    parser = build_parser()
    for argv in commands:
        try:
            parser.parse_args(argv)
        except SystemExit as exc:  # argparse's way of saying no
            pytest.fail(f"README: `lorebook {shlex.join(argv)}` does not parse ({exc})")


def test_the_readme_models_steps_run_in_order(
    home: Path, tiny_gguf: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    block = next(b for b in _sh_blocks() if "lorebook models available" in b)
    steps = _commands(block)
    assert [s[1] for s in steps] == [
        "available", "install", "add", "list", "rollback", "use", "remove"
    ]  # fmt: skip
    # The default model is registered before the steps (on first use), as for a new user.
    assert main(["models", "add", str(tiny_gguf), "--name", "gemma3-270m"]) == 0
    for argv in steps:
        if argv[1] == "available":
            continue  # lists the catalog; nothing to change
        if argv[1] == "install":  # pip is not for tests: register a file under that name
            name = argv[2]
            copy = shutil.copy(tiny_gguf, tmp_path / f"{name}.gguf")
            argv = ["models", "add", str(copy), "--name", name, *argv[3:]]
        elif argv[1] == "add":
            copy = shutil.copy(tiny_gguf, tmp_path / Path(argv[2]).name)
            argv = [*argv[:2], str(copy), *argv[3:]]
        capsys.readouterr()
        assert main(argv) == 0, f"`lorebook {shlex.join(argv)}`: {capsys.readouterr().err}"
    out = capsys.readouterr().out
    assert "removed qwen" in out
    assert main(["models", "list"]) == 0
    listed = capsys.readouterr().out
    assert "* gemma3-270m" in listed and " qwen " not in listed
