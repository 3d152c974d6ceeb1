"""The parity machinery: sdist fetching and caching, class swaps, the report and what makes it fail.

The "upstream" here is a tiny fake distribution served from a local index, so these tests need no network;
the real upstream suites are in each provider's ``test_*_parity.py``.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from airflow_durable.testing.parity import (
    Difference,
    SdistUnavailableError,
    UpstreamSuite,
    check_suite,
    run_suite,
    upstream_tests,
)

UPSTREAM_MODULE = """
class Adder:
    def add(self, a, b):
        return a + b

    def sub(self, a, b):
        return a - b
"""

OUR_MODULE = """
class OurAdder:
    def add(self, a, b):
        return a + b

    def sub(self, a, b):
        return b - a  # the deliberate difference of this fake
"""

UPSTREAM_TESTS = """
import pytest
from fake_upstream import Adder


def test_add():
    assert Adder().add(1, 2) == 3


def test_sub():
    assert Adder().sub(3, 1) == 2


def test_the_swap_reaches_the_upstream_test():
    assert type(Adder()).__name__ == "OurAdder"


@pytest.mark.parametrize("n", [1, 2])
def test_param(n):
    assert Adder().add(n, 0) == n


def test_needs_database():
    raise RuntimeError("needs plumbing the runner does not provide")
