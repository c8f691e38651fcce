# SPDX-License-Identifier: LGPL-2.1-or-later
"""Authorisation (design.md, protocol.md §3): requester and admin calls need
root or the configured group; any local user may register a writer, whose
uid is recorded and shown; [writer-classes] binds classes to users.  The
unprivileged user and the group are created by the session fixture."""

import os

from sctest import new_class_id, wait_until


def test_unprivileged_writer_registers(env, user):
    """Any local user may register a writer (through the writer socket); the
    listing shows that user's uid."""
    w = env.start_writer(name="User's writer", socket_path=env.writer_socket, user=user)
    root_w = env.start_writer(name="Root's writer")
    entries = {e["pid"]: e for e in env.list_writers()}
    assert entries[w.pid]["uid"] == user.uid
    assert entries[root_w.pid]["uid"] == 0
    out = env.cli("writers").stdout
    assert f"Uid: {user.uid} ({user.name})" in out
    res = env.requester("init", "gather", "metadata")
    docs = {d["pid"]: d for d in res.step("metadata")["writers"]}
    assert docs[w.pid]["uid"] == user.uid
    assert w.event_names() == ["identify"]


def test_unprivileged_requester_denied_by_service(env, user):
    """The service itself checks the peer's credentials: with the control
    socket opened to everyone, an unprivileged requester still gets
    ACCESS_DENIED (not only a file permission error)."""
    os.chmod(env.socket, 0o666)
    res = env.requester("init", user=user)
    assert res.lines, res
    assert res.lines[0]["error"] == "ACCESS_DENIED", res
    p = env.cli("writers", user=user, check=False)
    assert p.returncode == 3
    assert "ACCESS_DENIED" in p.stderr or "denied" in p.stderr.lower()


def test_unprivileged_requester_on_writer_socket(env, user):
    """The writer socket accepts only writers: ACCESS_DENIED for a requester."""
    res = env.requester("init", socket_path=env.writer_socket, user=user)
    assert res.lines and res.lines[0]["error"] == "ACCESS_DENIED", res


def test_unprivileged_requester_on_control_socket(env, user):
    """The control socket's mode keeps other users out at connect()."""
    res = env.requester("init", user=user)
    assert res.lines and res.lines[0]["error"] in ("EACCES", "ACCESS_DENIED"), res
    p = env.cli("writers", user=user, check=False)
    assert p.returncode == 3


def test_group_member_may_request(env, user, requester_gid):
    """A member of the configured group may act as requester and admin."""
    w = env.start_writer(name="Seen by the group")
    res = env.requester("init", "gather", "metadata-count", user=user, groups=[requester_gid])
    assert [l["error"] for l in res.lines] == ["OK", "OK", "OK"], res
    assert res.step("metadata-count")["count"] == 1
    p = env.cli("writers", user=user, groups=[requester_gid])
    assert "Seen by the group" in p.stdout
    assert w.event_names() == ["identify"]


def test_writer_class_bound_to_other_user(env_nostart, user):
    """[writer-classes] binds a class to users: a writer of that class run by
    anyone else is refused with ACCESS_DENIED; a class bound to the user
    accepts that user; unbound classes accept anyone."""
    env = env_nostart
    root_only, user_only = new_class_id(), new_class_id()
    env.start_daemon(writer_classes={root_only: ["root"], user_only: [user.name]})

    refused = env.start_writer(root_only, "Not yours", socket_path=env.writer_socket, user=user,
                               wait=False)
    wait_until(lambda: refused.proc.poll() is not None, 10, "the refused writer to exit")
    assert refused.proc.returncode != 0
    assert "ACCESS_DENIED" in refused.stderr()

    mine = env.start_writer(user_only, "Yours", socket_path=env.writer_socket, user=user)
    roots = env.start_writer(root_only, "Root's")
    free = env.start_writer(name="Unbound", socket_path=env.writer_socket, user=user)
    entries = {e["pid"]: e for e in env.list_writers()}
    assert sorted(entries) == sorted([mine.pid, roots.pid, free.pid])
    assert entries[mine.pid]["uid"] == user.uid
    assert entries[roots.pid]["uid"] == 0


def test_writer_class_binding_raw(env_nostart, user):
    """The same rule on the wire: subscribe of a bound class by root when the
    class belongs to another user is ACCESS_DENIED and registers nothing."""
    env = env_nostart
    cls = new_class_id()
    env.start_daemon(writer_classes={cls: [user.name]})
    with env.raw("writer") as c:
        r = c.call("subscribe", {"class_id": cls, "instance_id": new_class_id(), "name": "X",
                                 "usage_type": 3, "source_type": 1, "level": 2,
                                 "freeze_timeout_ms": 1000})
        assert r.get("error", {}).get("name") == "ACCESS_DENIED", r
    assert env.list_writers() == []
