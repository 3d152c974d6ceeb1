"""The run-ID format in ``airflow_durable_databricks.statuses``."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_durable_databricks.statuses import RUN_ID_MAX, RUN_ID_PATTERN, check_run_id


@pytest.mark.parametrize(
    ("run_id", "expected"),
    [(1, 1), (455644833, 455644833), ("42", 42), ("0042", 42), (RUN_ID_MAX, RUN_ID_MAX)],
)
def test_check_run_id_accepts_positive_int64s(run_id: Any, expected: int) -> None:
    assert check_run_id(run_id) == expected
    assert RUN_ID_PATTERN.match(str(expected))


@pytest.mark.parametrize(
    "run_id",
    [0, -1, True, False, RUN_ID_MAX + 1, "", "12a", "-3", "\u0661\u0662", 1.0, None, [1], {"run_id": 1}],
)
def test_check_run_id_rejects_anything_else(run_id: Any) -> None:
    with pytest.raises(ValueError, match=r"positive integer|boolean"):
        check_run_id(run_id)
