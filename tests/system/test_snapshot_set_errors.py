# SPDX-License-Identifier: LGPL-2.1-or-later
"""Making a snapshot set, the rules and their errors (protocol.md §6.3):
fresh set ids (T10), one set in creation at a time (T11, T12),
add_to_snapshot_set (T13–T17, the same volume twice), add_component (T09),
the order of prepare and do_snapshot_set (T19, T21), the contexts (T03,
T04, T22), and what get_snapshot_properties tells (T56)."""

import uuid

import pytest

from sctest import NULL_ID, WRITERLESS_CONTEXTS, backup_steps, error_name, wait_until

PERSISTENT, NO_AUTO_RELEASE, NO_WRITERS = 0x1, 0x8, 0x10
CONTEXT_ATTRIBUTES = {"backup": 0, "file-share-backup": NO_WRITERS,
                      "app-rollback": PERSISTENT | NO_AUTO_RELEASE,
                      "nas-rollback": PERSISTENT | NO_AUTO_RELEASE | NO_WRITERS}


def errors(res):
    return [line["error"] for line in res.lines]


def component(writer, name="file-set-1"):
    return f"{writer.instance_id},{writer.class_id},filegroup,,{name}"


# --- T10: set ids ---------------------------------------------------------------

def test_fresh_set_ids(env):
    """T10: start_snapshot_set gives a fresh non-null id each time; a second
    one in the same session is BAD_STATE."""
    ids = set()
    for _ in range(3):
        res = env.requester("init", "start-set", "start-set")
        assert errors(res) == ["OK", "OK", "BAD_STATE"], res
        ids.add(res.step("start-set")["set_id"])
    assert len(ids) == 3
    assert NULL_ID not in ids
    for i in ids:
        assert str(uuid.UUID(i)) == i


# --- T11, T12: one set in creation at a time ----------------------------------

def test_set_in_progress_until_do_snapshot(env, volume):
    """T11: while a session holds a started set, another session's
    start_snapshot_set is SNAPSHOT_SET_IN_PROGRESS, also while the first
    one's do_snapshot_set runs; T12: once that has finished, it succeeds.
    (Raw protocol, so that each step happens exactly when the test says.)"""
    w = env.start_writer(file_sets=[volume], delay="freeze:300")
    with env.raw("requester") as a, env.raw("requester") as b:
        for c in (a, b):
            assert "result" in c.call("initialize_for_backup", {"document": None})
        assert "result" in a.call("gather_writer_metadata")
        assert "result" in a.call("start_snapshot_set")
        assert error_name(b.call("start_snapshot_set")) == "SNAPSHOT_SET_IN_PROGRESS"
        assert "result" in a.call("add_to_snapshot_set", {"volume": str(volume)})
        rid = a.request("do_snapshot_set")
        wait_until(lambda: "freeze" in w.event_names(), 10, "the writer's Freeze")
        assert error_name(b.call("start_snapshot_set")) == "SNAPSHOT_SET_IN_PROGRESS"
        r = a.reply(rid)
        assert "result" in r, r
        r = b.call("start_snapshot_set")
        assert "result" in r, r


def test_set_in_progress_test_requester(env, volume):
    """T11, T12 through the library: a second requester started while the
    first is in do_snapshot_set gets SNAPSHOT_SET_IN_PROGRESS; one started
    after it finished gets its set."""
    w = env.start_writer(file_sets=[volume], delay="freeze:800")
    first = env.start_requester(*backup_steps(volume))
    wait_until(lambda: "freeze" in w.event_names(), 10, "the writer's Freeze")
    res = env.requester("init", "start-set")
    assert errors(res) == ["OK", "SNAPSHOT_SET_IN_PROGRESS"], res
    assert first.wait().rc == 0, first.result()
    res = env.requester("init", "start-set")
    assert errors(res) == ["OK", "OK"], res


