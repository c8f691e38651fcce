# SPDX-License-Identifier: LGPL-2.1-or-later
"""The complete C programs in the guides (a ```c block with a main()) compile
against the public headers with the project's warnings, so the docs cannot
drift from the API.  The application functions a guide only names (the
database's own flush, say) are declared here."""

import re
import subprocess

import pytest

from sctest import ROOT

# What the examples call but leave to the application.
APPLICATION = """#include <stdbool.h>
bool db_flush_and_hold(void);
void db_release(void);
"""

GUIDES = ["docs/requester-guide.md", "docs/writer-guide.md"]


def programs(guide):
    text = (ROOT / guide).read_text()
    return [b for b in re.findall(r"```c\n(.*?)```", text, re.S) if "int main" in b]


@pytest.mark.parametrize("guide", GUIDES)
def test_guide_program_compiles(guide, tmp_path):
    found = programs(guide)
    assert found, f"{guide} has no complete program any more"
    prelude = tmp_path / "application.h"
    prelude.write_text(APPLICATION)
    for i, program in enumerate(found):
        source = tmp_path / f"example{i}.c"
        source.write_text(program)
        p = subprocess.run(["cc", "-std=gnu17", "-Wall", "-Wextra", "-Werror",
                            "-Wno-unused-parameter", "-I", str(ROOT / "include"),
                            "-include", str(prelude), "-c", str(source),
                            "-o", str(tmp_path / f"example{i}.o")],
                           capture_output=True, text=True)
        assert p.returncode == 0, f"{guide}, program {i + 1}:\n{p.stderr}"
