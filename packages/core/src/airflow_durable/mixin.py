"""``DurableJobMixin``: the exactly-once submit-and-poll protocol over Airflow's ``ResumableJobMixin``."""

from __future__ import annotations

import enum
import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar, cast

from airflow.sdk import ResumableJobMixin
from airflow.sdk._shared.observability.metrics import stats
from airflow.sdk.bases import resumablejobmixin as upstream_mixin  # its tracer: upstream's span scope
from airflow.sdk.bases.operator import BaseOperatorMeta
from opentelemetry import trace

from airflow_durable.backoff import Backoff, poll_ceiling_seconds
from airflow_durable.errors import (
    TESTING_PAGE,
    CorruptStateError,
    DurableJobError,
    JobFailedError,
    JobLostError,
    MissingContextError,
    UnidentifiedSubmissionError,
    UnknownJobStatusError,
)
from airflow_durable.status import JobState, StatusTable

if TYPE_CHECKING:
    from airflow.sdk.definitions.context import Context
    from pydantic import JsonValue

    from airflow_durable.state import DurableState, StoredResult
    from airflow_durable.tokens import TaskInstanceScope

# ``airflow_durable.state`` (the stored record) and ``airflow_durable.tokens`` are imported where a try uses
# them, never at module level: DAG files import operator modules at every parse, and a parse builds
# operators but reads no state and derives no token.

_T = TypeVar("_T")

LostJobPolicy = Literal["resubmit", "fail"]
NO_CONTEXT: Context = cast("Context", MappingProxyType({}))
"""What ``execute_resumable`` uses when ``execute`` got ``None`` as its context (upstream's unit tests pass
``None``): an empty context in which :meth:`DurableJobMixin.push_xcom` pushes nothing."""
MAX_INT64 = 2**63 - 1
"""The largest numeric job ID the default :meth:`DurableJobMixin.validate_external_id` accepts."""
_SAFE_JOB_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,255}")
TRANSIENT_RETRY_MIN_SECONDS = 0.1
"""The shortest pause before retrying a transient vendor error, whatever ``poll_interval_seconds`` is."""


class Decision(enum.Enum):
    """What a try decided to do, from at most one state read and one external call."""

    FRESH_SUBMIT = "fresh_submit"
    """No record: submit generation 0."""
    RESUBMIT_SAME_TOKEN = "resubmit_same_token"
    """An intent without an ID, and the token found nothing (or cannot be looked up): submit again with the
    same token, which the vendor deduplicates."""
    ADOPT = "adopt"
    """An intent without an ID, and the token found the job: adopt it and poll."""
    RECONNECT = "reconnect"
    """The stored job is active: poll it."""
    ALREADY_SUCCEEDED = "already_succeeded"
    """The stored job succeeded: return its result without polling."""
    TERMINAL_RESUBMIT = "terminal_resubmit"
    """The stored job failed for good: advance the generation and submit with a new token."""
    LOST_RESUBMIT = "lost_resubmit"
    """The vendor no longer knows the stored job and ``on_lost_job="resubmit"``: advance and submit."""
    ALREADY_SUBMITTED = "already_submitted"
    """A fire-and-forget try finds the job a previous try submitted: return it, whatever its state."""
    NOT_DURABLE = "not_durable"
    """``durable=False``: plain submit, poll, result."""


# Counter names: upstream's ``resumable_job.*`` where upstream has the same event, new names otherwise.
_METRICS: dict[Decision, str] = {
    Decision.FRESH_SUBMIT: "resumable_job.fresh_submit",
    Decision.RESUBMIT_SAME_TOKEN: "resumable_job.intent_resubmit",
    Decision.ADOPT: "resumable_job.token_adopt",
    Decision.RECONNECT: "resumable_job.reconnect_success",
    Decision.ALREADY_SUCCEEDED: "resumable_job.already_succeeded",
    Decision.TERMINAL_RESUBMIT: "resumable_job.terminal_resubmit",
    Decision.LOST_RESUBMIT: "resumable_job.lost_resubmit",
    Decision.ALREADY_SUBMITTED: "resumable_job.already_submitted",
}


def serialize_trigger(trigger: object, *attributes: str) -> tuple[str, dict[str, Any]]:
    """Return what a trigger's ``serialize`` returns: its classpath and the keyword arguments to rebuild it.

    Args:
        trigger: The trigger (a ``BaseTrigger``) returned by :meth:`DurableJobMixin.job_trigger`.
        *attributes: Its constructor arguments, each kept in the attribute of the same name.

    Returns:
        ``("<module>.<class>", {name: getattr(trigger, name) for name in attributes})``.
    """
    classpath = f"{type(trigger).__module__}.{type(trigger).__qualname__}"
    return classpath, {name: getattr(trigger, name) for name in attributes}


def _is_mapping(context: object) -> bool:
    """Whether ``context`` really is a mapping: its type is one, not just its ``__class__``.

    A ``MagicMock(spec=dict)`` passes ``isinstance(context, dict)`` (a spec sets ``__class__``), yet every key
    it is asked for is another ``MagicMock``: it is a hand-made context like a plain ``MagicMock()``.
    """
    return issubclass(type(context), Mapping)


def _state_store(context: Context) -> Any:
    """The context's ``task_state_store``, or ``None``.

    A real task context is a mapping. Anything else (a ``MagicMock`` in a unit test, with or without
    ``spec=dict``) is a hand-made context: it has no store, exactly like a mapping without one, so the try
    runs without crash recovery.
    """
    if not _is_mapping(context):
        return None
    return context.get("task_state_store")


