"""What artists asked for on the Nuke and Houdini nodes (issue 19): *Preview frame* (one frame rendered with the
node's settings, shown until the shot is rendered, never a version), and the engine's --max-size, half floats and
compression on the node, in the settings key only where they change the depth."""
from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from depth_files import write_engine_frames
from fakes.slowfs import SlowFileSystem
from flashdepth_vfx.hosts import prune
from flashdepth_vfx.hosts.paths import host_path, relative_path
from flashdepth_vfx.hosts.settings import NodeSettings
from flashdepth_vfx.hosts.versions import PREVIEW_FOLDER, STATE_COLOURS, DepthState, DepthVersion, describe_versions
from flashdepth_vfx.errors import FlashDepthError
from test_host_houdini import fd as hou_fd, hou, plate_cop, status as hou_status, wait as hou_wait  # noqa: F401
from test_host_nuke import args_of, finish, fd, nuke, option, read, set_knob  # noqa: F401


def shown(text: str) -> DepthVersion:
    version = DepthVersion.from_json(text)
    assert version is not None
    return version


# --- Preview frame ----------------------------------------------------------------------------------------------

def test_nuke_preview_renders_the_current_frame_shows_it_until_the_shot_is_rendered(
        fd: Any, nuke: ModuleType, read: Any, tmp_path: Path) -> None:
    group = fd.create_node(read)
    nuke.frame(1003)
    group["preview"].execute()  # the button's own script
    worker = fd.running(group)
    finish(fd, group)
    args = args_of(worker)
    out_dir = tmp_path / "comp" / "flashdepth" / "FlashDepth1"
    preview = shown(group["flashdepth_result"].value())
    assert Path(preview.folder).parent == out_dir / PREVIEW_FOLDER and preview.is_preview
    assert option(args, "--frames") == "1003" and option(args, "-o") == preview.pattern
    assert sorted(p.name for p in Path(preview.folder).iterdir()) == ["shot_depth.1003.exr"]  # no marker, manifest
    assert group.node("DepthRead")["file"].value() == preview.pattern
    assert group["status"].value().startswith("Done: 1 frames in ")
    assert "Preview: frame 1003 only; press Render depth for the shot" in group["status"].value()
    assert group["tile_color"].value() == STATE_COLOURS[DepthState.PREVIEW]
    assert group["depth_version"].values() == [fd.LATEST] and describe_versions(str(out_dir)) == []
    assert prune.plan_folder(str(out_dir)).remove == []  # never pruned as a version

    fd.refresh_status(group)  # a status check keeps the preview shown
    assert shown(group["flashdepth_result"].value()) == preview
    set_knob(nuke, group, "mode", "disparity")  # other settings: the preview says so, and stays until rendered
    assert group["status"].value().startswith("Preview: frame 1003 rendered with other settings")
    fd.preview(group)  # a preview of those settings too
    finish(fd, group)
    set_knob(nuke, group, "mode", "depth")
    assert len(list((out_dir / PREVIEW_FOLDER).iterdir())) == 2

    fd.render(group)
    finish(fd, group)
    version = shown(group["flashdepth_result"].value())
    assert not version.is_preview and version.key == preview.key
    assert group.node("DepthRead")["file"].value() == version.pattern
    assert group["status"].value().startswith("Done: 5 frames")
    assert (out_dir / PREVIEW_FOLDER).is_dir()  # (the fake engine's frames carry no engine header: they stay)


def test_nuke_preview_of_a_frame_outside_the_range_takes_the_nearest_through_the_reads_timing(
        fd: Any, nuke: ModuleType, read: Any) -> None:
    read["frame_mode"].setValue("offset")
    read["frame"].setValue("100")  # script frame 1101 shows file frame 1001
    group = fd.create_node(read)
    nuke.frame(1102)
    fd.preview(group)
    worker = fd.running(group)
    finish(fd, group)
    assert option(args_of(worker), "--frames") == "1002"
    nuke.frame(5000)
    fd.preview(group)
    worker = fd.running(group)
    finish(fd, group)
    assert option(args_of(worker), "--frames") == "1005"


