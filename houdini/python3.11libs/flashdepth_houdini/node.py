"""The FlashDepth node for Houdini, in either kind of COP network:

* COP2 (``cop2net``, Houdini 19.5+): a ``subnet`` fed by the plate's COP, holding a File COP ``depth`` that
  reads the rendered files and a Merge COP ``with_depth`` (render flag) that adds their planes to the subnet's
  input, so the subnet outputs its input as it is (upstream edits flow through) with the ``depth`` plane added.
* Copernicus (``copnet``, Houdini 20.5+): a Copernicus File COP with FlashDepth's parameters added as spare
  parameters. Its AOV multiparm loads only ``depth`` (and the passes asked) from the rendered files, and its AOVs
  are the node's outputs (SideFX: File Copernicus node), beside the plate COP's own output.

The engine writes only ``depth.Z`` (and the passes): never a second copy of the plate. Renders run in the background (the shared
:class:`flashdepth_vfx.hosts.render.BackgroundRender` thread): every HOM call goes to Houdini's main thread
through SideFX's ``hdefereval`` (one exported COP2 frame at a time, the progress, the result), so the UI never
blocks; the status bar and the status line follow it (no parameter: the .hip stays unmodified while it renders)
and its *Cancel* button stops it. In hython (no UI) the same work runs in the calling thread under
``hou.InterruptableOperation``.

Each settings combination renders into its own version folder (:mod:`flashdepth_vfx.hosts.versions`); the
loader keeps the previous complete version until the new one is complete, the status line and tile colour say
current / partial / stale / missing, and *Finish* completes a partial version with the engine's ``--resume``.
The *Version* menu lists the versions on disk (settings, frame count, complete or partial, date): a chosen one
stays loaded whatever the parameters say (the status says *stale* while its settings differ from theirs);
*Latest* and *Render Depth* follow the parameters again. *Delete Old Versions* removes the versions nobody uses
(:mod:`flashdepth_vfx.hosts.prune`), after asking.

What the buttons do is :mod:`flashdepth_vfx.hosts.controller`, shared with Nuke; this module supplies its host
operations (:class:`_Node`) over HOM. The parameter callbacks and the status line's expression only import it, so an updated install reaches nodes in saved .hip files, and a machine without FlashDepth shows a
one-line message instead of errors. The status line is an expression, so opening a .hip computes it without
modifying the scene.
"""
from __future__ import annotations

import contextlib
import importlib
import os
import re
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, TypeVar, Union, cast

import hou

from flashdepth_vfx.errors import FlashDepthError
from flashdepth_vfx.hosts import controller
from flashdepth_vfx.hosts.camera import OFF, PASSES, solve_args, version_passes
from flashdepth_vfx.hosts.controller import Source
from flashdepth_vfx.hosts.export import ExportCache, content_key, file_stamp, sequence_stamp
from flashdepth_vfx.hosts.farm import FARM_BUTTON
from flashdepth_vfx.hosts.frames import format_frames, script_frames
from flashdepth_vfx.hosts.paths import (
    default_output_dir, frame_file, houdini_pattern, relative_path, sequence_frames,
)
from flashdepth_vfx.hosts.render import BackgroundRender, Report
from flashdepth_vfx.hosts.settings import (
    COMPRESSIONS, DATA_TYPES, DEVICES, FINISH_BUTTON, MODELS, MODES, PRECISIONS, PREVIEW_BUTTON, RENDER_BUTTON,
    NodeSettings,
)
from flashdepth_vfx.hosts.versions import DepthState, DepthVersion, NodeStatus, describe_versions, keep_shown

from .camera import CHAN_ROTATION_ORDER, camera_at, sample_camera

T = TypeVar("T")
_NODE_CLASS: Any = getattr(hou, "OpNode", None) or hou.Node
"""``hou.OpNode`` (Houdini 20.0+), or ``hou.Node`` on Houdini 19.5, which has no OpNode class."""

COP2 = "Cop2"        # child category of a "cop2net" (COP Network - Old)
COPERNICUS = "Cop"   # child category of a Copernicus "copnet" (Houdini 20.5+)
FILE_PARM = {COP2: "filename1", COPERNICUS: "filename"}  # the File COP's file name parameter
COP2_OCIO_MODE = 3   # the COP2 File COP's Color Space menu: entry 3 is OpenColorIO (then ocio_space applies)
COPERNICUS_AOVS = ("depth",)  # the AOVs the Copernicus node loads from the rendered files (the plate is upstream's)
MARK_KEY = "flashdepth"                # user data marking FlashDepth nodes
SHOWN_KEY = "flashdepth_shown"         # user data: the DepthVersion the loader shows (JSON)
LAST_KEY = "flashdepth_last"           # user data: how the last render ended
DEPTH_NODE = "depth"                   # the File COP inside the COP2 subnet
MERGE_NODE = "with_depth"              # the Merge COP inside the COP2 subnet: its input plus the depth planes
IGNORE_CONFLICTS = "Ignore Conflicting Planes"
"""The Merge COP's Plane Conflict entry (SideFX's label) keeping the input's planes over the depth files' C and A."""
DEPTH_CHANNEL = "depth.Z"              # the depth channel in the files: Houdini names the layer "depth"

