"""The FlashDepth node for Nuke: a Group whose output is its input plus ``depth.Z`` rendered by the
flashdepth-vfx engine.

Inside: ``Plate`` (Input) -> ``AddDepth`` (Copy depth.Z from ``DepthRead``) -> ``Output``. *Render depth*
runs the engine in a worker thread with a ``nuke.ProgressTask``; knob and status updates go back to the main
thread through ``nuke.executeInMainThread``. The job fingerprint of the last render is kept in a hidden knob,
so a re-opened script finds its result and a changed setting marks it stale.
"""
from __future__ import annotations

import os
import threading
from typing import Dict, Optional, Tuple

import nuke

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
    status_line,
    summary,
)

# Knobs on the Group.
CHECKPOINT = "checkpoint"
MODEL = "model"
COLORSPACE = "colorspace"
MODE = "mode"
FRAMES = "frames"
DEVICE = "device"
PRECISION = "precision"
OUTPUT = "output"
RENDER = "render"
CANCEL = "cancel"
STATUS = "status"
RESULT = "flashdepth_result"  # hidden: CachedRender JSON
SETTING_KNOBS = (CHECKPOINT, MODEL, COLORSPACE, MODE, FRAMES, DEVICE, PRECISION, OUTPUT)

# Nodes inside the Group.
INPUT_NODE = "Plate"
READ_NODE = "DepthRead"
COPY_NODE = "AddDepth"
DEPTH_CHANNEL = "depth.Z"  # Nuke's name for the EXR channel "Z" that the engine writes
WORKING_SPACE = "scene_linear"  # what a temporary EXR of a node tree holds

_KNOB_SCRIPT = "import nuke, flashdepth_nuke.node as fd; fd.{}(nuke.thisNode())"
_ACTIVE: Dict[str, "RenderWorker"] = {}  # node full name -> its running render (main thread only)


def create_node(upstream: Optional[nuke.Node] = None) -> nuke.Group:
    """Make a FlashDepth node fed by ``upstream`` (default: the selected node), with its settings
    defaulted from that input."""
    if upstream is None:
        selected = nuke.selectedNodes()
        upstream = selected[0] if selected else None
    group = nuke.nodes.Group()
    group.setName("FlashDepth1")
    with group:
        plate = nuke.nodes.Input(name=INPUT_NODE)
        read = nuke.nodes.Read(name=READ_NODE, raw=True, on_error="black")
        copy = nuke.nodes.Copy(name=COPY_NODE, from0=DEPTH_CHANNEL, to0=DEPTH_CHANNEL, disable=True)
        copy.setInput(0, plate)
        copy.setInput(1, read)
        nuke.nodes.Output().setInput(0, copy)
    _add_knobs(group)
    if upstream is not None:
        group.setInput(0, upstream)
        group.setXYpos(upstream.xpos(), upstream.ypos() + 80)
    apply_input_defaults(group)
    refresh_status(group)
    return group


def _add_knobs(group: nuke.Group) -> None:
    knobs = [
        nuke.Tab_Knob("flashdepth", "FlashDepth"),
        nuke.File_Knob(CHECKPOINT, "checkpoint"),
        nuke.Enumeration_Knob(MODEL, "model", list(MODELS)),
        nuke.String_Knob(COLORSPACE, "colour space"),
        nuke.Enumeration_Knob(MODE, "output mode", list(MODES)),
        nuke.String_Knob(FRAMES, "frame range"),
        nuke.Enumeration_Knob(DEVICE, "device", list(DEVICES)),
        nuke.Enumeration_Knob(PRECISION, "precision", list(PRECISIONS)),
        nuke.File_Knob(OUTPUT, "output folder"),
        nuke.PyScript_Knob(RENDER, RENDER_BUTTON, _KNOB_SCRIPT.format("render")),
        nuke.PyScript_Knob(CANCEL, "Cancel", _KNOB_SCRIPT.format("cancel")),
        nuke.Text_Knob(STATUS, "status", ""),
        nuke.String_Knob(RESULT, "result"),
    ]
    tips = {
        CHECKPOINT: "A FlashDepth checkpoint file; when set it wins over the model menu.",
        COLORSPACE: "OCIO colour space of the plate; defaults to the upstream Read's.",
        FRAMES: "Frames to render, e.g. 1001-1100; defaults to the input's range.",
        OUTPUT: "Folder for the depth EXRs; empty: <script folder>/flashdepth/<node name>.",
    }
    for knob in knobs:
        if knob.name() in tips:
            knob.setTooltip(tips[knob.name()])
        group.addKnob(knob)
    group[CANCEL].clearFlag(nuke.STARTLINE)
    group[RESULT].setFlag(nuke.INVISIBLE)
    group["knobChanged"].setValue("import flashdepth_nuke.node as fd; fd.knob_changed()")


