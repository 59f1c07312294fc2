"""The prepared GPU check: correctness and speed of the CUDA path in one run (driven by gpu_check.sh).

Steps, each with its own time limit; the JSON report is rewritten after every step, so a run cut short still
says what it measured, what failed and what never ran:

  environment  torch / CUDA / GPU / optional libraries (mamba-ssm, OpenImageIO, OpenColorIO)
  cuda_tests   tests/test_model_cuda.py: golden cases at fp32 with TF32 off (<= 1e-4), bf16 within relative
               L1 2e-2, graphed vs eager with a reset, bf16 vs fp32 drift over 100 frames, fused vs pure scan
  timings      per-frame model time (CUDA events) of Full at 2044x1148 and S / L at 518x924, in fp32+TF32,
               bf16 eager, bf16 graphed (and Full with the teacher on its own stream)
  attention    scaled-dot-product-attention backends (flash, efficient, cuDNN, math) on Full at 2K, bf16
  uploads      host -> device of a 2K half RGB plate and device -> host of float32 depth, pinned vs pageable
  colour       the device colour converter against OpenColorIO's exact CPU processor: a synthetic 2K ACEScg frame
               and the real test plate, TF32 off and on (mean / 99.9th percentile / max error, ms per frame)
  render_2k    end-to-end render of 96 half-float ACEScg EXR plates of 2044x1148 (the model input: no resize), with
               the default I/O settings: fps_steady from per-frame timestamps (frame 10 to the last), load_seconds
               apart; eager bf16, CUDA graphs, and torch.compile + graphs when the step has time left

``--tiny --device cpu`` runs every step on tiny models and small frames (the CUDA-only parts report
"skipped" with the reason): CI runs it so the script never rots. ``--prepare`` (run where ../shared and a
package index exist) puts what the GPU machine lacks into benchmarks/gpu_check_data/ (git-ignored): the golden
reference data, the test plate, the OpenImageIO and OpenColorIO wheels for CPython 3.12 (gpu_check.sh installs
them into a throwaway folder), pure-Python test dependencies, and the commit it was prepared from.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib
import importlib.util
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "gpu_check_data"
VENDORED = ("einops", "pytest", "_pytest", "pluggy", "iniconfig", "packaging", "pytest_timeout", "py")
"""Pure-Python packages --prepare copies for a GPU machine that lacks them (gpu_check.sh adds only the missing)."""

WHEELS = ("OpenImageIO==3.2.2.0", "opencolorio==2.6.0")
"""Wheels --prepare downloads for the GPU machine (CPython 3.12, manylinux x86_64): the versions tested here."""
TEST_PLATE = Path("testdata") / "exr" / "basic" / "Carrots.exr"
"""The real ACEScg test plate of the colour step (under ../shared, or the copy --prepare makes)."""

FULL_SIZES = {"flashdepth": (1148, 2044), "flashdepth-s": (518, 924), "flashdepth-l": (518, 924)}
TINY_SIZES = {"flashdepth-tiny-hybrid": (70, 112), "flashdepth-tiny": (70, 112)}
RENDER_2K = ("flashdepth", (1148, 2044), 96)
"""Model, plate size (2044x1148: the model input as is, no resize) and frames of the end-to-end render."""
RENDER_TINY = ("flashdepth-tiny", (126, 224), 14)
STEADY_FROM = 10
"""fps_steady counts from this frame (index) to the last: model load, capture and warm-up are before it."""
STEP_LIMITS = {"environment": 15, "cuda_tests": 95, "timings": 95, "attention": 35, "uploads": 10, "colour": 30,
               "render_2k": 120}
"""Seconds per step on a GPU (sum 400 s: gpu_check.sh stops the whole run at 420 s)."""


class Skip(Exception):
    """A step that cannot run here; the message says why."""


class StepTimeout(Exception):
    """A step ran past its limit."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise StepTimeout in the main thread after ``seconds`` (checked between Python bytecodes)."""

    def expire(_signum: int, _frame: Any) -> None:
        raise StepTimeout(f"ran past its {seconds:.0f} s limit")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def seconds_left(args: argparse.Namespace) -> float:
    """What is left of the running step's limit."""
    return args.deadline - time.monotonic()


