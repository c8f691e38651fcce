# SPDX-License-Identifier: LGPL-2.1-or-later
"""Reconciliation at start (issue 6 item 3; design.md "Catalog and
recovery"): what the catalog says is made to agree with the disks before
the service serves.  A set left in the middle of creation is removed with
its provider, whatever step it reached (B14, B17: no partial set survives);
auto-release snapshots of sessions that died with the service are deleted
(T49, T50); persistent snapshots whose data vanished are listed as missing
(text and JSON) and can be deleted, and are committed again when their data
comes back; snapshots on a filesystem that is not mounted at start are kept
until a start that can reach them; and writers reconnecting to the new
service are told nothing of the old one's backups (B6, B7).

The btrfs provider on conftest's loop btrfs throughout (test_hold_window.py
covers a half-made reflink-image clone).  The service is held inside a set
by a slow provider step (the [testing] switch) and killed there with
SIGKILL; nothing is ever frozen (FIFREEZE): btrfs never holds writes."""

import json
import signal
import sqlite3
import subprocess
from pathlib import Path

import pytest

from abortkit import (count, names, now_usec, prepared, start, wait_event, wait_shutdown,
                      writer)
from abortkit import abort_fs, vol  # noqa: F401 (fixtures)
from sctest import Mounts, backup_steps, scaled, wait_until

USEC = 1000000


def catalog(env):
    """The snapshot rows of the catalog: {id: (state, location)}, read
    directly (also while no service runs)."""
    db = sqlite3.connect(f"file:{env.state_dir}/catalog.sqlite?mode=ro", uri=True)
    try:
        return {r[0]: (r[1], r[2]) for r in db.execute("SELECT id, state, location "
                                                          "FROM snapshots")}
    finally:
        db.close()


def kill(env):
    """SIGKILL the service (by its PID) and reap it."""
    env.daemon_may_exit = True
    env.stop_daemon(signal.SIGKILL)


def restart(env, testing=()):
    """Start the service again (the tests' deadlines, debug log, @testing)
    and wait until it serves: recovery is over by then."""
    start(env, testing=testing)
    env.daemon_may_exit = False


def listed(env):
    return {s["snapshot_id"]: s for s in json.loads(env.cli("list", "--json").stdout)
            ["snapshots"]}


def provider_log(env, step):
    return f"provider btrfs: {step}(" in env.daemon_log()


# --- sets left in the middle of creation ---------------------------------------------

# Where the service is killed, what it made by then, and how to know it is there.
CREATION_POINTS = {
    # the rows are written, begin_prepare has not said where: nothing on disk
    "begin_prepare": lambda env, fs, snap: snap in catalog(env) and
    catalog(env)[snap][1] is None,
    # the place is known, the writers frozen, the subvolume not made yet
    "commit": lambda env, fs, snap: provider_log(env, "pre_commit"),
    # the subvolume exists, the writers are still frozen
    "post_commit": lambda env, fs, snap: snap in fs.snapshot_entries(),
    # the subvolume exists, the writers have had PostSnapshot
    "post_final_commit": lambda env, fs, snap: provider_log(env, "pre_final_commit"),
}


@pytest.mark.parametrize("step", list(CREATION_POINTS))
def test_half_made_set_removed(env_nostart, abort_fs, vol, step):
    """B14, B17: the service killed at @step of a persistent set
    (app-rollback, with a writer) leaves its row "creating" and, from
    commit on, the btrfs subvolume.  The next start removes both with the
    provider, before it serves: the set is neither listed nor on disk, and
    is not mistaken for a persistent snapshot (neither kept nor "missing").
    A new set then succeeds."""
    env = start(env_nostart, testing=[f"provider-delay-ms={step}:30000"])
    w = writer(env, vol)
    req = env.start_requester(*backup_steps(vol, context="app-rollback"))
    snap = req.wait_step("add-volume")["snapshot_id"]
    wait_until(lambda: CREATION_POINTS[step](env, abort_fs, snap), 20, f"the set at {step}")
    made = snap in abort_fs.snapshot_entries()
    assert made == (step in ("post_commit", "post_final_commit"))
    kill(env)
    assert catalog(env)[snap][0] == "creating"
    assert req.wait().rc != 0
    restart(env)
    assert snap not in catalog(env) and listed(env) == {}
    assert snap not in abort_fs.snapshot_entries()
    if made:
        assert f"Deleted snapshot {snap}" in env.daemon_log()
    wait_until(lambda: w.entry() is not None, 10, "the writer to reconnect")
    res = env.requester(*backup_steps(vol, context="app-rollback"))
    assert res.rc == 0, res
    assert list(listed(env)) == [res.step("add-volume")["snapshot_id"]]


