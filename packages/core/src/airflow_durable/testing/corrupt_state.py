"""The corrupt-state corpus: values a ``task_state_store`` key may hold that an operator must not trust.

Every operator's contract run (:meth:`DurableOperatorContract.test_corrupt_stored_state_gives_clear_error
<airflow_durable.testing.contract.DurableOperatorContract.test_corrupt_stored_state_gives_clear_error>`)
stores each input under its state key, runs one try, and expects either a clear error **naming the key** or,
for an input the corpus marks valid for that operator, an accepted record (a reconnect to the job it names);
never a submission. The inputs fall in :data:`CATEGORIES`:

- ``json-types``: JSON of every type (null, booleans, integers, floats, strings, lists, objects);
- ``foreign-records``: values other tools or other providers keep (our record with another vendor's ID);
- ``future-versions``: our record from a later release (version 3, an unknown phase, extra fields);
- ``oversized``: values beyond :data:`~airflow_durable.state.MAX_STATE_BYTES`, and IDs too long for any vendor;
- ``unsafe-ids``: IDs built to escape a URL or an API path, bare and inside our record;
- ``upstream-records``: what upstream ``ResumableJobMixin`` stores (a bare ID, with upstream's Spark on
  Kubernetes ``k8s_driver_status`` beside it), valid for the operator whose job it names.

Which inputs are valid depends on the operator's ID format, its :class:`IdKind` (named by the contract's
``external_id_kind``). An input carrying a sample ID of another kind is valid for every kind whose format
accepts that sample; the contract then builds it with the ID of a job that exists, so that "valid" means a
legitimate reconnect. No input of ``json-types``, ``oversized`` or ``unsafe-ids`` is valid for any kind.

This module imports neither Airflow nor pytest.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_durable.state import MAX_STATE_BYTES, STATE_FORMAT, STATE_VERSION

CATEGORIES = ("json-types", "foreign-records", "future-versions", "oversized", "unsafe-ids", "upstream-records")
"""The corpus's categories, in report order; each is one parameter of the contract's corpus scenario."""

K8S_DRIVER_STATUS_KEY = "k8s_driver_status"
"""The key upstream's ``SparkSubmitOperator`` keeps beside its state key in Kubernetes mode (the pod's phase)."""

SAMPLE_TOKEN = "ad-0123456789abcdef0123456789ab-g0"
"""A well-formed submission token, as another task instance's record would carry it."""


@dataclass(frozen=True)
class IdKind:
    """An external ID format: which stored IDs an operator of this kind takes for one of its jobs.

    Attributes:
        name: The kind's name, as a contract subclass's ``external_id_kind`` gives it.
        pattern: The whole ID as a string (a full match).
        sample: A realistic ID of this kind, built into the other kinds' foreign records.
        integer: The ID is an integer: a string ID must be digits within ``max_int``.
        takes_ints: A JSON number is an ID (within ``max_int``).
        max_int: The largest numeric ID.
    """

    name: str
    pattern: re.Pattern[str]
    sample: str | int
    integer: bool = False
    takes_ints: bool = False
    max_int: int = 2**63 - 1

    def accepts(self, value: object) -> bool:
        """Return True if ``value`` is an ID of this kind."""
        if isinstance(value, bool):
            return False
        if isinstance(value, int):
            return self.takes_ints and 0 < value <= self.max_int
        if not isinstance(value, str) or not self.pattern.fullmatch(value):
            return False
        return not self.integer or 0 < int(value) <= self.max_int


_SAFE_NAME = r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,255}"
_DNS_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
_DNS_SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"

