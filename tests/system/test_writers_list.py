# SPDX-License-Identifier: LGPL-2.1-or-later
"""`shadowcopy writers`: the writer registry as vssadmin lists it (T67), in
text and JSON, with class ids, instance ids, uids, pids and states; several
classes and two instances of one class; stable derived instance ids."""

import re

from sctest import new_class_id

LEVELS = {"system": 1, "back": 2, "front": 3}


def parse_text(out):
    """`shadowcopy writers` text output as a list of {field: value} blocks."""
    blocks, cur = [], None
    for line in out.splitlines():
        m = re.match(r"^Writer name: '(.*)'$", line)
        if m:
            cur = {"Writer name": m.group(1)}
            blocks.append(cur)
            continue
        m = re.match(r"^   ([A-Za-z ]+): (.*)$", line)
        if m and cur is not None:
            cur.setdefault(m.group(1), m.group(2))
    return blocks


def start_fleet(env):
    """Three classes; two instances of the first; different levels."""
    a, b, c = new_class_id(), new_class_id(), new_class_id()
    return [
        env.start_writer(a, "Alpha", instance_name="one", level="front"),
        env.start_writer(a, "Alpha", instance_name="two", level="front"),
        env.start_writer(b, "Beta", level="system", freeze_timeout_ms=20000),
        env.start_writer(c, "Gamma"),
    ]


def test_list_json(env):
    """T67: every subscribed writer is listed, in subscription order, with
    the identity it registered, the uid and pid the service saw, state
    STABLE and no failure; T30: the default freeze window is 60000 ms."""
    writers = start_fleet(env)
    listed = env.list_writers()
    assert [e["pid"] for e in listed] == [w.pid for w in writers]
    for w, e in zip(writers, listed):
        assert e["class_id"] == w.class_id
        assert e["instance_id"] == w.instance_id
        assert e["name"] == w.name
        assert e.get("instance_name", "") == (w.instance_name or "")
        assert e["uid"] == 0
        assert e["state"] == 1
        assert e["failure"] == "OK"
        assert e["usage_type"] == 3 and e["source_type"] == 1
    assert [e["level"] for e in listed] == [3, 3, 1, 2]
    assert [e["freeze_timeout_ms"] for e in listed] == [60000, 60000, 20000, 60000]
    assert "metadata" not in listed[0]


def test_two_instances_of_one_class(env):
    """Two instances of one class are two writers with different instance ids."""
    writers = start_fleet(env)
    listed = env.list_writers()
    assert listed[0]["class_id"] == listed[1]["class_id"]
    ids = {e["instance_id"] for e in listed}
    assert len(ids) == len(writers)


def test_list_text(env):
    """T67: the text view prints name, class id, instance id, uid,
    'State: [1] Stable' and 'Last error: No error' for every writer."""
    writers = start_fleet(env)
    out = env.cli("writers").stdout
    blocks = parse_text(out)
    assert len(blocks) == len(writers)
    for w, b in zip(writers, blocks):
        assert b["Writer name"] == w.name
        assert b["Writer Id"] == "{" + w.class_id + "}"
        assert b["Writer Instance Id"] == "{" + w.instance_id + "}"
        assert b["State"] == "[1] Stable"
        assert b["Last error"] == "No error"
        assert re.match(r"^0\b", b["Uid"]), b["Uid"]
    assert "Writer Instance Name: 'one'" in out


def test_empty_registry(env):
    """With no writer the list is empty and the tool succeeds."""
    assert env.list_writers() == []
    p = env.cli("writers")
    assert p.stdout.strip() == ""


def test_unsubscribed_writer_leaves(env):
    """A writer that stops (SIGTERM: unsubscribe, exit 0) leaves the list."""
    w1 = env.start_writer(name="Stays")
    w2 = env.start_writer(name="Goes")
    assert w2.stop() == 0
    env.wait_writers(lambda ws: [e["pid"] for e in ws] == [w1.pid], "the stopped writer to leave")


def test_derived_instance_id_is_stable(env):
    """A writer restarted with the same class and instance name gets the same
    instance id (VSS: the persistent instance name); another name another id."""
    cls = new_class_id()
    first = env.start_writer(cls, "Stable id", instance_name="db1")
    first_id = first.instance_id
    assert first.stop() == 0
    env.wait_writers(lambda ws: ws == [], "the writer to leave")
    again = env.start_writer(cls, "Stable id", instance_name="db1")
    other = env.start_writer(cls, "Stable id", instance_name="db2")
    assert again.instance_id == first_id
    assert other.instance_id != first_id
    assert [e["instance_id"] for e in env.list_writers()] == [first_id, other.instance_id]


def test_instance_id_without_name_is_fresh(env):
    """Without an instance name each writer process gets a new instance id."""
    cls = new_class_id()
    a = env.start_writer(cls, "Anonymous")
    b = env.start_writer(cls, "Anonymous")
    assert a.instance_id != b.instance_id
    assert len(env.list_writers()) == 2


def test_list_many_writers(env):
    """The registry holds many writers at once and lists them all."""
    writers = [env.start_writer(name=f"Many {i}", wait=False) for i in range(12)]
    for w in writers:
        w.wait_ready()
    listed = env.list_writers()
    assert sorted(e["pid"] for e in listed) == sorted(w.pid for w in writers)
