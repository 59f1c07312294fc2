"""A fake of Nuke's ``nuke`` module, wide enough for the FlashDepth Group node, modelling the documented behaviour
the node relies on (Foundry's Python reference and user guide):

* Nodes keep knobs (only the knobs their class has: a wrong knob name raises NameError as in Nuke), inputs,
  positions and their parent group. Every knob change marks the script modified (``Root.modified()``), as
  Nuke does; ``Root.setModified`` clears it.
* A Read maps script frames to file frames: ``first``/``last`` (file frames), ``frame_mode`` ("expression",
  "start at", "offset") with its ``frame`` value, and ``before``/``after`` ("hold", "loop", "bounce",
  "black"). ``firstFrame()``/``lastFrame()`` are script frames; ``metadata("input/frame", t)`` is the file
  frame read at script frame ``t`` (None when that file does not exist).
* Proxy: with the Root's ``proxy`` on, ``nuke.filename`` returns a Read's ``proxy`` file when it has one;
  ``File_Knob.getEvaluatedValue()`` is the knob's own file (``####`` normalised to ``%04d``, the TCL
  ``[value root.name]`` and ``[file dirname ...]`` evaluated: a path relative to the script's folder).
* ``nuke.frame()`` is the current frame (the Root's ``frame``); ``nuke.frame(f)`` moves to it.
* Colour management: the Root's ``colorManagement`` ("Nuke" / "OCIO"), ``OCIO_config`` and
  ``customOCIOConfigPath``; ``nuke.EXE_PATH`` locates Nuke's own configs (``plugins/OCIOConfigs/configs``).
* Callbacks: ``addKnobChanged`` (per node class), ``addOnScriptLoad``; :func:`knob_changed` plays an artist's
  knob change (the node's own knobChanged script, then the registered callbacks, with thisNode/thisKnob set).
  Before Nuke 17 (``NUKE_VERSION_MAJOR``) knobChanged serves the control panel: a change made in the Node Graph
  (``inputChange``: wiring) reaches it only while the node's panel is open (``showControlPanel``); Foundry's
  ``addKnobChanged`` reference says to use ``addUpdateUI`` for what must happen with the panel closed.
  ``addUpdateUI`` callbacks run on every node when things change, during idle: :func:`update_ui` plays that.
  ``addAutolabel``: the text the Node Graph draws on a node is the first non-None callback result
  (:func:`autolabel`). ``addFilenameFilter``: ``filenameFilter(name)`` runs the filters, last added first, as
  Nuke does before it passes a file name to the operating system.
* ``nuke.execute`` on a Write writes one small file per frame, saying the colour space it wrote in (its
  ``colorspace`` knob; a new Write's default is ``default (<Root floatLut>)``, Project Settings' default for
  float files) and, with the Root in proxy mode, that it rendered at proxy resolution. ``executeInMainThread`` queues calls and
  ``executeInMainThreadWithResult`` queues and waits; :func:`run_main_thread` runs them, as Nuke's event
  loop would. ``message`` records what an artist would see in a dialog.

Call :func:`reset` before each test.
"""
from __future__ import annotations

import os
import re
import threading
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

STARTLINE = 0x1000
INVISIBLE = 0x400
EXE_PATH = "/opt/Nuke15.1v1/Nuke15.1"
NUKE_VERSION_MAJOR = 15


class Knob:
    def __init__(self, name: str, label: Optional[str] = None, value: Any = "") -> None:
        self._name = name
        self._label = label if label is not None else name
        self._value = value
        self._tooltip = ""
        self._expression: Optional[str] = None
        self.flags = 0
        self.owner: Optional[Node] = None

    def name(self) -> str:
        return self._name

    def label(self) -> str:
        return self._label

    def node(self) -> Optional["Node"]:
        return self.owner

    def value(self) -> Any:
        return self._value

    def getValue(self) -> Any:
        return self._value

    def setValue(self, value: Any) -> bool:
        self._value = value
        _mark_modified(self)
        return True

    def setExpression(self, expression: str) -> bool:
        self._expression = expression
        _mark_modified(self)
        return True

    def hasExpression(self) -> bool:
        return self._expression is not None

    def isAnimated(self) -> bool:
        return self._expression is not None

    def toScript(self) -> str:
        return f"{{{self._expression}}}" if self._expression is not None else str(self._value)

    def setFlag(self, flag: int) -> None:
        self.flags |= flag

    def clearFlag(self, flag: int) -> None:
        self.flags &= ~flag

    def getFlag(self, flag: int) -> bool:
        return bool(self.flags & flag)

    def setTooltip(self, text: str) -> None:
        self._tooltip = text

    def tooltip(self) -> str:
        return self._tooltip


