"""The shot solve as a hostile user drives it (issue 11's rule: never lose, overwrite or silently falsify a frame):
plates given as the output, option values that would write NaN or sky everywhere, a passthrough channel the solve
writes too, inputs changed between runs or during one, damaged solved frames, vanished raw frames. Real CLI runs on a
small procedural shot; each case ends in one line naming the file or option, or in frames equal to a fresh solve."""
from __future__ import annotations

import hashlib
import os
import shutil
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from engine_helpers import one_line_error, run_cli, write_plates
from flashdepth_vfx.data import SceneConfig, render_sequence, write_plate_sequence
from flashdepth_vfx.data.drift import inject_drift
from flashdepth_vfx.data.matchmove import track_points, write_camera_usd, write_points_obj
from flashdepth_vfx.plates import probe, read_channels, write_exr
from flashdepth_vfx.solve.run import ShotSolve, SolveSettings

FIRST, FRAMES = 1001, 6


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """Drifted true disparity (with a plate-like RGB, as render --passthrough writes it), plates, camera, points."""
    folder = tmp_path_factory.mktemp("hostile_shot")
    seq = render_sequence(SceneConfig(height=63, width=112, num_frames=FRAMES, seed=1_000_007, camera_motion="truck"))
    disparity, _ = inject_drift(1.0 / seq.depth, seed=5)
    for index, frame in enumerate(disparity):
        grey = np.full_like(frame, 0.25)
        write_exr(folder / f"disp.{FIRST + index:04d}.exr", {"depth.Z": frame, "R": grey, "G": grey, "B": grey})
    write_plate_sequence(seq, folder, "plate", first_frame=FIRST)
    write_camera_usd(seq, folder / "cam.usda")
    write_points_obj(track_points(seq, 150, seed=2).positions, folder / "tracks.obj")
    return folder


@pytest.fixture
def shot(source, tmp_path_factory) -> dict[str, str]:
    """A private copy of the shot (tests change its files), outside the test's tmp_path (where outputs go)."""
    folder = tmp_path_factory.mktemp("shot") / "shot"
    shutil.copytree(source, folder)
    return {"folder": str(folder), "disparity": str(folder / "disp.####.exr"), "plates": str(folder / "plate.####.exr"),
            "camera": str(folder / "cam.usda"), "points": str(folder / "tracks.obj")}


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def _metric(shot: dict[str, str], out: Path, *more: str) -> list[str]:
    return ["solve", shot["disparity"], "-o", str(out / "s.####.exr"), "--camera", shot["camera"],
            "--points", shot["points"], *more]


def test_the_plates_are_never_an_output_even_with_overwrite(shot) -> None:
    folder = Path(shot["folder"])
    before = _digest(folder)
    for output in (shot["plates"], str(folder / "plate.%04d.exr")):
        code, err = run_cli("solve", shot["disparity"], "--plates", shot["plates"], "--stabilize", "-o", output,
                            "--overwrite")
        assert code == 1
        one_line_error(err, "plate.1001.exr is also an input", "choose another output")
    code, err = run_cli(*_metric(shot, folder / "out"), "--plates", shot["plates"],
                        "--report", str(folder / "plate.1001.exr.json"), "--overwrite")  # its chart: plate.1001.exr.png
    assert code == 0, err  # a report beside the plates is fine; the plates themselves are never written
    assert {k: v for k, v in _digest(folder).items() if k in before} == before


@pytest.mark.parametrize("option, value", [("--smoothness", "nan"), ("--smoothness", "-1"), ("--far", "nan"),
                                           ("--far", "-5"), ("--frame-offset", "nan"), ("--focal", "0"),
                                           ("--depth-scale", "nan"), ("--depth-scale", "0")])
def test_option_values_that_would_write_nan_or_sky_are_usage_errors(shot, tmp_path, option, value) -> None:
    code, err = run_cli(*_metric(shot, tmp_path), option, value)
    assert code == 2
    one_line_error(err, f"{option} ")
    assert not list(tmp_path.iterdir())


def test_an_out_channel_that_p_or_n_would_overwrite_is_a_usage_error(shot, tmp_path) -> None:
    for option, space, channel in (("--position", "world", "P.R"), ("--normals", "camera", "N.B")):
        code, err = run_cli(*_metric(shot, tmp_path), option, space, "--out-channel", channel)
        assert code == 2
        one_line_error(err, f"--out-channel {channel} is a channel {option} writes")
        assert not list(tmp_path.iterdir())


