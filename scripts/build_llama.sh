#!/usr/bin/env bash
# One build of llama.cpp per machine and flag set, for everything lorebook runs of it: the
# shared libraries llama-cpp-python's Python package loads, and llama.cpp's own `llama-server`
# (the HTTP backend, `lorebook serve-model`) and `llama-bench` (the speed reference).
#
#   scripts/build_llama.sh libs [--cuda]  build libllama and libggml* (what the Python package
#                                         loads, nothing more); print the folder holding them
#   scripts/build_llama.sh tools          build llama-server and llama-bench in the same build
#                                         tree (ggml and llama are not compiled again); print
#                                         the folder holding both, with the libraries they use
#   scripts/build_llama.sh where libs|tools [--cuda]   print that folder, build nothing
#
# The source is the vendored llama.cpp of the llama-cpp-python sdist pinned in pyproject.toml
# (downloaded once into the cache, as pip would). The flags come from agent/buildflags.py, the
# one source of them (never GGML_NATIVE: its AMX path crashed here). Everything is kept under
# ${XDG_CACHE_HOME:-~/.cache}/lorebook/, so a fresh clone on this machine builds nothing:
#   sdist/llama_cpp_python-<version>.tar.gz
#   llama/<version>-<key>/{src,build}  the CMake build tree (removed once the tools are built)
#   llama/<version>-<key>/lib          libllama.so, libggml*.so: scripts/setup.sh copies them
#                                      into the venv's llama_cpp/lib
#   llama-tools/<version>-<key>/       llama-server, llama-bench and their shared libraries
#                                      (agent/llm/serve.py looks for llama-server there)
# <key> is the first 12 hex digits of the flags' sha256 (`agent/buildflags.py --key`). Every
# library and program is linked with the run path $ORIGIN, so they find each other wherever they
# are copied together and nothing needs LD_LIBRARY_PATH. Two builds of one key at once wait for
# each other (flock); a build that is stopped resumes where it was on the next call.
#
#   LLAMA_FLAGS     the CMake flags (tools only; default: the CUDA flags when nvcc and a GPU are
#                   there, else the flags recorded by scripts/setup.sh for the venv's libraries,
#                   so the tools come from the same build tree as them)
#   LOREBOOK_CUDA   1 or 0 forces that choice (`make llama-server CUDA=1`, `CUDA=0`)
#   LLAMA_TOOLS_CACHE  where to keep the tools (as agent/llm/serve.py reads it)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY=${PYTHON:-python3}  # agent/buildflags.py uses the standard library only
mode=${1:-}
where=""
if [[ "$mode" == where ]]; then
  where=1
  mode=${2:-}
  shift
fi
[[ "$mode" == libs || "$mode" == tools ]] || {
  echo "usage: $0 [where] libs [--cuda] | $0 [where] tools" >&2
  exit 2
}
cuda=""
[[ "${2:-}" == "--cuda" ]] && cuda="--cuda"

version=${LLAMA_VERSION:-$(sed -n 's/.*"llama-cpp-python==\([0-9.]*\)".*/\1/p' pyproject.toml)}
if [[ "$mode" == libs ]]; then
  flags=$("$PY" agent/buildflags.py $cuda)
elif [[ -n "${LLAMA_FLAGS:-}" ]]; then
  flags=$LLAMA_FLAGS
else
  # CUDA where available: nvcc to build with and a GPU to run on (LOREBOOK_CUDA=0/1 forces it).
  if [[ -z "${LOREBOOK_CUDA:-}" ]]; then
    LOREBOOK_CUDA=0
    if command -v nvcc >/dev/null && nvidia-smi -L 2>/dev/null | grep -q GPU; then
      LOREBOOK_CUDA=1
    fi
  fi
  if [[ "$LOREBOOK_CUDA" == 1 ]]; then
    flags=$("$PY" agent/buildflags.py --cuda)
  elif [[ -f "$VENV/.llama-flags" ]]; then
    flags=$(cat "$VENV/.llama-flags")
  else
    flags=$("$PY" agent/buildflags.py)
  fi
fi
key=$(printf '%s' "$flags" | sha256sum | cut -c1-12)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/lorebook
top="$cache/llama/$version-$key"
libs="$top/lib"
tools="${LLAMA_TOOLS_CACHE:-$cache/llama-tools}/$version-$key"
dest=$libs
[[ "$mode" == tools ]] && dest=$tools
if [[ -n "$where" ]]; then
  echo "$dest"
  exit 0
fi
done_already() {
  if [[ "$mode" == libs ]]; then
    [[ -e "$libs/libllama.so" && -e "$libs/libggml.so" ]]
  else
    [[ -x "$tools/llama-server" && -x "$tools/llama-bench" ]]
  fi
}
if done_already; then
  echo "$dest"
  exit 0
fi

mkdir -p "$top"
exec 9>"$top.lock"
# Another setup or `make llama-server` building this key: wait for it, then reuse its work.
if command -v flock >/dev/null; then flock 9; fi
if done_already; then
  echo "$dest"
  exit 0
fi
SECONDS=0
# The compiler's output goes to a log (thousands of lines, warnings included); a failure shows
# its end. LLAMA_BUILD_VERBOSE=1 shows it all as it comes.
log="$top/build.log"
echo "== $mode, $(date '+%F %T')" >> "$log"
logged() {
  if [[ "${LLAMA_BUILD_VERBOSE:-0}" == 1 ]]; then
    "$@" >&2
  elif ! "$@" >> "$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "llama.cpp: the build failed; its log: $log" >&2
    exit 1
  fi
}

