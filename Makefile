# The two commands: `make run` (set up, then chat with the default model) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.lorebook-setup

.PHONY: setup run test unit bench bench-deps demo gpu lint doctor clean llama-server

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup.sh scripts/build_llama.sh agent/buildflags.py
	PYTHON=$(PYTHON) VENV=$(VENV) scripts/setup.sh
	touch $@

run: setup
	$(BIN)/lorebook chat

# The tests start their own llama-server and a private PostgreSQL cluster on loopback:
# scripts/test.sh builds the one (as `make llama-server` does) in the background while ruff,
# mypy and the tests that do not need it run, then runs those that do; it installs Debian's
# package of the other when it is missing.
test: setup
	LOREBOOK_CUDA=$(CUDA) VENV=$(VENV) PYTHON=$(PYTHON) scripts/test.sh

unit: setup
	$(BIN)/python -m pytest tests -m "not integration"

lint: setup
	$(BIN)/ruff check agent memory tools tui tests bench
	$(BIN)/mypy

doctor: setup
	$(BIN)/lorebook doctor

bench: setup llama-server
	$(BIN)/python bench/bench_llm.py

# llama.cpp's own llama-server and llama-bench, built in the same CMake build tree as the
# libraries setup installed (only the tools' own code is compiled), or with CUDA where nvcc and
# a GPU are there (CUDA=1 / CUDA=0 force it); once per machine into ~/.cache/lorebook/llama-tools.
llama-server: setup
	LOREBOOK_CUDA=$(CUDA) VENV=$(VENV) PYTHON=$(PYTHON) scripts/build_llama_tools.sh

# The tools' quality benchmarks need data packages the tests do not (Django's catalogs,
# HumanEval, licence texts); then run bench/bench_{translate,summarize,code,review,batch}.py.
bench-deps: setup
	$(BIN)/pip install -q -e '.[dev,bench]'

# Every batch task type on the default model, in a throw-away data directory, then the scores.
DEMO ?= .demo
demo: setup
	rm -rf $(DEMO) && mkdir -p $(DEMO)
	$(BIN)/lorebook --home $(DEMO)/home batch examples/tasks.jsonl -o $(DEMO)/results.jsonl || true
	$(BIN)/lorebook eval $(DEMO)/results.jsonl

# Build llama.cpp's libraries with CUDA for llama-cpp-python and install the faiss GPU extra
# (needs nvcc and a GPU).
gpu:
	PYTHON=$(PYTHON) VENV=$(VENV) scripts/setup.sh --cuda
	touch $(STAMP)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
