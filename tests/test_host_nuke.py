"""The Nuke plugin (nuke/) against tests/fakes/nuke.py, rendering with the fake engine (tests/fake_engine.py)
as a real subprocess from the node's worker thread."""
from __future__ import annotations

import dataclasses
import json
import shutil
import runpy
import shlex
import struct
import sys
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, List

import pytest

import fake_engine
from depth_files import age, write_engine_frames
from fakes import nuke as fake_nuke
from flashdepth_vfx.hosts.colour import NUKE_DEFAULT_CONFIG
from flashdepth_vfx.hosts.versions import STATE_COLOURS, DepthState, DepthVersion

ROOT = Path(__file__).resolve().parent.parent
FAKE_ENGINE = f"{shlex.quote(sys.executable)} {shlex.quote(str(Path(fake_engine.__file__).resolve()))}"


@pytest.fixture
def nuke(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> ModuleType:
    """The fake ``nuke`` module with an empty session and a script saved at tmp/comp/shot.nk."""
    fake_nuke.reset()
    fake_nuke.root()["name"].setValue(str(tmp_path / "comp" / "shot.nk"))
    monkeypatch.setitem(sys.modules, "nuke", fake_nuke)
    monkeypatch.syspath_prepend(str(ROOT / "nuke"))
    for name in [m for m in sys.modules if m.startswith("flashdepth_nuke")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setenv("FLASHDEPTH_VFX_BIN", FAKE_ENGINE)
    monkeypatch.delenv("FAKE_ENGINE_MODE", raising=False)
    monkeypatch.delenv("OCIO", raising=False)
    return fake_nuke


@pytest.fixture
def fd(nuke: ModuleType) -> Any:
    """The node module, with the callbacks the plugin's menu.py registers."""
    import flashdepth_nuke.node

    flashdepth_nuke.node.register_callbacks()
    return flashdepth_nuke.node


@pytest.fixture
def read(nuke: ModuleType, tmp_path: Path) -> Any:
    return nuke.nodes.Read(file=str(tmp_path / "plates" / "shot.%04d.exr"), first=1001, last=1005, origfirst=1001,
                           origlast=1005, colorspace="ACES - ACEScg")


def depth_label(group: Any) -> str:
    """The depth line the Node Graph draws on the node (its autolabel, under the name)."""
    return fake_nuke.autolabel(group).splitlines()[1]


def finish(fd: Any, group: Any, timeout: float = 30.0) -> None:
    """Play Nuke's event loop until the node's worker thread ends, then run what it queued last (a render that
    failed at once, e.g. no engine, may have freed its node already: only its queued end is left to run)."""
    worker = fd.running(group)
    if worker is None:
        fake_nuke.run_main_thread()
        return
    deadline = time.monotonic() + timeout
    while worker.is_alive():
        assert time.monotonic() < deadline, "render timed out"
        fake_nuke.run_main_thread()
        worker.join(0.01)
    fake_nuke.run_main_thread()


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        fake_nuke.run_main_thread()
        time.sleep(0.01)


def version_dir(tmp_path: Path, group: Any) -> Path:
    """The version folder of the node's current settings."""
    shown = DepthVersion.from_json(group["flashdepth_result"].value())
    assert shown is not None, group["status"].value()
    return Path(shown.folder)


def args_of(worker: Any) -> List[str]:
    assert worker.engine is not None
    return list(worker.engine.job.to_args())


def option(args: List[str], name: str) -> str:
    return args[args.index(name) + 1]


# --- the node ------------------------------------------------------------------------------------------------

def test_node_has_its_knobs_inner_graph_and_defaults_from_the_upstream_read(fd: Any, nuke: ModuleType,
                                                                            read: Any) -> None:
    group = fd.create_node(read)
    assert group.Class() == "Group" and group.name() == "FlashDepth1" and group.input(0) is read
    assert group["colorspace"].value() == "ACES - ACEScg"
    assert group["frames"].value() == ""  # the input's whole range, followed when the plate grows
    assert [group[k].value() for k in ("model", "mode", "device", "precision", "output", "use_proxy")] == [
        "default", "depth", "auto", "default", "", False]
    assert group["render"].label() == "Render depth" and group["finish"].label() == "Finish"
    assert not group["cancel"].getFlag(nuke.STARTLINE) and not group["finish"].getFlag(nuke.STARTLINE)
    assert "upstream Read" in group["colorspace"].tooltip()
    assert group["flashdepth_result"].getFlag(nuke.INVISIBLE)
    assert group["status"].value() == "Not rendered yet: press Render depth"
    assert group["tile_color"].value() == STATE_COLOURS[DepthState.NONE] and depth_label(group) == "depth: none"
    plate, depth_read, copy = (group.node(n) for n in ("Plate", "DepthRead", "AddDepth"))
    assert (plate.Class(), depth_read.Class(), copy.Class()) == ("Input", "Read", "Copy")
    assert copy.input(0) is plate and copy.input(1) is depth_read
    assert (copy["from0"].value(), copy["to0"].value(), copy["disable"].value()) == ("depth.Z", "depth.Z", True)
    assert depth_read["raw"].value() is True and depth_read["on_error"].value() == "black"
    position, normals, camera = (group.node(n) for n in ("AddPosition", "AddNormals", "Camera"))
    assert position.input(0) is copy and normals.input(0) is position
    assert position.input(1) is depth_read and normals.input(1) is depth_read
    assert [position[f"from{i}"].value() for i in range(3)] == ["P.red", "P.green", "P.blue"]
    assert [normals[f"to{i}"].value() for i in range(3)] == ["N.red", "N.green", "N.blue"]
    assert position["disable"].value() and normals["disable"].value()
    assert (camera.Class(), camera["number"].value()) == ("Input", 1)
    output = next(n for n in group.nodes() if n.Class() == "Output")
    assert output.input(0) is normals


def test_defaults_from_a_node_tree_and_nuke_default_colourspace(fd: Any, nuke: ModuleType, read: Any) -> None:
    read["colorspace"].setValue("default (sRGB)")
    assert fd.create_node(read)["colorspace"].value() == "sRGB"
    blur = nuke.nodes.Blur()
    blur.setInput(0, read)
    nuke.select(blur)
    group = fd.create_node()  # fed by the selection
    assert group.input(0) is blur and group.name() == "FlashDepth2"
    assert (group["colorspace"].value(), group["frames"].value()) == ("linear", "")  # Nuke's working space
    nuke.root()["colorManagement"].setValue("OCIO")
    nuke.root()["OCIO_config"].setValue("custom")
    nuke.root()["customOCIOConfigPath"].setValue(NUKE_DEFAULT_CONFIG)
    assert fd.create_node(blur)["colorspace"].value() == "scene_linear"  # the OCIO role

    nuke.select()
    later = fd.create_node()  # no input yet: nothing to default from
    assert (later["colorspace"].value(), later["frames"].value()) == ("", "")
    assert later["status"].value() == "FlashDepth4 has no input: connect a Read or a node tree to it"
    later.setInput(0, read)  # wired in the Node Graph, the node's panel closed: no knobChanged before Nuke 17
    nuke.knob_changed(later, "inputChange")
    assert later["status"].value() == "FlashDepth4 has no input: connect a Read or a node tree to it"
    nuke.update_ui()  # Nuke's idle after the change: the registered updateUI reaches every node
    assert (later["colorspace"].value(), later["frames"].value()) == ("sRGB", "")
    assert later["status"].value() == "Not rendered yet: press Render depth"
    later["colorspace"].setValue("rec709")
    later.showControlPanel()  # with the panel open, the knobChanged callback reaches the node at once
    later.setInput(0, blur)
    nuke.knob_changed(later, "inputChange")
    assert later["colorspace"].value() == "rec709"  # the artist's colour space stays


def test_plugin_folder_adds_the_project_icon_toolbar_entry_and_callbacks(nuke: ModuleType,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLASHDEPTH_VFX_PATH", str(ROOT))
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(ROOT)])
    runpy.run_path(str(ROOT / "nuke" / "init.py"))
    assert sys.path[0] == str(ROOT)
    [icons] = nuke.plugin_paths
    icon = Path(icons) / "FlashDepth.png"
    data = icon.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", data[16:24]) == (24, 24)  # a toolbar icon
    panels: list[tuple[str, ...]] = []
    nukescripts = type(sys)("nukescripts")
    nukescripts.panels = type(sys)("panels")  # type: ignore[attr-defined]
    nukescripts.panels.registerWidgetAsPanel = lambda *a: panels.append(a)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "nukescripts", nukescripts)
    runpy.run_path(str(ROOT / "nuke" / "menu.py"))
    import flashdepth_nuke.node

    menu = nuke.menu("Nodes").items["FlashDepth"]
    assert menu.icon == "FlashDepth.png" and menu.options["FlashDepth"]["icon"] == "FlashDepth.png"
    assert menu.items["FlashDepth"] is flashdepth_nuke.node.create_node
    assert nuke.script_load_callbacks == [flashdepth_nuke.node.refresh_all]
    assert [(c[0], c[3]) for c in nuke.knob_changed_callbacks] == [(flashdepth_nuke.node.knob_changed, "Group")]
    assert [p[1:] for p in panels] == [("FlashDepth", "com.flashdepth-vfx.DepthPanel")]  # the shared panel docks


