"""``DurableEmrServerlessStartJobOperator``: an EMR Serverless job run, exactly once, on boto3.

Importing this module does not import boto3 (nor the amazon provider's operators): DAG files parse fast.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from airflow.sdk.exceptions import AirflowException

from airflow_durable import JobFailedError, JobLostError, JobState
from airflow_durable.upstream_interface import flag_or_conf
from airflow_durable_emr import serverless_runs
from airflow_durable_emr.base import DurableEmrOperatorBase, aws_template_fields
from airflow_durable_emr.client import is_transient, no_blind_retries
from airflow_durable_emr.links import ProviderLinks
from airflow_durable_emr.openlineage import inject_openlineage
from airflow_durable_emr.statuses import (
    CLIENT_TOKEN_PATTERN,
    SERVERLESS_APPLICATION_STATES,
    SERVERLESS_JOB_RUN_STATES,
)

if TYPE_CHECKING:
    from airflow.sdk.definitions.context import Context
    from pydantic import JsonValue

APPLICATION_READY_STATES = frozenset({"CREATED", "STARTED"})
"""Application states a job run can be started in without starting the application (upstream's set)."""
APPLICATION_START_FAILURE_STATES = frozenset({"STOPPED", "TERMINATED"})
"""States that end the wait for a started application as a failure (upstream's ``serverless_app_started``)."""
DEFAULT_WAITER_DELAY = 60
DEFAULT_WAITER_MAX_ATTEMPTS = 25
DEFAULT_TOKEN_LOOKUP_WINDOW_SECONDS = 7 * 24 * 3600.0
"""How far back a retry searches ``ListJobRuns`` for a run a crashed try started (7 days)."""
RESERVED_CONFIG_KEYS = ("clientToken", "applicationId")
"""``config`` keys the operator sets itself (upstream lets ``config`` override them)."""

# The amazon provider's link classes (``airflow.providers.amazon.aws.links.emr``) and the XCom key each persists.
LINK_CLASSES = {
    "emr_serverless_s3_logs": "EmrServerlessS3LogsLink",
    "emr_serverless_cloudwatch_logs": "EmrServerlessCloudWatchLogsLink",
    "emr_serverless_dashboard": "EmrServerlessDashboardLink",
    "emr_serverless_logs": "EmrServerlessLogsLink",
}
PROVIDER_LINKS = ProviderLinks(*LINK_CLASSES.values())
"""The ``operator_extra_links``: the provider's four link classes, imported when first read."""
AWS_DOMAINS = {"aws": "aws.amazon.com", "aws-cn": "amazonaws.cn", "aws-us-gov": "amazonaws-us-gov.com"}
"""Console domain per partition, as the provider's ``BaseAwsLink.get_aws_domain``."""


class EmrServerlessJobFailedError(JobFailedError, AirflowException):
    """The job run ended ``FAILED`` or ``CANCELLED``; upstream's text (``Serverless Job failed: ...``).

    Attributes:
        external_id: ``"<application id>:<job run id>"``.
        status: The run's terminal state.
    """

    def __init__(self, external_id: Any, status: str, details: str = "") -> None:
        super().__init__(external_id, status, details)
        suffix = f": {details}" if details else ""
        self.args = (f"Serverless Job failed: job run {external_id!r} ended in state {status!r}{suffix}",)


class EmrServerlessWaiterTimeoutError(AirflowException):
    """The job run was still active after ``waiter_max_attempts`` x ``waiter_delay`` seconds.

    The text keeps upstream's ``Waiter error: max attempts reached``.

    Attributes:
        external_id: ``"<application id>:<job run id>"``.
        cancelled: Whether this try cancelled the run (only on the last try; else a retry reconnects to it).
    """

    def __init__(self, external_id: str, seconds: float, *, cancelled: bool) -> None:
        self.external_id = external_id
        self.cancelled = cancelled
        then = (
            "it was cancelled (no retry is left)"
            if cancelled
            else "it keeps running and the retry reconnects to it (no second run is started)"
        )
        super().__init__(
            f"Serverless Job failed: Waiter error: max attempts reached: job run {external_id!r} still active "
            f"after {seconds:g} s; {then}"
        )


class EmrServerlessApplicationError(AirflowException, ValueError):
    """The application does not exist or cannot be started; raised before any intent is written."""


def _aws_domain(partition: str | None) -> str | None:
    return AWS_DOMAINS.get(partition or "")


def _not_set(value: Any) -> bool:
    """``None`` or upstream's ``NOTSET`` sentinel (an ``ArgNotSet``)."""
    return value is None or type(value).__name__ == "ArgNotSet"


def default_job_name(token: str | None) -> str:
    """Upstream's default run name, ``emr_serverless_job_airflow_<uuid4>``.

    With a submission token the UUID is derived from it (a version-4 UUID of its SHA-256), so every try of
    a generation sends the same name and a retry can find the run; without one (``durable=False``) it is
    random, as upstream's.
    """
    if token is None:
        return f"emr_serverless_job_airflow_{uuid.uuid4()}"
    digest = hashlib.sha256(token.encode()).digest()[:16]
    return f"emr_serverless_job_airflow_{uuid.UUID(bytes=digest, version=4)}"


class DurableEmrServerlessStartJobOperator(DurableEmrOperatorBase):
    """Crash-safe ``EmrServerlessStartJobOperator``: ``StartJobRun`` exactly once, then wait for the run.

    Takes the arguments of ``airflow.providers.amazon.aws.operators.emr.EmrServerlessStartJobOperator``
    (same order, defaults and templated fields), starts the application first when it is not ``CREATED``
    or ``STARTED`` (and waits for it, bounded by ``waiter_delay`` x ``waiter_max_attempts``), returns the
    ``jobRunId`` and persists upstream's extra links, on every path. See
    https://docs.aws.amazon.com/emr-serverless/latest/APIReference/API_StartJobRun.html.

    Exactly once:

    * ``clientToken`` is the protocol's submission token, derived from the task instance and the generation
      (a ``client_request_token`` seeds it, see ``token_base``): the same on every try of a generation, new
      after a failed run. Upstream's is a fresh ``uuid4()`` at every DAG parse, so every retry starts a run.
    * The token also goes into the run's tags (``airflow-durable-token``, beside the user's ``config["tags"]``),
      and the run name is the user's or a default derived from the token. A retry after a crash between
      ``StartJobRun`` and the persist finds the run with ``ListJobRuns`` (bounded by
      ``token_lookup_window_seconds``, paged) and ``GetJobRun`` (exact tag match) and adopts it; it never
      relies on ``clientToken`` deduplication alone.
    * ``QUEUED`` is active (upstream's hook misses it); ``CANCELLING`` is active until the run ends.
    * ``wait_for_completion=False`` is fire-and-forget exactly once: a retry returns the recorded run.
    * When the wait budget (``waiter_delay`` x ``waiter_max_attempts`` seconds) runs out, the try fails with
      :class:`EmrServerlessWaiterTimeoutError`. With retries left the run keeps going and the retry
      reconnects to it (upstream's retry started a second run); on the last try it is cancelled, as upstream.

    Stored state: the ``airflow_durable`` record (see ``DurableJobMixin``) under ``emr_serverless_job_run_id``,
    ``external_id`` ``"<application id>:<job run id>"``.

    Extra links: with ``apache-airflow-providers-amazon`` installed, the provider's own link classes, from the
    same XComs upstream persists (``emr_serverless_s3_logs`` and ``emr_serverless_cloudwatch_logs`` with a
    ``monitoringConfiguration``; ``emr_serverless_dashboard`` and, for ``sparkSubmit``,
    ``emr_serverless_logs`` with ``enable_application_ui_links``). Without it the same XComs are pushed and
    no link is shown (the dashboard links need the provider's hook to ask for a one-time URL).

    Args:
        application_id: The EMR Serverless application (templated).
        execution_role_arn: The job run's IAM role ARN (templated).
        job_driver: The ``jobDriver`` (templated).
        configuration_overrides: ``configurationOverrides`` (templated).
        client_request_token: A base token mixed into every derived ``clientToken``; 1-64 of
            ``[A-Za-z0-9._-]`` (the API's limit), checked before anything is written or sent.
        config: More ``StartJobRun`` arguments (``tags``, ``executionTimeoutMinutes``, ``name``...; templated).
        wait_for_completion: Wait for the run to end. False: fire-and-forget, exactly once.
        name: The run name (templated); default ``config["name"]``, else ``emr_serverless_job_airflow_<uuid>``.
        waiter_max_attempts: With ``waiter_delay``, the wait budget for the application start and the run
            (default 25).
        waiter_delay: The first delay between polls of the run, in seconds (default 60; it grows to
            ``max_poll_interval_seconds``), and the delay between polls of the application start.
        deferrable: Wait in the triggerer (default ``[operators] default_deferrable``).
        enable_application_ui_links: Persist the dashboard (and Spark driver log) links.
        cancel_on_kill: ``on_kill`` cancels the run this try owns (bounded by ``cancel_timeout_seconds``).
        openlineage_inject_parent_job_info: Inject the OpenLineage parent job into ``spark-defaults``
            (default ``[openlineage] spark_inject_parent_job_info``).
        openlineage_inject_transport_info: Inject the OpenLineage transport into ``spark-defaults``
            (default ``[openlineage] spark_inject_transport_info``).
        aws_conn_id: The Airflow AWS connection (templated); see :mod:`airflow_durable_emr.client`.
        region_name: The AWS region (templated).
        verify: SSL verification (templated).
        botocore_config: ``botocore.config.Config`` arguments.
        token_lookup_window_seconds: How far back (from now) a retry searches for the run a crashed try
            started.
        poll_interval_seconds: The first delay between polls (default ``waiter_delay``).
        max_poll_interval_seconds: The ceiling the delay grows to and the bound on the detection latency;
            default ``max(120 s, 4 x`` the first delay``)``, the core policy (240 s for
            ``waiter_delay=60``; ``waiter_delay`` gives upstream's fixed cadence).
        **kwargs: ``DurableJobMixin`` (``on_lost_job``, ``cancel_timeout_seconds``, ``durable``...) and
            ``BaseOperator`` arguments.

    Raises:
        ValueError: On construction, a negative ``waiter_delay`` or ``waiter_max_attempts`` below 1.
    """

    external_id_key = "emr_serverless_job_run_id"
    status_table = SERVERLESS_JOB_RUN_STATES
    template_fields: Sequence[str] = aws_template_fields(
        "application_id", "config", "execution_role_arn", "job_driver", "configuration_overrides", "name"
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {"config": "json", "configuration_overrides": "json"}
    operator_extra_links = PROVIDER_LINKS

    def __init__(
        self,
        application_id: str,
        execution_role_arn: str,
        job_driver: dict[str, Any],
        configuration_overrides: dict[str, Any] | None = None,
        client_request_token: str = "",
        config: dict[str, Any] | None = None,
        wait_for_completion: bool = True,
        name: str | None = None,
        waiter_max_attempts: Any = None,
        waiter_delay: Any = None,
        deferrable: bool | None = None,
        enable_application_ui_links: bool = False,
        cancel_on_kill: bool = True,
        openlineage_inject_parent_job_info: bool | None = None,
        openlineage_inject_transport_info: bool | None = None,
        *,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict[str, Any] | None = None,
        token_lookup_window_seconds: float = DEFAULT_TOKEN_LOOKUP_WINDOW_SECONDS,
        poll_interval_seconds: float | None = None,
        max_poll_interval_seconds: float | None = None,
        **kwargs: Any,
    ) -> None:
        delay = DEFAULT_WAITER_DELAY if _not_set(waiter_delay) else int(waiter_delay)
        attempts = DEFAULT_WAITER_MAX_ATTEMPTS if _not_set(waiter_max_attempts) else int(waiter_max_attempts)
        if delay < 0:
            raise ValueError(f"waiter_delay must be >= 0, got {delay!r}")
        if attempts < 1:
            raise ValueError(f"waiter_max_attempts must be >= 1, got {attempts!r}")
        first = float(delay) if poll_interval_seconds is None else poll_interval_seconds
        super().__init__(
            aws_conn_id=aws_conn_id,
            region_name=region_name,
            verify=verify,
            botocore_config=botocore_config,
            poll_interval_seconds=first,
            max_poll_interval_seconds=None
            if max_poll_interval_seconds is None
            else max(first, max_poll_interval_seconds),
            **kwargs,
        )
        self.application_id = application_id
        self.execution_role_arn = execution_role_arn
        self.job_driver = job_driver
        self.configuration_overrides = configuration_overrides
        self.client_request_token = client_request_token
        self.config = config or {}
        self.wait_for_completion = wait_for_completion
        self.name = name
        self.waiter_max_attempts = attempts
        self.waiter_delay = delay
        self.deferrable = flag_or_conf(deferrable, "operators", "default_deferrable")
        self.enable_application_ui_links = enable_application_ui_links
        self.cancel_on_kill = cancel_on_kill
        self.openlineage_inject_parent_job_info = flag_or_conf(
            openlineage_inject_parent_job_info, "openlineage", "spark_inject_parent_job_info"
        )
        self.openlineage_inject_transport_info = flag_or_conf(
            openlineage_inject_transport_info, "openlineage", "spark_inject_transport_info"
        )
        self.token_lookup_window_seconds = token_lookup_window_seconds
        self.job_id: str | None = None
        """The job run this try owns (upstream's attribute); set on every path, read by ``on_kill``."""
        self._client: Any = None
        self._last_run: tuple[str, dict[str, Any]] | None = None
        self._overrides: dict[str, Any] | None = None
        self._wait_deadline: float | None = None
        self._wait_polls = 0
        self._application_event: dict[str, Any] | None = None

    # ------------------------------------------------------------------ client

    @property
    def client(self) -> Any:
        """The boto3 ``emr-serverless`` client of this try (built on first use).

        When durable, botocore does not retry ``StartJobRun`` (see
        :func:`~airflow_durable_emr.client.no_blind_retries`): the mixin looks the job run up by its
        token (:meth:`find_job_by_token`) after a transient error, and starts it again only if it is not there.
        """
        if self._client is None:
            self._client = self.aws.client("emr-serverless")
            if self.durable:
                no_blind_retries(self._client, "StartJobRun")
        return self._client

    # ------------------------------------------------------------------ execute

    def execute(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Run the durable protocol (see ``DurableJobMixin``); returns the ``jobRunId``.

        Args:
            context: The task context.
            event: Set when the task resumes after waiting in the triggerer for its application to start
                (``deferrable=True``, as upstream's ``execute`` resumes); the application is then checked again.
        """
        self._application_event = event
        return self.execute_resumable(context)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Resume after the trigger fired (upstream's method name); returns the ``jobRunId``.

        A task deferred by upstream's operator before the upgrade resumes here with an
        ``EmrServerlessStartJobTrigger`` event (``{"status", "job_details": {"application_id", "job_id"}}``): it
        completes as upstream's would (the ``job_id`` on success; else cancel the run and raise upstream's error).

        Raises:
            EmrServerlessJobFailedError: The run failed or was cancelled.
            DurableJobError: The trigger could not finish polling; the retry reconnects to the run.
            AirflowException: Upstream's event reports a failure or a timeout (upstream's text).
        """
        if isinstance(event, dict) and isinstance(event.get("job_details"), dict):
            return self._complete_upstream_event(event)
        return super().execute_complete(context, event)

    def _complete_upstream_event(self, event: dict[str, Any]) -> str:
        details = event["job_details"]
        application_id, job_run_id = str(details.get("application_id")), str(details.get("job_id"))
        self.job_id = job_run_id
        if event.get("status") == "success":
            self.log.info("Serverless job completed")
            return job_run_id
        self.log.info("Cancelling EMR Serverless job %s", job_run_id)
        serverless_runs.cancel_job_run(self.client, application_id, job_run_id)
        raise AirflowException("EMR Serverless job failed or timed out in deferrable mode")

    def prepare_submission(self, context: Context) -> None:
        """Check the request and get the application ready, before the intent is written.

        Raises:
            ValueError: A malformed ``application_id``, ``client_request_token`` or ``config``.
            EmrServerlessApplicationError: The application does not exist, or cannot be started within
                ``waiter_delay`` x ``waiter_max_attempts`` seconds.
        """
        if not isinstance(self.application_id, str) or not serverless_runs.ID_PATTERN.match(self.application_id):
            raise ValueError(f"application_id {self.application_id!r} is not an EMR Serverless application ID")
        token = self.client_request_token
        if token and not (isinstance(token, str) and CLIENT_TOKEN_PATTERN.match(token)):
            raise ValueError(
                f"client_request_token {token!r} is not a valid clientToken: 1-64 characters of [A-Za-z0-9._-]"
            )
        if not isinstance(self.config, dict):
            raise ValueError(f"config must be a dict of StartJobRun arguments, got {type(self.config).__name__}")
        reserved = [key for key in RESERVED_CONFIG_KEYS if key in self.config]
        if reserved:
            raise ValueError(
                f"config sets {reserved}, which the operator sets itself (the clientToken is derived per task "
                "instance and generation; pass client_request_token to seed it)"
            )
        tags = self.config.get("tags")
        if tags is not None and (not isinstance(tags, dict) or serverless_runs.TOKEN_TAG in tags):
            raise ValueError(
                f"config['tags'] must be a dict without the key {serverless_runs.TOKEN_TAG!r}, which the operator "
                f"sets itself, got {tags!r}"
            )
        self._overrides = self._configuration_overrides(context)
        self._ensure_application_started()

    def _ensure_application_started(self) -> None:
        """Start the application unless it is ``CREATED`` or ``STARTED``, and wait until it is ``STARTED``.

        With ``deferrable=True`` the wait is in the triggerer (nothing is written yet); ``execute`` runs again
        when the application settles, and fails if it is still not ready then.
        """
        state = self._application_state()
        if state in APPLICATION_READY_STATES:
            return
        if state == "TERMINATED":
            raise EmrServerlessApplicationError(
                f"Serverless Application failed to start: application {self.application_id!r} is TERMINATED "
                "and can never run a job again"
            )
        if self._application_event is not None:
            raise EmrServerlessApplicationError(
                f"Serverless Application failed to start: application {self.application_id!r} is {state} after "
                f"waiting in the triggerer ({self._application_event})"
            )
        self.log.info("Application state is %s", state)
        self.log.info("Starting application %s", self.application_id)
        try:
            self._call_vendor(lambda: self.client.start_application(applicationId=self.application_id))
        except Exception as err:
            if is_transient(err):
                raise
            raise EmrServerlessApplicationError(
                f"Serverless Application failed to start: StartApplication of {self.application_id!r} "
                f"(state {state}) was refused: {err}"
            ) from err
        if self.deferrable:
            from airflow_durable_emr.triggers import DurableEmrServerlessApplicationTrigger

            self.defer(
                trigger=DurableEmrServerlessApplicationTrigger(
                    external_id=self.application_id, **self.trigger_kwargs()
                ),
                method_name="execute",
            )
        self.wait_until_application_started()

    def wait_until_application_started(self) -> None:
        """Poll ``GetApplication`` until ``STARTED``: ``waiter_max_attempts`` reads, ``waiter_delay`` seconds apart.

        Raises:
            EmrServerlessApplicationError: The application is ``STOPPED`` or ``TERMINATED``, or not started
                after the last read (upstream's ``Serverless Application failed to start``).
        """
        state = None
        for attempt in range(self.waiter_max_attempts):
            if attempt:
                time.sleep(self.waiter_delay)
            state = self._application_state()
            self.log.info("Serverless Application status is %s", state)
            if state == "STARTED":
                return
            if state in APPLICATION_START_FAILURE_STATES:
                raise EmrServerlessApplicationError(
                    f"Serverless Application failed to start: application {self.application_id!r} is {state}"
                )
        raise EmrServerlessApplicationError(
            f"Serverless Application failed to start: application {self.application_id!r} is still {state} "
            f"after {self.waiter_max_attempts} attempts, {self.waiter_delay} s apart"
        )

    def _application_state(self) -> str:
        try:
            state = self._call_vendor(lambda: serverless_runs.application_state(self.client, self.application_id))
        except JobLostError as err:
            raise EmrServerlessApplicationError(
                f"EMR Serverless application {self.application_id!r} does not exist: {err}"
            ) from err
        SERVERLESS_APPLICATION_STATES.classify(state)  # an unlisted state is an error naming it
        return state

    def _configuration_overrides(self, context: Context) -> dict[str, Any] | None:
        """``configuration_overrides`` with the OpenLineage injections asked for (as upstream)."""
        overrides: dict[str, Any] | None = inject_openlineage(
            self.configuration_overrides,
            context,
            parent_job_info=self.openlineage_inject_parent_job_info,
            transport_info=self.openlineage_inject_transport_info,
            service="EMR Serverless",
            log=self.log,
        )
        return overrides

    def start_job_run_request(self, token: str | None) -> dict[str, Any]:
        """The ``StartJobRun`` arguments for ``token`` (upstream's, plus our token tag).

        ``name`` is ``name``, else ``config["name"]``, else :func:`default_job_name`; ``config`` is spread over
        the arguments as upstream does; the token goes into ``clientToken`` and the ``airflow-durable-token``
        tag. Without a token (``durable=False``) the ``clientToken`` is ``client_request_token`` or a new
        ``uuid4()``, as upstream.
        """
        config = dict(self.config)
        if not self.name:
            self.name = config.pop("name", None) or default_job_name(token)
        request: dict[str, Any] = {
            "clientToken": token or self.client_request_token or str(uuid.uuid4()),
            "applicationId": self.application_id,
            "executionRoleArn": self.execution_role_arn,
            "jobDriver": self.job_driver,
            "name": self.name,
            **config,
        }
        if token is not None:
            request["tags"] = {**(config.get("tags") or {}), serverless_runs.TOKEN_TAG: token}
        overrides = self._overrides if self._overrides is not None else self.configuration_overrides
        if overrides is not None:
            request["configurationOverrides"] = overrides
        return request

    def submit_job(self, context: Context) -> str:
        """``StartJobRun`` with the submission token; returns ``"<application id>:<job run id>"``.

        Raises:
            AirflowException: A reply other than HTTP 200 (upstream's text).
        """
        self.log.info("Starting job on Application: %s", self.application_id)
        response = self.client.start_job_run(**self.start_job_run_request(self.submission_token))
        if response.get("ResponseMetadata", {}).get("HTTPStatusCode") != 200:
            raise AirflowException(f"EMR serverless job failed to start: {response}")
        job_run_id = response["jobRunId"]
        self.log.info("EMR serverless job started: %s", job_run_id)
        return serverless_runs.job_run_external_id(self.application_id, job_run_id)

    # ------------------------------------------------------------------ the protocol's questions

    def token_base(self) -> str | None:
        """The user's ``client_request_token``, mixed into every derived ``clientToken``."""
        return self.client_request_token or None

    def validate_external_id(self, external_id: JsonValue) -> str:
        """``"<application id>:<job run id>"``, each ``serverless_runs.ID_PATTERN`` (no ``:``, no whitespace)."""
        serverless_runs.parse_job_run_external_id(external_id)
        assert isinstance(external_id, str)
        return external_id

    def find_job_by_token(self, token: str, context: Context) -> str | None:
        """The run started with ``token`` (its ``airflow-durable-token`` tag), or ``None``."""
        created_after = datetime.now(UTC) - timedelta(seconds=self.token_lookup_window_seconds)
        name = self.start_job_run_request(token)["name"]
        run_id = serverless_runs.find_job_run(self.client, self.application_id, token, name, created_after)
        return None if run_id is None else serverless_runs.job_run_external_id(self.application_id, run_id)

    def get_job_status(self, external_id: JsonValue, context: Context) -> str:
        """The run's ``state`` (``GetJobRun``).

        Raises:
            JobLostError: The API does not know the run.
            DurableJobError: A reply without a state (never taken as lost).
            EmrServerlessWaiterTimeoutError: While polling, the run is still active after ``waiter_delay`` x
                ``waiter_max_attempts`` seconds (``waiter_max_attempts`` polls with ``waiter_delay=0``).
        """
        application_id, job_run_id = serverless_runs.parse_job_run_external_id(external_id)
        run = serverless_runs.get_job_run(self.client, application_id, job_run_id)
        self._last_run = (str(external_id), run)
        state = str(run["state"])
        self.log.info("Serverless Job status is %s %s", state, run.get("stateDetails") or "")
        if self._wait_deadline is not None and SERVERLESS_JOB_RUN_STATES.classify(state) is JobState.ACTIVE:
            self._wait_polls += 1
            if self._wait_budget_spent():
                raise EmrServerlessWaiterTimeoutError(str(external_id), self._wait_budget_seconds(), cancelled=False)
        return state

    def waits_for_job(self) -> bool:
        """``wait_for_completion``: False makes the operator fire-and-forget (exactly once)."""
        return self.wait_for_completion

    def attach_job(self, external_id: JsonValue, context: Context) -> None:
        """Own the run (``job_id``, for ``on_kill``) and persist upstream's extra links, on every path."""
        application_id, job_run_id = serverless_runs.parse_job_run_external_id(external_id)
        self.job_id = job_run_id
        self.persist_links(context, application_id, job_run_id)

    def poll_until_complete(self, external_id: JsonValue, context: Context) -> None:
        """The mixin's polling within ``waiter_delay`` x ``waiter_max_attempts`` seconds.

        Raises:
            EmrServerlessJobFailedError: The run failed or was cancelled.
            EmrServerlessWaiterTimeoutError: The budget ran out; the run is cancelled only when no retry is
                left (``context["ti"].try_number`` > ``retries``), else a retry reconnects to it.
        """
        self._wait_deadline = time.monotonic() + self._wait_budget_seconds()
        self._wait_polls = 0
        try:
            super().poll_until_complete(external_id, context)
        except EmrServerlessWaiterTimeoutError:
            last = self._is_last_try(context)
            if last:
                self.log.info("Cancelling EMR Serverless job %s due to max waiter attempts reached", self.job_id)
                try:
                    self._call_vendor(lambda: self._cancel(str(external_id)))
                except Exception:
                    self.log.exception("Failed to cancel EMR Serverless job %s after waiter timeout", self.job_id)
                    last = False
            raise EmrServerlessWaiterTimeoutError(
                str(external_id), self._wait_budget_seconds(), cancelled=last
            ) from None
        finally:
            self._wait_deadline = None

    def _wait_budget_seconds(self) -> float:
        return float(self.waiter_delay * self.waiter_max_attempts)

    def _wait_budget_spent(self) -> bool:
        """Whether the wait budget ran out.

        The budget is time (``waiter_delay`` x ``waiter_max_attempts`` seconds), as upstream's waiter spends
        it; polls back off past ``waiter_delay``, so their count is no measure of it. With ``waiter_delay=0``
        it is ``waiter_max_attempts`` polls.
        """
        assert self._wait_deadline is not None
        if self.waiter_delay > 0:
            return time.monotonic() >= self._wait_deadline
        return self._wait_polls >= self.waiter_max_attempts

    def _is_last_try(self, context: Context) -> bool:
        """No retry follows this try (unknown without a task instance: taken as the last, as upstream)."""
        try_number = getattr(context.get("ti") if context is not None else None, "try_number", None)
        if not isinstance(try_number, int):
            return True
        return try_number > int(self.retries or 0)

    def job_failed_error(self, err: JobFailedError, *, resumed: bool) -> JobFailedError:
        """Upstream's failure text, with the run's ``stateDetails`` when this try read them."""
        if isinstance(err, EmrServerlessJobFailedError):
            return err
        details = ""
        if self._last_run is not None and self._last_run[0] == err.external_id:
            details = str(self._last_run[1].get("stateDetails") or "")
        return EmrServerlessJobFailedError(err.external_id, err.status, details)

    def get_job_result(self, external_id: JsonValue, context: Context) -> str:
        """The ``jobRunId``, on every path (fresh, reconnect, adopt, already-succeeded, deferrable)."""
        _, job_run_id = serverless_runs.parse_job_run_external_id(external_id)
        if self.wait_for_completion:
            self.log.info("Serverless job completed")
        return job_run_id

    def job_trigger(self, external_id: JsonValue, context: Context) -> Any:
        """The trigger that polls the run in the triggerer (``deferrable=True``)."""
        from airflow_durable_emr.triggers import DurableEmrServerlessJobTrigger

        return DurableEmrServerlessJobTrigger(
            external_id=self.validate_external_id(external_id), **self.trigger_kwargs()
        )

    def defer(
        self, *, trigger: Any, method_name: str, kwargs: dict[str, Any] | None = None, timeout: Any = None
    ) -> NoReturn:
        """``BaseOperator.defer``, with upstream's timeout (``waiter_delay`` x ``waiter_max_attempts``) by default.

        A deferral that times out fails the try; the run keeps going and the retry reconnects to it.
        """
        if timeout is None:
            timeout = timedelta(seconds=self._wait_budget_seconds())
        super().defer(trigger=trigger, method_name=method_name, kwargs=kwargs, timeout=timeout)

    # ------------------------------------------------------------------ kill

    def cancel_job(self, external_id: JsonValue) -> None:
        """``CancelJobRun``, then poll until the run ends (upstream's ``on_kill``); bounded by the mixin.

        As upstream, the polling needs the cancel to be acknowledged (HTTP 200); else it logs upstream's error.
        """
        reply = self._cancel(str(external_id))
        metadata = reply.get("ResponseMetadata") if isinstance(reply, dict) else None
        if not isinstance(metadata, dict) or metadata.get("HTTPStatusCode") != 200:
            self.log.error("Unable to request query cancel on EMR Serverless. Exiting")
            return
        application_id, job_run_id = serverless_runs.parse_job_run_external_id(external_id)
        self.log.info("Polling EMR Serverless for query with id %s to reach final state", job_run_id)
        while (
            SERVERLESS_JOB_RUN_STATES.classify(
                serverless_runs.get_job_run(self.client, application_id, job_run_id)["state"]
            ).value
            == "active"
        ):
            time.sleep(max(1.0, min(self.poll_interval_seconds, 30.0)))

    def _cancel(self, external_id: str) -> Any:
        application_id, job_run_id = serverless_runs.parse_job_run_external_id(external_id)
        self.log.info("Stopping job run with jobId - %s", job_run_id)
        return serverless_runs.cancel_job_run(self.client, application_id, job_run_id)

    # ------------------------------------------------------------------ links

    def is_monitoring_in_job_override(self, config_key: str, job_override: dict[str, Any] | None) -> bool:
        """Whether ``monitoringConfiguration`` enables ``config_key`` (upstream's check, same name).

        CloudWatch counts only with ``"enabled": True``.
        """
        monitoring = (job_override or {}).get("monitoringConfiguration")
        if monitoring is None or config_key not in monitoring:
            return False
        if config_key == "cloudWatchLoggingConfiguration":
            return monitoring.get(config_key).get("enabled") is True
        return True

    def link_xcoms(self, application_id: str, job_run_id: str) -> dict[str, dict[str, Any]]:
        """The extra links' arguments, by XCom key, under upstream's conditions (without region and domain)."""
        links: dict[str, dict[str, Any]] = {}
        run = {"application_id": application_id, "job_run_id": job_run_id}
        if self.enable_application_ui_links:
            links["emr_serverless_dashboard"] = {"conn_id": self.aws_conn_id, **run}
            if "sparkSubmit" in (self.job_driver or {}):
                links["emr_serverless_logs"] = {"conn_id": self.aws_conn_id, **run}
        monitoring = (self.configuration_overrides or {}).get("monitoringConfiguration", {})
        if self.is_monitoring_in_job_override("s3MonitoringConfiguration", self.configuration_overrides):
            links["emr_serverless_s3_logs"] = {
                "log_uri": monitoring.get("s3MonitoringConfiguration", {}).get("logUri"),
                **run,
            }
        if self.is_monitoring_in_job_override("cloudWatchLoggingConfiguration", self.configuration_overrides):
            cloudwatch = monitoring.get("cloudWatchLoggingConfiguration", {})
            prefix = cloudwatch.get("logStreamNamePrefix", "")
            links["emr_serverless_cloudwatch_logs"] = {
                "awslogs_group": cloudwatch.get("logGroupName", "/aws/emr-serverless"),
                "stream_prefix": f"{prefix}/applications/{application_id}/jobs/{job_run_id}",
            }
        return links

    def persist_links(self, context: Context, application_id: str, job_run_id: str) -> None:
        """Push the extra links' XComs (``do_xcom_push``), through the provider's link classes when installed."""
        links = self.link_xcoms(application_id, job_run_id)
        if not links or not self.do_xcom_push or context is None or context.get("ti") is None:
            return
        meta = self.client.meta
        region, partition = meta.region_name, meta.partition
        provider_links = _provider_links()
        for key, arguments in links.items():
            link_class = provider_links.get(key)
            if link_class is not None:
                link_class.persist(
                    context=context, operator=self, region_name=region, aws_partition=partition, **arguments
                )
            else:
                self.push_xcom(context, key, {"region_name": region, "aws_domain": _aws_domain(partition), **arguments})


def _provider_links() -> dict[str, Any]:
    """The amazon provider's link class per XCom key; empty without the provider."""
    return dict(zip(LINK_CLASSES, PROVIDER_LINKS.link_classes(), strict=False))