class String_Knob(Knob):
    def __init__(self, name: str, label: Optional[str] = None, value: str = "") -> None:
        super().__init__(name, label, value)


class EvalString_Knob(String_Knob):
    pass


_TCL = re.compile(r"\[(value|file dirname) ([^\[\]]*)\]")


def _tcl(text: str) -> str:
    """The TCL commands the fake evaluates, innermost first: ``[value root.name]`` (a knob's value) and
    ``[file dirname PATH]``."""
    def run(match: "re.Match[str]") -> str:
        if match.group(1) == "file dirname":
            return os.path.dirname(match.group(2))
        node_name, _, knob_name = match.group(2).rpartition(".")
        node = _root if node_name == "root" else toNode(node_name)
        return str(node[knob_name].value()) if node is not None else ""

    while _TCL.search(text):
        text = _TCL.sub(run, text)
    return text


class File_Knob(EvalString_Knob):
    def getEvaluatedValue(self) -> str:
        """Foundry: the file with TCL expressions evaluated (``[file dirname [value root.name]]``: the script's
        folder) and a #### sequence written as %04d ("technical notation")."""
        return re.sub(r"#+", lambda run: f"%0{len(run.group())}d", _tcl(str(self._value)))


class Tab_Knob(Knob):
    pass


class Text_Knob(Knob):
    def __init__(self, name: str, label: Optional[str] = None, text: str = "") -> None:
        super().__init__(name, label, text)


class Boolean_Knob(Knob):
    def __init__(self, name: str, label: Optional[str] = None, value: bool = False) -> None:
        super().__init__(name, label, bool(value))

    def setValue(self, value: Any) -> bool:
        return super().setValue(bool(value))


class Int_Knob(Knob):
    def __init__(self, name: str, label: Optional[str] = None, value: int = 0) -> None:
        super().__init__(name, label, int(value))

    def setValue(self, value: Any) -> bool:
        return super().setValue(int(value))


class ColorChip_Knob(Int_Knob):
    pass


class Enumeration_Knob(Knob):
    def __init__(self, name: str, label: str, values: List[str]) -> None:
        super().__init__(name, label, values[0])
        self._values = list(values)

    def setValue(self, value: Any) -> bool:
        if isinstance(value, int):
            value = self._values[value]
        if value not in self._values:
            raise ValueError(f"{value!r} is not one of {self._values}")
        return super().setValue(value)

    def values(self) -> List[str]:
        return list(self._values)

    def setValues(self, items: List[str]) -> None:
        """Replace the menu's items (Nuke keeps the index, so the value may become another item, or the first)."""
        index = self._values.index(self.value()) if self.value() in self._values else 0
        self._values = list(items)
        self._value = self._values[index] if index < len(self._values) else self._values[0]


class Script_Knob(Knob):
    """A button (a Read's ``reload`` is one); ``executed`` counts presses."""

    def __init__(self, name: str, label: Optional[str] = None, command: str = "") -> None:
        super().__init__(name, label, command)
        self.executed = 0

    def execute(self) -> None:
        self.executed += 1


class PyScript_Knob(Script_Knob):
    def command(self) -> str:
        return str(self._value)

    def execute(self) -> None:
        """Run the button's script as Nuke does: with thisNode()/thisKnob() set to its node and knob."""
        assert self.owner is not None
        self.executed += 1
        with _this(self.owner, self):
            exec(self.command(), {"__name__": "__main__"})