"""


def sdist_bytes(files: dict[str, str], root: str = "fake_dist-1.0") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{root}/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class FakeIndex:
    """A PEP 691 simple index serving one sdist, counting requests."""

    def __init__(self, payload: bytes, sha256: str | None = None) -> None:
        self.payload = payload
        self.sha256 = sha256 or hashlib.sha256(payload).hexdigest()
        self.requests: list[str] = []
        index = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                index.requests.append(self.path)
                if self.path == "/simple/fake-dist/":
                    body = json.dumps(
                        {
                            "files": [
                                {
                                    "filename": "fake_dist-1.0.tar.gz",
                                    "url": "/files/fake_dist-1.0.tar.gz",
                                    "hashes": {"sha256": index.sha256},
                                }
                            ]
                        }
                    ).encode()
                elif self.path == "/files/fake_dist-1.0.tar.gz":
                    body = index.payload
                elif self.path == "/html/fake-dist/":  # an index without the PEP 691 JSON form
                    body = b'<html><body><a href="/files/fake_dist-1.0.tar.gz">fake_dist-1.0.tar.gz</a></body></html>'
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/simple"


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AIRFLOW_DURABLE_PARITY_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def index(cache: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeIndex]:
    served = FakeIndex(
        sdist_bytes({"tests/unit/test_ops.py": UPSTREAM_TESTS, "pyproject.toml": "", "src/fake/x.py": "x = 1"})
    )
    monkeypatch.setenv("UV_INDEX_URL", served.url)
    yield served
    served.server.shutdown()


@pytest.fixture
def code_dir(tmp_path: Path) -> Path:
    code = tmp_path / "code"
    code.mkdir()
    (code / "fake_upstream.py").write_text(UPSTREAM_MODULE)
    (code / "ours.py").write_text(OUR_MODULE)
    return code


def suite(code_dir: Path, *differences: Difference, **kwargs: object) -> UpstreamSuite:
    return UpstreamSuite(
        name="fake",
        distribution="fake-dist",
        version="1.0",
        select=("tests/unit/test_ops.py",),
        swaps={"fake_upstream:Adder": "ours:OurAdder"},
        differences=differences,
        not_run={"test_ops.py::test_needs_database": "needs a database"},
        pythonpath=(code_dir,),
        **kwargs,  # type: ignore[arg-type]
    )


SUB = Difference("sub-order", "subtracts the other way round", ("test_ops.py::test_sub",))


def test_sdist_is_fetched_once_and_only_tests_and_top_level_files_are_kept(index: FakeIndex, cache: Path) -> None:
    root = upstream_tests("Fake_Dist", "1.0")
    assert root == cache / "fake-dist-1.0"
    assert (root / "tests/unit/test_ops.py").read_text() == UPSTREAM_TESTS
    assert (root / "pyproject.toml").exists()
    assert not (root / "src").exists()
    assert upstream_tests("fake-dist", "1.0") == root
    assert index.requests == ["/simple/fake-dist/", "/files/fake_dist-1.0.tar.gz"], "the second call used the cache"


def test_sdist_with_a_wrong_hash_is_rejected_and_not_cached(index: FakeIndex, cache: Path) -> None:
    index.sha256 = "0" * 64
    with pytest.raises(SdistUnavailableError, match="does not match"):
        upstream_tests("fake-dist", "1.0")
    assert not (cache / "fake-dist-1.0" / ".complete").exists()


def test_unknown_version_is_a_clear_error(index: FakeIndex) -> None:
    with pytest.raises(SdistUnavailableError, match=r"no sdist of fake-dist==2\.0"):
        upstream_tests("fake-dist", "2.0")


def test_an_unreachable_index_is_a_clear_error_naming_its_variable(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UV_INDEX_URL", "http://127.0.0.1:9/simple")  # the discard port: nothing listens
    with pytest.raises(SdistUnavailableError, match=r"http://127\.0\.0\.1:9/simple/fake-dist/ \(from UV_INDEX_URL"):
        upstream_tests("fake-dist", "1.0", timeout_seconds=5)
    assert not cache.exists()


def test_an_index_answering_an_error_or_no_json_is_a_clear_error(
    index: FakeIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("UV_INDEX_URL")
    monkeypatch.setenv("PIP_INDEX_URL", index.url + "/wrong")
    with pytest.raises(SdistUnavailableError, match=r"/simple/wrong/fake-dist/ \(from PIP_INDEX_URL.*404"):
        upstream_tests("fake-dist", "1.0")
    monkeypatch.setenv("PIP_INDEX_URL", index.url.removesuffix("/simple") + "/html")
    with pytest.raises(SdistUnavailableError, match="cannot read the index listing"):
        upstream_tests("fake-dist", "1.0")


def test_swapped_run_reports_each_test_and_maps_the_failure_to_its_difference(index: FakeIndex, code_dir: Path) -> None:
    report = run_suite(suite(code_dir, SUB))
    outcomes = {row.test: (row.outcome, row.difference) for row in report.rows}
    assert outcomes == {
        "test_ops.py::test_add": ("passed", None),
        "test_ops.py::test_sub": ("failed", "sub-order"),
        "test_ops.py::test_the_swap_reaches_the_upstream_test": ("passed", None),
        "test_ops.py::test_param[1]": ("passed", None),
        "test_ops.py::test_param[2]": ("passed", None),
        "test_ops.py::test_needs_database": ("not run", None),
    }
    assert report.problems() == []
    table = report.markdown()
    assert "| `test_ops.py::test_sub` | failed | sub-order |" in table
    assert "| `test_ops.py::test_needs_database` | not run | needs a database |" in table


def test_unexplained_failure_stale_difference_and_unused_difference_are_problems(
    index: FakeIndex, code_dir: Path
) -> None:
    stale = Difference("stale", "says add differs", ("test_ops.py::test_add",))
    unused = Difference("unused", "names nothing", ("test_ops.py::test_gone",))
    problems = run_suite(suite(code_dir, stale, unused)).problems()
    assert problems == [
        "passes, but difference 'stale' says it fails: test_ops.py::test_add",
        problems[1],
        "difference 'unused' names no upstream test of this run",
    ]
    assert problems[1].startswith("unexplained failed: test_ops.py::test_sub: assert")
    assert "**UNEXPLAINED**" in run_suite(suite(code_dir)).markdown()


def test_a_parametrized_id_matches_as_written_and_a_failure_claimed_twice_is_a_problem(
    index: FakeIndex, code_dir: Path
) -> None:
    param = Difference("param", "names one parametrized case, brackets and all", ("test_ops.py::test_param[1]",))
    twice = Difference("sub-again", "claims test_sub too", ("test_ops.py::test_s*",))
    report = run_suite(suite(code_dir, SUB, param, twice))
    assert {row.test: row.difference for row in report.rows if row.test.startswith("test_ops.py::test_param")} == {
        "test_ops.py::test_param[1]": "param",
        "test_ops.py::test_param[2]": None,
    }
    assert report.problems() == [
        "passes, but difference 'param' says it fails: test_ops.py::test_param[1]",
        "failed, explained by more than one difference ['sub-order', 'sub-again']: test_ops.py::test_sub",
    ]


def test_without_the_swap_the_upstream_class_is_tested(index: FakeIndex, code_dir: Path) -> None:
    baseline = UpstreamSuite(**{**suite(code_dir).__dict__, "swaps": {}})
    outcomes = {row.test: row.outcome for row in run_suite(baseline).rows}
    assert outcomes["test_ops.py::test_sub"] == "passed"
    assert outcomes["test_ops.py::test_the_swap_reaches_the_upstream_test"] == "failed"


def test_a_swap_naming_a_missing_upstream_class_fails_the_run(index: FakeIndex, code_dir: Path) -> None:
    broken = UpstreamSuite(**{**suite(code_dir).__dict__, "swaps": {"fake_upstream:Adderr": "ours:OurAdder"}})
    report = run_suite(broken)
    assert report.rows == ()
    assert report.problems()[0].startswith("no upstream test ran")
    assert "Adderr" in report.output


def test_an_upstream_file_that_fails_to_import_is_an_error_row(index: FakeIndex, code_dir: Path) -> None:
    (code_dir / "fake_upstream.py").write_text("raise ImportError('upstream moved')\n")
    report = run_suite(UpstreamSuite(**{**suite(code_dir).__dict__, "swaps": {}}))
    assert [(row.outcome, row.message) for row in report.rows] == [("error", "ImportError: upstream moved")]
    assert report.problems()


def test_check_suite_saves_the_table_and_fails_with_every_problem(
    index: FakeIndex, code_dir: Path, tmp_path: Path
) -> None:
    report = check_suite(suite(code_dir, SUB), report_dir=tmp_path / "reports")
    assert (tmp_path / "reports" / "fake.md").read_text() == report.markdown()
    with pytest.raises(
        AssertionError, match=r"1 parity problem\(s\) in fake:\nunexplained failed: test_ops.py::test_sub"
    ):
        check_suite(suite(code_dir), report_dir=None)


SHIM_CONFTEST = 'pytest_plugins = "tests_common.pytest_plugin"\n'

SHIM_TESTS = """
import logging

