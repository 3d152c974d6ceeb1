"""The Kubernetes API emulator against the official ``kubernetes`` client, the stand-in and the real spark-submit.

``fixtures/spark_submit_k8s_cluster.txt`` (``spark.kubernetes.submission.waitAppCompletion=false``) and
``fixtures/spark_submit_k8s_cluster_wait.txt`` (``true``; the pod forced ``Running`` then ``Succeeded``) are the
output of the real ``spark-submit`` of pyspark 4.2.0 (fabric8 kubernetes-client 7.6.1) against this emulator,
namespace ``spark``, app name ``pi``. ``test_real_spark_submit_creates_the_driver_pod`` re-runs it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from airflow_durable.status import JobState
from airflow_durable.testing import ControlClient, EmulatorSystem
from airflow_durable_spark.testing.contract import (
    emulated_kubernetes,
    kube_client_config_env,
    kubernetes_api_connection_env,
    kubernetes_connection_env,
    real_spark_submit_env,
    write_kubeconfig,
)
from airflow_durable_spark.testing.kubernetes_api import TOKEN_LABEL, KubernetesApiEmulator
from airflow_durable_spark.testing.kubernetes_selectors import SelectorError, field_matcher, label_matcher

FIXTURES = Path(__file__).parent / "fixtures"
TOKEN = "ad-0123456789abcdef0123456789ab-g1"
NAMESPACE = "spark"


def normalize(line: str) -> str:
    """Replace run-specific values so real and stand-in lines compare by shape."""
    line = re.sub(r"\d\d/\d\d/\d\d \d\d:\d\d:\d\d", "TIMESTAMP", line)
    line = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "TIME", line)
    line = re.sub(r"spark-[0-9a-f]{32}", "APP_ID", line)
    line = re.sub(r"[a-z0-9-]+-[0-9a-f]{16}-driver", "POD", line)
    return re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "UID", line)


@pytest.fixture
def api() -> Iterator[KubernetesApiEmulator]:
    with KubernetesApiEmulator() as emulator:
        yield emulator


@pytest.fixture
def core(api: KubernetesApiEmulator, tmp_path: Path) -> k8s.CoreV1Api:
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", api.url, NAMESPACE)
    configuration = k8s.Configuration()
    k8s_config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    configuration.retries = 0
    return k8s.CoreV1Api(k8s.ApiClient(configuration))


def driver_pod(name: str = "pi-0123456789abcdef-driver", token: str = TOKEN, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"spark-role": "driver", TOKEN_LABEL: token, **labels}},
        "spec": {"containers": [{"name": "spark-kubernetes-driver", "image": "spark:4.2.0"}], "restartPolicy": "Never"},
    }


def container_states(pod: k8s.V1Pod) -> dict[str, tuple[str, int | None, str | None]]:
    found = {}
    for status in pod.status.container_statuses or []:
        if status.state.terminated is not None:
            ended = status.state.terminated
            found[status.name] = ("terminated", ended.exit_code, ended.reason)
        else:
            found[status.name] = ("running" if status.state.running else "waiting", None, None)
    return found


def body_of(error: k8s.ApiException) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(error.body)
    return parsed


# ---------------------------------------------------------------------- wire format with the real client


def test_pod_create_get_and_life_cycle(api: KubernetesApiEmulator, core: k8s.CoreV1Api) -> None:
    created = core.create_namespaced_pod(NAMESPACE, driver_pod())
    assert created.metadata.namespace == NAMESPACE
    assert created.metadata.uid
    assert created.status.phase == "Pending"
    assert container_states(created) == {"spark-kubernetes-driver": ("waiting", None, None)}
    pod = core.read_namespaced_pod("pi-0123456789abcdef-driver", NAMESPACE)
    assert pod.status.phase == "Running"
    assert container_states(pod) == {"spark-kubernetes-driver": ("running", None, None)}
    assert core.read_namespaced_pod("pi-0123456789abcdef-driver", NAMESPACE).status.phase == "Running"
    job = api.book.get("spark:pi-0123456789abcdef-driver")
    assert (job.token, job.history, job.status_calls) == (TOKEN, ["Pending", "Running"], 2)
    assert EmulatorSystem(api).submissions()[0].external_id == "spark:pi-0123456789abcdef-driver"
    assert api.observed_status_calls == 2


def test_pods_finish_after_status_calls(core: k8s.CoreV1Api, api: KubernetesApiEmulator) -> None:
    api.finish_after(3, "Failed")
    core.create_namespaced_pod(NAMESPACE, driver_pod())
    phases = [core.read_namespaced_pod("pi-0123456789abcdef-driver", NAMESPACE).status.phase for _ in range(4)]
    assert phases == ["Running", "Running", "Failed", "Failed"]
    pod = core.read_namespaced_pod("pi-0123456789abcdef-driver", NAMESPACE)
    assert container_states(pod) == {"spark-kubernetes-driver": ("terminated", 1, "Error")}


@pytest.mark.parametrize(
    ("state", "phase", "driver", "sidecar"),
    [
        ("Succeeded", "Succeeded", ("terminated", 0, "Completed"), None),
        ("Failed", "Failed", ("terminated", 1, "Error"), None),
        ("DriverSucceeded", "Running", ("terminated", 0, "Completed"), ("running", None, None)),
        ("DriverFailed", "Running", ("terminated", 1, "Error"), ("running", None, None)),
    ],
)
def test_state_rendering(
    api: KubernetesApiEmulator,
    core: k8s.CoreV1Api,
    state: str,
    phase: str,
    driver: tuple[str, int | None, str | None],
    sidecar: tuple[str, None, None] | None,
) -> None:
    core.create_namespaced_pod(NAMESPACE, driver_pod())
    api.force_state("spark:pi-0123456789abcdef-driver", state)
    pod = core.read_namespaced_pod("pi-0123456789abcdef-driver", NAMESPACE)
    assert pod.status.phase == phase
    expected = {"spark-kubernetes-driver": driver} | ({"istio-proxy": sidecar} if sidecar else {})
    assert container_states(pod) == expected


def test_unknown_phase_has_no_container_statuses(api: KubernetesApiEmulator, core: k8s.CoreV1Api) -> None:
    core.create_namespaced_pod(NAMESPACE, driver_pod())
    api.force_state("spark:pi-0123456789abcdef-driver", "Unknown")
    pod = core.read_namespaced_pod("pi-0123456789abcdef-driver", NAMESPACE)
    assert (pod.status.phase, pod.status.container_statuses) == ("Unknown", None)


def test_duplicate_name_is_409_already_exists(core: k8s.CoreV1Api) -> None:
    core.create_namespaced_pod(NAMESPACE, driver_pod())
    with pytest.raises(k8s.ApiException) as caught:
        core.create_namespaced_pod(NAMESPACE, driver_pod(token="ad-other-g2"))
    assert caught.value.status == 409
    body = body_of(caught.value)
    assert (body["kind"], body["status"], body["reason"], body["code"]) == ("Status", "Failure", "AlreadyExists", 409)
    assert body["details"] == {"name": "pi-0123456789abcdef-driver", "kind": "pods"}
    core.create_namespaced_pod("other", driver_pod())  # names are per namespace


def test_invalid_pod_name_is_422(core: k8s.CoreV1Api) -> None:
    with pytest.raises(k8s.ApiException) as caught:
        core.create_namespaced_pod(NAMESPACE, driver_pod(name="Not_Valid"))
    assert (caught.value.status, body_of(caught.value)["reason"]) == (422, "Invalid")


def test_delete_returns_the_pod_then_404(api: KubernetesApiEmulator, core: k8s.CoreV1Api) -> None:
    core.create_namespaced_pod(NAMESPACE, driver_pod())
    deleted = core.delete_namespaced_pod("pi-0123456789abcdef-driver", NAMESPACE)
    assert deleted.metadata.name == "pi-0123456789abcdef-driver"
    assert deleted.metadata.deletion_timestamp
    with pytest.raises(k8s.ApiException) as caught:
        core.read_namespaced_pod("pi-0123456789abcdef-driver", NAMESPACE)
    body = body_of(caught.value)
    assert (caught.value.status, body["reason"], body["message"]) == (
        404,
        "NotFound",
        'pods "pi-0123456789abcdef-driver" not found',
    )
    with pytest.raises(k8s.ApiException) as again:
        core.delete_namespaced_pod("pi-0123456789abcdef-driver", NAMESPACE)
    assert again.value.status == 404
    assert api.book.cancelled == ["spark:pi-0123456789abcdef-driver"]
    assert core.list_namespaced_pod(NAMESPACE).items == []
    core.create_namespaced_pod(NAMESPACE, driver_pod())  # the name is free again


def test_forgotten_pod_is_404(api: KubernetesApiEmulator, core: k8s.CoreV1Api) -> None:
    core.create_namespaced_pod(NAMESPACE, driver_pod())
    api.forget("spark:pi-0123456789abcdef-driver")
    with pytest.raises(k8s.ApiException) as caught:
        core.read_namespaced_pod("pi-0123456789abcdef-driver", NAMESPACE)
    assert caught.value.status == 404


def test_list_by_label_and_field_selectors(core: k8s.CoreV1Api) -> None:
    core.create_namespaced_pod(NAMESPACE, driver_pod("a-driver", "ad-a-g1"))
    core.create_namespaced_pod(NAMESPACE, driver_pod("b-driver", "ad-a-g2"))
    executor = driver_pod("a-exec-1", "ad-a-g1")
    executor["metadata"]["labels"]["spark-role"] = "executor"
    core.create_namespaced_pod(NAMESPACE, executor)
    core.create_namespaced_pod("elsewhere", driver_pod("c-driver", "ad-a-g1"))

    def names(selector: str | None = None, fields: str | None = None, namespace: str = NAMESPACE) -> list[str]:
        pods = core.list_namespaced_pod(namespace, label_selector=selector, field_selector=fields)
        return [pod.metadata.name for pod in pods.items]

    assert names(f"{TOKEN_LABEL}=ad-a-g1,spark-role=driver") == ["a-driver"]
    assert names(f"{TOKEN_LABEL}==ad-a-g1") == ["a-driver", "a-exec-1"]
    assert names("spark-role!=driver") == ["a-exec-1"]
    assert names(f"{TOKEN_LABEL} in (ad-a-g1, ad-a-g2),spark-role=driver") == ["a-driver", "b-driver"]
    assert names(f"{TOKEN_LABEL} notin (ad-a-g1)") == ["b-driver"]
    assert names("spark-role") == ["a-driver", "b-driver", "a-exec-1"]
    assert names("!spark-role") == []
    assert names(fields="metadata.name=b-driver") == ["b-driver"]
    assert names("spark-role=driver", "metadata.name!=a-driver") == ["b-driver"]
    assert names(f"{TOKEN_LABEL}=ad-a-g1,spark-role=driver", namespace="elsewhere") == ["c-driver"]
    everywhere = core.list_pod_for_all_namespaces(label_selector=f"{TOKEN_LABEL}=ad-a-g1,spark-role=driver")
    assert sorted(pod.metadata.name for pod in everywhere.items) == ["a-driver", "c-driver"]
    with pytest.raises(k8s.ApiException) as caught:
        names("spark-role in driver")
    assert (caught.value.status, body_of(caught.value)["reason"]) == (400, "BadRequest")


def test_lists_do_not_move_pods(api: KubernetesApiEmulator, core: k8s.CoreV1Api) -> None:
    core.create_namespaced_pod(NAMESPACE, driver_pod())
    assert [p.status.phase for p in core.list_namespaced_pod(NAMESPACE).items] == ["Pending"]
    assert api.observed_status_calls == 0


@pytest.mark.parametrize(
    ("selector", "labels", "selected"),
    [
        ("a=1", {"a": "1"}, True),
        ("a=1", {"a": "2"}, False),
        ("a!=1", {}, True),
        ("a in (1,2),b", {"a": "2", "b": ""}, True),
        ("a notin (1,2)", {}, True),
        ("a notin (1,2)", {"a": "1"}, False),
        ("!a", {"a": "1"}, False),
        ("", {"a": "1"}, True),
    ],
)
def test_label_selector_grammar(selector: str, labels: dict[str, str], selected: bool) -> None:
    assert label_matcher(selector)({"metadata": {"labels": labels}}) is selected


def test_bad_selectors_raise() -> None:
    with pytest.raises(SelectorError):
        label_matcher("a in b")
    with pytest.raises(SelectorError):
        field_matcher("metadata.name")


# ---------------------------------------------------------------------- faults


@pytest.mark.parametrize(
    ("status", "reason"), [(429, "TooManyRequests"), (500, "InternalError"), (503, "ServiceUnavailable")]
)
def test_faults_reach_the_client_as_api_exceptions(
    api: KubernetesApiEmulator, core: k8s.CoreV1Api, status: int, reason: str
) -> None:
    core.create_namespaced_pod(NAMESPACE, driver_pod())
    api.fail_next(1, status, endpoint="status")
    with pytest.raises(k8s.ApiException) as caught:
        core.read_namespaced_pod("pi-0123456789abcdef-driver", NAMESPACE)
    assert (caught.value.status, body_of(caught.value)["reason"]) == (status, reason)
    assert core.read_namespaced_pod("pi-0123456789abcdef-driver", NAMESPACE).status.phase == "Running"
    assert api.book.get("spark:pi-0123456789abcdef-driver").status_calls == 1  # the failed call did not count


def test_throttling_carries_retry_after(api: KubernetesApiEmulator, core: k8s.CoreV1Api) -> None:
    api.fail_next(1, 429, endpoint="list", retry_after_seconds=2)
    with pytest.raises(k8s.ApiException) as caught:
        core.list_namespaced_pod(NAMESPACE)
    assert caught.value.status == 429
    assert caught.value.headers["Retry-After"] == "2"


def test_upstream_hook_finds_no_pod_outside_namespace_spark(monkeypatch: pytest.MonkeyPatch) -> None:
    """Upstream's fallback regex hard-codes ``submission ID spark:``: the real line for namespace ``jobs``."""
    real = (FIXTURES / "spark_submit_k8s_cluster.txt").read_text().splitlines()
    elsewhere = [line.replace("submission ID spark:", "submission ID jobs:") for line in real]
    assert hook_reads(real, monkeypatch, "http://127.0.0.1:6443")[0] is not None
    assert hook_reads(elsewhere, monkeypatch, "http://127.0.0.1:6443")[0] is None


