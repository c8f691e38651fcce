# SPDX-License-Identifier: LGPL-2.1-or-later
"""The abort rules when a writer fails (vss-model 4.3, 6; issue 4): a failure
at Freeze or Thaw (veto, missed freeze window, death) aborts the set and
every writer still concerned gets Abort; a failure at PrepareForSnapshot or
PostSnapshot sends no Abort, only marks the writer failed.  Each test runs a
volume-mode backup of a fresh btrfs subvolume with writers on it, plus one
writer elsewhere that never takes part."""

import os
import signal

import pytest

from abortkit import (FAILED_AT_FREEZE, FAILED_AT_POST_SNAPSHOT, FAILED_AT_PREPARE_SNAPSHOT,
                      FAILED_AT_THAW, STABLE, WAITING_FOR_BACKUP_COMPLETE, after,
                      assert_no_snapshot_left, count, error_of, names, prepared, provider_calls,
                      snapshot_ids, start, status, wait_event, wait_shutdown, writer)
from abortkit import abort_fs, vol  # noqa: F401 (fixtures)


def three_writers(env, vol, **failing):
    """The writer told to fail (@failing: --fail/--delay/... options), a
    good one on the same volume, and one elsewhere."""
    bad = writer(env, vol, name="bad", **failing)
    good = writer(env, vol, name="good")
    other = writer(env, None, name="other")
    return bad, good, other


def snapshot_then_status(env, vol):
    return env.requester(*prepared(vol), "do-snapshot", "status")


@pytest.mark.parametrize("event,state", [("freeze", FAILED_AT_FREEZE),
                                         ("thaw", FAILED_AT_THAW)])
def test_A2_freeze_or_thaw_veto_aborts(env_nostart, abort_fs, vol, event, state):
    """A2: a writer whose Freeze or Thaw handler returns false generates Abort:
    every participant gets it, the set fails with the writer's code, no
    snapshot remains; the writer elsewhere gets nothing of the backup."""
    env = start(env_nostart)
    bad, good, other = three_writers(env, vol, fail=f"{event}:WRITERERROR_RETRYABLE")
    res = snapshot_then_status(env, vol)
    assert error_of(res, "do-snapshot") == "WRITERERROR_RETRYABLE", res
    wait_shutdown(bad, good)
    for w in (bad, good):
        assert after(w, "freeze", "abort"), names(w)
        assert count(w, "abort") == 1, names(w)
        assert "post_snapshot" not in names(w)
    assert names(other) == ["identify"]
    assert status(res, bad) == (state, "WRITERERROR_RETRYABLE")
    assert status(res, good)[0] == STABLE  # Abort handled: back to stable
    assert_no_snapshot_left(env, abort_fs, res)


def test_A3_writer_hangs_in_freeze_past_its_timeout(env_nostart, abort_fs, vol):
    """A3: a writer that does not finish Freeze within its freeze window
    (it hangs there) fails the set with WRITERERROR_TIMEOUT, is shown
    FAILED_AT_FREEZE, and the others get Abort; no snapshot remains.  The
    hung writer cannot run a handler (its thread is stuck): the service does
    not wait for its Abort beyond abort-ms."""
    env = start(env_nostart, timeouts={"abort": 1000})
    bad, good, other = three_writers(env, vol, hang="freeze", freeze_timeout_ms=1000)
    res = snapshot_then_status(env, vol)
    assert error_of(res, "do-snapshot") == "WRITERERROR_TIMEOUT", res
    assert status(res, bad) == (FAILED_AT_FREEZE, "WRITERERROR_TIMEOUT")
    wait_shutdown(good)
    assert after(good, "freeze", "abort") and count(good, "abort") == 1, names(good)
    assert "thaw" not in names(good)
    assert names(bad)[-1] == "freeze"  # still inside its Freeze handler
    assert names(other) == ["identify"]
    assert_no_snapshot_left(env, abort_fs, res)


@pytest.mark.parametrize("how", ["veto", "timeout"])
def test_A13_failing_writer_gets_abort_too(env_nostart, abort_fs, vol, how):
    """A13: a writer that fails while handling Freeze or Thaw produces an
    Abort on its own, and receives it itself (protocol.md: "the writer whose
    Freeze or Thaw failed included").  Timeout: its Freeze handler takes
    longer than its freeze window, then it answers Abort."""
    env = start(env_nostart, timeouts={"abort": 5000})
    opts = {"fail": "freeze:none"} if how == "veto" else {"delay": "freeze:2000",
                                                      "freeze_timeout_ms": 800}
    bad, good, other = three_writers(env, vol, **opts)
    res = snapshot_then_status(env, vol)
    want = "WRITERERROR_NONRETRYABLE" if how == "veto" else "WRITERERROR_TIMEOUT"
    assert error_of(res, "do-snapshot") == want, res
    wait_shutdown(bad, good)
    for w in (bad, good):
        assert after(w, "freeze", "abort") and count(w, "abort") == 1, names(w)
    assert status(res, bad) == (FAILED_AT_FREEZE, want)
    assert names(other) == ["identify"]
    assert_no_snapshot_left(env, abort_fs, res)


