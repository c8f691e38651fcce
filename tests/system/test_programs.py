# SPDX-License-Identifier: LGPL-2.1-or-later
"""The programs' command lines: shadowcopyd's and shadowcopy's --help,
--version, bad options and exit codes; the daemon's start-up, readiness
notification and clean exit on SIGTERM/SIGINT."""

import os
import signal
import socket
import stat
import subprocess

import pytest

from sctest import SHADOWCOPY, SHADOWCOPYD


def run(*argv, env=None):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=30,
                          stdin=subprocess.DEVNULL, env=env)


def test_daemon_help():
    p = run(SHADOWCOPYD, "--help")
    assert p.returncode == 0, p.stderr
    for option in ("--socket", "--state-dir", "--config", "--help", "--version"):
        assert option in p.stdout


def test_daemon_version():
    p = run(SHADOWCOPYD, "--version")
    assert p.returncode == 0, p.stderr
    assert "0.1.0" in p.stdout


@pytest.mark.parametrize("argv", [["--no-such-option"], ["--socket"], ["extra-argument"]])
def test_daemon_bad_options(argv):
    """A bad command line is refused at once with a message, not a running daemon."""
    p = run(SHADOWCOPYD, *argv)
    assert p.returncode != 0
    assert p.stderr.strip()


def test_daemon_missing_config(env_nostart):
    """An explicitly named configuration file that does not exist is an error."""
    env = env_nostart
    env.state_dir.mkdir()
    p = run(SHADOWCOPYD, "--socket", env.socket, "--state-dir", env.state_dir,
            "--config", env.dir / "missing.conf")
    assert p.returncode != 0
    assert "missing.conf" in p.stderr


def test_daemon_bad_config_value(env_nostart):
    env = env_nostart
    env.state_dir.mkdir()
    env.config.write_text("[timeouts]\nidentify-ms=soon\n")
    p = run(*env.daemon_argv())
    assert p.returncode != 0
    assert p.stderr.strip()


def test_daemon_sockets(env, requester_gid):
    """The control socket is 0660 with the configured group; the writer
    socket 0666 (protocol.md §1)."""
    control = os.stat(env.socket)
    assert stat.S_ISSOCK(control.st_mode)
    assert stat.S_IMODE(control.st_mode) == 0o660
    assert control.st_gid == requester_gid
    writer = os.stat(env.writer_socket)
    assert stat.S_ISSOCK(writer.st_mode)
    assert stat.S_IMODE(writer.st_mode) == 0o666


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_daemon_clean_exit(env, sig):
    """SIGTERM and SIGINT end the daemon with status 0, writers connected."""
    w = env.start_writer()
    assert env.stop_daemon(sig) == 0
    env.daemon_may_exit = True
    assert w.stop() == 0  # a writer whose service went away still stops cleanly


def test_daemon_readiness_notification(env_nostart):
    """Started with NOTIFY_SOCKET (as systemd does), the daemon says READY=1
    once its socket accepts clients."""
    env = env_nostart
    env.write_config()
    env.state_dir.mkdir()
    notify_path = env.dir / "notify"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(notify_path))
    notify.settimeout(10)
    try:
        env.daemon = env.procs.start(env.daemon_argv(), env.dir / "daemon1",
                                     env=dict(os.environ, NOTIFY_SOCKET=str(notify_path)))
        env.daemon_runs = 1
        messages = b""
        while b"READY=1" not in messages:
            messages += notify.recv(4096) + b"\n"
    finally:
        notify.close()
    assert env.cli("writers").returncode == 0


def test_shadowcopy_help():
    p = run(SHADOWCOPY, "--help")
    assert p.returncode == 0
    assert "writers" in p.stdout
    assert "--socket" in p.stdout and "--json" in p.stdout


def test_shadowcopy_writers_help():
    p = run(SHADOWCOPY, "writers", "--help")
    assert p.returncode == 0
    assert "--metadata" in p.stdout


def test_shadowcopy_version():
    p = run(SHADOWCOPY, "--version")
    assert p.returncode == 0
    assert "0.1.0" in p.stdout


@pytest.mark.parametrize("argv", [[], ["no-such-command"], ["--no-such-option", "writers"],
                                  ["writers", "--no-such-option"], ["writers", "extra"],
                                  ["--socket"]])
def test_shadowcopy_usage_errors(argv):
    """Exit status 2 for a bad command line, with a message on stderr."""
    p = run(SHADOWCOPY, *argv)
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert p.stderr.strip()
    assert not p.stdout.strip()


def test_shadowcopy_unreachable(env_nostart):
    """Exit status 3 when the service cannot be reached."""
    p = run(SHADOWCOPY, "--socket", env_nostart.dir / "nobody.sock", "writers")
    assert p.returncode == 3
    assert p.stderr.strip()


def test_shadowcopy_socket_from_environment(env):
    """$SHADOWCOPY_SOCKET names the socket when --socket is not given."""
    w = env.start_writer(name="From env")
    p = run(SHADOWCOPY, "writers", env=dict(os.environ, SHADOWCOPY_SOCKET=str(env.socket)))
    assert p.returncode == 0, p.stderr
    assert "From env" in p.stdout
    assert w.proc.poll() is None


def test_global_options_after_command(env):
    """--socket and --json are accepted after the command name too."""
    env.start_writer(name="Late options")
    p = run(SHADOWCOPY, "writers", "--json", "--socket", env.socket)
    assert p.returncode == 0, p.stderr
    assert '"Late options"' in p.stdout


def test_daemon_raises_open_file_limit(env):
    """At start the daemon raises its open-file limit to the hard limit."""
    for line in open(f"/proc/{env.daemon.pid}/limits"):
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            assert soft == hard, line
            break
    else:
        raise AssertionError("no 'Max open files' in /proc/PID/limits")
