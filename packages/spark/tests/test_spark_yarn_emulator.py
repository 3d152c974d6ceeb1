"""The YARN ResourceManager REST emulator and the stand-in ``spark-submit --master yarn``.

Wire format against the documented RM answers; faults reaching a client; the stand-in end to end against the
recorded real output (``fixtures/spark_submit_yarn_cluster.txt``); Airflow's own ``SparkSubmitHook`` submitting
through the stand-in and tracking and killing through the emulator; the emulator as its own process.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_durable.testing.control import ControlClient
from airflow_durable_spark.testing.contract import (
    emulated_yarn,
    install_fake_spark_submit_yarn,
    write_yarn_site,
    yarn_connection_env,
)
from airflow_durable_spark.testing.fake_spark_submit_yarn import read_yarn_site, resource_manager_url
from airflow_durable_spark.testing.yarn import APPLICATION_ID_PATTERN, YarnResourceManagerEmulator

FIXTURE = Path(__file__).parent / "fixtures" / "spark_submit_yarn_cluster.txt"
TOKEN = "ad-0123456789abcdef0123456789ab-g0"
APPS = "/ws/v1/cluster/apps"


@pytest.fixture
def rm() -> Iterator[YarnResourceManagerEmulator]:
    with YarnResourceManagerEmulator(cluster_timestamp=1733474400000) as emulator:
        yield emulator


def new_app(rm: YarnResourceManagerEmulator) -> str:
    response = requests.post(rm.url + APPS + "/new-application", timeout=10)
    assert response.status_code == 200
    app_id: str = response.json()["application-id"]
    return app_id


def submit(rm: YarnResourceManagerEmulator, tags: Any = None, **fields: Any) -> str:
    app_id = fields.pop("app_id", None) or new_app(rm)
    body = {"application-id": app_id, "application-name": "pi", "application-type": "SPARK", **fields}
    if tags is not None:
        body["application-tags"] = tags
    response = requests.post(rm.url + APPS, json=body, timeout=10)
    assert response.status_code == 202, response.text
    return app_id


def get(rm: YarnResourceManagerEmulator, path: str, **params: str) -> requests.Response:
    return requests.get(rm.url + path, params=params, timeout=10)


# --------------------------------------------------------------------------- wire format


def test_new_application_hands_out_yarn_ids_with_a_fixed_cluster_timestamp(rm: YarnResourceManagerEmulator) -> None:
    first = requests.post(rm.url + APPS + "/new-application", timeout=10).json()
    second = requests.post(rm.url + APPS + "/new-application", timeout=10).json()
    assert first == {
        "application-id": "application_1733474400000_0001",
        "maximum-resource-capability": {"memory": 8192, "vCores": 32},
    }
    assert second["application-id"] == "application_1733474400000_0002"
    assert APPLICATION_ID_PATTERN.match(first["application-id"])
    assert rm.applications == []  # a new application ID creates no application


def test_submit_answers_202_and_keeps_lowercased_tags(rm: YarnResourceManagerEmulator) -> None:
    app_id = new_app(rm)
    body = {
        "application-id": app_id,
        "application-name": "pi",
        "application-type": "SPARK",
        "queue": "etl",
        "application-tags": {"tag": ["Nightly", TOKEN.upper(), "nightly"]},
    }
    response = requests.post(rm.url + APPS + "?user.name=alice", json=body, timeout=10)
    assert response.status_code == 202
    assert response.content == b""
    assert response.headers["Location"] == f"{rm.url}{APPS}/{app_id}"
    (app,) = rm.applications
    assert (app.app_id, app.name, app.queue, app.user, app.application_type) == (app_id, "pi", "etl", "alice", "SPARK")
    assert app.tags == ["nightly", TOKEN]
    assert app.token == TOKEN
    assert app.state == "ACCEPTED/UNDEFINED"


@pytest.mark.parametrize("tags", [["a", "b"], "a,b", {"tag": "a"}])
def test_submit_accepts_the_tag_shapes_clients_send(rm: YarnResourceManagerEmulator, tags: Any) -> None:
    app_id = submit(rm, tags)
    assert rm.application(app_id).tags == (["a"] if isinstance(tags, dict) else ["a", "b"])


def test_submitting_an_id_twice_creates_nothing_as_client_rm_service(rm: YarnResourceManagerEmulator) -> None:
    app_id = submit(rm, [TOKEN])
    assert submit(rm, ["other"], app_id=app_id) == app_id
    (app,) = rm.applications
    assert app.tags == [TOKEN]
    assert rm.repeated_submissions == [app_id]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"application-name": "x"}, "Error parsing application-id"),
        ({"application-id": "app_1_1"}, "Error parsing application-id"),
        ({"application-id": "application_1_0001", "application-tags": [str(i) for i in range(11)]}, "Too many"),
        ({"application-id": "application_1_0001", "application-tags": ["x" * 101]}, "is too long"),
    ],
)
def test_bad_submissions_answer_bad_request(rm: YarnResourceManagerEmulator, body: Any, message: str) -> None:
    response = requests.post(rm.url + APPS, json=body, timeout=10)
    assert response.status_code == 400
    remote = response.json()["RemoteException"]
    assert remote["exception"] == "BadRequestException"
    assert remote["javaClassName"] == "org.apache.hadoop.yarn.webapp.BadRequestException"
    assert message in remote["message"]
    assert rm.applications == []


def test_get_app_has_the_documented_fields_and_types(rm: YarnResourceManagerEmulator) -> None:
    app_id = submit(rm, ["b", "a"], queue="default")
    app = get(rm, f"{APPS}/{app_id}").json()["app"]
    assert app["id"] == app_id
    assert (app["state"], app["finalStatus"]) == ("RUNNING", "UNDEFINED")  # born ACCEPTED, RUNNING from call 1
    assert app["applicationTags"] == "b,a"
    assert app["applicationType"] == "SPARK"
    assert app["clusterId"] == 1733474400000
    assert app["user"] == "dr.who"
    assert app["trackingUI"] == "ApplicationMaster"
    assert app["trackingUrl"] == f"{rm.url}/proxy/{app_id}/"
    assert app["amContainerLogs"].endswith(f"/container_{app_id.removeprefix('application_')}_01_000001/dr.who")
    for field in ("startedTime", "finishedTime", "elapsedTime"):
        assert isinstance(app[field], int)
    assert isinstance(app["progress"], float)
    assert app["finishedTime"] == 0
    assert isinstance(app["diagnostics"], str)


def test_life_cycle_ends_in_the_final_state_after_n_status_calls() -> None:
    with YarnResourceManagerEmulator(polls_to_finish=3, final_state="FINISHED/FAILED") as rm:
        app_id = submit(rm)
        seen = [(a["state"], a["finalStatus"]) for a in (get(rm, f"{APPS}/{app_id}").json()["app"] for _ in range(4))]
        assert seen == [
            ("RUNNING", "UNDEFINED"),
            ("RUNNING", "UNDEFINED"),
            ("FINISHED", "FAILED"),
            ("FINISHED", "FAILED"),
        ]
        app = get(rm, f"{APPS}/{app_id}").json()["app"]
        assert app["finishedTime"] >= app["startedTime"] > 0
        assert app["trackingUI"] == "History"
        assert app["diagnostics"] == "User application exited with status 1"
        assert rm.application(app_id).history == ["ACCEPTED/UNDEFINED", "RUNNING/UNDEFINED", "FINISHED/FAILED"]


def test_unknown_and_malformed_ids(rm: YarnResourceManagerEmulator) -> None:
    response = get(rm, f"{APPS}/application_1733474400000_0042")
    assert response.status_code == 404
    assert response.json() == {
        "RemoteException": {
            "exception": "NotFoundException",
            "message": "java.lang.Exception: app with id: application_1733474400000_0042 not found",
            "javaClassName": "org.apache.hadoop.yarn.webapp.NotFoundException",
        }
    }
    bad = get(rm, f"{APPS}/job_1_1")
    assert bad.status_code == 400
    assert bad.json()["RemoteException"]["exception"] == "BadRequestException"


def test_forgotten_apps_are_not_found_and_not_listed(rm: YarnResourceManagerEmulator) -> None:
    app_id = submit(rm, [TOKEN])
    rm.forget(app_id)
    assert get(rm, f"{APPS}/{app_id}").status_code == 404
    assert get(rm, APPS, applicationTags=TOKEN).json() == {"apps": None}


def test_list_by_tags_matches_any_tag_case_insensitively(rm: YarnResourceManagerEmulator) -> None:
    first = submit(rm, [TOKEN, "nightly"])
    second = submit(rm, ["nightly"])
    submit(rm, ["other"])

    def ids(**params: str) -> list[str] | None:
        apps = get(rm, APPS, **params).json()["apps"]
        return None if apps is None else [app["id"] for app in apps["app"]]

    assert ids(applicationTags=TOKEN.upper()) == [first]
    assert ids(applicationTags=f" {TOKEN} ,nightly") == [first, second]  # ANY of the tags
    assert ids(applicationTags="NIGHTLY") == [first, second]
    assert ids(applicationTags="ad-ffffffffffffffffffffffffffff-g0") is None
    assert len(ids() or []) == 3
    assert ids(applicationTypes="spark") == ids()
    assert ids(applicationTypes="MAPREDUCE") is None
    assert ids(applicationTags="nightly", limit="1") == [first]


def test_list_none_matching_is_apps_null(rm: YarnResourceManagerEmulator) -> None:
    response = get(rm, APPS, applicationTags="nothing")
    assert response.status_code == 200
    assert response.text == '{"apps": null}'


def test_list_by_states(rm: YarnResourceManagerEmulator) -> None:
    running = submit(rm, ["t"])
    finished = submit(rm, ["t"])
    rm.set_state(finished, "FINISHED/SUCCEEDED")
    get(rm, f"{APPS}/{running}")  # ACCEPTED -> RUNNING
    listed = get(rm, APPS, states="running,accepted", applicationTags="t").json()["apps"]["app"]
    assert [app["id"] for app in listed] == [running]
    assert get(rm, APPS, states="FINISHED").json()["apps"]["app"][0]["id"] == finished
    invalid = get(rm, APPS, states="DONE")
    assert invalid.status_code == 400
    assert "Invalid application-state DONE" in invalid.json()["RemoteException"]["message"]


def test_state_get_and_kill(rm: YarnResourceManagerEmulator) -> None:
    app_id = submit(rm)
    state_url = f"{rm.url}{APPS}/{app_id}/state"
    assert requests.get(state_url, timeout=10).json() == {"state": "ACCEPTED"}
    kill = requests.put(state_url, json={"state": "KILLED"}, timeout=10)
    assert (kill.status_code, kill.json()) == (202, {"state": "ACCEPTED"})
    assert kill.headers["Location"] == state_url
    assert requests.get(state_url, timeout=10).json() == {"state": "KILLED"}
    again = requests.put(state_url, json={"state": "KILLED"}, timeout=10)
    assert (again.status_code, again.json()) == (200, {"state": "KILLED"})
    app = get(rm, f"{APPS}/{app_id}").json()["app"]
    assert (app["state"], app["finalStatus"]) == ("KILLED", "KILLED")
    assert app["diagnostics"] == f"Application {app_id} was killed by user dr.who"
    assert rm.application(app_id).kill_requests == 2
    assert rm.book.cancelled == [app_id]


def test_kill_of_a_finished_app_answers_its_state(rm: YarnResourceManagerEmulator) -> None:
    app_id = submit(rm)
    rm.set_state(app_id, "FINISHED/SUCCEEDED")
    response = requests.put(f"{rm.url}{APPS}/{app_id}/state", json={"state": "KILLED"}, timeout=10)
    assert (response.status_code, response.json()) == (200, {"state": "FINISHED"})
    assert rm.application(app_id).state == "FINISHED/SUCCEEDED"


def test_state_errors(rm: YarnResourceManagerEmulator) -> None:
    app_id = submit(rm)
    wrong = requests.put(f"{rm.url}{APPS}/{app_id}/state", json={"state": "RUNNING"}, timeout=10)
    assert wrong.status_code == 400
    assert wrong.json()["RemoteException"]["message"] == "Only 'KILLED' is allowed as a target state."
    missing = requests.put(f"{rm.url}{APPS}/application_1_0999/state", json={"state": "KILLED"}, timeout=10)
    assert missing.status_code == 404
    assert missing.json()["RemoteException"]["exception"] == "NotFoundException"
    assert requests.get(f"{rm.url}{APPS}/application_1_0999/state", timeout=10).status_code == 404
    assert requests.delete(f"{rm.url}{APPS}/{app_id}", timeout=10).status_code == 405
    assert get(rm, "/ws/v1/cluster/nothing").status_code == 404


def test_cluster_metrics(rm: YarnResourceManagerEmulator) -> None:
    submit(rm)
    metrics = get(rm, "/ws/v1/cluster/metrics").json()["clusterMetrics"]
    assert (metrics["activeNodes"], metrics["appsSubmitted"], metrics["appsPending"]) == (1, 1, 1)


def test_vocabulary_is_state_slash_final_status() -> None:
    for raw in YarnResourceManagerEmulator.states:
        state, final = raw.split("/")
        assert state in {"NEW", "NEW_SAVING", "SUBMITTED", "ACCEPTED", "RUNNING", "FINISHED", "FAILED", "KILLED"}
        assert final in {"UNDEFINED", "SUCCEEDED", "FAILED", "KILLED"}


# --------------------------------------------------------------------------- faults


def test_fail_next_reaches_the_client_in_the_rm_error_format(rm: YarnResourceManagerEmulator) -> None:
    app_id = submit(rm)
    rm.fail_next(1, 503, endpoint="status")
    failed = get(rm, f"{APPS}/{app_id}")
    assert failed.status_code == 503
    assert failed.json()["RemoteException"]["exception"] == "WebApplicationException"
    assert get(rm, f"{APPS}/{app_id}").status_code == 200
    assert rm.application(app_id).status_calls == 1  # the failed call did not count


def test_dropped_connection_on_submit_creates_nothing(rm: YarnResourceManagerEmulator) -> None:
    app_id = new_app(rm)
    rm.fail_next(1, 0, endpoint="submit")
    with pytest.raises(requests.ConnectionError):
        requests.post(rm.url + APPS, json={"application-id": app_id}, timeout=10)
    assert rm.applications == []


def test_hold_after_create_keeps_the_answer_while_the_app_exists(rm: YarnResourceManagerEmulator) -> None:
    rm.hold_after_create(1.0)
    app_id = new_app(rm)
    answers: list[int] = []
    worker = threading.Thread(
        target=lambda: answers.append(
            requests.post(
                rm.url + APPS, json={"application-id": app_id, "application-tags": [TOKEN]}, timeout=10
            ).status_code
        )
    )
    started = time.monotonic()
    worker.start()
    rm.book.wait_for(1, timeout_seconds=5)
    assert answers == []  # the application exists; its submit is still unanswered
    listed = get(rm, APPS, applicationTags=TOKEN).json()["apps"]["app"]
    assert [app["id"] for app in listed] == [app_id]
    worker.join(5)
    assert answers == [202]
    assert time.monotonic() - started >= 0.9


def test_latency_applies_to_every_request(rm: YarnResourceManagerEmulator) -> None:
    rm.set_latency(0.3)
    started = time.monotonic()
    new_app(rm)
    assert time.monotonic() - started >= 0.3


# --------------------------------------------------------------------------- the stand-in spark-submit


def normalise(line: str) -> str:
    """A line's shape: the variable parts (times, IDs, paths, hosts, numbers, states, values) replaced."""
    rules = (
        (r"^\d\d/\d\d/\d\d \d\d:\d\d:\d\d ", "<time> "),
        (r"application_\d+_\d+", "<app>"),
        (r"Uploading resource \S+ -> \S+/\.sparkStaging/<app>/\S+", "Uploading resource <src> -> <staging>"),
        (r"/tmp/spark-[0-9a-f-]+", "<tmp>"),
        (r"Connecting to ResourceManager at \S+", "Connecting to ResourceManager at <address>"),
        (r"\d+", "<n>"),
        (r"\(state: [A-Z_]+\)", "(state: <state>)"),
        (r"^(\t [A-Za-z ]+): .*$", r"\1: <value>"),
        (r"(acls to|permissions): [^;]*", r"\1: <user>"),
        (r"\.scala(:<n>)?\)", ".scala)"),
        (r"diagnostics message: .*", "diagnostics message: <text>"),
    )
    for pattern, replacement in rules:
        line = re.sub(pattern, replacement, line)
    return line


