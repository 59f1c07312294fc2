"""Regenerate ``docs/plate_depth.png``, the README's picture: a procedural plate | its depth from the embedded model.

    python docs/make_picture.py [--out docs/plate_depth.png]

The embedded tiny model knows procedural scenes only, so the plate is one (the ``make demo`` scene, seed 3); the
picture is the last frame of a short render, when the temporal state has seen the shot.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from flashdepth_vfx.data import SceneConfig, render_sequence, write_plate_sequence
from flashdepth_vfx.demo import FIRST_FRAME, contact_sheet
from flashdepth_vfx.engine import QuietEvents, Render, RenderSettings
from flashdepth_vfx.engine.loading import embedded_checkpoint


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).with_name("plate_depth.png")))
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args(argv)
    checkpoint = embedded_checkpoint()
    if checkpoint is None:
        print("error: the embedded model is missing; install the package from a checkout", file=sys.stderr)
        return 1
    shot = render_sequence(SceneConfig(height=252, width=448, num_frames=args.frames, seed=args.seed))
    with tempfile.TemporaryDirectory() as tmp:
        plates = write_plate_sequence(shot, Path(tmp) / "plates", name="shot", first_frame=FIRST_FRAME)
        settings = RenderSettings(plate=plates.replace("%04d", "####"), output=str(Path(tmp) / "shot_depth.####.exr"),
                                  checkpoint=str(checkpoint), view="Un-tone-mapped")
        summary = Render(settings, QuietEvents()).run()
        last = FIRST_FRAME + args.frames - 1
        contact_sheet(shot.rgb[-1:], summary.output, [last], Path(args.out), rows=1)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
