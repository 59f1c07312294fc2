"""``make demo``: render a generated shot to depth EXRs and a contact sheet, and say where they are.

    python -m flashdepth_vfx.demo [--out demo_out] [--frames 24] [--size 252x448] [--checkpoint PATH]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from .data import SceneConfig, render_sequence, write_plate_sequence
from .engine import Render, RenderSettings, RichProgress
from .engine.loading import embedded_checkpoint
from .engine.preview import colour_map, nearness
from .errors import FlashDepthError
from .model import build_model
from .plates import frame_path
from .plates.image_io import write_image

FIRST_FRAME = 1001


def contact_sheet(plates: np.ndarray, depth_pattern: str, frames: list[int], path: Path, rows: int = 4) -> None:
    """PNG: a few frames, each row plate | depth."""
    picks = np.linspace(0, len(frames) - 1, min(rows, len(frames))).round().astype(int)
    sheet = [np.concatenate([plates[i], colour_map(nearness(frame_path(depth_pattern, frames[i])))], axis=1) for i in picks]
    write_image(path, np.concatenate(sheet, axis=0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo_out", help="folder for plates, depth and the contact sheet")
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--size", default="126x224", help="HxW of the generated plates")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--checkpoint", help="a FlashDepth checkpoint (default: the embedded tiny model)")
    args = parser.parse_args(argv)
    out = Path(args.out).absolute()
    h, w = map(int, args.size.split("x"))

    print(f"generating a {args.frames}-frame {w}x{h} procedural shot (seed {args.seed}) ...")
    shot = render_sequence(SceneConfig(height=h, width=w, num_frames=args.frames, seed=args.seed))
    plates = write_plate_sequence(shot, out / "plates", name="shot", first_frame=FIRST_FRAME)

    checkpoint = args.checkpoint or embedded_checkpoint()
    if checkpoint is None:  # the package was installed without its embedded weights
        checkpoint = out / "untrained-tiny.safetensors"
        torch.manual_seed(0)
        save_file({k: v.contiguous() for k, v in build_model("flashdepth-tiny").state_dict().items()}, str(checkpoint))
        print("note: no embedded model found; using an untrained tiny network (the depth will be meaningless)")
    # The plates are scene-linear; the un-tone-mapped sRGB view gives the model back the generated display frames.
    settings = RenderSettings(plate=plates.replace("%04d", "####"), output=str(out / "depth" / "shot_depth.####.exr"),
                              checkpoint=str(checkpoint), view="Un-tone-mapped")
    try:
        summary = Render(settings, RichProgress()).run()
    except FlashDepthError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    frames = list(range(FIRST_FRAME, FIRST_FRAME + args.frames))
    sheet = out / "contact_sheet.png"
    contact_sheet(shot.rgb, summary.output, frames, sheet)
    print(f"plates:        {plates}")
    print(f"depth EXRs:    {summary.output}  ({len(summary.written)} frames, channel depth.Z)")
    print(f"contact sheet: {sheet}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