class Array_Knob(Knob):
    """A knob of ``count`` numbers, each constant or animated with keys (``setValueAt``). Between keys the fake
    interpolates linearly (Nuke's default curves are smooth; tests sample at keys); outside them it holds the end
    keys, as Nuke's default extrapolation does. ``valueAt(time, index)`` is the value at a frame."""

    def __init__(self, name: str, label: Optional[str] = None, value: Any = 0.0, count: int = 1) -> None:
        super().__init__(name, label, value)
        self._count = count
        self._keys: Dict[int, Dict[float, float]] = {}

    def _constant(self, index: int) -> float:
        value = self._value
        return float(value[index] if isinstance(value, (list, tuple)) else value)

    def setValueAt(self, value: float, time: float, index: int = 0) -> bool:
        self._keys.setdefault(index, {})[float(time)] = float(value)
        _mark_modified(self)
        return True

    def isAnimated(self, index: Optional[int] = None) -> bool:
        return bool(self._keys if index is None else self._keys.get(index))

    def valueAt(self, time: float, index: int = 0) -> float:
        keys = self._keys.get(index)
        if not keys:
            return self._constant(index)
        times = sorted(keys)
        if time <= times[0]:
            return keys[times[0]]
        if time >= times[-1]:
            return keys[times[-1]]
        after = next(t for t in times if t >= time)
        before = max(t for t in times if t <= time)
        if after == before:
            return keys[after]
        weight = (time - before) / (after - before)
        return keys[before] + weight * (keys[after] - keys[before])

    def value(self, index: Optional[int] = None) -> Any:
        if index is None and self._count > 1:
            return [self.valueAt(float(root()["first_frame"].value()), i) for i in range(self._count)]
        return self.valueAt(float(root()["first_frame"].value()), index or 0)


class XYZ_Knob(Array_Knob):
    def __init__(self, name: str, label: Optional[str] = None, value: Any = (0.0, 0.0, 0.0)) -> None:
        super().__init__(name, label, list(value), count=3)


def _enum(*values: str) -> Callable[[str], Knob]:
    return lambda name: Enumeration_Knob(name, name, list(values))


def _file(name: str) -> Knob:
    return File_Knob(name)


def _plain(default: Any) -> Callable[[str], Knob]:
    return lambda name: Knob(name, value=default)


def _int(default: int) -> Callable[[str], Knob]:
    return lambda name: Int_Knob(name, value=default)


def _bool(default: bool) -> Callable[[str], Knob]:
    return lambda name: Boolean_Knob(name, value=default)


def _xyz(*default: float) -> Callable[[str], Knob]:
    return lambda name: XYZ_Knob(name, value=default)


def _double(default: float) -> Callable[[str], Knob]:
    return lambda name: Array_Knob(name, value=default)


# A Camera (Foundry's 3D reference: Camera node): translate / rotate / scaling / pivot (XYZ), uniform_scale,
# xform_order (SRT default), rot_order (ZXY default), useMatrix, the lens focal / haperture / vaperture in mm
# (defaults 50, 24.576, 18.672), win_translate (lens shift); its input 0 is an optional parent Axis.
_CAMERA_KNOBS: Dict[str, Callable[[str], Knob]] = {
    "translate": _xyz(0.0, 0.0, 0.0), "rotate": _xyz(0.0, 0.0, 0.0), "scaling": _xyz(1.0, 1.0, 1.0),
    "pivot": _xyz(0.0, 0.0, 0.0), "uniform_scale": _double(1.0),
    "xform_order": _enum("SRT", "STR", "RST", "RTS", "TSR", "TRS"),
    "rot_order": _enum("ZXY", "XYZ", "XZY", "YXZ", "YZX", "ZYX"), "useMatrix": _bool(False),
    "focal": _double(50.0), "haperture": _double(24.576), "vaperture": _double(18.672),
    "win_translate": lambda name: Array_Knob(name, value=[0.0, 0.0], count=2),
}

