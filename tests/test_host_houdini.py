"""The Houdini package (houdini/) against tests/fakes/hou.py, rendering with the fake engine
(tests/fake_engine.py) as a real subprocess, in the background from Houdini's (fake) idle event loop."""
from __future__ import annotations

import importlib
import json
import runpy
import shlex
import sys
import time
import types
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from types import ModuleType
from typing import Any, Dict, List, Tuple

import numpy as np
import pytest

import fake_engine
from depth_files import age, write_engine_frames
from fakes import hdefereval as fake_hdefereval
from fakes import hou as fake_hou
from flashdepth_vfx.errors import FlashDepthError
from flashdepth_vfx.hosts.common import MODELS, STATE_COLOURS, DepthState, DepthVersion
from flashdepth_vfx.plates.image_io import write_exr

ROOT = Path(__file__).resolve().parent.parent
HOUDINI = ROOT / "houdini"
PYTHON_LIBS = HOUDINI / "python3.11libs"
FAKE_ENGINE = f"{shlex.quote(sys.executable)} {shlex.quote(str(Path(fake_engine.__file__).resolve()))}"
SHELF = ElementTree.parse(HOUDINI / "toolbar" / "flashdepth.shelf").getroot()
SHELF_SCRIPT = SHELF.find("tool[@name='flashdepth_create']/script").text  # type: ignore[union-attr]


