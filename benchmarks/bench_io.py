"""The render's I/O path at 2K (``bench_render.py --io``): ACEScg half EXR plates through an ACES view, float32
depth out, the network replaced by a no-op of the same output size; before (the engine at ``BEFORE``) and after
in one run. See :func:`main` for what is printed."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import OpenImageIO as oiio
import torch
import torch.nn.functional as F

from flashdepth_vfx.cpu_budget import cpu_budget
from flashdepth_vfx.engine import QuietEvents, Render, RenderSettings
from flashdepth_vfx.engine.device_colour import DeviceDisplayConverter
from flashdepth_vfx.engine.loading import LoadedModel, embedded_checkpoint, load_model
from flashdepth_vfx.engine.outputs import device_output
from flashdepth_vfx.engine.pools import default_io_workers
from flashdepth_vfx.model import inference_size
from flashdepth_vfx.model.config import OFFICIAL_MAX_SIDE, get_config
from flashdepth_vfx.model.stream import StreamState
from flashdepth_vfx.plates import DisplayConverter, load_config, read_plate, write_exr

BEFORE = "cefe584"
"""The commit whose engine (one reader and one writer thread, OCIO and resize in the reader, ZIP) is "before"."""
BASE = "d33c2b7"
"""The commit before the CPU-path work (issue 21): its decode stage and fp32 default are "base"."""
SIZE = (1152, 2048)


class _NoOpStream:
    """Stands in for DepthStream: returns the input's green channel, the model's output size, at no cost."""

    def __init__(self) -> None:
        self.frames_seen = 0
        self.device = torch.device("cpu")

    def step(self, frame: torch.Tensor) -> torch.Tensor:
        self.frames_seen += 1
        return frame[:, 1].float()

    def snapshot(self) -> StreamState:
        return StreamState([], self.frames_seen, {})

    def restore(self, snap: StreamState) -> None:
        self.frames_seen = snap.frames_seen

    def reset(self) -> None:
        self.frames_seen = 0


class _NoOpNet:
    """A network of ``name``'s configuration (its input and output sizes) that computes nothing."""

    patch_size = 14

    def __init__(self, name: str) -> None:
        self.cfg = get_config(name)

    def stream(self) -> _NoOpStream:
        return _NoOpStream()


def no_op_model(name: str = "flashdepth") -> LoadedModel:
    return LoadedModel(_NoOpNet(name), Path("no-op.safetensors"), "0" * 12)  # type: ignore[arg-type]


def write_plates(folder: Path, frames: int, carrots: Path) -> str:
    """2K ACEScg half-float ZIP plates: a real photo scaled up, moving a little each frame, with grain."""
    folder.mkdir(parents=True, exist_ok=True)
    rgb = torch.from_numpy(read_plate(carrots).rgb.transpose(2, 0, 1).copy())[None]
    big = F.interpolate(rgb, size=SIZE, mode="bicubic", align_corners=False).clamp(0, None)[0].numpy()
    rng = np.random.default_rng(0)
    for f in range(1, frames + 1):
        pixels = np.roll(big, 8 * f, axis=2) * (1 + rng.normal(0, 0.01, big.shape).astype(np.float32))
        write_exr(folder / f"plate.{f:04d}.exr", {c: pixels[i] for i, c in enumerate("RGB")}, half=True,
                  metadata={"oiio:ColorSpace": "ACEScg"})
    return str(folder / "plate.####.exr")


