# SPDX-License-Identifier: LGPL-2.1-or-later
"""Bad input on the wire (protocol.md §1-3): malformed JSON, unknown
methods, fields of the wrong type, oversized messages, another major
version, silent clients, calls of another role.  Each gets a clear error or
a clean close, and the daemon keeps serving everyone else."""

import json
import os
import socket
import time

import pytest

from sctest import HANDSHAKE_MS, RawClient, error_name, scaled

MIB = 1024 * 1024


def assert_serving(env):
    """The daemon still answers: the tool lists the writers, and a fresh
    raw client completes the handshake and a call."""
    env.cli("writers")
    with env.raw("requester") as c:
        assert "result" in c.call("list_writers", {"metadata": False})


def null_id_error(msg):
    assert msg is not None, "connection closed instead of an error reply"
    assert msg.get("id", "absent") is None, msg
    return error_name(msg)


@pytest.mark.parametrize("line", [b"{not json", b"[1, 2]", b"42", b"\"hello\"", b"",
                                  b"{\"id\": 1, \"method\": \"hello\"", b"\xff\xfe{}",
                                  b"{\"id\": 1, \"id\": 2, \"method\": \"hello\"}"],
                         ids=["garbage", "array", "number", "string", "empty", "truncated",
                              "not-utf8", "duplicate-key"])
def test_malformed_line_before_hello(env, line):
    """A line that is not a JSON object gets INVALID_MESSAGE with id null;
    the connection stays open and the next line is read normally."""
    with RawClient(env.socket) as c:
        c.send_bytes(line + b"\n")
        assert null_id_error(c.recv()) == "INVALID_MESSAGE"
        assert "result" in c.hello("requester")
    assert_serving(env)


def test_malformed_line_after_hello(env):
    w = env.start_writer()
    with env.raw("requester") as c:
        c.send_bytes(b"}}}{{{\n")
        assert null_id_error(c.recv()) == "INVALID_MESSAGE"
        r = c.call("list_writers", {"metadata": False})
        assert [e["pid"] for e in r["result"]["writers"]] == [w.pid]
    assert_serving(env)


def test_invalid_id(env):
    """An id that is not an integer ≥ 0 makes the message invalid (id null)."""
    with env.raw("requester") as c:
        for bad in ("7", -1, 1.5, [1]):
            c.send({"id": bad, "method": "list_writers", "params": {}})
            assert null_id_error(c.recv()) == "INVALID_MESSAGE"
    assert_serving(env)


def test_unknown_method(env):
    """UNKNOWN_METHOD with the request's id; the connection stays open."""
    with env.raw("requester") as c:
        r = c.call("make_coffee", {"sugar": 2})
        assert error_name(r) == "UNKNOWN_METHOD"
        assert r["error"]["code"] == "0x80004001"
        assert r["error"]["message"]
        assert "result" in c.call("list_writers")
    assert_serving(env)


def test_unknown_fields_ignored(env):
    """Unknown fields, in the message and in params, are ignored."""
    with RawClient(env.socket) as c:
        c.send({"id": 0, "method": "hello", "future": [1],
                "params": {"version": "1.0", "role": "requester", "colour": "blue"}})
        assert "result" in c.recv()
        assert "result" in c.call("list_writers", {"metadata": False, "sort": "name"})


@pytest.mark.parametrize("params", [
    {"version": 1.0, "role": "requester"},
    {"version": "1.0", "role": 3},
    {"version": "1.0", "role": "superuser"},
    {"version": "1.0"},
    {"role": "requester"},
    {"version": "1.0", "role": "requester", "client": 12},
    [],
], ids=lambda p: json.dumps(p))
def test_hello_wrong_fields(env, params):
    """hello with a field missing, of the wrong type or with a bad value is
    INVALID_MESSAGE; a correct hello on the same connection then works."""
    with RawClient(env.socket) as c:
        r = c.call("hello", params)
        assert error_name(r) == "INVALID_MESSAGE", r
        assert r["id"] == 0
        assert "result" in c.hello("requester")
    assert_serving(env)


def test_method_params_wrong_type(env):
    """A field of the wrong type in a method's params is INVALID_MESSAGE."""
    with env.raw("requester") as c:
        assert error_name(c.call("list_writers", {"metadata": "yes"})) == "INVALID_MESSAGE"
        assert "result" in c.call("initialize_for_backup", {"document": None})
        assert error_name(c.call("set_context", {"context": 0})) == "INVALID_MESSAGE"
        assert error_name(c.call("disable_writer_classes", {"class_ids": "x"})) == \
            "INVALID_MESSAGE"
        assert error_name(c.call("disable_writer_classes", {"class_ids": ["x"]})) == \
            "INVALID_MESSAGE"
        assert error_name(c.call("enable_writer_classes", {})) == "INVALID_MESSAGE"
        assert error_name(c.call("cancel", {"request": "1"})) == "INVALID_MESSAGE"
        assert "result" in c.call("set_context", {"context": "backup"})
    assert_serving(env)


