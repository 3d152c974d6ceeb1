"""Test helpers: the three EMR APIs emulated by moto driven through the core emulator kit, for the real boto3.

Run an emulator in-process (a context manager serving from a thread) or as its own process with
``python -m airflow_durable.testing.serve airflow_durable_emr.testing.emulator:EmrStepsEmulator --port-file F``
and drive it with :class:`airflow_durable.testing.ControlClient`. Point Airflow at it with
:func:`emr_connection_env` (the amazon provider's connection) or plain boto3 with :func:`emr_boto3_env`.
Names are imported on first use; nothing here imports Airflow or pytest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_durable._lazy import lazy_exports

if TYPE_CHECKING:
    from airflow_durable_emr.testing.contract import emr_boto3_env as emr_boto3_env
    from airflow_durable_emr.testing.contract import emr_connection_env as emr_connection_env
    from airflow_durable_emr.testing.emulator import EmrContainersEmulator as EmrContainersEmulator
    from airflow_durable_emr.testing.emulator import EmrServerlessEmulator as EmrServerlessEmulator
    from airflow_durable_emr.testing.emulator import EmrStepsEmulator as EmrStepsEmulator
    from airflow_durable_emr.testing.moto_backend import MotoEmulator as MotoEmulator
    from airflow_durable_emr.testing.moto_backend import MotoJob as MotoJob

__getattr__, __all__ = lazy_exports(
    __name__,
    {
        "contract": ["emr_boto3_env", "emr_connection_env"],
        "emulator": ["EmrContainersEmulator", "EmrServerlessEmulator", "EmrStepsEmulator"],
        "moto_backend": ["MotoEmulator", "MotoJob"],
    },
)