def test_render_refuses_them_before_the_stream(shot, tmp_path, checkpoint) -> None:
    code, err = run_cli("render", shot["plates"], "-o", str(tmp_path / "d.####.exr"), "--checkpoint", str(checkpoint),
                        "--camera", shot["camera"], "--points", shot["points"], "--smoothness", "nan")
    assert code == 2
    one_line_error(err, "--smoothness nan")
    assert not list(tmp_path.iterdir())


def test_passthrough_never_replaces_a_carried_channel(shot, tmp_path) -> None:
    code, err = run_cli("solve", shot["disparity"], "--plates", shot["plates"], "--stabilize", "--passthrough",
                        "--out-channel", "R", "-o", str(tmp_path / "s.####.exr"))
    assert code == 2
    one_line_error(err, "--passthrough carries R from", "disp.1001.exr", "--out-channel")
    assert not list(tmp_path.iterdir())
    code, err = run_cli("solve", shot["disparity"], "--plates", shot["plates"], "--stabilize", "--passthrough",
                        "-o", str(tmp_path / "s.####.exr"))
    assert code == 0, err
    channels = read_channels(tmp_path / "s.1003.exr")
    assert sorted(channels) == ["B", "G", "R", "depth.Z"] and np.all(channels["R"] == 0.25)


def test_resume_redoes_the_shot_when_the_plates_changed(shot, tmp_path) -> None:
    """The stabiliser's flow runs on the plates: re-delivered plates make every stabilised frame stale."""
    args = ["solve", shot["disparity"], "--plates", shot["plates"], "--stabilize", "-o", str(tmp_path / "s.####.exr")]
    assert run_cli(*args)[0] == 0
    other = render_sequence(SceneConfig(height=63, width=112, num_frames=FRAMES, seed=77, camera_motion="dolly"))
    write_plate_sequence(other, shot["folder"], "plate", first_frame=FIRST)
    code, err = run_cli(*args, "--resume")
    assert code == 0 and f"wrote {FRAMES} frames" in err and "already solved" not in err, err
    fresh = tmp_path / "fresh"
    assert run_cli(*args[:-1], str(fresh / "s.####.exr"))[0] == 0
    for frame in range(FIRST, FIRST + FRAMES):
        assert np.array_equal(read_channels(tmp_path / f"s.{frame}.exr")["depth.Z"],
                              read_channels(fresh / f"s.{frame}.exr")["depth.Z"])


def test_a_raw_frame_changed_while_the_solve_runs_is_redone_by_resume(shot, tmp_path) -> None:
    """The fit used the old raw frame; the frames written from it must not count as solved from the new one."""
    raw = Path(shot["folder"]) / "disp.1004.exr"
    settings = SolveSettings(disparity=shot["disparity"], output=str(tmp_path / "s.####.exr"), camera=shot["camera"],
                             points=(shot["points"],))

    def rerender(phase: str, index: int, total: int) -> None:
        if phase == "fit":  # after the first pass read every raw frame
            channels = read_channels(raw)
            write_exr(raw, {**channels, "depth.Z": channels["depth.Z"] * 1.5})

    summary = ShotSolve(settings, phase=rerender).run()
    assert len(summary.written) == FRAMES
    summary = ShotSolve(SolveSettings(**{**settings.__dict__, "resume": True})).run()
    assert summary.skipped == [] and len(summary.written) == FRAMES