def test_houdini_preview_button_renders_the_current_frame_into_the_loader(
        hou_fd: Any, hou: ModuleType, tmp_path: Path) -> None:
    network, plate = plate_cop(hou, tmp_path)
    node = hou_fd.create_node(network, plate)
    hou.setFrame(1002)
    node.parm("fd_preview").press()
    task = hou_fd.running(node)
    hou_wait(hou_fd, hou, node)
    args = task.engine.job.to_args()
    assert args[args.index("--frames") + 1] == "1002"
    preview = shown(node.userData("flashdepth_shown"))
    assert preview.is_preview and sorted(p.name for p in Path(preview.folder).iterdir()) == ["shot_depth.1002.exr"]
    assert node.node("depth").parm("filename1").evalAsString() == str(Path(preview.folder) / "shot_depth.$F4.exr")
    assert "Preview: frame 1002 only" in hou_status(node)
    assert [item for item in hou_fd.version_menu(node)][::2] == ["latest"]


def test_a_rendered_shot_clears_its_previews_files_only(tmp_path: Path) -> None:
    settings = NodeSettings(plate=str(tmp_path / "shot.%04d.exr"), output_dir=str(tmp_path / "out"))
    preview = settings.preview()
    write_engine_frames(Path(preview.folder), range(1003, 1004))
    (Path(preview.folder) / "notes.txt").write_text("mine")
    (Path(preview.folder) / "shot_depth.1004.exr").write_text("not the engine's")
    prune.clear_preview(preview)
    assert sorted(p.name for p in Path(preview.folder).iterdir()) == ["notes.txt", "shot_depth.1004.exr"]
    for name in ("notes.txt", "shot_depth.1004.exr"):
        (Path(preview.folder) / name).unlink()
    write_engine_frames(Path(preview.folder), range(1003, 1004))
    other = NodeSettings(plate=settings.plate, output_dir=settings.output_dir, mode="disparity").preview()
    write_engine_frames(Path(other.folder), range(1001, 1002))
    prune.clear_previews(settings.output_dir, settings.plate)  # every preview of the node's plate
    assert not (tmp_path / "out" / PREVIEW_FOLDER).exists()


# --- max size, half floats, compression ---------------------------------------------------------------------------

def test_max_size_half_and_compression_reach_the_engine_and_the_key_where_they_change_the_depth(
        tmp_path: Path) -> None:
    base = NodeSettings(plate=str(tmp_path / "shot.%04d.exr"), output_dir=str(tmp_path / "out"))
    tuned = NodeSettings(plate=base.plate, output_dir=base.output_dir, max_size="1024", data_type="half",
                         compression="piz")
    args = tuned.job().to_args()
    assert args[args.index("--max-size") + 1] == "1024" and "--half" in args
    assert args[args.index("--compression") + 1] == "piz"
    assert not {"--max-size", "--half", "--compression"} & set(base.job().to_args())
    assert NodeSettings(plate=base.plate, output_dir=base.output_dir, max_size="0").key() == base.key()
    keys = {base.key(), tuned.key(),
            NodeSettings(plate=base.plate, output_dir=base.output_dir, max_size="1024").key(),
            NodeSettings(plate=base.plate, output_dir=base.output_dir, data_type="half").key()}
    assert len(keys) == 4  # size and data type change the depth: new versions
    lossless = NodeSettings(plate=base.plate, output_dir=base.output_dir, max_size="1024", data_type="half",
                            compression="zip")
    assert lossless.key() == tuned.key()  # compression never changes the depth: the same version
    with pytest.raises(FlashDepthError, match="max size 'big': use a whole number"):
        NodeSettings(plate=base.plate, output_dir=base.output_dir, max_size="big").job()


