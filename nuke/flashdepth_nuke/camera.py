"""The FlashDepth node's optional Camera input: its animation sampled at the rendered frames for the shot solve.

Foundry's Camera node: ``translate`` / ``rotate`` (XYZ knobs; rotations in degrees, applied in ``rot_order``,
ZXY by default), ``xform_order`` (SRT by default), ``focal`` and ``haperture`` / ``vaperture`` (mm), ``win_translate``
(a lens shift), ``useMatrix`` (a typed-in matrix instead of the knobs), and input 0, an optional parent Axis. The
samples are the knob values at the script frame that shows each file frame, so they line up with the plate in
every Read frame mode. Cameras whose view the knobs alone do not give (a parent, a matrix, another transform
order, a lens shift) are refused with a line saying what to bake.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import nuke

from flashdepth_vfx.errors import FlashDepthError
from flashdepth_vfx.hosts.camera import CameraSample

CAMERA_INPUT = 1
"""The FlashDepth Group's input the camera connects to (0 is the plate)."""
CAMERA_CLASSES = ("Camera", "Camera2", "Camera3", "Camera4")


def connected_camera(group: nuke.Node) -> Optional[nuke.Node]:
    """The camera on the node's Camera input (None when nothing is connected); FlashDepthError for another node."""
    camera = group.input(CAMERA_INPUT)
    if camera is None:
        return None
    if camera.Class() not in CAMERA_CLASSES:
        raise FlashDepthError(f"{group.name()}'s Camera input is a {camera.Class()} ({camera.name()}): connect a "
                              "Camera node")
    return camera


def _numbers(camera: nuke.Node, name: str) -> nuke.Array_Knob:
    knob = camera.knob(name)
    if not isinstance(knob, nuke.Array_Knob):
        raise FlashDepthError(f"{camera.name()} has no {name} knob: connect a Camera node")
    return knob


def _check(camera: nuke.Node) -> None:
    """FlashDepthError when the camera's knobs alone do not give its view."""
    name = camera.name()
    parent = camera.input(0)
    if parent is not None:
        raise FlashDepthError(f"{name} has a parent ({parent.name()}): bake its world animation into a "
                              "camera without a parent (Edit > Bake, or a baked export) and connect that")
    use_matrix = camera.knob("useMatrix")
    if use_matrix is not None and bool(use_matrix.value()):
        raise FlashDepthError(f"{name} uses a typed-in matrix: switch 'specify matrix' off and key its transform")
    order = camera.knob("xform_order")
    if order is not None and str(order.value()) != "SRT":
        raise FlashDepthError(f"{name}'s transform order is {order.value()}: the solve reads SRT (Nuke's default)")


def rotation_order(camera: nuke.Node) -> str:
    """The camera's rotation order (Nuke's default ZXY when the knob is missing)."""
    knob = camera.knob("rot_order")
    return str(knob.value()).upper() if knob is not None else "ZXY"


def sample_camera(camera: nuke.Node, frames: Sequence[Tuple[int, int]]) -> List[CameraSample]:
    """The camera at each (file frame, script frame) pair: its knobs at the script frame, labelled with the
    file frame the engine renders."""
    _check(camera)
    translate, rotate = _numbers(camera, "translate"), _numbers(camera, "rotate")
    focal, h_ap, v_ap = _numbers(camera, "focal"), _numbers(camera, "haperture"), _numbers(camera, "vaperture")
    shift = camera.knob("win_translate")
    samples = []
    for file_frame, script_frame in frames:
        t = float(script_frame)
        if isinstance(shift, nuke.Array_Knob) and (float(shift.valueAt(t, 0)), float(shift.valueAt(t, 1))) != (0, 0):
            raise FlashDepthError(f"{camera.name()} has a lens shift (win_translate) at frame {script_frame}: the "
                                  "solve's .chan camera has none")
        samples.append(CameraSample(file_frame, _xyz(translate, t), _xyz(rotate, t), float(focal.valueAt(t)),
                                    float(h_ap.valueAt(t)), float(v_ap.valueAt(t))))
    return samples


def _xyz(knob: nuke.Array_Knob, time: float) -> Tuple[float, float, float]:
    return float(knob.valueAt(time, 0)), float(knob.valueAt(time, 1)), float(knob.valueAt(time, 2))