# Parameters FlashDepth adds ("fd_" keeps them apart from the File COP's own parameters).
PLATE = "fd_plate"
SOURCE = "fd_source"
CHECKPOINT = "fd_checkpoint"
MODEL = "fd_model"
COLORSPACE = "fd_colorspace"
MODE = "fd_mode"
FRAMES = "fd_frames"
DEVICE = "fd_device"
PRECISION = "fd_precision"
MAX_SIZE = "fd_max_size"
DATA_TYPE = "fd_data_type"
COMPRESSION = "fd_compression"
OUTPUT = "fd_output"
CAMERA = "fd_camera"
POINTS = "fd_points"
POSITION = "fd_position"
NORMALS = "fd_normals"
PASS_AOVS = ("P", "N")  # the layers (Copernicus AOVs) the position / normal passes write
RENDER = "fd_render"
PREVIEW = "fd_preview"
FINISH = "fd_finish"
CANCEL = "fd_cancel"
FARM = "fd_farm"
PROGRESS = "fd_progress"  # on nodes of earlier releases (set at every frame, it marked the .hip modified)
STATUS = "fd_status"
VERSION = "fd_version"
PRUNE = "fd_prune"
LATEST = "latest"
"""The Version menu's first token: load the version the parameters make (the previous one until it is done)."""
NOT_INSTALLED = ("FlashDepth is not installed on this machine: install it (flashdepth-vfx houdini/README.md) "
                 "to render or update this node")

# Code stored in the .hip: it only imports this module, and says so in one line where it is missing.
_IMPORT = "try:\n    from flashdepth_houdini import node as fd\nexcept ImportError:\n    fd = None\n"
_CALLBACK = _IMPORT + "if fd is None:\n    hou.ui.setStatusMessage({missing!r})\nelse:\n    fd.{name}(kwargs['node'])\n"
_STATUS_EXPRESSION = _IMPORT + "if fd is None:\n    return {missing!r}\nreturn fd.status_text(hou.pwd())"
_VERSION_MENU = _IMPORT + "if fd is None:\n    return [{latest!r}, 'Latest']\nreturn fd.version_menu(kwargs['node'])"


def cop_kind(network: hou.Node) -> Optional[str]:
    """COP2 or COPERNICUS for a COP network (or a node inside one, for subnets), None for any other network."""
    category = network.childTypeCategory()
    name = category.name() if category is not None else None
    return name if name in (COP2, COPERNICUS) else None


def _callback(name: str) -> str:
    return _CALLBACK.format(missing=NOT_INSTALLED, name=name)


