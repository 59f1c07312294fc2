"""A render finished from another mount (issue 19, item 1, engine side): ``render --resume``, a node's *Finish* or
chained farm chunks on a machine that sees the show at ``/Volumes/show`` instead of ``/mnt/show`` (and its own copy of
the OCIO config and checkpoint) keep the frames and snapshots already there, and render only the missing frames,
identical to an uninterrupted render. Changed plate or config content still renders again; the solve names raw
frames of renders with other settings, not of renders seen from other mounts.

Real plates, the tiny checkpoint, real depth EXRs and snapshots, the real solve command.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from engine_helpers import plate_pixels, read_channel, run_cli, write_plates
from flashdepth_vfx.engine import QuietEvents, Render, RenderSettings
from flashdepth_vfx.engine.resume import colour_id, source_id
from flashdepth_vfx.plates import find_sequence
from test_engine_hardening import _rewrite_plate

FRAMES = range(1001, 1007)
CONFIG = """ocio_profile_version: 1
search_path: luts
roles:
  default: lin
  scene_linear: lin
displays:
  sRGB:
    - !<View> {name: Film, colorspace: film}
active_displays: [sRGB]
active_views: [Film]
colorspaces:
  - !<ColorSpace>
    name: lin
  - !<ColorSpace>
    name: film
    from_reference: !<FileTransform> {src: film.spi1d, interpolation: linear}
"""
LUT = "Version 1\nFrom 0.0 1.0\nLength 2\nComponents 1\n{\n  %s\n  1.0\n}\n"


def write_config(folder: Path, black: float = 0.0) -> Path:
    """An OCIO config whose display view reads a LUT from its search path."""
    (folder / "luts").mkdir(parents=True)
    (folder / "luts" / "film.spi1d").write_text(LUT % black)
    (folder / "config.ocio").write_text(CONFIG)
    return folder / "config.ocio"


class Show:
    """One machine's view of the show: plates, checkpoint and output under ``root``, its own OCIO config copy."""

    def __init__(self, root: Path, config: Path) -> None:
        self.root, self.config = root, config

    @property
    def output(self) -> Path:
        return self.root / "sh010" / "depth"

    def render(self, **options) -> tuple:
        events = Warnings()
        settings = RenderSettings(plate=str(self.root / "sh010" / "plates" / "shot.####.exr"),
                                  output=str(self.output / "shot_depth.%04d.exr"),
                                  checkpoint=str(self.root / "models" / "tiny.safetensors"),
                                  ocio_config=str(self.config), snapshot_every=2, **options)
        return Render(settings, events).run(), events


class Warnings(QuietEvents):
    def __init__(self) -> None:
        self.messages: list[str] = []

    def warning(self, message, frame=None) -> None:
        self.messages.append(message)


def _depth(folder: Path) -> dict[str, np.ndarray]:
    return {p.name: read_channel(p, "depth.Z") for p in sorted(folder.glob("shot_depth.*.exr"))}


@pytest.fixture()
def studio(tmp_path, checkpoint) -> tuple[Show, Path]:
    """Machine A's view (``<tmp>/x/mnt/show``, config in its install A) and the folder that holds it all."""
    x = tmp_path / "x"
    show = x / "mnt" / "show"
    write_plates(show / "sh010" / "plates", FRAMES)
    (show / "models").mkdir(parents=True)
    shutil.copy2(checkpoint, show / "models" / "tiny.safetensors")
    return Show(show, write_config(x / "installA")), x


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, checkpoint) -> dict[str, np.ndarray]:
    """Depth of the whole shot rendered in one go on one machine."""
    x = tmp_path_factory.mktemp("straight")
    write_plates(x / "show" / "sh010" / "plates", FRAMES)
    (x / "show" / "models").mkdir(parents=True)
    shutil.copy2(checkpoint, x / "show" / "models" / "tiny.safetensors")
    show = Show(x / "show", write_config(x / "install"))
    show.render()
    return _depth(show.output)


def other_machine(x: Path, how: str) -> Show:
    """Machine B: the same storage at ``<x>/Volumes/show`` (the tree moved, or a link to it) and a copy of the
    config in its own install folder."""
    if how == "moved":
        (x / "mnt").rename(x / "Volumes")
    else:
        (x / "Volumes").mkdir()
        (x / "Volumes" / "show").symlink_to(x / "mnt" / "show", target_is_directory=True)
    shutil.copytree(x / "installA", x / "installB")
    return Show(x / "Volumes" / "show", x / "installB" / "config.ocio")


