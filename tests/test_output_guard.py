"""Issue 11 item 1: no command writes over one of its inputs, or over a file the project did not write."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from engine_helpers import one_line_error, run_cli as run, write_plates, write_tiny_checkpoint
from flashdepth_vfx.errors import OutputError
from flashdepth_vfx.model import build_model
from flashdepth_vfx.plates.image_io import write_exr, write_image
from flashdepth_vfx.plates.output_guard import check_outputs, image_marker, written_kind


def digest(folder: Path) -> dict[str, str]:
    """Content hash of every file under ``folder`` (links followed)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def plates(tmp_path: Path) -> Path:
    write_plates(tmp_path / "plates", range(1, 4))
    return tmp_path / "plates"


# ------------------------------------------------------------------------------------------- the rule itself
def test_an_input_is_refused_through_a_symlinked_folder_and_a_hard_link(tmp_path: Path) -> None:
    plate = tmp_path / "real" / "shot.0001.exr"
    plate.parent.mkdir()
    plate.write_bytes(b"plate")
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    os.link(plate, tmp_path / "hard.exr")
    for output in (tmp_path / "alias" / "shot.0001.exr", tmp_path / "hard.exr", tmp_path / "real" / ".." / "real" / "shot.0001.exr"):
        with pytest.raises(OutputError, match="is also an input"):
            check_outputs([(output, "depth")], [plate], overwrite=True)  # --overwrite never allows it
    assert plate.read_bytes() == b"plate"


def test_a_file_the_project_did_not_write_needs_overwrite(tmp_path: Path) -> None:
    foreign, ours = tmp_path / "x.exr", tmp_path / "y.exr"
    write_exr(foreign, {"Z": np.ones((2, 2), np.float32)})
    write_exr(ours, {"depth.Z": np.ones((2, 2), np.float32)}, metadata={"flashdepth:version": "1"})
    assert (written_kind(foreign), written_kind(ours)) == (None, "depth")
    check_outputs([(ours, "depth")], [])
    with pytest.raises(OutputError, match=r"x\.exr exists and was not written by flashdepth-vfx as a depth file; pass --overwrite"):
        check_outputs([(ours, "depth"), (foreign, "depth")], [])
    check_outputs([(foreign, "depth")], [], overwrite=True)
    with pytest.raises(OutputError, match="not a file"):
        check_outputs([(tmp_path, "depth")], [], overwrite=True)


def test_kinds_are_told_apart(tmp_path: Path) -> None:
    png, jpg, js = tmp_path / "p.png", tmp_path / "p.jpg", tmp_path / "m.json"
    write_image(png, np.zeros((4, 4, 3), np.float32), image_marker("preview"))
    write_image(jpg, np.zeros((4, 4, 3), np.float32), image_marker("eval-plot"))
    js.write_text(json.dumps({"flashdepth:kind": "eval"}))
    assert (written_kind(png), written_kind(jpg), written_kind(js)) == ("preview", "eval-plot", "eval")
    with pytest.raises(OutputError, match="as a eval-plot file"):
        check_outputs([(png, "eval-plot")], [])  # the project's, but another kind
    (tmp_path / "garbage.safetensors").write_bytes(b"\xff" * 20)
    assert written_kind(tmp_path / "garbage.safetensors") is None
    with pytest.raises(OutputError, match="are one file"):
        check_outputs([(js, "eval"), (tmp_path / "." / "m.json", "eval-plot")], [], overwrite=True)


# --------------------------------------------------------------------------------------------- the commands
@pytest.mark.parametrize("spelling", ["shot.####.exr", "shot.%04d.exr", "shot.$F4.exr", "shot.@@@@.exr", "shot.0002.exr",
                                      "../alias/shot.####.exr"])
def test_render_never_writes_over_its_plates(plates: Path, checkpoint: Path, spelling: str) -> None:
    (plates.parent / "alias").symlink_to(plates)
    before = digest(plates)
    plate = plates / ("shot.0002.exr" if "0002" in spelling else "shot.####.exr")  # a single file onto itself
    code, err = run("render", str(plate), "-o", str(plates / spelling), "--checkpoint", str(checkpoint), "-q", "--overwrite")
    assert code == 1
    one_line_error(err, "is also an input")
    assert digest(plates) == before


