"""tools.review with fakes: rules, the hash embedder, and a scripted model.

The contract below was written for these tests (the evaluation uses real texts, see
bench/bench_review.py); it has a clear sentence for every category and one risk per flag.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import tools.review
from agent.errors import GenerationError, ToolInputError
from agent.llm.fake import FakeLLM
from memory.embeddings import HashEmbedder
from tools._review_model import SCHEMA, locate
from tools.review import CATEGORIES, REVIEW_SCHEMA, Review, review

CONTRACT = """SOFTWARE LICENSE AGREEMENT

This Agreement is entered into between Acme Widgets Inc. ("Licensor") and Beta Labs GmbH ("Licensee").
This Agreement is effective as of January 5, 2024.

1. Term. The initial term of this Agreement is one year and it renews automatically for successive one-year periods.

2. Termination. Licensor may terminate this Agreement at any time for any reason.

3. License. Licensor grants Licensee a perpetual, irrevocable, non-exclusive license to use the Software.

4. Fees. Licensee shall pay a license fee of $5,000.00 within thirty (30) days of each invoice.

5. Confidentiality. Licensee shall keep all Confidential Information of Licensor in strict confidence.

6. Data. Licensor processes personal data in accordance with the GDPR.

7. Warranty. THE SOFTWARE IS PROVIDED "AS IS" WITHOUT WARRANTY OF ANY KIND.

8. Liability. Licensor shall be fully liable for any damages caused by gross negligence. In no event shall Licensee be liable for indirect damages.

9. Indemnity. Licensee shall indemnify and hold Licensor harmless from any and all claims.

10. Assignment. Licensee may not assign this Agreement without the prior written consent of Licensor.

11. Non-compete. Licensee shall not develop any product that competes with the Software.

12. Law. This Agreement is governed by the laws of the State of New York.

13. Disputes. The parties submit to the exclusive jurisdiction of the courts of New York.

14. Customer Data. Licensee grants Licensor a licence to host the files Licensee uploads.

15. Ownership. Licensor retains all intellectual property rights in the Software.

16. Use Restrictions. Licensee must not use the Software to send spam or distribute malware.

17. Changes. Licensor may amend these terms on thirty days' notice.

