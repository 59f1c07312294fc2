"""The host adapters type-check (mypy --strict) against the real host stubs: types-nuke (nuke-stubs) and
types-houdini (hou-stubs). The fakes in tests/fakes are not on mypy's path, so they cannot shadow the stubs;
a probe file checked in the same run proves the stubs are the ones in use."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEARCH_PATH = [ROOT / "nuke", ROOT / "houdini" / "python3.11libs", ROOT / "resolve", ROOT]
TARGETS = [
    "nuke/flashdepth_nuke", "nuke/init.py", "nuke/menu.py",
    "houdini/python3.11libs/flashdepth_houdini", "houdini/python3.11libs/pythonrc.py",
    "resolve/flashdepth_resolve",
]
CONFIG = """\
[mypy]
python_version = 3.10
strict = True

[mypy-DaVinciResolveScript]
# Resolve's scripting module ships without stubs; flashdepth_resolve duck-types its objects.
ignore_missing_imports = True

[mypy-flashdepth_vfx.plates.colour,flashdepth_vfx.plates.image_io,flashdepth_vfx.plates.movie,flashdepth_vfx.plates.sequence]
# The engine-side plate modules (OpenColorIO, OpenImageIO, PyAV, numpy) that flashdepth_vfx.plates names for type
# checkers only: a host Python never imports them (tests/test_hosts_install_safety.py checks the guard's imports).
follow_imports = skip
"""
PROBE = """\
import hou
import nuke

reveal_type(nuke.nodes.Group)
reveal_type(hou.node)
nuke.createNode(1)
"""


def test_adapters_pass_mypy_strict_against_the_host_stubs(tmp_path: Path) -> None:
    config = tmp_path / "mypy.ini"
    config.write_text(CONFIG)
    probe = tmp_path / "stub_probe.py"
    probe.write_text(PROBE)
    # Without PYTHONPATH: mypy takes its entries for installed packages and silences their errors, so a checkout on
    # PYTHONPATH would pass here whatever the adapters' imports hold.
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
           "MYPYPATH": os.pathsep.join(str(p) for p in SEARCH_PATH)}
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(config), "--cache-dir", str(tmp_path / "cache"),
         "--no-error-summary", *TARGETS, str(probe)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    lines = done.stdout.splitlines()
    adapter_problems = [line for line in lines if not line.startswith(str(probe))]
    assert adapter_problems == [], "\n".join(adapter_problems) + done.stderr
    probe_lines = "\n".join(lines)
    assert 'Revealed type is "nuke._nuke.NodeConstructor[nuke._nuke.Group]"' in probe_lines
    assert 'Revealed type is "def (path: str) -> hou.Node | None"' in probe_lines
    assert 'Argument 1 to "createNode" has incompatible type "int"; expected "str"' in probe_lines
    assert done.returncode == 1
