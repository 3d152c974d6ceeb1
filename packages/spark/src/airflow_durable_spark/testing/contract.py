"""Contract wiring for Spark: a connection to the master emulator, and the emulator with a fake ``spark-submit``.

The contract suite drives the emulator through :class:`airflow_durable.testing.EmulatorSystem`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from airflow_durable_spark.testing.emulator import SparkMasterEmulator


def spark_connection_env(conn_id: str, emulator: SparkMasterEmulator) -> dict[str, str]:
    """Return the ``AIRFLOW_CONN_*`` variable of a cluster-mode connection to the emulator.

    Args:
        conn_id: The connection ID.
        emulator: The emulator; submissions go to its REST port.

    Returns:
        ``{"AIRFLOW_CONN_<CONN_ID>": <JSON connection>}``.
    """
    port = emulator.rest_port
    value = {
        "conn_type": "spark",
        "host": "spark://127.0.0.1",
        "port": port,
        "extra": {"deploy-mode": "cluster", "rest-port": port},
    }
    return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(value)}


@contextmanager
def emulated_spark_master(bin_dir: Path, **emulator_kwargs: Any) -> Iterator[SparkMasterEmulator]:
    """Start an emulator and put a fake ``spark-submit`` for it into ``bin_dir``.

    The caller puts ``bin_dir`` first on ``PATH``.
    """
    from airflow_durable_spark.testing.fake_spark_submit import install_fake_spark_submit

    with SparkMasterEmulator(**emulator_kwargs) as emulator:
        install_fake_spark_submit(bin_dir, emulator.url)
        yield emulator
