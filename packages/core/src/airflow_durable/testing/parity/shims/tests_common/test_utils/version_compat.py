"""``AIRFLOW_V_*_PLUS`` flags, from the installed task SDK's Airflow version."""

from __future__ import annotations

from airflow import __version__ as _airflow_version
from packaging.version import Version

_BASE = Version(Version(_airflow_version).base_version)


def _plus(version: str) -> bool:
    return Version(version) <= _BASE


AIRFLOW_V_3_0_PLUS = _plus("3.0.0")
AIRFLOW_V_3_0_1 = Version("3.0.1") == _BASE
AIRFLOW_V_3_1_PLUS = _plus("3.1.0")
AIRFLOW_V_3_2_PLUS = _plus("3.2.0")
AIRFLOW_V_3_3_PLUS = _plus("3.3.0")
