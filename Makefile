# The two commands of the README: `make run` (set up + start on SQLite) and `make test`.
# Python dependencies come from requirements.lock (exact versions and hashes, dev tools included);
# `make lock` regenerates it from pyproject.toml. htmx comes from package-lock.json (`npm ci`).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# uv resolves the lock for every platform; it is used only by `make lock`, never by set-up.
UV_VERSION := 0.13.9

.PHONY: run test test-fast lint typecheck format lock clean

$(STAMP): pyproject.toml requirements.lock package.json package-lock.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	npm ci --no-audit --no-fund --loglevel=error
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/profile-registry init
	$(BIN)/profile-registry run $(RUN_ARGS)

# pytest-xdist runs the suite on every core (`PYTEST_ARGS="-n 0"` runs it in one process).
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -n auto $(PYTEST_ARGS)

# The edit-test loop: no subprocess servers, fuzzing or browser (a minute or so).
test-fast: $(STAMP)
	$(BIN)/pytest -n auto -m "not slow and not browser" $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# mypy over `registry` and `app.py` (settings in pyproject.toml: the domain and forms strict).
typecheck: $(STAMP)
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Re-resolve every Python dependency (runtime, dev tools, and setuptools for the editable
# install) to the newest versions pyproject.toml allows, with hashes, for all platforms.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	echo 'setuptools>=68' | $(BIN)/uv pip compile pyproject.toml - --extra dev --universal \
		--python-version 3.11 --generate-hashes --quiet -o requirements.lock $(LOCK_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache *.egg-info
