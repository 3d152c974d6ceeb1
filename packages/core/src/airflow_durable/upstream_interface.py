"""``UpstreamInterfaceMixin``: upstream's ``execute`` / ``execute_complete`` names and failure errors, once.

A drop-in provider operator keeps upstream's entry points and raises upstream's exception (with its text)
when the job fails, whether the task learnt it by polling or from its trigger. This mixin wires both onto
:class:`~airflow_durable.DurableJobMixin`; an operator only says which error upstream raises
(:meth:`UpstreamInterfaceMixin.job_failed_error`). :func:`flag_or_conf` gives upstream's default of a flag
argument that falls back on Airflow's configuration (``deferrable``, ``openlineage_inject_*``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

from airflow_durable.errors import JobFailedError
from airflow_durable.mixin import DurableJobMixin

if TYPE_CHECKING:
    from airflow.sdk import Context
    from pydantic import JsonValue


def flag_or_conf(value: bool | None, section: str, key: str) -> bool:
    """Return ``value``, or when it is ``None`` upstream's default: ``conf.getboolean(section, key, fallback=False)``.

    Args:
        value: The operator's argument (``deferrable``, ``openlineage_inject_*``), ``None`` when not given.
        section: The Airflow configuration section (``"operators"``, ``"openlineage"``).
        key: The option (``"default_deferrable"``...).
    """
    if value is not None:
        return value
    from airflow.sdk.configuration import conf

    return bool(conf.getboolean(section, key, fallback=False))


class UpstreamInterfaceMixin(DurableJobMixin):
    """``execute`` and ``execute_complete`` as upstream names them; a failed job raises upstream's error."""

    def execute(self, context: Context) -> Any:
        """Run the durable protocol (see ``DurableJobMixin``); return upstream's value."""
        return self.execute_resumable(context)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Resume after the trigger fired (upstream's method name); return upstream's value.

        Raises:
            JobFailedError: The job failed: upstream's error (see :meth:`job_failed_error`).
            DurableJobError: The trigger could not finish polling; the retry reconnects.
        """
        try:
            return self.execute_resumable_complete(context, event)
        except JobFailedError as err:
            self._raise_job_failed(err, resumed=True)

    def poll_until_complete(self, external_id: JsonValue, context: Context) -> None:
        """The mixin's polling; a failed job raises upstream's error (see :meth:`job_failed_error`)."""
        try:
            super().poll_until_complete(external_id, context)
        except JobFailedError as err:
            self._raise_job_failed(err, resumed=False)

    def job_failed_error(self, err: JobFailedError, *, resumed: bool) -> JobFailedError:
        """Return upstream's error for a failed job (the default: ``err`` itself).

        Args:
            err: The mixin's error (or already the operator's own).
            resumed: Whether the task learnt it in ``execute_complete`` (deferred) rather than by polling.
        """
        return err

    def _raise_job_failed(self, err: JobFailedError, *, resumed: bool) -> NoReturn:
        failed = self.job_failed_error(err, resumed=resumed)
        if failed is err:
            raise err
        raise failed from err
