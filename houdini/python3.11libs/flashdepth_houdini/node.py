"""The FlashDepth node for Houdini: a subnet in a COP network (COP2 ``cop2net`` or Copernicus ``copnet``)
with spare parameters, a *Render depth* button and a File COP inside that loads the rendered depth.

The render runs in Houdini's main thread under ``hou.InterruptableOperation`` (Esc or the dialog's
Cancel stops it; frames already written are kept). The fingerprint of the last render is kept in the node's
user data, so a re-opened .hip finds its result and a changed parameter marks it stale.
"""
from __future__ import annotations

import os
import re
from typing import Optional, Tuple

import hou

from flashdepth_vfx.bridge import RenderResult
from flashdepth_vfx.errors import FlashDepthError
from flashdepth_vfx.hosts.common import (
    DEVICES,
    MODELS,
    MODES,
    PRECISIONS,
    RENDER_BUTTON,
    CachedRender,
    NodeRender,
    NodeSettings,
    cache_state,
    default_output_dir,
    houdini_pattern,
    status_line,
    summary,
)

COP2 = "Cop2"        # child category of a "cop2net" (COP Network - Old)
COPERNICUS = "Cop"   # child category of a Copernicus "copnet" (Houdini 20.5+)
FILE_PARM = {COP2: "filename1", COPERNICUS: "filename"}  # the File COP's file name parameter
MARK_KEY = "flashdepth"                # user data marking FlashDepth subnets
RESULT_KEY = "flashdepth_result"       # user data: CachedRender JSON
DEPTH_NODE = "depth"                   # the File COP inside the subnet

# Parameters of the subnet.
PLATE = "plate"
CHECKPOINT = "checkpoint"
MODEL = "model"
COLORSPACE = "colorspace"
MODE = "mode"
FRAMES = "frames"
DEVICE = "device"
PRECISION = "precision"
OUTPUT = "output"
RENDER = "render"
STATUS = "status"

_CALLBACK = "import flashdepth_houdini.node as fd; fd.{}(kwargs['node'])"


def cop_kind(network: hou.Node) -> Optional[str]:
    """COP2 or COPERNICUS for a COP network, None for any other network."""
    category = network.childTypeCategory()
    name = category.name() if category is not None else None
    return name if name in (COP2, COPERNICUS) else None


def _parm_templates() -> Tuple[hou.ParmTemplate, ...]:
    python = hou.scriptLanguage.Python
    refresh = _CALLBACK.format("refresh_status")

    def text(name: str, label: str, tip: str, string_type: hou.EnumValue = hou.stringParmType.Regular,
             file_type: hou.EnumValue = hou.fileType.Any) -> hou.StringParmTemplate:
        return hou.StringParmTemplate(name, label, 1, string_type=string_type, file_type=file_type, help=tip,
                                      script_callback=refresh, script_callback_language=python)

    def menu(name: str, label: str, items: Tuple[str, ...]) -> hou.MenuParmTemplate:
        return hou.MenuParmTemplate(name, label, items, script_callback=refresh, script_callback_language=python)

    files = hou.stringParmType.FileReference
    return (
        text(PLATE, "Plate", "Plate sequence (shot.####.exr); empty: the File COP connected to the input.", files),
        text(CHECKPOINT, "Checkpoint", "A FlashDepth checkpoint file; when set it wins over Model.", files),
        menu(MODEL, "Model", MODELS),
        text(COLORSPACE, "Colour Space", "OCIO colour space of the plate; defaults to the input File COP's."),
        menu(MODE, "Output Mode", MODES),
        text(FRAMES, "Frame Range", "Frames to render, e.g. 1001-1100; empty: the whole sequence."),
        menu(DEVICE, "Device", DEVICES),
        menu(PRECISION, "Precision", PRECISIONS),
        text(OUTPUT, "Output Folder", "Folder for the depth EXRs; empty: $HIP/flashdepth/<node name>.",
             files, hou.fileType.Directory),
        hou.ButtonParmTemplate(RENDER, RENDER_BUTTON, script_callback=_CALLBACK.format("render"),
                               script_callback_language=python),
        hou.StringParmTemplate(STATUS, "Status", 1, help="Set by FlashDepth."),
    )


