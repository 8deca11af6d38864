#!/usr/bin/env bash
# `make test` as on a new machine, without touching this machine's caches (issue 19): a new
# clone of this repository's HEAD, run with HOME and XDG_CACHE_HOME pointed at an empty folder,
# so the llama.cpp build, llama-server, pip's cache, the assembled models and the data directory
# all start empty. (PostgreSQL's package and the system's Python stay as the machine has them.)
#
#   bench/fresh_machine.sh [DIR]    DIR (default /tmp/lorebook-fresh) is emptied first
#
# Writes DIR/make-test.log: every line of make's output with the seconds since the start, then
# /usr/bin/time -v's report; then prints the stages (setup's llama.cpp libraries and package
# install, PostgreSQL, llama-server and llama-bench beside ruff, mypy and the first test run,
# the second test run) with their wall times and the load.
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-/tmp/lorebook-fresh}
rm -rf "$dir" && mkdir -p "$dir/home"
git clone -q "$src" "$dir/lorebook"
cd "$dir/lorebook" || exit 1
log="$dir/make-test.log"
{
  echo "# $(git rev-parse --short HEAD) on $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "# $(date '+%F %T'): HOME=$dir/home XDG_CACHE_HOME=$dir/home/.cache /usr/bin/time -v make test"
} > "$log"
start=$(date +%s)
for var in $(env | sed -n 's/^\(LOREBOOK_[A-Z_]*\)=.*/\1/p'); do unset "$var"; done
HOME="$dir/home" XDG_CACHE_HOME="$dir/home/.cache" PYTEST_ADDOPTS="--durations=25" \
  /usr/bin/time -v make test 2>&1 | while IFS= read -r line; do
    printf '%5d %s\n' $(($(date +%s) - start)) "$line"
  done >> "$log"
status=${PIPESTATUS[0]}
echo "# exit $status after $(($(date +%s) - start)) s; load $(cut -d' ' -f1-3 /proc/loadavg)" >> "$log"

# The stages, from the lines that start and end them (setup's and scripts/test.sh's, and make
# echoing the commands it runs). The llama-server build runs beside ruff, mypy and the tests that
# do not need it.
at() { grep -m1 -E "$1" "$log" | awk '{print $1}'; }
t_libs=$(at 'setup: llama.cpp .* for this machine')
t_built=$(at 'setup: llama.cpp libraries ready')
t_setup=$(at 'touch .venv/.lorebook-setup')
t_pg=$(at 'test: PostgreSQL')
t_tools=$(at 'test: building llama-server')
t_ruff=$(at 'test: ruff')
t_mypy=$(at 'test: mypy')
t_tests=$(at 'test: pytest, the tests that do not')
t_wait=$(at 'test: waiting for the llama-server build')
t_ready=$(at 'test: llama-server ready')
t_server_tests=$(at 'test: pytest, the tests that need')
t_end=$(($(date +%s) - start))
span() { [[ -n "$2" && -n "$3" ]] && printf '  %-46s %5d s (%4.1f min)\n' "$1" $(($3 - $2)) "$(echo "($3 - $2) / 60" | bc -l)"; }
{
  echo "stages of \`make test\` from nothing (wall; indented ones overlap the one above):"
  span "venv and sdist, before the llama.cpp build" 0 "$t_libs"
  span "llama.cpp libraries (libllama, libggml)" "$t_libs" "$t_built"
  span "llama-cpp-python (Python only), packages" "$t_built" "$t_setup"
  span "PostgreSQL check/install" "$t_pg" "$t_tools"
  span "llama-server + llama-bench build (background)" "$t_tools" "$t_ready"
  span "  ruff" "$t_ruff" "$t_mypy"
  span "  mypy" "$t_mypy" "$t_tests"
  span "  pytest, the tests without llama-server" "$t_tests" "$t_wait"
  span "  then waiting for the build" "$t_wait" "$t_ready"
  span "pytest, the tests with llama-server" "$t_server_tests" "$t_end"
  span "all of make test" 0 "$t_end"
  echo "  exit status $status; the log: $log"
} | tee -a "$log"
exit "$status"
