# SPDX-License-Identifier: LGPL-2.1-or-later
"""The abort rules when a provider fails (vss-model 6: A4, B13-B17, T40),
with the daemon's [testing] switches (shadowcopy.conf(5)): provider-fail
makes a step really run and then report failure, so that the providers'
abort has real snapshots to undo; provider-delay-ms makes it slow.  The
provider calls are read from the daemon's debug log ("provider btrfs:
STEP(n snapshots): RESULT")."""

import pytest

from abortkit import (after, assert_no_snapshot_left, assert_snapshots_exist, count, error_of,
                      log_index, names, prepared, provider_calls, start, status, wait_event,
                      wait_shutdown, writer)
from abortkit import abort_fs, vol  # noqa: F401 (fixtures)

# The steps of creation in order (vss-model 7.2), and whether the writers
# are still concerned by Abort when it fails (not after PostSnapshot, B5).
STEPS = ["begin_prepare", "end_prepare", "pre_commit", "commit", "post_commit",
         "pre_final_commit", "post_final_commit"]


@pytest.mark.parametrize("step", STEPS[:-1])
def test_A4_provider_failure_after_prepare_snapshot_aborts(env_nostart, abort_fs, vol, step):
    """A4: a provider failure after PrepareForSnapshot (here at every step
    before PostSnapshot) sends Abort to every participant, fails the set
    with the translated error (EIO -> UNEXPECTED_PROVIDER_ERROR, vss-model
    2.5), and leaves no snapshot."""
    env = start(env_nostart, testing=[f"provider-fail={step}"])
    a, b = writer(env, vol), writer(env, vol)
    other = writer(env, None)
    res = env.requester(*prepared(vol), "do-snapshot", "status")
    assert error_of(res, "do-snapshot") == "UNEXPECTED_PROVIDER_ERROR", res
    wait_shutdown(a, b)
    for w in (a, b):
        assert after(w, "prepare_snapshot", "abort") and count(w, "abort") == 1, names(w)
        assert "post_snapshot" not in names(w)
    assert names(other) == ["identify"]
    assert_no_snapshot_left(env, abort_fs, res)


def test_A4_commit_failure_with_its_code(env_nostart, abort_fs, vol):
    """A4, the issue's case: a provider made to fail at commit by the test
    switch with a code of the provider's allowed list: that code is the
    set's result; writers frozen at the time get Abort and never Thaw."""
    env = start(env_nostart, testing=["provider-fail=commit:INSUFFICIENT_STORAGE"])
    a = writer(env, vol)
    res = env.requester(*prepared(vol), "do-snapshot", "status")
    assert error_of(res, "do-snapshot") == "INSUFFICIENT_STORAGE", res
    wait_shutdown(a)
    assert names(a)[-3:] == ["freeze", "abort", "backup_shutdown"]
    assert status(res, a) == (1, "OK")  # an Abort handled well: STABLE
    assert_no_snapshot_left(env, abort_fs, res)


def test_B13_no_provider_abort_before_end_prepare(env_nostart, abort_fs, vol):
    """B13: providers get abort only once end_prepare was called: a failure
    in begin_prepare aborts the writers but tells the provider nothing; a
    set abandoned before do_snapshot_set never reaches a provider at all."""
    env = start(env_nostart, testing=["provider-fail=begin_prepare"])
    a = writer(env, vol)
    res = env.requester(*prepared(vol), "do-snapshot", "free")
    assert error_of(res, "do-snapshot") == "UNEXPECTED_PROVIDER_ERROR", res
    wait_shutdown(a)
    assert count(a, "abort") == 1
    assert len(provider_calls(env, "begin_prepare")) == 1
    assert provider_calls(env, "end_prepare") == []
    assert provider_calls(env, "abort") == [], env.daemon_log()
    res = env.requester(*prepared(vol), "abort", "free")
    assert res.rc == 0, res
    wait_event(a, "backup_shutdown", n=2)
    assert len(provider_calls(env, "begin_prepare")) == 1  # the second set: nothing


def test_B14_provider_abort_removes_every_snapshot_of_the_set(env_nostart, abort_fs):
    """B14: the provider's abort cancels every snapshot of the set it made:
    two volumes committed, then post_commit fails: neither snapshot remains."""
    env = start(env_nostart, testing=["provider-fail=post_commit"])
    v1, v2 = abort_fs.new_volume(), abort_fs.new_volume()
    a = writer(env, v1)
    res = env.requester(*prepared(v1, v2), "do-snapshot")
    assert error_of(res, "do-snapshot") == "UNEXPECTED_PROVIDER_ERROR", res
    wait_shutdown(a)
    commit = provider_calls(env, "commit")
    assert len(commit) == 1 and "(2 snapshots)" in commit[0], commit
    assert len(provider_calls(env, "abort")) == 1
    assert_no_snapshot_left(env, abort_fs, res)


