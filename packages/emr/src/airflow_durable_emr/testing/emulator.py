"""Emulators of the three EMR APIs for the real boto3 clients: moto, with its job operations on the kit's life cycle.

* :class:`EmrStepsEmulator` (``boto3.client("emr")``): one job is one ``AddJobFlowSteps`` call, its external
  ID ``"<cluster id>:<step id>,..."``; its state drives every step's; ``CancelSteps`` (which moto lacks);
  ``DescribeStep`` and ``ListSteps`` (50 a page, newest first, at most 10 ``StepIds``) are status calls.
* :class:`EmrServerlessEmulator` (``boto3.client("emr-serverless")``): ``StartJobRun``, ``GetJobRun``,
  ``ListJobRuns``, ``CancelJobRun`` (CANCELLING, then CANCELLED); external ID ``"<application id>:<job run id>"``;
  the ``clientToken`` policy is a constructor option (default: none, as moto; AWS documents none).
* :class:`EmrContainersEmulator` (``boto3.client("emr-containers")``): ``StartJobRun``, ``DescribeJobRun``,
  ``ListJobRuns`` (``name`` filter), ``CancelJobRun`` (CANCEL_PENDING, then CANCELLED); a repeated
  ``clientToken`` returns the original job run, even a failed one (as EMR on EKS does).

Everything else (clusters, applications, virtual clusters) is moto's, untouched. Run one as its own process::

    python -m airflow_durable.testing.serve airflow_durable_emr.testing.emulator:EmrServerlessEmulator --port-file F
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from airflow_durable.status import JobState, StatusTable
from airflow_durable.testing.control import control
from airflow_durable.testing.jobs import Dedupe
from airflow_durable.testing.routes import ApiError, Reply, Request, Route, RouteTable
from airflow_durable.tokens import TOKEN_PATTERN
from airflow_durable_emr import statuses
from airflow_durable_emr.testing.moto_backend import DEFAULT_REGION, MotoEmulator, MotoJob

STEP_PAGE_SIZE = 50
"""Steps per ``ListSteps`` page."""
TOKEN_IN_NAME = re.compile(TOKEN_PATTERN.pattern.strip("^$"))
"""A submission token anywhere in a step name."""
CANCELLABLE_CLUSTER_STATES = ("STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING")
"""Cluster states that accept new steps (``AddJobFlowSteps``)."""


def _states(table: StatusTable, first_active: str = "RUNNING") -> dict[str, JobState]:
    names = {first_active: JobState.ACTIVE}
    names.update(dict.fromkeys(sorted(table.active), JobState.ACTIVE))
    names.update(dict.fromkeys(sorted(table.succeeded), JobState.SUCCEEDED))
    names.update(dict.fromkeys(sorted(table.failed), JobState.FAILED))
    return names


def _representatives(succeeded: str) -> dict[JobState, str]:
    """A job of each EMR API runs as ``RUNNING`` and fails as ``FAILED``; only its success state differs."""
    return {JobState.ACTIVE: "RUNNING", JobState.SUCCEEDED: succeeded, JobState.FAILED: "FAILED"}


def _now() -> Any:
    from moto.core.utils import utcnow

    return utcnow()


class EmrStepsEmulator(MotoEmulator):
    """EMR (``elasticmapreduce``) with steps that run, fail and cancel; see the module docstring.

    A job's state is its steps' story: an active state is the first step's (later steps PENDING); COMPLETED
    completes them all; FAILED or INTERRUPTED ends the first step so, later ones CANCELLED (``CANCEL_AND_WAIT``);
    CANCEL_PENDING and CANCELLED apply to every step; a forced unknown state goes to the first step as given.
    The job's token is the first submission token found in its step names (:meth:`token_from_steps`).
    """

    moto_service = "emr"
    signing_name = "elasticmapreduce"
    json_content_type = "application/x-amz-json-1.1"
    routes = RouteTable(
        Route("POST", "/ElasticMapReduce.AddJobFlowSteps", "AddJobFlowSteps", "_add_steps"),
        Route("POST", "/ElasticMapReduce.DescribeStep", "DescribeStep", "_describe_step"),
        Route("POST", "/ElasticMapReduce.ListSteps", "ListSteps", "_list_steps"),
        Route("POST", "/ElasticMapReduce.CancelSteps", "CancelSteps", "_cancel_steps"),
        Route("POST", "/ElasticMapReduce.DescribeCluster", "DescribeCluster", "forward"),
        Route("POST", "/ElasticMapReduce.ListClusters", "ListClusters", "forward"),
    )
    states = _states(statuses.STEP_STATES)
    id_pattern = r"^j-[0-9A-Z]{1,64}:s-[0-9A-Z]{1,64}(,s-[0-9A-Z]{1,64})*$"
    representative_states = _representatives(succeeded="COMPLETED")
    born_state = "PENDING"
    cancelling_state = "CANCEL_PENDING"
    dedupe = Dedupe.NONE

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.moto_describe_step(False)

    def token_from_steps(self, steps: list[Any]) -> str | None:
        """The submission token a job's step configurations carry (default: a token in a step ``Name``)."""
        for step in steps:
            found = TOKEN_IN_NAME.search(str(step.get("Name", ""))) if isinstance(step, dict) else None
            if found:
                return found.group(0)
        return None

    def _cluster(self, request: Request, cluster_id: Any) -> Any:
        cluster = self.backend(self.request_region(request)).clusters.get(cluster_id)
        if cluster is None:
            raise ApiError(400, f"Cluster id '{cluster_id}' is not valid.", code="InvalidRequestException")
        return cluster

    def _add_steps(self, request: Request) -> Reply:
        body = request.json()
        cluster = self._cluster(request, body.get("JobFlowId"))
        if cluster.state not in CANCELLABLE_CLUSTER_STATES:
            message = "A job flow that is shutting down, terminated, or finished may not be modified."
            raise ApiError(400, message, code="ValidationException")
        steps = body.get("Steps") or []
        if not steps:
            raise ApiError(400, "At least one step is required.", code="ValidationException")
        job = self.create(request, self.token_from_steps(steps), cluster.id, lambda: self.forward(request))
        return Reply(200, job.reply)

    def _describe_step(self, request: Request) -> Reply:
        body = request.json()
        cluster, step_id = self._cluster(request, body.get("ClusterId")), str(body.get("StepId"))
        job = self.job_of(step_id)
        if job is not None and job.parent == cluster.id and self.status_call(job.external_id) is not None:
            return self.forward(request)
        if self._moto_describe_step or (job is None and any(s.id == step_id for s in cluster.steps)):
            return self.forward(request)
        raise ApiError(400, f"Step id '{step_id}' is not valid.", code="InvalidRequestException")

    def _list_steps(self, request: Request) -> Reply:
        body = request.json()
        cluster, step_ids = self._cluster(request, body.get("ClusterId")), body.get("StepIds") or []
        if len(step_ids) > statuses.MAX_STEPS_PER_LIST_CALL:
            message = (
                f"1 validation error detected: Value '{step_ids}' at 'stepIds' failed to satisfy constraint: "
                f"Member must have length less than or equal to {statuses.MAX_STEPS_PER_LIST_CALL}"
            )
            raise ApiError(400, message, code="ValidationException")
        marker = str(body.get("Marker") or "0")
        if not marker.isdigit():
            raise ApiError(400, f"Marker '{marker}' is not valid.", code="InvalidRequestException")
        region = self.request_region(request)
        listed = self.backend(region).list_steps(cluster.id, step_ids, body.get("StepStates") or [])
        start = int(marker)
        page = [step.id for step in listed[start : start + STEP_PAGE_SIZE]]
        for external_id in dict.fromkeys(job.external_id for i in page if (job := self.job_of(i)) is not None):
            self.status_call(external_id)
        result: dict[str, Any] = {"Steps": []}
        if page:
            query = {"ClusterId": cluster.id, "StepIds": page}
            rendered = self.moto_json(self.moto("POST", "/", query, region=region, target="ElasticMapReduce.ListSteps"))
            by_id = {step["Id"]: step for step in rendered.get("Steps", [])}
            result["Steps"] = [by_id[i] for i in page if i in by_id]
        if start + STEP_PAGE_SIZE < len(listed):
            result["Marker"] = str(start + STEP_PAGE_SIZE)
        return Reply(200, result)

    def _cancel_steps(self, request: Request) -> Reply:
        body = request.json()
        cluster, step_ids = self._cluster(request, body.get("ClusterId")), body.get("StepIds") or []
        if len(step_ids) > statuses.MAX_STEPS_PER_CANCEL_CALL:
            message = (
                "1 validation error detected: Value at 'stepIds' failed to satisfy constraint: "
                f"Member must have length less than or equal to {statuses.MAX_STEPS_PER_CANCEL_CALL}"
            )
            raise ApiError(400, message, code="ValidationException")
        answers, cancelled = [], []
        for step_id in step_ids:
            job = self.job_of(step_id)
            if job is None or job.forgotten or job.parent != cluster.id:
                answers.append({"StepId": step_id, "Status": "FAILED", "Reason": f"Step id '{step_id}' is not valid."})
            elif self.book.is_terminal(job):
                reason = f"Step {step_id} is in the {job.state} state and cannot be cancelled."
                answers.append({"StepId": step_id, "Status": "FAILED", "Reason": reason})
            else:
                if job.external_id not in cancelled:  # one cancel request per job, however many of its steps
                    cancelled.append(job.external_id)
                    self.book.cancel(job.external_id)
                answers.append({"StepId": step_id, "Status": "SUBMITTED", "Reason": ""})
        return Reply(200, {"CancelStepsInfoList": answers})

    # ------------------------------------------------------------------ the job's steps in moto

    def external_id_from(self, reply: Any, body: Any) -> str:
        """``"<JobFlowId>:<StepIds>"``."""
        return statuses.step_job_id(body["JobFlowId"], list(reply["StepIds"]))

    def split_id(self, external_id: str) -> tuple[str, list[str]]:
        """The cluster and the step IDs."""
        return statuses.parse_step_job_id(external_id)

    def job_name(self, request: Any) -> str | None:
        """The first step's name, cut before its submission token (a marker such as ``" [<token> 1/2]"``)."""
        steps = request.get("Steps") or [{}]
        name = str(steps[0].get("Name", "")) if isinstance(steps[0], dict) else ""
        found = TOKEN_IN_NAME.search(name)
        return name[: found.start()].rstrip(" [(") if found else name

    def moto_objects(self, job: MotoJob) -> list[Any]:
        """The job's moto ``Step`` objects, in submission order."""
        cluster = self.backend(job.region).clusters.get(job.parent)
        steps = {step.id: step for step in (cluster.steps if cluster is not None else [])}
        return [steps[i] for i in job.run_ids if i in steps]

    def enter_state(self, job: MotoJob, state: str, **fields: Any) -> None:
        """Set the job's state and its steps' (see the class docstring)."""
        job.state = state
        steps = self.moto_objects(job)
        for index, step in enumerate(steps):
            if state in ("COMPLETED", "CANCEL_PENDING", "CANCELLED"):
                step.state = state
            elif state in ("FAILED", "INTERRUPTED"):
                step.state = state if index == 0 else "CANCELLED"
            else:
                step.state = state if index == 0 else "PENDING"
            if step.state == "RUNNING" and step.start_date_time is None:
                step.start_date_time = _now()
            if self.book.meaning(step.state) is not JobState.ACTIVE and step.end_date_time is None:
                step.end_date_time = _now()

    def drop_from_moto(self, job: MotoJob) -> None:
        """Remove the job's steps from their cluster."""
        cluster = self.backend(job.region).clusters.get(job.parent)
        if cluster is not None:
            cluster.steps = [step for step in cluster.steps if step.id not in job.run_ids]

    # ------------------------------------------------------------------ setup controls

    @control
    def create_cluster(
        self, name: str = "emulated-cluster", state: str = "WAITING", release_label: str = "emr-7.0.0"
    ) -> str:
        """Create a cluster (``RunJobFlow``) in ``state``; returns its ID (``j-...``)."""
        instances = {"InstanceCount": 1, "KeepJobFlowAliveWhenNoSteps": True, "MasterInstanceType": "m5.xlarge"}
        body = {"Name": name, "ReleaseLabel": release_label, "Instances": instances}
        body.update(JobFlowRole="EMR_EC2_DefaultRole", ServiceRole="EMR_DefaultRole")
        cluster_id = str(
            self.moto_json(self.moto("POST", "/", body, target="ElasticMapReduce.RunJobFlow"))["JobFlowId"]
        )
        self.set_cluster_state(cluster_id, state)
        return cluster_id

    @control
    def set_cluster_state(self, cluster_id: str, state: str) -> None:
        """Set a cluster's state (``WAITING``, ``TERMINATED``...). ``KeyError``: unknown cluster."""
        self.backend().clusters[cluster_id].state = state

    @control
    def moto_describe_step(self, enabled: bool = True) -> None:
        """Make ``DescribeStep`` of a step EMR does not know answer as moto does: HTTP 200 with no ``Step``.

        Off by default: EMR answers ``InvalidRequestException``.
        """
        self._moto_describe_step = bool(enabled)


