"""The Nuke plugin (nuke/) against tests/fakes/nuke.py, rendering with the fake engine (tests/fake_engine.py)
as a real subprocess from the node's worker thread."""
from __future__ import annotations

import json
import runpy
import shlex
import sys
import types
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import pytest

import fake_engine
from fakes import nuke as fake_nuke
from flashdepth_vfx.hosts.common import CachedRender

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
    return fake_nuke


@pytest.fixture
def fd(nuke: ModuleType) -> Any:
    import flashdepth_nuke.node

    return flashdepth_nuke.node


@pytest.fixture
def read(nuke: ModuleType, tmp_path: Path) -> Any:
    return nuke.nodes.Read(file=str(tmp_path / "plates" / "shot.%04d.exr"), first=1001, last=1005,
                           colorspace="ACES - ACEScg")


def finish(fd: Any, group: Any, timeout: float = 30.0) -> None:
    """Wait for the node's worker thread, then run what it queued for Nuke's main thread."""
    worker = fd.running(group)
    assert worker is not None, group["status"].value()
    worker.join(timeout)
    assert not worker.is_alive()
    fake_nuke.run_main_thread()


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_node_has_its_knobs_inner_graph_and_defaults_from_the_upstream_read(fd: Any, read: Any) -> None:
    group = fd.create_node(read)
    assert group.Class() == "Group" and group.name() == "FlashDepth1" and group.input(0) is read
    assert group["colorspace"].value() == "ACES - ACEScg"
    assert group["frames"].value() == "1001-1005"
    assert [group[k].value() for k in ("model", "mode", "device", "precision", "output")] == [
        "default", "depth", "auto", "default", ""]
    assert group["render"].label() == "Render depth" and not group["cancel"].getFlag(fake_nuke.STARTLINE)
    assert "upstream Read" in group["colorspace"].tooltip()
    assert group["flashdepth_result"].getFlag(fake_nuke.INVISIBLE)
    assert group["status"].value() == "Not rendered yet: press Render depth"
    plate, depth_read, copy = (group.node(n) for n in ("Plate", "DepthRead", "AddDepth"))
    assert (plate.Class(), depth_read.Class(), copy.Class()) == ("Input", "Read", "Copy")
    assert copy.input(0) is plate and copy.input(1) is depth_read
    assert (copy["from0"].value(), copy["to0"].value(), copy["disable"].value()) == ("depth.Z", "depth.Z", True)
    assert depth_read["raw"].value() is True
    output = next(n for n in group.nodes() if n.Class() == "Output")
    assert output.input(0) is copy


def test_defaults_from_a_node_tree_and_nuke_default_colourspace(fd: Any, nuke: ModuleType, read: Any) -> None:
    read["colorspace"].setValue("default (sRGB)")
    assert fd.create_node(read)["colorspace"].value() == "sRGB"
    blur = nuke.nodes.Blur()
    blur.setInput(0, read)
    nuke.select(blur)
    group = fd.create_node()  # fed by the selection
    assert group.input(0) is blur and group.name() == "FlashDepth2"
    assert (group["colorspace"].value(), group["frames"].value()) == ("scene_linear", "1001-1005")

    nuke.select()
    later = fd.create_node()  # no input yet: nothing to default from
    assert (later["colorspace"].value(), later["frames"].value()) == ("", "")
    assert later["status"].value() == "FlashDepth3 has no input: connect a Read or a node tree to it"
    later.setInput(0, read)
    nuke.knob_changed(later, "inputChange")
    assert (later["colorspace"].value(), later["frames"].value()) == ("sRGB", "1001-1005")
    assert later["status"].value() == "Not rendered yet: press Render depth"


def test_plugin_folder_adds_the_project_and_a_toolbar_entry(nuke: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLASHDEPTH_VFX_PATH", str(ROOT))
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(ROOT)])
    runpy.run_path(str(ROOT / "nuke" / "init.py"))
    assert sys.path[0] == str(ROOT)
    panels: list[tuple[str, ...]] = []
    nukescripts = types.SimpleNamespace(panels=types.SimpleNamespace(registerWidgetAsPanel=lambda *a: panels.append(a)))
    monkeypatch.setitem(sys.modules, "nukescripts", nukescripts)
    runpy.run_path(str(ROOT / "nuke" / "menu.py"))
    import flashdepth_nuke.node

    assert nuke.toolbar("Nodes").items["FlashDepth"].items["FlashDepth"] is flashdepth_nuke.node.create_node
    assert nuke.script_load_callbacks == [flashdepth_nuke.node.refresh_all]
    assert [p[1:] for p in panels] == [("FlashDepth", "com.flashdepth-vfx.DepthPanel")]  # the shared panel docks