@pytest.fixture
def hou(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> ModuleType:
    """The fake ``hou`` module with a scene saved as tmp/fx/shot.hip."""
    fake_hou.reset()
    fake_hdefereval.reset()
    fake_hou.hipFile.file_path = str(tmp_path / "fx" / "shot.hip")
    (tmp_path / "fx").mkdir()
    monkeypatch.setitem(sys.modules, "hou", fake_hou)
    monkeypatch.setitem(sys.modules, "hdefereval", fake_hdefereval)
    monkeypatch.syspath_prepend(str(PYTHON_LIBS))
    for name in [m for m in sys.modules if m.startswith("flashdepth_houdini")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setenv("FLASHDEPTH_VFX_BIN", FAKE_ENGINE)
    monkeypatch.delenv("FAKE_ENGINE_MODE", raising=False)
    monkeypatch.delenv("OCIO", raising=False)
    return fake_hou


@pytest.fixture
def fd(hou: ModuleType) -> Any:
    import flashdepth_houdini.node

    return flashdepth_houdini.node


def plate_cop(hou: ModuleType, tmp_path: Path, network_type: str = "cop2net") -> Tuple[Any, Any]:
    """A COP network with a File COP reading $HIP/../plates/shot.$F4.exr (frames 1001-1005; stand-in files
    unless the test wrote real ones), in OCIO mode."""
    plates = tmp_path / "plates"
    plates.mkdir(exist_ok=True)
    if not list(plates.glob("shot.*.exr")):
        for frame in range(1001, 1006):
            (plates / f"shot.{frame}.exr").write_text("plate")
    network = hou.node("/img").createNode(network_type, "comp")
    plate = network.createNode("file", "plate")
    if network_type == "cop2net":
        plate.parm("filename1").set("$HIP/../plates/shot.$F4.exr")
        plate.parm("colorspace").set("ocio")  # entry 3: OpenColorIO
        plate.parm("ocio_space").set("ACES - ACEScg")
        plate.frame_range = (1001.0, 1005.0)
    else:
        plate.parm("filename").set("$HIP/../plates/shot.$F4.exr")
    return network, plate


def status(node: Any) -> str:
    return str(node.parm("fd_status").evalAsString())


def wait(fd: Any, hou: ModuleType, node: Any) -> None:
    """Let Houdini idle until the node's render is over and its results are shown."""
    hou.run_event_loop(until=lambda: fd.running(node) is None)


def render(fd: Any, hou: ModuleType, node: Any, resume: bool = False) -> Any:
    """Start a render (as the button does) and let Houdini idle until it is over; the render object."""
    task = fd.render(node, resume=resume)
    wait(fd, hou, node)
    return task


def colour(state: DepthState) -> Any:
    rgba = STATE_COLOURS[state]
    return fake_hou.Color(((rgba >> 24 & 255) / 255, (rgba >> 16 & 255) / 255, (rgba >> 8 & 255) / 255))


def version_dir(node: Any) -> Path:
    version = DepthVersion.from_json(node.userData("flashdepth_shown"))
    assert version is not None
    return Path(version.folder)


def test_node_is_a_subnet_with_spare_parms_defaults_and_a_file_cop(fd: Any, hou: ModuleType, tmp_path: Path) -> None:
    network, plate = plate_cop(hou, tmp_path)
    node = fd.create_node(network, plate)
    assert node.type().name() == "subnet" and node.path() == "/img/comp/flashdepth1" and node.input(0) is plate
    assert [t.name() for t in node.parmTemplateGroup().entries()] == [
        "fd_plate", "fd_checkpoint", "fd_model", "fd_colorspace", "fd_mode", "fd_frames", "fd_device",
        "fd_precision", "fd_max_size", "fd_data_type", "fd_compression", "fd_output", "fd_camera", "fd_points",
        "fd_position", "fd_normals", "fd_render", "fd_preview", "fd_finish", "fd_cancel", "fd_farm", "fd_status",
        "fd_version", "fd_prune"]
    entries = {t.name(): t for t in node.parmTemplateGroup().entries()}
    assert isinstance(entries["fd_model"], hou.MenuParmTemplate) and entries["fd_model"].menuItems() == MODELS
    assert isinstance(entries["fd_render"], hou.ButtonParmTemplate) and entries["fd_render"].label() == "Render depth"
    assert entries["fd_render"].scriptCallbackLanguage() is hou.scriptLanguage.Python
    assert entries["fd_output"].options["file_type"] is hou.fileType.Directory
    assert node.parm("fd_colorspace").evalAsString() == "ACES - ACEScg"
    assert node.parm("fd_frames").evalAsString() == "1001-1005"
    assert [node.parm(p).evalAsString() for p in ("fd_mode", "fd_device", "fd_precision", "fd_plate")] == [
        "depth", "auto", "default", ""]
    depth, merge = node.node("depth"), node.node("with_depth")
    assert depth.type().name() == "file" and not (depth.display or depth.render)
    assert merge.type().name() == "merge" and merge.display and merge.render  # the subnet's output
    assert status(node) == "Not rendered yet: press Render depth"
    assert node.userData("flashdepth") == "1"
    with pytest.raises(FlashDepthError, match="/obj is not a COP network"):
        fd.create_node(hou.node("/obj"))


def test_hip_stores_only_calls_into_the_module(fd: Any, hou: ModuleType, tmp_path: Path) -> None:
    """Callbacks and the status expression import flashdepth_houdini and call it: an updated install reaches
    saved nodes. Without the plugin they say so in one line."""
    network, plate = plate_cop(hou, tmp_path)
    node = fd.create_node(network, plate)
    stored = [t.scriptCallback() for t in node.parmTemplateGroup().entries()] + [node.parm("fd_status").expression()]
    code = "\n".join(stored)
    assert "def " not in code and "subprocess" not in code and "from flashdepth_houdini import node as fd" in code

    real_import = __import__

    def no_plugin(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("flashdepth_houdini"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    import builtins

    builtins_import = builtins.__import__
    builtins.__import__ = no_plugin
    try:
        assert status(node) == fd.NOT_INSTALLED
        node.parm("fd_render").press()
    finally:
        builtins.__import__ = builtins_import
    assert hou.ui.status_messages == [fd.NOT_INSTALLED] and hou.ui.callbacks == []


def test_shelf_tool_and_tab_menu_create_the_node_after_the_selected_cop_or_in_a_new_network(
        hou: ModuleType, tmp_path: Path) -> None:
    assert SHELF.find("toolshelf/memberTool").get("name") == "flashdepth_create"  # type: ignore[union-attr]
    contexts = SHELF.findall("tool[@name='flashdepth_create']/toolMenuContext[@name='network']/contextNetType")
    assert sorted(c.text for c in contexts) == ["COP", "COP2"]  # the Tab menu of both COP network kinds
    assert SHELF.find("tool[@name='flashdepth_create']/toolSubmenu").text == "FlashDepth"  # type: ignore[union-attr]
    network, plate = plate_cop(hou, tmp_path)
    plate.setSelected(True)
    exec(SHELF_SCRIPT, {"hou": hou, "kwargs": {}})
    [created] = [n for n in network.children() if n.type().name() == "subnet"]
    assert created.input(0) is plate and created.selected and not plate.selected

    for version, network_type in (((20, 0, 0), "cop2net"), ((20, 5, 0), "copnet")):
        for node in hou.selectedNodes():
            node.setSelected(False)
        hou.version = version
        exec(SHELF_SCRIPT, {"hou": hou, "kwargs": {}})
        [created] = [n for n in hou.selectedNodes()]
        assert created.parent().type().name() == network_type and created.parent().parent() is hou.node("/img")

    copernicus = hou.node("/img").createNode("copnet", "cops")  # Tab in a network editor showing this network
    exec(SHELF_SCRIPT, {"hou": hou, "kwargs": {"pane": types.SimpleNamespace(pwd=lambda: copernicus)}})
    [created] = copernicus.children()
    assert created.selected and created.type().name() == "file"


def test_houdini_19_5_without_hou_opnode(hou: ModuleType, tmp_path: Path) -> None:
    hou.as_houdini_19_5()
    assert not hasattr(hou, "OpNode")
    exec(SHELF_SCRIPT, {"hou": hou, "kwargs": {}})
    [created] = hou.selectedNodes()
    assert created.parent().type().name() == "cop2net"
    from flashdepth_houdini import node as fd

    network, plate = plate_cop(hou, tmp_path)
    node = fd.create_node(network, plate)
    render(fd, hou, node)
    assert status(node).startswith("Done: 5 frames")
    assert fd.flashdepth_nodes() == (created, node)


def test_houdini_code_is_python_3_9_syntax() -> None:
    """Houdini 19.5 runs Python 3.9: the package's Python and the shelf / panel scripts must parse there."""
    import ast

    files = {path: path.read_text(encoding="utf-8") for path in PYTHON_LIBS.rglob("*.py")}
    assert len(files) >= 4
    scripts = [SHELF_SCRIPT, ElementTree.parse(HOUDINI / "python_panels" / "flashdepth_vfx.pypanel").getroot()
               .findtext("interface/script") or ""]
    for name, code in [*((str(p), c) for p, c in files.items()), *(("script", s) for s in scripts)]:
        ast.parse(code, filename=name, feature_version=(3, 9))


def test_package_points_houdini_and_python_at_the_project(hou: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    package = json.loads((HOUDINI / "packages" / "flashdepth_vfx.json").read_text())
    paths = [entry["PYTHONPATH"]["value"] for entry in package["env"] if "PYTHONPATH" in entry]
    assert paths == ["$FLASHDEPTH_VFX", "$FLASHDEPTH_VFX/houdini/python3.11libs"]  # any Houdini Python finds it
    assert package["hpath"] == "$FLASHDEPTH_VFX/houdini"
    runpy.run_path(str(PYTHON_LIBS / "pythonrc.py"))
    assert capsys.readouterr().out == ""  # installed right: silent, and nothing registered that edits scenes


def test_pythonrc_with_a_wrong_package_path_prints_one_line(hou: ModuleType, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    for name in [m for m in sys.modules if m.startswith("flashdepth_vfx")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "flashdepth_vfx", None)  # $FLASHDEPTH_VFX points at the wrong folder
    runpy.run_path(str(PYTHON_LIBS / "pythonrc.py"))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    [line] = captured.out.splitlines()
    assert line.startswith("FlashDepth: not loaded (") and "FLASHDEPTH_VFX in packages/flashdepth_vfx.json" in line


def test_python_panel_on_a_pyside2_houdini_shows_a_message(hou: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    class QLabel:
        def __init__(self, text: str) -> None:
            self.text, self.wrap = text, False

        def setWordWrap(self, on: bool) -> None:
            self.wrap = on

    pyside2 = types.ModuleType("PySide2")
    widgets = types.ModuleType("PySide2.QtWidgets")
    widgets.QLabel = QLabel  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "PySide2", pyside2)
    monkeypatch.setitem(sys.modules, "PySide2.QtWidgets", widgets)
    monkeypatch.setitem(sys.modules, "PySide6.QtWidgets", None)  # Houdini 19.5-20.5 ship PySide2 only
    panel_xml = ElementTree.parse(HOUDINI / "python_panels" / "flashdepth_vfx.pypanel").getroot()
    namespace: Dict[str, Any] = {}
    exec(panel_xml.find("interface/script").text, namespace)  # type: ignore[union-attr]
    label = namespace["onCreateInterface"]()
    assert isinstance(label, QLabel) and label.wrap and "Houdini 21" in label.text


def test_render_runs_in_the_background_and_loads_plate_and_depth(fd: Any, hou: ModuleType, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_ENGINE_MODE", "slow")
    monkeypatch.setenv("FAKE_ENGINE_DELAY", "0.1")
    network, plate = plate_cop(hou, tmp_path)
    node = fd.create_node(network, plate)
    started = time.monotonic()
    node.parm("fd_render").press()
    assert time.monotonic() - started < 0.5  # the button returns at once: the UI thread is free
    task = fd.running(node)
    assert task is not None and task.is_alive()  # the render's own thread
    node.parm("fd_render").press()  # a second press while it runs starts nothing
    assert fd.running(node) is task and "Already rendering" in hou.ui.status_messages[-1]
    seen: list = []
    hou.run_event_loop(until=lambda: seen.append(status(node)) or fd.running(node) is None)
    percents = [int(s.split("%")[0]) for s in seen if "% Frame" in s]  # the status line followed the frames
    assert len(set(percents)) >= 2 and percents == sorted(percents), seen
    assert any("(press Cancel to stop)" in s for s in seen)
    version = version_dir(node)
    assert version.parent == tmp_path / "fx" / "flashdepth" / "flashdepth1"  # a folder per settings
    loader = node.node("depth")
    assert loader.parm("filename1").evalAsString() == str(version / "shot_depth.$F4.exr")
    assert loader.parm("reload").pressed == 1  # the loader re-reads the new files
    assert sorted(p.name for p in version.glob("*.exr")) == [f"shot_depth.{f}.exr" for f in range(1001, 1006)]
    assert status(node).startswith("Done: 5 frames in ") and "Current: 5 frames" in status(node)
    assert node.color == colour(DepthState.CURRENT) and node.parm("fd_progress") is None  # (no parameter)
    args = task.engine.job.to_args()  # the plate travels beside the depth; the File COP's OCIO config is passed
    assert "--passthrough" not in args and args[args.index("--channel") + 1] == "depth.Z"
    assert args[args.index("--ocio-config") + 1] == hou.Color.ocio_configPath()
    assert args[args.index("--colorspace") + 1] == "ACES - ACEScg"
    plan = fd.read_settings(node)
    assert plan.settings.plate == str(tmp_path / "fx" / ".." / "plates" / "shot.####.exr")
    assert plan.frames == list(range(1001, 1006))


def test_colour_settings_pass_only_when_the_file_cop_is_in_ocio_mode(fd: Any, hou: ModuleType,
                                                                    tmp_path: Path) -> None:
    network, plate = plate_cop(hou, tmp_path)
    plate.parm("colorspace").set("auto")  # Automatic: Houdini picks by file type, ocio_space is not used
    node = fd.create_node(network, plate)
    assert node.parm("fd_colorspace").evalAsString() == ""
    args = render(fd, hou, node).engine.job.to_args()
    assert "--colorspace" not in args and "--ocio-config" not in args


def test_versions_stale_partial_and_finish_with_resume(fd: Any, hou: ModuleType, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    network, plate = plate_cop(hou, tmp_path)
    plate.frame_range = (1001.0, 1040.0)
    node = fd.create_node(network, plate)
    render(fd, hou, node)
    first = version_dir(node)
    assert status(node).endswith(f"Current: 40 frames rendered with these settings, in {first}")

    node.parm("fd_precision").set("fp16")
    node.parm("fd_precision").press()  # the parm's own callback: the tile colour follows
    assert status(node) == "Stale: the depth shown was rendered with other settings; press Render depth"
    assert node.color == colour(DepthState.STALE)

    monkeypatch.setenv("FAKE_ENGINE_MODE", "slow")
    monkeypatch.setenv("FAKE_ENGINE_DELAY", "0.05")
    node.parm("fd_render").press()
    hou.run_event_loop(until=lambda: "%" in status(node) and int(status(node).split("%")[0]) >= 10)
    node.parm("fd_cancel").press()
    task = fd.running(node)
    wait(fd, hou, node)
    kept = len(task.result.written)
    assert task.result.cancelled and 1 <= kept < 40
    assert status(node).startswith(f"Cancelled: {kept} frames kept | Partial: {kept} of 40 frames")
    assert status(node).endswith("press Finish to render the rest; showing the previous version until then")
    assert version_dir(node) == first and node.color == colour(DepthState.PARTIAL)  # the old depth stays shown
    assert len(list(first.glob("*.exr"))) == 40

    monkeypatch.setenv("FAKE_ENGINE_MODE", "ok")
    node.parm("fd_finish").press()
    task = fd.running(node)
    wait(fd, hou, node)
    assert "--resume" in task.engine.job.to_args() and len(task.result.written) == 40 - kept  # only the rest
    second = version_dir(node)
    assert second != first and status(node).endswith(f"Current: 40 frames rendered with these settings, in {second}")
    assert node.node("depth").parm("filename1").evalAsString() == str(second / "shot_depth.$F4.exr")
    assert len(list(first.glob("*.exr"))) == 40  # the first version is still there to go back to


def test_hython_renders_under_an_interruptable_operation(fd: Any, hou: ModuleType, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_ENGINE_MODE", "slow")
    monkeypatch.setenv("FAKE_ENGINE_DELAY", "0.05")
    hou.ui_available = False
    monkeypatch.setitem(sys.modules, "hdefereval", None)  # hython has no event loop to defer to
    network, plate = plate_cop(hou, tmp_path)
    plate.frame_range = (1001.0, 1100.0)
    node = fd.create_node(network, plate)
    hou.interrupt = lambda fraction: fraction > 0  # Esc once a frame is done
    task = fd.render(node)
    [operation] = hou.operations
    assert task.result.cancelled and 1 <= len(task.result.written) < 100 and fd.running(node) is None
    assert operation.open_interrupt_dialog and not operation.active
    assert status(node).startswith(f"Cancelled: {len(task.result.written)} frames kept | Partial")


def test_any_exception_in_the_render_ends_it_and_frees_the_node(fd: Any, hou: ModuleType, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    network, plate = plate_cop(hou, tmp_path)
    node = fd.create_node(network, plate)
    with monkeypatch.context() as patch:  # a bug while preparing the version folder
        patch.setattr(DepthVersion, "write_manifest", lambda self, job: 1 / 0)
        render(fd, hou, node)
    assert status(node).startswith("Error: unexpected ZeroDivisionError: division by zero")

    monkeypatch.setenv("FAKE_ENGINE_MODE", "slow")
    with monkeypatch.context() as patch:  # a failure while following the engine
        patch.setattr("flashdepth_vfx.hosts.render.NodeRender.progress", lambda self: 1 / 0)
        task = render(fd, hou, node)
    assert fd.running(node) is None and status(node).startswith("Error: unexpected ZeroDivisionError")
    deadline = time.monotonic() + 10
    while task.engine._process.running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not task.engine._process.running  # the engine was stopped too

    monkeypatch.setenv("FAKE_ENGINE_MODE", "ok")
    render(fd, hou, node)  # the node renders again
    assert status(node).startswith("Done: 5 frames")

    deleted = fd.create_node(network, plate)  # a node deleted while it renders
    deleted.parm("fd_render").press()
    deleted.destroy()
    wait(fd, hou, deleted)
    assert fd.running(deleted) is None


def test_a_cop2_tree_exports_only_the_frames_asked_once_per_content(fd: Any, hou: ModuleType,
                                                                    tmp_path: Path) -> None:
    network, plate = plate_cop(hou, tmp_path)
    blur = network.createNode("blur")
    blur.setInput(0, plate)
    blur.frame_range = (1001.0, 1005.0)
    node = fd.create_node(network, blur)
    node.parm("fd_frames").set("1002-1003")
    task = render(fd, hou, node)
    folder = tmp_path / "fx" / "flashdepth" / "flashdepth1" / "source"
    [exported] = [p for p in folder.iterdir()]
    assert blur.saved == [(str(exported / "flashdepth1.1002.exr"), (1002.0, 1002.0)),
                          (str(exported / "flashdepth1.1003.exr"), (1003.0, 1003.0))]
    assert fake_hdefereval.ran.count("_export_frame") == 2  # each frame a main-thread call of its own
    assert task.engine.job.plate == str(exported / "flashdepth1.%04d.exr")
    assert status(node).startswith("Done: 2 frames")

    node.parm("fd_precision").set("fp16")
    render(fd, hou, node)  # same upstream content: no new export
    assert len(blur.saved) == 2
    node.parm("fd_frames").set("1002-1004")
    render(fd, hou, node)  # one more frame: only that one
    assert [frame for _, frame in blur.saved[2:]] == [(1004.0, 1004.0)]
    blur.parm("size").set(3.0)
    render(fd, hou, node)  # the network changed: a new folder, exported again
    assert len(blur.saved) == 6 and Path(blur.saved[-1][0]).parent != exported
    take = tmp_path / "plates" / ".shot.1003.exr.tmp"  # a file the File COP reads re-delivered (written beside it,
    take.write_text("a new take")                      # then renamed over it, as renders and syncs do)
    take.replace(tmp_path / "plates" / "shot.1003.exr")
    render(fd, hou, node)
    assert len(blur.saved) == 9


def test_cancel_during_the_export_never_starts_the_engine(fd: Any, hou: ModuleType, tmp_path: Path) -> None:
    network, plate = plate_cop(hou, tmp_path)
    blur = network.createNode("blur")
    blur.setInput(0, plate)
    blur.frame_range = (1001.0, 1005.0)
    node = fd.create_node(network, blur)
    node.parm("fd_render").press()
    task = fd.running(node)
    hou.run_event_loop(until=lambda: len(blur.saved) == 2)
    node.parm("fd_cancel").press()
    wait(fd, hou, node)
    assert len(blur.saved) <= 3 and task.engine is None and task.result.cancelled


def test_copernicus_node_outputs_the_depth_aov_beside_the_plate_cop(fd: Any, hou: ModuleType, tmp_path: Path) -> None:
    """Issue 19 item 4, Copernicus: the node loads only the depth AOV from its files (the plate stays the plate
    COP's output); no copy of the plate is rendered."""
    network, plate = plate_cop(hou, tmp_path, "copnet")
    node = fd.create_node(network, plate)
    assert node.type().name() == "file" and node.parent() is network  # the node is the Copernicus File COP
    assert node.parm("aovs").eval() == 1 and node.parm("aov1").eval() == "depth"
    assert node.parm("fd_source").evalAsString() == "../plate" and node.parm("fd_frames").evalAsString() == ""
    task = render(fd, hou, node)
    assert status(node).startswith("Done: 5 frames"), status(node)
    assert node.parm("filename").evalAsString() == str(version_dir(node) / "shot_depth.$F4.exr")
    assert node.parm("reload").pressed == 1
    assert node.parm("aovs").eval() == 1 and node.parm("aov1").eval() == "depth" and node.parm("aov2") is None
    assert "--passthrough" not in task.engine.job.to_args()


def test_cop2_node_adds_the_depth_plane_to_its_input_and_renders_no_plate_copy(fd: Any, hou: ModuleType,
                                                                               tmp_path: Path) -> None:
    """Issue 19 item 4, COP2: the subnet outputs its own input (upstream edits flow through, a non-EXR plate keeps
    its meaning) with the depth plane of the rendered files added; the render writes no copy of the plate."""
    plates = tmp_path / "plates"
    plates.mkdir()
    rgba = {c: np.full((4, 6), v, np.float32) for c, v in zip("RGBA", (0.1, 0.2, 0.3, 1.0))}
    for frame in range(1001, 1006):
        write_exr(plates / f"shot.{frame}.exr", rgba)
    network, plate = plate_cop(hou, tmp_path)
    node = fd.create_node(network, plate)
    merge = node.node("with_depth")
    assert merge._inputs[0] == node.indirectInputs()[0] and merge.input(1) is node.node("depth")
    task = render(fd, hou, node)
    assert status(node).startswith("Done: 5 frames"), status(node)
    assert "--passthrough" not in task.engine.job.to_args()
    version = version_dir(node)
    for frame in range(1001, 1006):  # what the engine writes without --passthrough (the fake engine writes text)
        write_exr(version / f"shot_depth.{frame}.exr", {"depth.Z": np.full((4, 6), 7.0, np.float32)})
    hou.setFrame(1003)
    plate_file = str(tmp_path / "fx" / ".." / "plates" / "shot.1003.exr")  # as the File COP names it
    assert node.plane_files() == {"C": plate_file, "A": plate_file,
                                  "depth": str(version / "shot_depth.1003.exr")}

    graded = network.createNode("blur", "grade")  # an upstream edit reaches the node's output
    graded.setInput(0, plate)
    other = network.createNode("file", "other_plate")
    other.parm("filename1").set(str(tmp_path / "other.$F4.exr"))
    write_exr(tmp_path / "other.1003.exr", rgba)
    node.setInput(0, other)
    assert node.plane_files()["C"] == str(tmp_path / "other.1003.exr")
    node.setInput(0, graded)
    assert node.plane_files()["C"] == plate_file and node.planes() == ("C", "A", "depth")

    node.node("with_depth").destroy()  # a node saved before it had the Merge: loading a version adds it
    node.node("depth").setRenderFlag(True)
    fd.load_version(node, DepthVersion.from_json(node.userData("flashdepth_shown")))
    assert node.node("with_depth").render and not node.node("depth").render
    assert node.plane_files()["depth"] == str(version / "shot_depth.1003.exr")


def test_loading_the_hip_computes_the_status_without_modifying_the_scene(fd: Any, hou: ModuleType,
                                                                        tmp_path: Path) -> None:
    runpy.run_path(str(PYTHON_LIBS / "pythonrc.py"))  # Houdini's start-up registers the scene callbacks
    network, plate = plate_cop(hou, tmp_path)
    node = fd.create_node(network, plate)
    render(fd, hou, node)
    hou.hipFile.load(hou.hipFile.path())
    assert "Current: 5 frames" in status(node)
    for path in version_dir(node).glob("*.exr"):
        path.unlink()  # the files went away while the scene was closed
    hou.hipFile.load(hou.hipFile.path())
    assert status(node).endswith(f"Missing: the depth files are gone from {version_dir(node)}; press Render depth")
    assert not hou.hipFile.hasUnsavedChanges()


def test_errors_become_one_status_line(fd: Any, hou: ModuleType, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    network = hou.node("/img").createNode("copnet", "comp")
    lonely = fd.create_node(network)
    assert status(lonely) == "/img/comp/flashdepth1 has no plate: connect a File COP or set the Plate parameter"
    assert fd.render(lonely) is None and fd.running(lonely) is None
    assert lonely.userData("flashdepth_last").startswith("Error: /img/comp/flashdepth1 has no plate")

    plate_cop(hou, tmp_path, "cop2net")  # writes the stand-in plate files
    lonely.parm("fd_plate").set(str(tmp_path / "plates" / "shot.####.exr"))  # an explicit plate needs no input
    monkeypatch.setenv("FAKE_ENGINE_MODE", "fail")
    assert render(fd, hou, lonely).result.error == fake_engine.ERROR_MESSAGE
    assert status(lonely).startswith(f"Error: {fake_engine.ERROR_MESSAGE}")
    assert lonely.parm("filename").evalAsString() == ""
    monkeypatch.setenv("FLASHDEPTH_VFX_BIN", "/nowhere/flashdepth-vfx")
    render(fd, hou, lonely)
    assert status(lonely).startswith("Error: $FLASHDEPTH_VFX_BIN points at")
    assert importlib.import_module("flashdepth_houdini.node") is fd


def test_version_menu_loads_a_chosen_version_marked_stale_and_latest_follows_the_parms(
        fd: Any, hou: ModuleType, tmp_path: Path) -> None:
    network, plate = plate_cop(hou, tmp_path)
    node = fd.create_node(network, plate)
    render(fd, hou, node)
    first = version_dir(node)
    node.parm("fd_mode").set("disparity")
    render(fd, hou, node)
    second = version_dir(node)
    menu = node.parm("fd_version")
    assert menu.menuItems() == ("latest", second.name, first.name)  # the menu script, as Houdini runs it
    labels = menu.menuLabels()
    assert labels[0] == "Latest (follows the parameters)"
    assert labels[2].startswith(first.name[:8] + "  default model, depth, ACES - ACEScg  5 fr complete  ")
    loader = node.node("depth").parm("filename1")

    menu.set(first.name)
    menu.press()  # the artist picks the older version
    assert version_dir(node) == first and loader.evalAsString() == str(first / "shot_depth.$F4.exr")
    assert status(node).startswith(f"Stale: showing version {first.name[:8]} chosen by hand (default model, depth,")
    assert node.color == colour(DepthState.STALE)
    node.parm("fd_mode").set("depth")  # the parameters make the chosen version again
    assert status(node).endswith(f"Current: 5 frames rendered with these settings, in {first}")
    node.parm("fd_mode").set("disparity")

    menu.set("latest")
    menu.press()
    assert version_dir(node) == second and loader.evalAsString() == str(second / "shot_depth.$F4.exr")
    assert node.color == colour(DepthState.CURRENT)
    menu.set(first.name)
    menu.press()
    render(fd, hou, node)  # Render Depth follows the parameters again
    assert menu.evalAsString() == "latest" and version_dir(node) == second


def test_choosing_a_version_with_no_frame_on_disk_keeps_the_depth_loaded(
        fd: Any, hou: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A version with its manifest only (Houdini killed before the render's first frame; every failed start of
    an earlier release): choosing it in the menu says so and keeps the depth loaded."""
    network, plate = plate_cop(hou, tmp_path)
    node = fd.create_node(network, plate)
    render(fd, hou, node)
    first = version_dir(node)
    node.parm("fd_mode").set("disparity")
    left = fd.read_settings(node).settings
    left.version().write_manifest(left.versioned_job())
    menu = node.parm("fd_version")
    empty = menu.menuItems()[1]
    assert " 0 fr partial " in menu.menuLabels()[1] and version_dir(node) == first
    menu.set(empty)
    menu.press()
    loader = node.node("depth").parm("filename1")
    assert version_dir(node) == first and loader.evalAsString() == str(first / "shot_depth.$F4.exr")
    assert node.userData("flashdepth_last") == (f"Version {empty[:8]} has no depth frames on disk: render it with "
                                                "its settings, or choose another")
    assert menu.evalAsString() == "latest"


def test_a_hip_saved_under_a_new_name_keeps_its_depth_from_pruning(fd: Any, hou: ModuleType, tmp_path: Path) -> None:
    """shot_v001.hip renders; the artist saves as shot_v002.hip (File > Save As, or Save with increment), then
    deletes v001: the depth v002 shows has a record of its own, so a prune elsewhere keeps it; the scene stays
    unmodified."""
    from flashdepth_vfx.hosts import prune
    from flashdepth_vfx.hosts.versions import shown_by

    runpy.run_path(str(PYTHON_LIBS / "pythonrc.py"))  # Houdini's start-up registers the scene callbacks
    v001, v002 = tmp_path / "fx" / "shot_v001.hip", tmp_path / "fx" / "shot_v002.hip"
    hou.hipFile.save(str(v001))
    network, plate = plate_cop(hou, tmp_path)
    node = fd.create_node(network, plate)
    render(fd, hou, node)
    version = version_dir(node)
    hou.hipFile.save(str(v002))
    v001.unlink()
    plan = prune.plan_folder(str(version.parent), keep=0, now=time.time() + 3 * 24 * 3600)
    assert plan.remove == [] and [k.reason for k in plan.keep] == [f"shown by {v002} {node.path()}"]
    assert not hou.hipFile.hasUnsavedChanges()
    hou.ui_available = False  # hython (a farm machine) loading or saving the scene records nothing
    hou.hipFile.save(str(tmp_path / "fx" / "shot_farm.hip"))
    assert shown_by(str(version)) == [f"{v002} {node.path()}"]


def test_a_version_chosen_during_a_render_is_refused_and_the_menu_says_latest(
        fd: Any, hou: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The render follows the parameters: a choice made while it runs would be ignored when it ends, with the menu
    still naming the choice. The menu goes back to Latest at once and the status bar says why."""
    network, plate = plate_cop(hou, tmp_path)
    node = fd.create_node(network, plate)
    render(fd, hou, node)
    first = version_dir(node)
    node.parm("fd_mode").set("disparity")
    monkeypatch.setenv("FAKE_ENGINE_MODE", "slow")
    monkeypatch.setenv("FAKE_ENGINE_DELAY", "0.1")
    node.parm("fd_render").press()
    assert fd.running(node) is not None
    menu = node.parm("fd_version")
    menu.set(first.name)
    menu.press()
    assert menu.evalAsString() == "latest"
    assert hou.ui.status_messages[-1] == "FlashDepth flashdepth1: Rendering: choose a version when the render is done"
    wait(fd, hou, node)
    assert version_dir(node) != first and menu.evalAsString() == "latest"
    assert node.color == colour(DepthState.CURRENT)


def test_the_version_menu_script_never_raises(fd: Any, hou: ModuleType, tmp_path: Path) -> None:
    """Houdini runs the menu script whenever it draws the menu: an Output Folder whose expression fails (Houdini
    raises OperationFailed evaluating it) still gives the Latest entry, not a script error."""
    network, plate = plate_cop(hou, tmp_path)
    node = fd.create_node(network, plate)
    render(fd, hou, node)
    menu = node.parm("fd_version")
    assert menu.menuItems() == ("latest", version_dir(node).name)
    node.parm("fd_output").setExpression("hou.node('/obj/shot_settings').parm('depth_root').eval()",
                                         hou.exprLanguage.Python)
    with pytest.raises(hou.OperationFailed):
        node.parm("fd_output").evalAsString()
    assert menu.menuItems() == ("latest",)
    assert menu.menuLabels() == ("Latest (follows the parameters)",)
    # the status line (an expression) and the tile colour callback say so too, instead of raising
    assert fd.status_text(node).startswith("A parameter does not evaluate (Python error in the expression of fd_output")
    fd.parm_changed(node)


def test_delete_old_versions_asks_and_keeps_what_the_node_uses(fd: Any, hou: ModuleType, tmp_path: Path) -> None:
    network, plate = plate_cop(hou, tmp_path)
    node = fd.create_node(network, plate)
    made = []
    for mode in ("depth", "disparity", "normalized"):
        node.parm("fd_mode").set(mode)
        render(fd, hou, node)
        made.append(version_dir(node))
    write_engine_frames(made[0])
    age(made[0], 3600)
    hou.ui.answers.append(1)  # No
    thread = fd.delete_old_versions(node)  # as the button does: the plan runs in a thread, the question comes here
    hou.run_event_loop(until=lambda: not thread.is_alive())
    assert hou.ui.messages[-1].startswith("Delete 1 old depth versions of flashdepth1 (")
    assert all(path.is_dir() for path in made)
    hou.ui.answers.append(0)  # Yes
    node.parm("fd_prune").press()
    hou.run_event_loop(until=lambda: node.userData("flashdepth_last").startswith("Deleted"))
    assert not made[0].exists() and made[1].is_dir() and made[2].is_dir()
    assert node.userData("flashdepth_last").startswith("Deleted 1 old versions (")
    assert node.parm("fd_version").menuItems() == ("latest", made[2].name, made[1].name)


def test_the_status_line_is_computed_when_what_it_depends_on_changes_not_at_every_redraw(
        fd: Any, hou: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Houdini evaluates the Status parameter at every redraw of the parameter pane: reading the settings samples
    the camera at every frame and, for a COP2 tree, evaluates every upstream parameter. That happens once per
    change."""
    network, plate = plate_cop(hou, tmp_path)
    node = fd.create_node(network, plate)
    render(fd, hou, node)
    reads: List[str] = []
    real = fd.read_settings
    monkeypatch.setattr(fd, "read_settings", lambda n: reads.append(n.path()) or real(n))
    lines = {status(node) for _ in range(50)}  # fifty redraws
    assert len(lines) == 1 and "Current: 5 frames" in lines.pop() and reads == []  # the render's end computed it
    node.parm("fd_precision").set("fp16")  # a change (even without its callback) is seen at the next redraw
    assert {status(node) for _ in range(50)} == {
        "Stale: the depth shown was rendered with other settings; press Render depth"} and len(reads) == 1
    node.parm("fd_precision").set("default")
    plate.parm("filename1").set("$HIP/../plates/other.$F4.exr")  # the plate COP reads other files
    assert not status(node).endswith("Current: 5 frames") and len(reads) == 2


def test_the_nodes_bookkeeping_stays_off_the_undo_stack(fd: Any, hou: ModuleType, tmp_path: Path) -> None:
    """Progress, the status, the loaded version and the output folder a render fills in are the node's own
    bookkeeping: Edit > Undo must undo the artist's last change, not a progress tick."""
    network, plate = plate_cop(hou, tmp_path)
    node = fd.create_node(network, plate)
    node.parm("fd_mode").set("disparity")  # the artist's change: an undo entry
    hou.undo_labels.clear()
    render(fd, hou, node)
    node.parm("fd_precision").press()  # the callback of an edited parameter refreshes the status
    assert hou.undo_labels == []


def test_a_graphical_render_makes_every_hom_call_on_the_main_thread(fd: Any, hou: ModuleType, tmp_path: Path) -> None:
    """HOM is not thread-safe: the worker thread hands every call to Houdini's main thread (hdefereval), the
    export of a COP2 tree's frames and its progress messages included."""
    network, plate = plate_cop(hou, tmp_path)
    blur = network.createNode("blur")
    blur.setInput(0, plate)
    blur.frame_range = (1001.0, 1003.0)
    node = fd.create_node(network, blur)
    render(fd, hou, node)
    assert status(node).startswith("Done: 3 frames") and hou.off_main_thread == []


def test_a_copernicus_plate_read_with_video_timing_gets_depth_on_the_same_frames(
        fd: Any, hou: ModuleType, tmp_path: Path) -> None:
    """A Copernicus File COP reading shot.<F>.exr takes the file frame from its Video Timing (SideFX: File
    Copernicus node): Start Frame 1 plays file 1001 at frame 1. The depth loader must show depth 1001 there."""
    network, plate = plate_cop(hou, tmp_path, "copnet")
    plate.parm("filename").set("$HIP/../plates/shot.<F>.exr")
    plate.parm("videostartframe").set(1)
    node = fd.create_node(network, plate)
    node.parm("fd_frames").set("1002-1004")
    task = render(fd, hou, node)
    assert task.engine.job.plate == str(tmp_path / "fx" / ".." / "plates" / "shot.#.exr")
    assert status(node).startswith("Done: 3 frames"), status(node)
    assert node.parm("filename").evalAsString().endswith("shot_depth.<F>.exr")
    for frame in (2, 3, 4):  # the same file frame under the plate and under the depth, at every frame
        assert node.file_frame_at(frame) == plate.file_frame_at(frame)
