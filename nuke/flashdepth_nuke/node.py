"""The FlashDepth node for Nuke: a Group whose output is its input plus ``depth.Z`` rendered by the
flashdepth-vfx engine.

Inside: ``Plate`` (Input) -> ``AddDepth`` (Copy depth.Z from ``DepthRead``) -> ``AddPosition`` / ``AddNormals``
(Copy P / N, enabled when the version shown has them) -> ``Output``; a second Input, ``Camera``, takes an optional
matchmove camera for the engine's shot solve (:mod:`.camera`). The saved script holds
only knob values and the inner nodes: the node's behaviour lives in this module. Its buttons call this module
(and say so clearly on a machine without the plugin); knob changes reach :func:`knob_changed` through
``nuke.addKnobChanged`` registered by the plugin (:func:`register_callbacks`), so a script opens without errors
anywhere and its depth still shows.

*Render depth* runs in a :class:`flashdepth_vfx.hosts.render.BackgroundRender` thread: an upstream export if the
input is processing rather than a Read (once per upstream content hash, only the frames asked, a frame at a
time on the main thread), then the engine, with a ``nuke.ProgressTask``. Each settings combination renders into
its own version folder; the ``DepthRead`` keeps showing the previous version until the new one is complete,
then switches and reloads. The tile colour, label and status line say whether the depth is current, partial
(*Finish* completes it with the engine's ``--resume``), stale or missing.

The *version* menu lists the versions on disk (settings, frame count, complete or partial, date): choosing one
keeps the DepthRead on it whatever the knobs say (the status says *stale* while its settings differ from the
knobs'); *latest* goes back to following the knobs, and so does *Render depth*. *Delete old versions* removes
the versions nobody uses (:mod:`flashdepth_vfx.hosts.prune`), after asking.

What the buttons do is :mod:`flashdepth_vfx.hosts.controller`, shared with Houdini; this module supplies its host
operations (:class:`_Node`) over Nuke's API.
"""
from __future__ import annotations

import contextlib
import os
from typing import Any, Callable, Dict, Iterator, List, Optional, Set, Tuple, TypeVar, Union, cast

import nuke

from flashdepth_vfx.errors import FlashDepthError
from flashdepth_vfx.hosts import controller, prune
from flashdepth_vfx.hosts.cached import CachedRender
from flashdepth_vfx.hosts.camera import (
    NORMAL_CHANNELS, OFF, PASSES, POSITION_CHANNELS, SolveRequest, solve_args, version_passes,
)
from flashdepth_vfx.hosts.colour import engine_colour, menu_colorspace
from flashdepth_vfx.hosts.controller import Source
from flashdepth_vfx.hosts.export import ExportCache
from flashdepth_vfx.hosts.farm import FARM_BUTTON
from flashdepth_vfx.hosts.frames import format_frames, script_frames
from flashdepth_vfx.hosts.paths import default_output_dir, host_path, relative_path
from flashdepth_vfx.hosts.render import BackgroundRender, Report
from flashdepth_vfx.hosts.settings import (
    COMPRESSIONS, DATA_TYPES, DEVICES, FINISH_BUTTON, MODELS, MODES, PRECISIONS, PREVIEW_BUTTON, RENDER_BUTTON,
    NodeSettings,
)
from flashdepth_vfx.hosts.versions import DepthState, DepthVersion, NodeStatus, describe_versions

from . import upstream as up
from .camera import CAMERA_INPUT, connected_camera, rotation_order, sample_camera

