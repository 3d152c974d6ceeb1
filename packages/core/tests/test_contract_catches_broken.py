"""The contract suite is not vacuous: it fails deliberately broken operators, each on the right scenario.

Every run below generates a provider-style test module (a ``DurableOperatorContract`` subclass, exactly as a
provider writes one) in a pytester temp dir and runs it in-process. The operators come from
``broken_operators.py``; the control is the reference ``InMemoryJobOperator`` in the very same setup.
"""

from __future__ import annotations

import glob
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from _pytest.pytester import Pytester, RunResult

TESTS_DIR = Path(__file__).parent

CONTRACT_MODULE = textwrap.dedent(
    """
    from typing import Any

    import pytest

    from airflow_durable.testing import DurableOperatorContract
    from airflow_durable.testing.reference import InMemoryJobOperator, InMemoryJobService, InMemorySystem
    from broken_operators import BROKEN_OPERATORS

    OPERATOR = BROKEN_OPERATORS.get({name!r}, InMemoryJobOperator)


    class TestContract(DurableOperatorContract[OPERATOR]):
        @pytest.fixture
        def system(self):
            yield InMemorySystem(InMemoryJobService())

        @pytest.fixture
        def operator_factory(self, system):
            def make(task_id: str, **overrides: Any):
                return OPERATOR(
                    task_id=task_id, service=system.service, poll_interval_seconds=0.01, **overrides
                )

            return make
    """
)

# The exact set of scenarios each operator fails. Scenarios beyond the one a break targets are listed with
# the reason they fail too, so a change in what the suite catches shows up here.
EXPECTED_FAILURES: dict[str, set[str]] = {
    "control": set(),
    # (a) The ID is persisted only after polling.
    "PersistsAfterPolling": {
        "test_fresh_run_persists_before_first_poll",
        # A failed job fails the try before its ID is persisted: the retry finds only the intent, adopts
        # the failed job by token and fails again instead of submitting generation 1.
        "test_terminal_failure_then_retry_resubmits_with_new_token",
        # Same for a lost job: the retry adopts it by token instead of applying the lost-job policy.
        "test_lost_job_resubmits_by_default",
        # A deferrable try never polls, so it defers with only the intent on record.
        "test_deferrable_persists_the_job_before_deferring",
        # A fire-and-forget try never polls either: its ID is never persisted (nothing to crash on in the
        # submit window, and the record holds only the intent).
        "test_fire_and_forget_submits_once_without_waiting",
        "test_fire_and_forget_crash_in_submit_window_then_retry_one_job",
    },
    # (b) Upstream's reconnect path: returns None and pushes no XComs.
    "DropsResultOnReconnect": {"test_result_and_xcoms_identical_on_every_path"},
    # (c) Generation 0's token on every submission.
    "ReusesTokenAfterFailure": {
        "test_terminal_failure_then_retry_resubmits_with_new_token",
        # The "fresh" job after a lost one deduplicates to the lost job.
        "test_lost_job_resubmits_by_default",
        # durable=False must send no token; a token makes the retry deduplicate to the first job.
        "test_not_durable_always_resubmits",
    },
    # (d) An unknown status is taken for "active".
    "UnknownStatusIsActive": {"test_unknown_status_is_an_error"},
    # (e) No result kept in the succeeded record.
    "KeepsNoResult": {"test_cleared_after_success_with_the_job_forgotten_replays_the_result"},
    # (f) Upstream's deferrable path: no resume decision, so the retry after a trigger failure submits again.
    "DeferrableSkipsTheDecision": {"test_deferrable_retry_after_a_trigger_failure_reconnects"},
    # (g) Upstream's execute_complete: None and no XComs from the trigger's event.
    "DeferredPathReturnsNothing": {"test_deferrable_result_and_xcoms_equal_the_polling_path"},
    # (h) Fire-and-forget without the protocol.
    "FireAndForgetWithoutRecord": {
        "test_fire_and_forget_submits_once_without_waiting",
        "test_fire_and_forget_retry_returns_the_submitted_job[active]",
        "test_fire_and_forget_retry_returns_the_submitted_job[failed]",
        "test_fire_and_forget_retry_returns_the_submitted_job[lost]",
        # No record is written, so there is no submit window to crash in.
        "test_fire_and_forget_crash_in_submit_window_then_retry_one_job",
    },
    # Upstream ResumableJobMixin.execute_resumable itself, for the side-by-side gap.
    "UpstreamResumable": {
        # A bare ID is all it keeps: the clear asks the vendor, which forgot the job.
        "test_cleared_after_success_with_the_job_forgotten_replays_the_result",
        # It has no deferrable mode and no fire-and-forget mode: it always polls in the worker.
        "test_deferrable_persists_the_job_before_deferring",
        "test_deferrable_retry_after_a_trigger_failure_reconnects",
        "test_deferrable_result_and_xcoms_equal_the_polling_path",
        "test_fire_and_forget_submits_once_without_waiting",
        "test_fire_and_forget_retry_returns_the_submitted_job[active]",
        "test_fire_and_forget_retry_returns_the_submitted_job[failed]",
        "test_fire_and_forget_retry_returns_the_submitted_job[lost]",
        "test_fire_and_forget_crash_in_submit_window_then_retry_one_job",
        "test_crash_in_submit_window_then_retry_adopts_by_token",
        "test_terminal_failure_then_retry_resubmits_with_new_token",
        "test_lost_job_resubmits_by_default",
        "test_mapped_task_instances_are_isolated",
        # Upstream's reconnect path never takes ownership of the job, so on_kill cancels nothing.
        "test_on_kill_cancels_reconnected_job",
        "test_result_and_xcoms_identical_on_every_path",
        "test_corrupt_stored_state_gives_clear_error[json-types]",
        "test_corrupt_stored_state_gives_clear_error[foreign-records]",
        "test_corrupt_stored_state_gives_clear_error[future-versions]",
        "test_corrupt_stored_state_gives_clear_error[oversized]",
        "test_corrupt_stored_state_gives_clear_error[unsafe-ids]",
        "test_corrupt_stored_state_gives_clear_error[upstream-records]",
    },
}

