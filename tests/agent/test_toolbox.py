"""The tools as the agent exposes them: Agent methods, slash commands in a turn, the turn log."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from agent.api import Agent
from agent.errors import CancelledError, ConfigError, ToolInputError
from agent.llm.fake import FakeLLM
from agent.pipeline.toolargs import parse_code, parse_summarize, parse_translate

LANGS = {"en": "English", "fr": "French", "de": "German", "es": "Spanish"}
ARTICLE = (
    "The council approved a plan for the Riverside allotments. Two hundred people are waiting "
    "for a plot. The largest plots will be split in half when their tenants leave. A storage "
    "yard will become twelve raised beds for residents who cannot manage a full plot. Rents "
    "will rise from 42 to 48 pounds a year. The allotment society asked for a second site.\n\n"
    "Work on the yard starts in April. The council says the extra rent pays for a new water "
    "supply and a fence. Tenants who hold a full plot may keep it."
)
CONTRACT = (
    "This Agreement is made between Acme Ltd and Bolt LLC. This Agreement is governed by the "
    "laws of the State of New York. Either party may terminate this Agreement on thirty (30) "
    "days' written notice. The Client shall pay the Provider $5,000 per month."
)


@pytest.fixture
def bot(tmp_path: Path) -> Any:
    llm = FakeLLM(default="(fake)")
    with Agent.open(tmp_path / "home", llm=llm, embedder="hash", route_with_model=False) as a:
        yield a


@pytest.mark.parametrize(
    "payload, target, text",
    [
        ("French good morning", "fr", "good morning"),
        ("fr good morning", "fr", "good morning"),
        ("to German: see you soon", "de", "see you soon"),
        ("Translate 'good morning' into Spanish.", "es", "good morning"),
        ("Translate this into German: the cat is black", "de", "the cat is black"),
    ],
)
def test_translate_arguments(payload: str, target: str, text: str) -> None:
    args = parse_translate(payload, LANGS)
    assert (args.target, args.text) == (target, text)


def test_translate_arguments_name_what_is_missing() -> None:
    with pytest.raises(ToolInputError, match="no target language.*French"):
        parse_translate("good morning", LANGS)
    with pytest.raises(ToolInputError, match="no text to translate"):
        parse_translate("French", LANGS)


def test_summarize_and_code_arguments() -> None:
    assert parse_summarize("extractive 40 notes.md") == parse_summarize("40 extractive notes.md")
    s = parse_summarize("Summarize this: some text here")
    assert (s.source, s.style, s.max_words) == ("some text here", "abstractive", None)
    asked = parse_summarize(f"this note from the society in two bullet points: '{ARTICLE}'")
    assert (asked.source, asked.style) == (ARTICLE, "bullets")  # the request is not the text
    assert parse_summarize(f"this in one sentence please: {ARTICLE}").max_words == 25
    assert parse_code("python: reverse a list", ("python", "bash")) == ("reverse a list", "python")
    assert parse_code("reverse a list", ("python",)) == ("reverse a list", "python")


def test_summarize_through_the_agent_is_logged(bot: Any) -> None:
    summary = bot.summarize(ARTICLE, "extractive", 30)
    assert summary.method == "extractive" and summary.sentences
    for s in summary.sentences:
        assert ARTICLE[s.start : s.end] == s.text
    log = bot.logs(1)[0]
    assert log.route == "summarize" and log.error is None


def test_review_through_the_agent(bot: Any, tmp_path: Path) -> None:
    path = tmp_path / "contract.txt"
    path.write_text(CONTRACT, encoding="utf-8")
    review = bot.review(path)
    found = {f.category for f in review.findings}
    assert {"governing_law", "termination", "payment"} <= found
    for f in review.findings:
        assert CONTRACT[f.start : f.end] == f.quote


def test_a_tool_error_reaches_the_caller_and_the_log(bot: Any, tmp_path: Path) -> None:
    with pytest.raises(ToolInputError, match="does not exist"):
        bot.review(tmp_path / "missing.pdf")
    assert "does not exist" in (bot.logs(1)[0].error or "")


def test_the_tool_methods_check_their_values_against_the_registry(bot: Any) -> None:
    with pytest.raises(ConfigError, match="summarize: style: Input should be 'abstractive'"):
        bot.summarize(ARTICLE, "haiku")
    with pytest.raises(ConfigError, match="code: samples: Input should be less than or equal"):
        bot.code("reverse a list", samples=99)
    assert bot.logs(1) == []  # refused before anything ran
    # a Path is a file, whatever its name looks like (a string "no-such-contract" is text)
    with pytest.raises(ToolInputError, match="no-such-contract does not exist"):
        bot.review(Path("no-such-contract"))


def test_slash_commands_run_the_tools_inside_a_turn(bot: Any) -> None:
    turn = bot.chat(f"/summarize extractive 30 {ARTICLE}")
    assert turn.route == "summarize" and turn.finish_reason == "stop"
    assert turn.tool is not None and turn.tool["style"] == "extractive"
    assert turn.text.strip()  # the Markdown the chat shows
    turn = bot.chat(f"/review {CONTRACT}")
    assert turn.tool is not None and any(
        f["category"] == "governing_law" for f in turn.tool["findings"]
    )
    assert bot.history()[-1]["content"] == turn.text


def test_a_bad_slash_command_is_a_reply_not_a_crash(bot: Any, tmp_path: Path) -> None:
    turn = bot.chat(f"/review {tmp_path / 'missing.pdf'}")
    assert turn.route == "review" and turn.finish_reason == "error"
    assert "could not review" in turn.text and turn.tool is None
    turn = bot.chat("/translate good morning")
    assert "no target language" in turn.text


def _cancel_soon(bot: Any, llm: FakeLLM) -> threading.Thread:
    def stop() -> None:
        while not llm.calls:  # wait until the tool is generating
            time.sleep(0.01)
        bot.cancel()

    t = threading.Thread(target=stop)
    t.start()
    return t


SENTENCES = " ".join(f"Sentence number {i} is here." for i in range(20))


def test_cancel_stops_a_tool_called_as_a_method(tmp_path: Path) -> None:
    llm = FakeLLM(default="mot " * 40, delay=0.02)
    with Agent.open(tmp_path / "h", llm=llm, embedder="hash", route_with_model=False) as bot:
        stopper = _cancel_soon(bot, llm)
        with pytest.raises(CancelledError, match="translate was cancelled"):
            bot.translate(SENTENCES, "fr", source="en")
        stopper.join()
        # the running call stopped mid-reply, and no later call generated anything
        assert llm.totals.completion_tokens < 40
        assert bot.logs(1)[0].error is not None


def test_cancel_stops_a_tool_inside_a_turn(tmp_path: Path) -> None:
    llm = FakeLLM(default="mot " * 40, delay=0.02)
    with Agent.open(tmp_path / "h", llm=llm, embedder="hash", route_with_model=False) as bot:
        stopper = _cancel_soon(bot, llm)
        turn = bot.chat(f"/translate French {SENTENCES}")
        stopper.join()
        assert turn.finish_reason == "cancelled" and turn.text.startswith("Stopped")
        assert turn.tool is None
        llm.delay = 0
        again = bot.chat("/translate French Good morning, how are you today?")
        assert again.finish_reason == "stop", again.text  # the next turn runs normally


def test_a_command_may_name_an_ingested_document(bot: Any, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "lease.md").write_text(CONTRACT, encoding="utf-8")
    (docs / "notes.txt").write_text(ARTICLE, encoding="utf-8")
    bot.ingest([docs], progress=False)
    assert bot.tools.find_document("my lease") == str(docs / "lease.md")
    assert bot.tools.find_document("lease.md") == str(docs / "lease.md")
    assert bot.tools.find_document("docs/lease.md") == str(docs / "lease.md")  # a path's tail
    assert bot.tools.find_document("the contract") is None
    turn = bot.chat("/review my lease")
    assert turn.tool is not None and turn.tool["path"] == str(docs / "lease.md")
    turn = bot.chat("Summarize my notes")
    assert turn.tool is not None and turn.tool["sources"] == [str(docs / "notes.txt")]


def test_one_long_line_is_text_not_a_path(bot: Any) -> None:
    line = "word " * 120  # longer than a file name may be
    summary = bot.summarize(line.strip(), "extractive", 40)
    assert summary.words <= 48


def test_translate_command_knows_names_in_their_own_language() -> None:
    assert parse_translate("français Good morning", LANGS).target == "fr"
    assert parse_translate("Deutsch Good morning", LANGS).target == "de"
