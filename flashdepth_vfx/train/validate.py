"""Held-out check of a trained model on procedural sequences, against trivial baselines, with the paper's metrics.

Every method is scored by :func:`flashdepth_vfx.eval.evaluate_sequence` (one scale and shift per sequence):

- ``model``: the network streamed over the sequence, temporal state carried;
- ``model, state reset every frame``: the same network with its temporal state cleared before every frame;
- ``constant``: one disparity everywhere; ``vertical ramp``: disparity growing linearly down the frame.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..data.procedural import SceneConfig, render_sequence
from ..eval.metrics import EvalResult, evaluate_sequence
from ..model import FlashDepth

HELD_OUT_SEED = 1_000_000
"""Held-out scenes use seeds from here on; training scenes start at 0 (``DataConfig.base_seed``)."""
METHODS = ("model", "model, state reset every frame", "constant", "vertical ramp")
METRICS = ("abs_rel", "delta1", "boundary_f1", "scale_spread", "flicker")
METRIC_HEADERS = {
    "abs_rel": "AbsRel ↓", "delta1": "δ1 ↑", "boundary_f1": "Boundary F1 ↑",
    "scale_spread": "Scale spread ↓", "flicker": "Flicker ↓",
}


def held_out_scenes(count: int, height: int = 126, width: int = 224, frames: int = 12,
                    first_seed: int = HELD_OUT_SEED, exposure_pops: float = 0.0) -> list[SceneConfig]:
    """``count`` procedural scenes no training run draws (seeds ``first_seed``, ``first_seed + 1``, ...)."""
    return [SceneConfig(height=height, width=width, num_frames=frames, seed=first_seed + i, exposure_pops=exposure_pops)
            for i in range(count)]


@torch.inference_mode()
def predict_sequence(model: FlashDepth, rgb: np.ndarray, reset_every_frame: bool = False) -> np.ndarray:
    """Disparity (T, H, W) of frames (T, H, W, 3) in [0, 1] (sides multiples of 14), streamed in order."""
    stream = model.stream()
    out = []
    for frame in rgb:
        if reset_every_frame:
            stream.reset()
        out.append(stream.step(torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1))[0].cpu().numpy())
    return np.stack(out)


def constant_prediction(shape: tuple[int, ...]) -> np.ndarray:
    """The same disparity at every pixel of every frame."""
    return np.ones(shape, np.float32)


def ramp_prediction(shape: tuple[int, ...]) -> np.ndarray:
    """Disparity rising linearly from the top row to the bottom one (a ground plane seen from eye height)."""
    t, h, w = shape
    return np.broadcast_to(np.linspace(0.0, 1.0, h, dtype=np.float32)[None, :, None], (t, h, w)).copy()


@dataclass
class Comparison:
    """Mean metrics per method over the held-out sequences (NaN values skipped)."""

    scores: dict[str, dict[str, float]]
    sequences: int
    frames: int
    size: tuple[int, int]
    frame_flicker: dict[str, list[float]]  # per method: flicker of frame t against t - 1, averaged over sequences

    def markdown(self) -> str:
        """The table as GitHub markdown."""
        header = "| method | " + " | ".join(METRIC_HEADERS[m] for m in METRICS) + " |"
        rule = "|---|" + "---:|" * len(METRICS)
        rows = [
            f"| {method} | " + " | ".join(_cell(self.scores[method][m]) for m in METRICS) + " |"
            for method in self.scores
        ]
        return "\n".join([header, rule, *rows])


def _cell(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3f}"


def compare(model: FlashDepth, scenes: Sequence[SceneConfig]) -> Comparison:
    """Render each scene, predict with every method in :data:`METHODS`, evaluate, average over scenes."""
    predictors: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        METHODS[0]: lambda rgb: predict_sequence(model, rgb),
        METHODS[1]: lambda rgb: predict_sequence(model, rgb, reset_every_frame=True),
        METHODS[2]: lambda rgb: constant_prediction(rgb.shape[:3]),
        METHODS[3]: lambda rgb: ramp_prediction(rgb.shape[:3]),
    }
    results: dict[str, list[EvalResult]] = {name: [] for name in predictors}
    for scene in scenes:
        seq = render_sequence(scene)
        for name, predict in predictors.items():
            results[name].append(evaluate_sequence(predict(seq.rgb), seq.depth, "disparity"))
    scores = {
        name: {metric: _nanmean([getattr(r, metric) for r in runs]) for metric in METRICS}
        for name, runs in results.items()
    }
    frame_flicker = {
        name: [_nanmean([r.per_frame_flicker[t] for r in runs]) for t in range(runs[0].num_frames)]
        for name, runs in results.items()
    }
    first = scenes[0]
    return Comparison(scores, len(scenes), first.num_frames, (first.height, first.width), frame_flicker)


def _nanmean(values: list[float]) -> float:
    kept = [v for v in values if not math.isnan(v)]
    return float(np.mean(kept)) if kept else math.nan
