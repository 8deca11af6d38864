"""Every way a model file goes wrong gets its own reason and a message naming the file."""

from pathlib import Path

import pytest

from agent.errors import ModelFileError
from agent.modelfile import check_model_file, sha256_file


def _reason(path: Path, **kw: str) -> ModelFileError:
    with pytest.raises(ModelFileError) as info:
        check_model_file(path, **kw)
    assert str(path) in str(info.value)
    return info.value


def test_valid_file_header(tiny_gguf: Path) -> None:
    header = check_model_file(tiny_gguf, expected_sha256=sha256_file(tiny_gguf))
    assert header.architecture == "llama"
    assert header.context_length == 128
    assert header.quantization == "F16"
    assert header.expected_size == tiny_gguf.stat().st_size


def test_missing(tmp_path: Path) -> None:
    assert _reason(tmp_path / "nope.gguf").reason == "missing"


def test_empty(tmp_path: Path) -> None:
    p = tmp_path / "e.gguf"
    p.write_bytes(b"")
    assert _reason(p).reason == "empty"


def test_lfs_pointer(tmp_path: Path) -> None:
    p = tmp_path / "m.gguf"
    p.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 253113024\n")
    err = _reason(p)
    assert err.reason == "lfs-pointer" and "git lfs pull" in str(err)


def test_html_page(tmp_path: Path) -> None:
    p = tmp_path / "m.gguf"
    p.write_text("\n<!DOCTYPE html><html><head><title>Sign in</title></head></html>")
    assert _reason(p).reason == "html"


def test_not_gguf(tmp_path: Path) -> None:
    p = tmp_path / "m.gguf"
    p.write_bytes(b"PK\x03\x04" + b"\0" * 100)
    assert _reason(p).reason == "not-gguf"


@pytest.mark.parametrize("keep", [10, 60, 300])  # inside the header, the metadata, the data
def test_truncated(tiny_gguf: Path, keep: int) -> None:
    data = tiny_gguf.read_bytes()
    tiny_gguf.write_bytes(data[:keep])
    assert _reason(tiny_gguf).reason == "truncated"


def test_checksum_mismatch(tiny_gguf: Path) -> None:
    good = sha256_file(tiny_gguf)
    data = bytearray(tiny_gguf.read_bytes())
    data[-1] ^= 0xFF  # same size, one byte of tensor data changed
    tiny_gguf.write_bytes(bytes(data))
    err = _reason(tiny_gguf, expected_sha256=good)
    assert err.reason == "checksum" and "does not match" in str(err)


def test_a_string_array_is_skipped_by_its_lengths_and_a_cut_one_is_truncated(
    tmp_path: Path,
) -> None:
    import gguf
    import numpy as np

    path = tmp_path / "tok.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_context_length(64)
    writer.add_token_list([f"tok{i}" for i in range(5000)])
    writer.add_string("general.name", "after the array")
    writer.add_tensor("a", np.ones((4, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    header = check_model_file(path)
    assert header.metadata["tokenizer.ggml.tokens"] == "<array of 5000>"
    assert header.metadata["general.name"] == "after the array"  # read past the array
    data = path.read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[: data.index(b"tok2500")])
    err = _reason(cut)
    assert err.reason == "truncated" and "string array runs past the end" in str(err)
