"""The FlashDepth node for Houdini, in either kind of COP network:

* COP2 (``cop2net``, Houdini 19.5+): a ``subnet`` fed by the plate's COP, holding a File COP ``depth`` with the
  render flag, so the subnet outputs the plate (C, A) and the ``depth`` plane of the rendered files.
* Copernicus (``copnet``, Houdini 20.5+): a Copernicus File COP with FlashDepth's parameters added as spare
  parameters. Its AOV multiparm loads ``C`` (the plate) and ``depth`` from the rendered files, and its AOVs are
  the node's outputs (SideFX: File Copernicus node), ready to wire downstream.

The engine always writes the plate's RGBA beside ``depth.Z`` (``--passthrough``), so both variants carry the
plate and the depth layer. Renders run in the background: Houdini's idle event loop
(``hou.ui.addEventLoopCallback``) exports upstream COP2 frames one at a time and polls the engine, so the UI
never blocks; the node's progress bar and status line follow it and its *Cancel* button stops it. In hython
(no UI) the same steps run under ``hou.InterruptableOperation``.

Everything the node does lives in this module: the parameter callbacks and the status line's expression only
import it, so an updated install reaches nodes in saved .hip files, and a machine without FlashDepth shows a
one-line message instead of errors. The status line is an expression, so opening a .hip computes it without
modifying the scene.
"""
from __future__ import annotations

import hashlib
import os
import re
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import hou

from flashdepth_vfx.bridge import EngineNotFound, RenderResult
from flashdepth_vfx.errors import FlashDepthError
from flashdepth_vfx.hosts.common import (
    DEVICES,
    MODELS,
    MODES,
    PRECISIONS,
    RENDER_BUTTON,
    CachedRender,
    CacheState,
    NodeRender,
    NodeSettings,
    cache_state,
    default_output_dir,
    houdini_pattern,
    status_line,
    summary,
)

_NODE_CLASS: Any = getattr(hou, "OpNode", None) or hou.Node
"""``hou.OpNode`` (Houdini 20.0+), or ``hou.Node`` on Houdini 19.5, which has no OpNode class."""

COP2 = "Cop2"        # child category of a "cop2net" (COP Network - Old)
COPERNICUS = "Cop"   # child category of a Copernicus "copnet" (Houdini 20.5+)
FILE_PARM = {COP2: "filename1", COPERNICUS: "filename"}  # the File COP's file name parameter
COP2_OCIO_MODE = 3   # the COP2 File COP's Color Space menu: entry 3 is OpenColorIO (then ocio_space applies)
COPERNICUS_AOVS = ("C", "depth")  # the AOVs the Copernicus node loads from the rendered files: plate, depth
MARK_KEY = "flashdepth"                # user data marking FlashDepth nodes
RESULT_KEY = "flashdepth_result"       # user data: CachedRender JSON
DEPTH_NODE = "depth"                   # the File COP inside the COP2 subnet
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
OUTPUT = "fd_output"
RENDER = "fd_render"
CANCEL = "fd_cancel"
PROGRESS = "fd_progress"
STATUS = "fd_status"
NOT_INSTALLED = ("FlashDepth is not installed on this machine: install it (flashdepth-vfx houdini/README.md) "
                 "to render or update this node")

# Code stored in the .hip: it only imports this module, and says so in one line where it is missing.
_IMPORT = "try:\n    from flashdepth_houdini import node as fd\nexcept ImportError:\n    fd = None\n"
_CALLBACK = _IMPORT + "if fd is None:\n    hou.ui.setStatusMessage({missing!r})\nelse:\n    fd.{name}(kwargs['node'])\n"
_STATUS_EXPRESSION = _IMPORT + "if fd is None:\n    return {missing!r}\nreturn fd.status_text(hou.pwd())"
_COLOURS = {
    CacheState.FRESH: (0.3, 0.65, 0.3),
    CacheState.PARTIAL: (0.9, 0.6, 0.1),
    CacheState.STALE: (0.75, 0.25, 0.2),
    CacheState.MISSING: (0.75, 0.25, 0.2),
}


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
        text(OUTPUT, "Output Folder", "Folder for the depth EXRs; empty: $HIP/flashdepth/<node name>.",
             files, hou.fileType.Directory),
        button(RENDER, RENDER_BUTTON, "render"),
        button(CANCEL, "Cancel", "cancel"),
        hou.IntParmTemplate(PROGRESS, "Progress", 1, min=0, max=100, help="Percent of the running render."),
        hou.StringParmTemplate(STATUS, "Status", 1, help="Whether the depth is current, stale or partial."),
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
        depth = node.createNode("file", DEPTH_NODE)
        if isinstance(depth, hou.Cop2Node):
            depth.setDisplayFlag(True)
            depth.setRenderFlag(True)
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


