"""Cancelling the shot solve (Ctrl-C / SIGTERM, a host's Cancel) in every phase: it stops within a frame's work,
writes no half file or temporary, keeps the frames it solved, and ``--resume`` then finishes the job with the same
result as an uninterrupted solve.

In-process tests cancel deterministically at each phase (the phase callback sets the cancel event); the real CLI
subprocess tests send the signal when the JSON progress says the phase has started.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from flashdepth_vfx.data import SceneConfig, render_sequence, write_plate_sequence
from flashdepth_vfx.data.drift import inject_drift
from flashdepth_vfx.data.matchmove import track_points, write_camera_usd, write_points_obj
from flashdepth_vfx.errors import Cancelled
from flashdepth_vfx.plates import probe, read_channels, write_exr
from flashdepth_vfx.solve.fit import solve_shot
from flashdepth_vfx.solve.observations import Observations
from flashdepth_vfx.solve.run import PHASES, ShotSolve, SolveSettings

ROOT = Path(__file__).resolve().parent.parent
FIRST = 1001


def _shot(folder: Path, height: int, width: int, frames: int) -> dict[str, str]:
    """Drifted true disparity, linear plates, a USD camera and tracked points of one procedural shot."""
    seq = render_sequence(SceneConfig(height=height, width=width, num_frames=frames, seed=1_000_007,
                                      camera_motion="truck"))
    disparity, _ = inject_drift(1.0 / seq.depth, seed=5)
    for index, frame in enumerate(disparity):
        write_exr(folder / f"disp.{FIRST + index:04d}.exr", {"depth.Z": frame})
    return {"disparity": str(folder / "disp.####.exr"), "plates": write_plate_sequence(seq, folder / "plates"),
            "camera": str(write_camera_usd(seq, folder / "cam.usda")),
            "points": str(write_points_obj(track_points(seq, 150, seed=2).positions, folder / "tracks.obj"))}


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> dict[str, str]:
    return _shot(tmp_path_factory.mktemp("small"), 72, 128, 8)


@pytest.fixture(scope="module")
def large(tmp_path_factory) -> dict[str, str]:
    """Big enough that each phase of a subprocess solve lasts well over the signal's way there (~0.3 s and more)."""
    return _shot(tmp_path_factory.mktemp("large"), 180, 320, 40)


def _settings(shot: dict[str, str], output: Path, **more) -> SolveSettings:
    return SolveSettings(disparity=shot["disparity"], output=str(output / "s.####.exr"), plates=shot["plates"],
                         camera=shot["camera"], points=(shot["points"],), stabilize=True, position="world",
                         normals="camera", **more)


def _leftovers(folder: Path) -> list[str]:
    """Temporaries and anything that is not a finished frame."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or not p.name.endswith(".exr"))


def _valid_frames(folder: Path) -> list[Path]:
    """Every file in ``folder`` is a complete solved frame (all channels decode, finite depth); returns them."""
    files = sorted(folder.glob("s.*.exr"))
    for path in files:
        channels = read_channels(path)
        assert sorted(channels) == ["N.B", "N.G", "N.R", "P.B", "P.G", "P.R", "depth.Z"], path
        assert np.isfinite(channels["depth.Z"]).all() and "flashdepth:solve_key" in probe(path).metadata
    return files


def _same_result(folder: Path, reference: Path) -> None:
    """The frames in ``folder`` equal the uninterrupted solve's: every pixel, and the fitted maps."""
    names = sorted(p.name for p in reference.glob("s.*.exr"))
    assert sorted(p.name for p in folder.glob("s.*.exr")) == names
    for name in names:
        got, want = read_channels(folder / name), read_channels(reference / name)
        for channel, pixels in want.items():
            np.testing.assert_array_equal(got[channel], pixels, err_msg=f"{name} {channel}")
        got_meta, want_meta = probe(folder / name).metadata, probe(reference / name).metadata
        for key in ("flashdepth:solve_a", "flashdepth:solve_b", "flashdepth:stabilize_scale", "flashdepth:stabilize_shift"):
            assert got_meta.get(key) == want_meta.get(key), (name, key)


