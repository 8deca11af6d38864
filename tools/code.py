"""Code generation with test-driven selection: ``code(prompt, language, tests, samples)``.

The model writes up to ``samples`` candidates — the first greedy, the others sampled at
``temperature`` — and each Python candidate is checked as soon as it is written: it must parse,
then it runs against the given ``tests`` or, without them, the examples in the prompt's
docstring, in :func:`tools.sandbox.run_sandboxed` (never in this process). The first candidate
that passes is returned; if none does, the one that passed the most tests (the earliest on a
tie), with its report.

How prompts are built and code extracted is in :mod:`tools._code_prompt` (HumanEval-style
completion for Python signatures with docstrings, few-shot for plain requests); how tests are
found and run is in :mod:`tools._code_tests`.

Deliberate shortcuts: only Python is executed — JavaScript and Bash are generated and returned
with ``passed=None``; a candidate with no tests to run is only checked for syntax
(``passed=None``); generation stops early at the first passing candidate, so ``candidates``
holds only the ones written.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from agent.errors import SandboxError, ToolInputError
from agent.llm.base import LLM
from tools import _code_prompt as prompts
from tools._code_tests import Case, Outcome, docstring_cases, entry_point, run_tests
from tools._common import Result, load_text

__all__ = ["Candidate", "CodeResult", "code", "supported_languages"]

MAX_PROMPT_CHARS = 50_000
MAX_SAMPLES = 16
_CODE_SUFFIXES = {".py", ".js", ".mjs", ".sh", ".bash"}


@dataclass(frozen=True)
class Candidate(Result):
    """One generated candidate and what its tests said."""

    code: str
    passed: bool | None
    """True/False after running its tests; None when nothing ran."""
    report: str
    duration_ms: float
    """Generation plus test time of this candidate."""
    tests_passed: int = 0
    tests_total: int = 0
    temperature: float = 0.0


@dataclass(frozen=True)
class CodeResult(Result):
    """The chosen candidate, how it did, and every candidate written."""

    code: str
    language: str
    passed: bool | None
    """None = not run (execution off, no tests found, or a language that is not executed)."""
    tests_source: str
    """``given`` | ``docstring`` | ``none``."""
    report: str
    candidates: tuple[Candidate, ...]
    chosen: int
    """Index of the returned candidate in ``candidates``."""
    model: str
    isolation: tuple[str, ...] = ()
    """The sandbox layers the tests ran under (empty when nothing ran)."""

    def to_markdown(self) -> str:
        """Fenced code, a one-line verdict, and the short test report."""
        if self.passed is True:
            verdict = "✅ tests passed"
        elif self.passed is False:
            verdict = "❌ tests failed"
        else:
            verdict = "⚪ not tested"
        which = f"candidate {self.chosen + 1} of {len(self.candidates)}"
        source = {"given": "given tests", "docstring": "docstring examples"}.get(
            self.tests_source, "no tests"
        )
        fence = prompts.FENCE.get(self.language, "")
        return (
            f"```{fence}\n{self.code.rstrip()}\n```\n\n"
            f"**{verdict}** ({source}; {which}; {self.model})\n\n{self.report}\n"
        )


def supported_languages() -> list[str]:
    """Language names :func:`code` accepts (aliases such as ``py`` or ``js`` also work)."""
    return sorted(prompts.LANGUAGES)


def code(
    prompt: str | Path,
    language: str = "python",
    tests: str | None = None,
    samples: int = 1,
    *,
    llm: LLM,
    execute: bool = True,
    timeout_s: float = 10.0,
    memory_mb: int = 512,
    temperature: float = 0.8,
    max_tokens: int = 384,
    seed: int | None = None,
) -> CodeResult:
    """Write code for ``prompt``, test the candidates in the sandbox, return the first that passes.

    Args:
        prompt: a request in words, or a Python signature with a docstring (completed as it
            is), or a path to a ``.py``/``.txt``/``.md`` file holding one.
        language: ``python``, ``javascript`` or ``bash`` (or ``py``, ``js``, ``sh``...).
        tests: Python test code (``assert`` lines, or a ``check(candidate)`` function as in
            HumanEval) run against the code; without it, the docstring's examples are used.
        samples: most candidates to write (1 = greedy only).
        llm: the model.
        execute: False never runs anything (``passed`` is None).
        timeout_s, memory_mb: sandbox limits for each candidate's test run.
        temperature: sampling temperature of candidates after the first (greedy) one.
        max_tokens: most tokens per candidate.
        seed: base seed of the sampled candidates (candidate i uses seed + i).

    Returns:
        A :class:`CodeResult`.

    Raises:
        ToolInputError: empty, oversized or unreadable prompt; an unknown language (the
            message lists the valid ones); a bad ``samples``, ``timeout_s`` or ``max_tokens``.
        GenerationError: the model failed.

    Example:
        >>> from agent.llm.fake import FakeLLM
        >>> llm = FakeLLM(["    return a + b\\n"])
        >>> doc = '    \"\"\"\\n    >>> add(2, 3)\\n    5\\n    \"\"\"\\n'
        >>> r = code("def add(a, b):\\n" + doc, llm=llm)
        >>> (r.passed, r.tests_source, r.report)
        (True, 'docstring', '1/1 tests passed')
    """
    lang = _language(language)
    text = _prompt_text(prompt)
    _check_numbers(samples, timeout_s, max_tokens, temperature)
    completion = lang == "python" and prompts.is_completion_prompt(text)
    gen_prompt = (
        text.rstrip("\n") + "\n" if completion else prompts.few_shot_prompt(text.strip(), lang)
    )
    stops = prompts.COMPLETION_STOPS if completion else prompts.FEW_SHOT_STOPS
    if llm.count_tokens(gen_prompt) + max_tokens > llm.n_ctx:
        raise ToolInputError(
            "code",
            "too-large",
            f"the prompt is {llm.count_tokens(gen_prompt)} tokens and the code may use "
            f"{max_tokens}, more than the model's context of {llm.n_ctx}",
            "Shorten the prompt or lower max_tokens.",
        )
    entry = entry_point(text) if completion else None
    cases = docstring_cases(text, entry) if lang == "python" and not tests else []
    tests_source = "given" if tests else ("docstring" if cases else "none")
    runnable = execute and lang == "python" and tests_source != "none"

    candidates: list[Candidate] = []
    isolation: tuple[str, ...] = ()
    for i in range(samples):
        start = time.perf_counter()
        temp = 0.0 if i == 0 else temperature
        reply = llm.complete(
            gen_prompt,
            max_tokens=max_tokens,
            temperature=temp,
            stop=list(stops),
            repeat_penalty=1.0,  # code repeats itself (indentation, names) by nature
            seed=None if seed is None or i == 0 else seed + i,
        )
        body = (
            prompts.completion_code(text, reply.text)
            if completion
            else prompts.few_shot_code(reply.text)
        )
        outcome = _check(body, lang, runnable, execute, tests, cases, entry, timeout_s, memory_mb)
        isolation = outcome.isolation or isolation
        candidates.append(
            Candidate(
                code=body,
                passed=outcome.passed,
                report=outcome.report,
                duration_ms=(time.perf_counter() - start) * 1000,
                tests_passed=outcome.tests_passed,
                tests_total=outcome.tests_total,
                temperature=temp,
            )
        )
        if outcome.passed is True or not runnable:
            break  # nothing better to select by when the tests cannot run
    chosen = _choose(candidates)
    best = candidates[chosen]
    return CodeResult(
        code=best.code,
        language=lang,
        passed=best.passed,
        tests_source=tests_source,
        report=best.report,
        candidates=tuple(candidates),
        chosen=chosen,
        model=llm.model_name,
        isolation=isolation,
    )


def _check(
    body: str,
    lang: str,
    runnable: bool,
    execute: bool,
    tests: str | None,
    cases: list[Case],
    entry: str | None,
    timeout_s: float,
    memory_mb: int,
) -> Outcome:
    """Syntax-check and (when possible) test one candidate."""
    total = len(cases) + (1 if tests else 0)
    if lang != "python":
        return Outcome(None, 0, 0, f"not run: only Python is executed, not {lang}")
    error = prompts.syntax_error(body)
    if error:
        return Outcome(False if runnable else None, 0, total, error)
    if not execute:
        return Outcome(None, 0, total, "not run: execution is switched off")
    if not runnable:
        return Outcome(None, 0, 0, "not run: no tests given and no examples in the docstring")
    try:
        return run_tests(
            body,
            cases=cases,
            tests=tests,
            entry=entry or entry_point(body),
            timeout_s=timeout_s,
            memory_mb=memory_mb,
        )
    except SandboxError as exc:
        return Outcome(None, 0, total, f"not run: {exc}")


def _choose(candidates: list[Candidate]) -> int:
    """The first that passed; else the most tests passed, earliest first; else the first."""
    for i, c in enumerate(candidates):
        if c.passed is True:
            return i
    best = max(range(len(candidates)), key=lambda i: (candidates[i].tests_passed, -i))
    if candidates[best].tests_passed > 0:
        return best
    parses = [i for i, c in enumerate(candidates) if not prompts.syntax_error(c.code)]
    return parses[0] if parses else 0


def _language(language: str) -> str:
    name = language.strip().lower()
    name = prompts.ALIASES.get(name, name)
    if name not in prompts.LANGUAGES:
        raise ToolInputError(
            "code",
            "bad-argument",
            f"unknown language {language!r}",
            f"Use one of: {', '.join(supported_languages())} (Python is the one that runs).",
        )
    return name


def _prompt_text(prompt: str | Path) -> str:
    path = Path(prompt) if isinstance(prompt, Path) else None
    if isinstance(prompt, str) and "\n" not in prompt and 0 < len(prompt) < 4096:
        candidate = Path(prompt.strip()).expanduser()
        try:
            if candidate.suffix in _CODE_SUFFIXES and candidate.is_file():
                path = candidate
        except OSError:  # a name too long to be a file: it is text
            pass
    if path is not None and path.suffix in _CODE_SUFFIXES:
        try:
            prompt = path.expanduser().read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ToolInputError(
                "code", "unreadable", f"{path} cannot be read ({exc})", "Check the path."
            ) from exc
    text, _ = load_text("code", prompt, max_chars=MAX_PROMPT_CHARS)
    return text


def _check_numbers(samples: int, timeout_s: float, max_tokens: int, temperature: float) -> None:
    problems = []
    if not 1 <= samples <= MAX_SAMPLES:
        problems.append(f"samples is {samples}; use 1 to {MAX_SAMPLES}")
    if timeout_s <= 0:
        problems.append(f"timeout_s is {timeout_s}; use a positive number of seconds")
    if max_tokens < 1:
        problems.append(f"max_tokens is {max_tokens}; use at least 1")
    if temperature < 0:
        problems.append(f"temperature is {temperature}; use 0 or more")
    if problems:
        raise ToolInputError("code", "bad-argument", "; ".join(problems), "Fix the argument.")
