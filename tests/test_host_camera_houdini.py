"""The Houdini node's Camera parameter (an OBJ camera, sampled through HOM into the .chan the shot solve reads)
and its P / N passes, against tests/fakes/hou.py (an OBJ camera under a parent, keyed parameters)."""
from __future__ import annotations

import math
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from flashdepth_vfx.errors import FlashDepthError
from test_host_houdini import fd, hou, plate_cop, render, status  # noqa: F401 - fixtures
from test_host_nuke import option


def _houdini_camera(hou: ModuleType) -> Any:
    """An OBJ camera under a rig null (tz 5, ry 90), keyed over frames 1001-1005: tx dollies, focal zooms."""
    rig = hou.node("/obj").createNode("null", "rig")
    rig.parm("tz").set(5.0)
    rig.parm("ry").set(90.0)
    camera = hou.node("/obj").createNode("cam", "shotcam")
    camera.setInput(0, rig)
    camera.parm("tx").set_keys({1001.0: 0.0, 1005.0: 0.4})
    camera.parm("focal").set_keys({1001.0: 40.0, 1005.0: 60.0})
    camera.parm("aperture").set(36.0)
    camera.parm("resx").set(1920)
    camera.parm("resy").set(1080)
    return camera


def test_houdini_camera_world_transform_and_lens_become_the_chan_and_the_solve_args(
        fd: Any, hou: ModuleType, tmp_path: Path) -> None:
    network, plate = plate_cop(hou, tmp_path, "copnet")
    node = fd.create_node(network, plate)
    camera = _houdini_camera(hou)
    node.parm("fd_camera").set(camera.path())
    node.parm("fd_points").set(str(tmp_path / "track.csv"))
    node.parm("fd_position").set("camera")
    node.parm("fd_normals").set("world")
    task = render(fd, hou, node)
    assert status(node).startswith("Done: 5 frames"), status(node)

    args = task.engine.job.to_args()
    chan = Path(option(args, "--camera"))
    assert option(args, "--filmback") == "36x20.25"  # 36 * 1080 / 1920
    assert option(args, "--position") == "camera" and option(args, "--normals") == "world"
    assert option(args, "--points") == str(tmp_path / "track.csv") and "--passthrough" not in args
    rows = [[float(v) for v in line.split()] for line in chan.read_text().splitlines()]
    assert [row[0] for row in rows] == [1001, 1002, 1003, 1004, 1005]
    # frame 1003: tx 0.2 under the rig (ry 90 turns +x to -z, then tz 5): world (0, 0, 4.8), rotate y 90
    assert rows[2][1:7] == pytest.approx([0.0, 0.0, 4.8, 0.0, 90.0, 0.0], abs=1e-9)
    assert rows[2][7] == pytest.approx(math.degrees(2 * math.atan(20.25 / 100.0)))  # 50 mm at 1003
    assert node.parm("aovs").eval() == 3 and [node.parm(f"aov{i}").eval() for i in range(1, 4)] == ["depth", "P", "N"]

    key = fd.read_settings(node).settings.key()
    camera.parm("focal").set_keys({1001.0: 40.0, 1005.0: 61.0})
    assert fd.read_settings(node).settings.key() != key
    camera.parm("winx").set(0.1)
    with pytest.raises(FlashDepthError, match="screen window offset at frame 1001"):
        fd.read_settings(node)
    node.parm("fd_camera").set(network.path())
    with pytest.raises(FlashDepthError, match="is not an OBJ camera"):
        fd.read_settings(node)
