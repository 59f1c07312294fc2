"""``flashdepth-vfx solve`` and ``render --camera ...`` end to end: real EXRs in and out, the expected channels and
metadata, metric depth against the generator's truth, resume, and one-line errors that write nothing."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from engine_helpers import write_plates, write_tiny_checkpoint
from flashdepth_vfx.cli import main
from flashdepth_vfx.data import SceneConfig, render_sequence, write_depth_sequence, write_plate_sequence
from flashdepth_vfx.data.drift import inject_drift
from flashdepth_vfx.data.matchmove import filmback, track_points, write_camera_chan, write_camera_usd, write_points_obj
from flashdepth_vfx.plates import probe, read_channels, write_exr

FIRST = 1001
FRAMES = 6


@pytest.fixture(scope="module")
def shot(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("shot")
    seq = render_sequence(SceneConfig(height=63, width=112, num_frames=FRAMES, seed=1_000_007, camera_motion="truck"))
    tracks = track_points(seq, 150, seed=2)
    disparity, drift = inject_drift(1.0 / seq.depth, seed=5)
    for index, frame in enumerate(disparity):
        write_exr(folder / f"disp.{FIRST + index:04d}.exr", {"depth.Z": frame},
                  metadata={"flashdepth:state_key": "raw-render"})
    return {
        "folder": folder, "seq": seq, "drift": drift, "disparity": str(folder / "disp.####.exr"),
        "usd": str(write_camera_usd(seq, folder / "cam.usda")),
        "chan": str(write_camera_chan(seq, folder / "cam.chan")),
        "points": str(write_points_obj(tracks.positions, folder / "tracks.obj")),
        "filmback": "{:g}x{:g}".format(*filmback(seq)),
    }


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stderr


def test_solve_writes_metric_depth_positions_normals_and_metadata(shot, tmp_path) -> None:
    out = tmp_path / "solved.####.exr"
    code, err = run("solve", shot["disparity"], "-o", str(out), "--camera", shot["usd"], "--points", shot["points"],
                    "--position", "world", "--normals", "camera", "--report", str(tmp_path / "report.json"))
    assert code == 0, err
    seq, drift = shot["seq"], shot["drift"]
    files = sorted(tmp_path.glob("solved.*.exr"))
    assert [f.name for f in files] == [f"solved.{FIRST + i:04d}.exr" for i in range(FRAMES)]
    channels = read_channels(files[2])
    assert sorted(channels) == ["N.B", "N.G", "N.R", "P.B", "P.G", "P.R", "depth.Z"]
    valid = seq.depth[2] < seq.config.far
    z = channels["depth.Z"]
    assert np.mean(np.abs(z[valid] - seq.depth[2][valid]) / seq.depth[2][valid]) < 0.01
    # P is where the generator's camera puts each pixel at its true depth
    rays = np.stack([*np.meshgrid(np.arange(112) + 0.5, np.arange(63) + 0.5), np.ones((63, 112))], -1)
    truth = (rays @ np.linalg.inv(seq.intrinsics).T) * seq.depth[2][..., None] @ seq.poses[2][:3, :3].T + seq.poses[2][:3, 3]
    position = np.stack([channels[c] for c in ("P.R", "P.G", "P.B")], -1)
    assert np.median(np.linalg.norm(position - truth, axis=-1)[valid]) < 0.05
    meta = probe(files[2]).metadata
    assert meta["flashdepth:solve_a"] == pytest.approx(1.0 / drift.scale[2], rel=0.01)  # undoes the drift
    assert meta["flashdepth:solve_points"] > 50 and 0 < meta["flashdepth:solve_residual"] < 0.05
    assert meta["flashdepth:mode"] == "depth" and meta["flashdepth:up_axis"] == "Y"
    assert "flashdepth:state_key" not in meta  # the raw render's resume key is not carried over
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["frames"] == list(range(FIRST, FIRST + FRAMES)) and len(report["fit"]["a"]) == FRAMES
    assert (tmp_path / "report.png").stat().st_size > 1000
    assert sorted(p.name for p in shot["folder"].glob("disp.*.exr"))[0] == "disp.1001.exr"  # raw kept


def test_chan_camera_distance_and_inverse_modes(shot, tmp_path) -> None:
    seq = shot["seq"]
    code, err = run("solve", shot["disparity"], "-o", str(tmp_path / "inv.####.exr"), "--camera", shot["chan"],
                    "--filmback", shot["filmback"], "--points", shot["points"], "--mode", "inverse", "--cut", "1003")
    assert code == 0, err
    assert json.loads(probe(tmp_path / "inv.1001.exr").metadata["flashdepth:solve_cuts"]) == [1003]
    inverse = read_channels(tmp_path / "inv.1004.exr")["depth.Z"]
    valid = seq.depth[3] < seq.config.far
    assert np.median(np.abs(inverse[valid] * seq.depth[3][valid] - 1)) < 0.01
    code, err = run("solve", shot["disparity"], "-o", str(tmp_path / "dist.####.exr"), "--camera", shot["usd"],
                    "--points", shot["points"], "--mode", "distance", "--frames", "1004")
    assert code == 0, err
    distance = read_channels(tmp_path / "dist.1004.exr")["depth.Z"]
    k = seq.intrinsics
    ray = np.sqrt(1 + ((0.5 - k[0, 2]) / k[0, 0]) ** 2 + ((0.5 - k[1, 2]) / k[1, 1]) ** 2)  # corner pixel's ray
    assert distance[0, 0] == pytest.approx(seq.depth[3, 0, 0] * ray, rel=0.01)
    assert not (tmp_path / "dist.1003.exr").exists()  # --frames 1004 only


def test_resume_skips_frames_solved_with_the_same_settings(shot, tmp_path) -> None:
    args = ["solve", shot["disparity"], "-o", str(tmp_path / "s.####.exr"), "--camera", shot["usd"],
            "--points", shot["points"]]
    assert run(*args)[0] == 0
    first = (tmp_path / "s.1003.exr").stat().st_mtime_ns
    code, err = run(*args, "--resume")
    assert code == 0 and "wrote 0 frames" in err and f"{FRAMES} already solved" in err
    assert (tmp_path / "s.1003.exr").stat().st_mtime_ns == first
    code, err = run(*args, "--resume", "--smoothness", "0.1")
    assert code == 0 and f"wrote {FRAMES} frames" in err


def _one_line_error(args: list[str], text: str, out: Path) -> None:
    code, err = run(*args, "-o", str(out / "x.####.exr"))
    assert code == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and text in lines[0], err
    assert not list(out.glob("x.*")), "nothing may be written"


def test_bad_inputs_give_one_line_errors_and_write_nothing(shot, tmp_path) -> None:
    folder = shot["folder"]
    behind = folder / "behind.csv"
    eye = shot["seq"].poses[0][:3, 3]
    behind.write_text("".join(f"{x},{y},{z}\n" for x, y, z in eye - shot["seq"].poses[0][:3, 2] * [[3], [4], [5]]))
    empty_usd = folder / "empty.usda"
    empty_usd.write_text("#usda 1.0\ndef Xform \"world\"\n{\n}\n")
    base = ["solve", shot["disparity"]]
    _one_line_error([*base, "--camera", shot["chan"], "--frame-offset", "-1000", "--points", shot["points"]],
                    "the camera is animated over 1001-1006 (time code) but the shot needs frames 1001-1006", tmp_path)
    _one_line_error([*base, "--camera", str(empty_usd), "--points", shot["points"]],
                    "holds no UsdGeom.Camera prim", tmp_path)
    _one_line_error([*base, "--camera", shot["usd"], "--points", str(behind)],
                    "All 3 points are behind the camera in every frame", tmp_path)
    _one_line_error([*base, "--points", shot["points"]], "--points need a camera track", tmp_path)
    _one_line_error(base, "Nothing to solve against", tmp_path)
    _one_line_error([*base, "--camera", shot["usd"], "--points", shot["points"], "--stabilize"],
                    "--stabilize needs --plates", tmp_path)
    code, err = run(*base, "-o", shot["disparity"], "--camera", shot["usd"], "--points", shot["points"])
    assert code == 1 and "is also an input" in err and "choose another output" in err


def test_solve_replaces_only_its_own_files_unless_told(shot, tmp_path) -> None:
    """The output guard: a frame or report flashdepth-vfx did not write is kept (one line, nothing written)
    unless --overwrite; the solve's own frames and report are replaced freely (a rerun)."""
    foreign_frame, foreign_report = tmp_path / "s.1003.exr", tmp_path / "report.json"
    foreign_frame.write_bytes(b"a comp's own file")
    args = ["solve", shot["disparity"], "-o", str(tmp_path / "s.####.exr"), "--camera", shot["usd"],
            "--points", shot["points"], "--report", str(foreign_report)]
    code, err = run(*args)
    assert code == 1 and "s.1003.exr exists and was not written by flashdepth-vfx" in err and "--overwrite" in err
    assert foreign_frame.read_bytes() == b"a comp's own file" and sorted(tmp_path.iterdir()) == [foreign_frame]
    foreign_frame.unlink()
    foreign_report.write_text('{"notes": "not ours"}')
    code, err = run(*args)
    assert code == 1 and "report.json exists and was not written by flashdepth-vfx" in err
    assert foreign_report.read_text() == '{"notes": "not ours"}'
    code, err = run(*args, "--overwrite")
    assert code == 0, err
    assert json.loads(foreign_report.read_text())["flashdepth:kind"] == "solve-report"
    code, err = run(*args)  # its own frames and report: a rerun replaces them without --overwrite
    assert code == 0 and f"wrote {FRAMES} frames" in err, err