# --- auto-release snapshots of sessions that died with the service -------------------

@pytest.mark.parametrize("sig", ["SIGTERM", "SIGKILL"])
def test_auto_release_of_dead_sessions_deleted(env_nostart, abort_fs, mounts, sig):
    """T49, T50: a requester holds auto-release snapshots (backup,
    file-share-backup) when the service stops: on SIGTERM it exits without
    deleting them (it sends nothing to anyone at exit), on SIGKILL it
    cannot.  Either way the next start deletes them, rows and subvolumes,
    and keeps the persistent ones (app-rollback, nas-rollback)."""
    env = start(env_nostart)
    vols = [mounts.subvolume() for _ in range(2)]
    writer(env, vols[0])
    persistent, auto = [], []
    for c in ("app-rollback", "nas-rollback"):
        res = env.requester(*backup_steps(vols[0], context=c))
        assert res.rc == 0, res
        persistent.append(res.step("add-volume")["snapshot_id"])
    for v, c in ((vols[0], "backup"), (vols[1], "file-share-backup")):
        holder = env.start_requester(*backup_steps(v, context=c), "sleep=60000")
        step = holder.wait_step("do-snapshot")
        assert step["rc"] == 0, step
        auto.append(step["snapshots"][0]["snapshot_id"])
    assert set(auto) <= set(abort_fs.snapshot_entries())
    env.daemon_may_exit = True
    env.stop_daemon(getattr(signal, sig))
    assert set(catalog(env)) == set(auto + persistent)
    assert set(auto) <= set(abort_fs.snapshot_entries()), "deleted at exit after all"
    restart(env)
    wait_until(lambda: not set(auto) & set(abort_fs.snapshot_entries()), 10,
               "recovery to delete the auto-release snapshots")
    assert set(catalog(env)) == set(persistent)
    assert {i: s["state"] for i, s in listed(env).items()} == dict.fromkeys(persistent,
                                                                           "committed")
    assert set(persistent) <= set(abort_fs.snapshot_entries())


# --- persistent snapshots whose data vanished ----------------------------------------

def test_missing_snapshot_listed_and_deleted(env_nostart, abort_fs, vol):
    """A persistent snapshot whose subvolume was deleted while the service
    was down is "missing" after the start: `shadowcopy list` says so in
    text ("State: Missing") and JSON ("state": "missing"), the other is
    still committed (no State line: vssadmin prints none), and
    `shadowcopy delete` removes the missing one."""
    env = start(env_nostart)
    env.cli("create", "--no-writers", str(vol))
    [gone] = listed(env).values()
    env.cli("create", "--no-writers", str(vol))
    [stays] = [s for i, s in listed(env).items() if i != gone["snapshot_id"]]
    env.daemon_may_exit = True
    assert env.stop_daemon() == 0
    subprocess.run(["btrfs", "subvolume", "delete", gone["location"]], check=True,
                   capture_output=True)
    restart(env)
    assert {i: s["state"] for i, s in listed(env).items()} == {
        gone["snapshot_id"]: "missing", stays["snapshot_id"]: "committed"}
    text = env.cli("list").stdout
    blocks = {b.split("}")[0]: b for b in text.split("Shadow Copy ID: {")[1:]}
    assert "State: Missing" in blocks[gone["snapshot_id"]], text
    assert "State:" not in blocks[stays["snapshot_id"]], text
    env.cli("delete", gone["snapshot_id"])
    assert list(listed(env)) == [stays["snapshot_id"]]
    assert Path(stays["location"]).is_dir()


# --- a filesystem that is not mounted at start ----------------------------------------

@pytest.fixture
def own_btrfs():
    """A loop btrfs of this test alone, which it may unmount and mount
    again; removed at the end."""
    m = Mounts()
    try:
        yield m
    finally:
        problems = m.cleanup()
    assert not problems, "; ".join(problems)


