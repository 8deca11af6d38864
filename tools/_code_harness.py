"""The code tool's test harness ``main.py``; the candidate never runs in its process.

Run by :func:`tools._code_tests.run_tests` through :func:`tools.sandbox.run_sandboxed` with
``report_fd=True``. It reads ``cases.json``, ``candidate.py`` and ``tests.py``, then forks the
**candidate process**, which closes descriptor 3 (the report pipe) and every other descriptor
but its two request pipes *before* the candidate is loaded, and then only answers requests:
call this, get that attribute, apply that operator. This process (the **judge**) evaluates the
docstring examples and runs the given tests itself, with the candidate's functions and objects
standing in as proxies, compares the values itself and writes one JSON line per case to
descriptor 3, which only it holds.

So the candidate cannot forge a verdict: whatever it prints goes to stdout, which decides
nothing; descriptor 3 is closed in its process, and the sandbox makes this process undumpable,
so ``/proc/<pid>/fd/3`` and ptrace are closed to it; exiting early, or patching the harness,
only ends or changes its own process, and a case then fails with "the code's process exited".
All it can do is answer a request with a value of its choosing — which is what returning that
value would do.

Values cross as plain data (None, bools, numbers, strings, bytes, lists, tuples, dicts, sets),
rebuilt here from :func:`ast.literal_eval`'s output so no object of the candidate's ever runs
in this process; anything else stays in the candidate process and is a proxy here. A proxy is
never equal to plain data (an object with an ``__eq__`` that always says yes does not pass
``f(2) == 4``); between proxies, and for other operators, the candidate's own methods decide.

Deliberate shortcuts: a test that passes something that is not plain data into the code (a
lambda, an open file) fails with a message saying so; a list the code mutates in place is a
copy, so a test that checks the mutation fails; exceptions come back as the nearest built-in
class (``ValueError`` for a ``class BadInput(ValueError)``). It uses only the standard library
(the sandbox runs Python with ``-S``).
"""

from __future__ import annotations

import ast
import builtins
import json
import os
import struct
import sys
import traceback
from collections.abc import Callable, Iterator
from typing import Any

_REPORT_FD = 3
_MAX_MESSAGE = 16 * 2**20
_MAX_DEPTH = 200


class CodeExited(BaseException):
    """The candidate process ended (or answered garbage); a BaseException so tests' broad
    ``except Exception`` cannot count it as the exception they expected."""


# --- the wire: length-prefixed repr() of tagged tuples, read back with ast.literal_eval ---


