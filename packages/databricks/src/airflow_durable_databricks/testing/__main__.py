"""Serve the Databricks Jobs API emulator as its own process until SIGTERM or SIGINT.

Usage::

    python -m airflow_durable_databricks.testing --port 0 --port-file /tmp/port [--hold]

The bound port is printed on stdout (one line) and, with ``--port-file``, written to that file (atomically,
once the server accepts connections). Control it over HTTP with
:class:`airflow_durable_databricks.testing.EmulatorControl`.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from airflow_durable_databricks.testing.emulator import DatabricksJobsEmulator


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_durable_databricks.testing",
        description="Serve a Databricks Jobs API 2.2 emulator (for tests) until SIGTERM.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one (default)")
    parser.add_argument("--port-file", type=Path, help="write the bound port to this file once serving")
    parser.add_argument("--hold", action="store_true", help="start in hold mode (runs stay RUNNING)")
    parser.add_argument("--hold-state", default="RUNNING", help="hold mode: birth state of new runs")
    parser.add_argument("--polls-to-finish", type=int, default=3, help="advance mode: polls until terminal")
    parser.add_argument("--outcome", default="SUCCESS", help="advance mode: result state runs end in")
    parser.add_argument("--workspace-id", type=int, default=0, help="the o= of run_page_url")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the emulator until SIGTERM or SIGINT.

    Args:
        argv: Command-line arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit code (0 after a signal).
    """
    args = _parser().parse_args(argv)
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    emulator = DatabricksJobsEmulator(
        polls_to_finish=None if args.hold else args.polls_to_finish,
        outcome=args.outcome,
        hold_state=args.hold_state,
        host=args.host,
        port=args.port,
        workspace_id=args.workspace_id,
    )
    emulator.start()
    try:
        if args.port_file is not None:
            temporary = args.port_file.with_name(args.port_file.name + f".{os.getpid()}.tmp")
            temporary.write_text(f"{emulator.port}\n")
            os.replace(temporary, args.port_file)
        print(emulator.port, flush=True)
        print(f"Databricks Jobs API emulator serving at {emulator.url}", file=sys.stderr, flush=True)
        while not stop.wait(0.2):
            pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
