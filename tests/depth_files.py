"""Depth versions on disk as the real engine leaves them, for the host tests of pruning (the fake engine's frames
are not EXRs)."""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from flashdepth_vfx.plates.image_io import write_exr


def write_engine_frames(folder: Path, frames: range = range(1001, 1006), name: str = "shot_depth") -> None:
    """Real EXR depth frames carrying the engine's ``flashdepth:`` metadata into ``folder``."""
    for frame in frames:
        write_exr(folder / f"{name}.{frame}.exr", {"Z": np.ones((2, 2), np.float32)},
                  metadata={"flashdepth:version": "test"})


def age(folder: Path, seconds: float) -> None:
    """Date ``folder`` and everything in it ``seconds`` back."""
    stamp = time.time() - seconds
    for path in [folder, *folder.rglob("*")]:
        os.utime(path, (stamp, stamp))
