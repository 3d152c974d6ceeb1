"""A wire-level Kubernetes API server emulator for Spark driver pods, on the core emulator kit.

It serves what ``spark-submit --master k8s://...`` and an operator using the official ``kubernetes`` Python
client (``CoreV1Api``) need:

* pods under ``/api/v1/namespaces/{namespace}/pods``: create (409 ``AlreadyExists`` for a taken name), get,
  list with ``labelSelector`` / ``fieldSelector`` (:mod:`.kubernetes_selectors`), patch, delete (answers the
  pod; afterwards 404 ``NotFound``), and the all-namespaces list ``/api/v1/pods``;
* any other namespaced resource (configmaps, services, secrets, ``apis/{group}/{version}/...``) as a generic
  store: create, get, list, replace, patch (JSON merge, strategic merge as a merge, and server-side apply
  ``application/apply-patch+yaml``, which creates a missing object), delete;
* minimal discovery: ``/version``, ``/api``, ``/api/v1``, ``/apis``.

Errors are ``kind: Status`` objects as the API server sends them, injected faults too, so that the Python
client raises ``ApiException`` with the status (429, 500, 503...). A pod watch (``watch=true``; fabric8
first tries a WebSocket upgrade, gets a plain 200 and falls back to HTTP) is a long poll: the ``ADDED`` /
``MODIFIED`` / ``DELETED`` events after its ``resourceVersion``, waiting up to :attr:`watch_seconds` for one,
then the end of the stream; the client watches again from the last version. Every state change moves a pod's
resource version.

Every pod is a job of the kit's :class:`~airflow_durable.testing.jobs.JobBook`; its external ID is
``"<namespace>:<pod name>"`` and its token the value of the ``airflow-durable-submission`` label. Pods are
born ``Pending`` and turn ``Running`` on their first status call (``GET`` of the pod; lists do not move
pods), then follow the book (hold, ``finish_after``, ``force_state``, ``forget`` for a garbage-collected
pod). The book's raw statuses are rendered into ``status.phase`` and ``status.containerStatuses``:
``DriverSucceeded`` / ``DriverFailed`` are a ``Running`` pod whose driver container
(``spark-kubernetes-driver``) terminated with exit code 0 / 1 while an ``istio-proxy`` sidecar keeps running.
A deleted pod is cancelled in the book (``Failed``) and then forgotten. A new pod may take a deleted pod's
name; the book then keeps only the newer record under that external ID.

Why not ``kmock``: kmock 0.8 (PyPI) is an aiohttp server with its own life cycle and no label-selector
filtering; it has none of the kit's pieces (job life cycle, faults in the vendor's error format,
``hold_after_create``, request log, control plane, ``python -m airflow_durable.testing.serve``). Wiring them
into it would take more glue than this module, and add aiohttp to the test dependencies.

The real ``spark-submit`` of pyspark 4.2.0 (fabric8 kubernetes-client 7.6.1) works against this emulator
(``--master k8s://http://127.0.0.1:PORT --deploy-mode cluster``, about 3 s). With
``spark.kubernetes.submission.waitAppCompletion=false`` it sends ``POST .../pods``, then server-side applies
(``PATCH ...?fieldManager=fabric8&force=true``, ``application/apply-patch+yaml`` with a JSON body) the
driver service, a ``networking.k8s.io/v1`` network policy and the config map, each owned by the pod, and
exits 0 without a watch. With ``true`` it also watches the pod (WebSocket upgrade refused with a 200, then
HTTP long polls) and reads it with ``GET`` (reads not counted as the operator's status calls).

Example::

    with KubernetesApiEmulator() as api:
        kubeconfig = write_kubeconfig(tmp / "kubeconfig", api.url)
        ... CoreV1Api(...).list_namespaced_pod("spark", label_selector="spark-role=driver") ...
        api.force_state("spark:app-0123456789abcdef-driver", "DriverSucceeded")
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import importlib
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any

from airflow_durable.status import JobState
from airflow_durable.testing.control import control
from airflow_durable.testing.emulator import Emulator
from airflow_durable.testing.jobs import EmulatedJob, Script
from airflow_durable.testing.routes import ApiError, Reply, Request, Route, RouteTable
from airflow_durable_spark.testing.emulator import FAKE_SUBMIT_USER_AGENT, FakeSubmitBehavior
from airflow_durable_spark.testing.kubernetes_selectors import SelectorError, field_matcher, label_matcher

TOKEN_LABEL = "airflow-durable-submission"
"""The driver-pod label that carries the submission token."""
DRIVER_CONTAINER = "spark-kubernetes-driver"
"""The driver container's name (Spark's ``Constants.DEFAULT_DRIVER_CONTAINER_NAME``)."""
SIDECAR_CONTAINER = "istio-proxy"
"""The sidecar rendered beside a terminated driver in ``DriverSucceeded`` / ``DriverFailed``."""
SERVER_VERSION = {
    "major": "1",
    "minor": "33",
    "gitVersion": "v1.33.0",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-04-23T00:00:00Z",
    "goVersion": "go1.24.2",
    "compiler": "gc",
    "platform": "linux/amd64",
}
"""What ``GET /version`` answers."""

# https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-phase
STATES: dict[str, JobState] = {
    "Pending": JobState.ACTIVE,
    "Running": JobState.ACTIVE,
    "Unknown": JobState.ACTIVE,
    "Succeeded": JobState.SUCCEEDED,
    "Failed": JobState.FAILED,
    "DriverSucceeded": JobState.SUCCEEDED,
    "DriverFailed": JobState.FAILED,
}
"""The pod phases, plus a running pod whose driver container terminated (0: succeeded, else failed)."""
POD_ID_PATTERN = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?:[a-z0-9]([-.a-z0-9]{0,251}[a-z0-9])?$"
"""``<namespace>:<pod name>``: a DNS-1123 label, then a DNS-1123 subdomain."""
_NAME = re.compile(r"^[a-z0-9]([-.a-z0-9]{0,251}[a-z0-9])?$")
_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "AlreadyExists",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}
"""``metav1.StatusReason`` per HTTP status (k8s.io/apimachinery/pkg/apis/meta/v1/types.go)."""
_EXIT_CODES = {"Succeeded": 0, "Failed": 1, "DriverSucceeded": 0, "DriverFailed": 1}


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7386 JSON merge patch (``null`` deletes a key; lists are replaced).

    Args:
        target: The current object.
        patch: The patch.

    Returns:
        A new object; ``target`` is not changed.
    """
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


