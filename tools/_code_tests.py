"""The code tool's tests: finding them (given, or the prompt's docstring examples) and running them.

Docstring examples are the ``>>> call`` / expected-output pairs :mod:`doctest` finds, plus the
one-line forms common in hand-written docstrings, ``f(2) == 4``, ``f(2) ➞ 4``, ``f(2) -> 4``,
``f(2) => 4``, for the function the prompt defines. Each case is compared by value
(``got == eval(expected)``), falling back to the printed form for values that do not evaluate
(``<object at 0x...>``); that is looser than :mod:`doctest`'s text match on purpose — a model's
``0.5`` is as right as the docstring's ``0.50``.

All test code runs in :func:`tools.sandbox.run_sandboxed`; the harness there
(:mod:`tools._code_harness`) runs the candidate in a process of its own, evaluates the cases
one by one and the given tests from another process, and writes one JSON line per case to the
sandbox's report channel, which the candidate cannot write: printing a result line, exiting
early or patching the harness proves nothing. A timeout after case 3 still tells which cases
passed.

Deliberate shortcut: given tests run as one block (asserts, or HumanEval's
``check(candidate)``), so they count as one test; the report names the failing line.
"""

from __future__ import annotations

import ast
import doctest
import json
import re
from dataclasses import dataclass
from pathlib import Path

from tools.sandbox import SandboxResult, run_sandboxed

_ARROW = re.compile(r"\s*(?:==|➞|->|=>|→|returns|should return|should be)\s*(?P<want>\S.*?)\s*$")
_QUOTES = re.compile(r"^\s*(?:\"\"\"|\'\'\')\s*$", re.M)
_MAX_PROCS = 4
"""The judge, the candidate's process and a little room: where the memory budget is split per
process, fewer processes leave each a bigger share (``memory_mb / 4``)."""


@dataclass(frozen=True)
class Case:
    """One docstring example: evaluate ``source``, expect ``want`` (source text of a value)."""

    source: str
    want: str


@dataclass(frozen=True)
class Outcome:
    """What running the tests on one candidate showed."""

    passed: bool | None
    """None when the tests could not run (sandbox failure)."""
    tests_passed: int
    tests_total: int
    report: str
    isolation: tuple[str, ...] = ()


def entry_point(code: str) -> str | None:
    """Name of the last top-level function defined in ``code`` (the one a prompt asks for)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        names = re.findall(r"^def\s+([A-Za-z_]\w*)\s*\(", code, re.M)
        return names[-1] if names else None
    defs = [n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    return defs[-1] if defs else None


def docstring_cases(prompt: str, entry: str | None) -> list[Case]:
    """The examples written in ``prompt`` (``>>>`` lines, and ``f(x) == y`` style lines)."""
    cases: list[Case] = []
    try:
        examples = doctest.DocTestParser().get_examples(prompt)
    except ValueError:
        examples = []
    for ex in examples:
        want = _QUOTES.split(ex.want)[0].strip()
        if want and _is_expression(ex.source):
            cases.append(Case(ex.source.strip(), want))
    if entry:
        for line in prompt.splitlines():
            case = None if ">>>" in line else _arrow_case(line, entry)
            if case and case not in cases:
                cases.append(case)
    return cases


def _arrow_case(line: str, entry: str) -> Case | None:
    """``entry(...) == value`` (or ➞, ->, =>, "should return"...) anywhere in ``line``."""
    m = re.search(rf"\b{re.escape(entry)}\(", line)
    if not m:
        return None
    depth, end = 0, -1
    for i in range(m.end() - 1, len(line)):
        depth += {"(": 1, ")": -1}.get(line[i], 0)
        if depth == 0:
            end = i + 1
            break
    rest = _ARROW.match(line[end:]) if end > 0 else None
    if not rest:
        return None
    call, want = line[m.start() : end], rest["want"].rstrip(".,;")
    if _literal_call(call) and _is_literal(want):
        return Case(call, want)
    return None


def _literal_call(text: str) -> bool:
    """A call whose arguments are all literals (``f(a)`` in prose means the string "a")."""
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:
        return False
    if not isinstance(node, ast.Call):
        return False
    args = [*node.args, *(k.value for k in node.keywords)]
    return all(_is_literal(ast.unparse(a)) for a in args)


def _is_literal(text: str) -> bool:
    try:
        ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
    return True


def _is_expression(text: str) -> bool:
    try:
        ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        return False
    return True


_HARNESS = Path(__file__).with_name("_code_harness.py").read_text(encoding="utf-8")
"""``main.py`` in the sandbox: judges the candidate from a process the candidate never runs in."""


def run_tests(
    code: str,
    *,
    cases: list[Case],
    tests: str | None,
    entry: str | None,
    timeout_s: float,
    memory_mb: int,
) -> Outcome:
    """Run ``cases`` and/or the given ``tests`` against ``code`` in the sandbox."""
    total = len(cases) + (1 if tests else 0)
    config = {"cases": [[c.source, c.want] for c in cases], "tests": bool(tests), "entry": entry}
    result = run_sandboxed(
        _HARNESS,
        files={"candidate.py": code, "cases.json": json.dumps(config), "tests.py": tests or ""},
        timeout_s=timeout_s,
        memory_mb=memory_mb,
        max_procs=_MAX_PROCS,
        report_fd=True,
    )
    return _outcome(result, cases, total)


def _outcome(result: SandboxResult, cases: list[Case], total: int) -> Outcome:
    # Only the judge writes the report channel; stdout is the candidate's and decides nothing.
    events = []
    for line in result.report.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a line cut short by a limit
        if isinstance(event, dict):
            events.append(event)
    load_error = next((e["load_error"] for e in events if "load_error" in e), None)
    if load_error:
        return Outcome(False, 0, total, f"the code fails to load: {load_error}", result.isolation)
    done = [e for e in events if "case" in e]
    passed = sum(1 for e in done if e.get("ok"))
    failures = [_describe(e, cases) for e in done if not e.get("ok")]
    if result.limit:
        unfinished = total - len(done)
        failures.append(f"stopped by the {result.limit} limit with {unfinished} test(s) left")
    elif len(done) < total:
        failures.append(f"the test run ended early: {result.stderr.strip()[-300:]}")
    ok = passed == total and not failures
    head = f"{passed}/{total} tests passed"
    return Outcome(ok, passed, total, "; ".join([head, *failures[:3]]), result.isolation)


def _describe(event: dict[str, object], cases: list[Case]) -> str:
    if event["case"] == "given":
        where = f" at `{event['line']}`" if event.get("line") else ""
        return f"the given tests failed{where}: {event.get('got', '')}"
    case = cases[int(event["case"])]  # type: ignore[call-overload]
    return f"`{case.source}` should be {case.want}, got {event.get('got', '')}"
