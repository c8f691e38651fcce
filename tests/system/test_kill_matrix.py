# SPDX-License-Identifier: LGPL-2.1-or-later
"""The SIGKILL matrix (issue 6): the requester, a writer, shadowcopyd and its
guardian, each SIGKILLed at PrepareForSnapshot, Freeze, the hold, Thaw and
PostSnapshot of a volume-mode app-rollback backup (persistent snapshots, so
that what a failed set leaves is not hidden by auto-release), with the btrfs
and the reflink-image providers: 40 cases, test_kill[PROVIDER-VICTIM-POINT].

Two writers take part: "a" sits in the point's event (--delay) when the
kill lands, and is the one killed when the victim is a writer; "b" is a
bystander.  At "the hold" nobody sits in an event: the provider's commit
sleeps ([testing] provider-delay-ms), inside flush-and-hold for
reflink-image, in do_snapshot_set's commit call for btrfs; both writers are
frozen then.

Each case checks the outcome of EXPECTED below: which writers get Abort,
do_snapshot_set's result as the requester sees it (None: the requester is
the victim), and what is left ("set": the set's snapshots, committed;
"nothing": no trace in the catalog or on disk).  Then, after every case:
no test filesystem frozen (FIFREEZE probe), no surviving writer frozen (its
log ends a Freeze with Thaw or Abort), a restart of shadowcopyd when it was
the victim (only then: the other victims leave a live service whose catalog
is checked as it is) and no half-made snapshot (catalog and .shadowcopy/
agree, no loop device on a clone), and a new set with the same writers
succeeds ("a" restarted with its class and instance name when it was
killed).  Both the daemon and the guardian killed during the hold, and
`shadowcopyd --recover`, are test_guardian.py's.

The reasons, from vss-model 6 and protocol.md 6.4.  Abort goes to the
participants not left out that have not handled PostSnapshot (B5) and were
not aborted before (B6); "handled" is the writer's view: a PostSnapshot
handler that returned successfully is never followed by the Abort handler
(B5; writer-guide.md promises it too), even when the Abort was sent while
that handler still ran.
- requester: a requester that dies is aborted by the service (B18, A8): a
  set not finished fails whole (B1, B17), so nothing is left.  At
  PostSnapshot "b" has answered it and "a" returns from it successfully
  before it could see any Abort: nobody's Abort handler runs (B5).
- writer: dying is a failure of the event it was in (protocol.md 6.4:
  WRITER_NOT_RESPONDING).  In PrepareForSnapshot and PostSnapshot that
  leaves it out and the set goes on (A14, A15); in Freeze, while frozen, and
  in Thaw it aborts the set (A3, A13, A4, A2) and the others get Abort.
- daemon: the death of the service during creation, after PrepareForSnapshot,
  is a failure that abandons the backup (A4), so every writer past
  PrepareForSnapshot that has not handled PostSnapshot gets Abort (A20: it
  brings its application back; the service does the same for a dead
  requester, B18).  Nobody is left to send it: the writer library must run
  it when the connection drops (design.md "Freeze safety" 1 does so for the
  frozen ones).  The requester's call fails with the connection; the next
  start removes the half-made set (its catalog rows are "creating").  At the
  hold (reflink-image) the guardian thaws the filesystems at once.
- guardian: outside the hold nothing depends on it: the service starts a
  new one and the set succeeds.  During the hold of reflink-image the
  service thaws at once and fails the set (A4): both writers get Abort.
  btrfs holds nothing: its set succeeds.
"""

import os
import signal
import time

import pytest

from abortkit import (FAILED_AT_FREEZE, FAILED_AT_POST_SNAPSHOT, FAILED_AT_PREPARE_SNAPSHOT,
                      FAILED_AT_THAW)
from killkit import POINTS, PROVIDERS, VICTIMS, Case, alive, guardians
from killkit import targets  # noqa: F401 (fixture)
from sctest import scaled

# do_snapshot_set's error when shadowcopyd dies under it: the library's
# error for a connection lost in the middle of a call.
LOST = "ECONNRESET"
# The set's error when the guardian dies during the hold: an internal
# failure of the service, not the provider's (docs/architecture.md).
GUARDIAN_LOST = "UNEXPECTED"
NR = "WRITER_NOT_RESPONDING"
AT_PREPARE, AT_FREEZE = (FAILED_AT_PREPARE_SNAPSHOT, NR), (FAILED_AT_FREEZE, NR)
AT_THAW, AT_POST = (FAILED_AT_THAW, NR), (FAILED_AT_POST_SNAPSHOT, NR)

