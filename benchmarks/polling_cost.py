"""Polling cost (P3): vendor status calls and detection latency for a one-hour job, ours against upstream.

For every provider, our durable operator and the upstream operator it replaces run one after the other in
this process, against the same wire-level emulator (the kit's emulators in ``packages/*/src/*/testing/``),
each with its **default** polling parameters. Time is a fake clock: the poll loops' ``time.sleep`` and
``time.monotonic`` (in the modules listed per case: ``airflow_durable.mixin`` for ours, the upstream hook or
operator module, or ``waiter_with_logging`` for the boto3 waiters) and the triggers' ``asyncio.sleep``
(``airflow_durable.trigger``, for ours with ``deferrable=True``) advance it instead of waiting, so an hour
passes in milliseconds. Jobs are held active from their creation; when the fake clock passes
``creation + job_seconds`` the job is forced into the vendor's success state. Per run it counts:

* ``status``: the status calls the operator made for its job, as the emulator's job life cycle saw them
  (:class:`airflow_durable.testing.JobBook` status events, the vendor client's own polls excluded);
* ``calls``: every vendor request of the run, all endpoints (submission and result calls included);
* ``latency``: fake seconds from the job's end to the first status call after it.

Ours runs at its defaults (``deferrable=False``, ``[operators] default_deferrable``'s fallback) and, where it
has a deferrable mode, once more with ``deferrable=True``: its ``JobStatusTrigger`` polls in the triggerer's
event loop on the same schedule, and the row shows both. The defaults poll from upstream's interval,
growing x1.5 with jitter up to ``max_poll_interval_seconds`` (core policy: ``max(120 s, 4 x`` the first
delay``)``, :func:`airflow_durable.backoff.default_max_poll_interval_seconds`).

Goals (issue 12): ours makes at most one third of upstream's status calls, and ours detects the end within
its own ``max_poll_interval_seconds`` (read from the operator, and from the trigger when deferred), in both
modes. Where upstream's default does not wait (fire-and-forget) or waits outside
Airflow (``spark-submit`` itself), the row runs upstream's own synchronous polling mode and says so.

Run: ``make bench-polling`` (or ``uv run python benchmarks/polling_cost.py [--job-seconds 3600] [CASE...]``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sys
import tempfile
import threading
import time
import types
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from airflow_durable.status import JobState
from airflow_durable.testing import Emulator, InMemoryTaskStateStore, TaskInstanceRun
from airflow_durable.tokens import TaskInstanceScope

JOB_SECONDS = 3600.0
OURS_CLOCK = ("airflow_durable.mixin",)
TRIGGER_LOOP = "airflow_durable.trigger"


class FakeClock:
    """A clock that only moves when a patched ``sleep`` is called, by the thread that made it.

    The run under measurement polls in that thread (the operator's loop, and the trigger's event loop that
    ``TaskInstanceRun`` drives). Any other thread that reaches a patched module meanwhile (say an earlier
    test's ``on_kill`` cancel, abandoned after ``cancel_timeout_seconds`` and still retrying) gets the real
    ``sleep``, ``monotonic`` and ``time``: it neither moves nor reads this clock.

    Attributes:
        now: Fake seconds since the clock was made.
        on_advance: Callables run after every advance (they may move jobs).
    """

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps = 0
        self.on_advance: list[Callable[[], None]] = []
        self._epoch = time.time()
        self._thread = threading.get_ident()

    def _foreign(self) -> bool:
        return threading.get_ident() != self._thread

    def sleep(self, seconds: float) -> None:
        """Advance by ``seconds`` (negative counts as zero), then run :attr:`on_advance`."""
        if self._foreign():
            time.sleep(seconds)
            return
        self.sleeps += 1
        self.now += max(0.0, float(seconds))
        for callback in list(self.on_advance):
            callback()

    def monotonic(self) -> float:
        """Fake seconds, as ``time.monotonic``."""
        return time.monotonic() if self._foreign() else self.now

    def time(self) -> float:
        """Fake epoch seconds, as ``time.time`` (the real epoch at construction, plus :attr:`now`)."""
        return time.time() if self._foreign() else self._epoch + self.now

    def module(self) -> types.ModuleType:
        """A stand-in for the ``time`` module: this clock's ``sleep``, ``monotonic`` and ``time``, the rest real."""
        shim = types.ModuleType("time")
        shim.__dict__.update({k: v for k, v in vars(time).items() if not k.startswith("__")})
        shim.__dict__.update(sleep=self.sleep, monotonic=self.monotonic, time=self.time)
        return shim


@contextlib.contextmanager
def fake_time(clock: FakeClock, modules: Sequence[str]) -> Iterator[None]:
    """Replace the ``time`` global of each named module with ``clock``'s stand-in, for the block.

    ``airflow_durable.trigger`` (the triggers' poll loop) is patched too: its ``asyncio.sleep`` advances
    ``clock`` (and yields to the event loop once) instead of waiting.
    """
    import asyncio
    import importlib

    async def sleep(seconds: float, result: Any = None) -> Any:
        clock.sleep(seconds)
        await asyncio.sleep(0)
        return result

    shim = types.ModuleType("asyncio")
    shim.__dict__.update({k: v for k, v in vars(asyncio).items() if not k.startswith("__")})
    shim.__dict__.update(sleep=sleep)
    with contextlib.ExitStack() as stack:
        for name in modules:
            importlib.import_module(name)
            stack.enter_context(mock.patch(f"{name}.time", clock.module()))
        importlib.import_module(TRIGGER_LOOP)
        stack.enter_context(mock.patch(f"{TRIGGER_LOOP}.asyncio", shim))
        yield


@dataclass
class Measure:
    """What one operator's run cost.

    Attributes:
        status_calls: Status calls the operator made for its job(s) (emulator life-cycle events).
        vendor_calls: Every vendor request of the run, all endpoints.
        latency_seconds: Fake seconds from the job's end to the first status call after it (``None``: the
            run never asked after the end).
        worst_latency_seconds: The gap between the last status call before the job's end and the first one
            after it: the latency had the job ended just after that last call (fixed-interval loops started
            at the job's creation poll exactly at ``job_seconds``, so their ``latency_seconds`` is 0).
        fake_seconds: Fake seconds the run took.
        jobs: Jobs the run created.
        error: The error the try ended with, if it failed.
        max_poll_interval_seconds: The ceiling the run polled with: the trigger's when the try deferred,
            else the operator's (``None`` for an operator without one: upstream's).
        deferred: Whether the try deferred (its trigger polled).
    """

    status_calls: int = 0
    vendor_calls: int = 0
    latency_seconds: float | None = None
    worst_latency_seconds: float | None = None
    fake_seconds: float = 0.0
    jobs: int = 0
    error: str | None = None
    max_poll_interval_seconds: float | None = None
    deferred: bool = False


def measure(
    emulator: Emulator[Any],
    make_operator: Callable[[str], Any],
    clock: FakeClock,
    *,
    task_id: str,
    job_seconds: float = JOB_SECONDS,
) -> Measure:
    """Run one try of ``make_operator(task_id)`` against ``emulator`` on ``clock`` and count its polling.

    The emulator holds new jobs active; each is forced into its success state once the clock passes its
    creation time plus ``job_seconds``. The clock must already drive the operator's poll loop
    (:func:`fake_time`).

    Args:
        emulator: A started emulator (its earlier jobs and counters are left alone).
        make_operator: Builds the operator for a task ID.
        clock: The fake clock.
        task_id: The task ID (also the task-instance scope's).
        job_seconds: How long each job runs, in fake seconds.

    Returns:
        The run's :class:`Measure`.
    """
    emulator.hold()
    created: dict[Any, float] = {}
    ended: dict[Any, float] = {}
    statuses: list[tuple[float, Any]] = []
    calls_before = sum(emulator.calls.values())
    succeeded = emulator.representative_states[JobState.SUCCEEDED]

    def on_event(event: str, job_id: Any) -> None:
        if event == "create":
            created[job_id] = clock.now
        elif event == "status" and job_id in created:
            statuses.append((clock.now, job_id))

    def end_due_jobs() -> None:
        for job_id, start in list(created.items()):
            if job_id not in ended and clock.now >= start + job_seconds:
                ended[job_id] = start + job_seconds
                emulator.force_state(job_id, succeeded)

    emulator.book.listeners.append(on_event)
    clock.on_advance.append(end_due_jobs)
    started = clock.now
    operator = make_operator(task_id)
    try:
        run = TaskInstanceRun(InMemoryTaskStateStore(), TaskInstanceScope("polling_cost", "bench", task_id))
        outcome = run.run_try(operator)
    finally:
        clock.on_advance.remove(end_due_jobs)
        emulator.book.listeners.remove(on_event)
    late = [now - ended[job_id] for now, job_id in statuses if job_id in ended and now >= ended[job_id]]
    early = [now - ended[job_id] for now, job_id in statuses if job_id in ended and now < ended[job_id]]
    return Measure(
        status_calls=len(statuses),
        vendor_calls=sum(emulator.calls.values()) - calls_before,
        latency_seconds=min(late) if late else None,
        worst_latency_seconds=min(late) - max(early) if late and early else None,
        fake_seconds=clock.now - started,
        jobs=len(created),
        error=None if outcome.succeeded else repr(outcome.error or "crashed")[:160],
        max_poll_interval_seconds=_ceiling(outcome.deferred.trigger if outcome.deferred else operator),
        deferred=outcome.deferred is not None,
    )


def _ceiling(poller: Any) -> float | None:
    value = getattr(poller, "max_poll_interval_seconds", None)
    return None if value is None else float(value)


@dataclass(frozen=True)
class Side:
    """One operator of a case: how to build it (given the emulator) and the parameters it polls with."""

    build: Callable[..., Any]
    """``build(emulator, task_id, **overrides)`` returns the operator (ours takes overrides such as
    ``deferrable=True``)."""
    parameters: str
    clock_modules: tuple[str, ...]
    """The modules whose ``time`` the operator's poll loop reads."""
    note: str = ""


@dataclass(frozen=True)
class Case:
    """One row: a provider mode, the system both operators run against, and the two operators.

    Attributes:
        name: The row's name (a command-line choice).
        system: ``system(stack)`` starts the emulator, sets the connections (entered on ``stack``) and
            returns it.
        ours: Our operator.
        upstream: Upstream's operator, or ``None`` with :attr:`skip_reason`.
        skip_reason: Why upstream's row is not measured.
    """

    name: str
    system: Callable[[contextlib.ExitStack], Emulator[Any]]
    ours: Side
    upstream: Side | None
    skip_reason: str = ""


@dataclass
class Row:
    """A measured case."""

    case: Case
    ours: Measure
    upstream: Measure | None
    max_poll_interval_seconds: float
    extra: dict[str, Any] = field(default_factory=dict)
    deferred: Measure | None = None
    """Ours with ``deferrable=True`` (its trigger polled), for a case with a deferrable mode."""

    @property
    def ratio(self) -> float | None:
        """Our status calls (at the defaults: ``deferrable=False``) over upstream's."""
        return self._ratio(self.ours)

    @property
    def deferred_ratio(self) -> float | None:
        """Our status calls with ``deferrable=True`` over upstream's."""
        return None if self.deferred is None else self._ratio(self.deferred)

    def _ratio(self, ours: Measure) -> float | None:
        if self.upstream is None or not self.upstream.status_calls:
            return None
        return ours.status_calls / self.upstream.status_calls


def has_deferrable_mode(operator: Any) -> bool:
    """Whether a durable operator implements ``job_trigger`` (takes ``deferrable=True``)."""
    from airflow_durable.mixin import DurableJobMixin

    return type(operator).job_trigger is not DurableJobMixin.job_trigger


def run_case(case: Case, *, job_seconds: float = JOB_SECONDS) -> Row:
    """Start the case's system, then measure ours (also with ``deferrable=True`` when it has that mode) and
    upstream's against it, on one fake clock each.

    Args:
        case: The case.
        job_seconds: The simulated job's length in fake seconds.

    Returns:
        The row.
    """
    with contextlib.ExitStack() as stack:
        emulator = case.system(stack)
        clock = FakeClock()
        with fake_time(clock, case.ours.clock_modules):
            ours_operator: list[Any] = []

            def build_ours(task_id: str) -> Any:
                ours_operator.append(case.ours.build(emulator, task_id))
                return ours_operator[-1]

            ours = measure(emulator, build_ours, clock, task_id="ours", job_seconds=job_seconds)
        deferred = None
        if has_deferrable_mode(ours_operator[0]):
            clock = FakeClock()
            with fake_time(clock, case.ours.clock_modules):
                deferred = measure(
                    emulator,
                    lambda task_id: case.ours.build(emulator, task_id, deferrable=True),
                    clock,
                    task_id="ours-deferred",
                    job_seconds=job_seconds,
                )
        upstream = None
        if case.upstream is not None:
            side = case.upstream
            clock = FakeClock()
            with fake_time(clock, side.clock_modules):
                upstream = measure(
                    emulator,
                    lambda task_id: side.build(emulator, task_id),
                    clock,
                    task_id="upstream",
                    job_seconds=job_seconds,
                )
        ceiling = float(ours_operator[0].max_poll_interval_seconds)
    return Row(case, ours, upstream, ceiling, deferred=deferred)


# ---------------------------------------------------------------------------------------------- the cases

SPARK_JAR = {"application": "/jobs/app.jar", "java_class": "com.example.App"}
SPARK_HOOK = "airflow.providers.apache.spark.hooks.spark_submit"


def _bin_on_path(stack: contextlib.ExitStack) -> Path:
    bin_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="polling-cost-"))) / "bin"
    stack.enter_context(mock.patch.dict(os.environ, {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}))
    return bin_dir