import structlog

from tests_common.test_utils.compat import DagSerialization, timezone
from tests_common.test_utils.db import clear_db_runs, clear_db_xcom

log = structlog.get_logger("fake.operator")


def test_structlog_and_stdlib_lines_reach_caplog(caplog):
    log.info("submitted run %s", "r-1")
    logging.getLogger("fake.hook").warning("stdlib too")
    assert "submitted run r-1" in caplog.messages
    assert "stdlib too" in caplog.messages
    assert ("fake.operator", logging.INFO, "submitted run r-1") in caplog.record_tuples


def test_caplog_levels_apply_to_structlog(caplog):
    with caplog.at_level(logging.WARNING):
        log.info("too quiet")
        log.warning("loud enough")
    assert caplog.messages == ["loud enough"]


def test_compat_and_db_names_import():
    assert timezone.datetime(2020, 1, 1).tzinfo is not None
    assert callable(DagSerialization.deserialize_dag)
    assert clear_db_runs() is None and clear_db_xcom() is None


def test_needs_the_database(session):
    pass
"""


@pytest.fixture
def shim_index(cache: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeIndex]:
    served = FakeIndex(sdist_bytes({"tests/conftest.py": SHIM_CONFTEST, "tests/unit/test_shims.py": SHIM_TESTS}))
    monkeypatch.setenv("UV_INDEX_URL", served.url)
    yield served
    served.server.shutdown()


def test_tests_common_stand_in_serves_caplog_compat_and_db_helpers(shim_index: FakeIndex) -> None:
    report = run_suite(
        UpstreamSuite(
            name="shims", distribution="fake-dist", version="1.0", select=("tests/unit/test_shims.py",), swaps={}
        )
    )
    outcomes = {row.test: (row.outcome, row.message) for row in report.rows}
    assert outcomes == {
        "test_shims.py::test_structlog_and_stdlib_lines_reach_caplog": ("passed", ""),
        "test_shims.py::test_caplog_levels_apply_to_structlog": ("passed", ""),
        "test_shims.py::test_compat_and_db_names_import": ("passed", ""),
        "test_shims.py::test_needs_the_database": ("error", "fixture 'session' not found"),
    }, report.output[-3000:]