def _parm_templates(kind: str) -> Tuple[hou.ParmTemplate, ...]:
    python = hou.scriptLanguage.Python
    changed = _callback("parm_changed")

    def text(name: str, label: str, tip: str, string_type: hou.EnumValue = hou.stringParmType.Regular,
             file_type: hou.EnumValue = hou.fileType.Any) -> hou.StringParmTemplate:
        return hou.StringParmTemplate(name, label, 1, string_type=string_type, file_type=file_type, help=tip,
                                      script_callback=changed, script_callback_language=python)

    def menu(name: str, label: str, items: Tuple[str, ...]) -> hou.MenuParmTemplate:
        return hou.MenuParmTemplate(name, label, items, script_callback=changed, script_callback_language=python)

    def button(name: str, label: str, action: str) -> hou.ButtonParmTemplate:
        return hou.ButtonParmTemplate(name, label, script_callback=_callback(action), script_callback_language=python)

    files = hou.stringParmType.FileReference
    source: Tuple[hou.ParmTemplate, ...] = ()
    if kind == COPERNICUS:  # a Copernicus File COP has no input to wire the plate into
        source = (text(SOURCE, "Plate COP", "The File COP that reads the plate (used when Plate is empty).",
                       hou.stringParmType.NodeReference),)
    return (
        text(PLATE, "Plate", "Plate sequence (shot.####.exr); empty: the plate COP's files.", files),
        *source,
        text(CHECKPOINT, "Checkpoint", "A FlashDepth checkpoint file; when set it wins over Model.", files),
        menu(MODEL, "Model", MODELS),
        text(COLORSPACE, "Colour Space", "OCIO colour space of the plate; defaults to the File COP's when it "
                                         "is in OpenColorIO mode."),
        menu(MODE, "Output Mode", MODES),
        text(FRAMES, "Frame Range", "Frames to render, e.g. 1001-1100; empty: the whole sequence."),
        menu(DEVICE, "Device", DEVICES),
        menu(PRECISION, "Precision", PRECISIONS),
        hou.IntParmTemplate(MAX_SIZE, "Max Size", 1, min=0, max=8192, script_callback=changed,
                            script_callback_language=python,
                            help="Long side of the model's input in pixels: smaller uses less GPU memory and renders "
                                 "less detail; 0: the model's own. A new size makes a new version."),
        menu(DATA_TYPE, "Data Type", DATA_TYPES),
        menu(COMPRESSION, "Compression", COMPRESSIONS),
        text(OUTPUT, "Output Folder", "Folder for the depth EXRs; empty: $HIP/flashdepth/<node name>, written here "
                                      "(as $HIP/...) at the first render.",
             files, hou.fileType.Directory),
        text(CAMERA, "Camera", "The matchmove's OBJ camera: the shot solve ties the depth to it (depth.Z in scene "
                               "units, steady over the shot). Needs Scene Points.", hou.stringParmType.NodeReference),
        text(POINTS, "Scene Points", "The tracked 3D points of that matchmove (USD, .obj or CSV x,y,z).", files),
        menu(POSITION, "Position Pass", PASSES),
        menu(NORMALS, "Normal Pass", PASSES),
        button(RENDER, RENDER_BUTTON, "render"),
        button(PREVIEW, PREVIEW_BUTTON, "preview"),
        button(FINISH, FINISH_BUTTON, "finish"),
        button(CANCEL, "Cancel", "cancel"),
        button(FARM, FARM_BUTTON, "send_to_farm"),
        hou.StringParmTemplate(STATUS, "Status", 1, help="Whether the depth is current, stale or partial."),
        hou.StringParmTemplate(
            VERSION, "Version", 1, default_value=(LATEST,), item_generator_script=_VERSION_MENU.format(latest=LATEST),
            item_generator_script_language=python, menu_type=hou.menuType.Normal,
            script_callback=_callback("choose_version"), script_callback_language=python,
            help="The depth versions on disk. A chosen one stays loaded whatever the parameters say (the status says "
                 "stale while its settings differ); Latest follows the parameters again."),
        button(PRUNE, "Delete Old Versions", "delete_old_versions"),
    )


def create_node(network: hou.OpNode, plate_node: Optional[hou.OpNode] = None) -> hou.OpNode:
    """Make a FlashDepth node in ``network`` (a COP2 or Copernicus network), reading ``plate_node``'s plate."""
    kind = cop_kind(network)
    if kind is None:
        raise FlashDepthError(f"{network.path()} is not a COP network: create FlashDepth inside a cop2net or copnet")
    if kind == COP2:
        node = network.createNode("subnet", "flashdepth1")
        if plate_node is not None:
            node.setInput(0, plate_node)
    else:
        node = network.createNode("file", "flashdepth1")
    group = node.parmTemplateGroup()
    for template in _parm_templates(kind):
        group.append(template)
    node.setParmTemplateGroup(group)
    _parm(node, STATUS).setExpression(_STATUS_EXPRESSION.format(missing=NOT_INSTALLED), hou.exprLanguage.Python)
    if kind == COP2:
        _depth_onto_input(node)
    else:
        if plate_node is not None:
            _parm(node, SOURCE).set(node.relativePathTo(plate_node))
        _parm(node, "aovs").set(len(COPERNICUS_AOVS))
        for index, aov in enumerate(COPERNICUS_AOVS, start=1):
            _parm(node, f"aov{index}").set(aov)
    node.setUserData(MARK_KEY, "1")
    apply_input_defaults(node)
    node.moveToGoodPosition()
    return node


def create_from_selection(kwargs: Optional[Dict[str, Any]] = None) -> hou.OpNode:
    """Shelf and Tab menu tool: a FlashDepth node after the selected COP, in the network editor's COP network
    (Tab menu), or in a new COP network under /img."""
    pane = (kwargs or {}).get("pane")
    here = pane.pwd() if pane is not None and hasattr(pane, "pwd") else None
    selected = [n for n in hou.selectedNodes() if isinstance(n, _NODE_CLASS)]
    plate_node = selected[0] if selected else None
    parent = plate_node.parent() if plate_node is not None else None
    if isinstance(here, _NODE_CLASS) and cop_kind(here) is not None:
        network = here
        plate_node = plate_node if parent is here else None
    elif isinstance(parent, _NODE_CLASS) and cop_kind(parent) is not None:
        network = parent
    else:
        plate_node = None
        img = hou.node("/img")
        if not isinstance(img, _NODE_CLASS):
            raise FlashDepthError("no /img network in this scene: select a COP node and run FlashDepth again")
        copernicus = hou.applicationVersion() >= (20, 5, 0)
        network = img.createNode("copnet" if copernicus else "cop2net", "flashdepth")
    node = create_node(network, plate_node)
    node.setSelected(True, clear_all_selected=True)
    return node