def test_set_in_progress_released_on_failure(env, volume):
    """T12 after a failure: a set whose do_snapshot_set failed (a writer
    vetoed Freeze) no longer blocks other sessions."""
    env.start_writer(file_sets=[volume], fail="freeze")
    with env.raw("requester") as a:
        assert "result" in a.call("initialize_for_backup", {"document": None})
        assert "result" in a.call("gather_writer_metadata")
        assert "result" in a.call("start_snapshot_set")
        assert "result" in a.call("add_to_snapshot_set", {"volume": str(volume)})
        assert "error" in a.call("do_snapshot_set")
        res = env.requester("init", "start-set")
        assert errors(res) == ["OK", "OK"], res


def test_set_in_progress_released_on_session_end(env, volume):
    """A session that ends with its set started (before do_snapshot_set)
    releases it: the next requester may start one."""
    with env.raw("requester") as a:
        assert "result" in a.call("initialize_for_backup", {"document": None})
        assert "result" in a.call("start_snapshot_set")
        assert errors(env.requester("init", "start-set")) == ["OK", "SNAPSHOT_SET_IN_PROGRESS"]
    wait_until(lambda: errors(env.requester("init", "start-set")) == ["OK", "OK"], 10,
               "the ended session's set to be released")


# --- T13–T17: add_to_snapshot_set ----------------------------------------------

def test_add_volume_before_start_set(env, volume):
    """T13: add_to_snapshot_set before start_snapshot_set is BAD_STATE;
    and after do_snapshot_set too."""
    res = env.requester("init", f"add-volume={volume}")
    assert errors(res) == ["OK", "BAD_STATE"], res
    res = env.requester(*backup_steps(volume), f"add-volume={volume}")
    assert errors(res)[-2:] == ["OK", "BAD_STATE"], res


def test_add_volume_limit(env, mounts):
    """T14: the 65th volume of a set is MAXIMUM_NUMBER_OF_VOLUMES_REACHED,
    and the set still holds 64: do_snapshot_set makes 64 snapshots, each
    counting 64 volumes at creation (T56)."""
    vols = [mounts.subvolume("many") for _ in range(65)]
    res = env.requester("init", "context=file-share-backup", "start-set",
                        *[f"add-volume={v}" for v in vols], "do-snapshot", timeout=120)
    assert errors(res) == ["OK", "OK", "OK"] + ["OK"] * 64 + [
        "MAXIMUM_NUMBER_OF_VOLUMES_REACHED", "OK"], res
    snaps = res.step("do-snapshot")["snapshots"]
    assert len(snaps) == 64
    assert {s["count"] for s in snaps} == {64}
    assert [s["original_volume"] for s in snaps] == [str(v) for v in vols[:64]]


def test_add_volume_no_such_path(env, volume):
    """T15: a path that does not exist is OBJECT_NOT_FOUND."""
    res = env.requester("init", "start-set", f"add-volume={volume}/no/such/dir")
    assert errors(res) == ["OK", "OK", "OBJECT_NOT_FOUND"], res


def test_add_volume_unknown_provider(env, volume):
    """T16: an unregistered provider id is PROVIDER_NOT_REGISTERED."""
    res = env.requester("init", "start-set", f"add-volume={volume},{uuid.uuid4()}")
    assert errors(res) == ["OK", "OK", "PROVIDER_NOT_REGISTERED"], res


@pytest.mark.parametrize("fs", ["tmpfs", "ext4"])
def test_add_volume_not_supported(env, mounts, fs):
    """T17: a path on tmpfs or ext4 with the provider left to the service is
    VOLUME_NOT_SUPPORTED; naming the btrfs provider (the test requester
    sends its id), which refuses it, VOLUME_NOT_SUPPORTED_BY_PROVIDER."""
    path = getattr(mounts, fs)
    res = env.requester("init", "start-set", f"add-volume={path}", f"add-volume={path},btrfs")
    assert errors(res) == ["OK", "OK", "VOLUME_NOT_SUPPORTED",
                           "VOLUME_NOT_SUPPORTED_BY_PROVIDER"], res


def test_add_volume_by_provider(env, volume):
    """A btrfs subvolume with the btrfs provider named is accepted; the
    snapshot then names that provider."""
    res = env.requester("init", "context=file-share-backup", "start-set",
                        f"add-volume={volume},btrfs", "do-snapshot")
    assert errors(res) == ["OK"] * 5, res
    snap = res.step("do-snapshot")["snapshots"][0]
    assert snap["provider"] == "btrfs"
    assert snap["provider_id"] == res.step("add-volume")["provider_id"]


