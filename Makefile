# Two commands on a fresh machine (Python 3.11 + pip): `make bench` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.oocbench-installed
SUITE  ?= quick

.PHONY: bench test lint venv clean asv publish-default publish-huge docs

# asv on the project's .venv (no env build): every installed adapter, results in .asv/results, site in .asv/html;
# the profile is make bench's suite, so `make asv` after `make bench` reuses every case it recorded
ASV_PROFILE ?= $(SUITE)
ASV_ARGS    ?=

venv: $(STAMP)

# one venv for both commands: every backend (.[all]) plus the test and documentation tools
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[all,test,docs]'
	touch $@

# the report is written even when the run reports a harness failure (the run's exit status is kept);
# `oocbench report` prints the path of index.html last
bench: $(STAMP)
	$(BIN)/oocbench run --suite $(SUITE); rc=$$?; $(BIN)/oocbench report || exit 1; exit $$rc

# the published reports (issue 17): the default suite (56 min on 2 cores as last timed; meant to fit 60), and the scale series on wide
# categorical data past RAM (about an hour and 38 GiB of disk on 2 cores; see the README for what it measured).
# Both resume: a killed run keeps its finished cases. `oocbench headline` prints the README's opening tables.
HUGE_ROWS ?= 1e6,1e7,1e8,211812352
publish-default: $(STAMP)
	$(BIN)/oocbench run --suite default --results results/default; rc=$$?; \
	$(BIN)/oocbench report --results results/default --out reports/default || exit 1; \
	$(BIN)/oocbench headline reports/default/results.json; exit $$rc

publish-huge: $(STAMP)
	$(BIN)/python scripts/huge_run.py --dataset synth-ctr --codec plain --rows $(HUGE_ROWS) --adapters series \
		--budget 480 --xgb-rounds 10 --timeout 1800 --data data/huge-ctr --results results/huge-ctr; rc=$$?; \
	$(BIN)/oocbench report --results results/huge-ctr --out reports/huge || exit 1; \
	$(BIN)/oocbench headline reports/huge/results.json; exit $$rc

# the documentation site (MkDocs, strict: a broken link or reference fails), into build/site
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict -q

# pytest exits 5 when it collects no test: make treats any non-zero exit as failure
EXAMPLE := examples/oocbench-example-adapter

# pytest-xdist processes for the suite (one file per process: a module's fixtures run once); most tests wait on
# one single-threaded child process, so two keep both of CI's 2 cores busy
TEST_WORKERS ?= 2

# ruff, the whole suite but the cluster tests, then those alone (a test must not pass only thanks to an earlier one;
# run once, not twice: CI's time limit), and the
# example adapter package's own test (check_adapter), installed as a user would (its entry point registers it,
# so the isolated run really runs) into a throwaway target: the venv is untouched
test: $(STAMP)
	$(BIN)/ruff check oocbench tests benchmarks scripts examples
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile -k "not cluster"
	$(BIN)/python -m pytest -q -p no:cacheprovider -k cluster tests
	rm -rf build/example-site
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation --target build/example-site ./$(EXAMPLE)
	cd $(EXAMPLE) && PYTHONPATH=$(CURDIR)/build/example-site $(CURDIR)/$(BIN)/python -m pytest -q -p no:cacheprovider

# `existing` environments save results only with an explicit commit (HEAD; a dirty tree is marked in the
# records' provenance); `asv machine --yes` records this machine once in ~/.asv-machine.json. Cases that
# `make bench` (results/) or an earlier asv run (.asv/results/oocbench-records/) recorded for this clean commit,
# versions and machine are reused, not fitted again (OOCBENCH_ASV_REUSE=0 refits them)
asv: $(STAMP)
	$(BIN)/asv machine --yes
	OOCBENCH_ASV_PROFILE=$(ASV_PROFILE) $(BIN)/asv run --environment existing:$(CURDIR)/$(BIN)/python \
		--set-commit-hash $$(git rev-parse HEAD) $(ASV_ARGS)
	$(MAKE) asv-publish

# asv publish's page loads jQuery / flot / bootstrap from CDNs: point it at the copies in benchmarks/asv_www,
# so `asv preview` works offline
.PHONY: asv-publish
asv-publish: $(STAMP)
	$(BIN)/asv publish
	$(BIN)/python -m oocbench.asv_results offline-site .asv/html --vendor benchmarks/asv_www

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .asv build *.egg-info
