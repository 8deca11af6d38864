"""The batch runner: every task type, bad lines, fail-fast, resume after kill -9, pipes."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.batch import Progress, TaskError, read_records, run_batch, validate
from agent.batch.runner import completed
from agent.cli import main


@pytest.fixture
def env(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data directory with the fake model (echoes) and the hash embedder."""
    monkeypatch.setenv("LOREBOOK_BACKEND", "fake")
    monkeypatch.setenv("LOREBOOK_EMBEDDER", "hash")
    monkeypatch.setenv("LOREBOOK_ROUTE_WITH_MODEL", "false")
    return home


def write_tasks(path: Path, tasks: list[object]) -> Path:
    path.write_text(
        "".join((t if isinstance(t, str) else json.dumps(t)) + "\n" for t in tasks),
        encoding="utf-8",
    )
    return path


def records(path: Path) -> list[dict]:
    return list(read_records(path))


def test_memory_tasks_share_the_data_directory_in_file_order(env: Path, tmp_path: Path) -> None:
    doc = tmp_path / "notes.txt"
    doc.write_text("The boiler was serviced on 3 May by Ana.", encoding="utf-8")
    tasks = write_tasks(
        tmp_path / "t.jsonl",
        [
            {"id": "r1", "task": "remember", "text": "My sister is called Ana"},
            {"id": "q1", "task": "recall", "query": "sister", "k": 3, "expect": ["Ana"]},
            {"id": "i1", "task": "ingest", "paths": ["notes.txt"]},  # next to the tasks file
            {"id": "c1", "task": "chat", "message": "what makes a good story", "thread": "t"},
            {"id": "a1", "task": "ask", "message": "hello again", "expect": "hello again"},
            {"id": "f1", "task": "forget", "query": "sister"},
            {"id": "q2", "task": "recall", "query": "sister"},
        ],
    )
    out = tmp_path / "out.jsonl"
    assert main(["batch", str(tasks), "-o", str(out), "--no-progress"]) == 0
    recs = {r["id"]: r for r in records(out)}
    assert [r["status"] for r in recs.values()] == ["ok"] * 7
    assert recs["r1"]["result"]["action"] == "added"
    assert "Ana" in recs["q1"]["result"][0]["record"]["text"]
    assert recs["i1"]["result"]["added"] == [str(doc)]
    assert recs["c1"]["result"]["text"] == "(fake model) you said: what makes a good story"
    assert recs["c1"]["result"]["thread"] == "t"
    assert recs["f1"]["result"]["forgotten"] == [recs["r1"]["result"]["record"]["id"]]
    assert recs["q2"]["result"] == []  # forgotten in task f1, gone for task q2
    first = recs["c1"]
    assert first["model"] == "fake" and first["line"] == 4
    assert first["tokens"]["completion"] > 0 and first["timings"]["total_ms"] > 0
    assert recs["q1"]["expected"] == {"expect": ["Ana"]}


def test_bad_lines_become_error_records_and_the_run_goes_on(env: Path, tmp_path: Path) -> None:
    tasks = write_tasks(
        tmp_path / "t.jsonl",
        [
            {"id": 1, "task": "remember", "text": "I like tea"},
            '{"id": 2, "task": "recall", "query": ',  # malformed JSON
            {"id": 3, "task": "dance"},
            {"id": 4, "task": "recall", "qeury": "tea"},
            {"task": "recall", "query": "tea"},
            {"id": 6, "task": "recall", "query": "tea", "k": "five"},
            "[1, 2]",
            {"id": 1, "task": "recall", "query": "tea"},  # duplicate id
            {"id": 9, "task": "recall", "query": "tea"},
        ],
    )
    out = tmp_path / "out.jsonl"
    assert main(["batch", str(tasks), "-o", str(out), "--no-progress"]) == 1
    recs = records(out)
    assert [r["status"] for r in recs] == ["ok"] + ["error"] * 7 + ["ok"]
    errors = {r["line"]: r["error"]["message"] for r in recs if r["status"] == "error"}
    assert "line 2 is not valid JSON" in errors[2]
    assert "unknown task 'dance'" in errors[3] and "translate" in errors[3]
    assert "no parameter 'qeury'" in errors[4] and "query" in errors[4]
    assert "has no 'id'" in errors[5]
    assert "'k' must be an integer" in errors[6]
    assert "not an object" in errors[7]
    assert "also on line 1" in errors[8]
    assert recs[1]["id"] == "line-2"


