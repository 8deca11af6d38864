"""Questions about documents: is the answer right, is it cited, and is "does not say" said?

    .venv/bin/python bench/bench_docqa.py [--model NAME] [--per-doc] [--limit N] [--ids a,b]
        [--settings key=value ...] [--show] [--json OUT] [--tree PATH]

The suite is ``bench/docqa/``: the documents (``documents.json`` gives each one's kind and
whether we wrote it or it is a public text; ``SOURCES.md`` where the public ones come from) and
``questions.jsonl``, one question a line::

    {"id": "lease-rent", "doc": "lease.txt", "question": "How much is the rent ...?",
     "answer": ["950"], "sentence": "The monthly base rent is 950 euros."}

``answer`` lists accepted substrings (any one will do); ``sentence`` is the exact substring of
the document's extracted text (``memory._readers.read_pages``, what ingest indexes) that holds
the answer, or null when the document does not hold it ("does not say" is then expected). An
optional ``also`` lists other sentences of the document that hold the same answer (the action
item that repeats a decision); citing any of them counts.

By default every document is ingested into one fresh data directory and every question is asked
there, each in a fresh thread: the realistic case, where the right document has to be found
among all of them. ``--per-doc`` ingests each document alone and asks only its questions.
``--tree PATH`` scores another checkout's code (e.g. a ``git worktree`` of a commit), as in
``bench_conversations.py``.

Scores, per question:

- **answer**: an accepted substring is in the reply, case-insensitive, after thousands
  separators between digits are dropped ("2,850" == "2850"); an accepted value that starts or
  ends with a digit must not touch another digit ("950" is not found in "1950").
- **citation**: one of the considered citations is the right file and its span (page, start,
  end) overlaps the expected sentence's, or its quote contains it. The considered citations are
  those the reply marks as ``[n]``, or all of ``turn.citations`` when it marks none.
- **tight**: such a citation is also short: at most twice the sentence's length plus 200
  characters (a sentence-level citation, not a whole chunk).
- **does not say** (absent answers): the reply says it does not know (:data:`convsuite.UNKNOWN`)
  or that the documents do not say/mention it (:data:`DOES_NOT_SAY`), and it invents no value:
  every number in it (``[n]`` markers aside) is in the question or in a cited quote. A reply
  that does not say "does not say" is classed apart: a value invented, or an answer taken from a
  near-miss passage (the document talks about the topic, not about the asked value).

A present answer passes when answer and citation are both right; an absent one when "does not
say" holds. Each failure gets one class (:func:`failure_class`) so that a run shows what to fix.
Printed: the machine, per kind of document and per origin (written by us / public), the share
of questions that pass, the parts, the median turn latency, then the failures by class.

Deliberate choices: ``temperature=0``; the user's configuration and ``LOREBOOK_*`` variables are
ignored (as in ``bench_conversations.py``, whose helpers this reuses); substring scoring is
crude, so accepted values were chosen to be distinctive and a yes/no answer lists its phrasings.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
SUITE = BENCH / "docqa"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from convsuite import UNKNOWN  # noqa: E402

DOES_NOT_SAY = re.compile(
    r"\b(?:do(?:es)? not|don'?t|doesn'?t|did not|didn'?t|never) (?:say|mention|state|specify|"
    r"give|list|include|contain|cover|provide)"
    r"|\bnot (?:mentioned|stated|specified|given|listed|included|found|available)"
    r"|\bno (?:mention|information|details?|data)\b"
    r"|\bnothing (?:about|on|in)\b",
    re.I,
)
""""The documents do not say": the phrasings that :data:`convsuite.UNKNOWN` lacks."""

_MARKER = re.compile(r"\[(\d+)\]")
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_THOUSANDS = re.compile(r"(?<=\d)[,\u00a0\u202f'](?=\d{3}\b)")


# -- the suite ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Question:
    id: str
    doc: str
    question: str
    answer: tuple[str, ...]
    sentence: str | None
    also: tuple[str, ...] = ()
    """Other sentences of the same document that hold the answer too (a summary line that
    repeats it): citing one of them is as good."""

    @property
    def absent(self) -> bool:
        return self.sentence is None


@dataclass(frozen=True)
class Span:
    """Where a question's sentence is: the page (None outside PDFs) and offsets in its text."""

    page: int | None
    start: int
    end: int


def load_documents(suite: Path = SUITE) -> dict[str, dict[str, str]]:
    """``documents.json``: file name -> {"kind", "origin"}."""
    return json.loads((suite / "documents.json").read_text(encoding="utf-8"))


