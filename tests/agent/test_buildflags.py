from agent.buildflags import cpu_cmake_args, cpu_flags

AVX512_AMX = (
    "flags\t: fpu sse avx avx2 fma f16c bmi2 avx512f avx512bw avx512dq avx512vl "
    "avx512_vnni amx_int8 amx_tile\n"
)
AVX2_ONLY = "processor : 0\nflags\t: fpu sse avx avx2 fma f16c\n"


def test_reads_flags_line() -> None:
    assert {"avx512f", "amx_int8"} <= cpu_flags(AVX512_AMX)
    assert cpu_flags("no flags here") == set()


def test_avx512_machine_gets_avx512_but_never_amx() -> None:
    args = cpu_cmake_args(cpu_flags(AVX512_AMX), "x86_64")
    assert "-DGGML_NATIVE=OFF" in args
    assert "-DGGML_AVX512=ON" in args and "-DGGML_AVX512_VNNI=ON" in args
    assert "-DGGML_AMX_INT8=OFF" in args and "-DGGML_AMX_TILE=OFF" in args
    assert "-DGGML_AVX512_BF16=OFF" in args  # the CPU does not report avx512_bf16


def test_avx2_machine_turns_avx512_off() -> None:
    args = cpu_cmake_args(cpu_flags(AVX2_ONLY), "x86_64")
    assert "-DGGML_AVX2=ON" in args and "-DGGML_FMA=ON" in args
    assert "-DGGML_AVX512=OFF" in args and "-DGGML_BMI2=OFF" in args


def test_arm_uses_native_detection() -> None:
    assert cpu_cmake_args(set(), "aarch64")[0] == "-DGGML_NATIVE=ON"