# Knobs (name -> maker) each node class has, besides the ones every node has.
_COMMON_KNOBS: Dict[str, Callable[[str], Knob]] = {
    "name": _plain(""), "knobChanged": _plain(""), "onCreate": _plain(""), "disable": _bool(False),
    "label": _plain(""), "tile_color": lambda name: ColorChip_Knob(name, value=0), "xpos": _int(0), "ypos": _int(0),
}
_CLASS_KNOBS: Dict[str, Dict[str, Callable[[str], Knob]]] = {
    "Read": {"file": _file, "proxy": _file, "first": _int(1), "last": _int(1), "origfirst": _int(1),
             "origlast": _int(1), "frame_mode": _enum("expression", "start at", "offset"),
             "frame": lambda name: String_Knob(name), "before": _enum("hold", "loop", "bounce", "black"),
             "after": _enum("hold", "loop", "bounce", "black"), "colorspace": _plain("default (linear)"),
             "raw": _bool(False), "on_error": _enum("error", "black", "checkerboard", "nearest frame"),
             "reload": lambda name: Script_Knob(name)},
    "Write": {"file": _file, "file_type": _plain(""), "channels": _plain("rgb"), "colorspace": _plain("default (linear)")},
    "Copy": {f"{side}{index}": _plain("none") for side in ("from", "to") for index in range(4)},
    "Blur": {"size": _plain(0.0)},
    "Grade": {"white": _plain(1.0)},
    "Dot": {},
    "NoOp": {},
    "Switch": {"which": _plain(0)},
    "Input": {"number": _int(0)},
    "Camera2": _CAMERA_KNOBS,
    "Camera3": _CAMERA_KNOBS,
    "Output": {},
    "Group": {},
    "Root": {"first_frame": _int(1), "last_frame": _int(100), "frame": _int(1), "proxy": _bool(False),
             "floatLut": _plain("linear"),
             "proxy_scale": _plain(0.5),
             "colorManagement": _enum("Nuke", "OCIO"),
             "OCIO_config": _enum("nuke-default", "aces_1.2", "fn-nuke_cg-config-v1.0.0_aces-v1.3_ocio-v2.1", "custom"),
             "customOCIOConfigPath": _file},
}


