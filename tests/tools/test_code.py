"""tools.code with the scripted fake model; the tests run in the real sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import tools.sandbox
from agent.errors import ToolInputError
from agent.llm.fake import FakeLLM
from agent.pipeline.toolargs import parse_code
from tools._code_prompt import completion_code, is_completion_prompt, salvage
from tools._code_tests import Case, docstring_cases
from tools.code import code, supported_languages

ADD = '''def add(a, b):
    """Add two numbers.
    >>> add(2, 3)
    5
    >>> add(-1, 1)
    0
    """
'''


def test_completion_prompt_is_completed_and_checked_on_its_examples() -> None:
    llm = FakeLLM(["    return a + b\n"])
    r = code(ADD, llm=llm)
    assert r.passed is True and r.tests_source == "docstring"
    assert r.code == ADD + "    return a + b\n"
    assert r.report == "2/2 tests passed"
    assert llm.calls[0].prompt.endswith('    """\n')
    assert llm.calls[0].settings.temperature == 0
    assert "netns" in r.isolation or "socket-guard" in r.isolation


def test_body_ends_at_the_first_line_back_at_column_zero() -> None:
    llm = FakeLLM(["    return a + b\n\nprint(add(1, 2))\nimport os\n"])
    r = code(ADD, llm=llm)
    assert r.code.endswith("    return a + b\n")
    assert "print" not in r.code[len(ADD) :]


def test_later_sample_that_passes_is_chosen() -> None:
    llm = FakeLLM(["    return a - b\n", "    return a + b\n", "    return 0\n"])
    r = code(ADD, samples=3, llm=llm, seed=7, temperature=0.6)
    assert (r.chosen, r.passed, len(r.candidates)) == (1, True, 2)  # stops at the first pass
    assert r.candidates[0].passed is False
    first, second = (c.settings for c in llm.calls)
    assert (first.temperature, second.temperature, second.seed) == (0, 0.6, 8)


def test_without_a_pass_the_candidate_passing_most_tests_is_chosen() -> None:
    llm = FakeLLM(["    return 1\n", "    return 5 if a == 2 else 7\n", "    return 2\n"])
    r = code(ADD, samples=3, llm=llm)
    assert r.passed is False and r.chosen == 1
    assert r.candidates[1].tests_passed == 1 and r.candidates[1].tests_total == 2
    assert "`add(-1, 1)` should be 0, got 7" in r.report


def test_humaneval_style_check_function_is_called_with_the_entry_point() -> None:
    tests = (
        "def check(candidate):\n    assert candidate(2, 2) == 4\n    assert candidate(0, 5) == 5\n"
    )
    prompt = 'def add(a, b):\n    """Add them."""\n'
    ok = code(prompt, tests=tests, llm=FakeLLM(["    return a + b\n"]))
    bad = code(prompt, tests=tests, llm=FakeLLM(["    return a * b\n"]))
    assert ok.passed is True and ok.tests_source == "given"
    assert bad.passed is False
    assert "assert candidate(0, 5) == 5" in bad.report


def test_plain_request_gets_a_few_shot_prompt_and_the_fence_ends_the_code() -> None:
    llm = FakeLLM(["def square(x):\n    return x * x\n```\n\nTask: more"])
    r = code(
        "Write a function that squares a number.",
        tests="assert square(3) == 9\nassert square(-2) == 4\n",
        llm=llm,
    )
    assert r.code == "def square(x):\n    return x * x\n"
    assert r.passed is True
    prompt = llm.calls[0].prompt
    assert prompt.endswith("Task: Write a function that squares a number.\n```python\n")
    assert "```" in llm.calls[0].settings.stop