def test_add_same_volume_twice(env, volume):
    """The volume already in the set is OBJECT_ALREADY_EXISTS, also when
    named by another path inside it; the set keeps one snapshot of it."""
    (volume / "dir").mkdir()
    res = env.requester("init", "context=file-share-backup", "start-set",
                        f"add-volume={volume}", f"add-volume={volume}",
                        f"add-volume={volume}/dir", "do-snapshot")
    assert errors(res) == ["OK", "OK", "OK", "OK", "OBJECT_ALREADY_EXISTS",
                           "OBJECT_ALREADY_EXISTS", "OK"], res
    snaps = res.step("do-snapshot")["snapshots"]
    assert len(snaps) == 1 and snaps[0]["count"] == 1


def test_add_volume_by_inner_path(env, volume):
    """A path inside a subvolume names that subvolume: the snapshot is of the
    whole subvolume, and keeps the path as given."""
    (volume / "dir").mkdir()
    (volume / "top.txt").write_text("top")
    res = env.requester("init", "context=file-share-backup", "start-set",
                        f"add-volume={volume}/dir", "do-snapshot")
    assert errors(res) == ["OK"] * 5, res
    snap = res.step("do-snapshot")["snapshots"][0]
    assert snap["original_volume"] == f"{volume}/dir"
    assert snap["volume_root"] == str(volume)
    assert (volume / "top.txt").read_text() == "top"


# --- T09: add_component -------------------------------------------------------------

def test_add_component_twice(env, volume):
    """T09: the same component twice is OBJECT_ALREADY_EXISTS; an unknown
    component is OBJECT_NOT_FOUND; after start_snapshot_set BAD_STATE."""
    w = env.start_writer(file_sets=[volume])
    comp = component(w)
    res = env.requester("init", "backup-state=component", "gather", f"add-component={comp}",
                        f"add-component={comp}", f"add-component={component(w, 'no-such')}",
                        "start-set", f"add-component={comp}")
    assert errors(res) == ["OK", "OK", "OK", "OK", "OBJECT_ALREADY_EXISTS", "OBJECT_NOT_FOUND",
                           "OK", "BAD_STATE"], res


# --- T19, T21: the order of the phases -------------------------------------------

def test_prepare_without_backup_state(env, volume):
    """T19: prepare_for_backup without set_backup_state is BAD_STATE."""
    res = env.requester("init", "gather", "start-set", f"add-volume={volume}", "prepare")
    assert errors(res) == ["OK", "OK", "OK", "OK", "BAD_STATE"], res


def test_do_snapshot_without_gather(env, volume):
    """T21: in a writer context do_snapshot_set without gather is BAD_STATE;
    before start_snapshot_set too; and a second one after success."""
    res = env.requester("init", "start-set", f"add-volume={volume}", "do-snapshot")
    assert errors(res) == ["OK", "OK", "OK", "BAD_STATE"], res
    res = env.requester("init", "gather", "do-snapshot")
    assert errors(res) == ["OK", "OK", "BAD_STATE"], res
    res = env.requester(*backup_steps(volume), "do-snapshot")
    assert errors(res)[-2:] == ["OK", "BAD_STATE"], res


def test_save_document_before_do_snapshot(env, volume):
    """save_document is BAD_STATE before do_snapshot_set has finished, and
    afterwards holds the set and its snapshots."""
    res = env.requester("init", "backup-state=volume", "gather", "start-set",
                        f"add-volume={volume}", "save-document", "prepare", "do-snapshot",
                        "save-document")
    assert errors(res) == ["OK"] * 5 + ["BAD_STATE", "OK", "OK", "OK"], res
    doc = res.step("save-document", 1)["document"]
    assert doc["snapshot_set_id"] == res.step("start-set")["set_id"]
    assert [s["snapshot_id"] for s in doc["snapshots"]] == [res.step("add-volume")["snapshot_id"]]


# --- contexts: T03, T04, T22 ---------------------------------------------------------

