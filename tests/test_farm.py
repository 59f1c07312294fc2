"""Farm jobs: Open Job Description templates checked and run by the real ``openjd`` CLI on real plates, with the real
engine in every task; seams compared with a single-pass render."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import numpy as np
import pytest
import torch
import yaml  # type: ignore[import-untyped]
from click.testing import CliRunner

from engine_helpers import read_channel, write_plates, write_tiny_checkpoint
from flashdepth_vfx.engine import QuietEvents, Render, RenderSettings
from flashdepth_vfx.farm import DEFAULT_WARMUP, FarmError, build_template
from flashdepth_vfx.farm.command import farm
from flashdepth_vfx.farm.options import RENDER_OPTIONS
from flashdepth_vfx.farm.shots import find_shots
from flashdepth_vfx.solve.command import SHARED_NAMES as SOLVE_OPTIONS

OPENJD = Path(sys.executable).with_name("openjd")
SHOTS = {"sh010": range(1001, 1007), "sh020": range(1011, 1017)}  # different frames, different pictures


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """Plates of two shots and a tiny checkpoint; job templates are written here, above them."""
    folder = tmp_path_factory.mktemp("farm")
    for shot, frames in SHOTS.items():
        write_plates(folder / "plates" / shot, frames, shot)
    write_tiny_checkpoint(folder / "tiny.safetensors")
    return folder


def plate(root: Path, shot: str) -> str:
    return str(root / "plates" / shot / f"{shot}.####.exr")


def submit(root: Path, job: str, *options: str) -> tuple[int, str]:
    """``farm submit-template`` for both shots, the engine run by this Python (no PATH needed)."""
    args = ["submit-template", plate(root, "sh010"), plate(root, "sh020"), "-o", str(root / job),
            "--checkpoint", str(root / "tiny.safetensors"), "--device", "cpu",
            "--engine-command", f"{sys.executable} -m flashdepth_vfx", *options]
    result = CliRunner().invoke(farm, args)
    return result.exit_code, result.output


def openjd(*args: str) -> subprocess.CompletedProcess[str]:
    """The openjd CLI; tasks use one thread, as the single-pass reference does, so that equal means bit-equal."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([str(OPENJD), *args], capture_output=True, text=True, env=env, timeout=120)


def depth(folder: Path, shot: str, frame: int) -> np.ndarray:
    return read_channel(folder / f"{shot}_depth.{frame}.exr", "depth.Z")


@pytest.fixture(scope="module")
def single_pass(root: Path) -> dict[str, dict[int, np.ndarray]]:
    """Each shot rendered in one pass in this process, on one thread like the farm tasks."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for shot in SHOTS:
            settings = RenderSettings(plate=plate(root, shot), output=str(root / "single" / f"{shot}_depth.####.exr"),
                                      checkpoint=str(root / "tiny.safetensors"), device="cpu")
            Render(settings, QuietEvents()).run()
    finally:
        torch.set_num_threads(threads)
    return {shot: {f: depth(root / "single", shot, f) for f in frames} for shot, frames in SHOTS.items()}


def relative_difference(a: np.ndarray, b: np.ndarray, reference: dict[int, np.ndarray]) -> float:
    """max |a - b| over the shot's output range."""
    values = np.stack(list(reference.values()))
    return float(np.abs(a - b).max() / (values.max() - values.min()))


def onrun_args(step: dict) -> list[str]:
    return step["script"]["actions"]["onRun"]["args"]


def test_chunked_template_passes_openjd_check(root) -> None:
    code, output = submit(root, "check.yaml", "--chunk-size", "4")
    assert code == 0, output
    checked = openjd("check", str(root / "check.yaml"))
    assert checked.returncode == 0 and "passes validation checks" in checked.stdout, checked.stdout + checked.stderr

    template = yaml.safe_load((root / "check.yaml").read_text())
    assert template["specificationVersion"] == "jobtemplate-2023-09"
    assert template["extensions"] == ["TASK_CHUNKING"]
    assert [s["name"] for s in template["steps"]] == ["sh010", "sh020"]
    ranges = [s["parameterSpace"]["taskParameterDefinitions"][0] for s in template["steps"]]
    assert [(r["type"], r["range"], r["chunks"]) for r in ranges] == [
        ("CHUNK[INT]", f"{f[0]}-{f[-1]}", {"defaultTaskCount": 4, "rangeConstraint": "CONTIGUOUS"})
        for f in SHOTS.values()]
    params = {p["name"]: p for p in template["parameterDefinitions"]}
    assert params["Warmup"]["default"] == DEFAULT_WARMUP
    assert params["Mode"]["allowedValues"] == ["depth", "disparity"]  # normalized needs the whole shot in one task
    assert (params["PlateDir"]["type"], params["PlateDir"]["default"]) == ("PATH", "plates")  # relative to job.yaml
    args = onrun_args(template["steps"][0])
    assert args[:4] == ["-c", 'exec {{Param.EngineCommand}} "$@"', "flashdepth-vfx", "render"]
    assert args[4] == "{{Param.PlateDir}}/sh010/sh010.%04d.exr"
    assert args[args.index("--frames") + 1] == "{{Task.Param.Frame}}"
    assert args[args.index("--warmup") + 1] == "{{Param.Warmup}}"
    assert args[args.index("--progress") + 1] == "json"