# Knobs on the Group.
CHECKPOINT = "checkpoint"
MODEL = "model"
COLORSPACE = "colorspace"
MODE = "mode"
FRAMES = "frames"
DEVICE = "device"
PRECISION = "precision"
USE_PROXY = "use_proxy"
MAX_SIZE = "max_size"
DATA_TYPE = "data_type"
COMPRESSION = "compression"
OUTPUT = "output"
RENDER = "render"
PREVIEW = "preview"
FINISH = "finish"
SHOW_PARTIAL = "show_partial"
CANCEL = "cancel"
FARM = "send_to_farm"
POINTS = "scene_points"
POSITION = "position_pass"
NORMALS = "normal_pass"
STATUS = "status"
VERSION = "depth_version"
PRUNE = "delete_old_versions"
RESULT = "flashdepth_result"  # hidden: the DepthVersion the DepthRead shows (JSON)
STATE = "flashdepth_state"  # hidden: the status in a few words, which the Node Graph draws on the node
CHOSEN = "flashdepth_chosen"  # hidden: the artist chose that version in the version menu
SCRIPT_FOLDER = "[file dirname [value root.name]]"
"""The saved script's folder as a file knob spells it (TCL, evaluated on each machine): the output folder knob is
kept relative to it, so another mount of the show finds the same versions."""
LATEST = "latest (follows the settings)"
"""The version menu's first item: show the version the knobs make (or keep the previous one until it is done)."""
MISSING_ITEM = "(chosen, no longer on disk)"
"""The version menu's item for a chosen version whose folder is gone (the menu never says latest while the node
keeps a choice)."""
TEXT_KNOBS = (CHECKPOINT, MODEL, COLORSPACE, MODE, FRAMES, DEVICE, PRECISION)
SOLVE_KNOBS = (POINTS, POSITION, NORMALS)
FILE_KNOBS = (MAX_SIZE, DATA_TYPE, COMPRESSION)
"""The model-input size and how the depth files are stored (a node saved before them lacks them)."""
SETTING_KNOBS = TEXT_KNOBS + (USE_PROXY, OUTPUT) + SOLVE_KNOBS + FILE_KNOBS

# Nodes inside the Group.
INPUT_NODE = "Plate"
CAMERA_NODE = "Camera"  # the Group's second input (CAMERA_INPUT): an optional matchmove camera
READ_NODE = "DepthRead"
COPY_NODE = "AddDepth"
PASS_NODES = {POSITION: ("AddPosition", POSITION_CHANNELS), NORMALS: ("AddNormals", NORMAL_CHANNELS)}
DEPTH_CHANNEL = "depth.Z"  # Nuke's name for the EXR channel "Z" that the engine writes
EXPORT_NODE = "FlashDepthExport"

PLUGIN_MISSING = ("FlashDepth: the flashdepth-vfx Nuke plugin is not installed on this machine, so this node cannot "
                  "render (the depth it rendered before still shows). Add the plugin's nuke/ folder to NUKE_PATH "
                  "(see its README) and restart Nuke.")
# What a button stores in the script: a call into this module, with a clear message where it is missing.
_BUTTON = ("import nuke\ntry:\n    import flashdepth_nuke.node as fd\nexcept ImportError:\n"
           "    nuke.message({missing!r})\nelse:\n    fd.{action}(nuke.thisNode())\n")
_MENU_UPDATES: Set[str] = set()  # nodes whose version menu this module is setting (Nuke reports those changes as knobChanged)
T = TypeVar("T")
# Runs a call on Nuke's main thread and waits for it (the stubs leave it untyped).
_in_main_thread = cast(Callable[..., Any], nuke.executeInMainThreadWithResult)


def button_command(action: str) -> str:
    """The script of a button that calls ``flashdepth_nuke.node.<action>(node)``."""
    return _BUTTON.format(missing=PLUGIN_MISSING, action=action)


def register_callbacks() -> None:
    """What the plugin's menu.py registers: knob changes of FlashDepth nodes (the panel's), a check of every
    FlashDepth node when its input or settings changed with the panel closed (Nuke's updateUI, at idle), the
    depth state drawn on the node beside the artist's label (autolabel), and a status check of every FlashDepth
    node when a script opens."""
    nuke.addKnobChanged(knob_changed, nodeClass="Group")
    nuke.addUpdateUI(update_ui, nodeClass="Group")
    nuke.addAutolabel(autolabel, nodeClass="Group")
    nuke.addOnScriptLoad(refresh_all)


