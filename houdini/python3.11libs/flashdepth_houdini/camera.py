"""The FlashDepth node's Camera parameter: an OBJ camera sampled per frame through HOM for the shot solve.

The world transform comes from ``hou.ObjNode.worldTransformAtTime`` (parents, constraints and pre-transforms
included), decomposed as scale-rotate-translate with rotations in Nuke's ZXY order, the order the .chan file is
read in; the lens from the camera's parameters at the frame (``parm.evalAtFrame``): ``focal``, ``aperture`` (the
horizontal aperture), and the vertical aperture Houdini derives from the resolution and pixel aspect
(``aperture * resy / (resx * aspect)``). Frames are Houdini frames, which the node renders as file frames
(the plate's frame numbers). A screen window offset (``winx`` / ``winy``) is a lens shift the .chan cannot hold:
refused with a line saying so.
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import hou

from flashdepth_vfx.errors import FlashDepthError
from flashdepth_vfx.hosts.camera import CameraSample

CHAN_ROTATION_ORDER = "ZXY"
"""The rotation order the samples are decomposed in (Nuke's default; the .chan written says nothing else)."""


def camera_at(node: hou.OpNode, path: str) -> Optional[hou.ObjNode]:
    """The OBJ camera the node's Camera parameter names (relative to the node, or absolute); None when empty."""
    path = path.strip()
    if not path:
        return None
    camera = node.node(path)
    if camera is None:
        raise FlashDepthError(f"{node.path()}: no camera at {path!r}: pick an OBJ camera for Camera")
    if not isinstance(camera, hou.ObjNode) or camera.type().name() != "cam":
        raise FlashDepthError(f"{node.path()}: {camera.path()} is not an OBJ camera: pick a Camera object")
    return camera


def _value(camera: hou.ObjNode, name: str, frame: int) -> float:
    parm = camera.parm(name)
    if parm is None:
        raise FlashDepthError(f"{camera.path()} has no {name} parameter: pick a Camera object")
    return float(parm.evalAtFrame(frame))


def sample_camera(camera: hou.ObjNode, frames: Sequence[int]) -> List[CameraSample]:
    """The camera's world transform and lens at each of ``frames``."""
    units = camera.parm("focalunits")
    if units is not None and units.evalAsString() != "mm":
        raise FlashDepthError(f"{camera.path()}: Focal Units is {units.evalAsString()}; set it to millimeters")
    samples = []
    for frame in frames:
        if _value(camera, "winx", frame) != 0.0 or _value(camera, "winy", frame) != 0.0:
            raise FlashDepthError(f"{camera.path()} has a screen window offset at frame {frame}: the solve's .chan "
                                  "camera has no lens shift")
        world = camera.worldTransformAtTime(hou.frameToTime(frame))
        translate = world.extractTranslates("srt")
        rotate = world.extractRotates("srt", "zxy")
        aperture = _value(camera, "aperture", frame)
        aspect = _value(camera, "resx", frame) * _value(camera, "aspect", frame) / _value(camera, "resy", frame)
        samples.append(CameraSample(frame, (translate[0], translate[1], translate[2]),
                                    (rotate[0], rotate[1], rotate[2]), _value(camera, "focal", frame),
                                    aperture, aperture / aspect))
    return samples