def test_syntax_error_fails_without_running_anything(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("the sandbox must not run code that does not parse")

    monkeypatch.setattr("tools._code_tests.run_sandboxed", no_run)
    r = code(
        "Write a function that squares a number.",
        tests="assert square(3) == 9",
        llm=FakeLLM(["def square(x)\n    return x * x\n"]),
    )
    assert r.passed is False and r.report.startswith("syntax error on line 1")


def test_execute_false_never_starts_a_process(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_popen(*args: object, **kwargs: object) -> None:
        raise AssertionError("no subprocess may start with execute=False")

    monkeypatch.setattr(tools.sandbox.subprocess, "Popen", no_popen)
    r = code(ADD, samples=3, llm=FakeLLM(default="    return a + b\n"), execute=False)
    assert r.passed is None and r.report == "not run: execution is switched off"
    assert len(r.candidates) == 1


def test_other_languages_are_written_not_run() -> None:
    llm = FakeLLM(["function isEven(n) {\n  return n % 2 === 0;\n}\n```"])
    r = code("Write a function that tells whether a number is even.", language="js", llm=llm)
    assert r.language == "javascript" and r.passed is None
    assert "only Python is executed" in r.report
    assert r.code.startswith("function isEven")
    assert llm.calls[0].prompt.endswith("```javascript\n")


@pytest.mark.parametrize(
    "request_text, reply, language, start",
    [
        (
            "I need an SQL query that counts the books per author in the table books.",
            "SELECT author, COUNT(*) AS books\nFROM books\nGROUP BY author;\n```",
            "sql",
            "SELECT author",
        ),
        (
            "could you write me a small Rust function that tells whether a number is even?",
            "fn is_even(n: i64) -> bool {\n    n % 2 == 0\n}\n```",
            "rust",
            "fn is_even",
        ),
    ],
)
def test_a_request_naming_sql_or_rust_gets_that_language(
    request_text: str, reply: str, language: str, start: str
) -> None:
    llm = FakeLLM([reply])
    text, asked = parse_code(request_text, tuple(supported_languages()))
    r = code(text, language=asked, llm=llm)
    assert r.language == language and r.code.startswith(start)
    assert r.code.strip() == reply.removesuffix("```").strip()  # the whole query / function
    assert llm.calls[0].prompt.endswith(f"```{language}\n")


def test_no_tests_and_no_examples_means_one_unrun_candidate() -> None:
    llm = FakeLLM(default="    return a + b\n")
    r = code('def add(a, b):\n    """Add them."""\n', samples=3, llm=llm)
    assert (r.passed, r.tests_source, len(r.candidates)) == (None, "none", 1)
    assert "no tests given" in r.report


def test_endless_candidate_is_stopped_and_reported() -> None:
    r = code(ADD, llm=FakeLLM(["    while True:\n        pass\n"]), timeout_s=1)
    assert r.passed is False
    assert "stopped by the timeout limit" in r.report


def test_candidate_cut_off_by_max_tokens_is_salvaged() -> None:
    r = code(ADD, llm=FakeLLM(["    return a + b\n    x = (1,\n"]))
    assert r.passed is True and r.code.endswith("    return a + b\n")


@pytest.mark.parametrize("language", ["cobol", "", "pythonn"])
def test_unknown_language_lists_the_valid_ones(language: str) -> None:
    with pytest.raises(ToolInputError, match="python") as info:
        code(ADD, language=language, llm=FakeLLM())
    assert info.value.reason == "bad-argument"
    assert supported_languages() == ["bash", "javascript", "python", "rust", "sql"]


def test_aliases_are_accepted() -> None:
    r = code(ADD, language="PY", llm=FakeLLM(["    return a + b\n"]))
    assert r.language == "python"


def test_empty_oversized_and_unreadable_prompts(tmp_path: Path) -> None:
    with pytest.raises(ToolInputError) as empty:
        code("   \n", llm=FakeLLM())
    assert empty.value.reason == "empty"
    with pytest.raises(ToolInputError) as big:
        code("x\n" * 2000, llm=FakeLLM(n_ctx=512))
    assert big.value.reason == "too-large" and "context" in str(big.value)
    with pytest.raises(ToolInputError) as missing:
        code(tmp_path / "missing.py", llm=FakeLLM())
    assert missing.value.reason == "unreadable"


def test_prompt_from_a_python_file(tmp_path: Path) -> None:
    path = tmp_path / "add.py"
    path.write_text(ADD)
    r = code(str(path), llm=FakeLLM(["    return a + b\n"]))
    assert r.passed is True and r.code.startswith("def add(a, b):")


@pytest.mark.parametrize("samples", [0, 17])
def test_bad_sample_count(samples: int) -> None:
    with pytest.raises(ToolInputError, match="samples"):
        code(ADD, samples=samples, llm=FakeLLM())


def test_markdown_and_json_forms() -> None:
    r = code(ADD, llm=FakeLLM(["    return a + b\n"]))
    md = r.to_markdown()
    assert md.startswith("```python\ndef add(a, b):")
    assert "tests passed" in md and "docstring examples" in md and "2/2 tests passed" in md
    d = json.loads(json.dumps(r.to_dict()))
    assert d["candidates"][0]["passed"] is True and d["model"] == "fake"


def test_docstring_example_forms() -> None:
    prompt = '''def f(x):
    """Double it.
    f(2) == 4
    for example f(3) ➞ 6.
    f(a) -> False
    >>> f(1)
    2
    """
'''
    cases = docstring_cases(prompt, "f")
    assert cases == [Case("f(1)", "2"), Case("f(2)", "4"), Case("f(3)", "6")]


def test_completion_prompt_detection() -> None:
    assert is_completion_prompt(ADD)
    assert is_completion_prompt("import math\n\ndef area(r):")
    assert not is_completion_prompt("Write a function that adds two numbers.")
    assert not is_completion_prompt("def add(a, b):\n    return a + b\n")


def test_salvage_keeps_the_prompt_lines() -> None:
    assert salvage("def f(:\n", keep=1) == "def f(:\n"
    assert completion_code("def f():", "    return 1\n    y = [") == "def f():\n    return 1\n"
