# SPDX-License-Identifier: LGPL-2.1-or-later
"""The service's deadlines (issue 4 item 4; vss-model 5; T29, T30): every
phase has one, documented with its default in shadowcopy.conf(5) and
configurable in [timeouts]; a writer that misses an event's deadline is
failed at that phase with WRITER_NOT_RESPONDING and the backup goes on or is
aborted as a veto there would be; a writer's own freeze window runs from
Freeze to Thaw and a miss fails the set with WRITERERROR_TIMEOUT; a provider
call past its deadline fails the set at once.  Slow writers and providers
come from --delay and the [testing] switches; deadlines are short here and
the slow parts much longer, so that the outcome does not depend on load."""

import re
import subprocess
import time

import pytest

from abortkit import (FAILED_AT_FREEZE, FAILED_AT_POST_SNAPSHOT, FAILED_AT_PREPARE_BACKUP,
                      FAILED_AT_PREPARE_SNAPSHOT, FAILED_AT_THAW, STABLE, after,
                      assert_no_snapshot_left, count, error_of, first_t, names, prepared, start,
                      status, wait_event, wait_shutdown, writer)
from abortkit import abort_fs, vol  # noqa: F401 (fixtures)
from sctest import ROOT, SHADOWCOPYD, scaled, wait_until

USEC = 1000000
DEADLINE_MS = 800
LATE_MS = 5000  # how late the slow writer or provider is: far past DEADLINE_MS

# The deadlines of the phases of a backup (more may exist).
TIMEOUT_KEYS = ["handshake-ms", "identify-ms", "prepare-backup-ms", "prepare-snapshot-ms",
                "freeze-ms", "thaw-ms", "post-snapshot-ms", "backup-complete-ms",
                "backup-shutdown-ms", "abort-ms", "provider-ms", "provider-commit-ms"]


