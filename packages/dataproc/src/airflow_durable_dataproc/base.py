"""What the durable Dataproc operators share: upstream's Google Cloud arguments and the protocol's wiring.

Each operator (:mod:`~airflow_durable_dataproc.jobs`, the batch operator) keeps its own upstream signature,
defaults, template fields and docstring; :class:`DurableDataprocOperatorBase` holds the rest once:

* upstream's Google Cloud arguments (``project_id``, ``region``, ``retry``, ``timeout``, ``metadata``,
  ``gcp_conn_id``, ``impersonation_chain``) and ours (``transport``, ``api_endpoint``), the
  :class:`~airflow_durable_dataproc.client.DataprocConnection` they make, the project a request goes to,
  and the keyword arguments the operator's trigger takes;
* the region checked before any intent is written (its form, then one read that must reach Dataproc);
* upstream's ``execute_complete`` as the resume method, ``asynchronous=True`` as fire-and-forget;
* a failed job raised as upstream's error (:meth:`DurableDataprocOperatorBase.job_failed_error`), on the
  polling and on the deferred path;
* ``cancel_on_kill`` gating ``on_kill``; 429, 5xx, timeouts and dropped connections as transient errors.

Importing this module imports neither ``google.cloud.dataproc_v1`` nor ``google.api_core``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from airflow_durable.upstream_interface import UpstreamInterfaceMixin
from airflow_durable_dataproc.client import (
    DEFAULT_CONN_ID,
    SUBMIT_RETRY_TIMEOUT_SECONDS,
    DataprocConnection,
    Transport,
    is_transient,
    transient_retry,
)

if TYPE_CHECKING:
    pass

REGION_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
"""What a region name can be (``us-central1``, ``global``...): it goes into the endpoint's host name and the
request path, so only lower-case letters, digits and ``-``. Whether Dataproc serves it is asked, not guessed:
https://cloud.google.com/dataproc/docs/concepts/regional-endpoints."""
REGION_PROBE_TIMEOUT_SECONDS = 30.0
"""How long the read that checks a region may take before the try fails (nothing written yet)."""


class _Default:
    """Upstream's ``retry=DEFAULT``: the client method's own retry (its ``gapic_v1.method.DEFAULT``).

    A sentinel of our own, so that importing an operator does not import ``google.api_core`` (and gRPC);
    :meth:`DurableDataprocOperatorBase.call_options` leaves ``retry`` out of the call when it is set.
    """

    _instance: ClassVar[_Default | None] = None

    def __new__(cls) -> _Default:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "DEFAULT"

    def __copy__(self) -> _Default:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> _Default:
        return self

    def __reduce__(self) -> str:
        return "DEFAULT"


DEFAULT = _Default()
"""The default of ``retry``: each client call keeps the client library's own retry."""


def is_default(value: object) -> bool:
    """Return True for our :data:`DEFAULT` or ``google.api_core.gapic_v1.method.DEFAULT`` (by type name)."""
    return value is DEFAULT or type(value).__name__ == "_MethodDefault"


class DataprocRequestError(AirflowException, ValueError):
    """The request cannot be sent as it is; raised before any intent is written, so nothing was submitted.

    Bad input, no project, or a region Dataproc does not serve or that cannot be reached.
    """