def test_render_padding_past_the_plates_never_lands_among_them(tmp_path: Path, checkpoint: Path) -> None:
    write_plates(tmp_path, [1, 3])  # frame 2 missing: --missing black would write shot.0002.exr into the plates
    code, err = run("render", str(tmp_path / "shot.####.exr"), "-o", str(tmp_path / "shot.%04d.exr"), "--frames", "2",
                    "--missing", "black", "--checkpoint", str(checkpoint), "-q")
    assert code == 1 and "is also an input" in one_line_error(err)
    assert not (tmp_path / "shot.0002.exr").exists()


def test_render_png_output_never_replaces_an_unrelated_exr(plates: Path, tmp_path: Path, checkpoint: Path) -> None:
    unrelated = tmp_path / "x.exr"
    write_exr(unrelated, {"R": np.zeros((2, 2), np.float32)})
    before = unrelated.read_bytes()
    code, err = run("render", str(plates / "shot.####.exr"), "--frames", "1", "-o", str(tmp_path / "x.png"),
                    "--checkpoint", str(checkpoint), "-q")
    assert code == 1 and "--overwrite" in one_line_error(err, "x.exr")
    assert unrelated.read_bytes() == before
    assert run("render", str(plates / "shot.####.exr"), "--frames", "1", "-o", str(tmp_path / "x.png"),
               "--checkpoint", str(checkpoint), "-q", "--overwrite")[0] == 0
    assert written_kind(unrelated) == "depth"
    code, err = run("render", str(plates / "shot.####.exr"), "--frames", "1", "-o", str(tmp_path / "x.png"),
                    "--checkpoint", str(checkpoint), "-q")  # its own output: rendered again without --overwrite
    assert code == 0, err


def test_weights_convert_onto_itself_or_a_foreign_file(tmp_path: Path) -> None:
    pth = tmp_path / "a.pth"
    torch.save({"model": build_model("flashdepth-tiny").state_dict()}, pth)
    before = pth.read_bytes()
    code, err = run("weights", "convert", str(pth), str(pth))
    assert code == 1 and "is also an input" in one_line_error(err)
    (tmp_path / "link.safetensors").symlink_to(pth)
    code, err = run("weights", "convert", str(pth), str(tmp_path / "link.safetensors"))
    assert code == 1 and "is also an input" in one_line_error(err)
    assert pth.read_bytes() == before
    other = write_tiny_checkpoint(tmp_path / "other.safetensors", seed=3)
    other_bytes = other.read_bytes()
    code, err = run("weights", "convert", str(pth), str(other))
    assert code == 1 and "--overwrite" in one_line_error(err, "other.safetensors")
    assert other.read_bytes() == other_bytes
    target = tmp_path / "b.safetensors"
    assert run("weights", "convert", str(pth), str(target))[0] == 0
    assert written_kind(target) == "checkpoint"
    assert run("weights", "convert", str(pth), str(target))[0] == 0  # its own conversion: replaced
    assert not [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name]