def test_failed_create_creates_nothing_and_rate_and_latency(api: KubernetesApiEmulator, core: k8s.CoreV1Api) -> None:
    api.fail_next(1, 503, endpoint="create")
    with pytest.raises(k8s.ApiException) as caught:
        core.create_namespaced_pod(NAMESPACE, driver_pod())
    assert caught.value.status == 503
    assert api.pods == []
    api.fault_rate(1.0, (429,), endpoint="list", seed=1)
    with pytest.raises(k8s.ApiException) as rated:
        core.list_namespaced_pod(NAMESPACE)
    assert rated.value.status == 429
    api.fault_rate(0)
    api.set_latency(0.2)
    started = time.monotonic()
    core.list_namespaced_pod(NAMESPACE)
    assert time.monotonic() - started >= 0.2


# ---------------------------------------------------------------------- generic store and discovery


def test_config_maps_with_server_side_apply_and_merge_patch(core: k8s.CoreV1Api, api: KubernetesApiEmulator) -> None:
    core.create_namespaced_config_map(
        NAMESPACE, {"metadata": {"name": "conf", "labels": {"a": "1"}}, "data": {"k": "v"}}
    )
    with pytest.raises(k8s.ApiException) as caught:
        core.create_namespaced_config_map(NAMESPACE, {"metadata": {"name": "conf"}})
    assert caught.value.status == 409
    patched = core.patch_namespaced_config_map("conf", NAMESPACE, {"data": {"k2": "v2"}})
    assert patched.data == {"k": "v", "k2": "v2"}
    assert [m.metadata.name for m in core.list_namespaced_config_map(NAMESPACE, label_selector="a=1").items] == ["conf"]
    owner = {"apiVersion": "v1", "kind": "Pod", "name": "p", "uid": "u", "controller": True}
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "applied", "ownerReferences": [owner]}}
    response = httpx.patch(  # what fabric8's serverSideApply sends (see the real spark-submit test)
        f"{api.url}/api/v1/namespaces/{NAMESPACE}/configmaps/applied?fieldManager=fabric8&force=true",
        content=json.dumps(body),
        headers={"Content-Type": "application/apply-patch+yaml"},
    )
    assert response.status_code == 201
    yaml_body = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  k: v\n"
    again = httpx.patch(
        f"{api.url}/api/v1/namespaces/{NAMESPACE}/configmaps/applied",
        content=yaml_body,
        headers={"Content-Type": "application/apply-patch+yaml"},
    )
    assert again.status_code == 200
    applied = core.read_namespaced_config_map("applied", NAMESPACE)
    assert applied.metadata.owner_references[0].name == "p"
    assert applied.data == {"k": "v"}
    assert applied.metadata.uid == response.json()["metadata"]["uid"]
    core.delete_namespaced_config_map("conf", NAMESPACE)
    with pytest.raises(k8s.ApiException) as gone:
        core.read_namespaced_config_map("conf", NAMESPACE)
    assert gone.value.status == 404


