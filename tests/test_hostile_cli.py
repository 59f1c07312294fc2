"""The real command line in subprocesses (``python -m flashdepth_vfx``) against hostile invocations (issue 11).

Every row: the exit code, exactly one line on stderr, and every input file byte-identical afterwards with no new
file anywhere. The processes run side by side (each imports torch) to keep the test short.
"""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from engine_helpers import write_plates, write_tiny_checkpoint
from flashdepth_vfx.model import build_model
from flashdepth_vfx.plates.image_io import write_exr

ROOT = Path(__file__).resolve().parent.parent


class _RunsCode:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "link"
            for p in sorted(folder.rglob("*")) if p.is_file() or p.is_symlink()}


def _engine(args: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-m", "flashdepth_vfx", *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.fixture(scope="module")
def shot(tmp_path_factory) -> Path:
    """Plates, a checkpoint, a malicious pickle, a .pth, a depth frame, ground truth: the inputs of every row."""
    root = tmp_path_factory.mktemp("hostile")
    write_plates(root / "plates", range(1, 4))
    (root / "alias").symlink_to(root / "plates")
    write_tiny_checkpoint(root / "tiny.safetensors")
    torch.save({"model": {"w": torch.zeros(1)}, "x": _RunsCode(root / "plates" / "PWNED")}, root / "evil.pth")
    torch.save({"model": build_model("flashdepth-tiny").state_dict()}, root / "a.pth")
    write_exr(root / "depth.exr", {"depth.Z": np.ones((84, 126), np.float32)}, metadata={"flashdepth:version": "1"})
    for folder in ("pred", "gt"):
        (root / folder).mkdir()
        for frame in (1, 2):
            np.save(root / folder / f"{folder}.{frame:04d}.npy", np.full((8, 8), 2.0, np.float32))
    return root


CKPT = ["--checkpoint", "tiny.safetensors", "-q"]
HOSTILE = [  # (arguments, exit code, words the one stderr line must hold)
    (["render", "plates/shot.####.exr", "-o", "alias/shot.$F4.exr", "--overwrite", *CKPT], 1, "is also an input"),
    (["render", "plates/shot.####.exr", "--frames", "99999999999999999999", *CKPT], 1, "frame range"),
    (["render", "plates/shot.####.exr", "--warmup", "-1", *CKPT], 2, "--warmup"),
    (["render", "plates/shot.####.exr", "--channel", "R", "--passthrough", *CKPT], 2, "--passthrough"),
    (["render", "plates/shot.####.exr", "--checkpoint", "evil.pth", "-q"], 1, "not a plain checkpoint"),
    (["weights", "convert", "a.pth", "a.pth"], 1, "is also an input"),
    (["preview", "plates/shot.0001.exr", "depth.exr", "-o", "depth.exr"], 1, "is also an input"),
    (["eval", "--pred", "pred", "--gt", "gt/gt.####.npy", "--json", "gt/gt.0002.npy"], 1, "is also an input"),
]


def test_hostile_invocations(shot: Path) -> None:
    before = _snapshot(shot)
    procs = [(args, code, needle, _engine(args, shot)) for args, code, needle in HOSTILE]
    for args, code, needle, proc in procs:
        _, err = proc.communicate(timeout=300)
        lines = [line for line in err.splitlines() if line.strip()]
        assert proc.returncode == code, (args, err)
        assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], (args, err)
        assert "weights_only" not in err
    assert _snapshot(shot) == before  # no input changed, nothing written (the pickle's code never ran)


def test_ctrl_c_during_start_up_exits_130(shot: Path) -> None:
    """SIGINT while the render imports torch: 'cancelled' and 130, not click's 'Aborted!' and 1."""
    proc = _engine(["render", "plates/shot.####.exr", *CKPT], shot)
    maps = Path(f"/proc/{proc.pid}/maps")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and "libtorch" not in maps.read_text():
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Aborted" not in err and "Traceback" not in err
    assert {line for line in err.splitlines() if line.strip()} <= {"cancelled"}
    assert not list((shot / "plates").glob("shot_depth.*"))
