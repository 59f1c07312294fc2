"""How much frame-to-frame drift does ``--stabilize`` remove, and does it keep a real dolly? Markdown tables.

    python benchmarks/bench_stabilize.py                    # both parts
    python benchmarks/bench_stabilize.py --part drift       # controlled drift only (no network)

1. **Controlled drift** (no network): the exact disparity of held-out procedural shots, drifted per frame by
   :func:`flashdepth_vfx.data.drift.inject_drift` (3% white scale noise, a 10% slow trend over the shot, additive
   noise of 2% of the median disparity), then stabilised against the shot's plates. Each frame's output is fitted
   to the truth (``out_t ~ a_t * truth_t + b_t``); the *high-frequency drift* is the spread over the shot of the
   frame-to-frame change of ``log a_t`` (``std_t(log a_t - log a_(t-1))``: a steady trend has none). Then the same
   scenes with the camera dollying in by 1% of the median depth a frame (static disparity grows 1-2% a frame) and
   the drift without its slow trend: the output's scale trend against the truth (slope of ``log a_t``; a
   stabiliser that took the dolly for drift would show about -1.5% a frame) and the stabiliser's own change to it.
2. **The embedded model** (flashdepth-tiny) on held-out clean and exposure-pop shots: the raw stream against the
   stream stabilised, scored by :func:`flashdepth_vfx.eval.evaluate_sequence` (one scale and shift per shot).
"""
from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from flashdepth_vfx.data import SceneConfig, render_sequence
from flashdepth_vfx.data.camera import look_at
from flashdepth_vfx.data.drift import inject_drift
from flashdepth_vfx.data.procedural import sample_scene
from flashdepth_vfx.data.render import render_view
from flashdepth_vfx.data.srgb import linear_to_srgb
from flashdepth_vfx.eval.metrics import evaluate_sequence
from flashdepth_vfx.solve.stabilize import DEFAULT_PERIOD, Stabilization, stabilize

HELD_OUT_SEED = 1_000_000
DOLLY_RATE = 0.01
"""Dolly shots move the camera forward by this share of the first frame's median depth every frame."""