def _env(stack: contextlib.ExitStack, values: dict[str, str]) -> None:
    stack.enter_context(mock.patch.dict(os.environ, values))


def spark_standalone(stack: contextlib.ExitStack) -> Emulator[Any]:
    """The Spark master REST emulator with the stand-in ``spark-submit``, connection ``polling_spark``."""
    from airflow_durable_spark.testing.contract import emulated_spark_master, spark_connection_env

    emulator = stack.enter_context(emulated_spark_master(_bin_on_path(stack)))
    _env(stack, spark_connection_env("polling_spark", emulator))
    return emulator


def spark_yarn(stack: contextlib.ExitStack) -> Emulator[Any]:
    """The ResourceManager REST emulator with the stand-in ``spark-submit``, connection ``polling_spark``."""
    from airflow_durable_spark.testing.contract import emulated_yarn, yarn_connection_env

    emulator = stack.enter_context(emulated_yarn(_bin_on_path(stack)))
    _env(stack, yarn_connection_env("polling_spark", emulator.url))
    return emulator


def spark_kubernetes(stack: contextlib.ExitStack) -> Emulator[Any]:
    """The Kubernetes API emulator (namespace ``spark``, the one upstream reads) and the stand-in ``spark-submit``."""
    from airflow_durable_spark.testing.contract import (
        emulated_kubernetes,
        kubernetes_api_connection_env,
        kubernetes_connection_env,
        write_kubeconfig,
    )

    bin_dir = _bin_on_path(stack)
    emulator = stack.enter_context(emulated_kubernetes(bin_dir))
    kubeconfig = write_kubeconfig(bin_dir.parent / "kubeconfig", emulator.url)
    _env(
        stack,
        {
            **kubernetes_connection_env("polling_spark", emulator.url, "spark"),
            **kubernetes_api_connection_env("kubernetes_default", kubeconfig),
            "AIRFLOW__KUBERNETES_EXECUTOR__CONFIG_FILE": str(kubeconfig),
            "AIRFLOW__KUBERNETES_EXECUTOR__IN_CLUSTER": "False",
        },
    )
    return emulator


