"""What feeds a FlashDepth node, read through Nuke's API: the plate Read behind pass-through nodes, its timing,
the script's colour management, and a content description of real upstream processing (for the export cache).
The logic itself lives in :mod:`flashdepth_vfx.hosts`; this module only asks Nuke.
"""
from __future__ import annotations

import os
from typing import Callable, Dict, Iterator, List, Optional, Set, Tuple, cast

import nuke

from flashdepth_vfx.errors import FlashDepthError
from flashdepth_vfx.hosts.export import content_key, sequence_stamp
from flashdepth_vfx.hosts.frames import HOLD, ReadTiming

PASS_THROUGH = ("Dot", "NoOp")
SWITCH = "Switch"
# Knobs that say where a node sits or how it looks, not what it computes.
_LOOK_KNOBS = frozenset({"name", "xpos", "ypos", "selected", "label", "note_font", "note_font_size", "note_font_color",
                         "tile_color", "gl_color", "hide_input", "cached", "postage_stamp", "postage_stamp_frame",
                         "help", "onCreate", "onDestroy", "knobChanged", "updateUI", "autolabel", "panel",
                         "icon", "indicators", "bookmark", "dope_sheet", "lifetimeStart", "lifetimeEnd",
                         "useLifetime", "reload"})


def _knob_text(node: nuke.Node, name: str, default: str = "") -> str:
    knob = node.knob(name)
    return default if knob is None else str(knob.value())


def _constant(knob: nuke.Knob) -> bool:
    return not (knob.isAnimated() or knob.hasExpression())


def follow(node: Optional[nuke.Node]) -> Optional[nuke.Node]:
    """The node that really produces the image: past Dots, NoOps, disabled nodes and Switches whose ``which``
    is a constant. Stops at the first node that processes the image (or None for an unconnected input)."""
    seen: Set[int] = set()
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        disable = node.knob("disable")
        if node.Class() in PASS_THROUGH or (disable is not None and bool(disable.value()) and node.Class() != "Read"):
            node = node.input(0)
        elif node.Class() == SWITCH and _constant(node["which"]):
            inputs = max(node.inputs(), 1)
            node = node.input(min(max(int(float(node["which"].value())), 0), inputs - 1))
        else:
            return node
    return node


def _file_knob(read: nuke.Node, name: str) -> str:
    knob = read[name]
    if isinstance(knob, nuke.File_Knob):
        return str(knob.getEvaluatedValue() or "")
    return str(knob.value())


_filename_filter = cast(Callable[[str], str], nuke.filenameFilter)  # (the stubs leave it untyped)


def read_file(read: nuke.Node, use_proxy: bool) -> str:
    """The file pattern the Read reads at full resolution (TCL evaluated, through the studio's filename filters:
    ``nuke.addFilenameFilter`` remaps), whatever the script's proxy mode; its proxy file when ``use_proxy`` is
    asked and it has one."""
    if use_proxy:
        proxy = file_path(read, "proxy")
        if proxy:
            return proxy
    path = file_path(read, "file")
    if not path:
        raise FlashDepthError(f"{read.name()} has no file: set its file knob")
    return path


def file_path(node: nuke.Node, name: str) -> str:
    """The path a file knob names, as this machine sees it: TCL evaluated (``[file dirname [value root.name]]``),
    through the studio's filename filters (``nuke.addFilenameFilter`` remaps of another mount); "" when empty."""
    path = _file_knob(node, name).strip()
    return _filename_filter(path) if path else ""


def read_timing(read: nuke.Node) -> ReadTiming:
    """The Read's frame range, frame mode and before/after behaviour."""
    return ReadTiming(
        first=int(read["first"].value()),
        last=int(read["last"].value()),
        mode=_knob_text(read, "frame_mode"),
        value=_knob_text(read, "frame"),
        before=_knob_text(read, "before", HOLD),
        after=_knob_text(read, "after", HOLD),
    )


def file_frames(read: nuke.Node, script_frames: List[int]) -> List[int]:
    """The file frames ``read`` shows at ``script_frames`` (an expression frame mode is evaluated by Nuke:
    the ``input/frame`` metadata at each frame)."""
    def evaluate(frame: int) -> int:
        value = read.metadata("input/frame", frame)
        if value is None:
            raise FlashDepthError(f"{read.name()} reads no file at frame {frame}: check its frame expression and files")
        return int(value)

    return read_timing(read).file_frames(script_frames, evaluate)


def frame_pairs(read: nuke.Node, script_frames: List[int]) -> List[Tuple[int, int]]:
    """(file frame, the first of ``script_frames`` showing it) for each file frame ``read`` shows there, ascending:
    where a camera is sampled for each rendered file frame."""
    def evaluate(frame: int) -> int:
        value = read.metadata("input/frame", frame)
        if value is None:
            raise FlashDepthError(f"{read.name()} reads no file at frame {frame}: check its frame expression and files")
        return int(value)

    timing = read_timing(read)
    pairs: Dict[int, int] = {}
    for frame in script_frames:
        file_frame = timing.file_frame(frame, evaluate)
        if file_frame is not None:
            pairs.setdefault(file_frame, frame)
    return sorted(pairs.items())