def test_discovery(core: k8s.CoreV1Api) -> None:
    assert k8s.VersionApi(core.api_client).get_code().git_version.startswith("v1.")
    assert k8s.CoreApi(core.api_client).get_api_versions().versions == ["v1"]
    assert "pods" in [r.name for r in core.get_api_resources().resources]


# ---------------------------------------------------------------------- the cncf.kubernetes provider's hook


def test_kubernetes_hook_through_a_connection(
    api: KubernetesApiEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook

    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", api.url, NAMESPACE)
    for name, value in kubernetes_api_connection_env("k8s_emulator", kubeconfig).items():
        monkeypatch.setenv(name, value)
    hook = KubernetesHook(conn_id="k8s_emulator")
    hook.core_v1_client.create_namespaced_pod(NAMESPACE, driver_pod())
    pods = hook.core_v1_client.list_namespaced_pod(NAMESPACE, label_selector=f"{TOKEN_LABEL}={TOKEN}")
    assert [p.metadata.name for p in pods.items] == ["pi-0123456789abcdef-driver"]
    assert [r.endpoint for r in api.requests] == ["create", "list"]


def test_upstream_kube_client_through_airflow_settings(
    api: KubernetesApiEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.providers.cncf.kubernetes import kube_client

    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", api.url, NAMESPACE)
    for name, value in kube_client_config_env(kubeconfig).items():
        monkeypatch.setenv(name, value)
    core = kube_client.get_kube_client()
    core.create_namespaced_pod(NAMESPACE, driver_pod())
    assert core.read_namespaced_pod("pi-0123456789abcdef-driver", NAMESPACE).status.phase == "Running"


def test_spark_connection_env_builds_the_k8s_master(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook

    for name, value in kubernetes_connection_env("spark_k8s", "http://127.0.0.1:6443", "jobs").items():
        monkeypatch.setenv(name, value)
    hook = SparkSubmitHook(conn_id="spark_k8s")
    assert hook._connection["master"] == "k8s://http://127.0.0.1:6443"
    assert (hook._connection["deploy_mode"], hook._connection["namespace"]) == ("cluster", "jobs")


# ---------------------------------------------------------------------- the stand-in spark-submit


def submit_args(api_url: str, wait: bool = False, *extra: str) -> list[str]:
    return [
        "--master",
        f"k8s://{api_url}",
        "--deploy-mode",
        "cluster",
        "--conf",
        "spark.kubernetes.container.image=spark:4.2.0",
        "--conf",
        f"spark.kubernetes.submission.waitAppCompletion={str(wait).lower()}",
        "--conf",
        f"spark.kubernetes.namespace={NAMESPACE}",
        "--conf",
        f"spark.kubernetes.driver.label.{TOKEN_LABEL}={TOKEN}",
        *extra,
        "--name",
        "pi",
        "--class",
        "org.apache.spark.examples.SparkPi",
        "local:///opt/spark/examples/jars/spark-examples.jar",
        "10",
    ]


def hook_reads(lines: list[str], monkeypatch: pytest.MonkeyPatch, api_url: str) -> tuple[str | None, int | None]:
    """What upstream ``SparkSubmitHook._process_spark_submit_log`` takes from the lines (k8s master)."""
    from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook

    for name, value in kubernetes_connection_env("spark_k8s", api_url, NAMESPACE).items():
        monkeypatch.setenv(name, value)
    hook = SparkSubmitHook(conn_id="spark_k8s")
    hook._process_spark_submit_log(iter(line + "\n" for line in lines))
    return hook._kubernetes_driver_pod, hook._spark_exit_code


def test_stand_in_creates_the_driver_pod_and_prints_the_real_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with emulated_kubernetes(tmp_path / "bin") as api:
        done = subprocess.run(
            [str(tmp_path / "bin" / "spark-submit"), *submit_args(api.url)], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        [pod] = api.pods
        assert re.fullmatch(r"spark:pi-[0-9a-f]{16}-driver", pod.external_id)
        assert pod.token == TOKEN
        assert pod.labels["spark-role"] == "driver"
        assert pod.labels["spark-app-name"] == "pi"
        assert re.fullmatch(r"spark-[0-9a-f]{32}", pod.labels["spark-app-selector"])
        assert sorted(resource for _, _, resource, _ in api.objects) == ["configmaps", "services"]
        assert api.observed_status_calls == 0
    lines = done.stderr.splitlines()
    real = {normalize(line) for line in (FIXTURES / "spark_submit_k8s_cluster.txt").read_text().splitlines()}
    assert [normalize(line) for line in lines if normalize(line) not in real] == []
    deployed = (
        "TIMESTAMP INFO Client: Deployed Spark application pi with application ID APP_ID "
        "and submission ID spark:POD into Kubernetes"
    )
    assert normalize(lines[-1]) == deployed
    assert hook_reads(lines, monkeypatch, "http://127.0.0.1:6443")[0] == pod.name


def test_upstream_hook_submits_through_the_stand_in_and_polls_the_pod(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wiring end to end: connection, kube client settings, stand-in on PATH, upstream's own k8s tracking."""
    from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook

    with emulated_kubernetes(tmp_path / "bin", polls_to_finish=1) as api:
        env = kubernetes_connection_env("spark_k8s", api.url, NAMESPACE)
        env |= kube_client_config_env(write_kubeconfig(tmp_path / "kubeconfig", api.url, NAMESPACE))
        env["PATH"] = f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}"
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        conf = {
            "spark.kubernetes.container.image": "spark:4.2.0",
            f"spark.kubernetes.driver.label.{TOKEN_LABEL}": TOKEN,
        }
        hook = SparkSubmitHook(
            conn_id="spark_k8s", conf=conf, name="pi", java_class="Pi", track_driver_via_k8s_api=True
        )
        hook.submit("local:///opt/app.jar")
        [pod] = api.pods
        assert hook._kubernetes_driver_pod == pod.name
        assert hook._poll_k8s_driver_via_api() == "Succeeded"
        assert pod.token == TOKEN
        assert api.observed_status_calls == 1


def test_stand_in_honours_the_driver_pod_name(tmp_path: Path) -> None:
    with emulated_kubernetes(tmp_path / "bin") as api:
        argv = submit_args(api.url, False, "--conf", "spark.kubernetes.driver.pod.name=my-driver")
        done = subprocess.run(
            [str(tmp_path / "bin" / "spark-submit"), *argv], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        assert [pod.external_id for pod in api.pods] == ["spark:my-driver"]


def test_stand_in_wait_mode_prints_the_watcher_until_the_pod_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with emulated_kubernetes(tmp_path / "bin") as api:
        argv = submit_args(api.url, True, "--conf", "spark.kubernetes.report.interval=100ms")
        proc = subprocess.Popen(
            [str(tmp_path / "bin" / "spark-submit"), *argv],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        [pod] = api.wait_for_jobs(1, 30)
        time.sleep(0.3)
        api.force_state(pod.external_id, "Failed")
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0
        assert api.observed_status_calls == 0  # the stand-in's own polls are not the operator's
    lines = err.splitlines()
    real = {normalize(line) for line in (FIXTURES / "spark_submit_k8s_cluster_wait.txt").read_text().splitlines()}
    shapes = [normalize(line) for line in lines]
    unknown = [s for s in shapes if s not in real and not re.search(r"phase: Failed|exit code: 1|reason: Error", s)]
    assert unknown == []
    assert any("Waiting for application pi" in line for line in lines)
    assert normalize(lines[-1]).endswith(
        "Application pi with application ID APP_ID and submission ID spark:POD finished"
    )
    assert hook_reads(lines, monkeypatch, "http://127.0.0.1:6443") == (pod.name, 1)


def test_real_wait_fixture_gives_the_hook_the_pod_and_exit_code(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = (FIXTURES / "spark_submit_k8s_cluster_wait.txt").read_text().splitlines()
    pod, exit_code = hook_reads(lines, monkeypatch, "http://127.0.0.1:6443")
    assert pod is not None
    assert re.fullmatch(r"pi-[0-9a-f]{16}-driver", pod)
    assert exit_code == 0


def test_submit_window_hold_after_create(tmp_path: Path) -> None:
    """The pod exists while the create response is held: no pod-name line has been printed yet."""
    with emulated_kubernetes(tmp_path / "bin") as api:
        api.hold_after_create(30)
        proc = subprocess.Popen(
            [str(tmp_path / "bin" / "spark-submit"), *submit_args(api.url)],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        try:
            [pod] = api.wait_for_jobs(1, 30)
            time.sleep(0.3)
            assert proc.poll() is None
            assert pod.token == TOKEN
        finally:
            proc.kill()
        _, err = proc.communicate(timeout=30)
        assert "submission ID" not in err


def test_submit_window_crash_after_create(tmp_path: Path) -> None:
    with emulated_kubernetes(tmp_path / "bin") as api:
        api.set_fake_submit_behavior(crash_after_create=True)
        done = subprocess.run(
            [str(tmp_path / "bin" / "spark-submit"), *submit_args(api.url)], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 137
        assert "submission ID" not in done.stderr
        assert [pod.token for pod in api.pods] == [TOKEN]


def test_stand_in_reports_a_create_failure(tmp_path: Path) -> None:
    with emulated_kubernetes(tmp_path / "bin") as api:
        api.fail_next(1, 503, endpoint="create")
        done = subprocess.run(
            [str(tmp_path / "bin" / "spark-submit"), *submit_args(api.url)], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 1
        assert "KubernetesClientException" in done.stderr
        assert "code=503" in done.stderr
        assert api.pods == []


# ---------------------------------------------------------------------- the real spark-submit


def _real_spark_submit_env() -> dict[str, str]:
    from airflow_durable_spark.demo.java import JavaNotFoundError

    try:
        return {**os.environ, **real_spark_submit_env()}
    except JavaNotFoundError as exc:
        pytest.skip(f"no Java runtime for the real spark-submit: {exc}")


def test_real_spark_submit_creates_the_driver_pod(
    api: KubernetesApiEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pyspark 4.2.0's spark-submit (fabric8 7.6.1) creates the driver pod with our label and exits 0."""
    env = _real_spark_submit_env()
    env["HOME"] = str(tmp_path)  # no user kubeconfig: only the master URL
    spark_submit = Path(env["SPARK_HOME"]) / "bin" / "spark-submit"
    done = subprocess.run(
        [str(spark_submit), *submit_args(api.url)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    [pod] = api.pods
    assert pod.token == TOKEN
    assert pod.labels["spark-role"] == "driver"
    assert re.fullmatch(r"spark:pi-[0-9a-f]{16}-driver", pod.external_id)
    assert pod.manifest["spec"]["containers"][0]["name"] == "spark-kubernetes-driver"
    applied = sorted(resource for _, _, resource, _ in api.objects)
    assert applied == ["configmaps", "networkpolicies", "services"]
    assert next((r.method, r.endpoint) for r in api.requests) == ("POST", "create")
    assert all(r.status in (200, 201) for r in api.requests)
    lines = done.stderr.splitlines()
    assert f"submission ID {pod.external_id} into Kubernetes" in lines[-1]
    real = {normalize(line) for line in (FIXTURES / "spark_submit_k8s_cluster.txt").read_text().splitlines()}
    assert normalize(lines[-1]) in real
    assert hook_reads(lines, monkeypatch, "http://127.0.0.1:6443")[0] == pod.name


# ---------------------------------------------------------------------- its own process


def test_emulator_as_its_own_process(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_durable.testing.serve",
            "airflow_durable_spark.testing.kubernetes_api:KubernetesApiEmulator",
            "--port-file",
            str(port_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not port_file.exists():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "emulator process did not write its port file"
            time.sleep(0.02)
        url = f"http://127.0.0.1:{int(port_file.read_text())}"
        configuration = k8s.Configuration()
        k8s_config.load_kube_config(
            config_file=str(write_kubeconfig(tmp_path / "kubeconfig", url)), client_configuration=configuration
        )
        core = k8s.CoreV1Api(k8s.ApiClient(configuration))
        with ControlClient(url) as control:
            control.wait_until_up()
            core.create_namespaced_pod(NAMESPACE, driver_pod())
            control.force_state("spark:pi-0123456789abcdef-driver", "DriverSucceeded")
            assert core.read_namespaced_pod("pi-0123456789abcdef-driver", NAMESPACE).status.phase == "Running"
            pod = control.pod("spark:pi-0123456789abcdef-driver")
            assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
            assert control.counters()["calls"] == {"create": 1, "status": 1}
            assert control.fake_submit_behavior()["crash_after_create"] is False
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    assert process.returncode == 0


def test_external_system_adapter_moves_pods(api: KubernetesApiEmulator, core: k8s.CoreV1Api) -> None:
    system = EmulatorSystem(api)
    system.finish_jobs_after(1, JobState.SUCCEEDED)
    core.create_namespaced_pod(NAMESPACE, driver_pod())
    phases = [core.read_namespaced_pod("pi-0123456789abcdef-driver", NAMESPACE).status.phase for _ in range(3)]
    assert phases == ["Running", "Succeeded", "Succeeded"]
    assert system.status_calls() == 3
