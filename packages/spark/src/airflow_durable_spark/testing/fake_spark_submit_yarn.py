"""The stand-in ``spark-submit --master yarn --deploy-mode cluster``, against a ResourceManager's REST API.

The real client (``org.apache.spark.deploy.yarn.Client``) talks Hadoop IPC to ``yarn.resourcemanager.address``
(port 8032), which no HTTP emulator can serve. This stand-in does the same steps through the RM's REST API at
``yarn.resourcemanager.webapp.address`` (port 8088) of ``$HADOOP_CONF_DIR`` (else ``$YARN_CONF_DIR``)
``/yarn-site.xml`` (a ``spark.hadoop.yarn.resourcemanager.webapp.address`` property wins, as Spark copies
``spark.hadoop.*`` into the Hadoop configuration): new application, submit (with ``spark.yarn.tags``,
``--name``, ``spark.yarn.queue``, application type ``SPARK``), application reports. It prints to stderr what
Spark 4's client prints in cluster mode (``Client.scala``'s ``run``, ``submitApplication``,
``monitorApplication`` and ``formatReportDetails``; Hadoop's ``YarnClientImpl``; Spark's shutdown hook), with
the log4j2 default pattern ``%d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n``:

* ``spark.yarn.submit.waitAppCompletion=false``: one application report, then exit 0 (1 when the application
  is already ``FAILED`` or ``KILLED``);
* ``true`` (the default): a report every ``spark.yarn.report.interval`` (default 1 s) until the application
  ends, the details whenever the state changes; exit 1 when it failed, was killed or ended ``UNDEFINED``.

The ID first appears in the staging-directory paths of the ``Uploading resource`` lines, before the real
client submits. The behaviour knobs (:class:`~.emulator.FakeSubmitBehavior`, read from the emulator at
``$FAKE_SPARK_SUBMIT_EMULATOR_URL``, else the RM) ``crash_after_create`` and ``pause_after_create_ms``
submit *before* printing anything that names the application, then exit 137 or pause: the application
exists while the caller has not seen its ID (the submit window).
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import os
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from airflow_durable_spark.testing.fake_spark_submit import (
    UsageError,
    _behavior,
    _properties_file,
    _raw,
    _resource_uri,
)
from airflow_durable_spark.testing.yarn import FAKE_SUBMIT_USER_AGENT, FINAL_YARN_STATES

WEBAPP_ADDRESS = "yarn.resourcemanager.webapp.address"
"""The RM web address this stand-in uses (the real client uses ``yarn.resourcemanager.address`` for IPC)."""
IPC_ADDRESS = "yarn.resourcemanager.address"
_MEMORY_OVERHEAD_MIN_MB = 384
_MEMORY_OVERHEAD_FACTOR = 0.10
_CONNECT_ATTEMPTS = 3


class SubmitFailed(Exception):
    """The submission failed the way the real client throws (the exception line to print)."""


def run(args: argparse.Namespace) -> int:
    """Submit to YARN in cluster mode through the RM REST API, printing what the real client prints.

    Args:
        args: The parsed command line (:func:`~.fake_spark_submit.parse_args`).

    Returns:
        The exit code.

    Raises:
        UsageError: ``--kill``/``--status``, client deploy mode, or no primary resource.
    """
    if args.kill or args.status:
        raise UsageError("Killing and requesting the status of submissions is not supported on YARN.")
    properties = _properties_file(args.properties_file) | args.properties
    if properties.get("spark.submit.deployMode") != "cluster":
        raise UsageError("the YARN stand-in only emulates --deploy-mode cluster")
    if not args.primary_resource:
        raise UsageError("Must specify a primary resource (JAR or Python or R file)")
    conf_dir = os.environ.get("HADOOP_CONF_DIR") or os.environ.get("YARN_CONF_DIR")
    if not conf_dir:
        _exception(
            "org.apache.spark.SparkException: When running with master 'yarn' either HADOOP_CONF_DIR or "
            "YARN_CONF_DIR must be set in the environment."
        )
        return 1
    site = read_yarn_site(Path(conf_dir) / "yarn-site.xml")
    site.update({k.removeprefix("spark.hadoop."): v for k, v in properties.items() if k.startswith("spark.hadoop.")})
    temp_dirs = [f"/tmp/spark-{uuid.uuid4()}", f"/tmp/spark-{uuid.uuid4()}"]
    try:
        code = _Submission(args, properties, site, resource_manager_url(site)).run()
    except SubmitFailed as exc:
        _exception(str(exc))
        code = 1
    _shutdown(temp_dirs)
    return code


def read_yarn_site(path: Path) -> dict[str, str]:
    """The ``<property><name/><value/></property>`` pairs of a Hadoop configuration file (none if missing)."""
    if not path.is_file():
        return {}
    found: dict[str, str] = {}
    for prop in ET.parse(path).getroot().iter("property"):
        name, value = prop.findtext("name"), prop.findtext("value")
        if name and value is not None:
            found[name.strip()] = value.strip()
    return found


def resource_manager_url(site: dict[str, str]) -> str:
    """The RM's ``http://host:port`` from ``yarn.resourcemanager.webapp.address`` (Hadoop's defaults otherwise)."""
    host = site.get("yarn.resourcemanager.hostname", "0.0.0.0")
    address = site.get(WEBAPP_ADDRESS) or f"{host}:8088"
    address = address.replace("${yarn.resourcemanager.hostname}", host)
    return (address if "://" in address else f"http://{address}").rstrip("/")


class _Submission:
    def __init__(self, args: argparse.Namespace, properties: dict[str, str], site: dict[str, str], rm: str) -> None:
        self.args = args
        self.properties = properties
        self.site = site
        self.rm = rm
        self.user = args.proxy_user or os.environ.get("HADOOP_USER_NAME") or getpass.getuser()
        self.behavior = _behavior(rm)

    def run(self) -> int:
        props = self.properties
        _raw("WARNING: Using incubator modules: jdk.incubator.vector")
        _raw("Using Spark's default log4j profile: org/apache/spark/log4j2-defaults.properties")
        native = "Unable to load native-hadoop library for your platform... using builtin-java classes where applicable"
        _log("WARN", "NativeCodeLoader", native)
        _log("INFO", "DefaultNoHARMFailoverProxyProvider", f"Connecting to ResourceManager at {self._ipc_address()}")
        _log("INFO", "Configuration", "resource-types.xml not found")
        _log("INFO", "ResourceUtils", "Unable to find 'resource-types.xml'.")
        nodes = (self._call("GET", "/ws/v1/cluster/metrics").get("clusterMetrics") or {}).get("activeNodes", 0)
        _client(f"Requesting a new application from cluster with {nodes} NodeManagers")
        new_app = self._call("POST", "/ws/v1/cluster/apps/new-application")
        app_id = str(new_app["application-id"])
        max_mb = int((new_app.get("maximum-resource-capability") or {}).get("memory", 0))
        am_mb = _memory_mb(props.get("spark.driver.memory", "1g"))
        am_overhead = _overhead(am_mb, props.get("spark.driver.memoryOverhead"))
        _client(
            "Verifying our application has not requested more than the maximum memory capability of the cluster "
            f"({max_mb} MB per container)"
        )
        if am_mb + am_overhead > max_mb:
            raise SubmitFailed(
                f"java.lang.IllegalArgumentException: Required AM memory ({am_mb}+{am_overhead} MB) is above the "
                f"max threshold ({max_mb} MB) of this cluster! Please check the values of "
                "'yarn.scheduler.maximum-allocation-mb' and/or 'yarn.nodemanager.resource.memory-mb'."
            )
        _client(f"Will allocate AM container, with {am_mb + am_overhead} MB memory including {am_overhead} MB overhead")
        request = self._request(app_id, am_mb + am_overhead)
        early = self.behavior.crash_after_create or self.behavior.pause_after_create_ms > 0
        if early:  # the knobs: the application exists before its ID is printed
            self._submit(app_id, request)
            if self.behavior.crash_after_create:
                os._exit(137)
            time.sleep(self.behavior.pause_after_create_ms / 1000)
        _client("Setting up container launch context for our AM")
        _client("Setting up the launch environment for our AM container")
        _client("Preparing resources for our AM container")
        fallback = "Neither spark.yarn.jars nor spark.yarn.archive is set, falling back to uploading libraries under"
        _client(f"{fallback} SPARK_HOME.", "WARN")
        staging = f"file:{Path.home()}/.sparkStaging/{app_id}"
        libs = f"__spark_libs__{uuid.uuid4().int % 10**19}.zip"
        conf = f"__spark_conf__{uuid.uuid4().int % 10**19}.zip"
        resource = _resource_uri(self.args.primary_resource)
        for source, target in (
            (f"file:/tmp/spark-{uuid.uuid4()}/{libs}", libs),
            (resource, resource.rsplit("/", 1)[-1]),
            (f"file:/tmp/spark-{uuid.uuid4()}/{conf}", "__spark_conf__.zip"),
        ):
            _client(f"Uploading resource {source} -> {staging}/{target}")
        for what in ("view acls", "modify acls"):
            _log("INFO", "SecurityManager", f"Changing {what} to: {self.user}")
        for what in ("view acls groups", "modify acls groups"):
            _log("INFO", "SecurityManager", f"Changing {what} to: ")
        _log(
            "INFO",
            "SecurityManager",
            f"SecurityManager: authentication disabled; ui acls disabled; users with view permissions: {self.user}; "
            f"groups with view permissions: EMPTY; users with modify permissions: {self.user}; groups with modify "
            "permissions: EMPTY; RPC SSL disabled",
        )
        _client(f"Submitting application {app_id} to ResourceManager")
        if not early:
            self._submit(app_id, request)
        _log("INFO", "YarnClientImpl", f"Submitted application {app_id}")
        wait = props.get("spark.yarn.submit.waitAppCompletion", "true").strip().lower() != "false"
        code = self._monitor(app_id) if wait else self._report_once(app_id)
        time.sleep(max(0, self.behavior.exit_delay_ms) / 1000)
        return code or self.behavior.exit_code

    def _ipc_address(self) -> str:
        host = self.site.get("yarn.resourcemanager.hostname", "0.0.0.0")
        address = (self.site.get(IPC_ADDRESS) or f"{host}:8032").replace("${yarn.resourcemanager.hostname}", host)
        name, _, port = address.rpartition(":")
        try:
            ip = socket.gethostbyname(name)
        except OSError:
            ip = name
        return f"{'' if name == ip else name}/{ip}:{port}"

    def _request(self, app_id: str, am_mb: int) -> dict[str, Any]:
        props = self.properties
        main_class = self.args.main_class
        name = props.get("spark.app.name") or main_class or Path(self.args.primary_resource).name
        tags = [t.strip() for t in props.get("spark.yarn.tags", "").split(",") if t.strip()]
        request: dict[str, Any] = {
            "application-id": app_id,
            "application-name": name,
            "application-type": "SPARK",
            "queue": props.get("spark.yarn.queue", "default"),
            "application-tags": {"tag": tags},
            "resource": {"memory": am_mb, "vCores": int(props.get("spark.driver.cores", "1"))},
            "am-container-spec": {
                "commands": {
                    "command": "{{JAVA_HOME}}/bin/java -server org.apache.spark.deploy.yarn.ApplicationMaster "
                    f"--class {main_class or ''} --jar {self.args.primary_resource}"
                }
            },
            "unmanaged-AM": False,
        }
        if props.get("spark.yarn.maxAppAttempts"):
            request["max-app-attempts"] = int(props["spark.yarn.maxAppAttempts"])
        return request

    def _submit(self, app_id: str, request: dict[str, Any]) -> None:
        self._call("POST", "/ws/v1/cluster/apps", request, expect=(202,))

    def _report(self, app_id: str) -> dict[str, Any] | None:
        status, text = self._http("GET", f"/ws/v1/cluster/apps/{app_id}")
        if status == 404:
            return None
        if status != 200:
            raise SubmitFailed(f"org.apache.hadoop.yarn.exceptions.YarnException: HTTP {status}: {text[:200]}")
        app: dict[str, Any] = json.loads(text)["app"]
        return app

    def _report_once(self, app_id: str) -> int:
        app = self._report(app_id)
        if app is None:
            raise SubmitFailed(
                f"org.apache.hadoop.yarn.exceptions.ApplicationNotFoundException: Application with id '{app_id}' "
                "doesn't exist in RM."
            )
        _client(f"Application report for {app_id} (state: {app['state']})")
        _client(format_report_details(app))
        if app["state"] in ("FAILED", "KILLED"):
            raise SubmitFailed(
                f"org.apache.spark.SparkException: Application {app_id} finished with status: {app['state']}"
            )
        return 0

    def _monitor(self, app_id: str) -> int:
        interval = _duration_seconds(self.properties.get("spark.yarn.report.interval", "1s"))
        last: str | None = None
        while True:
            time.sleep(interval)
            try:
                app = self._report(app_id)
            except (OSError, SubmitFailed, ValueError, KeyError):
                _client(f"Failed to contact YARN for application {app_id}.", "ERROR")
                raise SubmitFailed(
                    f"org.apache.spark.SparkException: Application {app_id} finished with failed status"
                ) from None
            if app is None:
                _client(f"Application {app_id} not found.", "ERROR")
                raise SubmitFailed(f"org.apache.spark.SparkException: Application {app_id} is killed")
            state, final = str(app["state"]), str(app["finalStatus"])
            _client(f"Application report for {app_id} (state: {state})")
            if state != last:
                _client(format_report_details(app))
            last = state
            if state in FINAL_YARN_STATES:
                break
        if state == "FAILED" or final == "FAILED":
            if app.get("diagnostics"):
                _client(f"Application diagnostics message: {app['diagnostics']}", "ERROR")
            raise SubmitFailed(f"org.apache.spark.SparkException: Application {app_id} finished with failed status")
        if state == "KILLED" or final == "KILLED":
            raise SubmitFailed(f"org.apache.spark.SparkException: Application {app_id} is killed")
        if final == "UNDEFINED":
            raise SubmitFailed(
                f"org.apache.spark.SparkException: The final status of application {app_id} is undefined"
            )
        return 0

    def _http(self, method: str, path: str, body: Any = None) -> tuple[int, str]:
        query = "?" + urllib.parse.urlencode({"user.name": self.user})
        request = urllib.request.Request(
            self.rm + path + query, method=method, headers={"User-Agent": FAKE_SUBMIT_USER_AGENT}
        )
        if body is not None:
            request.data = json.dumps(body).encode("utf-8")
            request.add_header("Content-Type", "application/json")
        for attempt in range(_CONNECT_ATTEMPTS):
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    return int(response.status), response.read().decode("utf-8", "replace")
            except urllib.error.HTTPError as exc:
                return int(exc.code), exc.read().decode("utf-8", "replace")
            except OSError:
                _log(
                    "INFO",
                    "Client",
                    f"Retrying connect to server: {self._ipc_address()}. Already tried {attempt} time(s); "
                    f"retry policy is RetryUpToMaximumCountWithFixedSleep(maxRetries={_CONNECT_ATTEMPTS}, "
                    "sleepTime=200 MILLISECONDS)",
                )
                time.sleep(0.2)
        raise SubmitFailed(f"java.net.ConnectException: Call to {self._ipc_address()} failed on connection exception")

    def _call(self, method: str, path: str, body: Any = None, *, expect: tuple[int, ...] = (200,)) -> dict[str, Any]:
        status, text = self._http(method, path, body)
        if status not in expect:
            try:
                remote = json.loads(text)["RemoteException"]
                message = f"{remote.get('javaClassName')}: {remote.get('message')}"
            except (ValueError, KeyError, TypeError):
                message = f"HTTP {status}: {text.strip()[:200]}"
            raise SubmitFailed(f"org.apache.hadoop.yarn.exceptions.YarnException: {message}")
        parsed = json.loads(text) if text.strip() else {}
        return parsed if isinstance(parsed, dict) else {}


def format_report_details(app: dict[str, Any]) -> str:
    """``Client.formatReportDetails`` of an RM ``app`` object: a newline, a tab, ``key: value`` per field.

    Empty values print as ``N/A``.

    The RPC port and the client token are not in the REST view: ``-1`` and ``N/A`` (an unsecured cluster).
    """
    host = str(app.get("amHostHttpAddress") or "").rpartition(":")[0]
    details = (
        ("client token", ""),
        ("diagnostics", str(app.get("diagnostics") or "")),
        ("ApplicationMaster host", host),
        ("ApplicationMaster RPC port", "0" if host else "-1"),
        ("queue", str(app.get("queue") or "")),
        ("start time", str(app.get("startedTime", ""))),
        ("final status", str(app.get("finalStatus") or "")),
        ("tracking URL", str(app.get("trackingUrl") or "")),
        ("user", str(app.get("user") or "")),
    )
    return "".join(f"\n\t {key}: {value or 'N/A'}" for key, value in details)


def _memory_mb(text: str) -> int:
    """Spark's ``byteStringAsMb``: ``512m``, ``2g``, ``1024`` (MiB)."""
    found = re.fullmatch(r"\s*(\d+)\s*([kmgtp]?)b?\s*", text.lower())
    if not found:
        raise UsageError(f"Invalid memory size: {text}")
    number, unit = int(found.group(1)), found.group(2) or "m"
    return int(number * {"k": 1 / 1024, "m": 1, "g": 1024, "t": 1024**2, "p": 1024**3}[unit])


