# The two front-door commands (see README.md). Each bootstraps uv if it is missing, then lets
# `uv run` create .venv from uv.lock with every workspace package and the dev tools.
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := python3 -m uv
BOOTSTRAP := python3 -m pip install --quiet --disable-pip-version-check uv &&
endif

.PHONY: demo test lint

demo:  ## The crash-and-retry demo on a real Airflow 3.3 and a real Spark standalone cluster.
	$(BOOTSTRAP) $(UV) run --all-packages --locked airflow-durable demo $(PROVIDERS)

test:  ## Every test: unit, contract suite, and the real end-to-end crash tests.
	$(BOOTSTRAP) $(UV) run --all-packages --locked pytest $(PYTEST_ARGS)

lint:  ## ruff and strict mypy, configured once at the root.
	$(BOOTSTRAP) $(UV) run --all-packages --locked ruff check .
	$(BOOTSTRAP) $(UV) run --all-packages --locked ruff format --check .
	$(BOOTSTRAP) $(UV) run --all-packages --locked mypy
