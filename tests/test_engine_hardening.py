"""The engine never loses, overwrites or silently corrupts a frame (issue 11, engine items).

Real plates, real depth EXRs, real snapshots on disk, real subprocesses for signals and bad colour configs.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import pytest
import torch
from safetensors.torch import load_file, save_file

from engine_helpers import plate_pixels, read_channel, write_plates, write_tiny_checkpoint
from flashdepth_vfx.engine import QuietEvents, Render, RenderSettings
from flashdepth_vfx.engine import decode, encode, pipeline
from flashdepth_vfx.errors import CheckpointError, ColourError, OutputError, PlateError
from flashdepth_vfx.model import load_checkpoint
from flashdepth_vfx.plates import find_sequence

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def plates(tmp_path) -> str:
    return write_plates(tmp_path / "plates", range(1001, 1007))


@pytest.fixture(scope="module")
def full(tmp_path_factory, checkpoint) -> dict[str, np.ndarray]:
    """Depth of an uninterrupted render of the ``plates`` shot (the plates are the same in every test)."""
    folder = tmp_path_factory.mktemp("full")
    _render(write_plates(folder / "plates", range(1001, 1007)), folder / "out", checkpoint)
    return _depth(folder / "out")


class Recorder(QuietEvents):
    """Keeps every event."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def start(self, *args) -> None:
        self.events.append(("start", *args))

    def frame(self, frame, index, total, path) -> None:
        self.events.append(("frame", frame))

    def warning(self, message, frame=None) -> None:
        self.events.append(("warning", message, frame))

    def done(self, written, output) -> None:
        self.events.append(("done", written))

    def warnings(self) -> list[str]:
        return [e[1] for e in self.events if e[0] == "warning"]


def _render(plates: str, out: Path, checkpoint: Path, output: str | None = None, **options):
    events = Recorder()
    settings = RenderSettings(plate=plates, output=output or str(out / "shot_depth.####.exr"),
                              checkpoint=str(checkpoint), **options)
    return Render(settings, events).run(), events


def _depth(folder: Path, channel: str = "depth.Z") -> dict[str, np.ndarray]:
    return {p.name: read_channel(p, channel) for p in sorted(folder.glob("shot_depth.*.exr"))}


def _assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys() and a
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def _rewrite_plate(path: Path, rgb: np.ndarray) -> None:
    """Replace a plate's pixels, keeping its header (windows, metadata)."""
    buf = oiio.ImageBuf(str(path))
    pixels = buf.get_pixels(oiio.FLOAT)
    pixels[..., :3] = rgb
    spec = buf.spec()
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), spec)
    assert out.write_image(pixels)
    out.close()


def _cli(*args: str, env: dict[str, str] | None = None, script: str | None = None) -> subprocess.Popen:
    command = [sys.executable, "-c", script, *args] if script else [sys.executable, "-m", "flashdepth_vfx", *args]
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)


# ---------------------------------------------------------------- 2: a failing stage ends the render at once
@pytest.mark.parametrize("stage", ["colour config", "plate read", "frame write"])
def test_a_failing_stage_ends_the_render_within_a_second(plates, tmp_path, checkpoint, monkeypatch, stage) -> None:
    failed_at: list[float] = []

    def failing(real):
        def call(*args, **kwargs):
            name = str(args[0]) if args else ""
            if stage == "colour config" or "1003" in name:
                failed_at.append(time.monotonic())
                raise ColourError("injected failure")
            return real(*args, **kwargs)
        return call

    module, target = {"colour config": (pipeline, "load_config"), "plate read": (decode, "read_plate"),
                      "frame write": (encode, "write_exr")}[stage]
    monkeypatch.setattr(module, target, failing(getattr(module, target)))
    outcome: list[BaseException] = []

    def body() -> None:
        try:
            _render(plates, tmp_path / "out", checkpoint)
        except BaseException as exc:  # noqa: BLE001
            outcome.append(exc)
            outcome.append(time.monotonic())  # type: ignore[arg-type]

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive(), f"the render hangs after a failure in the {stage}"
    assert isinstance(outcome[0], ColourError) and str(outcome[0]) == "injected failure"
    assert outcome[1] - failed_at[0] < 1.0  # type: ignore[operator]


