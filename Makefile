# The two front-door commands (see README.md). `scripts/uv` installs uv when it is missing; `uv run`
# then creates .venv from uv.lock with every workspace package, Airflow 3.3, Spark and a JRE.
UV := scripts/uv
RUN := $(UV) run --all-packages --locked

.PHONY: demo test test-fast lint

demo:  ## The crash-and-retry demo on real Airflow 3.3 (PROVIDERS="spark databricks" to choose).
	$(RUN) airflow-durable demo $(PROVIDERS)

test:  ## Every test: unit, contract suite, and the real end-to-end crash tests.
	$(RUN) pytest $(PYTEST_ARGS)

test-fast:  ## Everything but the end-to-end tests that start Airflow and Spark.
	$(RUN) pytest -m "not e2e" $(PYTEST_ARGS)

lint:  ## ruff and strict mypy, configured once at the root.
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy
