"""The depth node across a studio (issue 19): version keys from content, not from one machine's paths; failed
starts leave no empty versions; status checks cheap enough for a big script on network storage. Host code
against tests/fakes/nuke.py, rendering with the fake engine as a real subprocess."""
from __future__ import annotations

import dataclasses
import os
import shutil
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Dict

import pytest

from flashdepth_vfx.hosts import colour
from flashdepth_vfx.hosts.camera import CameraSample, solve_args
from flashdepth_vfx.hosts.settings import NodeSettings
from flashdepth_vfx.hosts.versions import MANIFEST, DepthState, legacy_key, node_status
from test_host_nuke import depth_label, fd, finish, nuke, version_dir  # noqa: F401 (fixtures)

LUT_CONFIG = """ocio_profile_version: 1
search_path: luts
roles:
  scene_linear: lin
colorspaces:
  - !<ColorSpace>
    name: lin
  - !<ColorSpace>
    name: log
    to_reference: !<FileTransform> {src: log_to_lin.spi1d, interpolation: linear}
"""


def plates(folder: Path, frames: range = range(1001, 1006), seed: int = 0) -> Path:
    """A plate sequence of distinct small files; the pattern (printf) returned."""
    folder.mkdir(parents=True, exist_ok=True)
    for frame in frames:
        (folder / f"shot.{frame:04d}.exr").write_bytes(bytes((frame + seed + i) % 251 for i in range(3000)))
    return folder / "shot.%04d.exr"


def lut_config(folder: Path, lut: str = "0 1\n") -> Path:
    """An OCIO config reading a LUT from its search path."""
    (folder / "luts").mkdir(parents=True, exist_ok=True)
    (folder / "luts" / "log_to_lin.spi1d").write_text(lut)
    (folder / "config.ocio").write_text(LUT_CONFIG)
    return folder / "config.ocio"


def mount(target: Path, link: Path) -> Path:
    """The same storage seen at another root (``/Volumes/show`` for ``/mnt/show``)."""
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target, target_is_directory=True)
    return link


# --- 1. version keys from content --------------------------------------------------------------------------

def node_settings(show: Path, install: Path, output: Path) -> NodeSettings:
    """A node's settings as one artist's machine spells them: plates, checkpoint, points and camera on the show
    mount ``show``, the OCIO config in the tool's checkout ``install``."""
    samples = [CameraSample(f, (0.0, 1.0, f * 0.1), (0.0, 5.0, 0.0), 35.0, 24.0, 13.5) for f in range(1001, 1006)]
    solve = solve_args(str(output), "Camera1", samples, "ZXY", str(show / "sh010" / "track" / "points.csv"),
                       "world", "off")
    return NodeSettings(plate=str(show / "sh010" / "plates" / "shot.%04d.exr"), output_dir=str(output),
                        checkpoint=str(show / "models" / "studio.ckpt"), colorspace="log",
                        ocio_config=str(install / "config.ocio"), frames="1001-1005", extra_args=solve.args)


@pytest.fixture
def show(tmp_path: Path) -> Path:
    """Artist A's view of the show: plates, a studio checkpoint and tracked points."""
    root = tmp_path / "mnt" / "show"
    plates(root / "sh010" / "plates")
    (root / "models").mkdir(parents=True)
    (root / "models" / "studio.ckpt").write_bytes(os.urandom(300_000))
    (root / "sh010" / "track").mkdir(parents=True)
    (root / "sh010" / "track" / "points.csv").write_text("0,0,-5\n1,0,-6\n")
    return root


