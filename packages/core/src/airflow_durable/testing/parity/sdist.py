"""Fetch an upstream sdist from the package index, once, and keep its ``tests/`` tree in a local cache.

Upstream Airflow packages ship their unit tests in the sdist. The parity suite runs those files against our
classes, so it needs them at test time, for the exact pinned version, without copying them into this tree.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
import urllib.parse
import urllib.request
from pathlib import Path

SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
"""The PEP 691 JSON form of the simple repository API."""


class SdistUnavailableError(RuntimeError):
    """The sdist of the pinned version cannot be had.

    The index is unreachable, answers an error or no PEP 691 JSON listing, has no sdist of that version, or
    the download does not match the index's hash.
    """


def cache_root() -> Path:
    """``$AIRFLOW_DURABLE_PARITY_CACHE``, else ``$XDG_CACHE_HOME/airflow-durable/parity`` (``~/.cache``)."""
    explicit = os.environ.get("AIRFLOW_DURABLE_PARITY_CACHE")
    if explicit:
        return Path(explicit)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "airflow-durable" / "parity"


def index_url() -> str:
    """The simple index to read: ``UV_INDEX_URL``, ``PIP_INDEX_URL``, else PyPI."""
    return (os.environ.get("UV_INDEX_URL") or os.environ.get("PIP_INDEX_URL") or "https://pypi.org/simple").rstrip("/")


def _index_source() -> str:
    """Where :func:`index_url` came from, for error messages."""
    for variable in ("UV_INDEX_URL", "PIP_INDEX_URL"):
        if os.environ.get(variable):
            return f"from {variable}"
    return "the default, PyPI"


def normalize(distribution: str) -> str:
    """PEP 503 name normalization (``apache_airflow.Providers`` -> ``apache-airflow-providers``)."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


def upstream_tests(distribution: str, version: str, *, timeout_seconds: float = 120.0) -> Path:
    """Return the directory holding the sdist's ``tests/`` tree, downloading it on first use.

    The download is verified against the index's sha256 and extracted (only ``tests/`` and the top-level
    project files) into ``cache_root()/<name>-<version>/``. A ``.complete`` file marks a finished
    extraction, so an interrupted one is redone.

    Args:
        distribution: The distribution name, e.g. ``"apache-airflow-providers-databricks"``.
        version: The exact version, e.g. ``"7.23.0"``.
        timeout_seconds: Timeout of each HTTP request.

    Returns:
        The extracted sdist root; its ``tests`` subdirectory holds the upstream test files.

    Raises:
        SdistUnavailableError: The index is unreachable or answers an error (the message names the URL and
            the variable it came from), has no sdist of that version, or the download's hash differs.
    """
    target = cache_root() / f"{normalize(distribution)}-{version}"
    if (target / ".complete").exists():
        return target
    url, sha256 = _sdist_url(distribution, version, timeout_seconds)
    try:
        with urllib.request.urlopen(url, timeout=timeout_seconds) as response:
            payload = response.read()
    except OSError as exc:  # urllib's URLError and HTTPError, timeouts, refused connections
        raise SdistUnavailableError(f"cannot download {url}: {exc}") from exc
    digest = hashlib.sha256(payload).hexdigest()
    if sha256 and digest != sha256:
        raise SdistUnavailableError(f"{url}: sha256 {digest} does not match the index's {sha256}")
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(payload), mode="r:gz") as archive:
        members = []
        for member in archive.getmembers():
            parts = member.name.split("/", 1)
            if len(parts) == 2 and (parts[1].startswith("tests/") or "/" not in parts[1]):
                member.name = parts[1]
                members.append(member)
        archive.extractall(target, members=members, filter="data")
    (target / ".complete").write_text(json.dumps({"url": url, "sha256": digest}) + "\n")
    return target


def _sdist_url(distribution: str, version: str, timeout_seconds: float) -> tuple[str, str | None]:
    project = normalize(distribution)
    request = urllib.request.Request(f"{index_url()}/{project}/", headers={"Accept": SIMPLE_JSON})
    try:
        with urllib.request.urlopen(request, timeout=timeout_seconds) as response:
            listing = json.load(response)
    except (OSError, ValueError) as exc:
        # urllib's URLError and HTTPError are OSErrors, as are timeouts; a listing that is not JSON (an index
        # without PEP 691) is a ValueError.
        raise SdistUnavailableError(
            f"cannot read the index listing {request.full_url} ({_index_source()}, {SIMPLE_JSON}): {exc}"
        ) from exc
    stem = re.sub(r"[-_.]+", "_", project)
    wanted = {f"{stem}-{version}.tar.gz", f"{project}-{version}.tar.gz"}
    for file in listing.get("files", []):
        if file.get("filename") in wanted:
            url = urllib.parse.urljoin(request.full_url, file["url"])
            return url, (file.get("hashes") or {}).get("sha256")
    raise SdistUnavailableError(f"{index_url()} ({_index_source()}) has no sdist of {distribution}=={version}")
