"""Test helpers: a Spark standalone master REST emulator and a fake ``spark-submit``.

``install_fake_spark_submit`` is imported lazily so that ``python -m
airflow_durable_spark.testing.fake_spark_submit`` does not import its own module twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_durable_spark.testing.emulator import (
    DRIVER_STATES,
    MASTER_STATES,
    TERMINAL_STATES,
    EmulatedDriver,
    FakeSubmitBehavior,
    SparkMasterEmulator,
)

if TYPE_CHECKING:
    from airflow_durable_spark.testing.fake_spark_submit import install_fake_spark_submit

__all__ = [
    "DRIVER_STATES",
    "MASTER_STATES",
    "TERMINAL_STATES",
    "EmulatedDriver",
    "FakeSubmitBehavior",
    "SparkMasterEmulator",
    "install_fake_spark_submit",
]


def __getattr__(name: str) -> Any:
    if name == "install_fake_spark_submit":
        from airflow_durable_spark.testing.fake_spark_submit import install_fake_spark_submit

        return install_fake_spark_submit
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