class Report:
    """The JSON report, rewritten (atomically) after every step."""

    def __init__(self, path: Path, args: argparse.Namespace, steps: list[str]) -> None:
        self.path = path
        self.data: dict[str, Any] = {
            "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "finished": None,
            "mode": "tiny" if args.tiny else "full",
            "device": args.device,
            "steps": {name: {"status": "pending"} for name in steps},
            "skipped": [],
        }
        self.write()

    def record(self, name: str, entry: dict[str, Any]) -> None:
        self.data["steps"][name] = entry
        if entry["status"] == "skipped":
            self.data["skipped"].append(f"{name}: {entry['reason']}")
        self.write()

    def finish(self) -> None:
        self.data["finished"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        self.write()

    def write(self) -> None:
        """Rewrite the report, and its copy under $OUT (what a device machine hands back, also from a cut run)."""
        text = json.dumps(self.data, indent=2, default=str) + "\n"
        copy_to = os.environ.get("OUT")
        for path in [self.path] + ([Path(copy_to) / self.path.name] if copy_to and Path(copy_to).is_dir() else []):
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(text)
            tmp.replace(path)


# ----------------------------------------------------------------------------------------------- helpers
def is_cuda(args: argparse.Namespace) -> bool:
    return args.device.startswith("cuda")


def require_cuda(args: argparse.Namespace, what: str) -> None:
    if not is_cuda(args):
        raise Skip(f"{what} needs CUDA; this run is on {args.device}")


def sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_frames(step: Callable[[int], Any], frames: int, warmup: int, device: str) -> dict[str, Any]:
    """Per-call milliseconds of ``step(i)``: CUDA events around each call on a GPU, wall clock on CPU."""
    import torch

    for i in range(warmup):
        step(i)
    sync(device)
    times = []
    if device.startswith("cuda"):
        events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(frames)]
        for i, (start, end) in enumerate(events):
            start.record()
            step(warmup + i)
            end.record()
        torch.cuda.synchronize()
        times = [start.elapsed_time(end) for start, end in events]
    else:
        for i in range(frames):
            t0 = time.perf_counter()
            step(warmup + i)
            times.append((time.perf_counter() - t0) * 1e3)
    ordered = sorted(times)
    median = statistics.median(times)
    return {"median_ms": round(median, 3), "p90_ms": round(ordered[math.ceil(0.9 * len(ordered)) - 1], 3),
            "fps": round(1e3 / median, 2), "frames": frames}


def synthetic_frames(n: int, h: int, w: int, device: str) -> list[Any]:
    import torch

    g = torch.Generator().manual_seed(0)
    base = torch.rand(1, 3, h, w, generator=g)
    return [(base.roll(4 * i, dims=-1) * 0.9 + 0.05).to(device) for i in range(n)]


# ------------------------------------------------------------------------------------------------- steps
def step_environment(args: argparse.Namespace, result: dict[str, Any]) -> None:
    import torch

    from flashdepth_vfx.model import mamba2

    info = result
    info.update({
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "cuda_available": torch.cuda.is_available(),
        "cpu_count": os.cpu_count(),
        "mamba_ssm_fused_scan": mamba2.fused_scan_available(),
        "reference_data": str(reference_dir() or "missing"),
    })
    for module in ("numpy", "triton", "mamba_ssm", "OpenImageIO", "PyOpenColorIO", "safetensors", "einops", "pytest"):
        try:
            info[module] = getattr(importlib.import_module(module), "__version__", "present")
        except Exception as exc:  # noqa: BLE001 - a missing or broken optional library is a finding
            info[module] = f"missing ({type(exc).__name__})"
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info.update(gpu=props.name, capability=f"{props.major}.{props.minor}", gpu_memory_gib=round(props.total_memory / 2**30, 1),
                    cudnn=torch.backends.cudnn.version(), bf16_supported=torch.cuda.is_bf16_supported())
    if shutil.which("nvidia-smi"):
        smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,clocks.max.sm,power.limit",
                              "--format=csv,noheader"], capture_output=True, text=True, timeout=10)
        info["nvidia_smi"] = smi.stdout.strip() or smi.stderr.strip()
    git = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10) \
        if shutil.which("git") else None
    prepared = DATA / "commit.txt"
    info["commit"] = git.stdout.strip() if git is not None and git.returncode == 0 else \
        (f"{prepared.read_text().strip()} (recorded by --prepare)" if prepared.is_file() else "unknown (no git checkout)")
    if is_cuda(args) and not torch.cuda.is_available():
        raise RuntimeError(f"--device {args.device} but torch sees no CUDA device")


def reference_dir() -> Path | None:
    """../shared/reference here, or the copy --prepare made (gpu_check.sh points FLASHDEPTH_SHARED at it)."""
    shared = Path(os.environ.get("FLASHDEPTH_SHARED", ROOT.parent / "shared"))
    return shared / "reference" if (shared / "reference" / "golden").is_dir() else None