def test_B15_abort_during_a_long_end_prepare(env_nostart, abort_fs, vol):
    """B15: end_prepare may be long and the set may be abandoned meanwhile:
    the writers get Abort at once (not when end_prepare returns), the
    provider's abort runs after end_prepare has returned (the service never
    runs two calls of one provider at once), and nothing remains."""
    env = start(env_nostart, testing=["provider-delay-ms=end_prepare:2000"])
    a = writer(env, vol)
    res = env.requester(*prepared(vol), "do-snapshot-async", "sleep=300", "abort", "wait")
    assert res.step("wait").get("async") == "cancelled", res
    wait_shutdown(a)
    t_abort = [e["t"] for e in a.events() if e["event"] == "abort"][0]
    t_prep = [e["t"] for e in a.events() if e["event"] == "prepare_snapshot"][0]
    assert t_abort - t_prep < 1500 * 1000, "Abort waited for end_prepare"
    assert "freeze" not in names(a)
    end = log_index(env, "end_prepare(")
    ab = log_index(env, ": abort(")
    assert end is not None and ab is not None and end < ab, env.daemon_log()
    assert_no_snapshot_left(env, abort_fs, res)


def test_B16_provider_abort_errors_are_not_translated(env_nostart, abort_fs, vol):
    """B16: the result of the providers' abort is not turned into
    UNEXPECTED_PROVIDER_ERROR: a failing abort after a commit failure leaves
    the commit's code as the set's result.  What the failed abort left is
    removed by the catalog's recovery at the next start of the service
    (design.md "Catalog and recovery"), so no snapshot of the set remains."""
    env = start(env_nostart, testing=["provider-fail=commit:INSUFFICIENT_STORAGE",
                                      "provider-fail=abort:EIO"])
    a = writer(env, vol)
    res = env.requester(*prepared(vol), "do-snapshot")
    assert error_of(res, "do-snapshot") == "INSUFFICIENT_STORAGE", res
    wait_shutdown(a)
    assert count(a, "abort") == 1
    assert len(provider_calls(env, "abort")) == 1
    assert_snapshots_exist(abort_fs, res)  # the failed abort left it
    env.stop_daemon()
    env.start_daemon()  # the same configuration: recovery deletes what abort left
    assert_no_snapshot_left(env, abort_fs, res)


@pytest.mark.parametrize("step", ["commit", "post_final_commit"])
def test_B17_no_partial_commit(env_nostart, abort_fs, step):
    """B17: one failure fails the whole set: with two volumes and a provider
    failing at commit (before Thaw) or at post_final_commit (after
    PostSnapshot, when no writer is concerned by Abort any more, B5), the set
    fails and neither snapshot remains."""
    env = start(env_nostart, testing=[f"provider-fail={step}"])
    v1, v2 = abort_fs.new_volume(), abort_fs.new_volume()
    a = writer(env, v1)
    res = env.requester(*prepared(v1, v2), "do-snapshot")
    assert error_of(res, "do-snapshot") == "UNEXPECTED_PROVIDER_ERROR", res
    wait_shutdown(a)
    if step == "post_final_commit":
        assert "post_snapshot" in names(a) and "abort" not in names(a), names(a)
    else:
        assert count(a, "abort") == 1
    assert_no_snapshot_left(env, abort_fs, res)


@pytest.mark.parametrize("step", STEPS)
def test_T40_provider_abort_only_after_end_prepare(env_nostart, abort_fs, vol, step):
    """T40: a provider failure from end_prepare on makes the service call
    every provider's abort for the set (the one provider here), once, after
    the failing call; a failure before end_prepare (begin_prepare) never
    reaches abort."""
    env = start(env_nostart, testing=[f"provider-fail={step}"])
    a = writer(env, vol)
    res = env.requester(*prepared(vol), "do-snapshot")
    assert error_of(res, "do-snapshot") == "UNEXPECTED_PROVIDER_ERROR", res
    wait_shutdown(a)
    aborts = provider_calls(env, "abort")
    if step == "begin_prepare":
        assert aborts == [], env.daemon_log()
        return
    assert len(aborts) == 1, env.daemon_log()
    lines = env.daemon_log().splitlines()
    failed = [i for i, l in enumerate(lines) if f": {step}(" in l and "provider " in l]
    assert failed and failed[0] < lines.index(aborts[0])
    # nothing after the failing step was called
    for later in STEPS[STEPS.index(step) + 1:]:
        assert provider_calls(env, later) == [], (later, env.daemon_log())
