"""The stand-in ``spark-submit`` for ``--master k8s://...`` in cluster deploy mode.

:mod:`.fake_spark_submit` dispatches here for a ``k8s://`` master. It creates the driver pod through the
Kubernetes API at the master URL (:class:`~.kubernetes_api.KubernetesApiEmulator`, or any API server that
accepts plain HTTP), then its config map and driver service by server-side apply, as Spark 4.2's
``KubernetesClientApplication`` does, and prints what that one prints to stderr (recorded from the real
``spark-submit`` of pyspark 4.2.0 against the emulator: ``tests/fixtures/spark_submit_k8s_cluster.txt`` and
``spark_submit_k8s_cluster_wait.txt``):

* ``spark.kubernetes.submission.waitAppCompletion=false``: ``Client: Deployed Spark application <app> with
  application ID spark-<32 hex> and submission ID <namespace>:<pod> into Kubernetes``, then exit;
* ``true`` (Spark's default): ``LoggingPodStatusWatcherImpl``'s ``State changed, new state:`` blocks (pod
  name, namespace, labels, container states with ``exit code: N``), ``Application status for ...`` every
  ``spark.kubernetes.report.interval`` (default 1 s), then ``Container final statuses:`` and ``Application
  ... finished`` once the pod phase is ``Succeeded`` or ``Failed``. It polls the pod with ``GET`` (the real
  one watches); the emulator does not count those polls as the operator's.

Names as Spark builds them (``KubernetesConf.getResourceNamePrefix``, ``KubernetesUtils.uniqueID``,
``BasicDriverFeatureStep``): the pod is ``spark.kubernetes.driver.pod.name``, else ``<prefix>-driver`` with
``<prefix>`` the sanitized ``<app name>-<16 hex>``. Labels: ``spark-app-name``, ``spark-version``,
``spark-role=driver``, every ``spark.kubernetes.driver.label.*``, ``spark-app-selector=spark-<32 hex>``.
The namespace is ``spark.kubernetes.namespace`` (default ``default``).

The submit window: the emulator's ``hold_after_create`` holds the pod-create response (the pod exists, no line
is printed yet); :class:`~.emulator.FakeSubmitBehavior` ``crash_after_create`` exits 137 right after the pod
was created; ``exit_delay_ms`` and ``exit_code`` apply after the output.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import secrets
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

from airflow_durable_spark.testing.emulator import FAKE_SUBMIT_USER_AGENT, SERVER_SPARK_VERSION
from airflow_durable_spark.testing.fake_spark_submit import UsageError, _behavior, _properties_file, _raw

DRIVER_CONTAINER = "spark-kubernetes-driver"
LABEL_PREFIX = "spark.kubernetes.driver.label."
_FINAL_PHASES = frozenset({"Succeeded", "Failed"})


def _log(level: str, source: str, message: str) -> None:
    """Print like Spark's default log4j2 console appender (``%d{yy/MM/dd HH:mm:ss} %p %c{1}: %m``)."""
    _raw(f"{dt.datetime.now():%y/%m/%d %H:%M:%S} {level} {source}: {message}")


def unique_id() -> str:
    """``KubernetesUtils.uniqueID``: 3 random bytes, then the low 40 bits of the epoch milliseconds, in hex."""
    return secrets.token_hex(3) + format(int(time.time() * 1000) & 0xFFFFFFFFFF, "010x")


def resource_name_prefix(app_name: str) -> str:
    """``KubernetesConf.getResourceNamePrefix``: ``<app name>-<uniqueID>``, sanitized for resource names."""
    prefix = f"{app_name}-{unique_id()}".strip().lower()
    prefix = re.sub("-+", "-", re.sub(r"[^a-z0-9\-]", "-", prefix))
    return re.sub("^[0-9]", "x", re.sub("^-", "", prefix))


def _api(method: str, url: str, body: Any = None, content_type: str = "application/json") -> tuple[int, Any]:
    request = urllib.request.Request(url, method=method, headers={"User-Agent": FAKE_SUBMIT_USER_AGENT})
    if body is not None:
        request.data = json.dumps(body).encode("utf-8")
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status), json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        text = exc.read().decode("utf-8", "replace")
        try:
            return int(exc.code), json.loads(text)
        except ValueError:
            return int(exc.code), {"message": text}


def _fail(message: str) -> int:
    _raw(f'Exception in thread "main" io.fabric8.kubernetes.client.KubernetesClientException: {message}')
    return 1