def engine_module(root: Path, commit: str | None, name: str) -> ModuleType | None:
    """The engine's module ``name`` (e.g. ``pipeline``) as it was at ``commit`` (from git; None: as it is now), loaded
    beside today's, against today's other modules."""
    path = f"flashdepth_vfx/engine/{name}.py"
    try:
        source = (root / path).read_text() if commit is None else subprocess.run(
            ["git", "show", f"{commit}:{path}"], cwd=root, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    spec = importlib.util.spec_from_loader(f"flashdepth_vfx.engine._{name}_{commit or 'now'}", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "flashdepth_vfx.engine"
    sys.modules[spec.name] = module
    exec(compile(source, f"{commit or 'now'}:{name}.py", "exec"), module.__dict__)  # noqa: S102 - our own history
    return module


def load_before(root: Path) -> ModuleType | None:
    """The engine's pipeline module as it was at ``BEFORE``, run against today's plates package."""
    return engine_module(root, BEFORE, "pipeline")


def decode_stage_at(root: Path, commit: str) -> type | None:
    """The render with its pipeline and decode stage as they were at ``commit`` (today's other modules)."""
    decode, pipeline = engine_module(root, commit, "decode"), engine_module(root, commit, "pipeline")
    if decode is None or pipeline is None:
        return None
    pipeline.PlateDecoder = decode.PlateDecoder
    return pipeline.Render


@dataclass
class Timed:
    fps: float
    cpu_ms: float  # process CPU time per frame, all threads


def render(render_class: type, settings: RenderSettings, loaded: LoadedModel) -> Timed:
    """Frames/s from the first written frame to the last, and process CPU ms per frame over the same span."""
    marks: list[tuple[float, float]] = []

    class Clock(QuietEvents):
        def frame(self, frame, index, total, path) -> None:  # noqa: ANN001
            marks.append((time.perf_counter(), time.process_time()))

    render_class(settings, Clock(), loaded=loaded).run()
    (t0, c0), (t1, c1) = marks[0], marks[-1]
    n = len(marks) - 1
    return Timed(n / (t1 - t0), (c1 - c0) / n * 1e3)


def per_frame(fn: Callable[[int], object], frames: int) -> tuple[float, float]:
    """(wall ms, process CPU ms) per call of ``fn(frame)``, one call at a time."""
    fn(1)
    t0, c0 = time.perf_counter(), time.process_time()
    for f in range(1, frames + 1):
        fn(f)
    return (time.perf_counter() - t0) / frames * 1e3, (time.process_time() - c0) / frames * 1e3


def render_profile(pattern: str, root: Path, loaded: LoadedModel) -> None:
    """Where a render's cores go, per frame: thread CPU time of each stage inside the real render (the functions
    wrapped while it runs), and the rest of the process's CPU time (pipeline threads, queues, Python, OpenMP)."""
    from flashdepth_vfx.engine import decode, encode, outputs
    from flashdepth_vfx.plates import colour

    spent: dict[str, list[float]] = {}
    lock = threading.Lock()

    def timed(owner: object, name: str, label: str) -> Callable[[], None]:
        original = getattr(owner, name)

        def wrapper(*args: object, **kwargs: object) -> object:
            c0, t0 = time.thread_time(), time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                with lock:
                    cell = spent.setdefault(label, [0.0, 0.0])
                    cell[0] += time.thread_time() - c0
                    cell[1] += time.perf_counter() - t0

        setattr(owner, name, wrapper)
        return lambda: setattr(owner, name, original)

    wrapped = [
        timed(decode, "read_plate", "read (OIIO)"),
        timed(colour.DisplayConverter, "__call__", "colour (OCIO)"),
        timed(decode.PlateDecoder, "decode", "decode worker, all"),
        timed(decode.PlateDecoder, "model_input", "resize to the model"),
        timed(outputs.PendingOutput, "_compute", "output: resize back, depth, range"),
        timed(encode, "write_exr", "write (OIIO)"),
        timed(encode.FrameWriter, "__call__", "encode worker, all"),
    ]
    wrapped.append(timed(type(loaded.stream()), "step", "network (its calling thread)"))
    marks: list[tuple[float, float]] = []

    class Clock(QuietEvents):  # from the first file written (the warm-up behind) to the last
        def frame(self, frame, index, total, path) -> None:  # noqa: ANN001
            if index == 1:
                with lock:
                    spent.clear()
                    marks.append((time.perf_counter(), time.process_time()))

        def done(self, *args) -> None:  # noqa: ANN002
            marks.append((time.perf_counter(), time.process_time()))

    try:
        settings = RenderSettings(plate=pattern, output=str(root / "profile" / "d.####.exr"), snapshot_every=10**6)
        summary = Render(settings, Clock(), loaded=loaded).run()
    finally:
        for undo in wrapped:
            undo()
    n = len(summary.written) - 1
    total_wall, total_cpu = marks[1][0] - marks[0][0], marks[1][1] - marks[0][1]
    inner = {"decode worker, all": ("read (OIIO)", "colour (OCIO)"), "encode worker, all": ("write (OIIO)",
                                                                                              "output: resize back, depth, range")}
    print(f"where the cores go in the render ({n} frames, {total_wall / n * 1e3:.0f} ms wall and "
          f"{total_cpu / n * 1e3:.0f} core-ms per frame after the first): thread CPU ms per frame (wall in brackets)")
    counted = 0.0
    for label, (cpu, wall) in spent.items():
        if label in inner:
            rest = cpu - sum(spent.get(k, [0.0, 0.0])[0] for k in inner[label])
            print(f"  {label.split(',')[0] + ', the rest (Python, numpy)':44s} {rest / n * 1e3:7.1f}")
            counted += rest
            continue
        print(f"  {label:44s} {cpu / n * 1e3:7.1f} ({wall / n * 1e3:6.1f})")
        counted += cpu
    print(f"  {'other (OpenMP and OIIO threads, pipeline)':44s} {(total_cpu - counted) / n * 1e3:7.1f}")


_STEP_TIMER = """
import sys, time, torch
from flashdepth_vfx.engine.loading import embedded_checkpoint
from flashdepth_vfx.model import build_model, load_checkpoint
name, h, w, threads, frames = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
torch.set_num_threads(threads)
torch.manual_seed(0)
model = (load_checkpoint(embedded_checkpoint()) if name == "embedded" else build_model(name)).optimize_for_inference()
x = torch.rand(1, 3, h, w)
with torch.inference_mode():
    stream = model.stream()
    for _ in range(3):
        stream.step(x)
    t = time.perf_counter()
    for _ in range(frames):
        stream.step(x)
print((time.perf_counter() - t) / frames * 1e3)
"""


def thread_budget(frames: int = 20, timeout: float = 90.0) -> None:
    """ms per model step, in fresh processes: all cores with OpenMP's default busy-waiting (the engine before),
    with a short spin before sleeping (``GOMP_SPINCOUNT``), with passive waiting (the CLI's default now), and one
    thread; alone and beside two busy-looping processes."""
    cores = cpu_budget()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    for name in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS"):
        env.pop(name, None)
    configs = [("all cores, busy-wait", cores, {}), ("short spin", cores, {"GOMP_SPINCOUNT": "2000"}),
               ("passive (default)", cores, {"OMP_WAIT_POLICY": "PASSIVE"}),
               ("--threads 1", 1, {"OMP_WAIT_POLICY": "PASSIVE"})]
    print(f"thread budget: ms per model step ({frames} steps, fresh process each; '>' = cut at {timeout:.0f} s)")
    for label, name, (h, w) in (("embedded", "embedded", (126, 224)), ("flashdepth-s", "flashdepth-s", (252, 448))):
        for load in (False, True):
            hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)] if load else []
            try:
                cells = []
                for text, threads, policy in configs:
                    run_env = dict(env, **policy)
                    try:
                        out = subprocess.run([sys.executable, "-c", _STEP_TIMER, name, str(h), str(w), str(threads), str(frames)],
                                             env=run_env, capture_output=True, text=True, timeout=timeout, check=True)
                        cells.append(f"{text} {float(out.stdout.split()[-1]):7.0f}")
                    except subprocess.TimeoutExpired:
                        cells.append(f"{text} >{timeout * 1e3 / frames:6.0f}")
            finally:
                for hog in hogs:
                    hog.kill()
            print(f"  {label:12s} {w}x{h} {'2 busy processes beside' if load else 'no added load':24s} " + " | ".join(cells))


