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
  render_2k    end-to-end render of half-float ACEScg EXR plates at 2048x1152 (needs OpenImageIO/OpenColorIO)

``--tiny --device cpu`` runs every step on tiny models and small frames (the CUDA-only parts report
"skipped" with the reason): CI runs it so the script never rots. ``--prepare`` (run where ../shared exists)
copies what the GPU machine lacks into benchmarks/gpu_check_data/ (git-ignored).
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
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "gpu_check_data"
VENDORED = ("einops", "pytest", "_pytest", "pluggy", "iniconfig", "packaging", "pytest_timeout", "py")
"""Pure-Python packages --prepare copies for a GPU machine that lacks them (gpu_check.sh adds only the missing)."""

FULL_SIZES = {"flashdepth": (1148, 2044), "flashdepth-s": (518, 924), "flashdepth-l": (518, 924)}
TINY_SIZES = {"flashdepth-tiny-hybrid": (70, 112), "flashdepth-tiny": (70, 112)}
STEP_LIMITS = {"environment": 20, "cuda_tests": 140, "timings": 130, "attention": 45, "uploads": 15, "render_2k": 60}
"""Seconds per step on a GPU (sum 410 s: gpu_check.sh stops the whole run at 420 s)."""


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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=2, default=str) + "\n")
        tmp.replace(self.path)


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
    info["commit"] = git.stdout.strip() if git is not None and git.returncode == 0 else "unknown (no git checkout)"
    if is_cuda(args) and not torch.cuda.is_available():
        raise RuntimeError(f"--device {args.device} but torch sees no CUDA device")


def reference_dir() -> Path | None:
    """../shared/reference here, or the copy --prepare made (gpu_check.sh points FLASHDEPTH_SHARED at it)."""
    shared = Path(os.environ.get("FLASHDEPTH_SHARED", ROOT.parent / "shared"))
    return shared / "reference" if (shared / "reference" / "golden").is_dir() else None


def step_cuda_tests(args: argparse.Namespace, result: dict[str, Any]) -> None:
    if reference_dir() is None:
        raise Skip("no reference data: run `benchmarks/gpu_check.sh --prepare` where ../shared exists, and carry "
                   "benchmarks/gpu_check_data to this machine")
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        quiet_plugins = ["-p", "no:cacheprovider", "-p", "no:pytestqt", "-p", "no:hypothesispytest"]  # not needed here
        cmd = [sys.executable, "-m", "pytest", "-q", *quiet_plugins, "-rs", f"--junitxml={junit}",
               "tests/test_model_cuda.py", "tests/test_model_stream.py::test_cuda_stream_matches_cpu"]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        try:
            run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env,
                                 timeout=max(10.0, args.limits["cuda_tests"] - 5))
        except subprocess.TimeoutExpired as exc:
            raise StepTimeout(f"pytest ran past its limit; output so far: {(exc.stdout or '')[-2000:]!s}") from None
        tests = parse_junit(junit) if junit.is_file() else []
    counts = {k: sum(t["outcome"] == k for t in tests) for k in ("passed", "failed", "skipped")}
    result.update({"returncode": run.returncode, **counts, "tests": tests, "output_tail": run.stdout[-3000:] + run.stderr[-1000:]})
    if counts["failed"] or run.returncode not in (0, 5) and not (counts["passed"] + counts["skipped"]):
        raise RuntimeError(f"{counts['failed']} CUDA tests failed (pytest exit {run.returncode})")
    if not counts["passed"]:
        reasons = sorted({t.get("reason", "") for t in tests if t["outcome"] == "skipped"})
        raise Skip(f"all {counts['skipped']} CUDA tests skipped: {'; '.join(reasons)[:300]}")


def parse_junit(path: Path) -> list[dict[str, Any]]:
    """Outcome, time, skip/failure message and recorded properties of every test case in a JUnit XML file."""
    tests = []
    for case in ET.parse(path).getroot().iter("testcase"):
        entry: dict[str, Any] = {"test": f"{case.get('classname', '').split('.')[-1]}::{case.get('name')}",
                                 "seconds": round(float(case.get("time") or 0), 2), "outcome": "passed"}
        for tag in ("failure", "error", "skipped"):
            node = case.find(tag)
            if node is not None:
                entry["outcome"] = "skipped" if tag == "skipped" else "failed"
                entry["reason"] = (node.get("message") or "")[:500]
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        if props:
            entry["measured"] = props
        tests.append(entry)
    return tests