def test_fail_fast_stops_at_the_first_error(env: Path, tmp_path: Path) -> None:
    tasks = write_tasks(
        tmp_path / "t.jsonl",
        [
            {"id": 1, "task": "recall", "query": "x"},
            {"id": 2, "task": "nope"},
            {"id": 3, "task": "recall", "query": "y"},
        ],
    )
    out = tmp_path / "out.jsonl"
    assert main(["batch", str(tasks), "-o", str(out), "--fail-fast", "--no-progress"]) == 1
    assert [r["id"] for r in records(out)] == [1, 2]


def test_existing_output_needs_resume_or_overwrite(env: Path, tmp_path: Path, capsys) -> None:
    tasks = write_tasks(tmp_path / "t.jsonl", [{"id": 1, "task": "recall", "query": "x"}])
    out = tmp_path / "out.jsonl"
    assert main(["batch", str(tasks), "-o", str(out), "--no-progress"]) == 0
    assert main(["batch", str(tasks), "-o", str(out), "--no-progress"]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["batch", str(tasks), "-o", str(out), "--overwrite", "--no-progress"]) == 0
    assert len(records(out)) == 1


def test_resume_cuts_a_torn_line_and_redoes_only_the_missing(env: Path, tmp_path: Path) -> None:
    tasks = write_tasks(
        tmp_path / "t.jsonl", [{"id": i, "task": "recall", "query": f"q{i}"} for i in range(6)]
    )
    out = tmp_path / "out.jsonl"
    good = [
        {"id": 0, "task": "recall", "status": "ok"},
        {"id": 1, "task": "recall", "status": "ok"},
    ]
    out.write_text("".join(json.dumps(r) + "\n" for r in good) + '{"id": 2, "task": "rec')
    done, repaired = completed(out)
    assert repaired and set(done) == {"0", "1"}
    assert out.read_text().endswith("}\n")  # the torn tail is gone
    opened = []

    def opener():
        from agent.api import Agent

        opened.append(1)
        return Agent.open()

    summary = run_batch(opener, tasks, out, resume=True)
    assert summary.skipped == 2 and summary.ran == 4 and summary.ok
    assert sorted(r["id"] for r in records(out)) == list(range(6))
    again = run_batch(opener, tasks, out, resume=True)
    assert again.ran == 0 and again.skipped == 6
    assert len(opened) == 1  # a finished file does not even load the model


def test_kill_9_then_resume_leaves_no_duplicate_and_no_gap(env: Path, tmp_path: Path) -> None:
    n = 2500  # ~12 s of work at ~200 tasks/s, so the kills land mid-run
    tasks = write_tasks(
        tmp_path / "t.jsonl",
        [
            {"id": f"t{i}", "task": "remember", "text": f"Item {i} was filed under code {i * 7}"}
            if i % 10 == 0
            else {"id": f"t{i}", "task": "recall", "query": f"item {i}"}
            for i in range(n)
        ],
    )
    out = tmp_path / "out.jsonl"
    cmd = [sys.executable, "-m", "agent.cli", "batch", str(tasks), "-o", str(out), "--resume"]
    rng = random.Random(7)
    kills = 0
    log = tmp_path / "stderr.log"
    for _ in range(5):
        with log.open("w") as err:
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
            try:
                proc.wait(timeout=rng.uniform(1.5, 3.5))
                break  # finished before the kill
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                kills += 1
    else:
        with log.open("w") as err:
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
            proc.wait(timeout=300)
    assert proc.returncode == 0, log.read_text()
    assert kills >= 1, "the run finished before any kill: make it longer"
    ids = [r["id"] for r in records(out)]
    assert len(ids) == len(set(ids)) == n  # no duplicate, no gap
    assert out.read_bytes().endswith(b"\n")