def test_eval_json_and_plot_never_replace_ground_truth(tmp_path: Path) -> None:
    for folder in ("pred", "gt"):
        (tmp_path / folder).mkdir()
        for frame in (1, 2):
            np.save(tmp_path / folder / f"{folder}.{frame:04d}.npy", np.full((8, 8), 2.0, np.float32))
    gt = tmp_path / "gt" / "gt.0001.npy"
    before = digest(tmp_path)
    for option, target in (("--json", gt), ("--plot", gt), ("--json", tmp_path / "pred" / "pred.0002.npy")):
        code, err = run("eval", "--pred", str(tmp_path / "pred" / "pred.####.npy"), "--gt", str(tmp_path / "gt" / "gt.####.npy"),
                        option, str(target))
        assert code == 1 and "is also an input" in one_line_error(err)
    (tmp_path / "notes.json").write_text('{"mine": true}')
    before = digest(tmp_path)
    code, err = run("eval", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt"), "--json", str(tmp_path / "notes.json"))
    assert code == 1 and "--overwrite" in one_line_error(err, "notes.json")
    assert digest(tmp_path) == before
    out = ["--json", str(tmp_path / "m.json"), "--plot", str(tmp_path / "m.png")]
    for _ in range(2):  # the second run replaces its own outputs
        code, err = run("eval", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt"), *out)
        assert code == 0, err
    assert (written_kind(tmp_path / "m.json"), written_kind(tmp_path / "m.png")) == ("eval", "eval-plot")


def test_preview_never_replaces_the_depth_file(plates: Path, tmp_path: Path) -> None:
    depth = tmp_path / "d.exr"
    write_exr(depth, {"depth.Z": np.ones((84, 126), np.float32)}, metadata={"flashdepth:version": "1"})
    before = depth.read_bytes()
    code, err = run("preview", str(plates / "shot.0001.exr"), str(depth), "-o", str(depth), "--overwrite")
    assert code == 1 and "is also an input" in one_line_error(err, "d.exr")
    assert depth.read_bytes() == before
    png = tmp_path / "p.png"
    png.write_bytes(b"someone's png")
    code, err = run("preview", str(plates / "shot.0001.exr"), str(depth), "-o", str(png))
    assert code == 1 and "--overwrite" in one_line_error(err, "p.png")
    assert png.read_bytes() == b"someone's png"
    assert run("preview", str(plates / "shot.0001.exr"), str(depth), "-o", str(png), "--overwrite")[0] == 0
    assert run("preview", str(plates / "shot.0001.exr"), str(depth), "-o", str(png))[0] == 0  # its own preview


# --------------------------------------------------------------------------------------------------- train
@pytest.fixture()
def train_config(tmp_path: Path) -> Path:
    """A one-step run of the tiny model as a config file."""
    from dataclasses import replace

    from test_train import SMALL

    path = tmp_path / "small.json"
    path.write_text(json.dumps(replace(SMALL, steps=1, checkpoint_every=1, log_every=1).to_dict()))
    return path


def test_train_never_replaces_a_run_file_it_did_not_write(tmp_path: Path, train_config: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    for name in ("log.jsonl", "config.json"):
        notes = run_dir / name
        notes.write_text("my own notes\n")
        code, err = run("train", str(train_config), "--run-dir", str(run_dir), "--quiet")
        assert code == 1 and "--overwrite" in one_line_error(err, name, "not written by flashdepth-vfx")
        assert digest(run_dir) == {name: hashlib.sha256(b"my own notes\n").hexdigest()}  # nothing else written
        notes.unlink()
    code, err = run("train", str(train_config), "--run-dir", str(run_dir), "--quiet")
    assert code == 0, err
    assert (written_kind(run_dir / "config.json"), written_kind(run_dir / "log.jsonl")) == ("train-config", "train-log")
    (run_dir / "iter_1.pth").unlink()  # a fresh run in the same folder replaces the project's own files
    code, err = run("train", str(train_config), "--run-dir", str(run_dir), "--quiet")
    assert code == 0, err
    (run_dir / "iter_1.pth").unlink()
    (run_dir / "log.jsonl").write_text("my own notes\n")
    code, err = run("train", str(train_config), "--run-dir", str(run_dir), "--quiet", "--overwrite")
    assert code == 0, err
    assert "my own notes" not in (run_dir / "log.jsonl").read_text()


def test_train_never_writes_over_its_inputs(tmp_path: Path, train_config: Path) -> None:
    run_dir = tmp_path / "run"
    assert run("train", str(train_config), "--run-dir", str(run_dir), "--quiet")[0] == 0
    before = digest(run_dir)
    # the run deletes its older checkpoints and rewrites its config and log: none of them can be an input
    for option, path in (("--init-checkpoint", "iter_1.pth"), ("--teacher-checkpoint", "iter_1.pth"),
                         ("--init-checkpoint", "log.jsonl")):
        code, err = run("train", "--run-dir", str(run_dir), "--resume", "--steps", "2", option, str(run_dir / path),
                        "--overwrite", "--quiet")
        assert code == 1 and "is also an input" in one_line_error(err, path), (option, path)
    hand_written = tmp_path / "fresh" / "config.json"
    hand_written.parent.mkdir()
    hand_written.write_text(train_config.read_text())
    code, err = run("train", str(hand_written), "--run-dir", str(hand_written.parent), "--overwrite", "--quiet")
    assert code == 1 and "copy it elsewhere" in one_line_error(err, "config.json")
    assert hand_written.read_text() == train_config.read_text() and digest(run_dir) == before
    # the run's own config.json (written by the run) is the way to continue it
    code, err = run("train", str(run_dir / "config.json"), "--run-dir", str(run_dir), "--resume", "--steps", "2", "--quiet")
    assert code == 0, err


def test_train_resumes_a_run_written_before_its_files_were_marked(tmp_path: Path, train_config: Path) -> None:
    run_dir = tmp_path / "run"
    assert run("train", str(train_config), "--run-dir", str(run_dir), "--quiet")[0] == 0
    config = json.loads((run_dir / "config.json").read_text())
    del config["flashdepth:kind"]
    (run_dir / "config.json").write_text(json.dumps(config))
    (run_dir / "log.jsonl").write_text("".join(line + "\n" for line in (run_dir / "log.jsonl").read_text().splitlines()[1:]))
    code, err = run("train", "--run-dir", str(run_dir), "--resume", "--steps", "2", "--quiet")
    assert code == 0, err
    steps = [json.loads(line).get("step") for line in (run_dir / "log.jsonl").read_text().splitlines()]
    assert steps == [None, 1, 2]


# ------------------------------------------------------------------ replace_refusal: the rule for one file (issue 18)
def test_replace_refusal_for_links_the_protected_tree_inputs_and_foreign_files(tmp_path: Path) -> None:
    from flashdepth_vfx.plates.output_guard import replace_refusal, source_marker

    project, home = tmp_path / "checkout", tmp_path / "home"
    (project / "scripts").mkdir(parents=True)
    (project / "scripts" / "tool.py").write_text("# the project's own\n")
    home.mkdir()
    (home / "linked").symlink_to(project / "scripts")
    ours = home / "launcher.py"
    ours.write_text(source_marker("host-launcher") + "\nprint()\n")
    mine = home / "mine.py"
    mine.write_text("print('mine')\n")
    (home / "link.py").symlink_to(ours)
    (home / "dangling.py").symlink_to(home / "nothing.py")
    guard = {"protected": [project]}
    assert replace_refusal(home / "new.py", "host-launcher", **guard) is None  # nothing there
    assert replace_refusal(ours, "host-launcher", **guard) is None  # the project's own kind
    assert "was not written by flashdepth-vfx as a host-package file" in replace_refusal(ours, "host-package", **guard)
    assert "was not written by flashdepth-vfx" in replace_refusal(mine, "host-launcher", **guard)
    assert replace_refusal(mine, "host-launcher", overwrite=True, **guard) is None
    assert replace_refusal(mine, None, **guard) is None  # an edit of the user's file (kind None)
    for link in ("link.py", "dangling.py"):  # even to the project's own kind, even with overwrite
        assert "is a link" in replace_refusal(home / link, "host-launcher", overwrite=True, **guard)
    for inside in (home / "linked" / "tool.py", home / "linked" / "new.py", project / "scripts" / "x.py"):
        assert "inside flashdepth-vfx's own folder" in replace_refusal(inside, None, overwrite=True, **guard)
    assert "is an input" in replace_refusal(home / "linked" / "tool.py", None, inputs=[project / "scripts" / "tool.py"])
    assert "not a file" in replace_refusal(home, None)
    assert written_kind(ours) == "host-launcher" and written_kind(mine) is None


def test_check_outputs_never_replaces_a_link(tmp_path: Path) -> None:
    ours = tmp_path / "d.exr"
    write_exr(ours, {"depth.Z": np.ones((2, 2), np.float32)}, metadata={"flashdepth:version": "1"})
    (tmp_path / "link.exr").symlink_to(ours)
    with pytest.raises(OutputError, match=r"link\.exr is a link .*; choose another output"):
        check_outputs([(tmp_path / "link.exr", "depth")], [], overwrite=True)
    check_outputs([(ours, "depth")], [])
