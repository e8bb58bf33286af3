# Set-up and everyday commands. Everything installs into ./.venv with the pins of constraints.txt.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast bench clean

$(STAMP): setup.cfg setup.py constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/pgm-ppl fit

test: install
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

bench: install
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) pgm_ppl_runs .pytest_cache
