#!/usr/bin/env bash
# The GPU half of the checks, for a lent GPU machine with nvcc and no network.
#
#   bench/gpu_check.sh start   unpack the llama-cpp-python sdist from .gpu/c0, start one CUDA
#                              build of llama.cpp (shared libs + llama-bench + llama-server) in
#                              the background
#   bench/gpu_check.sh run     join the model parts (.gpu/c1..c4), wait for the build, run the
#                              integration tests of both backends on the GPU (in process, and
#                              llama-server over HTTP), bench/bench_server.py --gpu, and
#                              bench/bench_llm.py --gpu unless GPU_CHECK_SKIP_LLM_BENCH=1
#
# One build serves every side: llama-cpp-python's Python package is loaded from the sdist with
# LLAMA_CPP_LIB_PATH pointing at this build's libllama.so, and llama-bench and llama-server come
# from the same tree, so the comparisons are the same llama.cpp with the same flags.
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
      -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON \
      -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF $flags \
      && cmake --build '$work/build' --target llama llama-bench llama-server -j\$(nproc); \
      echo \$? > '$work/build.rc'" \
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
  export LOREBOOK_LLAMA_SERVER="$work/build/bin/llama-server" LOREBOOK_REQUIRE_LLAMA_SERVER=1
  # On a GPU, greedy replies repeat exactly only in deterministic mode (agent/llm/server.py).
  export LOREBOOK_TEST_SERVER_DETERMINISTIC=${LOREBOOK_TEST_SERVER_DETERMINISTIC:-1}
  python3 -m pytest tests/agent/test_llama_cpp_integration.py tests/agent/test_server_backend.py \
      -p no:cacheprovider -q -W default \
      -k "not cli_ask and not default_model and not agent_answers and not cli_serve" 2>&1 | tail -60
  python3 bench/bench_server.py --gpu --model "$work/model.gguf" --tools "$work/build/bin" \
      --threads 8 --clients 8 --requests 8 --json "$OUT/gpu_server.json" --log "$OUT/server.log"
  [[ "${GPU_CHECK_SKIP_LLM_BENCH:-0}" == 1 ]] || python3 bench/bench_llm.py --gpu \
      --model "$work/model.gguf" --llama-bench "$work/build/bin/llama-bench" \
      --json "$OUT/gpu_bench.json"
  ;;
*) echo "usage: $0 start|run" >&2; exit 2 ;;
esac