def step_timings(args: argparse.Namespace, result: dict[str, Any]) -> None:
    import torch

    from flashdepth_vfx.model import GraphedDepthStream, build_model

    sizes = TINY_SIZES if args.tiny else FULL_SIZES
    frames_timed, warmup = (2, 1) if args.tiny else (20, 3)
    results = result
    for name, (h, w) in sizes.items():
        frames = synthetic_frames(4, h, w, args.device)
        torch.manual_seed(0)
        model = build_model(name, device=args.device).optimize_for_inference()
        entry: dict[str, Any] = results.setdefault(name, {"size": f"{w}x{h}"})
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
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
            if is_cuda(args):
                torch.cuda.reset_peak_memory_stats()
            try:
                with torch.inference_mode():
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

    from flashdepth_vfx.model import build_model

    name, (h, w) = ("flashdepth-tiny", TINY_SIZES["flashdepth-tiny"]) if args.tiny else ("flashdepth", FULL_SIZES["flashdepth"])
    dtype = torch.bfloat16 if is_cuda(args) else torch.float32
    torch.manual_seed(0)
    model = build_model(name, device=args.device, dtype=dtype).optimize_for_inference()
    frames = synthetic_frames(2, h, w, args.device)
    backends: dict[str, Any] = {"default": None}  # torch's own choice
    for label in ("FLASH_ATTENTION", "EFFICIENT_ATTENTION", "CUDNN_ATTENTION", "MATH"):
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


def step_uploads(args: argparse.Namespace, result: dict[str, Any]) -> None:
    require_cuda(args, "pinned vs pageable transfers")
    import torch

    plate = torch.rand(1152, 2048, 3).half()  # a 2K half RGB plate as read
    depth = torch.empty(1148, 2044, device="cuda")
    results = result
    for label, host in (("pageable", plate), ("pinned", plate.pin_memory())):
        results[f"upload_{label}"] = time_frames(lambda i: host.to("cuda", non_blocking=True), 20, 3, args.device)
        results[f"upload_{label}"]["gb_per_s"] = round(plate.numel() * 2 / results[f"upload_{label}"]["median_ms"] / 1e6, 2)
    for label, host in (("pageable", torch.empty(1148, 2044)), ("pinned", torch.empty(1148, 2044).pin_memory())):
        results[f"download_{label}"] = time_frames(lambda i: host.copy_(depth, non_blocking=True), 20, 3, args.device)
        results[f"download_{label}"]["gb_per_s"] = round(depth.numel() * 4 / results[f"download_{label}"]["median_ms"] / 1e6, 2)


def step_render_2k(args: argparse.Namespace, result: dict[str, Any]) -> None:
    missing = [m for m in ("OpenImageIO", "PyOpenColorIO", "safetensors") if importlib.util.find_spec(m) is None]
    if missing:
        raise Skip(f"end-to-end render needs {', '.join(missing)} (not importable here)")
    import numpy as np
    import OpenImageIO as oiio
    import torch
    from safetensors.torch import save_file

    from flashdepth_vfx.engine import QuietEvents, Render, RenderSettings
    from flashdepth_vfx.model import build_model

    name, (h, w), count = ("flashdepth-tiny", (126, 224), 4) if args.tiny else ("flashdepth", (1152, 2048), 24)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        torch.manual_seed(0)
        ckpt = folder / f"{name}.safetensors"
        weights = build_model(name, device=args.device).state_dict()  # random init is quicker on the GPU
        save_file({k: v.detach().contiguous().cpu() for k, v in weights.items()}, str(ckpt))
        del weights
        y, x = np.mgrid[0:h, 0:w].astype(np.float32)
        base = np.stack([x / w, y / h, np.full_like(x, 0.3)], axis=-1)
        t0 = time.perf_counter()
        for f in range(count):
            spec = oiio.ImageSpec(w, h, 3, oiio.HALF)
            spec.attribute("compression", "zip")
            spec.attribute("oiio:ColorSpace", "ACEScg")
            out = oiio.ImageOutput.create(str(folder / f"plate.{1001 + f:04d}.exr"))
            if out is None or not out.open(str(folder / f"plate.{1001 + f:04d}.exr"), spec):
                raise RuntimeError(f"cannot write EXR plates: {oiio.geterror()}")
            out.write_image(np.roll(base, 8 * f, axis=1) * 0.8)
            out.close()
        written = time.perf_counter() - t0
        settings = RenderSettings(plate=str(folder / "plate.####.exr"), checkpoint=str(ckpt), device=args.device,
                                  max_size=2044 if not args.tiny else None, output=str(folder / "out" / "depth.####.exr"))
        summary = Render(settings, QuietEvents()).run()
        frames = len(summary.written)
        if frames != count:
            raise RuntimeError(f"render wrote {frames} of {count} frames")
        result.update({"model": name, "plates": f"{count} half ACEScg EXR at {w}x{h}", "seconds": round(summary.seconds, 2),
                       "fps": round(frames / summary.seconds, 2), "plate_write_seconds": round(written, 2),
                       "note": "includes model load and first-frame warm-up; compare with timings.flashdepth"})