def test_nan_in_a_disparity_frame_is_named_before_anything_is_written(shot, tmp_path) -> None:
    folder = tmp_path / "nan"
    for index in range(FRAMES):
        frame = read_channels(shot["folder"] / f"disp.{FIRST + index:04d}.exr")["depth.Z"]
        if index == 4:
            frame[10, 10] = np.nan
        write_exr(folder / f"d.{FIRST + index:04d}.exr", {"depth.Z": frame})
    _one_line_error(["solve", str(folder / "d.####.exr"), "--camera", shot["usd"], "--points", shot["points"]],
                    "d.1005.exr: 1 NaN/infinite disparity values", tmp_path)


def test_frames_without_references_are_named_in_a_warning(shot, tmp_path) -> None:
    anchors = tmp_path / "anchors.csv"
    seq = shot["seq"]
    rows = [f"{FIRST + t},{x + 0.5},{y + 0.5},{seq.depth[t, y, x]}" for t in (0, 5) for y, x in ((40, 20), (50, 90))]
    anchors.write_text("frame,x,y,z\n" + "\n".join(rows) + "\n")
    code, err = run("solve", shot["disparity"], "-o", str(tmp_path / "a.####.exr"), "--anchors", str(anchors))
    assert code == 0, err
    assert "warning: frames 1002-1005 have no visible point or anchor; their solve is interpolated" in err
    assert len(list(tmp_path.glob("a.*.exr"))) == FRAMES