def test_A14_prepare_snapshot_veto_sends_no_abort(env_nostart, abort_fs, vol):
    """A14: a veto in PrepareForSnapshot generates no Abort: the writer is
    FAILED_AT_PREPARE_SNAPSHOT with its code and gets no more events but
    BackupShutdown; the others go on to a successful set."""
    env = start(env_nostart)
    bad, good, other = three_writers(env, vol,
                                     fail="prepare_snapshot:WRITERERROR_OUTOFRESOURCES")
    res = env.requester(*prepared(vol), "do-snapshot", "status", "backup-complete")
    assert error_of(res, "do-snapshot") == "OK", res
    assert status(res, bad) == (FAILED_AT_PREPARE_SNAPSHOT, "WRITERERROR_OUTOFRESOURCES")
    assert status(res, good) == (WAITING_FOR_BACKUP_COMPLETE, "OK")
    wait_shutdown(bad, good)
    assert names(bad) == ["identify", "prepare_backup", "prepare_snapshot", "backup_shutdown"]
    assert names(good) == ["identify", "prepare_backup", "prepare_snapshot", "freeze", "thaw",
                           "post_snapshot", "backup_complete", "backup_shutdown"]
    assert names(other) == ["identify"]


def test_A15_post_snapshot_veto_sends_no_abort(env_nostart, abort_fs, vol):
    """A15: a veto in PostSnapshot generates no Abort, not even when the
    requester then calls abort_backup: the writer is FAILED_AT_POST_SNAPSHOT,
    the set was made and stays until the session ends."""
    env = start(env_nostart)
    bad, good, other = three_writers(env, vol, fail="post_snapshot:WRITERERROR_RETRYABLE")
    res = env.requester(*prepared(vol), "do-snapshot", "status", "abort", "status")
    assert error_of(res, "do-snapshot") == "OK", res
    assert error_of(res, "abort") == "OK", res
    assert status(res, bad, 0) == (FAILED_AT_POST_SNAPSHOT, "WRITERERROR_RETRYABLE")
    assert status(res, good, 0) == (WAITING_FOR_BACKUP_COMPLETE, "OK")
    assert status(res, bad, 1) == (FAILED_AT_POST_SNAPSHOT, "WRITERERROR_RETRYABLE")
    wait_shutdown(bad, good)
    for w in (bad, good):
        assert "abort" not in names(w), names(w)
    assert names(other) == ["identify"]


def test_B8_freeze_veto_causes_abort(env_nostart, abort_fs, vol):
    """B8: returning false from Freeze after setting a failure causes Abort;
    the failure set is the one reported (status and do_snapshot_set)."""
    env = start(env_nostart)
    bad = writer(env, vol, fail="freeze:WRITERERROR_INCONSISTENTSNAPSHOT")
    res = snapshot_then_status(env, vol)
    assert error_of(res, "do-snapshot") == "WRITERERROR_INCONSISTENTSNAPSHOT", res
    assert status(res, bad) == (FAILED_AT_FREEZE, "WRITERERROR_INCONSISTENTSNAPSHOT")
    wait_shutdown(bad)
    assert names(bad) == ["identify", "prepare_backup", "prepare_snapshot", "freeze", "abort",
                          "backup_shutdown"]
    assert_no_snapshot_left(env, abort_fs, res)


def test_T31_freeze_veto_aborts_writers_and_providers(env_nostart, abort_fs, vol):
    """T31: a Freeze veto gives every participant Abort and every involved
    provider its abort (it had prepared), and do_snapshot_set fails; no
    snapshot of the set remains.  No provider commit ran."""
    env = start(env_nostart)
    bad, good, other = three_writers(env, vol, fail="freeze:none")
    res = snapshot_then_status(env, vol)
    assert error_of(res, "do-snapshot") == "WRITERERROR_NONRETRYABLE", res
    wait_shutdown(bad, good)
    assert count(bad, "abort") == 1 and count(good, "abort") == 1
    assert names(other) == ["identify"]
    assert len(provider_calls(env, "end_prepare")) == 1
    assert len(provider_calls(env, "abort")) == 1, env.daemon_log()
    assert provider_calls(env, "commit") == []
    assert_no_snapshot_left(env, abort_fs, res)