def is_flashdepth(node: Optional[nuke.Node]) -> bool:
    return isinstance(node, nuke.Group) and node.knob(RESULT) is not None


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
        nuke.nodes.Input(name=CAMERA_NODE, number=CAMERA_INPUT)
        last = copy
        for node_name, channels in PASS_NODES.values():
            last = _pass_copy(node_name, channels, last, read)
        nuke.nodes.Output().setInput(0, last)
    _add_knobs(group)
    if upstream is not None:
        group.setInput(0, upstream)
        group.setXYpos(upstream.xpos(), upstream.ypos() + 80)
    apply_input_defaults(group)
    refresh_status(group)
    return group


def _pass_copy(name: str, channels: Tuple[str, ...], source: nuke.Node, read: nuke.Node) -> nuke.Node:
    """A Copy bringing a pass's three channels from the DepthRead (disabled until the pass is rendered)."""
    knobs = {}
    for index, channel in enumerate(channels):
        knobs[f"from{index}"] = knobs[f"to{index}"] = channel
    copy = nuke.nodes.Copy(name=name, disable=True, **knobs)
    copy.setInput(0, source)
    copy.setInput(1, read)
    return copy


def _solve_knobs() -> List[nuke.Knob]:
    return [
        nuke.File_Knob(POINTS, "scene points"),
        nuke.Enumeration_Knob(POSITION, "position pass", list(PASSES)),
        nuke.Enumeration_Knob(NORMALS, "normal pass", list(PASSES)),
    ]


def _file_knobs() -> List[nuke.Knob]:
    return [
        nuke.Int_Knob(MAX_SIZE, "max size"),
        nuke.Enumeration_Knob(DATA_TYPE, "data type", list(DATA_TYPES)),
        nuke.Enumeration_Knob(COMPRESSION, "compression", list(COMPRESSIONS)),
    ]


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
        nuke.Boolean_Knob(USE_PROXY, "render from proxy"),
        *_file_knobs(),
        nuke.File_Knob(OUTPUT, "output folder"),
        *_solve_knobs(),
        nuke.PyScript_Knob(RENDER, RENDER_BUTTON, button_command("render")),
        nuke.PyScript_Knob(PREVIEW, PREVIEW_BUTTON, button_command(PREVIEW)),
        nuke.PyScript_Knob(FINISH, FINISH_BUTTON, button_command("finish")),
        nuke.PyScript_Knob(SHOW_PARTIAL, "Show partial", button_command("show_partial")),
        nuke.PyScript_Knob(CANCEL, "Cancel", button_command("cancel")),
        nuke.PyScript_Knob(FARM, FARM_BUTTON, button_command(FARM)),
        nuke.Text_Knob(STATUS, "status", ""),
        *_version_knobs(),
        nuke.String_Knob(RESULT, "shown version"),
        nuke.String_Knob(STATE, "depth state"),
    ]
    tips = {
        CHECKPOINT: "A FlashDepth checkpoint file; when set it wins over the model menu.",
        COLORSPACE: "Colour space of the plate, in the script's colour management; defaults to the upstream Read's.",
        FRAMES: "Script frames to render, e.g. 1001-1100; empty: the input's whole range (a longer plate "
                "delivered later is rendered whole). The depth lines up with the plate in every Read frame mode.",
        USE_PROXY: "Render from the Read's proxy files instead of the full-resolution plate. Nuke's proxy "
                   "mode itself never changes what is rendered.",
        MAX_SIZE: "Long side of the model's input in pixels: smaller uses less GPU memory and renders less detail; "
                  "0: the model's own (2044 for the official models). A new size makes a new version.",
        DATA_TYPE: "float32, or half floats: half the file size, about 3 significant digits (a new version).",
        COMPRESSION: "EXR compression of the depth files (all lossless; auto: zip for half, none for float32). "
                     "It changes file sizes, never the depth: the version stays the same.",
        OUTPUT: "Folder for the depth EXRs (one sub-folder per settings version); empty: "
                "<script folder>/flashdepth/<node name>, written here relative to the script at the first render "
                "(the studio's filename filters apply, as to Reads).",
        PREVIEW: "Render only the frame you are on with these settings and show it in the node (not a version: it "
                 "shows until the shot is rendered, then its file goes).",
        FINISH: "Render the frames a cancelled or failed render left out, keeping the finished ones (--resume).",
        SHOW_PARTIAL: "Show the unfinished render of these settings now, instead of the previous complete version.",
        POINTS: "With a Camera connected: the tracked 3D points of its matchmove (USD, .obj or CSV x,y,z). The "
                "shot solve fits the depth to them: depth.Z in scene units, steady over the shot.",
        POSITION: "With a Camera: also write P (world or camera space), as PositionToPoints and Relight read it.",
        NORMALS: "With a Camera: also write N (world or camera space) from the solved depth.",
        FARM: "Write a render-farm job (Open Job Description bundle) with these settings into <output folder>/farm, "
              "and submit it with AWS Deadline Cloud's `deadline` client where it is installed.",
        VERSION: "The depth versions on disk. Choose one to keep showing it whatever the knobs say (the status then "
                 "says stale while its settings differ); latest follows the knobs again.",
        PRUNE: f"Delete this node's old versions: keeps the one shown, the knobs' one, the {prune.DEFAULT_KEEP} "
               "newest complete ones and any being rendered; only files FlashDepth wrote. Asks first.",
    }
    for knob in knobs:
        if knob.name() in tips:
            knob.setTooltip(tips[knob.name()])
        group.addKnob(knob)
    for name in (PREVIEW, FINISH, SHOW_PARTIAL, CANCEL):
        group[name].clearFlag(nuke.STARTLINE)
    for hidden in (RESULT, CHOSEN, STATE):
        group[hidden].setFlag(nuke.INVISIBLE)
    group[PRUNE].clearFlag(nuke.STARTLINE)


