# safecity: `make demo` runs the whole system on embedded defaults; `make test` runs the test suite.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit setup bench clean

$(STAMP): pyproject.toml scripts/setup-system.sh
	bash scripts/setup-system.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/safecity demo --config configs/safecity.yaml

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy safecity_afis pipeline watchlist workers command_center camera_sim safecity_cli

# scripts/test.sh: most tests in parallel (pytest-xdist), then the end-to-end ones alone; PYTEST_ARGS, when
# set, run instead as one plain pytest (e.g. PYTEST_ARGS=tests/pipeline).
test: lint typecheck
	SAFECITY_MODELS_DIR=$${SAFECITY_MODELS_DIR:-$(abspath ../shared/models)} PYTEST=$(BIN)/pytest \
		bash scripts/test.sh $(PYTEST_ARGS)

bench: $(STAMP)
	SAFECITY_MODELS_DIR=$${SAFECITY_MODELS_DIR:-$(abspath ../shared/models)} $(BIN)/python bench/glass_to_alert.py

clean:
	rm -rf $(VENV) data .mypy_cache .ruff_cache .pytest_cache
