"""Property-style tests of ``submission_token`` over many generated scopes (seeded, reproducible)."""

from __future__ import annotations

import itertools
import random
import re
import string
from typing import Any

import pytest

from airflow_durable.testing.doubles import FakeTaskInstance
from airflow_durable.tokens import (
    MAX_GENERATION,
    TOKEN_MAX_LENGTH,
    TOKEN_PATTERN,
    TaskInstanceScope,
    submission_token,
)

# The vendor rules listed in the tokens.py docstring, with the API reference each comes from.
DATAPROC_REQUEST_ID = re.compile(r"^[a-zA-Z0-9_-]{1,40}$")
DATAPROC_JOB_ID = re.compile(r"^[a-zA-Z0-9_-]{1,100}$")
DATAPROC_BATCH_ID = re.compile(r"^[a-z][a-z0-9-]{2,61}[a-z0-9]$")
K8S_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
K8S_LABEL_VALUE_MAX = 63
DATABRICKS_IDEMPOTENCY_TOKEN_MAX = 64
EMR_CLIENT_TOKEN_LENGTH = range(1, 65)

# Characters that stress an encoding of the scope: separators, quotes, escapes, non-ASCII.
_ALPHABET = string.ascii_letters + string.digits + "_-.:+/ ,[]\"'\\{}|\x00\n" + "éß日本🙂"


def _random_text(rng: random.Random, max_len: int = 30) -> str:
    return "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, max_len)))


def _random_case(seed: int) -> tuple[TaskInstanceScope, int, str | None]:
    rng = random.Random(seed)
    scope = TaskInstanceScope(
        dag_id=_random_text(rng),
        run_id=_random_text(rng, 60),
        task_id=_random_text(rng),
        map_index=rng.choice([-1, 0, 1, rng.randint(2, 100_000)]),
    )
    generation = rng.choice([0, 1, 2, rng.randint(3, MAX_GENERATION), MAX_GENERATION])
    base = rng.choice([None, "", _random_text(rng, 64)])
    return scope, generation, base


SEEDS = range(200)


@pytest.mark.parametrize("seed", SEEDS)
def test_token_is_valid_for_every_vendor_field(seed: int) -> None:
    scope, generation, base = _random_case(seed)
    token = submission_token(scope, generation, base=base)

    assert TOKEN_PATTERN.match(token), token
    assert len(token) <= TOKEN_MAX_LENGTH == 40
    assert token.endswith(f"-g{generation}")
    assert DATAPROC_REQUEST_ID.match(token), "Dataproc request_id"
    assert DATAPROC_JOB_ID.match(token), "Dataproc reference.job_id"
    assert DATAPROC_BATCH_ID.match(token), "Dataproc batch_id"
    assert K8S_LABEL_VALUE.match(token), "Kubernetes label value"
    assert len(token) <= K8S_LABEL_VALUE_MAX, "Kubernetes label value length"
    assert len(token) <= DATABRICKS_IDEMPOTENCY_TOKEN_MAX, "Databricks idempotency_token"
    assert len(token) in EMR_CLIENT_TOKEN_LENGTH, "EMR clientToken"
    assert re.fullmatch(r"[\x21-\x7e]+", token), "YARN tag / EMR step name: printable ASCII, no spaces"


@pytest.mark.parametrize("seed", SEEDS)
def test_token_is_deterministic(seed: int) -> None:
    scope, generation, base = _random_case(seed)
    twin = TaskInstanceScope(scope.dag_id, scope.run_id, scope.task_id, scope.map_index)
    assert submission_token(scope, generation, base=base) == submission_token(twin, generation, base=base)


@pytest.mark.parametrize("seed", SEEDS)
def test_token_changes_with_every_input(seed: int) -> None:
    """Changing any single part of the scope, the generation or the base gives another token."""
    scope, generation, base = _random_case(seed)
    rng = random.Random(seed + 10_000)
    token = submission_token(scope, generation, base=base)
    other_generation = (generation + rng.randint(1, 5)) % (MAX_GENERATION + 1)
    variants: dict[str, tuple[TaskInstanceScope, int, str | None]] = {
        "dag_id": (
            TaskInstanceScope(scope.dag_id + "x", scope.run_id, scope.task_id, scope.map_index),
            generation,
            base,
        ),
        "run_id": (
            TaskInstanceScope(scope.dag_id, scope.run_id + "x", scope.task_id, scope.map_index),
            generation,
            base,
        ),
        "task_id": (
            TaskInstanceScope(scope.dag_id, scope.run_id, scope.task_id + "x", scope.map_index),
            generation,
            base,
        ),
        "map_index": (
            TaskInstanceScope(scope.dag_id, scope.run_id, scope.task_id, scope.map_index + 1),
            generation,
            base,
        ),
        "generation": (scope, other_generation, base),
        "base": (scope, generation, "x" if base is None else base + "x"),
        "base-none": (scope, generation, None if base is not None else ""),
    }
    for what, (s, g, b) in variants.items():
        assert submission_token(s, g, base=b) != token, f"changing {what} kept the token"


