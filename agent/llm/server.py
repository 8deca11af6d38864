"""The HTTP backend: llama.cpp's own ``llama-server``, one or several replicas.

The three primitives of :class:`~agent.llm.base.LLM` map onto llama-server's native API
(``POST /tokenize``, ``POST /detokenize``, ``POST /completion`` with ``stream: true``), so
everything else -- chat formats, the overflow policy, JSON-schema answers, token totals, cancel
scopes -- is the same code as the in-process backend, and the same tests run against both.

- The prompt goes over as token ids (the ones :meth:`tokenize` returned), so budgets computed
  here are exactly what the server evaluates. ``cache_prompt`` lets a slot reuse its KV cache.
- Grammars (GBNF) and JSON schemas are passed through; the server compiles them (a bad one is a
  :class:`~agent.errors.GrammarError`, as in process).
- Token counts and timings come from the server's final event (``tokens_evaluated``,
  ``tokens_predicted``, ``timings``); for a cancelled reply, from the tokens received.
- Cancelling closes the connection. llama-server notices the closed socket and stops the slot's
  generation, so the GPU is not kept busy for nobody. A cancel that comes while the server is
  still evaluating the prompt (no byte received yet) shuts the socket down at once: the waiting
  read ends without waiting for the first token.
- Replicas: each request goes to the replica with the fewest requests in flight from this
  process; among equals, the one that last served the same prompt prefix (its slot may still hold
  it in the KV cache), else round robin. A replica that refuses a connection, times out on
  connect, answers 503 (still loading) or drops a request before its first token is marked dead
  and the request moves on to the next; a dead replica is tried again after a back-off (1 s,
  doubling to 60 s). A reply cut off after tokens were already handed to the caller cannot move:
  that raises :class:`~agent.errors.GenerationError` and the replica is marked dead.

Determinism: on a CPU, llama.cpp computes a token's logits the same whatever else is in the
batch, so greedy replies repeat exactly. On a GPU they do not: a prefix reused from the KV cache
and requests batched together from several slots change the kernels' shapes and can flip a
greedy token (llama-server's README says so for ``cache_prompt``). ``deterministic=True``
(setting ``server_deterministic``) sends ``cache_prompt: false`` and lets this process have one
generation at a time on each replica, which makes greedy replies repeat on a GPU too, as long as
this process is the server's only client -- the in-process backend does the same on a GPU.

Deliberate choices: no retries of a request that reached the server and failed with 4xx/5xx
(a bad request fails the same way everywhere); all replicas must serve the same model, checked
by vocabulary size and parameter count when they are first reached.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from agent.errors import (
    ConfigError,
    GenerationError,
    GrammarError,
    ServerUnavailableError,
)
from agent.llm.base import LLM, CancelToken, GenerationSettings, Usage
from agent.llm.prompts import ChatFormat, chat_format_for

#: Seconds a dead replica waits before it is tried again (doubles per failure, up to the cap).
RETRY_FIRST_S = 1.0
RETRY_MAX_S = 60.0
#: Prompt tokens hashed for the replica-affinity key.
AFFINITY_TOKENS = 32


@dataclass
class Replica:
    """One llama-server and what this process knows about its health."""

    url: str
    in_flight: int = 0
    failures: int = 0
    retry_at: float = 0.0
    last_error: str = ""
    served: int = 0
    props: dict[str, Any] = field(default_factory=dict)
    busy: threading.Lock = field(default_factory=threading.Lock)
    """Held for a whole generation in deterministic mode (one at a time per replica)."""

    @property
    def alive(self) -> bool:
        return self.failures == 0

    def usable(self, now: float) -> bool:
        return self.failures == 0 or now >= self.retry_at

    def mark_dead(self, why: str) -> None:
        self.failures += 1
        self.last_error = why
        self.retry_at = time.monotonic() + min(
            RETRY_MAX_S, RETRY_FIRST_S * 2 ** (self.failures - 1)
        )

    def mark_alive(self) -> None:
        self.failures, self.retry_at, self.last_error = 0, 0.0, ""


class _Dead(Exception):
    """This replica cannot take the request; try the next one."""


def parse_urls(urls: str | Sequence[str]) -> list[str]:
    """``"http://a:8080, b:8081"`` → ``["http://a:8080", "http://b:8081"]`` (scheme added).

    Raises:
        ConfigError: no URL, or one that is not http(s).
    """
    items = urls.split(",") if isinstance(urls, str) else list(urls)
    out = []
    for raw in items:
        url = raw.strip().rstrip("/")
        if not url:
            continue
        if "://" not in url:
            url = "http://" + url
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"server URL {raw.strip()!r} is not http(s)://host:port")
        out.append(url)
    if not out:
        raise ConfigError(
            "backend llama_server needs server_urls (LOREBOOK_SERVER_URLS=http://127.0.0.1:8080); "
            "start a server with `lorebook serve-model`"
        )
    return out


class ServerLLM(LLM):
    """A model served by one or more llama-server processes.

    Args:
        urls: base URLs of the replicas (a comma-separated string or a list).
        n_ctx: the most context to use; the servers' own slot size caps it.
        connect_timeout_s: how long to wait for a TCP connection before a replica counts as
            dead.
        read_timeout_s: the longest silence inside a reply (prompt evaluation included).
        chat_format: as for the other backends; ``None`` picks from the server's template.
        deterministic: no prompt-cache reuse and one generation at a time per replica, so that
            greedy replies repeat exactly on a GPU server too (see the module notes).

    Raises:
        ServerUnavailableError: no replica answered.
        ConfigError: the replicas serve different models, or a URL is malformed.
    """

    backend_name = "llama_server"

    def __init__(
        self,
        urls: str | Sequence[str],
        *,
        n_ctx: int | None = None,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 600.0,
        chat_format: ChatFormat | str | None = None,
        deterministic: bool = False,
        **kwargs: Any,
    ):
        self.deterministic = deterministic
        self.reuse_prefix = not deterministic
        self.replicas = [Replica(u) for u in parse_urls(urls)]
        timeout = httpx.Timeout(read_timeout_s, connect=connect_timeout_s)
        # Small JSON calls share pooled keep-alive connections; a generation gets a connection of
        # its own, so that closing it (cancel) never disturbs another request.
        self._client = httpx.Client(timeout=timeout)
        self._stream_client = httpx.Client(
            timeout=timeout, limits=httpx.Limits(max_keepalive_connections=0)
        )
        self._lock = threading.Lock()
        # Round-robin counters, one for generations and one for the small calls (tokenize...),
        # so that the calls each generation makes do not keep its turn on one replica.
        self._rr = {"generate": itertools.count(), "json": itertools.count()}
        self._affinity: OrderedDict[str, str] = OrderedDict()
        self._token_cache: OrderedDict[str, list[int]] = OrderedDict()
        first = self._reach_all()
        meta = first.props
        server_ctx = int(meta["default_generation_settings"]["n_ctx"])
        if isinstance(chat_format, str) or chat_format is None:
            template = str(meta.get("chat_template") or "")
            name = chat_format if isinstance(chat_format, str) else "auto"
            # /props names no architecture; the template's turn markers tell the format.
            chat_format = chat_format_for(name, template=template)
        kwargs.setdefault("model_name", _model_name(meta))
        super().__init__(
            n_ctx=min(n_ctx or server_ctx, server_ctx), chat_format=chat_format, **kwargs
        )

    # -- replicas -------------------------------------------------------------------------

    def _reach_all(self) -> Replica:
        """Ask every replica for its properties; check they serve one model."""
        failures: dict[str, str] = {}
        reached: list[Replica] = []
        for rep in self.replicas:
            try:
                self._fetch_props(rep)
                reached.append(rep)
            except _Dead as exc:
                failures[rep.url] = str(exc)
        if not reached:
            raise ServerUnavailableError(failures)
        return reached[0]

    def _fetch_props(self, rep: Replica) -> None:
        props = self._call(rep, "GET", "/props")
        models = self._call(rep, "GET", "/v1/models")
        meta = (models.get("data") or [{}])[0].get("meta", {})
        props["identity"] = (meta.get("n_vocab"), meta.get("n_params"), meta.get("size"))
        for other in self.replicas:
            theirs = other.props.get("identity")
            if other is not rep and theirs is not None and theirs != props["identity"]:
                raise ConfigError(
                    f"llama-server replicas serve different models: {other.url} has "
                    f"(vocab, params, bytes) {theirs}, {rep.url} has {props['identity']}; "
                    "start every replica on the same model file"
                )
        rep.props = props

    def _pick(self, tried: set[str], key: str | None, turn: str) -> Replica | None:
        now = time.monotonic()
        with self._lock:
            usable = [r for r in self.replicas if r.url not in tried and r.usable(now)]
            if not usable:
                return None
            least = min(r.in_flight for r in usable)
            best = [r for r in usable if r.in_flight == least]
            chosen = None
            if key is not None and key in self._affinity:
                chosen = next((r for r in best if r.url == self._affinity[key]), None)
            if chosen is None:
                chosen = best[next(self._rr[turn]) % len(best)]
            chosen.in_flight += 1
            return chosen

    def _release(self, rep: Replica, key: str | None, served: bool) -> None:
        with self._lock:
            rep.in_flight -= 1
            if served:
                rep.served += 1
                if key is not None:
                    self._affinity[key] = rep.url
                    self._affinity.move_to_end(key)
                    while len(self._affinity) > 4096:
                        self._affinity.popitem(last=False)

    def _each_replica(self, key: str | None = None, turn: str = "json") -> Iterator[Replica]:
        """Replicas to try in turn for one request; raises when every one has failed."""
        tried: set[str] = set()
        while True:
            rep = self._pick(tried, key, turn)
            if rep is None:
                failures = {
                    r.url: r.last_error or "not tried (marked dead recently)" for r in self.replicas
                }
                raise ServerUnavailableError(failures)
            tried.add(rep.url)
            if not rep.props:  # unreachable when we started: learn (and check) its model first
                try:
                    self._fetch_props(rep)
                except BaseException as exc:
                    self._release(rep, key, served=False)
                    if isinstance(exc, _Dead):
                        continue
                    raise
            yield rep

    def _call(self, rep: Replica, method: str, path: str, body: Any = None) -> dict[str, Any]:
        """One JSON request to one replica; transport trouble becomes :class:`_Dead`."""
        try:
            resp = self._client.request(method, rep.url + path, json=body)
        except httpx.TransportError as exc:
            rep.mark_dead(_describe(exc))
            raise _Dead(rep.last_error) from exc
        if resp.status_code == 503:
            rep.mark_dead("503: " + _error_text(resp))
            raise _Dead(rep.last_error)
        if resp.status_code >= 400:
            raise GenerationError(
                f"llama-server at {rep.url} refused {method} {path}: "
                f"{resp.status_code} {_error_text(resp)}"
            )
        rep.mark_alive()
        data: dict[str, Any] = resp.json()
        return data

    def _json(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        """A JSON request to any live replica (failing over between them)."""
        for rep in self._each_replica():
            try:
                return self._call(rep, method, path, body)
            except _Dead:
                continue
            finally:
                self._release(rep, None, served=False)
        raise AssertionError("unreachable")  # _each_replica raises when all failed

    def status(self) -> list[dict[str, Any]]:
        """Each replica's URL, health, requests in flight and served (for ``doctor``/bench)."""
        with self._lock:
            return [
                {
                    "url": r.url,
                    "alive": r.alive,
                    "in_flight": r.in_flight,
                    "served": r.served,
                    "last_error": r.last_error,
                }
                for r in self.replicas
            ]

    # -- the primitives -------------------------------------------------------------------

    def tokenize(self, text: str) -> list[int]:
        cached = self._token_cache.get(text)
        if cached is not None:
            return list(cached)
        data = self._json(
            "POST", "/tokenize", {"content": text, "add_special": True, "parse_special": True}
        )
        tokens = [int(t) for t in data["tokens"]]
        with self._lock:
            self._token_cache[text] = tokens
            while len(self._token_cache) > 512:
                self._token_cache.popitem(last=False)
        return list(tokens)

    def detokenize(self, tokens: Sequence[int]) -> str:
        data = self._json("POST", "/detokenize", {"tokens": [int(t) for t in tokens]})
        return str(data.get("content", ""))

    def _generate(
        self, tokens: list[int], settings: GenerationSettings, cancel: CancelToken
    ) -> Generator[str, None, Usage]:
        if not tokens:
            raise GenerationError("empty prompt: there is nothing to continue")
        body = _completion_body(tokens, settings)
        body["cache_prompt"] = not self.deterministic
        key = hashlib.blake2b(
            json.dumps(tokens[:AFFINITY_TOKENS]).encode(), digest_size=8
        ).hexdigest()
        for rep in self._each_replica(key, "generate"):
            if cancel.cancelled:
                self._release(rep, key, served=False)
                return Usage("cancelled", len(tokens), 0)
            ok = False
            try:
                with rep.busy if self.deterministic else contextlib.nullcontext():
                    usage = yield from self._generate_on(rep, body, len(tokens), cancel)
                ok = True
                return usage
            except _Dead:
                continue
            finally:
                self._release(rep, key, served=ok)
        raise AssertionError("unreachable")

    def _generate_on(
        self, rep: Replica, body: dict[str, Any], n_prompt: int, cancel: CancelToken
    ) -> Generator[str, None, Usage]:
        """Stream one completion from ``rep``; :class:`_Dead` if it failed before any text."""
        sock: list[socket.socket] = []

        def trace(event: str, info: dict[str, Any]) -> None:
            if event == "connection.connect_tcp.complete":
                stream = info.get("return_value")
                raw = stream.get_extra_info("socket") if stream is not None else None
                if raw is not None:
                    sock.append(raw)

        undo = cancel.on_cancel(lambda: _shutdown(sock))
        received = 0
        t0 = time.perf_counter()
        try:
            with self._stream_client.stream(
                "POST", rep.url + "/completion", json=body, extensions={"trace": trace}
            ) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    self._refused(rep, resp, body)
                rep.mark_alive()
                for event in _events(resp.iter_lines()):
                    if cancel.cancelled:
                        break
                    received += len(event.get("tokens") or ())
                    text = event.get("content") or ""
                    if text:
                        yield text
                    if event.get("stop"):
                        return _usage(event, n_prompt, received)
        except httpx.TransportError as exc:
            if not cancel.cancelled:  # a cancel shuts the socket down: not the replica's fault
                rep.mark_dead(_describe(exc))
                if received == 0:
                    raise _Dead(rep.last_error) from exc
                raise GenerationError(
                    f"llama-server at {rep.url} stopped in the middle of a reply "
                    f"({rep.last_error}) after {received} tokens; it is marked dead, ask again"
                ) from exc
        finally:
            undo()
        if cancel.cancelled:
            elapsed = (time.perf_counter() - t0) * 1000
            return Usage("cancelled", n_prompt, received, decode_ms=elapsed)
        rep.mark_dead("the reply ended without a final event")
        raise GenerationError(f"llama-server at {rep.url} ended a reply without its final event")

    def _refused(self, rep: Replica, resp: httpx.Response, body: dict[str, Any]) -> None:
        text = _error_text(resp)
        if resp.status_code == 503:
            rep.mark_dead("503: " + text)
            raise _Dead(rep.last_error)
        if ("grammar" in body or "json_schema" in body) and resp.status_code in (400, 500):
            raise GrammarError(f"llama-server rejected the grammar: {text}")
        raise GenerationError(
            f"llama-server at {rep.url} refused the completion: {resp.status_code} {text}"
        )

    def info(self) -> dict[str, Any]:
        first = next((r for r in self.replicas if r.props), self.replicas[0])
        return {
            **super().info(),
            "device": "llama-server",
            "servers": self.status(),
            "build": str(first.props.get("build_info", "")),
            "path": str(first.props.get("model_path", "")),
        }

    def close(self) -> None:
        self._client.close()
        self._stream_client.close()


