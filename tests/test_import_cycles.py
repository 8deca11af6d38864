"""No import cycle among lorebook's modules (issue 16).

The graph is read from the source, not by importing: an edge for every import at a module's
top level (outside ``if TYPE_CHECKING:``), to the module imported and to the packages above it
(their ``__init__`` runs first). Imports inside functions are left out: they are the deliberate
lazy ones (LangGraph, the model, torch, the MCP SDK), which ``tests/agent/test_cli_startup.py``
guards; a cycle dodged with one shows up here once it moves to the top.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("agent", "memory", "tools", "tui")


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _imports(tree: ast.Module, in_functions: bool) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []

    def walk(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import | ast.ImportFrom):
                found.append(node)
            elif in_functions and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                walk(node.body)
            elif in_functions and isinstance(node, ast.ClassDef | ast.With):
                walk(node.body)
            elif isinstance(node, ast.If) and "TYPE_CHECKING" not in ast.unparse(node.test):
                walk(node.body)
                walk(node.orelse)
            elif isinstance(node, ast.Try):
                walk(node.body)
                for handler in node.handlers:
                    walk(handler.body)

    walk(tree.body)
    return found


def import_graph(in_functions: bool = False) -> dict[str, set[str]]:
    """Module -> the lorebook modules it imports at its top level (``in_functions``: and in
    its functions and methods, run later)."""
    modules = _modules()

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        targets: list[str] = []
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in _imports(tree, in_functions):
            if isinstance(node, ast.Import):
                targets += [a.name for a in node.names]
                continue
            base = node.module or ""
            if node.level:
                here = name.split(".") if is_package else name.split(".")[:-1]
                here = here[: len(here) - node.level + 1]
                base = ".".join([*here, base] if base else here)
            targets += [
                f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names
            ]
        edges = set()
        for target in targets:
            found = known(target)
            while found:
                if found != name and not name.startswith(found + "."):
                    edges.add(found)  # the module, and each package above it, which runs first
                found = found.rpartition(".")[0] or None
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_module_imports_itself_back() -> None:
    assert cycles(import_graph()) == []


def test_no_cycle_is_dodged_by_an_import_inside_a_function() -> None:
    """The lazy imports inside functions (of LangGraph's pipeline, the agent, the tools) are for
    start-up time only: none of them closes a loop (``cli`` <-> ``cli_tools`` and ``review`` <->
    ``_review_model`` once did)."""
    assert cycles(import_graph(in_functions=True)) == []


def test_the_check_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_the_graph_sees_the_imports_it_should() -> None:
    graph = import_graph()
    assert "agent.capabilities" in graph["agent.cli.capabilities"]
    assert "tools._review_types" in graph["tools._review_model"]
    assert "agent" in graph["memory.episodic"]  # `from agent.errors import …` runs agent/__init__
    assert "agent.pipeline.toolargs" in graph["agent.capabilities"]  # chat commands' parsing
    assert "agent.capabilities" in graph["agent.pipeline.graph"]  # the tool nodes come from it
    assert "agent.pipeline.graph" not in import_graph(in_functions=True)["agent.pipeline"]


def test_the_registry_loads_without_langgraph() -> None:
    """``agent.pipeline``'s ``__init__`` leaves the graph out, so the registry parses chat
    commands with ``toolargs`` and a memory command or the MCP server still starts without
    LangGraph (~2.5 s on a small machine)."""
    code = "import sys, agent.capabilities; print('langgraph' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "False", out.stderr