def test_render_button_runs_the_engine_in_a_worker_and_loads_the_version(fd: Any, nuke: ModuleType, read: Any,
                                                                        tmp_path: Path) -> None:
    group = fd.create_node(read)
    group["render"].execute()  # the button's own script
    worker = fd.running(group)
    assert group["status"].value() == "Starting the depth engine"
    finish(fd, group)

    out_dir = tmp_path / "comp" / "flashdepth" / "FlashDepth1"
    assert group["output"].value() == "[file dirname [value root.name]]/flashdepth/FlashDepth1"  # script-relative
    version = version_dir(tmp_path, group)
    assert version.parent == out_dir and len(version.name) == 16
    args = args_of(worker)
    assert args[:3] == ["render", "-o", str(version / "shot_depth.%04d.exr")]
    assert args[-2:] == ["--", str(tmp_path / "plates" / "shot.%04d.exr")]
    assert option(args, "--colorspace") == "ACES - ACEScg" and option(args, "--frames") == "1001-1005"
    assert "--ocio-config" not in args and "--resume" not in args  # no OCIO config: ACEScg is the engine's own

    [task] = nuke.progress_tasks
    assert task.thread is worker and task.progress[-1] == 100 and task.progress == sorted(task.progress)
    assert task.messages[-1].startswith("Frame 1005 (5/5)")
    assert group["status"].value().startswith("Done: 5 frames in ")
    assert "1 warnings" in group["status"].value()
    assert group["tile_color"].value() == STATE_COLOURS[DepthState.CURRENT] and depth_label(group) == "depth: current"

    depth_read, copy = group.node("DepthRead"), group.node("AddDepth")
    assert depth_read["file"].value() == str(version / "shot_depth.%04d.exr")
    assert [depth_read[k].value() for k in ("first", "last", "origfirst", "origlast")] == [1001, 1005, 1001, 1005]
    assert depth_read["reload"].executed == 1 and copy["disable"].value() is False
    assert sorted(p.name for p in version.iterdir()) == [".flashdepth_shown", "flashdepth_version.json"] + [
        f"shot_depth.{f}.exr" for f in range(1001, 1006)]  # no rendering marker left: the render is over
    [marker] = (version / ".flashdepth_shown").iterdir()  # pruning keeps what a node shows
    assert json.loads(marker.read_text())["user"] == f"{tmp_path / 'comp' / 'shot.nk'} {group.fullName()}"
    manifest = json.loads((version / "flashdepth_version.json").read_text())
    assert manifest["key"] == version.name and manifest["settings"]["mode"] == "depth"
    assert fd.running(group) is None


