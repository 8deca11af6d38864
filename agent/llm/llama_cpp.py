"""The in-process llama.cpp backend (llama-cpp-python), with a native decode loop.

llama-cpp-python's ``Llama`` loads the model and creates the context; generation does *not* go
through ``Llama.__call__``, whose per-token Python work (stop-string bookkeeping over a
262k-token vocabulary, logits copies) cost half the speed on a GPU. Instead one loop calls
llama.cpp directly: ``llama_decode`` on a one-token batch, then either an ``argmax`` over the
logits buffer in place (greedy without penalties or grammar) or llama.cpp's own sampler chain
(penalties → grammar → top-k → top-p → min-p → temperature → dist).

Also here:

- a prompt cache: the tokens already in the KV cache are kept, so a chat turn only evaluates
  what is new since the last call;
- cancellation: between tokens, and *inside* prompt evaluation through llama.cpp's abort
  callback (installed only while a prompt is evaluated, since it costs a Python call per graph
  node);
- a FIFO lock: one generation per context at a time, later callers wait their turn
  (llama-cpp-python #1367 crashed on concurrent use);
- GPU offload with fallback: all layers, then half, then the CPU, saying which in ``info()``.
"""

from __future__ import annotations

import codecs
import ctypes
import os
import threading
import time
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

import llama_cpp  # noqa: E402  (heavy: imported only when this backend is chosen)
import numpy as np

from agent.errors import GenerationError, GrammarError, ModelLoadError
from agent.llm.base import LLM, CancelToken, GenerationSettings, Usage, timed_ms

#: Greedy decoding under a grammar checks the greedy token first (see _GreedyGrammar).
FAST_GRAMMAR = True
_DEFAULT_SEED = 0xFFFFFFFF  # LLAMA_DEFAULT_SEED: a random seed per sampler


