"""The one llama.cpp build (scripts/build_llama.sh, scripts/setup.sh): where it keeps things,
and that what setup installed and what ``make llama-server`` built run without any
environment variable (issue 19: llama.cpp is compiled once per machine)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from agent.buildflags import cmake_args

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "build_llama.sh"


def _where(what: str, env: dict[str, str], *args: str) -> Path:
    out = subprocess.run(
        ["bash", str(SCRIPT), "where", what, *args],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    ).stdout
    return Path(out.strip().splitlines()[-1])


def _clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLAMA_", "LOREBOOK_"))}
    env.pop("LD_LIBRARY_PATH", None)
    env.update(XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHON=sys.executable, **extra)
    return env


def test_libraries_and_tools_share_one_key_with_buildflags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The libraries setup installs and the tools built after them sit under the same
    <version>-<key>, the key being ``agent/buildflags.py --key``; the tools where
    agent/llm/serve.py looks for llama-server."""
    from agent.llm.serve import tools_cache

    flags = " ".join(cmake_args())
    key = hashlib.sha256(flags.encode()).hexdigest()[:12]
    venv = tmp_path / "venv"
    venv.mkdir()
    (venv / ".llama-flags").write_text(flags + "\n")
    env = _clean_env(tmp_path, VENV=str(venv), LOREBOOK_CUDA="0")
    build = f"{version('llama-cpp-python')}-{key}"
    assert _where("libs", env) == tmp_path / "cache" / "lorebook" / "llama" / build / "lib"
    tools = _where("tools", env)
    assert tools == tmp_path / "cache" / "lorebook" / "llama-tools" / build
    monkeypatch.delenv("LLAMA_TOOLS_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert tools.parent == tools_cache()
    # LLAMA_FLAGS overrides the tools' flags; the key follows them.
    other = _where("tools", {**env, "LLAMA_FLAGS": "-DGGML_NATIVE=OFF"})
    assert other.name.endswith(hashlib.sha256(b"-DGGML_NATIVE=OFF").hexdigest()[:12])
    assert not (tmp_path / "cache" / "lorebook" / "llama").exists()  # `where` builds nothing


def _ldd(path: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "LD_PRELOAD")}
    return subprocess.run(
        ["ldd", str(path)], capture_output=True, text=True, env=env, check=True, timeout=60
    ).stdout


@pytest.mark.skipif(
    bool(os.environ.get("LLAMA_CPP_LIB_PATH")), reason="libraries loaded from LLAMA_CPP_LIB_PATH"
)
def test_the_package_loads_the_libraries_setup_copied_into_it() -> None:
    """llama_cpp loads libllama from its own lib folder, and libllama finds libggml* beside it
    through its $ORIGIN run path: no LD_LIBRARY_PATH, no LLAMA_CPP_LIB_PATH."""
    import llama_cpp.llama_cpp as lib

    loaded = Path(lib._lib._name)
    package_lib = Path(lib.__file__).parent / "lib"
    assert loaded.parent == package_lib
    libs = _ldd(loaded)
    assert "not found" not in libs
    ggml = [line for line in libs.splitlines() if "libggml" in line]
    assert ggml and all(str(package_lib) in line for line in ggml), libs
    # The same flag set as recorded for this venv (what make llama-server builds the tools with).
    recorded = Path(sys.prefix) / ".llama-flags"
    if (package_lib / "flags").is_file() and recorded.is_file():
        assert (package_lib / "flags").read_text().split() == recorded.read_text().split()


def test_llama_server_runs_with_the_libraries_beside_it() -> None:
    """The tools are linked against the shared libraries of the same build and carry them in
    their folder ($ORIGIN), so they run from the cache as they are."""
    from tests.agent.conftest import server_binary

    binary = server_binary()
    libs = _ldd(binary)
    assert "not found" not in libs, libs
    for name in ("libllama.so", "libggml-base.so"):
        lines = [line for line in libs.splitlines() if name in line]
        if lines:  # a static build (e.g. LOREBOOK_LLAMA_SERVER) links none
            assert str(binary.parent) in lines[0], libs
    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "LD_PRELOAD")}
    run = subprocess.run(
        [str(binary), "--version"], capture_output=True, text=True, env=env, timeout=60
    )
    assert run.returncode == 0 and "version" in (run.stdout + run.stderr)