def _upstream(node: hou.OpNode) -> Optional[hou.OpNode]:
    """The node the plate comes from: the COP2 subnet's input, or the Copernicus node's Plate COP parameter."""
    upstream = node.input(0)
    source = node.parm(SOURCE)
    if upstream is None and source is not None and source.evalAsString().strip():
        found = node.node(source.evalAsString().strip())
        upstream = found if isinstance(found, _NODE_CLASS) else None
    return upstream


def _input_file_parm(node: hou.OpNode) -> Optional[hou.Parm]:
    """The file name parameter of the File COP the plate comes from, if it is one."""
    upstream = _upstream(node)
    if upstream is None or upstream.type().name() != "file":
        return None
    parent = upstream.parent()
    kind = cop_kind(parent) if parent is not None else None
    return upstream.parm(FILE_PARM[kind]) if kind is not None else None


def _ocio_space(node: hou.OpNode) -> Optional[str]:
    """The plate File COP's OCIO colour space, only when its Color Space menu is set to OpenColorIO."""
    upstream = _upstream(node)
    mode, space = (upstream.parm("colorspace"), upstream.parm("ocio_space")) if upstream is not None else (None, None)
    if mode is None or space is None or mode.evalAsInt() != COP2_OCIO_MODE:
        return None
    return space.evalAsString().strip() or None


_VIDEO_FRAME = re.compile(r"<F(\d*)>")
"""A Copernicus File COP's frame token whose number comes from its Video Timing parameters."""


def _expand(path: str) -> str:
    """Expand variables ($HIP, $JOB) but keep the frame token ($F4, or Copernicus' <F>), as ``####``."""
    path = re.sub(r"\$\{?F(\d*)\}?", lambda m: "#" * int(m.group(1) or 1), path)
    path = _VIDEO_FRAME.sub(lambda m: "#" * int(m.group(1) or 1), path)
    return hou.text.expandString(path)


def _video_timing(node: hou.OpNode) -> Dict[str, hou.Parm]:
    """A Copernicus File COP's Video Timing parameters, by label (Video Timing, Video Start Frame, Video
    Frame)."""
    return {parm.parmTemplate().label(): parm for parm in node.parms()
            if parm.parmTemplate().label().startswith("Video ")}


def _follow_video_timing(loader: hou.OpNode, plate: hou.OpNode, version: DepthVersion) -> str:
    """The depth loader's file name, timed like the plate File COP that reads its sequence with ``<F>``: the same
    Video Timing, its start frame moved by where the depth files begin (a sub-range of the plate)."""
    plate_name = plate.parm(FILE_PARM[COPERNICUS])
    token = _VIDEO_FRAME.search(plate_name.unexpandedString()) if plate_name is not None else None
    if plate_name is None or token is None:
        return houdini_pattern(version.pattern)
    timing, own = _video_timing(plate), _video_timing(loader)
    for label, parm in timing.items():
        if label in own:
            own[label].set(parm.eval())
    plate_frames, depth_frames = sequence_frames(_expand(plate_name.unexpandedString())), version.on_disk()
    start = own.get("Video Start Frame")
    if start is not None and plate_frames and depth_frames:
        start.set(int(timing["Video Start Frame"].eval()) + min(depth_frames) - min(plate_frames))
    return re.sub(r"%0?\d*d", token.group(0), version.pattern)


def apply_input_defaults(node: hou.OpNode, force: bool = False) -> None:
    """Fill the colour space and frame range from the input (only empty parameters, unless ``force``)."""
    upstream = _upstream(node)
    if upstream is None:
        return
    defaults = {COLORSPACE: _ocio_space(node) or ""}
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


def _file_frames(spec: str, default: Sequence[int]) -> List[int]:
    """The file frames to render: the Frame Range text, else ``default``."""
    return script_frames(spec, default)


_FRAME_TOKEN = re.compile(r"\$\{?F\d*\}?|<F\d*>")
"""A frame token in a file name parameter ($F4, ${F}, Copernicus' <F>): the parameter names a file sequence."""


def _sequence_parm(parm: hou.Parm) -> Optional[str]:
    """The file sequence a string parameter names with a frame token (as ``####``), else None."""
    if not isinstance(parm.parmTemplate(), hou.StringParmTemplate):
        return None
    try:
        raw = parm.unexpandedString()
    except hou.Error:  # an expression rather than a string
        return None
    return _expand(raw) if _FRAME_TOKEN.search(raw) else None