def missing_data(args: argparse.Namespace, what: str) -> None:
    """On CUDA, data --prepare should have carried is an error (the check exists for that machine); else a skip."""
    message = (f"{what}: run `benchmarks/gpu_check.sh --prepare` where ../shared exists and carry "
               f"{DATA.relative_to(ROOT)} to this machine")
    if is_cuda(args):
        print(f"gpu_check: ERROR: {message}", file=sys.stderr, flush=True)
        raise RuntimeError(message)
    raise Skip(message)


def step_cuda_tests(args: argparse.Namespace, result: dict[str, Any]) -> None:
    if reference_dir() is None:
        missing_data(args, "no golden reference data")
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "results.jsonl"
        quiet_plugins = ["-p", "no:cacheprovider", "-p", "no:pytestqt", "-p", "no:hypothesispytest"]  # not needed here
        cmd = [sys.executable, "-m", "pytest", "-q", *quiet_plugins, "-p", "gpu_check_pytest", "-rs",
               "tests/test_model_cuda.py", "tests/test_model_stream.py::test_cuda_stream_matches_cpu"]
        # the tests still to start when the step's time is nearly up are skipped, so pytest ends (and every
        # finished test's outcome is in results.jsonl, written as each ends) before the step is cut
        budget = seconds_left(args)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), str(ROOT / "benchmarks"),
                                                                        os.environ.get("PYTHONPATH")])),
               "GPU_CHECK_RESULTS": str(results), "GPU_CHECK_DEADLINE": str(time.time() + budget - 20)}
        run = None
        try:
            run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=max(5.0, budget - 3))
        except subprocess.TimeoutExpired as exc:
            result["output_tail"] = str(exc.stdout or "")[-2000:]
        tests = [json.loads(line) for line in results.read_text().splitlines()] if results.is_file() else []
    counts = {k: sum(t["outcome"] == k for t in tests) for k in ("passed", "failed", "skipped")}
    result.update({**counts, "tests": tests})
    if run is None:
        raise StepTimeout(f"pytest ran past the step's limit; {len(tests)} finished tests kept")
    result.update({"returncode": run.returncode, "output_tail": run.stdout[-3000:] + run.stderr[-1000:]})
    if counts["failed"] or run.returncode not in (0, 5) and not (counts["passed"] + counts["skipped"]):
        raise RuntimeError(f"{counts['failed']} CUDA tests failed (pytest exit {run.returncode})")
    if not counts["passed"]:
        reasons = sorted({t.get("reason", "") for t in tests if t["outcome"] == "skipped"})
        raise Skip(f"all {counts['skipped']} CUDA tests skipped: {'; '.join(reasons)[:300]}")