def test_stdin_to_stdout_pipeline(env: Path, tmp_path: Path) -> None:
    lines = "".join(
        json.dumps({"id": i, "task": "recall", "query": "anything"}) + "\n" for i in range(3)
    )
    proc = subprocess.run(
        [sys.executable, "-m", "agent.cli", "batch", "-", "-o", "-"],
        input=lines.encode(),
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    out = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert [r["id"] for r in out] == [0, 1, 2] and {r["status"] for r in out} == {"ok"}
    assert "batch: 3 tasks" in proc.stderr.decode()  # the summary goes to stderr


def test_resume_needs_an_output_file(env: Path, tmp_path: Path, capsys) -> None:
    tasks = write_tasks(tmp_path / "t.jsonl", [{"id": 1, "task": "recall", "query": "x"}])
    assert main(["batch", str(tasks), "-o", "-", "--resume"]) == 2
    assert "needs an output file" in capsys.readouterr().err


def test_validate_names_the_valid_parameters() -> None:
    with pytest.raises(TaskError, match="exactly one of 'source', 'text', 'paths', 'path'"):
        validate({"id": 1, "task": "summarize", "text": "a", "paths": ["b"]})
    with pytest.raises(TaskError, match="needs 'target'"):
        validate({"id": 1, "task": "translate", "text": "hello"})
    t, params = validate({"id": 1, "task": "code", "prompt": "p", "tests": "assert 1"})
    assert params == {"prompt": "p", "tests": "assert 1"}
    _, params = validate({"id": 1, "task": "ask", "message": "m", "expect": ["x"], "tests": "t"})
    assert params == {"message": "m"}


def test_progress_lines_when_not_a_terminal(tmp_path: Path) -> None:
    with (tmp_path / "log").open("w+") as log:
        p = Progress(4, stream=log, every_s=0)
        p.advance()
        time.sleep(0.01)
        p.advance(error=True)
        p.close()
        log.seek(0)
        lines = log.read().splitlines()
    assert lines[0].startswith("batch: 1/4 done")
    assert "2/4 done, 1 error" in lines[1] and "tasks/s" in lines[1] and "ETA" in lines[1]


def test_tool_tasks_return_their_typed_results(env: Path, tmp_path: Path) -> None:
    (tmp_path / "c.txt").write_text(
        "This Agreement is governed by the laws of the State of New York. The Client shall pay "
        "$100 per month.",
        encoding="utf-8",
    )
    tasks = write_tasks(
        tmp_path / "t.jsonl",
        [
            {"id": "tr", "task": "translate", "text": "Hello %s.", "target": "fr", "source": "en",
             "reference": "Bonjour %s."},
            {"id": "su", "task": "summarize", "text": "One. Two two. Three three three.",
             "style": "extractive", "max_words": 3},
            {"id": "co", "task": "code", "prompt": "def f():\n    return 1\n", "execute": False},
            {"id": "re", "task": "review", "path": "c.txt", "expect": ["governing_law"]},
            {"id": "bad", "task": "translate", "text": "Hello", "target": "klingon"},
        ],
    )  # fmt: skip
    out = tmp_path / "out.jsonl"
    assert main(["batch", str(tasks), "-o", str(out), "--no-progress"]) == 1
    recs = {r["id"]: r for r in records(out)}
    assert recs["tr"]["status"] == "ok" and recs["tr"]["result"]["target_lang"] == "fr"
    assert recs["tr"]["expected"] == {"reference": "Bonjour %s."}
    assert recs["su"]["result"]["style"] == "extractive" and recs["su"]["result"]["sentences"]
    assert recs["co"]["result"]["passed"] is None  # execution switched off: nothing ran
    assert "governing_law" in {f["category"] for f in recs["re"]["result"]["findings"]}
    assert recs["bad"]["status"] == "error"
    assert recs["bad"]["error"]["type"] == "UnknownLanguageError"


def test_resume_still_reports_earlier_failures(env: Path, tmp_path: Path) -> None:
    tasks = write_tasks(
        tmp_path / "t.jsonl", ["{not json", {"id": 2, "task": "recall", "query": "x"}]
    )
    out = tmp_path / "out.jsonl"
    assert main(["batch", str(tasks), "-o", str(out), "--no-progress"]) == 1
    before = out.read_text()
    assert main(["batch", str(tasks), "-o", str(out), "--resume", "--no-progress"]) == 1
    assert out.read_text() == before  # nothing redone, and the malformed line still counts