class _XComRecorder:
    """A task instance that records what is pushed through it (everything else is the real one's)."""

    def __init__(self, ti: Any, pushed: dict[str, Any]) -> None:
        self._ti = ti
        self._pushed = pushed

    def xcom_push(self, key: str, value: Any, **kwargs: Any) -> None:
        # By keyword, as operators call it (a test's mock task instance sees the same call).
        self._ti.xcom_push(key=key, value=value, **kwargs)
        self._pushed[key] = value

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ti, name)


class DurableJobMixin(ResumableJobMixin):
    """Exactly-once, crash-safe submit-and-poll for operators that run one job on an external system.

    **Purpose:** a worker can die mid-poll (OOM, node drain, deploy, SIGKILL). The retry must attach to the
    job that is already running, never start a second one, and return exactly what an uninterrupted run
    would have returned. This mixin is a drop-in, stronger ``airflow.sdk.ResumableJobMixin``: same method
    names, same ``durable`` flag, same ``resumable_job.*`` metrics and ``resumable_job.resume_decision``
    span.

    **How it works:** every try reads one record from ``task_state_store`` (key :attr:`external_id_key`) and
    makes at most one external call to decide (:class:`Decision`):

    1. *Intent before submit.* Before any call that can create a job it writes an ``intent`` record with a
       deterministic token (:func:`~airflow_durable.tokens.submission_token` of the task-instance scope and
       the generation). ``submit_job`` reads it from :attr:`submission_token` and passes it to the vendor
       (``idempotency_token``, ``clientToken``, ``request_id``, job ID, tag, label...).
    2. *Closing the submit-to-persist window.* A retry that finds an intent without an ID asks
       :meth:`find_job_by_token` (when :attr:`supports_token_lookup`) and adopts the job, or submits again
       with the same token, which the vendor deduplicates.
    3. *Three cases on retry,* from one :meth:`get_job_status` call classified by :meth:`classify_status`:
       active -> reconnect and poll; succeeded -> result without polling; failed -> advance the generation
       and submit fresh with a new token (reusing the old one would hand back the old failed job).
    4. *The same result on every path:* fresh, adopt, reconnect and already-succeeded all end in
       :meth:`attach_job` then :meth:`get_job_result`, so the return value and XComs are identical. The
       value and the XComs pushed through ``context["ti"]`` while attaching, polling and fetching the result
       are kept in the ``succeeded`` record (bounded, see :mod:`airflow_durable.state`): a retry or a clear
       that finds it replays them with *zero* calls to the vendor, even after the vendor forgot the job.
    5. *Lost jobs:* :meth:`get_job_status` raises :class:`~airflow_durable.errors.JobLostError` when the
       vendor no longer knows the ID; ``on_lost_job`` says ``"resubmit"`` (default) or ``"fail"``.
    6. *Cancel on kill:* :meth:`on_kill` cancels the job this try owns (submitted or reconnected), in a
       thread bounded by ``cancel_timeout_seconds``. A crash cancels nothing: that is the point.
    7. ``durable=False``: plain submit -> poll -> result; no state read or written, no token.
    8. *Fire-and-forget, exactly once:* when :meth:`waits_for_job` is False (Databricks
       ``wait_for_termination=False``) a try submits, records the ID and the result, and returns without
       polling. A retry returns the job already submitted, whatever its state (running, failed, lost),
       without asking the vendor, and never submits another.
    9. ``submit_job`` returning ``None`` records an ``unidentified`` record and fails the try
       (:class:`~airflow_durable.errors.UnidentifiedSubmissionError`); no later try submits blindly.

    **Operators written to upstream's interface** (only the six ``ResumableJobMixin`` methods, no status
    table) work unchanged: a status that is neither active nor succeeded is a terminal failure, as upstream
    decides, and a retry resubmits under a new generation and token. Everything else above still holds.

    **Stored state** (JSON, see :mod:`airflow_durable.state`)::

        {"format": "airflow-durable", "version": 2, "generation": 0,
         "token": "ad-3f0c9a1b2d4e5f60718293a4b5c6-g0", "phase": "submitted",
         "external_id": "driver-20261129140102-0000", "result": null}

    ``phase`` is ``"intent"`` (written before submit, ``external_id`` null), ``"unidentified"``
    (``submit_job`` returned no ID), ``"submitted"`` (written as soon as the ID is known, before the first
    poll) or ``"succeeded"`` (written when polling saw success; ``result`` then holds the kept result). A
    bare ID written by upstream ``ResumableJobMixin`` reads as ``"submitted"``. Malformed, foreign or
    oversized values raise :class:`~airflow_durable.errors.CorruptStateError` naming the key; they never
    lead to a submission. Stored IDs go through :meth:`validate_external_id` before any URL or API call.

    **What providers implement:** ``submit_job`` (using :attr:`submission_token`), ``get_job_status``
    (raising ``JobLostError`` on the vendor's NotFound), a :attr:`status_table`, ``get_job_result``, and
    where the vendor allows it ``find_job_by_token``, ``cancel_job``, ``validate_external_id``,
    ``is_transient_error`` and ``attach_job``; ``prepare_submission`` to validate the request (and look up
    what it needs) before the intent is written. ``poll_until_complete`` has a default with exponential
    backoff and jitter.

    **What it does not do:** free the worker slot while polling (that is deferrable mode), or stream the
    remote job's logs.

    **Known limitation:** where the vendor has no way to find a job by token (Spark standalone), a crash
    between the job's creation and the persist of its ID can still lead to a second job. Providers shrink
    that window (Spark persists the driver ID the moment ``spark-submit`` prints it) and document it.

    Example:
        ```python
        class MyJobOperator(DurableJobMixin, BaseOperator):
            external_id_key = "my_job_id"
            status_table = StatusTable(
                active={"PENDING", "RUNNING"}, succeeded={"DONE"}, failed={"FAILED", "CANCELLED"},
                source="https://vendor.example/docs/job-states",
            )

            def execute(self, context):
                return self.execute_resumable(context)

            def submit_job(self, context):
                return self.hook.submit(..., client_token=self.submission_token)

            def get_job_status(self, external_id, context):
                try:
                    return self.hook.get(external_id)["state"]
                except VendorNotFound as err:
                    raise JobLostError(external_id) from err

            def get_job_result(self, external_id, context):
                return {"job_id": external_id}
        ```

    Args:
        on_lost_job: What a retry does when the vendor no longer knows the stored job: ``"resubmit"``
            advances the generation and submits fresh; ``"fail"`` raises ``JobLostError``.
        poll_interval_seconds: The first delay between status polls, in seconds (providers default it to
            upstream's interval).
        max_poll_interval_seconds: The ceiling the delay grows to (x1.5 a poll, with jitter), in seconds; it
            also bounds the detection latency after the job ends. ``None`` (the default) applies the shared
            policy, :func:`airflow_durable.backoff.default_max_poll_interval_seconds`: ``max(120 s, 4 x
            poll_interval_seconds)``. Set it to ``poll_interval_seconds`` for upstream's fixed cadence.
        cancel_timeout_seconds: How long :meth:`on_kill` waits for :meth:`cancel_job`.
        max_transient_errors: How many consecutive transient vendor errors (see
            :meth:`is_transient_error`) one status call tolerates before the task fails. Transient errors
            never cause a resubmission.
        **kwargs: Passed to ``ResumableJobMixin`` (``durable``, below) and ``BaseOperator``.

    Keyword Args:
        durable: ``False`` turns the protocol off (plain submit, poll, result).

    Raises:
        ValueError: On construction, for a bad ``on_lost_job`` or negative intervals.
    """

    external_id_key: str = "remote_job_id"
    status_table: ClassVar[StatusTable | None] = None
    """The cited vendor status table; ``classify_status`` uses it when set."""
    supports_token_lookup: ClassVar[bool] = False
    """True when :meth:`find_job_by_token` can find a job by its submission token."""
    supports_cancel: ClassVar[bool] = False
    """True when :meth:`cancel_job` is implemented."""
    deduplicates_submissions: ClassVar[bool] = False
    """True when the vendor returns the existing job for a repeated token (Databricks ``idempotency_token``,
    Dataproc ``request_id``): resubmitting after a crash in the submit window then adopts the job."""
    sdk_retries_submissions: ClassVar[bool] = False
    """True when the vendor SDK itself resends a submission that failed transiently, under retry settings the
    user controls (Databricks: ``databricks_retry_limit``, ``databricks_retry_args``). The mixin then adds no
    resends of its own on top of them: an error the SDK gave up on fails the try, whose retry adopts the job
    by its token."""
    fire_and_forget_kwargs: ClassVar[Mapping[str, Any]] = {}
    """Constructor arguments that make the operator submit without waiting (for example
    ``{"wait_for_termination": False}``); empty when it has no such mode. :meth:`waits_for_job` reads the
    mode; the contract suite builds fire-and-forget operators with these arguments."""
    resume_method_name: ClassVar[str] = "execute_resumable_complete"
    """The method the trigger from :meth:`job_trigger` resumes (deferrable mode). An operator that keeps
    upstream's ``execute_complete`` name sets it, and has that method call :meth:`execute_resumable_complete`."""
    max_stored_result_bytes: ClassVar[int] = 2048  # MAX_RESULT_BYTES, without importing the state module at parse
    """The most the kept result (value and XComs, as compact JSON) may take; ``0`` keeps no result. At most
    :data:`~airflow_durable.state.MAX_RESULT_BYTES`."""

    @BaseOperatorMeta._apply_defaults  # type: ignore[misc,type-var,untyped-decorator]
    def __init__(
        self,
        *,
        on_lost_job: LostJobPolicy = "resubmit",
        poll_interval_seconds: float = 5.0,
        max_poll_interval_seconds: float | None = None,
        cancel_timeout_seconds: float = 30.0,
        max_transient_errors: int = 10,
        **kwargs: Any,
    ) -> None:
        if on_lost_job not in ("resubmit", "fail"):
            raise ValueError(f"on_lost_job must be 'resubmit' or 'fail', got {on_lost_job!r}")
        if cancel_timeout_seconds <= 0:
            raise ValueError(f"cancel_timeout_seconds must be > 0, got {cancel_timeout_seconds!r}")
        if max_transient_errors < 0:
            raise ValueError(f"max_transient_errors must be >= 0, got {max_transient_errors!r}")
        ceiling = poll_ceiling_seconds(poll_interval_seconds, max_poll_interval_seconds)
        self._poll_backoff = Backoff(poll_interval_seconds, ceiling)
        super().__init__(**kwargs)
        self.on_lost_job: LostJobPolicy = on_lost_job
        self.poll_interval_seconds = poll_interval_seconds
        self.max_poll_interval_seconds = ceiling
        """The ceiling the poll delay grows to, in seconds (resolved: never ``None``)."""
        self.cancel_timeout_seconds = cancel_timeout_seconds
        self.max_transient_errors = max_transient_errors
        self.submission_token: str | None = None
        """The token of the submission in progress; ``None`` when ``durable=False``."""
        self._durable_state: DurableState | None = None
        self._durable_store: Any = None
        self._owned_external_id: JsonValue = None
        self.resume_decision: Decision | None = None
        """What this try decided (set before any submission; ``NOT_DURABLE`` when ``durable=False``)."""

    # ------------------------------------------------------------------ protocol

    def execute_resumable(self, context: Context) -> Any:
        """Run the protocol: decide, then submit, reconnect, adopt or return the result.

        Call it from ``execute``. See the class docstring for the guarantees.

        Args:
            context: The Airflow task context; ``task_state_store`` and ``ti`` are used.

        Returns:
            What :meth:`get_job_result` returns, on every path.

        Raises:
            CorruptStateError: The stored record is unusable (nothing is submitted).
            JobFailedError: The job ended in a terminal failure while this try polled it.
            JobLostError: The job is lost and ``on_lost_job="fail"``, or it vanished while polled.
            UnknownJobStatusError: The vendor reported a status the table does not list.
            UnidentifiedSubmissionError: ``submit_job`` returned no external ID, in this try or an earlier one.

        A context with ``task_state_store`` but no complete ``ti`` (a hand-made one in a unit test) is durable:
        the token's scope comes from the operator and the context (see ``TaskInstanceScope.from_context``),
        with a warning. A context without ``task_state_store`` (a hand-made one, ``None``, or anything that is
        not a mapping, such as a ``MagicMock``) runs the try
        without crash recovery, as upstream ``ResumableJobMixin`` does: a warning is logged, then submit,
        poll and result, with no state read or written. ``None`` stands for an empty context; XComs are
        then not pushed (see :meth:`push_xcom`).
        """
        from airflow_durable.state import Phase
        from airflow_durable.tokens import TaskInstanceScope

        if context is None:
            context = NO_CONTEXT
        store = _state_store(context) if self.durable else None
        if self.durable and store is None:
            with upstream_mixin.tracer.start_as_current_span("resumable_job.resume_decision") as span:
                span.set_attribute("operator", type(self).__name__)
                span.set_attribute("resumable.decision", "no_task_state_store")
            self.log.warning(
                "task_state_store not available in context, crash recovery is disabled for this run "
                "(a real task run always has it; in a unit test, see %s)",
                TESTING_PAGE,
            )
        if store is None:
            self.resume_decision = Decision.NOT_DURABLE
            self._log_decision(Decision.NOT_DURABLE, None, None)
            self.submission_token = None
            self.prepare_submission(context)
            external_id = self.submit_job(context)
            if external_id is None:
                raise DurableJobError(f"{type(self).__name__}.submit_job returned no external ID")
            self._owned_external_id = external_id
            return self._finish(external_id, context, poll=self.waits_for_job())

        if not TaskInstanceScope.is_complete(context):
            self.log.warning(
                "The task context has no complete 'ti' (a hand-made context?): the submission token is scoped by "
                "the operator's dag_id and task_id and the context's run_id. A real task run always has 'ti'; "
                "in a unit test, see %s",
                TESTING_PAGE,
            )
        self._durable_store = store
        scope = TaskInstanceScope.from_context(context, task=self)
        stats_tags = self._stats_tags(context)

        with upstream_mixin.tracer.start_as_current_span("resumable_job.resume_decision") as span:
            span.set_attribute("operator", type(self).__name__)
            span.set_attribute("resumable.external_id_key", self.external_id_key)
            decision, state = self._decide(store, scope, context, stats_tags)
            self.resume_decision = decision
            span.set_attribute("resumable.decision", decision.value)
            if state.external_id is not None:
                span.set_attribute("resumable.external_id", str(state.external_id))
        stats.incr(_METRICS[decision], tags=stats_tags)
        self._log_decision(decision, state, state.external_id)

        waits = self.waits_for_job()
        if decision in (Decision.ALREADY_SUCCEEDED, Decision.ALREADY_SUBMITTED):
            assert state.external_id is not None
            self._owned_external_id = state.external_id
            if decision is Decision.ALREADY_SUCCEEDED:
                # Record it now: the vendor's history may expire before a later retry asks again.
                self._record_success()
            # A succeeded record's result, or a fire-and-forget try's; never a fire-and-forget result for a
            # waiting try (the job may have finished since, with another result).
            if state.result is not None and (state.phase is Phase.SUCCEEDED or decision is Decision.ALREADY_SUBMITTED):
                return self._replay(state.external_id, state.result, context)
            return self._finish(state.external_id, context, poll=False)
        if decision in (Decision.RECONNECT, Decision.ADOPT):
            assert state.external_id is not None
            self._owned_external_id = state.external_id
            return self._finish(state.external_id, context, poll=waits)

        # Every other decision submits. The request is checked first; then the intent (with its token) is
        # on record before the call.
        self.prepare_submission(context)
        if self._durable_state != state:
            self._write_state(state)
        self.submission_token = state.token
        external_id = self._submit(state, context)
        if external_id is None:
            # A job may exist now: record that, so no retry submits again blindly.
            self._write_state(state.unidentified())
            raise UnidentifiedSubmissionError(
                self.external_id_key, state.token, f"{type(self).__name__}.submit_job returned None"
            )
        self.record_external_id(external_id)
        return self._finish(external_id, context, poll=waits)

    def prepare_submission(self, context: Context) -> None:
        """Build and check the request of the submission about to happen, before its intent is written.

        Called on every path that submits (and with ``durable=False``), after the resume decision and before
        the intent record and :meth:`submit_job`; never on a reconnect, adopt or already-succeeded path. An
        exception raised here fails the try with nothing written to ``task_state_store`` and nothing
        submitted: the place for payload validation and for look-ups the request needs (a job or pipeline
        ID by name). The default does nothing.

        Args:
            context: The task context.
        """

    def waits_for_job(self) -> bool:
        """Return False when this try submits and returns without waiting (fire-and-forget).

        The default is True. A provider with a fire-and-forget mode (Databricks ``wait_for_termination``,
        Dataproc ``asynchronous``, EMR ``wait_for_completion``) returns its flag here and lists the
        arguments in :attr:`fire_and_forget_kwargs`. Such a try records the job and its result without
        polling; a retry returns that job whatever its state and never submits another.
        """
        return True

    def record_external_id(self, external_id: JsonValue) -> None:
        """Persist the external ID of the submission in progress, as soon as it is known.

        The mixin calls it when ``submit_job`` returns. A provider whose submit call learns the ID before it
        returns (Spark's ``spark-submit`` prints the driver ID long before it exits) calls it right then to
        shrink the submit-to-persist window; a second call with the same ID writes nothing.

        Args:
            external_id: The vendor's job ID.

        Raises:
            CorruptStateError: If the ID fails :meth:`validate_external_id`.
        """
        from airflow_durable.state import Phase

        self._owned_external_id = external_id
        state = self._durable_state
        if not self.durable or state is None:
            return
        if state.external_id == external_id and state.phase is not Phase.INTENT:
            return
        checked = self._checked_id(external_id)
        self._write_state(state.with_external_id(checked))

    def _decide(
        self, store: Any, scope: TaskInstanceScope, context: Context, stats_tags: dict[str, str]
    ) -> tuple[Decision, DurableState]:
        """Make the resume decision from one state read and at most one external call."""
        from airflow_durable.state import DurableState, Phase

        raw = store.get(self.external_id_key)
        if raw is None:
            return Decision.FRESH_SUBMIT, self._intent(scope, 0)
        state = DurableState.from_json(self.external_id_key, raw)
        self._durable_state = state

        if state.phase is Phase.SUCCEEDED:
            self._checked_id(state.external_id)
            return Decision.ALREADY_SUCCEEDED, state

        if state.phase is Phase.SUBMITTED and not self.waits_for_job():
            # Fire-and-forget: the job was submitted; its state does not matter and is not asked.
            self._checked_id(state.external_id)
            return Decision.ALREADY_SUBMITTED, state

        if state.phase is Phase.UNIDENTIFIED:
            found = None
            if self.supports_token_lookup and state.token is not None:
                recorded_token: str = state.token
                found = self._call_vendor(lambda: self.find_job_by_token(recorded_token, context))
            if found is None:
                raise UnidentifiedSubmissionError(self.external_id_key, state.token, "recorded by a previous try")
            adopted = state.with_external_id(self._checked_id(found))
            self._write_state(adopted)
            return Decision.ADOPT, adopted

        if state.phase is Phase.INTENT:
            assert state.token is not None
            if not self.supports_token_lookup:
                if self.deduplicates_submissions:
                    self.log.info(
                        "A previous try may have submitted; resubmitting with the same token, which the "
                        "external system deduplicates",
                        token=state.token,
                    )
                else:
                    self.log.warning(
                        "A previous try recorded a submission intent but no job ID, and this operator cannot "
                        "look a job up by token; submitting again with the same token",
                        token=state.token,
                    )
                return Decision.RESUBMIT_SAME_TOKEN, state
            token = state.token
            found = self._call_vendor(lambda: self.find_job_by_token(token, context))
            if found is None:
                return Decision.RESUBMIT_SAME_TOKEN, state
            adopted = state.with_external_id(self._checked_id(found))
            self._write_state(adopted)
            return Decision.ADOPT, adopted

        external_id = self._checked_id(state.external_id)
        # Owned from here on: a kill during the status call below still cancels the job.
        self._owned_external_id = external_id
        stats.incr("resumable_job.reconnect_attempt", tags=stats_tags)
        try:
            status = self._call_vendor(lambda: self.get_job_status(external_id, context))
        except JobLostError:
            if self.on_lost_job == "fail":
                raise
            self.log.warning("Stored job is lost; submitting fresh", external_id=external_id)
            return Decision.LOST_RESUBMIT, self._intent(scope, state.generation + 1)
        # As upstream: the stored job and the raw status the decision was made from, on the decision span.
        span = trace.get_current_span()
        span.set_attribute("resumable.external_id", str(external_id))
        span.set_attribute("resumable.prior_status", str(status))
        job_state = self.classify_status(status)
        if job_state is JobState.ACTIVE:
            self.log.info(
                "Reconnecting to existing job",  # upstream's event and fields
                external_id_key=self.external_id_key,
                external_id=external_id,
                status=status,
            )
            return Decision.RECONNECT, state
        if job_state is JobState.SUCCEEDED:
            self.log.info(
                "Job already completed successfully, skipping resubmission",  # upstream's event and fields
                external_id_key=self.external_id_key,
                external_id=external_id,
            )
            return Decision.ALREADY_SUCCEEDED, state
        self.log.warning(
            "Prior job in terminal state, resubmitting fresh",  # upstream's event, for log-based alerts
            external_id_key=self.external_id_key,
            external_id=external_id,
            status=status,
            generation=state.generation,
        )
        return Decision.TERMINAL_RESUBMIT, self._intent(scope, state.generation + 1)

    def _finish(self, external_id: JsonValue, context: Context, *, poll: bool) -> Any:
        """The common tail of every path: attach, poll (or defer) if needed, record success, return the result.

        XComs pushed through ``context["ti"]`` from here on are recorded and kept with the result.
        """
        recording, pushed = self._recording_context(context)
        self.attach_job(external_id, recording)
        if poll:
            if getattr(self, "deferrable", False):
                # The decision and the persist are done: only waiting moves to the triggerer.
                self.defer(  # type: ignore[attr-defined]
                    trigger=self.job_trigger(external_id, recording),
                    method_name=self.resume_method_name,
                )
            self.poll_until_complete(external_id, recording)
            self._record_success()
        result = self.get_job_result(external_id, recording)
        self._keep_result(external_id, result, pushed)
        return result

    def push_xcom(self, context: Context, key: str, value: Any) -> None:
        """Push an XCom through ``context["ti"]``, as upstream operators do (their ``do_xcom_push`` pushes).

        Nothing is pushed when ``execute`` got no context (``None``), as upstream operators skip it then.

        Args:
            context: The context ``execute_resumable`` passed on.
            key: The XCom key.
            value: A JSON-serialisable value.

        Raises:
            MissingContextError: The context has no ``ti`` (a ``KeyError``, like upstream's ``context["ti"]``).
        """
        if context is NO_CONTEXT:
            return
        # A hand-made context that is no mapping (a MagicMock): upstream's ``context["ti"]``.
        ti = context.get("ti") if _is_mapping(context) else context["ti"]
        if ti is None:
            raise MissingContextError("ti", f"pushing the XCom {key!r} (or set do_xcom_push=False)")
        ti.xcom_push(key=key, value=value)

    @staticmethod
    def _recording_context(context: Context) -> tuple[Context, dict[str, Any]]:
        """Return a copy of ``context`` whose task instance records XCom pushes, and the record."""
        pushed: dict[str, Any] = {}
        # Upstream's unit tests pass no context, or one that is no mapping: nothing to record (nor to keep).
        ti = context.get("ti") if _is_mapping(context) else None
        if ti is None:
            return context, pushed
        recorder = _XComRecorder(ti, pushed)
        recording = dict(context)
        recording["ti"] = recorder
        if context.get("task_instance") is ti:
            recording["task_instance"] = recorder
        return cast("Context", recording), pushed

    def _keep_result(self, external_id: JsonValue, result: Any, xcoms: dict[str, Any]) -> None:
        """Keep the result and XComs in the record (``succeeded``, or ``submitted`` when not waiting)."""
        from airflow_durable.state import MAX_RESULT_BYTES, MAX_STATE_BYTES, Phase, StoredResult, json_size

        state = self._durable_state
        if not self.durable or state is None or state.result is not None or state.external_id != external_id:
            return
        if state.phase is not Phase.SUCCEEDED and not (state.phase is Phase.SUBMITTED and not self.waits_for_job()):
            return
        kept = StoredResult(value=result, xcoms=dict(xcoms))
        limit = min(self.max_stored_result_bytes, MAX_RESULT_BYTES)
        try:
            encoded = kept.to_json()
            round_trip = json.loads(json.dumps(encoded, allow_nan=False))
            size = json_size(encoded)
            record_size = json_size(state.with_result(kept).to_json())
        except (TypeError, ValueError) as err:
            reason = f"it is not JSON ({err})"
        else:
            if round_trip != encoded:
                reason = "it does not survive a JSON round trip unchanged"
            elif size > limit or record_size > MAX_STATE_BYTES:
                reason = f"it takes {size} bytes, more than the {limit} a record keeps"
            else:
                self._write_state(state.with_result(kept))
                return
        self.log.warning(
            "The result is not kept in task_state_store; a later try calls get_job_result again, which may "
            "need the external system",
            external_id=external_id,
            reason=reason,
        )

    def _replay(self, external_id: JsonValue, kept: StoredResult, context: Context) -> Any:
        """Return a kept result and push its XComs again, without calling the external system."""
        self.attach_job(external_id, context)
        ti = context.get("ti")
        if ti is not None:
            for key, value in kept.xcoms.items():
                ti.xcom_push(key=key, value=value)
        return kept.value

    def _record_success(self) -> None:
        from airflow_durable.state import Phase

        state = self._durable_state
        if self.durable and state is not None and state.phase is Phase.SUBMITTED:
            self._write_state(state.succeeded())

    def execute_resumable_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Resume after the trigger from :meth:`job_trigger` fired (deferrable mode).

        Args:
            context: The task context.
            event: The trigger's payload: ``{"external_id": ..., "status": <raw terminal status>}``, or
                ``{"external_id": ..., "error": <message>}`` when the trigger could not finish polling.

        Returns:
            What :meth:`get_job_result` returns, exactly as on the non-deferrable paths.

        Raises:
            DurableJobError: The trigger failed; the retry goes through the resume decision again and
                reconnects to the job.
            JobFailedError: The job ended in a terminal failure.
            UnknownJobStatusError: The trigger reported an unlisted status.
        """
        if not event or "external_id" not in event:
            raise DurableJobError(f"{type(self).__name__}: the trigger fired without a job ({event!r})")
        external_id = self._checked_id(event["external_id"])
        self._owned_external_id = external_id
        if event.get("error"):
            raise DurableJobError(f"Polling job {external_id!r} in the triggerer failed: {event['error']}")
        status = str(event.get("status"))
        job_state = self.classify_status(status)
        if job_state is JobState.FAILED:
            raise JobFailedError(external_id, status)
        if job_state is not JobState.SUCCEEDED:
            raise DurableJobError(f"The trigger fired while job {external_id!r} is still {status!r}")
        if self.durable and context is not None:
            store = _state_store(context)
            if store is not None:
                from airflow_durable.state import DurableState

                self._durable_store = store
                raw = store.get(self.external_id_key)
                state = None if raw is None else DurableState.from_json(self.external_id_key, raw)
                if state is not None and state.external_id == external_id:
                    self._durable_state = state
                    self._record_success()
        return self._finish(external_id, context, poll=False)

    def job_trigger(self, external_id: JsonValue, context: Context) -> Any:
        """Return the trigger that polls the job in the triggerer (deferrable operators implement it).

        It must fire one event shaped as :meth:`execute_resumable_complete` expects.
        """
        raise NotImplementedError(f"{type(self).__name__} has no deferrable mode")

    def _intent(self, scope: TaskInstanceScope, generation: int) -> DurableState:
        from airflow_durable.state import DurableState, Phase
        from airflow_durable.tokens import submission_token

        return DurableState(
            generation=generation,
            token=submission_token(scope, generation, base=self.token_base()),
            phase=Phase.INTENT,
        )

    def _write_state(self, state: DurableState) -> None:
        self._durable_store.set(self.external_id_key, state.to_json())
        self._durable_state = state

    def _checked_id(self, external_id: JsonValue) -> str | int:
        try:
            checked = self.validate_external_id(external_id)
        except (TypeError, ValueError) as err:
            raise CorruptStateError(self.external_id_key, f"invalid external ID {external_id!r}: {err}") from err
        return checked

    def _transient_delays(self) -> Iterator[float]:
        """Return the pauses before retrying after transient errors, in seconds.

        A :class:`Backoff` whose first pause is ``poll_interval_seconds`` clipped to [0.1 s, 1 s] (never zero,
        even when polling is configured without a delay), growing up to ``max_poll_interval_seconds``.
        """
        initial = min(1.0, max(TRANSIENT_RETRY_MIN_SECONDS, self.poll_interval_seconds))
        return Backoff(initial, max(initial, self.max_poll_interval_seconds)).delays()

    def _submit(self, state: DurableState, context: Context) -> JsonValue:
        """:meth:`submit_job`; after a transient error, send it again only where that cannot make a second job.

        The answer to a submission that failed transiently (a 429, a 5xx, a timeout, a dropped connection)
        does not say whether the job was created. With :attr:`supports_token_lookup` the job is first looked
        up by the token: found, it is adopted; not found, the submission is sent again under the same token.
        With only :attr:`deduplicates_submissions` it is sent again under the same token, which the vendor
        deduplicates. Otherwise (no lookup, no deduplication, or :attr:`sdk_retries_submissions`) the error
        fails the try. At most
        ``max_transient_errors`` errors, with the backoff of :meth:`_call_vendor`.
        """
        token = state.token
        if (
            token is None
            or self.sdk_retries_submissions
            or not (self.supports_token_lookup or self.deduplicates_submissions)
        ):
            return self.submit_job(context)

        def adopt_if_found() -> JsonValue | None:
            found = self._call_vendor(lambda: self.find_job_by_token(token, context))
            if found is not None:
                self.log.info("The submission had reached the external system: adopting", external_id=found)
            return found

        return self._call_vendor(
            lambda: self.submit_job(context),
            message="Transient error on submission; the job may exist: looking it up by token before sending again"
            if self.supports_token_lookup
            else "Transient error on submission; sending again with the same token, which is deduplicated",
            before_retry=adopt_if_found if self.supports_token_lookup else None,
            token=token,
        )

    def _call_vendor(
        self,
        call: Callable[[], _T],
        *,
        message: str = "Transient error from the external system; retrying",
        before_retry: Callable[[], _T | None] | None = None,
        **log_fields: Any,
    ) -> _T:
        """Run one logical vendor call, retrying transient errors with backoff; never resubmits by itself.

        The pauses are :meth:`_transient_delays`; at most ``max_transient_errors`` errors are retried. After
        each pause, ``before_retry`` (if given) runs first: a value other than ``None`` is returned instead of
        calling again (``_submit``'s look-up by token).
        """
        delays = self._transient_delays()
        failures = 0
        while True:
            try:
                return call()
            except DurableJobError:
                raise
            except Exception as err:
                if not self.is_transient_error(err) or failures >= self.max_transient_errors:
                    raise
                failures += 1
                delay = next(delays)
                self.log.warning(
                    message, error=repr(err), attempt=failures, delay_seconds=round(delay, 3), **log_fields
                )
                time.sleep(delay)
            if before_retry is not None and (found := before_retry()) is not None:
                return found

    def _log_decision(self, decision: Decision, state: DurableState | None, external_id: Any) -> None:
        self.log.info(
            "Durable resume decision",
            decision=decision.value,
            external_id=external_id,
            generation=None if state is None else state.generation,
            token=None if state is None else state.token,
        )

    def _stats_tags(self, context: Context) -> dict[str, str]:
        tags = {"operator": type(self).__name__}
        ti = context.get("ti")
        stats_tags = getattr(ti, "stats_tags", None)
        if isinstance(stats_tags, dict) and (team_name := stats_tags.get("team_name")):
            tags["team_name"] = str(team_name)
        return tags

    # ------------------------------------------------------------------ provider hooks (defaults)

    def classify_status(self, status: str) -> JobState:
        """Classify a raw vendor status.

        Uses :attr:`status_table` when it is set, else :meth:`is_job_active`, :meth:`is_job_succeeded`
        and :meth:`is_job_failed` (whose default without a table is upstream's decision: a status that is
        neither active nor succeeded is a terminal failure).

        Args:
            status: The raw status from :meth:`get_job_status`.

        Returns:
            The protocol state.

        Raises:
            UnknownJobStatusError: If no table lists the status.
        """
        if self.status_table is not None:
            return self.status_table.classify(status)
        if self.is_job_active(status):
            return JobState.ACTIVE
        if self.is_job_succeeded(status):
            return JobState.SUCCEEDED
        if self.is_job_failed(status):
            return JobState.FAILED
        raise UnknownJobStatusError(status)

    def is_job_active(self, status: str) -> bool:
        """Return True for a queued or running job (from :attr:`status_table` by default)."""
        return self._table().classify(status) is JobState.ACTIVE

    def is_job_succeeded(self, status: str) -> bool:
        """Return True for a job that finished successfully (from :attr:`status_table` by default)."""
        return self._table().classify(status) is JobState.SUCCEEDED

    def is_job_failed(self, status: str) -> bool:
        """Return True for a terminal failure.

        From :attr:`status_table` when it is set. Without one (an operator written to upstream's
        ``ResumableJobMixin`` interface) it makes upstream's decision: neither active nor succeeded.
        """
        if self.status_table is None:
            return not self.is_job_active(status) and not self.is_job_succeeded(status)
        return self.status_table.classify(status) is JobState.FAILED

    def _table(self) -> StatusTable:
        if self.status_table is None:
            raise NotImplementedError(
                f"{type(self).__name__} must set status_table or override is_job_active, "
                "is_job_succeeded and is_job_failed"
            )
        return self.status_table

    def poll_until_complete(self, external_id: JsonValue, context: Context) -> None:
        """Poll :meth:`get_job_status` until the job is terminal.

        The delay starts at ``poll_interval_seconds`` and grows exponentially (x1.5), with jitter, up to
        ``max_poll_interval_seconds``, so a job's end is seen at most ``max_poll_interval_seconds`` after it
        happens. The deferrable mode's :class:`~airflow_durable.trigger.JobStatusTrigger` polls on the same
        schedule. Transient errors are retried (see :meth:`is_transient_error`).

        Args:
            external_id: The job to poll.
            context: The task context.

        Raises:
            JobFailedError: The job ended in a terminal failure.
            JobLostError: The vendor no longer knows the job.
            UnknownJobStatusError: The vendor reported an unlisted status.
        """
        delays = self._poll_backoff.delays()
        while True:
            status = self._call_vendor(lambda: self.get_job_status(external_id, context))
            job_state = self.classify_status(status)
            if job_state is JobState.SUCCEEDED:
                return
            if job_state is JobState.FAILED:
                raise JobFailedError(external_id, status)
            time.sleep(next(delays))

    def find_job_by_token(self, token: str, context: Context) -> JsonValue:
        """Find the job a previous try submitted with ``token``.

        Implement it (and set :attr:`supports_token_lookup`) where the vendor can look a job up by the token
        (Databricks ``idempotency_token``, EMR ``clientToken``, Dataproc deterministic IDs, YARN tags,
        Kubernetes labels, EMR step-name markers).

        Args:
            token: The submission token recorded in the intent.
            context: The task context.

        Returns:
            The job's external ID, or ``None`` if no job carries the token.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot look a job up by token")

    def cancel_job(self, external_id: JsonValue) -> None:
        """Cancel the job (implement it and set :attr:`supports_cancel`); called by :meth:`on_kill`.

        Args:
            external_id: The job this try owns.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot cancel a job")

    def validate_external_id(self, external_id: JsonValue) -> str | int:
        """Check a stored or returned external ID before it goes into a URL or an API call.

        The default accepts a positive int64, or 1-256 of ``[A-Za-z0-9._-]`` that neither start with ``.``
        nor hold ``..`` (so nothing that can leave a URL path segment: no ``/``, ``%``, ``?``, ``#``, ``:``,
        whitespace or control characters). Providers tighten it to the vendor's ID format.

        Args:
            external_id: The ID to check.

        Returns:
            The ID, unchanged.

        Raises:
            ValueError: If the ID is not acceptable.
        """
        if isinstance(external_id, int) and not isinstance(external_id, bool):
            if not 0 < external_id <= MAX_INT64:
                raise ValueError("a numeric job ID must be a positive int64")
            return external_id
        if not isinstance(external_id, str) or not external_id:
            raise ValueError("expected a non-empty string or a positive int")
        if not _SAFE_JOB_ID.fullmatch(external_id) or ".." in external_id:
            raise ValueError("not a plausible job ID (1-256 of letters, digits, '.', '_' and '-', no '..')")
        return external_id

    def is_transient_error(self, error: Exception) -> bool:
        """Return True for a vendor error worth retrying in place (429, 5xx, timeouts).

        The default is False: providers whose SDK already retries leave it that way.
        """
        return False

    def attach_job(self, external_id: JsonValue, context: Context) -> None:
        """Restore operator state that depends on the job (run page URL, handles), on every path.

        Called once the job is known, before polling (or before the result on the already-succeeded path).
        The default does nothing.
        """

    def token_base(self) -> str | None:
        """Return a user-supplied token mixed into every derived token, or ``None``.

        For example Databricks' ``idempotency_token`` argument.
        """
        return None

    # ------------------------------------------------------------------ kill

    def on_kill(self) -> None:
        """Cancel the job this try owns, bounded by ``cancel_timeout_seconds``.

        A failure or a timeout is logged, never raised, so a kill never hangs the task.
        """
        external_id = self._owned_external_id
        if external_id is None:
            self.log.info("on_kill: this try owns no external job; nothing to cancel")
            return
        if not self.supports_cancel:
            self.log.warning("on_kill: %s cannot cancel jobs; %r keeps running", type(self).__name__, external_id)
            return
        errors: list[BaseException] = []

        def cancel() -> None:
            try:
                self.cancel_job(external_id)
            except BaseException as err:  # noqa: BLE001 - reported below, a kill must not raise
                errors.append(err)

        worker = threading.Thread(target=cancel, name="airflow-durable-cancel", daemon=True)
        worker.start()
        worker.join(self.cancel_timeout_seconds)
        if worker.is_alive():
            self.log.error(
                "on_kill: cancelling %r did not finish within %s s; giving up",
                external_id,
                self.cancel_timeout_seconds,
            )
        elif errors:
            self.log.error("on_kill: cancelling %r failed: %r", external_id, errors[0])
        else:
            self.log.info("on_kill: cancelled external job %r", external_id)
