# Two commands on a fresh machine (Python 3.11 + pip): `make bench` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.oocbench-installed
SUITE  ?= quick

.PHONY: bench test lint venv clean asv

# asv on the project's .venv (no env build): every installed adapter, results in .asv/results, site in .asv/html
ASV_PROFILE ?= quick
ASV_ARGS    ?=

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
	$(BIN)/ruff check oocbench tests benchmarks scripts examples
	$(BIN)/python -m pytest

# `existing` environments save results only with an explicit commit (HEAD; a dirty tree is marked in the
# records' provenance); `asv machine --yes` records this machine once in ~/.asv-machine.json
asv: $(STAMP)
	$(BIN)/asv machine --yes
	OOCBENCH_ASV_PROFILE=$(ASV_PROFILE) $(BIN)/asv run --environment existing:$(CURDIR)/$(BIN)/python \
		--set-commit-hash $$(git rev-parse HEAD) $(ASV_ARGS)
	$(BIN)/asv publish

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .asv build *.egg-info