def _overhead(memory_mb: int, configured: str | None) -> int:
    if configured:
        return _memory_mb(configured)
    return max(int(_MEMORY_OVERHEAD_FACTOR * memory_mb), _MEMORY_OVERHEAD_MIN_MB)


def _duration_seconds(text: str) -> float:
    """A Spark time string in milliseconds by default: ``1s``, ``500ms``, ``1000``."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?\s*", text.lower())
    if not found:
        raise UsageError(f"Invalid time string: {text}")
    factor = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}[found.group(2) or "ms"]
    return float(found.group(1)) * factor


def _log(level: str, logger: str, message: str) -> None:
    """Print like Spark's default log4j2 console appender (``%d{yy/MM/dd HH:mm:ss} %p %c{1}: %m``)."""
    _raw(f"{dt.datetime.now():%y/%m/%d %H:%M:%S} {level} {logger}: {message}")


def _client(message: str, level: str = "INFO") -> None:
    _log(level, "Client", message)


def _shutdown(temp_dirs: list[str]) -> None:
    _log("INFO", "ShutdownHookManager", "Shutdown hook called")
    for directory in temp_dirs:
        _log("INFO", "ShutdownHookManager", f"Deleting directory {directory}")


def _exception(text: str) -> None:
    """Print an uncaught exception as the JVM does (the caller exits 1 after the shutdown hook)."""
    _raw(f'Exception in thread "main" {text}')
    _raw("\tat org.apache.spark.deploy.yarn.Client.run(Client.scala)")
    _raw("\tat org.apache.spark.deploy.yarn.YarnClusterApplication.start(Client.scala)")
    _raw("\tat org.apache.spark.deploy.SparkSubmit.runMain(SparkSubmit.scala)")
