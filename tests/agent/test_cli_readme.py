"""The README's command-line examples: every ``lorebook`` line parses as written; the Models
steps run in order (a new user ran them and ended on an error); the "Using it" steps and the
tool examples run as written on the real default model (the ``code`` example once failed its
own doctest on it); the batch steps run as written on ``examples/tasks.jsonl`` (``make demo``'s
file)."""

from __future__ import annotations

import io
import json
import re
import shlex
import shutil
import sys
from pathlib import Path

import pytest

from agent.cli import build_parser, main
from tests.memory.conftest import write_pdf

README = Path(__file__).resolve().parents[2] / "README.md"
EXAMPLES = README.parent / "examples"


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


def _block_with(needle: str) -> list[list[str]]:
    return _commands(next(b for b in _sh_blocks() if needle in b))


@pytest.fixture
def user_home(
    home: Path, real_model_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A new user's ``~`` (the README's ``~/notes``), the current folder, the real default model."""
    user = tmp_path / "user"
    user.mkdir()
    monkeypatch.setenv("HOME", str(user))
    monkeypatch.chdir(user)
    monkeypatch.setenv("LOREBOOK_MODEL", str(real_model_path))
    monkeypatch.setenv("LOREBOOK_TEMPERATURE", "0")
    return user


def _run(argv: list[str], user: Path, capsys: pytest.CaptureFixture[str]) -> str:
    argv = [str(user / w[2:]) if w.startswith("~/") else w for w in argv]
    capsys.readouterr()
    status = main(argv)
    out, err = capsys.readouterr()
    assert status == 0, f"`lorebook {shlex.join(argv)}` exited {status}: {err}"
    return out


@pytest.mark.integration
def test_the_readme_usage_steps_run_in_order_on_the_default_model(
    user_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    steps = _block_with("lorebook remember")
    assert [s[0] for s in steps] == [
        "chat", "ingest", "remember", "ask", "recall", "forget", "threads", "logs", "graph",
        "doctor", "models",
    ]  # fmt: skip
    (user_home / "notes").mkdir()
    (user_home / "notes" / "boiler.md").write_text("The boiler was serviced in March.\n")
    write_pdf(user_home / "lease.pdf", ["The rent is 950 euros a month, due on the first day."])
    out = {}
    for argv in steps[1:]:  # `chat` is the app: the TUI tests drive it
        out[argv[0]] = _run(argv, user_home, capsys)
    assert out["ingest"].startswith("added 2,")
    assert out["remember"] == "added #1: My sister is called Ana\n"
    assert "Ana" in out["ask"]
    assert "My sister is called Ana" in out["recall"]
    assert out["forget"] == "forgot 1 memory: [1]\n"
    assert "ask_memory" in out["logs"]
    assert "finish --> __end__" in out["graph"]
    assert "FAIL" not in out["doctor"] and "generation" in out["doctor"]
    assert "gemma" in out["models"]


@pytest.mark.integration
def test_the_readme_tool_examples_run_on_the_default_model(
    user_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    steps = _block_with("lorebook translate")
    assert [s[0] for s in steps] == ["translate", "summarize", "code", "review"]
    write_pdf(
        user_home / "report.pdf",
        [
            "Sales rose by 12 percent in the third quarter.",
            "The new warehouse in Lyon opened in August and cut delivery times by two days.",
            "Costs for energy went up, so the margin stayed flat.",
            "The board expects growth to continue into the next year.",
        ],
    )
    lease = [
        "This lease is made between Anna Weber (the Landlord) and Tom Field (the Tenant).",
        "The Tenant shall pay a monthly rent of 950 euros on the first day of each month.",
        "This lease is governed by the laws of France.",
    ]
    write_pdf(user_home / "lease.pdf", lease)
    out = {argv[0]: _run(argv, user_home, capsys) for argv in steps}
    french = out["translate"]
    # "Hello" is translated, not dropped: the bank's nearest examples make it "Salut" at times
    assert "%s" in french and "facture" in french, french
    assert "Bonjour" in french or "Salut" in french, french
    assert sum(line.startswith("- ") for line in out["summarize"].splitlines()) >= 2
    assert "def largest" in out["code"] and "tests passed" in out["code"], out["code"]
    review = json.loads(out["review"])
    assert {"parties", "governing_law"} <= {f["category"] for f in review["findings"]}, review
    text = " ".join(lease)
    for finding in review["findings"]:  # every quote verbatim from the document
        assert " ".join(finding["quote"].split()) in text, finding


def test_the_readme_batch_steps_run_as_written(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """batch, --resume, a pipe through stdin and stdout, eval and compare, in the README's
    words, on ``make demo``'s tasks (the fake model: what is checked is the commands)."""
    monkeypatch.setenv("LOREBOOK_BACKEND", "fake")
    monkeypatch.setenv("LOREBOOK_EMBEDDER", "hash")
    monkeypatch.setenv("LOREBOOK_ROUTE_WITH_MODEL", "false")
    work = tmp_path / "work"
    shutil.copytree(EXAMPLES, work)
    monkeypatch.chdir(work)
    steps = _block_with("lorebook compare")
    assert [s[0] for s in steps] == ["batch", "batch", "batch", "eval", "compare"]
    tasks = (work / "tasks.jsonl").read_text()
    n = len(tasks.splitlines())
    outs = []
    for argv in steps:
        if argv[0] == "compare":  # two runs to compare: the file and the piped run
            (work / argv[1]).write_text((work / "results.jsonl").read_text())
            (work / argv[2]).write_text(outs[2])
        if argv[1] == "-":  # `cat tasks.jsonl | lorebook batch - -o -`
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(tasks.encode())))
        capsys.readouterr()
        status = main(argv)
        out, err = capsys.readouterr()
        assert status == 0, f"`lorebook {shlex.join(argv)}` exited {status}: {err}"
        outs.append(out)
    assert len((work / "results.jsonl").read_text().splitlines()) == n  # --resume added none
    piped = [json.loads(line) for line in outs[2].splitlines()]  # what `jq .status` reads
    assert [r["status"] for r in piped] == ["ok"] * n
    assert outs[3].splitlines()[0].split()[:3] == ["task", "n", "errors"]
    assert "all" in outs[3] and "translate" in outs[3]
    assert outs[4].splitlines()[0].split()[:4] == ["metric", "n", "base", "new"]
