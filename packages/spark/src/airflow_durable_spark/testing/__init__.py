"""Test helpers: a Spark standalone master REST emulator (on the core emulator kit) and a fake ``spark-submit``.

Nothing here imports Airflow or pytest. The package does not import :mod:`.fake_spark_submit`, which runs as
``python -m airflow_durable_spark.testing.fake_spark_submit``.
"""

from airflow_durable_spark.testing.contract import (
    emulated_spark_master,
    install_fake_spark_submit,
    spark_connection_env,
)
from airflow_durable_spark.testing.emulator import EmulatedDriver, FakeSubmitBehavior, SparkMasterEmulator

__all__ = [
    "EmulatedDriver",
    "FakeSubmitBehavior",
    "SparkMasterEmulator",
    "emulated_spark_master",
    "install_fake_spark_submit",
    "spark_connection_env",
]
