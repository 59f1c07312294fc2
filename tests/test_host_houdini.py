"""The Houdini package (houdini/) against tests/fakes/hou.py, rendering with the fake engine
(tests/fake_engine.py) as a real subprocess under hou.InterruptableOperation."""
from __future__ import annotations

import json
import runpy
import shlex
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from types import ModuleType
from typing import Any, Tuple

import pytest

import fake_engine
from fakes import hou as fake_hou
from flashdepth_vfx.errors import FlashDepthError
from flashdepth_vfx.hosts.common import MODELS, CachedRender

ROOT = Path(__file__).resolve().parent.parent
HOUDINI = ROOT / "houdini"
PYTHON_LIBS = HOUDINI / "python3.11libs"
FAKE_ENGINE = f"{shlex.quote(sys.executable)} {shlex.quote(str(Path(fake_engine.__file__).resolve()))}"


@pytest.fixture
def hou(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> ModuleType:
    """The fake ``hou`` module with a scene saved as tmp/fx/shot.hip."""
    fake_hou.reset()
    fake_hou.hipFile.file_path = str(tmp_path / "fx" / "shot.hip")
    monkeypatch.setitem(sys.modules, "hou", fake_hou)
    monkeypatch.syspath_prepend(str(PYTHON_LIBS))
    for name in [m for m in sys.modules if m.startswith("flashdepth_houdini")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setenv("FLASHDEPTH_VFX_BIN", FAKE_ENGINE)
    monkeypatch.delenv("FAKE_ENGINE_MODE", raising=False)
    return fake_hou


@pytest.fixture
def fd(hou: ModuleType) -> Any:
    import flashdepth_houdini.node

    return flashdepth_houdini.node


def plate_cop(hou: ModuleType, tmp_path: Path, network_type: str = "cop2net") -> Tuple[Any, Any]:
    """A COP network with a File COP reading $HIP/../plates/shot.$F4.exr (frames 1001-1005)."""
    network = hou.node("/img").createNode(network_type, "comp")
    plate = network.createNode("file", "plate")
    if network_type == "cop2net":
        plate.parm("filename1").set("$HIP/../plates/shot.$F4.exr")
        plate.parm("ocio_space").set("ACES - ACEScg")
        plate.frame_range = (1001.0, 1005.0)
    else:
        plate.parm("filename").set("$HIP/../plates/shot.$F4.exr")
    return network, plate


def test_node_is_a_subnet_with_spare_parms_defaults_and_a_file_cop(fd: Any, hou: ModuleType, tmp_path: Path) -> None:
    network, plate = plate_cop(hou, tmp_path)
    node = fd.create_node(network, plate)
    assert node.type().name() == "subnet" and node.path() == "/img/comp/flashdepth1" and node.input(0) is plate
    assert [t.name() for t in node.parmTemplateGroup().entries()] == [
        "plate", "checkpoint", "model", "colorspace", "mode", "frames", "device", "precision", "output", "render",
        "status"]
    entries = {t.name(): t for t in node.parmTemplateGroup().entries()}
    assert isinstance(entries["model"], hou.MenuParmTemplate) and entries["model"].menuItems() == MODELS
    assert isinstance(entries["render"], hou.ButtonParmTemplate) and entries["render"].label() == "Render depth"
    assert entries["render"].scriptCallbackLanguage() is hou.scriptLanguage.Python
    assert entries["output"].options["file_type"] is hou.fileType.Directory
    assert node.parm("colorspace").evalAsString() == "ACES - ACEScg"
    assert node.parm("frames").evalAsString() == "1001-1005"
    assert [node.parm(p).evalAsString() for p in ("mode", "device", "precision", "plate")] == [
        "depth", "auto", "default", ""]
    depth = node.node("depth")
    assert depth.type().name() == "file" and depth.display and depth.render
    assert node.parm("status").evalAsString() == "Not rendered yet: press Render depth"
    assert node.userData("flashdepth") == "1"
    with pytest.raises(FlashDepthError, match="/obj is not a COP network"):
        fd.create_node(hou.node("/obj"))


def test_shelf_tool_creates_the_node_after_the_selected_cop_or_in_a_new_network(
        hou: ModuleType, tmp_path: Path) -> None:
    shelf = ElementTree.parse(HOUDINI / "toolbar" / "flashdepth.shelf").getroot()
    assert shelf.find("toolshelf/memberTool").get("name") == "flashdepth_create"
    script = shelf.find("tool[@name='flashdepth_create']/script")
    assert script.get("scriptType") == "python"
    network, plate = plate_cop(hou, tmp_path)
    plate.setSelected(True)
    exec(script.text, {})
    [created] = [n for n in network.children() if n.type().name() == "subnet"]
    assert created.input(0) is plate and created.selected and not plate.selected

    for version, network_type in (((20, 0, 0), "cop2net"), ((20, 5, 0), "copnet")):
        for node in hou.selectedNodes():
            node.setSelected(False)
        hou.version = version
        exec(script.text, {})
        [created] = [n for n in hou.selectedNodes()]
        assert created.parent().type().name() == network_type and created.parent().parent() is hou.node("/img")
        assert created.input(0) is None


def test_package_points_houdini_and_python_at_the_project(hou: ModuleType) -> None:
    package = json.loads((HOUDINI / "packages" / "flashdepth_vfx.json").read_text())
    env = {k: v for entry in package["env"] for k, v in entry.items()}
    assert "FLASHDEPTH_VFX" in env
    assert env["PYTHONPATH"] == {"value": "$FLASHDEPTH_VFX", "method": "append"}
    assert package["hpath"] == "$FLASHDEPTH_VFX/houdini"
    assert (HOUDINI / "python3.11libs" / "flashdepth_houdini" / "node.py").is_file()
    runpy.run_path(str(PYTHON_LIBS / "pythonrc.py"))
    import flashdepth_houdini.node

    assert hou.hipFile.callbacks == [flashdepth_houdini.node.on_hip_event]


def test_render_button_renders_under_an_interruptable_operation_and_loads_depth(
        fd: Any, hou: ModuleType, tmp_path: Path) -> None:
    network, plate = plate_cop(hou, tmp_path)
    node = fd.create_node(network, plate)
    node.parm("render").press()
    [operation] = hou.operations
    assert operation.open_interrupt_dialog and operation.progress and not operation.active
    assert operation.progress[-1] == 1.0 and operation.progress == sorted(operation.progress)
    out_dir = tmp_path / "fx" / "flashdepth" / "flashdepth1"
    assert node.parm("output").evalAsString() == str(out_dir)
    assert node.node("depth").parm("filename1").evalAsString() == str(out_dir / "shot_depth.$F4.exr")
    assert sorted(p.name for p in out_dir.iterdir()) == [f"shot_depth.{f}.exr" for f in range(1001, 1006)]
    status = node.parm("status").evalAsString()
    assert status.startswith("Done: 5 frames in ") and "1 warnings" in status
    stored = CachedRender.from_json(node.userData("flashdepth_result"))
    expected_plate = str(tmp_path / "fx" / ".." / "plates" / "shot.####.exr")
    settings, _ = fd.read_settings(node)
    assert settings.plate == expected_plate and settings.colorspace == "ACES - ACEScg"
    assert stored is not None and stored.fingerprint == settings.job().fingerprint()
    assert (stored.first, stored.last, stored.written) == (1001, 1005, 5)


def test_copernicus_network_uses_its_file_cop(fd: Any, hou: ModuleType, tmp_path: Path) -> None:
    network, plate = plate_cop(hou, tmp_path, "copnet")
    node = fd.create_node(network, plate)
    assert node.parm("frames").evalAsString() == ""  # Copernicus has no sequence range: the engine's whole sequence
    fd.render(node)
    out = tmp_path / "fx" / "flashdepth" / "flashdepth1" / "shot_depth.$F4.exr"
    assert node.node("depth").parm("filename").evalAsString() == str(out)
    assert node.parm("status").evalAsString().startswith("Done: 5 frames")


def test_changed_parm_marks_stale_and_loading_the_hip_rechecks(fd: Any, hou: ModuleType, tmp_path: Path) -> None:
    network, plate = plate_cop(hou, tmp_path)
    node = fd.create_node(network, plate)
    fd.render(node)
    node.parm("precision").set("fp16")
    node.parm("precision").press()  # the parm's own callback
    assert node.parm("status").evalAsString() == "Stale: settings changed since the last render; press Render depth"
    node.parm("precision").set("default")
    node.parm("precision").press()
    assert node.parm("status").evalAsString().startswith("Up to date: 5 frames (1001-1005)")

    node.parm("status").set("")
    runpy.run_path(str(PYTHON_LIBS / "pythonrc.py"))
    hou.hipFile.load(hou.hipFile.path())
    assert node.parm("status").evalAsString().startswith("Up to date: 5 frames")


def test_interrupt_cancels_the_engine_and_keeps_finished_frames(fd: Any, hou: ModuleType, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_ENGINE_MODE", "slow")
    monkeypatch.setenv("FAKE_ENGINE_DELAY", "0.05")
    network, plate = plate_cop(hou, tmp_path)
    plate.frame_range = (1001.0, 1100.0)
    node = fd.create_node(network, plate)
    hou.interrupt = lambda fraction: fraction > 0  # the artist presses Esc once a frame is done
    result = fd.render(node)
    assert result.cancelled and 1 <= len(result.written) < 100
    status = node.parm("status").evalAsString()
    assert status == f"Cancelled: {len(result.written)} frames kept", status
    fd.refresh_status(node)
    assert node.parm("status").evalAsString() == (
        f"Partial: {len(result.written)} of 100 frames rendered; press Render depth to finish")


def test_a_cop2_node_tree_is_saved_to_temporary_exrs_first(fd: Any, hou: ModuleType, tmp_path: Path) -> None:
    network, plate = plate_cop(hou, tmp_path)
    blur = network.createNode("blur")
    blur.setInput(0, plate)
    blur.frame_range = (1001.0, 1005.0)
    node = fd.create_node(network, blur)
    fd.render(node)
    source = tmp_path / "fx" / "flashdepth" / "flashdepth1" / "source" / "flashdepth1.$F4.exr"
    assert blur.saved == [(str(source), (1001.0, 1005.0))]
    assert (source.parent / "flashdepth1.1003.exr").is_file()
    settings, export_from = fd.read_settings(node)
    assert settings.plate == str(source) and export_from is blur
    assert node.parm("status").evalAsString().startswith("Done: 5 frames")


def test_errors_become_one_status_line(fd: Any, hou: ModuleType, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    network, plate = plate_cop(hou, tmp_path, "copnet")
    lonely = fd.create_node(network)
    assert lonely.parm("status").evalAsString() == (
        "/img/comp/flashdepth1 has no plate: connect a File COP or set the Plate parameter")
    assert fd.render(lonely) is None
    assert lonely.parm("status").evalAsString().startswith("Error: /img/comp/flashdepth1 has no plate")

    lonely.parm("plate").set(str(tmp_path / "plates" / "shot.####.exr"))  # an explicit plate needs no input
    monkeypatch.setenv("FAKE_ENGINE_MODE", "fail")
    assert fd.render(lonely).error == fake_engine.ERROR_MESSAGE
    assert lonely.parm("status").evalAsString() == f"Error: {fake_engine.ERROR_MESSAGE}"
    assert lonely.node("depth").parm("filename").evalAsString() == ""
    monkeypatch.setenv("FLASHDEPTH_VFX_BIN", "/nowhere/flashdepth-vfx")
    assert fd.render(lonely) is None
    assert lonely.parm("status").evalAsString().startswith("Error: $FLASHDEPTH_VFX_BIN points at")