# The assertion message (from contract.py) each targeted scenario must fail with: the scenario fails for
# the reason it guards, not because of some incidental error.
EXPECTED_MESSAGES: dict[str, list[str]] = {
    "control": [],
    "PersistsAfterPolling": ["*at the first status poll task_state_store held*not the job*"],
    "DropsResultOnReconnect": ["*reconnect path result differs*"],
    "ReusesTokenAfterFailure": ["*the retry after a terminal failure did not succeed with a fresh job*"],
    "UnknownStatusIsActive": ["*the operator kept polling a job with an unknown status*"],
    "KeepsNoResult": ["*a clear after success failed once the vendor forgot the job*"],
    "DeferrableSkipsTheDecision": ["*the retry's trigger waited for another job than the first one*"],
    "DeferredPathReturnsNothing": ["*the deferred path's result differs*"],
    "FireAndForgetWithoutRecord": [
        "*task_state_store holds None, not the job*",
        "*the retry of a fire-and-forget try (failed job) submitted another job*",
    ],
    "UpstreamResumable": [
        "*reconnect path result differs*",
        "*corrupt state * was accepted*",
    ],
}


def run_contract(pytester: Pytester, name: str) -> tuple[RunResult, set[str], set[str]]:
    """Run the contract suite against operator ``name``; return the result, collected and failed names."""
    pytester.syspathinsert(TESTS_DIR)
    pytester.makepyfile(test_contract_run=CONTRACT_MODULE.format(name=name))
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-rA")
    collected = {call.item.name for call in result.reprec.getcalls("pytest_itemcollected")}
    _, _, failed = result.reprec.listoutcomes()
    failed_names = {report.nodeid.rsplit("::", 1)[-1] for report in failed}
    return result, collected, failed_names


def _node(scenario: str) -> str:
    return f"test_contract_run.py::TestContract::{scenario}"


@pytest.mark.parametrize("name", list(EXPECTED_FAILURES))
def test_contract_verdict(pytester: Pytester, name: str) -> None:
    """The operator fails exactly its expected scenarios and passes the rest ("control" passes all)."""
    result, collected, failed = run_contract(pytester, name)

    assert len(collected) >= 17, f"the contract suite was not collected: {sorted(collected)}"
    assert EXPECTED_FAILURES[name] <= collected, "an expected scenario no longer exists in the suite"
    assert failed == EXPECTED_FAILURES[name], result.stdout.str()
    result.assert_outcomes(passed=len(collected) - len(EXPECTED_FAILURES[name]), failed=len(EXPECTED_FAILURES[name]))
    for scenario in sorted(EXPECTED_FAILURES[name]):
        result.stdout.fnmatch_lines([f"FAILED {glob.escape(_node(scenario))}*"])
    for scenario in sorted(collected - EXPECTED_FAILURES[name]):
        result.stdout.fnmatch_lines([f"PASSED {glob.escape(_node(scenario))}"])
    for message in EXPECTED_MESSAGES[name]:
        result.stdout.fnmatch_lines([message])


@pytest.mark.parametrize(
    ("name", "scenario"),
    [
        ("PersistsAfterPolling", "test_fresh_run_persists_before_first_poll"),
        ("DropsResultOnReconnect", "test_result_and_xcoms_identical_on_every_path"),
        ("ReusesTokenAfterFailure", "test_terminal_failure_then_retry_resubmits_with_new_token"),
        ("UnknownStatusIsActive", "test_unknown_status_is_an_error"),
        ("KeepsNoResult", "test_cleared_after_success_with_the_job_forgotten_replays_the_result"),
        ("DeferrableSkipsTheDecision", "test_deferrable_retry_after_a_trigger_failure_reconnects"),
        ("DeferredPathReturnsNothing", "test_deferrable_result_and_xcoms_equal_the_polling_path"),
        ("FireAndForgetWithoutRecord", "test_fire_and_forget_retry_returns_the_submitted_job[lost]"),
        ("PersistsAfterPolling", "test_deferrable_persists_the_job_before_deferring"),
    ],
)
def test_targeted_scenario_alone_catches_the_break(pytester: Pytester, name: str, scenario: str) -> None:
    """Each break is caught by its own scenario run on its own (no help from other scenarios' state)."""
    pytester.syspathinsert(TESTS_DIR)
    pytester.makepyfile(test_contract_run=CONTRACT_MODULE.format(name=name))
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-rA", _node(scenario))
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"FAILED {glob.escape(_node(scenario))}*"])
