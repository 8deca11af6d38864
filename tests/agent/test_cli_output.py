"""What the command line says: every command reports what it did, tool reports are rendered
on a terminal and plain when piped, and tables keep their columns apart."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from agent.cli import main
from agent.cli.common import show as _show


@pytest.fixture
def fake(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LOREBOOK_BACKEND", "fake")
    monkeypatch.setenv("LOREBOOK_EMBEDDER", "hash")
    monkeypatch.setenv("LOREBOOK_ROUTE_WITH_MODEL", "false")
    return home


def test_threads_rename_and_delete_say_what_happened(
    fake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["threads"]) == 0
    assert "no threads for user 'me' yet" in capsys.readouterr().out
    from agent.cli import build_parser, open_agent, settings_from_args

    settings = settings_from_args(build_parser().parse_args(["threads"]))
    with open_agent(settings) as agent:
        agent.chat("hello there", thread="t1", user="me")
    assert main(["threads"]) == 0
    assert capsys.readouterr().out.startswith("t1 ")
    assert main(["threads", "--rename", "t1", "Holiday plans"]) == 0
    assert capsys.readouterr().out == "renamed thread 't1' to 'Holiday plans'\n"
    assert main(["threads", "--delete", "t1"]) == 0
    assert capsys.readouterr().out == "deleted thread 't1' ('Holiday plans') and its messages\n"
    assert main(["threads", "--delete", "t1"]) == 2
    assert "no thread 't1'" in capsys.readouterr().err


def test_recall_with_no_hits_says_so_on_stderr(
    fake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["recall", "my", "sister"]) == 0
    out, err = capsys.readouterr()
    assert out == "" and "no memories of 'me' match 'my sister'" in err


def test_ingest_warns_about_a_symlink_loop_and_adds_the_rest(
    fake: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "boiler.txt").write_text("The boiler was serviced in March.")
    (notes / "again").symlink_to(notes)
    assert main(["ingest", str(notes)]) == 0
    out, err = capsys.readouterr()
    assert "added 1," in out
    assert err.startswith(f"warning: {notes / 'again'}: skipped, a symbolic link loop")


class _Result:
    def to_markdown(self) -> str:
        return "## Summary\n\n- **first** point\n- second point\n"

    def to_dict(self) -> dict[str, Any]:
        return {"text": "x"}


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_tool_reports_are_rendered_on_a_terminal_and_plain_when_piped() -> None:
    piped = io.StringIO()
    _show(_Result(), False, piped)
    assert piped.getvalue() == "## Summary\n\n- **first** point\n- second point\n\n"
    tty = _Terminal()
    _show(_Result(), False, tty)
    shown = tty.getvalue()
    assert "Summary" in shown and "first point" in shown.replace("\x1b[1m", "").replace(
        "\x1b[0m", ""
    )
    assert "##" not in shown and "**" not in shown and "- second" not in shown


def test_compare_columns_stay_apart_with_large_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from agent.batch import compare, report

    def rec(i: int, ms: float, text: str) -> dict[str, Any]:
        return {
            "id": i,
            "task": "ask",
            "status": "ok",
            "result": {"text": text},
            "expected": {"expect": ["alpha"]},
            "timings": {"total_ms": ms},
        }

    a = [rec(i, 900 + 10 * i, "beta") for i in range(6)]
    b = [rec(i, 10_000 + 3_000 * i, "alpha") for i in range(6)]
    text = report(compare(a, b), "base", "new")
    head, *rows = text.splitlines()
    assert head.split() == [
        "metric", "n", "base", "new", "B-A", "95%", "CI", "B", "better/worse", "sign", "p"
    ]  # fmt: skip
    latency = next(r for r in rows if r.startswith("latency_ms"))
    cells = latency.split("  ")
    cells = [c.strip() for c in cells if c.strip()]
    assert len(cells) == 8, latency  # every cell apart from its neighbours
    assert cells[4].startswith("+") and cells[5].startswith("[")


def test_a_thread_title_is_cut_at_a_word_with_an_ellipsis(
    fake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from agent.turnlog import thread_title

    assert thread_title("  Hello\nthere  ") == "Hello there"
    long = "Please tell me: which of my many notes on the long hiking trip mention the stove"
    title = thread_title(long)
    assert title == "Please tell me: which of my many notes on the long hiking…"  # not "… tr"
    assert len(title) <= 60 and long.startswith(title[:-1])
    assert thread_title("x" * 80) == "x" * 59 + "…"  # no space to cut at: cut and marked
    from agent.cli import build_parser, open_agent, settings_from_args

    settings = settings_from_args(build_parser().parse_args(["threads"]))
    with open_agent(settings) as agent:
        agent.chat(long, thread="t1", user="me")
    assert main(["threads"]) == 0
    assert title in capsys.readouterr().out
