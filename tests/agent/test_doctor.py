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


def test_scale_out_checks_name_what_is_unreachable(tmp_path: Path) -> None:
    from agent.doctor import _scale_out
    from agent.llm.serve import free_port
    from agent.settings import load_settings

    url = f"http://127.0.0.1:{free_port()}"
    db = f"postgresql://ann:s3cret@127.0.0.1:{free_port()}/lore"
    settings = load_settings(
        {"home": tmp_path, "backend": "llama_server", "server_urls": url, "database_url": db},
        env={},
    )
    checks = {c.name: c for c in _scale_out(settings)}
    assert (
        checks["llama-server replicas"].status == "fail"
        and url in checks["llama-server replicas"].detail
    )
    assert checks["database"].status == "fail"
    assert (
        "ann@127.0.0.1" in checks["database"].detail and "s3cret" not in checks["database"].detail
    )
