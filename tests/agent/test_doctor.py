"""doctor's model check runs in a child process, so a crash inside llama.cpp is reported."""

from pathlib import Path

import pytest

import agent.doctor as doctor
from agent.settings import load_settings


def test_a_crashing_model_load_becomes_a_fail_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(doctor, "_PROBE", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    (check,) = doctor._generation(load_settings({"home": tmp_path}, env={}))
    assert check.status == "fail"
    assert "SIGSEGV" in check.detail and "LD_PRELOAD" in check.detail


def test_a_bad_model_file_becomes_a_fail_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_text("<html>login</html>")
    (check,) = doctor._generation(load_settings({"home": tmp_path, "model": str(bad)}, env={}))
    assert check.status == "fail" and "HTML page" in check.detail


def test_doctor_exit_status_counts_failures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines: list[str] = []
    monkeypatch.setattr(
        doctor,
        "run_checks",
        lambda s: iter([doctor.Check("a", "ok", "fine"), doctor.Check("b", "fail", "broken")]),
    )
    assert doctor.doctor(load_settings({"home": tmp_path}, env={}), out=lines.append) == 1
    assert lines == ["[PASS] a: fine", "[FAIL] b: broken", "1 check(s) failed"]
