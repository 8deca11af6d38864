"""The document-QA suite (``bench/docqa``) is well formed, and its scoring does what it says.

No model: the files are checked against the text that ingest extracts (``memory._readers``), and
the scoring functions of ``bench/bench_docqa.py`` run on made-up replies and citations.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import bench_docqa as dq  # noqa: E402

QUESTIONS = dq.load_questions()
DOCUMENTS = dq.load_documents()


@pytest.fixture(scope="module")
def pages() -> dict[str, list[tuple[int | None, str]]]:
    return {name: dq.page_texts(dq.SUITE / name) for name in DOCUMENTS}


def test_sizes_and_ids() -> None:
    ids = [q.id for q in QUESTIONS]
    assert len(ids) == len(set(ids)), "question ids repeat"
    assert len(QUESTIONS) >= 100
    assert len(DOCUMENTS) >= 15
    assert sum(q.absent for q in QUESTIONS) >= 15
    assert len({m["kind"] for m in DOCUMENTS.values()}) >= 10


def test_every_document_is_listed_and_asked_about() -> None:
    files = {p.name for p in dq.SUITE.iterdir() if p.suffix in {".txt", ".md", ".html", ".pdf"}}
    files.discard("SOURCES.md")
    assert files == set(DOCUMENTS), "documents.json and the folder disagree"
    assert {q.doc for q in QUESTIONS} == set(DOCUMENTS)
    assert {m["origin"] for m in DOCUMENTS.values()} == {"written", "public"}


def test_half_the_questions_are_about_public_documents() -> None:
    public = [q for q in QUESTIONS if DOCUMENTS[q.doc]["origin"] == "public"]
    assert 2 * len(public) >= len(QUESTIONS)
    assert sum(q.absent for q in public) >= 5


def test_every_sentence_is_in_its_documents_extracted_text(pages: dict) -> None:
    for q in QUESTIONS:
        for sentence in dq.sentences(q):
            assert sentence.strip() == sentence and sentence, q.id
            assert dq.locate(sentence, pages[q.doc]) is not None, f"{q.id}: {sentence!r}"


def test_answers_match_their_sentences() -> None:
    """Absent questions accept nothing; when a value is asked for (an accepted answer has a
    digit), one of the accepted answers is in the sentence(s) that hold it."""
    for q in QUESTIONS:
        if q.absent:
            assert q.answer == () and q.also == (), q.id
            continue
        assert q.answer and all(a.strip() for a in q.answer), q.id
        if any(ch.isdigit() for a in q.answer for ch in a):
            assert dq.has_answer(" ".join(dq.sentences(q)), q.answer), q.id


def test_questions_are_not_copied_from_the_documents(pages: dict) -> None:
    for q in QUESTIONS:
        text = " ".join(t for _, t in pages[q.doc]).lower()
        assert q.question.lower().rstrip("?") not in text, q.id


def test_pdf_and_html_are_there_with_text(pages: dict) -> None:
    pdf = [n for n in DOCUMENTS if n.endswith(".pdf")]
    html = [n for n in DOCUMENTS if n.endswith(".html")]
    assert pdf and html
    assert len(pages[pdf[0]]) >= 2 and pages[pdf[0]][1][0] == 2  # a page number per page
    assert "<" not in pages[html[0]][0][1]  # markup gone, boilerplate kept as text


# -- scoring ------------------------------------------------------------------------------------


def test_numbers_must_not_touch_other_digits() -> None:
    assert dq.has_answer("The rent is 950 euros.", ["950"])
    assert not dq.has_answer("The rent is 1,950 euros.", ["950"])
    assert not dq.has_answer("It costs 9.50.", ["950"])
    assert dq.has_answer("A deposit of 2,850 euros", ["2850"])
    assert dq.has_answer("a 5-year warranty", ["5-year"])
    assert not dq.has_answer("within 130 days", ["30 days"])


def test_does_not_say_phrasings() -> None:
    assert dq.says_not_known("Your documents do not say.")
    assert dq.says_not_known("I don't know: you haven't told me that.")
    assert dq.says_not_known("The lease doesn\u2019t mention a late fee.")
    assert not dq.says_not_known("The rent is 950 euros [1].")


def _q(sentence: str | None, answer: tuple[str, ...] = ("950",)) -> dq.Question:
    return dq.Question("x", "lease.txt", "How much is the rent?", answer, sentence)


def _c(n: int, path: str, start: int, end: int, quote: str = "") -> dict:
    return {
        "n": n,
        "path": f"/tmp/{path}",
        "page": None,
        "start": start,
        "end": end,
        "quote": quote,
    }


def _scored(q: dq.Question, reply: str, citations: list[dict]) -> dq.Result:
    r = dq.Result("x", q.doc, "lease", "written", q.absent, q.question, reply, "", citations)
    span = [dq.Span(None, 100, 140)] if q.sentence else []
    return dq.score(r, q, span)


def test_a_right_answer_needs_the_right_passage() -> None:
    q = _q("The monthly base rent is 950 euros.")
    ok = _scored(q, "It is 950 euros [1].", [_c(1, "lease.txt", 90, 150)])
    assert ok.passed and ok.tight
    far = _scored(q, "It is 950 euros [1].", [_c(1, "lease.txt", 300, 400)])
    assert not far.passed and far.failure == "right answer, right doc, wrong passage"
    other = _scored(q, "It is 950 euros.", [_c(1, "house-rules.md", 90, 150)])
    assert other.failure == "right answer, wrong doc"
    # Only the marked citation counts when the reply marks one.
    marked = _scored(
        q, "It is 950 euros [2].", [_c(1, "lease.txt", 90, 150), _c(2, "lease.txt", 500, 600)]
    )
    assert not marked.citation_ok
    wrong = _scored(q, "It is 1,950 euros [1].", [_c(1, "lease.txt", 90, 150)])
    assert wrong.failure == "right passage, wrong answer"


def test_absent_answers_must_say_so_and_invent_nothing() -> None:
    q = _q(None, ())
    assert _scored(q, "Your documents do not say.", []).passed
    invented = _scored(q, "The late fee is 25 euros.", [])
    assert invented.failure == "absent: invented a value" and invented.invented == ["25"]
    quoted = _scored(q, "Rent is due by the 3rd [1].", [_c(1, "lease.txt", 0, 9, "due by the 3rd")])
    assert quoted.failure == "absent: answered from a near-miss passage"
    hedged = _scored(q, "The lease does not say; usually 5%.", [])
    assert hedged.failure == "absent: said does-not-say but added a value"
