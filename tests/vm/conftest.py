# SPDX-License-Identifier: LGPL-2.1-or-later
"""The VM of the LVM suite, booted once per session: the kernel and
initramfs of vmimage.py (the project's programs from $SHADOWCOPY_BUILD,
default ./build), one qemu TCG boot (vmrun.py) in which the guest driver
runs every case, and the results as a `vm` fixture.  Skipped, with the
reason, only where qemu is not installed; anything else that goes wrong
(no network for the first download, a failed boot) is an error.  Downloads
are cached in <build>/vm/ ($SHADOWCOPY_VM_CACHE)."""

import json
import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "system"))  # sctest: the requester's output

import vmimage  # noqa: E402
import vmrun  # noqa: E402
from sctest import RequesterResult  # noqa: E402

ROOT = HERE.parents[1]
BUILD = ROOT / os.environ.get("SHADOWCOPY_BUILD", "build")
CACHE = Path(os.environ.get("SHADOWCOPY_VM_CACHE", BUILD / "vm"))
# Software emulation is slow, and CI machines share their cores; the guest
# stops its cases after 6 minutes by itself (guest/init).
BOOT_TIMEOUT = 480


class Case:
    """The files one guest case left in RESULTS/<name>/."""

    def __init__(self, vm, name):
        self.vm, self.name = vm, name
        self.prefix = f"{name}/"
        if not any(f.startswith(self.prefix) for f in vm.files):
            raise AssertionError(f"the guest left nothing for case {name}: "
                                 f"{vm.text('driver.log')[-3000:]}")

    def text(self, name):
        return self.vm.text(self.prefix + name)

    def has(self, name):
        return self.prefix + name in self.vm.files

    def json(self, name):
        return json.loads(self.text(name))

    def lines(self, name):
        """A file of JSON lines (a writer's events)."""
        return [json.loads(l) for l in self.text(name).splitlines() if l.strip()]

    def events(self, writer):
        return [e["event"] for e in self.lines(f"{writer}.events")]

    def requester(self, name="req"):
        rc = self.text(f"{name}.rc").strip()
        return RequesterResult(int(rc) if rc else None, self.text(f"{name}.out"),
                               self.text(f"{name}.err"))

    def lvs(self, name="lvs.json"):
        """The LVs of an `lvs --reportformat json` file: {name: row}."""
        rows = [r for rep in self.json(name)["report"] for r in rep["lv"]]
        return {r["lv_name"]: r for r in rows}

    def snapshot_lvs(self, name="lvs.json"):
        return {n: r for n, r in self.lvs(name).items() if n.startswith("shadowcopy-")}

    def daemon_log(self):
        return self.text("daemon.log")

    def seconds(self):
        return float(self.text("end")) - float(self.text("start"))

    def context(self):
        """What to show when an assertion about this case fails."""
        return (f"--- {self.name}/trace.log\n{self.text('trace.log')[-3000:]}\n"
                f"--- daemon log\n{self.daemon_log()[-4000:]}")


class Vm:
    def __init__(self, console, files, seconds):
        self.console, self.files, self.seconds = console, files, seconds

    def text(self, name):
        return self.files.get(name, b"").decode(errors="replace")

    def case(self, name):
        return Case(self, name)


@pytest.fixture(scope="session")
def vm():
    if vmrun.qemu() is None:
        pytest.skip("qemu-system-x86_64 is not installed; the LVM suite boots a VM "
                    "(apt-get install qemu-system-x86)")
    kernel, initrd = vmimage.build(BUILD, CACHE)
    console, files, seconds = vmrun.boot(kernel, initrd, CACHE / "run",
                                         cmdline=os.environ.get("SHADOWCOPY_VM_CMDLINE", ""),
                                         timeout=BOOT_TIMEOUT)
    result = Vm(console, files, seconds)
    if "driver.log" not in files:
        raise AssertionError(f"the guest wrote no results; console:\n{console[-6000:]}")
    return result