def test_render_button_runs_the_engine_in_a_worker_and_loads_depth(fd: Any, nuke: ModuleType, read: Any,
                                                                    tmp_path: Path) -> None:
    group = fd.create_node(read)
    group["render"].execute()  # the button's own script
    worker = fd.running(group)
    assert group["status"].value() == "Starting the depth engine"
    worker.join(30)
    assert nuke.main_thread_queue, "status updates must go through executeInMainThread"
    nuke.run_main_thread()

    out_dir = tmp_path / "comp" / "flashdepth" / "FlashDepth1"
    assert group["output"].value() == str(out_dir)
    args = worker.render.job.to_args()
    assert args[:4] == ["render", str(tmp_path / "plates" / "shot.%04d.exr"), "-o", str(out_dir / "shot_depth.%04d.exr")]
    assert args[args.index("--colorspace") + 1] == "ACES - ACEScg" and args[args.index("--frames") + 1] == "1001-1005"

    [task] = nuke.progress_tasks
    assert task.thread is worker and task.progress[-1] == 100 and task.progress == sorted(task.progress)
    assert task.messages[-1].startswith("Frame 1005 (5/5)")
    assert group["status"].value().startswith("Done: 5 frames in ")
    assert "1 warnings" in group["status"].value()

    depth_read, copy = group.node("DepthRead"), group.node("AddDepth")
    assert depth_read["file"].value() == str(out_dir / "shot_depth.%04d.exr")
    assert [depth_read[k].value() for k in ("first", "last", "origfirst", "origlast")] == [1001, 1005, 1001, 1005]
    assert copy["disable"].value() is False
    assert sorted(p.name for p in out_dir.iterdir()) == [f"shot_depth.{f}.exr" for f in range(1001, 1006)]
    stored = CachedRender.from_json(group["flashdepth_result"].value())
    assert stored is not None and stored.fingerprint == worker.render.job.fingerprint() and stored.written == 5
    assert fd.running(group) is None


def test_changed_knob_marks_the_result_stale_and_reopening_finds_it(fd: Any, nuke: ModuleType, read: Any,
                                                                     tmp_path: Path) -> None:
    group = fd.create_node(read)
    fd.render(group)
    finish(fd, group)
    group["mode"].setValue("disparity")
    nuke.knob_changed(group, "mode")  # runs the node's knobChanged script
    assert group["status"].value() == "Stale: settings changed since the last render; press Render depth"
    group["mode"].setValue("depth")
    nuke.knob_changed(group, "mode")
    assert group["status"].value().startswith("Up to date: 5 frames (1001-1005)")

    saved = json.loads(group["flashdepth_result"].value())
    group["status"].setValue("")
    nuke.script_load_callbacks.append(fd.refresh_all)  # what menu.py registers
    nuke.load_script(str(tmp_path / "comp" / "shot.nk"))
    assert group["status"].value().startswith("Up to date: 5 frames")
    for frame in range(1001, 1006):
        Path(saved["output"] % frame).unlink()
    nuke.load_script(str(tmp_path / "comp" / "shot.nk"))
    assert group["status"].value().startswith("Depth files missing")


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
    assert status.startswith("Cancelled: ") and status.endswith(" frames kept"), status
    stored = CachedRender.from_json(group["flashdepth_result"].value())
    assert stored is not None and 1 <= stored.written < 100 and stored.total == 100
    fd.refresh_status(group)
    assert group["status"].value() == f"Partial: {stored.written} of 100 frames rendered; press Render depth to finish"


def test_a_node_tree_input_is_written_to_temporary_exrs_first(fd: Any, nuke: ModuleType, read: Any,
                                                               tmp_path: Path) -> None:
    blur = nuke.nodes.Blur()
    blur.setInput(0, read)
    group = fd.create_node(blur)
    group["frames"].setValue("")  # empty: the input's whole range is written
    worker = fd.render(group)
    finish(fd, group)
    source = tmp_path / "comp" / "flashdepth" / "FlashDepth1" / "source" / "FlashDepth1.%04d.exr"
    assert nuke.executed == [("FlashDepth1.Write1", [1001, 1002, 1003, 1004, 1005])]
    assert all(Path(str(source) % f).is_file() for f in range(1001, 1006))
    assert not [n for n in group.nodes() if n.Class() == "Write"], "the temporary Write must be deleted"
    assert worker.render.job.plate == str(source) and worker.render.job.colorspace == "scene_linear"
    assert group["status"].value().startswith("Done: 5 frames")


def test_engine_error_and_missing_input_become_one_status_line(fd: Any, nuke: ModuleType, read: Any,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    lonely = fd.create_node()
    assert fd.render(lonely) is None
    assert lonely["status"].value() == "Error: FlashDepth1 has no input: connect a Read or a node tree to it"

    monkeypatch.setenv("FAKE_ENGINE_MODE", "fail")
    group = fd.create_node(read)
    fd.render(group)
    finish(fd, group)
    assert group["status"].value() == f"Error: {fake_engine.ERROR_MESSAGE}"
    assert group.node("DepthRead")["file"].value() == "" and group.node("AddDepth")["disable"].value() is True

    monkeypatch.setenv("FLASHDEPTH_VFX_BIN", "/nowhere/flashdepth-vfx")
    fd.render(group)
    finish(fd, group)
    assert group["status"].value().startswith("Error: $FLASHDEPTH_VFX_BIN points at '/nowhere/flashdepth-vfx'")


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
