"""The command line: real renders through click, JSON events, exit codes, and one-line errors on bad input."""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import pytest
from click.testing import CliRunner

from engine_helpers import read_channel, write_plates
from flashdepth_vfx.cli import main


@pytest.fixture()
def plates(tmp_path) -> str:
    return write_plates(tmp_path / "plates", range(1, 5))


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_render_json_progress(plates, tmp_path, checkpoint) -> None:
    code, out, err = run("render", plates, "-o", str(tmp_path / "d" / "x_depth.%04d.exr"), "--checkpoint",
                         str(checkpoint), "--progress", "json")
    assert code == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["event"] for e in events] == ["start", "frame", "frame", "frame", "frame", "done"]
    assert events[0] == {"event": "start", "plate": "shot.####.exr", "output": str(tmp_path / "d" / "x_depth.%04d.exr"),
                         "first": 1, "last": 4, "total": 4}
    assert [e["frame"] for e in events[1:5]] == [1, 2, 3, 4]
    assert all(Path(e["path"]).is_file() for e in events[1:5])
    assert events[-1]["written"] == 4


def test_default_output_is_beside_the_plates(plates, tmp_path, checkpoint) -> None:
    code, _, err = run("render", plates, "--checkpoint", str(checkpoint), "-q")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "plates").glob("shot_depth.*.exr")) == [
        f"shot_depth.{f:04d}.exr" for f in range(1, 5)]


def test_info(plates) -> None:
    code, out, _ = run("info", plates)
    assert code == 0
    assert "frames      1-4 (4 files)" in out and "126x84 at (10, 6)" in out and "ACEScg" in out


def _assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_missing_frame(plates, tmp_path, checkpoint) -> None:
    (tmp_path / "plates" / "shot.0003.exr").unlink()
    code, _, err = run("render", plates, "--checkpoint", str(checkpoint), "-q")
    _assert_one_line_error(code, err, "shot.####.exr", "3", "--missing")
    code, _, err = run("render", plates, "--checkpoint", str(checkpoint), "-q", "--missing", "hold")
    assert code == 0, err


def test_corrupt_and_truncated_plates_lose_nothing(plates, tmp_path, checkpoint, testdata_dir) -> None:
    out = tmp_path / "out" / "d.####.exr"
    assert run("render", plates, "-o", str(out), "--checkpoint", str(checkpoint), "-q")[0] == 0
    good = {p.name: p.read_bytes() for p in (tmp_path / "out").glob("d.*.exr")}
    for damaged in ("DERIVED_t01_truncated_12000B.exr", "invalid.exr"):
        shutil.copy(testdata_dir / "exr" / "damaged" / damaged, tmp_path / "plates" / "shot.0003.exr")
        code, _, err = run("render", plates, "-o", str(out), "--checkpoint", str(checkpoint), "-q")
        _assert_one_line_error(code, err, "shot.0003.exr")
        assert {p.name: p.read_bytes() for p in (tmp_path / "out").glob("d.*.exr")} == good  # nothing overwritten
        assert not list((tmp_path / "out").glob(".*tmp*"))


def test_deep_exr_is_refused(tmp_path, checkpoint, testdata_dir) -> None:
    shutil.copy(testdata_dir / "exr" / "deep" / "11.deep.exr", tmp_path / "deep.0001.exr")
    code, _, err = run("render", str(tmp_path / "deep.####.exr"), "--checkpoint", str(checkpoint), "-q")
    _assert_one_line_error(code, err, "deep.0001.exr", "deep")


def test_unknown_colour_space_lists_close_matches(plates, checkpoint) -> None:
    code, _, err = run("render", plates, "--checkpoint", str(checkpoint), "-q", "--colorspace", "ACEScgg")
    _assert_one_line_error(code, err, "ACEScgg", "ACEScg")


def test_unwritable_output_folder(plates, tmp_path, checkpoint) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("not a folder")
    code, _, err = run("render", plates, "-o", str(blocker / "out.####.exr"), "--checkpoint", str(checkpoint), "-q")
    _assert_one_line_error(code, err, str(blocker))


def test_wrong_checkpoint(plates, tmp_path) -> None:
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"garbage" * 10)
    code, out, err = run("render", plates, "--checkpoint", str(bad), "--progress", "json")
    _assert_one_line_error(code, err, "bad.pth")
    assert json.loads(out.splitlines()[-1])["event"] == "error"


def test_weights_convert_and_list(tmp_path, checkpoint, monkeypatch) -> None:
    import torch

    from flashdepth_vfx.model import build_model

    pth = tmp_path / "tiny.pth"
    torch.save({"model": build_model("flashdepth-tiny").state_dict(), "step": 1}, pth)
    code, out, err = run("weights", "convert", str(pth), str(tmp_path / "tiny.safetensors"))
    assert code == 0 and "flashdepth-tiny" in out, err
    monkeypatch.setenv("FLASHDEPTH_VFX_CACHE", str(tmp_path / "cache"))
    code, out, _ = run("weights", "list")
    assert code == 0 and out.count("not downloaded") == 3


def test_preview_png(plates, tmp_path, checkpoint) -> None:
    assert run("render", plates, "--checkpoint", str(checkpoint), "-q", "--frames", "1")[0] == 0
    png = tmp_path / "p.png"
    code, _, err = run("preview", plates.replace("####", "0001"), str(tmp_path / "plates" / "shot_depth.0001.exr"),
                       "-o", str(png), "--height", "60")
    assert code == 0, err
    spec = oiio.ImageInput.open(str(png)).spec()
    assert (spec.height, spec.width, spec.nchannels) == (60, 360, 3)  # 2:1 anamorphic, unsqueezed: 180 + 180


def test_sigterm_keeps_finished_frames(tmp_path, checkpoint) -> None:
    """A real engine process: SIGTERM mid-render exits 130, finished frames stay, no partial files."""
    plates = write_plates(tmp_path / "plates", range(1, 41))
    proc = subprocess.Popen(
        [sys.executable, "-m", "flashdepth_vfx", "render", plates, "--checkpoint", str(checkpoint), "--progress", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    events = []
    for line in proc.stdout:
        events.append(json.loads(line))
        if events[-1]["event"] == "frame" and events[-1]["index"] == 2:
            proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 130
    assert events[-1]["event"] == "cancelled"
    written = sorted((tmp_path / "plates").glob("shot_depth.*.exr"))
    assert 2 <= len(written) < 40 and events[-1]["written"] == len(written)
    assert not list((tmp_path / "plates").glob(".*tmp*"))
    for path in written:  # every kept frame is complete
        assert np.isfinite(read_channel(path, "depth.Z")).all()
