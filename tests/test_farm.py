"""Farm jobs: Open Job Description templates checked and run by the real ``openjd`` CLI on real plates, with the real
engine in every task; seams compared with a single-pass render."""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import numpy as np
import pytest
import torch
import yaml  # type: ignore[import-untyped]
from click.testing import CliRunner

from engine_helpers import read_channel, run_cli, write_plates, write_tiny_checkpoint
from flashdepth_vfx.engine import QuietEvents, Render, RenderSettings
from flashdepth_vfx.errors import FlashDepthError
from flashdepth_vfx.farm import DEFAULT_WARMUP, FarmError, build_job
from flashdepth_vfx.farm.command import farm
from flashdepth_vfx.farm.options import RENDER_OPTIONS
from flashdepth_vfx.farm.shots import find_shots
from flashdepth_vfx.plates import probe, read_channels
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


@pytest.fixture(scope="module")
def matchmove(root: Path) -> dict[str, str]:
    """A still .chan camera over both shots' frames and tracked points in front of it (CSV x,y,z), beside the job
    templates, and anchors (frame,x,y,distance)."""
    chan = root / "cam.chan"
    chan.write_text("".join(f"{f} 0 0 0 0 0 0 40\n" for frames in SHOTS.values() for f in frames))
    rng = np.random.default_rng(0)
    xyz = np.column_stack([rng.uniform(-2, 2, 60), rng.uniform(-1.5, 1.5, 60), -rng.uniform(4, 10, 60)])
    points = root / "tracks.csv"
    points.write_text("x,y,z\n" + "".join(f"{x:.6f},{y:.6f},{z:.6f}\n" for x, y, z in xyz))
    anchors = root / "anchors.csv"
    anchors.write_text("frame,x,y,distance\n1001,60,50,7.5\n1012,40,30,6.0\n")
    return {"camera": str(chan), "points": str(points), "anchors": str(anchors)}


def submit(root: Path, job: str, *options: str, shots: tuple[str, ...] = tuple(SHOTS)) -> tuple[int, str]:
    """``farm submit-template`` for the shots (both by default), the engine run by this Python (no PATH needed); fp32,
    as the single pass: the tiny test model's warm-up seams are below bf16's resolution of its output."""
    args = ["submit-template", *(plate(root, shot) for shot in shots), "-o", str(root / job),
            "--checkpoint", str(root / "tiny.safetensors"), "--device", "cpu", "--precision", "fp32",
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
                                      checkpoint=str(root / "tiny.safetensors"), device="cpu", precision="fp32")
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
        template = build_job([plate(root, s) for s in SHOTS], chunk_size, None, False,
                             {"checkpoint": str(root / "tiny.safetensors"), "mode": "normalized", "device": "cuda",
                              "half": True, "passthrough": False, "missing": "hold", "layer": None},
                             template_dir=root).template
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
    template = build_job([plate(root, "sh010")], 4, None, True, {}, template_dir=root).template
    steps = template["steps"]
    assert [s["name"] for s in steps] == ["sh010 1001-1004", "sh010 1005-1006"]
    assert "dependencies" not in steps[0] and steps[1]["dependencies"] == [{"dependsOn": "sh010 1001-1004"}]
    assert [onrun_args(s)[onrun_args(s).index("--frames") + 1] for s in steps] == ["1001-1004", "1005-1006"]
    assert all("--warmup" not in onrun_args(s) for s in steps)