def _version_knobs() -> List[nuke.Knob]:
    return [
        nuke.Enumeration_Knob(VERSION, "version", [LATEST]),
        nuke.PyScript_Knob(PRUNE, "Delete old versions", button_command(PRUNE)),
        nuke.Boolean_Knob(CHOSEN, "chosen version"),
    ]


def _working_space() -> str:
    """What an exported node tree holds: the working space (Nuke's ``linear``; the OCIO ``scene_linear`` role)."""
    return "linear" if up.active_ocio_config() is None else "scene_linear"


def _upstream_colorspace(source: nuke.Node) -> str:
    if source.Class() != "Read":
        return _working_space()
    return menu_colorspace(str(source["colorspace"].value()))


def apply_input_defaults(group: nuke.Group, force: bool = False) -> None:
    """Fill the colour space from the input (only an empty knob, unless ``force``). The frame range stays
    empty: the input's whole range, followed when a longer plate is delivered."""
    source = up.follow(group.input(0))
    if source is not None and (force or not str(group[COLORSPACE].value()).strip()):
        group[COLORSPACE].setValue(_upstream_colorspace(source))


def _script_dir() -> Optional[str]:
    script = str(nuke.root()["name"].value())
    return os.path.dirname(script) if script else None


def read_source(group: nuke.Group) -> Source:
    """Everything a render or a status check needs from the node and its input (FlashDepthError when the node
    cannot render)."""
    upstream = group.input(0)
    source = up.follow(upstream)
    if upstream is None or source is None:
        raise FlashDepthError(f"{group.name()} has no input: connect a Read or a node tree to it")
    output_dir = up.file_path(group, OUTPUT) or default_output_dir(_script_dir(), group.name())
    frames = script_frames(str(group[FRAMES].value()), range(upstream.firstFrame(), upstream.lastFrame() + 1))
    knobs = {name: str(group[name].value()) for name in TEXT_KNOBS}
    colour = engine_colour(knobs.pop(COLORSPACE), up.active_ocio_config())
    knobs.pop(FRAMES)
    export: Optional[ExportCache] = None
    read: Optional[nuke.Node] = None
    if source.Class() == "Read":
        read = source
        plate = up.read_file(source, bool(group[USE_PROXY].value()))
        files = up.file_frames(source, frames)
    else:
        export = ExportCache.for_network(output_dir, group.name(), up.network_key(source, frames))
        plate, files = export.pattern, list(frames)
    if not files:
        raise FlashDepthError(f"frames {format_frames(frames)} of {group.name()} show no plate frame: "
                              "check the frame range and the Read's before/after settings")
    solve = _solve(group, output_dir, read, frames)
    settings = NodeSettings(plate=plate, output_dir=output_dir, frames=format_frames(files),
                            colorspace=colour.colorspace or "", ocio_config=colour.ocio_config or "",
                            max_size=_knob_text(group, MAX_SIZE), data_type=_knob_text(group, DATA_TYPE, DATA_TYPES[0]),
                            compression=_knob_text(group, COMPRESSION, COMPRESSIONS[0]),
                            extra_args=solve.args, **knobs)
    return Source(settings, files, export, solve)


