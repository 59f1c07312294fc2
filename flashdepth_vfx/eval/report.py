"""Evaluate prediction files against ground-truth files and report: table, JSON, chart (``flashdepth-vfx eval``)."""
from __future__ import annotations

import contextlib
import io
import json
import math
import os
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from flashdepth_vfx.errors import OptionError, OutputError, PlateError
from flashdepth_vfx.eval.io import PNG_SCALE, find_frames, load_frames
from flashdepth_vfx.eval.metrics import EvalResult, evaluate_sequence
from flashdepth_vfx.eval.plot import plot_metrics
from flashdepth_vfx.plates.output_guard import KIND_KEY, OutputKind, check_outputs

GT_KINDS = ("depth", "disparity")


def run_eval(
    pred_spec: str | os.PathLike[str],
    gt_spec: str | os.PathLike[str],
    pred_kind: str = "disparity",
    gt_kind: str = "depth",
    max_depth: float = 70.0,
    json_path: str | os.PathLike[str] | None = None,
    plot_path: str | os.PathLike[str] | None = None,
    *,
    pred_channel: str | None = None,
    gt_channel: str | None = None,
    png_scale: float = PNG_SCALE,
    overwrite: bool = False,
    align: str = "sequence",
) -> EvalResult:
    """Load both sequences (see :func:`~flashdepth_vfx.eval.io.load_frames`), pair frames in order, evaluate.

    ``gt_kind="disparity"`` ground truth is inverted to depth (non-positive values become invalid). ``align``: see
    :func:`~flashdepth_vfx.eval.metrics.evaluate_sequence`. Writes the result as JSON to ``json_path`` and a
    per-frame chart to ``plot_path`` when given; neither replaces an input frame, nor (without ``overwrite``) a file
    that is not the project's own JSON / chart.
    """
    if gt_kind not in GT_KINDS:
        raise ValueError(f"gt_kind must be one of {GT_KINDS}, got {gt_kind!r}")
    if isinstance(max_depth, bool) or not isinstance(max_depth, (int, float)) or not math.isfinite(max_depth) \
            or max_depth <= 0:
        raise OptionError(f"--max-depth {max_depth}: use a finite depth above 0 metres (default 70)")
    planned: tuple[tuple[str | os.PathLike[str] | None, OutputKind], ...] = ((json_path, "eval"), (plot_path, "eval-plot"))
    outputs = [(path, kind) for path, kind in planned if path is not None]
    if outputs:
        check_outputs(outputs, [*find_frames(pred_spec), *find_frames(gt_spec)], overwrite)
    pred = load_frames(pred_spec, pred_channel, png_scale)
    gt = load_frames(gt_spec, gt_channel, png_scale)
    if len(pred) != len(gt):
        raise PlateError(
            f"{len(pred)} prediction frames ({os.fspath(pred_spec)}) but {len(gt)} ground-truth frames "
            f"({os.fspath(gt_spec)}); point both at the same frame range"
        )
    if gt_kind == "disparity":
        with np.errstate(divide="ignore"):
            gt = np.where(gt > 0, 1.0 / gt, 0.0).astype(np.float32)
    result = evaluate_sequence(pred, gt, pred_kind, max_depth, align)
    if json_path is not None:
        payload = {KIND_KEY: "eval", "pred": os.fspath(pred_spec), "gt": os.fspath(gt_spec), "gt_kind": gt_kind,
                   **result.to_dict()}
        write_text(Path(json_path), json.dumps(payload, indent=2) + "\n")
    if plot_path is not None:
        plot_metrics(result, plot_path)
    return result


def write_text(path: Path, text: str) -> None:
    """Write beside ``path`` and rename into place: a failure never leaves a half file."""
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, path)
    except OSError as exc:
        raise OutputError(f"Cannot write {path}: {exc.strerror}; choose a writable location") from None
    finally:
        with contextlib.suppress(OSError):  # e.g. the parent is a file: there is no temporary to remove
            temp.unlink(missing_ok=True)


def _cell(value: float, digits: int = 4) -> str:
    return "n/a" if math.isnan(value) else f"{value:.{digits}f}"


def format_table(result: EvalResult) -> str:
    """The headline metrics as a plain-text table (rich, no colour codes)."""
    table = Table(title=f"Depth evaluation: {result.num_frames} frames", min_width=64)
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("better", justify="center")
    table.add_row("AbsRel", _cell(result.abs_rel), "lower")
    table.add_row("delta1 (< 1.25)", _cell(result.delta1), "higher")
    table.add_row("Boundary F1", _cell(result.boundary_f1), "higher")
    table.add_row("Scale spread", _cell(result.scale_spread), "lower")
    table.add_row("Flicker", _cell(result.flicker), "lower")
    aligned = (f"{result.pred_kind} aligned with one scale {result.scale:.4g} and shift {result.shift:.4g}"
               if result.align == "sequence" else f"metric {result.pred_kind}, not aligned")
    table.caption = f"{aligned}; depth clipped at {result.max_depth:g} m"
    buffer = io.StringIO()
    Console(file=buffer, width=88, color_system=None, force_terminal=False).print(table)
    return buffer.getvalue()