@pytest.mark.parametrize("native", [True, False])
def test_the_precision_resolved_at_submission_is_pinned_for_every_task(root, monkeypatch, native: bool) -> None:
    from flashdepth_vfx.engine import loading

    monkeypatch.setattr(loading, "cpu_has_native_bf16", lambda: native)  # the submitting machine's CPU
    for asked, pinned in ((None, "bf16" if native else "fp32"), ("auto", "bf16" if native else "fp32"),
                          ("fp32", "fp32"), ("bf16", "bf16")):
        template = build_job([plate(root, s) for s in SHOTS], 4, None, False,
                             {"device": "cpu", "precision": asked}, template_dir=root).template
        params = {p["name"]: p for p in template["parameterDefinitions"]}
        assert params["Precision"]["default"] == pinned, asked
        assert params["Precision"]["allowedValues"] == ["fp32", "fp16", "bf16"]  # no "auto" to resolve per node
        for step in template["steps"]:
            args = onrun_args(step)
            assert args[args.index("--precision") + 1] == "{{Param.Precision}}"


def values_of(bundle: Path) -> dict[str, str]:
    """The bundle's job parameter values, as `deadline bundle submit` reads them (Deadline Cloud's format)."""
    data = json.loads((bundle / "parameter_values.json").read_text())
    return {entry["name"]: entry["value"] for entry in data["parameterValues"]}


def test_paths_outside_the_bundle_reach_a_worker_through_path_mapping(root, tmp_path, single_pass) -> None:
    """Issue 19 item 2: plates, outputs and checkpoint outside the bundle are PATH parameters (no default: OpenJD
    takes only relative ones) valued in parameter_values.json, so a worker that mounts the show elsewhere renders
    the shot through OpenJD path mapping, as Deadline Cloud runs it."""
    show, worker_show = tmp_path / "mnt" / "show", tmp_path / "Volumes" / "show"
    shutil.copytree(root / "plates" / "sh010", show / "plates" / "sh010")
    bundle = tmp_path / "bundle"
    result = CliRunner().invoke(farm, [
        "submit-template", str(show / "plates" / "sh010" / "sh010.####.exr"), "-o", str(bundle / "template.yaml"),
        "--checkpoint", str(root / "tiny.safetensors"), "--device", "cpu", "--precision", "fp32",
        "--output", str(show / "depth"),
        "--engine-command", f"{sys.executable} -m flashdepth_vfx"])
    assert result.exit_code == 0, result.output
    params = {p["name"]: p for p in yaml.safe_load((bundle / "template.yaml").read_text())["parameterDefinitions"]}
    for name, kind, flow in (("PlateDir", "DIRECTORY", "IN"), ("OutputDir", "DIRECTORY", "OUT"),
                             ("Checkpoint", "FILE", "IN")):
        assert (params[name]["type"], params[name]["objectType"], params[name]["dataFlow"]) == ("PATH", kind, flow)
        assert "default" not in params[name], name
    values = values_of(bundle)
    assert values == {"PlateDir": str(show / "plates" / "sh010"), "OutputDir": str(show / "depth"),
                      "Checkpoint": str(root / "tiny.safetensors")}
    assert f"openjd run {bundle / 'template.yaml'} -p PlateDir={show / 'plates' / 'sh010'}" in result.output

    worker_show.parent.mkdir()
    show.rename(worker_show)
    rule = {"source_path_format": "POSIX", "source_path": str(show), "destination_path": str(worker_show)}
    ran = openjd("run", str(bundle / "template.yaml"), "-p", json.dumps(values), "--path-mapping-rules",
                 json.dumps({"version": "pathmapping-1.0", "path_mapping_rules": [rule]}))
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr
    assert not show.exists()
    for f in SHOTS["sh010"]:
        np.testing.assert_array_equal(depth(worker_show / "depth", "sh010", f), single_pass["sh010"][f])