def step_timings(args: argparse.Namespace, result: dict[str, Any]) -> None:
    import torch

    from flashdepth_vfx.engine.tuning import render_tuning, tf32
    from flashdepth_vfx.model import GraphedDepthStream, build_model

    sizes = TINY_SIZES if args.tiny else FULL_SIZES
    frames_timed, warmup = (2, 1) if args.tiny else (20, 3)
    results = result
    for name, (h, w) in sizes.items():
        frames = synthetic_frames(4, h, w, args.device)
        torch.manual_seed(0)
        model = build_model(name, device=args.device).optimize_for_inference()
        entry: dict[str, Any] = results.setdefault(name, {"size": f"{w}x{h}", "input": f"{w}x{h} model input"})
        modes: list[tuple[str, torch.dtype, bool, bool]] = [("fp32_tf32_eager", torch.float32, False, False),
                                                            ("bf16_eager", torch.bfloat16, False, False),
                                                            ("bf16_graphed", torch.bfloat16, True, False)]
        if not is_cuda(args):  # CPU bf16 kernels are slow and say nothing about a GPU: the code paths in fp32
            modes = [("fp32_eager", torch.float32, False, False), ("fp32_graphed", torch.float32, True, False)]
        if model.cfg.hybrid and is_cuda(args):
            modes += [("bf16_eager_teacher_stream", torch.bfloat16, False, True),
                      ("bf16_graphed_teacher_stream", torch.bfloat16, True, True)]
        for label, dtype, graphed, side in modes:
            stream = None
            if model.pretrained.cls_token.dtype != dtype:
                model.to(dtype)
            model.teacher_on_side_stream = side
            if is_cuda(args):
                torch.cuda.reset_peak_memory_stats()
            try:
                # TF32 in the fp32 mode only (the paper's setting), put back after; cuDNN tunes for the fixed size
                with torch.inference_mode(), tf32(dtype == torch.float32), render_tuning(torch.device(args.device)):
                    stream = GraphedDepthStream(model) if graphed else model.stream()
                    timing = time_frames(lambda i: stream.step(frames[i % len(frames)]), frames_timed, warmup, args.device)
                if is_cuda(args):
                    timing["peak_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
                if graphed and not is_cuda(args):
                    timing["note"] = "eager runner (no CUDA graphs off CUDA)"
                entry[label] = timing
            except StepTimeout:
                raise
            except Exception as exc:  # noqa: BLE001 - one failing mode must not hide the others
                entry[label] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
            finally:
                model.teacher_on_side_stream = False
            del stream
        fp32, bf16 = entry.get("fp32_tf32_eager", {}), entry.get("bf16_eager", {})
        if "median_ms" in fp32 and "median_ms" in bf16:
            entry["bf16_speedup"] = round(fp32["median_ms"] / bf16["median_ms"], 2)
        if "median_ms" in bf16 and "median_ms" in entry.get("bf16_graphed", {}):
            entry["graphs_speedup"] = round(bf16["median_ms"] / entry["bf16_graphed"]["median_ms"], 2)
        del model
        if is_cuda(args):
            torch.cuda.empty_cache()


def step_attention(args: argparse.Namespace, result: dict[str, Any]) -> None:
    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel

    from flashdepth_vfx.engine.tuning import ATTENTION_BACKENDS
    from flashdepth_vfx.model import build_model

    name, (h, w) = ("flashdepth-tiny", TINY_SIZES["flashdepth-tiny"]) if args.tiny else ("flashdepth", FULL_SIZES["flashdepth"])
    dtype = torch.bfloat16 if is_cuda(args) else torch.float32
    torch.manual_seed(0)
    model = build_model(name, device=args.device, dtype=dtype).optimize_for_inference()
    frames = synthetic_frames(2, h, w, args.device)
    backends: dict[str, Any] = {"default": None}  # torch's own choice
    for label in ATTENTION_BACKENDS.values():
        if hasattr(SDPBackend, label):
            backends[label.lower()] = getattr(SDPBackend, label)
    results = result
    results.update({"model": name, "size": f"{w}x{h}", "dtype": str(dtype).replace("torch.", "")})
    frames_timed = 1 if args.tiny else 8
    for label, chosen in backends.items():
        try:
            with torch.inference_mode(), sdpa_kernel(chosen) if chosen is not None else contextlib.nullcontext():
                stream = model.stream()
                results[label] = time_frames(lambda i: stream.step(frames[i % 2]), frames_timed, 1, args.device)
        except StepTimeout:
            raise
        except Exception as exc:  # noqa: BLE001 - an unsupported backend is a result
            results[label] = {"unsupported": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]}
    timed = {k: v["median_ms"] for k, v in results.items() if isinstance(v, dict) and "median_ms" in v}
    results["fastest"] = min(timed, key=timed.__getitem__) if timed else None
    setting = {torch_name.lower(): option for option, torch_name in ATTENTION_BACKENDS.items()}
    results["render_option"] = f"--attention {setting.get(results['fastest'] or '', 'auto')}"


def step_uploads(args: argparse.Namespace, result: dict[str, Any]) -> None:
    require_cuda(args, "pinned vs pageable transfers")
    import torch

    plate = torch.rand(3, 1148, 2044).half()  # a half RGB plate of 2044x1148 (the render's size), as uploaded
    depth = torch.empty(1148, 2044, device="cuda")
    results = result
    results["size"] = "2044x1148"
    for label, host in (("pageable", plate), ("pinned", plate.pin_memory())):
        results[f"upload_{label}"] = time_frames(lambda i: host.to("cuda", non_blocking=True), 20, 3, args.device)
        results[f"upload_{label}"]["gb_per_s"] = round(plate.numel() * 2 / results[f"upload_{label}"]["median_ms"] / 1e6, 2)
    for label, host in (("pageable", torch.empty(1148, 2044)), ("pinned", torch.empty(1148, 2044).pin_memory())):
        results[f"download_{label}"] = time_frames(lambda i: host.copy_(depth, non_blocking=True), 20, 3, args.device)
        results[f"download_{label}"]["gb_per_s"] = round(depth.numel() * 4 / results[f"download_{label}"]["median_ms"] / 1e6, 2)


