"""tools.summarize with the scripted fake model and the hash embedder (no real model)."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from agent.errors import GenerationError, ToolInputError
from agent.llm.base import GenerationSettings
from agent.llm.fake import FakeLLM
from memory.embeddings import HashEmbedder
from tools import _summarize_abstract as abstract
from tools.summarize import STYLES, Summary, default_target, summarize

EMB = HashEmbedder()
_VOCAB = (
    "river bridge council trucks engineers money region winter cracks shop owners customers "
    "bees flowers hive dance colony scout food sun distance angle library books readers city "
    "school teachers pupils garden trees rain harvest farmers market prices train station"
).split()


def long_text(n_sentences: int = 120, seed: int = 7) -> str:
    """Deterministic prose-like text: sentences of 5..30 words, paragraphs of 6 sentences."""
    rng = random.Random(seed)
    paras, sents = [], []
    for i in range(n_sentences):
        words = [rng.choice(_VOCAB) for _ in range(rng.randint(5, 30))]
        sents.append(" ".join(words).capitalize() + ".")
        if i % 6 == 5:
            paras.append(" ".join(sents))
            sents = []
    if sents:
        paras.append(" ".join(sents))
    return "\n\n".join(paras)


def query_of(prompt: str) -> str:
    """The text a few-shot summary prompt asks about (after the last ``Text:``)."""
    return prompt.rsplit("Text:", 1)[1].rsplit("\nSummary:", 1)[0].strip()


def first_sentences(n: int):  # type: ignore[no-untyped-def]
    """A fake reply: the first ``n`` sentences of the text it is asked about (grounded)."""

    def reply(prompt: str, settings: GenerationSettings) -> str:
        return " ".join(" ".join(re.findall(r"[^.!?]+[.!?]", query_of(prompt))[:n]).split())

    return reply


def within(summary: Summary, tolerance: float = 0.2) -> bool:
    return abs(summary.words - summary.target_words) <= tolerance * summary.target_words


# -- extractive -----------------------------------------------------------------------------


@pytest.mark.parametrize("target", [40, 75, 150, 300])
def test_extractive_length_within_20_percent_and_offsets_exact(target: int) -> None:
    text = long_text()
    s = summarize(text, "extractive", target, embedder=EMB)
    assert s.method == "extractive" and s.style == "extractive"
    assert within(s), (s.words, target)
    for sent in s.sentences:
        assert text[sent.start : sent.end] == sent.text
        assert sent.source == "<text>"
    starts = [sent.start for sent in s.sentences]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    assert s.words == sum(len(x.text.split()) for x in s.sentences)
    assert s.source_words == len(text.split())


def test_default_target_is_a_fifth_clamped() -> None:
    assert [default_target(n) for n in (10, 100, 400, 5000)] == [10, 40, 80, 200]
    s = summarize(long_text(), "extractive", embedder=EMB)
    assert s.target_words == 200 and within(s)


def test_mmr_drops_a_duplicate_sentence() -> None:
    key = "The river bridge council closed the bridge to heavy trucks after engineers found cracks."
    text = (
        f"{key} Bees dance to show the hive where the flowers are. {key} "
        "Farmers sell their harvest at the market when prices rise. "
        "The river bridge was built long ago and the council maintains it."
    )
    s = summarize(text, "extractive", 40, embedder=EMB)
    texts = [x.text for x in s.sentences]
    assert texts.count(key) == 1
    assert len(texts) >= 3  # the budget was spent on other sentences instead


def test_a_sentence_longer_than_the_budget_is_cut_at_a_word() -> None:
    text = " ".join(["word"] * 100) + ". " + " ".join(["more"] * 90) + "."
    s = summarize(text, "extractive", 20, embedder=EMB)
    assert s.words == 20 and len(s.sentences) == 1
    sent = s.sentences[0]
    assert text[sent.start : sent.end] == sent.text
    assert any("cut short" in n for n in s.notes)


def test_short_text_is_returned_whole_with_a_note() -> None:
    text = "Cats purr when they are content. Dogs wag their tails when they are glad."
    s = summarize(text, "extractive", embedder=EMB)
    assert s.target_words == len(text.split())
    assert s.text == text
    assert any("no more than the target" in n for n in s.notes)


def test_bullets_are_extractive_dash_lines() -> None:
    text = long_text(30)
    s = summarize(text, "bullets", 60, embedder=EMB)
    lines = s.text.split("\n")
    assert s.style == "bullets" and s.method == "extractive"
    assert len(lines) == len(s.sentences) >= 2
    assert all(line == f"- {x.text}" for line, x in zip(lines, s.sentences, strict=True))
    assert within(s)


def test_several_paths_keep_their_source(tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.md"
    a.write_text(long_text(30, seed=1))
    b.write_text(long_text(30, seed=2))
    s = summarize([a, str(b)], "extractive", 120, embedder=EMB)
    assert s.sources == (str(a), str(b))
    texts = {str(a): a.read_text(), str(b): b.read_text()}
    assert {x.source for x in s.sentences} == set(s.sources)
    for x in s.sentences:
        assert x.source is not None and texts[x.source][x.start : x.end] == x.text
    order = [(s.sources.index(x.source or ""), x.start) for x in s.sentences]
    assert order == sorted(order)
    assert s.source_words == sum(len(t.split()) for t in texts.values())


def test_to_dict_is_json_and_markdown_describes_the_summary() -> None:
    s = summarize(long_text(30), "extractive", 60, embedder=EMB)
    data = json.loads(json.dumps(s.to_dict()))
    assert data["sentences"][0]["start"] == s.sentences[0].start
    assert data["sources"] == ["<text>"]
    md = s.to_markdown()
    assert md.startswith(s.text) and "Extractive summary" in md and "target 60" in md


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "kwargs", "reason"),
    [
        ("   \n ", {}, "empty"),
        ([], {}, "empty"),
        (Path("/nonexistent/lorebook/notes.txt"), {}, "unreadable"),
        ("Some text.", {"style": "poem"}, "bad-argument"),
        ("Some text.", {"max_words": 0}, "bad-argument"),
        ("x" * 50, {"max_chars": 10}, "too-large"),
    ],
)
def test_bad_input_raises_a_tool_input_error(source, kwargs, reason) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ToolInputError) as info:
        summarize(source, embedder=EMB, **kwargs)
    assert info.value.reason == reason and info.value.fix


def test_unreadable_file_in_a_list_names_the_file(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.txt", tmp_path / "bad.bin"
    good.write_text("A fine sentence here.")
    bad.write_bytes(b"\x00\x01\x02binary\x00")
    with pytest.raises(ToolInputError) as info:
        summarize([good, bad], "extractive", embedder=EMB)
    assert info.value.reason == "unreadable" and "bad.bin" in str(info.value)


def test_styles_are_the_three_documented() -> None:
    assert STYLES == ("abstractive", "extractive", "bullets")


# -- abstractive ----------------------------------------------------------------------------


def test_abstractive_uses_the_model_and_points_at_support() -> None:
    text = long_text(12)
    llm = FakeLLM([first_sentences(3)])
    target = len(first_sentences(3)(f"Text: {text}\nSummary:", GenerationSettings()).split())
    s = summarize(text, "abstractive", target, llm=llm, embedder=EMB)
    assert s.method == "abstractive" and s.model == "fake" and len(llm.calls) == 1
    call = llm.calls[0]
    assert call.settings.temperature == 0 and query_of(call.prompt) == text.strip()
    assert within(s)
    for x in s.sentences:  # the fake copies source sentences, so each is its own support
        assert x.source == "<text>" and text[x.start : x.end] == x.text


def test_abstractive_too_long_is_trimmed_at_a_sentence() -> None:
    text = long_text(40)
    s = summarize(text, "abstractive", 60, llm=FakeLLM([first_sentences(30)]), embedder=EMB)
    assert s.method == "abstractive" and within(s)
    assert s.text.endswith(".") and any("trimmed" in n for n in s.notes)


def test_abstractive_too_short_is_extended_with_source_sentences() -> None:
    text = long_text(40)
    s = summarize(text, "abstractive", 150, llm=FakeLLM([first_sentences(1)]), embedder=EMB)
    assert s.method == "abstractive" and within(s)
    assert any("source sentences were added" in n for n in s.notes)
    added = s.sentences[1:]
    assert added and all(text[x.start : x.end] == x.text for x in added)


def test_unsupported_model_sentence_has_no_offsets() -> None:
    text = "Bees dance to show where flowers are. The hive follows the scouts to the flowers."
    reply = f"{text} Zebras hum."
    s = summarize(text, "abstractive", 16, llm=FakeLLM([reply]), embedder=EMB)
    assert s.method == "abstractive" and len(s.sentences) == 3
    assert (s.sentences[0].start, s.sentences[0].source) == (0, "<text>")
    assert (s.sentences[2].start, s.sentences[2].end, s.sentences[2].source) == (-1, -1, None)


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        ("", "empty"),
        ("The bridge closed. The bridge closed. The bridge closed.", "repeats"),
        (abstract.EXAMPLES[1][1], "copies the prompt"),
        ("Penguins waddle across frozen Antarctic ice searching for krill and fish.", "grounded"),
        (GenerationError("llama.cpp failed"), "model failed"),
    ],
)
def test_degenerate_reply_falls_back_to_extractive(reply, why: str) -> None:  # type: ignore[no-untyped-def]
    text = long_text(40)
    s = summarize(text, "abstractive", 80, llm=FakeLLM([reply]), embedder=EMB)
    assert s.method == "extractive-fallback" and s.model is None
    assert any(why in n for n in s.notes), s.notes
    assert within(s) and all(text[x.start : x.end] == x.text for x in s.sentences)


def test_abstractive_without_a_model_is_extractive_with_a_note() -> None:
    s = summarize(long_text(30), "abstractive", 60, embedder=EMB)
    assert s.method == "extractive-fallback" and any("no language model" in n for n in s.notes)


def test_map_reduce_on_a_text_longer_than_the_window() -> None:
    text = long_text(150)
    llm = FakeLLM(default="", n_ctx=700)
    llm.script = [first_sentences(1)] * 100
    s = summarize(text, "abstractive", 60, llm=llm, embedder=EMB)
    assert s.method == "map-reduce" and within(s)
    prompts = [c.prompt for c in llm.calls]
    assert len(prompts) >= 4
    for call in llm.calls:  # every call fitted the window with its reply
        assert llm.count_tokens(call.prompt) + call.settings.max_tokens <= llm.n_ctx
    # The map calls cover the text in order; the last call summarizes their joined replies.
    maps, reduce = prompts[:-1], prompts[-1]
    replies = [first_sentences(1)(p, GenerationSettings()) for p in maps]
    assert query_of(reduce) == "\n\n".join(replies)
    positions = [text.index(query_of(p)) for p in maps]
    assert positions == sorted(positions) and positions[0] == 0


def test_several_sources_are_summarized_then_reduced(tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text(long_text(10, seed=3))
    b.write_text(long_text(10, seed=4))
    llm = FakeLLM([first_sentences(2)] * 3)
    s = summarize([a, b], "abstractive", 40, llm=llm, embedder=EMB)
    assert len(llm.calls) == 3 and s.method == "map-reduce"
    assert query_of(llm.calls[0].prompt) == a.read_text().strip()
    assert query_of(llm.calls[1].prompt) == b.read_text().strip()
    assert s.sources == (str(a), str(b))


def test_a_long_single_line_is_text_not_a_path() -> None:
    # tools._common stats one-line strings as possible paths; past the OS's 255-byte file-name
    # limit that raised "File name too long" instead of summarizing.
    text = " ".join(long_text(20).split())
    assert "\n" not in text and len(text) > 300
    s = summarize(text, "extractive", 40, embedder=EMB)
    assert s.sources == ("<text>",) and within(s)
    with pytest.raises(ToolInputError) as info:
        summarize(text, "extractive", embedder=EMB, max_chars=100)
    assert info.value.reason == "too-large"


# -- Markdown and short notes (issue 19) ----------------------------------------------------

NOTE = (
    "# Weekly notes\n\n"
    "## Home\n\n"
    "Call the plumber on Monday. Then:\n"
    "- fix the tap\n"
    "* check the boiler\n"
    "---\n"
    "1. Pay the electricity bill before the 15th.\n"
    "> Renew the car insurance\n"
)


def test_bullets_of_a_short_note_are_its_items_without_markdown() -> None:
    s = summarize(NOTE, "bullets", embedder=EMB)
    assert s.text.split("\n") == [
        "- Call the plumber on Monday.",
        "- Then:",
        "- fix the tap",
        "- check the boiler",
        "- Pay the electricity bill before the 15th.",
        "- Renew the car insurance",
    ]
    for x in s.sentences:
        assert NOTE[x.start : x.end] == x.text  # still exact spans of the source
    md = s.to_markdown()
    assert "Bullet-point summary" in md and "Extractive summary" not in md
    assert not re.search(r"^- *$", md, re.M)  # no empty bullet


def test_markdown_markers_stay_out_of_extractive_prose() -> None:
    doc = "\n\n".join(
        f"## Section {n}\n\n- {sentence}" for n, sentence in enumerate(long_text(24).split(". "))
    )
    s = summarize(doc, "extractive", 60, embedder=EMB)
    assert s.sentences and within(s)
    assert not re.search(r"(^|\s)(#+|[-*+]|\d+\.)\s", s.text), s.text
    assert "Section" not in s.text  # headings are not summary sentences
    for x in s.sentences:
        assert doc[x.start : x.end] == x.text


def test_markdown_in_the_model_reply_stays_out_of_the_summary() -> None:
    text = long_text(12)
    plain = first_sentences(3)

    def reply(prompt: str, settings: GenerationSettings) -> str:
        sents = re.findall(r"[^.!?]+[.!?]", plain(prompt, settings))
        return "## Summary\n" + "\n".join(f"- {x.strip()}" for x in sents)

    target = len(plain(f"Text: {text}\nSummary:", GenerationSettings()).split())
    s = summarize(text, "abstractive", target, llm=FakeLLM([reply]), embedder=EMB)
    assert s.method == "abstractive", s.notes
    assert "#" not in s.text and not re.search(r"(^|\s)[-*]\s", s.text), s.text
    assert "Summary" not in s.text


# -- short budgets: a synopsis, else a compressed sentence (issue 18) -------------------------

DESCRIPTION = (
    "In this paper, we propose a lightweight parser for configuration files (INI and TOML), "
    "which keeps comments and layout when it writes a file back. Existing parsers drop "
    "comments, so a round trip through them loses what people wrote. Our parser stores every "
    "token with its position and writes untouched tokens back as they were. It is small, fast "
    "and has no dependencies."
)


def test_short_budget_uses_the_models_synopsis_when_it_passes_the_checks() -> None:
    llm = FakeLLM(["Lightweight parser that keeps comments in configuration files"])
    s = summarize(DESCRIPTION, "abstractive", 12, llm=llm, embedder=EMB)
    assert s.method == "synopsis" and s.model == "fake" and len(llm.calls) == 1
    assert s.text == "Lightweight parser that keeps comments in configuration files"
    assert "In short:" in llm.calls[0].prompt and s.words <= 12


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        (
            "In this paper, we propose a lightweight parser for configuration files",
            "copies the first sentence",
        ),
        ("Penguins waddle across frozen Antarctic ice searching for krill", "not grounded"),
        ("A parser " * 10, "more than 12"),
    ],
)
def test_short_budget_falls_back_to_a_compressed_sentence(reply: str, why: str) -> None:
    s = summarize(DESCRIPTION, "abstractive", 12, llm=FakeLLM([reply]), embedder=EMB)
    assert s.method == "compressed" and any(why in n for n in s.notes), s.notes
    # the lead's framing, parenthesis and relative clause are gone; its head is kept
    assert s.text == "A lightweight parser for configuration files", s.text
    x = s.sentences[0]
    assert DESCRIPTION[x.start : x.end].startswith("In this paper, we propose")


def test_short_budget_without_a_model_is_compressed_not_cut() -> None:
    s = summarize(DESCRIPTION, "abstractive", 8, embedder=EMB)
    assert s.method == "compressed" and s.words <= 8
    assert not s.text.startswith("In this paper")


def test_compress_keeps_the_head_within_the_budget() -> None:
    from tools._summarize_synopsis import compress

    long = "This library provides tools for reading, writing and validating large spreadsheet "
    long += "files with formulas, charts and styles on every platform."
    out = compress(long, 10)
    assert len(out.split()) <= 10 and out.startswith("Tools for reading")
    assert compress("Cats sleep.", 12) == "Cats sleep"