@pytest.mark.parametrize("how", ["option", "environment"])
def test_a_bad_colour_config_is_one_line_and_an_error_event(plates, tmp_path, checkpoint, how) -> None:
    args = ["render", plates, "--checkpoint", str(checkpoint), "--progress", "json", "-o", str(tmp_path / "o" / "d.####.exr")]
    env = None
    if how == "option":
        args += ["--ocio-config", "/etc/passwd"]
    else:
        env = {"OCIO": "/etc/passwd"}
    proc = _cli(*args, env=env)
    try:
        out, err = proc.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("the render hangs on a bad OCIO config")
    assert proc.returncode == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "/etc/passwd" in lines[0], err
    events = [json.loads(line) for line in out.splitlines()]
    assert events[-1]["event"] == "error" and "/etc/passwd" in events[-1]["message"]
    assert not list((tmp_path / "o").glob("*.exr"))


STUCK_READER = """
import sys, time
from flashdepth_vfx.engine import decode
real = decode.read_plate
def stuck(path, *args, **kwargs):
    if str(path).endswith("1004.exr"):
        time.sleep(600)  # a plate on a dead network mount
    return real(path, *args, **kwargs)
decode.read_plate = stuck
from flashdepth_vfx.cli import main
sys.argv = ["flashdepth-vfx", *sys.argv[1:]]
main()
"""


def test_sigterm_works_while_a_stage_is_stuck(plates, tmp_path, checkpoint) -> None:
    proc = _cli("render", plates, "--checkpoint", str(checkpoint), "--progress", "json",
                "-o", str(tmp_path / "o" / "shot_depth.####.exr"), script=STUCK_READER)
    assert proc.stdout is not None
    watchdog = threading.Timer(120, proc.kill)  # the stuck read lasts 600 s: never wait for it
    watchdog.start()
    events, signalled = [], 0.0
    try:
        for line in proc.stdout:
            events.append(json.loads(line))
            if events[-1]["event"] == "frame" and events[-1]["frame"] == 1003:
                time.sleep(0.3)  # the model thread now waits on the stuck reader
                signalled = time.monotonic()
                proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=20)
    finally:
        watchdog.cancel()
    assert signalled and code == 130, "SIGTERM was ignored while the reader was stuck"
    assert time.monotonic() - signalled < 5
    assert events[-1]["event"] == "cancelled" and events[-1]["written"] == 3


def test_ctrl_c_while_resume_checks_finished_frames_stops_at_once(plates, tmp_path, checkpoint, monkeypatch) -> None:
    from flashdepth_vfx.engine import resume

    out = tmp_path / "out"
    _render(plates, out, checkpoint)
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("shot_depth.*.exr")}
    cancel = threading.Event()
    decoded: list[Path] = []
    real = resume.read_channels

    def decode(path, *args, **kwargs):
        decoded.append(path)
        cancel.set()  # Ctrl-C while the first finished frame is being decoded
        return real(path, *args, **kwargs)

    monkeypatch.setattr(resume, "read_channels", decode)
    settings = RenderSettings(plate=plates, output=str(out / "shot_depth.####.exr"), checkpoint=str(checkpoint),
                              resume=True)
    summary = Render(settings, Recorder(), cancel).run()
    assert len(decoded) == 1 and summary.cancelled and summary.written == []
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("shot_depth.*.exr")} == before


# ---------------------------------------------------------------- 3: what resume counts as done
@pytest.mark.parametrize("first, second", [
    ({"mode": "disparity"}, {"mode": "depth"}),
    ({"mode": "depth"}, {"mode": "normalized"}),
    ({"depth_scale": 100.0}, {"depth_scale": 10.0}),
    ({"channel": "depth.Z"}, {"channel": "Z"}),
    ({}, {"half": True}),
    ({}, {"passthrough": True}),
])
def test_resume_rerenders_frames_written_with_other_output_settings(tmp_path, checkpoint, first, second) -> None:
    plates = write_plates(tmp_path / "plates", range(1, 4))
    _render(plates, tmp_path / "out", checkpoint, **first)
    summary, _ = _render(plates, tmp_path / "out", checkpoint, resume=True, **second)
    assert summary.skipped == [] and len(summary.written) == 3
    _render(plates, tmp_path / "fresh", checkpoint, **second)
    channel = second.get("channel", "depth.Z")
    _assert_same(_depth(tmp_path / "out", channel), _depth(tmp_path / "fresh", channel))