def colour_plate() -> Path | None:
    """The real ACEScg test plate: ../shared's, else the copy --prepare carried."""
    for shared in (Path(os.environ.get("FLASHDEPTH_SHARED", ROOT.parent / "shared")), DATA / "shared"):
        if (shared / TEST_PLATE).is_file():
            return shared / TEST_PLATE
    return None


def synthetic_acescg(h: int, w: int) -> Any:
    """A 2K-style ACEScg frame in numpy: exposure from 2^-8 to 2^4 left to right, every hue top to bottom,
    saturated corners (where a baked LUT is worst) and a little negative, out-of-gamut light."""
    import numpy as np

    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    exposure = 2.0 ** (x / w * 12.0 - 8.0)
    hue = (y / h * 2.0 * np.pi)[..., None] + np.array([0.0, 2.094, 4.189], np.float32)
    rgb = exposure[..., None] * (1.0 + 0.95 * np.cos(hue)) / 1.95
    rgb[: h // 8, : w // 8] = [4.0, 0.02, 0.01]
    rgb[-h // 8:, -w // 8:] = [-0.02, 0.3, 2.0]
    return np.ascontiguousarray(rgb, dtype=np.float32)


def step_colour(args: argparse.Namespace, result: dict[str, Any]) -> None:
    """Device converter vs OCIO's exact CPU processor (what --exact-colour uses), as the render uploads plates:
    half floats on the device, converted there; ms_per_frame timed by CUDA events (wall clock on a CPU)."""
    import numpy as np
    import torch

    from flashdepth_vfx.engine.device_colour import DeviceDisplayConverter
    from flashdepth_vfx.engine.tuning import tf32
    from flashdepth_vfx.plates import DisplayConverter, load_config, read_plate

    config = load_config(None)
    h, w = (144, 256) if args.tiny else RENDER_2K[1]
    inputs = {f"synthetic_acescg_{w}x{h}": synthetic_acescg(h, w)}
    plate = colour_plate()
    if plate is not None:
        inputs[f"plate_{plate.name}"] = read_plate(plate).rgb
    device = torch.device(args.device)
    converter = DeviceDisplayConverter(config, "ACEScg", device=device)
    exact = DisplayConverter(config, "ACEScg", exact=True)
    result.update({"view": f"{converter.display} / {converter.view}", "exact_formulas": converter.exact,
                   "reference": "OpenColorIO exact CPU processor (--exact-colour)"})
    for label, rgb in inputs.items():
        want = exact(rgb.astype(np.float16).astype(np.float32))  # the plate as the device gets it: half floats
        on_device = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))).half()[None].to(device)
        entry: dict[str, Any] = {"size": f"{rgb.shape[1]}x{rgb.shape[0]}"}
        for mode in ("tf32_off", "tf32_on"):
            with torch.inference_mode(), tf32(mode == "tf32_on"):
                got = converter(on_device)[0].permute(1, 2, 0).float().cpu().numpy()
                timing = time_frames(lambda i: converter(on_device), 2 if args.tiny else 20, 1, args.device)
            error = np.abs(got - want)
            entry[mode] = {"mean_abs_error": float(error.mean()), "p999_abs_error": float(np.quantile(error, 0.999)),
                           "max_abs_error": float(error.max()), "ms_per_frame": timing["median_ms"]}
        result[label] = entry
    first = result[next(iter(inputs))]["tf32_off"]
    result.update({k: first[k] for k in ("mean_abs_error", "p999_abs_error", "max_abs_error", "ms_per_frame")})
    result["summary_of"] = f"{next(iter(inputs))}, TF32 off"
    if plate is None:  # the synthetic frame's numbers are kept; on CUDA the missing plate still fails the step
        result["plate"] = f"missing: {TEST_PLATE}"
        if is_cuda(args):
            missing_data(args, f"no test plate ({TEST_PLATE})")


def frame_clock() -> Any:
    """Render events that keep a timestamp per written frame (the render's own clock: perf_counter)."""
    from flashdepth_vfx.engine import QuietEvents

    class FrameClock(QuietEvents):
        def __init__(self) -> None:
            self.started: float | None = None
            self.frames: list[float] = []
            self.warnings: list[str] = []

        def start(self, *_args: Any) -> None:
            self.started = time.perf_counter()

        def frame(self, *_args: Any) -> None:
            self.frames.append(time.perf_counter())

        def warning(self, message: str, frame: int | None = None) -> None:
            self.warnings.append(message)

    return FrameClock()


