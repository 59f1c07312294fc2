"""End-to-end render speed against the model alone, and memory over a long shot.

    python benchmarks/bench_render.py [--model flashdepth-s] [--size 252x448] [--frames 30] [--long 500]
    python benchmarks/bench_render.py --io [--io-frames 16]   # the I/O path at 2K, before/after (bench_io.py)
    python benchmarks/bench_render.py --io --quick            # its acceptance figure only (render / one-thread copy)

1. Throughput: ``render`` (decode + colour + inference + encode, threaded) frames/s against model-only
   ``stream.step`` frames/s on the same frames, measured in the same run (model-only before and after,
   averaged, to cancel drift). Goal: end-to-end >= 0.95 of model-only. Then ``render --threads 1`` against the
   default (one torch thread per core), for hosts and farm slots that share the machine.
2. Memory: resident set size after 50 and after ``--long`` frames of one render with the tiny model
   (goal: no growth beyond noise). The long shot links a few real EXR files under many frame numbers.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from flashdepth_vfx.cpu_budget import configure_openmp  # noqa: E402

configure_openmp()  # as the CLI does, before torch is imported

import numpy as np  # noqa: E402
import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

from flashdepth_vfx.data import SceneConfig, render_sequence, write_plate_sequence
from flashdepth_vfx.engine import QuietEvents, Render, RenderSettings
from flashdepth_vfx.model import build_model, inference_size, load_checkpoint
from flashdepth_vfx.plates import DisplayConverter, load_config, read_plate


def rss_mb() -> float:
    """Current resident set size of this process."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def checkpoint(folder: Path, name: str) -> Path:
    torch.manual_seed(0)
    path = folder / f"{name}.safetensors"
    save_file({k: v.contiguous() for k, v in build_model(name).state_dict().items()}, str(path))
    return path


def model_only_fps(ckpt: Path, pattern: str, frames: range) -> float:
    """Frames/s of stream.step alone on the frames the render reads (decoded and converted beforehand)."""
    model = load_checkpoint(ckpt).optimize_for_inference()
    convert = DisplayConverter(load_config(), "Linear Rec.709 (sRGB)", view="Un-tone-mapped")
    inputs = []
    for f in frames:
        rgb = convert(read_plate(pattern % f).rgb)
        x = torch.from_numpy(rgb.transpose(2, 0, 1).copy())[None]
        size = inference_size(*x.shape[-2:], min_side=model.cfg.min_side)
        inputs.append(torch.nn.functional.interpolate(x, size=size, mode="bicubic", align_corners=False).clamp(0, 1))
    with torch.inference_mode():
        stream = model.stream()
        stream.step(inputs[0])
        start = time.perf_counter()
        for x in inputs[1:]:
            out = stream.step(x)
            out[0].cpu().numpy()
    return (len(inputs) - 1) / (time.perf_counter() - start)


def render_fps(ckpt: Path, pattern: str, out: Path, threads: int | None = None) -> float:
    class Clock(QuietEvents):
        t1: float | None = None

        def frame(self, frame, index, total, path) -> None:  # noqa: ANN001
            if index == 1:
                self.t1 = time.perf_counter()
            self.last = (index, time.perf_counter())

    clock = Clock()
    settings = RenderSettings(plate=pattern.replace("%04d", "####"), output=str(out / "d.####.exr"),
                              checkpoint=str(ckpt), view="Un-tone-mapped", threads=threads)
    Render(settings, clock).run()
    index, t_last = clock.last
    return (index - 1) / (t_last - clock.t1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="flashdepth-s")
    parser.add_argument("--size", default="252x448")
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--long", type=int, default=500)
    parser.add_argument("--io", action="store_true", help="Only the I/O path at 2K (bench_io.py), before and after.")
    parser.add_argument("--io-frames", type=int, default=16)
    parser.add_argument("--quick", action="store_true", help="with --io: the acceptance figures only, 8 frames")
    parser.add_argument("--threads-check", action="store_true",
                        help="Only the thread budget: model steps with busy-wait / passive OpenMP / one thread, with and without load.")
    args = parser.parse_args()
    if args.io or args.threads_check:
        import bench_io

        if args.io:
            bench_io.main(8 if args.quick else args.io_frames, quick=args.quick)
        if args.threads_check:
            bench_io.thread_budget()
        return
    h, w = map(int, args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shot = render_sequence(SceneConfig(height=h, width=w, num_frames=args.frames, seed=1))
        pattern = write_plate_sequence(shot, root / "plates", first_frame=1)
        ckpt = checkpoint(root, args.model)
        frames = range(1, args.frames + 1)
        before = model_only_fps(ckpt, pattern, frames)
        e2e = render_fps(ckpt, pattern, root / "out")
        after = model_only_fps(ckpt, pattern, frames)
        model_fps = (before + after) / 2
        print(f"throughput ({args.model}, {w}x{h}, {args.frames} frames, {torch.get_num_threads()} threads)")
        print(f"  model only  {model_fps:7.2f} fps  (before {before:.2f}, after {after:.2f})")
        print(f"  end to end  {e2e:7.2f} fps")
        print(f"  ratio       {e2e / model_fps:7.3f}  (goal >= 0.95)")
        one = render_fps(ckpt, pattern, root / "out1", threads=1)
        print(f"  end to end, --threads 1  {one:7.2f} fps  ({one / e2e:.3f} of the default)")

        long_dir = root / "long"
        long_dir.mkdir()
        for f in range(1, args.long + 1):  # a long shot from a few real files
            os.link(pattern % (1 + (f - 1) % min(8, args.frames)), long_dir / f"long.{f:04d}.exr")
        tiny = checkpoint(root, "flashdepth-tiny")
        marks: dict[int, float] = {}

        class Memory(QuietEvents):
            def frame(self, frame, index, total, path) -> None:  # noqa: ANN001
                if index in (50, args.long):
                    marks[index] = rss_mb()

        settings = RenderSettings(plate=str(long_dir / "long.####.exr"), output=str(root / "long_out" / "d.####.exr"),
                                  checkpoint=str(tiny), view="Un-tone-mapped")
        Render(settings, Memory()).run()
        growth = marks[args.long] - marks[50]
        print(f"memory (flashdepth-tiny, {args.long} frames)")
        print(f"  RSS after 50 frames   {marks[50]:8.1f} MB")
        print(f"  RSS after {args.long} frames  {marks[args.long]:8.1f} MB  (growth {growth:+.1f} MB, "
              f"{growth / marks[50]:+.1%})")
        np.testing.assert_array_less(growth, 0.05 * marks[50] + 20, err_msg="memory grew over the shot")


if __name__ == "__main__":
    main()