def create_node(network: hou.OpNode, plate_node: Optional[hou.OpNode] = None) -> hou.OpNode:
    """Make a FlashDepth subnet in ``network`` (a COP2 or Copernicus network), fed by ``plate_node``."""
    kind = cop_kind(network)
    if kind is None:
        raise FlashDepthError(f"{network.path()} is not a COP network: create FlashDepth inside a cop2net or copnet")
    node = network.createNode("subnet", "flashdepth1")
    if plate_node is not None:
        node.setInput(0, plate_node)
    group = node.parmTemplateGroup()
    for template in _parm_templates():
        group.append(template)
    node.setParmTemplateGroup(group)
    depth = node.createNode("file", DEPTH_NODE)
    if isinstance(depth, hou.Cop2Node):
        depth.setDisplayFlag(True)
        depth.setRenderFlag(True)
    node.setUserData(MARK_KEY, "1")
    apply_input_defaults(node)
    refresh_status(node)
    node.moveToGoodPosition()
    return node


def create_from_selection() -> hou.OpNode:
    """Shelf tool: a FlashDepth node after the selected COP, or in a new COP network under /img."""
    selected = [n for n in hou.selectedNodes() if isinstance(n, hou.OpNode)]
    plate_node = selected[0] if selected else None
    parent = plate_node.parent() if plate_node is not None else None
    if isinstance(parent, hou.OpNode) and cop_kind(parent) is not None:
        network = parent
    else:
        plate_node = None
        img = hou.node("/img")
        if not isinstance(img, hou.OpNode):
            raise FlashDepthError("no /img network in this scene: select a COP node and run FlashDepth again")
        copernicus = hou.applicationVersion() >= (20, 5, 0)
        network = img.createNode("copnet" if copernicus else "cop2net", "flashdepth")
    node = create_node(network, plate_node)
    node.setSelected(True, clear_all_selected=True)
    return node


def _input_file_parm(node: hou.OpNode) -> Optional[hou.Parm]:
    """The file name parameter of the File COP connected to the node's input, if it is one."""
    upstream = node.input(0)
    if upstream is None or upstream.type().name() != "file":
        return None
    parent = upstream.parent()
    kind = cop_kind(parent) if parent is not None else None
    return upstream.parm(FILE_PARM[kind]) if kind is not None else None


def _expand(path: str) -> str:
    """Expand variables ($HIP, $JOB) but keep the frame token, as ``####``."""
    path = re.sub(r"\$\{?F(\d*)\}?", lambda m: "#" * int(m.group(1) or 1), path)
    return hou.text.expandString(path)


def apply_input_defaults(node: hou.OpNode, force: bool = False) -> None:
    """Fill the colour space and frame range from the input (only empty parameters, unless ``force``)."""
    upstream = node.input(0)
    if upstream is None:
        return
    defaults = {}
    ocio = upstream.parm("ocio_space")
    if ocio is not None:
        defaults[COLORSPACE] = ocio.evalAsString()
    if isinstance(upstream, hou.Cop2Node):
        defaults[FRAMES] = f"{int(upstream.sequenceStartFrame())}-{int(upstream.sequenceEndFrame())}"
    for name, value in defaults.items():
        parm = node.parm(name)
        if parm is not None and value and (force or not parm.evalAsString().strip()):
            parm.set(value)


def _parm(node: hou.OpNode, name: str) -> hou.Parm:
    parm = node.parm(name)
    if parm is None:
        raise FlashDepthError(f"{node.path()} has no '{name}' parameter: create a new FlashDepth node")
    return parm


def _text(node: hou.OpNode, name: str) -> str:
    return _parm(node, name).evalAsString()


def _base_dir() -> Optional[str]:
    return None if hou.hipFile.isNewFile() else os.path.dirname(hou.hipFile.path())


