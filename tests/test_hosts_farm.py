"""A node's "Send to farm": the bundle the real engine writes with the node's settings, and a Deadline submission
through a stand-in `deadline` client on PATH."""
from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]

from engine_helpers import write_plates, write_tiny_checkpoint
from flashdepth_vfx.bridge import RenderJob
from flashdepth_vfx.farm import FarmError as TemplateError
from flashdepth_vfx.farm import build_template
from flashdepth_vfx.hosts.camera import CameraSample, SolveRequest, solve_args
from flashdepth_vfx.hosts.farm import FarmError, carry_solve, farm_args, send_to_farm
from test_host_nuke import option

ENGINE = [sys.executable, "-m", "flashdepth_vfx"]


@pytest.fixture(scope="module")
def shot(tmp_path_factory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("farm_node")
    plates = write_plates(root / "plates", range(1001, 1009), "sh010")
    write_tiny_checkpoint(root / "tiny.safetensors")
    return root, plates


def onrun(template: dict, step: int = 0) -> list[str]:
    return template["steps"][step]["script"]["actions"]["onRun"]["args"]


def test_farm_frames_cut_each_shot_to_the_range(shot) -> None:
    root, plates = shot
    template = build_template([plates], None, None, False, {}, template_dir=root, frames="1003-1006")
    args = onrun(template)
    assert args[args.index("--frames") + 1] == "1003-1006"
    with pytest.raises(TemplateError, match="none of them asked"):
        build_template([plates], None, None, False, {}, template_dir=root, frames="2001-2005")
    with pytest.raises(TemplateError, match="one contiguous range"):
        build_template([plates], None, None, False, {}, template_dir=root, frames="1001,1003")


def test_send_to_farm_writes_the_bundle_with_the_node_settings(shot, tmp_path, monkeypatch) -> None:
    root, plates = shot
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no deadline client: the bundle is written, not submitted
    job = RenderJob(plate=plates, frames="1002-1005", checkpoint=str(root / "tiny.safetensors"), mode="disparity",
                    device="cpu", output=str(tmp_path / "depth" / "sh010_depth.####.exr"))
    assert farm_args(job, "b")[-2:] == ["--", plates]
    result = send_to_farm(job, str(tmp_path / "bundle"), engine=ENGINE)
    assert not result.submitted and "deadline bundle submit" in result.message
    template = yaml.safe_load(Path(result.template).read_text())
    args = onrun(template)
    assert args[args.index("--frames") + 1] == "1002-1005"
    params = {p["name"]: p.get("default") for p in template["parameterDefinitions"]}
    assert params["Mode"] == "disparity" and params["Device"] == "cpu"
    assert Path(result.template).parent.joinpath(params["Checkpoint"]).resolve() == (root / "tiny.safetensors").resolve()
    assert args[args.index("--output") + 1].endswith("sh010_depth.%04d.exr")


def test_send_to_farm_submits_with_the_deadline_client(shot, tmp_path, monkeypatch) -> None:
    root, plates = shot
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    client = bin_dir / "deadline"
    client.write_text(f"#!/bin/sh\necho \"$@\" > {tmp_path / 'called'}\necho 'Submitted job: job-0123'\n")
    client.chmod(client.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin:/bin")
    job = RenderJob(plate=plates, checkpoint=str(root / "tiny.safetensors"))
    result = send_to_farm(job, str(tmp_path / "bundle"), engine=ENGINE)
    assert result.submitted and result.message == "Submitted to Deadline Cloud: Submitted job: job-0123"
    assert (tmp_path / "called").read_text().split() == ["bundle", "submit", str(tmp_path / "bundle")]


def test_send_to_farm_errors_are_one_line(shot, tmp_path, monkeypatch) -> None:
    root, plates = shot
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    with pytest.raises(FarmError) as info:
        send_to_farm(RenderJob(plate=str(root / "nothing.####.exr")), str(tmp_path / "b"), engine=ENGINE)
    assert "\n" not in str(info.value) and "nothing" in str(info.value)
    with pytest.raises(FarmError, match="not on PATH"):
        send_to_farm(RenderJob(plate=plates), str(tmp_path / "b2"), submit=True, engine=ENGINE)


def test_the_nodes_camera_goes_into_the_bundle(shot, tmp_path, monkeypatch) -> None:
    """A node's solve request: the bundle gets the camera the node exported and the job reads it there; the
    template refers to it relative to itself (a PATH parameter: the bundle carries it) and ends with the solve."""
    root, plates = shot
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    samples = [CameraSample(f, (0.0, 0.0, 0.0), (0.0, 0.0, 0.0), 40.0, 24.576, 18.672) for f in range(1001, 1009)]
    points = root / "tracks.csv"
    points.write_text("x,y,z\n0,0,-5\n1,0.5,-7\n-1,-0.5,-6\n")
    request = solve_args(str(tmp_path / "node"), "Camera1", samples, "ZXY", str(points), "world", "off")
    job = RenderJob(plate=plates, checkpoint=str(root / "tiny.safetensors"), extra_args=request.args,
                    output=str(tmp_path / "depth" / "sh010_depth.####.exr"))
    bundle = tmp_path / "bundle"
    carried = carry_solve(job, request, str(bundle))
    assert option(list(carried.extra_args), "--camera") == str(bundle / Path(request.camera_file).name)
    assert Path(option(list(carried.extra_args), "--camera")).read_text() == request.camera_text
    assert not Path(request.camera_file).exists()  # the node's own copy is written by its renders, not here
    assert carry_solve(job, SolveRequest(), str(bundle)) is job
    with pytest.raises(FarmError, match="does not read the node's camera"):
        carry_solve(RenderJob(plate=plates), request, str(bundle))

    result = send_to_farm(job, str(bundle), engine=ENGINE, solve=request)
    template = yaml.safe_load(Path(result.template).read_text())
    params = {p["name"]: p for p in template["parameterDefinitions"]}
    assert (params["Camera"]["type"], params["Camera"]["default"]) == ("PATH", Path(request.camera_file).name)
    assert [s["name"] for s in template["steps"]] == ["sh010", "sh010 solve"]
    solve = onrun(template, 1)
    assert option(solve, "--camera") == "{{Param.Camera}}" and option(solve, "--position") == "world"
    assert option(solve, "--points") == "{{Param.Points}}" and "--normals" not in solve