def test_the_parameter_values_file_is_the_jobs_own(root, tmp_path) -> None:
    """parameter_values.json is written only over one flashdepth-vfx wrote for the same job (a user's own needs
    --overwrite), never beside a parameter_values.yaml (Deadline Cloud reads one), and removed when the job's
    paths all move inside its folder (its stale values would replace the defaults)."""
    job = ["submit-template", plate(root, "sh010"), "-o", str(tmp_path / "template.yaml"), "--output",
           str(tmp_path / "depth")]
    values = tmp_path / "parameter_values.json"
    values.write_text('{"parameterValues": [{"name": "deadline:priority", "value": 90}]}')
    refused = CliRunner().invoke(farm, job)
    assert refused.exit_code == 1 and "parameter_values.json exists and was not written by flashdepth-vfx" in refused.output
    assert values.read_text().startswith('{"parameterValues"') and not (tmp_path / "template.yaml").exists()
    assert CliRunner().invoke(farm, [*job, "--overwrite"]).exit_code == 0
    assert values_of(tmp_path) == {"PlateDir": str(root / "plates" / "sh010")}

    other = CliRunner().invoke(farm, [*job[:2], "-o", str(tmp_path / "other.yaml"), *job[4:]])
    assert other.exit_code == 1 and "holds the paths of the job template.yaml" in other.output, other.output

    yaml_values = tmp_path / "parameter_values.yaml"
    yaml_values.write_text("parameterValues: []\n")
    clash = CliRunner().invoke(farm, job)
    assert clash.exit_code == 1 and "Deadline Cloud reads only one values file" in clash.output
    yaml_values.unlink()

    inside = CliRunner().invoke(farm, [*job[:2], "-o", str(root / "template.yaml"), "--output", str(root / "depth")])
    assert inside.exit_code == 0 and not (root / "parameter_values.json").exists()
    (root / "parameter_values.json").write_text(values.read_text().replace("PlateDir", "Checkpoint"))
    again = CliRunner().invoke(farm, [*job[:2], "-o", str(root / "template.yaml"), "--output", str(root / "depth")])
    assert again.exit_code == 0 and not (root / "parameter_values.json").exists()  # ours, stale: removed
    (root / "template.yaml").unlink()


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
        build_job([gappy], None, None, False, {"resume": True, "missing": "hold"})


def test_options_mirror_render() -> None:
    from flashdepth_vfx.cli import render

    render_params = {p.name: p for p in render.params}
    decided_by_the_farm = {"plate", "frames", "warmup", "resume", "snapshot_every", "progress", "quiet", "debug"}
    render_options = {"model" if name == "model_name" else name for name in render_params} - decided_by_the_farm
    # A new render option must be carried or decided here; the shot solve's are carried (a last step per shot).
    assert render_options == {*RENDER_OPTIONS, "output", *SOLVE_OPTIONS}
    submit_params = {p.name: p for p in farm.commands["submit-template"].params}
    for name in SOLVE_OPTIONS:  # the very options render takes
        mine, theirs = submit_params[name], render_params[name]
        assert (mine.opts, mine.default, mine.multiple, mine.is_flag) == (theirs.opts, theirs.default, theirs.multiple,
                                                                          theirs.is_flag), name
    choices = {name: p.type.choices for name, p in submit_params.items() if isinstance(p.type, click.Choice)}
    assert sorted(choices) == ["anchor_origin", "attention", "compression", "device", "missing", "mode", "normals",
                               "position", "precision"]
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


def test_the_job_template_never_replaces_an_input_nor_a_file_it_did_not_write(root, matchmove) -> None:
    """``-o`` onto a plate frame, the checkpoint or the camera is refused even with --overwrite; a user's own YAML
    needs --overwrite; a template flashdepth-vfx wrote (its first-line marker) is replaced; each file refused stays
    byte-identical."""
    solve = ["--camera", matchmove["camera"], "--points", matchmove["points"]]
    frame = root / "plates" / "sh010" / "sh010.1003.exr"
    for target, options in [(frame, ()), (root / "tiny.safetensors", ()), (Path(matchmove["camera"]), solve)]:
        before = target.read_bytes()
        for overwrite in ((), ("--overwrite",)):
            result = CliRunner().invoke(farm, ["submit-template", plate(root, "sh010"), "-o", str(target),
                                               "--checkpoint", str(root / "tiny.safetensors"), *options, *overwrite])
            assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
            assert f"{target}" in result.output and "is also an input" in result.output, result.output
            assert target.read_bytes() == before
    own = root / "studio_job.yaml"
    own.write_text("# the studio's own template\nspecificationVersion: jobtemplate-2023-09\n")
    code, output = submit(root, "studio_job.yaml", shots=("sh010",))
    assert code == 1 and "was not written by flashdepth-vfx as a farm-template file" in output, output
    assert "--overwrite" in output and own.read_text().startswith("# the studio's own template")
    assert submit(root, "studio_job.yaml", "--overwrite", shots=("sh010",))[0] == 0
    assert own.read_text().splitlines()[0] == "# flashdepth:kind=farm-template"
    code, output = submit(root, "studio_job.yaml", "--chunk-size", "2", shots=("sh010",))  # ours now: replaced
    assert code == 0 and openjd("check", str(own)).returncode == 0, output