@llama_cpp.llama_log_callback
def _quiet_log(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
    return None


def gpu_offload_supported() -> bool:
    """True when this llama.cpp build can offload layers to a GPU (CUDA, Metal, Vulkan...)."""
    return bool(llama_cpp.llama_supports_gpu_offload())


def build_info() -> str:
    """llama.cpp's own summary of the CPU features and backends compiled in."""
    return llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip()


def auto_threads() -> int:
    """CPU threads for llama.cpp when none is set: the cores this process may run on, less
    those other processes keep busy (the 1-minute load average), at least one.

    llama.cpp's threads wait for each other at every layer, so one more thread than there are
    free cores stalls them all: on a 2-core machine with one busy process, a turn took 12.1 s
    to route with 2 threads and 1.0 s with 1 (issue 19).
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    try:
        busy = int(os.getloadavg()[0] + 0.5)
    except (AttributeError, OSError):
        busy = 0
    return max(1, min(cores, cores - busy))


class _FifoLock:
    """A lock that hands itself to waiters in arrival order."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._next_ticket = 0
        self._serving = 0

    def __enter__(self) -> None:
        with self._cond:
            ticket = self._next_ticket
            self._next_ticket += 1
            self._cond.wait_for(lambda: self._serving == ticket)

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._serving += 1
            self._cond.notify_all()


class LlamaCppLLM(LLM):
    """A GGUF model run in this process by llama.cpp.

    Args:
        model_path: the .gguf file (already checked by :mod:`agent.modelfile`).
        n_ctx, n_batch, n_threads: context size, prompt batch, CPU threads (0 = the free
            cores, :func:`auto_threads`).
        gpu_layers: -1 offloads every layer when the build supports a GPU, 0 keeps the CPU.
        verbose: let llama.cpp print its logs.

    Raises:
        ModelLoadError: llama.cpp could not load the model or create a context.
    """

    backend_name = "llama_cpp"

    def __init__(
        self,
        model_path: Path | str,
        *,
        n_ctx: int = 8192,
        n_batch: int = 512,
        n_threads: int = 0,
        gpu_layers: int = -1,
        verbose: bool = False,
        **kwargs: Any,
    ):
        self.model_path = Path(model_path)
        kwargs.setdefault("model_name", self.model_path.stem)
        super().__init__(n_ctx=n_ctx, **kwargs)
        if not verbose:
            llama_cpp.llama_log_set(_quiet_log, ctypes.c_void_p(0))
        self.n_threads = n_threads or auto_threads()
        self.n_batch = n_batch
        self.offload_note = ""
        self._llama, self.gpu_layers = self._load(n_batch, gpu_layers, verbose)
        #: Reuse the KV cache of the common prompt prefix (on the CPU only, see _eval_prompt).
        self.reuse_prefix = self.gpu_layers == 0
        self._ctx = self._llama._ctx.ctx
        self._vocab = self._llama._model.vocab
        self._n_vocab = int(llama_cpp.llama_vocab_n_tokens(self._vocab))
        self._add_bos = bool(llama_cpp.llama_vocab_get_add_bos(self._vocab))
        self._mem = llama_cpp.llama_get_memory(self._ctx)
        self._kv_tokens: list[int] = []  # what the KV cache of sequence 0 holds
        self._lock = _FifoLock()
        self._active_cancel: CancelToken | None = None
        self._abort_cb = llama_cpp.ggml_abort_callback(self._should_abort)
        self._piece_buf = ctypes.create_string_buffer(256)
        self._one = (llama_cpp.llama_token * 1)()

    def _should_abort(self, _data: Any) -> bool:
        cancel = self._active_cancel
        return cancel is not None and cancel.cancelled

    # -- loading -------------------------------------------------------------------------

    def _load(self, n_batch: int, gpu_layers: int, verbose: bool) -> tuple[Any, int]:
        attempts = [0]
        if gpu_offload_supported() and gpu_layers != 0:
            half = max(1, _gguf_block_count(self.model_path) // 2)
            attempts = [gpu_layers, half, 0]
        last_error: Exception | None = None
        notes = []
        for layers in attempts:
            try:
                llama = llama_cpp.Llama(
                    model_path=str(self.model_path),
                    n_ctx=self.n_ctx,
                    n_batch=n_batch,
                    n_ubatch=n_batch,
                    n_threads=self.n_threads,
                    n_threads_batch=self.n_threads,
                    n_gpu_layers=layers,
                    # Flash attention where layers run on the GPU (llama-bench's "auto" does
                    # the same); the CPU path keeps llama-cpp-python's default.
                    flash_attn=layers != 0,
                    verbose=verbose,
                )
            except (ValueError, RuntimeError, OSError) as exc:
                last_error = exc
                notes.append(f"n_gpu_layers={layers} failed ({exc})")
                continue
            if notes:
                self.offload_note = "; ".join(notes) + f"; fell back to n_gpu_layers={layers}"
            return llama, layers
        raise ModelLoadError(
            f"llama.cpp could not load {self.model_path}: {last_error}. The file passed its "
            f"checks, so it may be an architecture this llama.cpp build does not know, or the "
            f"machine is out of memory; try a smaller n_ctx (now {self.n_ctx})."
        ) from last_error

    def info(self) -> dict[str, Any]:
        on_gpu = self.gpu_layers != 0 and gpu_offload_supported()
        return {
            **super().info(),
            "path": str(self.model_path),
            "device": f"GPU ({self.gpu_layers} layers offloaded)" if on_gpu else "CPU",
            "gpu_layers": self.gpu_layers if on_gpu else 0,
            "threads": self.n_threads,
            "offload_note": self.offload_note,
            "build": build_info(),
        }

    def close(self) -> None:
        llama = getattr(self, "_llama", None)
        if llama is not None:
            llama.close()
            self._llama = None

    # -- tokens ---------------------------------------------------------------------------

    def tokenize(self, text: str) -> list[int]:
        return list(self._llama.tokenize(text.encode("utf-8"), add_bos=self._add_bos, special=True))

    def detokenize(self, tokens: Sequence[int]) -> str:
        return self._llama.detokenize(list(tokens), special=True).decode("utf-8", "replace")

    def _piece(self, token: int) -> bytes:
        n = llama_cpp.llama_token_to_piece(self._vocab, token, self._piece_buf, 256, 0, False)
        if n < 0:  # longer than the buffer
            buf = ctypes.create_string_buffer(-n)
            n = llama_cpp.llama_token_to_piece(self._vocab, token, buf, -n, 0, False)
            return buf.raw[:n]
        return self._piece_buf.raw[:n]

    # -- generation -----------------------------------------------------------------------

    def _generate(
        self, tokens: list[int], settings: GenerationSettings, cancel: CancelToken
    ) -> Generator[str, None, Usage]:
        with self._lock:
            return (yield from self._generate_locked(tokens, settings, cancel))

    def _generate_locked(
        self, tokens: list[int], settings: GenerationSettings, cancel: CancelToken
    ) -> Generator[str, None, Usage]:
        if self._llama is None:
            raise GenerationError("the model was closed; open it again")
        guided = None
        sampler = None
        grammar = _grammar_text(settings)
        if (
            grammar is not None
            and settings.greedy
            and settings.repeat_penalty == 1.0
            and FAST_GRAMMAR
        ):
            guided = _GreedyGrammar(self._grammar_sampler(grammar), self._n_vocab)
        elif self._needs_sampler(settings):
            sampler = self._sampler(settings)
        try:
            t0 = time.perf_counter()
            cached = self._eval_prompt(tokens, cancel, seeded=settings.seed >= 0)
            prompt_ms = timed_ms(t0)
            if cached < 0:
                return Usage("cancelled", len(tokens), 0, prompt_ms, 0.0)
            t1 = time.perf_counter()
            n_out, finish, cut = 0, "length", False
            text = _StopFilter(settings.stop)
            decoder = codecs.getincrementaldecoder("utf-8")("replace")
            while n_out < settings.max_tokens:
                if cancel.cancelled:
                    finish = "cancelled"
                    break
                token = guided.next(self._logits()) if guided else self._next_token(sampler)
                if not settings.ignore_eos and llama_cpp.llama_vocab_is_eog(self._vocab, token):
                    finish = "stop"
                    break
                n_out += 1
                out, stopped = text.feed(decoder.decode(self._piece(token)))
                if out:
                    yield out
                if stopped:
                    finish, cut = "stop", True
                    break
                if n_out < settings.max_tokens:
                    self._decode_one(token)
            tail = "" if cut else text.flush(decoder.decode(b"", final=True))
            if tail:
                yield tail
            return Usage(finish, len(tokens), n_out, prompt_ms, timed_ms(t1), cached)  # type: ignore[arg-type]
        finally:
            if sampler is not None:
                llama_cpp.llama_sampler_free(sampler)
            if guided is not None:
                guided.free()

    def _eval_prompt(self, tokens: list[int], cancel: CancelToken, seeded: bool = False) -> int:
        """Bring the KV cache to ``tokens``; return how many were reused, -1 if cancelled."""
        if not tokens:
            raise GenerationError("empty prompt: there is nothing to continue")
        keep = 0
        for a, b in zip(self._kv_tokens, tokens[:-1], strict=False):
            if a != b:
                break
            keep += 1
        if seeded or not self.reuse_prefix:
            # GPU kernels round differently for different batch shapes, so a reused prefix
            # gives slightly different logits than a fresh evaluation and greedy output could
            # flip between two identical calls. The CPU kernels compute each row alike.
            keep = 0
        if not llama_cpp.llama_memory_seq_rm(self._mem, 0, keep, -1):
            llama_cpp.llama_memory_clear(self._mem, True)
            keep = 0
        self._kv_tokens = tokens[:keep]
        todo = tokens[keep:]
        self._active_cancel = cancel
        llama_cpp.llama_set_abort_callback(self._ctx, self._abort_cb, None)
        try:
            for i in range(0, len(todo), self.n_batch):
                chunk = todo[i : i + self.n_batch]
                arr = (llama_cpp.llama_token * len(chunk))(*chunk)
                rc = llama_cpp.llama_decode(
                    self._ctx, llama_cpp.llama_batch_get_one(arr, len(chunk))
                )
                if rc == 2 or cancel.cancelled:
                    self._forget_from(len(self._kv_tokens))
                    return -1
                if rc != 0:
                    self._forget_from(len(self._kv_tokens))
                    raise GenerationError(f"llama_decode failed with status {rc} on the prompt")
                self._kv_tokens.extend(chunk)
        finally:
            llama_cpp.llama_set_abort_callback(self._ctx, llama_cpp.ggml_abort_callback(), None)
            self._active_cancel = None
        return keep

    def _decode_one(self, token: int) -> None:
        self._one[0] = token
        rc = llama_cpp.llama_decode(self._ctx, llama_cpp.llama_batch_get_one(self._one, 1))
        if rc != 0:
            self._forget_from(len(self._kv_tokens))
            raise GenerationError(
                f"llama_decode failed with status {rc} after {len(self._kv_tokens)} tokens; "
                "the context may be full (raise n_ctx)"
            )
        self._kv_tokens.append(token)

    def _forget_from(self, pos: int) -> None:
        if not llama_cpp.llama_memory_seq_rm(self._mem, 0, pos, -1):
            llama_cpp.llama_memory_clear(self._mem, True)
            pos = 0
        del self._kv_tokens[pos:]

    # -- sampling -------------------------------------------------------------------------

    @staticmethod
    def _needs_sampler(s: GenerationSettings) -> bool:
        plain_greedy = s.greedy and s.repeat_penalty == 1.0
        return not plain_greedy or s.grammar is not None or s.json_schema is not None

    def _logits(self) -> np.ndarray:
        """The last position's logits, in place (no copy)."""
        logits = llama_cpp.llama_get_logits_ith(self._ctx, -1)
        return np.ctypeslib.as_array(logits, shape=(self._n_vocab,))

    def _next_token(self, sampler: Any) -> int:
        if sampler is None:
            return int(np.argmax(self._logits()))
        return int(llama_cpp.llama_sampler_sample(sampler, self._ctx, -1))

    def _grammar_sampler(self, grammar: str) -> Any:
        g = llama_cpp.llama_sampler_init_grammar(self._vocab, grammar.encode(), b"root")
        if not g:
            raise GrammarError(
                "llama.cpp rejected the grammar (set verbose=True to see its parse error): "
                + grammar[:200]
            )
        return g

    def _penalties(self, s: GenerationSettings) -> Any:
        return llama_cpp.llama_sampler_init_penalties(
            self._n_vocab, s.repeat_last_n, s.repeat_penalty, 0.0, 0.0
        )

    def _sampler(self, s: GenerationSettings) -> Any:
        chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
        add = lambda smpl: llama_cpp.llama_sampler_chain_add(chain, smpl)  # noqa: E731
        grammar = _grammar_text(s)
        if grammar is not None:
            try:
                add(self._grammar_sampler(grammar))
            except GrammarError:
                llama_cpp.llama_sampler_free(chain)
                raise
        if s.greedy:
            if s.repeat_penalty != 1.0:
                add(self._penalties(s))
            add(llama_cpp.llama_sampler_init_greedy())
            return chain
        if s.top_k > 0:
            add(llama_cpp.llama_sampler_init_top_k(s.top_k))
        if s.repeat_penalty != 1.0:
            # After top-k, as llama.h advises: over a 262k vocabulary the penalty's per-token
            # lookups cost more than the forward pass on a GPU.
            add(self._penalties(s))
        if s.top_p < 1.0:
            add(llama_cpp.llama_sampler_init_top_p(s.top_p, 1))
        if s.min_p > 0.0:
            add(llama_cpp.llama_sampler_init_min_p(s.min_p, 1))
        add(llama_cpp.llama_sampler_init_temp(s.temperature))
        add(llama_cpp.llama_sampler_init_dist(_DEFAULT_SEED if s.seed < 0 else s.seed))
        return chain


def _grammar_text(s: GenerationSettings) -> str | None:
    if s.grammar is not None:
        return s.grammar
    if s.json_schema is not None:
        import json

        from llama_cpp.llama_grammar import json_schema_to_gbnf

        try:
            return str(json_schema_to_gbnf(json.dumps(s.json_schema)))
        except Exception as exc:  # the converter raises plain Exception subclasses
            raise GrammarError(f"cannot turn the JSON schema into a grammar: {exc}") from exc
    return None


def _gguf_block_count(path: Path) -> int:
    from agent.modelfile import read_gguf_header

    meta = read_gguf_header(path).metadata
    arch = meta.get("general.architecture", "")
    return int(meta.get(f"{arch}.block_count", 2))


class _GreedyGrammar:
    """Greedy decoding under a grammar that checks the grammar only where it matters.

    llama.cpp's grammar sampler tests every candidate of the 262k-token vocabulary each step
    (about 300 ms a token here, six times a free token). As llama.cpp's own common sampler
    does, the greedy choice is tried first: if the grammar accepts that one token, it is the
    answer; only otherwise is the grammar applied to the whole vocabulary and the best allowed
    token taken. The result is the same as grammar-then-argmax.
    """

    def __init__(self, grammar: Any, n_vocab: int):
        self.grammar = grammar
        self.one = llama_cpp.llama_token_data(0, 0.0, 0.0)
        self.one_arr = llama_cpp.llama_token_data_array(
            data=ctypes.pointer(self.one), size=1, selected=-1, sorted=False
        )
        self.cand = np.zeros(
            n_vocab, dtype=[("id", np.int32), ("logit", np.float32), ("p", np.float32)]
        )
        self.cand["id"] = np.arange(n_vocab, dtype=np.int32)
        self.arr = llama_cpp.llama_token_data_array(
            data=self.cand.ctypes.data_as(llama_cpp.llama_token_data_p),
            size=n_vocab,
            selected=-1,
            sorted=False,
        )

    def next(self, logits: np.ndarray) -> int:
        token = int(np.argmax(logits))
        self.one.id, self.one.logit, self.one.p = token, 1.0, 0.0  # type: ignore[assignment]
        llama_cpp.llama_sampler_apply(self.grammar, ctypes.byref(self.one_arr))
        if self.one.logit == float("-inf"):  # not allowed here: ask the grammar about all
            self.cand["logit"] = logits
            self.arr.size, self.arr.selected, self.arr.sorted = len(self.cand), -1, False
            llama_cpp.llama_sampler_apply(self.grammar, ctypes.byref(self.arr))
            token = int(self.cand["id"][int(np.argmax(self.cand["logit"]))])
        llama_cpp.llama_sampler_accept(self.grammar, token)
        return token

    def free(self) -> None:
        llama_cpp.llama_sampler_free(self.grammar)


class _StopFilter:
    """Holds back text that might be the start of a stop sequence; cuts at a full match."""

    def __init__(self, stops: Sequence[str]):
        self.stops = [s for s in stops if s]
        self.pending = ""

    def feed(self, text: str) -> tuple[str, bool]:
        self.pending += text
        if not self.stops:
            out, self.pending = self.pending, ""
            return out, False
        hits = [self.pending.index(s) for s in self.stops if s in self.pending]
        if hits:
            out, self.pending = self.pending[: min(hits)], ""
            return out, True
        hold = 0
        for s in self.stops:
            for k in range(min(len(s) - 1, len(self.pending)), 0, -1):
                if self.pending.endswith(s[:k]):
                    hold = max(hold, k)
                    break
        cut = len(self.pending) - hold
        out, self.pending = self.pending[:cut], self.pending[cut:]
        return out, False

    def flush(self, text: str) -> str:
        out, _ = self.feed(text)
        rest, self.pending = self.pending, ""
        return out + rest