def submit(args: argparse.Namespace) -> int:
    """Submit to Kubernetes in cluster mode (see the module docstring).

    Args:
        args: The parsed command line (:func:`.fake_spark_submit.parse_args`), master ``k8s://...``.

    Returns:
        The exit code.

    Raises:
        UsageError: Client deploy mode, ``--status`` / ``--kill``, or no primary resource or main class.
    """
    if args.status or args.kill:
        raise UsageError("the fake spark-submit does not emulate --status or --kill on Kubernetes")
    properties = _properties_file(args.properties_file) | args.properties
    if properties.get("spark.submit.deployMode") != "cluster":
        raise UsageError("the fake spark-submit only emulates --deploy-mode cluster")
    if not args.primary_resource or not args.main_class:
        raise UsageError("the fake spark-submit needs a primary resource and --class")
    api = args.master.removeprefix("k8s://").rstrip("/")
    if "://" not in api:
        api = "https://" + api
    behavior = _behavior(api)
    app_name = properties.get("spark.app.name") or args.main_class
    namespace = properties.get("spark.kubernetes.namespace", "default")
    app_id = f"spark-{uuid.uuid4().hex}"
    prefix = resource_name_prefix(app_name)
    pod_name = properties.get("spark.kubernetes.driver.pod.name") or f"{prefix}-driver"
    wait = properties.get("spark.kubernetes.submission.waitAppCompletion", "true").strip().lower() == "true"
    interval = _seconds(properties.get("spark.kubernetes.report.interval", "1s"))

    _raw("Using Spark's default log4j profile: org/apache/spark/log4j2-defaults.properties")
    if api.startswith("http://"):
        _log("WARN", "Utils", "Kubernetes master URL uses HTTP instead of HTTPS.")
    _log(
        "INFO",
        "SparkKubernetesClientFactory",
        "Auto-configuring K8S client using current context from users K8S config file",
    )
    _log(
        "INFO",
        "KerberosConfDriverFeatureStep",
        "You have not specified a krb5.conf file locally or via a ConfigMap. "
        "Make sure that you have the krb5.conf locally on the driver image.",
    )
    config_map = f"spark-drv-{unique_id()}-conf-map"  # KubernetesClientUtils.configMapNameDriver
    pod = _driver_pod(args, properties, pod_name, app_name, app_id, config_map)
    pods_url = f"{api}/api/v1/namespaces/{namespace}/pods"
    try:
        status, created = _api("POST", pods_url, pod)
    except OSError as exc:
        return _fail(
            f"Operation: [create]  for kind: [Pod]  with name: [{pod_name}]  in namespace: [{namespace}]  failed. {exc}"
        )
    if status != 201:
        return _fail(
            f"Failure executing: POST at: {pods_url}. Message: {created.get('message')}. "
            f"Received status: Status(code={status}, reason={created.get('reason')})."
        )
    if behavior.crash_after_create:
        os._exit(137)
    _apply_owned(api, namespace, prefix, config_map, created)
    submission = f"{namespace}:{pod_name}"
    if not wait:
        _log(
            "INFO",
            "Client",
            f"Deployed Spark application {app_name} with application ID {app_id} and submission ID {submission} "
            "into Kubernetes",
        )
    else:
        _watch(f"{pods_url}/{pod_name}", app_name, app_id, submission, interval)
    time.sleep(max(0, behavior.exit_delay_ms) / 1000)
    return behavior.exit_code


def _seconds(text: str) -> float:
    found = re.fullmatch(r"\s*(\d+)\s*(ms|s|m|min)?\s*", text)
    if found is None:
        return 1.0
    return int(found.group(1)) * {"ms": 0.001, "m": 60.0, "min": 60.0}.get(found.group(2) or "s", 1.0)


def _driver_pod(
    args: argparse.Namespace,
    properties: dict[str, str],
    pod_name: str,
    app_name: str,
    app_id: str,
    config_map_name: str,
) -> dict[str, Any]:
    labels = {"spark-app-name": app_name[:63], "spark-version": SERVER_SPARK_VERSION, "spark-role": "driver"}
    labels |= {k.removeprefix(LABEL_PREFIX): v for k, v in properties.items() if k.startswith(LABEL_PREFIX)}
    labels["spark-app-selector"] = app_id
    driver_args = ["driver", "--properties-file", "/opt/spark/conf/spark.properties", "--class", args.main_class]
    container = {
        "name": DRIVER_CONTAINER,
        "image": properties.get("spark.kubernetes.container.image", ""),
        "args": [*driver_args, args.primary_resource, *args.app_args],
        "env": [
            {"name": "SPARK_APPLICATION_ID", "value": app_id},
            {"name": "SPARK_CONF_DIR", "value": "/opt/spark/conf"},
        ],
        "ports": [{"name": "driver-rpc-port", "containerPort": 7078}, {"name": "spark-ui", "containerPort": 4040}],
        "volumeMounts": [
            {"name": "spark-local-dir-1", "mountPath": "/var/data/spark-" + str(uuid.uuid4())},
            {"name": "spark-conf-volume-driver", "mountPath": "/opt/spark/conf"},
        ],
    }
    spec: dict[str, Any] = {
        "containers": [container],
        "restartPolicy": "Never",
        "volumes": [
            {"name": "spark-local-dir-1", "emptyDir": {}},
            {
                "name": "spark-conf-volume-driver",
                "configMap": {"name": config_map_name},
            },
        ],
    }
    if account := properties.get("spark.kubernetes.authenticate.driver.serviceAccountName"):
        spec["serviceAccountName"] = account
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod_name, "labels": labels}, "spec": spec}