class Node:
    def __init__(self, node_class: str, parent: Optional["Group"]) -> None:
        self._class = node_class
        self._knobs: Dict[str, Knob] = {}
        for name, make in {**_COMMON_KNOBS, **_CLASS_KNOBS.get(node_class, {})}.items():
            self._add(make(name))
        self._inputs: Dict[int, Node] = {}
        self._parent = parent
        self._panel_open = False
        if node_class == "Write":
            self._knobs["colorspace"]._value = f"default ({_root['floatLut'].value()})"

    def showControlPanel(self, forceFloat: bool = False) -> None:
        self._panel_open = True

    def hideControlPanel(self) -> None:
        self._panel_open = False

    def shown(self) -> bool:
        """Whether the node's control panel is open."""
        return self._panel_open

    def _add(self, knob: Knob) -> None:
        knob.owner = self
        self._knobs[knob.name()] = knob

    def Class(self) -> str:
        return self._class

    def name(self) -> str:
        return str(self._knobs["name"].value())

    def fullName(self) -> str:
        parent = self._parent
        if parent is None or isinstance(parent, Root):
            return self.name()
        return f"{parent.fullName()}.{self.name()}"

    def setName(self, name: str, uncollide: bool = True, updateExpressions: bool = False) -> None:
        siblings = {n.name() for n in self._parent.nodes() if n is not self} if self._parent else set()
        while uncollide and name in siblings:
            head, number = re.match(r"(.*?)(\d*)$", name).groups()  # type: ignore[union-attr]
            name = f"{head}{int(number or 0) + 1}"
        self._knobs["name"].setValue(name)

    def knob(self, name: str) -> Optional[Knob]:
        return self._knobs.get(name)

    def knobs(self) -> Dict[str, Knob]:
        return dict(self._knobs)

    def __getitem__(self, name: str) -> Knob:
        if name not in self._knobs:
            raise NameError(f"knob {name} does not exist")
        return self._knobs[name]

    def addKnob(self, knob: Knob) -> None:
        if knob.name() in self._knobs:
            raise ValueError(f"{self.name()} already has a knob named {knob.name()}")
        self._add(knob)
        _mark_modified(knob)

    def input(self, index: int) -> Optional["Node"]:
        return self._inputs.get(index)

    def inputs(self) -> int:
        return max(self._inputs) + 1 if self._inputs else 0

    def setInput(self, index: int, node: Optional["Node"]) -> bool:
        if node is None:
            self._inputs.pop(index, None)
        else:
            self._inputs[index] = node
        return True

    def xpos(self) -> int:
        return int(self["xpos"].value())

    def ypos(self) -> int:
        return int(self["ypos"].value())

    def setXYpos(self, x: int, y: int) -> None:
        self["xpos"].setValue(x)
        self["ypos"].setValue(y)

    def parent(self) -> Optional["Group"]:
        return self._parent

    # --- time: a Read maps script frames to file frames; other nodes pass their input's range on ----------
    def _read_shift(self) -> int:
        """script frame - file frame of a Read in start at / offset mode."""
        mode, value = self["frame_mode"].value(), str(self["frame"].value()).strip()
        if mode == "start at" and value:
            return int(value) - int(self["first"].value())
        if mode == "offset" and value:
            return int(value)
        return 0

    def _read_file_frame(self, script_frame: int) -> Optional[int]:
        first, last = int(self["first"].value()), int(self["last"].value())
        expression = str(self["frame"].value()).strip()
        if self["frame_mode"].value() == "expression" and expression:
            frame = int(eval(expression, {"__builtins__": {}}, {"frame": script_frame, "x": script_frame}))
        else:
            frame = script_frame - self._read_shift()
        span = last - first + 1
        for edge, outside in (("before", frame < first), ("after", frame > last)):
            if not outside:
                continue
            how = self[edge].value()
            if how == "hold":
                frame = first if frame < first else last
            elif how == "loop":
                frame = first + (frame - first) % span
            elif how == "bounce":
                phase = (frame - first) % (2 * span)
                frame = first + phase if phase < span else last - (phase - span)
            else:
                return None
        return frame

    def metadata(self, key: str, time: Optional[float] = None) -> Any:
        """Only ``input/frame`` of a Read: the file frame read at script frame ``time``."""
        if self._class != "Read" or key != "input/frame":
            return None
        frame = self._read_file_frame(int(time if time is not None else root()["first_frame"].value()))
        if frame is None:
            return None
        path = filenameFilter(str(self["file"].value()))  # what Nuke reads: the name after the filters
        path = re.sub(r"#+", lambda run: f"%0{len(run.group())}d", path)
        return frame if os.path.isfile(path % frame if "%" in path else path) else None

    def firstFrame(self) -> int:
        if self._class == "Read":
            return int(self["first"].value()) + self._read_shift()
        upstream = self.input(0)
        return upstream.firstFrame() if upstream is not None else int(root()["first_frame"].value())

    def lastFrame(self) -> int:
        if self._class == "Read":
            return int(self["last"].value()) + self._read_shift()
        upstream = self.input(0)
        return upstream.lastFrame() if upstream is not None else int(root()["last_frame"].value())


class Group(Node):
    def __init__(self, node_class: str = "Group", parent: Optional["Group"] = None) -> None:
        super().__init__(node_class, parent)
        self._children: List[Node] = []

    def nodes(self) -> List[Node]:
        return list(self._children)

    def node(self, name: str) -> Optional[Node]:
        return next((n for n in self._children if n.name() == name), None)

    def begin(self) -> "Group":
        _context.append(self)
        return self

    def end(self) -> None:
        assert _context[-1] is self, "Group.end() without a matching begin()"
        _context.pop()

    def __enter__(self) -> "Group":
        return self.begin()

    def __exit__(self, *exc: Any) -> None:
        self.end()


class Root(Group):
    def __init__(self) -> None:
        self._modified = False
        super().__init__("Root", None)
        self._modified = False

    def modified(self) -> bool:
        return self._modified

    def setModified(self, modified: bool) -> None:
        self._modified = bool(modified)

    def proxy(self) -> bool:
        return bool(self["proxy"].value())