STEPS: dict[str, Callable[[argparse.Namespace, dict[str, Any]], None]] = {
    # each step fills the dict it is given as it goes: a step cut by its limit still reports what it measured
    "environment": step_environment,
    "cuda_tests": step_cuda_tests,
    "timings": step_timings,
    "attention": step_attention,
    "uploads": step_uploads,
    "render_2k": step_render_2k,
}


def timings_table(report: dict[str, Any]) -> str:
    """The timings step as a Markdown table (for the README), with the GPU and the run's date."""
    env = report["steps"].get("environment", {}).get("result", {})
    rows = ["| model | size | mode | median ms | p90 ms | frames/s | peak GiB |", "|---|---|---|---|---|---|---|"]
    for model, entry in report["steps"].get("timings", {}).get("result", {}).items():
        if not isinstance(entry, dict) or "size" not in entry:
            continue
        for mode, timing in entry.items():
            if isinstance(timing, dict):
                cells = [str(timing.get(k, timing.get("error", "")))[:60] for k in ("median_ms", "p90_ms", "fps")]
                rows.append(f"| {model} | {entry['size']} | {mode} | " + " | ".join(cells) + f" | {timing.get('peak_gib', '')} |")
    where = f"{env.get('gpu', report['device'])}, torch {env.get('torch', '?')}, {report['started'][:10]}"
    return f"Measured by benchmarks/gpu_check.sh on {where}:\n\n" + "\n".join(rows) + "\n"


# ---------------------------------------------------------------------------------------------- prepare
def prepare() -> None:
    """Copy the golden reference data and the pure-Python test dependencies into benchmarks/gpu_check_data."""
    source = Path(os.environ.get("FLASHDEPTH_SHARED", ROOT.parent / "shared")) / "reference"
    if not (source / "golden").is_dir():
        sys.exit(f"gpu_check --prepare: no reference data at {source}")
    target = DATA / "shared" / "reference"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)
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
    size = sum(p.stat().st_size for p in DATA.rglob("*") if p.is_file()) / 2**20
    print(f"gpu_check --prepare: reference data and {', '.join(copied)} in {DATA.relative_to(ROOT)} ({size:.0f} MiB); "
          f"carry it to the GPU machine (e.g. run(..., carry=['{DATA.relative_to(ROOT)}']))")


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
    args.limits = {k: (v if not args.tiny else max(v, 60)) for k, v in STEP_LIMITS.items()}
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
    if "timings" in steps:
        table = timings_table(report.data)
        out.with_suffix(".md").write_text(table)
        print(table)
    copy_to = os.environ.get("OUT")  # a device machine hands back what is under $OUT
    if copy_to and Path(copy_to).is_dir():
        for path in (out, out.with_suffix(".md")):
            if path.is_file() and not (Path(copy_to) / path.name).exists():
                shutil.copy2(path, Path(copy_to) / path.name)
    failed = [n for n, e in report.data["steps"].items() if e["status"] in ("failed", "timeout")]
    if report.data["skipped"]:
        print("skipped: " + "; ".join(report.data["skipped"]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
