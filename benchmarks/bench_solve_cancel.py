"""How soon does a Ctrl-C / SIGTERM stop ``flashdepth-vfx solve``, in each phase, at 2K? A markdown table.

    python benchmarks/bench_solve_cancel.py                     # 12 frames at 2048x1152 (plates and disparity)
    python benchmarks/bench_solve_cancel.py --size 1920x1080 --frames 24

A procedural shot (drifted exact disparity, its USD camera and 150 tracked points) rendered small and upscaled to the
size asked, then one uninterrupted ``solve --stabilize --position world --normals camera`` (the phases' start times),
then one run per phase, signalled (SIGINT or SIGTERM, alternately) when the JSON progress says the phase reached its
fourth frame (the fit: its start; the writes: after the second written frame). Reported: seconds from the signal to
the process's exit, the exit code and the frames kept. Wall-clock seconds of one run each: read them against the
phase's length, not as a precise figure (machines are noisy).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from flashdepth_vfx.data import SceneConfig, render_sequence
from flashdepth_vfx.data.drift import inject_drift
from flashdepth_vfx.data.matchmove import track_points, write_camera_usd, write_points_obj
from flashdepth_vfx.plates import write_exr

ROOT = Path(__file__).resolve().parent.parent


def make_shot(folder: Path, frames: int, width: int, height: int) -> None:
    """Disparity and plates at ``width`` x ``height`` (upscaled from a quarter-size render), camera, points."""
    seq = render_sequence(SceneConfig(height=max(height // 4, 72), width=max(width // 4, 128), num_frames=frames,
                                      seed=1_000_007, camera_motion="truck"))
    disparity, _ = inject_drift(1.0 / seq.depth, seed=5)
    (folder / "plates").mkdir(parents=True)
    for index in range(frames):
        d = cv2.resize(disparity[index].astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
        write_exr(folder / f"disp.{1001 + index:04d}.exr", {"depth.Z": d})
        rgb = cv2.resize(seq.rgb[index].astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
        write_exr(folder / "plates" / f"shot.{1001 + index:04d}.exr", {c: rgb[..., i] for i, c in enumerate("RGB")},
                  half=True)
    write_camera_usd(seq, folder / "cam.usda")
    write_points_obj(track_points(seq, 150, seed=2).positions, folder / "tracks.obj")


def run(folder: Path, ready: Callable[[dict], bool] | None, sig: int) -> dict:
    """One solve; signalled at the first event ``ready`` accepts. Phase start times, exit code, latency, frames."""
    out = folder / "out"
    shutil.rmtree(out, ignore_errors=True)
    args = ["solve", "disp.####.exr", "-o", "out/s.####.exr", "--plates", "plates/shot.####.exr", "--camera",
            "cam.usda", "--points", "tracks.obj", "--stabilize", "--position", "world", "--normals", "camera",
            "--progress", "json"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "flashdepth_vfx", *args], cwd=folder, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    t0, sent, phases = time.monotonic(), None, {}
    for line in proc.stdout:
        event = json.loads(line)
        if event["event"] == "solve_step":
            phases.setdefault(event["phase"], time.monotonic() - t0)
        if sent is None and ready is not None and ready(event):
            proc.send_signal(sig)
            sent = time.monotonic()
    proc.wait()
    end = time.monotonic()
    return {"phases": phases, "seconds": end - t0, "code": proc.returncode,
            "latency": None if sent is None else end - sent,
            "kept": len(list(out.glob("s.*.exr"))) if out.is_dir() else 0,
            "leftovers": [p.name for p in out.glob(".*")] if out.is_dir() else []}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="2048x1152", help="WIDTHxHEIGHT of the plates and disparity")
    parser.add_argument("--frames", type=int, default=12)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make_shot(folder, args.frames, width, height)
        full = run(folder, None, signal.SIGINT)
        starts = full["phases"]
        print(f"{args.frames} frames at {width}x{height}, uninterrupted: {full['seconds']:.1f} s; phases start at "
              + ", ".join(f"{name} {t:.1f} s" for name, t in starts.items()) + "\n")
        print("| signalled during | signal | exit code | signal to exit (s) | solved frames kept | temporaries left |")
        print("|---|---|---:|---:|---:|---:|")
        cases: list[tuple[str, Callable[[dict], bool]]] = [
            (phase, lambda e, phase=phase: e.get("phase") == phase and e["index"] == 3)
            for phase in ("cuts", "stabilize", "references")
        ]
        cases += [("fit", lambda e: e.get("phase") == "fit"),
                  ("write", lambda e: e["event"] == "solve" and e["index"] == 2)]
        for number, (phase, ready) in enumerate(cases):
            sig = signal.SIGINT if number % 2 == 0 else signal.SIGTERM
            result = run(folder, ready, sig)
            latency = "not sent" if result["latency"] is None else f"{result['latency']:.2f}"
            print(f"| {phase} | {sig.name} | {result['code']} | {latency} | {result['kept']} of {args.frames} | "
                  f"{len(result['leftovers'])} |")


if __name__ == "__main__":
    main()