def test_params_not_an_object(env):
    with env.raw("requester") as c:
        c.send({"id": 5, "method": "list_writers", "params": [True]})
        r = c.recv()
        assert error_name(r) == "INVALID_MESSAGE"
        assert r["id"] == 5
    assert_serving(env)


@pytest.mark.parametrize("version", ["2.0", "0.9", "99.1"])
def test_other_major_version(env, version):
    """Another major version is refused with PROTOCOL_VERSION and the
    connection is closed."""
    with RawClient(env.socket) as c:
        r = c.hello("requester", version=version)
        assert error_name(r) == "PROTOCOL_VERSION"
        assert r["error"]["code"] == "0x80004001"
        assert c.closed_within(5)
    assert_serving(env)


def test_other_minor_version(env):
    """Another minor version is accepted; the service says what it speaks."""
    with RawClient(env.socket) as c:
        r = c.hello("requester", version="1.7")
        assert r["result"]["version"] == "1.0"
        assert "result" in c.call("list_writers")


def test_hello_reply(env):
    """hello answers with the version, the server and the peer's credentials."""
    with RawClient(env.socket) as c:
        r = c.hello("admin")["result"]
        assert r["version"] == "1.0"
        assert r["server"].startswith("shadowcopyd ")
        assert r["uid"] == 0
        assert r["pid"] == os.getpid()


@pytest.mark.parametrize("version", ["1", "one", "1.0.0", ""])
def test_malformed_version(env, version):
    """A version that is not MAJOR.MINOR is refused (and nothing breaks)."""
    with RawClient(env.socket) as c:
        r = c.hello("requester", version=version)
        assert error_name(r) in ("INVALID_MESSAGE", "PROTOCOL_VERSION"), r
    assert_serving(env)


def test_request_before_hello(env):
    """Any request before hello is BAD_STATE; hello afterwards works."""
    with RawClient(env.socket) as c:
        r = c.call("list_writers")
        assert error_name(r) == "BAD_STATE"
        assert r["id"] == 0
        assert "result" in c.hello("requester")


def test_second_hello(env):
    with env.raw("requester") as c:
        assert error_name(c.hello("requester")) == "BAD_STATE"
        assert "result" in c.call("list_writers")


def test_requester_method_from_writer(env):
    """A method of another role gets ACCESS_DENIED; the connection stays open."""
    with env.raw("writer") as c:
        for method in ("initialize_for_backup", "gather_writer_metadata", "list_writers"):
            assert error_name(c.call(method, {})) == "ACCESS_DENIED", method
        assert "result" in c.call("subscribe", {
            "class_id": "6d5e2b1a-0c3f-4b7e-9a12-3456789abcde",
            "instance_id": "6d5e2b1a-0c3f-4b7e-9a12-3456789abcdf", "name": "W",
            "usage_type": 3, "source_type": 1, "level": 2, "freeze_timeout_ms": 1000})
    assert_serving(env)


def test_writer_method_from_requester(env):
    with env.raw("requester") as c:
        r = c.call("subscribe", {"class_id": "6d5e2b1a-0c3f-4b7e-9a12-3456789abcde",
                                 "instance_id": "6d5e2b1a-0c3f-4b7e-9a12-3456789abcdf",
                                 "name": "W", "usage_type": 3, "source_type": 1, "level": 2,
                                 "freeze_timeout_ms": 1000})
        assert error_name(r) == "ACCESS_DENIED"
        assert "result" in c.call("list_writers")
    assert env.list_writers() == []


@pytest.mark.parametrize("role", ["requester", "admin"])
def test_writer_socket_only_takes_writers(env, role):
    """On the writer socket only the writer role is accepted (even for root)."""
    with RawClient(env.writer_socket) as c:
        assert error_name(c.hello(role)) == "ACCESS_DENIED"
        assert c.closed_within(5)
    with env.raw("writer", socket_path=env.writer_socket):
        pass
    assert_serving(env)


def send_oversized(c, size):
    """Send @size bytes without a newline; stop early if the service closes."""
    chunk = b"x" * MIB
    sent = 0
    try:
        while sent < size:
            n = min(len(chunk), size - sent)
            c.send_bytes(chunk[:n])
            sent += n
    except (BrokenPipeError, ConnectionResetError):
        pass


@pytest.mark.parametrize("after_hello", [False, True])
def test_oversized_message(env, after_hello):
    """A line longer than 16 MiB gets MESSAGE_TOO_LARGE (id null) and the
    connection is closed; the daemon serves others meanwhile and after."""
    with RawClient(env.socket, timeout=30) as c:
        if after_hello:
            assert "result" in c.hello("requester")
        c.send_bytes(b'{"id": 1, "method": "list_writers", "params": {"pad": "')
        send_oversized(c, 16 * MIB + 64 * 1024)
        msg = c.recv(timeout=30)
        assert null_id_error(msg) == "MESSAGE_TOO_LARGE"
        assert c.closed_within(10)
    assert_serving(env)