def main(frames: int = 16, repeats: int = 3, quick: bool = False) -> None:
    """The stage costs, the render's profile, and frames/s of the render against a one-thread read + ZIP write.

    ``quick``: only the acceptance figures (the embedded-model render against the one-thread copy, alternated) and
    the render's profile."""
    cores = cpu_budget()
    carrots = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "exr" / "basic" / "Carrots.exr"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        pattern = write_plates(root / "plates", frames, carrots)
        path = pattern.replace("####", "%04d")
        config = load_config()
        convert = DisplayConverter(config, "ACEScg")
        model_size = inference_size(*SIZE, OFFICIAL_MAX_SIDE, 70, 14)
        print(f"I/O path at {SIZE[1]}x{SIZE[0]}: ACEScg half ZIP plates -> {convert.view} -> no-op network "
              f"({model_size[1]}x{model_size[0]}, the official models' size) -> float32 depth; {frames} frames, "
              f"{cores} cores, torch {torch.get_num_threads()} threads, OIIO {oiio.get_int_attribute('threads')} threads")

        stages: dict[str, tuple[float, float]] = {}
        if not quick:  # the cost of each stage alone
            print("core-ms per frame and stage (one call at a time; process CPU time, wall in brackets)")
            plates = {f: read_plate(path % f) for f in range(1, frames + 1)}
            stages = {
                "read (float32)": per_frame(lambda f: read_plate(path % f), frames),
                "read (half, for a GPU)": per_frame(lambda f: read_plate(path % f, half=True), frames),
                "colour, OCIO CPU (baked LUT)": per_frame(lambda f: convert(plates[f].rgb), frames),
            }
            half_plate = np.ascontiguousarray(read_plate(path % 1, half=True).rgb.transpose(2, 0, 1))
            staging = torch.empty(half_plate.shape, dtype=torch.float16)
            stages["copy into the upload buffer (half)"] = per_frame(lambda f: staging.copy_(torch.from_numpy(half_plate)), frames)
            device_convert = DeviceDisplayConverter(config, "ACEScg", device="cpu")
            tensors = {f: torch.from_numpy(plates[f].rgb.transpose(2, 0, 1).copy())[None] for f in (1, 2)}
            stages["colour, torch on the CPU"] = per_frame(lambda f: device_convert(tensors[1 + f % 2]), 2)
            display = torch.from_numpy(convert(plates[1].rgb).transpose(2, 0, 1).copy())[None]
            stages["resize to the model (bicubic)"] = per_frame(
                lambda f: F.interpolate(display, size=model_size, mode="bicubic", align_corners=False), frames)
            small = display[:, 1, : model_size[0], : model_size[1]].contiguous()

            def output(f: int) -> None:
                device_output(small[0], SIZE, "depth", 100.0, False).result()

            stages["output: resize back, depth, stats"] = per_frame(output, frames)
            depth = 100.0 / np.maximum(display[0, 1].numpy(), 0.01)
            sizes: dict[str, float] = {}
            for half in (False, True):
                for compression in ("none", "zip", "zips", "piz", "rle"):
                    name = f"write {'half' if half else 'float32'} {compression}"
                    out = root / f"{compression}{half}.exr"
                    stages[name] = per_frame(lambda f: write_exr(out, {"depth.Z": depth}, half=half, compression=compression), 4)
                    sizes[name] = out.stat().st_size / 2**20
            for name, (wall, cpu) in stages.items():
                size = f"  {sizes[name]:5.2f} MiB" if name in sizes else ""
                print(f"  {name:36s} {cpu:7.1f} ({wall:6.1f}){size}")

        def one_thread(f: int) -> None:
            pixels = read_plate(path % f).rgb
            write_exr(root / "one.exr", {"depth.Z": pixels[..., 1]}, compression="zip")

        repo = Path(__file__).resolve().parents[1]
        before_module = None if quick else load_before(repo)
        base_render = decode_stage_at(repo, BASE)
        tiny = load_model(str(embedded_checkpoint()), None, torch.device("cpu"))
        embedded = f"embedded model (224x126, {tiny.precision})"
        models = ((embedded,) if quick else ("no-op network", embedded))
        runs: dict[str, list[tuple[str, type, LoadedModel]]] = {
            "no-op network": [("after", Render, no_op_model())],
            embedded: [("after", Render, tiny)] + ([("base", base_render, load_model(
                str(embedded_checkpoint()), None, torch.device("cpu"), "fp32"))] if base_render else []),
        }
        for label in models:
            runs[label] += [("before", before_module.Render, runs[label][0][2])] if before_module else []
        best: dict[tuple[str, str], Timed] = {}
        one_fps, one_cpu_ms = 0.0, 0.0
        for rep in range(repeats):  # alternated, best of each: the machine is shared, its load comes and goes
            wall_ms, cpu_ms = per_frame(one_thread, frames)
            if 1e3 / wall_ms > one_fps:
                one_fps, one_cpu_ms = 1e3 / wall_ms, cpu_ms
            for label in models:
                for which, render_class, loaded in runs[label] if rep % 2 else runs[label][::-1]:
                    settings = RenderSettings(plate=pattern, output=str(root / f"{which}{label[:3]}{rep}" / "d.####.exr"),
                                              snapshot_every=10**6)
                    timed = render(render_class, settings, loaded)
                    key = (label, which)
                    if key not in best or timed.fps > best[key].fps:
                        best[key] = timed
        print(f"render frames/s at 2K, best of {repeats} alternated runs (engine at {BEFORE} = before; this one = after, "
              f"defaults: {default_io_workers()} decode + {default_io_workers()} encode workers, float32 depth uncompressed)")
        for label in models:
            after, before = best[(label, "after")], best.get((label, "before"))
            gain = f"  x{after.fps / before.fps:4.2f} fps, x{before.cpu_ms / after.cpu_ms:4.2f} less CPU" if before else ""
            was = f"{before.fps:6.2f} fps {before.cpu_ms:6.0f} core-ms/frame" if before else \
                "(not run)" if quick else "(no git: skipped)"
            print(f"  {label:26s} before {was}   after {after.fps:6.2f} fps {after.cpu_ms:6.0f} core-ms/frame{gain}")
        tiny_after = best[(embedded, "after")].fps
        if (embedded, "base") in best:
            base = best[(embedded, "base")]
            print(f"  the engine at {BASE} (its decode stage, fp32 embedded model): {base.fps:6.2f} fps "
                  f"{base.cpu_ms:6.0f} core-ms/frame; this one: x{tiny_after / base.fps:4.2f} fps, "
                  f"x{base.cpu_ms / best[(embedded, 'after')].cpu_ms:4.2f} less CPU")
        print(f"one thread, OIIO read + float32 ZIP write only: {one_fps:5.2f} fps, {one_cpu_ms:.0f} core-ms/frame (best of "
              f"{repeats}); the embedded-model render: x{tiny_after / one_fps:4.2f} of it (goal x1.5, on a quiet machine)")
        after_cpu = best[(embedded, "after")].cpu_ms
        print(f"  upper bound by CPU time (a busy machine hides the quiet ratio): {cores} cores / {after_cpu:.0f} core-ms "
              f"against 1 core / {one_cpu_ms:.0f} core-ms: x{cores * one_cpu_ms / after_cpu:4.2f}")
        if before_module:
            print(f"embedded-model render after / before: x{tiny_after / best[(embedded, 'before')].fps:4.2f} (goal x3)")
        render_profile(pattern, root, tiny)
        if quick:
            return
        gpu_host = ("read (half, for a GPU)", "copy into the upload buffer (half)", "write float32 none")
        host = sum(stages[name][1] for name in gpu_host)
        print(f"16 cores at 48 FPS: a GPU render leaves the host reading half plates, filling the pinned upload buffer "
              f"and writing float32 depth (colour, resize and depth on the GPU): {host:.0f} core-ms per frame here, so 48 FPS needs "
              f"{48 * host / 1e3:.1f} cores of this machine's speed ({'within' if 48 * host / 1e3 <= 16 else 'beyond'} 16)")