@dataclasses.dataclass(eq=False)
class EmulatedPod(EmulatedJob):
    """One pod the emulator created (kept after delete, flagged ``forgotten``).

    Attributes:
        manifest: The pod as stored: the request's ``metadata`` (with server fields) and ``spec``; its
            ``status`` is rendered from the state.
        deleted: The pod was deleted through the API.
        created_version: The resource version at creation (watches tell ``ADDED`` from ``MODIFIED``).
        version: The pod's resource version; every state change and patch moves it.
        namespace: The pod's namespace.
        name: The pod's name.
        labels: The pod's labels (live: patches show).
    """

    manifest: dict[str, Any] = dataclasses.field(default_factory=dict)
    deleted: bool = False
    created_version: int = 0
    version: int = 0
    namespace: str = dataclasses.field(init=False)
    name: str = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.namespace, _, self.name = str(self.external_id).partition(":")

    @property
    def labels(self) -> dict[str, str]:
        """The pod's labels."""
        return dict((self.manifest.get("metadata") or {}).get("labels") or {})


class KubernetesApiEmulator(Emulator[EmulatedPod]):
    """A Kubernetes API server for pods (plus a generic object store) served from a background thread.

    Args:
        polls_to_finish: Pods reach ``final_state`` on this status call (``GET`` of the pod); ``None`` (the
            default): they turn ``Running`` on their first status call and stay there until a test moves them.
        final_state: The state pods end in when they advance.
        host: Address to bind.
        port: Port to bind (0 picks a free one).
    """

    thread_name = "kubernetes-api-emulator"
    server_version = "kube-apiserver-emulator"
    _NS = "/api/v1/namespaces/{namespace}"
    _GROUP = "/apis/{group}/{version}/namespaces/{namespace}"
    routes = RouteTable(
        Route("GET", "/version", "discovery", "_version"),
        Route("GET", "/api", "discovery", "_api"),
        Route("GET", "/api/v1", "discovery", "_api_v1"),
        Route("GET", "/apis", "discovery", "_apis"),
        Route("POST", _NS + "/pods", "create", "_create_pod"),
        Route("GET", _NS + "/pods", "list", "_list_pods"),
        Route("GET", "/api/v1/pods", "list", "_list_pods"),
        Route("GET", _NS + "/pods/{name}", "status", "_read_pod"),
        Route("DELETE", _NS + "/pods/{name}", "delete", "_delete_pod"),
        Route("PATCH", _NS + "/pods/{name}", "patch", "_patch_pod"),
        Route("GET", _NS + "/pods/{name}/log", "log", "_pod_log"),
        Route("POST", _NS + "/{resource}", "object", "_create_object"),
        Route("GET", _NS + "/{resource}", "object", "_list_objects"),
        Route("GET", _NS + "/{resource}/{name}", "object", "_read_object"),
        Route("PUT", _NS + "/{resource}/{name}", "object", "_replace_object"),
        Route("PATCH", _NS + "/{resource}/{name}", "object", "_patch_object"),
        Route("DELETE", _NS + "/{resource}/{name}", "object", "_delete_object"),
        Route("POST", _GROUP + "/{resource}", "object", "_create_object"),
        Route("GET", _GROUP + "/{resource}", "object", "_list_objects"),
        Route("GET", _GROUP + "/{resource}/{name}", "object", "_read_object"),
        Route("PUT", _GROUP + "/{resource}/{name}", "object", "_replace_object"),
        Route("PATCH", _GROUP + "/{resource}/{name}", "object", "_patch_object"),
        Route("DELETE", _GROUP + "/{resource}/{name}", "object", "_delete_object"),
    )
    states = STATES
    id_pattern = POD_ID_PATTERN
    job_class = EmulatedPod
    cancelled_state = "Failed"
    representative_states = {JobState.ACTIVE: "Running", JobState.SUCCEEDED: "Succeeded", JobState.FAILED: "Failed"}
    born_state = "Pending"
    advance_steps = ((1, "Running"),)
    watch_seconds: float = 1.0
    """How long a watch request waits for an event before its stream ends."""

    def __init__(
        self,
        *,
        polls_to_finish: int | None = None,
        final_state: str = "Succeeded",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        script = (
            Script(self.born_state, self.advance_steps)
            if polls_to_finish is None
            else Script(self.born_state, (*self.advance_steps, (polls_to_finish, final_state)))
        )
        super().__init__(host=host, port=port, script=script)
        self.book.initial_script = script
        self._next_pod_id: str | None = None
        self._resource_version = 0
        self._changed = threading.Condition(self.book.lock)
        self.objects: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        """Non-pod objects: ``(api path, namespace, resource, name)`` -> the object."""
        self.fake_submit = FakeSubmitBehavior()
        """What the stand-in ``spark-submit`` does (read over the control plane at start-up)."""

    # ------------------------------------------------------------------ the kit's hooks

    def new_job_id(self) -> Any:
        """The external ID of the pod being created: ``"<namespace>:<name>"``."""
        if self._next_pod_id is None:
            raise RuntimeError("pods are only created through the API")
        return self._next_pod_id

    def enter_state(self, job: EmulatedPod, state: str, **fields: Any) -> None:
        """Set the pod's state and move its resource version (watches see the change)."""
        job.state = state
        self._touch(job)

    def error_reply(self, error: ApiError) -> Reply:
        """A ``kind: Status`` failure, as the API server sends it (injected faults too).

        ``error.details`` may hold ``reason`` (default: the status's ``StatusReason``), ``details`` (the
        Status ``details`` object) and ``retry_after_seconds`` (a ``Retry-After`` header, as with 429).
        """
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": error.message,
            "reason": error.details.get("reason", _REASONS.get(error.status, "Unknown")),
            "code": error.status,
        }
        if "details" in error.details:
            body["details"] = error.details["details"]
        headers = {}
        if "retry_after_seconds" in error.details:
            headers["Retry-After"] = str(error.details["retry_after_seconds"])
        return Reply(error.status, body, headers=headers)

    def not_found_reply(self, request: Request) -> Reply:
        """The API server's answer to a path it does not serve."""
        return self.error_reply(ApiError(404, "the server could not find the requested resource"))

    def wrong_method_reply(self, request: Request) -> Reply:
        """A known path with a method it does not serve."""
        return self.error_reply(ApiError(405, "the server does not allow this method on the requested resource"))

    # ------------------------------------------------------------------ controls

    @property
    @control
    def fake_submit_behavior(self) -> FakeSubmitBehavior:
        """What the stand-in ``spark-submit`` reads at start-up."""
        return self.fake_submit

    @control
    def set_fake_submit_behavior(self, **fields: Any) -> None:
        """Change the stand-in ``spark-submit``'s :class:`~.emulator.FakeSubmitBehavior` fields."""
        self.fake_submit = dataclasses.replace(self.fake_submit, **fields)

    @control
    def pod(self, external_id: str) -> dict[str, Any]:
        """Return a pod as the API would render it now (forgotten pods too), without a status call.

        Raises:
            KeyError: No such pod was ever created.
        """
        return self.render_pod(self.book.get(external_id))

    @property
    def pods(self) -> list[EmulatedPod]:
        """Every pod created, oldest first (deleted ones included, flagged)."""
        return self.book.jobs

    @control
    def reset(self) -> None:
        """Forget every pod, object, fault and counter."""
        with self.book.lock:
            super().reset()
            self.objects.clear()

    # ------------------------------------------------------------------ rendering

    def _next_version(self) -> str:
        with self.book.lock:
            self._resource_version += 1
            self._changed.notify_all()
            return str(self._resource_version)

    def _touch(self, pod: EmulatedPod) -> None:
        """Give a pod a new resource version (lock held)."""
        pod.version = int(self._next_version())
        pod.created_version = pod.created_version or pod.version
        if pod.manifest:
            pod.manifest["metadata"]["resourceVersion"] = str(pod.version)

    def render_pod(self, pod: EmulatedPod) -> dict[str, Any]:
        """Render a pod: its manifest with ``status`` from its state (see the module docstring)."""
        with self.book.lock:
            manifest = copy.deepcopy(pod.manifest)
            state = pod.state
        manifest["apiVersion"], manifest["kind"] = "v1", "Pod"
        containers = [c.get("name", "") for c in (manifest.get("spec") or {}).get("containers") or []]
        driver = DRIVER_CONTAINER if DRIVER_CONTAINER in containers else (containers or [DRIVER_CONTAINER])[0]
        created = manifest["metadata"]["creationTimestamp"]
        phase = {"DriverSucceeded": "Running", "DriverFailed": "Running"}.get(state, state)
        status: dict[str, Any] = {"phase": phase, "qosClass": "BestEffort"}
        if state == "Unknown":
            manifest["status"] = status
            return manifest
        status["conditions"] = [{"type": "PodScheduled", "status": "True", "lastTransitionTime": created}]
        if state != "Pending":
            status |= {"hostIP": "10.0.0.1", "podIP": "10.244.0.7", "startTime": created}
        names = [*containers] or [driver]
        if state in ("DriverSucceeded", "DriverFailed") and SIDECAR_CONTAINER not in names:
            names.append(SIDECAR_CONTAINER)
        status["containerStatuses"] = [self._container_status(manifest, name, name == driver, state) for name in names]
        manifest["status"] = status
        return manifest

    @staticmethod
    def _container_status(manifest: Mapping[str, Any], name: str, is_driver: bool, state: str) -> dict[str, Any]:
        image = next(
            (c.get("image") for c in manifest.get("spec", {}).get("containers", []) if c.get("name") == name), None
        )
        started = manifest["metadata"]["creationTimestamp"]
        container: dict[str, Any] = {
            "name": name,
            "image": image or ("docker.io/istio/proxyv2:1.26.0" if name == SIDECAR_CONTAINER else "spark:4.2.0"),
            "imageID": "",
            "ready": False,
            "restartCount": 0,
            "started": False,
        }
        if state == "Pending":
            container["state"] = {"waiting": {"reason": "ContainerCreating"}}
            return container
        exit_code = _EXIT_CODES.get(state) if is_driver or state in ("Succeeded", "Failed") else None
        container["containerID"] = (
            f"containerd://{uuid.uuid5(uuid.NAMESPACE_OID, manifest['metadata']['uid'] + name).hex}"
        )
        if exit_code is None:
            container |= {"ready": True, "started": True, "state": {"running": {"startedAt": started}}}
        else:
            reason = "Completed" if exit_code == 0 else "Error"
            container["state"] = {
                "terminated": {
                    "exitCode": exit_code,
                    "reason": reason,
                    "startedAt": started,
                    "finishedAt": _now(),
                    "containerID": container["containerID"],
                }
            }
        return container

    def _list(self, kind: str, items: list[dict[str, Any]], request: Request) -> Reply:
        try:
            labels, fields = (
                label_matcher(request.query.get("labelSelector")),
                field_matcher(request.query.get("fieldSelector")),
            )
        except SelectorError as error:
            raise ApiError(400, str(error)) from None
        selected = [item for item in items if labels(item) and fields(item)]
        version = str(self._resource_version)
        if request.query.get("watch") in ("true", "1"):
            events = "".join(json.dumps({"type": "ADDED", "object": item}) + "\n" for item in selected)
            return Reply(200, events, content_type="application/json")
        return Reply(
            200, {"kind": kind, "apiVersion": "v1", "metadata": {"resourceVersion": version}, "items": selected}
        )

    # ------------------------------------------------------------------ discovery

    def _version(self, request: Request) -> Reply:
        return Reply(200, SERVER_VERSION)

    def _api(self, request: Request) -> Reply:
        return Reply(
            200,
            {
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": f"{self._host}:{self.port}"}
                ],
            },
        )

    def _api_v1(self, request: Request) -> Reply:
        verbs = ["create", "delete", "get", "list", "patch", "update", "watch"]
        resources = [
            {"name": name, "singularName": "", "namespaced": True, "kind": kind, "verbs": verbs}
            for name, kind in (
                ("pods", "Pod"),
                ("configmaps", "ConfigMap"),
                ("services", "Service"),
                ("secrets", "Secret"),
                ("persistentvolumeclaims", "PersistentVolumeClaim"),
            )
        ]
        return Reply(200, {"kind": "APIResourceList", "groupVersion": "v1", "resources": resources})

    def _apis(self, request: Request) -> Reply:
        return Reply(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": []})

    # ------------------------------------------------------------------ pods

    def _pod_body(self, request: Request) -> dict[str, Any]:
        try:
            body = request.json()
        except ValueError:
            raise ApiError(400, "the object provided is unrecognized (must be of type Pod)") from None
        if not isinstance(body, dict) or body.get("kind", "Pod") != "Pod":
            raise ApiError(400, "the object provided is unrecognized (must be of type Pod)")
        return body

    def _create_pod(self, request: Request) -> Reply:
        namespace = request.params["namespace"]
        body = self._pod_body(request)
        metadata = dict(body.get("metadata") or {})
        if metadata.get("namespace", namespace) != namespace:
            raise ApiError(400, "the namespace of the provided object does not match the namespace sent on the request")
        name = metadata.get("name") or (
            metadata["generateName"] + secrets.token_hex(3)[:5] if metadata.get("generateName") else ""
        )
        if not _NAME.match(name):
            raise ApiError(
                422,
                f'Pod "{name}" is invalid: metadata.name: Invalid value: "{name}": a lowercase RFC 1123 subdomain',
                details={"name": name, "kind": "Pod"},
            )
        if not (body.get("spec") or {}).get("containers"):
            raise ApiError(
                422, f'Pod "{name}" is invalid: spec.containers: Required value', details={"name": name, "kind": "Pod"}
            )
        external_id = f"{namespace}:{name}"
        metadata |= {"name": name, "namespace": namespace, "uid": str(uuid.uuid4()), "creationTimestamp": _now()}
        manifest = {"metadata": metadata, "spec": body["spec"]}
        token = (metadata.get("labels") or {}).get(TOKEN_LABEL)
        with self.book.lock:
            if self.book.find(external_id) is not None:
                raise ApiError(409, f'pods "{name}" already exists', details={"name": name, "kind": "pods"})
            self._next_pod_id = external_id
            try:
                job, _ = self.book.submit(token, body, manifest=manifest)
            finally:
                self._next_pod_id = None
        return Reply(201, self.render_pod(job))

    def _pod(self, request: Request, *, status_call: bool, observed: bool = True) -> EmulatedPod:
        external_id = f"{request.params['namespace']}:{request.params['name']}"
        pod = self.status_call(external_id, observed=observed) if status_call else self.book.find(external_id)
        if pod is None:
            name = request.params["name"]
            raise ApiError(404, f'pods "{name}" not found', details={"name": name, "kind": "pods"})
        return pod

    def _read_pod(self, request: Request) -> Reply:
        agent = request.header("User-Agent") or ""
        own_poll = agent.startswith(("fabric8-kubernetes-client", FAKE_SUBMIT_USER_AGENT))
        return Reply(200, self.render_pod(self._pod(request, status_call=True, observed=not own_poll)))

    def _list_pods(self, request: Request) -> Reply:
        namespace = request.params.get("namespace")
        if request.query.get("watch") in ("true", "1"):
            return self._watch_pods(request, namespace)
        pods = [
            self.render_pod(pod)
            for pod in self.book.jobs
            if not pod.forgotten and (namespace is None or pod.namespace == namespace)
        ]
        return self._list("PodList", pods, request)

    def _watch_pods(self, request: Request, namespace: str | None) -> Reply:
        """Answer a watch as a long poll (see the module docstring).

        The events after ``resourceVersion``, waiting up to :attr:`watch_seconds` for one, then the end of
        the stream; the client watches again from there.
        """
        try:
            labels, fields = (
                label_matcher(request.query.get("labelSelector")),
                field_matcher(request.query.get("fieldSelector")),
            )
        except SelectorError as error:
            raise ApiError(400, str(error)) from None
        since = int(request.query.get("resourceVersion") or 0)
        deadline = time.monotonic() + min(self.watch_seconds, float(request.query.get("timeoutSeconds") or 1e9))
        with self.book.lock:
            while True:
                events = []
                for pod in self.book.jobs:
                    if (namespace is not None and pod.namespace != namespace) or pod.version <= since:
                        continue
                    if pod.forgotten and pod.created_version <= since:
                        events.append(("DELETED", pod))
                    elif not pod.forgotten:
                        events.append(("ADDED" if pod.created_version > since else "MODIFIED", pod))
                rendered = [(kind, self.render_pod(pod)) for kind, pod in events]
                rendered = [(kind, obj) for kind, obj in rendered if labels(obj) and fields(obj)]
                remaining = deadline - time.monotonic()
                if rendered or remaining <= 0:
                    break
                self._changed.wait(remaining)
        lines = "".join(json.dumps({"type": kind, "object": obj}) + "\n" for kind, obj in rendered)
        return Reply(200, lines, content_type="application/json")

    def _delete_pod(self, request: Request) -> Reply:
        pod = self._pod(request, status_call=False)
        rendered = self.render_pod(pod)
        rendered["metadata"]["deletionTimestamp"] = _now()
        rendered["metadata"]["deletionGracePeriodSeconds"] = 30
        self.book.cancel(pod.external_id)
        with self.book.lock:
            pod.deleted = True
            self.book.forget(pod.external_id, release_token=True)
            self._touch(pod)
        return Reply(200, rendered)

    def _patch_pod(self, request: Request) -> Reply:
        pod = self._pod(request, status_call=False)
        patch = self._patch_body(request)
        with self.book.lock:
            merged = merge_patch(pod.manifest, {k: v for k, v in patch.items() if k in ("metadata", "spec")})
            pod.manifest = merged
            self._touch(pod)
        return Reply(200, self.render_pod(pod))

    def _pod_log(self, request: Request) -> Reply:
        self._pod(request, status_call=False)
        return Reply(200, "", content_type="text/plain")

    # ------------------------------------------------------------------ the generic store

    @staticmethod
    def _key(request: Request) -> tuple[str, str, str, str]:
        params = request.params
        api = f"apis/{params['group']}/{params['version']}" if "group" in params else "api/v1"
        return api, params["namespace"], params["resource"], params.get("name", "")

    @staticmethod
    def _patch_body(request: Request) -> dict[str, Any]:
        content_type = (request.header("Content-Type") or "").split(";")[0].strip()
        try:
            body = request.json()
        except ValueError:
            if content_type != "application/apply-patch+yaml":
                raise ApiError(400, f"unable to decode the {content_type or 'patch'} body") from None
            try:  # JSON is YAML, and fabric8 sends JSON; a YAML body needs PyYAML (Airflow and kubernetes have it)
                body = importlib.import_module("yaml").safe_load(request.body.decode("utf-8"))
            except Exception:  # noqa: BLE001 - any parse error is the client's
                raise ApiError(400, "unable to decode the apply-patch+yaml body") from None
        if content_type == "application/json-patch+json" or not isinstance(body, dict):
            raise ApiError(415, f"the emulator does not support {content_type or 'this'} patches")
        return body

    def _stored(self, request: Request) -> dict[str, Any]:
        found = self.objects.get(self._key(request))
        if found is None:
            resource, name = request.params["resource"], request.params["name"]
            raise ApiError(404, f'{resource} "{name}" not found', details={"name": name, "kind": resource})
        return found

    def _store(self, key: tuple[str, str, str, str], body: Mapping[str, Any], *, create: bool) -> dict[str, Any]:
        metadata = dict(body.get("metadata") or {})
        _, namespace, resource, name = key
        with self.book.lock:
            previous = self.objects.get(key)
            if create and previous is not None:
                raise ApiError(409, f'{resource} "{name}" already exists', details={"name": name, "kind": resource})
            if previous is not None:
                for field in ("uid", "creationTimestamp"):
                    metadata[field] = previous["metadata"][field]
            else:
                metadata |= {"uid": str(uuid.uuid4()), "creationTimestamp": _now()}
            metadata |= {"name": name, "namespace": namespace, "resourceVersion": self._next_version()}
            stored = {**body, "metadata": metadata}
            self.objects[key] = stored
            return stored

    def _create_object(self, request: Request) -> Reply:
        body = request.json()
        name = (body.get("metadata") or {}).get("name", "")
        if not _NAME.match(name):
            raise ApiError(422, f'{request.params["resource"]} "{name}" is invalid: metadata.name: Required value')
        key = (*self._key(request)[:3], name)
        return Reply(201, self._store(key, body, create=True))

    def _read_object(self, request: Request) -> Reply:
        return Reply(200, self._stored(request))

    def _list_objects(self, request: Request) -> Reply:
        api, namespace, resource, _ = self._key(request)
        items = [obj for (a, ns, r, _), obj in self.objects.items() if (a, ns, r) == (api, namespace, resource)]
        kind = (items[0].get("kind") if items else None) or resource.capitalize()
        return self._list(f"{kind}List", items, request)

    def _replace_object(self, request: Request) -> Reply:
        self._stored(request)
        return Reply(200, self._store(self._key(request), request.json(), create=False))

    def _patch_object(self, request: Request) -> Reply:
        key = self._key(request)
        patch = self._patch_body(request)
        apply = (request.header("Content-Type") or "").startswith("application/apply-patch")
        current = self.objects.get(key)
        if current is None and not apply:
            self._stored(request)
        merged = merge_patch(current or {}, patch)
        return Reply(201 if current is None else 200, self._store(key, merged, create=False))

    def _delete_object(self, request: Request) -> Reply:
        found = self._stored(request)
        with self.book.lock:
            del self.objects[self._key(request)]
        return Reply(200, found)