def databricks(stack: contextlib.ExitStack) -> Emulator[Any]:
    """The Jobs API 2.2 emulator, connection ``polling_databricks`` (the machine's Databricks config ignored)."""
    from airflow_durable_databricks.testing import DatabricksJobsEmulator
    from airflow_durable_databricks.testing.contract import databricks_connection_env

    home = stack.enter_context(tempfile.TemporaryDirectory(prefix="polling-cost-home-"))
    names = ("DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_CONFIG_PROFILE", "DATABRICKS_CONFIG_FILE")
    stack.enter_context(mock.patch.dict(os.environ, {"HOME": home}))
    for name in names:
        os.environ.pop(name, None)
    emulator = stack.enter_context(DatabricksJobsEmulator())
    _env(stack, databricks_connection_env("polling_databricks", emulator.url))
    return emulator


def _aws(stack: contextlib.ExitStack, **endpoint_urls: str) -> None:
    from airflow_durable_emr.testing.contract import emr_connection_env

    aws = {name: value for name, value in os.environ.items() if name.startswith("AWS_")}
    stack.enter_context(mock.patch.dict(os.environ, {}))
    for name in aws:
        os.environ.pop(name)
    home = stack.enter_context(tempfile.TemporaryDirectory(prefix="polling-cost-aws-"))
    os.environ.update(
        AWS_CONFIG_FILE=f"{home}/config",
        AWS_SHARED_CREDENTIALS_FILE=f"{home}/credentials",
        **emr_connection_env("polling_aws", **endpoint_urls),
    )


