# Frontier: `make demo` runs the default study end to end, `make test` runs lint, types and tests.
# Both create .venv and install everything they need (torch 2.14.1 / torchvision 0.29.1 pinned).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.frontier-installed

.PHONY: install demo test lint bench clean

install: $(STAMP)

# torch and torchvision are pinned here (their wheels are on local disk; other versions download
# gigabytes); pyproject.toml gives the ranges Frontier works with.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install -q -e '.[dev,postgres,dashboard,tensorboard,mlflow,onnx,transformers,mnist1d]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m search run studies/digits_cnn.toml

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy

# The PostgreSQL tests get a throwaway server from .ci/postgres.sh (installed with apt-get when
# missing and root); without one they are skipped locally and fail under CI=true. Likewise the
# report and image tests need Debian's chromium, which .ci/chromium.sh installs.
test: lint
	bash .ci/chromium.sh || true
	FRONTIER_TEST_POSTGRES="$${FRONTIER_TEST_POSTGRES:-$$(bash .ci/postgres.sh || true)}" \
		$(PY) -m pytest

bench: $(STAMP)
	$(PY) bench/overhead.py

clean:
	rm -rf runs .pytest_cache .mypy_cache .ruff_cache
