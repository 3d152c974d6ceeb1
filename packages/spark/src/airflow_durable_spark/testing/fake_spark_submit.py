"""A fake ``spark-submit`` that talks to :class:`~.emulator.SparkMasterEmulator` (or any REST master).

It takes the real command line (what Airflow's ``SparkSubmitHook`` builds), sends the real client's
``CreateSubmissionRequest``, polls the status once, and prints the real client's log lines to stderr, from which
the hook takes the driver ID. It starts in about 0.1 s instead of 2-4 s.

Like the real client it only uses the REST protocol when ``spark.master.rest.enabled`` is ``true`` (``--conf``,
``--properties-file`` or ``$SPARK_CONF_DIR/spark-defaults.conf``); otherwise it fails the way the real one fails
against a REST port (legacy RPC gateway, ``Too large frame``), exit code 1.

Its behaviour (:class:`~.emulator.FakeSubmitBehavior`) comes from the emulator's control plane at
``$FAKE_SPARK_SUBMIT_EMULATOR_URL`` (else the ``--master`` address); ``$FAKE_SPARK_SUBMIT_EXIT_DELAY_MS``
overrides the exit delay. Run it as ``python -m airflow_durable_spark.testing.fake_spark_submit``, or put a
``spark-submit`` script on ``PATH`` with :func:`~.contract.install_fake_spark_submit`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, NoReturn

from airflow_durable_spark.testing.contract import EMULATOR_URL_ENV
from airflow_durable_spark.testing.emulator import (
    FAKE_SUBMIT_USER_AGENT,
    SERVER_SPARK_VERSION,
    FakeSubmitBehavior,
    jackson_pretty,
)

EXIT_DELAY_ENV = "FAKE_SPARK_SUBMIT_EXIT_DELAY_MS"

_PROPERTY_OPTIONS = {  # spark-submit options that set one Spark property (SparkSubmitArguments.scala)
    "--deploy-mode": "spark.submit.deployMode",
    "--name": "spark.app.name",
    "--jars": "spark.jars",
    "--packages": "spark.jars.packages",
    "--exclude-packages": "spark.jars.excludes",
    "--repositories": "spark.jars.repositories",
    "--py-files": "spark.submit.pyFiles",
    "--files": "spark.files",
    "--archives": "spark.archives",
    "--driver-memory": "spark.driver.memory",
    "--driver-java-options": "spark.driver.extraJavaOptions",
    "--driver-library-path": "spark.driver.extraLibraryPath",
    "--driver-class-path": "spark.driver.extraClassPath",
    "--executor-memory": "spark.executor.memory",
    "--driver-cores": "spark.driver.cores",
    "--total-executor-cores": "spark.cores.max",
    "--executor-cores": "spark.executor.cores",
    "--num-executors": "spark.executor.instances",
    "--queue": "spark.yarn.queue",
    "--principal": "spark.kerberos.principal",
    "--keytab": "spark.kerberos.keytab",
}
_EXCLUDED_ENV = frozenset({"SPARK_ENV_LOADED", "SPARK_HOME", "SPARK_CONF_DIR"})


class UsageError(Exception):
    """The command line is not one ``spark-submit`` accepts."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


