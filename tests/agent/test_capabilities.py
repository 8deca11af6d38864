"""The capability registry: every declaration complete, parsers and validation as documented."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any

import pytest

from agent.batch.tasks import TASKS
from agent.capabilities import (
    CAPABILITIES,
    TOOLS,
    Capability,
    ForgetParams,
    ReviewParams,
    SummarizeParams,
    TranslateParams,
)
from agent.errors import ConfigError, MemoryNotFoundError
from agent.settings import load_settings

EXPECTED = {
    "remember", "recall", "forget", "ingest", "search", "ask",
    "translate", "summarize", "code", "review",
}  # fmt: skip


def test_the_registry_holds_the_memory_operations_and_the_four_tools() -> None:
    assert set(CAPABILITIES) == EXPECTED
    assert all(name == cap.name for name, cap in CAPABILITIES.items())


@pytest.mark.parametrize("cap", CAPABILITIES.values(), ids=lambda c: c.name)
def test_every_capability_has_a_described_schema(cap: Capability) -> None:
    schema = cap.schema()
    assert schema["type"] == "object" and schema["properties"]
    assert len(cap.description) > 20
    for name, prop in schema["properties"].items():
        assert prop.get("description"), f"{cap.name}.{name} has no description"
    assert schema.get("additionalProperties") is False  # unknown parameters are refused


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("remember", " My sister is called Ana ", {"text": "My sister is called Ana"}),
        ("recall", "where do I live", {"query": "where do I live"}),
        ("forget", "#12", {"id": 12}),
        ("forget", "my old address", {"query": "my old address"}),
        ("ingest", 'notes "my docs/lease.md"', {"paths": ["notes", "my docs/lease.md"]}),
        ("search", "notice period", {"query": "notice period"}),
        ("ask", "What is my sister called?", {"message": "What is my sister called?"}),
        ("translate", "French good morning", {"text": "good morning", "target": "fr"}),
        (
            "summarize",
            "bullets 50 notes/report.md",
            {"source": "notes/report.md", "style": "bullets", "max_words": 50},
        ),
        ("code", "bash: count lines", {"prompt": "count lines", "language": "bash"}),
        ("review", "Review this: the lease", {"source": "the lease"}),
    ],
)
def test_a_chat_command_parses_into_valid_parameters(
    name: str, text: str, expected: dict[str, Any]
) -> None:
    cap = CAPABILITIES[name]
    params = cap.from_command(text)
    assert isinstance(params, cap.params)
    assert params.model_dump(include=set(expected)) == expected
    # and the parameters survive a trip through JSON (what the MCP and batch front ends send)
    assert cap.validate(params.model_dump()) == params


@pytest.mark.parametrize(
    ("name", "values", "complaint"),
    [
        ("recall", {"query": "x", "k": 0}, "recall: k: Input should be greater than or equal to 1"),
        ("recall", {"query": ""}, "recall: query: String should have at least 1 character"),
        ("remember", {"text": "x" * 5000}, "remember: text: String should have at most 4000"),
        ("search", {"query": "x", "depth": 3}, "search: depth: Extra inputs are not permitted"),
        ("forget", {}, "forget: say what to forget: a query, or an id (not both)"),
        ("summarize", {"source": "t", "style": "haiku"}, "summarize: style: Input should be"),
    ],
)
def test_bad_parameters_are_one_config_error_naming_them(
    name: str, values: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ConfigError) as err:
        CAPABILITIES[name].validate(values)
    assert str(err.value).startswith(complaint)


def test_only_code_is_unsafe_and_only_memory_and_documents_run_without_the_model() -> None:
    assert {c.name for c in CAPABILITIES.values() if not c.safe} == {"code"}
    assert {c.name for c in CAPABILITIES.values() if not c.needs_model} == {
        "remember", "recall", "forget", "ingest", "search",
    }  # fmt: skip


@pytest.mark.parametrize("name", TOOLS)
def test_a_tools_parameters_are_named_as_its_functions(name: str) -> None:
    """They pass to ``tools.<name>.<name>`` by name: a renamed one fails here, not in a call."""
    function = getattr(importlib.import_module(f"tools.{name}"), name)
    assert set(CAPABILITIES[name].params.model_fields) <= set(
        inspect.signature(function).parameters
    )


def test_a_path_from_the_library_stays_a_path_and_a_string_is_checked() -> None:
    """A ``Path`` always means a file to the tools; the schema and the checks are a string's."""
    assert TranslateParams(text=Path("notes"), target="fr").text == Path("notes")
    assert SummarizeParams(source=[Path("a.md"), "b.md"]).source == [Path("a.md"), "b.md"]
    assert isinstance(ReviewParams(source="lease.md").source, str)
    with pytest.raises(ConfigError, match="source: String should have at least 1 character"):
        CAPABILITIES["review"].validate({"source": ""})
    schema = CAPABILITIES["translate"].schema()["properties"]["text"]
    assert schema["type"] == "string" and schema["minLength"] == 1


def test_the_batch_task_table_takes_each_capabilitys_parameter_names() -> None:
    for cap in CAPABILITIES.values():
        if cap.name not in TASKS:
            continue  # search is not a batch task yet (issue 16)
        t = TASKS[cap.name]
        assert set(cap.params.model_fields) <= {*t.required, *t.optional, *t.one_of}, cap.name


class _Stores:
    def __init__(self, home: Path):
        from memory import Documents, Memory, Store

        store = Store(load_settings({"home": home, "embedder": "hash"}, env={}))
        self.memory, self.documents = Memory(store), Documents(store)


def test_memory_capabilities_run_on_bare_stores_and_keep_users_apart(tmp_path: Path) -> None:
    host = _Stores(tmp_path)
    try:
        remember, recall, forget = (CAPABILITIES[n] for n in ("remember", "recall", "forget"))
        added = remember.run(host, remember.from_command("I live in Paris", user="ann"))
        assert added.action == "added" and remember.failure(added) is None
        hits = recall.run(host, recall.from_command("where do I live", user="ann"))
        assert [h.record.text for h in hits] == ["I live in Paris"]
        assert recall.render(hits).startswith(f"#{added.record.id}  ")
        assert recall.run(host, recall.from_command("where do I live", user="bob")) == []
        # bob cannot forget ann's memory by its id; ann can
        with pytest.raises(MemoryNotFoundError):
            forget.run(host, ForgetParams(id=added.record.id, user="bob"))
        assert forget.run(host, ForgetParams(id=added.record.id, user="ann")) == [added.record.id]
        assert recall.run(host, recall.from_command("where do I live", user="ann")) == []
    finally:
        host.memory.close()
