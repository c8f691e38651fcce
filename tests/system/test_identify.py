# SPDX-License-Identifier: LGPL-2.1-or-later
"""GatherWriterMetadata through the requester library: Identify metadata
round-trips exactly (T05), writers that refuse Identify are left out (T06),
enable/disable lists (T07), index out of range (T08), and writers that
hang, are slow or die during Identify."""

import time

import pytest

from sctest import IDENTIFY_MS, new_class_id, scaled, wait_until

IDENTITY = ("class_id", "instance_id", "name", "instance_name", "usage_type", "source_type",
            "level", "freeze_timeout_ms", "uid", "pid")

# Every field spelled out, so that the round trip is exact whatever the
# builder's defaults (protocol.md §4.2).
DB_METADATA = {
    "restore_method": {"method": 3, "service": "exampledb.service",
                       "user_procedure": "stop the service first", "writer_restore": 2,
                       "reboot_required": False},
    "backup_schema": 0x1 | 0x8,
    "excludes": [{"path": "/var/lib/exampledb/tmp", "filespec": "*", "recursive": True,
                  "backup_type_mask": 3855}],
    "components": [
        {"type": 1, "logical_path": "", "name": "main", "caption": "Main database",
         "selectable": True, "selectable_for_restore": True, "flags": 1, "files": [],
         "database_files": [{"path": "/var/lib/exampledb", "filespec": "main.db",
                             "recursive": False, "backup_type_mask": 3855}],
         "log_files": [{"path": "/var/lib/exampledb", "filespec": "main.db-wal",
                        "recursive": False, "backup_type_mask": 0x101}]},
        {"type": 2, "logical_path": "config", "name": "settings", "caption": "",
         "selectable": False, "selectable_for_restore": True, "flags": 0,
         "files": [{"path": "/etc/exampledb", "filespec": "*.conf", "recursive": True,
                    "backup_type_mask": 3855},
                   {"path": "/etc/exampledb/ssl", "filespec": "*.pem", "recursive": False,
                    "backup_type_mask": 1}],
         "database_files": [], "log_files": []},
    ],
}

SMALL_METADATA = {
    "restore_method": {"method": 0, "service": "", "user_procedure": "", "writer_restore": 0,
                       "reboot_required": False},
    "backup_schema": 0,
    "excludes": [],
    "components": [
        {"type": 2, "logical_path": "", "name": "files", "caption": "Some files",
         "selectable": True, "selectable_for_restore": False, "flags": 0,
         "files": [{"path": "/srv/data", "filespec": "*", "recursive": True,
                    "backup_type_mask": 3855}],
         "database_files": [], "log_files": []},
    ],
}


def split_identity(doc):
    """(identity fields, the writer's own part) of a metadata document."""
    own = {k: v for k, v in doc.items() if k not in IDENTITY}
    return {k: doc.get(k) for k in IDENTITY}, own


def gather(env, *extra_before, after=()):
    """init, the @extra_before steps, gather, then metadata, status and @after."""
    res = env.requester("init", *extra_before, "gather", "metadata", "status", *after)
    assert res.rc == 0, res
    return res


def check_ok(res, *steps):
    for s in steps:
        line = res.step(s)
        assert line["error"] == "OK", (s, line, res)


def pids(docs):
    return sorted(d["pid"] for d in docs)