def fixture_sections() -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    for line in FIXTURE.read_text().splitlines():
        if line.startswith("## "):
            current = sections.setdefault(line[3:], [])
        elif not line.startswith("#"):
            current.append(line)
    return sections


def collapse(lines: list[str]) -> list[str]:
    return [line for i, line in enumerate(lines) if i == 0 or line != lines[i - 1]]


@pytest.fixture
def yarn_bin(tmp_path: Path, rm: YarnResourceManagerEmulator) -> Path:
    install_fake_spark_submit_yarn(tmp_path / "bin", rm.url)
    return tmp_path / "bin"


def spark_submit(bin_dir: Path, *options: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [str(bin_dir / "spark-submit"), "--master", "yarn", "--deploy-mode", "cluster", "--name", "pi"]
    command += [*options, "--class", "org.example.Pi", "/tmp/pi.jar", "10"]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env=env, check=False)


def test_yarn_site_names_the_rm(tmp_path: Path) -> None:
    site = read_yarn_site(write_yarn_site(tmp_path, "http://127.0.0.1:18088"))
    assert site["yarn.resourcemanager.webapp.address"] == "127.0.0.1:18088"
    assert site["yarn.resourcemanager.address"] == "127.0.0.1:8032"
    assert resource_manager_url(site) == "http://127.0.0.1:18088"
    assert resource_manager_url({}) == "http://0.0.0.0:8088"  # Hadoop's defaults
    assert resource_manager_url({"yarn.resourcemanager.hostname": "rm"}) == "http://rm:8088"