def emr_steps(stack: contextlib.ExitStack) -> Emulator[Any]:
    """The EMR steps emulator (moto with steps that run and end) and one cluster, connection ``polling_aws``."""
    from airflow_durable_emr.testing.emulator import EmrStepsEmulator

    emulator = stack.enter_context(EmrStepsEmulator())
    _aws(stack, emr=emulator.url)
    emulator.extra = {"cluster_id": emulator.create_cluster()}  # type: ignore[attr-defined]
    return emulator


def emr_serverless(stack: contextlib.ExitStack) -> Emulator[Any]:
    """The EMR Serverless emulator and one application, connection ``polling_aws``."""
    from airflow_durable_emr.testing.emulator import EmrServerlessEmulator

    emulator = stack.enter_context(EmrServerlessEmulator())
    _aws(stack, emr_serverless=emulator.url)
    emulator.extra = {"application_id": emulator.create_application()}  # type: ignore[attr-defined]
    return emulator


def emr_containers(stack: contextlib.ExitStack) -> Emulator[Any]:
    """The EMR on EKS emulator and one virtual cluster, connection ``polling_aws``."""
    from airflow_durable_emr.testing.emulator import EmrContainersEmulator

    emulator = stack.enter_context(EmrContainersEmulator())
    _aws(stack, emr_containers=emulator.url)
    emulator.reset()
    emulator.extra = {"virtual_cluster_id": emulator.create_virtual_cluster()}  # type: ignore[attr-defined]
    return emulator


