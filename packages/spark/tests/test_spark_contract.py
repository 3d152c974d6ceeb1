"""The contract suite against DurableSparkSubmitOperator and, for comparison, upstream SparkSubmitOperator.

Both run their real code (the provider's SparkSubmitHook, spark-submit's command line and output format,
the REST status and kill calls) against the wire-level Spark master emulator and a fake spark-submit.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar
from unittest import mock

import pytest
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

from airflow_durable.testing import DurableOperatorContract, EmulatorSystem
from airflow_durable.testing.corrupt_state import CATEGORIES as CORPUS_CATEGORIES
from airflow_durable_spark.operators import DurableSparkSubmitOperator
from airflow_durable_spark.testing.contract import emulated_spark_master, spark_connection_env

CONN_ID = "spark_contract"
SPARK_ARGS: dict[str, Any] = {
    "conn_id": CONN_ID,
    "application": "/jobs/app.jar",
    "java_class": "com.example.App",
    "conf": {"spark.master.rest.enabled": "true"},
}


@pytest.fixture
def spark_system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorSystem]:
    bin_dir = tmp_path / "bin"
    with (
        emulated_spark_master(bin_dir) as emulator,
        mock.patch.dict(os.environ, spark_connection_env(CONN_ID, emulator)),
    ):
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
        yield EmulatorSystem(emulator)


class _OnTheSparkEmulator:
    """The system both Spark operators run against."""

    external_id_kind = "spark-standalone"

    @pytest.fixture
    def system(self, spark_system: EmulatorSystem) -> EmulatorSystem:
        return spark_system


class TestDurableSparkSubmitOperator(_OnTheSparkEmulator, DurableOperatorContract[DurableSparkSubmitOperator]):
    def operator_kwargs(self, system: Any) -> dict[str, Any]:
        return {"poll_interval_seconds": 0.01, "cancel_timeout_seconds": 5, **SPARK_ARGS}


class TestUpstreamSparkSubmitOperator(_OnTheSparkEmulator, DurableOperatorContract[SparkSubmitOperator]):
    """The anchor: upstream's own durable port, with each scenario it fails as a strict xfail."""

    # What the class cannot declare; the other flags read from it (no token lookup, no on_lost_job).
    external_id_key = "spark_job_id"
    supports_cancel = True
    rejects_unknown_statuses = True
    records_tokens = False
    known_gaps = {
        "test_cleared_after_success_with_the_job_forgotten_replays_the_result": (
            "only the bare driver ID is stored: a clear after the master forgot the driver asks its status, "
            "gets success:false, and fails instead of returning the result"
        ),
        "test_lost_job_resubmits_by_default": (
            "the master answers success:false for a driver it no longer knows; every retry raises "
            "'Spark REST API returned failure' and the task never resubmits"
        ),
        "test_unknown_status_is_an_error": (
            "an unlisted driverState is neither active nor succeeded in the resume decision, so the retry "
            "resubmits a second driver instead of failing"
        ),
        "test_corrupt_stored_state_gives_clear_error": (
            "stored values are not validated (every category of the corrupt-state corpus): they reach the REST "
            "URL and fail with 'Spark REST API returned failure' that does not name the key; an empty or falsy "
            "value ('', 0, [], {}) is taken for 'nothing stored' and submits a driver; an unsafe ID such as "
            "'../../admin' goes into the URL unchecked"
        ),
    }

    def operator_kwargs(self, system: Any) -> dict[str, Any]:
        return {"status_poll_interval": 1, **SPARK_ARGS}


