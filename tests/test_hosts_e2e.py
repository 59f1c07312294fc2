"""End to end with the REAL engine: each host adapter (against its fake host module) and the panel run
``python -m flashdepth_vfx render`` as a subprocess through the bridge on real EXR plates with a tiny checkpoint.
What the node loads must be the files, and the files must hold what a direct library render of the same
plates gives (same output mode) within 1e-5.

The host fixtures and helpers come from the adapters' own tests (tests/test_host_*.py). ``host`` from
test_host_resolve is autouse, so every test here runs with it: it puts the fake ``DaVinciResolveScript`` in
place and records each job a host node renders (its list is the fixture's value).
"""
from __future__ import annotations

import json
import os
import runpy
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, List, Sequence

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QLineEdit
from pytestqt.qtbot import QtBot

from engine_helpers import PIXEL_ASPECT, PLATE_SIZE, read_channel, write_plates, write_tiny_checkpoint
from flashdepth_vfx.bridge import RenderJob, RenderProcess, RenderResult
from flashdepth_vfx.engine import QuietEvents, Render, RenderSettings
from flashdepth_vfx.engine.preview import write_preview
from flashdepth_vfx.engine.settings import OutputMode
from flashdepth_vfx.plates import probe
from flashdepth_vfx.hosts.common import MODES
from flashdepth_vfx.ui.panel import DepthPanel
from test_host_houdini import hou, plate_cop  # noqa: F401  (hou: fixture)
from test_host_nuke import finish, nuke, read, wait_for  # noqa: F401  (nuke, read: fixtures)
from test_host_resolve import (  # noqa: F401  (host: autouse fixture)
    ROOT,
    TIMELINE_SCRIPT,
    comp_with_plate,
    host,
    resolve_with_clip,
    run_comp_script,
)

# The engine of this tree, run by this Python (the bridge drops PYTHONPATH from the engine's environment).
REAL_ENGINE = [sys.executable, "-c", f"import runpy, sys; sys.path.insert(0, {str(ROOT)!r}); "
               "runpy.run_module('flashdepth_vfx', run_name='__main__')"]
FRAMES = range(1001, 1004)
DEPTH_CHANNEL = "depth.Z"
RENDER_TIMEOUT_MS = 60_000
# Set to a .png path to keep a copy of the panel screenshot taken after the real render (e.g. for review).
SCREENSHOT_COPY_ENV = "FLASHDEPTH_PANEL_E2E_SCREENSHOT"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic flashdepth-tiny checkpoint, shared by the module's tests."""
    return write_tiny_checkpoint(tmp_path_factory.mktemp("checkpoint") / "tiny.safetensors")


@pytest.fixture
def plates(tmp_path: Path) -> str:
    """tmp/plates/shot.####.exr, frames FRAMES: where the host fixtures' Read / File COP / Loader / clip look."""
    return write_plates(tmp_path / "plates", FRAMES)