def _mark_modified(knob: Knob) -> None:
    """Any knob change of a node in the script (or of the Root) marks the script modified."""
    if "_root" in globals():
        _root._modified = True


class FrameRanges:
    def __init__(self, spec: str) -> None:
        self._frames: List[int] = []
        for token in str(spec).split():
            first, _, last = token.partition("-")
            self._frames += range(int(first), int(last or first) + 1)

    def toFrameList(self) -> List[int]:
        return list(self._frames)


class ProgressTask:
    """Records what it is told; a test sets ``cancelled`` to play the artist pressing Cancel."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.progress: List[int] = []
        self.messages: List[str] = []
        self.cancelled = False
        self.thread = threading.current_thread()
        progress_tasks.append(self)

    def setProgress(self, value: int) -> None:
        self.progress.append(value)

    def setMessage(self, message: str) -> None:
        if failures.get("ProgressTask.setMessage"):
            raise failures["ProgressTask.setMessage"]
        self.messages.append(message)

    def isCancelled(self) -> bool:
        return self.cancelled


class _Menu:
    def __init__(self, name: str, icon: str = "") -> None:
        self._name = name
        self.icon = icon
        self.items: Dict[str, Any] = {}
        self.options: Dict[str, Dict[str, Any]] = {}

    def addMenu(self, name: str, icon: str = "", **kwargs: Any) -> "_Menu":
        menu = self.items.setdefault(name, _Menu(name, icon))
        return menu  # type: ignore[no-any-return]

    def addCommand(self, name: str, command: Any = None, shortcut: str = "", icon: str = "", **kwargs: Any) -> None:
        self.items[name] = command
        self.options[name] = {"shortcut": shortcut, "icon": icon, **kwargs}


class _Nodes:
    """``nuke.nodes.<Class>(**knobs)``: a node of that class in the current group, knobs set."""

    def __getattr__(self, node_class: str) -> Callable[..., Node]:
        def create(**knobs: Any) -> Node:
            parent = _context[-1]
            node: Node = Group(node_class, parent) if node_class == "Group" else Node(node_class, parent)
            parent._children.append(node)
            node.setName(knobs.pop("name", f"{node_class}1"))
            for name, value in knobs.items():
                node[name].setValue(value)
            return node

        return create


nodes = _Nodes()
_root = Root()
_context: List[Group] = [_root]
_this_stack: List[Tuple[Node, Optional[Knob]]] = []
_selected: List[Node] = []
progress_tasks: List[ProgressTask] = []
executed: List[Tuple[str, List[int]]] = []
main_thread_queue: List[Tuple[Callable[..., Any], Tuple[Any, ...], Dict[str, Any], Optional[Dict[str, Any]]]] = []
script_load_callbacks: List[Callable[[], Any]] = []
knob_changed_callbacks: List["Callback"] = []
update_ui_callbacks: List["Callback"] = []
autolabel_callbacks: List["Callback"] = []
filename_filters: List["Callback"] = []
toolbars: Dict[str, _Menu] = {}
plugin_paths: List[str] = []
messages: List[str] = []
failures: Dict[str, BaseException] = {}
"""Set ``failures["ProgressTask.setMessage"] = SomeError()`` to make that call raise (a host failure)."""
_lock = threading.Lock()


def reset() -> None:
    """A fresh, empty session."""
    global _root
    _root = Root()
    _context[:] = [_root]
    for registry in (_this_stack, _selected, progress_tasks, executed, main_thread_queue,
                     script_load_callbacks, knob_changed_callbacks, update_ui_callbacks, autolabel_callbacks,
                     filename_filters, plugin_paths, messages, answers):
        registry.clear()
    toolbars.clear()
    failures.clear()


def root() -> Root:
    return _root


def modified() -> bool:
    return _root.modified()


def frame(value: Optional[float] = None) -> int:
    """Foundry: ``nuke.frame()`` is the current frame (the Viewer's, the root's ``frame`` knob); ``nuke.frame(f)``
    moves to ``f`` and returns it."""
    if value is not None:
        _root["frame"].setValue(int(value))
    return int(_root["frame"].value())


class _this:
    def __init__(self, node: Node, knob: Optional[Knob]) -> None:
        self.entry = (node, knob)

    def __enter__(self) -> None:
        _this_stack.append(self.entry)

    def __exit__(self, *exc: Any) -> None:
        _this_stack.pop()


def thisNode() -> Node:
    return _this_stack[-1][0]


def thisKnob() -> Optional[Knob]:
    return _this_stack[-1][1]


Callback = Tuple[Callable[..., Any], Tuple[Any, ...], Dict[str, Any], str]


def _register(registry: List[Callback], call: Callable[..., Any], args: Tuple[Any, ...],
              kwargs: Optional[Dict[str, Any]], node_class: str) -> None:
    registry.append((call, tuple(args), dict(kwargs or {}), node_class))


def _calls_for(registry: List[Callback], node: Node) -> List[Callable[[], Any]]:
    """The registered callbacks that apply to ``node``'s class, in the order added, ready to call."""
    return [lambda c=call, a=args, k=kwargs: c(*a, **k) for call, args, kwargs, node_class in list(registry)
            if node_class in ("*", node.Class())]