def _apply_owned(api: str, namespace: str, prefix: str, config_map: str, pod: dict[str, Any]) -> None:
    """Server-side apply the driver's config map and service, owned by the pod (as ``Client.run`` does)."""
    owner = {
        "apiVersion": "v1",
        "kind": "Pod",
        "name": pod["metadata"]["name"],
        "uid": pod["metadata"].get("uid", ""),
        "controller": True,
    }
    service = f"{prefix}-driver-svc"
    for resource, name, body in (
        ("services", service, {"apiVersion": "v1", "kind": "Service", "spec": {"clusterIP": "None"}}),
        ("configmaps", config_map, {"apiVersion": "v1", "kind": "ConfigMap", "data": {"spark.properties": ""}}),
    ):
        body["metadata"] = {"name": name, "namespace": namespace, "ownerReferences": [owner]}
        url = f"{api}/api/v1/namespaces/{namespace}/{resource}/{name}?fieldManager=fabric8&force=true"
        _api("PATCH", url, body, content_type="application/apply-patch+yaml")


def _container_lines(status: dict[str, Any], indent: str) -> list[str]:
    lines = [f"{indent} container name: {status.get('name')}", f"{indent} container image: {status.get('image')}"]
    state = status.get("state") or {}
    if "running" in state:
        lines += [
            f"{indent} container state: running",
            f"{indent} container started at: {state['running'].get('startedAt')}",
        ]
    elif "terminated" in state:
        ended = state["terminated"]
        lines += [
            f"{indent} container state: terminated",
            f"{indent} container started at: {ended.get('startedAt')}",
            f"{indent} container finished at: {ended.get('finishedAt')}",
            f"{indent} exit code: {ended.get('exitCode')}",
            f"{indent} termination reason: {ended.get('reason')}",
        ]
    else:
        lines += [
            f"{indent} container state: waiting",
            f"{indent} pending reason: {(state.get('waiting') or {}).get('reason')}",
        ]
    return lines


def _pod_lines(pod: dict[str, Any]) -> list[str]:
    """``KubernetesUtils.formatPodState``."""
    metadata, spec, status = pod.get("metadata", {}), pod.get("spec", {}), pod.get("status", {})
    labels = ", ".join(f"{k} -> {v}" for k, v in (metadata.get("labels") or {}).items())
    lines = [
        f"\t pod name: {metadata.get('name')}",
        f"\t namespace: {metadata.get('namespace')}",
        f"\t labels: {labels}",
        f"\t pod uid: {metadata.get('uid')}",
        f"\t creation time: {metadata.get('creationTimestamp')}",
        f"\t service account name: {spec.get('serviceAccountName') or 'N/A'}",
        f"\t volumes: {', '.join(v.get('name', '') for v in spec.get('volumes') or []) or 'N/A'}",
        f"\t node name: {spec.get('nodeName') or 'N/A'}",
        f"\t start time: {status.get('startTime') or 'N/A'}",
        f"\t phase: {status.get('phase')}",
        "\t container status: ",
    ]
    for container in status.get("containerStatuses") or []:
        lines += _container_lines(container, "\t\t")
    return lines


def _watch(pod_url: str, app_name: str, app_id: str, submission: str, interval: float) -> None:
    """Print ``LoggingPodStatusWatcherImpl``'s lines until the pod ends (or disappears)."""
    source = "LoggingPodStatusWatcherImpl"
    last: Any = None
    waiting_logged = False
    pod: dict[str, Any] = {}
    while True:
        try:
            status, found = _api("GET", pod_url)
        except OSError:
            status, found = 0, {}
        if status == 404:
            _log(
                "INFO",
                source,
                f"Application {app_name} with application ID {app_id} and submission ID {submission} finished",
            )
            return
        if status == 200:
            pod = found
            shape = (
                (pod.get("status") or {}).get("phase"),
                [c.get("state") for c in pod["status"].get("containerStatuses") or []],
            )
            if shape != last:
                last = shape
                _log("INFO", source, "State changed, new state: \n" + "\n".join(_pod_lines(pod)))
            if not waiting_logged:
                waiting_logged = True
                _log(
                    "INFO",
                    source,
                    f"Waiting for application {app_name} with application ID {app_id} and submission ID {submission} "
                    "to finish...",
                )
            phase = (pod.get("status") or {}).get("phase")
            _log("INFO", source, f"Application status for {app_id} (phase: {phase})")
            if phase in _FINAL_PHASES:
                break
        time.sleep(interval)
    finals = [line for c in pod["status"].get("containerStatuses") or [] for line in _container_lines(c, "\t")]
    _log("INFO", source, "Container final statuses:\n\n\n" + "\n".join(finals))
    _log("INFO", source, f"Application {app_name} with application ID {app_id} and submission ID {submission} finished")
