"""A client for the Spark standalone master's REST submission server (status and kill).

Endpoints (``spark.master.rest.enabled=true``, port ``spark.master.rest.port``, default 6066):

- ``GET /v1/submissions/status/{driverId}`` answers a ``SubmissionStatusResponse``::

      {"action": "SubmissionStatusResponse", "serverSparkVersion": "4.2.0",
       "submissionId": "driver-20261129140102-0000", "success": true,
       "driverState": "RUNNING", "workerId": "...", "workerHostPort": "..."}

  An ID the master does not know gives ``"success": false`` with neither ``driverState`` nor ``message``
  (the only answer taken as "lost"). A master that is not ``ALIVE`` (failure recovery, standby) also
  gives ``"success": false``, but with a ``message`` carrying the exception; that is transient, not lost.
  Any other answer (a proxy's ``{}``, an HTML page with status 200, another driver's status) is an error:
  it says nothing about the driver, which may still run.
- ``POST /v1/submissions/kill/{driverId}`` answers a ``KillSubmissionResponse``.

Requests go through ``requests.get`` / ``requests.post`` (module-level calls, as upstream's operator makes
them), so a test that patches ``requests.get`` reaches this client.

Source: Spark's ``StandaloneRestServer.scala``
(https://github.com/apache/spark/blob/v4.0.0/core/src/main/scala/org/apache/spark/deploy/rest/StandaloneRestServer.scala).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import requests

from airflow_durable import DurableJobError, JobLostError
from airflow_durable_spark.statuses import check_driver_id


class SparkMasterUnavailableError(RuntimeError, ConnectionError):
    """No master answered, or the master is in recovery: retry later, never resubmit.

    A ``RuntimeError`` and a ``ConnectionError``, the types upstream's operator raises in these cases (a
    master's ``"success": false`` reply, no master reachable), so code catching either keeps working.
    """


class SparkStatusAnswerError(DurableJobError, RuntimeError):
    """A status answer is neither a driver state nor the master's "unknown driver" reply.

    Not transient and never "lost": the answer says nothing about the driver, which may still run, so the
    task fails without resubmitting; a retry asks again and reconnects once a master answers properly.
    Usually something other than the master answers on its REST port (a proxy, a load balancer).
    """


def status_answer(body: Any, driver_id: str) -> str | None:
    """Read one ``SubmissionStatusResponse`` for ``driver_id``.

    Args:
        body: The decoded JSON body of a 2xx answer to ``GET /v1/submissions/status/{driver_id}``.
        driver_id: The driver asked about.

    Returns:
        The raw ``driverState``, or ``None`` for the master's "unknown driver" reply (``"success": false``
        with neither ``driverState`` nor ``message``).

    Raises:
        SparkMasterUnavailableError: The master is not ``ALIVE`` (``"success": false`` with a ``message``).
        SparkStatusAnswerError: Anything else: an ``action`` other than ``SubmissionStatusResponse``, a
            ``submissionId`` other than ``driver_id``, ``success`` missing or not a bool, ``success``
            without a ``driverState``. ``action`` and ``submissionId`` may be absent from a driver state
            or a failure message (upstream reads those bodies), never from the "unknown driver" reply:
            that one leads to a resubmission, so it must name the driver.
    """
    if not isinstance(body, dict) or body.get("action", "SubmissionStatusResponse") != "SubmissionStatusResponse":
        raise SparkStatusAnswerError(f"not a SubmissionStatusResponse: {_excerpt(body)}")
    if body.get("submissionId", driver_id) != driver_id:
        raise SparkStatusAnswerError(f"a status answer about {body.get('submissionId')!r}: {_excerpt(body)}")
    success, state, message = body.get("success"), body.get("driverState"), body.get("message")
    if success is True and isinstance(state, str) and state:
        return state
    if success is False and state is None:
        if message:
            raise SparkMasterUnavailableError(str(message).strip()[:300])
        if body.get("action") == "SubmissionStatusResponse" and body.get("submissionId") == driver_id:
            return None
    raise SparkStatusAnswerError(
        f"Spark REST API returned failure for {driver_id}: {message or 'unknown error'} "
        f"(neither a driver state nor the unknown-driver reply: {_excerpt(body)})"
    )


def _excerpt(body: Any) -> str:
    return repr(body)[:300]


def rest_base_urls(master: str, rest_scheme: str, rest_port: int) -> list[str]:
    """Derive the REST base URL of each master from a ``spark://`` master URL.

    Args:
        master: ``spark://host:port`` or an HA list ``spark://h1:7077,h2:7077``.
        rest_scheme: ``http`` or ``https``.
        rest_port: The REST server port of every master.

    Returns:
        One ``scheme://host:rest_port`` per master, in the order given.

    Raises:
        ValueError: If ``master`` is not a ``spark://`` URL.
    """
    if not master.startswith("spark://"):
        raise ValueError(f"Not a Spark standalone master URL: {master!r}")
    urls = []
    for entry in master.removeprefix("spark://").split(","):
        host = entry.strip().rsplit(":", 1)[0] if ":" in entry else entry.strip()
        if not host:
            raise ValueError(f"Empty host in Spark master URL {master!r}")
        urls.append(f"{rest_scheme}://{host}:{rest_port}")
    return urls


class SparkStandaloneRestClient:
    """Driver status and kill through the standalone master's REST API, with each HA master in turn.

    Args:
        base_urls: REST base URLs of the masters (see :func:`rest_base_urls`).
        timeout_seconds: Connect and read timeout of one request.
    """

    def __init__(self, base_urls: Sequence[str], timeout_seconds: float = 10.0) -> None:
        self.base_urls = list(base_urls)
        self.timeout_seconds = timeout_seconds

    def driver_state(self, driver_id: str) -> str:
        """Return the raw ``driverState`` of a driver.

        Args:
            driver_id: A validated driver ID.

        Returns:
            The raw state, e.g. ``"RUNNING"``.

        Raises:
            JobLostError: A master answered that it does not know the driver.
            SparkMasterUnavailableError: No master could answer (unreachable, 5xx, in recovery).
            SparkStatusAnswerError: No master gave a usable answer, and at least one gave an answer that
                is neither a driver state nor the unknown-driver reply (see :func:`status_answer`).
        """
        check_driver_id(driver_id)
        unavailable: list[str] = []
        odd: list[str] = []
        for base in self.base_urls:
            try:
                response = requests.get(f"{base}/v1/submissions/status/{driver_id}", timeout=self.timeout_seconds)
                response.raise_for_status()
            except OSError as err:  # requests' errors, and socket errors, are OSErrors
                unavailable.append(f"{base}: {err!r}")
                continue
            try:
                body = response.json()
            except ValueError:
                odd.append(f"{base}: not JSON: {response.text[:300]!r}")
                continue
            try:
                state = status_answer(body, driver_id)
            except SparkMasterUnavailableError as err:
                unavailable.append(f"{base}: {err}")
                continue
            except SparkStatusAnswerError as err:
                odd.append(f"{base}: {err}")
                continue
            if state is None:
                raise JobLostError(driver_id, f"the Spark master at {base} does not know it")
            return state
        if odd:
            raise SparkStatusAnswerError(
                f"No Spark master gave a usable status of driver {driver_id}: {odd + unavailable}. "
                "Not resubmitting, the driver may still run; check what answers on the masters' REST port."
            )
        raise SparkMasterUnavailableError(f"No Spark master could report driver {driver_id}: {unavailable}")

    def kill(self, driver_id: str) -> None:
        """Ask the masters to kill a driver (``POST /v1/submissions/kill/{id}``).

        Raises:
            SparkMasterUnavailableError: No master accepted the request.
        """
        check_driver_id(driver_id)
        errors: list[str] = []
        for base in self.base_urls:
            try:
                response = requests.post(f"{base}/v1/submissions/kill/{driver_id}", timeout=self.timeout_seconds)
                response.raise_for_status()
                body: dict[str, Any] = response.json()
            except (OSError, ValueError) as err:
                errors.append(f"{base}: {err!r}")
                continue
            if body.get("success"):
                return
            errors.append(f"{base}: {body.get('message')!r}")
        raise SparkMasterUnavailableError(f"No Spark master killed driver {driver_id}: {errors}")


def is_transient(error: Exception) -> bool:
    """Return True for errors worth retrying in place: unreachable or recovering masters, timeouts."""
    return isinstance(error, SparkMasterUnavailableError | requests.ConnectionError | requests.Timeout)