def _knob_text(group: nuke.Group, name: str, default: str = "") -> str:
    knob = group.knob(name)  # a node saved before the shot solve lacks its knobs
    return str(knob.value()) if knob is not None else default


def _solve(group: nuke.Group, output_dir: str, read: Optional[nuke.Node], frames: List[int]) -> SolveRequest:
    """The node's shot-solve request: its Camera input sampled at the script frames showing the rendered file
    frames, the scene points and the passes."""
    camera = connected_camera(group)
    samples = []
    order = "ZXY"
    if camera is not None:
        pairs = up.frame_pairs(read, frames) if read is not None else [(frame, frame) for frame in frames]
        samples = sample_camera(camera, pairs)
        order = rotation_order(camera)
    return solve_args(output_dir, camera.name() if camera is not None else "", samples, order,
                      _knob_text(group, POINTS), _knob_text(group, POSITION, OFF), _knob_text(group, NORMALS, OFF))


def _shown(group: nuke.Group) -> Optional[DepthVersion]:
    """The version the DepthRead shows (a record of the first release counts as an unversioned one)."""
    text = str(group[RESULT].value())
    version = DepthVersion.from_json(text)
    if version is None:
        old = CachedRender.from_json(text)
        version = DepthVersion(old.fingerprint, old.output) if old is not None else None
    return version


def _inner(group: nuke.Group, name: str) -> nuke.Node:
    node = group.node(name)
    if node is None:
        raise FlashDepthError(f"{group.name()} is missing its {name} node: create a new FlashDepth node")
    return node


def load_version(group: nuke.Group, version: Optional[DepthVersion], source: Source, reload: bool = False) -> None:
    """Point the DepthRead at ``version`` (None: no depth), timed like the plate Read (or the exported frames),
    and remember it."""
    read, copy = _inner(group, READ_NODE), _inner(group, COPY_NODE)
    if version is None:  # the record stays: the status keeps saying which depth went missing
        read["file"].setValue("")
        for node in [copy] + [group.node(name) for name, _ in PASS_NODES.values()]:
            if node is not None:
                node["disable"].setValue(True)
        return
    pattern = host_path(version.pattern)
    changed = str(read["file"].value()) != pattern
    read["file"].setValue(pattern)
    plate = up.follow(group.input(0))
    if source.export is None and plate is not None:
        up.copy_timing(plate, read)
    else:
        up.set_timing(read, min(source.frames), max(source.frames))
    copy["disable"].setValue(False)
    for (node_name, _), present in zip(PASS_NODES.values(), version_passes(version.manifest())):
        pass_copy = group.node(node_name)
        if pass_copy is not None:
            pass_copy["disable"].setValue(not present)
    group[RESULT].setValue(version.to_json())
    if changed or reload:
        reload_knob = read.knob("reload")
        if isinstance(reload_knob, nuke.Script_Knob):
            reload_knob.execute()


def _update_menu(group: nuke.Group, output_dir: str, status: NodeStatus) -> None:
    """The version menu: *latest*, then every version on disk; the shown one selected when it was chosen.
    Only what changed is set (a knob set from Python reaches knobChanged)."""
    knob = group.knob(VERSION)
    if not isinstance(knob, nuke.Enumeration_Knob):
        return
    infos = describe_versions(output_dir)
    items = [LATEST] + [info.label for info in infos]
    value = LATEST
    if status.chosen and status.shown is not None:  # a chosen version whose folder is gone keeps its item
        value = next((info.label for info in infos if info.version.key == status.shown.key),
                     f"{status.shown.key[:8]}  {MISSING_ITEM}")
        if value not in items:
            items.append(value)
    _MENU_UPDATES.add(group.fullName())
    try:
        if list(knob.values()) != items:
            knob.setValues(items)  # keeps the index, which may now name another version: not a choice
        if str(knob.value()) != value:
            knob.setValue(value)
    finally:
        _MENU_UPDATES.discard(group.fullName())