def _expand(path: str) -> str:
    """Expand variables ($HIP, $JOB) but keep the frame token, as ``####``."""
    path = re.sub(r"\$\{?F(\d*)\}?", lambda m: "#" * int(m.group(1) or 1), path)
    return hou.text.expandString(path)


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


def _frame_list(spec: str, default: Tuple[int, int]) -> List[int]:
    """Frames of a Frame Range value (``1001-1100``, ``1001-1100x2``, ``1001,1005``); empty: ``default``."""
    frames: List[int] = []
    for part in (spec.strip() or f"{default[0]}-{default[1]}").split(","):
        match = re.fullmatch(r"\s*(-?\d+)(?:\s*-\s*(-?\d+)(?:x(\d+))?)?\s*", part)
        if match is None:
            raise FlashDepthError(f"Frame Range {spec!r} is not a range such as 1001-1100: fix the parameter")
        first, last, step = int(match.group(1)), int(match.group(2) or match.group(1)), int(match.group(3) or 1)
        frames += range(first, last + 1, step)
    return frames


class UpstreamExport:
    """Frames of a COP2 node tree written to EXRs for the engine: only the frames asked, one ``saveImage`` per
    frame, into a folder named by a hash of the upstream network's content, so an unchanged network is never
    exported twice and a changed one never reuses old frames."""

    def __init__(self, source: hou.Cop2Node, frames: Sequence[int], output_dir: str, name: str) -> None:
        self.source = source
        self.frames = list(frames)
        self.folder = os.path.join(output_dir, "source", content_key(source, self.frames))
        self.pattern = os.path.join(self.folder, f"{name}.$F4.exr")
        self.pending = [f for f in self.frames if not os.path.isfile(self.frame_file(f))]

    def frame_file(self, frame: int) -> str:
        return self.pattern.replace("$F4", f"{frame:04d}")

    def step(self) -> None:
        """Write the next missing frame."""
        frame = self.pending.pop(0)
        os.makedirs(self.folder, exist_ok=True)
        self.source.saveImage(self.pattern, (float(frame), float(frame)))


def content_key(source: hou.OpNode, frames: Sequence[int]) -> str:
    """A hash of everything upstream of ``source`` that shapes its image at ``frames``: each node's type, name,
    wiring and parameter values at those frames, and the size and time of the files its parameters name."""
    digest = hashlib.sha256()
    seen: Dict[str, None] = {}
    todo = [source]
    while todo:
        node = todo.pop()
        if node.path() in seen:
            continue
        seen[node.path()] = None
        inputs = [n for n in node.inputs() if n is not None]
        digest.update(f"{node.path()}|{node.type().name()}|{[n.path() for n in inputs]}".encode())
        for parm in node.parms():
            values = {str(parm.evalAtFrame(frame)) for frame in frames}
            digest.update(f"{parm.name()}={sorted(values)}".encode())
            for value in values:
                if os.path.isfile(value):
                    info = os.stat(value)
                    digest.update(f"{value}:{info.st_size}:{info.st_mtime_ns}".encode())
        todo += inputs
    return digest.hexdigest()[:12]


def read_settings(node: hou.OpNode) -> Tuple[NodeSettings, Optional[UpstreamExport]]:
    """The node's settings, and the export to run first when the plate is a COP2 node tree, not a File COP."""
    output_dir = _text(node, OUTPUT).strip() or default_output_dir(_base_dir(), node.name())
    export: Optional[UpstreamExport] = None
    plate = _expand(_parm(node, PLATE).unexpandedString()).strip()  # an explicit plate wins over the input
    file_parm = _input_file_parm(node)
    upstream = _upstream(node)
    frames = _text(node, FRAMES)
    if not plate and file_parm is not None:
        plate = _expand(file_parm.unexpandedString())
    elif not plate and isinstance(upstream, hou.Cop2Node):
        whole = (int(upstream.sequenceStartFrame()), int(upstream.sequenceEndFrame()))
        export = UpstreamExport(upstream, _frame_list(frames, whole), output_dir, node.name())
        plate = export.pattern
    elif not plate:
        raise FlashDepthError(f"{node.path()} has no plate: connect a File COP or set the Plate parameter")
    settings = NodeSettings(
        plate=plate, output_dir=output_dir, checkpoint=_text(node, CHECKPOINT), model=_text(node, MODEL),
        colorspace=_text(node, COLORSPACE), mode=_text(node, MODE), frames=frames, device=_text(node, DEVICE),
        precision=_text(node, PRECISION),
    )
    return settings, export