def test_crash_in_submit_window_is_the_documented_limit(spark_system: EmulatorSystem) -> None:
    """Standalone has no token lookup: a crash between driver creation and the persist gives a second
    driver. Both carry the same token property, so the stray one can be found; the stored intent keeps it."""
    from airflow_durable.testing import InMemoryTaskStateStore, TaskInstanceRun
    from airflow_durable.tokens import TaskInstanceScope
    from airflow_durable_spark.operators import TOKEN_CONF_KEY

    store = InMemoryTaskStateStore()
    run = TaskInstanceRun(store, TaskInstanceScope("dag", "run", "spark_task"))
    spark_system.finish_jobs_after(1)
    store.crash_on_external_id_write = True  # CrashPoint.SUBMIT_WINDOW

    def make() -> DurableSparkSubmitOperator:
        return DurableSparkSubmitOperator(task_id="spark_task", poll_interval_seconds=0.01, **SPARK_ARGS)

    first = run.run_try(make())
    assert first.crashed
    intent = run.stored("spark_job_id")
    assert intent["phase"] == "intent"
    second = run.run_try(make())
    assert second.succeeded, second.error
    drivers = spark_system.emulator.drivers
    assert len(drivers) == 2
    tokens = {d.spark_properties[TOKEN_CONF_KEY] for d in drivers}
    assert tokens == {intent["token"]}, "both drivers must carry the intent's token"


# --- YARN cluster mode: the ResourceManager emulator and the stand-in spark-submit for --master yarn

YARN_CONN_ID = "spark_yarn_contract"
YARN_ARGS: dict[str, Any] = {
    "conn_id": YARN_CONN_ID,
    "application": "/jobs/app.jar",
    "java_class": "com.example.App",
}


@pytest.fixture
def yarn_system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorSystem]:
    from airflow_durable_spark.testing.contract import emulated_yarn, yarn_connection_env

    bin_dir = tmp_path / "bin"
    with (
        emulated_yarn(bin_dir) as emulator,
        mock.patch.dict(os.environ, yarn_connection_env(YARN_CONN_ID, emulator.url)),
    ):
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
        yield EmulatorSystem(emulator)


class _OnTheYarnEmulator:
    """The system both Spark operators run against in YARN cluster mode."""

    external_id_kind = "spark-yarn"

    @pytest.fixture
    def system(self, yarn_system: EmulatorSystem) -> EmulatorSystem:
        return yarn_system


class TestDurableSparkSubmitOperatorOnYarn(_OnTheYarnEmulator, DurableOperatorContract[DurableSparkSubmitOperator]):
    # The class answers for standalone (no lookup); an instance in YARN cluster mode finds applications by tag.
    supports_token_lookup = True

    @pytest.fixture
    def operator_factory(self, system: Any) -> Any:
        def make(task_id: str, **overrides: Any) -> DurableSparkSubmitOperator:
            kwargs = {"poll_interval_seconds": 0.01, "cancel_timeout_seconds": 5, **YARN_ARGS, **overrides}
            if kwargs.get("durable") is False:
                # Not durable, our operator runs as upstream's: it polls the RM only with the flag (without it
                # spark-submit waits for the application, and there is no poll to crash in).
                kwargs["yarn_track_via_rm_api"] = True
            return DurableSparkSubmitOperator(task_id=task_id, **kwargs)

        return make


