# Set-up is part of every target: a fresh checkout needs only `make demo` or `make test`.
PY ?= $(shell command -v python3.12 || command -v python3.13 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test bench figures clean
$(BIN)/.installed: pyproject.toml
	@$(PY) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else "spreadsim needs Python 3.12 or newer (Mesa >= 3.5); found " + sys.version.split()[0])'
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test,app]"
	@touch $@

demo: $(BIN)/.installed  ## run the bundled demo, print its summary and where it sits among 100 runs, write results/demo/
	$(BIN)/spreadsim run scenarios/demo.yaml --out results/demo --force --spread 100

test: $(BIN)/.installed  ## run the test suite
	$(BIN)/python -m pytest -q

figures: $(BIN)/.installed  ## regenerate the README's figures into docs/figures/
	$(BIN)/spreadsim figures --force

bench: $(BIN)/.installed  ## measure speed and memory
	$(BIN)/spreadsim bench

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