def copy_timing(plate: nuke.Node, depth: nuke.Node) -> None:
    """Give the depth Read the plate Read's timing, so both show the same file frame at every script frame."""
    for name in ("first", "last", "origfirst", "origlast", "frame_mode", "frame", "before", "after"):
        source, target = plate.knob(name), depth.knob(name)
        if source is not None and target is not None:
            target.setValue(source.value())


def set_timing(depth: nuke.Node, first: int, last: int) -> None:
    """A plain timing: file frame = script frame, ``first``-``last``, black outside (an exported input)."""
    for name, number in (("first", first), ("last", last), ("origfirst", first), ("origlast", last)):
        depth[name].setValue(number)
    for name, text in (("frame_mode", "expression"), ("frame", ""), ("before", "black"), ("after", "black")):
        knob = depth.knob(name)
        if knob is not None:
            knob.setValue(text)


def _nuke_configs() -> List[str]:
    """Folders where Nuke keeps its own OCIO configs (Linux/Windows layout, then the macOS bundle)."""
    exe_dir = os.path.dirname(nuke.EXE_PATH)
    return [os.path.join(exe_dir, "plugins", "OCIOConfigs", "configs"),
            os.path.join(os.path.dirname(exe_dir), "Resources", "OCIOConfigs", "configs")]


def active_ocio_config() -> Optional[str]:
    """The OCIO config the script uses, or None when Nuke's own colour management is on (nuke-default).
    ``$OCIO`` wins, as in Nuke; then Project Settings > Color: a custom config path, or one of Nuke's configs."""
    from_env = os.environ.get("OCIO", "").strip()
    if from_env:
        return from_env
    root = nuke.root()
    if _knob_text(root, "colorManagement", "Nuke") != "OCIO":
        return None
    name = _knob_text(root, "OCIO_config").strip()
    if name == "custom":
        path = _file_knob(root, "customOCIOConfigPath").strip()
        if not path:
            raise FlashDepthError("Project Settings use a custom OCIO config but its path is empty: set the path")
        return path
    if not name or name == "nuke-default":
        return None
    for folder in _nuke_configs():
        path = os.path.join(folder, name, "config.ocio")
        if os.path.isfile(path):
            return path
    builtin = name[len("fn-nuke_"):] if name.startswith("fn-nuke_") else name
    if "-config-v" in builtin:  # Nuke's names for OCIO's built-in cg / studio configs
        return f"ocio://{builtin}"
    raise FlashDepthError(f"cannot find Nuke's OCIO config {name!r} under {_nuke_configs()[0]}: "
                          "set Project Settings > OCIO config to custom with its path, or set $OCIO")


def _upstream(node: nuke.Node) -> Iterator[nuke.Node]:
    """``node`` and everything above it, each once, depth first in input order."""
    stack, seen = [node], set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for index in reversed(range(current.inputs())):
            upstream = current.input(index)
            if upstream is not None:
                stack.append(upstream)


def node_text(node: nuke.Node) -> str:
    """A node's class and the knobs that change the picture, as Nuke holds them (no file is read)."""
    knobs = sorted((name, knob.toScript()) for name, knob in node.knobs().items() if name not in _LOOK_KNOBS)
    return f"{node.Class()} {knobs!r}"


def network_key(node: nuke.Node, script_frames: List[int]) -> str:
    """A content hash of the network above ``node`` (itself included): each node's :func:`node_text` and how it
    is wired, the stamps of the files its Reads read in the frames asked, and the render context (format,
    proxy)."""
    parts = []
    order = {id(n): i for i, n in enumerate(_upstream(node))}
    for upstream in _upstream(node):
        wires = [order.get(id(upstream.input(i)), -1) if upstream.input(i) is not None else -1
                 for i in range(upstream.inputs())]
        parts.append(f"{node_text(upstream)} {wires!r}")
    for upstream in _upstream(node):
        if upstream.knob("file") is not None and upstream.Class() == "Read":
            pattern = _filename_filter(_file_knob(upstream, "file"))
            try:
                frames = file_frames(upstream, script_frames)
            except FlashDepthError:
                frames = []
            parts.append(sequence_stamp(pattern, frames))
    parts.append(_render_context())
    return content_key(parts)


def _render_context() -> str:
    """How Nuke renders a tree in this script: the project format and, in proxy mode, the proxy resolution (a
    tree exported in proxy mode is a smaller image than the same tree at full resolution)."""
    root = nuke.root()
    proxy = bool(root["proxy"].value())
    names = ["format"] + (["proxy_type", "proxy_scale", "proxy_format"] if proxy else [])
    return f"proxy={proxy} " + " ".join(f"{name}={_knob_text(root, name)}" for name in names)