def test_nuke_knobs_for_max_size_data_type_and_compression(fd: Any, nuke: ModuleType, read: Any) -> None:
    group = fd.create_node(read)
    assert [group[k].value() for k in ("max_size", "data_type", "compression")] == [0, "float32", "auto"]
    fd.render(group)
    finish(fd, group)
    first = shown(group["flashdepth_result"].value())
    set_knob(nuke, group, "max_size", 1024)
    set_knob(nuke, group, "data_type", "half")
    assert group["status"].value().startswith("Stale")  # a new size or data type is a new version
    fd.render(group)
    worker = fd.running(group)
    finish(fd, group)
    args = args_of(worker)
    assert option(args, "--max-size") == "1024" and "--half" in args
    second = shown(group["flashdepth_result"].value())
    assert second.key != first.key
    set_knob(nuke, group, "compression", "piz")
    assert group["status"].value().startswith("Current")  # compression alone: the same version


def test_houdini_parms_for_max_size_data_type_and_compression(hou_fd: Any, hou: ModuleType, tmp_path: Path) -> None:
    network, plate = plate_cop(hou, tmp_path)
    node = hou_fd.create_node(network, plate)
    node.parm("fd_max_size").set(768)
    node.parm("fd_data_type").set(1)  # half
    node.parm("fd_compression").set(2)  # zip
    args = hou_fd.read_settings(node).job().to_args()
    assert args[args.index("--max-size") + 1] == "768" and "--half" in args
    assert args[args.index("--compression") + 1] == "zip"


# --- paths written into host parameters -------------------------------------------------------------------------

def test_host_paths_use_forward_slashes_as_houdini_reads_a_backslash_as_an_escape(hou: ModuleType) -> None:
    windows = "C:\\show\\sh010\\flashdepth\\node1"
    assert hou.text.expandString(windows) == "C:showsh010flashdepthnode1"  # what Houdini makes of it
    assert host_path(windows, sep="\\") == "C:/show/sh010/flashdepth/node1"
    assert hou.text.expandString(host_path(windows, sep="\\")) == "C:/show/sh010/flashdepth/node1"
    assert host_path("/mnt/show/odd\\name", sep="/") == "/mnt/show/odd\\name"  # a POSIX name keeps its backslash
    assert relative_path("/mnt/show/sh010/flashdepth/node1", "/mnt/show/sh010", "$HIP") == "$HIP/flashdepth/node1"
    assert relative_path("/mnt/depth/node1", "/mnt/show/sh010", "$HIP") == "/mnt/depth/node1"
    assert relative_path("/mnt/depth/node1", None, "$HIP") == "/mnt/depth/node1"


def test_houdini_keeps_an_unset_output_folder_relative_to_hip(hou_fd: Any, hou: ModuleType, tmp_path: Path) -> None:
    network, plate = plate_cop(hou, tmp_path)
    node = hou_fd.create_node(network, plate)
    hou_fd.render(node)
    hou_wait(hou_fd, hou, node)
    assert node.parm("fd_output").unexpandedString() == "$HIP/flashdepth/flashdepth1"
    assert "Current: 5 frames" in hou_status(node)
    moved = tmp_path / "Volumes" / "fx"  # the same .hip opened from another mount
    moved.parent.mkdir()
    moved.symlink_to(tmp_path / "fx", target_is_directory=True)
    hou.hipFile.load(str(moved / "shot.hip"))
    assert hou_fd.read_settings(node).settings.output_dir == str(moved / "flashdepth" / "flashdepth1")
    assert "Current: 5 frames" in hou_status(node)
    loader = node.node("depth").parm("filename1")  # the loader reads the files from that mount too
    assert loader.unexpandedString().startswith("$HIP/flashdepth/flashdepth1/")
    assert loader.evalAsString().startswith(str(moved / "flashdepth" / "flashdepth1"))


def test_nuke_output_folder_typed_on_one_mount_is_found_through_the_studios_filename_filter(
        fd: Any, nuke: ModuleType, read: Any, tmp_path: Path) -> None:
    group = fd.create_node(read)
    typed = tmp_path / "mnt" / "depth"
    group["output"].setValue(str(typed))  # the artist's own absolute folder, as Alice's machine mounts it
    fd.render(group)
    finish(fd, group)
    volumes = tmp_path / "Volumes" / "depth"  # Bob's machine mounts it elsewhere; his studio remaps the paths
    volumes.parent.mkdir()
    volumes.symlink_to(typed, target_is_directory=True)
    nuke.addFilenameFilter(lambda path: path.replace(str(typed), str(volumes)))
    assert group["output"].value() == str(typed)  # as typed
    assert fd.read_source(group).settings.output_dir == str(volumes)
    fd.refresh_status(group)
    assert group["status"].value().startswith("Current: 5 frames")
    assert group.node("DepthRead")["file"].value().startswith(str(volumes))


