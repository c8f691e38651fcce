# SPDX-License-Identifier: LGPL-2.1-or-later
"""The writer's side of the abort rules (vss-model 4.3, 6: A18-A21, B4-B7,
B9, T39) as the writer library carries them (issue 4 item 3): after Freeze
exactly one of Thaw or Abort reaches the handlers, the Abort handler runs at
most once per backup however many Aborts arrive, the library runs it itself
when the freeze window passes or the service is lost, and a writer's
default Abort handler runs its Thaw logic.  Some cases the real service never
produces (a second Abort, a Thaw after the writer's own timeout); a fake
service (abortkit.FakeService) sends them to a real test writer."""

import pytest

from abortkit import (FAILED_AT_THAW, Stopped, assert_no_snapshot_left, count, error_of, errors,
                      fake_writer, first_t, names, new_session, prepared, start, status,
                      wait_event, wait_shutdown, writer, writer_has_option)
from abortkit import abort_fs, fake, vol  # noqa: F401 (fixtures)
from sctest import scaled, wait_until

USEC = 1000000


def fake_frozen(env, fake, **kw):
    """A writer of the fake service, frozen in a new backup session."""
    w = fake_writer(env, fake, **kw)
    session = new_session()
    assert fake.call("prepare_snapshot", session)["success"] is True
    assert fake.call("freeze", session)["success"] is True
    return w, session


# --- A18-A21 -------------------------------------------------------------

@pytest.mark.parametrize("source", ["requester", "provider"])
def test_A18_abort_from_requester_or_service(env_nostart, abort_fs, vol, source):
    """A18: a writer's Abort handler runs for an Abort the requester asked
    for (abort_backup while frozen) and for one the service raised itself (a
    provider failing at commit while the writers are frozen)."""
    testing = (["provider-delay-ms=commit:1500"] if source == "requester"
               else ["provider-fail=commit"])
    env = start(env_nostart, testing=testing)
    w = writer(env, vol)
    steps = prepared(vol) + (["do-snapshot-async", "sleep=500", "abort", "wait"]
                             if source == "requester" else ["do-snapshot"])
    res = env.requester(*steps)
    wait_shutdown(w)
    assert names(w)[-3:] == ["freeze", "abort", "backup_shutdown"], names(w)
    if source == "provider":
        assert error_of(res, "do-snapshot") == "UNEXPECTED_PROVIDER_ERROR"


@pytest.mark.parametrize("how", [pytest.param("service", marks=pytest.mark.slow), "fake"])
def test_A19_two_aborts_run_the_handler_once(env_nostart, abort_fs, vol, request, how):
    """A19 (issue 4: "a writer that receives two Aborts runs its handler
    once"): service: the writer's freeze window passes while the service is
    stopped (SIGSTOP), so its library runs Abort by itself; continued, the
    service sends its own Abort for the same backup.  Fake: a frozen writer
    receives Abort twice.  Either way the Abort handler runs once, and every
    Abort is answered success."""
    if how == "fake":
        f = request.getfixturevalue("fake")
        w, session = fake_frozen(env_nostart, f)
        first = f.call("abort", session)
        second = f.call("abort", session)
        assert first["success"] is True and second["success"] is True, (first, second)
        assert names(w) == ["prepare_snapshot", "freeze", "abort"]
        return
    env = start(env_nostart, testing=["provider-delay-ms=commit:2000"])
    w = writer(env, vol, freeze_timeout_ms=800)
    bg = env.start_requester(*prepared(vol), "do-snapshot", "status")
    wait_event(w, "freeze")
    with Stopped(env):
        wait_event(w, "abort", timeout=5)  # the library's own
    res = bg.wait()
    assert error_of(res, "do-snapshot") == "WRITERERROR_TIMEOUT", res
    assert status(res, w) == (FAILED_AT_THAW, "WRITERERROR_TIMEOUT")
    wait_shutdown(w)
    assert names(w)[-3:-1] == ["freeze", "abort"] and count(w, "abort") == 1, names(w)


