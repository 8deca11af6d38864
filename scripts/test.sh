#!/usr/bin/env bash
# `make test` after setup: ruff, mypy and the whole test suite, with llama.cpp's llama-server and
# llama-bench (scripts/build_llama_tools.sh) built in the background meanwhile.
#
# Building the tools takes about 10 min of CPU the first time on a machine (nothing once they
# are in the cache), and most of the suite runs on one core, so the two overlap: the build
# starts first, at a lower priority (normal again once the tests beside it are done), with its
# output in a log; ruff, mypy and the tests that do not need llama-server run beside it; then,
# once the build is done, the tests marked `llama_server` (tests/conftest.py marks every test
# that needs the binary). In the first run
# LOREBOOK_TEST_LLAMA_SERVER=pending makes a test that needs the binary but is not marked fail
# (tests/agent/conftest.py), so none can pass or skip by finding, or not, a half-built tree.
# The two runs together are exactly the suite; a failed build fails `make test` with the end of
# its log. A failure of ruff or mypy stops here (the build too, which resumes on the next run);
# failed tests in the first run still let the second run, and both are reported.
#
#   VENV, PYTHON, LOREBOOK_CUDA   as for scripts/build_llama_tools.sh (`make test CUDA=1`)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
BIN=$VENV/bin
export VENV PYTHON=${PYTHON:-python3} LOREBOOK_REQUIRE_LLAMA_SERVER=1

echo "test: PostgreSQL's server binaries"
bash scripts/ensure_postgres.sh

mkdir -p build
log=build/llama-tools.log
echo "test: building llama-server and llama-bench in the background (log: $log)"
SECONDS=0
# In a process group of its own (set -m), so that stopping it stops the compilers under it. At
# the lowest priority: Ray runs its workers at nice 15, and beside compilers at nice 10 the Ray
# tests took 224 s instead of 83 (104 s beside nice 19).
set -m
nice -n 19 scripts/build_llama_tools.sh < /dev/null > "$log" 2>&1 &
build=$!
set +m
stop_build() {
  if kill -0 "$build" 2>/dev/null; then
    echo "test: stopping the llama-server build (the next run resumes it)" >&2
    kill -TERM -- "-$build" 2>/dev/null || true
    wait "$build" 2>/dev/null || true
  fi
}
trap stop_build EXIT
trap 'exit 130' INT TERM

echo "test: ruff"
"$BIN/ruff" check agent memory tools tui tests bench
echo "test: mypy"
"$BIN/mypy"
echo "test: pytest, the tests that do not need llama-server"
status=0
LOREBOOK_TEST_LLAMA_SERVER=pending "$BIN/python" -m pytest tests -m "not llama_server" || status=$?

echo "test: waiting for the llama-server build"
# Nothing of ours competes with it now: back to the normal priority, against other jobs on the
# machine (raising a priority needs root; elsewhere it stays as it was).
renice -n 0 -g "$build" >/dev/null 2>&1 || true
if ! wait "$build"; then
  tail -n 30 "$log" >&2
  echo "test: building llama-server failed after $SECONDS s (the end of its log above, all of" \
    "it in $log); the tests that need it did not run" >&2
  exit 1
fi
echo "test: llama-server ready, $SECONDS s after the build started ($(tail -n 1 "$log"))"
echo "test: pytest, the tests that need llama-server"
"$BIN/python" -m pytest tests -m llama_server || status=$?
exit "$status"