DATAPROC_PROJECT = "polling-project"
DATAPROC_REGION = "us-central1"


def _dataproc(stack: contextlib.ExitStack, emulator_class: str, client_method: str) -> Emulator[Any]:
    """A Dataproc emulator; upstream's ``DataprocHook`` (hard-coded to Google) gets its gRPC client."""
    from airflow.providers.google.cloud.hooks.dataproc import DataprocHook

    from airflow_durable_dataproc import testing

    emulator: Any = stack.enter_context(getattr(testing, emulator_class)())
    connection = {"conn_type": "google_cloud_platform", "extra": {"project": DATAPROC_PROJECT}}
    _env(stack, {"AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT": json.dumps(connection)})
    stack.enter_context(mock.patch.object(DataprocHook, client_method, return_value=emulator.client("grpc")))
    return emulator  # type: ignore[no-any-return]


def dataproc_jobs(stack: contextlib.ExitStack) -> Emulator[Any]:
    """The Dataproc job emulator (gRPC, the default transport)."""
    return _dataproc(stack, "DataprocJobEmulator", "get_job_client")


def dataproc_batches(stack: contextlib.ExitStack) -> Emulator[Any]:
    """The Dataproc batch emulator (gRPC, the default transport)."""
    return _dataproc(stack, "DataprocBatchEmulator", "get_batch_client")


def _ours_spark(**extra: Any) -> Callable[..., Any]:
    def build(emulator: Any, task_id: str, **overrides: Any) -> Any:
        from airflow_durable_spark.operators import DurableSparkSubmitOperator

        return DurableSparkSubmitOperator(
            task_id=task_id, conn_id="polling_spark", **SPARK_JAR, **{**extra, **overrides}
        )

    return build


def _upstream_spark(**extra: Any) -> Callable[[Any, str], Any]:
    def build(emulator: Any, task_id: str) -> Any:
        from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

        return SparkSubmitOperator(task_id=task_id, conn_id="polling_spark", **SPARK_JAR, **extra)

    return build


DATABRICKS_TASKS = [{"task_key": "t", "notebook_task": {"notebook_path": "/x"}, "existing_cluster_id": "c-1"}]
EMR_STEP = [{"Name": "aggregate", "ActionOnFailure": "CONTINUE", "HadoopJarStep": {"Jar": "command-runner.jar"}}]
EMR_ROLE = "arn:aws:iam::123456789012:role/emr-job"
SERVERLESS_DRIVER = {"sparkSubmit": {"entryPoint": "s3://bucket/job.py"}}
EKS_DRIVER = {"sparkSubmitJobDriver": {"entryPoint": "s3://bucket/app.py"}}
DATAPROC_JOB = {"placement": {"cluster_name": "cluster-1"}, "pyspark_job": {"main_python_file_uri": "gs://b/job.py"}}
WAITER_LOG = "airflow.providers.amazon.aws.utils.waiter_with_logging"


def _lazy(module: str, name: str) -> Callable[..., Any]:
    def construct(*args: Any, **kwargs: Any) -> Any:
        import importlib

        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    return construct


def _dataproc_ours(emulator: Any) -> dict[str, Any]:
    return {
        "project_id": DATAPROC_PROJECT,
        "region": DATAPROC_REGION,
        "gcp_conn_id": None,
        "transport": "grpc",
        "api_endpoint": f"http://{emulator.grpc_address}",
    }