def printed_timeouts(*argv):
    p = subprocess.run([str(SHADOWCOPYD), "-n", *map(str, argv)], capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stderr
    section = p.stdout.split("[timeouts]", 1)[1].split("[", 1)[0]
    return {k.strip(): int(v) for k, v in
            (line.split("=") for line in section.splitlines() if "=" in line)}


def documented_defaults():
    """key -> default, from man/shadowcopy.conf.5."""
    text = (ROOT / "man" / "shadowcopy.conf.5").read_text()
    found = {}
    for m in re.finditer(r'^\.BI ([a-z\\-]+) " = ms"\n(.*?)^Default: (\d+)\.$', text,
                         re.M | re.S):
        found[m.group(1).replace("\\-", "-")] = int(m.group(3))
    return found


def test_deadlines_documented_defaults():
    """Every phase has a deadline with a documented default: the [timeouts]
    keys of shadowcopy.conf(5) are those `shadowcopyd -n` prints, with the
    same defaults (vss-model 5: the freeze window 60 s, the commit 10 s)."""
    printed = printed_timeouts()
    assert set(TIMEOUT_KEYS) <= set(printed), printed
    assert documented_defaults() == printed
    assert printed["freeze-ms"] == 60000 and printed["provider-commit-ms"] == 10000


def test_deadlines_configurable(tmp_path):
    """Each deadline is configurable in [timeouts] and the effective value is
    what the service prints back."""
    wanted = {k: 1000 + 7 * i for i, k in enumerate(printed_timeouts())}
    conf = tmp_path / "c.conf"
    conf.write_text("[timeouts]\n" + "".join(f"{k} = {v}\n" for k, v in wanted.items()))
    assert printed_timeouts("--config", conf) == wanted
    conf.write_text("[timeouts]\nabort-ms = 0\n")
    p = subprocess.run([str(SHADOWCOPYD), "-n", "--config", str(conf)], capture_output=True,
                       text=True)
    assert p.returncode != 0  # 0 is no deadline: refused


# (slow event, its deadline key, the operation that sends it, the state after
#  the miss, whether the set fails, the operation's error)
PHASES = {
    "prepare_backup": ("prepare-backup", "prepare", FAILED_AT_PREPARE_BACKUP, False),
    "prepare_snapshot": ("prepare-snapshot", "do-snapshot", FAILED_AT_PREPARE_SNAPSHOT, False),
    "freeze": ("freeze", "do-snapshot", FAILED_AT_FREEZE, True),
    "thaw": ("thaw", "do-snapshot", FAILED_AT_THAW, True),
    "post_snapshot": ("post-snapshot", "do-snapshot", FAILED_AT_POST_SNAPSHOT, False),
    "backup_complete": ("backup-complete", "backup-complete", 12, False),
}


@pytest.mark.parametrize("event", list(PHASES))
def test_deadlines_writer_misses_a_phase(env_nostart, abort_fs, vol, event):
    """A writer that does not answer an event by the phase's deadline is
    failed there with WRITER_NOT_RESPONDING (protocol.md §6.4), and the
    operation ends by the deadline, not when the writer finally answers: at
    Freeze or Thaw the set fails with WRITER_NOT_RESPONDING and the others
    get Abort; elsewhere the writer is left out and the backup goes on (A14,
    A15)."""
    key, op, state, fails = PHASES[event]
    env = start(env_nostart, timeouts={key: DEADLINE_MS, "abort": DEADLINE_MS})
    slow = writer(env, vol, name="slow", delay=f"{event}:{LATE_MS}")
    good = writer(env, vol, name="good")
    steps = prepared(vol) + ["do-snapshot", "backup-complete"]
    i = steps.index(op) + 1
    # A failed set ends there; otherwise the backup goes on to its end.
    steps = steps[:i] + ["status"] + ([] if fails else steps[i:])
    t0 = time.monotonic()
    res = env.requester(*steps)
    elapsed = time.monotonic() - t0
    assert elapsed < scaled(LATE_MS / 1000 - 1), f"{op} waited for the slow writer"
    assert error_of(res, op) == ("WRITER_NOT_RESPONDING" if fails else "OK"), res
    assert status(res, slow) == (state, "WRITER_NOT_RESPONDING")
    if fails:
        wait_event(good, "abort")
        assert "thaw" not in names(good) or event == "thaw"
        assert_no_snapshot_left(env, abort_fs, res)
    else:
        assert res.rc == 0, res
        wait_shutdown(good)
        assert "abort" not in names(good) and "backup_complete" in names(good)


def test_deadlines_backup_shutdown(env_nostart, abort_fs, vol):
    """backup-shutdown-ms: a writer slow in BackupShutdown is shown
    FAILED_AT_BACKUPSHUTDOWN (15) with WRITER_NOT_RESPONDING once the
    deadline passed, while it is still in its handler."""
    env = start(env_nostart, timeouts={"backup-shutdown": DEADLINE_MS})
    w = writer(env, vol, delay=f"backup_shutdown:{LATE_MS}")
    t0 = time.monotonic()
    env.requester(*prepared(vol), "abort", "free")
    wait_until(lambda: (w.entry() or {}).get("state") == 15, LATE_MS / 1000 - 1.5,
               "the writer to be failed at BackupShutdown")
    assert w.entry()["failure"] == "WRITER_NOT_RESPONDING"
    assert time.monotonic() - t0 < scaled(LATE_MS / 1000)


def test_deadlines_abort(env_nostart, abort_fs, vol):
    """abort-ms: a failed do_snapshot_set replies once every Abort is answered
    or this deadline has passed; a writer that did not answer its Abort in
    time is shown UNKNOWN (VSS has no failed-at-abort state) with
    WRITER_NOT_RESPONDING."""
    env = start(env_nostart, timeouts={"abort": DEADLINE_MS})
    slow = writer(env, vol, delay=f"abort:{LATE_MS}")
    writer(env, vol, fail="freeze")
    t0 = time.monotonic()
    res = env.requester(*prepared(vol), "do-snapshot", "status")
    assert time.monotonic() - t0 < scaled(LATE_MS / 1000 - 1)
    assert error_of(res, "do-snapshot") == "WRITERERROR_RETRYABLE", res
    assert status(res, slow) == (0, "WRITER_NOT_RESPONDING")


@pytest.mark.parametrize("step", ["begin_prepare", "commit"])
def test_deadlines_provider_call(env_nostart, abort_fs, vol, step):
    """provider-ms and provider-commit-ms: a provider call past its deadline
    fails the set at once with UNEXPECTED_PROVIDER_ERROR: the writers get
    Abort by the deadline (frozen ones are thawed by it), long before the
    late call returns; the provider aborts after it returned; no snapshot
    remains."""
    key = "provider-commit" if step == "commit" else "provider"
    late_ms = 2500  # the reply waits for the late call: keep it short
    env = start(env_nostart, timeouts={key: DEADLINE_MS},
                testing=[f"provider-delay-ms={step}:{late_ms}"])
    w = writer(env, vol)
    res = env.requester(*prepared(vol), "do-snapshot")
    assert error_of(res, "do-snapshot") == "UNEXPECTED_PROVIDER_ERROR", res
    start_event = "freeze" if step == "commit" else "prepare_snapshot"
    dt = first_t(w, "abort") - first_t(w, start_event)
    assert dt < (DEADLINE_MS + 1000) * 1000, f"Abort {dt / 1000:.0f} ms after {start_event}"
    assert "thaw" not in names(w)
    assert_no_snapshot_left(env, abort_fs, res)


@pytest.mark.slow
def test_T29_freeze_window_miss_aborts_and_reports_timeout(env_nostart, abort_fs, vol):
    """T29: a writer with a freeze window of T not thawed T after Freeze
    (the providers commit slowly) gets its Abort handler run, its status is
    FAILED_AT_THAW with WRITERERROR_TIMEOUT, and the set fails with that code.
    The window is per writer: one with the default window is not timed out,
    it gets the service's Abort."""
    env = start(env_nostart, testing=["provider-delay-ms=commit:3000"])
    short = writer(env, vol, name="short", freeze_timeout_ms=800)
    long = writer(env, vol, name="long")
    res = env.requester(*prepared(vol), "do-snapshot", "status")
    assert error_of(res, "do-snapshot") == "WRITERERROR_TIMEOUT", res
    assert status(res, short) == (FAILED_AT_THAW, "WRITERERROR_TIMEOUT")
    assert status(res, long) == (STABLE, "OK")
    wait_shutdown(short, long)
    dt = first_t(short, "abort") - first_t(short, "freeze")
    assert 0.8 * USEC <= dt <= scaled(1.8) * USEC, f"Abort {dt / 1000:.0f} ms after Freeze"
    assert after(long, "freeze", "abort") and "thaw" not in names(long)
    assert_no_snapshot_left(env, abort_fs, res)


def test_T30_default_freeze_window(env_nostart, abort_fs, vol):
    """T30: the default freeze window (dwTimeoutFreeze) is 60000 ms: a writer
    that gives none is registered with 60000, and the service's own freeze
    deadline defaults to the same."""
    env = start(env_nostart)
    w = writer(env, vol)
    assert w.entry()["freeze_timeout_ms"] == 60000
    assert printed_timeouts()["freeze-ms"] == 60000
    res = env.requester("init", "gather", "metadata")
    assert res.step("metadata")["writers"][0]["freeze_timeout_ms"] == 60000
    assert count(w, "identify") == 1
