"""A solve finished from another mount (issue 19, item 1, solve side): ``solve --resume`` (a farm's solve step,
``render --camera ... --resume``) on a machine that sees the show at ``/Volumes/show`` instead of ``/mnt/show``, with
its own copy of the OCIO config, keeps every frame solved there. A changed setting, camera, anchors or LUT still
solves again. ``render --camera ... --resume`` from the other mount renders and solves nothing.

A tiny real render (the tiny checkpoint), real plates, camera and anchors files, the real solve command.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine_helpers import run_cli, write_plates
from test_engine_mounts import LUT, write_config

FRAMES = range(1001, 1005)


def _solve(show: Path, config: Path, *extra: str) -> tuple[int, str]:
    """The shot's solve as one machine types it: every file under its own mount, its own config copy."""
    shot = show / "sh010"
    return run_cli("solve", str(shot / "depth" / "shot_depth.####.exr"), "--plates",
                   str(shot / "plates" / "shot.####.exr"), "--ocio-config", str(config), "--stabilize",
                   "--camera", str(shot / "track" / "cam.chan"), "--anchors", str(shot / "track" / "anchors.csv"),
                   "-o", str(shot / "solved" / "s.####.exr"), *extra)


def _files(folder: Path, pattern: str = "*.exr") -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob(pattern))}


def _solved(show: Path) -> dict[str, bytes]:
    return _files(show / "sh010" / "solved", "s.*.exr")


@pytest.fixture()
def solved_on_a(tmp_path, checkpoint) -> tuple[Path, dict[str, bytes]]:
    """Machine A rendered and solved the shot under ``<x>/mnt/show`` with the config of its install A."""
    x = tmp_path / "x"
    shot = x / "mnt" / "show" / "sh010"
    plates = write_plates(shot / "plates", FRAMES)
    (shot / "track").mkdir()
    (shot / "track" / "cam.chan").write_text("".join(f"{f} 0 0 0 0 0 0 40\n" for f in FRAMES))
    (shot / "track" / "anchors.csv").write_text(
        "frame,x,y,distance\n" + "".join(f"{f},{px},{py},{d}\n" for f in FRAMES
                                         for px, py, d in ((20, 20, 4.0), (60, 50, 6.0), (100, 30, 9.0))))
    config = write_config(x / "installA")
    code, err = run_cli("render", plates, "-o", str(shot / "depth" / "shot_depth.####.exr"), "--checkpoint",
                        str(checkpoint), "--ocio-config", str(config), "--mode", "disparity")
    assert code == 0, err
    code, err = _solve(x / "mnt" / "show", config)
    assert code == 0 and f"wrote {len(FRAMES)} frames" in err, err
    return x, _solved(x / "mnt" / "show")


def test_another_mount_and_config_copy_keep_every_solved_frame(solved_on_a) -> None:
    x, solved = solved_on_a
    (x / "mnt").rename(x / "Volumes")
    shutil.copytree(x / "installA", x / "installB")
    show, config = x / "Volumes" / "show", x / "installB" / "config.ocio"
    code, err = _solve(show, config, "--resume")
    assert code == 0 and "wrote 0 frames" in err and f"{len(FRAMES)} already solved" in err, err
    assert _solved(show) == solved  # untouched, byte for byte


@pytest.mark.parametrize("change", ["setting", "camera", "anchors", "lut"])
def test_what_changes_the_solve_still_solves_again_from_another_mount(solved_on_a, change) -> None:
    x, solved = solved_on_a
    (x / "mnt").rename(x / "Volumes")
    shutil.copytree(x / "installA", x / "installB")
    show, config = x / "Volumes" / "show", x / "installB" / "config.ocio"
    track, extra = show / "sh010" / "track", ["--resume"]
    if change == "setting":
        extra += ["--smoothness", "0.1"]
    elif change == "camera":  # another lens, same file name and size
        (track / "cam.chan").write_text((track / "cam.chan").read_text().replace(" 40\n", " 45\n"))
    elif change == "anchors":
        (track / "anchors.csv").write_text((track / "anchors.csv").read_text().replace(",9.0\n", ",8.0\n"))
    else:  # another grade in B's copy of the config: the stabiliser's flow sees other plates (the display view)
        (x / "installB" / "luts" / "film.spi1d").write_text(LUT % 0.25)
    code, err = _solve(show, config, *extra)
    assert code == 0 and f"wrote {len(FRAMES)} frames" in err and "already solved" not in err, err
    assert _solved(show) != solved


def test_render_then_solve_resumed_from_another_mount_keeps_both(tmp_path, checkpoint) -> None:
    """``render --camera ... --resume`` (a node's *Finish*, a farm job) from the other mount: no frame rendered or
    solved again."""
    x = tmp_path / "x"
    show = x / "mnt" / "show"
    write_plates(show / "plates", FRAMES)
    (show / "anchors.csv").write_text("frame,x,y,distance\n" + "".join(f"{f},20,20,4.0\n{f},60,50,6.0\n"
                                                                        for f in FRAMES))
    config = write_config(x / "installA")

    def render(root: Path, config: Path, *extra: str) -> tuple[int, str]:
        return run_cli("render", str(root / "plates" / "shot.####.exr"), "-o", str(root / "out" / "d.####.exr"),
                       "--checkpoint", str(checkpoint), "--ocio-config", str(config), "--fov", "50",
                       "--anchors", str(root / "anchors.csv"), *extra)

    assert render(show, config)[0] == 0
    before = _files(show / "out")
    (x / "mnt").rename(x / "Volumes")
    shutil.copytree(x / "installA", x / "installB")
    show = x / "Volumes" / "show"
    code, err = render(show, x / "installB" / "config.ocio", "--resume")
    assert code == 0 and f"{len(FRAMES)} already solved" in err, err
    assert _files(show / "out") == before and len(before) == 2 * len(FRAMES)  # raw and solved