def load_questions(suite: Path = SUITE) -> list[Question]:
    """``questions.jsonl`` in file order.

    Raises:
        ValueError: a line that is not a question (which line, and what is wrong).
    """
    out = []
    lines = (suite / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            out.append(
                Question(
                    d["id"],
                    d["doc"],
                    d["question"],
                    tuple(d["answer"]),
                    d["sentence"],
                    tuple(d.get("also", ())),
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"questions.jsonl line {n}: {exc!r}") from exc
    return out


def page_texts(path: Path) -> list[tuple[int | None, str]]:
    """The document's pages as ingest extracts them."""
    from memory._readers import read_pages

    return read_pages(path, path.read_bytes())


def locate(sentence: str, pages: list[tuple[int | None, str]]) -> Span | None:
    """The first place ``sentence`` occurs in ``pages``, or None."""
    for page, text in pages:
        i = text.find(sentence)
        if i >= 0:
            return Span(page, i, i + len(sentence))
    return None


# -- scoring -------------------------------------------------------------------------------------


def _norm(text: str) -> str:
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u2013", "-")
    text = _THOUSANDS.sub("", text.lower())
    return " ".join(text.split())


def has_answer(reply: str, accepted: tuple[str, ...] | list[str]) -> bool:
    """Whether one accepted value is in ``reply`` (see the module docstring for the rules).

    Example:
        >>> has_answer("The rent is 1,950 euros.", ["950"]), has_answer("It is 950 €.", ["950"])
        (False, True)
    """
    text = _norm(reply)
    for value in accepted:
        v = _norm(value)
        pattern = re.escape(v)
        if v[:1].isdigit():
            pattern = r"(?<![\d.])" + pattern
        if v[-1:].isdigit():
            pattern += r"(?![\d]|[.,]\d)"
        if re.search(pattern, text):
            return True
    return False


def says_not_known(reply: str) -> bool:
    """Whether ``reply`` says it does not know, or that the documents do not say."""
    text = reply.replace("\u2019", "'")
    return bool(UNKNOWN.search(text) or DOES_NOT_SAY.search(text))


def invented_values(reply: str, given: str) -> list[str]:
    """Numbers in ``reply`` (``[n]`` markers aside) that ``given`` (the question and the cited
    quotes) does not contain."""
    asked = set(_NUMBER.findall(_norm(given)))
    return [n for n in _NUMBER.findall(_norm(_MARKER.sub(" ", reply))) if n not in asked]


def considered(reply: str, citations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The citations the reply marks with ``[n]``, or all of them when it marks none."""
    marked = {int(m) for m in _MARKER.findall(reply)}
    chosen = [c for c in citations if c["n"] in marked]
    return chosen or citations


def cites(c: dict[str, Any], doc: str, sentence: str, span: Span) -> bool:
    """Whether citation ``c`` is of ``doc`` and covers (part of) ``sentence`` at ``span``."""
    if Path(c["path"]).name != doc:
        return False
    if sentence in c["quote"]:
        return True
    return c["page"] == span.page and c["start"] < span.end and span.start < c["end"]


def sentences(q: Question) -> list[str]:
    """The sentences that hold ``q``'s answer: ``sentence`` first, then ``also``."""
    return [q.sentence, *q.also] if q.sentence is not None else []


@dataclass
class Result:
    """One question asked and scored."""

    id: str
    doc: str
    kind: str
    origin: str
    absent: bool
    question: str
    reply: str = ""
    route: str = ""
    citations: list[dict[str, Any]] = field(default_factory=list)
    answer_ok: bool = False
    cited_doc: bool = False
    citation_ok: bool = False
    tight: bool = False
    not_known: bool = False
    invented: list[str] = field(default_factory=list)
    """Numbers in the reply that neither the question nor a cited quote holds."""
    passed: bool = False
    failure: str = ""
    wall_ms: float = 0.0
    error: str | None = None


def score(result: Result, q: Question, spans: list[Span]) -> Result:
    """Fill ``result``'s verdicts from its reply and citations (``spans``: where each of
    :func:`sentences` is)."""
    r = result
    cands = considered(r.reply, r.citations)
    r.cited_doc = any(Path(c["path"]).name == q.doc for c in cands)
    r.not_known = says_not_known(r.reply)
    if q.absent:
        quotes = " ".join(c["quote"] for c in r.citations)
        r.invented = invented_values(r.reply, q.question + " " + quotes)
        r.passed = r.not_known and not r.invented and r.error is None
    else:
        r.answer_ok = has_answer(r.reply, q.answer)
        for sentence, span in zip(sentences(q), spans, strict=True):
            hits = [c for c in cands if cites(c, q.doc, sentence, span)]
            r.citation_ok = r.citation_ok or bool(hits)
            limit = 2 * len(sentence) + 200
            r.tight = r.tight or any(c["end"] - c["start"] <= limit for c in hits)
        r.passed = r.answer_ok and r.citation_ok and r.error is None
    r.failure = "" if r.passed else failure_class(r)
    return r


def failure_class(r: Result) -> str:
    """One name for what went wrong, the first that applies, in the order a fix would go."""
    if r.error is not None:
        return "error"
    if r.absent:
        if r.not_known:
            return "absent: said does-not-say but added a value"
        if r.invented:
            return "absent: invented a value"
        return "absent: answered from a near-miss passage" if r.citations else "absent: answered"
    if r.answer_ok:
        if not r.citations:
            return "right answer, no citation"
        return (
            "right answer, right doc, wrong passage" if r.cited_doc else "right answer, wrong doc"
        )
    if r.not_known:
        return "said does-not-say" + (" (right passage cited)" if r.citation_ok else "")
    if not r.citations:
        return "no citation, wrong answer"
    if not r.cited_doc:
        return "wrong doc"
    if not r.citation_ok:
        return "right doc, wrong passage"
    return "right passage, wrong answer"


# -- running ------------------------------------------------------------------------------------


def ask(agent: Any, q: Question, meta: dict[str, str], spans: list[Span]) -> Result:
    """Ask ``q`` in a fresh thread of ``agent`` and score the turn."""
    r = Result(q.id, q.doc, meta["kind"], meta["origin"], q.absent, q.question)
    start = time.perf_counter()
    try:
        turn = agent.chat(q.question, thread=f"docqa-{q.id}")
        r.reply, r.route = turn.text, turn.route
        r.citations = [
            {
                "n": c.n,
                "path": c.path,
                "page": c.page,
                "start": c.start,
                "end": c.end,
                "score": round(float(c.score), 4),
                "quote": c.quote,
            }
            for c in turn.citations
        ]
    except Exception as exc:  # a benchmark records the failure and goes on
        r.error = f"{type(exc).__name__}: {exc}"
    r.wall_ms = (time.perf_counter() - start) * 1000
    return score(r, q, spans)


def _pct(k: int, n: int) -> str:
    return f"{k}/{n} {100 * k / n:5.1f}%" if n else "-"


def summarize(results: list[Result]) -> dict[str, Any]:
    """Counts per kind, per origin and overall (present / absent questions apart)."""

    def block(rs: list[Result]) -> dict[str, int]:
        present = [r for r in rs if not r.absent]
        absent = [r for r in rs if r.absent]
        return {
            "present": len(present),
            "passed": sum(r.passed for r in present),
            "answer": sum(r.answer_ok for r in present),
            "citation": sum(r.citation_ok for r in present),
            "tight": sum(r.tight and r.answer_ok for r in present),
            "absent": len(absent),
            "not_known": sum(r.passed for r in absent),
        }

    kinds = sorted({r.kind for r in results}, key=lambda k: [r.kind for r in results].index(k))
    ms = [r.wall_ms for r in results if r.error is None]
    return {
        "kinds": {k: block([r for r in results if r.kind == k]) for k in kinds},
        "origins": {o: block([r for r in results if r.origin == o]) for o in ("written", "public")},
        "overall": block(results),
        "failures": dict(Counter(r.failure for r in results if r.failure).most_common()),
        "median_turn_s": round(statistics.median(ms) / 1000, 2) if ms else None,
        "p90_turn_s": round(statistics.quantiles(ms, n=10)[-1] / 1000, 2) if len(ms) > 1 else None,
        "questions": len(results),
        "errors": sum(r.error is not None for r in results),
    }


def report(summary: dict[str, Any], head: list[str]) -> str:
    """The printed table."""
    lines = list(head)
    lines.append(
        f"  {'':<20}{'answer+citation':>18}{'answer':>16}{'citation':>16}"
        f"{'tight+answer':>16}{'does-not-say':>16}"
    )

    def row(name: str, b: dict[str, int]) -> str:
        n = b["present"]
        return (
            f"  {name:<20}{_pct(b['passed'], n):>18}{_pct(b['answer'], n):>16}"
            f"{_pct(b['citation'], n):>16}{_pct(b['tight'], n):>16}"
            f"{_pct(b['not_known'], b['absent']):>16}"
        )

    for name, b in summary["kinds"].items():
        lines.append(row(name, b))
    lines.append("")
    for name, b in summary["origins"].items():
        if b["present"] or b["absent"]:
            lines.append(row(f"{name} docs", b))
    lines.append(row("overall", summary["overall"]))
    lines.append(
        f"median turn {summary['median_turn_s']} s, p90 {summary['p90_turn_s']} s "
        f"({summary['questions']} questions, {summary['errors']} raised)"
    )
    if summary["failures"]:
        lines.append("failures by class")
        for name, n in summary["failures"].items():
            lines.append(f"  {n:>4}  {name}")
    return "\n".join(lines)


def explain(r: Result, q: Question) -> str:
    """Two or three lines on a failed question, for the log."""
    cited = ", ".join(
        f"[{c['n']}] {Path(c['path']).name}:{c['start']}-{c['end']}" for c in r.citations
    )
    want = "does not say" if q.absent else f"{list(q.answer)} in {q.doc}"
    reply = " ".join(r.reply.split())
    return (
        f"    {r.failure or 'ok'}: {q.question}\n"
        f"      want {want}; got ({r.route}) {reply[:300]!r}\n"
        f"      cited: {cited or '-'}" + (f"\n      error: {r.error}" if r.error else "")
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", help="registry name or .gguf path (default: the packaged default)")
    p.add_argument("--per-doc", action="store_true", help="ingest each document alone")
    p.add_argument("--limit", type=int, help="at most this many questions")
    p.add_argument("--ids", default="", help="only these question ids, comma-separated")
    p.add_argument(
        "--settings",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a Settings field passed to Agent.open (repeat); default temperature=0",
    )
    p.add_argument("--show", action="store_true", help="print every question and reply")
    p.add_argument("--json", type=Path, help="write every result here (and the table to .txt)")
    p.add_argument("--suite", type=Path, default=SUITE, help="the suite folder")
    p.add_argument("--tree", type=Path, help="score the code of this checkout instead")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from bench_conversations import (
        import_agent,
        isolate_environment,
        resolve_model,
        settings_from,
        tree_label,
    )

    isolate_environment()
    Agent = import_agent(args.tree)
    tree = (args.tree or BENCH.parent).resolve()
    from _machine import cpu_name

    docs = load_documents(args.suite)
    questions = load_questions(args.suite)
    ids = {i.strip() for i in args.ids.split(",") if i.strip()}
    if ids:
        questions = [q for q in questions if q.id in ids]
    questions = questions[: args.limit] if args.limit else questions
    pages = {name: page_texts(args.suite / name) for name in {q.doc for q in questions}}
    spans: dict[str, list[Span]] = {}
    for q in questions:
        found = [locate(s, pages[q.doc]) for s in sentences(q)]
        if None in found:
            raise SystemExit(f"{q.id}: a sentence is not in {q.doc}; run the suite's test")
        spans[q.id] = [s for s in found if s is not None]
    settings = settings_from(args.settings)
    mode = "one document at a time" if args.per_doc else "all documents ingested together"
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="lorebook-docqa-") as tmp:
        model_path, model_name = resolve_model(args.model, Path(tmp))
        command = " ".join(["bench/bench_docqa.py", *(sys.argv[1:] if argv is None else argv)])
        head = [
            f"command: {command}",
            f"machine: {cpu_name()}, {os.cpu_count()} cores",
            f"model: {model_name} ({model_path}), settings: {settings}",
            f"code: {tree} ({tree_label(tree)}), {dt.date.today().isoformat()}",
            f"suite: {len(questions)} questions ({sum(q.absent for q in questions)} absent) "
            f"over {len(pages)} documents, {mode}",
        ]
        print("\n".join(head), flush=True)
        ordered = [n for n in docs if n in pages]  # documents.json's order
        groups = [[n] for n in ordered] if args.per_doc else [ordered]
        for group in groups:
            home = Path(tempfile.mkdtemp(prefix="home-", dir=tmp))
            agent = Agent.open(home, model=model_path, **settings)
            try:
                start = time.perf_counter()
                agent.ingest([args.suite / n for n in group], progress=False)
                print(
                    f"ingested {len(group)} document(s) in {time.perf_counter() - start:.1f} s",
                    flush=True,
                )
                for q in (q for q in questions if q.doc in group):
                    r = ask(agent, q, docs[q.doc], spans[q.id])
                    results.append(r)
                    mark = "ok " if r.passed else "FAIL"
                    print(
                        f"[{len(results)}/{len(questions)}] {mark} {q.id:<28}"
                        f" {r.wall_ms / 1000:5.1f}s",
                        flush=True,
                    )
                    if args.show or not r.passed:
                        print(explain(r, q), flush=True)
            finally:
                agent.close()
    summary = summarize(results)
    text = report(summary, head)
    print("\n" + text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        rows = []
        for r in results:
            d = asdict(r)
            for c in d["citations"]:
                c["path"] = Path(c["path"]).name
                c["quote"] = c["quote"][:300]
            rows.append(d)
        data = {"head": head, "summary": summary, "results": rows}
        args.json.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
        args.json.with_suffix(".txt").write_text(text + "\n", encoding="utf-8")
        print(f"\nresults: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
