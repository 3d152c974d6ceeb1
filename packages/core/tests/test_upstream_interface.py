"""``flag_or_conf``: a flag argument given wins; left ``None``, Airflow's configuration gives upstream's default."""

from __future__ import annotations

import pytest

from airflow_durable.upstream_interface import flag_or_conf


@pytest.mark.parametrize("configured", ["true", "false"])
def test_a_given_flag_wins_over_the_configuration(monkeypatch: pytest.MonkeyPatch, configured: str) -> None:
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", configured)
    assert flag_or_conf(True, "operators", "default_deferrable") is True
    assert flag_or_conf(False, "operators", "default_deferrable") is False


def test_an_unset_flag_reads_the_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "true")
    assert flag_or_conf(None, "operators", "default_deferrable") is True
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "false")
    assert flag_or_conf(None, "operators", "default_deferrable") is False


def test_an_option_missing_from_the_configuration_is_false(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW__OPENLINEAGE__SPARK_INJECT_TRANSPORT_INFO", raising=False)
    assert flag_or_conf(None, "openlineage", "spark_inject_transport_info") is False
