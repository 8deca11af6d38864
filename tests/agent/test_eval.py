"""Scoring results files and comparing two runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.batch import compare, evaluate, report, score, table
from agent.batch.compare import bootstrap_ci, sign_test
from agent.batch.evaluate import SCORERS
from agent.batch.tasks import EVAL_FIELDS, TASKS
from agent.cli import main


def rec(i, task, status="ok", result=None, expected=None, ms=100.0, tps=None):
    r = {"id": i, "task": task, "status": status, "result": result, "timings": {"total_ms": ms}}
    if expected:
        r["expected"] = expected
    if tps:
        r["tokens_per_s"] = tps
    return r


def test_each_task_type_gets_its_metric() -> None:
    s = score(
        rec(1, "summarize", result={"text": "the cat sat"}, expected={"reference": "the cat sat"})
    )
    assert s.metrics["rougeL"] == pytest.approx(1.0) and s.primary == "rougeL"
    s = score(rec(2, "translate", result={"text": "Bonjour"}, expected={"reference": "Bonjour"}))
    assert s.metrics["chrf"] == pytest.approx(100.0)
    s = score(rec(3, "translate", result={"text": "Hello"}, expected={"reference": "Bonjour"}))
    assert s.metrics["chrf"] < 20
    assert (
        score(rec(4, "code", result={"passed": True}, expected={"tests": "t"})).metrics["pass@1"]
        == 1.0
    )
    assert (
        score(rec(5, "code", result={"passed": None}, expected={"tests": "t"})).metrics["pass@1"]
        == 0.0
    )
    s = score(
        rec(6, "chat", result={"text": "Ana lives in Lyon"}, expected={"expect": ["ana", "Paris"]})
    )
    assert s.metrics["keywords"] == 0.5
    hits = [{"record": {"text": "My sister is Ana"}}]
    assert score(rec(7, "recall", result=hits, expected={"expect": "Ana"})).metrics["keywords"] == 1
    found = {"findings": [{"category": "governing_law"}, {"category": "termination"}]}
    s = score(rec(8, "review", result=found, expected={"expect": ["termination", "payment"]}))
    assert s.metrics["categories"] == 0.5


def test_each_scored_task_is_a_task_type_scored_on_a_field_the_runner_keeps() -> None:
    for task, (field, _scorer) in SCORERS.items():
        assert task in TASKS and field in EVAL_FIELDS, task
    assert "tests" in TASKS["code"].optional  # code's own parameter, and what pass@1 needs


def test_an_error_scores_zero_and_speed_is_kept() -> None:
    s = score(rec(1, "summarize", status="error", expected={"reference": "x y"}, ms=5, tps=20.0))
    assert s.metrics == {"rougeL": 0.0, "rouge1": 0.0, "latency_ms": 5, "tokens_per_s": 20.0}


def test_table_has_a_row_per_task_and_an_all_row() -> None:
    rows = evaluate(
        [
            rec(1, "ask", result={"text": "Paris"}, expected={"expect": "paris"}, ms=100),
            rec(2, "ask", result={"text": "Rome"}, expected={"expect": "paris"}, ms=300),
            rec(3, "code", status="error", expected={"tests": "t"}, ms=50),
        ]
    )
    assert [r.task for r in rows] == ["ask", "code", "all"]
    assert rows[0].mean("keywords") == 0.5 and rows[0].median("latency_ms") == 200
    assert rows[1].errors == 1 and rows[2].n == 3
    text = table(rows)
    assert "keywords" in text and "pass@1" in text and "latency p50 ms" in text
    head, _, ask, code, _all = text.splitlines()
    assert head.split()[3:5] == ["pass@1", "keywords"]
    assert ask.split()[:5] == ["ask", "2", "0", "-", "0.500"]
    assert code.split()[:5] == ["code", "1", "1", "0.000", "-"]


def test_sign_test_and_bootstrap() -> None:
    assert sign_test(5, 5) == 1.0
    assert sign_test(10, 0) == pytest.approx(2 / 1024)
    import numpy as np

    low, high = bootstrap_ci(np.array([0.1, 0.2, 0.15, 0.12, 0.18]))
    assert 0.1 < low < 0.15 < high < 0.2


def test_compare_pairs_by_id_and_lists_the_movers() -> None:
    refs = {"expect": ["alpha"]}
    a = [rec(i, "ask", result={"text": "beta"}, expected=refs, ms=200) for i in range(8)]
    b = [rec(i, "ask", result={"text": "alpha"}, expected=refs, ms=100) for i in range(6)]
    b += [rec(6, "ask", status="error", expected=refs), rec(99, "ask", result={"text": "x"})]
    c = compare(a, b)
    kw = next(m for m in c.metrics if m.metric == "keywords")
    assert kw.n == 7 and kw.wins == 6 and kw.losses == 0 and kw.diff == pytest.approx(6 / 7)
    assert kw.p_sign == pytest.approx(2 / 64)
    lat = next(m for m in c.metrics if m.metric == "latency_ms")
    assert lat.diff == -100 and lat.wins == 7  # lower latency counts as better
    assert c.status_changes == [(6, "ok", "error")]
    assert c.only_a == 1 and c.only_b == 1
    assert c.changed[0][3:] == (0.0, 1.0)
    text = report(c, "base", "new")
    assert "keywords" in text and "status changed" in text and "not paired" in text


def test_eval_and_compare_commands(tmp_path: Path, capsys) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    refs = {"reference": "the quick brown fox"}
    a.write_text(
        "".join(
            json.dumps(rec(i, "summarize", result={"text": "a fox"}, expected=refs)) + "\n"
            for i in range(3)
        )
        + '{"id": 9, "torn'
    )
    b.write_text(
        "".join(
            json.dumps(rec(i, "summarize", result={"text": "the quick fox"}, expected=refs)) + "\n"
            for i in range(3)
        )
    )
    assert main(["eval", str(a)]) == 0
    out = capsys.readouterr().out
    assert "summarize" in out and "rougeL" in out and " 3 " in out
    assert main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "rougeL" in out and "3/0" in out
    assert main(["eval", str(tmp_path / "missing.jsonl")]) == 2
