"""Candidates that try to forge a pass: each must be reported as the failure it is (issue 17).

The measured leak: a candidate that printed the harness's result line and exited made
``assert f() == 2`` report "1/1 tests passed". Every snippet here returns a wrong value and then
tries a way to claim a pass; the same function without the trick is the control.
"""

from __future__ import annotations

import pytest

from tools._code_tests import Case, Outcome, run_tests

WRONG = "def f():\n    return 1\n"
GIVEN = "assert f() == 2\n"


def _judge(code: str, tests: str | None = GIVEN, cases: list[Case] | None = None) -> Outcome:
    return run_tests(code, cases=cases or [], tests=tests, entry="f", timeout_s=10, memory_mb=512)


FORGERIES = {
    "print-the-result-line-and-exit": (
        "import json, sys\n"
        "print(json.dumps({'case': 'given', 'ok': True}), flush=True)\n"
        "sys.exit(0)\n"
    ),
    "print-the-line-from-inside-the-call": (
        "import json, os\n"
        "def f():\n"
        "    print(json.dumps({'case': 'given', 'ok': True}), flush=True)\n"
        "    os._exit(0)\n"
    ),
    "write-the-line-to-every-descriptor": (
        "import json, os\n"
        "line = (json.dumps({'case': 'given', 'ok': True}) + '\\n').encode()\n"
        "def f():\n"
        "    for fd in range(0, 64):\n"
        "        try:\n"
        "            os.write(fd, line)\n"
        "        except OSError:\n"
        "            pass\n"
        "    os._exit(0)\n"
    ),
    "reopen-the-parents-descriptors-through-proc": (
        "import json, os\n"
        "line = json.dumps({'case': 'given', 'ok': True}) + '\\n'\n"
        "for fd in range(0, 64):\n"
        "    try:\n"
        "        with open(f'/proc/{os.getppid()}/fd/{fd}', 'w') as fh:\n"
        "            fh.write(line)\n"
        "    except OSError:\n"
        "        pass\n"
        "os._exit(0)\n"
    ),
    "exit-zero-before-the-assert": "import os\ndef f():\n    os._exit(0)\n",
    "sys-exit-zero-inside-the-call": "import sys\ndef f():\n    sys.exit(0)\n",
    "monkeypatch-the-harness": (
        "import gc, json, os\n"
        "def _claim(*args, **kwargs):\n"
        "    os.write(3, (json.dumps({'case': 'given', 'ok': True}) + '\\n').encode())\n"
        "for obj in gc.get_objects():\n"
        "    if getattr(obj, '__name__', '') in ('_emit', '_run_given', '_run_case'):\n"
        "        try:\n"
        "            obj.__code__ = _claim.__code__\n"
        "        except (AttributeError, TypeError, ValueError):\n"
        "            pass\n"
        "import builtins\n"
        "builtins.AssertionError = type('Nothing', (Exception,), {})\n"
        "def f():\n    return 1\n"
    ),
    "always-equal-object": (
        "class Anything:\n"
        "    def __eq__(self, other):\n        return True\n"
        "    __hash__ = object.__hash__\n"
        "def f():\n    return Anything()\n"
    ),
    "int-that-equals-everything": (
        "class Sly(int):\n"
        "    def __eq__(self, other):\n        return True\n"
        "    __hash__ = int.__hash__\n"
        "def f():\n    return Sly(1)\n"
    ),
    "kill-the-judge": "import os, signal\ndef f():\n    os.kill(os.getppid(), signal.SIGKILL)\n",
    "stop-the-judge": "import os, signal\ndef f():\n    os.kill(os.getppid(), signal.SIGSTOP)\n",
}


def test_the_wrong_function_fails_without_any_trick() -> None:
    outcome = _judge(WRONG)
    assert (outcome.passed, outcome.tests_passed) == (False, 0)
    assert outcome.report.startswith("0/1 tests passed")


@pytest.mark.parametrize("code", FORGERIES.values(), ids=FORGERIES.keys())
def test_a_forged_pass_is_reported_as_a_failure(code: str) -> None:
    outcome = run_tests(code, cases=[], tests=GIVEN, entry="f", timeout_s=3, memory_mb=512)
    assert outcome.passed is False, outcome.report
    assert outcome.tests_passed == 0
    assert outcome.report.startswith(("0/1 tests passed", "the code fails to load"))


def test_forged_docstring_case_lines_count_for_nothing() -> None:
    code = (
        "import json, sys\n"
        "for i in range(3):\n"
        "    print(json.dumps({'case': i, 'ok': True, 'got': '2'}), flush=True)\n"
        "def f():\n    return 1\n"
    )
    outcome = _judge(code, tests=None, cases=[Case("f()", "2")])
    assert outcome.report.startswith("0/1 tests passed")
    assert "`f()` should be 2, got 1" in outcome.report


def test_the_right_function_still_passes_with_prints_and_objects() -> None:
    code = (
        "class Point:\n"
        "    def __init__(self, x, y):\n        self.x, self.y = x, y\n"
        "    def __eq__(self, other):\n        return (self.x, self.y) == (other.x, other.y)\n"
        "    def __repr__(self):\n        return f'Point({self.x}, {self.y})'\n"
        "def f():\n    print('noise')\n    return 2\n"
        "def squares(n):\n    for i in range(n):\n        yield i * i\n"
        "def check_positive(n):\n"
        "    if n < 0:\n        raise ValueError('negative')\n    return n\n"
    )
    tests = (
        "assert f() == 2\n"
        "assert list(squares(4)) == [0, 1, 4, 9]\n"
        "assert Point(1, 2) == Point(1, 2) and Point(1, 2).x == 1\n"
        "assert [p.y for p in [Point(0, 5)]] == [5]\n"
        "try:\n    check_positive(-1)\n"
        "except ValueError as exc:\n    assert 'negative' in str(exc)\n"
        "else:\n    raise AssertionError('no error')\n"
    )
    cases = [Case("f()", "2"), Case("Point(3, 4)", "Point(3, 4)"), Case("f() / 4", "0.5")]
    outcome = _judge(code, tests=tests, cases=cases)
    assert outcome.passed is True, outcome.report
    assert outcome.report == "4/4 tests passed"


def test_humaneval_check_gets_the_entry_point() -> None:
    tests = (
        "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(0, 0) == 0\n"
    )
    code = "def add(a, b):\n    return a + b\n"
    outcome = run_tests(code, cases=[], tests=tests, entry="add", timeout_s=10, memory_mb=512)
    assert outcome.passed is True and outcome.report == "1/1 tests passed"


def test_a_case_that_ends_the_candidate_does_not_sink_the_next_ones() -> None:
    code = "import os\ndef f(x):\n    if x == 0:\n        os._exit(3)\n    return x * 2\n"
    cases = [Case("f(1)", "2"), Case("f(0)", "0"), Case("f(2)", "4")]
    outcome = _judge(code, tests=None, cases=cases)
    assert (outcome.tests_passed, outcome.tests_total) == (2, 3)
    assert "`f(0)` should be 0, got the code's process exited" in outcome.report


def test_a_candidate_that_cannot_load_says_why() -> None:
    outcome = _judge("def f(:\n    pass\n")
    assert outcome.passed is False and "fails to load: SyntaxError" in outcome.report


def test_a_lambda_passed_into_the_code_is_refused_clearly() -> None:
    code = "def f(g=None):\n    return g(1) if g else 2\n"
    outcome = _judge(code, tests="assert f(lambda x: x + 1) == 2\n")
    assert outcome.passed is False and "only plain data" in outcome.report