class _SetProperty(argparse.Action):
    """Set a Spark property: ``--conf KEY=VALUE``, or the option's own (``--name`` sets ``spark.app.name``)."""

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option_string: Any = None
    ) -> None:
        key, sep, value = values.partition("=") if self.dest == "conf" else (self.dest, "=", values)
        if not sep:
            raise argparse.ArgumentError(self, f"Spark config without '=': {values}")
        namespace.properties = {**namespace.properties, key.strip(): value}


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="spark-submit", add_help=False, allow_abbrev=False)
    parser.add_argument("--master")
    parser.add_argument("--class", dest="main_class")
    for option in ("--properties-file", "--kill", "--status", "--proxy-user"):
        parser.add_argument(option)
    parser.add_argument("--conf", "-c", dest="conf", action=_SetProperty, default=argparse.SUPPRESS)
    for option, property_name in _PROPERTY_OPTIONS.items():
        parser.add_argument(option, dest=property_name, action=_SetProperty, default=argparse.SUPPRESS)
    parser.add_argument("--supervise", action="store_true")
    parser.add_argument("--verbose", "-v", action="store_true")
    parser.add_argument("--help", "-h", "--usage-error", action="store_true")
    parser.add_argument("--version", action="store_true")
    parser.add_argument("primary_resource", nargs="?")
    parser.add_argument("app_args", nargs=argparse.REMAINDER)
    parser.set_defaults(properties={})
    return parser


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Parse a ``spark-submit`` command line (options, then the application and its arguments).

    Args:
        argv: Arguments after the program name.

    Returns:
        The options by name (``master``, ``main_class``, ``properties_file``, ``kill``, ``status``,
        ``supervise``, ``verbose``, ``help``, ``version``), ``properties`` (set by ``--conf`` and by options
        such as ``--name``; the last one wins), ``primary_resource`` and ``app_args``.

    Raises:
        UsageError: An unknown option, a missing option value, or a ``--conf`` without ``=``.
    """
    return _parser().parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the fake ``spark-submit``.

    Args:
        argv: Arguments after the program name (default ``sys.argv[1:]``).

    Returns:
        The exit code.
    """
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
        if args.version:
            _raw(f"version {SERVER_SPARK_VERSION} (fake spark-submit)")
            return 0
        if args.help or not args.master:
            _raw("Usage: spark-submit [options] <app jar> [app arguments]  (fake: needs --master)")
            return 0 if args.help else 1
        if args.master == "yarn":
            from airflow_durable_spark.testing.fake_spark_submit_yarn import run as run_yarn

            return run_yarn(args)
        if args.master.startswith("k8s://"):
            from airflow_durable_spark.testing import fake_spark_submit_k8s  # imported late: it imports this module

            return fake_spark_submit_k8s.submit(args)
        if not args.master.startswith("spark://") or "," in args.master:
            raise UsageError(f"the fake spark-submit supports one spark://host:port master, got {args.master}")
        if not args.status and not args.kill:
            return _submit(args, args.master)
        if args.status:
            _log("INFO", f"Submitting a request for the status of submission {args.status} in {args.master}.")
            response, text = _call("GET", f"/v1/submissions/status/{args.status}", args.master)
        else:
            _log("INFO", f"Submitting a request to kill submission {args.kill} in {args.master}.")
            response, text = _call("POST", f"/v1/submissions/kill/{args.kill}", args.master)
        _log("INFO", f"Server responded with {response.get('action')}:")
        _raw(text)
        return 0
    except UsageError as exc:
        _raw(f"Error: {exc}")
        return 1


def _submit(args: argparse.Namespace, master: str) -> int:
    if args.properties.get("spark.submit.deployMode") != "cluster":
        raise UsageError("the fake spark-submit only emulates --deploy-mode cluster")
    if not args.primary_resource:
        raise UsageError("Must specify a primary resource (JAR or Python or R file)")
    properties = _properties_file(args.properties_file) | args.properties
    if properties.get("spark.master.rest.enabled", "false").strip().lower() != "true":
        _raw("java.lang.IllegalArgumentException: Too large frame: 5211883372140375593")
        _fail("org.apache.spark.SparkException: Exception thrown in awaitResult: (REST submission is not enabled)")
    resource = _resource_uri(args.primary_resource)
    if not args.main_class:
        raise UsageError("No main class set in JAR; please specify one with --class.")
    if resource.endswith((".py", ".R")):
        raise UsageError(
            "Cluster deploy mode is currently not supported for python applications on standalone clusters."
        )
    behavior = _behavior(master)
    request = _create_request(args, master, resource, args.main_class, properties)
    _raw("WARNING: Using incubator modules: jdk.incubator.vector")
    _raw("Running Spark using the REST application submission protocol.")
    _raw("Using Spark's default log4j profile: org/apache/spark/log4j2-defaults.properties")
    _log("INFO", f"Submitting a request to launch an application in {master}.")
    response, text = _call("POST", "/v1/submissions/create", master, jackson_pretty(request, sort_top_level=True))
    driver_id = response.get("submissionId")
    if not response.get("success") or not driver_id:
        _log("ERROR", "Application submission failed")
        _log("INFO", f"Server responded with {response.get('action')}:")
        _raw(text)
        return 1
    if behavior.crash_after_create:
        os._exit(137)
    time.sleep(max(0, behavior.pause_after_create_ms) / 1000)
    _log("INFO", f"Submission successfully created as {driver_id}. Polling submission state...")
    _log("INFO", f"Submitting a request for the status of submission {driver_id} in {master}.")
    try:
        state = json.loads(_http("GET", f"{_http_url(master)}/v1/submissions/status/{driver_id}")[1])
        if state.get("success") and state.get("driverState"):
            _log("INFO", f"State of driver {driver_id} is now {state['driverState']}.")
            if state.get("workerId") and state.get("workerHostPort"):
                _log("INFO", f"Driver is running on worker {state['workerId']} at {state['workerHostPort']}.")
        else:
            _log("ERROR", f"Error: Master did not recognize driver {driver_id}.")
    except (OSError, ValueError):
        _log("ERROR", f"Error requesting the status of submission {driver_id}.")
    _log("INFO", "Server responded with CreateSubmissionResponse:")
    _raw(text)
    time.sleep(max(0, behavior.exit_delay_ms) / 1000)
    return behavior.exit_code


