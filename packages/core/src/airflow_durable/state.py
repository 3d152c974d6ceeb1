"""The versioned JSON record the protocol keeps in ``task_state_store``.

Shape (version 2), stored under the operator's ``external_id_key``::

    {
        "format": "airflow-durable",   # marks the value as ours
        "version": 2,
        "generation": 0,               # int >= 0; advances after a terminal failure or a lost job
        "token": "ad-<28 hex>-g0",     # submission token of this generation, or null for legacy records
        "phase": "intent",             # "intent" | "unidentified" | "submitted" | "succeeded"
        "external_id": null,           # the vendor's job ID (str or int) once known; null before
        "result": null                 # {"value": <JSON>, "xcoms": {<key>: <JSON>}} once the result is kept
    }

- ``intent`` is written *before* any call that can create a job, so a retry knows a submission may exist.
- ``unidentified`` is written when ``submit_job`` returned no external ID: a job may exist, so a retry
  never submits again blindly (it adopts the job by token where it can, else it fails naming the key).
- ``submitted`` is written as soon as the external ID is known (before the first poll).
- ``succeeded`` is written once polling saw success, so a retry returns the result without asking the
  vendor (whose history may have expired).
- ``result`` holds what the try returned and the XComs it pushed while attaching to the job and fetching
  its result, so a retry or a clear that finds it replays them with **zero** calls to the external system.
  It is kept in a ``succeeded`` record, and in a ``submitted`` record of a fire-and-forget try. It is kept
  only when it survives a JSON round trip unchanged and the whole record stays within
  :data:`MAX_STATE_BYTES` (the value and XComs within :data:`MAX_RESULT_BYTES`); otherwise it is left out
  (a warning is logged) and a later try calls ``get_job_result`` again, which may need the vendor.

Version 1 records (no ``result`` field, no ``unidentified`` phase) still read; they carry no result.

A bare string or integer (what upstream ``ResumableJobMixin`` stores) reads as ``submitted`` with
generation 0 and no token. Anything else (another shape, a bool, a float, an oversized value) raises
:class:`~airflow_durable.errors.CorruptStateError`. No secret or credential is ever part of the record.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, replace
from typing import Any

from airflow_durable.errors import CorruptStateError
from airflow_durable.tokens import MAX_GENERATION, TOKEN_PATTERN

STATE_FORMAT = "airflow-durable"
STATE_VERSION = 2
READABLE_VERSIONS = (1, 2)
"""Record versions this release reads; it writes :data:`STATE_VERSION`."""
MAX_STATE_BYTES = 4096
"""Values larger than this (as compact JSON) are rejected as foreign or corrupt."""
MAX_RESULT_BYTES = 2048
"""The most a kept ``result`` (value and XComs, as compact JSON) may take; larger results are not kept."""

_KEYS_V1 = frozenset({"format", "version", "generation", "token", "phase", "external_id"})
_KEYS = {1: _KEYS_V1, 2: _KEYS_V1 | {"result"}}


class Phase(enum.Enum):
    """Where the submission of one generation stands."""

    INTENT = "intent"
    UNIDENTIFIED = "unidentified"
    SUBMITTED = "submitted"
    SUCCEEDED = "succeeded"


def json_size(value: Any) -> int:
    """Return the size in bytes of ``value`` as compact JSON.

    Raises:
        TypeError: If the value is not JSON-serialisable.
        ValueError: If it holds a circular reference, a non-finite float or an int too long to print.
        RecursionError: If it is nested too deeply.
    """
    return len(json.dumps(value, separators=(",", ":"), allow_nan=False).encode())


@dataclass(frozen=True)
class StoredResult:
    """The result a try returned and the XComs it pushed, kept so that later tries replay them.

    Attributes:
        value: The return value of ``execute`` (JSON).
        xcoms: XCom key -> value pushed while attaching to the job and fetching its result.
    """

    value: Any
    xcoms: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """Return the ``result`` field of the record."""
        return {"value": self.value, "xcoms": dict(self.xcoms)}

    @classmethod
    def from_json(cls, key: str, value: Any) -> StoredResult:
        """Decode the ``result`` field of a record.

        Raises:
            CorruptStateError: If it is not ``{"value": ..., "xcoms": {str: ...}}``.
        """
        if not isinstance(value, dict) or set(value) != {"value", "xcoms"}:
            raise CorruptStateError(key, "result must be an object with exactly 'value' and 'xcoms'")
        xcoms = value["xcoms"]
        if not isinstance(xcoms, dict) or not all(isinstance(k, str) and k for k in xcoms):
            raise CorruptStateError(key, "result.xcoms must map non-empty XCom keys to values")
        return cls(value=value["value"], xcoms=dict(xcoms))


@dataclass(frozen=True)
class DurableState:
    """One decoded ``task_state_store`` record; see the module docstring for its JSON shape.

    Attributes:
        generation: The generation counter.
        token: The generation's submission token; ``None`` for a legacy upstream record.
        phase: Where the submission stands.
        external_id: The vendor's job ID, once known.
        result: The kept result, if any (see the module docstring).
    """

    generation: int
    token: str | None
    phase: Phase
    external_id: str | int | None = None
    result: StoredResult | None = None

    def with_external_id(self, external_id: str | int) -> DurableState:
        """Return the record for a submission whose external ID is now known."""
        return replace(self, phase=Phase.SUBMITTED, external_id=external_id)

    def succeeded(self) -> DurableState:
        """Return the record for a submission that polling saw succeed (a fire-and-forget result is dropped)."""
        return replace(self, phase=Phase.SUCCEEDED, result=None)

    def unidentified(self) -> DurableState:
        """Return the record for a submission whose ``submit_job`` returned no external ID."""
        return replace(self, phase=Phase.UNIDENTIFIED, external_id=None, result=None)

    def with_result(self, result: StoredResult) -> DurableState:
        """Return the record with the result kept."""
        return replace(self, result=result)

    def to_json(self) -> dict[str, Any]:
        """Return the JSON value written to ``task_state_store``."""
        return {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "generation": self.generation,
            "token": self.token,
            "phase": self.phase.value,
            "external_id": self.external_id,
            "result": None if self.result is None else self.result.to_json(),
        }

    @classmethod
    def from_json(cls, key: str, value: Any) -> DurableState:
        """Decode and validate a stored value.

        Args:
            key: The ``task_state_store`` key it was read from (named in errors).
            value: The stored JSON value; must not be ``None``.

        Returns:
            The decoded record. A bare ``str``/``int`` (an upstream record) is a ``submitted`` record of
            generation 0 with no token.

        Raises:
            CorruptStateError: If the value is oversized, foreign, of an unknown version or inconsistent.
        """
        try:
            size = json_size(value)
        except (TypeError, ValueError) as err:
            raise CorruptStateError(key, f"not JSON-serialisable ({err})") from err
        if size > MAX_STATE_BYTES:
            raise CorruptStateError(key, f"{size} bytes, more than the {MAX_STATE_BYTES} a record can have")
        if isinstance(value, bool):
            raise CorruptStateError(key, f"a boolean ({value!r}) is not a job ID")
        if isinstance(value, str | int):
            if value == "":
                raise CorruptStateError(key, "an empty string is not a job ID")
            return cls(generation=0, token=None, phase=Phase.SUBMITTED, external_id=value)
        if not isinstance(value, dict):
            raise CorruptStateError(key, f"expected an object or a bare job ID, got {type(value).__name__}")
        if value.get("format") != STATE_FORMAT:
            raise CorruptStateError(key, f"not an airflow-durable record (format={value.get('format')!r})")
        version = value.get("version")
        if type(version) is not int or version not in READABLE_VERSIONS:
            raise CorruptStateError(
                key, f"record version {version!r} is not supported (expected one of {READABLE_VERSIONS})"
            )
        if extra := set(value) - _KEYS[version]:
            raise CorruptStateError(key, f"unexpected fields {sorted(extra)}")
        generation = value.get("generation")
        if isinstance(generation, bool) or not isinstance(generation, int):
            raise CorruptStateError(key, f"generation must be an int, got {generation!r}")
        if not 0 <= generation <= MAX_GENERATION:
            raise CorruptStateError(key, f"generation {generation} is out of range")
        token = value.get("token")
        if token is not None and (not isinstance(token, str) or not TOKEN_PATTERN.match(token)):
            raise CorruptStateError(key, f"token {token!r} is not a token airflow-durable derives")
        try:
            phase = Phase(value.get("phase"))
        except ValueError:
            raise CorruptStateError(key, f"unknown phase {value.get('phase')!r}") from None
        if phase is Phase.UNIDENTIFIED and version < 2:
            raise CorruptStateError(key, "phase 'unidentified' needs record version 2")
        external_id = value.get("external_id")
        if external_id is not None and (
            isinstance(external_id, bool) or not isinstance(external_id, str | int) or external_id == ""
        ):
            raise CorruptStateError(key, f"external_id must be a non-empty string or int, got {external_id!r}")
        without_id = phase in (Phase.INTENT, Phase.UNIDENTIFIED)
        if without_id and external_id is not None:
            raise CorruptStateError(key, f"an {phase.value!r} record cannot have an external_id")
        if not without_id and external_id is None:
            raise CorruptStateError(key, f"a {phase.value!r} record needs an external_id")
        if without_id and token is None:
            raise CorruptStateError(key, f"an {phase.value!r} record needs a token")
        raw_result = value.get("result")
        result = None if raw_result is None else StoredResult.from_json(key, raw_result)
        if result is not None and without_id:
            raise CorruptStateError(key, f"an {phase.value!r} record cannot have a result")
        return cls(generation=generation, token=token, phase=phase, external_id=external_id, result=result)
