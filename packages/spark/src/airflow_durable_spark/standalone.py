"""Spark standalone cluster mode: driver IDs, status and kill through the master's REST API.

There is no lookup by token: the master cannot find a driver by a client-chosen value (see
``DurableSparkSubmitOperator``'s known limitation).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from airflow_durable_spark.client import SparkStandaloneRestClient, is_transient, rest_base_urls
from airflow_durable_spark.deployment import DeploymentMode
from airflow_durable_spark.statuses import SPARK_DRIVER_STATES, check_driver_id

if TYPE_CHECKING:
    from airflow.sdk.definitions.context import Context

    from airflow_durable import StatusTable


class StandaloneClusterMode(DeploymentMode):
    """Standalone cluster deploy mode (``spark://`` master): the driver runs on a worker.

    External ID: the driver ID, e.g. ``"driver-20261129140102-0000"``. Status: ``driverState`` of
    ``GET /v1/submissions/status/{id}`` on each master's REST port (``rest-port``, default 6066).
    """

    name = "Spark standalone cluster mode"
    id_name = "driver ID"
    missing_id_message = "spark-submit did not print a driver ID"
    supports_token_lookup: ClassVar[bool] = False
    status_table: ClassVar[StatusTable] = SPARK_DRIVER_STATES
    _rest: SparkStandaloneRestClient | None = None

    @property
    def rest(self) -> SparkStandaloneRestClient:
        """The REST client for the connection's master(s)."""
        if self._rest is None:
            connection = self.hook._connection
            # Upstream's defaults: a hook built from a connection always has both keys, one built by a test may not.
            scheme, port = connection.get("rest_scheme", "http"), int(connection.get("rest_port", 6066))
            self._rest = SparkStandaloneRestClient(
                rest_base_urls(connection["master"], scheme, port), timeout_seconds=self.status_timeout_seconds
            )
        return self._rest

    def captured_id(self) -> str | None:
        """The driver ID the hook parsed (``hook._driver_id``)."""
        return self.hook._driver_id

    def submitted_id(self, returned: str | None) -> str | None:
        """The driver ID ``hook.submit`` returned (upstream's)."""
        return returned

    def validate(self, external_id: object) -> str:
        """Accept a driver ID (see ``check_driver_id``)."""
        return check_driver_id(external_id)

    def status(self, external_id: str, context: Context) -> str:
        """The driver's raw ``driverState``; ``JobLostError`` if the master does not know it."""
        return self.rest.driver_state(check_driver_id(external_id))

    def cancel(self, external_id: str, timeout_seconds: float) -> None:
        """``POST /v1/submissions/kill/{id}`` (the operator bounds the wait)."""
        self.rest.kill(check_driver_id(external_id))

    def attach(self, external_id: str) -> None:
        """Set ``hook._driver_id``."""
        self.hook._driver_id = check_driver_id(external_id)

    def result(self, external_id: str) -> dict[str, str]:
        """``{"driver_id": id, "driver_state": "FINISHED"}``."""
        return {"driver_id": check_driver_id(external_id), "driver_state": "FINISHED"}

    def is_transient(self, error: Exception) -> bool:
        """Unreachable or recovering masters and timeouts."""
        return is_transient(error)
