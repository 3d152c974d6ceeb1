"""Test helpers: Dataproc emulators on the airflow-durable kit, for the real ``google-cloud-dataproc`` clients.

Run one in-process (a context manager serving gRPC and REST from threads) or as its own process with
``python -m airflow_durable.testing.serve airflow_durable_dataproc.testing.emulator:DataprocJobEmulator
--port-file F`` (the control plane's ``addresses`` control gives the gRPC address) and drive it with
:class:`airflow_durable.testing.ControlClient`. Names are imported on first use; nothing here imports Airflow
or pytest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_durable._lazy import lazy_exports

if TYPE_CHECKING:
    from airflow_durable_dataproc.testing.contract import dataproc_connection_env as dataproc_connection_env
    from airflow_durable_dataproc.testing.emulator import DataprocBatchEmulator as DataprocBatchEmulator
    from airflow_durable_dataproc.testing.emulator import DataprocJob as DataprocJob
    from airflow_durable_dataproc.testing.emulator import DataprocJobEmulator as DataprocJobEmulator

__getattr__, __all__ = lazy_exports(
    __name__,
    {
        "contract": ["dataproc_connection_env"],
        "emulator": ["DataprocBatchEmulator", "DataprocJob", "DataprocJobEmulator"],
    },
)