def test_resume_rerenders_frames_made_with_another_ocio_config_from_the_environment(tmp_path, checkpoint,
                                                                                     monkeypatch) -> None:
    plates = write_plates(tmp_path / "plates", range(1, 3))
    monkeypatch.delenv("OCIO", raising=False)
    _render(plates, tmp_path / "out", checkpoint)
    assert _render(plates, tmp_path / "out", checkpoint, resume=True)[0].skipped == [1, 2]
    monkeypatch.setenv("OCIO", "ocio://cg-config-latest")
    assert _render(plates, tmp_path / "out", checkpoint, resume=True)[0].skipped == []


def test_resume_rerenders_a_changed_plate_and_the_frames_after_it(plates, tmp_path, checkpoint) -> None:
    _render(plates, tmp_path / "out", checkpoint)
    _rewrite_plate(Path(plates.replace("####", "1004")), plate_pixels(1050))  # a re-delivered plate
    summary, _ = _render(plates, tmp_path / "out", checkpoint, resume=True)
    # the temporal state carries 1004 into every later frame: those are stale too
    assert summary.skipped == [1001, 1002, 1003]
    assert [p.name for p in summary.written] == [f"shot_depth.{f}.exr" for f in (1004, 1005, 1006)]
    _render(plates, tmp_path / "fresh", checkpoint)
    _assert_same(_depth(tmp_path / "out"), _depth(tmp_path / "fresh"))