class DurableDataprocOperatorBase(UpstreamInterfaceMixin, BaseOperator):
    """The base of the durable Dataproc operators (not an operator itself): see the module docstring.

    A subclass sets the mixin's class attributes (``external_id_key``, ``status_table``), the protocol's
    methods, ``asynchronous``, ``deferrable`` and ``cancel_on_kill``, and maps a failed job to upstream's
    error in :meth:`job_failed_error`.

    Args:
        region: The Dataproc region (``us-central1``...; ``global`` for jobs).
        project_id: The Google Cloud project; ``None``: the connection's default project.
        retry: The ``google.api_core`` retry of each call; :data:`DEFAULT`: the client's own; ``None``: none.
        timeout: Seconds each call may take (each attempt when ``retry`` is set); ``None``: the client's.
        metadata: Extra ``(key, value)`` request metadata.
        gcp_conn_id: The Airflow Google Cloud connection.
        impersonation_chain: A service account (or a chain of them) to impersonate.
        transport: ``"grpc"`` or ``"rest"``; ``None``: the connection's ``dataproc_transport`` extra, else gRPC.
        api_endpoint: The Dataproc endpoint; ``None``: the connection's ``dataproc_api_endpoint`` extra, else
            ``{region}-dataproc.googleapis.com:443``.
        **kwargs: ``DurableJobMixin`` and ``BaseOperator`` arguments.
    """

    supports_token_lookup: ClassVar[bool] = True
    supports_cancel: ClassVar[bool] = True
    deduplicates_submissions: ClassVar[bool] = True
    fire_and_forget_kwargs: ClassVar[dict[str, Any]] = {"asynchronous": True}
    resume_method_name: ClassVar[str] = "execute_complete"
    cancel_on_kill: bool = True
    """Whether ``on_kill`` cancels the job this try owns."""
    asynchronous: bool = False
    deferrable: bool = False

    def __init__(
        self,
        *,
        region: str,
        project_id: str | None = None,
        retry: Any = DEFAULT,
        timeout: float | None = None,
        metadata: Sequence[tuple[str, str]] = (),
        gcp_conn_id: str = DEFAULT_CONN_ID,
        impersonation_chain: str | Sequence[str] | None = None,
        transport: Transport | None = None,
        api_endpoint: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.region = region
        self.project_id = project_id
        self.retry = retry
        self.timeout = timeout
        self.metadata = metadata
        self.gcp_conn_id = gcp_conn_id
        self.impersonation_chain = impersonation_chain
        self.transport = transport
        self.api_endpoint = api_endpoint
        self._connection: DataprocConnection | None = None
        self._project: str | None = None

    # ------------------------------------------------------------------ connection

    @property
    def connection(self) -> DataprocConnection:
        """Where this try's clients come from (read once, from the rendered arguments)."""
        if self._connection is None:
            self._connection = DataprocConnection.for_operator(
                self.gcp_conn_id, self.impersonation_chain, self.transport, self.api_endpoint
            )
        return self._connection

    @property
    def project(self) -> str:
        """The project of every request: ``project_id``, else the connection's default project.

        Raises:
            DataprocRequestError: Neither gives one.
        """
        if self._project is None:
            project = self.project_id or self.connection.credentials_and_project()[1]
            if not project:
                raise DataprocRequestError(
                    "project_id is not set and the connection "
                    f"{self.gcp_conn_id!r} gives no default project: set project_id"
                )
            self._project = str(project)
        return self._project

    def call_options(self) -> dict[str, Any]:
        """``retry``, ``timeout`` and ``metadata`` as keyword arguments of a client call.

        ``retry`` is left out when it is :data:`DEFAULT`, so the client keeps its own.
        """
        options: dict[str, Any] = {"timeout": self.timeout, "metadata": self.metadata}
        if not is_default(self.retry):
            options["retry"] = self.retry
        return options

    def submit_options(self, deduplicated: bool) -> dict[str, Any]:
        """:meth:`call_options` of a ``SubmitJob`` or ``CreateBatch``.

        With ``retry`` left at :data:`DEFAULT` and a request Dataproc deduplicates (a derived ID and
        ``request_id``), every transient error is retried for
        :data:`~airflow_durable_dataproc.client.SUBMIT_RETRY_TIMEOUT_SECONDS` (see
        :func:`~airflow_durable_dataproc.client.transient_retry`): a 429, 5xx or a lost answer does not fail
        the try. Otherwise, as :meth:`call_options`.
        """
        options = self.call_options()
        if deduplicated and is_default(self.retry):
            options["retry"] = transient_retry(SUBMIT_RETRY_TIMEOUT_SECONDS)
        return options

    def trigger_kwargs(self) -> dict[str, Any]:
        """The keyword arguments every Dataproc trigger takes from its operator (no credentials).

        The transport and endpoint are the resolved ones, so the triggerer talks to what the worker talked to.
        """
        connection = self.connection
        return {
            "project_id": self.project,
            "region": self.region,
            "gcp_conn_id": self.gcp_conn_id,
            "impersonation_chain": self.impersonation_chain,
            "transport": connection.transport,
            "api_endpoint": connection.api_endpoint,
            "poll_interval_seconds": self.poll_interval_seconds,
            "max_poll_interval_seconds": self.max_poll_interval_seconds,
            "max_transient_errors": self.max_transient_errors,
            "cancel_on_kill": self.cancel_on_kill,
            "cancel_timeout_seconds": self.cancel_timeout_seconds,
        }

    # ------------------------------------------------------------------ checks before the intent

    def check_region(self, probe: Callable[[float], Any]) -> None:
        """Check the region before any intent is written: its form, then one read that must reach Dataproc.

        The read (``probe``, called with a timeout in seconds and no retry of its own) may be refused for lack
        of permission: that still proves the region is served. Transient errors (429, 5xx, timeouts) are
        retried until the probe's timeout is spent; a region that still cannot be reached fails the try with
        nothing written, and the task's retry checks again.

        Args:
            probe: One cheap read in the region (a one-item list), given its timeout in seconds.

        Raises:
            DataprocRequestError: The region is malformed, Dataproc does not serve it, or it cannot be reached.
        """
        region = self.region
        if not isinstance(region, str) or not REGION_PATTERN.match(region):
            raise DataprocRequestError(
                f"region {region!r} is not a Dataproc region (such as 'us-central1', or 'global' for jobs)"
            )
        from google.api_core import exceptions

        endpoint = self.connection.endpoint(region)
        timeout = min(float(self.timeout or REGION_PROBE_TIMEOUT_SECONDS), REGION_PROBE_TIMEOUT_SECONDS)
        try:
            transient_retry(timeout)(probe)(timeout)
        except (exceptions.PermissionDenied, exceptions.Forbidden, exceptions.Unauthorized):
            return
        except (exceptions.NotFound, exceptions.BadRequest) as err:
            raise DataprocRequestError(
                f"Dataproc does not serve region {region!r} for project {self.project!r} at {endpoint}: {err}"
            ) from err
        except Exception as err:
            if is_transient(err):
                raise DataprocRequestError(
                    f"Dataproc region {region!r} cannot be reached at {endpoint} (over {self.connection.transport}) "
                    f"within {timeout:g} s: {err!r}; nothing was submitted"
                ) from err
            raise

    # ------------------------------------------------------------------ protocol

    def waits_for_job(self) -> bool:
        """``deferrable`` or not ``asynchronous`` (upstream's order); False: fire-and-forget, exactly once."""
        return bool(self.deferrable or not self.asynchronous)

    def is_transient_error(self, error: Exception) -> bool:
        """429, 5xx, timeouts and dropped connections (see :func:`airflow_durable_dataproc.client.is_transient`)."""
        return is_transient(error)

    def on_kill(self) -> None:
        """Cancel the job this try owns when ``cancel_on_kill`` (bounded by ``cancel_timeout_seconds``)."""
        if not self.cancel_on_kill:
            self.log.info("on_kill: cancel_on_kill is False; %s keeps running", self._owned_external_id)
            return
        super().on_kill()