# The source: the sdist scripts/setup.sh keeps (pip's build of the Python package uses it too).
src="$top/src/llama.cpp"
if [[ ! -f "$src/.complete" ]]; then
  sdist="$cache/sdist/llama_cpp_python-$version.tar.gz"
  if [[ ! -f "$sdist" ]]; then
    rm -rf "$cache/sdist.tmp.$$"
    pip_py=$PY
    [[ -x "$VENV/bin/python" ]] && pip_py=$VENV/bin/python
    "$pip_py" -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
      "llama-cpp-python==$version" -d "$cache/sdist.tmp.$$" >&2
    mkdir -p "$cache/sdist"
    mv "$cache/sdist.tmp.$$"/llama_cpp_python-*.tar.gz "$sdist" && rm -rf "$cache/sdist.tmp.$$"
  fi
  rm -rf "$top/src" "$top/build"
  mkdir -p "$top/src"
  # Only the vendored llama.cpp, without its example vocabularies and docs (a third of it).
  tar xzf "$sdist" -C "$top/src" --strip-components=2 --wildcards \
    --exclude='*/vendor/llama.cpp/models/*' --exclude='*/vendor/llama.cpp/docs/*' \
    "llama_cpp_python-$version/vendor/llama.cpp/*"
  touch "$src/.complete"
fi

build="$top/build"
if [[ ! -f "$build/CMakeCache.txt" || "$(cat "$build/.lorebook-flags" 2>/dev/null)" != "$flags" ]]; then
  echo "llama.cpp: CMake flags $flags" >&2
  # Configured once for both uses, so building the tools later reuses every object of the
  # libraries. Shared libraries as in llama-cpp-python's own build; run path $ORIGIN (plus
  # any library folder outside the tree, e.g. CUDA's, as that build has). No web UI (it would be
  # fetched from a model hub; the API is what lorebook uses), no curl/OpenSSL (no downloads).
  # shellcheck disable=SC2086  # $flags is a list of -D options
  logged cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON \
    -DCMAKE_BUILD_WITH_INSTALL_RPATH=ON '-DCMAKE_INSTALL_RPATH=$ORIGIN' \
    -DCMAKE_INSTALL_RPATH_USE_LINK_PATH=ON \
    -DLLAMA_BUILD_COMMON=ON -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF \
    -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
    $flags
  echo "$flags" > "$build/.lorebook-flags"
fi

# Copy the shared libraries (the real files and their soname links) of the build into $1.
copy_libs() {
  local out=$1
  shift
  local pattern
  for pattern in "$@"; do
    compgen -G "$build/bin/$pattern" >/dev/null || { echo "llama.cpp: no $pattern built" >&2; exit 1; }
    cp -P "$build/bin/"$pattern "$out/"
  done
}

if [[ "$mode" == libs ]]; then
  echo "llama.cpp: building libllama and libggml $version once for this machine" \
    "(about 5 min of CPU time; log: $log)" >&2
  logged cmake --build "$build" --target llama ggml -j"$(nproc)"
  rm -rf "$libs.tmp" && mkdir -p "$libs.tmp"
  copy_libs "$libs.tmp" 'libllama.so*' 'libggml*.so*'
  echo "$flags" > "$libs.tmp/flags"
  rm -rf "$libs" && mv "$libs.tmp" "$libs"
  echo "llama.cpp: libraries built in $SECONDS s, kept in $libs" >&2
else
  echo "llama.cpp: building llama-server and llama-bench $version once for this machine" \
    "(about 10 min of CPU time; log: $log)" >&2
  logged cmake --build "$build" --target llama-server llama-bench -j"$(nproc)"
  rm -rf "$tools.tmp" && mkdir -p "$tools.tmp"
  cp "$build/bin/llama-server" "$build/bin/llama-bench" "$tools.tmp/"
  copy_libs "$tools.tmp" '*.so*'  # libllama, libggml*, and the tools' own (common, mtmd)
  echo "$flags" > "$tools.tmp/flags"
  if ldd "$tools.tmp/llama-server" "$tools.tmp/llama-bench" | grep 'not found' >&2; then
    echo "llama.cpp: a library of the tools is missing from $tools.tmp" >&2
    exit 1
  fi
  "$tools.tmp/llama-server" --version >/dev/null 2>&1 || {
    echo "llama.cpp: the llama-server just built does not start:" >&2
    "$tools.tmp/llama-server" --version >&2
    exit 1
  }
  rm -rf "$tools" && mv "$tools.tmp" "$tools"
  # Both products are kept now; the object files (a few hundred MB) are of no further use.
  # The libraries are kept too when this build was not set up for them (CUDA tools beside a
  # CPU venv), so a later `make gpu` on this machine copies them instead of compiling.
  if [[ ! -e "$libs/libllama.so" ]]; then
    mkdir -p "$libs.tmp"
    copy_libs "$libs.tmp" 'libllama.so*' 'libggml*.so*'
    echo "$flags" > "$libs.tmp/flags"
    rm -rf "$libs" && mv "$libs.tmp" "$libs"
  fi
  rm -rf "$build" "$top/src"
  echo "llama.cpp: llama-server and llama-bench built in $SECONDS s, kept in $tools" >&2
fi
echo "$dest"