def _show(group: nuke.Group, status: Union[NodeStatus, FlashDepthError], message: Optional[str] = None) -> None:
    """Status line (``message`` first: how something ended), tile colour and label; or why the node cannot
    render."""
    if isinstance(status, FlashDepthError):
        group[STATUS].setValue(f"{message}. {status}" if message else str(status))
        return
    line = status.line(RENDER_BUTTON, FINISH_BUTTON)
    if message is None:
        text = line
    elif status.state is DepthState.CURRENT:
        text = message
    else:
        text = f"{message}. {line}"
    group[STATUS].setValue(text)
    group["tile_color"].setValue(status.colour)
    if group.knob(STATE) is not None and str(group[STATE].value()) != status.label:
        group[STATE].setValue(status.label)
    _update_menu(group, os.path.dirname(status.wanted.folder), status)


def _group(name: str) -> Optional[nuke.Group]:
    node = nuke.toNode(name)
    return node if isinstance(node, nuke.Group) else None


class _Node:
    """The host operations of one FlashDepth node (:class:`flashdepth_vfx.hosts.controller.NodeHost`)."""

    background = True
    file_input = "a Read input"

    def __init__(self, group: nuke.Group) -> None:
        self.group = group
        self.key = group.fullName()
        self.name = group.name()
        self.path = self.key
        self.scene = str(nuke.root()["name"].value())

    def read_source(self) -> Source:
        return read_source(self.group)

    def say(self, text: str) -> None:
        self.group[STATUS].setValue(text)

    def show(self, status: Union[NodeStatus, FlashDepthError], message: Optional[str]) -> None:
        _show(self.group, status, message)

    def shown(self) -> Optional[DepthVersion]:
        return _shown(self.group)

    def chosen(self) -> bool:
        knob = self.group.knob(CHOSEN)
        return bool(knob.value()) if knob is not None else False

    def choose(self, version: Optional[DepthVersion]) -> None:
        self.group[CHOSEN].setValue(version is not None)
        knob = self.group.knob(VERSION)
        if version is None and isinstance(knob, nuke.Enumeration_Knob) and str(knob.value()) != LATEST:
            _MENU_UPDATES.add(self.key)
            try:
                knob.setValue(LATEST)
            finally:
                _MENU_UPDATES.discard(self.key)

    def load(self, version: Optional[DepthVersion], source: Source, reload: bool) -> None:
        load_version(self.group, version, source, reload)

    def keep_output_dir(self, output_dir: str) -> None:
        base = _script_dir()
        if base and not str(self.group[OUTPUT].value()).strip():  # (an unsaved script's temp folder is not kept)
            self.group[OUTPUT].setValue(relative_path(output_dir, base, SCRIPT_FOLDER))

    def ask(self, question: str, details: str) -> bool:
        return bool(nuke.ask(f"{question}\n\n{details}" if details else question))

    def later(self, call: Callable[[], None]) -> None:
        nuke.executeInMainThread(self._if_alive, args=(call,))

    def _if_alive(self, call: Callable[[], None]) -> None:
        group = _group(self.key)
        if group is not None:  # None: deleted meanwhile
            self.group = group
            call()

    def now(self, call: Callable[[], T]) -> T:
        return cast(T, _in_main_thread(call))

    @contextlib.contextmanager
    def progress(self, task: BackgroundRender) -> Iterator[Report]:
        bar = nuke.ProgressTask(f"FlashDepth: {self.key}")

        def tick(fraction: Optional[float], message: str) -> None:
            if bar.isCancelled():
                task.cancel()
            bar.setProgress(int(round(100 * (fraction or 0.0))))
            bar.setMessage(message)

        yield tick

    def current_frame(self) -> int:
        frame = int(nuke.frame())
        read = up.follow(self.group.input(0))
        if read is None or read.Class() != "Read":  # an exported node tree is numbered by script frames
            return frame
        pairs = up.frame_pairs(read, [frame])
        return pairs[0][0] if pairs else frame

    def show_progress(self, fraction: Optional[float], message: Optional[str]) -> None:
        if message is not None:
            self.group[STATUS].setValue(message)

    @contextlib.contextmanager
    def exporter(self, cache: ExportCache) -> Iterator[Callable[[int], None]]:
        _in_main_thread(_export_begin, args=(self.key, cache.pattern))
        try:
            yield lambda frame: _in_main_thread(_export_frame, args=(self.key, frame))
        finally:
            _in_main_thread(_export_end, args=(self.key,))


