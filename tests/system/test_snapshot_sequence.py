# SPDX-License-Identifier: LGPL-2.1-or-later
"""The successful backup on real btrfs, as the writers' event logs and the
service's own record show it: the events each writer gets and their params
(T23), Freeze by level (T24), the providers' calls and how they interleave
with the writers (T25, T26), writer states after each phase (T43, T44),
which writers take part, and what the snapshot holds."""

import errno
import re
import subprocess
from pathlib import Path

import pytest

from sctest import DEBUG_LOG, backup_steps, wait_until

SEQUENCE = ["identify", "prepare_backup", "prepare_snapshot", "freeze", "thaw", "post_snapshot",
            "backup_complete", "backup_shutdown"]
STABLE, WAITING_FOR_BACKUP_COMPLETE = 1, 5
BACKUP_TYPE_FULL, BACKUP_TYPE_INCREMENTAL = 1, 2
PROVIDER_STEPS = ["begin_prepare", "end_prepare", "pre_commit", "commit", "post_commit",
                  "pre_final_commit", "post_final_commit"]


def ok(res):
    assert res.rc == 0, res
    return res


def wait_event(writer, name, timeout=10):
    """The writer's first logged @name event, once it is there."""
    def logged():
        return next((e for e in writer.events() if e["event"] == name), None)

    return wait_until(logged, timeout, f"writer {writer.name} to log {name}")


def by_event(writer):
    return {e["event"]: e for e in writer.events()}


def component(writer, name="file-set-1", logical_path=""):
    """A component as the add-component and backup-succeeded steps name it."""
    return f"{writer.instance_id},{writer.class_id},filegroup,{logical_path},{name}"


def states(res, nth):
    """Instance id -> (state, failure) of the @nth status step."""
    return {s["instance_id"]: (s["state"], s["failure"]) for s in res.step("status", nth)["status"]}


# --- T23: the events and their params ---------------------------------------

def test_event_sequence_volume_mode(env, volume):
    """T23: a successful volume-mode backup gives a writer whose files are on
    the volume exactly Identify, PrepareForBackup, PrepareForSnapshot,
    Freeze, Thaw, PostSnapshot, BackupComplete and BackupShutdown, in that
    order, each naming the set, the context, the backup type, the mode and
    the volumes as the requester gave them."""
    (volume / "app").mkdir()
    w = env.start_writer(file_sets=[volume / "app"])
    res = ok(env.requester(*backup_steps(volume), "backup-complete", "free"))
    set_id = res.step("start-set")["set_id"]
    wait_event(w, "backup_shutdown")
    events = w.events()
    assert [e["event"] for e in events] == SEQUENCE
    for e in events[1:]:
        assert e["instance"] == w.instance_id
        assert e["set"] == set_id, e
        assert e["context"] == "backup", e
        assert e["backup_type"] == BACKUP_TYPE_FULL, e
        assert e["select_components"] is False, e
        assert e["volumes"] == [str(volume)], e
        assert e["components"] == [], e
    times = [e["t"] for e in events]
    assert times == sorted(times)


def test_event_sequence_component_mode(env, volume):
    """T23 in component mode: the same sequence; each event lists the
    writer's selected components, and BackupComplete carries the
    backup_succeeded the requester set (T47's data)."""
    w = env.start_writer(file_sets=[volume])
    comp = component(w)
    res = ok(env.requester("init", "backup-state=component,incremental", "gather",
                           f"add-component={comp}", "start-set", f"add-volume={volume}",
                           "prepare", "do-snapshot", f"backup-succeeded={comp},true",
                           "backup-complete", "free"))
    set_id = res.step("start-set")["set_id"]
    wait_event(w, "backup_shutdown")
    events = w.events()
    assert [e["event"] for e in events] == SEQUENCE
    for e in events[1:]:
        assert e["set"] == set_id and e["context"] == "backup", e
        assert e["backup_type"] == BACKUP_TYPE_INCREMENTAL, e
        assert e["select_components"] is True, e
        assert e["volumes"] == [str(volume)], e
        succeeded = e["event"] in ("backup_complete", "backup_shutdown")
        assert e["components"] == [{"logical_path": "", "name": "file-set-1",
                                    "backup_succeeded": succeeded}], e