def read_settings(node: hou.OpNode) -> Tuple[NodeSettings, Optional[hou.Cop2Node]]:
    """The node's settings, and the COP2 node whose image must first be written to the plate path when
    the input is a node tree rather than a File COP."""
    output_dir = _text(node, OUTPUT).strip() or default_output_dir(_base_dir(), node.name())
    export_from: Optional[hou.Cop2Node] = None
    plate = _expand(_parm(node, PLATE).unexpandedString()).strip()  # an explicit plate wins over the input
    file_parm = _input_file_parm(node)
    upstream = node.input(0)
    if not plate and file_parm is not None:
        plate = _expand(file_parm.unexpandedString())
    elif not plate and isinstance(upstream, hou.Cop2Node):
        plate, export_from = os.path.join(output_dir, "source", f"{node.name()}.$F4.exr"), upstream
    elif not plate:
        raise FlashDepthError(f"{node.path()} has no plate: connect a File COP or set the Plate parameter")
    names = (CHECKPOINT, MODEL, COLORSPACE, MODE, FRAMES, DEVICE, PRECISION)
    settings = NodeSettings(plate=plate, output_dir=output_dir, **{name: _text(node, name) for name in names})
    return settings, export_from


def _set_status(node: hou.OpNode, message: str) -> None:
    parm = node.parm(STATUS)
    if parm is not None:
        parm.set(message.replace("$", "\\$"))  # shown as written, not expanded like $HIP


def render(node: hou.OpNode) -> Optional[RenderResult]:
    """*Render depth*: render under an interruptable operation, then load the result into the File COP."""
    try:
        settings, export_from = read_settings(node)
        if not _text(node, OUTPUT).strip():
            _parm(node, OUTPUT).set(settings.output_dir)  # keeps the fingerprint stable if the .hip moves
        if export_from is not None:
            os.makedirs(os.path.dirname(settings.plate), exist_ok=True)
            export_from.saveImage(settings.plate, (export_from.sequenceStartFrame(), export_from.sequenceEndFrame()))
        work = NodeRender(settings.job())
        try:
            with hou.InterruptableOperation("FlashDepth depth render", open_interrupt_dialog=True) as operation:
                shown = [""]

                def report(fraction: Optional[float], message: str) -> None:
                    operation.updateProgress(fraction if fraction is not None else -1.0)  # raises on Esc
                    if message != shown[0]:
                        shown[0] = message
                        _set_status(node, message)

                result = work.run(report)
        except hou.OperationInterrupted:
            result = work.wait()
    except (FlashDepthError, hou.OperationFailed) as exc:
        _set_status(node, f"Error: {exc}")
        return None
    cached = work.cached(result)
    if cached is not None:
        node.setUserData(RESULT_KEY, cached.to_json())
        load_result(node, cached)
    _set_status(node, summary(result))
    return result


def load_result(node: hou.OpNode, cached: CachedRender) -> None:
    """Point the File COP inside the subnet at the depth frames."""
    depth = node.node(DEPTH_NODE)
    kind = cop_kind(node)
    parm = depth.parm(FILE_PARM[kind]) if depth is not None and kind is not None else None
    if parm is None:
        raise FlashDepthError(f"{node.path()} is missing its '{DEPTH_NODE}' File COP: create a new FlashDepth node")
    parm.set(houdini_pattern(cached.output))


def refresh_status(node: hou.OpNode) -> None:
    """Show whether the stored result still matches the node's parameters."""
    cached = CachedRender.from_json(node.userData(RESULT_KEY) or "")
    try:
        settings, _ = read_settings(node)
    except FlashDepthError as exc:
        _set_status(node, str(exc))
        return
    _set_status(node, status_line(cache_state(cached, settings.job()), cached))


def flashdepth_nodes() -> Tuple[hou.OpNode, ...]:
    """Every FlashDepth subnet in the scene."""
    root = hou.node("/")
    if root is None:
        return ()
    return tuple(n for n in root.allSubChildren() if isinstance(n, hou.OpNode) and n.userData(MARK_KEY))


def on_hip_event(event_type: hou.EnumValue) -> None:
    """hipFile event callback (registered by pythonrc.py): after a .hip loads, re-check every result."""
    if event_type == hou.hipFileEventType.AfterLoad:
        for node in flashdepth_nodes():
            refresh_status(node)