def test_a_reversed_range_and_a_wildcard_folder_without_the_shot_are_named(root, tmp_path) -> None:
    code, output = submit(root, "bad.yaml", "--frames", "1006-1003", shots=("sh010",))
    assert code == 1 and output == "Error: --frames 1006-1003 runs backwards: give the first frame first, --frames " \
                                   "1003-1006\n", output
    (root / "plates" / "notes").mkdir(exist_ok=True)  # a folder the wildcard matches that holds no shot
    for pattern, what in [("*/sh010.####.exr", "sh010.####.exr"), ("*", "numbered image sequence")]:
        wildcard = str(root / "plates" / pattern)
        result = CliRunner().invoke(farm, ["submit-template", wildcard, "-o", str(tmp_path / "job.yaml")])
        folder = root / "plates" / "notes"
        assert result.output == (f"Error: {wildcard} matches the folder {folder}, which holds no {what}: narrow the "
                                 "wildcard to the shots' folders, or name each shot's plates\n"), result.output
    (root / "plates" / "notes").rmdir()


# --- the shot solve ------------------------------------------------------------------------------------------------

def test_solve_step_runs_once_per_shot_after_all_its_chunks(root, matchmove) -> None:
    code, output = submit(root, "solve.yaml", "--chunk-size", "4", "--output", str(root / "depth" / "{shot}_z.####.exr"),
                          "--channel", "Z", "--camera", matchmove["camera"], "--points", matchmove["points"],
                          "--points", matchmove["points"], "--anchors", matchmove["anchors"], "--cut", "1013",
                          "--position", "world", "--passthrough",
                          "--report", str(root / "depth" / "reports" / "{shot}.json"))
    assert code == 0, output
    template = yaml.safe_load((root / "solve.yaml").read_text())
    steps = {s["name"]: s for s in template["steps"]}
    assert list(steps) == ["sh010", "sh010 solve", "sh020", "sh020 solve"]
    params = {p["name"]: p for p in template["parameterDefinitions"]}
    assert "Mode" not in params  # the render steps always stream disparity: the solve writes the mode asked
    for name, default in (("Camera", "cam.chan"), ("Points", "tracks.csv"), ("Points2", "tracks.csv"),
                          ("Anchors", "anchors.csv")):  # relative to the template: OpenJD path mapping reaches them
        assert (params[name]["type"], params[name]["objectType"], params[name]["dataFlow"], params[name]["default"]) == (
            "PATH", "FILE", "IN", default), name
    for shot, frames in SHOTS.items():
        render, solve = onrun_args(steps[shot]), onrun_args(steps[f"{shot} solve"])
        assert render[render.index("--output") + 1] == f"{{{{Param.OutputDir}}}}/{shot}_z_raw.%04d.exr"
        assert render[render.index("--mode") + 1] == "disparity" and render[render.index("--channel") + 1] == "{{Param.Channel}}"
        assert steps[f"{shot} solve"]["dependencies"] == [{"dependsOn": shot}]  # the whole CHUNK step: every chunk
        assert "amounts" not in steps[f"{shot} solve"]["hostRequirements"]
        assert solve[3:8] == ["solve", f"{{{{Param.OutputDir}}}}/{shot}_z_raw.%04d.exr", "-o",
                              f"{{{{Param.OutputDir}}}}/{shot}_z.%04d.exr", "--plates"]
        assert solve[8] == f"{{{{Param.PlateDir}}}}/{shot}/{shot}.%04d.exr"
        pairs = list(zip(solve[9::1], solve[10::1]))
        assert ("--frames", f"{frames[0]}-{frames[-1]}") in pairs and ("--mode", "depth") in pairs
        assert ("--channel", "{{Param.Channel}}") in pairs and ("--out-channel", "{{Param.Channel}}") in pairs
        assert [b for a, b in pairs if a == "--points"] == ["{{Param.Points}}", "{{Param.Points2}}"]
        assert ("--camera", "{{Param.Camera}}") in pairs and ("--anchors", "{{Param.Anchors}}") in pairs
        assert ("--report", f"{{{{Param.OutputDir}}}}/reports/{shot}.json") in pairs and "--resume" in solve
        assert "--passthrough" in render and "--passthrough" in solve  # the solve carries the plate
        assert [b for a, b in pairs if a == "--cut"] == (["1013"] if shot == "sh020" else [])  # each shot its cuts
    assert template["description"].endswith("then the shot solve")


