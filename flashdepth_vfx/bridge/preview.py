"""Side-by-side preview PNGs (plate | colour-mapped depth), made by the engine's ``preview`` command."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Mapping, Optional, Sequence, Union

from ..errors import FlashDepthError
from .engine import EngineNotFound, engine_environment, engine_process_flags, find_engine

PathLike = Union[str, "os.PathLike[str]"]


class PreviewError(FlashDepthError):
    """The engine could not make a preview; the message is the engine's own one-line error."""


def make_preview(
    plate_file: PathLike,
    depth_file: PathLike,
    output: PathLike,
    engine: Optional[Sequence[str]] = None,
    colorspace: Optional[str] = None,
    timeout: float = 120.0,
    env: Optional[Mapping[str, str]] = None,
) -> Path:
    """Run ``<engine> preview -o OUTPUT [--colorspace C] -- PLATE_FILE DEPTH_FILE`` and return the PNG's path
    (``--`` ends the options: a file name starting with ``-`` stays a file name)."""
    argv = list(engine) if engine else find_engine()
    argv += ["preview", "-o", os.fspath(output)]
    if colorspace:
        argv += ["--colorspace", colorspace]
    argv += ["--", os.fspath(plate_file), os.fspath(depth_file)]
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            encoding="utf-8",
            errors="replace",
            env=engine_environment(env),
            timeout=timeout,
            **engine_process_flags(),
        )
    except OSError as exc:
        raise EngineNotFound(
            f"cannot start render engine {argv[0]!r} ({exc.strerror or exc}): check $FLASHDEPTH_VFX_BIN"
        ) from None
    except subprocess.TimeoutExpired:
        raise PreviewError(f"preview of {os.fspath(depth_file)} took over {timeout:g} s: try a smaller frame") from None
    out_path = Path(output)
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        reason = lines[-1] if lines else f"engine exited with code {done.returncode}"
        raise PreviewError(reason)
    if not out_path.is_file():
        raise PreviewError(f"engine reported success but wrote no preview at {out_path}: check the folder is writable")
    return out_path