def test_metadata_round_trip(env):
    """T05: the metadata document a writer builds at Identify reaches the
    requester exactly, with the identity the service registered."""
    a = env.start_writer(name="Example DB", instance_name="db1", level="front",
                         metadata=DB_METADATA, freeze_timeout_ms=15000)
    b = env.start_writer(name="Files", metadata=SMALL_METADATA)
    res = gather(env, after=("metadata-api",))
    check_ok(res, "init", "gather", "metadata", "status")
    docs = {d["pid"]: d for d in res.step("metadata")["writers"]}
    assert sorted(docs) == sorted([a.pid, b.pid])
    for w, expected in ((a, DB_METADATA), (b, SMALL_METADATA)):
        identity, own = split_identity(docs[w.pid])
        assert own == expected
        assert identity["class_id"] == w.class_id
        assert identity["instance_id"] == w.instance_id
        assert identity["name"] == w.name
        assert identity["uid"] == 0
    ident_a, _ = split_identity(docs[a.pid])
    assert ident_a["instance_name"] == "db1"
    assert ident_a["level"] == 3
    assert ident_a["freeze_timeout_ms"] == 15000
    # The accessor functions (IVssExamineWriterMetadata) see the same document.
    walked = {d["instance_id"]: d for d in res.step("metadata-api")["writers"]}
    for w in (a, b):
        assert split_identity(walked[w.instance_id])[1] == split_identity(docs[w.pid])[1]
        assert walked[w.instance_id]["class_id"] == w.class_id
    # Exactly one Identify per writer per gather.
    assert a.event_names() == ["identify"]
    assert b.event_names() == ["identify"]


def test_listing_with_metadata_text(env):
    """`shadowcopy writers --metadata` adds each writer's components and files."""
    env.start_writer(name="Example DB", metadata=DB_METADATA)
    out = env.cli("writers", "--metadata").stdout
    for text in ("Writer name: 'Example DB'", "Component: 'main'", "Component: 'settings'",
                 "Logical path: 'config'", "Caption: 'Main database'", "Database files:",
                 "Log files:", "Path = /var/lib/exampledb, Filespec = main.db",
                 "Path = /etc/exampledb, Filespec = *.conf, Recursive = yes",
                 "Excluded files:", "Service: 'exampledb.service'"):
        assert text in out, (text, out)


def test_metadata_count_and_get(env):
    """get_writer_metadata_count counts the writers that answered; every
    index below it gives a document, the count itself OBJECT_NOT_FOUND (T08)."""
    writers = [env.start_writer(metadata=SMALL_METADATA) for _ in range(3)]
    res = env.requester("init", "gather", "metadata-count", "metadata-get=0", "metadata-get=2",
                        "metadata-get=3", "metadata-get=1000")
    assert res.step("metadata-count")["count"] == 3
    assert res.step("metadata-get", 0)["error"] == "OK"
    assert res.step("metadata-get", 1)["error"] == "OK"
    assert res.step("metadata-get", 1)["writer"]["pid"] in [w.pid for w in writers]
    assert res.step("metadata-get", 2)["error"] == "OBJECT_NOT_FOUND"
    assert res.step("metadata-get", 3)["error"] == "OBJECT_NOT_FOUND"


def test_index_out_of_range_without_writers(env):
    """T08 with no writer at all: count 0 and index 0 is OBJECT_NOT_FOUND."""
    res = env.requester("init", "gather", "metadata-count", "metadata-get=0", "status")
    assert res.step("metadata-count")["count"] == 0
    assert res.step("metadata-get")["error"] == "OBJECT_NOT_FOUND"
    assert res.step("status")["status"] == []


def test_identify_false_is_absent(env):
    """T06: a writer whose Identify returns false is in neither the metadata
    nor the status; the others are; `shadowcopy writers --metadata` shows it
    FAILED_AT_IDENTIFY, non-retryable (a failure code cannot be set in
    Identify: T58)."""
    good = env.start_writer(name="Good", metadata=SMALL_METADATA)
    bad = env.start_writer(name="Refuses", fail="identify")
    res = gather(env, after=("metadata-count",))
    check_ok(res, "gather", "status")
    assert pids(res.step("metadata")["writers"]) == [good.pid]
    assert res.step("metadata-count")["count"] == 1
    status = res.step("status")["status"]
    assert [s["instance_id"] for s in status] == [good.instance_id]
    assert status[0]["state"] == 1 and status[0]["failure"] == "OK"
    assert bad.event_names() == ["identify"]
    entries = {e["pid"]: e for e in env.list_writers(metadata=True)}
    assert entries[bad.pid]["state"] == 6
    assert entries[bad.pid]["failure"] == "WRITERERROR_NONRETRYABLE"
    assert "metadata" not in entries[bad.pid]
    assert entries[good.pid]["state"] == 1
    assert entries[good.pid]["metadata"] == SMALL_METADATA


