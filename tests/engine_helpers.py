"""Small real plates and a tiny synthetic checkpoint for engine, CLI and host end-to-end tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import torch
from safetensors.torch import save_file

from flashdepth_vfx.model import build_model

PLATE_SIZE = (84, 126)  # data window (height, width)
DATA_ORIGIN = (10, 6)  # (x, y): overscan-style offset inside the display window
DISPLAY = (140, 110)  # display window (width, height)
PIXEL_ASPECT = 2.0  # anamorphic


def write_tiny_checkpoint(path: Path, seed: int = 0) -> Path:
    """A flashdepth-tiny checkpoint with seeded random weights (official key layout, safetensors)."""
    torch.manual_seed(seed)
    model = build_model("flashdepth-tiny")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path


def plate_pixels(frame: int) -> np.ndarray:
    """Scene-linear RGB (H, W, 3) of a frame: a gradient with a square that moves frame to frame."""
    h, w = PLATE_SIZE
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    rgb = np.stack([x / w, y / h, 0.5 * np.ones_like(x)], axis=-1) * 0.6
    x0 = 10 + 6 * (frame % 100)
    rgb[20:50, x0:x0 + 30] = (0.9, 0.2, 0.1)
    return rgb.astype(np.float32)


def write_plates(folder: Path, frames: range, name: str = "shot") -> str:
    """Half-float EXR plates with a data window inside a bigger display window and camera metadata."""
    folder.mkdir(parents=True, exist_ok=True)
    h, w = PLATE_SIZE
    for f in frames:
        spec = oiio.ImageSpec(w, h, 4, oiio.HALF)
        spec.channelnames = ("R", "G", "B", "A")
        spec.x, spec.y = DATA_ORIGIN
        spec.full_x, spec.full_y, spec.full_width, spec.full_height = 0, 0, *DISPLAY
        spec.attribute("PixelAspectRatio", PIXEL_ASPECT)
        spec.attribute("compression", "zip")
        spec.attribute("smpte:TimeCode", oiio.TypeDesc("timecode"), [0x01000000 + f % 24, 0])
        spec.attribute("cameraName", "A001")
        spec.attribute("oiio:ColorSpace", "ACEScg")
        out = oiio.ImageOutput.create(str(folder / f"{name}.{f:04d}.exr"))
        assert out is not None and out.open(str(folder / f"{name}.{f:04d}.exr"), spec)
        pixels = np.dstack([plate_pixels(f), np.ones((h, w, 1), np.float32)])
        assert out.write_image(pixels)
        out.close()
    return str(folder / f"{name}.####.exr")


def read_channel(path: Path, name: str) -> np.ndarray:
    """One channel of an EXR as float32 (H, W), read with OpenImageIO."""
    buf = oiio.ImageBuf(str(path))
    names = list(buf.spec().channelnames)
    assert name in names, f"{path} has channels {names}"
    pixels = buf.get_pixels(oiio.FLOAT)
    assert not buf.has_error, buf.geterror()
    return pixels[..., names.index(name)]


def one_line_error(err: str, *needles: str) -> str:
    """The single ``error: ...`` line a command printed on stderr (no traceback), holding each of ``needles``."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def run_cli(*args: str) -> tuple[int, str]:
    """The CLI in this process (click's runner): exit code and stderr."""
    from click.testing import CliRunner

    from flashdepth_vfx.cli import main

    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stderr