ID_KINDS: dict[str, IdKind] = {
    kind.name: kind
    for kind in (
        # The mixin's default ``validate_external_id``: a safe name (no "..") or a positive int64.
        IdKind("generic", re.compile(rf"(?!.*\.\.){_SAFE_NAME}"), "job-0042", takes_ints=True),
        # Spark standalone REST API (/v1/submissions/status/{driverId}).
        IdKind("spark-standalone", re.compile(r"driver-[0-9A-Za-z-]{1,120}"), "driver-20261129000000-0000"),
        # YARN ResourceManager REST API (/ws/v1/cluster/apps/{appid}).
        IdKind("spark-yarn", re.compile(r"application_[0-9]{1,20}_[0-9]{1,10}"), "application_1764374400000_0001"),
        # Upstream's "<namespace>:<pod name>" of a Spark driver pod (DNS-1123 label and subdomain).
        IdKind(
            "spark-kubernetes",
            re.compile(rf"(?={_DNS_LABEL}:.{{1,253}}$){_DNS_LABEL}:{_DNS_SUBDOMAIN}"),
            "spark-jobs:nightly-etl-3f2a1b-driver",
        ),
        # Databricks Jobs API run_id: a positive int64.
        IdKind("databricks", re.compile(r"[1-9][0-9]{0,18}"), 615830224918437, integer=True, takes_ints=True),
        # EMR Serverless "<application id>:<job run id>".
        IdKind(
            "emr-serverless",
            re.compile(r"[A-Za-z0-9_-]{1,64}:[A-Za-z0-9_-]{1,64}"),
            "00fkl7r8u1hgdr09:00fkl8bk0f2qmk0a",
        ),
        # EMR on EKS "<virtual cluster id>:<job run id>".
        IdKind(
            "emr-containers",
            re.compile(r"[0-9a-z]{1,64}:[0-9a-z]{1,64}"),
            "kx2ri7wpy3c8g7m9bodk0d3lu:0000000351ql49d9tup",
        ),
        # EMR steps "<cluster id>:<step id>,...".
        IdKind(
            "emr-steps",
            re.compile(r"j-[0-9A-Z]{1,64}:s-[0-9A-Z]{1,64}(,s-[0-9A-Z]{1,64})*"),
            "j-2AXXXXXXGAPLF:s-3Y9D6G8SHOO4N",
        ),
        # Dataproc job reference.job_id and batch ID.
        IdKind("dataproc-job", re.compile(r"[A-Za-z0-9_-]{1,100}"), "pyspark-etl-5f0c2a9e71d34b8c"),
        IdKind("dataproc-batch", re.compile(r"[a-z0-9-]{4,63}"), "batch-5f0c2a9e71d34b8c"),
    )
}
"""Every ID format the corpus knows, by name."""


@dataclass(frozen=True)
class CorruptStateInput:
    """One value of the corpus.

    Attributes:
        name: Unique within the corpus, ``<category>/<what>``.
        category: One of :data:`CATEGORIES`.
        build: Job ID -> the value stored under the operator's key (a constant for inputs without an ID).
        sample_id: The ID ``build`` gets when the input is not valid for the operator; ``None`` for inputs
            that carry no ID, which are valid for no kind.
        beside: Other ``task_state_store`` keys stored beside the operator's key (key -> value).
        always_valid: Valid for every operator (built with its live job's ID): upstream's bare record.
    """

    name: str
    category: str
    build: Callable[[Any], Any]
    sample_id: Any = None
    beside: Mapping[str, Any] = field(default_factory=dict)
    always_valid: bool = False

    def valid_for(self, kind: str | None) -> bool:
        """Return True if the input is a legitimate record for an operator of ``kind`` (``None``: generic)."""
        if self.always_valid:
            return True
        if self.sample_id is None:
            return False
        return ID_KINDS[kind or "generic"].accepts(self.sample_id)

    def stored(self, kind: str | None, live_id: Any) -> Any:
        """Return the value to store for an operator of ``kind`` whose existing job is ``live_id``."""
        return self.build(live_id if self.valid_for(kind) else self.sample_id)


def record(external_id: Any, **fields: Any) -> dict[str, Any]:
    """Return our version-2 ``submitted`` record for ``external_id``, with ``fields`` changed or added."""
    return {
        "format": STATE_FORMAT,
        "version": STATE_VERSION,
        "generation": 0,
        "token": SAMPLE_TOKEN,
        "phase": "submitted",
        "external_id": external_id,
        "result": None,
        **fields,
    }


def _const(value: Any) -> Callable[[Any], Any]:
    return lambda _job_id: value


