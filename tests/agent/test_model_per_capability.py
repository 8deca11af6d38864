"""A model per capability: ``chat_model``, ``code_model``, ... loaded on first use, LRU-capped."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from agent.api import Agent
from agent.cli.common import common_parser, open_agent, settings_from_args
from agent.errors import ConfigError
from agent.llm.fake import FakeLLM
from agent.llm.pool import ModelPool, PooledLLM
from agent.settings import Settings, load_settings

ADD = 'def add(a, b):\n    """Add two numbers.\n    >>> add(2, 3)\n    5\n    """\n'


class Models:
    """An ``open_model`` for tests: one FakeLLM per name, recording loads and unloads."""

    def __init__(self) -> None:
        self.opened: list[str] = []
        self.closed: list[str] = []
        self.by_name: dict[str, FakeLLM] = {}

    def __call__(self, settings: Settings) -> FakeLLM:
        name = settings.model or "main"
        self.opened.append(name)
        models = self

        class Recording(FakeLLM):
            def close(self) -> None:
                models.closed.append(name)

        # each model answers with its own name, so a reply shows which model wrote it
        llm = Recording(default=f"    return a + b  # {name}\n", model_name=name)
        self.by_name[name] = llm
        return llm


def _open(tmp_path: Path, models: Models, **settings: Any) -> Agent:
    return Agent.open(
        tmp_path / "home",
        open_model=models,
        embedder="hash",
        route_with_model=False,
        **settings,
    )


def test_without_the_settings_one_model_is_loaded_at_open_and_shared(tmp_path: Path) -> None:
    models = Models()
    with _open(tmp_path, models) as bot:
        assert models.opened == ["main"]  # loaded at open, as before
        assert not isinstance(bot.llm, PooledLLM)
        for tool in ("code", "translate", "summarize", "review"):
            assert bot.tools.llm_for(tool) is bot.llm  # the very same object
        assert bot.code(ADD).passed is True
        assert models.opened == ["main"]
    assert models.closed == ["main"]


def test_a_tool_runs_on_its_own_model(tmp_path: Path) -> None:
    models = Models()
    with _open(tmp_path, models, model="small", code_model="coder") as bot:
        result = bot.code(ADD)
        assert "# coder" in result.code and result.model == "coder"
        assert models.by_name["coder"].calls  # the coder wrote it ...
        assert models.opened == ["coder"]  # ... and the main model was not even loaded
        log = bot.logs(1)[0]
        assert log.route == "code" and log.model == "coder" and log.completion_tokens
        bot.chat("hello there")
        assert models.by_name["small"].calls  # chat stays on the main model
        assert len(models.by_name["coder"].calls) == 1
        turn = bot.chat("/code " + ADD)  # a tool inside a turn uses the tool's model too
        assert turn.route == "code" and turn.tool is not None and turn.tool["model"] == "coder"
        assert len(models.by_name["coder"].calls) == 2


def test_models_load_on_first_use_not_at_open(tmp_path: Path) -> None:
    models = Models()
    with _open(tmp_path, models, code_model="coder", translate_model="translator") as bot:
        assert models.opened == [] and bot.models.loaded() == []  # nothing loaded at open
        coder = bot.tools.llm_for("code")
        assert isinstance(coder, PooledLLM) and not coder.loaded
        assert coder.model_name == "coder"  # naming it does not load it
        assert models.opened == []
        bot.code(ADD)
        assert models.opened == ["coder"]  # loaded by its first call
        bot.code(ADD)
        assert models.opened == ["coder"]  # and only once
        bot.chat("hello there")
        assert models.opened == ["coder", "main"]  # the chat model (the main one) at its first
        assert bot.models.loaded() == ["coder", "(main)"]
        assert "translator" not in models.opened  # never used, never loaded


def test_chat_model_setting_leaves_the_main_model_unloaded(tmp_path: Path) -> None:
    models = Models()
    with _open(tmp_path, models, model="big", chat_model="fast") as bot:
        assert models.opened == []
        assert bot.llm.model_name == "fast"
        bot.chat("hello there")
        assert models.by_name["fast"].calls and "big" not in models.opened
        bot.translate("Good morning.", "fr", source="en")
        assert models.opened == ["fast", "big"]  # the tools without a setting use the main
        assert models.by_name["big"].calls


def test_the_least_recently_used_model_is_unloaded(tmp_path: Path) -> None:
    models = Models()
    opts = {"model": "m", "code_model": "a", "translate_model": "b", "max_loaded_models": 2}
    with _open(tmp_path, models, **opts) as bot:
        bot.chat("hi")
        bot.code(ADD)
        assert bot.models.loaded() == ["m", "a"]
        bot.chat("hello there")  # m is now the most recently used
        assert bot.models.loaded() == ["a", "m"]
        bot.translate("Good morning.", "fr", source="en")
        assert models.closed == ["a"]  # the least recently used made room
        assert bot.models.loaded() == ["m", "b"]
        bot.code(ADD)  # a comes back, m (now the oldest) goes
        assert models.closed == ["a", "m"]
        assert bot.models.loaded() == ["b", "a"]
        assert models.opened == ["m", "a", "b", "a"]
        bot.chat("hello again")  # the chat model reloads when it is needed again
        assert models.opened[-1] == "m" and bot.models.loaded() == ["a", "m"]
    assert sorted(models.closed) == ["a", "a", "b", "m", "m"]  # close unloads the rest


def test_a_model_busy_generating_is_not_unloaded() -> None:
    models = Models()
    s = load_settings({"code_model": "a", "review_model": "b", "max_loaded_models": 1}, env={})
    pool = ModelPool(s, opener=models)
    a, b = pool.llm_for("code"), pool.llm_for("review")
    with a.stream("def f():") as stream:
        next(iter(stream))  # a is mid-generation
        assert b.complete("x").text  # b loads; a cannot be unloaded yet
        assert models.closed == [] and pool.loaded() == ["a", "b"]
    # a's generation ended: the pool is trimmed back to its cap, keeping a (just used)
    assert models.closed == ["b"] and pool.loaded() == ["a"]
    b.complete("y")  # b loads again, unloading a
    assert models.closed == ["b", "a"] and pool.loaded() == ["b"]


def test_capabilities_naming_one_model_share_it() -> None:
    models = Models()
    s = load_settings({"code_model": "q", "review_model": "q", "chat_model": "q"}, env={})
    pool = ModelPool(s, opener=models)
    assert pool.llm_for("code") is pool.llm_for("review") is pool.llm_for("chat")
    pool.llm_for("code").complete("a")
    pool.llm_for("review").complete("b")
    assert models.opened == ["q"]


def test_a_model_setting_naming_the_main_model_is_the_main_model() -> None:
    s = load_settings({"model": "gemma3-270m", "code_model": "gemma3-270m"}, env={})
    main = FakeLLM()
    pool = ModelPool(s, main=main)
    assert pool.single and pool.llm_for("code") is main


def test_a_bad_model_name_fails_at_first_use_naming_the_setting(tmp_path: Path) -> None:
    main = FakeLLM(default="(fake)")
    with Agent.open(
        tmp_path / "home", llm=main, embedder="hash", route_with_model=False,
        code_model="no-such-model",
    ) as bot:  # fmt: skip
        bot.chat("hello there")  # the rest of the agent works
        with pytest.raises(ConfigError, match=r"setting code_model = 'no-such-model'") as err:
            bot.code(ADD)
        assert "no-such-model" in str(err.value.__cause__)  # the registry's own message
        log = bot.logs(1)[0]
        assert log.route == "code" and log.model == "no-such-model" and log.error
        with pytest.raises(ConfigError, match="code_model"):  # tried again, fails again
            bot.code(ADD)


def test_a_bad_chat_model_fails_at_the_first_turn_naming_the_setting(tmp_path: Path) -> None:
    with Agent.open(tmp_path / "home", embedder="hash", chat_model="nope.gguf") as bot:
        bot.remember("My sister is called Ana")  # memory needs no model
        with pytest.raises(ConfigError, match=r"setting chat_model = 'nope\.gguf'.*not found"):
            bot.chat("hello there")
        assert bot.logs(1)[0].model == "nope.gguf" and bot.logs(1)[0].error


def test_usage_of_every_model_is_the_agents(tmp_path: Path) -> None:
    models = Models()
    with _open(tmp_path, models, code_model="coder") as bot:
        before = bot.llm.totals.snapshot()
        bot.code(ADD)  # the batch runner reads agent.llm.totals around each task
        used = bot.llm.totals.since(before)
        assert used.calls == 1 and used.completion_tokens > 0


def test_settings_env_and_flags() -> None:
    s = load_settings(env={"LOREBOOK_CODE_MODEL": "qwen2.5-coder-0.5b-instruct"})
    assert s.code_model == "qwen2.5-coder-0.5b-instruct" and s.chat_model is None
    assert s.max_loaded_models == 2
    with pytest.raises(ConfigError, match="max_loaded_models"):
        load_settings({"max_loaded_models": 0}, env={})
    parser = argparse.ArgumentParser(parents=[common_parser()])
    args = parser.parse_args(
        ["--code-model", "coder", "--translate-model", "/m/t.gguf", "--max-loaded-models", "3"]
    )
    s = settings_from_args(args)
    assert (s.code_model, s.translate_model, s.max_loaded_models) == ("coder", "/m/t.gguf", 3)


def test_the_command_line_opens_an_agent_with_them(tmp_path: Path) -> None:
    models = Models()
    s = load_settings({"home": tmp_path / "h", "code_model": "coder", "embedder": "hash"}, env={})
    with open_agent(s, open_model=models) as bot:  # what `lorebook batch` and `ask` do
        assert bot.code(ADD).model == "coder"
        assert models.opened == ["coder"]
