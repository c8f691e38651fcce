# SPDX-License-Identifier: LGPL-2.1-or-later
"""The lvm-thin provider for real, inside one qemu boot (conftest.py): the
guest driver (guest/cases) ran every case with the real shadowcopyd, test
writers and the test requester on thin LVs; each test here judges one
case from the files it left.  Test names carry the vss-model statements
they check."""

import re

import pytest

PROVIDER_STEPS = ["begin_prepare", "end_prepare", "pre_commit", "commit", "post_commit",
                  "pre_final_commit", "post_final_commit"]
SNAPSHOT_NAME = re.compile(r"^shadowcopy-[0-9a-f-]{36}$")


def provider_calls(case):
    """(step, count, result) of each lvm-thin call the service logged."""
    pattern = re.compile(r"provider lvm-thin: (\w+)\((\d+) snapshots?\): (\S+)")
    return [(m.group(1), int(m.group(2)), m.group(3))
            for m in pattern.finditer(case.daemon_log())]


def errors(res):
    return [(l["step"], l["error"]) for l in res.lines]


def snapshot_files(case, origin):
    """{file: content} of the snapshot of LV @origin, read mounted ro."""
    files = {}
    for line in case.text(f"snap-{origin}.files").splitlines():
        name, _, content = line.partition(": ")
        files[name] = content
    return files


def assert_snapshot_as_of_freeze(case, origin, set_events):
    """The snapshot of @origin is a read-only, active thin snapshot tagged
    with its origin, mounts read-only and cleanly, cannot be written, and
    holds what was written before and inside Freeze and nothing of after
    Thaw."""
    mount = case.text(f"snap-{origin}.mount")
    assert "mounted ro" in mount and "writable" not in mount, (mount, case.context())
    files = {k: v for k, v in snapshot_files(case, origin).items() if k != "count"}
    assert files == {"before": "before", "at-freeze": "frozen"}, \
        case.text(f"snap-{origin}.files")
    [row] = case.lvs(f"snap-{origin}.lvs").values()
    assert SNAPSHOT_NAME.match(row["lv_name"]) and row["origin"] == origin, row
    assert row["lv_attr"][:2] == "Vr" and row["lv_attr"][4] == "a", row  # thin, ro, active
    assert row["lv_tags"].startswith("shadowcopy:"), row
    # T23: PrepareForSnapshot, Freeze, Thaw, PostSnapshot, in order
    events = [e for e in set_events if e in ("prepare_snapshot", "freeze", "thaw",
                                             "post_snapshot", "abort")]
    assert events == ["prepare_snapshot", "freeze", "thaw", "post_snapshot"], set_events


def assert_no_snapshot_left(case, name="lvs.json"):
    assert case.snapshot_lvs(name) == {}, (case.snapshot_lvs(name), case.context())


def test_vm_ran_every_case(vm):
    """The guest set up LVM and finished its cases (boot and suite times in
    driver.log)."""
    driver = vm.text("driver.log")
    assert "all cases done" in driver, (driver[-3000:], vm.text("setup.log")[-3000:])


def test_ext4_set_holds_data_as_of_freeze_T23_T25(vm):
    """A set of one ext4 thin LV: provider calls in VSS order without any
    flush-and-hold by the service (T25); the snapshot /dev/vg/shadowcopy-<id>
    holds the data as of the writer's Freeze."""
    case = vm.case("ext4")
    res = case.requester()
    assert res.rc == 0, (res, case.context())
    [snap] = res.step("do-snapshot")["snapshots"]
    assert snap["provider"] == "lvm-thin", snap
    assert snap["location"] == f"/dev/vg/shadowcopy-{snap['snapshot_id']}", snap
    assert_snapshot_as_of_freeze(case, "e1", case.events("w1"))
    calls = [(step, result) for step, _, result in provider_calls(case)]
    assert calls == [(s, "OK") for s in PROVIDER_STEPS], calls
    assert "were held" not in case.daemon_log()  # lvcreate freezes, not the service


