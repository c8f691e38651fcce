# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the service refuses to freeze (issue 5), and when it says so: at
add_to_snapshot_set, as VOLUME_NOT_SUPPORTED_BY_PROVIDER with the reason in
the message (VOLUME_NOT_SUPPORTED when no provider takes the path at all),
and again right before the freeze, where do_snapshot_set fails the same way.
Refused: "/", a filesystem holding the service's state directory, socket or
program, one frozen already (left frozen: it is not the service's), and a
path that is no volume.  A filesystem frozen here is frozen with FIFREEZE by
the test itself and thawed on every path."""

import shutil

import pytest

from blockkit import kit, xfs, ext4, frozen  # noqa: F401 (fixtures)
from sctest import SHADOWCOPYD, error_name

UNSUPPORTED_BY_PROVIDER = "VOLUME_NOT_SUPPORTED_BY_PROVIDER"


def started_set(env):
    """A raw requester with a writer-less snapshot set started."""
    c = env.raw("requester")
    for method, params in (("initialize_for_backup", {"document": None}),
                           ("set_context", {"context": "nas-rollback"}),
                           ("start_snapshot_set", None)):
        assert "result" in c.call(method, params), method
    return c


def add(c, path, provider=None):
    params = {"volume": str(path)}
    if provider:
        params["provider"] = provider
    return c.call("add_to_snapshot_set", params)


def refused(reply, name, *words):
    assert error_name(reply) == name, reply
    for w in words:
        assert w in reply["error"]["message"], reply


def test_root_is_refused(env):
    """"/" is no filesystem of a loop device: no provider takes it, and the
    reflink-image provider named says why."""
    with started_set(env) as c:
        refused(add(c, "/"), "VOLUME_NOT_SUPPORTED", "reflink-image: / is not")
        refused(add(c, "/", "reflink-image"), UNSUPPORTED_BY_PROVIDER, "loop device")


def test_paths_that_are_no_volume(env, kit):
    """A path on a loop filesystem whose image lies on ext4 (which cannot
    clone files) is refused with that reason; a path that does not exist is
    OBJECT_NOT_FOUND."""
    with started_set(env) as c:
        refused(add(c, kit.outer), "VOLUME_NOT_SUPPORTED", "cannot clone files")
        refused(add(c, kit.outer / "no-such-dir"), "OBJECT_NOT_FOUND")


@pytest.mark.parametrize("what", ["state directory", "socket", "program"])
def test_filesystems_of_the_service_are_refused(env_nostart, ext4, what):
    """A filesystem that holds the service's state directory, its socket or
    its program is never frozen: refused at add_to_snapshot_set."""
    env = env_nostart
    place = ext4.mnt / f"service-{env.dir.name}"
    place.mkdir()
    if what == "state directory":
        env.state_dir = place / "state"
    elif what == "socket":
        env.socket = place / "sc.sock"
    else:
        program = place / "shadowcopyd"
        shutil.copy(SHADOWCOPYD, program)
        argv = env.daemon_argv()
        env.daemon_argv = lambda: [program] + argv[1:]
    env.start_daemon()
    with started_set(env) as c:
        refused(add(c, ext4.mnt), UNSUPPORTED_BY_PROVIDER, f"the service's {what}")
    assert not frozen(ext4.mnt)


def test_frozen_filesystem_is_refused_and_left_frozen(env, kit, ext4):
    """A filesystem frozen by someone else is refused with a clear reason,
    and the service leaves it frozen."""
    kit.freeze(ext4.mnt)
    try:
        with started_set(env) as c:
            refused(add(c, ext4.mnt), UNSUPPORTED_BY_PROVIDER, "frozen already")
        assert frozen(ext4.mnt)
    finally:
        kit.thaw(ext4.mnt)


def test_frozen_before_the_hold(env, kit, xfs, ext4):
    """Frozen by someone else after it was added: do_snapshot_set fails with
    the reason, the other filesystem is thawed, the frozen one is left as it
    is, and no clone remains."""
    before = set(kit.clones())
    with started_set(env) as c:
        assert "result" in add(c, xfs.mnt) and "result" in add(c, ext4.mnt)
        kit.freeze(ext4.mnt)
        try:
            reply = c.call("do_snapshot_set", timeout=30)
            refused(reply, UNSUPPORTED_BY_PROVIDER, "frozen already")
            assert frozen(ext4.mnt) and not frozen(xfs.mnt)
        finally:
            kit.thaw(ext4.mnt)
    assert set(kit.clones()) == before
    assert env.snapshots() == []


def test_refusal_reason_reaches_library_and_tool(env):
    """The reason of a refusal is not only on the wire: the requester library
    gives it (sc_requester_get_last_error_message) with the error code, a
    later success clears it, and `shadowcopy create` prints it."""
    res = env.requester("init", "context=nas-rollback", "start-set",
                        "add-volume=/,reflink-image", "add-volume=/")
    named = res.step("add-volume", 0)
    assert named["error"] == UNSUPPORTED_BY_PROVIDER, named
    assert "loop device" in named["said"], named
    anyone = res.step("add-volume", 1)
    assert anyone["error"] == "VOLUME_NOT_SUPPORTED", anyone
    assert "reflink-image: / is not" in anyone["said"], anyone
    assert "said" not in res.step("start-set"), res

    p = env.cli("create", "--no-writers", "--provider", "reflink-image", "/", check=False)
    assert p.returncode != 0
    assert "the service said:" in p.stderr and "loop device" in p.stderr, p.stderr
