"""How good is the embedded default model? A markdown table on held-out procedural sequences.

    python benchmarks/eval_embedded.py                         # the shipped flashdepth-tiny, 24 sequences
    python benchmarks/eval_embedded.py --checkpoint runs/tiny/iter_1500.pth --sequences 8

Rows: the model streamed with its temporal state; the same model with the state reset before every frame;
a constant-disparity and a vertical-ramp baseline. Columns: the paper's AbsRel and delta1 (one scale and shift
per sequence), boundary F1, and the two temporal-consistency measures (scale spread, flicker). Held-out scenes
use seeds from 1,000,000 on; no training run draws them. One table per ``--exposure-pops`` rate: clean
sequences, and the same sequences with single over-exposed frames (lightning, strobes) that a per-frame model
cannot see through. Under each table, the flicker of every frame pair for the model with and without its state.
"""
from __future__ import annotations

import argparse
import time

import torch

from flashdepth_vfx.engine.loading import embedded_checkpoint
from flashdepth_vfx.model import load_checkpoint
from flashdepth_vfx.train.validate import HELD_OUT_SEED, METHODS, compare, held_out_scenes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="model to evaluate (default: the embedded flashdepth-tiny)")
    parser.add_argument("--sequences", type=int, default=24)
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--size", default="126x224", help="HEIGHTxWIDTH, multiples of 14")
    parser.add_argument("--first-seed", type=int, default=HELD_OUT_SEED)
    parser.add_argument("--exposure-pops", default="0,0.25",
                        help="comma-separated chances of an over-exposed frame; one table each")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    path = args.checkpoint or embedded_checkpoint()
    if path is None:
        parser.error("no embedded model installed; pass --checkpoint")
    height, width = (int(v) for v in args.size.lower().split("x"))
    model = load_checkpoint(path)
    for pops in (float(v) for v in args.exposure_pops.split(",")):
        started = time.perf_counter()
        scenes = held_out_scenes(args.sequences, height, width, args.frames, args.first_seed, exposure_pops=pops)
        result = compare(model, scenes)
        print(f"{model.cfg.name} ({path}): {result.sequences} held-out sequences of {result.frames} frames at "
              f"{width}x{height}, seeds {args.first_seed}-{args.first_seed + result.sequences - 1}, exposure pops "
              f"{pops:g}, {time.perf_counter() - started:.0f} s\n")
        print(result.markdown() + "\n")
        for method in METHODS[:2]:  # where the flicker is: the first pair starts from an empty temporal state
            pairs = ", ".join(f"{v:.4f}" for v in result.frame_flicker[method][1:])
            print(f"- flicker by frame pair, {method}: {pairs}")
        print()


if __name__ == "__main__":
    main()
