# SPDX-License-Identifier: LGPL-2.1-or-later
"""The order of requester calls (vss-model 2.3): out of order is BAD_STATE
(T01, T02), through the library and through the raw protocol alike, since
the service enforces it."""

import pytest

from sctest import error_name


def errors(res):
    return [line["error"] for line in res.lines]


def test_in_order_succeeds(env):
    """The documented order works: init, context, backup state, gather, status."""
    env.start_writer()
    res = env.requester("init", "context=backup", "backup-state=component,full", "gather",
                        "metadata-count", "status")
    assert res.rc == 0, res
    assert errors(res) == ["OK"] * 6, res


def test_init_twice(env):
    """T01: a second initialize_for_backup is BAD_STATE."""
    res = env.requester("init", "init")
    assert errors(res) == ["OK", "BAD_STATE"], res


def test_context_twice(env):
    """T02: a second set_context is BAD_STATE, even with the same context."""
    res = env.requester("init", "context=backup", "context=backup")
    assert errors(res) == ["OK", "OK", "BAD_STATE"], res
    res = env.requester("init", "context=app-rollback", "context=file-share-backup")
    assert errors(res) == ["OK", "OK", "BAD_STATE"], res


@pytest.mark.parametrize("steps,expected", [
    (["context=backup"], ["BAD_STATE"]),
    (["backup-state=component,full"], ["BAD_STATE"]),
    (["gather"], ["BAD_STATE"]),
    (["status"], ["BAD_STATE"]),
    (["metadata-count"], ["BAD_STATE"]),
    (["metadata-get=0"], ["BAD_STATE"]),
    (["init", "status"], ["OK", "BAD_STATE"]),
    (["init", "metadata-count"], ["OK", "BAD_STATE"]),
    (["init", "gather", "context=backup"], ["OK", "OK", "BAD_STATE"]),
    (["init", "gather", "gather"], ["OK", "OK", "BAD_STATE"]),
    (["init", "gather", "init"], ["OK", "OK", "BAD_STATE"]),
], ids=lambda v: ",".join(v))
def test_out_of_order(env, steps, expected):
    """Calls before their precondition: gather before init, status before
    gather, set_context after gather, ... are BAD_STATE."""
    res = env.requester(*steps)
    assert errors(res) == expected, res


@pytest.mark.parametrize("step", ["enable-class", "disable-class", "disable-instance"])
def test_lists_before_init(env, step):
    """Enable/disable lists before initialize are BAD_STATE."""
    res = env.requester(f"{step}=6d5e2b1a-0c3f-4b7e-9a12-3456789abcde")
    assert errors(res) == ["BAD_STATE"], res


def test_bad_state_does_not_break_the_session(env):
    """After a BAD_STATE the requester goes on as if the call had not been made."""
    w = env.start_writer()
    res = env.requester("status", "init", "init", "gather", "metadata-count")
    assert errors(res) == ["BAD_STATE", "OK", "BAD_STATE", "OK", "OK"], res
    assert res.step("metadata-count")["count"] == 1
    assert w.event_names() == ["identify"]


def test_stop_on_error(env):
    """--stop-on-error ends the script at the first failing step, non-zero."""
    res = env.requester("init", "init", "gather", stop_on_error=True)
    assert errors(res) == ["OK", "BAD_STATE"], res
    assert res.rc != 0


# --- the same rules on the wire --------------------------------------------

def test_raw_order(env):
    """The service itself answers BAD_STATE (a requester in another
    language gets the same answers as the C library)."""
    with env.raw("requester") as c:
        assert error_name(c.call("gather_writer_metadata")) == "BAD_STATE"
        assert error_name(c.call("set_context", {"context": "backup"})) == "BAD_STATE"
        r = c.call("initialize_for_backup", {"document": None})
        assert "result" in r, r
        assert len(r["result"]["session"]) == 36
        assert error_name(c.call("initialize_for_backup", {"document": None})) == "BAD_STATE"
        assert error_name(c.call("gather_writer_status")) == "BAD_STATE"
        assert "result" in c.call("set_context", {"context": "backup"})
        assert error_name(c.call("set_context", {"context": "backup"})) == "BAD_STATE"
        r = c.call("gather_writer_metadata")
        assert r.get("result", {}).get("writers") == [], r
        assert error_name(c.call("gather_writer_metadata")) == "BAD_STATE"
        r = c.call("gather_writer_status")
        assert r.get("result", {}).get("writers") == [], r


def test_raw_unknown_context(env):
    """set_context with an unknown name is INVALID_MESSAGE and uses up nothing."""
    with env.raw("requester") as c:
        assert "result" in c.call("initialize_for_backup", {"document": None})
        assert error_name(c.call("set_context", {"context": "nonsense"})) == "INVALID_MESSAGE"
        assert "result" in c.call("set_context", {"context": "app-rollback"})


def test_raw_sessions_are_per_connection(env):
    """Each connection is its own session: a second connection may initialize."""
    with env.raw("requester") as a, env.raw("requester") as b:
        sa = a.call("initialize_for_backup", {"document": None})["result"]["session"]
        sb = b.call("initialize_for_backup", {"document": None})["result"]["session"]
        assert sa != sb