def test_the_same_plates_config_camera_and_checkpoint_from_two_machines_give_one_key(show: Path,
                                                                                     tmp_path: Path) -> None:
    install_a = lut_config(tmp_path / "home" / "alice" / "flashdepth-vfx" / "ocio").parent
    install_b = tmp_path / "opt" / "tools" / "flashdepth-vfx-2.1" / "ocio"
    shutil.copytree(install_a, install_b)
    volumes = mount(show, tmp_path / "Volumes" / "show")
    alice = node_settings(show, install_a, show / "sh010" / "comp" / "flashdepth" / "FlashDepth1")
    bob = node_settings(volumes, install_b, volumes / "sh010" / "comp" / "flashdepth" / "FlashDepth1")
    assert alice.plate != bob.plate and alice.ocio_config != bob.ocio_config and alice.extra_args != bob.extra_args
    assert alice.key() == bob.key()
    assert dataclasses.replace(alice, frames="1001-1003").key() == alice.key()  # the range never counts
    plates(show / "sh010" / "plates", range(1006, 1011))
    assert alice.key() == bob.key()  # more frames delivered: the frames rendered stay what they were

    # Another content of each input is another version.
    keys = {alice.key()}
    install_c = tmp_path / "home" / "carol" / "ocio"
    shutil.copytree(install_a, install_c)
    (install_c / "luts" / "log_to_lin.spi1d").write_text("0 0.5\n")  # a LUT of the config edited
    keys.add(dataclasses.replace(bob, ocio_config=str(install_c / "config.ocio")).key())
    (show / "sh010" / "track" / "points.csv").write_text("0,0,-5\n1,0,-7\n")
    keys.add(alice.key())
    (show / "models" / "studio.ckpt").write_bytes(os.urandom(300_000))
    keys.add(alice.key())
    plates(show / "sh010" / "plates", seed=1)  # a re-delivered plate
    keys.add(alice.key())
    other_camera = node_settings(show, install_a, Path(alice.output_dir))
    moved = [a if not a.endswith(".chan") else a.replace(Path(a).stem, "0" * 16) for a in other_camera.extra_args]
    keys.add(dataclasses.replace(other_camera, extra_args=tuple(moved)).key())
    assert len(keys) == 6


def test_a_movie_a_hash_spelling_and_a_plate_not_delivered_yet_key_the_same_on_both_mounts(show: Path,
                                                                                           tmp_path: Path) -> None:
    volumes = mount(show, tmp_path / "Volumes" / "show")
    (show / "sh010" / "shot.mov").write_bytes(os.urandom(600_000))
    for name in ("sh010/shot.mov", "sh010/plates/shot.####.exr", "sh020/plates/shot.%04d.exr"):
        alice = NodeSettings(plate=str(show / name), output_dir=str(tmp_path / "a"))
        bob = NodeSettings(plate=str(volumes / name), output_dir=str(tmp_path / "b"))
        assert alice.key() == bob.key(), name
    hashes = NodeSettings(plate=str(show / "sh010" / "plates" / "shot.####.exr"), output_dir="")
    assert hashes.key() == dataclasses.replace(hashes, plate=hashes.plate.replace("####", "%04d")).key()


def test_the_projects_nuke_default_config_in_two_checkouts_is_one_config(tmp_path: Path) -> None:
    copy = tmp_path / "checkout" / "flashdepth_vfx" / "hosts" / "data" / "nuke-default.ocio"
    copy.parent.mkdir(parents=True)
    shutil.copy(colour.NUKE_DEFAULT_CONFIG, copy)
    assert colour.config_identity(str(copy)) == colour.config_identity(colour.NUKE_DEFAULT_CONFIG)
    assert colour.config_identity("ocio://studio-config-latest") == "ocio://studio-config-latest"
    copy.write_text(copy.read_text().replace("Rec.709 primaries.", "Rec.709 primaries!"))
    assert colour.config_identity(str(copy)) != colour.config_identity(colour.NUKE_DEFAULT_CONFIG)


def test_a_version_an_earlier_release_rendered_here_is_still_the_nodes_version(show: Path, tmp_path: Path) -> None:
    install = lut_config(tmp_path / "tool" / "ocio").parent
    settings = node_settings(show, install, tmp_path / "out")
    old = settings.version()
    assert old.key == settings.key()
    legacy = dataclasses.replace(old, key=legacy_key(settings.job()),
                                 pattern=old.pattern.replace(settings.key(), legacy_key(settings.job())))
    Path(legacy.folder).mkdir(parents=True)
    for frame in range(1001, 1006):
        Path(legacy.frame_file(frame)).write_text("depth")
    assert settings.version() == legacy  # the folder of the path-based key, while no content-keyed one exists
    assert node_status(settings.version(), list(range(1001, 1006)), legacy).state is DepthState.CURRENT
    assert settings.versioned_job().output == legacy.pattern  # Finish adds to it


