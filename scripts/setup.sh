#!/usr/bin/env bash
# Create .venv (if missing) and install lorebook with everything it needs.
#
#   scripts/setup.sh          CPU build of llama.cpp, flags chosen from this CPU
#   scripts/setup.sh --cuda   CUDA build plus the faiss GPU extra matching nvcc's CUDA major
#
# llama.cpp is compiled once per machine and flag set by scripts/build_llama.sh: only the
# libraries llama-cpp-python loads (libllama, libggml*; about 4 minutes on 2 cores), in a build
# tree that `make llama-server` later extends with llama-server and llama-bench, so nothing is
# compiled twice. llama-cpp-python itself is installed without its own llama.cpp build
# (-DLLAMA_BUILD=OFF: the Python package only, seconds) and the libraries are copied into its
# llama_cpp/lib, where it loads them from; they find each other through their $ORIGIN run path,
# so nothing needs an environment variable at run time. The sdist, that Python-only wheel and
# the libraries are kept in ~/.cache/lorebook/ ($XDG_CACHE_HOME/lorebook/ where that is set), so
# the next setup on this machine, a fresh clone included, compiles nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
cuda=""
[[ "${1:-}" == "--cuda" ]] && cuda="--cuda"

llama_version=$(sed -n 's/.*"llama-cpp-python==\([0-9.]*\)".*/\1/p' pyproject.toml)
flags=$("$PY" agent/buildflags.py $cuda)
key="$llama_version-$("$PY" agent/buildflags.py $cuda --key)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/lorebook"
sdists="$cache/sdist"
sdist="$sdists/llama_cpp_python-$llama_version.tar.gz"
# The Python part of llama-cpp-python is the same for every flag set.
wheels="${LOREBOOK_WHEEL_CACHE:-$cache/wheels}/$llama_version-python"

[[ -x "$VENV/bin/python" ]] || "$PY" -m venv "$VENV"
pip() { "$VENV/bin/python" -m pip --disable-pip-version-check "$@"; }

if [[ ! -f "$sdist" ]]; then
  rm -rf "$sdists.tmp.$$"
  pip download -q --no-deps --no-binary :all: "llama-cpp-python==$llama_version" -d "$sdists.tmp.$$"
  mkdir -p "$sdists" && mv "$sdists.tmp.$$"/llama_cpp_python-*.tar.gz "$sdist" && rm -rf "$sdists.tmp.$$"
fi
# The libraries first (the long part; the line fresh_machine.sh times it by).
echo "setup: llama.cpp $llama_version for this machine, CMake flags $flags"
SECONDS=0
libs=$(VENV=$VENV PYTHON=$PY scripts/build_llama.sh libs $cuda)
echo "setup: llama.cpp libraries ready in $SECONDS s ($libs)"
if ! compgen -G "$wheels/llama_cpp_python-*.whl" >/dev/null; then
  rm -rf "$wheels.tmp"
  CMAKE_ARGS="-DLLAMA_BUILD=OFF -DLLAVA_BUILD=OFF" \
    pip wheel -q --no-cache-dir --no-deps -w "$wheels.tmp" "$sdist"
  if ! "$VENV/bin/python" -c 'import sys, zipfile
sys.exit(any(".so" in n for n in zipfile.ZipFile(sys.argv[1]).namelist()))' "$wheels.tmp"/*.whl
  then
    echo "setup: the llama-cpp-python wheel built with LLAMA_BUILD=OFF holds libraries" >&2
    exit 1
  fi
  rm -rf "$wheels" && mv "$wheels.tmp" "$wheels"
fi
# Where the package will load its libraries from (found without importing it, which would
# try to load them).
pkg_lib() {
  "$VENV/bin/python" -c 'import importlib.util as u; s = u.find_spec("llama_cpp")
print(s.submodule_search_locations[0] + "/lib" if s else "")'
}
# The venv's llama_cpp/lib holds exactly these libraries, byte for byte.
same_libs() {
  local lib=$1 f
  [[ -n "$lib" && -d "$lib" ]] || return 1
  [[ "$(ls -A "$lib")" == "$(ls -A "$libs")" ]] || return 1
  for f in "$libs"/*; do cmp -s "$f" "$lib/${f##*/}" || return 1; done
}
if [[ "$(cat "$VENV/.llama-key" 2>/dev/null)" != "$key" ]] || ! same_libs "$(pkg_lib)"; then
  pip install -q --force-reinstall --no-deps "$wheels"/llama_cpp_python-*.whl
  lib=$(pkg_lib)
  rm -rf "$lib" && mkdir -p "$lib"
  cp -P "$libs"/* "$lib/"
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
# The libraries load from the package's folder, find each other, and run on this CPU.
"$VENV/bin/python" -c 'import llama_cpp; llama_cpp.llama_backend_init()
print("setup: llama_cpp loads", llama_cpp.llama_print_system_info().decode())'
