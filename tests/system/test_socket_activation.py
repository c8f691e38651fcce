# SPDX-License-Identifier: LGPL-2.1-or-later
"""Socket activation (issue 6 item 4): shadowcopyd started as systemd
starts it from shadowcopyd.socket and shadowcopyd-writer.socket, with
listening sockets the test binds itself and passes as fds 3 and 4
(LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID; sd_listen_fds(3)).  The sockets
are told apart by name (control, writer; one unnamed socket is the control
socket), keep the mode and group the socket unit gave them, serve exactly
as the service's own sockets do (the writer socket takes the writer role
only, whoever the peer is), are never removed by the service, and outlive
it.  Anything else passed is refused with a clear error.  The units
themselves pass `systemd-analyze verify`."""

import fcntl
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys

import pytest

from sctest import ROOT, SHADOWCOPYD, backup_steps, error_name, scaled, wait_until

# Puts the passed fds at 3, 4, ... and sets LISTEN_PID to its own pid (which
# exec keeps), as the service manager does in the process it starts.
LAUNCHER = """
import os, sys
n = int(sys.argv[1])
fds = [int(a) for a in sys.argv[2:2 + n]]
for i, fd in enumerate(fds):
    os.dup2(fd, 3 + i)  # the sources are >= 10: none is overwritten first
for fd in fds:
    os.close(fd)
os.environ["LISTEN_PID"] = str(os.getpid())
argv = sys.argv[2 + n:]
os.execv(argv[0], argv)
"""

ACTIVATED = "from the service manager"


