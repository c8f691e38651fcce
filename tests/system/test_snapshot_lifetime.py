# SPDX-License-Identifier: LGPL-2.1-or-later
"""How long snapshots live: auto-release ones go when their session ends
(free, exit, SIGKILL: T48, T49, T50), persistent ones stay, also across a
restart of the service, which then also deletes what a dead session left;
and what query and delete_snapshots do (T51, T52, T53)."""

import signal
import subprocess
import uuid
from pathlib import Path

import pytest

from sctest import NULL_ID, backup_steps, wait_until

AFTER_SNAPSHOT = ["identify", "prepare_backup", "prepare_snapshot", "freeze", "thaw",
                  "post_snapshot"]


def errors(res):
    return [line["error"] for line in res.lines]


def ok(res):
    assert res.rc == 0, res
    return res


def location(res):
    """The location of the only snapshot the do-snapshot step made."""
    snaps = res.step("do-snapshot")["snapshots"]
    assert len(snaps) == 1, snaps
    return Path(snaps[0]["location"])


def wait_gone(path, timeout=10):
    wait_until(lambda: not path.exists(), timeout, f"{path} to be deleted")


def shutdown_event(writer, timeout=10):
    def logged():
        return next((e for e in writer.events() if e["event"] == "backup_shutdown"), None)

    return wait_until(logged, timeout, f"BackupShutdown to reach {writer.name}")


# --- T48, T49: the end of the session -----------------------------------------------

@pytest.mark.parametrize("how", ["free", "exit", "sigkill"])
def test_auto_release_deleted_at_session_end(env, volume, how):
    """T48, T49: when the requester frees its session, exits, or is killed
    with SIGKILL, its writers get BackupShutdown naming the set (whether or
    not BackupComplete was sent) and its auto-release snapshots are
    deleted.  With free this happens while the process still runs."""
    w = env.start_writer(file_sets=[volume])
    if how == "exit":
        res = ok(env.requester(*backup_steps(volume)))
        expected = AFTER_SNAPSHOT + ["backup_shutdown"]
    else:
        tail = ["backup-complete", "free"] if how == "free" else []
        req = env.start_requester(*backup_steps(volume), *tail, "sleep=60000")
        req.wait_step("do-snapshot")
        res = req.result()
        assert res.step("do-snapshot")["rc"] == 0, res
        if how == "sigkill":
            assert location(res).is_dir()
            req.proc.send_signal(signal.SIGKILL)
            req.wait()
            expected = AFTER_SNAPSHOT + ["backup_shutdown"]
        else:
            req.wait_step("free")
            expected = AFTER_SNAPSHOT + ["backup_complete", "backup_shutdown"]
    wait_gone(location(res))
    assert shutdown_event(w)["set"] == res.step("start-set")["set_id"]
    if how == "free":
        assert req.proc.poll() is None, "the requester ended before its session did"
    env.wait_sessions_ended(1)
    assert w.event_names() == expected
    assert env.snapshots() == []


def test_backup_shutdown_without_snapshot(env, volume):
    """T48: a session that ends after prepare_for_backup but before any
    snapshot was made sends Abort (the backup is abandoned) and then
    BackupShutdown with the null set id."""
    w = env.start_writer(file_sets=[volume])
    ok(env.requester("init", "backup-state=volume", "gather", "start-set",
                     f"add-volume={volume}", "prepare", "free"))
    assert shutdown_event(w)["set"] == NULL_ID
    env.wait_sessions_ended(1)
    assert w.event_names() == ["identify", "prepare_backup", "abort", "backup_shutdown"]


# --- T50: which contexts keep their snapshots -----------------------------------------

@pytest.mark.parametrize("context,kept", [("backup", False), ("file-share-backup", False),
                                          ("app-rollback", True), ("nas-rollback", True)])
