"""Per-frame cost of each FlashDepth configuration, and where the time goes.

    python benchmarks/bench_model.py                       # CPU: S at 518x924, L and Full smaller
    python benchmarks/bench_model.py --models flashdepth --size 1148x2044 --device cuda

For every model it streams synthetic frames through (a) the straightforward eager network
(``torch.no_grad``, default memory layout) and (b) the optimised path (``inference_mode``,
channels-last decoder, cached position embeddings, optional ``torch.compile``), in the same run,
and prints latency, frames/s, the speed-up ratio, peak memory and the share of a frame spent in
the backbone, DPT decoder, temporal module and hybrid fusion/teacher.
"""
from __future__ import annotations

import argparse
import copy
import resource
import time
from collections import defaultdict

import torch
from torch.profiler import ProfilerActivity, profile

from flashdepth_vfx.model import build_model

DEFAULT_SIZES = {"flashdepth-s": (518, 924), "flashdepth-l": (252, 448), "flashdepth": (518, 924)}
SECTIONS = ("backbone", "teacher", "fusion", "temporal", "dpt")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_interleaved(eager, fast, frames: list[torch.Tensor], device: torch.device) -> tuple[float, float]:
    """Mean seconds per frame of the eager and the optimised model, stepping them alternately.

    Alternating frame by frame exposes both to the same machine noise, so their ratio is fair.
    """
    runs = [(eager, torch.no_grad), (fast, torch.inference_mode)]
    streams = []
    for model, ctx in runs:
        with ctx():
            streams.append(model.stream())
            streams[-1].step(frames[0])  # warm-up (and torch.compile, if asked)
    spent = [0.0, 0.0]
    for f in frames[1:]:
        for i, (_, ctx) in enumerate(runs):
            with ctx():
                _sync(device)
                start = time.perf_counter()
                streams[i].step(f)
                _sync(device)
                spent[i] += time.perf_counter() - start
    n = len(frames) - 1
    return spent[0] / n, spent[1] / n


def section_shares(model, frame: torch.Tensor) -> dict[str, float]:
    """Share of one frame's wall time in each labelled section (the temporal module is nested in dpt)."""
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if frame.is_cuda else [])
    with torch.inference_mode():
        stream = model.stream()
        stream.step(frame)
        with profile(activities=activities) as prof:
            stream.step(frame)
    totals: dict[str, float] = defaultdict(float)
    for evt in prof.key_averages():
        if evt.key.startswith("flashdepth."):
            totals[evt.key.split(".", 1)[1]] += evt.cpu_time_total
    totals["dpt"] -= totals.get("temporal", 0.0)
    whole = sum(totals.values()) or 1.0
    return {k: totals.get(k, 0.0) / whole for k in SECTIONS}


def peak_memory_mb(device: torch.device) -> float:
    """Peak GPU memory allocated, or the process's peak resident set size on CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="flashdepth-s,flashdepth-l,flashdepth")
    parser.add_argument("--size", help="HxW for every model (default: per model, see DEFAULT_SIZES)")
    parser.add_argument("--frames", type=int, default=4, help="timed frames per run (after one warm-up)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    parser.add_argument("--compile", action="store_true", help="also torch.compile the optimised model")
    args = parser.parse_args()
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype)
    torch.manual_seed(0)
    print(f"device {device}, dtype {args.dtype}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    header = f"{'model':<14}{'size':>10}{'eager ms':>10}{'opt ms':>9}{'opt fps':>9}{'speed-up':>9}{'peak MB':>9}  " + "  ".join(
        f"{s:>8}" for s in SECTIONS
    )
    print(header)
    for name in args.models.split(","):
        h, w = map(int, args.size.split("x")) if args.size else DEFAULT_SIZES[name]
        model = build_model(name, device=device, dtype=dtype)
        frames = [torch.rand(1, 3, h, w, device=device) for _ in range(args.frames + 1)]
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        fast_model = copy.deepcopy(model).optimize_for_inference(compile=args.compile)
        eager, fast = time_interleaved(model, fast_model, frames, device)
        shares = section_shares(fast_model, frames[0])
        print(
            f"{name:<14}{f'{h}x{w}':>10}{eager * 1e3:>10.0f}{fast * 1e3:>9.0f}{1 / fast:>9.2f}{eager / fast:>9.2f}"
            f"{peak_memory_mb(device):>9.0f}  " + "  ".join(f"{shares[s]:>8.1%}" for s in SECTIONS)
        )
        del model, fast_model, frames


if __name__ == "__main__":
    main()
