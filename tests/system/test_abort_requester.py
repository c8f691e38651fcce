# SPDX-License-Identifier: LGPL-2.1-or-later
"""The requester's side of the abort rules (vss-model 6, A1, A5-A12, A16,
A17, B1-B3, B10, B11, B18; T35-T38): abort_backup and what it sends, and the
requester's duties as the library carries them (free after PrepareForBackup
aborts first, free before it sends nothing) and as the service carries them
for a requester that dies.  Each test runs a volume-mode backup of a fresh
btrfs subvolume; "other" is a writer whose data lies elsewhere."""

import pytest

from abortkit import (FAILED_AT_PREPARE_BACKUP, STABLE, assert_no_snapshot_left, backup_start,
                      count, error_of, errors, kill, listed, log_index, names, prepared, start,
                      status, wait_event, wait_shutdown, writer)
from abortkit import abort_fs, vol  # noqa: F401 (fixtures)
from sctest import error_name, wait_until

DISCONNECTED = "test-requester) disconnected"
ABANDONS = "abandons its backup"


def abandons_before_disconnect(env):
    """True when the last abandoned session was aborted while its requester
    was still connected (the library's abort_backup), False when only after
    it left (the service's rule for a requester that is gone).  From the
    daemon's log: "Session ID abandons its backup", "REQUESTER started
    session ID", "REQUESTER disconnected"."""
    lines = env.daemon_log().splitlines()
    aborts = [i for i, l in enumerate(lines) if ABANDONS in l]
    assert aborts, env.daemon_log()
    session = lines[aborts[-1]].split("Session ", 1)[1].split()[0]
    started = [l for l in lines if l.endswith(f"started session {session}")]
    assert started, env.daemon_log()
    who = started[0].split("shadowcopyd: ", 1)[-1].rsplit(" started session", 1)[0]
    gone = [i for i, l in enumerate(lines) if l.endswith(f"{who} disconnected")]
    return not gone or aborts[-1] < gone[0]


def test_A1_abort_backup_sends_abort(env_nostart, abort_fs, vol):
    """A1: abort_backup after PrepareForBackup sends Abort to every writer
    taking part, and to no one else; each is STABLE again."""
    env = start(env_nostart)
    a, b = writer(env, vol), writer(env, vol)
    other = writer(env, None)
    res = env.requester(*prepared(vol), "abort", "status")
    assert res.rc == 0, res
    wait_shutdown(a, b)
    for w in (a, b):
        assert names(w) == ["identify", "prepare_backup", "abort", "backup_shutdown"]
        assert status(res, w) == (STABLE, "OK")
    assert names(other) == ["identify"]


def test_A5_no_abort_for_restore(env_nostart):
    """A5: aborts are not supported for restore: abort_backup on a session
    initialised for restore is BAD_STATE.  Restore sessions do not exist yet
    (issue 4: "restore itself comes later"); the test runs once they do."""
    env = start(env_nostart)
    with env.raw("requester") as c:
        r = c.call("initialize_for_restore", {"document": None})
        if error_name(r) == "UNKNOWN_METHOD":
            pytest.skip("initialize_for_restore is not implemented yet (restore comes later)")
        assert "result" in r, r
        assert error_name(c.call("abort_backup")) == "BAD_STATE"


def test_A6_one_requester_one_backup(env_nostart, abort_fs, vol):
    """A6: after an error the requester is released and a new one makes the
    backup: the failed session cannot start another set, a new one can, and
    its backup succeeds."""
    env = start(env_nostart)
    w = writer(env, vol, fail="freeze")
    res = env.requester(*prepared(vol), "do-snapshot", "start-set", "do-snapshot")
    assert errors(res)[-3:] == [("do-snapshot", "WRITERERROR_RETRYABLE"),
                                ("start-set", "BAD_STATE"), ("do-snapshot", "BAD_STATE")]
    w.stop()
    good = writer(env, vol)
    res2 = env.requester(*prepared(vol), "do-snapshot", "backup-complete", "free")
    assert res2.rc == 0, res2
    wait_shutdown(good)
    assert "abort" not in names(good)