class TestUpstreamSparkSubmitOperatorOnYarn(_OnTheYarnEmulator, DurableOperatorContract[SparkSubmitOperator]):
    """The anchor in YARN cluster mode (``yarn_track_via_rm_api=True``), each scenario it fails a strict xfail."""

    external_id_key = "spark_job_id"
    supports_cancel = True
    rejects_unknown_statuses = True
    records_tokens = False
    supports_token_lookup = True  # claimed, to show the gap this issue closes: upstream looks nothing up
    known_gaps: ClassVar[dict[str, str]] = {
        "test_fault_storm_ends_with_one_job_within_the_retry_budget": (
            "spark-submit fails on a 429, 5xx or dropped answer of the RM, and a transient RM error while polling "
            "fails the try: the retries may run out"
        ),
        "test_crash_in_submit_window_then_retry_adopts_by_token": (
            "no token and no lookup: a crash after YARN accepted the application and before its ID was stored "
            "leaves an application the retry does not know, and the retry submits a second one"
        ),
        "test_cleared_after_success_with_the_job_forgotten_replays_the_result": (
            "only the bare application ID is stored: a clear after the RM forgot the application asks its status, "
            "gets HTTP 404 (a RuntimeError) and fails instead of returning the result"
        ),
        "test_lost_job_resubmits_by_default": (
            "the RM's 404 NotFoundException is a RuntimeError ('YARN RM REST API returned HTTP 404') in the resume "
            "decision: every retry fails and the task never resubmits"
        ),
        "test_on_kill_cancels_reconnected_job": (
            "on_kill kills only an application the hook read from spark-submit's output: a try that reconnected "
            "(no spark-submit) never sets it, so the application keeps running"
        ),
        "test_unknown_status_is_an_error": (
            "query_yarn_application_status collapses every state it does not list into 'FAILED': the retry "
            "resubmits a second application instead of failing"
        ),
        **{
            f"test_corrupt_stored_state_gives_clear_error[{category}]": (
                "stored values are not validated (the corrupt-state corpus): they reach the RM URL and fail with "
                "an HTTP 400/404 error that does not name the key, an unsafe ID such as '../../admin' is "
                "requested as a path, and a falsy value ('', 0, [], {}) submits an application"
            )
            for category in CORPUS_CATEGORIES
        },
    }

    def operator_kwargs(self, system: Any) -> dict[str, Any]:
        return {"status_poll_interval": 1, "yarn_track_via_rm_api": True, **YARN_ARGS}


# --- Kubernetes cluster mode: the Kubernetes API emulator and the stand-in spark-submit for k8s:// masters

K8S_CONN_ID = "spark_k8s_contract"
K8S_NAMESPACE = "spark-jobs"
K8S_ARGS: dict[str, Any] = {
    "conn_id": K8S_CONN_ID,
    "application": "local:///opt/spark/app.jar",
    "java_class": "com.example.App",
}


