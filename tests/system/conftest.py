# SPDX-License-Identifier: LGPL-2.1-or-later
"""Fixtures of the system tests: an unprivileged user and a group created
for the session; for each test a fresh shadowcopyd on a temporary socket
with its writers, all stopped by PID and removed at the end, on every path;
and per module the filesystems of the snapshot tests (a loop-mounted btrfs,
whose subvolumes each test creates afresh, an ext4 and a tmpfs), unmounted
and removed at the end of the module.  The helpers live in sctest.py."""

import grp
import os
import pwd
import re
import subprocess

import pytest

from sctest import SHADOWCOPY, SHADOWCOPYD, TEST_REQUESTER, TEST_WRITER, Env, Mounts, User

# Per-run names, so that two runs on one machine never delete each other's
# accounts; the pid tells a leftover of an interrupted run from a live one.
ACCOUNT_PREFIX = "sc-pt"
USER_NAME = f"{ACCOUNT_PREFIX}{os.getpid()}"
GROUP_NAME = f"{ACCOUNT_PREFIX}{os.getpid()}g"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def pytest_collection_modifyitems(config, items):
    missing = [str(p) for p in (SHADOWCOPYD, SHADOWCOPY, TEST_WRITER, TEST_REQUESTER)
               if not p.exists()]
    if missing:
        # Fail loudly rather than skip: CI must never pass without the programs.
        raise pytest.UsageError("not built: " + ", ".join(missing) +
                                " (set SHADOWCOPY_BUILD to the build directory)")


def _run(*argv):
    subprocess.run(argv, check=True, capture_output=True)


def _owner_pid(name):
    """The pid in an account name of ours, or None for anyone else's."""
    m = re.fullmatch(ACCOUNT_PREFIX + r"(\d+)g?", name)
    return int(m.group(1)) if m else None


def _remove_accounts(only_stale):
    """Remove our accounts: this run's, or (@only_stale) those of runs that
    are no longer alive."""
    def ours(name):
        pid = _owner_pid(name)
        if pid is None:
            return False
        if only_stale:
            return pid != os.getpid() and not os.path.exists(f"/proc/{pid}")
        return pid == os.getpid()

    for pw in pwd.getpwall():
        if ours(pw.pw_name):
            _run("userdel", pw.pw_name)
    for gr in grp.getgrall():
        if ours(gr.gr_name):
            _run("groupdel", gr.gr_name)


@pytest.fixture(scope="session")
def accounts():
    """A group (the service's requester group in every test's config) and an
    unprivileged user outside it, created for the session and removed after."""
    if os.geteuid() != 0:
        pytest.skip("system tests run as root")
    _remove_accounts(only_stale=True)  # leftovers of interrupted runs
    _run("groupadd", "--system", GROUP_NAME)
    _run("useradd", "--system", "--no-create-home", "--user-group", "--shell",
         "/usr/sbin/nologin", USER_NAME)
    try:
        pw = pwd.getpwnam(USER_NAME)
        yield {"user": User(USER_NAME, pw.pw_uid, pw.pw_gid),
               "group": grp.getgrnam(GROUP_NAME).gr_gid}
    finally:
        _remove_accounts(only_stale=False)


@pytest.fixture
def user(accounts):
    return accounts["user"]


@pytest.fixture
def requester_gid(accounts):
    return accounts["group"]


def _stop(env):
    """Stop the test's writers, then the daemon; the problems seen."""
    problems = []
    for w in env.writers:
        running = w.proc.poll() is None
        rc = w.stop()
        if running and w.expect_clean_exit and rc != 0:
            problems.append(f"writer {w.name} (pid {w.pid}) exited {rc} on SIGTERM")
    if env.daemon is not None:
        running = env.daemon.poll() is None
        rc = env.stop_daemon()
        if not running and not env.daemon_may_exit:
            problems.append(f"shadowcopyd died during the test with {rc}")
        elif running and rc != 0:
            problems.append(f"shadowcopyd exited {rc} on SIGTERM")
    return problems


def _teardown(env, request):
    try:
        problems = _stop(env)
        call = getattr(request.node, "rep_call", None)
        if problems or (call is not None and call.failed):
            print(f"--- shadowcopyd log ({env.dir}) ---")
            print(env.daemon_log()[-20000:])
            for w in env.writers:
                print(f"--- writer {w.name} (pid {w.pid}) stderr ---")
                print(w.stderr()[-4000:])
    finally:
        env.cleanup()
    assert not problems, "; ".join(problems)


@pytest.fixture
def env_nostart(accounts, request):
    """A test's world without the daemon: call env.start_daemon(...)."""
    env = Env(group=GROUP_NAME)
    try:
        yield env
    finally:
        _teardown(env, request)


@pytest.fixture
def env(env_nostart):
    """A test's world with shadowcopyd running (small deadlines)."""
    env_nostart.start_daemon()
    return env_nostart


@pytest.fixture(scope="module")
def mounts():
    """The module's filesystems (sctest.Mounts): one btrfs shared by the
    module's tests, made at first use, unmounted and removed after the last."""
    if os.geteuid() != 0:
        pytest.skip("system tests run as root")
    m = Mounts()
    try:
        yield m
    finally:
        problems = m.cleanup()
    assert not problems, "; ".join(problems)


@pytest.fixture
def volume(mounts):
    """A fresh btrfs subvolume for this test."""
    return mounts.subvolume()
