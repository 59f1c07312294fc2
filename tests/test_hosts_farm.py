"""A node's "Send to farm": the bundle the real engine writes with the node's settings, a Deadline submission
through a stand-in `deadline` client on PATH, and the bundle run by `openjd run` on a worker that sees the show
at another root (OpenJD path mapping, as Deadline Cloud applies it)."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml  # type: ignore[import-untyped]

from engine_helpers import read_channel, run_cli, write_plates, write_tiny_checkpoint
from flashdepth_vfx.bridge import RenderJob
from flashdepth_vfx.bridge import engine as bridge_engine
from flashdepth_vfx.farm import FarmError as TemplateError
from flashdepth_vfx.farm import build_job
from flashdepth_vfx.hosts.camera import CameraSample, SolveRequest, solve_args
from flashdepth_vfx.hosts.colour import NUKE_DEFAULT_CONFIG
from flashdepth_vfx.hosts.farm import FarmError, bundle_folder, carry_into_bundle, farm_args, send_to_farm
from test_host_nuke import option

ROOT = Path(__file__).resolve().parent.parent
# The engine of this tree, run by this Python (the hosts drop PYTHONPATH from the engine's environment).
ENGINE = [sys.executable, "-c", f"import runpy, sys; sys.path.insert(0, {str(ROOT)!r}); "
          "runpy.run_module('flashdepth_vfx', run_name='__main__')"]
OPENJD = Path(sys.executable).with_name("openjd")


@pytest.fixture(scope="module")
def shot(tmp_path_factory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("farm_node")
    plates = write_plates(root / "plates", range(1001, 1009), "sh010")
    write_tiny_checkpoint(root / "tiny.safetensors")
    return root, plates


def bundle_values(bundle: Path) -> dict[str, str]:
    """The job parameter values of the bundle, as `deadline bundle submit` reads them from it."""
    return {p["name"]: p["value"] for p in json.loads((bundle / "parameter_values.json").read_text())["parameterValues"]}


def onrun(template: dict, step: int = 0) -> list[str]:
    return template["steps"][step]["script"]["actions"]["onRun"]["args"]


def test_farm_frames_cut_each_shot_to_the_range(shot) -> None:
    root, plates = shot
    template = build_job([plates], None, None, False, {}, template_dir=root, frames="1003-1006").template
    args = onrun(template)
    assert args[args.index("--frames") + 1] == "1003-1006"
    with pytest.raises(TemplateError, match="none of them asked"):
        build_job([plates], None, None, False, {}, template_dir=root, frames="2001-2005")
    with pytest.raises(TemplateError, match="one contiguous range"):
        build_job([plates], None, None, False, {}, template_dir=root, frames="1001,1003")


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
    assert params["Checkpoint"] is None  # outside the bundle: its value is in the bundle's parameter values
    values = bundle_values(tmp_path / "bundle")
    assert values["Checkpoint"] == str(root / "tiny.safetensors")
    assert f"-p Checkpoint={root / 'tiny.safetensors'}" in result.message  # how to run it here: openjd run ... -p
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
    assert (tmp_path / "called").read_text().split() == ["bundle", "submit", "--yes", str(tmp_path / "bundle")]


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
    carried = carry_into_bundle(job, request, str(bundle))
    assert option(list(carried.extra_args), "--camera") == str(bundle / Path(request.camera_file).name)
    assert Path(option(list(carried.extra_args), "--camera")).read_text() == request.camera_text
    assert not Path(request.camera_file).exists()  # the node's own copy is written by its renders, not here
    assert carry_into_bundle(job, SolveRequest(), str(bundle)) is job
    with pytest.raises(FarmError, match="does not read the node's camera"):
        carry_into_bundle(RenderJob(plate=plates), request, str(bundle))

    result = send_to_farm(job, str(bundle), engine=ENGINE, solve=request)
    template = yaml.safe_load(Path(result.template).read_text())
    params = {p["name"]: p for p in template["parameterDefinitions"]}
    assert (params["Camera"]["type"], params["Camera"]["default"]) == ("PATH", Path(request.camera_file).name)
    assert [s["name"] for s in template["steps"]] == ["sh010", "sh010 solve"]
    solve = onrun(template, 1)
    assert option(solve, "--camera") == "{{Param.Camera}}" and option(solve, "--position") == "world"
    assert option(solve, "--points") == "{{Param.Points}}" and "--normals" not in solve


def test_a_bundle_renders_on_a_worker_that_mounts_the_show_elsewhere(tmp_path, monkeypatch) -> None:
    """Issue 19 item 2. The artist's show is at mnt/show, the worker's at Volumes/show: every path outside the
    bundle is a PATH job parameter valued in parameter_values.json, so OpenJD path mapping (what Deadline Cloud
    applies on a worker) takes the render there; the install's OCIO config travels inside the bundle. Submitting
    asks nothing (`--yes`, no stdin: a prompt would hang the node) and opens no console window on Windows."""
    show, models = tmp_path / "mnt" / "show", tmp_path / "mnt" / "models"
    plates = write_plates(show / "plates" / "sh010", range(1001, 1004), "sh010")
    models.mkdir()
    checkpoint = write_tiny_checkpoint(models / "tiny.safetensors")
    client = tmp_path / "bin" / "deadline"  # answers a prompt from stdin if it gets one, as `deadline` would
    client.parent.mkdir()
    client.write_text(f"#!/bin/sh\necho \"$@\" > {tmp_path / 'called'}\nif read -r answer; then echo \"$answer\" > "
                      f"{tmp_path / 'prompted'}; fi\necho 'Submitted job: job-7'\n")
    client.chmod(client.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{client.parent}{os.pathsep}/usr/bin:/bin")
    flags: list[object] = []
    real_run = subprocess.run

    def run_on_windows(*args, **kwargs):  # the flags a Windows host would pass, recorded; POSIX refuses them
        flags.append(kwargs.pop("creationflags", None))
        return real_run(*args, **kwargs)

    monkeypatch.setattr(bridge_engine, "WINDOWS", True)
    monkeypatch.setattr(subprocess, "run", run_on_windows)
    job = RenderJob(plate=plates, checkpoint=str(checkpoint), device="cpu", colorspace="sRGB",
                    ocio_config=NUKE_DEFAULT_CONFIG, output=str(show / "depth" / "sh010_depth.####.exr"))
    bundle = Path(bundle_folder(str(show / "depth"), "k1"))
    stdin, typing = os.pipe()  # the host's stdin: an artist's terminal where a prompt would wait for an answer
    os.write(typing, b"y\n")
    saved = os.dup(0)
    os.dup2(stdin, 0)
    try:
        result = send_to_farm(job, str(bundle), engine=ENGINE)
    finally:
        os.dup2(saved, 0)
        for fd in (saved, stdin, typing):
            os.close(fd)
    monkeypatch.undo()
    assert result.submitted, result.message
    assert (tmp_path / "called").read_text().split() == ["bundle", "submit", "--yes", str(bundle)]
    assert not (tmp_path / "prompted").exists()  # stdin was closed to the client
    assert flags == [bridge_engine.CREATE_NO_WINDOW] * 2  # the engine writing the bundle, and the client

    template = yaml.safe_load((bundle / "template.yaml").read_text())
    params = {p["name"]: p for p in template["parameterDefinitions"]}
    for name in ("PlateDir", "OutputDir", "Checkpoint", "OcioConfig"):
        assert params[name]["type"] == "PATH", name
    assert [name for name, p in params.items() if p["type"] == "PATH" and "default" not in p] == [
        "PlateDir", "OutputDir", "Checkpoint"]
    assert params["OcioConfig"]["default"] == "nuke-default.ocio"  # the install's config, copied into the bundle
    assert (bundle / "nuke-default.ocio").read_bytes() == Path(NUKE_DEFAULT_CONFIG).read_bytes()
    values = bundle_values(bundle)
    assert values == {"PlateDir": str(show / "plates" / "sh010"), "OutputDir": str(show / "depth"),
                      "Checkpoint": str(checkpoint)}

    worker_show, worker_models = tmp_path / "Volumes" / "show", tmp_path / "farm" / "models"
    for artist, worker in ((show, worker_show), (models, worker_models)):
        worker.parent.mkdir(exist_ok=True)
        artist.rename(worker)
    rules = [{"source_path_format": "POSIX", "source_path": str(artist), "destination_path": str(worker)}
             for artist, worker in ((show, worker_show), (models, worker_models))]
    values["EngineCommand"] = f"{sys.executable} -m flashdepth_vfx"
    worker_bundle = worker_show / bundle.relative_to(show)
    ran = subprocess.run([str(OPENJD), "run", str(worker_bundle / "template.yaml"), "-p", json.dumps(values),
                          "--path-mapping-rules", json.dumps({"version": "pathmapping-1.0", "path_mapping_rules": rules})],
                         capture_output=True, text=True, timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr
    assert not show.exists()  # nothing written where the artist's show was
    code, err = run_cli("render", str(worker_show / "plates" / "sh010" / "sh010.####.exr"), "-o",
                        str(tmp_path / "local" / "sh010_depth.####.exr"), "--checkpoint",
                        str(worker_models / "tiny.safetensors"), "--device", "cpu", "--colorspace", "sRGB",
                        "--ocio-config", NUKE_DEFAULT_CONFIG, "--progress", "none")
    assert code == 0, err
    for frame in range(1001, 1004):
        farm_depth = read_channel(worker_show / "depth" / f"sh010_depth.{frame}.exr", "depth.Z")
        np.testing.assert_allclose(farm_depth, read_channel(tmp_path / "local" / f"sh010_depth.{frame}.exr", "depth.Z"),
                                   rtol=1e-5)