def test_tokens_of_many_distinct_inputs_are_distinct() -> None:
    rng = random.Random(1234)
    inputs = set()
    while len(inputs) < 5000:
        # A small alphabet makes near-collisions of the raw strings (shared prefixes, shifted splits) common.
        parts = ["".join(rng.choice('a1-_,"') for _ in range(rng.randint(0, 4))) for _ in range(3)]
        inputs.add((*parts, rng.choice([-1, 0, 1, 2, 12]), rng.choice([0, 1, 2]), rng.choice([None, "", "a"])))
    tokens = {submission_token(TaskInstanceScope(d, r, t, m), g, base=b) for d, r, t, m, g, b in inputs}
    assert len(tokens) == len(inputs)


def _scope(dag: str = "d", run: str = "r", task: str = "t", map_index: int = -1) -> TaskInstanceScope:
    return TaskInstanceScope(dag, run, task, map_index)


# Pairs whose naive concatenation (or other lossy encoding) would coincide.
TRICKY_PAIRS: list[tuple[tuple[TaskInstanceScope, int, str | None], tuple[TaskInstanceScope, int, str | None]]] = [
    ((_scope(task="a", map_index=12), 0, None), (_scope(task="a1", map_index=2), 0, None)),
    ((_scope(task="a", map_index=1), 2, None), (_scope(task="a", map_index=12), 0, None)),
    ((_scope(task="a1", map_index=-1), 0, None), (_scope(task="a", map_index=1), 0, None)),
    ((_scope(dag="a-b", run="c"), 0, None), (_scope(dag="a", run="b-c"), 0, None)),
    ((_scope(dag="a,b", run="c"), 0, None), (_scope(dag="a", run="b,c"), 0, None)),
    ((_scope(dag='a","b', run="c"), 0, None), (_scope(dag="a", run='b","c'), 0, None)),
    ((_scope(run="r", task="t.x"), 0, None), (_scope(run="r.t", task="x"), 0, None)),
    ((_scope(task="t", map_index=1), 1, None), (_scope(task="t", map_index=11), 1, None)),
    ((_scope(), 0, None), (_scope(), 0, "")),
    ((_scope(), 0, None), (_scope(), 0, "null")),
    ((_scope(), 0, None), (_scope(), 0, "None")),
    ((_scope(task="t", map_index=0), 0, None), (_scope(task="t", map_index=-1), 0, None)),
    ((_scope(dag="1"), 0, None), (_scope(dag="01"), 0, None)),
    ((_scope(dag=""), 0, None), (_scope(dag=" "), 0, None)),
]


@pytest.mark.parametrize(("left", "right"), TRICKY_PAIRS)
def test_tricky_pairs_get_different_tokens(
    left: tuple[TaskInstanceScope, int, str | None], right: tuple[TaskInstanceScope, int, str | None]
) -> None:
    assert left != right
    assert submission_token(left[0], left[1], base=left[2]) != submission_token(right[0], right[1], base=right[2])


def test_all_generations_of_one_scope_differ() -> None:
    scope = _scope()
    tokens = [submission_token(scope, g) for g in itertools.chain(range(500), [MAX_GENERATION])]
    assert len(set(tokens)) == len(tokens)
    assert len(submission_token(scope, MAX_GENERATION)) == TOKEN_MAX_LENGTH


@pytest.mark.parametrize("generation", [-1, MAX_GENERATION + 1, 10**12, True, False, 1.0, "1", None], ids=repr)
def test_bad_generation_raises_value_error(generation: Any) -> None:
    with pytest.raises(ValueError, match="generation"):
        submission_token(_scope(), generation)


def test_scope_from_context_ignores_the_try_number() -> None:
    """Every try of one task instance derives the same token: the try number is not part of the scope."""
    first = FakeTaskInstance("dag", "run", "task", map_index=3, try_number=1)
    retry = FakeTaskInstance("dag", "run", "task", map_index=3, try_number=7)
    scope = TaskInstanceScope.from_context({"ti": first})
    assert scope == TaskInstanceScope("dag", "run", "task", 3)
    assert scope == TaskInstanceScope.from_context({"ti": retry})
    assert submission_token(scope, 0) == submission_token(TaskInstanceScope.from_context({"ti": retry}), 0)


def test_scope_from_context_maps_a_missing_map_index_to_minus_one() -> None:
    ti = FakeTaskInstance("dag", "run", "task")
    ti.map_index = None  # type: ignore[assignment]
    assert TaskInstanceScope.from_context({"ti": ti}).map_index == -1


def test_scope_from_context_without_ti_raises() -> None:
    with pytest.raises(ValueError, match="'ti'"):
        TaskInstanceScope.from_context({})