def steady(clock: Any, t0: float) -> dict[str, Any]:
    """fps_steady (frame STEADY_FROM to the last), load_seconds (until the render starts streaming), the first
    frame's latency after that (capture, colour LUT bake, cuDNN tuning), and the overall rate."""
    stamps = clock.frames
    if clock.started is None or len(stamps) < STEADY_FROM + 2:
        raise RuntimeError(f"{len(stamps)} frames written: too few to measure from frame {STEADY_FROM}")
    gaps = sorted(b - a for a, b in zip(stamps[STEADY_FROM:], stamps[STEADY_FROM + 1:]))
    return {"fps_steady": round((len(stamps) - 1 - STEADY_FROM) / (stamps[-1] - stamps[STEADY_FROM]), 2),
            "load_seconds": round(clock.started - t0, 2), "first_frame_seconds": round(stamps[0] - clock.started, 2),
            "fps_overall": round(len(stamps) / (stamps[-1] - t0), 2), "frames": len(stamps),
            "frame_ms_p90": round(1e3 * gaps[math.ceil(0.9 * len(gaps)) - 1], 2)}


def write_plates(folder: Path, h: int, w: int, count: int) -> float:
    """``count`` half-float ACEScg EXR plates (ZIP, as plates come), written by a few threads; seconds taken."""
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    import OpenImageIO as oiio

    base = synthetic_acescg(h, w) * 0.5

    def write(f: int) -> None:
        path = str(folder / f"plate.{1001 + f:04d}.exr")
        spec = oiio.ImageSpec(w, h, 3, oiio.HALF)
        spec.attribute("compression", "zip")
        spec.attribute("oiio:ColorSpace", "ACEScg")
        out = oiio.ImageOutput.create(path)
        if out is None or not out.open(path, spec):
            raise RuntimeError(f"cannot write EXR plates: {oiio.geterror()}")
        out.write_image(np.roll(base, 8 * f, axis=1))
        out.close()

    t0 = time.perf_counter()
    with ThreadPoolExecutor(min(8, os.cpu_count() or 1)) as pool:
        list(pool.map(write, range(count)))
    return time.perf_counter() - t0


def step_render_2k(args: argparse.Namespace, result: dict[str, Any]) -> None:
    missing = [m for m in ("OpenImageIO", "PyOpenColorIO", "safetensors") if importlib.util.find_spec(m) is None]
    if missing:
        missing_data(args, f"end-to-end render needs {', '.join(missing)} (the wheels --prepare downloads)")
    import torch
    from safetensors.torch import save_file

    from flashdepth_vfx.engine import Render, RenderSettings
    from flashdepth_vfx.engine.pools import default_io_workers
    from flashdepth_vfx.model import build_model

    name, (h, w), count = RENDER_TINY if args.tiny else RENDER_2K
    cuda = is_cuda(args)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        torch.manual_seed(0)
        ckpt = folder / f"{name}.safetensors"
        weights = build_model(name, device=args.device).state_dict()  # random init is quicker on the GPU
        save_file({k: v.detach().contiguous().cpu() for k, v in weights.items()}, str(ckpt))
        del weights
        written = write_plates(folder, h, w, count)
        result.update({"model": name, "plates": f"{count} half ACEScg EXR (zip) of {w}x{h}",
                       "model_input": f"{w}x{h} (the plate size: no resize)", "plate_write_seconds": round(written, 2),
                       "io_workers_per_stage": default_io_workers(feeding_device=cuda),
                       "steady_from_frame": STEADY_FROM})
        modes = [("eager_bf16", False, False), ("cuda_graphs_bf16", True, False), ("compile_cuda_graphs_bf16", True, True)]
        if not cuda:
            modes = [("eager_fp32", False, False)]
            result["cuda_graphs"] = "skipped: needs CUDA"
        for label, graphs, compile in modes:
            if compile and seconds_left(args) < 75:
                result[label] = {"skipped": f"{seconds_left(args):.0f} s left in the step; torch.compile needs more"}
                continue
            settings = RenderSettings(plate=str(folder / "plate.####.exr"), checkpoint=str(ckpt), device=args.device,
                                      output=str(folder / label / "depth.####.exr"), cuda_graphs=graphs if cuda else None,
                                      compile=compile)
            clock = frame_clock()
            t0 = time.perf_counter()
            try:
                summary = Render(settings, clock).run()
                if len(summary.written) != count:
                    raise RuntimeError(f"render wrote {len(summary.written)} of {count} frames")
                result[label] = {**steady(clock, t0), "warnings": clock.warnings}
                fastest = max((k for k, v in result.items() if isinstance(v, dict) and "fps_steady" in v),
                              key=lambda k: result[k]["fps_steady"])  # kept current: a cut step still reports it
                result.update(fps_steady=result[fastest]["fps_steady"], load_seconds=result[fastest]["load_seconds"],
                              fastest=fastest)
            except StepTimeout:
                raise
            except Exception as exc:  # noqa: BLE001 - one failing mode must not hide the others
                result[label] = {"error": f"{type(exc).__name__}: {exc}"[:500], "warnings": clock.warnings}
            if cuda:
                torch.cuda.empty_cache()
        if "fps_steady" not in result:
            raise RuntimeError("no render mode finished: " + "; ".join(
                f"{k}: {v['error']}" for k, v in result.items() if isinstance(v, dict) and "error" in v))