def test_solve_errors_are_one_line_before_anything_is_written(root, matchmove) -> None:
    short = root / "short.chan"
    short.write_text("".join(f"{f} 0 0 0 0 0 0 40\n" for f in SHOTS["sh010"]))
    solve = ["--camera", matchmove["camera"], "--points", matchmove["points"]]
    for options, message in [
        ([*solve, "--report", str(root / "r.json")], "put {shot} in --report"),
        (["--stabilize", "--cut", "1008"], "--cut 1008 is in none of the shots"),
        ([*solve, "--mode", "normalized"], "--mode normalized cannot be solved"),
        (["--fov", "40"], "nothing to solve against"),
        (["--camera", str(short), "--points", matchmove["points"]], "short.chan"),  # does not cover sh020
    ]:
        code, output = submit(root, "bad.yaml", *options)
        assert code == 1 and output.startswith("Error: ") and message in output and output.count("\n") == 1, output
        assert not (root / "bad.yaml").exists()


def test_the_output_guard_covers_the_raw_and_solved_frames(tmp_path, matchmove) -> None:
    """The raw frames land beside the output as NAME_raw: never onto plates of that name; and the solve, which
    replaces its frames without asking, never replaces a file flashdepth-vfx did not write."""
    plates = write_plates(tmp_path / "plates", range(1001, 1004), "sh030_raw")
    (tmp_path / "alias").symlink_to(tmp_path / "plates")
    job = ["submit-template", plates, "-o", str(tmp_path / "job.yaml"), "--anchors", matchmove["anchors"], "--fov", "40"]
    result = CliRunner().invoke(farm, [*job, "--output", str(tmp_path / "alias" / "sh030.####.exr")])
    assert result.exit_code == 1 and "is also an input" in result.output and "sh030_raw.1001.exr" in result.output

    out = tmp_path / "depth"
    out.mkdir()
    (out / "sh030_raw_depth.1002.exr").write_bytes((tmp_path / "plates" / "sh030_raw.1002.exr").read_bytes())
    result = CliRunner().invoke(farm, [*job, "--output", str(out)])
    assert result.exit_code == 1 and "was not written by flashdepth-vfx" in result.output, result.output
    assert not (tmp_path / "job.yaml").exists()
    result = CliRunner().invoke(farm, [*job, "--output", str(out), "--overwrite"])
    assert result.exit_code == 0, result.output


def all_channels(path: Path) -> dict[str, np.ndarray]:
    return dict(read_channels(path))


