"""The versioned JSON record the protocol keeps in ``task_state_store``.

Shape (version 1), stored under the operator's ``external_id_key``::

    {
        "format": "airflow-durable",   # marks the value as ours
        "version": 1,
        "generation": 0,               # int >= 0; advances after a terminal failure or a lost job
        "token": "ad-<28 hex>-g0",     # submission token of this generation, or null for legacy records
        "phase": "intent",             # "intent" | "submitted" | "succeeded"
        "external_id": null            # the vendor's job ID (str or int) once known; null in "intent"
    }

- ``intent`` is written *before* any call that can create a job, so a retry knows a submission may exist.
- ``submitted`` is written as soon as the external ID is known (before the first poll).
- ``succeeded`` is written once polling saw success, so a retry returns the result without asking the
  vendor (whose history may have expired).

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
STATE_VERSION = 1
MAX_STATE_BYTES = 4096
"""Values larger than this (as compact JSON) are rejected as foreign or corrupt."""

_KEYS = frozenset({"format", "version", "generation", "token", "phase", "external_id"})


class Phase(enum.Enum):
    """Where the submission of one generation stands."""

    INTENT = "intent"
    SUBMITTED = "submitted"
    SUCCEEDED = "succeeded"


@dataclass(frozen=True)
class DurableState:
    """One decoded ``task_state_store`` record; see the module docstring for its JSON shape.

    Attributes:
        generation: The generation counter.
        token: The generation's submission token; ``None`` for a legacy upstream record.
        phase: Where the submission stands.
        external_id: The vendor's job ID, once known.
    """

    generation: int
    token: str | None
    phase: Phase
    external_id: str | int | None = None

    def with_external_id(self, external_id: str | int) -> DurableState:
        """Return the record for a submission whose external ID is now known."""
        return replace(self, phase=Phase.SUBMITTED, external_id=external_id)

    def succeeded(self) -> DurableState:
        """Return the record for a submission that polling saw succeed."""
        return replace(self, phase=Phase.SUCCEEDED)

    def to_json(self) -> dict[str, Any]:
        """Return the JSON value written to ``task_state_store``."""
        return {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "generation": self.generation,
            "token": self.token,
            "phase": self.phase.value,
            "external_id": self.external_id,
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
            size = len(json.dumps(value, separators=(",", ":")).encode())
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
        if value.get("version") != STATE_VERSION:
            raise CorruptStateError(
                key, f"record version {value.get('version')!r} is not supported (expected {STATE_VERSION})"
            )
        if extra := set(value) - _KEYS:
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
        external_id = value.get("external_id")
        if external_id is not None and (
            isinstance(external_id, bool) or not isinstance(external_id, str | int) or external_id == ""
        ):
            raise CorruptStateError(key, f"external_id must be a non-empty string or int, got {external_id!r}")
        if phase is Phase.INTENT and external_id is not None:
            raise CorruptStateError(key, "an 'intent' record cannot have an external_id")
        if phase is not Phase.INTENT and external_id is None:
            raise CorruptStateError(key, f"a {phase.value!r} record needs an external_id")
        if phase is Phase.INTENT and token is None:
            raise CorruptStateError(key, "an 'intent' record needs a token")
        return cls(generation=generation, token=token, phase=phase, external_id=external_id)