def choose_version(group: nuke.Group) -> None:
    """The version menu changed: show the version chosen (it stays, whatever the knobs), or follow the knobs
    again for *latest*."""
    if group.fullName() in _MENU_UPDATES:
        return
    knob = group.knob(VERSION)
    choice = str(knob.value()) if knob is not None else LATEST
    controller.choose_version(_Node(group), None if choice == LATEST else choice)


# What the buttons, knobChanged and script load call (flashdepth_vfx.hosts.controller's verbs on this node).
(refresh_status, render, preview, finish, cancel, show_partial, delete_old_versions, send_to_farm,
 running) = controller.verbs(_Node)


def _export_begin(name: str, pattern: str) -> None:
    group = _group(name)
    if group is None:
        raise FlashDepthError(f"{name} was deleted while exporting its input")
    with group:
        # the working space, as the engine is told (a Write's default follows Project Settings' float files LUT)
        write = nuke.nodes.Write(name=EXPORT_NODE, file=host_path(pattern), file_type="exr", channels="rgba",
                                 colorspace=_working_space())
        write.setInput(0, _inner(group, INPUT_NODE))


def _export_frame(name: str, frame: int) -> None:
    group = _group(name)
    write = group.node(EXPORT_NODE) if group is not None else None
    if write is None:
        raise FlashDepthError(f"{name} was deleted while exporting its input")
    try:
        nuke.execute(write, nuke.FrameRanges(f"{frame}-{frame}"))
    except RuntimeError as exc:
        raise FlashDepthError(f"cannot write frame {frame} of {name}'s input ({exc}): check the input and the folder") from None


def _export_end(name: str) -> None:
    group = _group(name)
    write = group.node(EXPORT_NODE) if group is not None else None
    if write is not None:
        nuke.delete(write)


# --- callbacks -----------------------------------------------------------------------------------------------

def knob_changed() -> None:
    """knobChanged of FlashDepth nodes (registered for Groups): a new input fills empty defaults; a setting
    re-checks the status."""
    group = nuke.thisNode()
    if not is_flashdepth(group) or not isinstance(group, nuke.Group):
        return
    knob = nuke.thisKnob().name()
    if knob == VERSION:
        choose_version(group)
        return
    if knob == "inputChange":
        apply_input_defaults(group)
    if knob == "inputChange" or knob in SETTING_KNOBS:
        refresh_status(group)
        _SEEN[group.fullName()] = _signature(group)


_SEEN: Dict[str, str] = {}
"""Each node's :func:`_signature` when its status was last checked."""


def _signature(group: nuke.Group) -> str:
    """What the node's status depends on that Nuke can say without touching the disk: its settings and camera,
    its input, the plate Read's file and frame range, or the knobs of the node tree's last node."""
    upstream, camera = group.input(0), group.input(CAMERA_INPUT)
    parts = [str(group[name].value()) for name in SETTING_KNOBS if group.knob(name) is not None]
    parts.append(camera.fullName() if camera is not None else "")
    if upstream is not None:
        parts += [upstream.fullName(), str(upstream.firstFrame()), str(upstream.lastFrame())]
    source = up.follow(upstream)
    if source is not None and source.Class() == "Read":
        parts += [source.fullName()] + [str(source[name].value()) for name in ("file", "proxy", "first", "last")]
    elif source is not None:
        # a node tree: the knobs of its last node (an edit deeper up is seen at the next check or render: walking
        # every tree at every idle would not scale to a script of many nodes)
        parts.append(up.node_text(source))
    return "\n".join(parts)


