"""The Ray batch runner against a local Ray cluster (one per module, 2 CPUs).

Same records as the local runner, per-user order, resume, bad lines, a worker killed with
kill -9 mid-run, and the real CLI with ``--ray local``. Fake model and hash embedder throughout.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.api import Agent
from agent.batch import Progress, read_records, run_batch
from agent.batch.ray_runner import RAY_MISSING, WorkerPool, run_batch_ray
from agent.cli import main
from agent.errors import ConfigError

FAKE = {"backend": "fake", "embedder": "hash", "route_with_model": False}


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A private 2-CPU Ray cluster on this machine for the module, this process its driver;
    yields its address (another process connects with ``--ray ADDRESS``).

    Started with ``ray.init(address="local")`` rather than ``ray start``: ``ray.shutdown()``
    then stops exactly this cluster (``ray stop`` would stop every cluster on the machine).
    """
    ray = pytest.importorskip("ray")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="WARNING")
    try:
        yield str(ray.get_runtime_context().gcs_address)
    finally:
        ray.shutdown()


def opener(home: Path) -> Any:
    """What each worker runs to open its agent (picklable)."""
    return functools.partial(Agent.open, home, **FAKE)


def write_tasks(path: Path, tasks: list[Any]) -> Path:
    path.write_text(
        "".join((t if isinstance(t, str) else json.dumps(t)) + "\n" for t in tasks),
        encoding="utf-8",
    )
    return path


# Timings, and what the database generates (row ids, timestamps), differ between two runs.
_VOLATILE = {"timings", "tokens_per_s", "chunks_per_second", "seconds", "created", "refreshed",
             "valid_from", "valid_to", "last_used", "recency", "score"}  # fmt: skip


def _volatile(key: str) -> bool:
    return key in _VOLATILE or key.endswith("_ms")


def comparable(value: Any, top: bool = True) -> Any:
    if isinstance(value, dict):
        return {
            k: comparable(v, False)
            for k, v in value.items()
            if not _volatile(k) and (top or k != "id")
        }
    if isinstance(value, list):
        return [comparable(v, False) for v in value]
    return value


def by_id(path: Path) -> dict[Any, dict[str, Any]]:
    recs = list(read_records(path))
    ids = [r["id"] for r in recs]
    assert len(ids) == len(set(ids)), "an id was written twice"
    return {r["id"]: r for r in recs}


