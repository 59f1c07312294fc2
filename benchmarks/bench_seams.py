"""How much a farm chunk that starts cold K frames early differs from the single-pass render, at its seam.

    python benchmarks/bench_seams.py                                  # 3 procedural shots, 48 frames, chunks of 12
    python benchmarks/bench_seams.py --warmups 0,4,8 --chunk-size 24 --checkpoint flashdepth-s.safetensors

Each shot is a procedural scene (``flashdepth_vfx.data``) written as EXR plates and rendered by the real engine
(``Render``): once in a single pass, then chunk by chunk with ``--warmup K`` for every K. At the first frame of
every chunk after the first (a seam) it takes the largest absolute difference to the single pass, relative to the
shot's output range (max - min of the single pass), and prints the worst and the mean over all seams and shots,
the worst over every chunked frame, and the price of K: extra frames processed per chunk. The model is the
checkpoint given, else the embedded ``flashdepth-tiny`` weights if installed, else ``flashdepth-tiny`` with seeded
random weights.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from flashdepth_vfx.data import SceneConfig, render_sequence, write_plate_sequence
from flashdepth_vfx.engine import LoadedModel, QuietEvents, Render, RenderSettings, load_model, resolve_device
from flashdepth_vfx.engine.loading import embedded_checkpoint
from flashdepth_vfx.engine.settings import OutputMode
from flashdepth_vfx.model import build_model
from flashdepth_vfx.plates import read_channels

CHANNEL = "depth.Z"


def seeded_checkpoint(path: Path, seed: int) -> Path:
    """``flashdepth-tiny`` with weights drawn after ``torch.manual_seed(seed)``, saved as safetensors."""
    torch.manual_seed(seed)
    model = build_model("flashdepth-tiny")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path


def render_frames(plate: str, output: Path, frames: range, warmup: int | None, loaded: LoadedModel,
                  mode: OutputMode) -> dict[int, np.ndarray]:
    """Render ``frames`` with the real engine (cold ``warmup`` frames early, or from the shot start when None);
    the written output channel by frame number."""
    settings = RenderSettings(plate=plate, output=str(output / "depth.####.exr"), frames=f"{frames[0]}-{frames[-1]}",
                              warmup=warmup, mode=mode)
    summary = Render(settings, QuietEvents(), loaded=loaded).run()
    return {f: read_channels(path)[CHANNEL] for f, path in zip(frames, summary.written)}


def relative_errors(single: dict[int, np.ndarray], chunked: dict[int, np.ndarray]) -> dict[int, float]:
    """For every chunked frame, max |chunked - single| relative to the single pass's output range over the shot."""
    values = np.stack(list(single.values()))
    span = float(values.max() - values.min()) or 1.0
    return {f: float(np.abs(out - single[f]).max()) / span for f, out in chunked.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warmups", default="0,2,4,8,16", help="comma-separated K values")
    parser.add_argument("--chunk-size", type=int, default=12)
    parser.add_argument("--frames", type=int, default=48, help="frames per shot")
    parser.add_argument("--shots", type=int, default=3, help="procedural scenes (seeds 0..N-1)")
    parser.add_argument("--size", default="126x224", help="HxW of the plates")
    parser.add_argument("--mode", default="disparity", choices=["disparity", "depth"])
    parser.add_argument("--checkpoint", help="a FlashDepth checkpoint (default: embedded tiny, else seeded tiny)")
    parser.add_argument("--seed", type=int, default=0, help="weights seed of the synthetic tiny model")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    warmups = [int(k) for k in args.warmups.split(",")]
    height, width = (int(v) for v in args.size.split("x"))
    first = 1001

    with tempfile.TemporaryDirectory(prefix="flashdepth-seams-") as tmp:
        root = Path(tmp)
        checkpoint = args.checkpoint or embedded_checkpoint() or seeded_checkpoint(root / "tiny.safetensors", args.seed)
        loaded = load_model(str(checkpoint), None, resolve_device(args.device))
        print(f"model {loaded.identity} ({checkpoint}), {args.shots} shots x {args.frames} frames "
              f"{height}x{width}, chunks of {args.chunk_size}, output {args.mode}")

        shot_frames = range(first, first + args.frames)
        chunks = [shot_frames[i:i + args.chunk_size] for i in range(0, args.frames, args.chunk_size)]
        seam: dict[int, list[float]] = {k: [] for k in warmups}
        anywhere: dict[int, list[float]] = {k: [] for k in warmups}
        for shot in range(args.shots):
            sequence = render_sequence(SceneConfig(height=height, width=width, num_frames=args.frames, seed=shot))
            plate = write_plate_sequence(sequence, root / f"plates{shot}", name=f"shot{shot}", first_frame=first)
            single = render_frames(plate, root / f"single{shot}", shot_frames, None, loaded, args.mode)
            for k in warmups:
                chunked: dict[int, np.ndarray] = {}
                for chunk in chunks[1:]:
                    chunked.update(render_frames(plate, root / f"warm{shot}_{k}", chunk, k, loaded, args.mode))
                errors = relative_errors(single, chunked)
                seam[k] += [errors[chunk[0]] for chunk in chunks[1:]]
                anywhere[k].append(max(errors.values()))

        print(f"\n| K | extra frames per {args.chunk_size}-frame chunk | worst seam difference | mean seam difference "
              "| worst anywhere in a chunk |")
        print("|---|---|---|---|---|")
        for k in warmups:
            print(f"| {k} | {k} (+{100 * k / args.chunk_size:.0f}%) | {100 * max(seam[k]):.2g}% "
                  f"| {100 * float(np.mean(seam[k])):.2g}% | {100 * max(anywhere[k]):.2g}% |")


if __name__ == "__main__":
    main()
