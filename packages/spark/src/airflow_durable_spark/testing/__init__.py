"""Test helpers: a Spark standalone master REST emulator (on the core emulator kit) and a fake ``spark-submit``.

Names are imported on first use, so that ``python -m airflow_durable_spark.testing.fake_spark_submit`` does
not import its own module twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_durable._lazy import lazy_exports

if TYPE_CHECKING:
    from airflow_durable_spark.testing.contract import emulated_spark_master as emulated_spark_master
    from airflow_durable_spark.testing.contract import spark_connection_env as spark_connection_env
    from airflow_durable_spark.testing.emulator import DRIVER_STATES as DRIVER_STATES
    from airflow_durable_spark.testing.emulator import MASTER_STATES as MASTER_STATES
    from airflow_durable_spark.testing.emulator import TERMINAL_STATES as TERMINAL_STATES
    from airflow_durable_spark.testing.emulator import EmulatedDriver as EmulatedDriver
    from airflow_durable_spark.testing.emulator import FakeSubmitBehavior as FakeSubmitBehavior
    from airflow_durable_spark.testing.emulator import SparkMasterEmulator as SparkMasterEmulator
    from airflow_durable_spark.testing.fake_spark_submit import install_fake_spark_submit as install_fake_spark_submit


__getattr__, __all__ = lazy_exports(
    __name__,
    {
        "contract": ["emulated_spark_master", "spark_connection_env"],
        "emulator": [
            "DRIVER_STATES",
            "MASTER_STATES",
            "TERMINAL_STATES",
            "EmulatedDriver",
            "FakeSubmitBehavior",
            "SparkMasterEmulator",
        ],
        "fake_spark_submit": ["install_fake_spark_submit"],
    },
)
