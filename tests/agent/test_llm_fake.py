"""The LLM conveniences (complete, stream, chat, stops, overflow) on the scripted fake."""

import threading

import pytest

from agent.errors import ConfigError, ContextOverflowError, GenerationError
from agent.llm import CancelToken, GenerationSettings, backend_names, open_llm
from agent.llm.fake import FakeLLM
from agent.llm.prompts import GemmaChatFormat
from agent.settings import load_settings


def test_complete_records_prompt_and_settings() -> None:
    llm = FakeLLM(["Paris is the capital."])
    done = llm.complete("Capital of France?", temperature=0, max_tokens=20)
    assert done.text == "Paris is the capital."
    assert done.finish_reason == "stop"
    assert done.completion_tokens == 4
    assert llm.calls[0].prompt == "Capital of France?"
    assert llm.calls[0].settings.greedy and llm.calls[0].settings.max_tokens == 20


def test_stream_yields_pieces_then_completion() -> None:
    llm = FakeLLM(["one two three"])
    with llm.stream("x") as s:
        pieces = list(s)
    assert pieces == ["one", " two", " three"]
    assert s.completion is not None and s.completion.text == "one two three"


def test_max_tokens_gives_length() -> None:
    done = FakeLLM(["a b c d e f"]).complete("x", max_tokens=3)
    assert (done.text, done.finish_reason, done.completion_tokens) == ("a b c", "length", 3)


def test_stop_sequences_cut_the_reply() -> None:
    done = FakeLLM(["yes. And more"]).complete("x", stop=".")
    assert done.text == "yes"


def test_cancel_from_another_thread_stops_the_stream() -> None:
    llm = FakeLLM(["w " * 500], delay=0.002)
    token = CancelToken()
    stream = llm.stream("x", cancel=token)
    seen = []
    for piece in stream:
        seen.append(piece)
        if len(seen) == 5:
            threading.Thread(target=token.cancel).start()
    assert stream.completion is not None
    assert stream.completion.finish_reason == "cancelled"
    assert 5 <= len(seen) < 500


def test_chat_uses_the_chat_format_and_its_stops() -> None:
    llm = FakeLLM(["  Hello!<end_of_turn>junk\n"], chat_format=GemmaChatFormat())
    done = llm.chat([{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hi"}])
    assert done.text == "Hello!"  # stripped, cut at <end_of_turn>
    assert llm.calls[0].prompt.startswith("<start_of_turn>user\nBe kind.\n\nHi")
    assert "<end_of_turn>" in llm.calls[0].settings.stop


def test_overflow_error_policy_raises_context_overflow() -> None:
    llm = FakeLLM(["x"], n_ctx=20, overflow="error")
    with pytest.raises(ContextOverflowError, match="context window holds 20"):
        llm.complete("w " * 30, max_tokens=5)


def test_truncate_policy_keeps_head_and_tail_of_a_single_prompt() -> None:
    llm = FakeLLM(["ok"], n_ctx=24, overflow="truncate")
    words = " ".join(f"w{i}" for i in range(40))
    done = llm.complete(words, max_tokens=4)
    assert done.truncated
    seen = llm.calls[0].prompt.split()
    assert len(seen) == 20  # n_ctx - max_tokens
    assert seen[:5] == ["w0", "w1", "w2", "w3", "w4"] and seen[-1] == "w39"


def test_truncate_policy_drops_oldest_turns_but_keeps_system_and_last() -> None:
    llm = FakeLLM(["ok"], n_ctx=60, overflow="truncate", chat_format=GemmaChatFormat())
    msgs = [{"role": "system", "content": "SYSTEM"}]
    for i in range(10):
        msgs += [
            {"role": "user", "content": f"question{i} " + "pad " * 3},
            {"role": "assistant", "content": f"answer{i}"},
        ]
    msgs.append({"role": "user", "content": "LAST"})
    done = llm.chat(msgs, max_tokens=8)
    prompt = llm.calls[0].prompt
    assert done.truncated
    assert "SYSTEM" in prompt and "LAST" in prompt
    assert "question0" not in prompt and "answer9" in prompt
    assert llm.count_tokens(prompt) <= 60 - 8


def test_max_tokens_must_leave_room() -> None:
    with pytest.raises(ConfigError, match="max_tokens"):
        FakeLLM(["x"], n_ctx=10).complete("hi", max_tokens=10)


def test_budget_reports_room() -> None:
    b = FakeLLM(n_ctx=100).budget("a b c", max_tokens=10)
    assert (b.prompt_tokens, b.prompt_room, b.fits) == (3, 90, True)


def test_generation_settings_from_settings_and_unknown_override() -> None:
    s = load_settings({"temperature": 0.3, "top_k": 5}, env={})
    g = GenerationSettings.from_settings(s, stop="END")
    assert (g.temperature, g.top_k, g.stop) == (0.3, 5, ("END",))
    with pytest.raises(ConfigError, match="unknown generation setting"):
        g.merged({"temprature": 1})


def test_fake_raises_scripted_errors_and_runs_out() -> None:
    llm = FakeLLM([GenerationError("boom")])
    with pytest.raises(GenerationError, match="boom"):
        llm.complete("x")
    with pytest.raises(GenerationError, match="no scripted reply left"):
        llm.complete("x")


def test_open_llm_picks_backend_by_name(home) -> None:  # noqa: ANN001
    assert backend_names() == ["fake", "llama_cpp", "llama_server"]
    llm = open_llm(load_settings({"backend": "fake"}))
    assert llm.backend_name == "fake"
    from agent.errors import UnknownBackendError

    with pytest.raises(UnknownBackendError, match="valid backends: fake, llama_cpp, llama_server"):
        open_llm(load_settings({"backend": "openai"}))


def test_auto_threads_leaves_the_busy_cores_to_their_processes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    llama_cpp = pytest.importorskip("agent.llm.llama_cpp")
    monkeypatch.setattr(llama_cpp.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(llama_cpp.os, "getloadavg", lambda: (0.2, 0.0, 0.0))
    assert llama_cpp.auto_threads() == 4
    monkeypatch.setattr(llama_cpp.os, "getloadavg", lambda: (1.6, 0.0, 0.0))
    assert llama_cpp.auto_threads() == 2
    monkeypatch.setattr(llama_cpp.os, "getloadavg", lambda: (9.0, 0.0, 0.0))
    assert llama_cpp.auto_threads() == 1