def test_short_shots_get_one_task_each(root) -> None:
    for chunk_size in (None, 6):  # no chunks asked, or shots no longer than a chunk
        template = build_template([plate(root, s) for s in SHOTS], chunk_size, None, False,
                                  {"checkpoint": str(root / "tiny.safetensors"), "mode": "normalized", "device": "cuda",
                                   "half": True, "passthrough": False, "missing": "hold", "layer": None},
                                  template_dir=root)
        assert "extensions" not in template
        assert all(s["hostRequirements"]["amounts"] == [{"name": "amount.worker.gpu", "min": 1}]
                   for s in template["steps"])
        for step, frames in zip(template["steps"], SHOTS.values()):
            assert "parameterSpace" not in step
            args = onrun_args(step)
            assert args[args.index("--frames") + 1] == f"{frames[0]}-{frames[-1]}" and "--warmup" not in args
            assert args[args.index("--mode") + 1] == "{{Param.Mode}}" and args[args.index("--missing") + 1] == "hold"
            assert "--half" in args and "--passthrough" not in args and "--layer" not in args
        params = {p["name"]: p for p in template["parameterDefinitions"]}
        assert "Warmup" not in params and "normalized" in params["Mode"]["allowedValues"]


def test_chained_chunks_are_steps_that_depend_in_order(root) -> None:
    template = build_template([plate(root, "sh010")], 4, None, True, {}, template_dir=root)
    steps = template["steps"]
    assert [s["name"] for s in steps] == ["sh010 1001-1004", "sh010 1005-1006"]
    assert "dependencies" not in steps[0] and steps[1]["dependencies"] == [{"dependsOn": "sh010 1001-1004"}]
    assert [onrun_args(s)[onrun_args(s).index("--frames") + 1] for s in steps] == ["1001-1004", "1005-1006"]
    assert all("--warmup" not in onrun_args(s) for s in steps)


def test_paths_outside_the_template_folder_are_absolute_strings(root, tmp_path) -> None:
    template = build_template([plate(root, "sh010")], None, None, False,
                              {"checkpoint": str(root / "tiny.safetensors")}, template_dir=tmp_path)
    params = {p["name"]: p for p in template["parameterDefinitions"]}
    assert (params["PlateDir"]["type"], params["PlateDir"]["default"]) == ("STRING", str(root / "plates" / "sh010"))
    assert (params["Checkpoint"]["type"], params["Checkpoint"]["default"]) == ("STRING", str(root / "tiny.safetensors"))


def test_shots_from_a_folder_wildcard_with_a_shot_placeholder(root) -> None:
    shots = find_shots([str(root / "plates" / "*")], output=str(root / "depth" / "{shot}" / "{shot}_z.####.exr"))
    assert [(s.name, s.first, s.last) for s in shots] == [(n, f[0], f[-1]) for n, f in SHOTS.items()]
    assert [s.output for s in shots] == [str(root / "depth" / n / f"{n}_z.%04d.exr") for n in SHOTS]


@pytest.mark.parametrize(("options", "message"), [
    (["--chunk-size", "3", "--chain", "--warmup", "2"], "pick one"),
    (["--warmup", "2"], "give --chunk-size"),
    (["--chunk-size", "3", "--mode", "normalized"], "--mode normalized"),
    (["--output", "depth/all.####.exr"], "put {shot} in --output"),
])
def test_conflicting_options_are_one_line_errors(root, options, message) -> None:
    code, output = submit(root, "bad.yaml", *options)
    assert code == 1 and output.startswith("Error: ") and message in output and output.count("\n") == 1, output
    assert not (root / "bad.yaml").exists()


def test_missing_frames_are_found_when_the_template_is_built(tmp_path) -> None:
    gappy = write_plates(tmp_path / "gappy", range(1001, 1005), "gappy")
    (tmp_path / "gappy" / "gappy.1003.exr").unlink()
    result = CliRunner().invoke(farm, ["submit-template", gappy, "-o", str(tmp_path / "job.yaml")])
    assert result.exit_code == 1 and "missing frames 1003" in result.output, result.output
    with pytest.raises(FarmError, match="do not carry the render option"):
        build_template([gappy], None, None, False, {"resume": True, "missing": "hold"})


def test_options_mirror_render() -> None:
    from flashdepth_vfx.cli import render

    render_params = {p.name: p for p in render.params}
    decided_by_the_farm = {"plate", "frames", "warmup", "resume", "snapshot_every", "progress", "quiet", "debug"}
    # The shot solve fits the whole shot at once: it runs after the farm's chunks, as `flashdepth-vfx solve`.
    decided_by_the_farm |= set(SOLVE_OPTIONS)
    render_options = {"model" if name == "model_name" else name for name in render_params} - decided_by_the_farm
    assert render_options == {*RENDER_OPTIONS, "output"}  # a new render option must be carried or decided here
    submit_params = {p.name: p for p in farm.commands["submit-template"].params}
    choices = {name: p.type.choices for name, p in submit_params.items() if isinstance(p.type, click.Choice)}
    assert sorted(choices) == ["compression", "device", "missing", "mode", "precision"]
    for name, values in choices.items():
        render_type = render_params[name].type
        assert isinstance(render_type, click.Choice) and list(values) == list(render_type.choices), name
    for name in ("device", "precision", "mode"):  # always job parameters, defaulting as render does
        assert submit_params[name].default == render_params[name].default, name