def addKnobChanged(call: Callable[..., Any], args: Tuple[Any, ...] = (), kwargs: Optional[Dict[str, Any]] = None,
                   nodeClass: str = "*", node: Optional[Node] = None) -> None:
    _register(knob_changed_callbacks, call, args, kwargs, nodeClass)


def knob_changed(node: Node, knob_name: str) -> None:
    """Play an artist's knob change: the node's knobChanged script, then the knobChanged callbacks registered
    for its class, with thisNode/thisKnob set."""
    knob = node.knob(knob_name) or Knob(knob_name)
    if knob_name == "inputChange" and NUKE_VERSION_MAJOR < 17 and not node.shown():
        return  # wiring in the Node Graph with the panel closed
    with _this(node, knob):
        script = str(node["knobChanged"].value())
        if script:
            exec(script, {"__name__": "__main__"})
        for call in _calls_for(knob_changed_callbacks, node):
            call()


def addUpdateUI(call: Callable[..., Any], args: Tuple[Any, ...] = (), kwargs: Optional[Dict[str, Any]] = None,
                nodeClass: str = "*") -> None:
    _register(update_ui_callbacks, call, args, kwargs, nodeClass)


def update_ui() -> None:
    """Play Nuke's idle after a change: the updateUI callbacks on every node of their class (panels open or not)."""
    for node in list(_walk(_root, True)):
        with _this(node, None):
            for call in _calls_for(update_ui_callbacks, node):
                call()


def addAutolabel(call: Callable[..., Any], args: Tuple[Any, ...] = (), kwargs: Optional[Dict[str, Any]] = None,
                 nodeClass: str = "*") -> None:
    _register(autolabel_callbacks, call, args, kwargs, nodeClass)


def autolabel(node: Node) -> str:
    """The text the Node Graph draws on ``node``: the last added autolabel callback that returns something."""
    with _this(node, None):
        for call in reversed(_calls_for(autolabel_callbacks, node)):
            text = call()
            if text is not None:
                return str(text)
    return node.name()


def addFilenameFilter(call: Callable[..., Any], args: Tuple[Any, ...] = (),
                      kwargs: Optional[Dict[str, Any]] = None, nodeClass: str = "*") -> None:
    _register(filename_filters, call, args, kwargs, nodeClass)


def filenameFilter(filename: str) -> str:
    """The file name after the filters (the last added first; None leaves it unchanged)."""
    for call, args, kwargs, _ in reversed(filename_filters):
        changed = call(filename, *args, **kwargs)
        if changed is not None:
            filename = str(changed)
    return filename


def select(*selection: Node) -> None:
    _selected[:] = list(selection)


def selectedNodes(filter: Optional[str] = None) -> List[Node]:
    return [n for n in _selected if filter is None or n.Class() == filter]