@pytest.mark.parametrize("steps", [["init"], ["init", "gather"], "set", "volume"],
                         ids=["init", "gather", "start-set", "add-volume"])
def test_A7_abort_before_prepare_sends_nothing(env_nostart, abort_fs, vol, steps):
    """A7: an explicit abort only matters once writers were prepared: before
    PrepareForBackup abort_backup succeeds and no writer hears of it."""
    env = start(env_nostart)
    w = writer(env, vol)
    if steps == "set":
        steps = backup_start(vol)[:-1]
    elif steps == "volume":
        steps = backup_start(vol)
    res = env.requester(*steps, "abort", "free")
    assert res.rc == 0, res
    wait_until(lambda: log_index(env, DISCONNECTED) is not None, 10, "the requester to leave")
    assert names(w) == (["identify"] if "gather" in steps else [])
    assert log_index(env, ABANDONS) is None


def test_A8_free_after_prepare_aborts_first(env_nostart, abort_fs, vol):
    """A8 (a requester duty the library carries): freeing a requester after a
    successful prepare_for_backup, without backup_complete or abort_backup,
    calls abort_backup and waits for it before closing: the session is
    abandoned while the requester is still connected."""
    env = start(env_nostart)
    a, other = writer(env, vol), writer(env, None)
    res = env.requester(*prepared(vol), "free")
    assert res.rc == 0, res
    wait_shutdown(a)
    assert names(a) == ["identify", "prepare_backup", "abort", "backup_shutdown"]
    assert names(other) == ["identify"]
    assert abandons_before_disconnect(env), env.daemon_log()


def test_A9_abort_after_a_veto_tells_the_others(env_nostart, abort_fs, vol):
    """A9: when a writer vetoes (here PrepareForBackup), the requester's
    abort_backup tells every other writer that the backup will not finish;
    the vetoing writer is out of the backup and gets only BackupShutdown."""
    env = start(env_nostart)
    bad = writer(env, vol, fail="prepare_backup:WRITERERROR_RETRYABLE")
    good = writer(env, vol)
    res = env.requester(*prepared(vol), "status", "abort")
    assert res.rc == 0, res
    assert status(res, bad) == (FAILED_AT_PREPARE_BACKUP, "WRITERERROR_RETRYABLE")
    wait_shutdown(bad, good)
    assert names(good) == ["identify", "prepare_backup", "abort", "backup_shutdown"]
    assert names(bad) == ["identify", "prepare_backup", "backup_shutdown"]


@pytest.mark.parametrize("case", ["init", "gather", "add-volume", "failed-prepare"])
def test_A10_free_before_prepare_sends_no_abort(env_nostart, abort_fs, vol, case):
    """A10: before PrepareForBackup, or after a PrepareForBackup that failed
    (here BAD_STATE: no backup state set, T19), free sends no abort and no
    writer gets any event of a backup."""
    env = start(env_nostart)
    w = writer(env, vol)
    steps = {"init": ["init"], "gather": ["init", "gather"],
             "add-volume": backup_start(vol),
             "failed-prepare": ["init", "gather", "start-set", f"add-volume={vol}",
                                "prepare"]}[case]
    res = env.requester(*steps, "free")
    if case == "failed-prepare":
        assert error_of(res, "prepare") == "BAD_STATE", res
    wait_until(lambda: log_index(env, DISCONNECTED) is not None, 10, "the requester to leave")
    assert log_index(env, ABANDONS) is None, env.daemon_log()
    assert names(w) == ([] if case == "init" else ["identify"])