def test_two_volumes_one_set(env, mounts):
    """Two volumes in one set: one snapshot each, both in the events'
    volume list, in the order they were added."""
    vols = [mounts.subvolume(), mounts.subvolume()]
    w = env.start_writer(file_sets=vols)
    res = ok(env.requester(*backup_steps(*vols)))
    snaps = res.step("do-snapshot")["snapshots"]
    assert [s["original_volume"] for s in snaps] == [str(v) for v in vols]
    assert len({s["snapshot_id"] for s in snaps}) == 2
    assert by_event(w)["freeze"]["volumes"] == [str(v) for v in vols]


# --- T24: Freeze by level, and in parallel within a level -------------------

def test_freeze_order_by_level(env, volume):
    """T24: every front-end writer's Freeze comes before any back-end
    writer's, and those before any system writer's: each level only once
    the level before has answered (each writer takes 150 ms).  Within a
    level Freeze goes to all writers at once (in parallel)."""
    delay_us = 150_000
    writers = {"front": [], "back": [], "system": []}
    for level in ("system", "back", "front", "back", "system", "front"):
        writers[level].append(env.start_writer(level=level, file_sets=[volume],
                                               delay=f"freeze:{delay_us // 1000}"))
    ok(env.requester(*backup_steps(volume)))
    t = {lvl: [by_event(w)["freeze"]["t"] for w in ws] for lvl, ws in writers.items()}
    for first, then in (("front", "back"), ("back", "system")):
        assert min(t[then]) >= max(t[first]) + delay_us, \
            f"{then} frozen before every {first} writer answered: {t}"
    for level, times in t.items():
        assert max(times) - min(times) < delay_us, f"{level} writers frozen one by one: {t}"


def test_events_fan_out_in_parallel(env, volume):
    """Every event goes to all taking part at once: three writers that each
    take 200 ms over PrepareForBackup, PrepareForSnapshot and PostSnapshot
    receive each event within those 200 ms of one another; and a phase
    ends only when all have answered (T20): the next event comes 200 ms
    after the last writer received this one."""
    delay_us = 200_000
    extra = []
    for event in ("prepare_backup", "prepare_snapshot", "post_snapshot"):
        extra += ["--delay", f"{event}:{delay_us // 1000}"]
    writers = [env.start_writer(level="back", file_sets=[volume], extra=extra) for _ in range(3)]
    ok(env.requester(*backup_steps(volume)))
    t = {name: [by_event(w)[name]["t"] for w in writers]
         for name in ("prepare_backup", "prepare_snapshot", "freeze", "post_snapshot")}
    for name in ("prepare_backup", "prepare_snapshot", "post_snapshot"):
        assert max(t[name]) - min(t[name]) < delay_us, f"{name} sent one by one: {t}"
    for first, then in (("prepare_backup", "prepare_snapshot"), ("prepare_snapshot", "freeze")):
        assert min(t[then]) >= max(t[first]) + delay_us, f"{then} before {first} ended: {t}"


# --- T25, T26: provider calls ------------------------------------------------

PROVIDER_LINE = re.compile(r"provider (\S+): (\w+)\((\d+) snapshots?\): (\S+)")


