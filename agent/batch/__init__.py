"""Scripted batch runs (JSONL in, JSONL out), their evaluation and A/B comparison.

    lorebook batch tasks.jsonl -o results.jsonl      # run (resumable, one record per task)
    lorebook eval results.jsonl                      # ROUGE-L, chrF, pass@1, keyword hits, speed
    lorebook compare a.jsonl b.jsonl                 # paired differences, bootstrap CI, sign test

The runner calls the same :class:`~agent.api.Agent` methods as the TUI and the library.
"""

from agent.batch.compare import Comparison, compare, report
from agent.batch.evaluate import evaluate, score, table
from agent.batch.progress import Progress
from agent.batch.runner import BatchSummary, read_records, run_batch
from agent.batch.tasks import TASKS, TaskError, validate

__all__ = [
    "TASKS",
    "BatchSummary",
    "Comparison",
    "Progress",
    "TaskError",
    "compare",
    "evaluate",
    "read_records",
    "report",
    "run_batch",
    "score",
    "table",
    "validate",
]
