"""Score a batch results file: the quality metrics each task allows, plus speed.

Per record (its ``expected`` field holds what the task line carried):

=============  ===================  ===================================================
task           needs                metric (0–1 unless noted)
=============  ===================  ===================================================
summarize      ``reference``        ``rougeL`` F1 (rouge-score, stemmed); also ``rouge1``
translate      ``reference``        ``chrf`` (sacrebleu sentence chrF, 0–100)
code           ``tests``            ``pass@1``: the returned candidate passed the tests
chat, ask      ``expect``           ``keywords``: share of expected words in the reply
recall         ``expect``           ``keywords`` over the recalled memories' text
review         ``expect``           ``categories``: share of expected clause categories found
=============  ===================  ===================================================

A record with ``status: error`` scores 0 on its quality metric (the task produced nothing).
``pass@1`` is honest only for ``samples: 1``: with more samples the task's own tests pick the
candidate, so the figure is "some candidate passed" (closer to pass@k).
Every record also has ``latency_ms`` and, when the model decoded, ``tokens_per_s``. The table
above is :data:`SCORERS`; ``tests/agent/test_eval.py`` checks that each task it names is a task
type of the batch table (generated from the capability registry) and each field one the runner
copies into ``expected``.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

QUALITY = ("rougeL", "rouge1", "chrf", "pass@1", "keywords", "categories")
"""Quality metrics, in table order; the first one a record has is its primary metric."""


@dataclass(frozen=True)
class Scored:
    """One record's metrics."""

    id: Any
    task: str
    status: str
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def primary(self) -> str | None:
        return next((m for m in QUALITY if m in self.metrics), None)


def _words(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value or []]


def _hits(expect: Any, text: str) -> float:
    words = _words(expect)
    low = text.lower()
    return sum(w.lower() in low for w in words) / len(words) if words else 0.0


_rouge: Any = None


def _rouge_scores(prediction: str, reference: str) -> dict[str, float]:
    global _rouge
    if _rouge is None:
        from rouge_score import rouge_scorer

        _rouge = rouge_scorer.RougeScorer(["rouge1", "rougeL"], use_stemmer=True)
    s = _rouge.score(reference, prediction)
    return {"rougeL": s["rougeL"].fmeasure, "rouge1": s["rouge1"].fmeasure}


def _chrf(prediction: str, reference: str) -> float:
    import sacrebleu

    return float(sacrebleu.sentence_chrf(prediction, [reference]).score)


def _text(result: Any) -> str:
    return str(result.get("text", "")) if isinstance(result, dict) else ""


def _summary(result: Any, reference: Any, ok: bool) -> dict[str, float]:
    if not ok:
        return {"rougeL": 0.0, "rouge1": 0.0}
    return _rouge_scores(_text(result), str(reference))


def _translation(result: Any, reference: Any, ok: bool) -> dict[str, float]:
    return {"chrf": _chrf(_text(result), str(reference)) if ok else 0.0}


def _passed(result: Any, _tests: Any, ok: bool) -> dict[str, float]:
    return {"pass@1": float(ok and result.get("passed") is True)}


def _reply(result: Any, expect: Any, ok: bool) -> dict[str, float]:
    return {"keywords": _hits(expect, _text(result)) if ok else 0.0}


def _recalled(result: Any, expect: Any, ok: bool) -> dict[str, float]:
    recalled = " ".join(str(h.get("record", {}).get("text", "")) for h in result or [])
    return {"keywords": _hits(expect, recalled) if ok else 0.0}


def _categories(result: Any, expect: Any, ok: bool) -> dict[str, float]:
    found = {f.get("category") for f in result.get("findings", [])} if ok else set()
    wanted = _words(expect)
    return {"categories": sum(c in found for c in wanted) / len(wanted) if wanted else 0.0}


Scorer = Callable[[Any, Any, bool], dict[str, float]]

SCORERS: dict[str, tuple[str, Scorer]] = {
    "summarize": ("reference", _summary),
    "translate": ("reference", _translation),
    "code": ("tests", _passed),
    "chat": ("expect", _reply),
    "ask": ("expect", _reply),
    "recall": ("expect", _recalled),
    "review": ("expect", _categories),
}
"""Per task type (:data:`agent.batch.tasks.TASKS`, the capabilities and ``chat``): the
evaluation field (:data:`agent.batch.tasks.EVAL_FIELDS`) its quality is scored against, and
how, from the result's JSON, that field's value and whether the task succeeded."""


def score(record: dict[str, Any]) -> Scored:
    """The metrics one results record allows.

    Example:
        >>> score({"id": 1, "task": "ask", "status": "ok", "result": {"text": "Paris!"},
        ...        "expected": {"expect": ["paris", "france"]}, "timings": {"total_ms": 9}}).metrics
        {'keywords': 0.5, 'latency_ms': 9}
    """
    task = record.get("task") or "?"
    status = record.get("status", "error")
    result = record.get("result") or {}
    expected = record.get("expected") or {}
    m: dict[str, float] = {}
    if task in SCORERS and SCORERS[task][0] in expected:
        field_, scorer = SCORERS[task]
        m.update(scorer(result, expected[field_], status == "ok"))
    timings = record.get("timings") or {}
    if "total_ms" in timings:
        m["latency_ms"] = timings["total_ms"]
    if record.get("tokens_per_s"):
        m["tokens_per_s"] = record["tokens_per_s"]
    return Scored(record.get("id"), task, status, m)


@dataclass
class Row:
    """One task type's line of the table."""

    task: str
    n: int = 0
    errors: int = 0
    values: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def mean(self, metric: str) -> float | None:
        v = self.values.get(metric)
        return statistics.fmean(v) if v else None

    def median(self, metric: str) -> float | None:
        v = self.values.get(metric)
        return statistics.median(v) if v else None


def evaluate(records: Iterable[dict[str, Any]]) -> list[Row]:
    """One :class:`Row` per task type (file order), plus an ``all`` row at the end."""
    rows: dict[str, Row] = {}
    every = Row("all")
    for rec in records:
        s = score(rec)
        for row in (rows.setdefault(s.task, Row(s.task)), every):
            row.n += 1
            row.errors += s.status != "ok"
            for k, v in s.metrics.items():
                if k not in QUALITY or row is not every:
                    row.values[k].append(v)
    return [*rows.values(), every]


def _fmt(value: float | None, metric: str) -> str:
    if value is None:
        return "-"
    if metric in ("latency_ms", "tokens_per_s", "chrf"):
        return f"{value:.1f}"
    return f"{value:.3f}"


def table(rows: list[Row]) -> str:
    """The rows as an aligned text table: quality means, latency p50, tokens/s median."""
    quality = [m for m in QUALITY if any(r.values.get(m) for r in rows)]
    head = ["task", "n", "errors", *quality, "latency p50 ms", "tok/s p50"]
    body = [
        [
            r.task,
            str(r.n),
            str(r.errors),
            *(_fmt(r.mean(m), m) for m in quality),
            _fmt(r.median("latency_ms"), "latency_ms"),
            _fmt(r.median("tokens_per_s"), "tokens_per_s"),
        ]
        for r in rows
    ]
    widths = [max(len(x) for x in col) for col in zip(head, *body, strict=True)]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in (head, *body)
    ]  # noqa: E501
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