def _walk(group: Group, recurse: bool) -> Iterator[Node]:
    for node in group.nodes():
        yield node
        if recurse and isinstance(node, Group):
            yield from _walk(node, recurse)


def allNodes(filter: Optional[str] = None, group: Optional[Group] = None, recurseGroups: bool = False) -> List[Node]:
    return [n for n in _walk(group or _context[-1], recurseGroups) if filter is None or n.Class() == filter]


def toNode(name: str) -> Optional[Node]:
    return next((n for n in _walk(_root, True) if n.fullName() == name), None)


def delete(node: Node) -> None:
    parent = node.parent()
    if parent is not None:
        parent._children.remove(node)
        _root._modified = True


def filename(node: Node) -> Optional[str]:
    """The file a node works with: its proxy file when the Root is in proxy mode and it has one."""
    proxy = node.knob("proxy")
    if _root.proxy() and proxy is not None and str(proxy.value()):
        return str(proxy.value())
    return str(node["file"].value()) or None


def message(prompt: str) -> None:
    messages.append(prompt)


answers: List[bool] = []
"""What the artist answers the next ``nuke.ask`` questions (Yes: True); none left: No."""


def ask(prompt: str) -> bool:
    """A Yes/No question (Nuke's modal dialog): recorded in :data:`messages`, answered from :data:`answers`."""
    messages.append(prompt)
    return answers.pop(0) if answers else False


def execute(node: Node, frames: FrameRanges, *args: Any, **kwargs: Any) -> None:
    """Render a Write node: writes ``frame <n>`` into its file pattern for each frame."""
    frame_list = frames.toFrameList()
    executed.append((node.fullName(), frame_list))
    if node.Class() != "Write":
        raise RuntimeError(f"{node.name()} cannot be executed")
    if node.input(0) is None:
        raise RuntimeError(f"{node.name()}: no input")
    size = "proxy" if _root.proxy() else "full"
    for frame in frame_list:
        with open(str(node["file"].value()) % frame, "w") as handle:
            handle.write(f"frame {frame} {size} {node['colorspace'].value()}\n")


def executeInMainThread(call: Callable[..., Any], args: Tuple[Any, ...] = (), kwargs: Optional[Dict[str, Any]] = None) -> None:
    with _lock:
        main_thread_queue.append((call, tuple(args), dict(kwargs or {}), None))


def executeInMainThreadWithResult(call: Callable[..., Any], args: Tuple[Any, ...] = (),
                                  kwargs: Optional[Dict[str, Any]] = None) -> Any:
    """Queue ``call`` for the main thread and wait until it has run there; its exception is raised here."""
    box: Dict[str, Any] = {"done": threading.Event()}
    with _lock:
        main_thread_queue.append((call, tuple(args), dict(kwargs or {}), box))
    box["done"].wait()
    if "error" in box:
        raise box["error"]
    return box.get("result")


def run_main_thread() -> int:
    """Run the queued main-thread calls (in order); returns how many ran."""
    with _lock:
        calls = list(main_thread_queue)
        main_thread_queue.clear()
    for call, args, kwargs, box in calls:
        if box is None:
            call(*args, **kwargs)
            continue
        try:
            box["result"] = call(*args, **kwargs)
        except BaseException as exc:  # handed back to the waiting thread
            box["error"] = exc
        finally:
            box["done"].set()
    return len(calls)


def toolbar(name: str, create: bool = True) -> Optional[_Menu]:
    return toolbars.setdefault(name, _Menu(name)) if create else toolbars.get(name)


def menu(name: str) -> _Menu:
    return toolbars.setdefault(name, _Menu(name))


def pluginAddPath(path: str, addToSysPath: bool = True) -> None:
    plugin_paths.append(path)


def addOnScriptLoad(call: Callable[[], Any], *args: Any, **kwargs: Any) -> None:
    script_load_callbacks.append(call)


def load_script(path: str) -> None:
    """Pretend a script at ``path`` finished loading: set the root name, run onScriptLoad callbacks; a freshly
    loaded script is unmodified until something changes a knob."""
    _root["name"].setValue(path)
    _root.setModified(False)
    for call in script_load_callbacks:
        call()