def content_parts(source: hou.OpNode, frames: Sequence[int]) -> List[str]:
    """What shapes ``source``'s images over its whole sequence ``frames``, one string per upstream node (for
    :func:`content_key`): its path, type and wiring, its parameter values at those frames, and the files those
    values name: a file sequence by :func:`.export.sequence_stamp` (a few file-system calls, none per frame), another
    file by its size and time. The key does not depend on which frames a render asks for, so asking for more
    exports only the new ones."""
    parts: List[str] = []
    seen = set()
    todo = [source]
    while todo:
        node = todo.pop()
        if node.path() in seen:
            continue
        seen.add(node.path())
        inputs = [n for n in node.inputs() if n is not None]
        lines = [f"{node.path()}|{node.type().name()}|{[n.path() for n in inputs]}"]
        for parm in node.parms():
            sequence = _sequence_parm(parm)
            if sequence is not None:
                lines.append(f"{parm.name()}={sequence}|{sequence_stamp(sequence, frames)}")
                continue
            try:  # an animated parameter at every frame asked, any other once
                at = frames if parm.isTimeDependent() else frames[:1]
                values = sorted({str(parm.evalAtFrame(frame)) for frame in at})
            except hou.Error as exc:  # a parameter that cannot evaluate still counts, by its error
                values = [f"error: {exc}"]
            lines.append(f"{parm.name()}={values}")
            if len(values) == 1 and os.path.isabs(values[0]):  # one file, not a frame-varying string
                lines.append(file_stamp(values[0]))
        parts.append("\n".join(lines))
        todo += inputs
    return parts


def read_settings(node: hou.OpNode) -> Source:
    """The node's settings and file frames, and the export to run first when the plate is a COP2 node tree (a
    File COP's files are read directly)."""
    output_dir = _text(node, OUTPUT).strip() or default_output_dir(_base_dir(), node.name())
    plate = _expand(_parm(node, PLATE).unexpandedString()).strip()  # an explicit plate wins over the input
    file_parm = _input_file_parm(node)
    upstream = _upstream(node)
    spec = _text(node, FRAMES)
    export: Optional[ExportCache] = None
    if not plate and file_parm is not None:
        plate = _expand(file_parm.unexpandedString())
        frames = _file_frames(spec, sequence_frames(plate))
    elif not plate and isinstance(upstream, hou.Cop2Node):
        whole = list(range(int(upstream.sequenceStartFrame()), int(upstream.sequenceEndFrame()) + 1))
        frames = _file_frames(spec, whole)
        key = content_key(content_parts(upstream, sorted(set(whole) | set(frames))))
        export = ExportCache.for_network(output_dir, node.name(), key)
        plate = export.pattern
    elif not plate:
        raise FlashDepthError(f"{node.path()} has no plate: connect a File COP or set the Plate parameter")
    else:
        frames = _file_frames(spec, sequence_frames(plate))
    ocio_space = _ocio_space(node)
    camera = camera_at(node, _optional_text(node, CAMERA))
    samples = sample_camera(camera, frames) if camera is not None else []
    solve = solve_args(output_dir, camera.path() if camera is not None else "", samples,
                       CHAN_ROTATION_ORDER, _optional_text(node, POINTS), _optional_text(node, POSITION, OFF),
                       _optional_text(node, NORMALS, OFF))
    settings = NodeSettings(
        plate=plate, output_dir=output_dir, checkpoint=_text(node, CHECKPOINT), model=_text(node, MODEL),
        colorspace=_text(node, COLORSPACE), mode=_text(node, MODE), frames=format_frames(frames) if spec else "",
        device=_text(node, DEVICE), precision=_text(node, PRECISION), max_size=_optional_text(node, MAX_SIZE),
        data_type=_optional_text(node, DATA_TYPE, DATA_TYPES[0]),
        compression=_optional_text(node, COMPRESSION, COMPRESSIONS[0]),
        ocio_config=hou.Color.ocio_configPath() if ocio_space is not None else "", extra_args=solve.args,
    )
    # the depth alone, in the channel the loaders read: the node adds it to its input (no copy of the plate)
    return Source(settings, frames, export, solve, ("--channel", DEPTH_CHANNEL))


def _optional_text(node: hou.OpNode, name: str, default: str = "") -> str:
    """A parameter a node saved by an earlier release may lack."""
    parm = node.parm(name)
    return parm.evalAsString() if parm is not None else default


