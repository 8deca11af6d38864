#!/usr/bin/env bash
# Build llama.cpp's own `llama-bench` from the llama.cpp that the installed llama-cpp-python
# vendors, with the same CMake flags the wheel was built with, so the two can be compared fairly.
# Prints the binary's path on its last line. Cached in ~/.cache/lorebook/llama-bench/.
#   LLAMA_FLAGS  override the CMake flags (default: those recorded by scripts/setup.sh)
#   LLAMA_SRC    use this llama-cpp-python source tree instead of downloading the sdist
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY=${BENCH_PYTHON:-$VENV/bin/python}
version=$("$PY" -c "import llama_cpp; print(llama_cpp.__version__)")
flags=${LLAMA_FLAGS:-$(cat "$VENV/.llama-flags")}
key=$(echo "$version $flags" | sha256sum | cut -c1-12)
dest="${LOREBOOK_BENCH_CACHE:-$HOME/.cache/lorebook/llama-bench}/$version-$key"
if [[ -x "$dest/llama-bench" ]]; then
  echo "$dest/llama-bench"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
src=${LLAMA_SRC:-}
if [[ -z "$src" ]]; then
  echo "bench: building llama-bench $version once (~5 min on 2 cores)" >&2
  "$PY" -m pip download -q --no-deps --no-binary :all: "llama-cpp-python==$version" -d "$work" >&2
  tar xzf "$work"/llama_cpp_python-*.tar.gz -C "$work"
  src=$(echo "$work"/llama_cpp_python-*/)
fi
# shellcheck disable=SC2086  # $flags is a list of -D options
cmake -S "$src/vendor/llama.cpp" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF \
  -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF \
  -DBUILD_SHARED_LIBS=OFF $flags >&2
cmake --build "$work/build" --target llama-bench -j"$(nproc)" >&2
mkdir -p "$dest"
cp "$work/build/bin/llama-bench" "$dest/"
echo "$dest/llama-bench"