# (victim, point) or (provider, victim, point), the latter winning:
#   (writers that get Abort, do_snapshot_set's error, what is left, the victim
#    writer's (state, failure) in the status after do_snapshot_set, why)
EXPECTED = {
    ("requester", "prepare-snapshot"): ("ab", None, "nothing", None, "B18 A8 A4 B17"),
    ("requester", "freeze"):           ("ab", None, "nothing", None, "B18 B7 B17"),
    ("requester", "hold"):             ("ab", None, "nothing", None, "B18 B7 B17"),
    ("requester", "thaw"):             ("ab", None, "nothing", None, "B18 A4 B17"),
    ("requester", "post-snapshot"):    ("", None, "nothing", None, "B18 B5 B17"),
    ("writer", "prepare-snapshot"):    ("", "OK", "set", AT_PREPARE, "A14"),
    ("writer", "freeze"):              ("b", NR, "nothing", AT_FREEZE, "A3 A13 B17"),
    ("writer", "hold"):                ("b", NR, "nothing", AT_THAW, "A4 B17"),
    ("writer", "thaw"):                ("b", NR, "nothing", AT_THAW, "A2 A4 B17"),
    ("writer", "post-snapshot"):       ("", "OK", "set", AT_POST, "A15 B5"),
    ("daemon", "prepare-snapshot"):    ("ab", LOST, "nothing", None, "A4 A20"),
    ("daemon", "freeze"):              ("ab", LOST, "nothing", None, "A4, Freeze safety 1"),
    ("daemon", "hold"):                ("ab", LOST, "nothing", None, "A4, Freeze safety 1, 3"),
    ("daemon", "thaw"):                ("ab", LOST, "nothing", None, "A4 A21 B5"),
    ("daemon", "post-snapshot"):       ("", LOST, "nothing", None, "B5"),
    ("guardian", "prepare-snapshot"):  ("", "OK", "set", None, "Freeze safety 3"),
    ("guardian", "freeze"):            ("", "OK", "set", None, "Freeze safety 3"),
    ("reflink-image", "guardian", "hold"): ("ab", GUARDIAN_LOST, "nothing", None,
                                            "Freeze safety 3, A4 B17"),
    ("btrfs", "guardian", "hold"):     ("", "OK", "set", None, "Freeze safety 3"),
    ("guardian", "thaw"):              ("", "OK", "set", None, "Freeze safety 3"),
    ("guardian", "post-snapshot"):     ("", "OK", "set", None, "Freeze safety 3"),
}


def expected(provider, victim, point):
    return EXPECTED.get((provider, victim, point)) or EXPECTED[(victim, point)]


def describe(provider, victim, point):
    aborts, result, left, status, why = expected(provider, victim, point)
    who = {"": "no writer gets", "a": "a gets", "b": "b gets", "ab": "a and b get"}[aborts]
    res = "none (the requester is dead)" if result is None else result
    return f"{who} Abort; do_snapshot_set: {res}; left: {left} ({why})"


CASES = [(p, v, t) for p in PROVIDERS for v in VICTIMS for t in POINTS]


@pytest.fixture
def kenv(env_nostart):
    """env_nostart whose shadowcopyd is stopped here (SIGTERM, exit 0), so
    that every guardian it started can be checked to be gone after it."""
    env = env_nostart
    env.guardians_seen = set()
    yield env
    if env.daemon is not None and env.daemon.poll() is None:
        env.guardians_seen.update(guardians(env.daemon.pid))
        for w in env.writers:
            w.stop()
        rc = env.stop_daemon()
        env.daemon_may_exit = True
        assert rc == 0, f"shadowcopyd exited {rc} on SIGTERM"
    deadline = time.monotonic() + scaled(5)
    while any(alive(pid) for pid in env.guardians_seen) and time.monotonic() < deadline:
        time.sleep(0.02)
    left = [pid for pid in env.guardians_seen if alive(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)  # ours: a child of our shadowcopyd
    assert not left, f"guardians left running 5 s after their daemon: {left}"


def outcome_differences(provider, victim, point, obs):
    """How @obs differs from EXPECTED (an empty list when it does not)."""
    aborts, result, left, status, why = expected(provider, victim, point)
    out = []
    if obs.aborted != sorted(aborts):
        out.append(f"Abort went to {obs.aborted or 'nobody'}, not {sorted(aborts) or 'nobody'}")
    if result is not None and obs.result != result:
        out.append(f"do_snapshot_set gave {obs.result}, not {result}")
    if status is not None and obs.status.get("a") != status:
        out.append(f"the status of a is {obs.status.get('a')}, not {status}")
    return out


@pytest.mark.parametrize("provider,victim,point", CASES,
                         ids=[f"{p}-{v}-{t}" for p, v, t in CASES])
def test_kill(kenv, targets, provider, victim, point):
    """SIGKILL @victim at @point with @provider: the outcome of EXPECTED
    (listed below for every case), and the checks of every case, which run
    even when the outcome differs (that is reported at the end)."""
    left = expected(provider, victim, point)[2]
    case = Case(kenv, targets.get(provider), victim, point)
    passed = False
    try:
        obs = case.run()
        differences = case.differences = outcome_differences(provider, victim, point, obs)
        case.check_nothing_frozen()
        case.check_no_writer_frozen()
        case.check_guardian_replaced()
        case.restart_if_killed()
        case.check_what_is_left(left)
        case.new_set()
        assert not differences, (f"{provider}-{victim}-{point}: expected "
                                 f"{describe(provider, victim, point)}; but "
                                 + "; ".join(differences) + f" ({obs})")
        passed = True
    finally:
        if kenv.daemon is not None and kenv.daemon.poll() is None:
            kenv.guardians_seen.update(guardians(kenv.daemon.pid))
        if case.guardian:
            kenv.guardians_seen.add(case.guardian)
        case.record(describe(provider, victim, point), passed)


test_kill.__doc__ += "\n" + "\n".join(f"    {p}-{v}-{t}: {describe(p, v, t)}"
                                      for p, v, t in CASES)