def test_resume_rerenders_frames_whose_pixels_do_not_decode(plates, tmp_path, checkpoint) -> None:
    out = tmp_path / "out"
    _render(plates, out, checkpoint)
    expected = _depth(out)
    truncated, garbage = out / "shot_depth.1002.exr", out / "shot_depth.1005.exr"
    data = truncated.read_bytes()
    truncated.write_bytes(data[: len(data) * 2 // 3])
    data = garbage.read_bytes()
    half = len(data) // 2
    garbage.write_bytes(data[:half] + np.random.default_rng(0).bytes(len(data) - half))
    for path in (truncated, garbage):  # the header is intact: only decoding the pixels tells
        assert oiio.ImageInput.open(str(path)).spec().getattribute("flashdepth:frame") is not None
    summary, _ = _render(plates, out, checkpoint, resume=True)
    assert sorted(p.name for p in summary.written) == [truncated.name, garbage.name]
    _assert_same(_depth(out), expected)


# ---------------------------------------------------------------- 5: cuts stay exact across snapshots
def _cut_plates(folder: Path) -> str:
    plates = write_plates(folder, range(1, 7))
    for f in (4, 5, 6):  # another shot: noisy, bright
        rgb = np.random.default_rng(f).random((*plate_pixels(f).shape[:2], 3)).astype(np.float32) * 4
        _rewrite_plate(folder / f"shot.{f:04d}.exr", rgb)
    return plates


def test_reset_on_cut_is_exact_after_a_snapshot(tmp_path, checkpoint) -> None:
    plates = _cut_plates(tmp_path / "plates")
    _, events = _render(plates, tmp_path / "full", checkpoint, reset_on_cut=True)
    assert [e[2] for e in events.events if e[0] == "warning"] == [4]
    full = _depth(tmp_path / "full")

    _render(plates, tmp_path / "chunks", checkpoint, reset_on_cut=True, frames="1-3")  # snapshot after 3
    _, events = _render(plates, tmp_path / "chunks", checkpoint, reset_on_cut=True, frames="4-6")
    assert [e[2] for e in events.events if e[0] == "warning"] == [4]
    _assert_same(_depth(tmp_path / "chunks"), full)

    resumed = tmp_path / "resumed"
    _render(plates, resumed, checkpoint, reset_on_cut=True, snapshot_every=3)
    for f in (4, 5, 6):
        (resumed / f"shot_depth.{f:04d}.exr").unlink()
    summary, _ = _render(plates, resumed, checkpoint, reset_on_cut=True, snapshot_every=3, resume=True)
    assert summary.skipped == [1, 2, 3]
    _assert_same(_depth(resumed), full)


# ---------------------------------------------------------------- 6: snapshots are validated
def _damage(path: Path, how: str, good: Path) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "garbage":
        path.write_bytes(np.random.default_rng(1).bytes(len(data)))
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "directory":
        path.unlink()
        path.mkdir()
    elif how in ("wrong shape", "nan", "flipped value", "no checksum"):
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata()
        tensors = load_file(str(path))
        if how == "wrong shape":
            tensors = {k: torch.zeros(2, 3) for k in tensors if k.startswith("state.")}
        elif how == "nan":
            tensors["state.0"] = torch.full_like(tensors["state.0"], float("nan"))
        elif how == "no checksum":  # as a tool other than this release would write it
            meta = {k: v for k, v in meta.items() if k != "checksum"}
        else:
            tensors["state.0"] = tensors["state.0"].clone()
            tensors["state.0"].view(-1)[7] += 1.0
        save_file(tensors, str(path), metadata=meta)
    elif how == "mislabelled":  # a sound snapshot of another frame under this frame's name
        shutil.copyfile(good, path)


@pytest.mark.parametrize("how", ["truncated", "garbage", "empty", "directory", "wrong shape", "nan", "flipped value",
                                 "mislabelled", "no checksum"])
def test_a_bad_snapshot_is_named_and_an_earlier_one_used(plates, tmp_path, checkpoint, full, how) -> None:
    out = tmp_path / "out"
    _render(plates, out, checkpoint, frames="1001-1004", snapshot_every=2)
    folder = next((out / ".flashdepth").iterdir())
    assert sorted(p.name for p in folder.iterdir()) == ["state.1002.safetensors", "state.1004.safetensors"]
    _damage(folder / "state.1004.safetensors", how, folder / "state.1002.safetensors")
    _, events = _render(plates, out, checkpoint, frames="1005-1006", snapshot_every=2)
    bad = [w for w in events.warnings() if "state.1004.safetensors" in w and "unusable" in w]
    assert len(bad) == 1, events.warnings()
    assert "the same depth" in bad[0] and "delete" in bad[0]  # what it costs, and what to do
    _assert_same(_depth(out), full)
    if how != "directory":  # the render replaced the file as it passed frame 1004: no warning the next time
        assert not [w for w in _render(plates, out, checkpoint, frames="1005-1006", snapshot_every=2)[1].warnings()
                    if "unusable" in w]


def test_every_snapshot_bad_falls_back_to_the_shot_start(plates, tmp_path, checkpoint, full) -> None:
    out = tmp_path / "out"
    _render(plates, out, checkpoint, frames="1001-1004", snapshot_every=2)
    for path in next((out / ".flashdepth").iterdir()).iterdir():
        path.write_bytes(b"\0" * 100)
    _, events = _render(plates, out, checkpoint, frames="1005-1006")
    assert len(events.warnings()) == 2
    _assert_same(_depth(out), full)


def test_snapshots_of_changed_plates_are_not_used(plates, tmp_path, checkpoint) -> None:
    out = tmp_path / "out"
    _render(plates, out, checkpoint, frames="1001-1004", snapshot_every=2)
    _rewrite_plate(Path(plates.replace("####", "1003")), plate_pixels(1040))
    _render(plates, out, checkpoint, frames="1005-1006")
    _render(plates, tmp_path / "full", checkpoint)
    fresh, chunked = _depth(tmp_path / "full"), _depth(out)
    for name in ("shot_depth.1005.exr", "shot_depth.1006.exr"):
        np.testing.assert_array_equal(chunked[name], fresh[name], err_msg=name)


# ---------------------------------------------------------------- 7: normalized partial reruns
@pytest.mark.parametrize("resume", [False, True])
def test_normalized_partial_rerun_keeps_the_shot_range(plates, tmp_path, checkpoint, resume) -> None:
    out = tmp_path / "out"
    _render(plates, out, checkpoint, mode="normalized")
    before = _depth(out)
    ranges = {p.name: oiio.ImageInput.open(str(p)).spec().getattribute("flashdepth:range_max")
              for p in out.glob("shot_depth.*.exr")}
    _render(plates, out, checkpoint, mode="normalized", frames="1002-1003", resume=resume)
    _assert_same(_depth(out), before)
    for p in out.glob("shot_depth.*.exr"):
        assert oiio.ImageInput.open(str(p)).spec().getattribute("flashdepth:range_max") == ranges[p.name]


# ---------------------------------------------------------------- 8: checkpoints with NaN / Inf weights
def test_a_checkpoint_with_nonfinite_weights_is_refused(tmp_path) -> None:
    path = write_tiny_checkpoint(tmp_path / "tiny.safetensors")
    tensors = load_file(str(path))
    names = sorted(k for k, v in tensors.items() if v.is_floating_point() and v.numel() > 4)[:2]
    tensors[names[0]].view(-1)[3] = float("nan")
    tensors[names[1]].view(-1)[0] = float("inf")
    save_file(tensors, str(path))
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message and all(n in message for n in names)
    assert "NaN" in message


# ---------------------------------------------------------------- 10: temporaries, full disk, single file
def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_temporaries_of_dead_renders_are_removed(plates, tmp_path, checkpoint) -> None:
    out = tmp_path / "out"
    _render(plates, out, checkpoint, frames="1001-1002")
    dead, alive = _dead_pid(), os.getpid()
    long_ago = time.time() - 3600
    stale = out / f".shot_depth.1003.exr.tmp-{dead}-0a1b2c3d.exr"
    in_flight_elsewhere = out / f".shot_depth.1004.exr.tmp-{dead}-1a1b2c3d.exr"  # fresh: maybe another host's
    running = out / f".shot_depth.1005.exr.tmp-{alive}-2a1b2c3d.exr"
    not_ours = out / f".other.1003.exr.tmp-{dead}-3a1b2c3d.exr"
    snapshot_folder = next((out / ".flashdepth").iterdir())
    stale_snapshot = snapshot_folder / f".state.1003.tmp-{dead}"
    for path in (stale, in_flight_elsewhere, running, not_ours, stale_snapshot):
        path.write_bytes(b"half a frame")
    for path in (stale, running, not_ours, stale_snapshot):
        os.utime(path, (long_ago, long_ago))
    _render(plates, out, checkpoint, frames="1003")
    assert not stale.exists() and not stale_snapshot.exists()
    assert in_flight_elsewhere.exists() and running.exists() and not_ours.exists()


def test_a_full_disk_while_saving_a_snapshot_is_one_clean_line(plates, tmp_path, checkpoint) -> None:
    out = tmp_path / "out"
    _render(plates, out, checkpoint, frames="1001-1002")
    folder = next((out / ".flashdepth").iterdir())
    (folder / f".state.1004.tmp-{os.getpid()}").symlink_to("/dev/full")  # writes there fail with ENOSPC
    with pytest.raises(OutputError) as info:
        _render(plates, out, checkpoint, frames="1003-1004")
    message = str(info.value)
    assert "\n" not in message and "No space left on device" in message and "state.1004" in message
    assert not (folder / "state.1004.safetensors").exists()


def test_a_single_file_output_for_one_frame_of_a_sequence(plates, tmp_path, checkpoint, full) -> None:
    single = tmp_path / "single.exr"
    summary, _ = _render(plates, tmp_path, checkpoint, output=str(single), frames="1003")
    assert summary.written == [single]
    np.testing.assert_array_equal(read_channel(single, "depth.Z"), full["shot_depth.1003.exr"])
    with pytest.raises(OutputError, match="but 2 frames will be written"):
        _render(plates, tmp_path, checkpoint, output=str(single), frames="1003-1004")


# ---------------------------------------------------------------- 11: a folder holding plates and their depth
def test_a_folder_input_ignores_the_projects_own_outputs(plates, tmp_path, checkpoint) -> None:
    folder = tmp_path / "plates"
    settings = RenderSettings(plate=plates, checkpoint=str(checkpoint), frames="1001-1002")
    Render(settings, Recorder()).run()  # default output: beside the plates
    assert len(list(folder.glob("shot_depth.*.exr"))) == 2
    assert find_sequence(str(folder)).display_name == "shot.####.exr"
    summary = Render(RenderSettings(plate=str(folder), checkpoint=str(checkpoint), frames="1003"), Recorder()).run()
    assert [p.name for p in summary.written] == ["shot_depth.1003.exr"]
    for path in folder.glob("shot_depth.*.exr"):
        path.rename(folder / path.name.replace("shot_depth", "only"))
    (folder / "sub").mkdir()
    for path in folder.glob("only.*.exr"):
        path.rename(folder / "sub" / path.name)
    with pytest.raises(PlateError, match="only depth files written by flashdepth-vfx"):
        find_sequence(str(folder / "sub"))