def test_emulated_yarn_installs_a_stand_in_that_finds_this_rm(tmp_path: Path) -> None:
    with emulated_yarn(tmp_path / "bin", polls_to_finish=None) as rm:
        script = (tmp_path / "bin" / "spark-submit").read_text()
        assert f"export HADOOP_CONF_DIR={tmp_path / 'hadoop-conf'}" in script
        site = read_yarn_site(tmp_path / "hadoop-conf" / "yarn-site.xml")
        assert resource_manager_url(site) == rm.url
        env = {k: v for k, v in os.environ.items() if k not in ("HADOOP_CONF_DIR", "YARN_CONF_DIR")}
        fire_and_forget = ("--conf", "spark.yarn.submit.waitAppCompletion=false")
        done = spark_submit(tmp_path / "bin", "--proxy-user", "bob", "--queue", "etl", *fire_and_forget, env=env)
        assert done.returncode == 0, done.stderr
        (app,) = rm.applications
        assert (app.user, app.queue, app.state) == ("bob", "etl", "RUNNING/UNDEFINED")


def test_yarn_connection_env_is_upstreams_connection() -> None:
    ((name, value),) = yarn_connection_env("spark_yarn", "http://127.0.0.1:18088").items()
    assert name == "AIRFLOW_CONN_SPARK_YARN"
    assert json.loads(value) == {
        "conn_type": "spark",
        "host": "yarn",
        "extra": {"deploy-mode": "cluster", "yarn_resourcemanager_webapp_address": "http://127.0.0.1:18088"},
    }