def _completion_body(tokens: list[int], s: GenerationSettings) -> dict[str, Any]:
    body: dict[str, Any] = {
        "prompt": tokens,
        "n_predict": s.max_tokens,
        "stream": True,
        "cache_prompt": True,
        "return_tokens": True,
        "temperature": s.temperature,
        "top_k": s.top_k,
        "top_p": s.top_p,
        "min_p": s.min_p,
        "repeat_penalty": s.repeat_penalty,
        "repeat_last_n": s.repeat_last_n,
        "seed": s.seed if s.seed >= 0 else -1,
        "stop": [x for x in s.stop if x],
        "ignore_eos": s.ignore_eos,
    }
    if s.grammar is not None:
        body["grammar"] = s.grammar
    elif s.json_schema is not None:
        body["json_schema"] = s.json_schema
    return body


def _events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """Server-sent events: ``data: {json}`` lines; an ``error:`` line raises."""
    for line in lines:
        if line.startswith("data: "):
            payload = line[6:].strip()
            if payload == "[DONE]":
                return
            yield json.loads(payload)
        elif line.startswith("error:"):
            raise GenerationError(f"llama-server reported an error mid-reply: {line[6:].strip()}")


def _usage(event: dict[str, Any], n_prompt: int, received: int) -> Usage:
    timings = event.get("timings") or {}
    stop_type = event.get("stop_type", "")
    finish = "length" if stop_type == "limit" else "stop"
    return Usage(
        finish,  # type: ignore[arg-type]
        int(event.get("tokens_evaluated") or n_prompt),
        int(event.get("tokens_predicted") or received),
        float(timings.get("prompt_ms") or 0.0),
        float(timings.get("predicted_ms") or 0.0),
        int(timings.get("cache_n") or 0),
    )