def _properties_file(path: str | None) -> dict[str, str]:
    """The ``spark.*`` properties of ``--properties-file``, else of ``spark-defaults.conf``, if it exists."""
    home = os.environ.get("SPARK_HOME")
    conf_dir = os.environ.get("SPARK_CONF_DIR") or (f"{home}/conf" if home else None)
    source = Path(path) if path else Path(conf_dir, "spark-defaults.conf") if conf_dir else None
    if source is None or not source.is_file():
        return {}
    lines = (line.strip() for line in source.read_text(errors="replace").splitlines())  # Java properties syntax
    pairs = ([*re.split(r"\s*[=:\s]\s*", line, maxsplit=1), ""] for line in lines)
    return {pair[0]: pair[1] for pair in pairs if pair[0].startswith("spark.")}


def _create_request(
    args: argparse.Namespace, master: str, resource: str, main_class: str, properties: dict[str, str]
) -> dict[str, Any]:
    """The ``CreateSubmissionRequest`` the real ``RestSubmissionClient`` sends."""
    jars = [resource] + [_resource_uri(j) for j in properties.get("spark.jars", "").split(",") if j.strip()]
    spark_properties = {
        **properties,
        "spark.jars": ",".join(dict.fromkeys(jars)),
        "spark.driver.supervise": properties.get("spark.driver.supervise", str(args.supervise).lower()),
        "spark.app.name": properties.get("spark.app.name") or main_class,
        "spark.submit.pyFiles": properties.get("spark.submit.pyFiles", ""),
        "spark.submit.deployMode": "cluster",
        "spark.master": master,
        "spark.app.submitTime": str(int(time.time() * 1000)),
    }
    environment = {k: v for k, v in os.environ.items() if k.startswith("SPARK_") and k not in _EXCLUDED_ENV}
    return {
        "action": "CreateSubmissionRequest",
        "appArgs": list(args.app_args),
        "appResource": resource,
        "clientSparkVersion": SERVER_SPARK_VERSION,
        "environmentVariables": environment,
        "mainClass": main_class,
        "sparkProperties": spark_properties,
    }


def _resource_uri(path: str) -> str:
    return path if "://" in path or path.startswith(("file:", "local:")) else "file:" + str(Path(path).absolute())


def _behavior(master: str) -> FakeSubmitBehavior:
    url = _http_url(os.environ.get(EMULATOR_URL_ENV) or master) + "/_emulator/fake_submit_behavior"
    try:
        status, text = _http("GET", url)
        behavior = FakeSubmitBehavior(**json.loads(text)) if status == 200 else FakeSubmitBehavior()
    except (OSError, ValueError, TypeError):
        behavior = FakeSubmitBehavior()
    if os.environ.get(EXIT_DELAY_ENV):
        behavior.exit_delay_ms = int(os.environ[EXIT_DELAY_ENV])
    return behavior


def _raw(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _log(level: str, message: str) -> None:
    """Print like Spark's default log4j2 console appender."""
    _raw(f"{dt.datetime.now():%y/%m/%d %H:%M:%S} {level} RestSubmissionClient: {message}")


def _fail(exception: str) -> NoReturn:
    _raw(f'Exception in thread "main" {exception}')
    sys.exit(1)


def _http_url(url: str) -> str:
    url = url.rstrip("/")
    return "http://" + url.removeprefix("spark://") if url.startswith("spark://") else url


def _http(method: str, url: str, body: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, method=method, headers={"User-Agent": FAKE_SUBMIT_USER_AGENT})
    if body is not None:
        request.data = body.encode("utf-8")
        request.add_header("Content-Type", "application/json")
        request.add_header("charset", "utf-8")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status), response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode("utf-8", "replace")


def _call(method: str, path: str, master: str, body: str | None = None) -> tuple[dict[str, Any], str]:
    """One request to the master; fail like ``RestSubmissionClient`` when unreachable or answered oddly."""
    try:
        status, text = _http(method, _http_url(master) + path, body)
    except OSError:
        _log("WARN", f"Unable to connect to server {master}.")
        _fail("org.apache.spark.deploy.rest.SubmitRestConnectionException: Unable to connect to server")
    try:
        parsed = json.loads(text)
        if isinstance(parsed, dict) and "action" in parsed:
            return parsed, text
    except ValueError:
        pass
    _log("ERROR", f"Server responded with HTTP {status}: {text.strip()[:200]}")
    _fail(f"org.apache.spark.deploy.rest.SubmitRestProtocolException: Malformed response received from server {master}")


if __name__ == "__main__":
    sys.exit(main())