@pytest.mark.slow
def test_unmounted_filesystem_decided_later(env_nostart, own_btrfs):
    """A start that cannot reach a filesystem (not mounted yet) decides
    nothing about its snapshots: a half-made one (row "creating") and an
    auto-release one of a dead session are kept (the latter listed as
    missing), a persistent one is missing.  Deleting them then would forget
    them while their subvolumes stay on the disk for good.  Once the
    filesystem is back, the next start deletes the first two, rows and
    subvolumes, and the persistent one is committed again."""
    mnt, image = own_btrfs.btrfs, own_btrfs.images[0]
    vols = [own_btrfs.subvolume() for _ in range(3)]
    env = start(env_nostart, testing=["provider-delay-ms=post_final_commit:3000"])
    persistent = env.requester(*backup_steps(vols[0], context="nas-rollback"))
    holder = env.start_requester(*backup_steps(vols[1], context="file-share-backup"),
                                 "sleep=60000")
    auto = holder.wait_step("do-snapshot")["snapshots"][0]["snapshot_id"]
    creating = env.start_requester(*backup_steps(vols[2], context="nas-rollback"))
    half = creating.wait_step("add-volume")["snapshot_id"]
    entries = lambda: set(p.name for p in (mnt / ".shadowcopy").iterdir())  # noqa: E731
    wait_until(lambda: half in entries(), 10, "the half-made subvolume")
    kill(env)
    kept = persistent.step("add-volume")["snapshot_id"]
    assert {i: s for i, (s, _) in catalog(env).items()} == {
        kept: "committed", auto: "committed", half: "creating"}
    subprocess.run(["umount", str(mnt)], check=True)
    restart(env)
    assert {i: s["state"] for i, s in listed(env).items()} == {
        kept: "missing", auto: "missing", half: "creating"}
    assert "keeping it for the next start" in env.daemon_log()
    assert env.stop_daemon() == 0
    subprocess.run(["mount", "-o", "loop", str(image), str(mnt)], check=True)
    assert {kept, auto, half} <= entries()
    restart(env)
    wait_until(lambda: not {auto, half} & entries(), 10, "recovery to delete them")
    assert {i: s["state"] for i, s in listed(env).items()} == {kept: "committed"}


# --- writers are told nothing stale ------------------------------------------------

def test_reconnected_writer_told_nothing_stale(env_nostart, abort_fs, vol):
    """B7, B6, B10: a writer frozen in a backup of the service that dies
    gets Abort and then BackupShutdown from its own library at once (the
    link dropped), reconnects to the next service, and hears nothing more
    of that backup: no Thaw, no second Abort, no second BackupShutdown.  Its next events are the next
    backup's, from Identify on, all naming the new set."""
    env = start(env_nostart, testing=["provider-delay-ms=post_commit:30000"])
    w = writer(env, vol, freeze_timeout_ms=30000)
    req = env.start_requester(*prepared(vol), "do-snapshot")
    old_set = req.wait_step("start-set")["set_id"]
    wait_event(w, "freeze")
    killed = now_usec()
    kill(env)
    wait_event(w, "backup_shutdown", timeout=5)
    assert w.events()[-1]["t"] - killed < scaled(1) * USEC
    before = len(w.events())
    assert names(w) == ["identify", "prepare_backup", "prepare_snapshot", "freeze", "abort",
                        "backup_shutdown"]
    restart(env)
    wait_until(lambda: w.entry() is not None, 10, "the writer to reconnect")
    assert len(w.events()) == before, w.events()[before:]
    res = env.requester(*prepared(vol), "do-snapshot", "backup-complete")
    assert res.rc == 0, res
    wait_shutdown(w)
    new_set = res.step("start-set")["set_id"]
    after = w.events()[before:]
    assert [e["event"] for e in after] == [
        "identify", "prepare_backup", "prepare_snapshot", "freeze", "thaw", "post_snapshot",
        "backup_complete", "backup_shutdown"]
    assert all(e.get("set") != old_set for e in after), after
    assert {e["set"] for e in after if e["event"] in ("freeze", "thaw", "backup_shutdown")} \
        == {new_set}
    assert count(w, "abort") == 1