def test_session_end_by_context(env, volume, context, kept):
    """T50: the end of the session deletes backup and file-share-backup
    snapshots and keeps app-rollback and nas-rollback ones."""
    res = ok(env.requester(*backup_steps(volume, context=context)))
    env.wait_sessions_ended(1)
    assert location(res).is_dir() == kept
    ids = [s["snapshot_id"] for s in env.snapshots()]
    assert ids == ([res.step("add-volume")["snapshot_id"]] if kept else [])


# --- across restarts of the service ------------------------------------------------------

def restart(env, sig=signal.SIGTERM):
    rc = env.stop_daemon(sig)
    if sig == signal.SIGTERM:
        assert rc == 0
    env.start_daemon()


def test_persistent_snapshots_survive_restart(env, mounts):
    """Persistent snapshots (app-rollback by `shadowcopy create`,
    nas-rollback by `create --no-writers`) are listed as they were after a
    restart of the service on the same state directory; their directories
    are still there, and they can be deleted afterwards."""
    vols = [mounts.subvolume(), mounts.subvolume()]
    env.start_writer(file_sets=vols)
    env.cli("create", str(vols[0]))
    env.cli("create", "--no-writers", str(vols[0]), str(vols[1]))
    before = env.snapshots()
    assert len(before) == 3
    restart(env)
    after = env.snapshots()
    assert after == before
    assert {s["context"] for s in after} == {"app-rollback", "nas-rollback"}
    for snap in after:
        assert snap["state"] == "committed"
        assert Path(snap["location"]).is_dir()
    env.cli("delete", "--all")
    for snap in after:
        assert not Path(snap["location"]).exists()


def test_dead_session_snapshots_deleted_at_start(env, volume):
    """When the service dies (SIGKILL) while a session holds auto-release
    snapshots, the next start deletes them (the catalog knew them); the
    persistent ones made before stay."""
    kept = ok(env.requester(*backup_steps(volume, context="app-rollback")))
    req = env.start_requester(*backup_steps(volume), "sleep=60000")
    req.wait_step("do-snapshot")
    auto = req.result()
    assert location(auto).is_dir()
    restart(env, signal.SIGKILL)
    wait_gone(location(auto))
    assert [s["snapshot_id"] for s in env.snapshots()] == [kept.step("add-volume")["snapshot_id"]]
    assert location(kept).is_dir()


def test_vanished_persistent_snapshot_is_missing(env, volume):
    """A persistent snapshot whose directory vanished while the service was
    down is listed in state missing after the restart, and can be deleted."""
    env.cli("create", "--no-writers", str(volume))
    env.cli("create", "--no-writers", str(volume))
    gone, stays = env.snapshots()
    assert env.stop_daemon() == 0
    subprocess.run(["btrfs", "subvolume", "delete", gone["location"]], check=True,
                   capture_output=True)
    env.start_daemon()
    states = {s["snapshot_id"]: s["state"] for s in env.snapshots()}
    assert states == {gone["snapshot_id"]: "missing", stays["snapshot_id"]: "committed"}
    env.cli("delete", gone["snapshot_id"])
    assert [s["snapshot_id"] for s in env.snapshots()] == [stays["snapshot_id"]]


# --- T51: query ------------------------------------------------------------------------------

def test_query_lists_the_session_context(env, mounts):
    """T51: query lists the committed snapshots of the session's context
    only (all of them under context all); and every provider."""
    vols = [mounts.subvolume(), mounts.subvolume()]
    persistent = ok(env.requester(*backup_steps(vols[0], context="app-rollback")))
    holder = env.start_requester(*backup_steps(vols[1]), "query-snapshots", "query-providers",
                                 "sleep=60000")
    holder.wait_step("query-providers")
    res = ok(env.requester("init", "context=app-rollback", "query-snapshots",
                           "new", "init", "context=nas-rollback", "query-snapshots",
                           "new", "init", "context=all", "query-snapshots"))
    mine = holder.result().step("add-volume")["snapshot_id"]
    theirs = persistent.step("add-volume")["snapshot_id"]
    listed = [[s["snapshot_id"] for s in res.step("query-snapshots", i)["snapshots"]]
              for i in range(3)]
    assert [s["snapshot_id"] for s in holder.result().step("query-snapshots")["snapshots"]] \
        == [mine]
    assert listed[0] == [theirs]
    assert listed[1] == []
    assert sorted(listed[2]) == sorted([mine, theirs])
    providers = holder.result().step("query-providers")["providers"]
    assert "btrfs" in [p["name"] for p in providers]