def test_A11_gather_only_then_free(env_nostart, abort_fs, vol):
    """A11: a requester used only to read writer metadata is simply freed:
    the writers see Identify and nothing else (no Abort, no BackupShutdown)."""
    env = start(env_nostart)
    w = writer(env, vol)
    res = env.requester("init", "gather", "metadata", "free")
    assert res.rc == 0, res
    wait_until(lambda: log_index(env, DISCONNECTED) is not None, 10, "the requester to leave")
    assert names(w) == ["identify"]
    assert log_index(env, ABANDONS) is None


def test_A12_do_snapshot_set_makes_the_four_events(env_nostart, abort_fs, vol):
    """A12: DoSnapshotSet is what makes PrepareForSnapshot, Freeze, Thaw and
    PostSnapshot happen: a backup aborted after PrepareForBackup has none of
    them; one with do_snapshot_set has each once, in order."""
    env = start(env_nostart)
    w = writer(env, vol)
    env.requester(*prepared(vol), "abort")
    wait_shutdown(w)
    assert names(w) == ["identify", "prepare_backup", "abort", "backup_shutdown"]
    res = env.requester(*prepared(vol), "do-snapshot", "backup-complete")
    assert res.rc == 0, res
    wait_event(w, "backup_shutdown", n=2)
    assert names(w)[4:] == ["identify", "prepare_backup", "prepare_snapshot", "freeze", "thaw",
                            "post_snapshot", "backup_complete", "backup_shutdown"]


def test_A16_abort_after_failed_do_snapshot_set(env_nostart, abort_fs, vol):
    """A16: after a failed do_snapshot_set (Freeze veto: the Abort was sent
    already) abort_backup is safe: it succeeds, twice, and no writer gets a
    second Abort; freeing afterwards sends nothing more."""
    env = start(env_nostart)
    bad, good = writer(env, vol, fail="freeze"), writer(env, vol)
    res = env.requester(*prepared(vol), "do-snapshot", "abort", "abort", "status", "free")
    assert errors(res)[-5:] == [("do-snapshot", "WRITERERROR_RETRYABLE"), ("abort", "OK"),
                                ("abort", "OK"), ("status", "OK"), ("free", "OK")]
    wait_shutdown(bad, good)
    assert count(bad, "abort") == 1 and count(good, "abort") == 1
    assert env.daemon_log().count(ABANDONS) == 1
    assert_no_snapshot_left(env, abort_fs, res)


def test_A17_no_backup_complete_needed_after_abort(env_nostart, abort_fs, vol):
    """A17: after abort_backup, BackupComplete is not required (and refused:
    BAD_STATE); freeing the requester then ends the session with
    BackupShutdown and no further Abort."""
    env = start(env_nostart)
    w = writer(env, vol)
    res = env.requester(*prepared(vol), "abort", "backup-complete", "free")
    assert errors(res)[-3:] == [("abort", "OK"), ("backup-complete", "BAD_STATE"),
                                ("free", "OK")]
    wait_shutdown(w)
    assert names(w) == ["identify", "prepare_backup", "abort", "backup_shutdown"]
    assert env.daemon_log().count(ABANDONS) == 1


def test_B1_abort_between_start_set_and_do_snapshot_return(env_nostart, abort_fs, vol):
    """B1: abort_backup is what ends a backup stopped after start_snapshot_set:
    it releases the set at once (another requester may start one while the
    first is still connected; without the abort it gets
    SNAPSHOT_SET_IN_PROGRESS), and freeing during a running do_snapshot_set
    aborts it: the writers get Abort."""
    env = start(env_nostart)
    w = writer(env, vol, delay="prepare_snapshot:1500")
    held = env.start_requester(*backup_start(vol) + ["sleep=30000"])
    held.wait_step("add-volume")
    assert error_of(env.requester("init", "start-set"), "start-set") == \
        "SNAPSHOT_SET_IN_PROGRESS"
    kill(held)
    dropped = env.start_requester(*backup_start(vol) + ["abort", "sleep=30000"])
    dropped.wait_step("abort")
    assert error_of(env.requester("init", "start-set"), "start-set") == "OK"
    kill(dropped)
    res = env.requester(*prepared(vol), "do-snapshot-async", "sleep=300", "free")
    assert res.rc == 0, res
    wait_shutdown(w)
    assert names(w)[-4:] == ["prepare_backup", "prepare_snapshot", "abort", "backup_shutdown"]
    assert abandons_before_disconnect(env)