def _json_types() -> list[CorruptStateInput]:
    nested: Any = {"job": "x"}
    for _ in range(200):
        nested = {"job": nested}
    values: dict[str, Any] = {
        "false": False,
        "true": True,
        "zero": 0,
        "negative": -1,
        "int64-min": -(2**63),
        "beyond-int64": 2**63,
        "beyond-uint64": 2**64,
        "huge-int": 10**4000,
        "float": 1.5,
        "float-integral": 42.0,
        "negative-float": -0.0,
        "nan": float("nan"),
        "inf": float("inf"),
        "-inf": float("-inf"),
        "empty-string": "",
        "space": " ",
        "whitespace": " \t\r\n",
        "unicode": "ünïcødé-jöb",
        "emoji": "\U0001f4a5",
        "zero-width-space": "\u200b",
        "right-to-left-override": "\u202edriver",
        "bell-and-escape": "\x07\x1b[31m",
        "nul": "\x00",
        "empty-list": [],
        "list": ["driver-20261129000000-0000"],
        "nested-list": [[1, 2], [3]],
        "empty-object": {},
        "object": {"job": "x"},
        "nested-object": nested,
    }
    return [CorruptStateInput(f"json-types/{name}", "json-types", _const(value)) for name, value in values.items()]


def _foreign_records() -> list[CorruptStateInput]:
    inputs: list[CorruptStateInput] = []
    for kind in ID_KINDS.values():
        if kind.name == "generic":
            continue
        inputs.append(CorruptStateInput(f"foreign-records/{kind.name}-record", "foreign-records", record, kind.sample))
        inputs.append(
            CorruptStateInput(
                f"foreign-records/{kind.name}-succeeded-record",
                "foreign-records",
                lambda job_id: record(job_id, phase="succeeded", result={"value": None, "xcoms": {}}),
                kind.sample,
            )
        )
        inputs.append(
            CorruptStateInput(f"foreign-records/{kind.name}-bare", "foreign-records", lambda j: j, kind.sample)
        )
    others: dict[str, Any] = {
        "databricks-run-object": {"run_id": 615830224918437, "state": {"life_cycle_state": "RUNNING"}},
        "spark-rest-status": {"action": "SubmissionStatusResponse", "driverState": "RUNNING", "success": True},
        "emr-serverless-start-job-run": {"applicationId": "00fkl7r8u1hgdr09", "jobRunId": "00fkl8bk0f2qmk0a"},
        "yarn-app": {"app": {"id": "application_1764374400000_0001", "state": "RUNNING"}},
        "other-format": {**record("driver-20261129000000-0000"), "format": "another-tool"},
        "no-format": {k: v for k, v in record("driver-20261129000000-0000").items() if k != "format"},
        "format-only": {"format": STATE_FORMAT},
        "xcom-serialised": {"__classname__": "builtins.str", "__version__": 1, "__data__": "driver-1"},
        "intent-with-external-id": record("driver-20261129000000-0000", phase="intent"),
        "submitted-without-external-id": record(None),
        "intent-without-token": record(None, phase="intent", token=None),
        "forged-token": record("driver-20261129000000-0000", token="ad-../../admin-g0"),
        "negative-generation": record("driver-20261129000000-0000", generation=-1),
        "float-generation": record("driver-20261129000000-0000", generation=1.0),
        "bool-generation": record("driver-20261129000000-0000", generation=True),
        "bool-external-id": record(True),
        "object-external-id": record({"run_id": 1}),
        "result-not-an-object": record("driver-20261129000000-0000", phase="succeeded", result=[1]),
        "result-with-empty-xcom-key": record(
            "driver-20261129000000-0000", phase="succeeded", result={"value": 1, "xcoms": {"": 1}}
        ),
    }
    inputs += [
        CorruptStateInput(f"foreign-records/{name}", "foreign-records", _const(value)) for name, value in others.items()
    ]
    return inputs