@pytest.fixture
def kubernetes_system(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[EmulatorSystem]:
    from airflow_durable_spark.testing.contract import (
        emulated_kubernetes,
        kubernetes_api_connection_env,
        kubernetes_connection_env,
        write_kubeconfig,
    )

    bin_dir = tmp_path / "bin"
    with emulated_kubernetes(bin_dir) as emulator:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", emulator.url)
        env = {
            **kubernetes_connection_env(K8S_CONN_ID, emulator.url, getattr(request.cls, "namespace", K8S_NAMESPACE)),
            # Ours: the cncf.kubernetes provider's KubernetesHook on the default connection.
            **kubernetes_api_connection_env("kubernetes_default", kubeconfig),
            # Upstream's: cncf.kubernetes' kube_client.get_kube_client reads [kubernetes_executor].
            "AIRFLOW__KUBERNETES_EXECUTOR__CONFIG_FILE": str(kubeconfig),
            "AIRFLOW__KUBERNETES_EXECUTOR__IN_CLUSTER": "False",
        }
        with mock.patch.dict(os.environ, env):
            monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
            yield EmulatorSystem(emulator)


class _OnTheKubernetesEmulator:
    """The system both Spark operators run against in Kubernetes cluster mode."""

    external_id_kind = "spark-kubernetes"

    @pytest.fixture
    def system(self, kubernetes_system: EmulatorSystem) -> EmulatorSystem:
        return kubernetes_system


class TestDurableSparkSubmitOperatorOnKubernetes(
    _OnTheKubernetesEmulator, DurableOperatorContract[DurableSparkSubmitOperator]
):
    # The class answers for standalone (no lookup); an instance in Kubernetes cluster mode finds pods by label.
    supports_token_lookup = True

    def normalize(self, value: Any, external_id: Any) -> Any:
        """The result names the pod apart from its namespace: replace the pod name too."""
        value = super().normalize(value, external_id)
        pod_name = str(external_id).partition(":")[2]
        return super().normalize(value, pod_name) if pod_name else value

    @pytest.fixture
    def operator_factory(self, system: Any) -> Any:
        def make(task_id: str, **overrides: Any) -> DurableSparkSubmitOperator:
            kwargs = {"poll_interval_seconds": 0.01, "cancel_timeout_seconds": 5, **K8S_ARGS, **overrides}
            if kwargs.get("durable") is False:
                # Not durable, our operator runs as upstream's: it polls the pod only with the flag.
                kwargs["track_driver_via_k8s_api"] = True
            return DurableSparkSubmitOperator(task_id=task_id, **kwargs)

        return make


class TestUpstreamSparkSubmitOperatorOnKubernetes(
    _OnTheKubernetesEmulator, DurableOperatorContract[SparkSubmitOperator]
):
    """The anchor in Kubernetes cluster mode (``track_driver_via_k8s_api=True``), its gaps as strict xfails.

    It runs in the namespace ``spark``: upstream reads the pod name from ``submission ID spark:<pod>`` only
    (a hard-coded namespace; see ``test_upstream_misses_the_driver_pod_outside_namespace_spark``).
    """

    namespace = "spark"
    external_id_key = "spark_job_id"
    supports_cancel = True
    rejects_unknown_statuses = True
    records_tokens = False
    supports_token_lookup = True  # claimed, to show the gap this issue closes: upstream looks nothing up
    known_gaps: ClassVar[dict[str, str]] = {
        "test_fault_storm_ends_with_one_job_within_the_retry_budget": (
            "no token label and no lookup: when the API server created the driver pod but its answer was lost, "
            "spark-submit fails and the retry creates a second driver pod"
        ),
        "test_crash_in_submit_window_then_retry_adopts_by_token": (
            "no token label and no lookup: a crash after the driver pod was created and before its name was "
            "stored leaves a pod the retry does not know, and the retry creates a second driver pod"
        ),
        "test_unknown_status_is_an_error": (
            "a pod phase upstream does not list is not refused: the try polls on (the contract's runaway guard "
            "stops it) instead of failing with an error naming it"
        ),
        **{
            f"test_corrupt_stored_state_gives_clear_error[{category}]": (
                "stored values are not validated (the corrupt-state corpus): a value that is not "
                "'<namespace>:<pod>' fails in _parse_k8s_external_id ('Invalid K8s external ID format', or an "
                "AttributeError) without naming the key, and one with a ':' reaches the API unchecked"
            )
            for category in CORPUS_CATEGORIES
        },
    }

    def operator_kwargs(self, system: Any) -> dict[str, Any]:
        return {"status_poll_interval": 1, "track_driver_via_k8s_api": True, **K8S_ARGS}


def test_a_lost_answer_to_a_standalone_submission_is_the_documented_limit(spark_system: EmulatorSystem) -> None:
    """Standalone has no token lookup: when the master created the driver but its answer was lost (a timeout),
    spark-submit fails, and the retry (an intent, no ID) submits a second driver under the same token. The
    fault-storm scenario passes only when no storm timeout hits a create; both drivers carry the token."""
    from airflow_durable.testing import InMemoryTaskStateStore, TaskInstanceRun
    from airflow_durable.testing.faults import TIMEOUT
    from airflow_durable.tokens import TaskInstanceScope
    from airflow_durable_spark.operators import TOKEN_CONF_KEY

    run = TaskInstanceRun(InMemoryTaskStateStore(), TaskInstanceScope("dag", "run", "spark_task"))
    spark_system.finish_jobs_after(1)
    spark_system.emulator.fail_next(1, TIMEOUT, endpoint="create")

    def make() -> DurableSparkSubmitOperator:
        return DurableSparkSubmitOperator(task_id="spark_task", poll_interval_seconds=0.01, **SPARK_ARGS)

    first = run.run_try(make())
    assert first.error is not None, "spark-submit never learned the driver's ID: the try fails"
    intent = run.stored("spark_job_id")
    assert intent["phase"] == "intent"
    second = run.run_try(make())
    assert second.succeeded, second.error
    drivers = spark_system.emulator.drivers
    assert len(drivers) == 2
    assert {d.spark_properties[TOKEN_CONF_KEY] for d in drivers} == {intent["token"]}