def test_large_message_below_limit(env):
    """A message just under 16 MiB is read and answered normally."""
    pad = "y" * (16 * MIB - 1024)
    with env.raw("requester") as c:
        c.sock.settimeout(scaled(30))
        c.send({"id": 42, "method": "list_writers", "params": {"metadata": False, "pad": pad}})
        r = c.recv(timeout=30)
        assert r["id"] == 42 and "result" in r, r
    assert_serving(env)


def test_silent_client_closed(env):
    """A client that connects and says nothing is closed after the handshake
    timeout; others are served meanwhile."""
    start = time.monotonic()
    silent = RawClient(env.socket)
    half = RawClient(env.socket)
    half.send_bytes(b'{"id": 0, "method": "hel')
    try:
        assert_serving(env)
        assert silent.closed_within(HANDSHAKE_MS / 1000 + scaled(3))
        assert half.closed_within(HANDSHAKE_MS / 1000 + scaled(3))
        assert time.monotonic() - start >= HANDSHAKE_MS / 1000 * 0.9
    finally:
        silent.close()
        half.close()
    assert_serving(env)


@pytest.mark.slow
def test_idle_client_after_hello_stays(env):
    """The handshake timeout ends only connections that never said hello."""
    with env.raw("requester") as c:
        assert not c.closed_within(HANDSHAKE_MS / 1000 * 1.5)
        assert "result" in c.call("list_writers")


def test_many_silent_clients(env):
    """Many connections that say nothing do not stop the service."""
    clients = [RawClient(env.socket) for _ in range(64)]
    try:
        assert_serving(env)
    finally:
        for c in clients:
            c.close()
    assert_serving(env)


def test_client_vanishes_mid_message(env):
    """A client that closes halfway through a line or right after a request."""
    c = RawClient(env.socket)
    c.send_bytes(b'{"id": 0, "method": "hello", "params": {"vers')
    c.close()
    c = env.raw("requester")
    c.request("list_writers")
    c.sock.shutdown(socket.SHUT_RDWR)
    c.close()
    assert_serving(env)


@pytest.mark.slow
def test_requester_gone_during_gather(env):
    """A requester that disconnects while its gather waits for a hung writer:
    the service finishes the operation without it and keeps serving."""
    hung = env.start_writer(name="Hung", hang="identify")
    hung.expect_clean_exit = False
    c = env.raw("requester")
    assert "result" in c.call("initialize_for_backup", {"document": None})
    c.request("gather_writer_metadata")
    c.close()
    # Past the identify deadline: the operation has ended in the service.
    with env.raw("requester") as d:
        assert "result" in d.call("initialize_for_backup", {"document": None})
        r = d.call("gather_writer_metadata", timeout=10)
        assert r["result"]["writers"] == []
    assert_serving(env)


def test_event_from_a_client(env):
    """Only the service sends events: an event from a client is refused with
    INVALID_MESSAGE (its id named) and the connection stays open."""
    with env.raw("writer") as c:
        c.send({"id": 3, "event": "identify", "params": {}})
        r = c.recv()
        assert r["id"] == 3 and error_name(r) == "INVALID_MESSAGE", r
        assert error_name(c.call("unsubscribe")) == "BAD_STATE"
    assert_serving(env)


@pytest.mark.parametrize("role", ["writer", "requester"])
def test_stray_replies_ignored(env, role):
    """A reply to no event the service sent (unknown id, null id, or from a
    requester) is ignored: no answer, and the connection goes on."""
    with env.raw(role) as c:
        c.send({"id": 999, "result": {"success": True}})
        c.send({"id": None, "error": {"name": "UNEXPECTED", "code": "0x80042302",
                                      "message": "x"}})
        c.send({"id": 0, "result": {"success": False}})
        # The next reply on this connection is the one to this call.
        r = c.call("unsubscribe" if role == "writer" else "list_writers")
        assert r["id"] == c.next_id - 1, r
    assert_serving(env)


def test_too_many_operations_on_one_connection(env):
    """A connection may have 64 operations running: the 65th is answered at
    once with EAGAIN, the 64 others finish, and the connection and the
    service go on serving."""
    env.start_writer(delay="identify:100")  # keeps each listing running a while
    with env.raw("admin") as c:
        c.send_bytes(b"".join(json.dumps({"id": i, "method": "list_writers",
                                          "params": {"metadata": True}}).encode() + b"\n"
                              for i in range(100, 165)))
        replies = {}
        while len(replies) < 65:
            m = c.recv(timeout=30)
            assert m is not None, replies
            replies[m["id"]] = m
        assert error_name(replies[164]) == "EAGAIN", replies[164]
        assert all("result" in replies[i] for i in range(100, 164))
        assert "result" in c.call("list_writers", {"metadata": False})
