"""Import time of our Databricks operators vs the upstream provider's, in fresh interpreters.

DAG files import operator modules at every parse, so this is DAG-parse cost. Each module is imported in
a new ``python -X importtime``-free subprocess, alternating, N times; medians and their ratio are printed.

Run: ``uv run python benchmarks/databricks_import_time.py [N]``
"""

from __future__ import annotations

import statistics
import subprocess
import sys

MODULES = {
    "ours": "airflow_durable_databricks.operators",
    "upstream": "airflow.providers.databricks.operators.databricks",
}
BASELINE = "airflow.sdk"


def import_seconds(module: str) -> float:
    """Seconds to import ``module`` in a fresh interpreter (after ``airflow.sdk``, which both need)."""
    code = (
        f"import time, {BASELINE}\n"
        "t = time.perf_counter()\n"
        f"import {module}\n"
        "print(time.perf_counter() - t)\n"
        "import sys\n"
        "print(int('databricks.sdk' in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    return float(out[0])


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    samples: dict[str, list[float]] = {name: [] for name in MODULES}
    for _ in range(n):
        for name, module in MODULES.items():
            samples[name].append(import_seconds(module))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    for name, module in MODULES.items():
        print(f"{name:9} {module:55} median {medians[name] * 1000:8.1f} ms  (n={n})")
    print(f"ratio upstream/ours: {medians['upstream'] / medians['ours']:.1f}x")


if __name__ == "__main__":
    main()