CASES: tuple[Case, ...] = (
    Case(
        "spark-standalone",
        spark_standalone,
        Side(_ours_spark(conf={"spark.master.rest.enabled": "true"}), "status_poll_interval=1 (defaults)", OURS_CLOCK),
        Side(
            _upstream_spark(conf={"spark.master.rest.enabled": "true"}),
            "status_poll_interval=1 (default)",
            (SPARK_HOOK,),
        ),
    ),
    Case(
        "spark-yarn",
        spark_yarn,
        Side(_ours_spark(), "status_poll_interval=1 (defaults)", OURS_CLOCK),
        Side(
            _upstream_spark(yarn_track_via_rm_api=True),
            "yarn_track_via_rm_api=True, status_poll_interval=1 (the hook polls every max(1, 10) s)",
            (SPARK_HOOK,),
            "default: spark-submit waits itself (spark.yarn.report.interval 1 s), outside Airflow's clock",
        ),
    ),
    Case(
        "spark-kubernetes",
        spark_kubernetes,
        Side(_ours_spark(), "status_poll_interval=1 (defaults)", OURS_CLOCK),
        Side(
            _upstream_spark(track_driver_via_k8s_api=True),
            "track_driver_via_k8s_api=True, status_poll_interval=1 (the hook polls every max(1, 20) s)",
            (SPARK_HOOK,),
            "default: spark-submit watches the driver pod itself, outside Airflow's clock",
        ),
    ),
    Case(
        "databricks-submit-run",
        databricks,
        Side(
            lambda e, t, **kw: _lazy("airflow_durable_databricks.operators", "DurableDatabricksSubmitRunOperator")(
                **kw, task_id=t, tasks=DATABRICKS_TASKS, databricks_conn_id="polling_databricks"
            ),
            "polling_period_seconds=30 (defaults)",
            OURS_CLOCK,
        ),
        Side(
            lambda e, t: _lazy("airflow.providers.databricks.operators.databricks", "DatabricksSubmitRunOperator")(
                task_id=t, tasks=DATABRICKS_TASKS, databricks_conn_id="polling_databricks"
            ),
            "polling_period_seconds=30 (default; deferrable=False)",
            ("airflow.providers.databricks.operators.databricks",),
        ),
    ),
    Case(
        "emr-steps",
        emr_steps,
        Side(
            lambda e, t, **kw: _lazy("airflow_durable_emr.steps", "DurableEmrAddStepsOperator")(
                **kw,
                task_id=t,
                job_flow_id=e.extra["cluster_id"],
                steps=EMR_STEP,
                aws_conn_id="polling_aws",
                wait_for_completion=True,
            ),
            "wait_for_completion=True, waiter_delay=30 (defaults otherwise)",
            OURS_CLOCK,
        ),
        Side(
            lambda e, t: _lazy("airflow.providers.amazon.aws.operators.emr", "EmrAddStepsOperator")(
                task_id=t,
                job_flow_id=e.extra["cluster_id"],
                steps=EMR_STEP,
                aws_conn_id="polling_aws",
                wait_for_completion=True,
                waiter_max_attempts=1000,
            ),
            "wait_for_completion=True, waiter_delay=30, waiter_max_attempts=1000",
            (WAITER_LOG,),
            "default: wait_for_completion=False (fire-and-forget); waiter_max_attempts=60 x 30 s gives up at 30 min",
        ),
    ),
    Case(
        "emr-serverless",
        emr_serverless,
        Side(
            lambda e, t, **kw: _lazy("airflow_durable_emr.serverless", "DurableEmrServerlessStartJobOperator")(
                **kw,
                task_id=t,
                application_id=e.extra["application_id"],
                execution_role_arn=EMR_ROLE,
                job_driver=SERVERLESS_DRIVER,
                aws_conn_id="polling_aws",
                waiter_max_attempts=1000,
            ),
            "waiter_delay=60, waiter_max_attempts=1000",
            (*OURS_CLOCK, "airflow_durable_emr.serverless"),
            "both defaults give up after 25 x 60 s = 25 min",
        ),
        Side(
            lambda e, t: _lazy("airflow.providers.amazon.aws.operators.emr", "EmrServerlessStartJobOperator")(
                task_id=t,
                application_id=e.extra["application_id"],
                execution_role_arn=EMR_ROLE,
                job_driver=SERVERLESS_DRIVER,
                aws_conn_id="polling_aws",
                waiter_max_attempts=1000,
            ),
            "waiter_delay=60, waiter_max_attempts=1000",
            (WAITER_LOG,),
            "default waiter_max_attempts=25 x 60 s gives up at 25 min",
        ),
    ),
    Case(
        "emr-on-eks",
        emr_containers,
        Side(
            lambda e, t, **kw: _lazy("airflow_durable_emr.containers", "DurableEmrContainerOperator")(
                **kw,
                task_id=t,
                name="nightly",
                virtual_cluster_id=e.extra["virtual_cluster_id"],
                execution_role_arn=EMR_ROLE,
                release_label="emr-7.1.0-latest",
                job_driver=EKS_DRIVER,
                aws_conn_id="polling_aws",
            ),
            "poll_interval=30 (defaults)",
            OURS_CLOCK,
        ),
        Side(
            lambda e, t: _lazy("airflow.providers.amazon.aws.operators.emr", "EmrContainerOperator")(
                task_id=t,
                name="nightly",
                virtual_cluster_id=e.extra["virtual_cluster_id"],
                execution_role_arn=EMR_ROLE,
                release_label="emr-7.1.0-latest",
                job_driver=EKS_DRIVER,
                aws_conn_id="polling_aws",
            ),
            "poll_interval=30 (default)",
            ("airflow.providers.amazon.aws.hooks.emr",),
        ),
    ),
    Case(
        "dataproc-job",
        dataproc_jobs,
        Side(
            lambda e, t, **kw: _lazy("airflow_durable_dataproc.jobs", "DurableDataprocSubmitJobOperator")(
                **kw, task_id=t, job=DATAPROC_JOB, **_dataproc_ours(e)
            ),
            "polling_interval_seconds=10 (defaults), gRPC",
            (*OURS_CLOCK, "airflow_durable_dataproc.jobs"),
        ),
        Side(
            lambda e, t: _lazy("airflow.providers.google.cloud.operators.dataproc", "DataprocSubmitJobOperator")(
                task_id=t, job=DATAPROC_JOB, project_id=DATAPROC_PROJECT, region=DATAPROC_REGION
            ),
            "wait_for_job wait_time=10 (default; deferrable=False)",
            ("airflow.providers.google.cloud.hooks.dataproc",),
        ),
    ),
    Case(
        "dataproc-batch",
        dataproc_batches,
        Side(
            lambda e, t, **kw: _lazy("airflow_durable_dataproc.batches", "DurableDataprocCreateBatchOperator")(
                **kw, task_id=t, batch={"pyspark_batch": {"main_python_file_uri": "gs://b/job.py"}}, **_dataproc_ours(e)
            ),
            "polling_interval_seconds=5 (defaults), gRPC",
            OURS_CLOCK,
        ),
        Side(
            lambda e, t: _lazy("airflow.providers.google.cloud.operators.dataproc", "DataprocCreateBatchOperator")(
                task_id=t,
                batch={"pyspark_batch": {"main_python_file_uri": "gs://b/job.py"}},
                batch_id=f"polling-{t}",
                project_id=DATAPROC_PROJECT,
                region=DATAPROC_REGION,
            ),
            "wait_for_batch wait_check_interval=10 (hook default; polling_interval_seconds=5 is deferrable-only)",
            ("airflow.providers.google.cloud.hooks.dataproc",),
        ),
    ),
)


