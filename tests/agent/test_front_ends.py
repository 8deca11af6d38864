"""Every capability reaches every front end with the same parameter names (issue 16).

The CLI subcommands, the batch task table, the chat app's slash commands, the MCP tools and the
turn graph's tool nodes are generated from :data:`agent.capabilities.CAPABILITIES`; this checks
the generated results, so a front end that stops being generated, or renames a parameter, fails
here.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from agent.batch.tasks import ALIASES, TASKS
from agent.capabilities import CAPABILITIES, TOOLS, Capability
from agent.cli import build_parser
from agent.llm.fake import FakeLLM
from agent.mcp_server import LorebookMCP
from agent.pipeline.graph import Services, build_graph
from agent.pipeline.routing import TOOL_ROUTES
from agent.pipeline.state import new_turn
from agent.settings import load_settings
from agent.toolbox import ToolBox
from tui.commands import BY_NAME, BY_TURN

CAPS = list(CAPABILITIES.values())


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize("cap", CAPS, ids=lambda c: c.name)
def test_the_cli_has_a_subcommand_taking_the_parameters(cap: Capability) -> None:
    sub = _subcommands()[cap.name]
    dests = {a.dest for a in sub._actions}
    assert set(cap.params.model_fields) <= dests, cap.name


@pytest.mark.parametrize("cap", CAPS, ids=lambda c: c.name)
def test_the_batch_table_has_a_task_taking_the_parameters(cap: Capability) -> None:
    task = TASKS[cap.name]
    taken = {*task.required, *task.optional, *task.one_of}
    assert set(cap.params.model_fields) <= taken
    # and nothing else, but the old names kept for existing task files
    assert taken - set(cap.params.model_fields) == set(ALIASES.get(cap.name, {}))
    required = {n for n, f in cap.params.model_fields.items() if f.is_required()}
    assert required <= {*task.required, *task.one_of}


@pytest.mark.parametrize("cap", CAPS, ids=lambda c: c.name)
def test_the_chat_app_has_a_slash_command_for_it(cap: Capability) -> None:
    command = BY_NAME[cap.name]
    assert command.capability and command.needs_arg
    # a command's text parses into the capability's own parameters
    assert command.turn == (cap.name in BY_TURN)


def test_the_slash_commands_sent_as_turns_are_the_ones_the_router_takes() -> None:
    from agent.pipeline.routing import explicit_route

    for name in CAPABILITIES:
        decision = explicit_route(f"/{name} something")
        routed = decision is not None and decision.reason == f"slash command /{name}"
        assert routed == (name in BY_TURN), name


def test_the_mcp_server_offers_every_capability_with_its_schema(tmp_path: Path) -> None:
    settings = load_settings({"home": tmp_path, "embedder": "hash"}, env={})
    app = LorebookMCP(settings, allow_code=True)
    try:
        tools = {c.name: app.tool(c) for c in app.capabilities.values()}
    finally:
        app.workspace.close()
    assert set(tools) == set(CAPABILITIES)
    for name, tool in tools.items():
        assert set(tool.input_schema["properties"]) == set(CAPABILITIES[name].params.model_fields)


_COMMANDS = {
    "translate": "French good morning",
    "summarize": "bullets 40 The council approved the plan. Work starts in April.",
    "code": "bash: count the lines of a file",
    "review": "Either party may terminate this Agreement on thirty days' notice.",
}
"""A chat command's text for each tool (another tool gets "some text")."""


@dataclasses.dataclass
class _Result:
    tool: str

    def to_markdown(self) -> str:
        return f"ran {self.tool}"

    def to_dict(self) -> dict[str, Any]:
        return {"tool": self.tool}


def test_the_turn_graph_runs_every_tool_with_its_parameters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tool's slash command reaches a node of the graph that runs that very capability, on
    the capability's own parameter model parsed from the command's text."""
    assert TOOLS == TOOL_ROUTES  # each tool route the router takes has its node
    ran: dict[str, Any] = {}

    def recorder(name: str) -> Any:
        def function(box: ToolBox, params: Any) -> _Result:
            ran[name] = params
            return _Result(name)

        return function

    for name in TOOLS:
        fake = dataclasses.replace(CAPABILITIES[name], function=recorder(name))
        monkeypatch.setitem(CAPABILITIES, name, fake)
    llm = FakeLLM()
    settings = load_settings({"home": tmp_path}, env={})
    graph = build_graph(Services(llm=llm, tools=ToolBox(settings, llm)))
    assert set(TOOLS) <= set(graph.nodes)
    for name in TOOLS:
        text = f"/{name} {_COMMANDS.get(name, 'some text')}"
        out = graph.invoke(new_turn(text, "me", "t"))
        assert (out["route"], out["reply"], out["tool_result"]) == (
            name,
            f"ran {name}",
            {"tool": name},
        )
        params = ran[name]
        assert type(params) is CAPABILITIES[name].params  # its parameters, by their names
    assert ran["translate"].target == "fr" and ran["translate"].text == "good morning"
    assert (ran["summarize"].style, ran["summarize"].max_words) == ("bullets", 40)
    assert ran["code"].language == "bash"