class _JobRunEmulator(MotoEmulator):
    """EMR Serverless and EMR on EKS: job runs under a parent (application, virtual cluster), REST JSON."""

    parent_param: ClassVar[str]
    parent_key: ClassVar[str]
    run_key: ClassVar[str]
    cancel_terminal_is_error: ClassVar[bool] = False
    id_pattern = r"^[0-9a-z]{1,64}:[0-9a-z]{1,64}$"

    def _start_job_run(self, request: Request) -> Reply:
        body = request.json()
        job = self.create(
            request, body.get("clientToken"), request.params[self.parent_param], lambda: self.forward(request)
        )
        return Reply(200, job.reply)

    def _known(self, request: Request) -> MotoJob | None:
        job = self.job_of(request.params["job_run_id"])
        return job if job is not None and job.parent == request.params[self.parent_param] else None

    def not_found(self, run_id: str) -> ApiError:
        """The answer about a job run the service no longer knows."""
        return ApiError(404, f"Job run {run_id} does not exist.", code="ResourceNotFoundException")

    def _get_job_run(self, request: Request) -> Reply:
        job = self._known(request)
        if job is not None and self.status_call(job.external_id) is None:
            raise self.not_found(request.params["job_run_id"])
        return self.forward(request)

    def _cancel_job_run(self, request: Request) -> Reply:
        job = self._known(request)
        if job is None:
            return self.forward(request)
        if job.forgotten:
            raise self.not_found(job.run_ids[0])
        if self.cancel_terminal_is_error and (self.book.is_terminal(job) or job.cancel_requested):
            raise ApiError(400, f"Job run {job.run_ids[0]} is not in a cancellable state", code="ValidationException")
        self.book.cancel(job.external_id)
        return Reply(200, {self.parent_key: job.parent, self.run_key: job.run_ids[0]})

    def external_id_from(self, reply: Any, body: Any) -> str:
        """``"<parent id>:<job run id>"``."""
        return statuses.pair_job_id(reply[self.parent_key], reply[self.run_key])

    def split_id(self, external_id: str) -> tuple[str, list[str]]:
        """The parent and the job run ID."""
        parent, run_id = statuses.parse_pair_job_id(external_id)
        return parent, [run_id]

    def enter_state(self, job: MotoJob, state: str, **fields: Any) -> None:
        """Set the job's and its moto job run's state."""
        job.state = state
        for run in self.moto_objects(job):
            run.state = state
            run.state_details = fields.get("state_details") or f"Job run is {state} (emulated)."