def test_identify_failure_code_ignored(env):
    """T58: SetWriterFailure inside Identify has no effect: a writer that
    tries to veto Identify with OUTOFRESOURCES is listed 'State: [6] Failed',
    'Last error: Non-retryable error'."""
    w = env.start_writer(name="Vetoes", fail="identify:WRITERERROR_OUTOFRESOURCES")
    out = env.cli("writers", "--metadata").stdout
    assert "Writer name: 'Vetoes'" in out
    assert "State: [6] Failed" in out
    assert "Last error: Non-retryable error" in out
    assert w.event_names() == ["identify"]


def test_disable_class_before_gather(env):
    """T07: disable_writer_classes before gather leaves that class out
    (no Identify sent to it); the other classes take part."""
    cls = new_class_id()
    off1 = env.start_writer(cls, "Off", instance_name="i1")
    off2 = env.start_writer(cls, "Off", instance_name="i2")
    on = env.start_writer(name="On")
    res = gather(env, f"disable-class={cls}")
    check_ok(res, "disable-class", "gather")
    assert pids(res.step("metadata")["writers"]) == [on.pid]
    assert [s["instance_id"] for s in res.step("status")["status"]] == [on.instance_id]
    assert off1.event_names() == [] and off2.event_names() == []


def test_disable_class_after_gather(env):
    """T07: disable_writer_classes after gather succeeds and changes nothing."""
    cls = new_class_id()
    w = env.start_writer(cls, "Stays in")
    other = env.start_writer(name="Other")
    res = env.requester("init", "gather", f"disable-class={cls}", f"disable-instance="
                        f"{other.instance_id}", f"enable-class={new_class_id()}",
                        "metadata-count", "status")
    check_ok(res, "gather", "disable-class", "disable-instance", "enable-class", "status")
    assert res.step("metadata-count")["count"] == 2
    assert sorted(s["instance_id"] for s in res.step("status")["status"]) == \
        sorted([w.instance_id, other.instance_id])


def test_enable_class(env):
    """enable_writer_classes: only the named classes take part."""
    a, b, c = (env.start_writer(name=n) for n in ("A", "B", "C"))
    res = gather(env, f"enable-class={a.class_id}", f"enable-class={c.class_id}")
    check_ok(res, "enable-class", "gather")
    assert pids(res.step("metadata")["writers"]) == sorted([a.pid, c.pid])
    assert b.event_names() == []


def test_enable_then_disable_class(env):
    """Disable lists apply after enable lists (protocol.md §6.2)."""
    a, b = env.start_writer(name="A"), env.start_writer(name="B")
    res = gather(env, f"enable-class={a.class_id},{b.class_id}", f"disable-class={b.class_id}")
    assert pids(res.step("metadata")["writers"]) == [a.pid]


def test_disable_instance(env):
    """disable_writer_instances leaves out one instance of a class."""
    cls = new_class_id()
    keep = env.start_writer(cls, "Multi", instance_name="keep")
    drop = env.start_writer(cls, "Multi", instance_name="drop")
    res = gather(env, f"disable-instance={drop.instance_id}")
    check_ok(res, "disable-instance", "gather")
    assert pids(res.step("metadata")["writers"]) == [keep.pid]
    assert drop.event_names() == []


def test_slow_writer_within_deadline(env):
    """A writer that answers Identify late but within the deadline is included."""
    slow = env.start_writer(name="Slow", delay=f"identify:{IDENTIFY_MS // 4}",
                            metadata=SMALL_METADATA)
    fast = env.start_writer(name="Fast")
    res = gather(env)
    assert pids(res.step("metadata")["writers"]) == sorted([slow.pid, fast.pid])