def _job_extra(node: hou.OpNode) -> Tuple[str, ...]:
    """Engine options the Houdini node adds: the plate beside the depth, and the host's OCIO config when the
    plate's File COP is in OpenColorIO mode."""
    extra: Tuple[str, ...] = ("--passthrough", "--channel", DEPTH_CHANNEL)
    if _ocio_space(node) is not None:
        extra += ("--ocio-config", hou.Color.ocio_configPath())
    return extra


class BackgroundRender:
    """One render of one node, advanced a step at a time by :meth:`step` (from Houdini's idle event loop, or a
    loop under an InterruptableOperation in hython): export upstream frames, start the engine, follow it."""

    def __init__(self, node: hou.OpNode, work: NodeRender, export: Optional[UpstreamExport]) -> None:
        self.node = node
        self.work = work
        self.export = export
        self.started = False
        self.cancelled = False
        self.done = False
        self.result: Optional[RenderResult] = None
        self.message = "Starting"
        self.fraction = 0.0

    def cancel(self) -> None:
        self.cancelled = True
        if self.started:
            self.work.cancel()

    def step(self) -> None:
        """One step; any exception ends the render with a one-line error and frees the node."""
        try:
            self._step()
        except Exception as exc:  # noqa: BLE001  (a render must never stay stuck, whatever broke)
            self._end_with_error(f"{type(exc).__name__}: {exc}" if not isinstance(exc, FlashDepthError) else str(exc))

    def _step(self) -> None:
        if self.export is not None and self.export.pending and not self.cancelled:
            done = len(self.export.frames) - len(self.export.pending)
            self._show(0.0, f"Exporting {self.export.source.name()}: frame {self.export.pending[0]} "
                            f"({done + 1}/{len(self.export.frames)})")
            self.export.step()
            return
        if self.cancelled and not self.started:
            self._finish(None, "Cancelled before the engine started")
            return
        if not self.started:
            self.started = True
            self.work.start()
            return
        fraction, message = self.work.progress()
        self._show(fraction or 0.0, message)
        if _engine_running(self.work):
            return
        result = self.work.wait()
        self._finish(result, summary(result))

    def _show(self, fraction: float, message: str) -> None:
        self.fraction, self.message = fraction, message
        _parm(self.node, PROGRESS).set(int(round(100 * fraction)))  # also refreshes the status expression
        if hou.isUIAvailable():
            hou.ui.setStatusMessage(f"FlashDepth {self.node.name()}: {message}")

    def _finish(self, result: Optional[RenderResult], message: str) -> None:
        self.result, self.message = result, message
        _end(self)
        cached = self.work.cached(result) if result is not None else None
        if cached is not None:
            self.node.setUserData(RESULT_KEY, cached.to_json())
            load_result(self.node, cached)
        _parm(self.node, PROGRESS).set(100 if result is not None and result.ok else 0)
        self.node.setUserData(LAST_KEY, message)
        update_colour(self.node)

    def _end_with_error(self, message: str) -> None:
        self.message = f"Error: {message}"
        if self.started:
            self.work.cancel()
        _end(self)
        try:
            self.node.setUserData(LAST_KEY, self.message)
            _parm(self.node, PROGRESS).set(0)
        except hou.Error:  # the node itself is gone
            pass


def _engine_running(work: NodeRender) -> bool:
    return work._process.running  # noqa: SLF001  (until the shared runner says whether it is running)


LAST_KEY = "flashdepth_last"  # user data: how the last render ended (shown until the settings change)
_RUNNING: Dict[int, BackgroundRender] = {}
_TICKS: Dict[int, Callable[[], None]] = {}


def _end(task: BackgroundRender) -> None:
    """Forget a finished render and stop its event loop callback."""
    task.done = True
    key = next((k for k, t in _RUNNING.items() if t is task), None)
    if key is None:
        return
    del _RUNNING[key]
    tick = _TICKS.pop(key, None)
    if tick is not None and tick in hou.ui.eventLoopCallbacks():
        hou.ui.removeEventLoopCallback(tick)


def running(node: hou.OpNode) -> Optional[BackgroundRender]:
    """The render in progress for ``node``, if any."""
    return _RUNNING.get(node.sessionId())