class EmrServerlessEmulator(_JobRunEmulator):
    """EMR Serverless job runs that queue, run, end and cancel; see the module docstring.

    Args:
        dedupe: The ``clientToken`` policy: ``"none"`` (default), ``"dedupe"`` or ``"dedupe_failed"``.
        **kwargs: See :class:`MotoEmulator`.
    """

    moto_service = "emr-serverless"
    signing_name = "emr-serverless"
    parent_param, parent_key, run_key = "application_id", "applicationId", "jobRunId"
    routes = RouteTable(
        Route("POST", "/applications/{application_id}/jobruns", "StartJobRun", "_start_job_run"),
        Route("GET", "/applications/{application_id}/jobruns/{job_run_id}", "GetJobRun", "_get_job_run"),
        Route("GET", "/applications/{application_id}/jobruns", "ListJobRuns", "_list_job_runs"),
        Route("DELETE", "/applications/{application_id}/jobruns/{job_run_id}", "CancelJobRun", "_cancel_job_run"),
        Route("POST", "/applications/{application_id}/start", "StartApplication", "_start_application"),
        Route("GET", "/applications/{application_id}", "GetApplication", "forward"),
    )
    states = _states(statuses.SERVERLESS_JOB_RUN_STATES)
    representative_states = _representatives(succeeded="SUCCESS")
    born_state = "SUBMITTED"
    cancelling_state = "CANCELLING"

    def __init__(self, *, dedupe: str = "none", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.book.dedupe = Dedupe(dedupe)
        self._refused: dict[str, str] = {}

    def _list_job_runs(self, request: Request) -> Reply:
        application_id = request.params["application_id"]
        backend = self.backend(self.request_region(request))
        if application_id in backend.applications and not backend.job_runs.get(application_id):
            return Reply(200, {"jobRuns": []})
        return self.forward(request)

    def _start_application(self, request: Request) -> Reply:
        application_id = request.params["application_id"]
        application = self.backend(self.request_region(request)).applications.get(application_id)
        if application_id in self._refused or (application is not None and application.state == "TERMINATED"):
            message = self._refused.get(application_id) or f"Application {application_id} is terminated."
            raise ApiError(400, message, code="ValidationException")
        return self.forward(request)

    def moto_objects(self, job: MotoJob) -> list[Any]:
        """The job's moto ``JobRun``."""
        return [run for run in self.backend(job.region).job_runs.get(job.parent, []) if run.id in job.run_ids]

    def drop_from_moto(self, job: MotoJob) -> None:
        """Remove the job run from moto."""
        runs = self.backend(job.region).job_runs.get(job.parent, [])
        runs[:] = [run for run in runs if run.id not in job.run_ids]

    @control
    def create_application(
        self,
        name: str = "emulated-application",
        state: str = "CREATED",
        release_label: str = "emr-7.0.0",
        type: str = "SPARK",
    ) -> str:
        """Create an application (``CreateApplication``) in ``state``; returns its ID."""
        body = {"name": name, "releaseLabel": release_label, "type": type, "clientToken": name}
        application_id = str(self.moto_json(self.moto("POST", "/applications", body))["applicationId"])
        self.set_application_state(application_id, state)
        return application_id

    @control
    def set_application_state(self, application_id: str, state: str) -> None:
        """Set an application's state (``CREATED``, ``STARTED``, ``STOPPED``, ``TERMINATED``...).

        Raises:
            KeyError: Unknown application.
        """
        self.backend().applications[application_id].state = state

    @control
    def refuse_start(self, application_id: str, message: str | None = None) -> None:
        """Make ``StartApplication`` of an application answer ``ValidationException`` (``message``)."""
        self._refused[application_id] = message or f"Application {application_id} cannot be started (emulated)."


class EmrContainersEmulator(_JobRunEmulator):
    """EMR on EKS job runs that run, end and cancel; a repeated ``clientToken`` returns the original run."""

    moto_service = "emr-containers"
    signing_name = "emr-containers"
    parent_param, parent_key, run_key = "virtual_cluster_id", "virtualClusterId", "id"
    cancel_terminal_is_error = True
    routes = RouteTable(
        Route("POST", "/virtualclusters/{virtual_cluster_id}/jobruns", "StartJobRun", "_start_job_run"),
        Route("GET", "/virtualclusters/{virtual_cluster_id}/jobruns/{job_run_id}", "DescribeJobRun", "_get_job_run"),
        Route("GET", "/virtualclusters/{virtual_cluster_id}/jobruns", "ListJobRuns", "forward"),
        Route(
            "DELETE", "/virtualclusters/{virtual_cluster_id}/jobruns/{job_run_id}", "CancelJobRun", "_cancel_job_run"
        ),
        Route("GET", "/virtualclusters/{virtual_cluster_id}", "DescribeVirtualCluster", "forward"),
    )
    states = _states(statuses.CONTAINER_JOB_RUN_STATES)
    representative_states = _representatives(succeeded="COMPLETED")
    born_state = "PENDING"
    cancelling_state = "CANCEL_PENDING"
    dedupe = Dedupe.DEDUPE_FAILED

    def not_found(self, run_id: str) -> ApiError:
        """EMR on EKS's answer about an unknown job run."""
        return ApiError(404, f"Job run {run_id} doesn't exist.", code="ResourceNotFoundException")

    def moto_objects(self, job: MotoJob) -> list[Any]:
        """The job's moto ``JobRun``."""
        run = self.backend(job.region).job_runs.get(job.run_ids[0])
        return [run] if run is not None else []

    def enter_state(self, job: MotoJob, state: str, **fields: Any) -> None:
        """Set the state; a terminal run gets its ``finishedAt``."""
        super().enter_state(job, state, **fields)
        for run in self.moto_objects(job):
            if self.book.meaning(state) is not JobState.ACTIVE and run.finished_at is None:
                run.finished_at = _now()

    def drop_from_moto(self, job: MotoJob) -> None:
        """Remove the job run from moto."""
        self.backend(job.region).job_runs.pop(job.run_ids[0], None)

    @control
    def create_virtual_cluster(
        self, name: str = "emulated-virtual-cluster", namespace: str = "default", eks_cluster: str = "emulated-eks"
    ) -> str:
        """Create a virtual cluster (``CreateVirtualCluster``) on an EKS cluster's namespace; returns its ID."""
        provider = {"id": eks_cluster, "type": "EKS", "info": {"eksInfo": {"namespace": namespace}}}
        body = {"name": name, "containerProvider": provider, "clientToken": name}
        return str(self.moto_json(self.moto("POST", "/virtualclusters", body))["id"])


__all__ = ["DEFAULT_REGION", "EmrContainersEmulator", "EmrServerlessEmulator", "EmrStepsEmulator", "MotoJob"]