def use_real_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the bridge at the real engine (the host fixtures point $FLASHDEPTH_VFX_BIN at the fake one)."""
    monkeypatch.setenv("FLASHDEPTH_VFX_BIN", shlex.join(REAL_ENGINE))


def assert_library_depth(files: Sequence[Path], plate: str, checkpoint: Path, mode: OutputMode,
                         tmp_path: Path, channel: str = DEPTH_CHANNEL) -> None:
    """``files`` (one per frame of FRAMES) hold in ``channel`` the depth that a direct library render of ``plate``
    gives."""
    output = str(tmp_path / "library" / "ref.####.exr")
    settings = RenderSettings(plate=plate, checkpoint=str(checkpoint), output=output, mode=mode)
    reference = Render(settings, QuietEvents()).run()
    for got, expected in zip(files, reference.written, strict=True):
        depth = read_channel(got, channel)
        assert depth.shape == PLATE_SIZE and np.isfinite(depth).all() and np.ptp(depth) > 0, got
        np.testing.assert_allclose(depth, read_channel(expected, DEPTH_CHANNEL), rtol=1e-5, atol=1e-5, err_msg=str(got))


def test_nuke_node_loads_the_real_engines_depth(nuke: ModuleType, read: Any, plates: str, checkpoint: Path,
                                                 tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_real_engine(monkeypatch)
    import flashdepth_nuke.node as fd  # the nuke fixture put the plugin folder on sys.path

    read["last"].setValue(FRAMES[-1])
    read["origlast"].setValue(FRAMES[-1])
    group = fd.create_node(read)
    group["checkpoint"].setValue(str(checkpoint))
    group["render"].execute()
    finish(fd, group, timeout=RENDER_TIMEOUT_MS / 1000)

    out = Path(fd.read_source(group).settings.version().pattern)
    assert out.parent.parent == tmp_path / "comp" / "flashdepth" / "FlashDepth1"
    assert group["status"].value() == f"Done: {len(FRAMES)} frames in {out}"
    depth_read = group.node("DepthRead")
    assert depth_read["file"].value() == str(out)
    assert (depth_read["first"].value(), depth_read["last"].value()) == (FRAMES[0], FRAMES[-1])
    assert group.node("AddDepth")["disable"].value() is False
    assert nuke.progress_tasks[0].progress[-1] == 100
    assert_library_depth([Path(str(out) % f) for f in FRAMES], plates, checkpoint, group["mode"].value(), tmp_path)


def _nuke_plate_at_1001(nuke: ModuleType, tmp_path: Path, count: int) -> Any:
    """A Read of a plate numbered 1..count, set to start at 1001 (the way shots are usually conformed)."""
    pattern = write_plates(tmp_path / "plates_1", range(1, count + 1))
    return nuke.nodes.Read(file=pattern, first=1, last=count, origfirst=1, origlast=count,
                           frame_mode="start at", frame="1001", colorspace="ACES - ACEScg")


def _depth_files(pattern: str) -> dict:
    """frame -> (mtime_ns, size) of the depth files of a printf pattern."""
    folder = Path(pattern).parent
    prefix = Path(pattern).name.split("%")[0]
    return {int(p.name[len(prefix):].split(".")[0]): (p.stat().st_mtime_ns, p.stat().st_size)
            for p in folder.glob(prefix + "*.exr")}


def test_nuke_plate_starting_at_1001_gets_aligned_depth_and_a_rerender_is_versioned(
        nuke: ModuleType, checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_real_engine(monkeypatch)
    import flashdepth_nuke.node as fd

    fd.register_callbacks()  # as the plugin's menu.py does
    read = _nuke_plate_at_1001(nuke, tmp_path, 12)
    group = fd.create_node(read)
    group["checkpoint"].setValue(str(checkpoint))
    assert fd.read_source(group).settings.frames == "1-12"  # the Read's script range 1001-1012, as file frames
    fd.render(group)
    finish(fd, group, timeout=RENDER_TIMEOUT_MS / 1000)
    assert group["status"].value().startswith("Done: 12 frames"), group["status"].value()
    first = fd.read_source(group).settings.version()
    depth_read = group.node("DepthRead")
    assert depth_read["file"].value() == first.pattern
    for script_frame in range(1001, 1013):  # depth frame for frame with the plate
        assert depth_read.metadata("input/frame", script_frame) == read.metadata("input/frame", script_frame) \
            == script_frame - 1000
    assert sorted(_depth_files(first.pattern)) == list(range(1, 13))
    assert_library_depth([Path(first.frame_file(f)) for f in range(1, 13)], read["file"].getEvaluatedValue(),
                         checkpoint, "depth", tmp_path)
    kept = _depth_files(first.pattern)

    group["mode"].setValue("disparity")  # other settings: a new version, the first one stays shown meanwhile
    nuke.knob_changed(group, "mode")
    assert group["status"].value().startswith("Stale") and depth_read["file"].value() == first.pattern
    fd.render(group)
    assert depth_read["file"].value() == first.pattern
    finish(fd, group, timeout=RENDER_TIMEOUT_MS / 1000)
    second = fd.read_source(group).settings.version()
    assert second != first and depth_read["file"].value() == second.pattern  # complete: the loader switched
    assert _depth_files(first.pattern) == kept  # the first version untouched
    assert sorted(_depth_files(second.pattern)) == list(range(1, 13))


def test_nuke_cancel_then_finish_resumes_without_rendering_finished_frames_again(
        nuke: ModuleType, checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_real_engine(monkeypatch)
    import flashdepth_nuke.node as fd

    fd.register_callbacks()  # as the plugin's menu.py does
    read = _nuke_plate_at_1001(nuke, tmp_path, 40)
    group = fd.create_node(read)
    group["checkpoint"].setValue(str(checkpoint))
    worker = fd.render(group)
    deadline = 5 * RENDER_TIMEOUT_MS / 1000  # two engine starts and 40 frames, on a busy machine
    wait_for(lambda: worker.engine is not None and (worker.engine.progress()[0] or 0) > 0, timeout=deadline)
    fd.cancel(group)
    finish(fd, group, timeout=deadline)
    version = fd.read_source(group).settings.version()
    kept = _depth_files(version.pattern)
    assert group["status"].value().startswith("Cancelled: "), group["status"].value()
    assert 1 <= len(kept) < 40 and "press Finish" in group["status"].value()

    worker = fd.finish(group)
    finish(fd, group, timeout=deadline)
    assert "--resume" in worker.engine.job.to_args()
    done = _depth_files(version.pattern)
    assert sorted(done) == list(range(1, 41)) and group["status"].value().startswith("Done: ")
    assert {f: done[f] for f in kept} == kept  # the finished frames were not rendered again
    assert len(worker.result.written) == 40 - len(kept)
    assert nuke.autolabel(group).splitlines()[1] == "depth: current"


def test_engine_reads_a_plate_named_like_an_option_as_a_plate(tmp_path: Path) -> None:
    plate = "--help"  # before `--` ended the options: the render command's help, "ok" with 0 frames
    result = RenderProcess(RenderJob(plate=plate, output=str(tmp_path / "d.%04d.exr")), engine=REAL_ENGINE).run()
    assert not result.ok and result.error == f"Plate not found: {plate}", result.error


def test_houdini_node_loads_the_real_engines_depth(hou: ModuleType, plates: str, checkpoint: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    use_real_engine(monkeypatch)
    import flashdepth_houdini.node as fd  # the hou fixture put python3.11libs on sys.path

    network, plate = plate_cop(hou, tmp_path)  # reads $HIP/../plates/shot.$F4.exr
    plate.parm("colorspace").set("auto")  # the plates carry their colour space in the file
    plate.frame_range = (float(FRAMES[0]), float(FRAMES[-1]))
    node = fd.create_node(network, plate)
    node.parm("fd_checkpoint").set(str(checkpoint))
    node.parm("fd_mode").set("disparity")
    node.parm("fd_render").press()  # Houdini idles while the engine renders
    hou.run_event_loop(until=lambda: fd.running(node) is None, timeout=RENDER_TIMEOUT_MS / 1000)

    version = fd.read_settings(node).settings.version()
    out = Path(version.folder) / "shot_depth.$F4.exr"
    assert node.parm("fd_status").evalAsString().startswith(f"Done: {len(FRAMES)} frames in ")
    assert node.node("depth").parm("filename1").evalAsString() == str(out)
    files = [Path(str(out).replace("$F4", f"{f:04d}")) for f in FRAMES]
    assert_library_depth(files, plates, checkpoint, "disparity", tmp_path)
    for file in files:  # issue 19 item 4: no second copy of the plate (the node adds the depth to its input)
        assert probe(file).channels == (DEPTH_CHANNEL,), file
    hou.setFrame(FRAMES[1])
    planes = node.plane_files()
    plate_file = Path(plates.replace("####", f"{FRAMES[1]:04d}"))
    assert list(planes) == ["C", "A", "depth"] and planes["depth"] == str(files[1])
    assert Path(planes["C"]).resolve() == Path(planes["A"]).resolve() == plate_file.resolve()


def test_fusion_comp_script_adds_a_loader_for_the_real_engines_depth(
        host: List[RenderJob], plates: str, checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    use_real_engine(monkeypatch)
    comp = comp_with_plate(tmp_path)  # a Loader on tmp/plates/shot.1001.exr
    comp.answers = {"checkpoint": str(checkpoint), "mode": float(MODES.index("normalized"))}
    run_comp_script(comp)

    assert capsys.readouterr().out.splitlines()[-1].startswith(f"FlashDepth: Done: {len(FRAMES)} frames in ")
    [job] = host
    assert (job.checkpoint, job.mode) == (str(checkpoint), "normalized")
    out_dir = Path(job.output).parent  # the version folder beside the plates
    assert out_dir.parent == tmp_path / "plates" / "flashdepth" / "Plate"
    depth = comp.tools[-1]
    assert (depth.GetAttrs()["TOOLS_RegID"], depth.GetAttrs()["TOOLS_Name"]) == ("Loader", "Plate_depth")
    assert depth.GetInput("Clip") == str(out_dir / f"shot_depth.{FRAMES[0]}.exr")
    files = [out_dir / f"shot_depth.{f}.exr" for f in FRAMES]
    assert_library_depth(files, plates, checkpoint, "normalized", tmp_path, channel="Z")  # Fusion's depth channel


def test_resolve_timeline_script_attaches_the_real_engines_depth(
        host: List[RenderJob], plates: str, checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    use_real_engine(monkeypatch)
    monkeypatch.syspath_prepend(str(ROOT / "resolve"))
    from flashdepth_resolve.timeline import CHECKPOINT_ENV

    monkeypatch.setenv(CHECKPOINT_ENV, str(checkpoint))  # the timeline script has no settings dialog
    project = resolve_with_clip(tmp_path, str(tmp_path / "plates" / f"shot.[{FRAMES[0]}-{FRAMES[-1]}].exr"))
    runpy.run_path(str(TIMELINE_SCRIPT))

    assert capsys.readouterr().out.splitlines()[-1].startswith(f"FlashDepth: Done: {len(FRAMES)} frames in ")
    [job] = host
    out = Path(job.output)
    assert out.parent.parent == tmp_path / "plates" / "flashdepth" / "shot"
    assert project.timeline.item.media.mattes == [str(out) % FRAMES[0]]  # attached to the clip as its matte
    assert (job.checkpoint, job.mode) == (str(checkpoint), "normalized")  # a 0-1 matte for Resolve
    assert_library_depth([Path(str(out) % f) for f in FRAMES], plates, checkpoint, "normalized", tmp_path,
                         channel="Y")


@pytest.fixture
def panel(qtbot: QtBot) -> DepthPanel:
    """The panel on screen (offscreen), driving the real engine through its explicit engine setting."""
    widget = DepthPanel(engine=REAL_ENGINE)
    qtbot.addWidget(widget)
    widget.resize(1100, 720)
    widget.show()
    return widget


def type_into(qtbot: QtBot, field: QLineEdit, text: str) -> None:
    """Replace a field's text by typing, as an artist would."""
    field.clear()
    qtbot.keyClicks(field, text)


