"""A fake ``spark-submit`` that talks to :class:`~.emulator.SparkMasterEmulator` (or any REST master).

It accepts the real ``spark-submit`` command line (what Airflow's ``SparkSubmitHook`` builds), sends
the same ``CreateSubmissionRequest`` the real client sends to ``http://<--master host:port>/v1/submissions/
create``, polls the status once like the real client, and prints the same log lines to stderr, among
them ``... INFO RestSubmissionClient: Submission successfully created as driver-...``, from which the hook
takes the driver ID with its ``driver-[0-9-]+`` regex. It starts in about 0.1 s instead of 2-4 s.

Like the real client it only uses the REST protocol when ``spark.master.rest.enabled`` is ``true``
(``--conf``, ``--properties-file`` or ``$SPARK_CONF_DIR/spark-defaults.conf``); otherwise it fails the
way the real one fails against a REST port (legacy RPC gateway, ``Too large frame``), exit code 1.

Behaviour knobs (see :class:`~.emulator.FakeSubmitBehavior`) are fetched from the emulator's
``/_emulator/fake_submit_behavior`` endpoint at ``$FAKE_SPARK_SUBMIT_EMULATOR_URL`` (else the ``--master``
address); ``$FAKE_SPARK_SUBMIT_EXIT_DELAY_MS`` overrides the exit delay.

Run it with ``python -m airflow_durable_spark.testing.fake_spark_submit`` or install a ``spark-submit``
wrapper script with :func:`install_fake_spark_submit`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Any, NoReturn

from airflow_durable_spark.testing.emulator import (
    FAKE_SUBMIT_USER_AGENT,
    SERVER_SPARK_VERSION,
    jackson_pretty,
)

EMULATOR_URL_ENV = "FAKE_SPARK_SUBMIT_EMULATOR_URL"
EXIT_DELAY_ENV = "FAKE_SPARK_SUBMIT_EXIT_DELAY_MS"

_CONNECT_FAILURE = "org.apache.spark.deploy.rest.SubmitRestConnectionException: Unable to connect to server"
_EXCLUDED_ENV = frozenset({"SPARK_ENV_LOADED", "SPARK_HOME", "SPARK_CONF_DIR"})
_OPTIONS_WITH_VALUE = {
    "--master": None,
    "--deploy-mode": "spark.submit.deployMode",
    "--class": None,
    "--name": "spark.app.name",
    "--jars": "spark.jars",
    "--packages": "spark.jars.packages",
    "--exclude-packages": "spark.jars.excludes",
    "--repositories": "spark.jars.repositories",
    "--py-files": "spark.submit.pyFiles",
    "--files": "spark.files",
    "--archives": "spark.archives",
    "--conf": None,
    "-c": None,
    "--properties-file": None,
    "--driver-memory": "spark.driver.memory",
    "--driver-java-options": "spark.driver.extraJavaOptions",
    "--driver-library-path": "spark.driver.extraLibraryPath",
    "--driver-class-path": "spark.driver.extraClassPath",
    "--executor-memory": "spark.executor.memory",
    "--proxy-user": None,
    "--driver-cores": "spark.driver.cores",
    "--total-executor-cores": "spark.cores.max",
    "--executor-cores": "spark.executor.cores",
    "--num-executors": "spark.executor.instances",
    "--queue": "spark.yarn.queue",
    "--principal": "spark.kerberos.principal",
    "--keytab": "spark.kerberos.keytab",
    "--kill": None,
    "--status": None,
}
_FLAGS = {"--supervise", "--verbose", "-v", "--help", "-h", "--version", "--usage-error"}


class SubmitArgs:
    """The parsed ``spark-submit`` command line."""

    def __init__(self) -> None:
        self.master: str | None = None
        self.deploy_mode: str | None = None
        self.main_class: str | None = None
        self.name: str | None = None
        self.properties: dict[str, str] = {}
        """``--conf`` values and option-derived properties (highest precedence)."""
        self.properties_file: str | None = None
        self.supervise = False
        self.verbose = False
        self.kill: str | None = None
        self.status: str | None = None
        self.help = False
        self.version = False
        self.primary_resource: str | None = None
        self.app_args: list[str] = []


class UsageError(Exception):
    """The command line is not one ``spark-submit`` accepts."""


def parse_args(argv: list[str]) -> SubmitArgs:
    """Parse a ``spark-submit`` command line (options, then the application and its arguments).

    Args:
        argv: Arguments after the program name.

    Returns:
        The parsed arguments.

    Raises:
        UsageError: An unknown option or a missing option value.
    """
    args = SubmitArgs()
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("-") or arg == "-":
            args.primary_resource = arg
            args.app_args = argv[i + 1 :]
            break
        name, eq, inline = arg.partition("=")
        if name in _OPTIONS_WITH_VALUE:
            if eq:
                value = inline
            else:
                if i + 1 >= len(argv):
                    raise UsageError(f"Missing argument for option '{name}'")
                i += 1
                value = argv[i]
            _apply_option(args, name, value)
        elif arg in _FLAGS:
            if arg == "--supervise":
                args.supervise = True
            elif arg in ("--verbose", "-v"):
                args.verbose = True
            elif arg in ("--help", "-h", "--usage-error"):
                args.help = True
            elif arg == "--version":
                args.version = True
        else:
            raise UsageError(f"Unrecognized option '{arg}'")
        i += 1
    return args


def _apply_option(args: SubmitArgs, name: str, value: str) -> None:
    if name == "--master":
        args.master = value
    elif name == "--deploy-mode":
        args.deploy_mode = value
    elif name == "--class":
        args.main_class = value
    elif name == "--name":
        args.name = value
    elif name in ("--conf", "-c"):
        key, sep, conf_value = value.partition("=")
        if not sep:
            raise UsageError(f"Spark config without '=': {value}")
        args.properties[key.strip()] = conf_value
    elif name == "--properties-file":
        args.properties_file = value
    elif name == "--kill":
        args.kill = value
    elif name == "--status":
        args.status = value
    elif name == "--proxy-user":
        pass
    else:
        property_name = _OPTIONS_WITH_VALUE[name]
        if property_name is not None:
            args.properties[property_name] = value


def read_properties_file(path: Path) -> dict[str, str]:
    """Read a Spark properties file (``key value`` or ``key=value`` lines, ``#`` comments).

    Args:
        path: File to read.

    Returns:
        The ``spark.*`` properties it sets.
    """
    result: dict[str, str] = {}
    for raw in path.read_text(errors="replace").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "!")):
            continue
        for sep in ("=", " ", "\t", ":"):
            if sep in line:
                key, _, value = line.partition(sep)
                break
        else:
            key, value = line, ""
        key = key.strip()
        if key.startswith("spark."):
            result[key] = value.strip()
    return result


def _defaults_file() -> Path | None:
    conf_dir = os.environ.get("SPARK_CONF_DIR")
    if conf_dir:
        return Path(conf_dir) / "spark-defaults.conf"
    home = os.environ.get("SPARK_HOME")
    if home:
        return Path(home) / "conf" / "spark-defaults.conf"
    return None


def effective_properties(args: SubmitArgs) -> dict[str, str]:
    """Merge ``spark-defaults.conf`` (or ``--properties-file``) under the command-line properties.

    Args:
        args: Parsed arguments.

    Returns:
        The properties the real ``spark-submit`` would use.
    """
    merged: dict[str, str] = {}
    source = Path(args.properties_file) if args.properties_file else _defaults_file()
    if source is not None and source.is_file():
        merged.update(read_properties_file(source))
    merged.update(args.properties)
    return merged


def build_create_request(args: SubmitArgs, properties: dict[str, str], main_class: str) -> dict[str, Any]:
    """Build the ``CreateSubmissionRequest`` the real ``RestSubmissionClient`` sends.

    Args:
        args: Parsed arguments (``master`` and ``primary_resource`` set).
        properties: Effective Spark properties.
        main_class: Main class to run.

    Returns:
        The request as a dict (top-level keys in Spark's order once sorted).
    """
    assert args.primary_resource is not None
    assert args.master is not None
    resource = _resource_uri(args.primary_resource)
    spark_properties = dict(properties)
    jars = [resource] + [_resource_uri(j) for j in properties.get("spark.jars", "").split(",") if j.strip()]
    spark_properties["spark.jars"] = ",".join(dict.fromkeys(jars))
    spark_properties.setdefault("spark.driver.supervise", "true" if args.supervise else "false")
    spark_properties["spark.app.name"] = args.name or properties.get("spark.app.name") or main_class
    spark_properties.setdefault("spark.submit.pyFiles", "")
    spark_properties["spark.submit.deployMode"] = "cluster"
    spark_properties["spark.master"] = args.master
    spark_properties["spark.app.submitTime"] = str(int(time.time() * 1000))
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
    if "://" in path or path.startswith("file:") or path.startswith("local:"):
        return path
    return "file:" + str(Path(path).absolute())


def _main_class_from_jar(resource: str) -> str | None:
    path = resource.removeprefix("file:")
    try:
        with zipfile.ZipFile(path) as zf:
            manifest = zf.read("META-INF/MANIFEST.MF").decode("utf-8", "replace")
    except (OSError, KeyError, zipfile.BadZipFile):
        return None
    for line in manifest.splitlines():
        if line.startswith("Main-Class:"):
            return line.partition(":")[2].strip() or None
    return None


class _Console:
    """Prints log lines like Spark's default log4j2 console appender (stderr, flushed)."""

    def raw(self, text: str) -> None:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def log(self, level: str, message: str, logger: str = "RestSubmissionClient") -> None:
        stamp = dt.datetime.now().strftime("%y/%m/%d %H:%M:%S")
        self.raw(f"{stamp} {level} {logger}: {message}")


def _http(method: str, url: str, body: bytes | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, method=method)
    request.add_header("User-Agent", FAKE_SUBMIT_USER_AGENT)
    if body is not None:
        request.add_header("Content-Type", "application/json")
        request.add_header("charset", "utf-8")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status), response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode("utf-8", "replace")


def _behavior(master_http: str) -> dict[str, Any]:
    base = os.environ.get(EMULATOR_URL_ENV) or master_http
    behavior: dict[str, Any] = {"exit_delay_ms": 0, "exit_code": 0, "crash_after_create": False}
    try:
        status, text = _http("GET", _http_url(base) + "/_emulator/fake_submit_behavior")
        if status == 200:
            behavior.update(json.loads(text))
    except (OSError, ValueError):
        pass
    if os.environ.get(EXIT_DELAY_ENV):
        behavior["exit_delay_ms"] = int(os.environ[EXIT_DELAY_ENV])
    return behavior


def _http_url(url: str) -> str:
    url = url.rstrip("/")
    if url.startswith("spark://"):
        return "http://" + url[len("spark://") :]
    return url


def _fail(console: _Console, exception: str, code: int = 1) -> NoReturn:
    console.raw(f'Exception in thread "main" {exception}')
    sys.exit(code)


def _parse_response(console: _Console, status: int, text: str, master: str) -> dict[str, Any]:
    try:
        parsed = json.loads(text)
        if not isinstance(parsed, dict) or "action" not in parsed:
            raise ValueError("no action")
    except ValueError:
        console.log("ERROR", f"Server responded with HTTP {status}: {text.strip()[:200]}")
        _fail(
            console,
            "org.apache.spark.deploy.rest.SubmitRestProtocolException: "
            f"Malformed response received from server {master}",
        )
    return parsed


def _legacy_gateway_failure(console: _Console, host_port: str) -> NoReturn:
    console.raw("WARNING: Using incubator modules: jdk.incubator.vector")
    console.raw("Using Spark's default log4j profile: org/apache/spark/log4j2-defaults.properties")
    console.log("INFO", "Successfully started service 'driverClient' on port 40000.", logger="Utils")
    console.log("WARN", f"Exception in connection from /{host_port}", logger="TransportChannelHandler")
    console.raw("java.lang.IllegalArgumentException: Too large frame: 5211883372140375593")
    _fail(
        console,
        "org.apache.spark.SparkException: Exception thrown in awaitResult: (fake spark-submit: "
        "spark.master.rest.enabled is not true, so spark-submit used the legacy RPC gateway against "
        "a REST port)",
    )


def main(argv: list[str] | None = None) -> int:
    """Run the fake ``spark-submit``.

    Args:
        argv: Arguments after the program name (default ``sys.argv[1:]``).

    Returns:
        The exit code.
    """
    console = _Console()
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
    except UsageError as exc:
        console.raw(f"Error: {exc}")
        return 1
    if args.version:
        console.raw(f"version {SERVER_SPARK_VERSION} (fake spark-submit)")
        return 0
    if args.help or not args.master:
        console.raw("Usage: spark-submit [options] <app jar> [app arguments]  (fake: needs --master)")
        return 1 if not args.help else 0
    if not args.master.startswith("spark://") or "," in args.master:
        console.raw(f"Error: the fake spark-submit supports one spark://host:port master, got {args.master}")
        return 1
    host_port = args.master[len("spark://") :]
    master_http = "http://" + host_port
    if args.status or args.kill:
        return _status_or_kill(console, args, master_http)
    if (args.deploy_mode or args.properties.get("spark.submit.deployMode")) != "cluster":
        console.raw("Error: the fake spark-submit only emulates --deploy-mode cluster")
        return 1
    if not args.primary_resource:
        console.raw("Error: Must specify a primary resource (JAR or Python or R file)")
        return 1
    properties = effective_properties(args)
    if properties.get("spark.master.rest.enabled", "false").strip().lower() != "true":
        _legacy_gateway_failure(console, host_port)
    resource = _resource_uri(args.primary_resource)
    main_class = args.main_class or _main_class_from_jar(resource)
    if not main_class:
        console.raw("Error: No main class set in JAR; please specify one with --class.")
        return 1
    if resource.endswith((".py", ".R")):
        console.raw(
            "Error: Cluster deploy mode is currently not supported for python applications on standalone clusters."
        )
        return 1
    behavior = _behavior(master_http)
    request = build_create_request(args, properties, main_class)
    console.raw("WARNING: Using incubator modules: jdk.incubator.vector")
    console.raw("Running Spark using the REST application submission protocol.")
    console.raw("Using Spark's default log4j profile: org/apache/spark/log4j2-defaults.properties")
    console.log("INFO", f"Submitting a request to launch an application in {args.master}.")
    try:
        status, text = _http(
            "POST",
            f"{master_http}/v1/submissions/create",
            jackson_pretty(request, sort_top_level=True).encode(),
        )
    except OSError:
        console.log("WARN", f"Unable to connect to server {args.master}.")
        _fail(console, _CONNECT_FAILURE)
    response = _parse_response(console, status, text, args.master)
    driver_id = response.get("submissionId")
    if not response.get("success") or not driver_id:
        console.log("ERROR", "Application submission failed")
        console.log("INFO", f"Server responded with {response.get('action')}:")
        console.raw(text)
        return 1
    if behavior.get("crash_after_create"):
        os._exit(137)
    console.log("INFO", f"Submission successfully created as {driver_id}. Polling submission state...")
    console.log("INFO", f"Submitting a request for the status of submission {driver_id} in {args.master}.")
    try:
        _, st_text = _http("GET", f"{master_http}/v1/submissions/status/{driver_id}")
        state = json.loads(st_text)
        if state.get("success") and state.get("driverState"):
            console.log("INFO", f"State of driver {driver_id} is now {state['driverState']}.")
            if state.get("workerId") and state.get("workerHostPort"):
                console.log("INFO", f"Driver is running on worker {state['workerId']} at {state['workerHostPort']}.")
        else:
            console.log("ERROR", f"Error: Master did not recognize driver {driver_id}.")
    except (OSError, ValueError):
        console.log("ERROR", f"Error requesting the status of submission {driver_id}.")
    console.log("INFO", "Server responded with CreateSubmissionResponse:")
    console.raw(text)
    delay_ms = int(behavior.get("exit_delay_ms") or 0)
    if delay_ms > 0:
        time.sleep(delay_ms / 1000.0)
    return int(behavior.get("exit_code") or 0)


def _status_or_kill(console: _Console, args: SubmitArgs, master_http: str) -> int:
    master = args.master or ""
    if args.status:
        console.log("INFO", f"Submitting a request for the status of submission {args.status} in {args.master}.")
        method, url = "GET", f"{master_http}/v1/submissions/status/{args.status}"
    else:
        console.log("INFO", f"Submitting a request to kill submission {args.kill} in {args.master}.")
        method, url = "POST", f"{master_http}/v1/submissions/kill/{args.kill}"
    try:
        status, text = _http(method, url)
    except OSError:
        console.log("WARN", f"Unable to connect to server {args.master}.")
        _fail(console, _CONNECT_FAILURE)
    response = _parse_response(console, status, text, master)
    console.log("INFO", f"Server responded with {response.get('action')}:")
    console.raw(text)
    return 0


def install_fake_spark_submit(bin_dir: Path, emulator_url: str) -> Path:
    """Write an executable ``spark-submit`` into ``bin_dir`` that runs this module.

    The script runs the current interpreter (``sys.executable``) with this package on
    ``PYTHONPATH`` and ``FAKE_SPARK_SUBMIT_EMULATOR_URL`` set, so it works from any ``PATH`` and cwd.
    Put ``bin_dir`` first on ``PATH`` (Airflow's hook runs ``spark-submit`` from ``PATH``).

    Args:
        bin_dir: Directory for the script (created when missing).
        emulator_url: The emulator's ``http://host:port`` (or ``spark://host:port``) URL, used for
            its behaviour knobs; submissions go to whatever ``--master`` says, as with the real client.

    Returns:
        Path of the ``spark-submit`` script.
    """
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "spark-submit"
    src_root = Path(__file__).resolve().parents[2]
    script.write_text(
        "#!/bin/sh\n"
        "# Fake spark-submit for tests: airflow_durable_spark.testing.fake_spark_submit\n"
        f"{EMULATOR_URL_ENV}={shlex.quote(_http_url(emulator_url))}\n"
        f"export {EMULATOR_URL_ENV}\n"
        f"PYTHONPATH={shlex.quote(str(src_root))}${{PYTHONPATH:+:$PYTHONPATH}}\n"
        "export PYTHONPATH\n"
        f'exec {shlex.quote(sys.executable)} -m airflow_durable_spark.testing.fake_spark_submit "$@"\n'
    )
    script.chmod(0o755)
    return script


if __name__ == "__main__":
    sys.exit(main())