# ---------------------------------------------------------------------------------------------- output


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def _latency_ok(measured: Measure, ceiling: float | None) -> bool:
    latency, worst = measured.latency_seconds, measured.worst_latency_seconds
    # The fake clock sums float delays: allow their rounding (a microsecond), never a real overshoot.
    return ceiling is not None and latency is not None and max(latency, worst or 0.0) <= ceiling + 1e-6


def goals(row: Row) -> tuple[bool | None, bool]:
    """Whether a row meets the calls goal (``None``: no upstream row) and the latency goal.

    Both hold for ours at its defaults and, where measured, with ``deferrable=True``. The latency goal
    holds when each detects the end within the ``max_poll_interval_seconds`` it polled with, also in the
    worst case (the job ending just after a poll).
    """
    ratios = [ratio for ratio in (row.ratio, row.deferred_ratio) if ratio is not None]
    calls_ok = None if row.ratio is None else all(ratio <= 1 / 3 for ratio in ratios)
    latency_ok = _latency_ok(row.ours, row.max_poll_interval_seconds)
    if row.deferred is not None:
        latency_ok = latency_ok and _latency_ok(row.deferred, row.deferred.max_poll_interval_seconds)
    return calls_ok, latency_ok


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def format_rows(rows: Sequence[Row], job_seconds: float) -> str:
    """The table, then each row's parameters and notes."""
    lines = [
        f"Polling cost of a {job_seconds:.0f} s job on a fake clock: vendor status calls and detection latency",
        "(ours: defaults, deferrable=False; dfr: ours with deferrable=True, its trigger polling;",
        " latency: job end -> first status call after it; worst: the poll gap around the end;",
        " max poll: ours' max_poll_interval_seconds, the latency bound; ok: both latencies within it)",
    ]
    header = (
        f"{'case':22} {'ours':>5} {'dfr':>5} {'upstr':>5} {'ratio':>6} {'dfr':>5} {'<=1/3':>5}  "
        f"{'lat ours':>8} {'worst':>7} {'lat dfr':>7} {'worst':>7} {'lat up':>7} {'worst':>7} "
        f"{'max poll':>8} {'ok':>3}  {'all calls ours/up':>17}"
    )
    lines += [header, "-" * len(header)]
    for row in rows:
        up, dfr = row.upstream, row.deferred
        calls_ok, latency_ok = goals(row)
        lines.append(
            f"{row.case.name:22} {row.ours.status_calls:>5} {'-' if dfr is None else dfr.status_calls:>5} "
            f"{'-' if up is None else up.status_calls:>5} "
            f"{_ratio(row.ratio):>6} {_ratio(row.deferred_ratio):>5} "
            f"{'-' if calls_ok is None else ('yes' if calls_ok else 'NO'):>5}  "
            f"{_seconds(row.ours.latency_seconds):>8} {_seconds(row.ours.worst_latency_seconds):>7} "
            f"{_seconds(None if dfr is None else dfr.latency_seconds):>7} "
            f"{_seconds(None if dfr is None else dfr.worst_latency_seconds):>7} "
            f"{_seconds(None if up is None else up.latency_seconds):>7} "
            f"{_seconds(None if up is None else up.worst_latency_seconds):>7} "
            f"{row.max_poll_interval_seconds:>7g}s {'yes' if latency_ok else 'NO':>3}  "
            f"{row.ours.vendor_calls:>8}/{'-' if up is None else up.vendor_calls:<8}"
        )
    lines.append("")
    for row in rows:
        lines.append(f"{row.case.name}:")
        lines.append(
            f"  ours:     {row.case.ours.parameters}; max_poll_interval_seconds={row.max_poll_interval_seconds:g}"
        )
        if row.case.ours.note:
            lines.append(f"            {row.case.ours.note}")
        if row.deferred is not None:
            lines.append(
                "  dfr:      the same, deferrable=True; the trigger's max_poll_interval_seconds="
                f"{row.deferred.max_poll_interval_seconds:g}"
            )
        if row.case.upstream is None:
            lines.append(f"  upstream: skipped: {row.case.skip_reason}")
        else:
            lines.append(f"  upstream: {row.case.upstream.parameters}")
            if row.case.upstream.note:
                lines.append(f"            {row.case.upstream.note}")
        for side, m in (("ours", row.ours), ("dfr", row.deferred), ("upstream", row.upstream)):
            if m is not None and (m.error or m.jobs != 1):
                lines.append(f"  {side} run: {m.jobs} job(s), error: {m.error}")
            if side == "dfr" and m is not None and not m.deferred:
                lines.append("  dfr run: did not defer")
    return "\n".join(lines)