def test_provider_call_order(env_nostart, mounts):
    """T25: the btrfs provider is called begin_prepare (for each of the two
    snapshots), end_prepare, pre_commit, commit, post_commit,
    pre_final_commit, post_final_commit (the service's debug log).  T26:
    every writer has answered Freeze before pre_commit starts, and Thaw is
    sent only after post_commit has returned (the service's history; and
    seen by the writers: each takes 200 ms to answer Freeze and post_commit
    is made to take 300 ms, which lie between the last Freeze and any Thaw)."""
    env = env_nostart
    env.start_daemon(extra=DEBUG_LOG + "\n[testing]\nprovider-delay-ms=post_commit:300\n")
    vols = [mounts.subvolume(), mounts.subvolume()]
    writers = [env.start_writer(level=level, file_sets=[v], delay="freeze:200")
               for level, v in zip(("front", "back"), vols)]
    res = ok(env.requester(*backup_steps(*vols)))
    set_id = res.step("start-set")["set_id"]

    calls = [m.groups() for m in PROVIDER_LINE.finditer(env.daemon_log())]
    assert calls == [("btrfs", step, "2", "OK") for step in PROVIDER_STEPS], env.daemon_log()

    history = env.history(set_id)
    provider = {h["what"]: h for h in history if h["kind"] == "provider"}
    assert [h["what"] for h in history if h["kind"] == "provider"] == PROVIDER_STEPS
    assert all(h["writer"] == "btrfs" and h["failure"] == "OK" for h in provider.values())
    events = [h for h in history if h["kind"] == "event"]
    freezes = [h for h in events if h["what"] == "freeze"]
    thaws = [h for h in events if h["what"] == "thaw"]
    assert len(freezes) == len(thaws) == 2
    pre_commit_start = provider["pre_commit"]["t_usec"] - provider["pre_commit"]["duration_usec"]
    for h in freezes:
        assert h["t_usec"] <= pre_commit_start, f"pre_commit before {h['writer_name']}'s freeze"
    for h in thaws:
        assert h["t_usec"] - h["duration_usec"] >= provider["post_commit"]["t_usec"], \
            f"Thaw to {h['writer_name']} before post_commit returned"

    # The last Freeze answer comes 200 ms after the last Freeze arrived;
    # post_commit then takes 300 ms before any Thaw may leave.
    last_answer = max(by_event(w)["freeze"]["t"] for w in writers) + 200_000
    for w in writers:
        assert by_event(w)["thaw"]["t"] >= last_answer + 300_000, w.events()


# --- T43, T44: writer states --------------------------------------------------

def test_writer_states_after_each_phase(env, volume):
    """T43, T44 in component mode: after gather, prepare and do_snapshot_set
    the selected writer is STABLE, STABLE, WAITING_FOR_BACKUP_COMPLETE;
    after backup_complete STABLE again.  A writer without a selected
    component takes no part: it stays STABLE and gets no event besides
    Identify, BackupComplete included."""
    selected = env.start_writer(name="Selected", file_sets=[volume])
    other = env.start_writer(name="Not selected", file_sets=[volume])
    res = ok(env.requester("init", "backup-state=component", "gather", "status",
                           f"add-component={component(selected)}", "start-set",
                           f"add-volume={volume}", "prepare", "status", "do-snapshot", "status",
                           "backup-complete", "status", "free"))
    expected = [STABLE, STABLE, WAITING_FOR_BACKUP_COMPLETE, STABLE]
    for nth, state in enumerate(expected):
        assert states(res, nth) == {selected.instance_id: (state, "OK"),
                                    other.instance_id: (STABLE, "OK")}, (nth, res)
    wait_event(selected, "backup_shutdown")
    assert selected.event_names() == SEQUENCE
    assert other.event_names() == ["identify"]


def test_writer_states_volume_mode(env, volume):
    """T43, T44 in volume mode: every writer with files on the volume is
    WAITING_FOR_BACKUP_COMPLETE after do_snapshot_set and STABLE after
    backup_complete, which it receives."""
    writers = [env.start_writer(file_sets=[volume]) for _ in range(2)]
    res = ok(env.requester(*backup_steps(volume), "status", "backup-complete", "status"))
    for nth, state in enumerate([WAITING_FOR_BACKUP_COMPLETE, STABLE]):
        assert states(res, nth) == {w.instance_id: (state, "OK") for w in writers}
    for w in writers:
        assert "backup_complete" in w.event_names()


# --- participation -------------------------------------------------------------

