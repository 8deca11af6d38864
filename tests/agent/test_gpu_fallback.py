"""GPU offload falls back to half the layers, then the CPU, and says so (no GPU needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import agent.llm.llama_cpp as backend
from agent.errors import ModelLoadError

pytestmark = pytest.mark.integration


class _Refuses:
    """Stands in for llama_cpp.Llama: refuses some n_gpu_layers values like a full GPU would."""

    def __init__(self, real: Any, refused: set[int]):
        self.real, self.refused, self.tried = real, refused, []

    def __call__(self, **kwargs: Any) -> Any:
        layers = kwargs["n_gpu_layers"]
        self.tried.append(layers)
        if layers in self.refused:
            raise ValueError("Failed to create llama_context")  # what llama-cpp-python raises
        return self.real(**kwargs)


@pytest.fixture
def gpu_build(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend, "gpu_offload_supported", lambda: True)


def test_falls_back_to_half_then_cpu(
    gpu_build: None, real_model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = _Refuses(backend.llama_cpp.Llama, refused={-1, 9})
    monkeypatch.setattr(backend.llama_cpp, "Llama", fake)
    with backend.LlamaCppLLM(real_model_path, n_ctx=256, gpu_layers=-1) as llm:
        assert fake.tried == [-1, 9, 0]  # all, half of Gemma 3 270M's 18 blocks, none
        assert llm.gpu_layers == 0
        assert "fell back to n_gpu_layers=0" in llm.offload_note
        assert llm.complete("The capital of France is", temperature=0, max_tokens=4).text


def test_stops_at_half_when_that_fits(
    gpu_build: None, real_model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = _Refuses(backend.llama_cpp.Llama, refused={-1})
    monkeypatch.setattr(backend.llama_cpp, "Llama", fake)
    with backend.LlamaCppLLM(real_model_path, n_ctx=256, gpu_layers=-1) as llm:
        assert fake.tried == [-1, 9] and llm.gpu_layers == 9
        assert "n_gpu_layers=-1 failed" in llm.offload_note


def test_nothing_loads_is_a_model_load_error(
    gpu_build: None, real_model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backend.llama_cpp, "Llama", _Refuses(None, refused={-1, 9, 0}))
    with pytest.raises(ModelLoadError, match=str(real_model_path)):
        backend.LlamaCppLLM(real_model_path, n_ctx=256)