def test_warmup_job_runs_every_chunk_and_a_failed_task_reruns_alone(root, single_pass) -> None:
    out = root / "warm"
    code, output = submit(root, "warm.yaml", "--chunk-size", "3", "--warmup", "2", "--output", str(out / "{shot}_depth.####.exr"))
    assert code == 0, output
    ran = openjd("run", str(root / "warm.yaml"))
    assert ran.returncode == 0 and "Chunks run: 4" in ran.stdout, ran.stdout[-3000:] + ran.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{s}_depth.{f}.exr" for s, fr in SHOTS.items() for f in fr)

    for shot, frames in SHOTS.items():
        reference = single_pass[shot]
        for f in frames[:3]:  # the first chunk starts at the shot start: the single pass itself
            np.testing.assert_array_equal(depth(out, shot, f), reference[f])
        seam = frames[3]  # the second chunk starts cold 2 frames early: close, not equal
        assert 0 < relative_difference(depth(out, shot, seam), reference[seam], reference) < 0.01
        for f in frames[3:]:
            assert relative_difference(depth(out, shot, f), reference[f], reference) < 0.01

    # A task fails on a damaged plate: it leaves every other frame as it was, and no half-written file.
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    rendered = {f: depth(out, "sh010", f) for f in (1004, 1005, 1006)}
    damaged = root / "plates" / "sh010" / "sh010.1005.exr"
    good = damaged.read_bytes()
    try:
        damaged.write_bytes(good[:2000])
        failed = openjd("run", str(root / "warm.yaml"), "--step", "sh010", "--task-param", "Frame=1004-1006")
    finally:
        damaged.write_bytes(good)
    assert failed.returncode != 0 and '"event": "error"' in failed.stdout and "sh010.1005.exr" in failed.stdout
    after_failure = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert sorted(after_failure) == sorted(before)  # no temporary file left behind
    assert {name for name in before if after_failure[name] != before[name]} <= {"sh010_depth.1004.exr"}

    # Rerun alone, it rewrites exactly its own frames, with the same values.
    rerun = openjd("run", str(root / "warm.yaml"), "--step", "sh010", "--task-param", "Frame=1004-1006")
    assert rerun.returncode == 0 and "Chunks run: 1" in rerun.stdout, rerun.stdout[-3000:] + rerun.stderr
    after = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert sorted(after) == sorted(before)
    assert sorted(name for name in after if after[name] != before[name]) == [
        "sh010_depth.1004.exr", "sh010_depth.1005.exr", "sh010_depth.1006.exr"]
    for f, values in rendered.items():
        np.testing.assert_array_equal(depth(out, "sh010", f), values)


def test_chained_job_is_exactly_the_single_pass(root, single_pass) -> None:
    out = root / "chain"
    code, output = submit(root, "chain.yaml", "--chunk-size", "3", "--chain", "--output", str(out / "{shot}_depth.####.exr"))
    assert code == 0, output
    ran = openjd("run", str(root / "chain.yaml"))
    assert ran.returncode == 0 and "Chunks run: 4" in ran.stdout, ran.stdout[-3000:] + ran.stderr
    order = [line.split("Running step ")[1] for line in ran.stdout.splitlines() if "Running step " in line]
    assert order == ["'sh010 1001-1003'", "'sh010 1004-1006'", "'sh020 1011-1013'", "'sh020 1014-1016'"]
    handed_over = sorted(p.name for p in out.glob(".flashdepth/*/state.*.safetensors"))
    assert handed_over == ["state.1003.safetensors", "state.1006.safetensors",
                           "state.1013.safetensors", "state.1016.safetensors"]
    for shot, frames in SHOTS.items():
        for f in frames:
            np.testing.assert_array_equal(depth(out, shot, f), single_pass[shot][f], err_msg=f"{shot} {f}")


def test_an_output_onto_the_plates_is_refused_in_any_spelling(tmp_path) -> None:
    """Issue 11 item 1 at template time: the plates reached through a symlinked folder or another token spelling."""
    plates = write_plates(tmp_path / "sh030", range(1, 3), "sh030")
    (tmp_path / "alias").symlink_to(tmp_path / "sh030")
    for output in (str(tmp_path / "alias" / "sh030.$F4.exr"), str(tmp_path / "sh030" / "sh030.%04d.exr")):
        result = CliRunner().invoke(farm, ["submit-template", plates, "-o", str(tmp_path / "job.yaml"), "--output", output])
        assert result.exit_code == 1 and "is also an input" in result.output, result.output
        assert not (tmp_path / "job.yaml").exists()
