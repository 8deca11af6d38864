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
# install, llama-server and llama-bench, PostgreSQL, ruff, mypy, the tests) with their wall times
# and the load.
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

# The stages, from the lines that start them (make echoes each command it runs).
at() { grep -m1 -E "$1" "$log" | awk '{print $1}'; }
t_wheel=$(at 'setup: llama.cpp .* for this machine')
t_built=$(at 'setup: llama.cpp libraries ready')
t_setup=$(at 'touch .venv/.lorebook-setup')
t_tools=$(at 'build_llama_tools.sh')
t_pg=$(at 'bash scripts/ensure_postgres.sh')
t_ruff=$(at 'ruff check')
t_mypy=$(at 'bin/mypy')
t_tests=$(at 'python -m pytest tests')
t_end=$(($(date +%s) - start))
span() { [[ -n "$2" && -n "$3" ]] && printf '  %-40s %5d s (%4.1f min)\n' "$1" $(($3 - $2)) "$(echo "($3 - $2) / 60" | bc -l)"; }
{
  echo "stages of \`make test\` from nothing (wall):"
  span "venv and sdist, before the llama.cpp build" 0 "$t_wheel"
  span "llama.cpp libraries (libllama, libggml)" "$t_wheel" "$t_built"
  span "llama-cpp-python (Python only), packages" "$t_built" "$t_setup"
  span "llama-server + llama-bench build" "$t_tools" "$t_pg"
  span "PostgreSQL check/install" "$t_pg" "$t_ruff"
  span "ruff" "$t_ruff" "$t_mypy"
  span "mypy" "$t_mypy" "$t_tests"
  span "pytest" "$t_tests" "$t_end"
  span "all of make test" 0 "$t_end"
  echo "  exit status $status; the log: $log"
} | tee -a "$log"
exit "$status"