def _upstream_colorspace(upstream: nuke.Node) -> str:
    """The colour space a Read declares (Nuke shows its default as ``default (name)``); a node tree
    is written to the temporary EXRs in the working space."""
    if upstream.Class() != "Read":
        return WORKING_SPACE
    value = str(upstream["colorspace"].value())
    if value.startswith("default"):
        return value[value.find("(") + 1 : value.rfind(")")] if "(" in value else ""
    return value


def apply_input_defaults(group: nuke.Group, force: bool = False) -> None:
    """Fill the colour space and frame range from the input (only empty knobs, unless ``force``)."""
    upstream = group.input(0)
    if upstream is None:
        return
    defaults = {
        COLORSPACE: _upstream_colorspace(upstream),
        FRAMES: f"{upstream.firstFrame()}-{upstream.lastFrame()}",
    }
    for name, value in defaults.items():
        if force or not str(group[name].value()).strip():
            group[name].setValue(value)


def _script_dir() -> Optional[str]:
    script = str(nuke.root()["name"].value())
    return os.path.dirname(script) if script else None


def _plate(group: nuke.Group, output_dir: str) -> Tuple[str, bool]:
    """(plate spec, whether the input must first be written to it): a Read's own files, else a
    temporary EXR sequence in the output folder."""
    upstream = group.input(0)
    if upstream is None:
        raise FlashDepthError(f"{group.name()} has no input: connect a Read or a node tree to it")
    if upstream.Class() == "Read":
        return nuke.filename(upstream) or str(upstream["file"].value()), False
    return os.path.join(output_dir, "source", f"{group.name()}.%04d.exr"), True


def read_settings(group: nuke.Group) -> Tuple[NodeSettings, bool]:
    """The node's settings (an empty output folder means the default one) and whether the input is a
    node tree that has to be written out first."""
    output_dir = str(group[OUTPUT].value()).strip() or default_output_dir(_script_dir(), group.name())
    plate, needs_export = _plate(group, output_dir)
    settings = NodeSettings(
        plate=plate,
        output_dir=output_dir,
        **{name: str(group[name].value()) for name in SETTING_KNOBS if name != OUTPUT},
    )
    return settings, needs_export


def _export_input(group: nuke.Group, plate: str, frames: str) -> None:
    """Write the group's input to ``plate`` (EXR) with a temporary Write node: ``frames``, or the
    input's whole range when that is empty."""
    upstream = group.input(0)
    if not frames.strip() and upstream is not None:
        frames = f"{upstream.firstFrame()}-{upstream.lastFrame()}"
    os.makedirs(os.path.dirname(plate), exist_ok=True)
    with group:
        write = nuke.nodes.Write(file=plate, file_type="exr", channels="rgba")
        inner_input = group.node(INPUT_NODE)
        write.setInput(0, inner_input)
    try:
        nuke.execute(write, nuke.FrameRanges(frames.replace(",", " ")))
    except RuntimeError as exc:
        raise FlashDepthError(f"cannot write the input to {plate} ({exc}): check the folder and the input") from None
    finally:
        nuke.delete(write)


class RenderWorker(threading.Thread):
    """Runs one render off the main thread, reporting to a ``nuke.ProgressTask`` and the status knob."""

    def __init__(self, node_name: str, render: NodeRender) -> None:
        super().__init__(name=f"FlashDepth {node_name}", daemon=True)
        self.node_name = node_name
        self.render = render
        self._last_message = ""

    def run(self) -> None:
        task = nuke.ProgressTask(f"FlashDepth: {self.node_name}")

        def report(fraction: Optional[float], message: str) -> None:
            task.setProgress(int(round(100 * (fraction or 0.0))))
            task.setMessage(message)
            if message != self._last_message:
                self._last_message = message
                nuke.executeInMainThread(_show_status, args=(self.node_name, message))

        try:
            result = self.render.run(report, task.isCancelled)
        except FlashDepthError as exc:
            nuke.executeInMainThread(_finish, args=(self.node_name, self, None, f"Error: {exc}"))
        else:
            nuke.executeInMainThread(_finish, args=(self.node_name, self, result, summary(result)))