def dolly_shot(seed: int, frames: int, height: int, width: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Plates (T, H, W, 3), depth (T, H, W) and the mean per-frame growth of static disparity (log) of a scene
    drawn from ``seed``, the camera moving straight ahead by :data:`DOLLY_RATE` of the first frame's median depth
    (sky left out) every frame."""
    config = SceneConfig(height=height, width=width, num_frames=frames, seed=seed, camera_motion="static")
    scene, camera, intrinsics = sample_scene(config)
    start = camera.pose(0)
    forward = start[:3, 2]
    eye, target = np.asarray(camera.eye), np.asarray(camera.target)
    _, first_depth = render_view(scene.at(0), start, intrinsics, height, width, config.far, False)
    step = DOLLY_RATE * float(np.median(first_depth[first_depth < config.far]))
    rgb, depth = [], []
    for frame in range(frames):
        pose = look_at(eye + frame * step * forward, target + frame * step * forward)
        linear, z = render_view(scene.at(frame), pose, intrinsics, height, width, config.far, config.shadows)
        rgb.append(np.clip(linear_to_srgb(linear), 0.0, 1.0))
        depth.append(z)
    depth_array = np.stack(depth)
    near = depth_array[:-1][depth_array[:-1] < config.far]
    growth = float(np.median(np.log(near / np.maximum(near - step, 1e-6))))  # a static point: z -> z - step
    return np.stack(rgb), depth_array, growth


def per_frame_scale(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """``a_t`` of the least-squares fit ``pred_t ~ a_t * truth_t + b_t`` of every frame."""
    scales = []
    for p, t in zip(pred, truth):
        mask = np.isfinite(p) & np.isfinite(t)
        x, y = t[mask].astype(np.float64), p[mask].astype(np.float64)
        scales.append(np.cov(x, y)[0, 1] / np.var(x, ddof=1))
    return np.asarray(scales)


def high_frequency(scales: np.ndarray) -> float:
    """Spread of the frame-to-frame change of log scale."""
    return float(np.std(np.diff(np.log(scales))))


def trend(scales: np.ndarray) -> float:
    """Least-squares slope of log scale per frame."""
    return float(np.polyfit(np.arange(len(scales)), np.log(scales), 1)[0])


def run_stabilize(disparity: np.ndarray, rgb: np.ndarray, period: float) -> tuple[np.ndarray, Stabilization]:
    """Stabilised frames and the stabilisation (warnings are counted by the caller through the result)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = stabilize(list(disparity), list(rgb), period=period)
    return np.stack([result.apply(t, d) for t, d in enumerate(disparity)]), result


def drift_part(args: argparse.Namespace) -> None:
    timings = []
    stats: dict[str, list[float]] = {k: [] for k in ("raw", "stab", "truth", "flick_raw", "flick_stab",
                                                     "spread_raw", "spread_stab", "breaks")}
    for i in range(args.shots):
        seed = args.first_seed + i
        seq = render_sequence(SceneConfig(height=args.height, width=args.width, num_frames=args.frames, seed=seed))
        truth = (1.0 / seq.depth).astype(np.float32)
        drifted, _ = inject_drift(truth, seed=seed)
        started = time.perf_counter()
        out, result = run_stabilize(drifted, seq.rgb, args.period)
        timings.append((time.perf_counter() - started) / len(truth))
        clean_out, _ = run_stabilize(truth, seq.rgb, args.period)
        stats["raw"].append(high_frequency(per_frame_scale(drifted, truth)))
        stats["stab"].append(high_frequency(per_frame_scale(out, truth)))
        stats["truth"].append(high_frequency(per_frame_scale(clean_out, truth)))
        raw_eval, out_eval = evaluate_sequence(drifted, seq.depth), evaluate_sequence(out, seq.depth)
        stats["flick_raw"].append(raw_eval.flicker)
        stats["flick_stab"].append(out_eval.flicker)
        stats["spread_raw"].append(raw_eval.scale_spread)
        stats["spread_stab"].append(out_eval.scale_spread)
        stats["breaks"].append(len(result.segments) - 1)
    m = {k: float(np.mean(v)) for k, v in stats.items()}
    print(f"Controlled drift: {args.shots} procedural shots of {args.frames} frames at {args.width}x{args.height}, "
          f"seeds {args.first_seed}-{args.first_seed + args.shots - 1}, period {args.period:g} frames, "
          f"{1000 * float(np.mean(timings)):.0f} ms a frame\n")
    print("| HF drift, raw | HF drift, stabilised | reduction | worst shot | HF added to exact disparity | "
          "flicker | scale spread | path breaks |\n|---:|---:|---:|---:|---:|---:|---:|---:|")
    worst = float(np.min(1 - np.asarray(stats["stab"]) / np.asarray(stats["raw"])))
    print(f"| {m['raw']:.4f} | {m['stab']:.4f} | **{1 - m['stab'] / m['raw']:.0%}** | {worst:.0%} | {m['truth']:.4f} | "
          f"{m['flick_raw']:.4f} → {m['flick_stab']:.4f} | {m['spread_raw']:.4f} → {m['spread_stab']:.4f} | "
          f"{int(sum(stats['breaks']))} |\n")

    rows = []
    for i in range(args.shots):
        seed = args.first_seed + i
        rgb, depth, growth = dolly_shot(seed, args.frames, args.height, args.width)
        truth = (1.0 / depth).astype(np.float32)
        drifted, _ = inject_drift(truth, seed=seed, trend=0.0)
        out, result = run_stabilize(drifted, rgb, args.period)
        raw_scales, out_scales = per_frame_scale(drifted, truth), per_frame_scale(out, truth)
        rows.append((growth, trend(out_scales), trend(out_scales) - trend(raw_scales),
                     high_frequency(raw_scales), high_frequency(out_scales), len(result.segments) - 1))
    values = np.asarray(rows)
    print(f"Dolly in at {DOLLY_RATE:.0%} of the median depth a frame: the same seeds' scenes (objects moving as before), the camera "
          f"going straight ahead, drift without its slow trend (white 3% scale, additive)\n")
    print("| static disparity growth / frame | output's scale trend against the truth / frame (worst shot) | "
          "stabiliser's change to the trend | HF drift raw → stabilised | path breaks |\n"
          "|---:|---:|---:|---:|---:|")
    print(f"| {values[:, 0].mean():+.2%} | {values[:, 1].mean():+.3%} ({values[:, 1][np.argmax(np.abs(values[:, 1]))]:+.3%}) | "
          f"{values[:, 2].mean():+.4%} | {values[:, 3].mean():.4f} → {values[:, 4].mean():.4f} | "
          f"{int(values[:, 5].sum())} |\n")


def model_part(args: argparse.Namespace) -> None:
    from flashdepth_vfx.engine.loading import embedded_checkpoint
    from flashdepth_vfx.model import load_checkpoint
    from flashdepth_vfx.train.validate import held_out_scenes, predict_sequence

    path = embedded_checkpoint()
    if path is None:
        raise SystemExit("no embedded model installed")
    model = load_checkpoint(path)
    for pops in (0.0, 0.25):
        scenes = held_out_scenes(args.model_shots, 126, 224, args.model_frames, args.first_seed, exposure_pops=pops)
        rows: dict[str, list[list[float]]] = {"raw stream": [], "stabilised": []}
        for scene in scenes:
            seq = render_sequence(scene)
            raw = predict_sequence(model, seq.rgb)
            out, _ = run_stabilize(raw, seq.rgb, args.period)
            for name, pred in (("raw stream", raw), ("stabilised", out)):
                r = evaluate_sequence(pred, seq.depth)
                rows[name].append([r.abs_rel, r.delta1, r.scale_spread, r.flicker])
        print(f"{model.cfg.name}, {len(scenes)} held-out shots of {args.model_frames} frames at 224x126, "
              f"exposure pops {pops:g}, period {args.period:g}\n")
        print("| | AbsRel ↓ | δ1 ↑ | Scale spread ↓ | Flicker ↓ |\n|---|---:|---:|---:|---:|")
        for name, values in rows.items():
            mean = np.nanmean(np.asarray(values), axis=0)
            print(f"| {name} | {mean[0]:.4f} | {mean[1]:.3f} | {mean[2]:.4f} | {mean[3]:.4f} |")
        print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("drift", "model", "both"), default="both")
    parser.add_argument("--shots", type=int, default=8, help="controlled-drift shots per row")
    parser.add_argument("--frames", type=int, default=48, help="frames per controlled-drift shot")
    parser.add_argument("--height", type=int, default=126)
    parser.add_argument("--width", type=int, default=224)
    parser.add_argument("--model-shots", type=int, default=10)
    parser.add_argument("--model-frames", type=int, default=12)
    parser.add_argument("--period", type=float, default=DEFAULT_PERIOD, help="smoothing period (frames)")
    parser.add_argument("--first-seed", type=int, default=HELD_OUT_SEED)
    args = parser.parse_args()
    if args.part in ("drift", "both"):
        drift_part(args)
    if args.part in ("model", "both"):
        model_part(args)


if __name__ == "__main__":
    main()