def test_every_task_type_gives_the_local_runners_records(cluster: str, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("The boiler was serviced on 3 May by Ana.")
    (tmp_path / "c.txt").write_text(
        "This Agreement is governed by the laws of the State of New York. The Client shall pay "
        "$100 per month."
    )
    tasks = write_tasks(
        tmp_path / "t.jsonl",
        [
            {"id": "r1", "task": "remember", "text": "My sister is called Ana"},
            {"id": "q1", "task": "recall", "query": "sister", "k": 3, "expect": ["Ana"]},
            {"id": "i1", "task": "ingest", "paths": ["notes.txt"]},
            {"id": "c1", "task": "chat", "message": "when was the boiler serviced?", "thread": "t"},
            {"id": "a1", "task": "ask", "message": "hello again", "user": "bo"},
            {"id": "tr", "task": "translate", "text": "Hello %s.", "target": "fr", "source": "en"},
            {"id": "su", "task": "summarize", "text": "One. Two two. Three three three.",
             "style": "extractive", "max_words": 3},
            {"id": "co", "task": "code", "prompt": "def f():\n    return 1\n", "execute": False},
            {"id": "re", "task": "review", "path": "c.txt", "expect": ["governing_law"]},
            {"id": "bad", "task": "translate", "text": "Hello", "target": "klingon"},
            {"id": "f1", "task": "forget", "query": "sister"},
            {"id": "q2", "task": "recall", "query": "sister"},
        ],
    )  # fmt: skip
    local = run_batch(opener(tmp_path / "home-local"), tasks, tmp_path / "local.jsonl")
    summary = run_batch_ray(opener(tmp_path / "home-ray"), tasks, tmp_path / "ray.jsonl",
                            address=cluster, workers=2)  # fmt: skip
    assert (summary.ran, summary.errors, summary.workers) == (12, 1, 2)
    assert not summary.ok and local.errors == 1
    ray_recs, local_recs = by_id(tmp_path / "ray.jsonl"), by_id(tmp_path / "local.jsonl")
    assert set(ray_recs) == set(local_recs)
    for task_id, rec in local_recs.items():
        assert comparable(ray_recs[task_id]) == comparable(rec), task_id
    assert ray_recs["q2"]["result"] == [] and "Ana" in json.dumps(ray_recs["q1"]["result"])
    assert ray_recs["c1"]["result"]["citations"], "the chat ran after the ingest (a barrier)"
    assert ray_recs["c1"]["timings"]["total_ms"] > 0 and ray_recs["bad"]["status"] == "error"


def test_each_users_tasks_run_in_file_order(cluster: str, tmp_path: Path) -> None:
    users = [f"user{u}" for u in range(10)]
    places = ["Lyon", "Oslo", "Quito", "Hanoi", "Perth", "Tunis"]
    tasks: list[dict[str, Any]] = []
    for r, place in enumerate(places):  # round-robin over users: neighbours differ in user
        for u in users:
            text = f"{u} moved to {place} in round {r}"
            tasks.append({"id": f"{u}-m{r}", "task": "remember", "text": text, "user": u})
            tasks.append({"id": f"{u}-q{r}", "task": "recall", "query": f"{u} moved to {place}",
                          "user": u, "k": 20})  # fmt: skip
    path = write_tasks(tmp_path / "t.jsonl", tasks)
    summary = run_batch_ray(opener(tmp_path / "home"), path, tmp_path / "out.jsonl",
                            address=cluster, workers=2)  # fmt: skip
    assert summary.ok and summary.ran == len(tasks)
    recs = by_id(tmp_path / "out.jsonl")
    for u in users:
        for r, place in enumerate(places):
            texts = [hit["record"]["text"] for hit in recs[f"{u}-q{r}"]["result"]]
            assert f"{u} moved to {place} in round {r}" in texts  # its own earlier fact
            rounds = {int(t.rsplit(" ", 1)[1]) for t in texts}
            assert rounds == set(range(r + 1)), (u, r, texts)  # nothing from a later task
            assert all(t.startswith(f"{u} ") for t in texts)  # nor from another user


def test_ingest_runs_after_every_earlier_task_and_before_every_later_one(
    cluster: str, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(30):
        (docs / f"flat{i}.txt").write_text(
            f"The boiler in flat {i} was serviced on {i % 28 + 1} May."
        )
    users = [f"u{i}" for i in range(6)]
    tasks: list[Any] = [
        {"id": f"hi-{u}", "task": "chat", "message": "hello", "user": u} for u in users
    ]  # every user pinned to a worker before the ingest
    tasks.append({"id": "ingest", "task": "ingest", "paths": ["docs"]})
    tasks += [
        {"id": f"ask-{u}", "task": "ask", "message": f"when was the boiler in flat {i} serviced?",
         "user": u}
        for i, u in enumerate(users)
    ]  # fmt: skip
    path = write_tasks(tmp_path / "t.jsonl", tasks)
    summary = run_batch_ray(opener(tmp_path / "home"), path, tmp_path / "out.jsonl",
                            address=cluster, workers=2)  # fmt: skip
    recs = by_id(tmp_path / "out.jsonl")
    assert summary.ok and len(recs["ingest"]["result"]["added"]) == 30
    for i, u in enumerate(users):
        cited = {Path(c["path"]).name for c in recs[f"ask-{u}"]["result"]["citations"]}
        assert f"flat{i}.txt" in cited, (u, cited)


def test_resume_cuts_a_torn_line_and_runs_only_the_missing(cluster: str, tmp_path: Path) -> None:
    tasks = [{"id": i, "task": "recall", "query": f"q{i}", "user": f"u{i % 3}"} for i in range(40)]
    first = write_tasks(tmp_path / "first.jsonl", tasks[:20])
    every = write_tasks(tmp_path / "t.jsonl", tasks)
    out = tmp_path / "out.jsonl"
    home = tmp_path / "home"
    assert run_batch_ray(opener(home), first, out, address=cluster, workers=1).ran == 20
    with out.open("a") as f:
        f.write('{"id": 20, "task": "rec')  # a torn record, as a kill mid-write leaves
    summary = run_batch_ray(opener(home), every, out, address=cluster, resume=True, workers=2)
    assert summary.repaired and (summary.skipped, summary.ran) == (20, 20) and summary.ok
    assert sorted(by_id(out)) == list(range(40))

    def no_model() -> Any:
        raise AssertionError("a finished file must not start any worker")

    again = run_batch_ray(no_model, every, out, address=cluster, resume=True)
    assert (again.ran, again.skipped, again.workers) == (0, 40, 0)


def test_bad_lines_give_the_local_runners_error_records(cluster: str, tmp_path: Path) -> None:
    tasks = write_tasks(
        tmp_path / "t.jsonl",
        [
            {"id": 1, "task": "remember", "text": "I like tea"},
            '{"id": 2, "task": "recall", "query": ',
            {"id": 3, "task": "dance"},
            {"id": 4, "task": "recall", "qeury": "tea"},
            {"task": "recall", "query": "tea"},
            {"id": 6, "task": "recall", "query": "tea", "k": "five"},
            "[1, 2]",
            {"id": 1, "task": "recall", "query": "tea"},
            {"id": 9, "task": "recall", "query": "tea"},
        ],
    )
    run_batch(opener(tmp_path / "h1"), tasks, tmp_path / "local.jsonl")
    summary = run_batch_ray(opener(tmp_path / "h2"), tasks, tmp_path / "ray.jsonl",
                            address=cluster, workers=2)  # fmt: skip
    assert summary.errors == 7 and not summary.ok
    ray_recs = {r["line"]: r for r in read_records(tmp_path / "ray.jsonl")}
    local_recs = {r["line"]: r for r in read_records(tmp_path / "local.jsonl")}
    assert len(ray_recs) == 9 and ray_recs.keys() == local_recs.keys()
    for line, rec in local_recs.items():
        assert comparable(ray_recs[line]) == comparable(rec), line
    assert "also on line 1" in ray_recs[8]["error"]["message"]
    assert "line 2 is not valid JSON" in ray_recs[2]["error"]["message"]


def test_fail_fast_submits_nothing_after_the_first_error(cluster: str, tmp_path: Path) -> None:
    tasks = [{"id": i, "task": "recall", "query": "x", "user": f"u{i % 4}"} for i in range(200)]
    tasks[3] = {"id": 3, "task": "nope"}
    path = write_tasks(tmp_path / "t.jsonl", tasks)
    summary = run_batch_ray(opener(tmp_path / "home"), path, tmp_path / "out.jsonl",
                            address=cluster, workers=2, fail_fast=True)  # fmt: skip
    recs = by_id(tmp_path / "out.jsonl")
    assert summary.stopped == "fail-fast" and recs[3]["status"] == "error"
    assert len(recs) < 200  # at most the workers' queues ran after it


def test_a_worker_killed_mid_run_loses_no_task_and_writes_none_twice(
    cluster: str, tmp_path: Path
) -> None:
    n = 400
    tasks = [
        {"id": f"t{i}", "task": "remember", "text": f"item {i} is filed under code {i * 7}",
         "user": f"u{i % 20}"}
        if i % 4 == 0
        else {"id": f"t{i}", "task": "recall", "query": f"item {i}", "user": f"u{i % 20}"}
        for i in range(n)
    ]  # fmt: skip
    path = write_tasks(tmp_path / "t.jsonl", tasks)
    killed: list[int] = []

    with WorkerPool(opener(tmp_path / "home"), 2) as pool:
        first_pids = list(pool.pids)

        class KillAt(Progress):
            """Kills worker 0's process (kill -9) when 100 records are written."""

            def advance(self, *, skipped: bool = False, error: bool = False) -> None:
                super().advance(skipped=skipped, error=error)
                if self.done == 100:
                    os.kill(pool.pids[0], signal.SIGKILL)
                    killed.append(pool.pids[0])

        summary = run_batch_ray(pool.open_agent, path, tmp_path / "out.jsonl", pool=pool,
                                progress=KillAt(n, enabled=False))  # fmt: skip
        assert killed == first_pids[:1]
        assert summary.restarts == 1 and pool.pids[0] != killed[0] and pool.pids[1] == first_pids[1]
    assert summary.ok and summary.ran == n
    recs = by_id(tmp_path / "out.jsonl")  # asserts no duplicate
    assert sorted(recs) == sorted(t["id"] for t in tasks)  # and no gap
    assert {r["status"] for r in recs.values()} == {"ok"}


def test_cli_runs_on_a_private_local_cluster(home: Path, tmp_path: Path) -> None:
    tasks = write_tasks(
        tmp_path / "t.jsonl",
        [{"id": i, "task": "remember", "text": f"fact number {i}", "user": f"u{i % 3}"}
         for i in range(30)] + ["{oops"],
    )  # fmt: skip
    out = tmp_path / "out.jsonl"
    env = {**os.environ, "LOREBOOK_BACKEND": "fake", "LOREBOOK_EMBEDDER": "hash",
           "LOREBOOK_ROUTE_WITH_MODEL": "false"}  # fmt: skip
    cmd = [sys.executable, "-m", "agent.cli", "batch", str(tasks), "-o", str(out),
           "--ray", "local", "--workers", "2", "--no-progress"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env)
    assert proc.returncode == 1, proc.stderr  # the malformed line failed
    assert "batch: 31 tasks, 31 run on 2 Ray workers" in proc.stderr
    recs = by_id(out)
    assert len(recs) == 31 and recs["line-31"]["status"] == "error"
    assert {recs[i]["result"]["action"] for i in range(30)} == {"added"}
    proc = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 1 and "0 run, 31 already done, 1 failed" in proc.stderr


def test_cli_connects_to_a_running_cluster(cluster: str, home: Path, tmp_path: Path) -> None:
    tasks = write_tasks(
        tmp_path / "t.jsonl",
        [{"id": i, "task": "recall", "query": "x", "user": f"u{i % 3}"} for i in range(10)],
    )
    env = {**os.environ, "LOREBOOK_BACKEND": "fake", "LOREBOOK_EMBEDDER": "hash"}
    cmd = [sys.executable, "-m", "agent.cli", "batch", str(tasks), "-o", str(tmp_path / "o.jsonl"),
           "--ray", cluster, "--workers", "1", "--no-progress"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "batch: 10 tasks, 10 run on 1 Ray worker," in proc.stderr
    assert sorted(by_id(tmp_path / "o.jsonl")) == list(range(10))


def test_without_ray_the_message_says_what_to_install(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    tasks = write_tasks(tmp_path / "t.jsonl", [{"id": 1, "task": "recall", "query": "x"}])
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    args = ["batch", str(tasks), "-o", str(tmp_path / "o.jsonl"), "--ray", "local"]
    assert main(args) == 2
    assert "pip install 'lorebook[scale]'" in capsys.readouterr().err
    assert "lorebook[scale]" in RAY_MISSING


def test_more_workers_than_cpus_is_refused(cluster: str, tmp_path: Path) -> None:
    tasks = write_tasks(tmp_path / "t.jsonl", [{"id": 1, "task": "recall", "query": "x"}])
    with pytest.raises(ConfigError, match="3 workers but the Ray cluster has 2 CPUs"):
        run_batch_ray(
            opener(tmp_path / "home"), tasks, tmp_path / "o.jsonl", address=cluster, workers=3
        )


@pytest.mark.integration
def test_two_workers_open_a_fresh_data_directory_on_the_default_model(
    cluster: str, tmp_path: Path
) -> None:
    # Two processes assembling the packaged model into one fresh directory at once collided on
    # its temporary file; the pool now lets the first worker open alone.
    tasks = write_tasks(
        tmp_path / "t.jsonl",
        [
            {"id": "r", "task": "remember", "text": "My sister is called Ana", "user": "a"},
            {"id": "q", "task": "recall", "query": "sister", "user": "a"},
            {"id": "t1", "task": "translate", "text": "Good morning", "target": "fr"},
            {"id": "t2", "task": "translate", "text": "Thank you", "target": "de"},
        ],
    )
    open_agent = functools.partial(Agent.open, tmp_path / "home", embedder="hash", n_threads=1)
    with WorkerPool(open_agent, 2) as pool:
        summary = run_batch_ray(open_agent, tasks, tmp_path / "o.jsonl", pool=pool)
    recs = by_id(tmp_path / "o.jsonl")
    assert summary.ok, recs
    assert "Ana" in recs["q"]["result"][0]["record"]["text"]
    assert recs["t1"]["tokens"]["completion"] > 0 and recs["t1"]["model"] != "fake"