def _send(fd: int, message: object) -> None:
    data = repr(message).encode("utf-8", "surrogatepass")
    view = memoryview(struct.pack(">I", len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


def _receive(fd: int) -> Any:
    head = _read_exactly(fd, 4)
    (size,) = struct.unpack(">I", head)
    if size > _MAX_MESSAGE:
        raise CodeExited(f"the code's process sent {size} bytes at once")
    try:
        return ast.literal_eval(_read_exactly(fd, size).decode("utf-8", "surrogatepass"))
    except (ValueError, SyntaxError, MemoryError, RecursionError, UnicodeDecodeError) as exc:
        raise CodeExited("the code's process sent a malformed message") from exc


def _read_exactly(fd: int, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = os.read(fd, min(size - len(data), 2**20))
        if not chunk:
            raise CodeExited("the code's process exited")
        data += chunk
    return data


def _encode(value: object, other: Callable[[object], tuple[object, ...]], depth: int = 0) -> Any:
    """Plain data as tagged tuples; ``other`` encodes the rest (a handle, or an error)."""
    if depth > _MAX_DEPTH:
        return other(value)
    if value is None:
        return ("N",)
    if isinstance(value, bool):
        return ("b", bool(value))
    if isinstance(value, int):
        return ("i", hex(int(value)))
    if isinstance(value, float):
        return ("f", float(value).hex())
    if isinstance(value, complex):
        return ("c", value.real.hex(), value.imag.hex())
    if isinstance(value, str):
        return ("s", str.__str__(value))
    if isinstance(value, bytes | bytearray):
        return ("y", bytes(value))
    tags: list[tuple[type, str]] = [(list, "l"), (tuple, "t"), (set, "S"), (frozenset, "F")]
    for kind, tag in tags:
        if isinstance(value, kind):
            return (tag, [_encode(v, other, depth + 1) for v in value])  # type: ignore[attr-defined]
    if isinstance(value, dict):
        items = [
            [_encode(k, other, depth + 1), _encode(v, other, depth + 1)] for k, v in value.items()
        ]
        return ("d", items)
    return other(value)


# --- the candidate process ---------------------------------------------------------------


def _serve(source: str, requests: int, replies: int) -> None:
    """Load the candidate and answer requests until the judge closes the pipe; never returns."""
    for fd in range(3, 256):
        if fd not in (requests, replies):
            try:
                os.close(fd)
            except OSError:
                pass
    objects: dict[int, object] = {}

    def handle(value: object) -> tuple[object, ...]:
        objects[id(value)] = value
        return ("h", id(value), type(value).__name__)

    ns: dict[str, Any] = {"__name__": "candidate", "__file__": "candidate.py"}
    try:
        exec(compile(source, "candidate.py", "exec"), ns)
        names = {k: _encode(v, handle) for k, v in ns.items() if not k.startswith("__")}
        _send(replies, ("ok", names))
    except BaseException as exc:  # noqa: BLE001 - whatever the candidate raised is the verdict
        _send(replies, ("load_error", _last_line(exc)))
        os._exit(0)
    while True:
        try:
            request = _receive(requests)
        except CodeExited:
            os._exit(0)
        try:
            result = _answer(request, objects)
            _send(replies, ("v", _encode(result, handle)))
        except BaseException as exc:  # noqa: BLE001 - sent back as the call's exception
            kinds = [c.__name__ for c in type(exc).__mro__]
            _send(replies, ("x", kinds, str(exc)[:2000], _last_line(exc)))


def _answer(request: Any, objects: dict[int, object]) -> object:
    def value(encoded: Any) -> Any:
        return _decode(encoded, lambda i, _name: objects[i])

    op = request[0]
    if op == "call":
        return objects[request[1]](*value(request[2]), **value(request[3]))  # type: ignore[operator]
    if op == "getattr":
        return getattr(objects[request[1]], request[2])
    operands = value(request[2])
    return _OPERATORS[request[1]](*operands)


def _next(obj: Any) -> object:
    return next(obj)


_OPERATORS: dict[str, Callable[..., object]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "truediv": lambda a, b: a / b,
    "floordiv": lambda a, b: a // b,
    "mod": lambda a, b: a % b,
    "pow": lambda a, b: a**b,
    "neg": lambda a: -a,
    "abs": abs,
    "getitem": lambda a, k: a[k],
    "setitem": lambda a, k, v: a.__setitem__(k, v),
    "contains": lambda a, k: k in a,
    "len": len,
    "bool": bool,
    "repr": repr,
    "str": str,
    "hash": hash,
    "int": int,
    "float": float,
    "iter": iter,
    "next": _next,
}


# --- the judge ---------------------------------------------------------------------------


def _decode(encoded: Any, handle: Callable[[int, str], Any], depth: int = 0) -> Any:
    """Rebuild plain data from its tagged form, checking every piece; anything else: ValueError."""
    if depth > _MAX_DEPTH + 1 or not isinstance(encoded, tuple | list) or not encoded:
        raise ValueError("not a tagged value")
    tag, rest = encoded[0], encoded[1:]
    if tag == "N" and not rest:
        return None
    leaf = rest[0] if len(rest) == 1 else None
    if tag == "b" and type(leaf) is bool:
        return leaf
    if tag == "i" and type(leaf) is str:
        return int(leaf, 16)
    if tag == "f" and type(leaf) is str:
        return float.fromhex(leaf)
    if tag == "c" and len(rest) == 2 and all(type(p) is str for p in rest):
        return complex(float.fromhex(rest[0]), float.fromhex(rest[1]))
    if tag == "s" and type(leaf) is str:
        return leaf
    if tag == "y" and type(leaf) is bytes:
        return leaf
    if tag == "h" and len(rest) == 2 and type(rest[0]) is int and type(rest[1]) is str:
        return handle(rest[0], rest[1])
    if tag in ("l", "t", "S", "F", "d") and type(leaf) is list:
        if tag == "d":
            pairs = [
                (_decode(k, handle, depth + 1), _decode(v, handle, depth + 1)) for k, v in leaf
            ]
            return dict(pairs)
        items = [_decode(item, handle, depth + 1) for item in leaf]
        return {"l": list, "t": tuple, "S": set, "F": frozenset}[tag](items)
    raise ValueError(f"not a tagged value: {tag!r}")


class _Candidate:
    """The candidate process, seen from the judge: start it, ask it things."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.pid = 0
        self.names: dict[str, Any] = {}
        self.load_error: str | None = None
        self.start()

    def start(self) -> None:
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            _serve(self.source, req_r, rep_w)
        os.close(req_r)
        os.close(rep_w)
        self.pid, self.requests, self.replies = pid, req_w, rep_r
        try:
            status, payload = _receive(self.replies)
            if status == "load_error":
                self.load_error = str(payload)
                return
            self.names = {k: self.decode(v) for k, v in payload.items() if type(k) is str}
        except (CodeExited, ValueError, TypeError, AttributeError) as exc:
            self.load_error = f"the code's process ended while loading ({exc})"

    def restart(self) -> None:
        """A fresh candidate process after the last one exited (its objects went with it)."""
        self.stop()
        self.start()

    def stop(self) -> None:
        for fd in (self.requests, self.replies):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            os.kill(self.pid, 9)
            os.waitpid(self.pid, 0)
        except OSError:
            pass

    def decode(self, encoded: Any) -> Any:
        try:
            return _decode(encoded, lambda i, name: _Proxy(self, i, name))
        except (ValueError, TypeError, KeyError, OverflowError, RecursionError) as exc:
            raise CodeExited("the code's process sent a malformed value") from exc

    def ask(self, *request: object) -> Any:
        try:
            _send(self.requests, request)
        except OSError as exc:
            raise CodeExited("the code's process exited") from exc
        reply = _receive(self.replies)
        if not isinstance(reply, tuple) or not reply:
            raise CodeExited("the code's process sent a malformed reply")
        if reply[0] == "v" and len(reply) == 2:
            return self.decode(reply[1])
        if reply[0] == "x" and len(reply) == 4:
            raise _rebuild(reply[1], str(reply[2]), str(reply[3]))
        raise CodeExited("the code's process sent a malformed reply")


def _plain(value: object) -> Any:
    def refuse(other: object) -> tuple[object, ...]:
        if isinstance(other, _Proxy):
            return ("h", other._id, other._type)
        raise TypeError(
            f"the tests pass a {type(other).__name__} into the code; only plain data (numbers,"
            " strings, lists, dicts...) and the code's own objects can cross into its process"
        )

    return _encode(value, refuse)


def _rebuild(names: object, message: str, line: str) -> BaseException:
    """The nearest built-in exception to the one the candidate raised."""
    names = names if isinstance(names, list) else []
    if names and names[0] in ("SystemExit", "KeyboardInterrupt", "GeneratorExit"):
        return CodeExited(f"the code raised {line}")
    for name in names:
        kind = getattr(builtins, str(name), None)
        if isinstance(kind, type) and issubclass(kind, Exception):
            try:
                return kind(message)
            except Exception:  # noqa: BLE001 - a built-in that wants other arguments
                continue
    return Exception(line)


class _Proxy:
    """One of the candidate's objects (a function, a class, an instance), here by reference."""

    __slots__ = ("_candidate", "_id", "_type")

    def __init__(self, candidate: _Candidate, ident: int, type_name: str) -> None:
        self._candidate, self._id, self._type = candidate, ident, type_name

    def _op(self, name: str, *operands: object) -> Any:
        return self._candidate.ask("op", name, _plain([self, *operands]))

    def __call__(self, *args: object, **kwargs: object) -> Any:
        return self._candidate.ask("call", self._id, _plain(list(args)), _plain(kwargs))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._candidate.ask("getattr", self._id, name)

    def __eq__(self, other: object) -> Any:
        # Plain data is never equal to an object of the code's: no always-equal objects.
        return self._op("eq", other) if isinstance(other, _Proxy) else NotImplemented

    def __ne__(self, other: object) -> Any:
        return self._op("ne", other) if isinstance(other, _Proxy) else NotImplemented

    def __hash__(self) -> int:
        return int(self._op("hash"))

    def __repr__(self) -> str:
        text = self._op("repr")
        return text if isinstance(text, str) else f"<{self._type}>"

    def __str__(self) -> str:
        text = self._op("str")
        return text if isinstance(text, str) else f"<{self._type}>"

    def __bool__(self) -> bool:
        return bool(self._op("bool"))

    def __len__(self) -> int:
        return int(self._op("len"))

    def __int__(self) -> int:
        return int(self._op("int"))

    def __float__(self) -> float:
        return float(self._op("float"))

    def __iter__(self) -> Iterator[Any]:
        it = self._op("iter")
        while True:
            try:
                yield it._op("next") if isinstance(it, _Proxy) else next(it)
            except StopIteration:
                return

    def __next__(self) -> Any:
        return self._op("next")

    def __getitem__(self, key: object) -> Any:
        return self._op("getitem", key)

    def __setitem__(self, key: object, value: object) -> None:
        self._op("setitem", key, value)

    def __contains__(self, item: object) -> bool:
        return bool(self._op("contains", item))

    def __lt__(self, other: object) -> Any:
        return self._op("lt", other)

    def __le__(self, other: object) -> Any:
        return self._op("le", other)

    def __gt__(self, other: object) -> Any:
        return self._op("gt", other)

    def __ge__(self, other: object) -> Any:
        return self._op("ge", other)

    def __add__(self, other: object) -> Any:
        return self._op("add", other)

    def __sub__(self, other: object) -> Any:
        return self._op("sub", other)

    def __mul__(self, other: object) -> Any:
        return self._op("mul", other)

    def __truediv__(self, other: object) -> Any:
        return self._op("truediv", other)

    def __floordiv__(self, other: object) -> Any:
        return self._op("floordiv", other)

    def __mod__(self, other: object) -> Any:
        return self._op("mod", other)

    def __pow__(self, other: object) -> Any:
        return self._op("pow", other)

    def __neg__(self) -> Any:
        return self._op("neg")

    def __abs__(self) -> Any:
        return self._op("abs")


def _last_line(exc: BaseException) -> str:
    try:
        return traceback.format_exception_only(type(exc), exc)[-1].strip()[:500]
    except BaseException:  # noqa: BLE001 - an exception whose str() raises
        return type(exc).__name__


def _emit(**fields: object) -> None:
    data = (json.dumps(fields) + "\n").encode()
    view = memoryview(data)
    while view:
        view = view[os.write(_REPORT_FD, view) :]


def _run_case(candidate: _Candidate, index: int, source: str, want: str) -> None:
    ns = {"__builtins__": builtins, **candidate.names}
    try:
        got = eval(source, ns)
    except CodeExited as exc:
        _emit(case=index, ok=False, got=str(exc))
        candidate.restart()
        return
    except BaseException as exc:  # noqa: BLE001 - the case's exception is its result
        _emit(case=index, ok=False, got="raised " + _last_line(exc))
        return
    try:
        try:
            ok = bool(got == eval(want, {"__builtins__": builtins}))
        except CodeExited:
            raise
        except BaseException:  # noqa: BLE001 - a want that is no expression: compare text
            ok = repr(got) == want or str(got) == want
        shown = repr(got)[:200]
    except CodeExited as exc:
        _emit(case=index, ok=False, got=str(exc))
        candidate.restart()
        return
    _emit(case=index, ok=ok, got=shown)


def _run_given(candidate: _Candidate, tests: str, entry: str | None) -> None:
    ns: dict[str, Any] = {"__name__": "tests", "__builtins__": builtins, **candidate.names}
    try:
        exec(compile(tests, "tests.py", "exec"), ns)
        if "check" in ns and entry in candidate.names:
            ns["check"](candidate.names[entry])
        _emit(case="given", ok=True)
    except BaseException as exc:  # noqa: BLE001 - any failure of the tests is the verdict
        line = ""
        for frame in traceback.extract_tb(exc.__traceback__):
            if frame.filename == "tests.py":
                line = (frame.line or "").strip()
        _emit(case="given", ok=False, got=_last_line(exc), line=line)


def main() -> None:
    with open("cases.json", encoding="utf-8") as fh:
        config = json.load(fh)
    with open("candidate.py", encoding="utf-8") as fh:
        source = fh.read()
    with open("tests.py", encoding="utf-8") as fh:
        tests = fh.read()
    # The judge imports only the standard library from now on, never a file the code wrote.
    here = os.getcwd()
    sys.path[:] = [p for p in sys.path if p not in ("", ".", here)]
    candidate = _Candidate(source)
    if candidate.load_error is not None:
        _emit(load_error=candidate.load_error)
        return
    for index, (case_source, want) in enumerate(config["cases"]):
        _run_case(candidate, index, case_source, want)
    if config["tests"]:
        _run_given(candidate, tests, config["entry"])
    candidate.stop()


if __name__ == "__main__":
    main()