@pytest.mark.parametrize("how", ["requester-abort", "other-writer-veto", "own-timeout"])
def test_A20_after_abort_the_writer_is_back_to_normal(env_nostart, abort_fs, vol, how):
    """A20: Abort brings the writer back to its normal running state: after
    each kind of Abort it is STABLE to the service and takes part in the next
    backup, which succeeds."""
    testing = ["provider-delay-ms=commit:2000"] if how == "own-timeout" else []
    env = start(env_nostart, testing=testing)
    w = writer(env, vol, freeze_timeout_ms=700 if how == "own-timeout" else None)
    if how == "other-writer-veto":
        bad = writer(env, vol, fail="freeze")
    steps = prepared(vol) + (["abort"] if how == "requester-abort" else ["do-snapshot"])
    env.requester(*steps, "status")
    wait_shutdown(w)
    assert "abort" in names(w)
    if how == "other-writer-veto":
        bad.stop()
    if how == "own-timeout":
        # The slow commit would time the writer out again: a new service.
        env.stop_daemon()
        env.start_daemon(extra="[service]\nlog-level=debug\n")
        wait_until(lambda: w.entry() is not None, 10, "the writer to reconnect")
    res = env.requester(*prepared(vol), "do-snapshot", "status", "backup-complete")
    assert res.rc == 0, res
    assert status(res, w) == (5, "OK")
    wait_event(w, "backup_shutdown", n=2)
    assert names(w)[-6:] == ["prepare_snapshot", "freeze", "thaw", "post_snapshot",
                             "backup_complete", "backup_shutdown"]


def test_A21_default_abort_handler_runs_thaw(env_nostart, fake):
    """A21 (issue 4 item 3): a writer that sets no Abort handler gets one from
    the library that runs its Thaw logic when it is frozen (OnAbort "may
    call" OnThaw), once, and does nothing when it is not frozen.  Needs a
    test writer that can leave a handler unset (--no-handler EVENT) and logs
    which handler ran ("handler" in its log lines)."""
    if not writer_has_option("--no-handler"):
        pytest.skip("test-writer has no --no-handler EVENT option (and no \"handler\" field "
                    "in its log) to leave the Abort handler unset")
    w = fake_writer(env_nostart, fake, extra=["--no-handler", "abort"])
    session = new_session()
    assert fake.call("freeze", session)["success"] is True
    assert fake.call("abort", session)["success"] is True
    assert fake.call("abort", session)["success"] is True
    ran = [e.get("handler", e["event"]) for e in w.events()]
    assert ran == ["freeze", "thaw"], w.events()
    other = new_session()
    assert fake.call("prepare_backup", other)["success"] is True
    assert fake.call("abort", other)["success"] is True
    ran = [e.get("handler", e["event"]) for e in w.events()]
    assert ran == ["freeze", "thaw", "prepare_backup"], w.events()


# --- B4-B7, B9 -----------------------------------------------------------

def test_B4_each_instance_handles_abort(env_nostart, abort_fs, vol):
    """B4: each instance of each writer handles the Abort: two instances of
    one class (front end and system level) and a writer of another class,
    whose Freeze veto (back end) is the cause; each runs its handler once."""
    env = start(env_nostart)
    cls = "6d5e2b1a-0c3f-4b7e-9a12-3456789abc02"
    ws = [writer(env, vol, class_id=cls, instance_name="front", level="front"),
          writer(env, vol, class_id=cls, instance_name="system", level="system"),
          writer(env, vol, level="back", fail="freeze")]
    res = env.requester(*prepared(vol), "do-snapshot")
    assert error_of(res, "do-snapshot") == "WRITERERROR_RETRYABLE", res
    wait_shutdown(*ws)
    for w in ws:
        assert count(w, "abort") == 1, names(w)
    # Freeze by level (T24): the system writer was never frozen.
    assert "freeze" in names(ws[0]) and "freeze" not in names(ws[1])


def test_B5_no_abort_after_post_snapshot(env_nostart, abort_fs, vol):
    """B5: Abort is not sent to a writer that handled PostSnapshot: the set
    fails after PostSnapshot (a provider failing at post_final_commit) and
    no writer gets Abort, though no snapshot remains (B17)."""
    env = start(env_nostart, testing=["provider-fail=post_final_commit"])
    a, b = writer(env, vol), writer(env, vol)
    res = env.requester(*prepared(vol), "do-snapshot", "abort")
    assert error_of(res, "do-snapshot") == "UNEXPECTED_PROVIDER_ERROR", res
    wait_shutdown(a, b)
    for w in (a, b):
        assert names(w)[-2:] == ["post_snapshot", "backup_shutdown"], names(w)
    assert_no_snapshot_left(env, abort_fs, res)


def test_B6_no_events_after_abort(env_nostart, abort_fs, vol):
    """B6: after its Abort a writer gets no more events of that backup but
    BackupShutdown, whatever the requester tries (do_snapshot_set,
    backup_complete, gathering status: BAD_STATE or no event)."""
    env = start(env_nostart)
    a = writer(env, vol)
    bad = writer(env, vol, fail="freeze")
    res = env.requester(*prepared(vol), "do-snapshot", "do-snapshot", "backup-complete",
                        "status", "abort", "free")
    assert errors(res)[-6:] == [("do-snapshot", "WRITERERROR_RETRYABLE"),
                                ("do-snapshot", "BAD_STATE"), ("backup-complete", "BAD_STATE"),
                                ("status", "OK"), ("abort", "OK"), ("free", "OK")], res
    wait_shutdown(a, bad)
    for w in (a, bad):
        ev = names(w)
        assert ev[ev.index("abort"):] == ["abort", "backup_shutdown"], ev