def test_farm_solve_writes_what_a_local_render_writes_and_reruns_safely(root, matchmove) -> None:
    """Chained chunks give the single pass's raw disparity bit for bit, so the farm's solved frames (depth, P, N)
    are the local `render --camera --points` ones bit for bit. The solve step reruns without harm: nothing to do
    when done, nothing touched when it fails, everything redone from changed raw frames."""
    solve = ["--camera", matchmove["camera"], "--points", matchmove["points"], "--position", "world", "--normals",
             "camera", "--threads", "1"]
    out, local = root / "farm_solved", root / "local_solved"
    code, output = submit(root, "solved.yaml", "--chunk-size", "3", "--chain", "--output",
                          str(out / "{shot}_depth.####.exr"), *solve, shots=("sh010",))
    assert code == 0, output
    ran = openjd("run", str(root / "solved.yaml"))
    assert ran.returncode == 0 and "Chunks run: 3" in ran.stdout, ran.stdout[-3000:] + ran.stderr
    order = [line.split("Running step ")[1] for line in ran.stdout.splitlines() if "Running step " in line]
    assert order == ["'sh010 1001-1003'", "'sh010 1004-1006'", "'sh010 solve'"]
    code, err = run_cli("render", plate(root, "sh010"), "-o", str(local / "sh010_depth.####.exr"), "--checkpoint",
                        str(root / "tiny.safetensors"), "--device", "cpu", "--precision", "fp32", "--progress", "none",
                        *solve)
    assert code == 0, err
    names = sorted(p.name for p in local.glob("*.exr"))
    assert names == sorted(p.name for p in out.glob("*.exr")) and len(names) == 12  # raw and solved frames
    for name in names:
        farm_channels, local_channels = all_channels(out / name), all_channels(local / name)
        assert sorted(farm_channels) == sorted(local_channels), name
        for channel, values in local_channels.items():
            np.testing.assert_array_equal(farm_channels[channel], values, err_msg=f"{name} {channel}")
    solved = probe(out / "sh010_depth.1004.exr").metadata
    assert sorted(all_channels(out / "sh010_depth.1004.exr")) == ["N.B", "N.G", "N.R", "P.B", "P.G", "P.R", "depth.Z"]
    assert solved["flashdepth:solve_points"] > 0 and solved["flashdepth:mode"] == "depth"

    files = sorted(out.glob("sh010_depth.*.exr"))
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in files}
    again = openjd("run", str(root / "solved.yaml"), "--step", "sh010 solve")
    assert again.returncode == 0 and "6 already solved" in again.stdout, again.stdout[-3000:]
    assert {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in files} == before

    raw = out / "sh010_depth_raw.1004.exr"
    good = raw.read_bytes()
    raw.write_bytes(good[:500])  # a damaged raw frame: the solve fails before it writes anything
    failed = openjd("run", str(root / "solved.yaml"), "--step", "sh010 solve")
    assert failed.returncode != 0 and "sh010_depth_raw.1004.exr" in failed.stdout and "Traceback" not in failed.stdout
    assert {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in files} == before
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".") and p.is_file()) == []  # no temporary file
    raw.write_bytes(good)  # re-rendered: a new raw file, so every frame is solved again, to the same values
    rerun = openjd("run", str(root / "solved.yaml"), "--step", "sh010 solve")
    assert rerun.returncode == 0 and "wrote 6 frames" in rerun.stdout, rerun.stdout[-3000:]
    for path in files:
        assert path.stat().st_mtime_ns != before[path.name][0]
        for channel, values in all_channels(path).items():
            np.testing.assert_array_equal(values, all_channels(local / path.name)[channel], err_msg=path.name)

    # The camera is a PATH job parameter: OpenJD path mapping takes the solve to where a worker sees the file.
    camera, moved = Path(matchmove["camera"]), root / "mapped" / "cam.chan"
    moved.parent.mkdir(exist_ok=True)
    camera.rename(moved)
    try:
        rule = {"source_path_format": "POSIX", "source_path": str(camera), "destination_path": str(moved)}
        mapped = openjd("run", str(root / "solved.yaml"), "--step", "sh010 solve", "--path-mapping-rules",
                        json.dumps({"version": "pathmapping-1.0", "path_mapping_rules": [rule]}))
    finally:
        moved.rename(camera)
    # The solve loads the camera where the mapping put it (its content is in the resume key; a path it cannot see
    # fails the step), and the same content at another path keeps every solved frame.
    assert mapped.returncode == 0 and "6 already solved" in mapped.stdout, mapped.stdout[-3000:]
    np.testing.assert_array_equal(read_channel(files[0], "depth.Z"), read_channel(local / files[0].name, "depth.Z"))