def _depth_onto_input(node: hou.OpNode) -> hou.OpNode:
    """The COP2 subnet's File COP reading the depth files, its planes merged onto the subnet's input by the Merge COP
    with the render flag (made here for a node created before it had one); returns the File COP."""
    depth = node.node(DEPTH_NODE) or node.createNode("file", DEPTH_NODE)
    if node.node(MERGE_NODE) is None:
        merge = node.createNode("merge", MERGE_NODE)
        conflict = [p for p in merge.parms() if IGNORE_CONFLICTS in p.menuLabels()]
        if not conflict:
            raise FlashDepthError(f"{merge.path()} has no '{IGNORE_CONFLICTS}' option: this Houdini's Merge COP "
                                  "differs from the one FlashDepth knows; report it with your Houdini version")
        conflict[0].set(conflict[0].menuLabels().index(IGNORE_CONFLICTS))
        merge.setInput(0, node.indirectInputs()[0])
        merge.setInput(1, depth)
        if isinstance(merge, hou.Cop2Node):
            merge.setDisplayFlag(True)
            merge.setRenderFlag(True)
    return depth


def _main_thread() -> Any:
    """SideFX's ``hdefereval`` (graphical Houdini only): runs code in Houdini's main thread from a worker."""
    return importlib.import_module("hdefereval")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


_PROGRESS: Dict[str, str] = {}
"""The running renders' progress lines ("40% Frame 1002 (2/5)"), by node session id: the status bar and the status
line show them; no parameter holds them (a parameter set marks the .hip modified)."""


class _Node:
    """The host operations of one FlashDepth node (:class:`flashdepth_vfx.hosts.controller.NodeHost`)."""

    file_input = "a File COP or a Plate"

    def __init__(self, node: hou.OpNode) -> None:
        self.node = node
        self.key = str(node.sessionId())
        self.name = node.name()
        self.path = node.path()
        self.scene = "" if hou.hipFile.isNewFile() else hou.hipFile.path()
        self.background = hou.isUIAvailable()

    def read_source(self) -> Source:
        try:
            return read_settings(self.node)
        except hou.OperationFailed as exc:  # a parameter's expression fails: say so instead of an expression error
            raise FlashDepthError(f"A parameter does not evaluate ({_first_line(exc)}); fix its expression") from None
        except hou.Error as exc:
            raise FlashDepthError(_first_line(exc)) from None

    # Every change below is the node's own bookkeeping, not the artist's: none of it goes on the undo stack.

    def say(self, text: str) -> None:
        with hou.undos.disabler():
            self.node.setUserData(LAST_KEY, text)
        if hou.isUIAvailable():
            hou.ui.setStatusMessage(f"FlashDepth {self.name}: {text}")

    def show(self, status: Union[NodeStatus, FlashDepthError], message: Optional[str]) -> None:
        with hou.undos.disabler():
            if message is not None:
                self.node.setUserData(LAST_KEY, message)
            if isinstance(status, NodeStatus):
                rgba = status.colour
                self.node.setColor(hou.Color(((rgba >> 24 & 255) / 255, (rgba >> 16 & 255) / 255,
                                              (rgba >> 8 & 255) / 255)))
                self.choose(status.shown if status.chosen else None)
        _remember_status(self.node, status)

    def shown(self) -> Optional[DepthVersion]:
        return _shown(self.node)

    def chosen(self) -> bool:
        shown = self.shown()
        return shown is not None and shown.key == _chosen_key(self.node)

    def choose(self, version: Optional[DepthVersion]) -> None:
        parm = self.node.parm(VERSION)
        value = version.key if version is not None else LATEST
        if parm is not None and parm.evalAsString() != value:
            with hou.undos.disabler():
                parm.set(value)

    def load(self, version: Optional[DepthVersion], source: Source, reload: bool) -> None:
        if version is not None:  # (None: the record stays, and the status says which depth went missing)
            with hou.undos.disabler():
                self.node.setUserData(SHOWN_KEY, version.to_json())
                load_version(self.node, version)

    def keep_output_dir(self, output_dir: str) -> None:
        if not _text(self.node, OUTPUT).strip():  # $HIP-relative: every machine and mount opening the .hip finds it
            with hou.undos.disabler():
                _parm(self.node, OUTPUT).set(relative_path(output_dir, _base_dir(), "$HIP"))

    def ask(self, question: str, details: str) -> bool:
        if not hou.isUIAvailable():
            return True
        return hou.ui.displayMessage(question, buttons=("Yes", "No"), severity=hou.severityType.Warning,
                                     default_choice=1, close_choice=1, details=details) == 0

    def later(self, call: Callable[[], None]) -> None:
        def guarded() -> None:
            try:
                call()
            except hou.ObjectWasDeleted:  # the node was deleted meanwhile
                pass

        if self.background:
            _main_thread().executeDeferred(guarded)
        else:
            guarded()

    def now(self, call: Callable[[], T]) -> T:
        return cast(T, _main_thread().executeInMainThreadWithResult(call)) if self.background else call()

    @contextlib.contextmanager
    def progress(self, task: BackgroundRender) -> Iterator[Report]:
        if self.background:
            yield lambda fraction, message: None
            return
        # hython: no event loop to hand work to, so the render runs here, Esc / the dialog's button cancelling it
        with hou.InterruptableOperation("FlashDepth depth render", open_interrupt_dialog=True) as operation:
            def poll(fraction: Optional[float], message: str) -> None:
                try:
                    operation.updateProgress(fraction if fraction is not None else -1.0)
                except hou.OperationInterrupted:
                    task.cancel()

            yield poll

    def current_frame(self) -> int:
        return int(round(hou.frame()))

    def show_progress(self, fraction: Optional[float], message: Optional[str]) -> None:
        # no parameter is set: that would mark the .hip modified at every frame (SideFX documents no way around it)
        if message is None:
            _PROGRESS.pop(self.key, None)
            return
        line = f"{int(round(100 * (fraction or 0.0)))}% {message}"
        _PROGRESS[self.key] = line
        if hou.isUIAvailable():
            hou.ui.setStatusMessage(f"FlashDepth {self.name}: {line}")

    @contextlib.contextmanager
    def exporter(self, cache: ExportCache) -> Iterator[Callable[[int], None]]:
        def write(frame: int) -> None:
            def _export_frame() -> None:
                upstream = _upstream(self.node)
                if not isinstance(upstream, hou.Cop2Node):
                    raise FlashDepthError(f"{self.path} lost its input while exporting it")
                upstream.saveImage(frame_file(cache.pattern, frame), (float(frame), float(frame)))

            self.now(_export_frame)

        yield write


