#!/usr/bin/env bash
# Build llama.cpp's own programs -- `llama-server` (the HTTP backend, `lorebook serve-model`) and
# `llama-bench` (the speed reference) -- from the llama.cpp that the installed llama-cpp-python
# vendors, with the same CMake flags the wheel was built with: one llama.cpp, two front ends.
# Prints the folder holding both binaries on its last line. Cached in
# ~/.cache/lorebook/llama-tools/<version>-<flags hash>/ ($XDG_CACHE_HOME/lorebook/... where that
# is set; a fresh clone on this machine reuses it).
#
#   LLAMA_FLAGS  override the CMake flags (default: the CUDA flags when nvcc and a GPU are
#                there, else those recorded by scripts/setup.sh for the wheel)
#   LOREBOOK_CUDA  1 or 0 forces the choice (`make llama-server CUDA=1`, `CUDA=0`)
#   LLAMA_SRC    use this llama-cpp-python source tree instead of downloading the sdist
#   LLAMA_TOOLS_CACHE  where to keep the binaries
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY=${BENCH_PYTHON:-$VENV/bin/python}
version=${LLAMA_VERSION:-$(sed -n 's/.*"llama-cpp-python==\([0-9.]*\)".*/\1/p' pyproject.toml)}
# CUDA where available: nvcc to build with and a GPU to run on (LOREBOOK_CUDA=0/1 forces it).
if [[ -z "${LOREBOOK_CUDA:-}" ]]; then
  LOREBOOK_CUDA=0
  if command -v nvcc >/dev/null && nvidia-smi -L 2>/dev/null | grep -q GPU; then
    LOREBOOK_CUDA=1
  fi
fi
if [[ -n "${LLAMA_FLAGS:-}" ]]; then
  flags=$LLAMA_FLAGS
elif [[ "$LOREBOOK_CUDA" == 1 ]]; then
  flags=$("$PY" agent/buildflags.py --cuda)
else
  flags=$(cat "$VENV/.llama-flags")
fi
key=$(echo "$version $flags" | sha256sum | cut -c1-12)
dest="${LLAMA_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lorebook/llama-tools}/$version-$key"
if [[ -x "$dest/llama-server" && -x "$dest/llama-bench" ]]; then
  echo "$dest"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
SECONDS=0
src=${LLAMA_SRC:-}
if [[ -z "$src" ]]; then
  echo "llama-tools: building llama-server and llama-bench $version once (~6 min on 2 cores)" >&2
  # The source scripts/setup.sh kept when it built the wheel, else downloaded now.
  sdist="${XDG_CACHE_HOME:-$HOME/.cache}/lorebook/sdist/llama_cpp_python-$version.tar.gz"
  if [[ ! -f "$sdist" ]]; then
    "$PY" -m pip download -q --no-deps --no-binary :all: "llama-cpp-python==$version" -d "$work" >&2
    sdist=$(echo "$work"/llama_cpp_python-*.tar.gz)
  fi
  tar xzf "$sdist" -C "$work"
  src=$(echo "$work"/llama_cpp_python-*/)
fi
echo "llama-tools: CMake flags $flags" >&2
# Static: the binaries do not depend on the wheel's shared libraries. No web UI (it would be
# fetched from a model hub; the API is what lorebook uses), no curl/OpenSSL (no downloads).
# shellcheck disable=SC2086  # $flags is a list of -D options
cmake -S "$src/vendor/llama.cpp" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF \
  -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON \
  -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF \
  -DBUILD_SHARED_LIBS=OFF $flags >&2
cmake --build "$work/build" --target llama-server llama-bench -j"$(nproc)" >&2
mkdir -p "$dest.tmp"
cp "$work/build/bin/llama-server" "$work/build/bin/llama-bench" "$dest.tmp/"
echo "$flags" > "$dest.tmp/flags"
rm -rf "$dest" && mv "$dest.tmp" "$dest"
echo "llama-tools: built in $SECONDS s" >&2
echo "$dest"