STEPS: dict[str, Callable[[argparse.Namespace, dict[str, Any]], None]] = {
    # each step fills the dict it is given as it goes: a step cut by its limit still reports what it measured
    "environment": step_environment,
    "cuda_tests": step_cuda_tests,
    "timings": step_timings,
    "attention": step_attention,
    "uploads": step_uploads,
    "colour": step_colour,
    "render_2k": step_render_2k,
}


def timings_table(report: dict[str, Any]) -> str:
    """The timings step as a Markdown table (for docs/performance.md), with the GPU and the run's date."""
    env = report["steps"].get("environment", {}).get("result", {})
    rows = ["| model | size | mode | median ms | p90 ms | frames/s | peak GiB |", "|---|---|---|---|---|---|---|"]
    for model, entry in report["steps"].get("timings", {}).get("result", {}).items():
        if not isinstance(entry, dict) or "size" not in entry:
            continue
        for mode, timing in entry.items():
            if isinstance(timing, dict):
                cells = [str(timing.get(k, timing.get("error", "")))[:60] for k in ("median_ms", "p90_ms", "fps")]
                rows.append(f"| {model} | {entry['size']} | {mode} | " + " | ".join(cells) + f" | {timing.get('peak_gib', '')} |")
    render = report["steps"].get("render_2k", {}).get("result", {})
    renders = [f"| {mode} | {r['fps_steady']} | {r['frame_ms_p90']} | {r['load_seconds']} | {r['first_frame_seconds']} |"
               for mode, r in render.items() if isinstance(r, dict) and "fps_steady" in r]
    if renders:
        rows += ["", f"End to end ({render.get('plates')}, model input {render.get('model_input')}):", "",
                 "| render | fps_steady | p90 frame ms | load s | first frame s |", "|---|---|---|---|---|", *renders]
    colour = report["steps"].get("colour", {}).get("result", {})
    colours = [f"| {label} | {mode} | {m['mean_abs_error']:.2e} | {m['p999_abs_error']:.2e} | {m['max_abs_error']:.2e} | "
               f"{m['ms_per_frame']} |" for label, entry in colour.items() if isinstance(entry, dict)
               for mode, m in entry.items() if isinstance(m, dict)]
    if colours:
        rows += ["", f"Device colour vs OpenColorIO exact ({colour.get('view')}):", "",
                 "| input | TF32 | mean abs | p99.9 abs | max abs | ms/frame |", "|---|---|---|---|---|---|", *colours]
    where = f"{env.get('gpu', report['device'])}, torch {env.get('torch', '?')}, {report['started'][:10]}"
    return f"Measured by benchmarks/gpu_check.sh on {where}:\n\n" + "\n".join(rows) + "\n"


# ---------------------------------------------------------------------------------------------- prepare
def prepare() -> None:
    """Put what the GPU machine lacks into benchmarks/gpu_check_data: the golden reference data, the colour step's
    test plate, the OpenImageIO / OpenColorIO wheels, the pure-Python test dependencies, and this commit."""
    shared = Path(os.environ.get("FLASHDEPTH_SHARED", ROOT.parent / "shared"))
    source = shared / "reference"
    if not (source / "golden").is_dir():
        sys.exit(f"gpu_check --prepare: no reference data at {source}")
    if not (shared / TEST_PLATE).is_file():
        sys.exit(f"gpu_check --prepare: no test plate at {shared / TEST_PLATE}")
    target = DATA / "shared" / "reference"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)
    (DATA / "shared" / TEST_PLATE).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(shared / TEST_PLATE, DATA / "shared" / TEST_PLATE)
    site = DATA / "site"
    if site.exists():
        shutil.rmtree(site)
    site.mkdir(parents=True)
    copied = []
    for name in VENDORED:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin in (None, "built-in", "frozen") and not spec.submodule_search_locations:
            continue
        if spec.submodule_search_locations:
            shutil.copytree(next(iter(spec.submodule_search_locations)), site / name,
                            ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(str(spec.origin), site / Path(str(spec.origin)).name)
        copied.append(name)
    wheels = download_wheels(DATA / "wheels")
    git = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True)
    commit = git.stdout.strip() if git.returncode == 0 else "unknown"
    (DATA / "commit.txt").write_text(commit + (" with uncommitted changes" if dirty.stdout.strip() else "") + "\n")
    size = sum(p.stat().st_size for p in DATA.rglob("*") if p.is_file()) / 2**20
    print(f"gpu_check --prepare: reference data, test plate, {', '.join(w.name for w in wheels)}, {', '.join(copied)} "
          f"and commit {commit[:12]} in {DATA.relative_to(ROOT)} ({size:.1f} MiB); carry it to the GPU machine "
          f"(e.g. run(..., carry=['{DATA.relative_to(ROOT)}']))")


