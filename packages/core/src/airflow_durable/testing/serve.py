"""Serve any emulator as its own process until SIGTERM or SIGINT.

Usage::

    python -m airflow_durable.testing.serve airflow_durable_databricks.testing:DatabricksJobsEmulator
        --port 0 --port-file /tmp/port --option polls_to_finish=null

``--option NAME=JSON`` passes a constructor keyword (its value parsed as JSON, else taken as a string). The
bound port is printed on stdout and, with ``--port-file``, written to that file atomically once the server
accepts connections. Drive it with :class:`~airflow_durable.testing.control.ControlClient`. Neither this
module nor the emulators import Airflow or pytest.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from airflow_durable.testing.emulator import Emulator


def load(spec: str) -> Any:
    """Import ``"package.module:Name"``.

    Raises:
        ValueError: ``spec`` has no ``:``.
    """
    module, sep, name = spec.partition(":")
    if not sep:
        raise ValueError(f"expected 'module:Class', got {spec!r}")
    return getattr(importlib.import_module(module), name)


def _option(text: str) -> tuple[str, Any]:
    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        return name, value


def main(argv: Sequence[str] | None = None) -> int:
    """Run an emulator until SIGTERM or SIGINT; returns the exit code (0 after a signal)."""
    parser = argparse.ArgumentParser(prog="python -m airflow_durable.testing.serve", description=__doc__.split("\n")[0])
    parser.add_argument("emulator", help="the emulator class, as module:Class")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one (default)")
    parser.add_argument("--port-file", type=Path, help="write the bound port to this file once serving")
    parser.add_argument("--option", type=_option, action="append", default=[], help="constructor NAME=JSON")
    args = parser.parse_args(argv)
    try:
        emulator_class = load(args.emulator)
    except (ValueError, ImportError, AttributeError) as exc:
        parser.error(f"cannot load the emulator {args.emulator!r}: {exc}")
    if not (isinstance(emulator_class, type) and issubclass(emulator_class, Emulator)):
        parser.error(f"{args.emulator!r} is not an airflow_durable.testing.Emulator subclass")
    try:
        emulator = emulator_class(host=args.host, port=args.port, **dict(args.option))
    except (TypeError, ValueError) as exc:
        parser.error(f"cannot build {emulator_class.__name__} with --option {dict(args.option)}: {exc}")
    stopping: list[int] = []

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        # Only appends: a handler that took a lock (Event.set) could deadlock when a second signal
        # (the process group's and a forwarded one) interrupts the first handler.
        stopping.append(signum)

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    emulator.start()
    try:
        if args.port_file is not None:
            temporary = args.port_file.with_name(f"{args.port_file.name}.{os.getpid()}.tmp")
            temporary.write_text(f"{emulator.port}\n")
            os.replace(temporary, args.port_file)
        print(emulator.port, flush=True)
        print(f"{type(emulator).__name__} serving at {emulator.url}", file=sys.stderr, flush=True)
        while not stopping:
            time.sleep(0.2)
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
