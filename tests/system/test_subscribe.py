# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writer subscription: a second subscribe is WRITER_ALREADY_SUBSCRIBED
(T57) on one connection, across connections, and through the library; the
subscribe parameters are checked; a writer speaking the raw protocol answers
Identify and its answer is checked before any requester sees it."""

import json
import os
import subprocess
import uuid

import pytest

from sctest import TEST_REQUESTER, error_name, new_class_id, scaled, wait_until
from test_identify import SMALL_METADATA, split_identity


def subscribe_params(class_id=None, instance_id=None, **over):
    p = {"class_id": class_id or new_class_id(), "instance_id": instance_id or str(uuid.uuid4()),
         "name": "Raw writer", "usage_type": 3, "source_type": 1, "level": 2,
         "freeze_timeout_ms": 60000}
    p.update(over)
    return p


def test_subscribe_twice_on_one_connection(env):
    """T57: the second subscribe on one connection is WRITER_ALREADY_SUBSCRIBED
    and the first registration stays."""
    with env.raw("writer") as c:
        params = subscribe_params()
        assert c.call("subscribe", params) == {"id": 1, "result": {}}
        assert error_name(c.call("subscribe", params)) == "WRITER_ALREADY_SUBSCRIBED"
        assert error_name(c.call("subscribe", subscribe_params())) == "WRITER_ALREADY_SUBSCRIBED"
        listed = env.list_writers()
        assert [(e["class_id"], e["instance_id"]) for e in listed] == \
            [(params["class_id"], params["instance_id"])]
        assert listed[0]["pid"] == os.getpid()
        assert listed[0]["uid"] == 0


def test_same_class_and_instance_on_two_connections(env):
    """T57: a live writer holds its class and instance id; a second
    connection claiming them is refused, and may take them once the first left."""
    params = subscribe_params()
    with env.raw("writer") as first:
        assert "result" in first.call("subscribe", params)
        with env.raw("writer") as second:
            assert error_name(second.call("subscribe", params)) == "WRITER_ALREADY_SUBSCRIBED"
            # Same class, other instance: a second instance is fine.
            assert "result" in second.call("subscribe", subscribe_params(params["class_id"]))
        assert "result" in first.call("unsubscribe")
    with env.raw("writer") as third:
        assert "result" in third.call("subscribe", params)


def test_library_second_subscribe(env):
    """T57 through the library: sc_writer_subscribe() a second time fails
    with WRITER_ALREADY_SUBSCRIBED and the writer stays subscribed."""
    w = env.start_writer(extra=["--subscribe-twice"])
    assert w.ready_info()["second_subscribe"] == "WRITER_ALREADY_SUBSCRIBED"
    assert [e["pid"] for e in env.list_writers()] == [w.pid]


def test_two_test_writers_same_instance(env):
    """T57 across processes: a second test writer with the same class and
    instance name fails to start with WRITER_ALREADY_SUBSCRIBED; the first
    is unaffected."""
    cls = new_class_id()
    first = env.start_writer(cls, "Twin", instance_name="same")
    second = env.start_writer(cls, "Twin", instance_name="same", wait=False)
    wait_until(lambda: second.proc.poll() is not None, 10, "the second writer to give up")
    assert second.proc.returncode != 0
    assert "WRITER_ALREADY_SUBSCRIBED" in second.stderr()
    assert not second.ready_path.exists()
    assert [e["pid"] for e in env.list_writers()] == [first.pid]


def test_unsubscribe(env):
    """unsubscribe removes the writer at once; unsubscribe when not
    subscribed is BAD_STATE; a connection may subscribe again after."""
    with env.raw("writer") as c:
        assert error_name(c.call("unsubscribe")) == "BAD_STATE"
        params = subscribe_params()
        assert "result" in c.call("subscribe", params)
        assert len(env.list_writers()) == 1
        assert "result" in c.call("unsubscribe")
        assert env.list_writers() == []
        assert error_name(c.call("unsubscribe")) == "BAD_STATE"
        assert "result" in c.call("subscribe", params)
        assert len(env.list_writers()) == 1


def test_closing_the_connection_unsubscribes(env):
    c = env.raw("writer")
    assert "result" in c.call("subscribe", subscribe_params())
    assert len(env.list_writers()) == 1
    c.close()
    env.wait_writers(lambda ws: ws == [], "the writer to leave")


@pytest.mark.parametrize("change", [
    {"class_id": "not-an-id"},
    {"class_id": 5},
    {"instance_id": None},
    {"name": ""},
    {"name": 7},
    {"usage_type": "3"},
    {"usage_type": 99},
    {"source_type": -1},
    {"level": 0},
    {"level": 9},
    {"level": "front"},
    {"freeze_timeout_ms": 0},
    {"freeze_timeout_ms": -5},
    {"freeze_timeout_ms": "60000"},
    {"instance_name": 3},
], ids=lambda c: json.dumps(c))
def test_subscribe_invalid(env, change):
    """A subscribe with a missing field, a wrong type or a bad value is
    INVALID_MESSAGE, registers nothing, and the connection may try again."""
    params = subscribe_params()
    for k, v in change.items():
        if v is None:
            del params[k]
        else:
            params[k] = v
    with env.raw("writer") as c:
        assert error_name(c.call("subscribe", params)) == "INVALID_MESSAGE"
        assert env.list_writers() == []
        assert "result" in c.call("subscribe", subscribe_params())


def test_subscribe_accepts_uppercase_and_braces(env):
    """Ids may come uppercase and in braces; the service lists them lowercase."""
    cls, inst = new_class_id(), str(uuid.uuid4())
    with env.raw("writer") as c:
        r = c.call("subscribe", subscribe_params("{" + cls.upper() + "}", inst.upper()))
        assert "result" in r, r
        e = env.list_writers()[0]
        assert (e["class_id"], e["instance_id"]) == (cls, inst)


def start_requester(env, *steps):
    """A test requester running in the background (stopped at teardown if
    it is still running then)."""
    proc = subprocess.Popen([str(TEST_REQUESTER), "--socket", str(env.socket), *steps],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL)
    env.procs.procs.append(proc)
    return proc


def requester_output(proc):
    out, err = proc.communicate(timeout=scaled(30))
    lines = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    return {l["step"]: l for l in lines}, err


def raw_identify(env, answer):
    """A raw writer subscribes; a requester gathers; the writer answers the
    identify event with @answer (the body of its reply).  Returns the
    requester's metadata step and the writer's subscribe params."""
    params = subscribe_params(instance_name="raw-1")
    with env.raw("writer") as c:
        assert "result" in c.call("subscribe", params)
        proc = start_requester(env, "init", "gather", "metadata")
        ev = c.recv(timeout=10)
        assert ev is not None and ev.get("event") == "identify", ev
        assert isinstance(ev["id"], int)
        c.send({"id": ev["id"], **answer})
        steps, _ = requester_output(proc)
    return steps, params


def test_raw_writer_answers_identify(env):
    """A writer written against protocol.md alone: its Identify answer
    reaches the requester, with the identity from its subscribe."""
    steps, params = raw_identify(env, {"result": {"success": True, "metadata": SMALL_METADATA}})
    docs = steps["metadata"]["writers"]
    assert len(docs) == 1, steps
    identity, own = split_identity(docs[0])
    assert own == SMALL_METADATA
    assert identity["class_id"] == params["class_id"]
    assert identity["instance_id"] == params["instance_id"]
    assert identity["instance_name"] == "raw-1"
    assert identity["pid"] == os.getpid()


@pytest.mark.parametrize("answer", [
    {"result": {"success": False}},
    {"result": {"success": False, "failure": "WRITERERROR_OUTOFRESOURCES"}},
    {"error": {"name": "UNEXPECTED", "code": "0x80042302", "message": "broken"}},
    {"result": {"success": True, "metadata": {"components": [{"type": 1}]}}},
    {"result": {"success": True, "metadata": {"backup_schema": "all"}}},
    {"result": {"success": True, "metadata": []}},
], ids=["veto", "veto-with-code", "error-reply", "component-without-name",
        "schema-not-int", "metadata-not-object"])
def test_raw_writer_bad_identify_answer(env, answer):
    """A veto, an error reply, or metadata the service cannot validate
    leaves the writer out of the requester's metadata (T06)."""
    steps, _ = raw_identify(env, answer)
    assert steps["gather"]["error"] == "OK", steps
    assert steps["metadata"]["writers"] == []


@pytest.mark.slow
def test_raw_writer_late_answer_ignored(env):
    """An answer after the identify deadline is ignored; the connection
    and the registration survive."""
    params = subscribe_params()
    with env.raw("writer") as c:
        assert "result" in c.call("subscribe", params)
        proc = start_requester(env, "init", "gather", "metadata")
        ev = c.recv(timeout=10)
        assert ev["event"] == "identify"
        steps, _ = requester_output(proc)
        assert steps["metadata"]["writers"] == []
        c.send({"id": ev["id"], "result": {"success": True, "metadata": SMALL_METADATA}})
        # Replies on one connection are in order: once this one is back, the
        # stale answer has been read.
        assert error_name(c.call("subscribe", params)) == "WRITER_ALREADY_SUBSCRIBED"
        assert [e["instance_id"] for e in env.list_writers()] == [params["instance_id"]]