def test_render_solves_after_the_stream(tmp_path) -> None:
    plates = write_plates(tmp_path / "plates", range(1, 4))
    checkpoint = write_tiny_checkpoint(tmp_path / "tiny.safetensors")
    anchors = tmp_path / "anchors.csv"
    anchors.write_text("frame,x,y,distance\n" + "".join(f"{f},{x},{y},{d}\n" for f in (1, 2, 3)
                                                          for x, y, d in ((10, 10, 4.0), (30, 40, 6.0), (60, 20, 9.0))))
    out = tmp_path / "out" / "shot_depth.####.exr"
    result = CliRunner().invoke(main, ["render", plates, "-o", str(out), "--checkpoint", str(checkpoint), "--progress",
                                       "json", "--fov", "50", "--anchors", str(anchors), "--report",
                                       str(tmp_path / "r.json")], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    kinds = [e["event"] for e in events]  # the hosts see the solve's progress after the stream's
    after = events[kinds.index("done") + 1:]
    assert [e["event"] for e in after if e["event"] != "solve_step"] == ["solve"] * 3
    phases = [e["phase"] for e in after if e["event"] == "solve_step"]
    assert list(dict.fromkeys(phases)) == ["start", "cuts", "references", "fit", "write"] and phases.count("references") == 3
    assert [(e["index"], e["total"]) for e in events if e["event"] == "solve"] == [(1, 3), (2, 3), (3, 3)]
    raw = sorted(p.name for p in (tmp_path / "out").glob("shot_depth_raw.*.exr"))
    solved = sorted((tmp_path / "out").glob("shot_depth.*.exr"))
    assert raw == ["shot_depth_raw.0001.exr", "shot_depth_raw.0002.exr", "shot_depth_raw.0003.exr"]
    assert len(solved) == 3
    meta = probe(solved[0]).metadata
    assert meta["flashdepth:mode"] == "depth" and meta["flashdepth:solve_points"] == 3
    assert probe(tmp_path / "out" / "shot_depth_raw.0001.exr").metadata["flashdepth:mode"] == "disparity"
    assert json.loads((tmp_path / "r.json").read_text())["fit"]["points"] == [3, 3, 3]


def test_stabilize_alone_writes_steadier_disparity(tmp_path) -> None:
    seq = render_sequence(SceneConfig(height=63, width=112, num_frames=10, seed=1_000_011, moving_objects=False))
    plates = write_plate_sequence(seq, tmp_path, "plate", first_frame=FIRST)
    drifted, drift = inject_drift(1.0 / seq.depth, seed=3, trend=0.0, shift_noise=0.0)
    for index, frame in enumerate(drifted):
        write_exr(tmp_path / f"disp.{FIRST + index:04d}.exr", {"depth.Z": frame})
    code, err = run("solve", str(tmp_path / "disp.####.exr"), "--plates", plates, "--stabilize", "--no-detect-cuts",
                    "-o", str(tmp_path / "out" / "st.####.exr"))
    assert code == 0, err
    files = sorted((tmp_path / "out").glob("st.*.exr"))
    metas = [probe(f).metadata for f in files]
    assert len(files) == 10 and all(m["flashdepth:mode"] == "disparity" for m in metas)
    corrected = np.array([m["flashdepth:stabilize_scale"] for m in metas]) * drift.scale
    assert np.std(corrected / corrected.mean()) < 0.5 * np.std(drift.scale / drift.scale.mean())
    np.testing.assert_allclose(read_channels(files[3])["depth.Z"],
                               metas[3]["flashdepth:stabilize_scale"] * drifted[3] + metas[3]["flashdepth:stabilize_shift"],
                               rtol=1e-5)


def test_render_checks_the_camera_before_rendering(tmp_path) -> None:
    plates = write_plates(tmp_path / "plates", range(1, 4))
    chan = tmp_path / "cam.chan"
    chan.write_text("1001 0 0 0 0 0 0 40\n1002 0 0 0 0 0 0 40\n")
    code, err = run("render", plates, "-o", str(tmp_path / "out" / "d.####.exr"), "--checkpoint", "missing.pth",
                    "--camera", str(chan), "--points", str(chan))
    assert code == 1 and "the camera is animated over 1001-1002" in err and "--frame-offset 1000" in err
    assert not (tmp_path / "out").exists()  # failed before the stream started


def test_render_checks_the_solved_outputs_before_rendering(tmp_path) -> None:
    """The solve's output guard runs before the stream: a comp's own file where a solved frame goes fails at once,
    not after the whole render; --overwrite lets it through."""
    plates = write_plates(tmp_path / "plates", range(1001, 1004))
    chan = tmp_path / "cam.chan"
    chan.write_text("".join(f"{f} 0 0 0 0 0 0 40\n" for f in range(1001, 1004)))
    points = tmp_path / "pts.csv"
    points.write_text("0,0,-5\n1,0,-6\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "d.1002.exr").write_bytes(b"not ours")
    base = ["render", plates, "-o", str(out / "d.####.exr"), "--checkpoint", "missing.pth", "--camera", str(chan),
            "--points", str(points)]
    code, err = run(*base)
    assert code == 1 and "d.1002.exr exists and was not written by flashdepth-vfx" in err, err
    assert sorted(p.name for p in out.iterdir()) == ["d.1002.exr"]  # no raw frame: failed before the stream
    code, err = run(*base, "--overwrite")  # past the guard: the next check (the checkpoint) speaks
    assert code == 1 and "exists and was not written" not in err and "missing.pth" in err, err


def test_eval_align_none_scores_the_solved_shot_in_metres(shot, tmp_path) -> None:
    gt = write_depth_sequence(shot["seq"], tmp_path, "gt", first_frame=FIRST)
    code, err = run("solve", shot["disparity"], "-o", str(tmp_path / "s.####.exr"), "--camera", shot["usd"],
                    "--points", shot["points"])
    assert code == 0, err
    result = CliRunner().invoke(main, ["eval", "--pred", str(tmp_path / "s.####.exr"), "--pred-kind", "depth",
                                       "--gt", gt, "--align", "none", "--json", str(tmp_path / "m.json")])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["alignment"] == {"align": "none", "scale": 1.0, "shift": 0.0, "pred_kind": "depth"}
    assert metrics["abs_rel"] < 0.01 and "not aligned" in result.stdout


def test_disparity_that_disagrees_with_the_points_is_flagged(shot, tmp_path) -> None:
    rng = np.random.default_rng(0)
    for index in range(FRAMES):
        write_exr(tmp_path / f"n.{FIRST + index:04d}.exr", {"depth.Z": rng.uniform(0.01, 1.0, (63, 112)).astype(np.float32)})
    code, err = run("solve", str(tmp_path / "n.####.exr"), "-o", str(tmp_path / "s.####.exr"), "--camera", shot["usd"],
                    "--points", shot["points"])
    assert code == 0 and "warning: the references disagree with the disparity by" in err


def test_render_passthrough_carries_the_plate_through_the_solve(tmp_path) -> None:
    """render --passthrough with a solve: the solved frames hold the plate's RGBA, as the raw ones do (the Houdini
    node reads its plate from the depth files)."""
    plates = write_plates(tmp_path / "plates", range(1, 3))
    checkpoint = write_tiny_checkpoint(tmp_path / "tiny.safetensors")
    anchors = tmp_path / "anchors.csv"
    anchors.write_text("frame,x,y,distance\n" + "".join(f"{f},{x},{y},{d}\n" for f in (1, 2)
                                                          for x, y, d in ((10, 10, 4.0), (30, 40, 6.0), (60, 20, 9.0))))
    out = tmp_path / "out"
    code, err = run("render", plates, "-o", str(out / "shot_depth.####.exr"), "--checkpoint", str(checkpoint),
                    "--progress", "none", "--fov", "50", "--anchors", str(anchors), "--passthrough")
    assert code == 0, err
    for frame in (1, 2):
        raw, solved = (read_channels(out / f"shot_depth{kind}.{frame:04d}.exr") for kind in ("_raw", ""))
        assert sorted(solved) == ["A", "B", "G", "R", "depth.Z"] and sorted(raw) == sorted(solved)
        for channel in "RGBA":
            np.testing.assert_array_equal(solved[channel], raw[channel])
        assert not np.array_equal(solved["depth.Z"], raw["depth.Z"])  # the depth is solved, the plate carried