def _future_versions() -> list[CorruptStateInput]:
    variants: dict[str, dict[str, Any]] = {
        "version-3": {"version": 3},
        "version-99": {"version": 99},
        "version-0": {"version": 0},
        "version-string": {"version": "2"},
        "version-float": {"version": 2.0},
        "version-bool": {"version": True},
        "version-null": {"version": None},
        "unknown-phase": {"phase": "running"},
        "phase-in-upper-case": {"phase": "SUBMITTED"},
        "extra-field": {"checksum": "0" * 64},
        "version-3-extra-fields": {"version": 3, "attempts": [], "vendor": "databricks"},
        "unidentified-in-version-1": {"version": 1, "phase": "unidentified", "external_id": None},
    }
    inputs = [
        CorruptStateInput(
            f"future-versions/{name}",
            "future-versions",
            _const({**record("driver-20261129000000-0000"), **changes}),
        )
        for name, changes in variants.items()
    ]
    inputs.append(CorruptStateInput("future-versions/short-v-key", "future-versions", _const({"v": 3, "id": "x"})))
    return inputs


def _oversized() -> list[CorruptStateInput]:
    big = MAX_STATE_BYTES + 1
    values: dict[str, Any] = {
        "bare-string": "x" * big,
        "long-safe-id": "a" * 300,
        "long-driver-id": "driver-" + "0" * 300,
        "long-dns-pod": "spark-jobs:" + "a" * 260,
        "int-beyond-the-limit": 10**4200,
        "record-external-id": record("d" * big),
        "record-long-id": record("driver-" + "0" * 300),
        "record-result": record("driver-1", phase="succeeded", result={"value": "v" * big, "xcoms": {}}),
        "list": ["x"] * big,
        "object": {f"k{i}": i for i in range(big // 4)},
    }
    return [CorruptStateInput(f"oversized/{name}", "oversized", _const(value)) for name, value in values.items()]


UNSAFE_IDS: dict[str, str] = {
    "dot-dot-slash": "../../admin",
    "dot-dot": "..",
    "dot": ".",
    "dots-in-id": "driver-1..2",
    "encoded-dot-dot": "%2e%2e%2fadmin",
    "encoded-dot-dot-slash": "%2e%2e/admin",
    "percent": "driver-1%20",
    "traversal-after-id": "driver-20261129000000-0000/../../admin",
    "backslash": "..\\..\\admin",
    "query": "driver-1?x=1",
    "fragment": "driver-1#frag",
    "ampersand": "driver-1&x=1",
    "space": "driver 1",
    "trailing-newline": "driver-20261129000000-0000\n",
    "header-injection": "driver-1\r\nX-Injected: 1",
    "nul": "driver-1\x00",
    "tab": "driver-1\t",
    "absolute-url": "http://evil.example/v1/submissions",
    "https-url": "https://evil.example/",
    "scheme-relative-url": "//evil.example/x",
    "file-url": "file:///etc/passwd",
    "namespace-traversal": "spark-jobs:../../secrets",
    "pod-subresource": "spark-jobs:etl-driver/exec",
    "extra-colon": "spark-jobs:etl-driver:extra",
    "colon-only": ":",
    "empty-pod": "spark-jobs:",
    "empty-namespace": ":etl-driver",
    "step-traversal": "j-2AXXXXXXGAPLF:s-3Y9D6G8SHOO4N/../x",
    "run-traversal": "00fkl7r8u1hgdr09:../00fkl8bk0f2qmk0a",
    "encoded-run": "00fkl7r8u1hgdr09:%2e%2e",
    "query-in-run": "00fkl7r8u1hgdr09:run?x=1",
    "tilde": "~admin",
    "asterisk": "*",
    "semicolon": "driver-1;rm",
}
"""Name -> an ID built to escape a URL or an API path; the corpus stores each bare and in our record."""


def _unsafe_ids() -> list[CorruptStateInput]:
    inputs: list[CorruptStateInput] = []
    for name, value in UNSAFE_IDS.items():
        inputs.append(CorruptStateInput(f"unsafe-ids/{name}", "unsafe-ids", _const(value)))
        inputs.append(CorruptStateInput(f"unsafe-ids/{name}-in-record", "unsafe-ids", _const(record(value))))
    return inputs


def _upstream_records() -> list[CorruptStateInput]:
    def bare(job_id: Any) -> Any:
        return job_id

    return [
        CorruptStateInput("upstream-records/bare-id", "upstream-records", bare, always_valid=True),
        CorruptStateInput(
            "upstream-records/bare-id-with-k8s-driver-status",
            "upstream-records",
            bare,
            beside={K8S_DRIVER_STATUS_KEY: "Succeeded"},
            always_valid=True,
        ),
        CorruptStateInput(
            "upstream-records/driver-pod-with-k8s-driver-status",
            "upstream-records",
            bare,
            ID_KINDS["spark-kubernetes"].sample,
            beside={K8S_DRIVER_STATUS_KEY: "Succeeded"},
        ),
        # Upstream Databricks' status sentinel, never a stored value; an ID format it fits (EMR Serverless'
        # "<application id>:<job run id>") takes it for a job of its own.
        CorruptStateInput(
            "upstream-records/databricks-not-found-sentinel",
            "upstream-records",
            bare,
            "NOT_FOUND:615830224918437",
        ),
        CorruptStateInput(
            "upstream-records/unsafe-id-with-k8s-driver-status",
            "upstream-records",
            _const("spark-jobs:../../secrets"),
            beside={K8S_DRIVER_STATUS_KEY: "Succeeded"},
        ),
    ]


CORPUS: tuple[CorruptStateInput, ...] = (
    *_json_types(),
    *_foreign_records(),
    *_future_versions(),
    *_oversized(),
    *_unsafe_ids(),
    *_upstream_records(),
)
"""Every input, grouped by category in :data:`CATEGORIES` order."""


def inputs_of(category: str) -> list[CorruptStateInput]:
    """Return the corpus's inputs of ``category``.

    Raises:
        ValueError: If ``category`` is not one of :data:`CATEGORIES`.
    """
    if category not in CATEGORIES:
        raise ValueError(f"unknown corpus category {category!r}; expected one of {CATEGORIES}")
    return [item for item in CORPUS if item.category == category]


@dataclass
class CorpusTally:
    """What one operator did with one category of the corpus.

    Attributes:
        operator: The contract subclass's name.
        category: One of :data:`CATEGORIES`.
        invalid: Inputs tried that must fail with an error naming the key.
        clear_errors: Of those, the ones that did.
        valid: Inputs tried that are legitimate records for the operator (a reconnect).
        accepted: Of those, the ones accepted without a new submission.
        submissions: Jobs submitted because of an input (the goal is 0).
        failures: Input name -> what went wrong.
    """

    operator: str
    category: str
    invalid: int = 0
    clear_errors: int = 0
    valid: int = 0
    accepted: int = 0
    submissions: int = 0
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def tried(self) -> int:
        """Inputs tried."""
        return self.invalid + self.valid


TALLIES: list[CorpusTally] = []
"""Every tally of this process, in run order, for the ``--corrupt-state-report`` table."""


def report_lines(tallies: list[CorpusTally]) -> list[str]:
    """Return the report: per operator, inputs tried, clear errors naming the key, valid inputs accepted.

    Args:
        tallies: The tallies to sum, several categories per operator.

    Returns:
        A header, one line per operator (sorted by name) and a total line.
    """
    by_operator: dict[str, CorpusTally] = {}
    for tally in tallies:
        total = by_operator.setdefault(tally.operator, CorpusTally(tally.operator, "all"))
        total.invalid += tally.invalid
        total.clear_errors += tally.clear_errors
        total.valid += tally.valid
        total.accepted += tally.accepted
        total.submissions += tally.submissions
    width = max([len("operator"), *(len(name) for name in by_operator)])
    header = f"{'operator':<{width}}  tried  clear error naming the key  valid accepted  submissions"
    lines = [header, "-" * len(header)]
    everything = CorpusTally("all operators", "all")
    for name, total in sorted(by_operator.items()):
        lines.append(_report_line(name, total, width))
        everything.invalid += total.invalid
        everything.clear_errors += total.clear_errors
        everything.valid += total.valid
        everything.accepted += total.accepted
        everything.submissions += total.submissions
    lines += ["-" * len(header), _report_line("all operators", everything, width)]
    return lines


def _report_line(name: str, total: CorpusTally, width: int) -> str:
    share = f"{total.clear_errors}/{total.invalid} ({100 * total.clear_errors / max(total.invalid, 1):.1f}%)"
    accepted = f"{total.accepted}/{total.valid}"
    return f"{name:<{width}}  {total.tried:>5}  {share:>26}  {accepted:>14}  {total.submissions:>11}"
