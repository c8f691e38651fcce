"""A session initialised for restore (restore itself comes later): the
backup-only calls answer BAD_STATE as VSS says (T66), abort has nothing to
abort (A5), and a second initialisation is refused (T01)."""

import pytest

from abortkit import start
from abortkit import abort_fs, vol  # noqa: F401 (fixtures)
from sctest import error_name


@pytest.mark.parametrize("method,params", [
    ("start_snapshot_set", {}),
    ("set_backup_state", {"select_components": False, "bootable_system_state": False,
                          "backup_type": 1, "partial_file_support": False}),
    ("prepare_for_backup", {}),
    ("do_snapshot_set", {}),
    ("backup_complete", {}),
    ("abort_backup", {}),
    ("initialize_for_backup", {}),
    ("initialize_for_restore", {}),
])
def test_T66_backup_calls_in_a_restore_session(env_nostart, method, params):
    """T66, A5, T01: after initialize_for_restore, the backup calls (and abort,
    A5) answer BAD_STATE; the daemon keeps serving."""
    env = start(env_nostart)
    with env.raw("requester") as c:
        r = c.call("initialize_for_restore", {"document": None})
        assert "result" in r, r
        assert error_name(c.call(method, params)) == "BAD_STATE"
        assert error_name(c.call("add_to_snapshot_set", {"volume": "/"})) == "BAD_STATE"


def test_T66_library_initialize_for_restore(env_nostart, abort_fs, vol):
    """T66 through the library (test requester): init-restore, then start-set,
    add-volume and abort all fail with BAD_STATE."""
    env = start(env_nostart)
    res = env.requester("init-restore", "start-set", f"add-volume={vol}", "abort")
    assert [(s["step"], s["error"]) for s in res.lines] == [
        ("init-restore", "OK"), ("start-set", "BAD_STATE"), ("add-volume", "BAD_STATE"),
        ("abort", "BAD_STATE")], res
