# Set-up is part of every target: a fresh checkout needs only `make demo` or `make test`.
PY ?= $(shell command -v python3.12 || command -v python3.13 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test bench figures clean golden mutants
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

golden: $(BIN)/.installed  ## regenerate tests/golden/ after a deliberate model change (prints the diff to review)
	$(BIN)/python -m simulation.golden --write

# mutation testing (slow: not in CI); MUTATE restricts it, e.g. make mutants MUTATE="simulation.logics*"
MUTATE ?=
mutants: $(BIN)/.installed  ## mutation testing of the model core, safe_io and the experiment store (docs/mutants.md)
	$(BIN)/python -m pip install -q -e ".[mutants]"
	nice -n 5 $(BIN)/mutmut run $(MUTATE)
	$(BIN)/mutmut results

figures: $(BIN)/.installed  ## regenerate the README's figures into docs/figures/
	$(BIN)/spreadsim figures --force

bench: $(BIN)/.installed  ## measure speed and memory
	$(BIN)/spreadsim bench

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis mutants