# parm_changed: any FlashDepth parameter edited: the tile colour and the version loaded follow the status.
(parm_changed, render, preview, finish, cancel, _, delete_old_versions, send_to_farm,
 running) = controller.verbs(_Node)


def choose_version(node: hou.OpNode) -> None:
    """The Version menu changed: load the version chosen, or for Latest the one the parameters' status says. During
    a render the menu goes back to Latest (the render follows the parameters) and the status bar says why."""
    key = _chosen_key(node)
    controller.choose_version(_Node(node), key or None)


def _shown(node: hou.OpNode) -> Optional[DepthVersion]:
    return DepthVersion.from_json(node.userData(SHOWN_KEY) or "")


def _chosen_key(node: hou.OpNode) -> str:
    """The key of the version chosen in the Version menu ("" for Latest, or a node without the menu)."""
    parm = node.parm(VERSION)
    value = parm.evalAsString().strip() if parm is not None else ""
    return "" if value == LATEST else value


def version_menu(node: hou.OpNode) -> List[str]:
    """The Version menu (its Python menu script): Latest, then every version on disk, as tokens and labels. It
    never raises (Houdini would show a script error instead of the menu): an Output Folder that does not evaluate
    leaves Latest alone."""
    items = [LATEST, "Latest (follows the parameters)"]
    try:
        output_dir = _text(node, OUTPUT).strip() or default_output_dir(_base_dir(), node.name())
        infos = describe_versions(output_dir)
    except Exception:  # noqa: BLE001 - a parameter expression's error, a hand-edited manifest: no versions to list
        return items
    for info in infos:
        items += [info.version.key, info.label]
    return items


def load_version(node: hou.OpNode, version: DepthVersion) -> None:
    """Point the node's File COP at a depth version and make it reload its files."""
    parent = node.parent()
    kind = cop_kind(parent) if parent is not None else None
    loader = _depth_onto_input(node) if kind == COP2 else node
    parm = loader.parm(FILE_PARM[kind]) if loader is not None and kind is not None else None
    if loader is None or parm is None:
        raise FlashDepthError(f"{node.path()} is missing its '{DEPTH_NODE}' File COP: create a new FlashDepth node")
    upstream = _upstream(node)
    if kind == COPERNICUS and upstream is not None and upstream.type().name() == "file":
        pattern = _follow_video_timing(loader, upstream, version)
    else:
        pattern = houdini_pattern(version.pattern)
    parm.set(relative_path(pattern, _base_dir(), "$HIP"))  # (another mount of the .hip reads the same files)
    if kind == COPERNICUS:  # the AOVs the files hold: the depth and the passes asked
        present = version_passes(version.manifest())
        aovs = COPERNICUS_AOVS + tuple(aov for aov, shown in zip(PASS_AOVS, present) if shown)
        _parm(loader, "aovs").set(len(aovs))
        for index, aov in enumerate(aovs, start=1):
            _parm(loader, f"aov{index}").set(aov)
    reload = loader.parm("reload")
    if reload is not None:
        reload.pressButton()