@pytest.mark.parametrize(("mode", "value", "before", "after"), [
    ("start at", "1001", "hold", "hold"),
    ("offset", "1000", "loop", "bounce"),
    ("expression", "frame-1000", "black", "hold"),
    ("start at", "1001", "bounce", "black"),
])
def test_depth_lines_up_with_the_plate_in_every_read_frame_mode(fd: Any, nuke: ModuleType, tmp_path: Path,
                                                                mode: str, value: str, before: str, after: str) -> None:
    plates = tmp_path / "plates"
    plates.mkdir()
    for frame in range(1, 13):
        (plates / f"shot.{frame:04d}.exr").write_text("plate")
    read = nuke.nodes.Read(file=str(plates / "shot.####.exr"), first=1, last=12, origfirst=1, origlast=12,
                           frame_mode=mode, frame=value, before=before, after=after)
    group = fd.create_node(read)
    if mode == "expression":  # Nuke cannot invert an expression: the artist gives the script frames
        group["frames"].setValue("1001-1012")
    assert fd.read_source(group).settings.frames == "1-12"  # the input's script range, as file frames
    worker = fd.render(group)
    finish(fd, group)
    assert option(args_of(worker), "--frames") == "1-12"  # the engine's: file frames
    assert group["status"].value().startswith("Done: 12 frames")
    depth_read = group.node("DepthRead")
    for knob in ("first", "last", "frame_mode", "frame", "before", "after"):
        assert depth_read[knob].value() == read[knob].value(), knob
    for script_frame in range(990, 1030):  # before, through and after the shot
        assert depth_read.metadata("input/frame", script_frame) == read.metadata("input/frame", script_frame)
    assert depth_read.metadata("input/frame", 1001) == 1 and depth_read.metadata("input/frame", 1012) == 12

    group["frames"].setValue("1005-1008")  # a sub-range of script frames
    nuke.knob_changed(group, "frames")
    assert group["status"].value().startswith("Current: 4 frames")
    worker = fd.render(group)
    finish(fd, group)
    assert option(args_of(worker), "--frames") == "5-8"


def test_changed_knob_marks_stale_keeps_the_shown_version_and_reopening_finds_it(fd: Any, nuke: ModuleType,
                                                                                  read: Any, tmp_path: Path) -> None:
    group = fd.create_node(read)
    fd.render(group)
    finish(fd, group)
    first = group["flashdepth_result"].value()
    group["mode"].setValue("disparity")
    nuke.knob_changed(group, "mode")
    assert group["status"].value() == "Stale: the depth shown was rendered with other settings; press Render depth"
    assert group["flashdepth_result"].value() == first  # the loader keeps the depth it has
    assert (group["tile_color"].value(), depth_label(group)) == (STATE_COLOURS[DepthState.STALE], "depth: stale")
    group["mode"].setValue("depth")
    nuke.knob_changed(group, "mode")
    assert group["status"].value().startswith("Current: 5 frames rendered with these settings")

    group["status"].setValue("")
    nuke.load_script(str(tmp_path / "comp" / "shot.nk"))
    assert group["status"].value().startswith("Current: 5 frames")
    assert not nuke.root().modified(), "opening a script must not mark it modified"
    shown = DepthVersion.from_json(first)
    assert shown is not None
    for frame in range(1001, 1006):
        Path(shown.frame_file(frame)).unlink()
    nuke.load_script(str(tmp_path / "comp" / "shot.nk"))
    assert group["status"].value() == f"Missing: the depth files are gone from {shown.folder}; press Render depth"
    assert group.node("AddDepth")["disable"].value() is True and not nuke.root().modified()
    nuke.knob_changed(group, "device")
    assert group["status"].value().startswith("Missing: ")  # still says what went missing


