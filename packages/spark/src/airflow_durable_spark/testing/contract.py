"""Contract wiring for Spark: a connection to the master emulator, and a fake ``spark-submit`` on ``PATH``.

The contract suite drives the emulator through :class:`airflow_durable.testing.EmulatorSystem`.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from airflow_durable_spark.testing.emulator import SparkMasterEmulator

EMULATOR_URL_ENV = "FAKE_SPARK_SUBMIT_EMULATOR_URL"
"""Where the fake ``spark-submit`` reads its :class:`~.emulator.FakeSubmitBehavior` (else ``--master``)."""


def spark_connection_env(conn_id: str, emulator: SparkMasterEmulator) -> dict[str, str]:
    """Return the ``AIRFLOW_CONN_*`` variable of a cluster-mode connection to the emulator.

    Args:
        conn_id: The connection ID.
        emulator: The emulator; submissions, status and kill requests go to its port.

    Returns:
        ``{"AIRFLOW_CONN_<CONN_ID>": <JSON connection>}``.
    """
    extra = {"deploy-mode": "cluster", "rest-port": emulator.port}
    value = {"conn_type": "spark", "host": "spark://127.0.0.1", "port": emulator.port, "extra": extra}
    return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(value)}


def install_fake_spark_submit(bin_dir: Path, emulator_url: str) -> Path:
    """Write a ``spark-submit`` into ``bin_dir`` that runs :mod:`.fake_spark_submit` with this interpreter.

    Put ``bin_dir`` first on ``PATH``: Airflow's hook runs ``spark-submit`` from ``PATH``.

    Args:
        bin_dir: Directory for the script (created when missing).
        emulator_url: The emulator's ``http://host:port`` (or ``spark://host:port``) URL, for its behaviour
            knobs; submissions go to whatever ``--master`` says, as with the real client.

    Returns:
        Path of the ``spark-submit`` script.
    """
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "spark-submit"
    script.write_text(
        "#!/bin/sh\n"
        "# Fake spark-submit for tests: airflow_durable_spark.testing.fake_spark_submit\n"
        f"export {EMULATOR_URL_ENV}={shlex.quote(emulator_url)}\n"
        f"PYTHONPATH={shlex.quote(str(Path(__file__).resolve().parents[2]))}${{PYTHONPATH:+:$PYTHONPATH}}\n"
        "export PYTHONPATH\n"
        f'exec {shlex.quote(sys.executable)} -m airflow_durable_spark.testing.fake_spark_submit "$@"\n'
    )
    script.chmod(0o755)
    return script


@contextmanager
def emulated_spark_master(bin_dir: Path, **emulator_kwargs: Any) -> Iterator[SparkMasterEmulator]:
    """Start an emulator and put a fake ``spark-submit`` for it into ``bin_dir``.

    The caller puts ``bin_dir`` first on ``PATH``.
    """
    with SparkMasterEmulator(**emulator_kwargs) as emulator:
        install_fake_spark_submit(bin_dir, emulator.url)
        yield emulator