@pytest.mark.parametrize("steps", [["init"], ["init", "gather"], "complete"],
                         ids=["init", "gather", "after-backup-complete"])
def test_B2_abort_ignored_when_nothing_under_way(env_nostart, abort_fs, vol, steps):
    """B2: abort_backup when no backup is under way (initialised only,
    metadata gathered, or the backup complete) returns OK and sends nothing."""
    env = start(env_nostart)
    w = writer(env, vol)
    if steps == "complete":
        steps = prepared(vol) + ["do-snapshot", "backup-complete"]
    res = env.requester(*steps, "abort", "abort", "free")
    assert res.rc == 0, res
    wait_until(lambda: log_index(env, DISCONNECTED) is not None, 10, "the requester to leave")
    if "backup-complete" in steps:
        wait_shutdown(w)
    assert "abort" not in names(w)
    assert log_index(env, ABANDONS) is None


def test_B3_abort_before_initialize_is_bad_state(env_nostart):
    """B3: abort_backup on a requester not initialised returns BAD_STATE."""
    env = start(env_nostart)
    res = env.requester("abort", "init", "abort")
    assert errors(res) == [("abort", "BAD_STATE"), ("init", "OK"), ("abort", "OK")]


def test_B10_requester_killed_after_snapshots_only_shutdown(env_nostart, abort_fs, vol):
    """B10: on an abrupt end a writer may get only BackupShutdown: a requester
    SIGKILLed after a successful do_snapshot_set leaves its writers no
    BackupComplete and no Abort (they handled PostSnapshot, B5), only
    BackupShutdown; its auto-release snapshots are deleted."""
    env = start(env_nostart)
    w = writer(env, vol)
    bg = env.start_requester(*prepared(vol) + ["do-snapshot", "sleep=30000"])
    bg.wait_step("do-snapshot")
    kill(bg)
    wait_shutdown(w)
    assert names(w)[-2:] == ["post_snapshot", "backup_shutdown"]
    assert "abort" not in names(w) and "backup_complete" not in names(w)
    snap = bg.result().step("add-volume")["snapshot_id"]
    wait_until(lambda: snap not in abort_fs.snapshot_entries() and not listed(env), 10,
               "the auto-release snapshot to be deleted")


def test_B11_no_backup_complete_after_failed_do_snapshot(env_nostart, abort_fs, vol):
    """B11: after a failed do_snapshot_set, set_backup_succeeded and
    backup_complete are refused (BAD_STATE) and no writer gets BackupComplete."""
    env = start(env_nostart)
    w = writer(env, vol, fail="freeze")
    comp = "$WRITER0_INSTANCE,$WRITER0_CLASS,filegroup,,file-set-1"
    res = env.requester("init", "backup-state=component", "gather", "metadata",
                        f"add-component={comp}", "start-set", f"add-volume={vol}", "prepare",
                        "do-snapshot", f"backup-succeeded={comp},true", "backup-complete")
    assert errors(res)[-3:] == [("do-snapshot", "WRITERERROR_RETRYABLE"),
                                ("backup-succeeded", "BAD_STATE"),
                                ("backup-complete", "BAD_STATE")], res
    wait_shutdown(w)
    assert "backup_complete" not in names(w)


