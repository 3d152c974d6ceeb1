"""Test helpers on the core emulator kit: Spark standalone master and YARN ResourceManager emulators.

Each has a fake ``spark-submit`` (``--master spark://...`` and ``--master yarn``).

Nothing here imports Airflow or pytest. The package does not import :mod:`.fake_spark_submit`, which runs as
``python -m airflow_durable_spark.testing.fake_spark_submit``.
"""

from airflow_durable_spark.testing.contract import (
    emulated_spark_master,
    emulated_yarn,
    install_fake_spark_submit,
    install_fake_spark_submit_yarn,
    spark_connection_env,
    write_yarn_site,
    yarn_connection_env,
)
from airflow_durable_spark.testing.emulator import EmulatedDriver, FakeSubmitBehavior, SparkMasterEmulator
from airflow_durable_spark.testing.yarn import YarnApplication, YarnResourceManagerEmulator

__all__ = [
    "EmulatedDriver",
    "FakeSubmitBehavior",
    "SparkMasterEmulator",
    "YarnApplication",
    "YarnResourceManagerEmulator",
    "emulated_spark_master",
    "emulated_yarn",
    "install_fake_spark_submit",
    "install_fake_spark_submit_yarn",
    "spark_connection_env",
    "write_yarn_site",
    "yarn_connection_env",
]