def download_wheels(folder: Path) -> list[Path]:
    """The OpenImageIO and OpenColorIO wheels for CPython 3.12 manylinux x86_64 (the GPU machine), from the package
    index through pip; wheels already there are kept."""
    folder.mkdir(parents=True, exist_ok=True)
    platforms = ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"]
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", "--python-version",
           "3.12", "--implementation", "cp", *(f"--platform={p}" for p in platforms), "--dest", str(folder), *WHEELS]
    run = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(folder.glob("*-cp312-*.whl"))
    if run.returncode != 0 or len(wheels) < len(WHEELS):
        sys.exit(f"gpu_check --prepare: could not download {', '.join(WHEELS)} for CPython 3.12: "
                 f"{(run.stderr.strip().splitlines() or ['pip failed'])[-1]}")
    return wheels


# ------------------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prepare", action="store_true", help="copy reference data and test dependencies, then exit")
    parser.add_argument("--tiny", action="store_true", help="tiny models and small frames (CI)")
    parser.add_argument("--device", default=None, help="cuda (default when available) or cpu")
    parser.add_argument("--out", help="JSON report (default: benchmarks/results/gpu_check-<device>-<time>.json)")
    parser.add_argument("--steps", default=",".join(STEPS), help="comma-separated subset of: " + ", ".join(STEPS))
    args = parser.parse_args(argv)
    if args.prepare:
        prepare()
        return 0
    import torch

    args.device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    args.limits = {k: (v if not args.tiny else max(v, 150)) for k, v in STEP_LIMITS.items()}  # a busy CI machine
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / f"gpu_check-{args.device}-{stamp}.json"
    steps = [s for s in args.steps.split(",") if s]
    unknown = set(steps) - set(STEPS)
    if unknown:
        parser.error(f"unknown steps {', '.join(sorted(unknown))}")
    report = Report(out, args, steps)
    print(f"gpu_check: {'tiny' if args.tiny else 'full'} run on {args.device}; report {out}", flush=True)
    for name in steps:
        t0 = time.perf_counter()
        args.deadline = time.monotonic() + args.limits[name]
        result: dict[str, Any] = {}
        entry: dict[str, Any]
        try:
            with time_limit(args.limits[name]):
                STEPS[name](args, result)
            entry = {"status": "ok"}
        except Skip as exc:
            entry = {"status": "skipped", "reason": str(exc)}
        except StepTimeout as exc:
            entry = {"status": "timeout", "reason": str(exc)}
        except Exception as exc:  # noqa: BLE001 - the report records the failure; the next step still runs
            entry = {"status": "failed", "reason": f"{type(exc).__name__}: {exc}"[:1000],
                     "traceback": traceback.format_exc()[-3000:]}
        if result:
            entry["result"] = result
        entry["seconds"] = round(time.perf_counter() - t0, 1)
        report.record(name, entry)
        print(f"  {name:<12} {entry['status']:<8} {entry['seconds']:>6.1f} s  {entry.get('reason', '')}"[:300], flush=True)
    report.finish()
    if {"timings", "render_2k", "colour"} & set(steps):
        table = timings_table(report.data)
        out.with_suffix(".md").write_text(table)
        print(table)
    copy_to = os.environ.get("OUT")  # a device machine hands back what is under $OUT (the JSON is there already)
    if copy_to and Path(copy_to).is_dir() and out.with_suffix(".md").is_file():
        shutil.copy2(out.with_suffix(".md"), Path(copy_to) / out.with_suffix(".md").name)
    failed = [n for n, e in report.data["steps"].items() if e["status"] in ("failed", "timeout")]
    if report.data["skipped"]:
        print("skipped: " + "; ".join(report.data["skipped"]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