def _shutdown(sockets: list[socket.socket]) -> None:
    for s in sockets:
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_RDWR)


def _describe(exc: Exception) -> str:
    kind = type(exc).__name__
    text = str(exc) or kind
    return text if kind in text else f"{kind}: {text}"


def _error_text(resp: httpx.Response) -> str:
    try:
        data = resp.json()
    except ValueError:
        return resp.text[:300]
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, dict):
        return str(err.get("message", err))[:300]
    return str(err or data)[:300]


def _model_name(props: dict[str, Any]) -> str:
    path = str(props.get("model_path") or props.get("model_alias") or "llama-server")
    name = path.rsplit("/", 1)[-1]
    return name[:-5] if name.endswith(".gguf") else name


def wait_until_ready(url: str, timeout_s: float, alive: Callable[[], bool] | None = None) -> None:
    """Poll ``GET /health`` until the server answers 200 (the model is loaded).

    Raises:
        ServerUnavailableError: not ready within ``timeout_s``, or ``alive()`` turned False
            (the server process exited).
    """
    deadline = time.monotonic() + timeout_s
    last = "no answer yet"
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise ServerUnavailableError({url: "the llama-server process exited while starting"})
        try:
            resp = httpx.get(url.rstrip("/") + "/health", timeout=2.0)
            if resp.status_code == 200:
                return
            last = f"{resp.status_code} {_error_text(resp)}"
        except httpx.TransportError as exc:
            last = _describe(exc)
        time.sleep(0.1)
    raise ServerUnavailableError({url: f"not ready after {timeout_s:.0f} s ({last})"})