def render(node: hou.OpNode) -> Optional[BackgroundRender]:
    """*Render depth*: start a background render (Houdini's UI stays live); in hython, render to the end under an
    interruptable operation. Returns the render, or None when it could not start (the status says why)."""
    if running(node) is not None:
        hou.ui.setStatusMessage(f"FlashDepth {node.name()} is already rendering: press Cancel to stop it")
        return None
    try:
        settings, export = read_settings(node)
        if not _text(node, OUTPUT).strip():
            _parm(node, OUTPUT).set(settings.output_dir)  # keeps the fingerprint stable if the .hip moves
        job = settings.job()
        job.extra_args = _job_extra(node)
        task = BackgroundRender(node, NodeRender(job), export)
    except (FlashDepthError, hou.Error) as exc:
        node.setUserData(LAST_KEY, f"Error: {exc}")
        return None
    key = node.sessionId()
    _RUNNING[key] = task
    if hou.isUIAvailable():
        _TICKS[key] = task.step
        hou.ui.addEventLoopCallback(task.step)
    else:
        _run_blocking(task)
    return task


def _run_blocking(task: BackgroundRender, poll: float = 0.05) -> None:
    """hython: the same steps in a loop, with Houdini's interrupt (Esc / the dialog's button) as Cancel."""
    with hou.InterruptableOperation("FlashDepth depth render", open_interrupt_dialog=True) as operation:
        while not task.done:
            task.step()
            if not task.cancelled:
                try:
                    operation.updateProgress(task.fraction)
                except hou.OperationInterrupted:
                    task.cancel()
            time.sleep(poll)


def cancel(node: hou.OpNode) -> None:
    """*Cancel*: stop the node's render; frames already written are kept."""
    task = running(node)
    if task is not None:
        task.cancel()


def load_result(node: hou.OpNode, cached: CachedRender) -> None:
    """Point the node's File COP at the depth frames and make it reload them."""
    parent = node.parent()
    kind = cop_kind(parent) if parent is not None else None
    loader = node.node(DEPTH_NODE) if kind == COP2 else node
    parm = loader.parm(FILE_PARM[kind]) if loader is not None and kind is not None else None
    if loader is None or parm is None:
        raise FlashDepthError(f"{node.path()} is missing its '{DEPTH_NODE}' File COP: create a new FlashDepth node")
    parm.set(houdini_pattern(cached.output))
    reload = loader.parm("reload")
    if reload is not None:
        reload.pressButton()


def _state(node: hou.OpNode) -> Tuple[CacheState, Optional[CachedRender], Optional[str]]:
    """(state, stored record, error reading the settings) of the node's depth against its settings now."""
    cached = CachedRender.from_json(node.userData(RESULT_KEY) or "")
    try:
        settings, _ = read_settings(node)
    except FlashDepthError as exc:
        return CacheState.NONE, cached, str(exc)
    job = settings.job()
    job.extra_args = _job_extra(node)
    return cache_state(cached, job), cached, None


def status_text(node: hou.OpNode) -> str:
    """The status line (the Status parameter's expression): the running render's progress, else whether the
    depth is current, stale or partial, and how the last render ended."""
    progress = node.parm(PROGRESS)
    if progress is not None:
        progress.eval()  # read, so that Houdini re-evaluates this line whenever the progress changes
    task = running(node)
    if task is not None:
        return f"{int(round(100 * task.fraction))}% {task.message} (press Cancel to stop)"
    state, cached, error = _state(node)
    if error is not None:
        return error
    line = status_line(state, cached)
    last = node.userData(LAST_KEY) or ""
    if last and state in (CacheState.FRESH, CacheState.PARTIAL, CacheState.NONE):
        line = f"{last} | {line}" if not line.startswith(last) else line
    return line


def update_colour(node: hou.OpNode) -> None:
    """Tile colour by state: green current, orange partial, red stale or missing (unchanged otherwise)."""
    state, _, _ = _state(node)
    rgb = _COLOURS.get(state)
    if rgb is not None:
        node.setColor(hou.Color(rgb))


def parm_changed(node: hou.OpNode) -> None:
    """Any FlashDepth parameter edited: the tile colour follows (the status line is an expression)."""
    update_colour(node)


def flashdepth_nodes() -> Tuple[hou.OpNode, ...]:
    """Every FlashDepth node in the scene."""
    root = hou.node("/")
    if root is None:
        return ()
    return tuple(n for n in root.allSubChildren() if isinstance(n, _NODE_CLASS) and n.userData(MARK_KEY))
