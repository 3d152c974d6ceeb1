"""``DurableEmrContainerOperator``: crash-safe EMR on EKS ``StartJobRun``, exactly once, on boto3.

The submission token is the API's ``clientToken``, derived per task instance and generation. EMR on EKS hands
back the original job run for a repeated ``clientToken``, even a failed one
(https://docs.aws.amazon.com/emr-on-eks/latest/APIReference/API_StartJobRun.html): a token fixed for every
try (upstream's ``client_request_token``) makes the retry after a failed run get that failed run back. Here
a new generation (after a failed, cancelled or lost run) sends a new token, and a retry after a crash finds
its run with ``ListJobRuns`` (the ``name`` filter, then an exact match on the name and the ``clientToken``).

Importing this module does not import boto3.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from airflow.sdk.exceptions import AirflowException

from airflow_durable import DurableJobError, JobFailedError, JobLostError, JobState
from airflow_durable.upstream_interface import flag_or_conf
from airflow_durable_emr.base import DurableEmrOperatorBase, aws_template_fields
from airflow_durable_emr.client import AwsConnection, error_code, is_not_found
from airflow_durable_emr.openlineage import inject_openlineage
from airflow_durable_emr.statuses import (
    CONTAINER_ID_PATTERN,
    CONTAINER_JOB_RUN_STATES,
    pair_job_id,
    parse_pair_job_id,
)

if TYPE_CHECKING:
    from airflow.sdk.definitions.context import Context
    from airflow.triggers.base import BaseTrigger
    from pydantic import JsonValue

log = logging.getLogger(__name__)

JOB_RUN_NAME_PATTERN = re.compile(r"^[.\-_/#A-Za-z0-9]{1,64}$")
"""``StartJobRun`` ``name``: 1-64 of ``[.-_/#A-Za-z0-9]``
(https://docs.aws.amazon.com/emr-on-eks/latest/APIReference/API_StartJobRun.html)."""
CONTAINER_CLIENT_TOKEN_PATTERN = re.compile(r"^(?=[\s\S]*\S)[\s\S]{1,64}$")
"""``StartJobRun`` ``clientToken``: 1-64 characters, at least one of them not blank (same page)."""
LIST_PAGE_SIZE = 50
"""``maxResults`` of each ``ListJobRuns`` call of the token lookup."""
MAX_LOOKUP_PAGES = 20
"""The most ``ListJobRuns`` pages one token lookup reads (1,000 runs of the task's name). A lookup that
reaches the bound finds nothing: the retry then submits with the same ``clientToken``, which EMR on EKS
deduplicates, so the run is still not duplicated."""
NOT_CANCELLABLE = "ValidationException"
"""The error code of ``CancelJobRun`` for a run that has already ended (or is being cancelled)."""


class EmrContainerJobFailedError(JobFailedError, AirflowException):
    """An EMR on EKS job run ended in ``FAILED`` or ``CANCELLED``; the message is upstream's.

    Both our ``JobFailedError`` and upstream's ``AirflowException``, so handlers written for either catch it.
    """

    def __init__(self, external_id: str, status: str, message: str) -> None:
        super().__init__(external_id, status, message)
        self.args = (message,)


class EmrContainerPollLimitError(DurableJobError, AirflowException):
    """``max_polling_attempts`` status calls saw the run still active (upstream's error and text).

    The run is not cancelled: a retry reconnects to it.
    """


class EmrContainerJobRuns:
    """The EMR on EKS calls the operator and its trigger make, on one boto3 ``emr-containers`` client.

    Args:
        connection: Where the client comes from (the Airflow connection, or boto3's default chain).
        virtual_cluster_id: The operator's virtual cluster (passed to the amazon provider's hook).
    """

    def __init__(self, connection: AwsConnection, virtual_cluster_id: str | None = None) -> None:
        self.connection = connection
        self.virtual_cluster_id = virtual_cluster_id
        self._client: Any = None

    @property
    def client(self) -> Any:
        """The boto3 client, built on first use."""
        if self._client is None:
            self._client = self.connection.client("emr-containers", virtual_cluster_id=self.virtual_cluster_id)
        return self._client

    def start(self, request: Mapping[str, Any]) -> str:
        """``StartJobRun``; return the job run ID.

        Args:
            request: The ``StartJobRun`` keyword arguments (``clientToken`` included).

        Raises:
            DurableJobError: The reply holds no job run ID.
        """
        reply = self.client.start_job_run(**request)
        job_run_id = reply.get("id") if isinstance(reply, Mapping) else None
        if not isinstance(job_run_id, str):
            raise DurableJobError(f"EMR on EKS StartJobRun answered without a job run ID: {reply!r}")
        return job_run_id

    def describe(self, virtual_cluster_id: str, job_run_id: str) -> dict[str, Any]:
        """``DescribeJobRun``; return its ``jobRun`` (with a string ``state``).

        Raises:
            JobLostError: EMR on EKS does not know the run (``ResourceNotFoundException``).
            DurableJobError: A reply without a ``jobRun`` or a ``state``: the run may still exist, so it is
                never taken as lost.
        """
        try:
            reply = self.client.describe_job_run(virtualClusterId=virtual_cluster_id, id=job_run_id)
        except Exception as err:
            if is_not_found(err):
                raise JobLostError(pair_job_id(virtual_cluster_id, job_run_id, CONTAINER_ID_PATTERN), str(err)) from err
            raise
        job_run = reply.get("jobRun") if isinstance(reply, Mapping) else None
        if not isinstance(job_run, Mapping) or not isinstance(job_run.get("state"), str):
            raise DurableJobError(
                f"EMR on EKS DescribeJobRun answered for job run {job_run_id!r} of virtual cluster "
                f"{virtual_cluster_id!r} without a job run state: {reply!r}"
            )
        return dict(job_run)

    def find(self, virtual_cluster_id: str, name: str, token: str) -> str | None:
        """Return the ID of the job run named ``name`` that was started with ``clientToken`` ``token``.

        ``ListJobRuns`` filters by name (newest first, :data:`LIST_PAGE_SIZE` a page, at most
        :data:`MAX_LOOKUP_PAGES` pages); each run is then matched exactly on its name and its ``clientToken``
        (from the list, else from ``DescribeJobRun``).

        Returns:
            The job run ID, or ``None`` when no run carries the token within the bound.
        """
        next_token: str | None = None
        for _ in range(MAX_LOOKUP_PAGES):
            kwargs: dict[str, Any] = {
                "virtualClusterId": virtual_cluster_id,
                "name": name,
                "maxResults": LIST_PAGE_SIZE,
            }
            if next_token:
                kwargs["nextToken"] = next_token
            page = self.client.list_job_runs(**kwargs)
            for run in page.get("jobRuns") or ():
                if run.get("name") != name or not isinstance(run.get("id"), str):
                    continue
                run_token = run.get("clientToken")
                if run_token is None:
                    run_token = self.describe(virtual_cluster_id, run["id"]).get("clientToken")
                if run_token == token:
                    return str(run["id"])
            next_token = page.get("nextToken")
            if not next_token:
                return None
        return None

    def failure_reason(
        self, virtual_cluster_id: str, job_run_id: str, job_run: Mapping[str, Any] | None = None
    ) -> str | None:
        """``"<failureReason> - <stateDetails>"`` of an ended run (upstream's text), or ``None``.

        Args:
            virtual_cluster_id: The run's virtual cluster.
            job_run_id: The run.
            job_run: Its last ``DescribeJobRun`` reply, if the caller has it (else one is asked for).
        """
        if job_run is None:
            try:
                job_run = self.describe(virtual_cluster_id, job_run_id)
            except Exception as err:  # noqa: BLE001 - the run's failure is what the task reports
                log.warning("Could not read the failure reason of job run %s: %r", job_run_id, err)
                return None
        if "failureReason" not in job_run or "stateDetails" not in job_run:
            return None
        return f"{job_run['failureReason']} - {job_run['stateDetails']}"

    def cancel(self, virtual_cluster_id: str, job_run_id: str) -> None:
        """``CancelJobRun``; a run that has already ended (``ValidationException``) is left as it is."""
        try:
            self.client.cancel_job_run(virtualClusterId=virtual_cluster_id, id=job_run_id)
        except Exception as err:
            if error_code(err) != NOT_CANCELLABLE:
                raise


def failure_message(job_run_id: str, status: str, reason: str | None) -> str:
    """Upstream's failure text of a job run that ended in ``status``."""
    return f"EMR Containers job failed. Final state is {status}. query_execution_id is {job_run_id}. Error: {reason}"


class DurableEmrContainerOperator(DurableEmrOperatorBase):
    """Crash-safe ``EmrContainerOperator``: one EMR on EKS job run per task instance, exactly once.

    Takes the arguments of ``airflow.providers.amazon.aws.operators.emr.EmrContainerOperator`` (keyword-only),
    templates the same fields and returns the same value, the job run ID, on every path: fresh, adopted after
    a crash, reconnected, already succeeded, deferred. Upstream pushes no other XCom and has no extra link;
    neither does this operator.

    **Stored state:** the ``airflow_durable`` record under ``emr_container_job_id`` (see ``DurableJobMixin``),
    whose external ID is ``"<virtual cluster id>:<job run id>"``.

    **Token:** ``clientToken`` is the protocol's submission token: the same for every try of one generation
    (a retry after a crash gets its run back: ``ListJobRuns`` finds it, and EMR on EKS deduplicates the
    token anyway), new for each generation (a retry after a failed run starts a new run, never gets the
    failed one back). ``client_request_token`` is only mixed into the derived token; it is never sent as is.
    With ``durable=False`` the operator behaves as upstream: ``client_request_token``, else a new UUID.

    **Polling:** states are read with ``DescribeJobRun`` (``CANCEL_PENDING`` is active until the run ends);
    throttling, 5xx and dropped connections are retried with backoff, never by resubmitting; any other error
    fails the try clearly (upstream takes it for "no status" and polls on). ``poll_interval`` is the first
    delay; it grows to ``max_poll_interval_seconds``.

    Args:
        name: The job run's name (templated); 1-64 of ``[.-_/#A-Za-z0-9]``.
        virtual_cluster_id: The EMR on EKS virtual cluster (templated).
        execution_role_arn: The IAM role of the job run (templated).
        release_label: The Amazon EMR release, e.g. ``"emr-7.1.0-latest"`` (templated).
        job_driver: ``jobDriver``: the Spark job's parameters (templated).
        configuration_overrides: ``configurationOverrides`` (templated).
        client_request_token: A base for the derived ``clientToken`` (1-64 characters, as the API allows).
        wait_for_completion: Wait for the run to end. ``False`` returns as soon as the run is started and its
            ID recorded: a retry returns that run, whatever its state, and never starts another. Ignored with
            ``deferrable=True``, which always waits (as upstream).
        poll_interval: The first delay between status calls, in seconds.
        tags: ``tags`` of the job run.
        max_polling_attempts: The most status calls one try makes before it fails
            (:class:`EmrContainerPollLimitError`, the run keeps going); ``None`` polls until the run ends. In
            deferrable mode, the deferral's timeout is ``max_polling_attempts * poll_interval`` seconds.
        job_retry_max_attempts: ``retryPolicyConfiguration.maxAttempts``: EMR on EKS retries the driver; the
            operator sees the run's own state.
        deferrable: Wait in the triggerer (default ``[operators] default_deferrable``).
        cancel_on_kill: ``on_kill`` (and, deferred, the trigger's ``on_kill``) cancels the run, bounded by
            ``cancel_timeout_seconds``.
        openlineage_inject_parent_job_info: Inject the OpenLineage parent job into the ``spark-defaults``
            configuration (default ``[openlineage] spark_inject_parent_job_info``).
        openlineage_inject_transport_info: Inject the OpenLineage transport into the ``spark-defaults``
            configuration (default ``[openlineage] spark_inject_transport_info``).
        aws_conn_id: The Airflow AWS connection (templated); ``None`` uses boto3's default chain.
        region_name: The AWS region (templated).
        verify: SSL verification, or a CA bundle path (templated).
        botocore_config: ``botocore.config.Config`` arguments.
        max_poll_interval_seconds: The ceiling the delay between status calls grows to and the bound on the
            detection latency; default ``max(120 s, 4 x`` the first delay``)``, the core policy (120 s for
            ``poll_interval=30``).
        **kwargs: ``DurableJobMixin`` arguments (``on_lost_job``, ``cancel_timeout_seconds``,
            ``max_transient_errors``, ``durable``) and ``BaseOperator`` arguments.

    Raises:
        ValueError: On execution, before anything is recorded or submitted: a name, virtual cluster ID or
            ``client_request_token`` the API would refuse, a ``job_driver`` / ``configuration_overrides`` /
            ``tags`` that is not a mapping, or a ``job_retry_max_attempts`` that is not a positive integer.
        EmrContainerJobFailedError: The run ended ``FAILED`` or ``CANCELLED`` (upstream's text).
        EmrContainerPollLimitError: ``max_polling_attempts`` ran out (upstream's text).
    """

    external_id_key = "emr_container_job_id"
    status_table = CONTAINER_JOB_RUN_STATES
    deduplicates_submissions: ClassVar[bool] = True
    template_fields: Sequence[str] = aws_template_fields(
        "name", "virtual_cluster_id", "execution_role_arn", "release_label", "job_driver", "configuration_overrides"
    )
    ui_color = "#f9c915"

    def __init__(
        self,
        *,
        name: str,
        virtual_cluster_id: str,
        execution_role_arn: str,
        release_label: str,
        job_driver: dict[str, Any],
        configuration_overrides: dict[str, Any] | None = None,
        client_request_token: str | None = None,
        wait_for_completion: bool = True,
        poll_interval: int = 30,
        tags: dict[str, str] | None = None,
        max_polling_attempts: int | None = None,
        job_retry_max_attempts: int | None = None,
        deferrable: bool | None = None,
        cancel_on_kill: bool = True,
        openlineage_inject_parent_job_info: bool | None = None,
        openlineage_inject_transport_info: bool | None = None,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict[str, Any] | None = None,
        max_poll_interval_seconds: float | None = None,
        **kwargs: Any,
    ) -> None:
        if poll_interval < 0:
            raise ValueError(f"poll_interval must be >= 0, got {poll_interval!r}")
        kwargs.setdefault("poll_interval_seconds", float(poll_interval))
        super().__init__(
            aws_conn_id=aws_conn_id,
            region_name=region_name,
            verify=verify,
            botocore_config=botocore_config,
            max_poll_interval_seconds=(
                None
                if max_poll_interval_seconds is None
                else max(max_poll_interval_seconds, float(kwargs["poll_interval_seconds"]))
            ),
            **kwargs,
        )
        self.name = name
        self.virtual_cluster_id = virtual_cluster_id
        self.execution_role_arn = execution_role_arn
        self.release_label = release_label
        self.job_driver = job_driver
        self.configuration_overrides = configuration_overrides or {}
        self.client_request_token = client_request_token
        self.wait_for_completion = wait_for_completion
        self.poll_interval = poll_interval
        self.tags = tags
        self.max_polling_attempts = max_polling_attempts
        self.job_retry_max_attempts = job_retry_max_attempts
        self.deferrable = flag_or_conf(deferrable, "operators", "default_deferrable")
        self.cancel_on_kill = cancel_on_kill
        self.openlineage_inject_parent_job_info = flag_or_conf(
            openlineage_inject_parent_job_info, "openlineage", "spark_inject_parent_job_info"
        )
        self.openlineage_inject_transport_info = flag_or_conf(
            openlineage_inject_transport_info, "openlineage", "spark_inject_transport_info"
        )
        self._job_runs: EmrContainerJobRuns | None = None
        self._request: dict[str, Any] | None = None
        self._last_job_run: tuple[str, dict[str, Any]] | None = None
        self._polls: int | None = None

    # ------------------------------------------------------------------ upstream's attributes

    @property
    def job_id(self) -> str | None:
        """The job run this try owns (upstream's attribute): the one ``on_kill`` cancels.

        Setting it (as upstream's tests do) attaches the operator to that run of ``virtual_cluster_id``.

        Raises:
            ValueError: On assignment, a value that is not a job run ID.
        """
        owned = self._owned_external_id
        if owned is None:
            return None
        try:
            return parse_pair_job_id(owned, CONTAINER_ID_PATTERN)[1]
        except ValueError:
            return None

    @job_id.setter
    def job_id(self, value: str | None) -> None:
        self._owned_external_id = (
            None if value is None else pair_job_id(self.virtual_cluster_id, value, CONTAINER_ID_PATTERN)
        )

    @property
    def job_runs(self) -> EmrContainerJobRuns:
        """The boto3-backed EMR on EKS calls of this try."""
        if self._job_runs is None:
            self._job_runs = EmrContainerJobRuns(self.aws, self.virtual_cluster_id)
        return self._job_runs

    # ------------------------------------------------------------------ protocol

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> str:
        """Resume after the trigger fired (upstream's method name), from our trigger's event or upstream's.

        A task deferred by upstream's operator (before the upgrade) resumes here with an
        ``EmrContainerTrigger`` event: ``{"status": "success", "job_id": ...}`` returns that run's ID,
        ``{"status": "error", ...}`` raises upstream's ``AirflowException``.

        Raises:
            EmrContainerJobFailedError: The run failed (upstream's text).
            AirflowException: Upstream's error event.
        """
        if event is not None and "external_id" not in event and "status" in event:
            if event["status"] != "success":
                raise AirflowException(f"Error while running job: {event}")
            event = {
                "external_id": pair_job_id(self.virtual_cluster_id, str(event.get("job_id")), CONTAINER_ID_PATTERN),
                "status": "COMPLETED",
            }
        result: str = super().execute_complete(context, event)
        return result

    def defer(
        self,
        *,
        trigger: BaseTrigger,
        method_name: str,
        kwargs: dict[str, Any] | None = None,
        timeout: timedelta | int | float | None = None,
    ) -> NoReturn:
        """Defer; with ``max_polling_attempts``, time out after ``max_polling_attempts * poll_interval`` s."""
        if timeout is None and self.max_polling_attempts:
            timeout = timedelta(seconds=self.max_polling_attempts * self.poll_interval)
        super().defer(trigger=trigger, method_name=method_name, kwargs=kwargs, timeout=timeout)

    def validate_external_id(self, external_id: JsonValue) -> str:
        """``"<virtual cluster id>:<job run id>"``, both of ``[0-9a-z]`` (see ``statuses``)."""
        parse_pair_job_id(external_id, CONTAINER_ID_PATTERN)
        assert isinstance(external_id, str)
        return external_id

    def token_base(self) -> str | None:
        """``client_request_token``, mixed into every derived ``clientToken``."""
        return self.client_request_token

    def prepare_submission(self, context: Context) -> None:
        """Check the request and build it (OpenLineage injection included), before the intent is written.

        Raises:
            ValueError: A value the API would refuse (see the class docstring).
        """
        token = self.client_request_token
        if token is not None and (not isinstance(token, str) or not CONTAINER_CLIENT_TOKEN_PATTERN.match(token)):
            raise ValueError(
                f"client_request_token must be 1-64 characters, as the EMR on EKS clientToken, got {token!r}"
            )
        if not isinstance(self.name, str) or not JOB_RUN_NAME_PATTERN.match(self.name):
            raise ValueError(f"name must be 1-64 of [.-_/#A-Za-z0-9] (an EMR on EKS job run name), got {self.name!r}")
        if not isinstance(self.virtual_cluster_id, str) or not CONTAINER_ID_PATTERN.match(self.virtual_cluster_id):
            raise ValueError(
                f"virtual_cluster_id must be an EMR on EKS virtual cluster ID ([0-9a-z], 1-64), "
                f"got {self.virtual_cluster_id!r}"
            )
        for field, value in (
            ("job_driver", self.job_driver),
            ("configuration_overrides", self.configuration_overrides),
            ("tags", self.tags or {}),
        ):
            if not isinstance(value, Mapping):
                raise ValueError(f"{field} must be a mapping (a dict), got {type(value).__name__}: {value!r}")
        attempts = self.job_retry_max_attempts
        if attempts is not None and (isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1):
            raise ValueError(f"job_retry_max_attempts must be a positive integer or None, got {attempts!r}")
        request: dict[str, Any] = {
            "name": self.name,
            "virtualClusterId": self.virtual_cluster_id,
            "executionRoleArn": self.execution_role_arn,
            "releaseLabel": self.release_label,
            "jobDriver": self.job_driver,
            "configurationOverrides": self._configuration_overrides(context),
            "tags": self.tags or {},
        }
        if attempts:
            request["retryPolicyConfiguration"] = {"maxAttempts": attempts}
        self._request = request

    def _configuration_overrides(self, context: Context) -> dict[str, Any]:
        """``configuration_overrides`` with the OpenLineage information upstream injects, when asked."""
        overrides = inject_openlineage(
            dict(self.configuration_overrides or {}),
            context,
            parent_job_info=self.openlineage_inject_parent_job_info,
            transport_info=self.openlineage_inject_transport_info,
            service="EMR on EKS",
            log=self.log,
        )
        return dict(overrides)

    def submit_job(self, context: Context) -> str:
        """``StartJobRun`` with the protocol's ``clientToken`` (upstream's token with ``durable=False``)."""
        request = dict(self._request if self._request is not None else self._built_request(context))
        self._request = None
        request["clientToken"] = self.submission_token or self.client_request_token or str(uuid.uuid4())
        job_run_id = self.job_runs.start(request)
        self.log.info(
            "Start Job Run success - Job Id %s and virtual cluster id %s", job_run_id, self.virtual_cluster_id
        )
        return pair_job_id(self.virtual_cluster_id, job_run_id, CONTAINER_ID_PATTERN)

    def _built_request(self, context: Context) -> dict[str, Any]:
        self.prepare_submission(context)
        assert self._request is not None
        return self._request

    def find_job_by_token(self, token: str, context: Context) -> str | None:
        """``ListJobRuns`` by ``name``, then the run whose name and ``clientToken`` match exactly."""
        job_run_id = self.job_runs.find(self.virtual_cluster_id, self.name, token)
        return None if job_run_id is None else pair_job_id(self.virtual_cluster_id, job_run_id, CONTAINER_ID_PATTERN)

    def get_job_status(self, external_id: JsonValue, context: Context) -> str:
        """``DescribeJobRun``'s ``state``.

        While polling, the ``max_polling_attempts``-th status call that still finds the run active raises
        :class:`EmrContainerPollLimitError`, as upstream does, without waiting again.

        Raises:
            JobLostError: EMR on EKS does not know the run.
            DurableJobError: A reply without a state (never taken as "lost").
        """
        virtual_cluster_id, job_run_id = parse_pair_job_id(external_id, CONTAINER_ID_PATTERN)
        job_run = self.job_runs.describe(virtual_cluster_id, job_run_id)
        self._last_job_run = (job_run_id, job_run)
        state: str = job_run["state"]
        if self._polls is not None:
            self._polls += 1
            limit = self.max_polling_attempts
            if limit and self._polls >= limit and self.classify_status(state) is JobState.ACTIVE:
                raise EmrContainerPollLimitError(
                    f"Final state of EMR Containers job is {state}. "
                    f"Max tries of poll status exceeded, query_execution_id is {job_run_id}."
                )
        return state

    def poll_until_complete(self, external_id: JsonValue, context: Context) -> None:
        """The mixin's polling, bounded by ``max_polling_attempts``; a failed run raises upstream's error.

        Raises:
            EmrContainerJobFailedError: The run ended ``FAILED`` or ``CANCELLED``.
            EmrContainerPollLimitError: ``max_polling_attempts`` ran out.
        """
        self._polls = 0
        try:
            super().poll_until_complete(external_id, context)
        finally:
            self._polls = None

    def job_failed_error(self, err: JobFailedError, *, resumed: bool) -> JobFailedError:
        """Upstream's failure text for a run that failed (from the last ``DescribeJobRun`` reply)."""
        if isinstance(err, EmrContainerJobFailedError):
            return err
        external_id = self.validate_external_id(err.external_id)
        virtual_cluster_id, job_run_id = parse_pair_job_id(external_id, CONTAINER_ID_PATTERN)
        last = self._last_job_run
        job_run = last[1] if last is not None and last[0] == job_run_id else None
        reason = self.job_runs.failure_reason(virtual_cluster_id, job_run_id, job_run)
        return EmrContainerJobFailedError(external_id, err.status, failure_message(job_run_id, err.status, reason))

    def attach_job(self, external_id: JsonValue, context: Context) -> None:
        """Own the run (for ``on_kill`` and ``job_id``), on every path."""
        self._owned_external_id = self.validate_external_id(external_id)

    def get_job_result(self, external_id: JsonValue, context: Context) -> str:
        """The job run ID, as upstream returns it, on every path (no call to EMR)."""
        return parse_pair_job_id(external_id, CONTAINER_ID_PATTERN)[1]

    def cancel_job(self, external_id: JsonValue) -> None:
        """``CancelJobRun`` of the run this try owns (one that already ended is left alone)."""
        virtual_cluster_id, job_run_id = parse_pair_job_id(external_id, CONTAINER_ID_PATTERN)
        self.log.info("Stopping job run with jobId - %s", job_run_id)
        self.job_runs.cancel(virtual_cluster_id, job_run_id)

    def job_trigger(self, external_id: JsonValue, context: Context) -> BaseTrigger:
        """The trigger that polls the run in the triggerer (``deferrable=True``)."""
        from airflow_durable_emr.triggers import DurableEmrContainerTrigger

        return DurableEmrContainerTrigger(
            external_id=self.validate_external_id(external_id),
            cancel_on_kill=self.cancel_on_kill,
            cancel_timeout_seconds=self.cancel_timeout_seconds,
            **self.trigger_kwargs(),
        )
