#!/usr/bin/env bash
# llama.cpp's own `llama-server` and `llama-bench`, from the same build tree as the libraries
# the Python package loads (scripts/build_llama.sh tools: see there). Prints the folder holding
# both on its last line. `make llama-server` and bench/bench_llm.py call this.
exec "$(dirname "$0")/build_llama.sh" tools "$@"
