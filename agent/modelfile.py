"""Checking model files before llama.cpp sees them, so a bad file gets a useful message.

llama.cpp answers a bad file with "failed to load model" at best. Here each common way a
download goes wrong is told apart and named: the file is missing or empty, a git-LFS pointer, an
HTML page (a login or error page saved under the model's name), not GGUF at all, not a regular
file (a FIFO would block the first read forever; checked before any open), truncated or damaged
(its own header describes more bytes than it has, or values no GGUF file has), of a tensor type
or GGUF version this version does not know, or its sha256 differs from the recorded one.

The GGUF header is parsed here rather than with ``gguf.GGUFReader``, which takes ~8 s on the
default model because it materialises the 262k-entry tokenizer arrays; this reader skips arrays
(a string array by its lengths alone, without copying or decoding a string) and takes about
30 ms. Tensor sizes come from the ``gguf`` package's type table, imported when a header is
read: it brings numpy and yaml, which commands that never look at a model should not load.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import mmap
import stat
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.errors import ModelFileError

_SCALARS: dict[int, str] = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_STRING, _ARRAY = 8, 9
_U64 = struct.Struct("<Q")
_FIX_DOWNLOAD = "Download or copy the model again, then `lorebook models add PATH`."
_VERSIONS = (2, 3)
"""GGUF versions this reader knows (version 1 used 32-bit counts; llama.cpp writes 3)."""
_MAX_DIMS = 4  # GGML_MAX_DIMS


def require_regular_file(path: Path) -> None:
    """Raise unless ``path`` is a regular file (a FIFO named ``x.gguf`` would block ``open``).

    Raises:
        ModelFileError: ``missing`` or ``not-a-file``.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ModelFileError(
            path, "missing", "not found", "Check the path, or see `lorebook models list`."
        ) from None
    except OSError as exc:
        raise ModelFileError(
            path, "unreadable", f"cannot be read ({exc.strerror})", "Check the file's permissions."
        ) from exc
    if stat.S_ISREG(mode):
        return
    kind = (
        "a folder"
        if stat.S_ISDIR(mode)
        else "a named pipe (FIFO)"
        if stat.S_ISFIFO(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "a device"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "not a regular file"
    )
    raise ModelFileError(
        path,
        "not-a-file",
        f"this is {kind}, not a model file",
        "Point lorebook at the .gguf file itself (`lorebook models add PATH`).",
    )


def _gguf_version() -> str:
    try:
        return md.version("gguf")
    except md.PackageNotFoundError:
        return "?"


@dataclass(frozen=True)
class GGUFHeader:
    """What the header of a GGUF file says (arrays are summarised by their length)."""

    version: int
    tensor_count: int
    metadata: dict[str, Any]
    expected_size: int
    """File size implied by the header: data section start plus the furthest tensor end."""
    tensor_types: dict[str, int] = field(default_factory=dict)

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture", "unknown"))

    @property
    def context_length(self) -> int | None:
        value = self.metadata.get(f"{self.architecture}.context_length")
        return int(value) if value is not None else None

    @property
    def quantization(self) -> str:
        ft = self.metadata.get("general.file_type")
        if ft is None:
            return "unknown"
        from gguf.constants import LlamaFileType  # numpy and yaml: see the module docstring

        try:
            return LlamaFileType(int(ft)).name.removeprefix("MOSTLY_")
        except ValueError:
            return f"file_type {ft}"


class _Reader:
    def __init__(self, buf: mmap.mmap | bytes):
        self.buf = buf
        self.pos = 0

    def scalar(self, fmt: str) -> Any:
        value = struct.unpack_from(fmt, self.buf, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return value

    def string(self) -> str:
        n = self.scalar("<Q")
        if self.pos + n > len(self.buf):
            raise struct.error("string runs past the end of the file")
        raw = bytes(self.buf[self.pos : self.pos + n])
        self.pos += n
        return raw.decode("utf-8", "replace")

    def value(self, vtype: int) -> Any:
        if vtype in _SCALARS:
            return self.scalar(_SCALARS[vtype])
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            itype, count = self.scalar("<I"), self.scalar("<Q")
            if itype in _SCALARS:
                self.pos += struct.calcsize(_SCALARS[itype]) * count
                if self.pos > len(self.buf):
                    raise struct.error("array runs past the end of the file")
            elif itype == _STRING:  # the tokenizer's 262k tokens: lengths only
                pos, buf, size, unpack = self.pos, self.buf, len(self.buf), _U64.unpack_from
                for _ in range(count):
                    pos += 8 + unpack(buf, pos)[0]
                    if pos > size:
                        raise struct.error("string array runs past the end of the file")
                self.pos = pos
            else:
                for _ in range(count):
                    self.value(itype)
            return f"<array of {count}>"
        raise ValueError(f"unknown GGUF value type {vtype}")


def read_gguf_header(path: Path) -> GGUFHeader:
    """Parse the header of the GGUF file at ``path``.

    Raises:
        ModelFileError: ``missing`` or ``not-a-file`` (checked before opening), ``not-gguf``,
            ``truncated`` (cut off or damaged) or ``unknown-type`` (a tensor type or GGUF
            version this reader does not know) when the header cannot be read.
    """
    require_regular_file(path)
    if path.stat().st_size < 4:
        raise ModelFileError(path, "not-gguf", "not a GGUF file (no GGUF magic)", _FIX_DOWNLOAD)
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        if buf[:4] != b"GGUF":
            raise ModelFileError(path, "not-gguf", "not a GGUF file (no GGUF magic)", _FIX_DOWNLOAD)
        r = _Reader(buf)
        r.pos = 4
        try:
            version = r.scalar("<I")
            if version not in _VERSIONS:
                raise ModelFileError(
                    path,
                    "unknown-type",
                    f"it is GGUF version {version}; lorebook reads versions "
                    f"{', '.join(map(str, _VERSIONS))}",
                    "Convert it with a current llama.cpp, or download the model again.",
                )
            n_tensors, n_kv = r.scalar("<Q"), r.scalar("<Q")
            meta: dict[str, Any] = {}
            for _ in range(n_kv):
                key = r.string()
                meta[key] = r.value(r.scalar("<I"))
            infos = []
            for _ in range(n_tensors):
                name = r.string()
                n_dims = r.scalar("<I")
                if n_dims > _MAX_DIMS:
                    raise ValueError(f"tensor {name!r} has {n_dims} dimensions")
                dims = [r.scalar("<Q") for _ in range(n_dims)]
                infos.append((name, dims, r.scalar("<I"), r.scalar("<Q")))
        except (struct.error, ValueError) as exc:
            raise ModelFileError(
                path, "truncated", f"its GGUF header is cut off or damaged ({exc})", _FIX_DOWNLOAD
            ) from exc
    align = meta.get("general.alignment", 32)
    if not isinstance(align, int) or isinstance(align, bool) or align <= 0:
        raise ModelFileError(
            path,
            "truncated",
            f"its GGUF header is damaged (general.alignment is {align!r})",
            _FIX_DOWNLOAD,
        )
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType  # see the module docstring

    data_start = (r.pos + align - 1) // align * align
    end = data_start
    for name, dims, ttype, offset in infos:
        try:
            block, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(ttype)]
        except (ValueError, KeyError):
            raise ModelFileError(
                path,
                "unknown-type",
                f"tensor {name!r} has type {ttype}, which this version of the gguf package "
                f"({_gguf_version()}) does not know: a newer quantization, or a damaged file",
                "Update lorebook's packages (`pip install -U gguf llama-cpp-python`), or "
                "download the model again.",
            ) from None
        n = 1
        for d in dims:
            n *= d
        end = max(end, data_start + offset + n // block * type_size)
    return GGUFHeader(version, n_tensors, meta, end, {i[0]: i[2] for i in infos})


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    """Hex sha256 of a file, read in 4 MiB chunks.

    Raises:
        ModelFileError: not a regular file (see :func:`require_regular_file`).
    """
    require_regular_file(path)
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def check_model_file(path: Path | str, expected_sha256: str | None = None) -> GGUFHeader:
    """Check that ``path`` is a complete GGUF model (and has ``expected_sha256`` if given).

    Returns:
        The parsed header.

    Raises:
        ModelFileError: with ``reason`` one of missing, not-a-file, empty, unreadable,
            lfs-pointer, html, not-gguf, truncated, unknown-type, checksum; the message names
            the file and what to do.

    Example:
        >>> check_model_file("/nonexistent.gguf")
        Traceback (most recent call last):
        ...
        agent.errors.ModelFileError: model file /nonexistent.gguf: not found. ...
    """
    path = Path(path)
    require_regular_file(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(1024)
    except OSError as exc:
        raise ModelFileError(
            path, "unreadable", f"cannot be read ({exc.strerror})", "Check the file's permissions."
        ) from exc
    if size == 0:
        raise ModelFileError(path, "empty", "the file is empty (0 bytes)", _FIX_DOWNLOAD)
    if head.startswith(b"version https://git-lfs.github.com/spec"):
        raise ModelFileError(
            path,
            "lfs-pointer",
            f"this is a git-LFS pointer ({size} bytes), not the model",
            "Run `git lfs pull` in the repository it came from, or download the real file.",
        )
    lowered = head.lstrip().lower()
    if lowered.startswith((b"<!doctype html", b"<html")) or b"<html" in lowered[:512]:
        raise ModelFileError(
            path,
            "html",
            "this is an HTML page (a login or error page saved under the model's "
            "name), not the model",
            _FIX_DOWNLOAD,
        )
    header = read_gguf_header(path)
    if size < header.expected_size:
        raise ModelFileError(
            path,
            "truncated",
            f"truncated: the file has {size:,} bytes but its header describes "
            f"{header.expected_size:,}",
            _FIX_DOWNLOAD,
        )
    if expected_sha256 is not None:
        actual = sha256_file(path)
        if actual != expected_sha256:
            raise ModelFileError(
                path,
                "checksum",
                f"sha256 {actual[:16]}… does not match the recorded {expected_sha256[:16]}…; the "
                "file changed since it was registered",
                "If you replaced it on purpose, `lorebook models remove NAME` and add it again; "
                "otherwise restore the original file.",
            )
    return header