def test_panel_renders_previews_and_cancels_with_the_real_engine(qtbot: QtBot, panel: DepthPanel, plates: str,
                                                                 checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "depth"
    type_into(qtbot, panel.plate_edit, plates)
    type_into(qtbot, panel.output_edit, str(out / "shot_depth.####.exr"))
    type_into(qtbot, panel.checkpoint_edit, str(checkpoint))
    panel.colorspace_combo.setCurrentText("ACEScg")
    panel.mode_combo.setCurrentIndex(panel.mode_combo.findData("disparity"))
    panel.device_combo.setCurrentIndex(panel.device_combo.findData("cpu"))
    progress: List[int] = []
    panel.progress_bar.valueChanged.connect(progress.append)

    with qtbot.waitSignal(panel.render_finished, timeout=RENDER_TIMEOUT_MS) as finished:
        qtbot.mouseClick(panel.render_button, Qt.MouseButton.LeftButton)
    result: RenderResult = finished.args[0]
    assert result.ok, result.error
    assert progress == [round(100 * i / len(FRAMES)) for i in range(1, len(FRAMES) + 1)]
    assert panel.status_label.text() == f"Done: {len(FRAMES)} frames written to {out / 'shot_depth.%04d.exr'}"
    files = [out / f"shot_depth.{f}.exr" for f in FRAMES]
    assert result.written == [str(p) for p in files]
    assert_library_depth(files, plates, checkpoint, "disparity", tmp_path)

    # The first frame's preview comes up by itself, made by the engine's `preview` command.
    qtbot.waitUntil(lambda: panel.preview_label.source_pixmap() is not None, timeout=RENDER_TIMEOUT_MS)
    assert panel.preview_caption.text() == f"frame {FRAMES[0]}: plate | depth"
    library_png = write_preview(plates.replace("####", str(FRAMES[0])), files[0], tmp_path / "library_preview.png",
                                colorspace="ACEScg")
    expected = QPixmap(str(library_png))
    image = panel.preview_label.source_pixmap()
    assert image is not None and image.size() == expected.size() and image.toImage() == expected.toImage()
    height, width = PLATE_SIZE
    assert image.width() == 2 * round(width * PIXEL_ASPECT * image.height() / height)  # plate | depth, unsqueezed
    shown = panel.preview_label.pixmap()
    assert 0 < shown.width() <= panel.preview_label.width() and shown.height() <= panel.preview_label.height()

    shot = tmp_path / "panel_e2e.png"
    assert panel.grab().save(str(shot))
    copy = os.environ.get(SCREENSHOT_COPY_ENV)
    if copy:
        shutil.copyfile(shot, copy)

    # A longer render, cancelled once its first frame is written: the finished frames stay, complete.
    long_out = tmp_path / "long_depth"
    type_into(qtbot, panel.plate_edit, write_plates(tmp_path / "long", range(1001, 1041)))
    type_into(qtbot, panel.output_edit, str(long_out / "shot_depth.####.exr"))
    qtbot.mouseClick(panel.render_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.progress_bar.value() > 0, timeout=RENDER_TIMEOUT_MS)
    with qtbot.waitSignal(panel.render_finished, timeout=RENDER_TIMEOUT_MS) as finished:
        qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
        assert panel.status_label.text().startswith("Cancelling")
    result = finished.args[0]

    kept = sorted(long_out.glob("shot_depth.*.exr"))
    assert result.cancelled and 1 <= len(kept) < 40
    assert [str(p) for p in kept] == result.written
    assert not list(long_out.glob(".*.tmp-*")), "a cancelled frame must not leave a temporary file"
    for path in kept:
        depth = read_channel(path, DEPTH_CHANNEL)
        assert depth.shape == PLATE_SIZE and np.isfinite(depth).all(), path
    same_frames = [p for p in kept if (out / p.name).is_file()]  # the long plates start with the same pictures
    for path in same_frames:
        np.testing.assert_allclose(read_channel(path, DEPTH_CHANNEL), read_channel(out / path.name, DEPTH_CHANNEL),
                                   rtol=1e-5, atol=1e-5)
    assert panel.status_label.text() == f"Cancelled: {len(kept)} finished frames kept"
    assert panel.progress_bar.value() < 100 and panel.render_button.isEnabled()


def test_nuke_send_to_farm_writes_the_job_for_the_plates_file_frames(nuke: ModuleType, tmp_path: Path,
                                                                      checkpoint: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml  # type: ignore[import-untyped]

    use_real_engine(monkeypatch)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no Deadline client here: the bundle is written, not submitted
    import flashdepth_nuke.node as fd

    read = _nuke_plate_at_1001(nuke, tmp_path, 6)
    group = fd.create_node(read)
    group["checkpoint"].setValue(str(checkpoint))
    group["frames"].setValue("1002-1004")  # script frames: the plate's files 2-4
    thread = fd.send_to_farm(group)
    assert thread is not None
    wait_for(lambda: not thread.is_alive() and group["status"].value().startswith("Farm job written"), timeout=120)
    settings = fd.read_source(group).settings
    template = Path(settings.output_dir) / "farm" / settings.key() / "template.yaml"
    job = yaml.safe_load(template.read_text())
    args = job["steps"][0]["script"]["actions"]["onRun"]["args"]
    assert args[args.index("--frames") + 1] == "2-4"
    assert args[args.index("--output") + 1] == "{{Param.OutputDir}}/shot_depth.%04d.exr"
    output_dir = next(p for p in job["parameterDefinitions"] if p["name"] == "OutputDir")
    assert output_dir["type"] == "PATH" and "default" not in output_dir  # outside the bundle: valued beside it
    values = json.loads((template.parent / "parameter_values.json").read_text())["parameterValues"]
    output_value = next(v["value"] for v in values if v["name"] == "OutputDir")
    assert Path(output_value).resolve() == Path(settings.version().pattern).parent.resolve()
    status = group["status"].value()
    assert status.startswith(f"Farm job written to {template.parent}: submit it with `deadline bundle submit "
                             f"{template.parent}` or run it here with `openjd run {template} -p ")
    assert f"-p OutputDir={output_value}" in status


def test_nuke_send_to_farm_refuses_a_node_tree(nuke: ModuleType, read: Any) -> None:
    import flashdepth_nuke.node as fd

    blur = nuke.nodes.Blur(size=4)
    blur.setInput(0, read)
    group = fd.create_node(blur)
    assert fd.send_to_farm(group) is None
    assert group["status"].value().startswith("Error: Send to farm needs a Read input")


def test_houdini_send_to_farm_writes_the_job_with_the_nodes_settings(hou: ModuleType, plates: str, checkpoint: Path,
                                                                      tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml  # type: ignore[import-untyped]

    use_real_engine(monkeypatch)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no Deadline client: the bundle is written, not submitted
    import flashdepth_houdini.node as fd

    network, plate = plate_cop(hou, tmp_path)
    plate.parm("colorspace").set("auto")
    plate.frame_range = (float(FRAMES[0]), float(FRAMES[-1]))
    node = fd.create_node(network, plate)
    node.parm("fd_checkpoint").set(str(checkpoint))
    node.parm("fd_frames").set(f"{FRAMES[1]}-{FRAMES[-1]}")
    thread = fd.send_to_farm(node)
    assert thread is not None  # graphical Houdini: the UI thread is free while the engine writes the job
    hou.run_event_loop(until=lambda: not thread.is_alive() and
                       node.userData("flashdepth_last").startswith("Farm job written"), timeout=120)
    settings = fd.read_settings(node).settings
    template = Path(settings.output_dir) / "farm" / settings.key() / "template.yaml"
    job = yaml.safe_load(template.read_text())
    args = job["steps"][0]["script"]["actions"]["onRun"]["args"]
    assert args[args.index("--frames") + 1] == f"{FRAMES[1]}-{FRAMES[-1]}"
    params = {p["name"]: p.get("default") for p in job["parameterDefinitions"]}
    assert "--passthrough" not in args and params["Channel"] == DEPTH_CHANNEL  # the files the node's loaders expect


def _nuke_matchmove_node(nuke: ModuleType, fd: Any, checkpoint: Path, tmp_path: Path) -> tuple[Any, Any]:
    """A procedural shot (exact camera) conformed to start at 1001, its camera keyed on a Nuke Camera connected to
    a new node, its tracked points given, P (world) and N (camera) asked: (the node, the generator's sequence)."""
    from flashdepth_vfx.data import SceneConfig, render_sequence, write_plate_sequence
    from flashdepth_vfx.data.matchmove import filmback, track_points, write_points_obj
    from flashdepth_vfx.solve.cameras import GL_TO_CV, euler_angles

    seq = render_sequence(SceneConfig(height=63, width=112, num_frames=3, seed=1_000_007, camera_motion="truck"))
    pattern = write_plate_sequence(seq, tmp_path / "plates_cam", "shot", first_frame=1)
    read = nuke.nodes.Read(file=pattern, first=1, last=3, origfirst=1, origlast=3, frame_mode="start at",
                           frame="1001")
    camera = nuke.nodes.Camera2(name="Matchmove")
    h_ap, v_ap = filmback(seq)
    camera["haperture"].setValue(h_ap)
    camera["vaperture"].setValue(v_ap)
    camera["focal"].setValue(float(seq.intrinsics[0, 0] / seq.config.width * h_ap))
    for index, pose in enumerate(seq.poses):
        gl = pose @ GL_TO_CV
        for axis, (t, r) in enumerate(zip(gl[:3, 3], euler_angles(gl[:3, :3]))):
            camera["translate"].setValueAt(float(t), 1001 + index, axis)
            camera["rotate"].setValueAt(float(r), 1001 + index, axis)
    group = fd.create_node(read)
    group.setInput(1, camera)
    group["checkpoint"].setValue(str(checkpoint))
    group["scene_points"].setValue(str(write_points_obj(track_points(seq, 120, seed=2).positions,
                                                        tmp_path / "tracks.obj")))
    group["position_pass"].setValue("world")
    group["normal_pass"].setValue("camera")
    return group, seq


def _assert_solved_where_the_true_camera_sees(files: Sequence[Path], seq: Any) -> None:
    """depth.Z, P (world) and N (camera) of each file: P is where the TRUE camera sees the solved depth (so the
    camera reached the solve at the right frames and axes), N has unit length."""
    from flashdepth_vfx.solve.passes import pixel_rays

    for index, path in enumerate(files):
        depth = read_channel(path, DEPTH_CHANNEL)
        position = np.stack([read_channel(path, f"P.{c}") for c in "RGB"], axis=-1)
        normal = np.stack([read_channel(path, f"N.{c}") for c in "RGB"], axis=-1)
        solid = depth < 1000.0  # not sky
        assert solid.mean() > 0.5 and np.all(depth[solid] > 0)
        world_to_camera = np.linalg.inv(seq.poses[index])  # the true camera (OpenCV axes)
        in_camera = position[solid] @ world_to_camera[:3, :3].T + world_to_camera[:3, 3]
        seen = pixel_rays(seq.intrinsics, *depth.shape)[solid] * depth[solid][:, None]  # where that depth lies
        np.testing.assert_allclose(in_camera, seen, rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(np.linalg.norm(normal[solid], axis=-1), 1.0, atol=1e-3)


def test_nuke_camera_input_gets_solved_depth_with_position_and_normals(
        nuke: ModuleType, checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The node's Camera input and points reach the real engine's shot solve."""
    use_real_engine(monkeypatch)
    import flashdepth_nuke.node as fd

    group, seq = _nuke_matchmove_node(nuke, fd, checkpoint, tmp_path)
    fd.render(group)
    finish(fd, group, timeout=RENDER_TIMEOUT_MS / 1000)
    assert group["status"].value().startswith("Done: 3 frames"), group["status"].value()

    version = fd.read_source(group).settings.version()
    assert group.node("DepthRead")["file"].value() == version.pattern
    assert not group.node("AddPosition")["disable"].value() and not group.node("AddNormals")["disable"].value()
    # file frames 1-3 of script frames 1001-1003
    _assert_solved_where_the_true_camera_sees([Path(version.frame_file(f)) for f in (1, 2, 3)], seq)


def test_nuke_send_to_farm_carries_the_camera_and_the_solve(
        nuke: ModuleType, checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Send to farm on a node with a Camera: the bundle holds the exported camera (a PATH parameter relative to the
    template, so the bundle carries it) and a solve step; run with openjd, the job writes into the node's version
    the solved depth, P and N where the true camera sees them, and the raw disparity beside them."""
    import yaml  # type: ignore[import-untyped]

    use_real_engine(monkeypatch)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no Deadline client: the bundle is written, not submitted
    import flashdepth_nuke.node as fd

    group, seq = _nuke_matchmove_node(nuke, fd, checkpoint, tmp_path)
    thread = fd.send_to_farm(group)
    assert thread is not None
    wait_for(lambda: not thread.is_alive() and group["status"].value().startswith("Farm job written"), timeout=120)
    source = fd.read_source(group)
    template = Path(source.settings.output_dir) / "farm" / source.settings.key() / "template.yaml"
    job = yaml.safe_load(template.read_text())
    params = {p["name"]: p for p in job["parameterDefinitions"]}
    assert params["Camera"]["type"] == "PATH" and params["Camera"]["default"] == Path(source.solve.camera_file).name
    assert (template.parent / params["Camera"]["default"]).read_text() == source.solve.camera_text
    solve = job["steps"][-1]["script"]["actions"]["onRun"]["args"]
    assert solve[3] == "solve" and solve[solve.index("--camera") + 1] == "{{Param.Camera}}"
    assert solve[solve.index("--position") + 1] == "world" and solve[solve.index("--normals") + 1] == "camera"

    values = json.loads((template.parent / "parameter_values.json").read_text())["parameterValues"]
    given = {v["name"]: v["value"] for v in values}  # the paths outside the bundle, as Deadline Cloud submits them
    assert set(given) == {"PlateDir", "OutputDir", "Checkpoint", "Points"}
    ran = subprocess.run([str(Path(sys.executable).with_name("openjd")), "run", str(template), "--job-param",
                          json.dumps({**given, "EngineCommand": shlex.join(REAL_ENGINE)})],
                         capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr
    version = source.settings.version()
    _assert_solved_where_the_true_camera_sees([Path(version.frame_file(f)) for f in (1, 2, 3)], seq)
    raw = sorted(p.name for p in Path(version.pattern).parent.glob("*_raw.*.exr"))
    assert raw == [Path(version.frame_file(f)).name.replace("_depth.", "_depth_raw.") for f in (1, 2, 3)]


def test_houdini_send_to_farm_carries_the_camera_through_the_solve(
        hou: ModuleType, plates: str, checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Houdini node writes no copy of the plate (it adds the depth to its input): with a camera neither the
    render nor the solve carries one, and the bundle holds the exported camera."""
    import yaml  # type: ignore[import-untyped]

    from test_host_camera_houdini import _houdini_camera

    use_real_engine(monkeypatch)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    import flashdepth_houdini.node as fd

    network, plate = plate_cop(hou, tmp_path)
    plate.frame_range = (float(FRAMES[0]), float(FRAMES[-1]))
    node = fd.create_node(network, plate)
    node.parm("fd_checkpoint").set(str(checkpoint))
    node.parm("fd_camera").set(_houdini_camera(hou).path())
    points = tmp_path / "track.csv"
    points.write_text("x,y,z\n0,0,-5\n1,0.5,-7\n-1,-0.5,-6\n")
    node.parm("fd_points").set(str(points))
    thread = fd.send_to_farm(node)
    assert thread is not None
    hou.run_event_loop(until=lambda: not thread.is_alive() and
                       node.userData("flashdepth_last").startswith(("Farm job written", "Error")), timeout=120)
    assert node.userData("flashdepth_last").startswith("Farm job written"), node.userData("flashdepth_last")
    settings = fd.read_settings(node).settings
    template = Path(settings.output_dir) / "farm" / settings.key() / "template.yaml"
    job = yaml.safe_load(template.read_text())
    render, solve = (step["script"]["actions"]["onRun"]["args"] for step in job["steps"])
    assert "--passthrough" not in render and "--passthrough" not in solve and solve[3] == "solve"
    camera = next(p for p in job["parameterDefinitions"] if p["name"] == "Camera")
    assert (template.parent / camera["default"]).is_file()


def test_nuke_preview_frame_with_half_floats_then_the_shot_with_the_real_engine(
        nuke: ModuleType, read: Any, plates: str, checkpoint: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    use_real_engine(monkeypatch)
    import flashdepth_nuke.node as fd

    read["last"].setValue(FRAMES[-1])
    read["origlast"].setValue(FRAMES[-1])
    group = fd.create_node(read)
    group["checkpoint"].setValue(str(checkpoint))
    group["data_type"].setValue("half")
    nuke.frame(1002)
    group["preview"].execute()
    finish(fd, group, timeout=RENDER_TIMEOUT_MS / 1000)
    preview = Path(fd.read_source(group).settings.preview().pattern)
    assert group.node("DepthRead")["file"].value() == str(preview)
    assert [p.name for p in preview.parent.glob("*.exr")] == ["shot_depth.1002.exr"], group["status"].value()
    depth = read_channel(Path(str(preview) % 1002), DEPTH_CHANNEL)
    assert depth.shape == PLATE_SIZE and np.isfinite(depth).all()
    assert probe(str(preview) % 1002).pixel_type == "half"  # the data type reached the engine

    group["render"].execute()
    finish(fd, group, timeout=RENDER_TIMEOUT_MS / 1000)
    assert group["status"].value().startswith(f"Done: {len(FRAMES)} frames")
    assert not preview.parent.parent.exists()  # the shot is rendered: the preview's frame and snapshot are gone
