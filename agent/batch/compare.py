"""A/B comparison of two runs of the same tasks (two models, two settings).

Records are paired by ``id``. For each metric both runs have on at least two tasks:
the means, the mean paired difference B − A with a 95% bootstrap confidence interval
(10,000 resamples of the pairs, fixed seed), and an exact two-sided sign test over the pairs
that differ. Then the tasks whose primary quality metric moved most, and any task whose status
changed (ok ↔ error). Only tasks present in both files are compared; the rest are counted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from agent.batch.evaluate import QUALITY, Scored, score


@dataclass(frozen=True)
class MetricDiff:
    """One metric across the paired tasks."""

    metric: str
    n: int
    mean_a: float
    mean_b: float
    diff: float
    ci_low: float
    ci_high: float
    wins: int
    """Pairs where B is better (higher; lower for latency)."""
    losses: int
    p_sign: float


@dataclass(frozen=True)
class Comparison:
    metrics: list[MetricDiff]
    changed: list[tuple[Any, str, str, float, float]]
    """(id, task, metric, a, b) for the tasks that moved most, largest change first."""
    status_changes: list[tuple[Any, str, str]]
    """(id, status in A, status in B)."""
    only_a: int
    only_b: int


def sign_test(wins: int, losses: int) -> float:
    """Exact two-sided sign-test p-value (ties already left out).

    Example:
        >>> round(sign_test(9, 1), 4)
        0.0215
    """
    n = wins + losses
    if n == 0:
        return 1.0
    k = min(wins, losses)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def bootstrap_ci(diffs: np.ndarray, resamples: int = 10_000, seed: int = 0) -> tuple[float, float]:
    """95% percentile bootstrap interval of the mean of ``diffs``."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(diffs), size=(resamples, len(diffs)))
    means = diffs[idx].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def compare(a: Iterable[dict[str, Any]], b: Iterable[dict[str, Any]], top: int = 5) -> Comparison:
    """Pair the records of two runs by id and compare every shared metric."""
    sa = {_k(r): score(r) for r in a}
    sb = {_k(r): score(r) for r in b}
    shared = [k for k in sa if k in sb]
    metrics: list[MetricDiff] = []
    names = [*QUALITY, "latency_ms", "tokens_per_s"]
    for metric in names:
        pairs = [
            (sa[k].metrics[metric], sb[k].metrics[metric])
            for k in shared
            if metric in sa[k].metrics and metric in sb[k].metrics
        ]
        if len(pairs) < 2:
            continue
        arr = np.array(pairs, dtype=float)
        diffs = arr[:, 1] - arr[:, 0]
        better = -diffs if metric == "latency_ms" else diffs
        wins, losses = int((better > 0).sum()), int((better < 0).sum())
        low, high = bootstrap_ci(diffs)
        metrics.append(
            MetricDiff(
                metric,
                len(pairs),
                float(arr[:, 0].mean()),
                float(arr[:, 1].mean()),
                float(diffs.mean()),
                low,
                high,
                wins,
                losses,
                sign_test(wins, losses),
            )
        )
    return Comparison(
        metrics,
        _moved(sa, sb, shared)[:top],
        [(sa[k].id, sa[k].status, sb[k].status) for k in shared if sa[k].status != sb[k].status],
        sum(k not in sb for k in sa),
        sum(k not in sa for k in sb),
    )


def _k(record: dict[str, Any]) -> str:
    return repr(record.get("id"))


def _moved(
    sa: dict[str, Scored], sb: dict[str, Scored], shared: list[str]
) -> list[tuple[Any, str, str, float, float]]:
    out = []
    for k in shared:
        metric = sa[k].primary
        if metric is None or metric not in sb[k].metrics:
            continue
        x, y = sa[k].metrics[metric], sb[k].metrics[metric]
        if x != y:
            out.append((sa[k].id, sa[k].task, metric, x, y))
    scale = {"chrf": 100.0}
    out.sort(key=lambda t: -abs(t[4] - t[3]) / scale.get(t[2], 1.0))
    return out


def report(c: Comparison, name_a: str = "A", name_b: str = "B") -> str:
    """The comparison as text: one line per metric, then the movers."""
    rows = [["metric", "n", name_a[:10], name_b[:10], "B-A", "95% CI", "B better/worse", "sign p"]]
    rows += [
        [
            m.metric,
            str(m.n),
            f"{m.mean_a:.3f}",
            f"{m.mean_b:.3f}",
            f"{m.diff:+.3f}",
            f"[{m.ci_low:+.3f}, {m.ci_high:+.3f}]",
            f"{m.wins}/{m.losses}",
            f"{m.p_sign:.3f}",
        ]
        for m in c.metrics
    ]
    # Widths from the cells, two spaces apart: latencies in ms overran fixed widths and ran
    # into the next column ("935.570-10023.803[-17871.500, ...]").
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(r, widths, strict=True))
        ).rstrip()
        for r in rows
    ]
    if c.changed:
        lines.append("\nmoved most (primary metric, A → B):")
        lines += [f"  {i!r:<12} {t:<10} {m:<9} {x:.3f} → {y:.3f}" for i, t, m, x, y in c.changed]
    if c.status_changes:
        lines.append("\nstatus changed:")
        lines += [f"  {i!r:<12} {x} → {y}" for i, x, y in c.status_changes]
    if c.only_a or c.only_b:
        lines.append(f"\nnot paired: {c.only_a} only in {name_a}, {c.only_b} only in {name_b}")
    return "\n".join(lines)
