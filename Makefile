# The front-door commands (see README.md; `make help` lists them). `scripts/uv` installs uv when it is
# missing; `uv run` then creates .venv from uv.lock with every workspace package, Airflow 3.3, Spark and
# a JRE.
UV := scripts/uv
RUN := $(UV) run --all-packages --locked

.DEFAULT_GOAL := help
.PHONY: help disk demo test test-fast test-e2e test-e2e-celery parity corrupt-state-report storm-report lint docs docs-serve templates-check release release-check test-lowest publish-dry-run bench-polling bench-scale soak fault-storm

help:  ## List the targets and what each does.
	@echo "Usage: make <target> [PYTEST_ARGS=...] [PROVIDERS=...]"
	@awk 'BEGIN {FS = ":[^#]*## "} /^[a-zA-Z0-9_-]+:[^#]*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# `--force`: a running `uv run` (a soak, a demo) holds the cache's lock for as long as it runs; pruning
# removes only entries nothing refers to, so it need not wait for it.
disk:  ## Free disk here, then `uv cache prune` (a reused cache keeps a ~1 GB pyspark build per revalidation).
	df -h . $${TMPDIR:-/tmp}
	$(UV) cache prune --force

STACK ?= local

demo:  ## The crash-and-retry demo on real Airflow 3.3 (PROVIDERS="spark databricks", STACK=celery for Postgres + Celery).
	$(RUN) airflow-durable demo --stack $(STACK) $(PROVIDERS)

test: test-fast test-e2e  ## Every test: test-fast, then test-e2e (CI runs lint, then these two, through .ci/run).

test-fast:  ## Unit and contract tests: everything but the end-to-end tests (-m "not e2e").
	$(RUN) pytest -m "not e2e" $(PYTEST_ARGS)

parity:  ## Upstream's own operator tests against ours (part of test-fast); tables in build/parity/.
	$(RUN) pytest -m "not e2e" -k parity $(PYTEST_ARGS)

test-e2e:  ## The end-to-end crash tests that start real Airflow 3.3 and Spark (-m e2e).
	$(RUN) pytest -m e2e $(PYTEST_ARGS)

SOAK_REPS ?= 20
SEED ?=
SOAK_SEED := $(if $(SEED),--seed $(SEED),)

soak:  ## Random-kill soak (R2) on Postgres + Celery: SOAK_REPS (20) repetitions, SEED, PROVIDERS (default: all with a workload).
	$(RUN) airflow-durable soak --reps $(SOAK_REPS) $(SOAK_SEED) $(PROVIDERS)

fault-storm:  ## Fault storm (R3): 20% of vendor calls answer 429, 5xx or time out, no kills, 3 repetitions (SEED, PROVIDERS).
	$(RUN) airflow-durable soak --fault-rate 0.2 --no-kill --reps 3 $(SOAK_SEED) $(PROVIDERS)

bench-polling:  ## Polling cost (P3): status calls and detection latency of a 1-hour job, ours vs upstream, per provider.
	$(RUN) python benchmarks/polling_cost.py $(BENCH_ARGS)

bench-scale:  ## Scale (P4): 1,000 mapped durable task instances on Postgres + Celery (BENCH_ARGS="--tis 40").
	$(RUN) python benchmarks/scale.py $(BENCH_ARGS)

corrupt-state-report:  ## The corrupt-state corpus (R4) against every operator: inputs tried, clear errors, submissions.
	$(RUN) pytest -m "not e2e" -k test_corrupt_stored_state_gives_clear_error -q --corrupt-state-report $(PYTEST_ARGS)

STORM_SEEDS ?= 1,2,3
storm-report:  ## Fault storms (R3): 20% of vendor calls fail; per operator and seed, tries, faults, task failures, duplicates.
	$(RUN) pytest -m "not e2e" -k test_fault_storm_ends_with_one_job_within_the_retry_budget -q --storm-seeds=$(STORM_SEEDS) --storm-report $(PYTEST_ARGS)

test-e2e-celery:  ## Every provider's crash scenario on the production shape (Postgres, CeleryExecutor, Redis, 2 workers).
	AIRFLOW_DURABLE_E2E_CELERY=all $(RUN) pytest -m e2e tests/e2e/test_production_stack.py $(PYTEST_ARGS)

templates-check:  ## Render templates/ with the sample answers, install alone, run the contract (templates/README.md).
	$(RUN) python scripts/templates_check.py

lint:  ## ruff and strict mypy, configured once at the root.
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy

docs:  ## The documentation site, built strictly (a broken link or docstring fails) into build/site.
	NO_MKDOCS_2_WARNING=1 $(RUN) mkdocs build --strict -d build/site

docs-serve:  ## Preview the documentation site at http://127.0.0.1:8000, rebuilt on every change.
	NO_MKDOCS_2_WARNING=1 $(RUN) mkdocs serve

release: release-check test-lowest publish-dry-run  ## The CI release stage: release-check, test-lowest, publish-dry-run.

release-check:  ## Build every sdist and wheel; check metadata and versions; install each wheel alone with Airflow.
	$(RUN) python -m release check

test-lowest:  ## The packages' own fast tests at their lowest declared (lowest-direct) dependency versions.
	$(RUN) python -m release lowest -- $(PYTEST_ARGS)

publish-dry-run:  ## Build and check, then show what `uv publish` would upload (never uploads).
	$(RUN) python -m release publish-dry-run
