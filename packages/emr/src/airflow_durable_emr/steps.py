"""``DurableEmrAddStepsOperator``: add steps to an EMR cluster exactly once, and wait for them durably.

Importing this module does not import boto3: DAG files parse fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk.exceptions import AirflowException

from airflow_durable import Decision, JobFailedError
from airflow_durable.upstream_interface import flag_or_conf
from airflow_durable_emr import steps_api
from airflow_durable_emr.base import DurableEmrOperatorBase, aws_template_fields
from airflow_durable_emr.client import no_blind_retries
from airflow_durable_emr.links import LINKS_MODULE, ProviderLinks
from airflow_durable_emr.statuses import CLUSTER_ID_PATTERN, STEP_STATES, parse_step_job_id, step_job_id
from airflow_durable_emr.steps_api import EmrStepsRequestError

if TYPE_CHECKING:
    from airflow.sdk.definitions.context import Context
    from pydantic import JsonValue

XCOM_JOB_FLOW_ID_KEY = "job_flow_id"


class EmrStepsFailedError(JobFailedError, AirflowException):
    """A step of the submission failed, was cancelled or was interrupted (after every step ended).

    Both our ``JobFailedError`` and Airflow's ``AirflowException`` (what upstream raises).

    Attributes:
        external_id: ``"<cluster id>:<step id>,..."``.
        status: The failed step's state (``FAILED``, ``CANCELLED``, ``INTERRUPTED``).
    """

    def __init__(self, external_id: Any, status: str, message: str) -> None:
        super().__init__(external_id, status, message)
        self.args = (message,)


class DurableEmrAddStepsOperator(DurableEmrOperatorBase):
    """Crash-safe ``EmrAddStepsOperator``: ``AddJobFlowSteps`` exactly once, then wait for every step.

    Takes the arguments of ``airflow.providers.amazon.aws.operators.emr.EmrAddStepsOperator`` (and its
    ``AwsBaseOperator`` ones), templates the same fields, pushes the same ``job_flow_id`` XCom and extra
    links (``emr_cluster``, ``emr_logs``; the amazon provider's link classes, so without that provider there
    are none), and returns the step IDs, on every path: fresh, reconnect, adopt, already succeeded,
    deferrable, fire-and-forget.

    **Durable.** The external ID is ``"<cluster id>:<step id>,..."`` (key ``emr_step_ids``). ``AddJobFlowSteps``
    has no idempotency token, so the submission token is a marker at the end of every step ``Name`` (the
    user's name stays first and readable, see :mod:`airflow_durable_emr.steps_api`). A retry after a crash
    between ``AddJobFlowSteps`` and the persist finds its own steps with ``ListSteps`` (newest first, at
    most :data:`~airflow_durable_emr.steps_api.MAX_LOOKUP_PAGES` pages) and adopts them; the token is scoped
    by the task instance (map index included) and the generation, so it never adopts another task
    instance's or another generation's steps, even identical ones.

    **States.** Read with ``ListSteps`` (at most 10 step IDs a call, paged): active while any step is,
    succeeded when every step completed, failed when any step failed, was cancelled or was interrupted (the
    task fails once every step has ended, so a retry's new steps never run beside old ones). A cluster EMR
    no longer knows, or a step EMR calls "not valid" (``DescribeStep``), makes the steps lost
    (``on_lost_job``); a step a known cluster leaves out of ``ListSteps`` and ``DescribeStep`` answers
    without (moto's HTTP 200 with no ``Step``) is an error, never "lost": it may still run.

    **on_kill** cancels the steps this try owns (``CancelSteps``, ``SEND_INTERRUPT``), bounded by
    ``cancel_timeout_seconds``. ``wait_for_completion=False`` (upstream's default) adds the steps exactly
    once and returns: a retry returns the same step IDs without asking EMR. ``deferrable=True`` waits in
    the triggerer (:class:`~airflow_durable_emr.triggers.DurableEmrStepsTrigger`), after the persist.

    Bad input fails before anything is recorded or sent (:class:`EmrStepsRequestError`, an
    ``AirflowException``): steps that are not a list of step configurations, a cluster name that matches no
    cluster or several, an unknown cluster ID, a step name with no room for the marker.

    Args:
        job_flow_id: The cluster (job flow) to add the steps to (templated). Exactly one of this and
            ``job_flow_name``.
        job_flow_name: The cluster's name, resolved among the clusters in ``cluster_states`` to exactly
            one ID (templated).
        cluster_states: The cluster states ``job_flow_name`` is looked up in; empty: every state (templated).
        steps: ``StepConfig`` dicts, or a string of such a list (a ``.json`` template file, or an XCom),
            read with ``ast.literal_eval`` (templated).
        wait_for_completion: Wait until every step ended. ``False`` (the default, as upstream): add the
            steps and return their IDs.
        waiter_delay: Seconds between status polls (the first delay; it grows with jitter up to
            ``max_poll_interval_seconds``).
        waiter_max_attempts: Kept for compatibility; the wait has no attempt limit (see the migration
            guide, ``waiter-max-attempts``): bound it with the task's ``execution_timeout``.
        execution_role_arn: The runtime role of the steps (``ExecutionRoleArn``) (templated).
        deferrable: Wait in the triggerer; implies waiting (``wait_for_completion`` is then False, as
            upstream). Default: ``[operators] default_deferrable``.
        openlineage_inject_parent_job_info: Add the OpenLineage parent job properties as ``--conf`` to the
            Spark steps (``spark-submit``, ``run-example``). Default:
            ``[openlineage] spark_inject_parent_job_info``.
        aws_conn_id: The Airflow AWS connection (templated); ``None``: boto3's default chain.
        region_name: The AWS region (templated).
        verify: SSL certificate verification (templated).
        botocore_config: ``botocore.config.Config`` keyword arguments.
        poll_interval_seconds: Overrides ``waiter_delay``.
        max_poll_interval_seconds: The ceiling of the poll delay and the bound on the detection latency;
            default ``max(120 s, 4 x`` the first delay``)``, the core policy (120 s for ``waiter_delay=30``).
        **kwargs: ``DurableJobMixin`` (``on_lost_job``, ``cancel_timeout_seconds``, ``durable``...) and
            ``BaseOperator`` arguments.

    Raises:
        EmrStepsRequestError: On construction, neither or both of ``job_flow_id`` and ``job_flow_name``
            (upstream's text).
    """

    external_id_key = "emr_step_ids"
    status_table = STEP_STATES
    template_fields: Sequence[str] = aws_template_fields(
        "job_flow_id", "job_flow_name", "cluster_states", "steps", "execution_role_arn"
    )
    template_ext: Sequence[str] = (".json",)
    template_fields_renderers: ClassVar[dict[str, str]] = {"steps": "json"}
    ui_color = "#f9c915"
    operator_extra_links = ProviderLinks("EmrClusterLink", "EmrLogsLink")

    def __init__(
        self,
        *,
        job_flow_id: str | None = None,
        job_flow_name: str | None = None,
        cluster_states: list[str] | None = None,
        steps: list[dict[str, Any]] | str | None = None,
        wait_for_completion: bool = False,
        waiter_delay: int = 30,
        waiter_max_attempts: int = 60,
        execution_role_arn: str | None = None,
        deferrable: bool | None = None,
        openlineage_inject_parent_job_info: bool | None = None,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict[str, Any] | None = None,
        poll_interval_seconds: float | None = None,
        max_poll_interval_seconds: float | None = None,
        **kwargs: Any,
    ) -> None:
        if (job_flow_id is None) == (job_flow_name is None):
            raise EmrStepsRequestError("Exactly one of job_flow_id or job_flow_name must be specified.")
        interval = float(waiter_delay if poll_interval_seconds is None else poll_interval_seconds)
        super().__init__(
            aws_conn_id=aws_conn_id,
            region_name=region_name,
            verify=verify,
            botocore_config=botocore_config,
            poll_interval_seconds=interval,
            max_poll_interval_seconds=max_poll_interval_seconds,
            **kwargs,
        )
        self.job_flow_id = job_flow_id
        self.job_flow_name = job_flow_name
        self.cluster_states = cluster_states or []
        self.steps = steps or []
        self.deferrable = flag_or_conf(deferrable, "operators", "default_deferrable")
        self.wait_for_completion = False if self.deferrable else wait_for_completion
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts
        self.execution_role_arn = execution_role_arn
        self.openlineage_inject_parent_job_info = flag_or_conf(
            openlineage_inject_parent_job_info, "openlineage", "spark_inject_parent_job_info"
        )
        self._client: Any = None
        self._request: tuple[str, list[dict[str, Any]]] | None = None
        self._cluster: dict[str, Any] | None = None
        self._published: str | None = None
        self._failure = ""

    @property
    def emr_client(self) -> Any:
        """The boto3 ``emr`` client of this try (built on first use).

        When durable, botocore does not retry ``AddJobFlowSteps`` (see
        :func:`~airflow_durable_emr.client.no_blind_retries`): the mixin looks the steps up by their
        marker after a transient error, and sends them again only if they are not there.
        """
        if self._client is None:
            self._client = self.aws.client("emr")
            if self.durable:
                no_blind_retries(self._client, "AddJobFlowSteps")
        return self._client

    # ------------------------------------------------------------------ protocol

    def prepare_submission(self, context: Context) -> None:
        """Resolve the cluster, then check the steps (upstream's order), before the intent is written.

        Raises:
            EmrStepsRequestError: Steps that are not a non-empty list of step configurations (or more than
                :data:`~airflow_durable_emr.steps_api.MAX_STEPS_PER_SUBMISSION`), a step name with no room
                for the marker, a cluster name matching no cluster or several, a malformed or unknown
                cluster ID.
        """
        cluster_id = self._cluster_id()  # first, as upstream: an unknown cluster name is the error reported
        self._cluster = steps_api.describe_cluster(self.emr_client, cluster_id)
        steps = steps_api.parse_steps(self.steps)
        if self.resume_decision is not Decision.NOT_DURABLE:
            steps_api.check_names_take_a_marker(steps)
        if self.openlineage_inject_parent_job_info:
            self.log.info("Injecting OpenLineage parent job information into EMR Spark steps.")
            steps = steps_api.inject_parent_job_conf(steps, self._parent_job_properties(context))
        self._request = (cluster_id, steps)

    def _cluster_id(self) -> str:
        """``job_flow_id``, or ``job_flow_name`` resolved among ``cluster_states`` (``ListClusters``).

        Raises:
            EmrStepsRequestError: No cluster or several have the name; a malformed ID.
        """
        if self.job_flow_id:
            cluster_id = str(self.job_flow_id)
        else:
            name = str(self.job_flow_name)
            cluster_id = steps_api.one_cluster_named(name, self._clusters_named(name))
        if not CLUSTER_ID_PATTERN.match(cluster_id):
            raise EmrStepsRequestError(f"{cluster_id!r} is not an EMR cluster ID (j-...)")
        return cluster_id

    def _clusters_named(self, name: str) -> list[str]:
        """The IDs of the clusters named ``name`` in ``cluster_states`` (``ListClusters``)."""
        return steps_api.cluster_ids_by_name(self.emr_client, name, self.cluster_states)

    def _parent_job_properties(self, context: Context) -> dict[str, str]:
        """The OpenLineage parent job Spark properties (the common-compat provider's helper), or none."""
        try:
            from airflow.providers.common.compat.openlineage.utils.spark import (
                inject_parent_job_information_into_spark_properties,
            )
        except ImportError:
            self.log.warning("OpenLineage parent job information needs apache-airflow-providers-common-compat")
            return {}
        properties: dict[str, str] = inject_parent_job_information_into_spark_properties({}, context)
        return properties

    def submit_job(self, context: Context) -> str:
        """``AddJobFlowSteps``: every step's ``Name`` carries the submission token's marker (when durable)."""
        if self._request is None:
            self.prepare_submission(context)
        assert self._request is not None
        cluster_id, steps = self._request
        self._request = None
        if self.submission_token is not None:
            steps = steps_api.mark_steps(steps, self.submission_token)
        self.log.info("Adding steps to %s", cluster_id)
        step_ids = steps_api.add_steps(self.emr_client, cluster_id, steps, self.execution_role_arn)
        self.log.info("Steps %s added to JobFlow", step_ids)
        return step_job_id(cluster_id, step_ids)

    def find_job_by_token(self, token: str, context: Context) -> str | None:
        """Find the steps a previous try added with ``token`` (``ListSteps`` of the cluster, newest first).

        Raises:
            EmrStepsRequestError: ``job_flow_name`` no longer resolves to exactly one cluster.
            IncompleteSubmissionError: Only some of the submission's steps were found.
        """
        cluster_id = self._cluster_id()
        step_ids = steps_api.find_marked_steps(self.emr_client, cluster_id, token)
        return None if step_ids is None else step_job_id(cluster_id, step_ids)

    def validate_external_id(self, external_id: JsonValue) -> str:
        """``"<cluster id>:<step id>,..."`` (see :func:`~airflow_durable_emr.statuses.step_job_id`)."""
        parse_step_job_id(external_id)
        assert isinstance(external_id, str)
        return external_id

    def get_job_status(self, external_id: JsonValue, context: Context) -> str:
        """The steps' state folded into one (see :func:`~airflow_durable_emr.steps_api.steps_status`).

        Raises:
            JobLostError: EMR does not know the cluster, or calls a step not valid.
            EmrStepsReplyError: EMR answers about a step of a known cluster without it (never "lost").
        """
        cluster_id, step_ids = parse_step_job_id(external_id)
        status = steps_api.steps_status(self.emr_client, cluster_id, step_ids)
        if status.failed_step_id is not None:
            self._failure = status.failure_detail()
        return status.state

    def poll_until_complete(self, external_id: JsonValue, context: Context) -> None:
        """Push ``job_flow_id`` and the links, then poll (the mixin's backoff).

        Raises:
            EmrStepsFailedError: A step failed, was cancelled or was interrupted.
        """
        self._publish(external_id, context)
        self._failure = ""
        super().poll_until_complete(external_id, context)

    def job_failed_error(self, err: JobFailedError, *, resumed: bool) -> JobFailedError:
        """:class:`EmrStepsFailedError` with upstream's text: the deferred path's, or the failed step's detail."""
        if isinstance(err, EmrStepsFailedError):
            return err
        if resumed:
            message = f"Error while running steps: {err.external_id} ended {err.status}"
        else:
            message = f"EMR Steps failed: {self._failure or err.status}"
        return EmrStepsFailedError(err.external_id, err.status, message)

    def attach_job(self, external_id: JsonValue, context: Context) -> None:
        """Check the steps' ID; the mixin keeps it as the job ``on_kill`` cancels, on every path."""
        self.validate_external_id(external_id)

    def get_job_result(self, external_id: JsonValue, context: Context) -> list[str]:
        """Push ``job_flow_id`` and the links (unless polling did) and return the step IDs."""
        self._publish(external_id, context)
        return parse_step_job_id(external_id)[1]

    def _publish(self, external_id: JsonValue, context: Context) -> None:
        """Push ``job_flow_id`` and the provider's ``emr_cluster`` and ``emr_logs`` links, once per try.

        The logs link is built from ``DescribeCluster``'s ``LogUri`` (read once: the fresh path already has
        it) and the resolved cluster ID, also when the cluster was given by name.
        """
        cluster_id = parse_step_job_id(external_id)[0]
        if self._published == cluster_id or not self.do_xcom_push:
            return
        self.push_xcom(context, XCOM_JOB_FLOW_ID_KEY, cluster_id)
        try:
            from airflow.providers.amazon.aws.links.emr import EmrClusterLink, EmrLogsLink, get_log_uri
        except ImportError:
            self.log.debug("%s is not importable: no extra links", LINKS_MODULE)
        else:
            cluster = self._cluster
            if cluster is None or cluster.get("Cluster", {}).get("Id") != cluster_id:
                cluster = steps_api.describe_cluster(self.emr_client, cluster_id)
            meta = self.emr_client.meta
            where = {"context": context, "operator": self, "region_name": meta.region_name}
            EmrClusterLink.persist(**where, aws_partition=meta.partition, job_flow_id=cluster_id)
            EmrLogsLink.persist(
                **where, aws_partition=meta.partition, job_flow_id=cluster_id, log_uri=get_log_uri(cluster=cluster)
            )
        self._published = cluster_id

    def cancel_job(self, external_id: JsonValue) -> None:
        """``CancelSteps`` of the steps this try owns (``on_kill``, bounded by ``cancel_timeout_seconds``)."""
        cluster_id, step_ids = parse_step_job_id(external_id)
        for info in steps_api.cancel_steps(self.emr_client, cluster_id, step_ids):
            if info.get("Status") != "SUBMITTED":
                self.log.warning("CancelSteps did not cancel step %s: %s", info.get("StepId"), info.get("Reason"))

    def job_trigger(self, external_id: JsonValue, context: Context) -> Any:
        """The trigger that polls the steps in the triggerer (``deferrable=True``), after the XComs and links."""
        from airflow_durable_emr.triggers import DurableEmrStepsTrigger

        self._publish(external_id, context)
        return DurableEmrStepsTrigger(external_id=self.validate_external_id(external_id), **self.trigger_kwargs())