# --- Houdini: progress and status cost ------------------------------------------------------------------------------

def test_houdini_progress_never_marks_the_hip_modified(hou_fd: Any, hou: ModuleType, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    network, plate = plate_cop(hou, tmp_path)
    plate.frame_range = (1001.0, 1020.0)
    node = hou_fd.create_node(network, plate)
    node.parm("fd_output").set("$HIP/depth")
    hou.hipFile.save()
    assert not hou.hipFile.hasUnsavedChanges()
    monkeypatch.setenv("FAKE_ENGINE_MODE", "slow")
    monkeypatch.setenv("FAKE_ENGINE_DELAY", "0.02")
    node.parm("fd_render").press()
    seen: list = []
    hou.run_event_loop(until=lambda: seen.append((hou_status(node), hou.hipFile.hasUnsavedChanges()))
                       or hou_fd.running(node) is None)
    during = [modified for line, modified in seen if "% Frame" in line]
    assert len(during) >= 5 and not any(during)  # the status line followed the frames; the scene stayed saved
    assert any(re.match(r"FlashDepth flashdepth1: \d+% Frame 10\d\d \(\d+/20\)", message)
               for message in hou.ui.status_messages)  # the status bar shows the progress
    assert "Current: 20 frames" in hou_status(node)


def test_houdini_status_of_a_cop2_tree_costs_a_few_file_calls_whatever_the_frame_count(
        hou_fd: Any, hou: ModuleType, tmp_path: Path) -> None:
    network, plate = plate_cop(hou, tmp_path)
    for frame in range(1006, 1201):
        (tmp_path / "plates" / f"shot.{frame}.exr").write_text("plate")
    plate.frame_range = (1001.0, 1200.0)
    blur = network.createNode("blur")
    blur.setInput(0, plate)
    blur.frame_range = (1001.0, 1200.0)
    node = hou_fd.create_node(network, blur)
    key = hou_fd.read_settings(node).export.folder
    with SlowFileSystem() as fs:
        parts = hou_fd.content_parts(blur, list(range(1001, 1201)))
    assert fs.calls["stat"] <= 6, fs.calls  # was an isfile and a stat per frame (400 at 200 frames)
    assert any("filename1=" in part and "shot.####.exr|shot.%04d.exr" in part for part in parts)
    take = tmp_path / "plates" / ".shot.1100.exr.tmp"  # a frame re-delivered (written beside it, renamed over it)
    take.write_text("a new take")
    take.replace(tmp_path / "plates" / "shot.1100.exr")
    assert hou_fd.read_settings(node).export.folder != key


def test_a_preview_that_fails_says_why_and_leaves_no_folder(fd: Any, nuke: ModuleType, read: Any, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_ENGINE_MODE", "fail")
    group = fd.create_node(read)
    nuke.frame(1002)
    fd.preview(group)
    finish(fd, group)
    assert group["status"].value().startswith("Error: ") and "Not rendered yet" in group["status"].value()
    assert not (tmp_path / "comp" / "flashdepth" / "FlashDepth1" / PREVIEW_FOLDER).exists()


def test_a_max_size_the_engine_refuses_is_one_status_line(fd: Any, nuke: ModuleType, read: Any) -> None:
    group = fd.create_node(read)
    set_knob(nuke, group, "max_size", -5)
    assert group["status"].value() == ("max size '-5': use a whole number of pixels (e.g. 1024), or 0 for the "
                                       "model's own")
    fd.render(group)
    assert fd.running(group) is None and group["status"].value().startswith("Error: max size '-5'")