@pytest.mark.parametrize("when", ["after-prepare", "during-do-snapshot"])
def test_B18_requester_killed_is_aborted_by_the_service(env_nostart, abort_fs, vol, when):
    """B18: a requester that dies (SIGKILL, so no library runs) after
    PrepareForBackup, or while do_snapshot_set runs with the writers frozen,
    is aborted by the service when its connection closes: Abort, then
    BackupShutdown; no Thaw; no snapshot of its set remains; the set lock is
    free for the next requester."""
    env = start(env_nostart, testing=["provider-delay-ms=commit:1500"])
    a, b = writer(env, vol), writer(env, vol)
    other = writer(env, None)
    steps = prepared(vol) + (["sleep=30000"] if when == "after-prepare"
                             else ["do-snapshot", "sleep=30000"])
    bg = env.start_requester(*steps)
    if when == "after-prepare":
        bg.wait_step("prepare")
    else:
        wait_event(a, "freeze")
        wait_event(b, "freeze")
    kill(bg)
    wait_shutdown(a, b)
    for w in (a, b):
        assert names(w)[-2:] == ["abort", "backup_shutdown"], names(w)
        assert count(w, "abort") == 1 and "thaw" not in names(w)
    assert names(other) == ["identify"]
    assert not abandons_before_disconnect(env)
    snap = bg.result().step("add-volume")["snapshot_id"]
    wait_until(lambda: snap not in abort_fs.snapshot_entries() and not listed(env), 10,
               "no snapshot of the set")
    assert error_of(env.requester("init", "start-set"), "start-set") == "OK"


def test_T35_no_abort_after_post_snapshot(env_nostart, abort_fs, vol):
    """T35: writers that completed PostSnapshot never receive Abort for that
    session, even when the requester then calls abort_backup."""
    env = start(env_nostart)
    a, b = writer(env, vol), writer(env, vol)
    res = env.requester(*prepared(vol), "do-snapshot", "abort", "abort", "free")
    assert res.rc == 0, res
    wait_shutdown(a, b)
    for w in (a, b):
        assert "abort" not in names(w)


def test_T36_abort_after_prepare_reaches_every_instance(env_nostart, abort_fs, vol):
    """T36: abort_backup after PrepareForBackup delivers Abort to each writer
    instance that has not passed PostSnapshot: two instances of one class and
    one of another class, once each."""
    env = start(env_nostart)
    cls = "6d5e2b1a-0c3f-4b7e-9a12-3456789abc01"
    ws = [writer(env, vol, class_id=cls, instance_name="one"),
          writer(env, vol, class_id=cls, instance_name="two"), writer(env, vol)]
    assert len({w.instance_id for w in ws}) == 3
    res = env.requester(*prepared(vol), "abort")
    assert res.rc == 0, res
    wait_shutdown(*ws)
    for w in ws:
        assert count(w, "abort") == 1, names(w)


@pytest.mark.parametrize("steps", [["init"], ["init", "gather"]], ids=["init", "gather"])
def test_T37_abort_with_nothing_under_way(env_nostart, abort_fs, vol, steps):
    """T37: abort_backup on an initialised object with no operation under way
    returns OK (through the raw protocol: the service's answer) and sends
    nothing to the writers."""
    env = start(env_nostart)
    w = writer(env, vol)
    with env.raw("requester") as c:
        for step in steps:
            method = "initialize_for_backup" if step == "init" else "gather_writer_metadata"
            assert "result" in c.call(method, {"document": None} if step == "init" else None)
        assert c.call("abort_backup") == {"id": c.next_id - 1, "result": {}}
    assert names(w) == (["identify"] if "gather" in steps else [])
    assert log_index(env, ABANDONS) is None


def test_T38_abort_uninitialised_is_bad_state(env_nostart):
    """T38: abort_backup before initialize_for_backup is BAD_STATE, also
    through the raw protocol, and the connection stays usable."""
    env = start(env_nostart)
    with env.raw("requester") as c:
        assert error_name(c.call("abort_backup")) == "BAD_STATE"
        assert "result" in c.call("initialize_for_backup", {"document": None})
        assert "result" in c.call("abort_backup")