@pytest.mark.slow
def test_hung_writer_bounded_by_deadline(env):
    """A writer that never answers Identify delays gather no longer than the
    identify deadline (+ margin); the others' metadata still arrives and the
    hung writer is in neither metadata nor status."""
    hung = env.start_writer(name="Hung", hang="identify")
    ok1 = env.start_writer(name="Ok 1", metadata=SMALL_METADATA)
    ok2 = env.start_writer(name="Ok 2", metadata=DB_METADATA)
    start = time.monotonic()
    res = gather(env)
    elapsed = time.monotonic() - start
    check_ok(res, "gather", "status")
    assert elapsed < IDENTIFY_MS / 1000 + scaled(2.0), elapsed
    assert elapsed >= IDENTIFY_MS / 1000 * 0.9, f"gather did not wait for the hung one: {elapsed}"
    docs = {d["pid"]: d for d in res.step("metadata")["writers"]}
    assert sorted(docs) == sorted([ok1.pid, ok2.pid])
    assert split_identity(docs[ok2.pid])[1] == DB_METADATA
    assert hung.instance_id not in [s["instance_id"] for s in res.step("status")["status"]]
    assert hung.event_names() == ["identify"]
    hung.expect_clean_exit = False  # it is stuck in its handler on purpose


@pytest.mark.slow
def test_hung_writer_in_listing(env):
    """`shadowcopy writers --metadata` waits at most the identify deadline and
    shows a writer that did not answer as FAILED_AT_IDENTIFY with
    WRITER_NOT_RESPONDING."""
    hung = env.start_writer(name="Hung", hang="identify")
    ok = env.start_writer(name="Ok", metadata=SMALL_METADATA)
    start = time.monotonic()
    entries = {e["pid"]: e for e in env.list_writers(metadata=True)}
    assert time.monotonic() - start < IDENTIFY_MS / 1000 + scaled(2.0)
    assert entries[hung.pid]["state"] == 6
    assert entries[hung.pid]["failure"] == "WRITER_NOT_RESPONDING"
    assert entries[ok.pid]["metadata"] == SMALL_METADATA
    hung.expect_clean_exit = False


def test_writer_crashing_in_identify(env):
    """A writer that dies (SIGKILL) while handling Identify is left out at
    once, without waiting for the deadline, and leaves the registry."""
    crash = env.start_writer(name="Crashes", crash="identify")
    ok = env.start_writer(name="Ok", metadata=SMALL_METADATA)
    start = time.monotonic()
    res = gather(env)
    elapsed = time.monotonic() - start
    assert pids(res.step("metadata")["writers"]) == [ok.pid]
    assert elapsed < IDENTIFY_MS / 1000, elapsed
    wait_until(lambda: crash.proc.poll() is not None, 5, "the writer to die")
    crash.expect_clean_exit = False
    env.wait_writers(lambda ws: [e["pid"] for e in ws] == [ok.pid], "the dead writer to leave")


def test_second_gather_is_bad_state_and_sends_nothing(env):
    """gather_writer_metadata once per requester: a second is BAD_STATE and
    sends no second Identify."""
    w = env.start_writer()
    res = env.requester("init", "gather", "gather")
    assert res.step("gather", 0)["error"] == "OK"
    assert res.step("gather", 1)["error"] == "BAD_STATE"
    assert w.event_names() == ["identify"]


def test_each_requester_gathers_on_its_own(env):
    """Two requesters one after another each get the metadata; each gather
    sends its own Identify."""
    w = env.start_writer(metadata=SMALL_METADATA)
    for _ in range(2):
        res = gather(env)
        assert pids(res.step("metadata")["writers"]) == [w.pid]
    assert w.event_names() == ["identify", "identify"]
