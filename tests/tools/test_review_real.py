"""tools.review with the real default model (integration).

What must hold whatever the 270M model answers: its JSON-schema grammar compiles and the
answer parses; every quote in the review is verbatim in the document; the review names the
model. Whether the model's verdicts are right is measured by bench/bench_review.py, not here.
Two model calls in all: a grammar-constrained call takes seconds on a quiet CPU.
"""

from __future__ import annotations

from typing import Any

import pytest

from tools._review_model import SCHEMA, _prompt
from tools._review_rules import CATEGORIES
from tools.review import review

pytestmark = pytest.mark.integration

# One half-matched rule (non_compete), so the model is asked exactly once.
CONTRACT = (
    "This Agreement is governed by the laws of the State of New York.\n\n"
    "You may not use the software to build a product that competes with the licensor's "
    "products."
)


def test_model_answers_within_the_schema(real_llm: Any) -> None:
    answer = real_llm.complete_json(
        _prompt("Licensee may not assign this Agreement to any third party."),
        SCHEMA,
        max_tokens=80,
    )
    assert answer["category"] in (*CATEGORIES, "none")
    assert isinstance(answer["quote"], str)


def test_review_with_model_keeps_quotes_verbatim(real_llm: Any) -> None:
    r = review(CONTRACT, llm=real_llm, use_model=True)
    assert r.model == real_llm.model_name
    assert "governing_law" in {f.category for f in r.findings}
    for f in r.findings:
        assert CONTRACT[f.start : f.end] == f.quote
    assert r.to_markdown().startswith("# Legal review: text\n")
