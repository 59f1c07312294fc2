"""Preview images: a plate as the model sees it beside its depth, colour-mapped (for the panel and contact sheets)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import OptionError, PlateError
from ..plates import DisplayConverter, guess_colorspace, load_config, read_plate
from ..plates.image_io import probe, read_channels, write_image
from ..plates.output_guard import check_outputs, image_marker

HEIGHT_RANGE = (8, 4320)
"""Preview heights accepted, in pixels (up to 8K)."""

# A perceptual dark-to-bright ramp (near = bright): black-purple, magenta, orange, pale yellow.
_STOPS = np.array(
    [[0.00, 0.00, 0.02], [0.23, 0.05, 0.43], [0.64, 0.16, 0.50], [0.94, 0.40, 0.23], [0.99, 0.75, 0.18], [0.98, 0.99, 0.75]],
    dtype=np.float32,
)


def colour_map(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] (H, W) -> RGB (H, W, 3) along the ramp; NaN maps to 0 (far)."""
    x = np.clip(np.nan_to_num(values, nan=0.0), 0.0, 1.0) * (len(_STOPS) - 1)
    i = np.minimum(x.astype(np.int64), len(_STOPS) - 2)
    t = (x - i)[..., None]
    return (_STOPS[i] * (1 - t) + _STOPS[i + 1] * t).astype(np.float32)


def nearness(depth_file: str | Path, channel: str | None = None) -> np.ndarray:
    """A depth output as 0..1 nearness (1 = near), robust to outliers (2nd-98th percentile of the finite values).

    Non-finite pixels (NaN, Inf) come back as NaN; a frame with no finite value is a PlateError.
    """
    info = probe(depth_file)
    channels = read_channels(depth_file)
    name = channel or ("depth.Z" if "depth.Z" in channels else next(reversed(channels)))
    if name not in channels:
        raise PlateError(f"{depth_file} has no channel {name!r} (it has {', '.join(channels)})")
    values = channels[name]
    finite = np.isfinite(values)
    if not finite.any():
        raise PlateError(f"{depth_file}: channel {name!r} has no finite values (all NaN/Inf); render that frame again")
    values = np.where(finite, values, np.nan)
    if info.metadata.get("flashdepth:mode", "depth") == "depth":
        values = 1.0 / np.maximum(values, 1e-6)
    lo, hi = np.percentile(values[finite], [2, 98])
    return (values - lo) / max(float(hi - lo), 1e-12)


def _resize(rgb: np.ndarray, height: int, pixel_aspect: float = 1.0) -> np.ndarray:
    """Nearest-neighbour resize to a height, unsqueezing anamorphic pixels (previews only)."""
    h, w = rgb.shape[:2]
    width = max(1, round(w * pixel_aspect * height / h))
    rows = (np.arange(height) * h / height).astype(np.int64)
    cols = (np.arange(width) * w / width).astype(np.int64)
    return rgb[rows][:, cols]


def write_preview(plate_file: str | Path, depth_file: str | Path, output: str | Path, colorspace: str | None = None,
                  ocio_config: str | None = None, height: int = 360, overwrite: bool = False) -> Path:
    """Write ``output`` (PNG): the plate in display sRGB | its depth colour-mapped, both ``height`` pixels tall.

    ``output`` never replaces an input, nor (without ``overwrite``) a file that is not a preview of the project's.
    """
    if isinstance(height, bool) or not isinstance(height, int) or not HEIGHT_RANGE[0] <= height <= HEIGHT_RANGE[1]:
        raise OptionError(f"--height {height}: use {HEIGHT_RANGE[0]} to {HEIGHT_RANGE[1]} pixels")
    check_outputs([(output, "preview")], [plate_file, depth_file, ocio_config], overwrite)
    plate = read_plate(plate_file)
    config = load_config(ocio_config)
    display = DisplayConverter(config, guess_colorspace(config, plate.info, colorspace))(plate.rgb)
    depth = colour_map(nearness(depth_file))
    aspect = plate.info.pixel_aspect
    sheet = np.concatenate([_resize(display, height, aspect), _resize(depth, height, aspect)], axis=1)
    write_image(output, sheet, image_marker("preview"))
    return Path(output)
