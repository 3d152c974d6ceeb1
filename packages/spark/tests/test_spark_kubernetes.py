"""DurableSparkSubmitOperator in Kubernetes cluster mode, beyond the contract suite.

The operator's real code (the provider's ``SparkSubmitHook``, the ``kubernetes`` client through the
cncf.kubernetes ``KubernetesHook``, or kubeconfig without that provider) runs against the Kubernetes API
emulator and the stand-in ``spark-submit`` for ``k8s://`` masters.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from kubernetes.client import (
    V1ContainerState,
    V1ContainerStateRunning,
    V1ContainerStateTerminated,
    V1ContainerStatus,
    V1ObjectMeta,
    V1Pod,
    V1PodList,
    V1PodStatus,
)
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import MaxRetryError

from airflow_durable import JobLostError, UnknownJobStatusError
from airflow_durable.testing import InMemoryTaskStateStore, TaskInstanceRun
from airflow_durable.tokens import TaskInstanceScope
from airflow_durable_spark.driver_pods import TOKEN_LABEL, KubernetesClusterMode, core_v1_api, driver_pod_status
from airflow_durable_spark.operators import DurableSparkSubmitOperator
from airflow_durable_spark.statuses import DRIVER_POD_STATES, check_driver_pod_id
from airflow_durable_spark.testing.contract import (
    emulated_kubernetes,
    kubernetes_api_connection_env,
    kubernetes_connection_env,
    write_kubeconfig,
)
from airflow_durable_spark.testing.kubernetes_api import KubernetesApiEmulator
from spark_tries import start_try, watch_persists

CONN_ID = "spark_k8s_tests"
NAMESPACE = "spark-jobs"
KEY = "spark_job_id"
TOKEN = "ad-0123456789abcdef0123456789ab-g0"
ARGS: dict[str, Any] = {"conn_id": CONN_ID, "application": "local:///opt/app.jar", "java_class": "com.example.App"}


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[KubernetesApiEmulator]:
    bin_dir = tmp_path / "bin"
    with emulated_kubernetes(bin_dir, polls_to_finish=2) as emulator:
        kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", emulator.url)
        env = {
            **kubernetes_connection_env(CONN_ID, emulator.url, NAMESPACE),
            **kubernetes_api_connection_env("kubernetes_default", kubeconfig),
            "KUBECONFIG": str(kubeconfig),
        }
        with mock.patch.dict(os.environ, env):
            monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
            yield emulator


@pytest.fixture
def run() -> TaskInstanceRun:
    return TaskInstanceRun(InMemoryTaskStateStore(), TaskInstanceScope("dag", "run", "spark_task"))


def _operator(**kwargs: Any) -> DurableSparkSubmitOperator:
    return DurableSparkSubmitOperator(task_id="spark_task", poll_interval_seconds=0.01, **{**ARGS, **kwargs})


# ---------------------------------------------------------------------------- submission


def test_driver_pod_carries_the_token_label_and_the_result_names_it(
    api: KubernetesApiEmulator, run: TaskInstanceRun
) -> None:
    outcome = run.run_try(_operator())
    assert outcome.succeeded, outcome.error
    (pod,) = api.pods
    token = run.stored(KEY)["token"]
    assert pod.labels[TOKEN_LABEL] == token
    assert pod.labels["spark-role"] == "driver"
    assert pod.namespace == NAMESPACE
    assert run.stored(KEY)["external_id"] == f"{NAMESPACE}:{pod.name}"
    assert outcome.result == {"namespace": NAMESPACE, "driver_pod": pod.name, "phase": "Succeeded"}


def test_no_namespace_means_sparks_default_passed_explicitly(api: KubernetesApiEmulator, run: TaskInstanceRun) -> None:
    with mock.patch.dict(os.environ, kubernetes_connection_env(CONN_ID, api.url, "")):
        operator = _operator()
        outcome = run.run_try(operator)
    assert outcome.succeeded, outcome.error
    assert api.pods[0].namespace == "default"
    assert operator.hook._conf["spark.kubernetes.namespace"] == "default"


def test_the_pod_is_found_in_any_namespace_where_upstream_finds_none(
    api: KubernetesApiEmulator, run: TaskInstanceRun
) -> None:
    """Upstream reads ``submission ID spark:<pod>`` only; ours reads ``submission ID <namespace>:<pod>``."""
    from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

    upstream = SparkSubmitOperator(task_id="spark_task", track_driver_via_k8s_api=True, **ARGS)
    with pytest.raises(RuntimeError, match="did not capture a K8s driver pod name"):
        upstream.execute({})
    outcome = TaskInstanceRun(InMemoryTaskStateStore(), TaskInstanceScope("dag", "run", "t2")).run_try(_operator())
    assert outcome.succeeded, outcome.error


def test_pod_is_persisted_while_spark_submit_still_runs(api: KubernetesApiEmulator, run: TaskInstanceRun) -> None:
    api.set_fake_submit_behavior(exit_delay_ms=1500)
    operator = _operator()
    seen = watch_persists(run, operator, KEY)
    assert run.run_try(operator).succeeded
    assert seen[0] == (f"{NAMESPACE}:{api.pods[0].name}", True), "persisted only after spark-submit exited"


def test_waitappcompletion_true_is_refused_before_submitting(api: KubernetesApiEmulator, run: TaskInstanceRun) -> None:
    outcome = run.run_try(_operator(conf={"spark.kubernetes.submission.waitAppCompletion": "true"}))
    assert isinstance(outcome.error, ValueError)
    assert "durable=False" in str(outcome.error)
    assert api.pods == []


def test_client_deploy_mode_with_durable_true_is_refused(api: KubernetesApiEmulator, run: TaskInstanceRun) -> None:
    with mock.patch.dict(os.environ, kubernetes_connection_env(CONN_ID, api.url, NAMESPACE, deploy_mode="client")):
        outcome = run.run_try(_operator())
    assert isinstance(outcome.error, ValueError)
    assert "k8s://" in str(outcome.error)
    assert "'client'" in str(outcome.error)
    assert api.pods == []


# ---------------------------------------------------------------------------- status


def _container(name: str, *, exit_code: int | None = None) -> V1ContainerStatus:
    state = (
        V1ContainerState(running=V1ContainerStateRunning())
        if exit_code is None
        else V1ContainerState(terminated=V1ContainerStateTerminated(exit_code=exit_code))
    )
    return V1ContainerStatus(name=name, state=state, image="i", image_id="i", ready=True, restart_count=0)


@pytest.mark.parametrize(
    ("phase", "containers", "expected"),
    [
        (None, None, "Pending"),
        ("Running", [_container("spark-kubernetes-driver")], "Running"),
        ("Running", [_container("istio-proxy"), _container("spark-kubernetes-driver", exit_code=0)], "DriverSucceeded"),
        ("Running", [_container("spark-kubernetes-driver", exit_code=1), _container("istio-proxy")], "DriverFailed"),
        ("Running", [_container("main", exit_code=0), _container("istio-proxy")], "DriverSucceeded"),  # the first
        ("Succeeded", [_container("spark-kubernetes-driver", exit_code=0)], "Succeeded"),
        ("Failed", [_container("spark-kubernetes-driver", exit_code=1)], "Failed"),
        ("Unknown", None, "Unknown"),
    ],
)
def test_raw_status_is_the_phase_or_the_driver_containers_end(phase: Any, containers: Any, expected: str) -> None:
    pod = V1Pod(status=V1PodStatus(phase=phase, container_statuses=containers))
    assert driver_pod_status(pod) == expected


def test_driver_pod_states() -> None:
    assert DRIVER_POD_STATES.classify("Unknown").value == "active"
    assert DRIVER_POD_STATES.classify("DriverSucceeded").value == "succeeded"
    assert DRIVER_POD_STATES.classify("DriverFailed").value == "failed"
    with pytest.raises(UnknownJobStatusError, match="NotFound"):
        DRIVER_POD_STATES.classify("NotFound")  # upstream's sentinel is no status


def test_a_sidecar_keeping_the_pod_running_does_not_hide_the_drivers_end(
    api: KubernetesApiEmulator, run: TaskInstanceRun
) -> None:
    api.hold("Running")
    done, result = start_try(run, _operator())
    api.force_state(f"{NAMESPACE}:{api.pods[0].name}", "DriverSucceeded")
    assert done.wait(15)
    assert result["outcome"].succeeded, result["outcome"].error


def test_pod_deleted_while_polling_is_never_success(api: KubernetesApiEmulator, run: TaskInstanceRun) -> None:
    api.hold("Running")
    done, result = start_try(run, _operator())
    api.forget(f"{NAMESPACE}:{api.pods[0].name}")
    assert done.wait(15)
    assert isinstance(result["outcome"].error, JobLostError)


def test_a_bare_upstream_record_with_upstreams_succeeded_cache_returns_the_result(
    api: KubernetesApiEmulator, run: TaskInstanceRun
) -> None:
    """Migrating mid-flight: upstream stored the pod and ``k8s_driver_status``; the pod is gone since."""
    store = run.store.scoped(run.scope)
    store.set(KEY, f"{NAMESPACE}:gone-driver")
    store.set("k8s_driver_status", "Succeeded")
    outcome = run.run_try(_operator())
    assert outcome.succeeded, outcome.error
    assert outcome.result == {"namespace": NAMESPACE, "driver_pod": "gone-driver", "phase": "Succeeded"}
    assert api.pods == []


def test_upstreams_cache_is_ignored_beside_our_own_record(api: KubernetesApiEmulator, run: TaskInstanceRun) -> None:
    assert run.run_try(_operator()).succeeded
    api.forget(f"{NAMESPACE}:{api.pods[0].name}")
    run.store.scoped(run.scope).set("k8s_driver_status", "Succeeded")
    run.store.scoped(run.scope).set(KEY, {**run.stored(KEY), "phase": "submitted", "result": None})
    outcome = run.run_try(_operator())
    assert outcome.succeeded, outcome.error
    assert len(api.pods) == 2, "a lost pod of our own record is resubmitted, whatever upstream's key says"


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (ApiException(status=429), True),
        (ApiException(status=500), True),
        (ApiException(status=503), True),
        (ApiException(status=403), False),
        (ApiException(status=404), False),
        (MaxRetryError(None, "/api/v1", "refused"), True),
        (ConnectionRefusedError("refused"), True),
        (ValueError("bad"), False),
    ],
)
def test_transient_kubernetes_errors(error: Exception, transient: bool) -> None:
    assert KubernetesClusterMode(mock.MagicMock()).is_transient(error) is transient


def test_api_server_429_and_503_are_retried_in_place(api: KubernetesApiEmulator, run: TaskInstanceRun) -> None:
    api.hold("Running")
    done, result = start_try(run, _operator())
    api.fail_next(2, 429, endpoint="status")
    api.fail_next(1, 503, endpoint="status")
    api.force_state(f"{NAMESPACE}:{api.pods[0].name}", "Succeeded")
    assert done.wait(15)
    assert result["outcome"].succeeded, result["outcome"].error
    assert len(api.pods) == 1


@pytest.mark.parametrize(
    "external_id",
    ["spark", "Spark:pod", "ns:Pod", "ns:pod:x", "-ns:pod", "n" * 64 + ":pod", "ns:" + "p" * 254, "ns:../x", 3],
)
def test_external_ids_are_checked(external_id: Any) -> None:
    with pytest.raises(ValueError, match=r"namespace|pod"):
        check_driver_pod_id(external_id)


# ---------------------------------------------------------------------------- lookup


def _pod(name: str, phase: str, created_minute: int, token: str = TOKEN, namespace: str = NAMESPACE) -> V1Pod:
    created = dt.datetime(2026, 12, 6, 10, created_minute, tzinfo=dt.UTC)
    labels = {TOKEN_LABEL: token, "spark-role": "driver"}
    meta = V1ObjectMeta(name=name, namespace=namespace, labels=labels, creation_timestamp=created)
    return V1Pod(metadata=meta, status=V1PodStatus(phase=phase))


@pytest.mark.parametrize(
    ("pods", "expected"),
    [
        ([], None),
        ([_pod("other-driver", "Running", 1, token=TOKEN[:-1] + "1")], None),
        ([_pod("new-driver", "Failed", 9), _pod("live-driver", "Running", 1)], "live-driver"),
        ([_pod("old-driver", "Succeeded", 1), _pod("new-driver", "Failed", 9)], "new-driver"),
        ([_pod("pending-driver", "Pending", 2), _pod("done-driver", "Succeeded", 8)], "pending-driver"),
    ],
)
def test_lookup_prefers_the_live_pod_then_the_newest(pods: list[V1Pod], expected: str | None) -> None:
    hook = mock.MagicMock(_connection={"namespace": NAMESPACE})
    mode = KubernetesClusterMode(hook, status_timeout_seconds=4)
    mode._api = mock.MagicMock()
    mode._api.list_namespaced_pod.return_value = V1PodList(items=pods)
    found = mode.find_by_token(TOKEN)
    assert found == (None if expected is None else f"{NAMESPACE}:{expected}")
    mode._api.list_namespaced_pod.assert_called_once_with(
        NAMESPACE, label_selector=f"{TOKEN_LABEL}={TOKEN},spark-role=driver", _request_timeout=4
    )


def test_crash_in_submit_window_adopts_the_labelled_pod(api: KubernetesApiEmulator, run: TaskInstanceRun) -> None:
    run.store.crash_on_external_id_write = True
    assert run.run_try(_operator()).crashed
    retry = run.run_try(_operator())
    assert retry.succeeded, retry.error
    assert len(api.pods) == 1


# ---------------------------------------------------------------------------- kill


def test_kill_deletes_the_pod_bounded_by_cancel_timeout() -> None:
    operator = _operator(cancel_timeout_seconds=2.5)
    hook = mock.MagicMock(_connection={"namespace": NAMESPACE}, _conf={})
    operator._hook = hook
    operator._mode = KubernetesClusterMode(hook)
    operator._mode._api = mock.MagicMock()
    operator.cancel_job(f"{NAMESPACE}:app-driver")
    operator._mode._api.delete_namespaced_pod.assert_called_once_with("app-driver", NAMESPACE, _request_timeout=2.5)
    operator._mode._api.delete_namespaced_pod.side_effect = ApiException(status=404)
    operator.cancel_job(f"{NAMESPACE}:app-driver")  # already gone: nothing to do


def test_on_kill_deletes_the_driver_pod(api: KubernetesApiEmulator, run: TaskInstanceRun) -> None:
    api.hold("Running")
    operator = _operator(cancel_timeout_seconds=5)
    start_try(run, operator)
    operator.on_kill()
    assert api.pods[0].deleted


# ---------------------------------------------------------------------------- the Kubernetes client


def test_client_comes_from_the_cncf_kubernetes_hook_with_the_connection() -> None:
    with mock.patch("airflow.providers.cncf.kubernetes.hooks.kubernetes.KubernetesHook") as hook_class:
        assert core_v1_api("my_k8s") is hook_class.return_value.core_v1_client
    hook_class.assert_called_once_with(conn_id="my_k8s")


def _python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **(env or {})},
    )


BLOCK = "import sys\nfor name in {blocked!r}:\n    sys.modules[name] = None\n"


def test_without_the_cncf_provider_the_operator_runs_on_kubeconfig(api: KubernetesApiEmulator) -> None:
    """The provider's modules that upstream's hook and ours import are blocked (its package metadata stays,
    which Airflow's providers manager reads): upstream's hook would refuse the k8s:// master, ours runs."""
    blocked = ["airflow.providers.cncf.kubernetes.kube_client", "airflow.providers.cncf.kubernetes.hooks.kubernetes"]
    code = BLOCK.format(blocked=blocked) + textwrap.dedent(
        f"""
        import json
        from airflow_durable.testing import InMemoryTaskStateStore, TaskInstanceRun
        from airflow_durable.tokens import TaskInstanceScope
        from airflow_durable_spark.operators import DurableSparkSubmitOperator

        operator = DurableSparkSubmitOperator(task_id="t", poll_interval_seconds=0.01, **{ARGS!r})
        outcome = TaskInstanceRun(InMemoryTaskStateStore(), TaskInstanceScope("d", "r", "t")).run_try(operator)
        assert sys.modules["airflow.providers.cncf.kubernetes.hooks.kubernetes"] is None
        from airflow.providers.apache.spark.hooks import spark_submit
        assert type(spark_submit.kube_client).__name__ == "_MissingKubeClient"  # upstream's import failed
        print(json.dumps({{"result": outcome.result, "error": repr(outcome.error)}}))
        """
    )
    done = _python(code)
    assert done.returncode == 0, done.stderr[-3000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["error"] == "None"
    assert answer["result"]["namespace"] == NAMESPACE
    assert len(api.pods) == 1


def test_without_any_kubernetes_client_the_error_names_the_extra() -> None:
    blocked = ["airflow.providers.cncf.kubernetes.hooks.kubernetes", "kubernetes"]
    code = BLOCK.format(blocked=blocked) + textwrap.dedent(
        """
        from airflow_durable_spark.driver_pods import core_v1_api
        try:
            core_v1_api("kubernetes_default")
        except ImportError as err:
            print(err)
        """
    )
    done = _python(code)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "airflow-durable-spark[kubernetes]" in done.stdout


def test_emulator_statuses_and_ids_mean_the_same_to_the_operator() -> None:
    from airflow_durable_spark.testing.kubernetes_api import STATES

    assert {state: DRIVER_POD_STATES.classify(state) for state in STATES} == STATES
    mode = KubernetesClusterMode(mock.MagicMock())
    for external_id in ("spark:app-0123456789abcdef-driver", f"{NAMESPACE}:pi-4f1d6ba24ac43861-driver"):
        assert mode.validate(external_id) == external_id
