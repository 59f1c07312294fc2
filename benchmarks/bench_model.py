"""Per-frame cost and accuracy of the network's execution paths, measured side by side in one run.

    python benchmarks/bench_model.py                  # CPU acceptance: S at 518x924, every candidate, 8 frames
    python benchmarks/bench_model.py --quick          # the same with 3 frames (a few minutes on 2 cores)
    python benchmarks/bench_model.py --drift          # bf16 against fp32 over 100 frames, S and Full at 252x448
    python benchmarks/bench_model.py --models flashdepth --size 1148x2044 --device cuda --variants fp32,default

The networks are the official architectures with the reference's generated weights (``../shared/reference``,
as the golden tests build them); the frames are the Big Buck Bunny clip of ``../shared/testdata`` resized to the
model size. Each variant streams the same frames with its own temporal state; the variants step in turn, frame by
frame (the order rotating), so machine load hits all of them alike and their ratios are fair on a busy machine.

Variants: ``fp32`` is the engine's path before this benchmark's issue (float32, ``optimize_for_inference``,
eager); ``default`` what ``render`` picks here now (``--precision auto``, the default compile setting); ``bf16``;
``compile`` and ``bf16-compile`` (``torch.compile``, inductor; compile time and the frames after which it pays);
``int8`` (dynamic int8 quantisation of the ViT's linear layers, float32 elsewhere). Per variant: ms per frame,
speed against ``fp32``, and the relative L1 of its output against ``fp32`` (per frame: mean |a - b| / mean |b|;
mean and worst frame).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from flashdepth_vfx.cpu_budget import configure_openmp  # noqa: E402 - before torch is imported, as the CLI does

configure_openmp()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from flashdepth_vfx.engine import RenderSettings  # noqa: E402
from flashdepth_vfx.engine.loading import PRECISIONS, resolve_precision, use_compile_cache  # noqa: E402
from flashdepth_vfx.model import build_model  # noqa: E402
from flashdepth_vfx.model.flashdepth import FlashDepth  # noqa: E402

SHARED = Path(os.environ.get("FLASHDEPTH_SHARED", ROOT.parent / "shared"))
VARIANT_NAMES = ("fp32", "default", "bf16", "compile", "bf16-compile", "int8")
REFERENCE_VARIANT = {"flashdepth-s": "s", "flashdepth-l": "l", "flashdepth": "full"}


@dataclass
class Variant:
    """One way of running the network, and what it measured."""

    name: str
    precision: str
    compile: bool = False
    int8: bool = False
    model: FlashDepth | None = None
    first_s: float = 0.0  # the first frame: lazy initialisation, and compiling
    seconds: list[float] = field(default_factory=list)
    rel_l1: list[float] = field(default_factory=list)

    @property
    def ms(self) -> float:
        """The fastest frame after the first, in ms: other processes only ever add time to a frame."""
        return float(np.min(self.seconds)) * 1e3 if self.seconds else float("nan")


def variants(names: list[str], device: torch.device) -> list[Variant]:
    """The variants asked for; ``default`` is resolved as ``render`` resolves it on this machine."""
    table = {"fp32": Variant("fp32", "fp32"), "bf16": Variant("bf16", "bf16"),
             "compile": Variant("compile", "fp32", compile=True), "bf16-compile": Variant("bf16-compile", "bf16", compile=True),
             "int8": Variant("int8", "fp32", int8=True),
             "default": Variant("default", resolve_precision("auto", device), compile=RenderSettings(plate="-").compile)}
    chosen = [table[n] for n in dict.fromkeys(["fp32", *names])]
    default = table["default"]
    same = [v for v in chosen if v is not default and (v.precision, v.compile, v.int8) == (default.precision, default.compile, False)]
    if default in chosen and same:  # one run stands for both
        default.name = f"default={same[0].name}"
        chosen = [v for v in chosen if v is not same[0]]
    return chosen


def official_weights(name: str) -> dict[str, torch.Tensor] | None:
    """The reference's deterministic generated weights for ``name`` (seed 0), or None without ../shared."""
    script = SHARED / "reference" / "make_weights.py"
    if name not in REFERENCE_VARIANT or not script.is_file():
        return None
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_weights", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    manifest = module.load_manifest(str(SHARED / "reference" / f"manifest_{REFERENCE_VARIANT[name]}.json"))
    return {k: torch.from_numpy(v) for k, v in module.make_state_dict(manifest, 0).items()}


def build(name: str, variant: Variant, weights: dict[str, torch.Tensor] | None, device: torch.device) -> FlashDepth:
    """The network as the engine prepares it (``load_model``'s steps), in the variant's precision and mode."""
    torch.manual_seed(0)
    model = build_model(name)
    if weights is not None:
        model.load_state_dict(weights, strict=True)
    if variant.int8:
        model.pretrained = torch.ao.quantization.quantize_dynamic(  # deprecated for torchao, still in torch
            model.pretrained, {torch.nn.Linear}, dtype=torch.qint8)
    model = model.to(device=device, dtype=PRECISIONS[variant.precision])
    return model.optimize_for_inference(compile=variant.compile)


