"""Pick llama.cpp build flags from this machine's CPU (and GPU) features.

Run as a script by the Makefile *before* anything is installed, so it uses the standard
library only: ``python3 agent/buildflags.py [--cuda]`` prints the ``CMAKE_ARGS`` to build
llama-cpp-python (and llama.cpp's ``llama-bench``) with.

Why not ``GGML_NATIVE=ON``: on these machines the native build enables AMX and crashes on the
first decode (SIGSEGV in ``ggml_backend_amx_mul_mat``, see shared/DESIGN.md). We therefore turn
native detection off, turn on each SIMD extension the CPU reports, and keep AMX off always.
``--key`` prints a short hash of the flags, used to keep wheels built with different flags apart.
"""

from __future__ import annotations

import hashlib
import platform
import shutil
import subprocess
import sys

# ggml CMake option -> the /proc/cpuinfo flags that must all be present to enable it.
_X86_OPTIONS: dict[str, tuple[str, ...]] = {
    "GGML_AVX": ("avx",),
    "GGML_AVX2": ("avx2",),
    "GGML_FMA": ("fma",),
    "GGML_F16C": ("f16c",),
    "GGML_BMI2": ("bmi2",),
    "GGML_AVX_VNNI": ("avx_vnni",),
    "GGML_AVX512": ("avx512f", "avx512bw", "avx512dq", "avx512vl"),
    "GGML_AVX512_VBMI": ("avx512vbmi",),
    "GGML_AVX512_VNNI": ("avx512_vnni",),
    "GGML_AVX512_BF16": ("avx512_bf16",),
}


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """Return the CPU feature flags of this machine (x86 ``flags`` line of /proc/cpuinfo)."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as fh:
                cpuinfo = fh.read()
        except OSError:
            return set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags") and ":" in line:
            return set(line.split(":", 1)[1].split())
    return set()


def cpu_cmake_args(flags: set[str], machine: str | None = None) -> list[str]:
    """CMake arguments for a portable-but-fast CPU build on a CPU with ``flags``.

    >>> cpu_cmake_args({"avx", "avx2", "fma", "f16c"}, "x86_64")[:3]
    ['-DGGML_NATIVE=OFF', '-DGGML_AMX_INT8=OFF', '-DGGML_AMX_TILE=OFF']
    """
    machine = machine or platform.machine()
    args = [
        "-DGGML_NATIVE=OFF",
        "-DGGML_AMX_INT8=OFF",
        "-DGGML_AMX_TILE=OFF",
        "-DGGML_AMX_BF16=OFF",
    ]
    if machine in ("x86_64", "AMD64"):
        for option, needed in _X86_OPTIONS.items():
            on = all(flag in flags for flag in needed)
            args.append(f"-D{option}={'ON' if on else 'OFF'}")
    else:
        # Non-x86 (e.g. aarch64): native detection has no AMX problem there.
        args[0] = "-DGGML_NATIVE=ON"
    return args


def cuda_cmake_args() -> list[str]:
    """Extra CMake arguments for a CUDA build; architectures from the visible GPU if known."""
    args = ["-DGGML_CUDA=ON"]
    arch = _cuda_arch()
    if arch:
        args.append(f"-DCMAKE_CUDA_ARCHITECTURES={arch}")
    return args


def _cuda_arch() -> str | None:
    smi = shutil.which("nvidia-smi")
    if not smi:
        return None
    try:
        out = subprocess.run(
            [smi, "--query-gpu=compute_cap", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    caps = sorted({cap.replace(".", "") for cap in out if cap.replace(".", "").isdigit()})
    return ";".join(caps) or None


def cmake_args(cuda: bool = False) -> list[str]:
    """All CMake arguments for this machine."""
    args = cpu_cmake_args(cpu_flags())
    if cuda:
        args += cuda_cmake_args()
    return args


def main(argv: list[str]) -> int:
    cuda = "--cuda" in argv
    args = " ".join(cmake_args(cuda))
    if "--key" in argv:
        print(hashlib.sha256(args.encode()).hexdigest()[:12])
    else:
        print(args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