def test_another_artist_opening_the_script_from_another_mount_and_checkout_sees_it_current(
        fd: Any, nuke: ModuleType, show: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Alice renders with Nuke's own colour management (the project's nuke-default config in her checkout); Bob
    opens the script with the show at /Volumes/show and the tool installed elsewhere: one key, nothing to render."""
    install_b = tmp_path / "opt" / "flashdepth-vfx" / "nuke-default.ocio"
    install_b.parent.mkdir(parents=True)
    shutil.copy(colour.NUKE_DEFAULT_CONFIG, install_b)
    script = show / "sh010" / "comp" / "shot.nk"
    nuke.root()["name"].setValue(str(script))
    read = nuke.nodes.Read(file=str(show / "sh010" / "plates" / "shot.%04d.exr"), first=1001, last=1005,
                           origfirst=1001, origlast=1005, colorspace="default (Cineon)")
    group = fd.create_node(read)
    fd.render(group)
    finish(fd, group)
    assert group["status"].value().startswith("Done: 5 frames")
    rendered = version_dir(tmp_path, group)

    storage = show.rename(tmp_path / "storage")  # Bob's machine: Alice's /mnt/show is no path here, ...
    volumes = mount(storage, tmp_path / "Volumes" / "show")  # ... the show is at /Volumes/show
    monkeypatch.setattr(colour, "NUKE_DEFAULT_CONFIG", str(install_b))
    read["file"].setValue(str(volumes / "sh010" / "plates" / "shot.%04d.exr"))
    assert group["output"].value() == "[file dirname [value root.name]]/flashdepth/FlashDepth1"  # as saved
    nuke.load_script(str(volumes / "sh010" / "comp" / "shot.nk"))
    assert fd.read_source(group).settings.ocio_config == str(install_b)
    assert group["status"].value().startswith("Current: 5 frames rendered with these settings")
    assert depth_label(group) == "depth: current"
    shown = version_dir(tmp_path, group)
    assert shown.name == rendered.name and shown == volumes / rendered.relative_to(show)


def test_a_nuke_point_release_with_the_same_bundled_config_keeps_the_key(fd: Any, nuke: ModuleType, show: Path,
                                                                         tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    for release in ("Nuke15.1v1", "Nuke15.1v3"):
        lut_config(tmp_path / "opt" / release / "plugins" / "OCIOConfigs" / "configs" / "aces_1.2")
    root = nuke.root()
    root["colorManagement"].setValue("OCIO")
    root["OCIO_config"].setValue("aces_1.2")
    read = nuke.nodes.Read(file=str(show / "sh010" / "plates" / "shot.%04d.exr"), first=1001, last=1005,
                           origfirst=1001, origlast=1005, colorspace="log")
    group = fd.create_node(read)
    keys: Dict[str, str] = {}
    for release in ("Nuke15.1v1", "Nuke15.1v3"):
        monkeypatch.setattr(nuke, "EXE_PATH", str(tmp_path / "opt" / release / "Nuke15.1"))
        settings = fd.read_source(group).settings
        assert release in settings.ocio_config
        keys[release] = settings.key()
    assert keys["Nuke15.1v1"] == keys["Nuke15.1v3"]
    lut_config(tmp_path / "opt" / "Nuke16.0v1" / "plugins" / "OCIOConfigs" / "configs" / "aces_1.2", "0 0.9\n")
    monkeypatch.setattr(nuke, "EXE_PATH", str(tmp_path / "opt" / "Nuke16.0v1" / "Nuke16.0"))
    assert fd.read_source(group).settings.key() != keys["Nuke15.1v1"]  # a release whose config really changed


# --- 9. a failed start leaves no version -------------------------------------------------------------------

def test_a_failed_start_leaves_no_empty_version_in_the_menu_and_a_failed_finish_keeps_the_version(
        fd: Any, nuke: ModuleType, show: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    read = nuke.nodes.Read(file=str(show / "sh010" / "plates" / "shot.%04d.exr"), first=1001, last=1005,
                           origfirst=1001, origlast=1005, colorspace="default (sRGB)")
    group = fd.create_node(read)
    out = tmp_path / "comp" / "flashdepth" / "FlashDepth1"
    for mode, binary in (("fail", None), ("ok", "/nowhere/flashdepth-vfx")):  # the engine refuses; no engine
        monkeypatch.setenv("FAKE_ENGINE_MODE", mode)
        if binary:
            monkeypatch.setenv("FLASHDEPTH_VFX_BIN", binary)
        fd.render(group)
        finish(fd, group)
        assert group["status"].value().startswith("Error: ")
        assert not list(out.glob(f"*/{MANIFEST}")) and (not out.exists() or not any(out.iterdir()))
        assert group["depth_version"].values() == [fd.LATEST]

    from test_host_nuke import FAKE_ENGINE
    monkeypatch.setenv("FLASHDEPTH_VFX_BIN", FAKE_ENGINE)
    monkeypatch.setenv("FAKE_ENGINE_MODE", "ok")
    fd.render(group)
    finish(fd, group)
    version = version_dir(tmp_path, group)
    monkeypatch.setenv("FAKE_ENGINE_MODE", "fail")
    fd.finish(group)
    finish(fd, group)
    assert (version / MANIFEST).is_file() and len(group["depth_version"].values()) == 2
    assert "5 fr complete" in group["depth_version"].values()[1]


# --- 3. status checks cheap on network storage -------------------------------------------------------------

STATUS_CALLS = 8 + 2 * 3
"""The most file-system calls one node's status check may make, whatever its frame count: the plate's first
frame and folder (or the upstream files' folder and end frames), the config, the version folder and its listing,
the node's shown record, the output folder's listing, and a manifest and a listing per version (3 here)."""


def node_with_versions(fd: Any, nuke: ModuleType, show: Path, frames: int, processed: bool = False) -> Any:
    """A FlashDepth node on a ``frames``-frame plate (through a Grade when ``processed``) whose output folder holds
    three complete versions, its own one shown."""
    folder = plates(show / f"sh{frames:03d}" / "plates", range(1001, 1001 + frames))
    delivered = time.time() - 86400  # plates delivered yesterday
    os.utime(folder.parent, (delivered, delivered))
    read = nuke.nodes.Read(file=str(folder), first=1001, last=1000 + frames, origfirst=1001,
                           origlast=1000 + frames, colorspace="default (sRGB)")
    upstream = read
    if processed:
        upstream = nuke.nodes.Grade(white=2.0)
        upstream.setInput(0, read)
    group = fd.create_node(upstream)
    group.setName(f"Depth{frames}{'g' if processed else ''}")
    group["output"].setValue(str(show / f"sh{frames:03d}" / "depth" / group.name()))
    settings = fd.read_source(group).settings
    for mode in ("disparity", "normalized", "depth"):  # the node's own (depth) the newest
        version = dataclasses.replace(settings, mode=mode).version()
        version.write_manifest(dataclasses.replace(settings, mode=mode).versioned_job())
        for frame in range(1001, 1001 + frames):
            Path(version.frame_file(frame)).write_text("depth")
    fd.refresh_status(group)
    assert group["status"].value().startswith(f"Current: {frames} frames"), group["status"].value()
    assert len(group["depth_version"].values()) == 4
    return group


@pytest.mark.parametrize("processed", [False, True], ids=["read", "node tree"])
def test_a_status_check_makes_a_bounded_number_of_file_system_calls_whatever_the_frame_count(
        fd: Any, nuke: ModuleType, show: Path, processed: bool) -> None:
    from fakes.slowfs import SlowFileSystem

    counts: Dict[int, Dict[str, int]] = {}
    for frames in (10, 200):
        group = node_with_versions(fd, nuke, show, frames, processed)
        with SlowFileSystem() as fs:
            nuke.knob_changed(group, "device")  # a knob change: re-checks the status
        assert group["status"].value().startswith(f"Current: {frames} frames")
        counts[frames] = dict(fs.calls)
        assert fs.total <= STATUS_CALLS, (frames, fs.calls, fs.paths)
    assert counts[10] == counts[200]  # nothing per frame


def test_the_export_of_a_node_tree_follows_a_redelivered_plate_in_any_spelling(fd: Any, nuke: ModuleType,
                                                                               show: Path) -> None:
    """The upstream key stamps the Read's files by their folder and end frames (not a stat per frame), also for
    a ``####`` Read (whose files were never stamped before: a re-delivery kept the old export)."""
    from flashdepth_nuke import upstream as up

    folder = show / "sh010" / "plates"
    read = nuke.nodes.Read(file=str(folder / "shot.####.exr"), first=1001, last=1005, origfirst=1001,
                           origlast=1005)
    grade = nuke.nodes.Grade(white=2.0)
    grade.setInput(0, read)
    frames = list(range(1001, 1006))
    key = up.network_key(grade, frames)
    assert up.network_key(grade, frames) == key
    plates(folder, seed=1)  # re-delivered over the files in place
    stamp = time.time_ns() - 10 ** 9
    os.utime(folder / "shot.1001.exr", ns=(stamp, stamp))
    assert up.network_key(grade, frames) != key
    os.utime(folder, ns=(stamp, stamp))
    key = up.network_key(grade, frames)
    (folder / "shot.1003.exr").rename(folder / "old.exr")  # a frame replaced through a rename
    (folder / "old.exr").rename(folder / "shot.1003.exr")
    assert up.network_key(grade, frames) != key
