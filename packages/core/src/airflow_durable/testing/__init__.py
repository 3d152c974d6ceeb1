"""``airflow_durable.testing``: the contract suite every durable operator must pass, and the emulator kit.

Install with ``pip install "airflow-durable[testing]"``; pytest loads it as a plugin (``pytest11``).

* The contract: :class:`DurableOperatorContract`, its doubles, and :class:`ExternalSystem`.
* The emulator kit, for a provider's wire-level emulator: :class:`Emulator` (HTTP server, routes, job life
  cycle, faults, control plane; a gRPC front with :class:`GrpcMethod`), :class:`Alias` (a vendor's name
  for a kit attribute), :class:`JobBook`,
  :class:`Faults`, :class:`RouteTable`, :func:`control`,
  :class:`ControlClient`, ``python -m airflow_durable.testing.serve``, and :class:`EmulatorSystem`, which
  plugs any such emulator into the contract.

Names are imported on first use, so that emulators do not pull in pytest and the contract suite.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_durable._lazy import lazy_exports

if TYPE_CHECKING:
    from airflow_durable.testing.contract import CrashController as CrashController
    from airflow_durable.testing.contract import DurableOperatorContract as DurableOperatorContract
    from airflow_durable.testing.contract import OperatorFactory as OperatorFactory
    from airflow_durable.testing.control import ControlClient as ControlClient
    from airflow_durable.testing.control import ControlError as ControlError
    from airflow_durable.testing.control import control as control
    from airflow_durable.testing.doubles import CrashPoint as CrashPoint
    from airflow_durable.testing.doubles import FakeTaskInstance as FakeTaskInstance
    from airflow_durable.testing.doubles import InMemoryTaskStateStore as InMemoryTaskStateStore
    from airflow_durable.testing.doubles import RunawayPolling as RunawayPolling
    from airflow_durable.testing.doubles import SimulatedCrash as SimulatedCrash
    from airflow_durable.testing.doubles import TaskInstanceRun as TaskInstanceRun
    from airflow_durable.testing.doubles import TryOutcome as TryOutcome
    from airflow_durable.testing.doubles import first_trigger_event as first_trigger_event
    from airflow_durable.testing.emulator import Alias as Alias
    from airflow_durable.testing.emulator import Emulator as Emulator
    from airflow_durable.testing.emulator import RecordedRequest as RecordedRequest
    from airflow_durable.testing.faults import Fault as Fault
    from airflow_durable.testing.faults import Faults as Faults
    from airflow_durable.testing.grpc_front import GrpcCall as GrpcCall
    from airflow_durable.testing.grpc_front import GrpcFront as GrpcFront
    from airflow_durable.testing.grpc_front import GrpcMethod as GrpcMethod
    from airflow_durable.testing.jobs import Dedupe as Dedupe
    from airflow_durable.testing.jobs import EmulatedJob as EmulatedJob
    from airflow_durable.testing.jobs import JobBook as JobBook
    from airflow_durable.testing.jobs import Script as Script
    from airflow_durable.testing.routes import ApiError as ApiError
    from airflow_durable.testing.routes import Reply as Reply
    from airflow_durable.testing.routes import Request as Request
    from airflow_durable.testing.routes import Route as Route
    from airflow_durable.testing.routes import RouteTable as RouteTable
    from airflow_durable.testing.system import EmulatorSystem as EmulatorSystem
    from airflow_durable.testing.system import ExternalSystem as ExternalSystem
    from airflow_durable.testing.system import Submission as Submission


__getattr__, __all__ = lazy_exports(
    __name__,
    {
        "contract": ["CrashController", "DurableOperatorContract", "OperatorFactory"],
        "control": ["ControlClient", "ControlError", "control"],
        "doubles": [
            "CrashPoint",
            "FakeTaskInstance",
            "InMemoryTaskStateStore",
            "RunawayPolling",
            "SimulatedCrash",
            "TaskInstanceRun",
            "TryOutcome",
            "first_trigger_event",
        ],
        "emulator": ["Alias", "Emulator", "RecordedRequest"],
        "faults": ["Fault", "Faults"],
        "grpc_front": ["GrpcCall", "GrpcFront", "GrpcMethod"],
        "jobs": ["Dedupe", "EmulatedJob", "JobBook", "Script"],
        "routes": ["ApiError", "Reply", "Request", "Route", "RouteTable"],
        "system": ["EmulatorSystem", "ExternalSystem", "Submission"],
    },
)