def test_a_rerender_keeps_the_previous_version_until_it_completes_then_finish_resumes(
        fd: Any, nuke: ModuleType, read: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    group = fd.create_node(read)
    read["last"].setValue(1040)
    group["frames"].setValue("1001-1040")
    fd.render(group)
    finish(fd, group)
    depth_version = version_dir(Path(), group)
    before = {p.name: p.read_text() for p in depth_version.iterdir() if p.is_file()}

    monkeypatch.setenv("FAKE_ENGINE_MODE", "slow")
    monkeypatch.setenv("FAKE_ENGINE_DELAY", "0.03")
    group["mode"].setValue("disparity")
    fd.render(group)
    wait_for(lambda: any(m.startswith("Frame") for m in nuke.progress_tasks[-1].messages))
    group["cancel"].execute()
    assert group["status"].value() == "Cancelling..."
    finish(fd, group)
    status = group["status"].value()
    assert status.startswith("Cancelled: ") and "press Finish to render the rest; showing the previous version" in status
    assert version_dir(Path(), group) == depth_version  # still the complete depth version
    assert {p.name: p.read_text() for p in depth_version.iterdir() if p.is_file()} == before
    assert group["tile_color"].value() == STATE_COLOURS[DepthState.PARTIAL]
    assert depth_label(group).startswith("depth: partial ")
    group["show_partial"].execute()  # the artist chooses the unfinished render over the previous one
    partial = version_dir(Path(), group)
    assert partial != depth_version and group.node("DepthRead")["file"].value() == str(partial / "shot_depth.%04d.exr")
    assert group["status"].value().endswith("press Finish to render the rest")
    nuke.knob_changed(group, "mode")
    assert version_dir(Path(), group) == partial  # the choice holds

    monkeypatch.setenv("FAKE_ENGINE_MODE", "ok")
    worker = fd.finish(group)
    finish(fd, group)
    args = args_of(worker)
    assert "--resume" in args and option(args, "--mode") == "disparity"
    disparity_version = version_dir(Path(), group)
    assert disparity_version == partial  # complete now
    assert group.node("DepthRead")["file"].value() == str(disparity_version / "shot_depth.%04d.exr")
    assert group.node("DepthRead")["reload"].executed >= 2
    assert group["status"].value().startswith("Done: ") and depth_label(group) == "depth: current"
    written = [e for e in worker.result.written]
    assert 0 < len(written) < 40  # finish rendered only what the cancelled render left out


@pytest.mark.parametrize("how", ["progress task", "cancel button"])
def test_cancel_stops_the_engine_and_keeps_finished_frames(fd: Any, nuke: ModuleType, read: Any,
                                                           monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    monkeypatch.setenv("FAKE_ENGINE_MODE", "slow")
    monkeypatch.setenv("FAKE_ENGINE_DELAY", "0.05")
    read["last"].setValue(1100)
    group = fd.create_node(read)
    fd.render(group)
    wait_for(lambda: bool(nuke.progress_tasks) and any(m.startswith("Frame") for m in nuke.progress_tasks[0].messages))
    if how == "progress task":
        nuke.progress_tasks[0].cancelled = True
    else:
        group["cancel"].execute()
        assert group["status"].value() == "Cancelling..."
    finish(fd, group)
    status = group["status"].value()
    kept = len(list(version_dir(Path(), group).glob("shot_depth.*.exr")))
    assert 1 <= kept < 100
    assert status == (f"Cancelled: {kept} frames kept. Partial: {kept} of 100 frames rendered with these settings; "
                      "press Finish to render the rest")
    assert group.node("AddDepth")["disable"].value() is False  # nothing older: the partial depth shows


# --- colour, proxy ---------------------------------------------------------------------------------------------

def test_colour_is_resolved_against_the_scripts_colour_management(fd: Any, nuke: ModuleType, read: Any,
                                                                  tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    read["colorspace"].setValue("default (Cineon)")
    group = fd.create_node(read)
    job = fd.read_source(group).settings.versioned_job()
    assert (job.colorspace, job.ocio_config) == ("Cineon", NUKE_DEFAULT_CONFIG)  # Nuke's own Cineon curve

    root = nuke.root()
    root["colorManagement"].setValue("OCIO")
    root["OCIO_config"].setValue("custom")
    root["customOCIOConfigPath"].setValue(str(tmp_path / "show" / "config.ocio"))
    group["colorspace"].setValue("ACES - ACEScct")
    job = fd.read_source(group).settings.versioned_job()
    assert (job.colorspace, job.ocio_config) == ("ACES - ACEScct", str(tmp_path / "show" / "config.ocio"))

    configs = tmp_path / "Nuke15.1v1" / "plugins" / "OCIOConfigs" / "configs" / "aces_1.2"
    configs.mkdir(parents=True)
    (configs / "config.ocio").write_text("ocio_profile_version: 1\n")
    monkeypatch.setattr(nuke, "EXE_PATH", str(tmp_path / "Nuke15.1v1" / "Nuke15.1"))
    root["OCIO_config"].setValue("aces_1.2")
    assert fd.read_source(group).settings.ocio_config == str(configs / "config.ocio")
    root["OCIO_config"].setValue("fn-nuke_cg-config-v1.0.0_aces-v1.3_ocio-v2.1")
    assert fd.read_source(group).settings.ocio_config == "ocio://cg-config-v1.0.0_aces-v1.3_ocio-v2.1"
    monkeypatch.setenv("OCIO", "/studio/ocio/config.ocio")
    assert fd.read_source(group).settings.ocio_config == "/studio/ocio/config.ocio"  # $OCIO wins, as in Nuke
    monkeypatch.delenv("OCIO")
    root["OCIO_config"].setValue("custom")
    root["customOCIOConfigPath"].setValue("")
    fd.refresh_status(group)
    assert group["status"].value() == "Project Settings use a custom OCIO config but its path is empty: set the path"


def test_proxy_mode_never_changes_what_is_rendered(fd: Any, nuke: ModuleType, read: Any, tmp_path: Path) -> None:
    read["proxy"].setValue(str(tmp_path / "proxy" / "shot_half.%04d.exr"))
    group = fd.create_node(read)
    fd.render(group)
    finish(fd, group)
    nuke.root()["proxy"].setValue(True)  # the artist turns proxy mode on
    assert nuke.filename(read) == str(tmp_path / "proxy" / "shot_half.%04d.exr")
    nuke.knob_changed(group, "mode")
    assert group["status"].value().startswith("Current: 5 frames")
    worker = fd.render(group)
    finish(fd, group)
    assert args_of(worker)[-1] == str(tmp_path / "plates" / "shot.%04d.exr")  # the full-resolution plate
    assert "--resume" not in args_of(worker)

    group["use_proxy"].setValue(True)  # deliberately from the proxy
    nuke.knob_changed(group, "use_proxy")
    assert group["status"].value().startswith("Stale")
    worker = fd.render(group)
    finish(fd, group)
    assert args_of(worker)[-1] == str(tmp_path / "proxy" / "shot_half.%04d.exr")


# --- inputs that are not a Read -------------------------------------------------------------------------------

def test_pass_through_nodes_lead_to_the_read(fd: Any, nuke: ModuleType, read: Any, tmp_path: Path) -> None:
    dot = nuke.nodes.Dot()
    dot.setInput(0, read)
    noop = nuke.nodes.NoOp()
    noop.setInput(0, dot)
    blur = nuke.nodes.Blur(disable=True)
    blur.setInput(0, noop)
    grade = nuke.nodes.Grade()
    grade.setInput(0, read)
    switch = nuke.nodes.Switch(which=1)
    switch.setInput(0, grade)
    switch.setInput(1, blur)
    group = fd.create_node(switch)
    assert group["colorspace"].value() == "ACES - ACEScg"  # the Read's, through the chain
    worker = fd.render(group)
    finish(fd, group)
    assert args_of(worker)[-1] == str(tmp_path / "plates" / "shot.%04d.exr") and nuke.executed == []

    switch["which"].setExpression("frame > 1003")  # animated: it processes, so it is exported
    nuke.knob_changed(group, "inputChange")
    worker = fd.render(group)
    finish(fd, group)
    assert "/source/" in args_of(worker)[-1] and len(nuke.executed) == 5


def test_a_node_tree_is_exported_in_the_background_once_per_content_and_only_the_frames_asked(
        fd: Any, nuke: ModuleType, read: Any, tmp_path: Path) -> None:
    blur = nuke.nodes.Blur(size=3.0)
    blur.setInput(0, read)
    group = fd.create_node(blur)
    group["frames"].setValue("1002-1004")
    worker = fd.render(group)
    assert nuke.executed == [] and group["status"].value() == "Exporting the input"  # the main thread is free
    finish(fd, group)
    assert nuke.executed == [("FlashDepth1.FlashDepthExport", [f]) for f in (1002, 1003, 1004)]
    plate = args_of(worker)[-1]
    source = Path(plate).parent
    assert source.parent == tmp_path / "comp" / "flashdepth" / "FlashDepth1" / "source"
    assert plate == str(source / "FlashDepth1.%04d.exr") and option(args_of(worker), "--frames") == "1002-1004"
    assert option(args_of(worker), "--colorspace") == "linear"
    assert sorted(p.name for p in source.glob("*.exr")) == [f"FlashDepth1.{f}.exr" for f in (1002, 1003, 1004)]
    assert not [n for n in group.nodes() if n.Class() == "Write"], "the export Write must be deleted"
    assert any(m.startswith("Exporting the input: frame 1004 (3/3)") for m in nuke.progress_tasks[0].messages)
    depth_read = group.node("DepthRead")
    assert [depth_read[k].value() for k in ("first", "last", "before", "after")] == [1002, 1004, "black", "black"]
    assert group["status"].value().startswith("Done: 3 frames")

    fd.render(group)  # same network: nothing exported again
    finish(fd, group)
    assert len(nuke.executed) == 3
    blur["size"].setValue(5.0)  # the network changed: a new export
    nuke.update_ui()  # Nuke's idle checks the node (its panel is closed)
    assert group["status"].value().startswith("Stale")
    worker = fd.render(group)
    finish(fd, group)
    assert len(nuke.executed) == 6 and Path(args_of(worker)[-1]).parent != source


# --- errors and robustness -------------------------------------------------------------------------------------

def test_engine_error_and_missing_input_become_one_status_line(fd: Any, nuke: ModuleType, read: Any,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    lonely = fd.create_node()
    assert fd.render(lonely) is None
    assert lonely["status"].value() == "Error: FlashDepth1 has no input: connect a Read or a node tree to it"

    monkeypatch.setenv("FAKE_ENGINE_MODE", "fail")
    group = fd.create_node(read)
    fd.render(group)
    finish(fd, group)
    assert group["status"].value() == f"Error: {fake_engine.ERROR_MESSAGE}. Not rendered yet: press Render depth"
    assert group.node("DepthRead")["file"].value() == "" and group.node("AddDepth")["disable"].value() is True

    monkeypatch.setenv("FLASHDEPTH_VFX_BIN", "/nowhere/flashdepth-vfx")
    fd.render(group)
    finish(fd, group)
    assert group["status"].value().startswith("Error: $FLASHDEPTH_VFX_BIN points at '/nowhere/flashdepth-vfx'")


def test_any_exception_in_the_worker_ends_the_render_and_frees_the_node(fd: Any, nuke: ModuleType,
                                                                        read: Any) -> None:
    nuke.failures["ProgressTask.setMessage"] = RuntimeError("progress bar gone")  # a host failure, not ours
    group = fd.create_node(read)
    fd.render(group)
    finish(fd, group)
    assert group["status"].value().startswith("Error: unexpected RuntimeError: progress bar gone")
    assert fd.running(group) is None
    nuke.failures.clear()
    assert fd.render(group) is not None  # not "Already rendering"
    finish(fd, group)
    assert group["status"].value().startswith("Done: 5 frames")


def test_second_render_while_running_is_refused(fd: Any, nuke: ModuleType, read: Any,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_ENGINE_MODE", "slow")
    monkeypatch.setenv("FAKE_ENGINE_DELAY", "0.05")
    group = fd.create_node(read)
    first = fd.render(group)
    assert fd.render(group) is None
    assert group["status"].value() == "Already rendering: press Cancel to stop"
    assert threading.active_count() >= 2 and first.is_alive()
    finish(fd, group)
    assert group["status"].value().startswith("Done: 5 frames")


# --- the script keeps no code ----------------------------------------------------------------------------------

def test_the_script_stores_no_behaviour_and_opens_cleanly_without_the_plugin(fd: Any, nuke: ModuleType, read: Any,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    group = fd.create_node(read)
    assert group["knobChanged"].value() == "" and group["onCreate"].value() == ""
    for button in ("render", "finish", "show_partial", "cancel"):
        command = group[button].command()
        assert f"fd.{button}(nuke.thisNode())" in command and len(command.splitlines()) <= 7

    monkeypatch.setitem(sys.modules, "flashdepth_nuke", None)  # a machine without the plugin
    monkeypatch.setitem(sys.modules, "flashdepth_nuke.node", None)
    nuke.knob_changed_callbacks.clear()  # nothing registered there either
    nuke.knob_changed(group, "mode")  # no error
    group["render"].execute()
    assert nuke.messages == [fd.PLUGIN_MISSING] and "not installed on this machine" in fd.PLUGIN_MISSING


def test_nodes_of_the_first_release_are_upgraded_on_load_without_marking_the_script_modified(
        fd: Any, nuke: ModuleType, read: Any, tmp_path: Path) -> None:
    group = fd.create_node(read)
    fd.render(group)
    finish(fd, group)
    version = DepthVersion.from_json(group["flashdepth_result"].value())
    assert version is not None
    # What the first release saved: a knobChanged script, one-line buttons, a CachedRender record.
    group["knobChanged"].setValue("import flashdepth_nuke.node as fd; fd.knob_changed()")
    group["render"].setValue("import nuke, flashdepth_nuke.node as fd; fd.render(nuke.thisNode())")
    group["flashdepth_result"].setValue(json.dumps({"fingerprint": "0123456789abcdef", "output": version.pattern,
                                                    "first": 1001, "last": 1005, "written": 5, "total": 5}))
    nuke.load_script(str(tmp_path / "comp" / "shot.nk"))
    assert not nuke.root().modified()
    assert group["knobChanged"].value() == "" and group["render"].command() == fd.button_command("render")
    assert group["status"].value().startswith("Current: 5 frames")  # the same files, found by their settings


# --- versions: choosing one, deleting old ones -----------------------------------------------------------------

def render_and_wait(fd: Any, group: Any) -> Path:
    fd.render(group)
    finish(fd, group)
    return version_dir(Path(), group)


def choose(nuke: ModuleType, group: Any, item: str) -> None:
    """The artist picks ``item`` in the version menu."""
    group["depth_version"].setValue(item)
    nuke.knob_changed(group, "depth_version")


def set_knob(nuke: ModuleType, group: Any, name: str, value: Any) -> None:
    group[name].setValue(value)
    nuke.knob_changed(group, name)


def test_version_menu_lists_the_versions_and_a_chosen_one_stays_shown_marked_stale(fd: Any, nuke: ModuleType,
                                                                                  read: Any, tmp_path: Path) -> None:
    group = fd.create_node(read)
    first = render_and_wait(fd, group)
    set_knob(nuke, group, "mode", "disparity")
    second = render_and_wait(fd, group)
    menu = group["depth_version"].values()
    assert menu[0] == fd.LATEST and len(menu) == 3 and group["depth_version"].value() == fd.LATEST
    assert menu[1].startswith(second.name[:8] + "  default model, disparity, ACES - ACEScg  5 fr complete  ")
    assert menu[2].startswith(first.name[:8] + "  default model, depth, ACES - ACEScg  5 fr complete  ")
    depth_read = group.node("DepthRead")

    choose(nuke, group, menu[2])  # an older version, rendered with other settings than the knobs'
    assert version_dir(Path(), group) == first and depth_read["file"].value() == str(first / "shot_depth.%04d.exr")
    assert group["status"].value().startswith(f"Stale: showing version {first.name[:8]} chosen by hand (default "
                                              "model, depth, ACES - ACEScg): its settings differ from the node's")
    assert depth_label(group) == "depth: stale (chosen version)"
    assert group["tile_color"].value() == STATE_COLOURS[DepthState.STALE]
    assert group["depth_version"].value() == menu[2]
    nuke.load_script(str(tmp_path / "comp" / "shot.nk"))  # reopening the script keeps the choice, unmodified
    assert version_dir(Path(), group) == first and depth_label(group) == "depth: stale (chosen version)"
    assert not nuke.root().modified()
    set_knob(nuke, group, "device", "cpu")  # other knob changes keep the choice
    assert version_dir(Path(), group) == first
    set_knob(nuke, group, "device", "auto")
    set_knob(nuke, group, "mode", "depth")  # the knobs now make the chosen version: current
    assert depth_label(group) == "depth: current" and version_dir(Path(), group) == first
    set_knob(nuke, group, "mode", "disparity")
    assert version_dir(Path(), group) == first and depth_label(group) == "depth: stale (chosen version)"

    choose(nuke, group, fd.LATEST)  # back to following the knobs
    assert version_dir(Path(), group) == second and depth_label(group) == "depth: current"
    assert depth_read["file"].value() == str(second / "shot_depth.%04d.exr")

    choose(nuke, group, menu[2])
    assert render_and_wait(fd, group) == second  # Render depth follows the knobs again
    assert group["depth_version"].value() == fd.LATEST and depth_label(group) == "depth: current"


def test_a_chosen_version_deleted_since_is_named_in_the_menu_until_latest_is_chosen(fd: Any, nuke: ModuleType,
                                                                                     read: Any) -> None:
    """The menu never says latest while the node keeps a choice: a chosen version deleted since (by hand, by a
    colleague's prune) stays the menu's value, marked as gone, and choosing latest shows the knobs' version."""
    group = fd.create_node(read)
    first = render_and_wait(fd, group)
    set_knob(nuke, group, "mode", "disparity")
    second = render_and_wait(fd, group)
    choose(nuke, group, group["depth_version"].values()[2])
    assert version_dir(Path(), group) == first
    shutil.rmtree(first)
    fd.refresh_status(group)  # what any knob change or reopening the script does
    assert depth_label(group) == "depth: missing"
    menu = group["depth_version"]
    assert menu.value() != fd.LATEST and menu.value().startswith(first.name[:8])
    assert menu.value() == f"{first.name[:8]}  {fd.MISSING_ITEM}" and menu.values()[-1] == menu.value()
    assert len(menu.values()) == 3  # latest, the second version, the one gone
    choose(nuke, group, fd.LATEST)
    assert version_dir(Path(), group) == second and depth_label(group) == "depth: current"
    assert menu.values() == [fd.LATEST, menu.values()[1]] and menu.value() == fd.LATEST


def test_choosing_a_version_with_no_frame_on_disk_keeps_the_depth_shown(fd: Any, nuke: ModuleType, read: Any,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A version with its manifest only ("0 fr partial" in the menu: Nuke killed before the render's first frame,
    every failed start of an earlier release): choosing it says so and keeps the depth the node showed, instead
    of a black depth.Z marked missing."""
    group = fd.create_node(read)
    first = render_and_wait(fd, group)
    left = fd.read_source(group).settings
    left = dataclasses.replace(left, mode="disparity")
    left.version().write_manifest(left.versioned_job())
    set_knob(nuke, group, "mode", "disparity")
    empty = group["depth_version"].values()[1]
    assert " 0 fr partial " in empty and version_dir(Path(), group) == first
    choose(nuke, group, empty)
    assert version_dir(Path(), group) == first
    assert group.node("DepthRead")["file"].value() == str(first / "shot_depth.%04d.exr")
    assert group["status"].value().startswith(f"Version {empty[:8]} has no depth frames on disk: render it with "
                                              "its settings, or choose another")
    assert group["depth_version"].value() == fd.LATEST and not group["flashdepth_chosen"].value()
    assert depth_label(group) == "depth: stale"


def test_a_script_saved_under_a_new_name_keeps_its_depth_from_pruning_once_reopened(
        fd: Any, nuke: ModuleType, read: Any, tmp_path: Path) -> None:
    """shot_v001.nk renders; the artist saves it as shot_v002.nk (reopened later), then deletes v001: the depth v002
    shows has a record of its own, so a prune elsewhere (``hosts prune``, another node) keeps it."""
    from flashdepth_vfx.hosts import prune

    v001, v002 = tmp_path / "comp" / "shot_v001.nk", tmp_path / "comp" / "shot_v002.nk"
    v001.parent.mkdir(exist_ok=True)
    v001.write_text("saved")
    nuke.load_script(str(v001))
    group = fd.create_node(read)
    version = render_and_wait(fd, group)
    v002.write_text("saved as")
    nuke.load_script(str(v002))
    v001.unlink()
    later = time.time() + 3 * 24 * 3600  # nothing written in the last minutes
    plan = prune.plan_folder(str(version.parent), keep=0, now=later)
    assert plan.remove == [] and [k.reason for k in plan.keep] == [f"shown by {v002} {group.fullName()}"]
    assert not nuke.root().modified()


DAY = 24 * 3600


def test_delete_old_versions_asks_then_keeps_the_shown_the_knobs_and_the_newest(fd: Any, nuke: ModuleType,
                                                                               read: Any) -> None:
    group = fd.create_node(read)
    made = []
    for days, (knob, value) in zip((5, 4, 3, 2), (("mode", "depth"), ("mode", "disparity"), ("mode", "normalized"),
                                                  ("precision", "fp16"))):
        set_knob(nuke, group, knob, value)
        made.append(render_and_wait(fd, group))
        age(made[-1], days * DAY)
    chosen = group["depth_version"].values()[-1]  # the oldest
    choose(nuke, group, chosen)
    age(made[0], 5 * DAY)
    assert version_dir(Path(), group) == made[0]
    write_engine_frames(made[1])
    (made[1] / "artist_notes.txt").write_text("keep me")
    age(made[1], 4 * DAY)

    asked = len(nuke.messages)
    thread = fd.delete_old_versions(group)  # as the button does; the artist answers No
    assert group["status"].value() == "Looking for old versions" and len(nuke.messages) == asked  # planned in a thread
    wait_for(lambda: not thread.is_alive())  # the question comes on the main thread
    assert nuke.messages[-1].startswith(f"Delete 1 old depth versions of {group.name()} (")
    assert all(path.is_dir() for path in made)
    nuke.answers.append(True)
    group["delete_old_versions"].execute()
    wait_for(lambda: group["status"].value().startswith("Deleted"))
    assert [path.is_dir() for path in made] == [True, True, True, True]  # the notes keep their folder
    assert sorted(p.name for p in made[1].rglob("*")) == ["artist_notes.txt"]
    assert group["status"].value().startswith("Deleted 1 old versions (") and \
        "1 files not written by flashdepth-vfx left in place" in group["status"].value()
    assert version_dir(Path(), group) == made[0]  # the chosen one stays shown
    assert len(group["depth_version"].values()) == 4  # latest + the three versions left
    group["delete_old_versions"].execute()
    wait_for(lambda: group["status"].value().startswith("No old versions to delete (3 kept)"))


# --- a studio's scripts: proxy mode, colour defaults, re-delivered plates, labels, path remaps ---------------

def test_a_tree_exported_in_proxy_mode_is_not_reused_at_full_resolution(fd: Any, nuke: ModuleType, read: Any) -> None:
    """nuke.execute renders at proxy resolution while the script is in proxy mode: that export is another image."""
    blur = nuke.nodes.Blur(size=3.0)
    blur.setInput(0, read)
    group = fd.create_node(blur)
    nuke.root()["proxy"].setValue(True)
    fd.render(group)
    finish(fd, group)
    proxy_plate = args_of_last(fd, group)
    assert len(nuke.executed) == 5
    nuke.root()["proxy"].setValue(False)
    worker = fd.render(group)
    finish(fd, group)
    assert len(nuke.executed) == 10 and args_of(worker)[-1] != proxy_plate  # exported again, at full resolution
    exported = Path(args_of(worker)[-1] % 1001).read_text().split()
    assert exported[2] == "full"


def args_of_last(fd: Any, group: Any) -> str:
    """The plate the node's last render read (from the version it shows)."""
    return str(fd.read_source(group).settings.plate)


def test_the_export_write_writes_the_working_space_the_engine_is_told(fd: Any, nuke: ModuleType, read: Any) -> None:
    """A Write's colour space defaults to Project Settings' float-files LUT (here ACES2065-1, a common ACES set-up);
    the engine is told the working space, so the export must write in it."""
    nuke.root()["floatLut"].setValue("ACES2065-1")
    blur = nuke.nodes.Blur(size=3.0)
    blur.setInput(0, read)
    group = fd.create_node(blur)
    worker = fd.render(group)
    finish(fd, group)
    told = option(args_of(worker), "--colorspace")
    assert told == "linear" and Path(args_of(worker)[-1] % 1001).read_text().split()[3] == told


def test_a_plate_delivered_again_with_more_frames_is_no_longer_current(fd: Any, nuke: ModuleType, read: Any,
                                                                      tmp_path: Path) -> None:
    plates = tmp_path / "plates"
    plates.mkdir()
    for frame in range(1001, 1011):
        (plates / f"shot.{frame}.exr").write_text("plate")
    group = fd.create_node(read)
    fd.render(group)
    finish(fd, group)
    assert group["status"].value().startswith("Done: 5 frames")
    read["last"].setValue(1010)  # the longer take, read by the same Read (the FlashDepth panel is closed)
    read["origlast"].setValue(1010)
    nuke.update_ui()
    assert group["status"].value().startswith("Partial: 5 of 10 frames rendered with these settings")
    worker = fd.finish(group)
    finish(fd, group)
    assert option(args_of(worker), "--frames") == "1001-1010" and group["status"].value().startswith("Done: 5 frames")
    assert depth_label(group) == "depth: current"


def test_the_node_leaves_the_artists_label_alone(fd: Any, nuke: ModuleType, read: Any) -> None:
    group = fd.create_node(read)
    group["label"].setValue("hero plate, v3")
    fd.render(group)
    finish(fd, group)
    assert group["label"].value() == "hero plate, v3"
    assert nuke.autolabel(group) == "FlashDepth1\ndepth: current\nhero plate, v3"  # what the Node Graph draws
    assert nuke.autolabel(read) == read.name()  # other Groups' and nodes' labels are not FlashDepth's


def test_plate_paths_go_through_the_studios_filename_filters(fd: Any, nuke: ModuleType, tmp_path: Path) -> None:
    """A studio remaps paths with nuke.addFilenameFilter (the script says /mnt/show, this machine mounts it
    elsewhere): Nuke reads the remapped files, and so must the engine."""
    plates = tmp_path / "plates"
    plates.mkdir()
    for frame in range(1001, 1006):
        (plates / f"shot.{frame}.exr").write_text("plate")
    nuke.addFilenameFilter(lambda name: name.replace("/mnt/show", str(tmp_path)))
    read = nuke.nodes.Read(file="/mnt/show/plates/shot.%04d.exr", first=1001, last=1005, origfirst=1001,
                           origlast=1005)
    group = fd.create_node(read)
    worker = fd.render(group)
    finish(fd, group)
    assert args_of(worker)[-1] == str(plates / "shot.%04d.exr")
    assert group["status"].value().startswith("Done: 5 frames")
