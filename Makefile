# Two commands on a fresh machine (Python 3.11 + pip): `make bench` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.oocbench-installed
SUITE  ?= quick

.PHONY: bench test lint venv clean

venv: $(STAMP)

# one venv for both commands: every backend (.[all]) plus the test tools
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[all,test]'
	touch $@

# the report is written even when the run reports a harness failure (the run's exit status is kept);
# `oocbench report` prints the path of index.html last
bench: $(STAMP)
	$(BIN)/oocbench run --suite $(SUITE); rc=$$?; $(BIN)/oocbench report || exit 1; exit $$rc

# pytest exits 5 when it collects no test: make treats any non-zero exit as failure
test: $(STAMP)
	$(BIN)/ruff check oocbench tests benchmarks
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .asv build *.egg-info