18. Cancellation. Licensee may cancel the subscription by written notice.
"""  # noqa: E501


def _verbatim(doc: str, r: Review) -> None:
    for f in r.findings:
        assert doc[f.start : f.end] == f.quote
    for e in r.entities:
        assert doc[e.start : e.end] == e.text
    for k in r.risks:
        assert doc[k.start : k.end] == k.quote


def test_taxonomy_has_the_issue_categories() -> None:
    wanted = {
        "parties", "effective_date", "term_renewal", "termination", "governing_law",
        "jurisdiction", "limitation_of_liability", "indemnification", "warranty_disclaimer",
        "confidentiality", "ip_license", "assignment", "non_compete", "payment",
        "data_protection",
    }  # fmt: skip
    assert wanted <= set(CATEGORIES)


def test_exported_names_sorted_and_present() -> None:
    names = tools.review.__all__
    assert names == sorted(names)
    assert all(getattr(tools.review, n) is not None for n in names)


def test_rules_find_every_category_with_verbatim_quotes() -> None:
    r = review(CONTRACT)
    found = {f.category for f in r.findings}
    assert found == set(CATEGORIES)
    assert r.missing == ()
    assert r.model is None
    assert {f.method for f in r.findings} == {"rules"}
    _verbatim(CONTRACT, r)
    law = [f for f in r.findings if f.category == "governing_law"]
    assert any("laws of the State of New York" in f.quote for f in law)


def test_missing_lists_categories_not_found() -> None:
    r = review("This Agreement is governed by the laws of Germany.")
    assert [f.category for f in r.findings] == ["governing_law"]
    assert set(r.missing) == set(CATEGORIES) - {"governing_law"}


def test_entities() -> None:
    r = review(CONTRACT)
    got = {(e.kind, e.text) for e in r.entities}
    assert ("money", "$5,000.00") in got
    assert ("date", "January 5, 2024") in got
    assert ("duration", "thirty (30) days") in got
    assert ("jurisdiction", "New York") in got
    assert ("party", "Acme Widgets Inc.") in got
    assert ("party", "Licensee") in got
    _verbatim(CONTRACT, r)


def test_jurisdiction_only_in_legal_context() -> None:
    r = review("We ship to Germany. Germany is nice.")
    assert not [e for e in r.entities if e.kind == "jurisdiction"]


def test_risk_flags_with_reasons_and_quotes() -> None:
    r = review(CONTRACT)
    flags = {k.flag: k for k in r.risks}
    for flag in (
        "unlimited_liability",
        "automatic_renewal",
        "one_sided_termination",
        "broad_indemnity",
        "perpetual_irrevocable_licence",
        "no_warranty",
    ):
        assert flag in flags, flag
        assert flags[flag].reason
    assert "at any time for any reason" in flags["one_sided_termination"].quote
    _verbatim(CONTRACT, r)


def test_no_risk_in_a_neutral_text() -> None:
    assert review("The parties met in a room and talked about the weather.").risks == ()


def test_summary_names_kind_parties_and_risks() -> None:
    s = review(CONTRACT).summary
    assert s.startswith(
        f"A licence agreement with {len(CATEGORIES)} of {len(CATEGORIES)} clause types"
    )
    assert "Acme Widgets Inc." in s
    assert "New York" in s
    assert "Watch:" in s


def test_markdown_report() -> None:
    md = review(CONTRACT).to_markdown()
    assert md.startswith("# Legal review: text\n")
    for heading in ("## Summary", "## Risks", "## Clauses", "### Governing law", "## Entities"):
        assert heading in md
    assert "governed by the laws of the State of New York" in md


def _check(value: Any, schema: dict[str, Any], where: str = "$") -> None:
    """A small JSON-schema checker for the keywords REVIEW_SCHEMA uses."""
    if "enum" in schema:
        assert value in schema["enum"], where
    kinds = schema.get("type")
    if kinds is not None:
        kinds = kinds if isinstance(kinds, list) else [kinds]
        py = {
            "object": dict,
            "array": list,
            "string": str,
            "integer": int,
            "null": type(None),
            "boolean": bool,
        }
        ok = any(
            isinstance(value, (int, float)) if k == "number" else isinstance(value, py[k])
            for k in kinds
        )
        assert ok, f"{where}: {value!r} is not {kinds}"
    if isinstance(value, dict):
        assert set(schema["required"]) <= set(value), where
        if schema.get("additionalProperties") is False:
            assert set(value) <= set(schema["properties"]), where
        for key, sub in schema["properties"].items():
            if key in value:
                _check(value[key], sub, f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            _check(item, schema["items"], f"{where}[{i}]")
    if "minimum" in schema:
        assert value >= schema["minimum"], where
    if "maximum" in schema:
        assert value <= schema["maximum"], where


def test_to_dict_matches_schema_and_is_json() -> None:
    d = review(CONTRACT).to_dict()
    _check(d, REVIEW_SCHEMA)
    assert json.loads(json.dumps(d)) == d


def test_schema_checker_catches_a_bad_result() -> None:
    d = review(CONTRACT).to_dict()
    d["findings"][0]["category"] = "weather"
    with pytest.raises(AssertionError):
        _check(d, REVIEW_SCHEMA)


def test_path_input(tmp_path: Path) -> None:
    f = tmp_path / "nda.txt"
    f.write_text(CONTRACT)
    r = review(f)
    assert r.path == str(f)
    assert r.to_markdown().startswith(f"# Legal review: {f}\n")


@pytest.mark.parametrize(
    ("source", "kwargs", "reason"),
    [
        ("   \n ", {}, "empty"),
        ("x" * 50, {"max_chars": 10}, "too-large"),
        (Path("/nonexistent/contract.txt"), {}, "unreadable"),
    ],
)
def test_input_errors(source: Any, kwargs: dict[str, Any], reason: str) -> None:
    with pytest.raises(ToolInputError) as err:
        review(source, **kwargs)
    assert err.value.reason == reason


# --- embeddings ----------------------------------------------------------------------------

COMPETE = (
    "You may not use the software to build a product that competes with the licensor's products."
)


def test_rules_alone_leave_a_half_matched_clause_out() -> None:
    assert "non_compete" in review(COMPETE).missing


def test_embedding_finds_a_clause_close_to_a_prototype() -> None:
    # Identical to a non_compete prototype: cosine 1.0 with the hash embedder.
    r = review(COMPETE, embedder=HashEmbedder())
    hits = [f for f in r.findings if f.category == "non_compete"]
    assert [f.method for f in hits] == ["embedding"]
    assert hits[0].confidence == pytest.approx(1.0, abs=1e-3)
    _verbatim(COMPETE, r)


def test_embedding_threshold_is_respected() -> None:
    r = review(COMPETE, embedder=HashEmbedder(), emb_threshold=1.01)
    assert "non_compete" in r.missing


# --- the model -----------------------------------------------------------------------------


def _answer(category: str, quote: str) -> str:
    return json.dumps({"category": category, "quote": quote})


def test_model_not_asked_unless_use_model() -> None:
    llm = FakeLLM(default=_answer("none", ""))
    r = review(COMPETE, embedder=HashEmbedder(), llm=llm)
    assert llm.calls == []
    assert r.model is None


def test_use_model_without_a_model_says_so() -> None:
    r = review(COMPETE, use_model=True)
    assert r.model is None
    assert any("no model was given" in n for n in r.notes)


def test_model_confirms_with_a_verbatim_quote() -> None:
    llm = FakeLLM(default=_answer("non_compete", "a product that competes with"))
    r = review(COMPETE, embedder=HashEmbedder(), llm=llm, use_model=True)
    hits = [f for f in r.findings if f.category == "non_compete"]
    assert [(f.method, f.quote) for f in hits] == [("model", "a product that competes with")]
    assert r.model == "fake"
    assert llm.calls and llm.calls[0].settings.json_schema == SCHEMA
    assert "Clause: You may not use the software" in llm.calls[0].prompt
    _verbatim(COMPETE, r)


def test_model_invented_quote_is_dropped() -> None:
    llm = FakeLLM(default=_answer("non_compete", "shall never work for a rival for ten years"))
    r = review(COMPETE, embedder=HashEmbedder(), llm=llm, use_model=True)
    assert "non_compete" in r.missing
    assert all("rival" not in f.quote for f in r.findings)
    assert any("not in the document" in n for n in r.notes)
    _verbatim(COMPETE, r)


def test_model_can_deny_a_candidate() -> None:
    llm = FakeLLM(default=_answer("none", ""))
    r = review(COMPETE, embedder=HashEmbedder(), llm=llm, use_model=True)
    assert "non_compete" in r.missing


def test_model_confirms_a_half_matched_rule_without_embedder() -> None:
    llm = FakeLLM(default=_answer("non_compete", "build a product"))
    r = review(COMPETE, llm=llm, use_model=True)
    assert [f.method for f in r.findings if f.category == "non_compete"] == ["model"]


def test_model_failure_falls_back_with_a_note() -> None:
    llm = FakeLLM([GenerationError("boom")] * 3, default=_answer("none", ""))
    r = review(COMPETE, embedder=HashEmbedder(), llm=llm, use_model=True)
    assert [f.method for f in r.findings if f.category == "non_compete"] == ["embedding"]
    assert any("boom" in n for n in r.notes)
    assert "Note:" in r.to_markdown()


def test_model_stops_after_repeated_failures() -> None:
    llm = FakeLLM(default="not json at all")
    review(CONTRACT + "\n" + COMPETE, embedder=HashEmbedder(), llm=llm, use_model=True)
    assert len(llm.calls) == 2


def test_locate_is_whitespace_insensitive_and_exact() -> None:
    from tools._common import Span

    doc = "Licensee shall\n   pay the fee."
    found = locate(doc, "shall pay the fee", Span(0, len(doc), doc))
    assert found is not None
    assert doc[found.start : found.end] == found.text == "shall\n   pay the fee"
    assert locate(doc, "shall pay the price", Span(0, len(doc), doc)) is None
    assert locate(doc, "   ", Span(0, len(doc), doc)) is None


def test_a_pasted_clause_gets_its_risks_without_a_list_of_what_it_lacks() -> None:
    clause = (
        "The buyer bears all costs of storage and transport, including customs fees, and "
        "waives any claim for late delivery."
    )
    r = review(clause)
    assert r.excerpt and {"waiver_of_rights", "all_costs_on_one_party"} <= {x.flag for x in r.risks}
    assert "Not found" not in r.to_markdown() and r.summary.startswith("An excerpt")
    assert not review(CONTRACT).excerpt