@pytest.fixture(scope="module")
def small_reference(small, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reference")
    summary = ShotSolve(_settings(small, out)).run()
    assert not summary.cancelled and len(summary.written) == 8
    return out


# ----------------------------------------------------------------------------------------------- in process
@pytest.mark.parametrize("phase", ["cuts", "stabilize", "references", "fit", "write"])
def test_a_cancel_in_any_phase_stops_there_keeps_solved_frames_and_resume_finishes(
        phase: str, small, small_reference, tmp_path) -> None:
    cancel = threading.Event()
    seen: list[tuple[str, int]] = []

    def on_phase(name: str, index: int, total: int) -> None:
        seen.append((name, index))
        if name == phase and index == (3 if phase == "write" else 1 if total > 1 else 0):
            cancel.set()  # as a signal would: the solve notices at its next cancel point

    summary = ShotSolve(_settings(small, tmp_path), cancel=cancel, phase=on_phase).run()
    assert summary.cancelled and summary.phase == phase and seen[-1][0] == phase
    assert PHASES[phase] in summary.cancel_message() and "--resume" in summary.cancel_message()
    kept = _valid_frames(tmp_path)
    assert _leftovers(tmp_path) == [] and not (tmp_path / "report.json").exists()
    assert sorted(kept) == sorted(summary.written)
    if phase == "write":  # frames 0-2 were handed to the writers, the cancel came before frame 3's: writes under
        # way finished, those still queued were dropped
        assert 1 <= len(kept) <= 3 and {p.name for p in kept} <= {f"s.{FIRST + i}.exr" for i in range(3)}
    else:
        assert kept == []
    before = {p.name: p.stat().st_mtime_ns for p in kept}
    resumed = ShotSolve(_settings(small, tmp_path, resume=True)).run()
    assert not resumed.cancelled and resumed.skipped == sorted(int(n.split(".")[1]) for n in before)
    assert {p.name: p.stat().st_mtime_ns for p in kept} == before  # kept frames are not solved again
    _same_result(tmp_path, small_reference)


def test_a_cancel_before_the_solve_starts_writes_nothing(small, tmp_path) -> None:
    cancel = threading.Event()
    cancel.set()  # e.g. Ctrl-C between the end of a render's stream and its solve
    summary = ShotSolve(_settings(small, tmp_path), cancel=cancel).run()
    assert summary.cancelled and summary.phase == "start" and summary.written == []
    assert "while reading the camera" in summary.cancel_message() and list(tmp_path.iterdir()) == []


def test_a_cancel_while_resume_checks_the_solved_frames(small, small_reference, tmp_path) -> None:
    cancel = threading.Event()
    ShotSolve(_settings(small, tmp_path, frames=f"{FIRST}-{FIRST + 3}")).run()
    summary = ShotSolve(_settings(small, tmp_path, resume=True), cancel=cancel,
                        phase=lambda name, index, total: cancel.set() if name == "resume" and index == 2 else None).run()
    assert summary.cancelled and summary.phase == "resume" and summary.written == []
    assert len(_valid_frames(tmp_path)) == 4 and _leftovers(tmp_path) == []


def test_temporaries_of_a_killed_solve_are_removed_by_the_next(small, tmp_path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".s.{FIRST}.exr.tmp-{dead.pid}-0a1b2c3d.exr"
    running = tmp_path / f".s.{FIRST + 1}.exr.tmp-{os.getpid()}-1a1b2c3d.exr"  # a live process's write: left alone
    for path in (stale, running):
        path.write_bytes(b"half a frame")
        os.utime(path, (time.time() - 3600, time.time() - 3600))
    assert not ShotSolve(_settings(small, tmp_path)).run().cancelled
    assert not stale.exists() and running.exists()


def test_the_fit_stops_between_iterations() -> None:
    cancel = threading.Event()
    rng = np.random.default_rng(0)
    frames = [Observations(disparity=rng.uniform(1, 2, 40), inverse_depth=rng.uniform(1, 2, 40)) for _ in range(5)]
    assert solve_shot(frames, cancel=cancel).scale.shape == (5,)
    cancel.set()
    with pytest.raises(Cancelled):
        solve_shot(frames, cancel=cancel)


# ---------------------------------------------------------------------------------------- real subprocesses
def _start(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-m", "flashdepth_vfx", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _signal_when(proc: subprocess.Popen, sig: int, ready) -> tuple[list[dict], str, float]:
    """Read JSON events until ``ready(event)``, send ``sig``; returns (events, stderr, seconds from signal to exit)."""
    assert proc.stdout is not None
    events: list[dict] = []
    sent = None
    for line in proc.stdout:
        events.append(json.loads(line))
        if sent is None and ready(events[-1]):
            proc.send_signal(sig)
            sent = time.monotonic()
    proc.wait(timeout=120)
    assert proc.stderr is not None
    err = proc.stderr.read()
    assert sent is not None, ("the phase never started", err)
    return events, err, time.monotonic() - sent


def _cancelled_line(err: str, *words: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("cancelled: ") and "Traceback" not in err, err
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def _cli_args(shot: dict[str, str], output: Path) -> list[str]:
    return ["solve", shot["disparity"], "-o", str(output / "s.####.exr"), "--plates", shot["plates"], "--camera",
            shot["camera"], "--points", shot["points"], "--stabilize", "--position", "world", "--normals", "camera"]


@pytest.fixture(scope="module")
def large_reference(large, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("large-reference")
    assert not ShotSolve(_settings(large, out)).run().cancelled
    return out


@pytest.mark.parametrize(("sig", "phase"), [(signal.SIGINT, "stabilize"), (signal.SIGTERM, "write")],
                         ids=["SIGINT-stabilize", "SIGTERM-write"])
def test_a_signal_stops_the_solve_command(sig: int, phase: str, large, large_reference, tmp_path) -> None:
    proc = _start([*_cli_args(large, tmp_path), "--progress", "json"])
    if phase == "write":  # a few frames solved first
        events, err, seconds = _signal_when(proc, sig, lambda e: e["event"] == "solve" and e["index"] == 2)
    else:
        events, err, seconds = _signal_when(proc, sig, lambda e: e.get("phase") == phase)
    print(f"\n{signal.Signals(sig).name} during {phase}: exit {seconds:.2f} s after the signal")
    assert proc.returncode == 130
    _cancelled_line(err, PHASES[phase], "--resume")
    assert events[-1]["event"] == "cancelled" and PHASES[phase] in events[-1]["message"]
    assert _leftovers(tmp_path) == []
    kept = _valid_frames(tmp_path)
    assert events[-1]["written"] == len(kept)
    assert (2 <= len(kept) < 40) if phase == "write" else kept == []
    resume = _start([*_cli_args(large, tmp_path), "--resume"])
    _, err = resume.communicate(timeout=120)
    assert resume.returncode == 0 and f"wrote {40 - len(kept)} frames" in err, err
    _same_result(tmp_path, large_reference)


def test_a_signal_during_the_solve_after_a_render_exits_130_and_resume_finishes(tmp_path, checkpoint) -> None:
    """``render --camera --points``: SIGTERM once the solve has started; ``render --resume`` then finishes it (the
    stream skips every frame) with the frames an uninterrupted solve of the same raw disparity gives."""
    seq = render_sequence(SceneConfig(height=84, width=126, num_frames=30, seed=1_000_007, camera_motion="truck"))
    plates = write_plate_sequence(seq, tmp_path / "plates")
    camera = str(write_camera_usd(seq, tmp_path / "cam.usda"))
    points = str(write_points_obj(track_points(seq, 150, seed=2).positions, tmp_path / "tracks.obj"))
    out = tmp_path / "out"
    args = ["render", plates, "-o", str(out / "s.####.exr"), "--checkpoint", str(checkpoint), "--camera", camera,
            "--points", points, "--position", "camera", "--normals", "camera"]
    proc = _start([*args, "--progress", "json"])
    events, err, seconds = _signal_when(proc, signal.SIGTERM, lambda e: e["event"] == "solve_step")
    print(f"\nSIGTERM during the solve after a render: exit {seconds:.2f} s after the signal")
    assert proc.returncode == 130
    _cancelled_line(err, "--resume")
    assert [e["event"] for e in events].count("done") == 1 and events[-1]["event"] == "cancelled"
    assert not [p for p in out.iterdir() if p.name.startswith(".") and "tmp" in p.name]
    raw = sorted(out.glob("s_raw.*.exr"))
    assert len(raw) == 30 and len(list(out.glob("s.*.exr"))) < 30
    resume = _start([*args, "--resume", "-q"])
    _, err = resume.communicate(timeout=300)
    assert resume.returncode == 0, err
    reference = tmp_path / "reference"
    settings = SolveSettings(disparity=str(out / "s_raw.####.exr"), output=str(reference / "s.####.exr"),
                             plates=plates, camera=camera, points=(points,), position="camera", normals="camera",
                             mode="depth")
    assert not ShotSolve(settings).run().cancelled
    _same_result(out, reference)
