"""Import time of one of our operator modules against the upstream module it replaces, in fresh interpreters.

DAG files import operator modules at every parse, so this is DAG-parse cost. Each module is imported in a
new interpreter (no ``-X importtime``), after ``airflow.sdk`` which both need, alternating ours and
upstream's ``runs`` times; the medians and their ratio are printed. Bytecode is cached, as in a
deployment where modules load from ``.pyc`` files: the interpreters write and read it under a temporary
``PYTHONPYCACHEPREFIX``, warmed by one untimed import of each module, whatever
``PYTHONDONTWRITEBYTECODE`` says. The per-provider scripts (``databricks_import_time.py``,
``spark_import_time.py``) only name the two modules.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile

BASELINE = "airflow.sdk"


def import_seconds(module: str, env: dict[str, str], after: str = BASELINE) -> float:
    """Seconds to import ``module`` in a fresh interpreter with ``env``, after ``after`` (``airflow.sdk``)."""
    code = f"import time, {after}\nt = time.perf_counter()\nimport {module}\nprint(time.perf_counter() - t)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    return float(out.split()[0])


def compare(ours: str, upstream: str, runs: int) -> float:
    """Print the median import time of each module and the ratio ours/upstream; return the ratio.

    Args:
        ours: Our operator module, e.g. ``airflow_durable_spark.operators``.
        upstream: The upstream module it replaces.
        runs: Fresh interpreters per module.
    """
    modules = {"ours": ours, "upstream": upstream}
    samples: dict[str, list[float]] = {name: [] for name in modules}
    added: list[float] = []
    with tempfile.TemporaryDirectory(prefix="import-time-pyc-") as pycache:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {"PYTHONPYCACHEPREFIX": pycache}
        for module in modules.values():
            import_seconds(module, env)  # writes the bytecode cache
        for _ in range(runs):
            for name, module in modules.items():
                samples[name].append(import_seconds(module, env))
            added.append(import_seconds(ours, env, after=f"{BASELINE}, {upstream}"))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    for name, module in modules.items():
        print(f"{name:9} {module:55} median {medians[name] * 1000:8.1f} ms  (n={runs})")
    print(f"{'added':9} {'ours, with upstream already imported':55} median {statistics.median(added) * 1000:8.1f} ms")
    has_openlineage = subprocess.run(
        [sys.executable, "-c", "import importlib.util as u; print(bool(u.find_spec('airflow.providers.openlineage')))"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.strip()
    print(f"OpenLineage provider installed: {has_openlineage} (it makes upstream's OpenLineage imports heavier)")
    ratio = medians["ours"] / medians["upstream"]
    print(f"ratio ours/upstream: {ratio:.2f}x")
    return ratio


def main(ours: str, upstream: str) -> None:
    """Command-line entry of a per-provider script: ``[N]`` fresh interpreters per module (default 5)."""
    compare(ours, upstream, int(sys.argv[1]) if len(sys.argv) > 1 else 5)
