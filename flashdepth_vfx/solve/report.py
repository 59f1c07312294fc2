"""The solve report (``--report``): the per-frame fit as JSON, and a PNG of four strips (a, b, reference counts,
residual) so an artist sees where the solve is weak: few points, a jump in a or b, a high residual.

The chart is drawn with OpenImageIO (as :mod:`flashdepth_vfx.eval.plot`); no matplotlib.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import OpenImageIO as oiio

from flashdepth_vfx.errors import OutputError
from flashdepth_vfx.eval.plot import polyline
from flashdepth_vfx.eval.report import write_text
from flashdepth_vfx.plates.image_io import write_image
from flashdepth_vfx.plates.output_guard import KIND_KEY, image_marker

_STRIP_HEIGHT, _WIDTH, _LEFT, _RIGHT, _TOP, _GAP = 120, 900, 90, 20, 16, 26
_TEXT, _AXIS, _CUT = (0.15, 0.15, 0.15), (0.3, 0.3, 0.3), (0.85, 0.2, 0.2)
_COLOURS = [(0.0, 0.45, 0.70), (0.85, 0.33, 0.10), (0.0, 0.62, 0.45), (0.8, 0.6, 0.7)]


def _series(report: dict[str, Any]) -> list[tuple[str, list[tuple[str, np.ndarray]]]]:
    """Strips to draw: (title, [(legend, values)])."""
    def values(key: str, name: str) -> np.ndarray:
        return np.array([math.nan if v is None else v for v in report[key][name]], float)

    strips = []
    if "fit" in report:
        strips += [
            ("a (scale)", [("a", values("fit", "a"))]),
            ("b (shift)", [("b", values("fit", "b"))]),
            ("references", [("seen", values("fit", "points")), ("inliers", values("fit", "inliers"))]),
            ("residual", [("median |rel|", values("fit", "residual"))]),
        ]
    if "stabilize" in report:
        strips += [("stabilise", [("scale", values("stabilize", "scale")), ("shift", values("stabilize", "shift"))])]
    return strips


def plot_report(report: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write the report's per-frame strips as a PNG (cuts as red ticks)."""
    strips = _series(report)
    frames = report["frames"]
    height = _TOP + len(strips) * (_STRIP_HEIGHT + _GAP) + 20
    canvas = oiio.ImageBuf(oiio.ImageSpec(_WIDTH, height, 3, "uint8"))
    oiio.ImageBufAlgo.fill(canvas, (1.0, 1.0, 1.0))
    x0, x1 = _LEFT, _WIDTH - _RIGHT
    xs = x0 + (x1 - x0) * np.arange(len(frames)) / max(len(frames) - 1, 1)
    for row, (title, series) in enumerate(strips):
        top = _TOP + row * (_STRIP_HEIGHT + _GAP)
        bottom = top + _STRIP_HEIGHT
        finite = np.concatenate([v[np.isfinite(v)] for _, v in series])
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if hi - lo < 1e-12 * max(abs(hi), 1.0):
            lo, hi = lo - 0.5 * max(abs(lo), 1e-6), hi + 0.5 * max(abs(hi), 1e-6)
        oiio.ImageBufAlgo.render_box(canvas, x0, top, x1, bottom, _AXIS)
        oiio.ImageBufAlgo.render_text(canvas, 6, top + 14, title, 13, "", _TEXT)
        oiio.ImageBufAlgo.render_text(canvas, 6, top + 32, f"{hi:.4g}", 12, "", _TEXT)
        oiio.ImageBufAlgo.render_text(canvas, 6, bottom, f"{lo:.4g}", 12, "", _TEXT)
        for cut in report.get("cuts", []):
            x = int(xs[frames.index(cut)])
            oiio.ImageBufAlgo.render_line(canvas, x, top, x, bottom, _CUT)
        for k, (name, values) in enumerate(series):
            ys = bottom - (bottom - top) * (values - lo) / (hi - lo)
            polyline(canvas, xs, ys, _COLOURS[k])
            oiio.ImageBufAlgo.render_text(canvas, x1 - 150 + 75 * k, top + 14, name, 12, "", _COLOURS[k])
    if frames:
        oiio.ImageBufAlgo.render_text(canvas, x0, height - 4, str(frames[0]), 12, "", _TEXT)
        oiio.ImageBufAlgo.render_text(canvas, x1 - 40, height - 4, str(frames[-1]), 12, "", _TEXT)
    pixels = canvas.get_pixels(oiio.FLOAT)
    if pixels is None:
        raise OutputError(f"Cannot draw the solve report {path}: {canvas.geterror() or 'unknown error'}")
    write_image(path, pixels, metadata=image_marker("solve-plot"))


def report_files(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """The JSON (``.json`` added when missing) and the chart beside it (same name, ``.png``) a report at ``path`` is."""
    target = Path(path)
    json_path = target if target.suffix.lower() == ".json" else target.with_name(target.name + ".json")
    return json_path, json_path.with_suffix(".png")


def write_report(report: dict[str, Any], path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write the report's JSON and chart (:func:`report_files`), each marked as the project's."""
    json_path, png_path = report_files(path)
    write_text(json_path, json.dumps({KIND_KEY: "solve-report", **report}, indent=2) + "\n")  # atomically
    plot_report(report, png_path)
    return json_path, png_path