@pytest.mark.parametrize("how", ["moved", "linked"])
def test_another_mount_finishes_the_render_with_identical_frames(studio, uninterrupted, how) -> None:
    a, x = studio
    summary, _ = a.render(frames="1001-1003")
    assert [p.name for p in summary.written] == [f"shot_depth.{f}.exr" for f in (1001, 1002, 1003)]
    b = other_machine(x, how)
    summary, events = b.render(resume=True)
    assert summary.skipped == [1001, 1002, 1003], events.messages
    assert [p.name for p in summary.written] == [f"shot_depth.{f}.exr" for f in (1004, 1005, 1006)]
    assert len(list((b.output / ".flashdepth").iterdir())) == 1  # one state key: A's snapshots were B's start
    depth = _depth(b.output)
    assert depth.keys() == uninterrupted.keys() and len(depth) == len(FRAMES)
    for name, values in uninterrupted.items():
        np.testing.assert_array_equal(depth[name], values, err_msg=name)
    assert b.render(resume=True)[0].skipped == list(FRAMES)


@pytest.mark.parametrize("where", ["other mount", "in place"])
def test_changed_config_content_renders_again(studio, where) -> None:
    """A LUT edited in B's copy of the config, or in place under a config file that did not change (in the same
    process, as a host's bridge renders again)."""
    a, x = studio
    a.render()
    b = other_machine(x, "moved") if where == "other mount" else a
    (b.config.parent / "luts" / "film.spi1d").write_text(LUT % 0.25)  # another grade
    summary, _ = b.render(resume=True)
    assert summary.skipped == [] and len(summary.written) == len(FRAMES)
    assert len(list((b.output / ".flashdepth").iterdir())) == 2


def test_changed_plate_content_on_the_other_mount_renders_it_and_later_frames_again(studio) -> None:
    a, x = studio
    a.render()
    b = other_machine(x, "moved")
    _rewrite_plate(b.root / "sh010" / "plates" / "shot.1003.exr", plate_pixels(1050))  # re-delivered
    summary, _ = b.render(resume=True)
    assert summary.skipped == [1001, 1002]
    assert [p.name for p in summary.written] == [f"shot_depth.{f}.exr" for f in (1003, 1004, 1005, 1006)]


def _solve_warnings(show: Show, tmp: Path) -> list[str]:
    code, err = run_cli("solve", str(show.output / "shot_depth.####.exr"), "--stabilize", "--no-detect-cuts",
                        "--plates", str(show.root / "sh010" / "plates" / "shot.####.exr"),
                        "--ocio-config", str(show.config), "-o", str(tmp / "solved" / "s.####.exr"))
    assert code == 0, err
    return [line for line in err.splitlines() if "rendered with other settings" in line]


@pytest.mark.parametrize("second", [{}, {"half": True}])
def test_solve_names_raw_frames_of_other_settings_not_of_other_mounts(studio, tmp_path, second) -> None:
    """Farm chunks: frames 1001-1003 rendered by a worker mounting the show at /mnt/show, 1004-1006 by one at
    /Volumes/show (its own config copy). Only other settings make them two renders."""
    a, x = studio
    a.render(frames="1001-1003", mode="disparity")
    b = other_machine(x, "moved")
    b.render(frames="1004-1006", mode="disparity", **second)
    warnings = _solve_warnings(b, tmp_path)
    if second:
        assert len(warnings) == 1 and "frames 1004-1006" in warnings[0], warnings
    else:
        assert warnings == []


def test_keys_name_the_plates_and_config_by_file_name_and_content(tmp_path) -> None:
    """Unit view of the same: a sequence by its file name (frame token as printf), a config by its content."""
    for root in ("mnt", "Volumes"):
        write_plates(tmp_path / root / "show", range(1, 3))
    names = {source_id(find_sequence(str(tmp_path / root / "show" / spelling)), None)
             for root in ("mnt", "Volumes") for spelling in ("shot.####.exr", "shot.%04d.exr")}
    assert names == {"shot.%04d.exr"}
    one, two = write_config(tmp_path / "one"), write_config(tmp_path / "two")
    assert colour_id(str(one)) == colour_id(str(two)) != colour_id(None)
    (tmp_path / "two" / "luts" / "film.spi1d").write_text(LUT % 0.5)
    assert colour_id(str(one)) != colour_id(str(two))
    assert colour_id("ocio://cg-config-latest") == "ocio://cg-config-latest"
