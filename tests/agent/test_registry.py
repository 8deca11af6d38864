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