def test_solve_settings_reach_the_solve_command_whole() -> None:
    """Every solve setting (each away from its default here) goes through the `solve` command's own options and
    parses back to the same settings; a setting the command cannot take is an error, not dropped."""
    from flashdepth_vfx.farm.solve import solve_args
    from flashdepth_vfx.solve.command import solve
    from flashdepth_vfx.solve.run import SolveSettings

    settings = SolveSettings(
        disparity="d.%04d.exr", output="o.%04d.exr", plates="p.%04d.exr", missing="hold", frames="1-3", channel="Z",
        camera="c.usda",
        camera_prim="/cam", frame_offset=1000.0, focal=35.0, filmback="36x24", rotation_order="XYZ",
        points=("a.obj", "b.csv"), anchors="a.csv", anchor_origin="bottom-left", stabilize=True, cuts=(2, 3),
        detect_cuts=False, smoothness=0.1, mode="distance", position="world", normals="camera", out_channel="depth.Y",
        depth_scale=10.0, far=500.0, half=True, passthrough=True, resume=True, overwrite=True, report="r.json",
        part="1", layer="beauty", colorspace="ACEScct", ocio_config="studio.ocio", display="sRGB", view="Raw")
    untouched = {f.name for f in dataclasses.fields(SolveSettings)
                 if getattr(settings, f.name) == getattr(SolveSettings(disparity=""), f.name)}
    assert untouched == {"fov"}  # focal given instead
    params = solve.make_context("solve", solve_args(settings, {})).params
    assert params.pop("debug") is False and params.pop("progress") == "text"
    params["detect_cuts"] = not params.pop("no_detect_cuts")
    assert SolveSettings(**{**params, "points": tuple(params["points"]), "cuts": tuple(params["cuts"])}) == settings
    with pytest.raises(FlashDepthError, match="no option for bogus"):
        solve_args(settings, {"bogus": "{{Param.Bogus}}"})


def test_a_foreign_file_at_the_report_is_refused_at_submission(tmp_path, matchmove) -> None:
    """The solve step (on the farm, after every render task) would refuse a report file flashdepth-vfx did not
    write: the job is refused when it is written, not hours later on a worker."""
    plates = write_plates(tmp_path / "plates", range(1001, 1004), "sh040")
    report = tmp_path / "depth" / "sh040_solve.json"
    report.parent.mkdir()
    report.write_text('{"notes": "a supervisor\'s, not ours"}')
    job = ["submit-template", plates, "-o", str(tmp_path / "job.yaml"), "--anchors", matchmove["anchors"], "--fov",
           "40", "--output", str(tmp_path / "depth"), "--report", str(tmp_path / "depth" / "{shot}_solve.json")]
    result = CliRunner().invoke(farm, job)
    assert result.exit_code == 1 and "sh040_solve.json exists and was not written by flashdepth-vfx" in result.output
    assert "--overwrite" in result.output and not (tmp_path / "job.yaml").exists()
    result = CliRunner().invoke(farm, [*job, "--overwrite"])
    assert result.exit_code == 0, result.output
    solve = next(s for s in yaml.safe_load((tmp_path / "job.yaml").read_text())["steps"] if s["name"] == "sh040 solve")
    assert "--overwrite" in onrun_args(solve)  # the step may then replace it