def render(group: nuke.Group) -> Optional[RenderWorker]:
    """*Render depth*: start rendering in a worker thread (returned), or say in the status line why not."""
    name = group.fullName()
    if name in _ACTIVE:
        group[STATUS].setValue("Already rendering: press Cancel to stop")
        return None
    try:
        settings, needs_export = read_settings(group)
        if not str(group[OUTPUT].value()).strip():
            group[OUTPUT].setValue(settings.output_dir)  # keeps the fingerprint stable if the script moves
        if needs_export:
            group[STATUS].setValue(f"Writing the input to {settings.plate}")
            _export_input(group, settings.plate, settings.frames)
    except FlashDepthError as exc:
        group[STATUS].setValue(f"Error: {exc}")
        return None
    worker = RenderWorker(name, NodeRender(settings.job()))
    _ACTIVE[name] = worker
    group[STATUS].setValue("Starting the depth engine")
    worker.start()
    return worker


def running(group: nuke.Group) -> Optional[RenderWorker]:
    """The node's render in progress, if any."""
    return _ACTIVE.get(group.fullName())


def cancel(group: nuke.Group) -> None:
    """*Cancel*: stop this node's render; frames already written are kept."""
    worker = _ACTIVE.get(group.fullName())
    if worker is None:
        group[STATUS].setValue("Nothing to cancel")
        return
    worker.render.cancel()
    group[STATUS].setValue("Cancelling...")


def _group(name: str) -> Optional[nuke.Group]:
    node = nuke.toNode(name)
    return node if isinstance(node, nuke.Group) else None


def _show_status(name: str, message: str) -> None:
    group = _group(name)
    if group is not None and name in _ACTIVE:
        group[STATUS].setValue(message)


def _finish(name: str, worker: RenderWorker, result: Optional[RenderResult], message: str) -> None:
    """Main thread, after a render: store the result, point the internal Read at it, show how it ended."""
    if _ACTIVE.get(name) is worker:
        del _ACTIVE[name]
    group = _group(name)
    if group is None:  # deleted while rendering
        return
    cached = worker.render.cached(result) if result is not None else None
    if cached is not None:
        group[RESULT].setValue(cached.to_json())
        load_result(group, cached)
    group[STATUS].setValue(message)


def load_result(group: nuke.Group, cached: CachedRender) -> None:
    """Point the internal Read at the depth frames and switch the depth copy on."""
    read = group.node(READ_NODE)
    copy = group.node(COPY_NODE)
    if read is None or copy is None:
        raise FlashDepthError(f"{group.name()} is missing its {READ_NODE}/{COPY_NODE} node: create a new FlashDepth node")
    read["file"].setValue(cached.output)
    for knob, value in (("first", cached.first), ("last", cached.last),
                        ("origfirst", cached.first), ("origlast", cached.last)):
        read[knob].setValue(value)
    copy["disable"].setValue(False)


def refresh_status(group: nuke.Group) -> None:
    """Show whether the stored result still matches the node's settings (not while it renders)."""
    if group.fullName() in _ACTIVE:
        return
    cached = CachedRender.from_json(str(group[RESULT].value()))
    try:
        settings, _ = read_settings(group)
    except FlashDepthError as exc:
        group[STATUS].setValue(str(exc))
        return
    group[STATUS].setValue(status_line(cache_state(cached, settings.job()), cached))


def knob_changed() -> None:
    """The Group's knobChanged: a new input fills empty defaults; any setting re-checks the cache."""
    group = nuke.thisNode()
    if not isinstance(group, nuke.Group):
        return
    knob = nuke.thisKnob().name()
    if knob == "inputChange":
        apply_input_defaults(group)
    if knob == "inputChange" or knob in SETTING_KNOBS:
        refresh_status(group)


def refresh_all() -> None:
    """After a script opens: re-check every FlashDepth node's cached result."""
    for node in nuke.allNodes("Group", recurseGroups=True):
        if isinstance(node, nuke.Group) and RESULT in node.knobs():
            refresh_status(node)