def test_xfs_set_through_the_tool(vm):
    """`shadowcopy create` of an XFS thin LV: the snapshot holds the data
    as of the Freeze and mounts read-only without log recovery (the
    provider replayed the log before making the device read-only)."""
    case = vm.case("xfs")
    assert case.text("create.rc").strip() == "0", (case.text("create.err"), case.context())
    assert_snapshot_as_of_freeze(case, "x1", case.events("w1"))
    dmesg = case.text("snap-x1.dmesg")
    assert "Ending clean mount" in dmesg and "recovery" not in dmesg, dmesg


def test_multi_volume_set_T25_T26(vm):
    """Two thin LVs (ext4 and XFS) in one set: the writer is frozen across
    both snapshots, which the provider makes one after the other in one
    commit; each holds the data as of the Freeze, none of after the Thaw.
    A process that is no writer, counting in e1 then x1, shows what one
    point in time means across LVs (docs/lvm-thin.md): each snapshot is an
    instant of its LV, x1's no earlier than e1's (the order they were
    added), not one instant for both."""
    case = vm.case("multi")
    res = case.requester()
    assert res.rc == 0, (res, case.context())
    snaps = res.step("do-snapshot")["snapshots"]
    assert len(snaps) == 2 and len({s["snapshot_set_id"] for s in snaps}) == 1, snaps
    for origin in ("e1", "x1"):
        assert_snapshot_as_of_freeze(case, origin, case.events("w1"))
    assert ("commit", 2, "OK") in provider_calls(case), provider_calls(case)
    e1, x1 = (int(snapshot_files(case, lv)["count"]) for lv in ("e1", "x1"))
    assert x1 >= e1, (e1, x1)


def test_query_and_delete_T51_T53(vm):
    """The persistent snapshots of the three sets above are listed; one is
    deleted (its LV removed), a second delete of it is OBJECT_NOT_FOUND;
    after one vanished behind the service's back, the service's start-up
    query marks it missing and keeps the others; delete --all leaves no
    snapshot LV."""
    case = vm.case("query_delete")
    before = case.json("list-before.json")["snapshots"]
    assert len(before) == 4 and {s["provider"] for s in before} == {"lvm-thin"}, before
    ext4_id = vm.case("ext4").requester().step("do-snapshot")["snapshots"][0]["snapshot_id"]
    assert case.text("delete.rc").strip() == "0", case.text("delete.out")
    assert f"shadowcopy-{ext4_id}" not in case.lvs("lvs-after-delete.json")
    assert case.text("delete-again.rc").strip() == "1", case.text("delete-again.out")
    assert "OBJECT_NOT_FOUND" in case.text("delete-again.out"), case.text("delete-again.out")
    xfs_loc = vm.case("xfs").text("create.out")
    states = {s["snapshot_id"]: s["state"] for s in case.json("list-after-restart.json")
              ["snapshots"]}
    assert len(states) == 3, states
    missing = [i for i, state in states.items() if state == "missing"]
    assert len(missing) == 1 and missing[0] in xfs_loc, (states, case.context())
    assert sorted(states.values()) == ["committed", "committed", "missing"], states
    assert case.text("delete-all.rc").strip() == "0", case.text("delete-all.out")
    assert_no_snapshot_left(case)


def test_auto_release_T49_T50(vm):
    """Snapshots of the backup context go with their requester: when it
    frees its session, when it is killed, and when the service is killed
    meanwhile (deleted by the recovery of its next start)."""
    case = vm.case("auto_release")
    assert case.requester().rc == 0, case.context()
    assert_no_snapshot_left(case, "lvs-after-free.json")
    for before, after in (("lvs-while-alive.json", "lvs-after-kill.json"),
                          ("lvs-before-service-kill.json", "lvs-after-recovery.json")):
        alive = case.snapshot_lvs(before)
        assert [r["origin"] for r in alive.values()] == ["e1"], (before, alive)
        assert_no_snapshot_left(case, after)
    assert "Recovery deleted 1 " in case.daemon_log(), case.context()


def test_writer_failing_freeze_T31_A2_B7_B8(vm):
    """A writer that fails Freeze: the set fails, both writers get Abort
    after Freeze (never Thaw), the provider gets AbortSnapshots, and no
    snapshot LV is left."""
    case = vm.case("abort_writer")
    res = case.requester()
    assert dict(errors(res))["do-snapshot"] != "OK", res
    for w in ("good", "bad"):
        events = case.events(w)
        assert "freeze" in events and "thaw" not in events, (w, events)
        assert "abort" in events[events.index("freeze"):], (w, events)
    steps = [step for step, _, _ in provider_calls(case)]
    assert "abort" in steps and "commit" not in steps, steps
    assert_no_snapshot_left(case)