def test_stand_in_fire_and_forget_prints_the_real_lines(yarn_bin: Path, rm: YarnResourceManagerEmulator) -> None:
    done = spark_submit(
        yarn_bin, "--conf", f"spark.yarn.tags=Nightly,{TOKEN}", "--conf", "spark.yarn.submit.waitAppCompletion=false"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    expected = [normalise(line) for line in fixture_sections()["waitAppCompletion=false"]]
    assert [normalise(line) for line in done.stderr.splitlines()] == expected
    (app,) = rm.applications
    assert (app.name, app.application_type, app.queue, app.tags) == ("pi", "SPARK", "default", ["nightly", TOKEN])
    assert f"Submitting application {app.app_id} to ResourceManager" in done.stderr
    assert f"tracking URL: {rm.url}/proxy/{app.app_id}/" in done.stderr
    assert app.status_calls == 1  # the stand-in's one report
    assert rm.observed_status_calls == 0  # ... which the contract suite does not count


def test_stand_in_waits_for_a_failed_app_and_exits_1(yarn_bin: Path, rm: YarnResourceManagerEmulator) -> None:
    rm.book.advance("ACCEPTED/UNDEFINED", [(2, "RUNNING/UNDEFINED"), (4, "FINISHED/FAILED")])
    done = spark_submit(yarn_bin, "--conf", "spark.yarn.report.interval=50ms")
    assert done.returncode == 1
    output = [normalise(line) for line in done.stderr.splitlines()]
    expected = [normalise(line) for line in fixture_sections()["waitAppCompletion=true, failed"]]
    assert collapse(output) == collapse(expected)
    (app,) = rm.applications
    assert f"Application {app.app_id} finished with failed status" in done.stderr
    assert "Application diagnostics message: User application exited with status 1" in done.stderr
    assert app.status_calls == 4


def test_stand_in_waits_for_success_and_exits_0(yarn_bin: Path, rm: YarnResourceManagerEmulator) -> None:
    rm.finish_after(3, "FINISHED/SUCCEEDED")
    done = spark_submit(yarn_bin, "--conf", "spark.yarn.report.interval=50ms")
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("(state: FINISHED)") == 1
    assert "final status: SUCCEEDED" in done.stderr


def test_stand_in_fire_and_forget_fails_for_a_killed_app(yarn_bin: Path, rm: YarnResourceManagerEmulator) -> None:
    rm.hold("KILLED/KILLED")
    done = spark_submit(yarn_bin, "--conf", "spark.yarn.submit.waitAppCompletion=false")
    assert done.returncode == 1
    assert re.search(r"SparkException: Application application_\d+_\d+ finished with status: KILLED", done.stderr)


def test_stand_in_crash_after_create_leaves_an_app_whose_id_was_never_printed(
    yarn_bin: Path, rm: YarnResourceManagerEmulator
) -> None:
    rm.set_fake_submit_behavior(crash_after_create=True)
    done = spark_submit(yarn_bin, "--conf", f"spark.yarn.tags={TOKEN}")
    assert done.returncode == 137
    (app,) = rm.applications
    assert app.token == TOKEN
    assert "application_" not in done.stderr


def test_stand_in_pause_after_create_opens_the_submit_window(yarn_bin: Path, rm: YarnResourceManagerEmulator) -> None:
    rm.set_fake_submit_behavior(pause_after_create_ms=1500)
    process = subprocess.Popen(
        [
            str(yarn_bin / "spark-submit"),
            "--master",
            "yarn",
            "--deploy-mode",
            "cluster",
            "--conf",
            f"spark.yarn.tags={TOKEN}",
            "--conf",
            "spark.yarn.submit.waitAppCompletion=false",
            "/tmp/pi.jar",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        rm.book.wait_for(1, timeout_seconds=10)
        assert process.poll() is None  # the application exists, the stand-in has not printed its ID yet
        listed = get(rm, APPS, applicationTags=TOKEN).json()["apps"]["app"]
        _, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0
    assert f"Submitted application {listed[0]['id']}" in err
    assert len(rm.applications) == 1


def test_stand_in_reports_rm_errors(yarn_bin: Path, rm: YarnResourceManagerEmulator) -> None:
    rm.fail_next(1, 503, endpoint="submit")
    done = spark_submit(yarn_bin)
    assert done.returncode == 1
    assert 'Exception in thread "main" org.apache.hadoop.yarn.exceptions.YarnException' in done.stderr
    assert "Shutdown hook called" in done.stderr
    assert rm.applications == []


def test_stand_in_needs_a_hadoop_conf_dir(tmp_path: Path, rm: YarnResourceManagerEmulator) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("HADOOP_CONF_DIR", "YARN_CONF_DIR")}
    command = [sys.executable, "-m", "airflow_durable_spark.testing.fake_spark_submit", "--master", "yarn"]
    command += ["--deploy-mode", "cluster", "/tmp/pi.jar"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 1
    assert "either HADOOP_CONF_DIR or YARN_CONF_DIR must be set" in done.stderr
    client = [*command[:5], "--deploy-mode", "client", "/tmp/pi.jar"]
    refused = subprocess.run(client, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert refused.returncode == 1
    assert "only emulates --deploy-mode cluster" in refused.stderr


def test_stand_in_checks_the_am_memory_against_the_cluster_maximum(
    yarn_bin: Path, rm: YarnResourceManagerEmulator
) -> None:
    done = spark_submit(yarn_bin, "--driver-memory", "9g")
    assert done.returncode == 1
    assert "Required AM memory (9216+921 MB) is above the max threshold (8192 MB)" in done.stderr
    assert rm.applications == []


def test_upstream_log_parser_finds_the_application_id(yarn_bin: Path, rm: YarnResourceManagerEmulator) -> None:
    from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(*next(iter(yarn_connection_env("spark_yarn_parse", rm.url).items())))
        hook = SparkSubmitHook(conn_id="spark_yarn_parse")
    fixture_lines = fixture_sections()["waitAppCompletion=false"]
    hook._process_spark_submit_log(iter(line + "\n" for line in fixture_lines))
    assert hook._yarn_application_id == "application_1733474400000_0007"
    done = spark_submit(yarn_bin, "--conf", "spark.yarn.submit.waitAppCompletion=false")
    hook._yarn_application_id = None
    hook._process_spark_submit_log(iter(done.stderr.splitlines(keepends=True)))
    assert hook._yarn_application_id == rm.applications[0].app_id


# --------------------------------------------------------------------------- Airflow's real SparkSubmitHook


@pytest.fixture
def yarn_conn(monkeypatch: pytest.MonkeyPatch, yarn_bin: Path, rm: YarnResourceManagerEmulator) -> str:
    for key, value in yarn_connection_env("spark_yarn_emulator", rm.url).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PATH", f"{yarn_bin}{os.pathsep}{os.environ['PATH']}")
    for key in [k for k in os.environ if k.startswith(("SPARK_", "FAKE_SPARK_SUBMIT", "HADOOP_", "YARN_"))]:
        monkeypatch.delenv(key)
    return "spark_yarn_emulator"


def make_yarn_hook(conn_id: str) -> Any:
    from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook

    return SparkSubmitHook(
        conn_id=conn_id,
        java_class="org.example.Pi",
        name="pi",
        conf={"spark.yarn.tags": f"nightly,{TOKEN}"},
        application_args=["10"],
        yarn_track_via_rm_api=True,
        status_poll_interval=0,
    )


def test_upstream_hook_submits_through_the_stand_in_and_tracks_to_success(
    yarn_conn: str, rm: YarnResourceManagerEmulator
) -> None:
    hook = make_yarn_hook(yarn_conn)
    assert hook._connection["master"] == "yarn"
    hook.submit(application="/tmp/pi.jar")
    (app,) = rm.applications
    assert hook._yarn_application_id == app.app_id
    assert app.tags == ["nightly", TOKEN]
    assert app.name == "pi"
    hook._start_yarn_application_status_tracking(app.app_id)  # returns on FINISHED/SUCCEEDED
    assert app.state == "FINISHED/SUCCEEDED"
    assert app.status_calls == 2  # the stand-in's report, then the hook's one poll
    assert rm.observed_status_calls == 1


def test_upstream_hook_tracking_raises_for_a_failed_app(yarn_conn: str, rm: YarnResourceManagerEmulator) -> None:
    rm.hold()
    hook = make_yarn_hook(yarn_conn)
    hook.submit(application="/tmp/pi.jar")
    rm.set_state(hook._yarn_application_id, "FAILED/FAILED", diagnostics="AM container exited with exitCode: 1")
    with pytest.raises(RuntimeError, match="ended with state: FAILED, final status: FAILED\nDiagnostics: AM container"):
        hook._start_yarn_application_status_tracking(hook._yarn_application_id)


def test_upstream_hook_kill_reaches_the_emulator(yarn_conn: str, rm: YarnResourceManagerEmulator) -> None:
    rm.hold()
    hook = make_yarn_hook(yarn_conn)
    hook.submit(application="/tmp/pi.jar")
    app_id = hook._yarn_application_id
    hook._kill_yarn_application(app_id)
    assert rm.application(app_id).state == "KILLED/KILLED"
    assert rm.application(app_id).kill_requests == 1
    assert rm.book.cancelled == [app_id]


# --------------------------------------------------------------------------- as its own process


def test_serves_as_its_own_process(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    spec = "airflow_durable_spark.testing.yarn:YarnResourceManagerEmulator"
    command = [sys.executable, "-m", "airflow_durable.testing.serve", spec, "--port-file", str(port_file)]
    command += ["--option", "polls_to_finish=null"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while not port_file.exists():
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port_file.read_text().strip()}"
        with ControlClient(url) as client:
            client.wait_until_up()
            app_id = requests.post(url + APPS + "/new-application", timeout=10).json()["application-id"]
            body = {"application-id": app_id, "application-tags": [TOKEN]}
            assert requests.post(url + APPS, json=body, timeout=10).status_code == 202
            client.force_state(app_id, "FINISHED/SUCCEEDED")
            assert requests.get(f"{url}{APPS}/{app_id}/state", timeout=10).json() == {"state": "FINISHED"}
            client.set_fake_submit_behavior(pause_after_create_ms=250)
            assert client.fake_submit_behavior()["pause_after_create_ms"] == 250
            (job,) = client.jobs()
            assert (job["external_id"], job["token"], job["tags"]) == (app_id, TOKEN, [TOKEN])
    finally:
        process.terminate()
        process.wait(10)