@contextlib.contextmanager
def logs_to_stderr() -> Iterator[None]:
    """Send what the operators log to file descriptor 1 (Airflow's task logger) to stderr, for the block."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``[--job-seconds N] [CASE...]``; prints the table; exit 1 if a run failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    names = [case.name for case in CASES]
    parser.add_argument("cases", nargs="*", metavar="CASE", help=f"cases to run (default all): {', '.join(names)}")
    parser.add_argument("--job-seconds", type=float, default=JOB_SECONDS)
    parser.add_argument("--seed", type=int, default=0, help="seed of the backoff's jitter (default 0)")
    args = parser.parse_args(argv)
    random.seed(args.seed)
    if unknown := sorted(set(args.cases) - set(names)):
        parser.error(f"unknown case(s) {', '.join(unknown)}; choose from {', '.join(names)}")
    rows = []
    with logs_to_stderr():
        for case in CASES:
            if not args.cases or case.name in args.cases:
                print(f"measuring {case.name} ...", file=sys.stderr, flush=True)
                rows.append(run_case(case, job_seconds=args.job_seconds))
    print(format_rows(rows, args.job_seconds))
    print(f"\njitter seed: {args.seed}")
    failed = [m for r in rows for m in (r.ours, r.deferred, r.upstream) if m is not None and m.error]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
