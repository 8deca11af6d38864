"""Prompts for the code tool and getting the code back out of what the model wrote.

Two prompt shapes, because the default model is a small *base* model that continues text:

- **Completion**: a Python prompt that ends in a function signature or docstring (HumanEval
  style) is given to the model as it is; the model writes the body, which ends at the first
  line back at column 0. The code is the prompt plus that body.
- **Few-shot**: anything else (a plain-English request, another language) goes after a few
  request → fenced-code examples written for this tool, and the answer ends at the closing
  fence.

The examples here are our own small tasks, deliberately unrelated to HumanEval's problems, so
that the benchmark does not measure prompts tuned on it.
"""

from __future__ import annotations

import ast
import re

LANGUAGES = {
    "python": "Python",
    "javascript": "JavaScript",
    "bash": "Bash",
    "sql": "SQL",
    "rust": "Rust",
}
"""Languages the tool writes (name -> label in the prompt). Only Python is executed."""
ALIASES = {"py": "python", "python3": "python", "js": "javascript", "node": "javascript",
           "sh": "bash", "shell": "bash"}  # fmt: skip
FENCE = {
    "python": "python",
    "javascript": "javascript",
    "bash": "bash",
    "sql": "sql",
    "rust": "rust",
}

COMPLETION_STOPS = ("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#", "\n@", "\n```")
FEW_SHOT_STOPS = ("```", "\nTask:")

_EXAMPLES: dict[str, list[tuple[str, str]]] = {
    "python": [
        (
            "Write a function that returns the largest of three numbers.",
            "def largest(a, b, c):\n    return max(a, b, c)",
        ),
        (
            "Write a function that counts the vowels in a string.",
            'def count_vowels(text):\n    return sum(1 for ch in text.lower() if ch in "aeiou")',
        ),
        (
            "Write a function that reverses the order of the words in a sentence.",
            "def reverse_words(sentence):\n"
            "    words = sentence.split()\n"
            '    return " ".join(reversed(words))',
        ),
    ],
    "javascript": [
        (
            "Write a function that returns the largest of three numbers.",
            "function largest(a, b, c) {\n  return Math.max(a, b, c);\n}",
        ),
        (
            "Write a function that counts the vowels in a string.",
            "function countVowels(text) {\n"
            "  return [...text.toLowerCase()].filter((ch) => 'aeiou'.includes(ch)).length;\n}",
        ),
    ],
    "bash": [
        ("Print the number of lines in the file data.txt.", "wc -l < data.txt"),
        (
            "Make a directory called backup and copy every .txt file into it.",
            "mkdir -p backup\ncp -- *.txt backup/",
        ),
    ],
    "rust": [
        (
            "Write a function that returns the largest of three numbers.",
            "fn largest(a: i64, b: i64, c: i64) -> i64 {\n    a.max(b).max(c)\n}",
        ),
        (
            "Write a function that counts the vowels in a string.",
            "fn count_vowels(text: &str) -> usize {\n"
            '    text.chars().filter(|c| "aeiouAEIOU".contains(*c)).count()\n}',
        ),
    ],
    "sql": [
        ("Count the rows of the table people.", "SELECT COUNT(*) FROM people;"),
        (
            "List each city of the table shops with how many shops it has, most first.",
            "SELECT city, COUNT(*) AS shops\nFROM shops\nGROUP BY city\nORDER BY shops DESC;",
        ),
    ],
}


def is_completion_prompt(prompt: str) -> bool:
    """True for Python that ends inside a function waiting for its body (HumanEval style)."""
    text = prompt.rstrip()
    if not re.search(r"^\s*def\s+\w+\s*\(", text, re.M):
        return False
    if not (text.endswith(":") or text.endswith('"""') or text.endswith("'''")):
        return False
    for attempt in (text, text + "\n    pass"):
        try:
            tree = ast.parse(attempt)
        except SyntaxError:
            continue
        last = tree.body[-1] if tree.body else None
        return isinstance(last, ast.FunctionDef | ast.AsyncFunctionDef)
    return False


def few_shot_prompt(request: str, language: str) -> str:
    """The few-shot prompt for a plain request, ending where the model starts the code."""
    fence = FENCE[language]
    shots = [f"Task: {task}\n```{fence}\n{code}\n```\n" for task, code in _EXAMPLES[language]]
    return "\n".join([*shots, f"Task: {' '.join(request.split())}\n```{fence}\n"])


def completion_code(prompt: str, continuation: str) -> str:
    """The prompt plus the function body the model wrote, cut where the body ends."""
    body: list[str] = []
    for line in continuation.split("\n"):
        if line.strip() and not line[0].isspace():
            break  # back at column 0: the function is over
        body.append(line)
    code = prompt.rstrip("\n") + "\n" + "\n".join(body).rstrip() + "\n"
    return salvage(code, keep=prompt.rstrip("\n").count("\n") + 1)


def few_shot_code(continuation: str) -> str:
    """The code of a few-shot answer (a fence the model opened itself is removed)."""
    text = continuation.strip("\n")
    m = re.match(r"^```\w*\n(.*?)(?:\n```|$)", text, re.S)
    if m:
        text = m.group(1)
    return text.rstrip() + "\n"


def salvage(code: str, keep: int = 0) -> str:
    """``code`` with trailing lines dropped until it parses (a reply cut off by max_tokens).

    The first ``keep`` lines (the user's prompt) are never dropped; if nothing parses the code
    is returned unchanged so the syntax error is reported.
    """
    lines = code.rstrip("\n").split("\n")
    for end in range(len(lines), max(keep, 1) - 1, -1):
        candidate = "\n".join(lines[:end]) + "\n"
        try:
            ast.parse(candidate)
        except SyntaxError:
            continue
        return candidate
    return code


def syntax_error(code: str) -> str | None:
    """A one-line description of the first syntax error in ``code``, or None."""
    try:
        ast.parse(code)
    except SyntaxError as exc:
        return f"syntax error on line {exc.lineno}: {exc.msg}"
    return None