_STATUS: Dict[str, Tuple[str, str, bool]] = {}
"""Each node's status by session id: (the :func:`_signature` it was computed for, the status line, whether how
the last action ended leads it)."""


def _signature(node: hou.OpNode) -> str:
    """What the node's status depends on that HOM says without reading files, sampling the camera or cooking:
    FlashDepth's parameters, the plate COP and its file name, what the node shows and how it last ended."""
    parts = [_typed(parm) for parm in node.parms()
             if parm.name().startswith("fd_") and parm.name() not in (STATUS, PROGRESS)]
    upstream = _upstream(node)
    file_parm = _input_file_parm(node)
    if upstream is not None:
        parts.append(upstream.path())
    if file_parm is not None:
        parts.append(file_parm.unexpandedString())
    if isinstance(upstream, hou.Cop2Node):
        parts.append(f"{upstream.sequenceStartFrame()}-{upstream.sequenceEndFrame()}")
    return "\n".join(parts + [node.userData(SHOWN_KEY) or "", node.userData(LAST_KEY) or ""])


def _typed(parm: hou.Parm) -> str:
    """A parameter's value (evaluated, so Houdini re-evaluates the status line when it changes), or its expression
    when that fails."""
    try:
        return parm.evalAsString()
    except hou.Error:
        return parm.rawValue()


def _remember_status(node: hou.OpNode, status: Union[NodeStatus, FlashDepthError]) -> Tuple[str, str, bool]:
    if isinstance(status, FlashDepthError):
        entry = (_signature(node), str(status), False)
    else:
        entry = (_signature(node), status.line(RENDER_BUTTON, FINISH_BUTTON), status.state is not DepthState.STALE)
    _STATUS[str(node.sessionId())] = entry
    return entry


def _loaded_file(node: hou.OpNode) -> str:
    """The depth loader's file name (the COP2 subnet's File COP, or the Copernicus node's own)."""
    loader = node.node(DEPTH_NODE) or node
    parm = loader.parm(FILE_PARM[COP2]) or loader.parm(FILE_PARM[COPERNICUS])
    return parm.evalAsString() if parm is not None else ""


def status_text(node: hou.OpNode) -> str:
    """The status line (the Status parameter's expression): the running render's progress, else whether the
    depth is current, partial, stale or missing, after how the last action ended. The status is computed when
    what it depends on changes (:func:`_signature`, and each action), not at every redraw: that reads the disk,
    samples the camera and, for a COP2 tree, evaluates every upstream parameter."""
    _loaded_file(node)  # read, so that Houdini evaluates the line again when a render loads its depth
    if running(node) is not None:
        line = _PROGRESS.get(str(node.sessionId()), "0% Starting")
        return f"{line} (press Cancel to stop)"
    entry = _STATUS.get(str(node.sessionId()))
    if entry is None or entry[0] != _signature(node):
        host = _Node(node)
        try:
            entry = _remember_status(node, controller.status_of(host, host.read_source()))
        except FlashDepthError as exc:
            entry = _remember_status(node, exc)
    last = node.userData(LAST_KEY) or ""
    return f"{last} | {entry[1]}" if last and entry[2] else entry[1]


def register_callbacks() -> None:
    """What ``pythonrc.py`` registers once per session: :func:`scene_event` after a scene is loaded or saved."""
    hou.hipFile.addEventCallback(scene_event)


def scene_event(event_type: hou.EnumValue) -> None:
    """After a .hip is loaded or saved (under a new name too) in graphical Houdini: record each FlashDepth node as
    showing its version under the scene's path, so that pruning keeps it once an older .hip is deleted. Touches no
    node (the scene stays unmodified) and never raises (a failure must not spoil the load or the save)."""
    if event_type == hou.hipFileEventType.AfterLoad:
        _STATUS.clear()  # files may have come and gone while the scene was closed
    if event_type not in (hou.hipFileEventType.AfterLoad, hou.hipFileEventType.AfterSave) or not hou.isUIAvailable():
        return  # (hython on a farm machine shows nobody anything)
    try:
        scene = "" if hou.hipFile.isNewFile() else hou.hipFile.path()
        for node in flashdepth_nodes():
            shown = _shown(node)
            if shown is not None:
                keep_shown(shown, scene, node.path())
    except Exception:  # noqa: BLE001 - only the record is lost
        pass


def flashdepth_nodes() -> Tuple[hou.OpNode, ...]:
    """Every FlashDepth node in the scene."""
    root = hou.node("/")
    if root is None:
        return ()
    return tuple(n for n in root.allSubChildren() if isinstance(n, _NODE_CLASS) and n.userData(MARK_KEY))
