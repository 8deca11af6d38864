#!/usr/bin/env bash
# The GPU half of the checks, for a lent GPU machine with nvcc and no network.
#
#   bench/gpu_check.sh start   unpack the llama-cpp-python sdist from .gpu/c0, start one CUDA
#                              build of llama.cpp (shared libs + llama-bench) in the background
#   bench/gpu_check.sh run     join the model parts (.gpu/c1..c4), wait for the build, run the
#                              integration tests on the GPU and bench/bench_llm.py --gpu
#
# One build serves both sides: llama-cpp-python's Python package is loaded from the sdist with
# LLAMA_CPP_LIB_PATH pointing at this build's libllama.so, and llama-bench comes from the same
# tree, so the comparison is the same llama.cpp with the same flags.
# Prepare .gpu/ on a networked machine: see docs/architecture.md ("GPU checks").
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
work=/tmp/lorebook-gpu
src="$work/src/llama_cpp_python-0.3.36"

case "${1:-}" in
start)
  mkdir -p "$work/src"
  python3 -m pip install -q --no-index --no-deps --no-compile --target "$work/site" .gpu/c0/*.whl
  tar xzf .gpu/c0/src.tar.gz -C "$work/src"
  flags="${GPU_CHECK_FLAGS:-$(python3 agent/buildflags.py --cuda)}"
  echo "flags: $flags" | tee "$work/flags"
  setsid nohup bash -c "cmake -S '$src/vendor/llama.cpp' -B '$work/build' -DCMAKE_BUILD_TYPE=Release \
      -DBUILD_SHARED_LIBS=ON -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF \
      -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF $flags \
      && cmake --build '$work/build' --target llama llama-bench -j\$(nproc); echo \$? > '$work/build.rc'" \
      > "$work/build.log" 2>&1 < /dev/null &
  sleep 5; tail -3 "$work/build.log"
  ;;
run)
  exec > >(tee "$OUT/gpu_check.log") 2>&1
  cat .gpu/c1/model.part0 .gpu/c2/model.part1 .gpu/c3/model.part2 .gpu/c4/model.part3 > "$work/model.gguf"
  sha256sum "$work/model.gguf"
  while [[ ! -f "$work/build.rc" ]]; do sleep 2; done
  tail -5 "$work/build.log"
  [[ "$(cat "$work/build.rc")" == 0 ]] || { cp "$work/build.log" "$OUT/"; exit 1; }
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  export PYTHONPATH="$work/site:$src:$PWD" LLAMA_CPP_LIB_PATH="$work/build/bin"
  export LD_LIBRARY_PATH="$work/build/bin:${LD_LIBRARY_PATH:-}" LOREBOOK_TEST_MODEL="$work/model.gguf"
  export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
  # Without this, libllama's std::ostream calls bind to copies exported by libggml-cuda.so and
  # model loading segfaults in llama_model::print_info (seen on the H200 image, CUDA 13.0).
  export LD_PRELOAD=/lib/x86_64-linux-gnu/libstdc++.so.6
  python3 -c "import llama_cpp; print('gpu offload:', llama_cpp.llama_supports_gpu_offload())"
  python3 -m pytest tests/agent/test_llama_cpp_integration.py -p no:cacheprovider -q \
      -k "not cli_ask and not default_model" -W default 2>&1 | tail -15
  python3 bench/bench_llm.py --gpu --model "$work/model.gguf" \
      --llama-bench "$work/build/bin/llama-bench" --json "$OUT/gpu_bench.json"
  ;;
*) echo "usage: $0 start|run" >&2; exit 2 ;;
esac