@pytest.mark.parametrize("end", ["thaw", "abort", "timeout", "thaw-after-timeout",
                                 "connection-lost", "unsubscribe"])
def test_B7_exactly_one_of_thaw_or_abort(env_nostart, fake, end):
    """B7: after Freeze exactly one of Thaw or Abort reaches the writer's
    handlers: the one the service sends; Abort run by the library when the
    freeze window passes; a Thaw that comes after that is answered failed
    (WRITERERROR_TIMEOUT) without running the Thaw handler; Abort run at once
    when the connection is lost or the writer unsubscribes (SIGTERM), and
    then BackupShutdown, since no service will send it (B10, T48)."""
    w, session = fake_frozen(env_nostart, fake, freeze_timeout_ms=600)
    if end in ("thaw", "abort"):
        assert fake.call(end, session)["success"] is True
        want = end
    elif end in ("timeout", "thaw-after-timeout"):
        wait_event(w, "abort", timeout=5)
        want = "abort"
        if end == "thaw-after-timeout":
            ans = fake.call("thaw", session)
            assert ans == {"success": False, "failure": "WRITERERROR_TIMEOUT"}, ans
    elif end == "connection-lost":
        fake.drop()
        wait_event(w, "backup_shutdown", timeout=5)
        want = ["abort", "backup_shutdown"]
    else:
        w.stop()
        want = ["abort", "backup_shutdown"]
    if isinstance(want, str):
        want = [want]
    after_freeze = names(w)[names(w).index("freeze") + 1:]
    assert after_freeze == want, names(w)


def test_B9_library_aborts_when_no_thaw_comes(env_nostart, fake):
    """B9: when neither Thaw nor Abort comes within the freeze timeout the
    library calls the Abort handler by itself, once, within the timeout
    (+ 1 s) of Freeze."""
    w, session = fake_frozen(env_nostart, fake, freeze_timeout_ms=700)
    wait_event(w, "abort", timeout=5)
    dt = first_t(w, "abort") - first_t(w, "freeze")
    assert 0.7 * USEC <= dt <= scaled(1.7) * USEC, dt
    fake.call("identify", session)  # everything before it was handled
    assert count(w, "abort") == 1


def test_B9_freeze_window_counts_from_freeze(env_nostart, fake):
    """B9, vss-model 5 ("the freeze timer is per writer and starts when that
    writer receives Freeze"): a Freeze handler that takes longer than the
    window is followed at once by the library's Abort; the window is not
    started again when the handler returns."""
    w = fake_writer(env_nostart, fake, freeze_timeout_ms=1000, delay="freeze:1500")
    session = new_session()
    assert fake.call("freeze", session)["success"] is True
    wait_event(w, "abort", timeout=5)
    dt = first_t(w, "abort") - first_t(w, "freeze")
    # 1.5 s expected (the handler's end); 2.5 s if the window restarted.
    assert dt <= scaled(1.5 + 0.6) * USEC, f"Abort {dt / 1000:.0f} ms after Freeze"


@pytest.mark.slow
def test_T39_abort_twice_is_no_error_for_the_service(env_nostart, abort_fs, vol):
    """T39: the same writer may get Abort more than once for one set without
    an error in the service: its library ran Abort by itself (its window
    passed while the service was stopped), then the service's Abort came.
    The service records the Abort answered, reports the first cause
    (FAILED_AT_THAW, WRITERERROR_TIMEOUT) in status and in its writer list,
    and answers later abort_backup calls."""
    env = start(env_nostart, testing=["provider-delay-ms=commit:2000"])
    w = writer(env, vol, freeze_timeout_ms=800)
    bg = env.start_requester(*prepared(vol), "do-snapshot", "status", "abort", "abort",
                             "status", "sleep=500")
    wait_event(w, "freeze")
    with Stopped(env):
        wait_event(w, "abort", timeout=5)
    res = bg.wait()
    assert error_of(res, "do-snapshot") == "WRITERERROR_TIMEOUT", res
    assert [l["error"] for l in res.lines if l["step"] == "abort"] == ["OK", "OK"]
    assert status(res, w, 0) == (FAILED_AT_THAW, "WRITERERROR_TIMEOUT")
    assert status(res, w, 1) == (FAILED_AT_THAW, "WRITERERROR_TIMEOUT")
    assert f"Writer '{w.name}' failed abort" not in env.daemon_log()
    wait_shutdown(w)
    assert env.daemon.poll() is None
