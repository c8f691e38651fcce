# SPDX-License-Identifier: LGPL-2.1-or-later
"""Fixtures of the system tests: an unprivileged user and a group created
for the session, and for each test a fresh shadowcopyd on a temporary socket
with its writers, all stopped by PID and removed at the end, on every path.
The helpers themselves live in sctest.py."""

import grp
import os
import pwd
import subprocess

import pytest

from sctest import SHADOWCOPY, SHADOWCOPYD, TEST_REQUESTER, TEST_WRITER, Env, User

USER_NAME = "sc-pytest"
GROUP_NAME = "sc-pytest-grp"


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


def _remove_account():
    try:
        pwd.getpwnam(USER_NAME)
        _run("userdel", USER_NAME)
    except KeyError:
        pass
    try:
        grp.getgrnam(GROUP_NAME)
        _run("groupdel", GROUP_NAME)
    except KeyError:
        pass


@pytest.fixture(scope="session")
def accounts():
    """A group (the service's requester group in every test's config) and an
    unprivileged user outside it, created for the session and removed after."""
    if os.geteuid() != 0:
        pytest.skip("system tests run as root")
    _remove_account()  # a leftover of an interrupted run
    _run("groupadd", "--system", GROUP_NAME)
    _run("useradd", "--system", "--no-create-home", "--user-group", "--shell",
         "/usr/sbin/nologin", USER_NAME)
    try:
        pw = pwd.getpwnam(USER_NAME)
        yield {"user": User(USER_NAME, pw.pw_uid, pw.pw_gid),
               "group": grp.getgrnam(GROUP_NAME).gr_gid}
    finally:
        _remove_account()


@pytest.fixture
def user(accounts):
    return accounts["user"]


@pytest.fixture
def requester_gid(accounts):
    return accounts["group"]


def _teardown(env, request):
    problems = []
    for w in env.writers:
        running = w.proc.poll() is None
        rc = w.stop()
        if running and w.expect_clean_exit and rc != 0:
            problems.append(f"writer {w.name} (pid {w.pid}) exited {rc} on SIGTERM: "
                            f"{w.stderr()}")
    if env.daemon is not None:
        running = env.daemon.poll() is None
        rc = env.stop_daemon()
        if not running:
            if env.daemon_expect_exit is None:
                problems.append(f"shadowcopyd died during the test with {rc}")
        elif rc != 0:
            problems.append(f"shadowcopyd exited {rc} on SIGTERM")
    failed = getattr(request.node, "rep_call", None)
    if problems or (failed is not None and failed.failed):
        print(f"--- shadowcopyd log ({env.dir}) ---")
        print(env.daemon_log()[-20000:])
        for w in env.writers:
            print(f"--- writer {w.name} (pid {w.pid}) stderr ---")
            print(w.stderr()[-4000:])
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
