"""The repair record: which run a run-now task instance repaired, kept so that no crash repairs it twice.

``repair_run=True`` gives a failed run one repair (``POST /api/2.2/jobs/runs/repair`` with
``rerun_all_failed_tasks``): a new attempt of the *same* ``run_id``, which then runs again. So the durable
record of the run (``databricks_run_now_id``) still points at the right run, and a retry after a crash
during the repair finds the run active and reconnects to the repair. What that record cannot say is that
the run already had its repair; this one does, under its own ``task_state_store`` key (the run's key with
``_repair``)::

    {"format": "airflow-durable-databricks-repair", "version": 1,
     "run_id": 123, "latest_repair_id": null, "repair_id": 456}

It is written before the repair request (``repair_id`` null: the intent) and again with the ``repair_id``
Databricks returned. A try that sees the run fail again finds the record for that run and raises instead of
repairing again, whether the record holds the ``repair_id`` or only the intent (the crash came between the
request and the write). The request carries ``latest_repair_id``, the run's latest repair when the intent
was written: Databricks refuses a repair made from a stale view, so two workers cannot both repair the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airflow_durable.errors import CorruptStateError
from airflow_durable_databricks.statuses import check_run_id

REPAIR_FORMAT = "airflow-durable-databricks-repair"
REPAIR_VERSION = 1
REPAIR_KEY_SUFFIX = "_repair"
"""Appended to the operator's ``external_id_key`` to name the repair record's key."""


@dataclass(frozen=True)
class RepairRecord:
    """One repair of a run (see the module docstring).

    Attributes:
        run_id: The repaired run.
        latest_repair_id: The run's latest repair before this one (``None``: its first repair).
        repair_id: The repair's ID, once Databricks returned it (``None``: the intent).
    """

    run_id: int
    latest_repair_id: int | None
    repair_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON value written to ``task_state_store``."""
        return {
            "format": REPAIR_FORMAT,
            "version": REPAIR_VERSION,
            "run_id": self.run_id,
            "latest_repair_id": self.latest_repair_id,
            "repair_id": self.repair_id,
        }

    @classmethod
    def from_json(cls, key: str, value: Any) -> RepairRecord:
        """Decode a stored record.

        Raises:
            CorruptStateError: It is not a version-1 repair record with well-formed IDs (naming ``key``).
        """
        fields = {"format", "version", "run_id", "latest_repair_id", "repair_id"}
        if not isinstance(value, dict) or set(value) != fields or value["format"] != REPAIR_FORMAT:
            raise CorruptStateError(key, "not an airflow-durable Databricks repair record")
        if value["version"] != REPAIR_VERSION:
            raise CorruptStateError(key, f"repair record version {value['version']!r} is not supported")
        try:
            ids = [None if value[k] is None else check_run_id(value[k]) for k in ("latest_repair_id", "repair_id")]
            return cls(check_run_id(value["run_id"]), ids[0], ids[1])
        except ValueError as err:
            raise CorruptStateError(key, str(err)) from None