def update_ui() -> None:
    """updateUI of FlashDepth nodes (Nuke runs it on every node at idle, panel open or not; before Nuke 17
    knobChanged only reaches a node whose panel is open): when what the status depends on changed (a new input,
    a plate re-delivered with more frames), fill the empty defaults and re-check the status."""
    group = nuke.thisNode()
    if not is_flashdepth(group) or not isinstance(group, nuke.Group):
        return
    signature = _signature(group)
    if _SEEN.get(group.fullName()) == signature:
        return
    apply_input_defaults(group)
    refresh_status(group)
    _SEEN[group.fullName()] = _signature(group)


def autolabel() -> Optional[str]:
    """The Node Graph's text on a FlashDepth node: its name, the depth state, then the artist's own label (the
    node never writes ``label``)."""
    group = nuke.thisNode()
    if not is_flashdepth(group):
        return None
    state = group.knob(STATE)
    lines = [group.name(), f"depth: {state.value() if state is not None else 'unknown'}"]
    label = str(group["label"].value()).strip()
    return "\n".join(lines + ([label] if label else []))


def upgrade(group: nuke.Group) -> None:
    """Bring a node saved by an earlier release up to date: no stored knobChanged script, the buttons of this
    release (knobs it lacks are added)."""
    if "flashdepth_nuke" in str(group["knobChanged"].value()):
        group["knobChanged"].setValue("")
    if group.knob(STATE) is None:  # the state moves out of the label earlier releases wrote it into
        state = nuke.String_Knob(STATE, "depth state")
        group.addKnob(state)
        state.setFlag(nuke.INVISIBLE)
        if str(group["label"].value()).startswith("depth: "):
            group["label"].setValue("")
    if group.knob(USE_PROXY) is None:
        group.addKnob(nuke.Boolean_Knob(USE_PROXY, "render from proxy"))
    for added in _solve_knobs() + _file_knobs():
        if group.knob(added.name()) is None:
            group.addKnob(added)
    _upgrade_inner(group)
    for action, label in ((PREVIEW, PREVIEW_BUTTON), (FINISH, FINISH_BUTTON), (SHOW_PARTIAL, "Show partial"),
                          (FARM, FARM_BUTTON)):
        if group.knob(action) is None:
            group.addKnob(nuke.PyScript_Knob(action, label, button_command(action)))
    for version_knob in _version_knobs():
        if group.knob(version_knob.name()) is None:
            group.addKnob(version_knob)
            if version_knob.name() == CHOSEN:
                version_knob.setFlag(nuke.INVISIBLE)
    for action in (RENDER, PREVIEW, FINISH, SHOW_PARTIAL, CANCEL, FARM, PRUNE):
        knob = group.knob(action)
        if isinstance(knob, nuke.PyScript_Knob) and knob.value() != button_command(action):
            knob.setValue(button_command(action))


def _upgrade_inner(group: nuke.Group) -> None:
    """Give a node saved before the shot solve its Camera input and the P / N copies (before its Output)."""
    if group.node(CAMERA_NODE) is not None:
        return
    read, last = group.node(READ_NODE), group.node(COPY_NODE)
    outputs = [node for node in group.nodes() if node.Class() == "Output"]
    if read is None or last is None or len(outputs) != 1:
        return  # not a node this release made: leave it alone
    with group:
        nuke.nodes.Input(name=CAMERA_NODE, number=CAMERA_INPUT)
        for node_name, channels in PASS_NODES.values():
            last = _pass_copy(node_name, channels, last, read)
        outputs[0].setInput(0, last)


def refresh_all() -> None:
    """After a script opens: upgrade and re-check every FlashDepth node against the disk, without marking the
    script modified."""
    root = nuke.root()
    was_modified = root.modified()
    try:
        for node in nuke.allNodes("Group", recurseGroups=True):
            if is_flashdepth(node) and isinstance(node, nuke.Group):
                upgrade(node)
                refresh_status(node)
                _SEEN[node.fullName()] = _signature(node)
    finally:
        root.setModified(was_modified)