def test_resume_redoes_a_truncated_solved_frame(shot, tmp_path) -> None:
    args = _metric(shot, tmp_path)
    assert run_cli(*args)[0] == 0
    damaged = tmp_path / "s.1003.exr"
    good = read_channels(damaged)["depth.Z"]
    data = damaged.read_bytes()
    damaged.write_bytes(data[: len(data) * 2 // 3])  # the header intact, the pixels cut (a copy that stopped)
    code, err = run_cli(*args, "--resume")
    assert code == 0 and "wrote 1 frames" in err and f"{FRAMES - 1} already solved" in err, err
    assert np.array_equal(read_channels(damaged)["depth.Z"], good)


def test_a_missing_raw_frame_says_what_the_solve_can_do(shot, tmp_path) -> None:
    (Path(shot["folder"]) / "disp.1004.exr").unlink()
    code, err = run_cli(*_metric(shot, tmp_path))
    assert code == 1
    line = one_line_error(err, "disp.", "1004", "--frames")
    assert "--missing" not in line  # solve has no such option
    assert not list(tmp_path.iterdir())


def test_plates_not_covering_the_shot_are_named_without_blaming_frames(shot, tmp_path) -> None:
    (Path(shot["folder"]) / "plate.1006.exr").unlink()
    (Path(shot["folder"]) / "plate.1003.exr").unlink()
    args = ["solve", shot["disparity"], "--plates", shot["plates"], "--stabilize", "-o", str(tmp_path / "s.####.exr")]
    code, err = run_cli(*args)
    assert code == 1
    line = one_line_error(err, "plate.####.exr has no plate for frames 1003, 1006", "must cover the disparity frames",
                          "--missing hold|black")
    assert "--frames" not in line  # none was given
    assert not list(tmp_path.iterdir())
    for policy in ("hold", "black"):  # as render --missing rendered the gaps
        code, err = run_cli(*args, "--missing", policy, "--resume")
        assert code == 0 and f"wrote {FRAMES} frames" in err, err  # another policy, another solve


def test_render_missing_hold_then_solve(tmp_path, checkpoint) -> None:
    """render --missing hold renders past a gap in the plates; the solve after it (cut detection on the plates)
    failed on that gap once the render was done."""
    plates = write_plates(tmp_path / "plates", range(1, 5))
    (tmp_path / "plates" / "shot.0003.exr").unlink()
    anchors = tmp_path / "anchors.csv"
    anchors.write_text("frame,x,y,distance\n" + "".join(f"{f},{x},{y},{d}\n" for f in range(1, 5)
                                                          for x, y, d in ((10, 10, 4.0), (30, 40, 6.0), (60, 20, 9.0))))
    out = tmp_path / "out"
    code, err = run_cli("render", plates, "-o", str(out / "shot.####.exr"), "--checkpoint", str(checkpoint),
                        "--progress", "none", "--missing", "hold", "--fov", "50", "--anchors", str(anchors))
    assert code == 0, err
    assert sorted(p.name for p in out.glob("shot.*.exr")) == [f"shot.000{f}.exr" for f in range(1, 5)]


def test_a_second_signal_stops_at_once_with_one_line(capfd) -> None:
    """The first Ctrl-C / SIGTERM asks the command to stop at its next cancel point; a second one exits at once
    (130), saying so on one line (it used to exit without a word, a terminal user left guessing)."""
    from flashdepth_vfx.cli import cancel_on_signals

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        cancel = cancel_on_signals()
        os.kill(os.getpid(), signal.SIGTERM)
        assert cancel.wait(2)
        with pytest.raises(SystemExit) as stopped:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(2)
        assert stopped.value.code == 130
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and err.startswith("cancelled: stopped at once by a second signal") and "--resume" in err


def test_render_resume_onto_solved_frames_renders_them(tmp_path, checkpoint) -> None:
    """Solved frames used to carry the raw render's resume keys: ``render --resume`` of the same plates and settings
    into the solved frames' pattern (the artist dropping the solve) kept the solved 1/Z as its own raw disparity."""
    plates = write_plates(tmp_path / "plates", range(1, 4))
    anchors = tmp_path / "anchors.csv"
    anchors.write_text("frame,x,y,distance\n" + "".join(f"{f},{x},{y},{d}\n" for f in (1, 2, 3)
                                                          for x, y, d in ((10, 10, 4.0), (30, 40, 6.0), (60, 20, 9.0))))
    out = tmp_path / "out"
    render = ["render", plates, "-o", str(out / "shot.####.exr"), "--checkpoint", str(checkpoint), "--progress",
              "none", "--mode", "disparity"]
    code, err = run_cli(*render, "--fov", "50", "--anchors", str(anchors))
    assert code == 0, err
    raw = read_channels(out / "shot_raw.0002.exr")["depth.Z"]
    assert not np.array_equal(read_channels(out / "shot.0002.exr")["depth.Z"], raw)
    code, err = run_cli(*render, "--resume")
    assert code == 0, err
    assert np.array_equal(read_channels(out / "shot.0002.exr")["depth.Z"], raw)  # rendered, not kept


def test_raw_frames_of_two_renders_are_named_in_a_warning(shot, tmp_path) -> None:
    """A render stopped half way over an older one with other settings (or a farm solve forced after failed chunks)
    leaves raw frames of two renders: the solve says which frames, and what to do."""
    for frame in range(FIRST, FIRST + FRAMES):
        path = Path(shot["folder"]) / f"disp.{frame}.exr"
        key = "model-L" if frame in (1004, 1005) else "model-S"
        write_exr(path, read_channels(path), metadata={"flashdepth:output_key": key})
    code, err = run_cli(*_metric(shot, tmp_path))
    assert code == 0, err
    warning = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert len(warning) == 1 and "disp.####.exr frames 1004-1005 were rendered with other settings" in warning[0]
    assert "render --resume" in warning[0]
    assert "flashdepth:output_key" not in probe(tmp_path / "s.1004.exr").metadata


def test_resume_redoes_the_shot_when_the_camera_changed_in_a_usd_sublayer(shot, tmp_path) -> None:
    """The shot camera is a layer that only refers to the matchmove's latest track: a new track changes no file the
    command names, and the resumed frames must still follow it."""
    folder = Path(shot["folder"])
    (folder / "cam.usda").rename(folder / "track.usda")
    (folder / "cam.usda").write_text("#usda 1.0\n(\n    subLayers = [@./track.usda@]\n)\n")
    args = _metric(shot, tmp_path)
    assert run_cli(*args)[0] == 0
    retrack = render_sequence(SceneConfig(height=63, width=112, num_frames=FRAMES, seed=1_000_007,
                                          camera_motion="dolly"))
    write_camera_usd(retrack, folder / "track.usda")
    code, err = run_cli(*args, "--resume")
    assert code == 0 and f"wrote {FRAMES} frames" in err and "already solved" not in err, err
    fresh = tmp_path / "fresh"
    assert run_cli(*_metric(shot, fresh))[0] == 0
    for frame in range(FIRST, FIRST + FRAMES):
        assert np.array_equal(read_channels(tmp_path / f"s.{frame}.exr")["depth.Z"],
                              read_channels(fresh / f"s.{frame}.exr")["depth.Z"])


def test_resume_redoes_the_stabilised_shot_under_another_colour_config(shot, tmp_path, monkeypatch) -> None:
    """The flow runs on the plates as the OCIO config ($OCIO) shows them: another config, other frames."""
    args = ["solve", shot["disparity"], "--plates", shot["plates"], "--stabilize", "-o", str(tmp_path / "s.####.exr")]
    monkeypatch.setenv("OCIO", "ocio://studio-config-latest")
    assert run_cli(*args)[0] == 0
    code, err = run_cli(*args, "--resume")
    assert code == 0 and f"{FRAMES} already solved" in err, err
    monkeypatch.setenv("OCIO", "ocio://cg-config-latest")
    code, err = run_cli(*args, "--resume")
    assert code == 0 and f"wrote {FRAMES} frames" in err and "already solved" not in err, err


def test_solved_frames_of_another_fit_left_in_the_output_are_named(shot, tmp_path) -> None:
    """A ``--frames`` part of a solved shot is fitted on its own, and a frame whose raw file is gone is not solved
    again: what stays from the earlier run is named (kept, never deleted), so nobody comps a mix of fits unawares."""
    args = _metric(shot, tmp_path)
    assert run_cli(*args)[0] == 0
    code, err = run_cli(*args, "--frames", "1002-1004")
    assert code == 0, err
    warning = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert len(warning) == 1 and "s.%04d.exr frames 1001, 1005-1006 come from another solve run" in warning[0], err
    code, err = run_cli(*args)  # the whole shot again: one fit, no warning
    assert code == 0 and "warning" not in err, err
    (Path(shot["folder"]) / "disp.1006.exr").unlink()  # the shot trimmed
    code, err = run_cli(*args, "--resume")
    assert code == 0 and "s.%04d.exr frames 1006 come from another solve run" in err, err
    assert (tmp_path / "s.1006.exr").is_file()


def test_the_plates_are_read_as_the_render_reads_them(shot, tmp_path, checkpoint) -> None:
    """--stabilize's flow (and the cut detector) see the plates through render's --part/--layer/--colorspace/
    --ocio-config/--display/--view: the solve after a render used to read the default layer through $OCIO."""
    folder = Path(shot["folder"])
    layered = tmp_path / "layered"
    noise = np.random.default_rng(3)
    for frame in range(FIRST, FIRST + FRAMES):
        beauty = read_channels(folder / f"plate.{frame}.exr")
        other = {c: noise.random(beauty["R"].shape, np.float32) for c in ("R", "G", "B")}  # not the plate
        write_exr(layered / f"plate.{frame}.exr", {**other, **{f"beauty.{c}": beauty[c] for c in ("R", "G", "B")}})
    solve = ["solve", shot["disparity"], "--stabilize", "--no-detect-cuts"]
    assert run_cli(*solve, "--plates", shot["plates"], "-o", str(tmp_path / "clean/s.####.exr"))[0] == 0
    code, err = run_cli(*solve, "--plates", str(layered / "plate.####.exr"), "--layer", "beauty",
                        "--colorspace", probe(folder / f"plate.{FIRST}.exr").colorspace,  # the clean plates' hint
                        "-o", str(tmp_path / "layer/s.####.exr"))
    assert code == 0, err
    for frame in range(FIRST, FIRST + FRAMES):
        assert np.array_equal(read_channels(tmp_path / f"layer/s.{frame}.exr")["depth.Z"],
                              read_channels(tmp_path / f"clean/s.{frame}.exr")["depth.Z"])
    from flashdepth_vfx.solve.after_render import plan_solve

    render = {"output": str(tmp_path / "d.####.exr"), "layer": "beauty", "part": "0", "colorspace": "ACEScg",
              "ocio_config": "ocio://cg-config-latest", "display": "sRGB - Display", "view": "ACES 2.0 - SDR 100 nits (Rec.709)"}
    _, settings = plan_solve(str(layered / "plate.####.exr"), render, {"stabilize": True})
    assert {key: getattr(settings, key) for key in render if key != "output"} == {k: v for k, v in render.items()
                                                                                   if k != "output"}


def test_half_floats_too_small_for_the_scene_units_are_named(source, tmp_path) -> None:
    """A scene in millimetres puts anything beyond 65 m past a half float: --half writes it as infinity; the solve
    names those frames (it used to say nothing)."""
    seq = render_sequence(SceneConfig(height=63, width=112, num_frames=FRAMES, seed=1_000_007, camera_motion="truck"))
    anchors = tmp_path / "anchors_mm.csv"
    rows = [f"{FIRST + t},{x + 0.5},{y + 0.5},{1000 * seq.depth[t, y, x]}" for t in range(FRAMES)
            for y, x in ((40, 20), (50, 90), (10, 60))]
    anchors.write_text("frame,x,y,z\n" + "\n".join(rows) + "\n")
    args = ["solve", str(source / "disp.####.exr"), "--anchors", str(anchors)]
    code, err = run_cli(*args, "-o", str(tmp_path / "h/s.####.exr"), "--half")
    assert code == 0, err
    far = [f for f in range(FIRST, FIRST + FRAMES) if not np.isfinite(read_channels(tmp_path / f"h/s.{f}.exr")["depth.Z"]).all()]
    assert far, "the test needs depth beyond 65504 mm"
    warning = [line for line in err.splitlines() if "beyond a half float" in line]
    assert len(warning) == 1 and warning[0].startswith("warning: frames ") and "without --half" in warning[0], err
    code, err = run_cli(*args, "-o", str(tmp_path / "f/s.####.exr"))
    assert code == 0 and "half float" not in err, err


def test_far_surfaces_of_a_scene_in_small_units_are_not_clamped(source, tmp_path) -> None:
    """The sky depth was a fixed 10000 scene units: in millimetres (or centimetres, Maya's default) every surface
    beyond 10 m (100 m) became 'sky'. The default now follows the references' scale: 1000 times their median depth."""
    seq = render_sequence(SceneConfig(height=63, width=112, num_frames=FRAMES, seed=1_000_007, camera_motion="truck"))
    for scale in (1.0, 1000.0):  # metres, millimetres
        anchors = tmp_path / f"anchors_{scale:g}.csv"
        rows = [f"{FIRST + t},{x + 0.5},{y + 0.5},{scale * seq.depth[t, y, x]}" for t in range(FRAMES)
                for y, x in ((40, 20), (50, 90), (10, 60))]
        anchors.write_text("frame,x,y,z\n" + "\n".join(rows) + "\n")
        out = tmp_path / f"s{scale:g}"
        code, err = run_cli("solve", str(source / "disp.####.exr"), "--anchors", str(anchors), "-o", str(out / "s.####.exr"))
        assert code == 0, err
        z = read_channels(out / "s.1003.exr")["depth.Z"] / scale
        far_away = (seq.depth[2] > 15) & (seq.depth[2] < seq.config.far)
        assert far_away.sum() > 100
        np.testing.assert_allclose(np.median(z[far_away] / seq.depth[2][far_away]), 1.0, atol=0.05)
    assert probe(out / "s.1003.exr").metadata["flashdepth:far"] > 1000 * 1000  # 1000 x the median, in mm


def test_references_beyond_an_explicit_far_are_named(shot, tmp_path) -> None:
    code, err = run_cli(*_metric(shot, tmp_path), "--far", "20")
    assert code == 0, err
    warning = [line for line in err.splitlines() if "--far 20" in line]
    assert len(warning) == 1 and warning[0].startswith("warning: ") and "written as 20" in warning[0], err


@pytest.mark.parametrize("origin", ["top-left", "bottom-left"])
def test_anchors_on_a_plate_with_overscan_are_read_where_they_are(source, tmp_path, origin) -> None:
    """Anchors are plate pixels of the display window (the format, as Nuke shows them); a plate whose data window
    is offset in it (overscan, a crop) had its anchors sampled that offset away, with no word."""
    from dataclasses import replace

    seq = render_sequence(SceneConfig(height=63, width=112, num_frames=FRAMES, seed=1_000_007, camera_motion="truck"))
    dx, dy, full_w, full_h = -8, 5, 100, 80  # data window 112x63 at (-8, 5) in a 100x80 format
    folder = tmp_path / "overscan"
    for frame in range(FIRST, FIRST + FRAMES):
        raw = source / f"disp.{frame}.exr"
        like = replace(probe(raw), x=dx, y=dy, full_x=0, full_y=0, full_width=full_w, full_height=full_h)
        write_exr(folder / f"disp.{frame}.exr", {"depth.Z": read_channels(raw)["depth.Z"]}, like=like)
    pixels = ((40, 20), (50, 90), (10, 60), (30, 40))  # (row, column) of the data window
    rows = []
    for t in range(FRAMES):
        for y, x in pixels:
            px, py = x + 0.5 + dx, y + 0.5 + dy  # in the format
            rows.append(f"{FIRST + t},{px},{full_h - py if origin == 'bottom-left' else py},{seq.depth[t, y, x]}")
    anchors = tmp_path / "anchors.csv"
    anchors.write_text("frame,x,y,z\n" + "\n".join(rows) + "\n")
    code, err = run_cli("solve", str(folder / "disp.####.exr"), "--anchors", str(anchors), "--anchor-origin", origin,
                        "-o", str(tmp_path / "s.####.exr"))
    assert code == 0, err
    z = read_channels(tmp_path / "s.1003.exr")["depth.Z"]
    for y, x in pixels:
        assert z[y, x] == pytest.approx(seq.depth[2, y, x], rel=0.02)
    assert probe(tmp_path / "s.1003.exr").x == dx  # the windows are the raw file's


def test_anchors_off_the_plate_are_named(source, tmp_path) -> None:
    """Anchors measured on the full-resolution plate but solved on a proxy land off the image: named, not dropped
    without a word."""
    seq = render_sequence(SceneConfig(height=63, width=112, num_frames=FRAMES, seed=1_000_007, camera_motion="truck"))
    rows = [f"{FIRST + t},{x + 0.5},{y + 0.5},{seq.depth[t, y, x]}" for t in range(FRAMES) for y, x in ((40, 20), (50, 90))]
    rows += [f"1003,{4 * 90.5},{4 * 50.5},7.5", f"1004,{4 * 90.5},{4 * 50.5},7.5", "2000,10,10,5"]  # 2000: not in the shot
    anchors = tmp_path / "anchors.csv"
    anchors.write_text("frame,x,y,z\n" + "\n".join(rows) + "\n")
    code, err = run_cli("solve", str(source / "disp.####.exr"), "--anchors", str(anchors), "-o", str(tmp_path / "s.####.exr"))
    assert code == 0, err
    warning = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert warning == [f"warning: {anchors.name}: 2 anchor(s) on frames 1003-1004 lie outside the 112x63 plate's pixels and "
                       "are ignored; check the anchors' resolution and --anchor-origin"], err