def listening(path, mode, gid=None):
    """A listening AF_UNIX stream socket at @path, as a socket unit makes
    it (SocketMode=, SocketGroup=)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    os.chmod(path, mode)
    if gid is not None:
        os.chown(path, 0, gid)
    s.listen(16)
    return s


def start_activated(env, socks, names=None, wait=True):
    """shadowcopyd of @env started with @socks passed as fds 3, 4, ... and
    LISTEN_FDNAMES @names (none: unset)."""
    if not env.config.exists():
        env.write_config()
    env.state_dir.mkdir(exist_ok=True)
    env.daemon_runs += 1
    high = [fcntl.fcntl(s.fileno(), fcntl.F_DUPFD_CLOEXEC, 10) for s in socks]
    e = {k: v for k, v in os.environ.items()
         if k not in ("NOTIFY_SOCKET", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES")}
    e["LISTEN_FDS"] = str(len(socks))
    if names is not None:
        e["LISTEN_FDNAMES"] = ":".join(names)
    argv = [sys.executable, "-c", LAUNCHER, str(len(high)), *map(str, high),
            *map(str, env.daemon_argv())]
    prefix = env.dir / f"daemon{env.daemon_runs}"
    try:
        with open(f"{prefix}.out", "wb") as out, open(f"{prefix}.err", "wb") as err:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                    env=e, pass_fds=high)
    finally:
        for fd in high:
            os.close(fd)
    proc.log_prefix = str(prefix)
    env.procs.procs.append(proc)  # stopped by PID at the end, as every process
    env.daemon = proc
    if wait:
        env.wait_daemon_ready()
    return proc


def file_id(path):
    st = os.lstat(path)
    assert stat.S_ISSOCK(st.st_mode), path
    return st.st_ino, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid


def activated_log(env, run):
    return [l for l in env.daemon_log().splitlines() if l.startswith("shadowcopyd: Listening")
            ][run - 1]


@pytest.fixture
def sockets(env_nostart, requester_gid):
    """The two sockets of the units: control 0660 root:<the requester group>,
    writer 0666; closed at the end of the test."""
    env = env_nostart
    ctl = listening(env.socket, 0o660, requester_gid)
    wr = listening(env.writer_socket, 0o666)
    yield ctl, wr
    ctl.close()
    wr.close()


def test_activated_service_works(env_nostart, sockets, volume, user, requester_gid):
    """Both sockets passed by name: a writer of an unprivileged user
    registers on the writer socket; a requester (root) makes a snapshot set
    on the control socket in which that writer takes part; a member of the
    group is a requester too; the sockets keep their files, modes and group
    while the service runs and after it exited (SIGTERM, exit 0)."""
    env = env_nostart
    before = {p: file_id(p) for p in (env.socket, env.writer_socket)}
    start_activated(env, sockets, ["control", "writer"])
    assert activated_log(env, 1).count(ACTIVATED) == 2, env.daemon_log()
    w = env.start_writer(socket_path=env.writer_socket, user=user, file_sets=[volume])
    res = env.requester(*backup_steps(volume), "backup-complete")
    assert res.rc == 0, res
    env.wait_sessions_ended(1)
    assert w.event_names() == ["identify", "prepare_backup", "prepare_snapshot", "freeze",
                               "thaw", "post_snapshot", "backup_complete", "backup_shutdown"]
    assert env.requester("init", user=user, groups=[requester_gid]).rc == 0
    assert {p: file_id(p) for p in before} == before
    env.daemon_may_exit = True
    assert env.stop_daemon() == 0
    assert {p: file_id(p) for p in before} == before


def test_writer_socket_takes_writers_only(env_nostart, sockets, user):
    """The role rules on passed sockets are the service's own: on the writer
    socket, even root gets ACCESS_DENIED as requester or admin, and a writer
    cannot call requester or admin methods; an unprivileged requester is
    refused there too, and cannot even connect to the control socket (its
    mode is the socket unit's 0660)."""
    env = env_nostart
    start_activated(env, sockets, ["control", "writer"])
    for role in ("requester", "admin"):
        with env.raw(socket_path=env.writer_socket) as c:
            assert error_name(c.hello(role)) == "ACCESS_DENIED"
    with env.raw("writer", socket_path=env.writer_socket) as c:
        for method in ("initialize_for_backup", "list_writers", "delete_snapshots"):
            assert error_name(c.call(method, {})) == "ACCESS_DENIED", method
    res = env.requester("init", socket_path=env.writer_socket, user=user)
    assert res.lines and res.lines[0]["error"] == "ACCESS_DENIED", res
    res = env.requester("init", user=user)
    assert res.lines and res.lines[0]["error"] in ("EACCES", "ACCESS_DENIED"), res
    with env.raw("requester") as c:  # root on the control socket: every role
        assert "result" in c.call("initialize_for_backup", {"document": None})


def test_sockets_outlive_the_service(env_nostart, sockets):
    """What socket activation is for: the sockets belong to the service
    manager.  The service exits (SIGTERM, then SIGKILL) without removing
    them; a client that connects while no service runs is queued, and is
    answered by the next service started on the same sockets; the writers
    come back by themselves."""
    env = env_nostart
    start_activated(env, sockets, ["control", "writer"])
    w = env.start_writer(instance_name="stays", socket_path=env.writer_socket)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        env.daemon_may_exit = True
        env.stop_daemon(sig)
        assert env.socket.exists() and env.writer_socket.exists()
        with env.raw() as waiting:  # connects: the socket still listens
            rid = waiting.request("hello", {"version": "1.0", "role": "admin",
                                            "client": "queued"})
            start_activated(env, sockets, ["control", "writer"], wait=False)
            env.daemon_may_exit = False
            assert "result" in waiting.reply(rid), "the queued client was not served"
        env.wait_daemon_ready()
        wait_until(lambda: w.entry() is not None, 10, "the writer to come back")


@pytest.mark.parametrize("names", [None, ["control"], ["shadowcopyd.socket"]])
def test_one_socket_is_the_control_socket(env_nostart, names):
    """One socket passed, unnamed (or named control, or with the socket
    unit's default name): it is the control socket, used as it is (here
    mode 0600, which the service would never make); the service makes the
    writer socket itself (0666) and removes only that one at exit."""
    env = env_nostart
    ctl = listening(env.socket, 0o600)
    try:
        before = file_id(env.socket)
        start_activated(env, [ctl], names)
        assert ACTIVATED in activated_log(env, 1).split(" and ")[0]
        assert stat.S_IMODE(os.stat(env.writer_socket).st_mode) == 0o666
        w = env.start_writer(socket_path=env.writer_socket)
        assert [e["pid"] for e in env.list_writers()] == [w.pid]
        env.daemon_may_exit = True
        assert env.stop_daemon() == 0
        assert file_id(env.socket) == before
        assert not env.writer_socket.exists()
    finally:
        ctl.close()


def test_writer_socket_alone(env_nostart):
    """Only the writer socket passed (named writer): the service makes the
    control socket itself, with its usual mode."""
    env = env_nostart
    wr = listening(env.writer_socket, 0o666)
    try:
        start_activated(env, [wr], ["writer"])
        control, writers = activated_log(env, 1).split(" and ")
        assert ACTIVATED not in control and ACTIVATED in writers
        assert stat.S_IMODE(os.stat(env.socket).st_mode) == 0o660
        w = env.start_writer(socket_path=env.writer_socket)
        assert [e["pid"] for e in env.list_writers()] == [w.pid]
    finally:
        wr.close()


class _Fd:
    """A bare fd with the fileno() and close() of a socket."""

    def __init__(self, fd):
        self.fd = fd

    def fileno(self):
        return self.fd

    def close(self):
        os.close(self.fd)


def bad_socket(kind, path):
    """What the service must refuse (the first) and what to close after."""
    if kind == "not-listening":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(str(path))
    elif kind == "datagram":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(str(path))
    elif kind == "inet":
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        s.listen(1)
    else:
        return [_Fd(fd) for fd in os.pipe()]
    return [s]


def refused(env, socks, names, message):
    """Start the service with @socks and expect it to refuse: non-zero exit,
    @message in its log, and no socket made."""
    env.daemon_may_exit = True
    proc = start_activated(env, socks, names, wait=False)
    rc = proc.wait(timeout=scaled(10))
    assert rc != 0
    assert message in env.daemon_log(), env.daemon_log()
    assert "ready" not in env.daemon_log()


@pytest.mark.parametrize("kind", ["not-listening", "datagram", "inet", "pipe"])
def test_refuses_what_is_not_a_listening_unix_stream_socket(env_nostart, kind):
    """A passed fd that is not a listening AF_UNIX stream socket (bound but
    not listening, datagram, TCP, a pipe) is refused with a clear error and
    a non-zero exit; no socket of the service's own is made instead."""
    env = env_nostart
    fds = bad_socket(kind, env.dir / "bad.sock")
    try:
        refused(env, fds[:1], ["control"],
                "Refusing the socket 'control' (fd 3) passed by the service manager: "
                "not a listening AF_UNIX stream socket")
    finally:
        for f in fds:
            f.close()
    assert not env.socket.exists() and not env.writer_socket.exists()


@pytest.mark.parametrize("names,message", [
    (["control", "control"], "two are named control"),
    (["writer", "writer"], "two are named writer"),
    (["control", "other"], "Refusing the socket 'other'"),
    (None, "Refusing the socket 'unknown'"),
    (["control", "writer", "writer2"], "Refusing the 3 sockets"),
])
def test_refuses_sockets_it_cannot_tell_apart(env_nostart, names, message):
    """Several sockets must be named control and writer, once each; more
    than two are refused."""
    env = env_nostart
    n = len(names) if names else 2
    socks = [listening(env.dir / f"s{i}.sock", 0o600) for i in range(n)]
    try:
        refused(env, socks, names, message)
    finally:
        for s in socks:
            s.close()


# --- the units ------------------------------------------------------------------

UNITS = ["shadowcopyd.service", "shadowcopyd.socket", "shadowcopyd-writer.socket"]


def test_units_verify(tmp_path):
    """systemd-analyze verify accepts the units, configured as meson
    configures them (@sbindir@: here the build's shadowcopyd), without a
    single warning."""
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        pytest.skip("systemd-analyze is not installed (Debian: package systemd)")
    for name in UNITS:
        text = (ROOT / "packaging" / "systemd" / name).read_text()
        (tmp_path / name).write_text(text.replace("@sbindir@", str(SHADOWCOPYD.parent)))
    p = subprocess.run([analyze, "verify", "--man=no", *(str(tmp_path / u) for u in UNITS)],
                       capture_output=True, text=True, cwd=tmp_path, timeout=scaled(60))
    if p.returncode != 0 and "Failed to initialize manager" in p.stderr:
        pytest.skip(f"systemd-analyze cannot run here: {p.stderr.strip()}")
    assert p.returncode == 0 and p.stderr == "", p.stderr
