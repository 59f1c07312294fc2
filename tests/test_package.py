"""Package-level promises: cheap imports and a working console script."""
from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["flashdepth_vfx", "flashdepth_vfx.cli", "flashdepth_vfx.bridge", "flashdepth_vfx.hosts.common"])
def test_import_does_not_load_torch(module: str) -> None:
    code = f"import sys, {module}; print(sorted(m for m in ('torch', 'numpy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", f"importing {module} loaded {out}"


def test_console_script_help_lists_the_commands() -> None:
    out = subprocess.run([sys.executable, "-m", "flashdepth_vfx", "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("render", "info", "preview", "weights", "eval", "farm", "train", "gui", "solve", "hosts"):
        assert f"  {command}" in out


@pytest.mark.parametrize("module", ["flashdepth_vfx.solve.run", "flashdepth_vfx.plates.cuts", "flashdepth_vfx.engine.events"])
def test_the_shot_solve_and_cut_detection_run_without_torch(module: str) -> None:
    code = f"import sys, {module}; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False", f"importing {module} loaded torch"