def clip_frames(count: int, size: tuple[int, int], device: torch.device) -> list[torch.Tensor]:
    """``count`` frames of natural video at ``size`` (RGB in [0, 1]); the clip is looped if it is shorter."""
    def resized(rgb: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))[None].float()
        return F.interpolate(x, size=size, mode="bicubic", align_corners=False).clamp(0, 1).to(device)

    movie = SHARED / "testdata" / "video" / "bigbuckbunny.mp4"
    frames: list[torch.Tensor] = []
    if movie.is_file():
        from flashdepth_vfx.plates.movie import read_movie

        for _, rgb in read_movie(movie):
            frames.append(resized(rgb))
            if len(frames) == count:
                break
    if not frames:  # no shared data: a procedural shot
        from flashdepth_vfx.data import SceneConfig, render_sequence

        frames = [resized(rgb) for rgb in render_sequence(SceneConfig(height=size[0], width=size[1],
                                                                      num_frames=count, seed=1)).rgb]
    return [frames[i % len(frames)] for i in range(count)]


def _timed_step(stream, frame: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, float]:  # noqa: ANN001
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    out = stream.step(frame)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return out, time.perf_counter() - start


def run_model(name: str, size: tuple[int, int], frames: list[torch.Tensor], chosen: list[Variant],
              device: torch.device) -> None:
    """Stream ``frames`` through every variant in turn (frame by frame) and record times and drift."""
    weights = official_weights(name)
    for v in chosen:
        v.model = build(name, v, weights, device)
    del weights
    with torch.inference_mode():
        streams = [v.model.stream() for v in chosen]  # type: ignore[union-attr]
        for i, frame in enumerate(frames):
            order = list(range(len(chosen)))
            order = order[i % len(order):] + order[: i % len(order)]  # rotate: no variant always runs first
            outs: dict[int, torch.Tensor] = {}
            for k in order:
                outs[k], seconds = _timed_step(streams[k], frame, device)
                if i == 0:
                    chosen[k].first_s = seconds
                else:
                    chosen[k].seconds.append(seconds)
            reference = outs[0].float()
            scale = reference.abs().mean().item()
            for k, v in enumerate(chosen):
                v.rel_l1.append((outs[k].float() - reference).abs().mean().item() / scale)


def report(name: str, size: tuple[int, int], chosen: list[Variant]) -> None:
    """One table per model: ms/frame, speed against fp32, drift against fp32, compile cost and break-even."""
    base = chosen[0]
    eager = {v.precision: v.ms for v in chosen if not v.compile and not v.int8}
    n = len(base.seconds)
    print(f"{name} at {size[0]}x{size[1]}: {n} timed frames after 1 warm-up (fastest frame), relative L1 against fp32 "
          f"over {len(base.rel_l1)} frames")
    print(f"  {'variant':<14}{'precision':>10}{'compile':>9}{'ms/frame':>10}{'vs fp32':>9}{'rel L1 mean':>13}"
          f"{'worst':>9}{'1st frame s':>13}{'pays after':>12}")
    for v in chosen:
        pays = ""
        if v.compile:
            saved = eager.get(v.precision, float("nan")) - v.ms
            extra = v.first_s - eager.get(v.precision, float("nan")) / 1e3
            pays = f"{extra / saved * 1e3:.0f} frames" if saved > 0 else "never"
        print(f"  {v.name:<14}{v.precision:>10}{'yes' if v.compile else 'no':>9}{v.ms:>10.0f}{base.ms / v.ms:>8.2f}x"
              f"{np.mean(v.rel_l1):>12.3%}{max(v.rel_l1):>9.3%}{v.first_s:>13.1f}{pays:>12}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="comma-separated: flashdepth-s (default), flashdepth-l, flashdepth")
    parser.add_argument("--size", help="HxW model input, multiples of 14 (default 518x924)")
    parser.add_argument("--frames", type=int, help="timed frames per variant, after one warm-up (default 8)")
    parser.add_argument("--variants", help=f"comma-separated from {', '.join(VARIANT_NAMES)} (default: all; fp32 "
                                            "always runs: it is the reference)")
    parser.add_argument("--quick", action="store_true", help="3 timed frames (the acceptance figures in minutes)")
    parser.add_argument("--drift", action="store_true",
                        help="fp32 and default over 100 frames, S and Full at 252x448 (unless given otherwise)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    drift = {"models": "flashdepth-s,flashdepth", "size": "252x448", "frames": 99, "variants": "default"}
    usual = {"models": "flashdepth-s", "size": "518x924", "frames": 3 if args.quick else 8,
             "variants": ",".join(VARIANT_NAMES)}
    for key, value in (drift if args.drift else usual).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    device = torch.device(args.device)
    size = tuple(map(int, args.size.split("x")))
    assert len(size) == 2
    if any(n not in VARIANT_NAMES for n in args.variants.split(",")):
        parser.error(f"--variants: choose from {', '.join(VARIANT_NAMES)}")
    cache = use_compile_cache()
    state = "holds kernels already: first frames show a warm cache" if cache.is_dir() and any(cache.iterdir()) else "empty"
    print(f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}, default precision "
          f"{resolve_precision('auto', device)}, compile cache {cache} ({state}; set TORCHINDUCTOR_CACHE_DIR to an "
          "empty folder for a cold compile)")
    frames = clip_frames(args.frames + 1, size, device)  # type: ignore[arg-type]
    for name in args.models.split(","):
        chosen = variants(args.variants.split(","), device)
        run_model(name, size, frames, chosen, device)  # type: ignore[arg-type]
        report(name, size, chosen)  # type: ignore[arg-type]
        default = next((v for v in chosen if v.name.startswith("default")), None)
        if default is not None and not args.drift:
            print(f"  default ({default.precision}{', compiled' if default.compile else ', eager'}) against fp32 eager: "
                  f"x{chosen[0].ms / default.ms:.2f} (goal x1.4), relative L1 worst frame {max(default.rel_l1):.3%} "
                  f"(goal <= 2%)")


if __name__ == "__main__":
    main()