def test_context_all(env, volume):
    """T03: under context all, start_snapshot_set is BAD_STATE (so is
    do_snapshot_set), while query succeeds and lists every context (T51)."""
    made = env.requester(*backup_steps(volume, context="app-rollback"))
    assert made.rc == 0, made
    res = env.requester("init", "context=all", "start-set", "do-snapshot", "query-snapshots")
    assert errors(res) == ["OK", "OK", "BAD_STATE", "BAD_STATE", "OK"], res
    ids = [s["snapshot_id"] for s in res.step("query-snapshots")["snapshots"]]
    assert ids == [made.step("add-volume")["snapshot_id"]]


def test_default_context(env, volume):
    """T04: with no set_context the context is backup and the snapshots carry
    neither PERSISTENT nor NO_AUTO_RELEASE."""
    res = env.requester(*backup_steps(volume), "query-snapshots")
    assert res.rc == 0, res
    for snap in res.step("do-snapshot")["snapshots"] + res.step("query-snapshots")["snapshots"]:
        assert snap["context"] == "backup"
        assert snap["attributes"] & (PERSISTENT | NO_AUTO_RELEASE) == 0, snap


@pytest.mark.parametrize("context", sorted(CONTEXT_ATTRIBUTES))
def test_context_attributes(env, volume, context):
    """Each context's snapshots carry its name and its attribute bits
    (vss-model 8.2)."""
    res = env.requester(*backup_steps(volume, context=context))
    assert res.rc == 0, res
    snap = res.step("do-snapshot")["snapshots"][0]
    assert snap["context"] == context
    assert snap["attributes"] == CONTEXT_ATTRIBUTES[context], snap


@pytest.mark.parametrize("context", WRITERLESS_CONTEXTS)
def test_writerless_context(env, volume, context):
    """T22: in file-share-backup and nas-rollback, add_component,
    prepare_for_backup and backup_complete are BAD_STATE, do_snapshot_set
    succeeds, and no writer gets any event of the backup."""
    w = env.start_writer(file_sets=[volume])
    res = env.requester("init", f"context={context}", "backup-state=component", "gather",
                        f"add-component={component(w)}", "start-set", f"add-volume={volume}",
                        "prepare", "do-snapshot", "backup-complete", "free")
    assert errors(res) == ["OK", "OK", "OK", "OK", "BAD_STATE", "OK", "OK", "BAD_STATE", "OK",
                           "BAD_STATE", "OK"], res
    env.wait_sessions_ended(1)
    assert w.event_names() == ["identify"], w.events()


# --- T56: the properties ------------------------------------------------------------

def test_snapshot_properties(env, mounts):
    """T56: each snapshot counts the volumes of its set at creation, also
    after one of them was deleted; its location has no trailing slash and
    is a directory; original_volume is the path as given; unknown ids are
    OBJECT_NOT_FOUND."""
    vols = [mounts.subvolume() for _ in range(3)]
    res = env.requester(*backup_steps(*vols, context="nas-rollback"), "delete=$SNAP1",
                        "props=$SNAP2", "props=$SNAP3", f"props={uuid.uuid4()}")
    assert errors(res)[-4:] == ["OK", "OK", "OK", "OBJECT_NOT_FOUND"], res
    snaps = res.step("do-snapshot")["snapshots"]
    assert [s["count"] for s in snaps] == [3, 3, 3]
    for nth in (0, 1):
        assert res.step("props", nth)["snapshot"] == snaps[nth + 1]
    set_id = res.step("start-set")["set_id"]
    for snap, vol in zip(snaps, vols):
        assert snap["snapshot_set_id"] == set_id
        assert snap["original_volume"] == str(vol)
        assert snap["volume_root"] == str(vol)
        assert snap["filesystem"] == str(mounts.btrfs)
        assert snap["state"] == "committed"
        assert not snap["location"].endswith("/")
        assert snap["location"] == f"{mounts.btrfs}/.shadowcopy/{snap['snapshot_id']}"
    assert not (mounts.btrfs / ".shadowcopy" / snaps[0]["snapshot_id"]).exists()
    for snap in snaps[1:]:
        assert (mounts.btrfs / ".shadowcopy" / snap["snapshot_id"]).is_dir()
    assert len({s["volume_identity"] for s in snaps}) == 3