def test_T32_thaw_veto_causes_abort(env_nostart, abort_fs, vol):
    """T32: a Thaw veto causes Abort, also to the writers that thawed well
    (they have not handled PostSnapshot, B5); the snapshot already committed
    is removed by the providers' abort."""
    env = start(env_nostart)
    bad, good, other = three_writers(env, vol, fail="thaw:WRITERERROR_RETRYABLE")
    res = snapshot_then_status(env, vol)
    assert error_of(res, "do-snapshot") == "WRITERERROR_RETRYABLE", res
    assert status(res, bad) == (FAILED_AT_THAW, "WRITERERROR_RETRYABLE")
    wait_shutdown(bad, good)
    for w in (bad, good):
        assert after(w, "thaw", "abort") and count(w, "abort") == 1, names(w)
    assert len(provider_calls(env, "commit")) == 1
    assert len(provider_calls(env, "abort")) == 1
    assert_no_snapshot_left(env, abort_fs, res)


def test_T33_prepare_snapshot_veto_no_abort_state_8(env_nostart, abort_fs, vol):
    """T33: a writer returning false from PrepareForSnapshot gets no Abort
    and is shown FAILED_AT_PREPARE_SNAPSHOT (8); false without a code is
    WRITERERROR_NONRETRYABLE.  With no other writer the set is still made."""
    env = start(env_nostart)
    bad = writer(env, vol, fail="prepare_snapshot:none")
    res = snapshot_then_status(env, vol)
    assert error_of(res, "do-snapshot") == "OK", res
    assert status(res, bad) == (8, "WRITERERROR_NONRETRYABLE")
    wait_shutdown(bad)
    assert "abort" not in names(bad) and "freeze" not in names(bad)
    assert provider_calls(env, "abort") == []


def test_T34_post_snapshot_veto_no_abort_snapshots_remain(env_nostart, abort_fs, vol):
    """T34: a writer returning false from PostSnapshot gets no Abort, is
    FAILED_AT_POST_SNAPSHOT (11), and the snapshots remain (listed, on disk)
    while the session lasts."""
    env = start(env_nostart)
    bad = writer(env, vol, fail="post_snapshot:none")
    res = env.requester(*prepared(vol), "do-snapshot", "status", "query-snapshots")
    assert error_of(res, "do-snapshot") == "OK", res
    assert status(res, bad) == (11, "WRITERERROR_NONRETRYABLE")
    ids = {s["snapshot_id"] for s in res.step("query-snapshots")["snapshots"]}
    assert ids == set(snapshot_ids(res)), res
    wait_shutdown(bad)
    assert "abort" not in names(bad)
    assert provider_calls(env, "abort") == []


def test_abort_writer_killed_in_freeze(env_nostart, abort_fs, vol):
    """A writer SIGKILLed inside its Freeze handler (design.md: a writer that
    dies mid-backup is failed at the current phase with
    WRITER_NOT_RESPONDING; between Freeze and Thaw that aborts the set): it
    is FAILED_AT_FREEZE, the set fails with that code, the other
    participants get Abort and never Thaw; no snapshot remains."""
    env = start(env_nostart)
    bad, good, other = three_writers(env, vol, crash="freeze")
    bad.expect_clean_exit = False
    res = snapshot_then_status(env, vol)
    assert error_of(res, "do-snapshot") == "WRITER_NOT_RESPONDING", res
    assert bad.proc.wait() == -signal.SIGKILL
    assert status(res, bad) == (FAILED_AT_FREEZE, "WRITER_NOT_RESPONDING")
    wait_shutdown(good)
    assert after(good, "freeze", "abort") and count(good, "abort") == 1, names(good)
    assert "thaw" not in names(good)
    assert names(bad)[-1] == "freeze"
    assert names(other) == ["identify"]
    assert_no_snapshot_left(env, abort_fs, res)


def test_abort_writer_killed_while_frozen(env_nostart, abort_fs, vol):
    """A writer SIGKILLed while frozen, after it answered Freeze, while the
    providers commit (protocol.md §6.4: "a writer gone between its Freeze
    answer and Thaw is FAILED_AT_THAW, WRITER_NOT_RESPONDING"): the set fails
    with that code at once, not at the end of the writer's (long) freeze
    window; the others get Abort and never Thaw; no snapshot remains."""
    env = start(env_nostart, testing=["provider-delay-ms=commit:1500"])
    bad, good, other = three_writers(env, vol, freeze_timeout_ms=60000)
    bad.expect_clean_exit = False
    bg = env.start_requester(*prepared(vol), "do-snapshot", "status")
    wait_event(bad, "freeze")
    wait_event(good, "freeze")
    os.kill(bad.pid, signal.SIGKILL)
    res = bg.wait()
    assert error_of(res, "do-snapshot") == "WRITER_NOT_RESPONDING", res
    assert status(res, bad) == (FAILED_AT_THAW, "WRITER_NOT_RESPONDING")
    wait_shutdown(good)
    assert after(good, "freeze", "abort") and "thaw" not in names(good), names(good)
    assert names(other) == ["identify"]
    assert_no_snapshot_left(env, abort_fs, res)