def test_query_before_init(env):
    """query before initialize_for_backup is BAD_STATE."""
    res = env.requester("query-snapshots", "query-providers")
    assert errors(res) == ["BAD_STATE", "BAD_STATE"], res


# --- T52, T53: delete_snapshots ------------------------------------------------------------

def test_delete_set(env, mounts):
    """T52: deleting a set deletes each member: the count of the set and the
    null id as the failing one; the snapshots are gone from disk and from
    the list."""
    vols = [mounts.subvolume() for _ in range(3)]
    made = ok(env.requester(*backup_steps(*vols, context="nas-rollback")))
    locations = [Path(s["location"]) for s in made.step("do-snapshot")["snapshots"]]
    set_id = made.step("start-set")["set_id"]
    res = ok(env.requester("init", "context=all", f"delete={set_id},set"))
    step = res.step("delete")
    assert (step["deleted"], step["non_deleted_id"]) == (3, NULL_ID)
    for loc in locations:
        assert not loc.exists()
    assert env.snapshots() == []


def test_delete_one_snapshot(env, mounts):
    """Deleting one snapshot of a set leaves the others."""
    vols = [mounts.subvolume(), mounts.subvolume()]
    made = ok(env.requester(*backup_steps(*vols, context="nas-rollback"), "delete=$SNAP1"))
    step = made.step("delete")
    assert (step["deleted"], step["non_deleted_id"]) == (1, NULL_ID)
    snaps = made.step("do-snapshot")["snapshots"]
    assert not Path(snaps[0]["location"]).exists()
    assert Path(snaps[1]["location"]).is_dir()
    assert [s["snapshot_id"] for s in env.snapshots()] == [snaps[1]["snapshot_id"]]


def test_delete_unknown(env, volume):
    """T53: an unknown snapshot or set id is OBJECT_NOT_FOUND, with nothing
    deleted; so is a snapshot already deleted."""
    res = env.requester(*backup_steps(volume, context="nas-rollback"), "delete=$SNAP1",
                        "delete=$SNAP1", f"delete={uuid.uuid4()}", f"delete={uuid.uuid4()},set")
    assert errors(res)[-4:] == ["OK", "OBJECT_NOT_FOUND", "OBJECT_NOT_FOUND",
                                "OBJECT_NOT_FOUND"], res
    for nth in (1, 2, 3):
        assert res.step("delete", nth)["deleted"] == 0


def test_delete_stops_at_first_failure(env_nostart, mounts):
    """T52: when the provider fails to delete, deleting a set stops at the
    first member: none deleted, that member named as the failing one, the
    call failing; every snapshot stays, on disk and in the list."""
    env = env_nostart
    env.start_daemon(extra="\n[testing]\nprovider-fail=delete\n")
    vols = [mounts.subvolume(), mounts.subvolume()]
    made = ok(env.requester(*backup_steps(*vols, context="nas-rollback")))
    set_id = made.step("start-set")["set_id"]
    res = env.requester("init", "context=all", f"delete={set_id},set")
    step = res.step("delete")
    assert step["rc"] < 0 and step["error"] != "OBJECT_NOT_FOUND", res
    first = made.step("add-volume", 0)["snapshot_id"]
    assert (step["deleted"], step["non_deleted_id"]) == (0, first)
    assert len(env.snapshots()) == 2
    for snap in made.step("do-snapshot")["snapshots"]:
        assert Path(snap["location"]).is_dir()