def test_provider_failure_T40_T42_A4_B14(vm):
    """A commit that made both snapshots and then failed ([testing]
    provider-fail=commit): UNEXPECTED_PROVIDER_ERROR, the writer gets Abort
    after Freeze, AbortSnapshots removes both LVs (no partial commit)."""
    case = vm.case("abort_provider")
    res = case.requester()
    assert dict(errors(res))["do-snapshot"] == "UNEXPECTED_PROVIDER_ERROR", res
    events = case.events("w1")
    assert "thaw" not in events and "abort" in events[events.index("freeze"):], events
    calls = provider_calls(case)
    assert ("commit", 2, "EIO") in calls and ("abort", 2, "OK") in calls, calls
    assert_no_snapshot_left(case)


def test_thick_lv_refused_T17(vm):
    """A thick (linear) LV: no provider takes it (VOLUME_NOT_SUPPORTED),
    lvm-thin named says VOLUME_NOT_SUPPORTED_BY_PROVIDER, and the reason
    says why; a thin LV in the same set is fine."""
    case = vm.case("thick")
    adds = [e for s, e in errors(case.requester()) if s == "add-volume"]
    assert adds == ["VOLUME_NOT_SUPPORTED", "VOLUME_NOT_SUPPORTED_BY_PROVIDER", "OK"], adds
    reason = "lvm-thin: /mnt/k1 is on vg/k1, a linear logical volume: lvm-thin snapshots " \
             "thin logical volumes only"
    assert reason in case.daemon_log(), case.context()
    assert case.text("create.rc").strip() == "1", case.text("create.err")


def test_pool_out_of_space_fails_cleanly(vm):
    """The thin pool fills up while the writer is frozen: lvcreate fails,
    the set fails with INSUFFICIENT_STORAGE, the writer gets Abort (it is
    thawed) and no snapshot is left; a set on the pool already full fails
    the same way in EndPrepareSnapshots, before any Freeze."""
    case = vm.case("pool_full")
    pool = case.json("pool.json")["report"][0]["lv"][0]
    assert pool["lv_health_status"] == "out_of_data", pool
    first, second = case.requester(), case.requester("req2")
    assert dict(errors(first))["do-snapshot"] == "INSUFFICIENT_STORAGE", (first, case.context())
    assert dict(errors(second))["do-snapshot"] == "INSUFFICIENT_STORAGE", second
    events = case.events("w1")
    assert events.count("freeze") == 1 and "thaw" not in events, events
    assert "abort" in events[events.index("freeze"):], events
    calls = provider_calls(case)
    assert ("commit", 1, "INSUFFICIENT_STORAGE") in calls, calls
    assert ("end_prepare", 1, "INSUFFICIENT_STORAGE") in calls, calls
    assert_no_snapshot_left(case)


@pytest.mark.parametrize("lv", ["e1", "x1"])
def test_fifreeze_before_lvcreate(vm, lv):
    """The experiment behind lvm-thin's flags (docs/lvm-thin.md): on the
    guest's Linux 6.1, a filesystem frozen with FIFREEZE makes lvcreate's
    suspend of its LV fail at once with EBUSY; no snapshot is made, the
    filesystem stays frozen until FITHAW; without the freeze it works."""
    case = vm.case("fifreeze")
    err = case.text(f"{lv}.err")
    assert case.text(f"{lv}.rc").strip() == "5", err
    assert "suspend" in err and "Device or resource busy" in err, err
    start, end = map(float, case.text(f"{lv}.time").split())
    assert end - start < 10, (start, end)
    assert "ACTIVE" in case.text(f"{lv}.dm-state"), case.text(f"{lv}.dm-state")
    assert case.text(f"{lv}.while-frozen").strip() == "frozen"
    assert case.text(f"{lv}.after-thaw").strip() == "not frozen"
    assert case.lvs(f"{lv}.lvs") == {}
    assert case.text(f"{lv}.control.rc").strip() == "0", case.text(f"{lv}.control.out")
