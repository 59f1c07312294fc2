"""A small per-frame metrics chart, drawn with OpenImageIO's ImageBufAlgo and saved as PNG (no matplotlib needed).

Text uses the fonts OpenImageIO ships; where it finds none, the chart is drawn without its labels.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import OpenImageIO as oiio

from flashdepth_vfx.errors import OutputError
from flashdepth_vfx.eval.metrics import EvalResult
from flashdepth_vfx.plates.image_io import write_image
from flashdepth_vfx.plates.output_guard import image_marker

SERIES_COLOURS = {  # display RGB in [0, 1]
    "AbsRel": (0.85, 0.33, 0.10),
    "delta1": (0.00, 0.45, 0.70),
    "Boundary F1": (0.00, 0.62, 0.45),
}
_AXIS, _GRID, _TEXT = (0.2, 0.2, 0.2), (0.88, 0.88, 0.88), (0.15, 0.15, 0.15)
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 24, 40, 44  # margins around the plot area, pixels
_FONT_SIZE = 14


def polyline(canvas: oiio.ImageBuf, xs: np.ndarray, ys: np.ndarray, colour: tuple[float, float, float]) -> None:
    """Join consecutive finite points; a NaN breaks the line; a lone point becomes a small square."""
    for i, (x, y) in enumerate(zip(xs, ys)):
        if math.isnan(y):
            continue
        has_neighbour = False
        if i + 1 < len(xs) and not math.isnan(ys[i + 1]):
            for offset in (0, 1):  # two pixels wide
                oiio.ImageBufAlgo.render_line(
                    canvas, int(x), int(y) + offset, int(xs[i + 1]), int(ys[i + 1]) + offset, colour
                )
            has_neighbour = True
        if not has_neighbour and (i == 0 or math.isnan(ys[i - 1])):
            oiio.ImageBufAlgo.render_box(canvas, int(x) - 2, int(y) - 2, int(x) + 2, int(y) + 2, colour, fill=True)


def plot_metrics(result: EvalResult, path: str | os.PathLike[str], width: int = 800, height: int = 360) -> None:
    """Write a PNG line chart of per-frame AbsRel, delta1 and boundary F1 (y from 0 to 1; AbsRel clipped at 1)."""
    canvas = oiio.ImageBuf(oiio.ImageSpec(width, height, 3, "uint8"))
    oiio.ImageBufAlgo.fill(canvas, (1.0, 1.0, 1.0))
    x0, x1, y0, y1 = _LEFT, width - _RIGHT, height - _BOTTOM, _TOP  # y0 is the bottom (value 0)

    for value in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = int(round(y0 + (y1 - y0) * value))
        oiio.ImageBufAlgo.render_line(canvas, x0, y, x1, y, _GRID if 0 < value < 1 else _AXIS)
        oiio.ImageBufAlgo.render_text(canvas, 8, y + 5, f"{value:.2f}", _FONT_SIZE, "", _TEXT)
    oiio.ImageBufAlgo.render_line(canvas, x0, y0, x0, y1, _AXIS)

    frames = max(result.num_frames, 1)
    xs = x0 + (x1 - x0) * (np.arange(frames) / max(frames - 1, 1))
    for tick in sorted({0, frames // 2, frames - 1}):
        oiio.ImageBufAlgo.render_line(canvas, int(xs[tick]), y0, int(xs[tick]), y0 + 5, _AXIS)
        oiio.ImageBufAlgo.render_text(canvas, int(xs[tick]) - 4, y0 + 22, str(tick), _FONT_SIZE, "", _TEXT)
    oiio.ImageBufAlgo.render_text(canvas, (x0 + x1) // 2 - 20, height - 6, "frame", _FONT_SIZE, "", _TEXT)

    series = {
        "AbsRel": np.minimum(np.asarray(result.per_frame_abs_rel, float), 1.0),
        "delta1": np.asarray(result.per_frame_delta1, float),
        "Boundary F1": np.asarray(result.per_frame_boundary_f1, float),
    }
    legend_x = x0
    for name, values in series.items():
        colour = SERIES_COLOURS[name]
        polyline(canvas, xs[: len(values)], y0 + (y1 - y0) * values, colour)
        oiio.ImageBufAlgo.render_box(canvas, legend_x, 12, legend_x + 14, 24, colour, fill=True)
        oiio.ImageBufAlgo.render_text(canvas, legend_x + 20, 24, name, _FONT_SIZE, "", _TEXT)
        legend_x += 40 + 9 * len(name)

    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"Cannot create folder {target.parent}: {exc.strerror}; choose a writable folder") from None
    pixels = canvas.get_pixels(oiio.FLOAT)
    if pixels is None:
        raise OutputError(f"Cannot draw chart {target}: {canvas.geterror() or 'unknown error'}")
    write_image(target, pixels, image_marker("eval-plot"))