def test_volume_mode_participation(env, mounts, volume):
    """In volume mode only the writers with a file set on one of the set's
    volumes take part; a writer whose files are on another subvolume, on
    the btrfs top level, on a tmpfs, or that has no files, gets Identify
    only: no Freeze, no BackupShutdown.  One file set on the volume is
    enough, whatever the writer's other sets."""
    elsewhere = mounts.subvolume()
    on = env.start_writer(name="On the volume", file_sets=[volume / "db"])
    partly = env.start_writer(name="Partly", file_sets=[elsewhere, volume / "logs"])
    outside = [env.start_writer(name="Other subvolume", file_sets=[elsewhere / "db"]),
               env.start_writer(name="Top level", file_sets=[mounts.btrfs / "top"]),
               env.start_writer(name="tmpfs", file_sets=[mounts.tmpfs / "db"]),
               env.start_writer(name="No files")]
    res = ok(env.requester(*backup_steps(volume), "status", "backup-complete", "free"))
    for w in (on, partly):
        wait_event(w, "backup_shutdown")
        assert w.event_names() == SEQUENCE, w.name
    for w in outside:
        assert w.event_names() == ["identify"], w.name
        assert states(res, 0)[w.instance_id] == (STABLE, "OK")


def test_participation_through_symlink(env, volume):
    """A file set named through a symbolic link that leads into the volume
    is on the volume (real paths are compared)."""
    (volume / "data").mkdir()
    link = env.dir / "link-to-data"
    link.symlink_to(volume / "data")
    w = env.start_writer(file_sets=[link])
    ok(env.requester(*backup_steps(volume)))
    assert "freeze" in w.event_names()


def test_nested_subvolume_is_another_volume(env, volume):
    """A file set inside a subvolume nested in the volume is not on the
    volume: a btrfs snapshot does not hold nested subvolumes, so the writer
    must not be frozen for a snapshot that will not contain its data."""
    subprocess.run(["btrfs", "subvolume", "create", str(volume / "nested")], check=True,
                   capture_output=True)
    nested = env.start_writer(name="Nested", file_sets=[volume / "nested" / "db"])
    on = env.start_writer(name="On", file_sets=[volume / "db"])
    ok(env.requester(*backup_steps(volume)))
    assert "freeze" in on.event_names()
    assert nested.event_names() == ["identify"]


# --- what the snapshot holds -------------------------------------------------

def test_snapshot_holds_data_as_of_freeze(env, mounts, volume):
    """The snapshot is the volume as of the Freeze: a file the writer wrote
    in its Freeze handler is in it; a file written and a file changed just
    after its Thaw are not (the old content is).  It is a read-only btrfs
    snapshot in .shadowcopy/ at the root of the mount, named by its id."""
    app = volume / "app"
    app.mkdir()
    (app / "before.txt").write_text("before")
    env.start_writer(file_sets=[app], touch=[f"freeze:{app}/in-freeze.txt=frozen",
                                             f"thaw-after:{app}/after-thaw.txt=thawed",
                                             f"thaw-after:{app}/before.txt=changed"])
    res = ok(env.requester(*backup_steps(volume, context="app-rollback"), "backup-complete"))
    snap = res.step("do-snapshot")["snapshots"][0]
    location = Path(snap["location"])
    assert location == mounts.btrfs / ".shadowcopy" / snap["snapshot_id"]
    wait_until(lambda: (app / "after-thaw.txt").exists(), 10, "the writer's write after Thaw")
    wait_until(lambda: (app / "before.txt").read_text() == "changed", 10,
               "the writer's change after Thaw")
    assert (location / "app" / "in-freeze.txt").read_text() == "frozen"
    assert (location / "app" / "before.txt").read_text() == "before"
    assert not (location / "app" / "after-thaw.txt").exists()

    with pytest.raises(OSError) as e:
        (location / "app" / "new.txt").write_text("x")
    assert e.value.errno == errno.EROFS
    p = subprocess.run(["btrfs", "property", "get", "-ts", str(location), "ro"],
                       capture_output=True, text=True, check=True)
    assert p.stdout.strip() == "ro=true"
