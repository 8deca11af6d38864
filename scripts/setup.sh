#!/usr/bin/env bash
# Create .venv (if missing) and install lorebook with everything it needs.
#
#   scripts/setup.sh          CPU build of llama-cpp-python, flags chosen from this CPU
#   scripts/setup.sh --cuda   CUDA build plus the faiss GPU extra matching nvcc's CUDA major
#
# llama-cpp-python compiles llama.cpp from source (about 5 minutes on 2 cores). The wheel is kept
# in ~/.cache/lorebook/wheels/<version>-<flags hash>/ ($XDG_CACHE_HOME/lorebook/... where that is
# set, as pip's own cache), so the next setup on this machine, a fresh clone included, installs
# it in seconds; wheels built with other flags (CUDA) never get mixed up. The multimodal library
# (mtmd: images and audio) is not built: lorebook never loads it, and it is a tenth of the build.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
cuda=""
[[ "${1:-}" == "--cuda" ]] && cuda="--cuda"

llama_version=$(sed -n 's/.*"llama-cpp-python==\([0-9.]*\)".*/\1/p' pyproject.toml)
flags=$("$PY" agent/buildflags.py $cuda)
key="$llama_version-$("$PY" agent/buildflags.py $cuda --key)"
wheels="${LOREBOOK_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lorebook/wheels}/$key"
# The source is kept too: `make llama-server` builds from it (a 76 MB download, 2 min here).
sdists="${XDG_CACHE_HOME:-$HOME/.cache}/lorebook/sdist"
sdist="$sdists/llama_cpp_python-$llama_version.tar.gz"

[[ -x "$VENV/bin/python" ]] || "$PY" -m venv "$VENV"
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check "$@"; }

if ! compgen -G "$wheels/llama_cpp_python-*.whl" >/dev/null; then
  echo "setup: building llama-cpp-python $llama_version once for this machine (~5 min on 2 cores)"
  echo "setup: CMAKE_ARGS=$flags"
  rm -rf "$wheels.tmp"
  SECONDS=0
  if [[ ! -f "$sdist" ]]; then
    rm -rf "$sdists.tmp.$$"
    pip download -q --no-deps --no-binary :all: "llama-cpp-python==$llama_version" -d "$sdists.tmp.$$"
    mkdir -p "$sdists" && mv "$sdists.tmp.$$"/llama_cpp_python-*.tar.gz "$sdist" && rm -rf "$sdists.tmp.$$"
  fi
  CMAKE_ARGS="$flags -DLLAVA_BUILD=OFF" pip wheel -q --no-cache-dir --no-deps -w "$wheels.tmp" "$sdist"
  mv "$wheels.tmp" "$wheels"
  echo "setup: llama-cpp-python built in $SECONDS s, kept in $wheels"
fi
if [[ "$(cat "$VENV/.llama-key" 2>/dev/null)" != "$key" ]]; then
  pip install -q --force-reinstall --no-deps "$wheels"/llama_cpp_python-*.whl
  echo "$key" > "$VENV/.llama-key"
fi

extras="dev,scale"
if [[ -n "$cuda" ]]; then
  major=$(nvcc --version | sed -n 's/.*release \([0-9]*\)\..*/\1/p')
  extras="dev,scale,gpu-cu$major"
  pip uninstall -q -y faiss-cpu || true
fi
SECONDS=0
pip install -q -e ".[$extras]"
echo "$flags" > "$VENV/.llama-flags"
echo "setup: lorebook and its packages installed in $SECONDS s"
