"""A fake of Nuke's ``nuke`` module, just wide enough for the FlashDepth Group node.

Nodes keep knobs (only the knobs their class has: a wrong knob name raises NameError as in Nuke), inputs,
positions and their parent group. ``nuke.execute`` on a Write writes one small file per frame.
``executeInMainThread`` queues calls; :func:`run_main_thread` runs them, as Nuke's event loop would.
Call :func:`reset` before each test.
"""
from __future__ import annotations

import re
import threading
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

STARTLINE = 0x1000
INVISIBLE = 0x400

# Knobs (name -> default) each node class has, besides the ones every node has.
_COMMON_KNOBS: Dict[str, Any] = {"name": "", "knobChanged": "", "onCreate": "", "disable": False, "label": ""}
_CLASS_KNOBS: Dict[str, Dict[str, Any]] = {
    "Read": {"file": "", "first": 1, "last": 1, "origfirst": 1, "origlast": 1,
             "colorspace": "default (linear)", "raw": False, "on_error": "error"},
    "Write": {"file": "", "file_type": "", "channels": "rgb", "colorspace": "default (linear)"},
    "Copy": {"from0": "none", "to0": "none"},
    "Blur": {"size": 0.0},
    "Input": {"number": 0},
    "Output": {},
    "Group": {},
    "Root": {"first_frame": 1, "last_frame": 100},
}


class Knob:
    def __init__(self, name: str, label: Optional[str] = None, value: Any = "") -> None:
        self._name = name
        self._label = label if label is not None else name
        self._value = value
        self._tooltip = ""
        self.flags = 0
        self.owner: Optional[Node] = None

    def name(self) -> str:
        return self._name

    def label(self) -> str:
        return self._label

    def value(self) -> Any:
        return self._value

    def setValue(self, value: Any) -> bool:
        self._value = value
        return True

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


class File_Knob(String_Knob):
    pass


class Tab_Knob(Knob):
    pass


class Text_Knob(Knob):
    def __init__(self, name: str, label: Optional[str] = None, text: str = "") -> None:
        super().__init__(name, label, text)


class Enumeration_Knob(Knob):
    def __init__(self, name: str, label: str, values: List[str]) -> None:
        super().__init__(name, label, values[0])
        self._values = list(values)

    def setValue(self, value: Any) -> bool:
        if isinstance(value, int):
            value = self._values[value]
        if value not in self._values:
            raise ValueError(f"{value!r} is not one of {self._values}")
        self._value = value
        return True


class PyScript_Knob(Knob):
    def __init__(self, name: str, label: Optional[str] = None, command: str = "") -> None:
        super().__init__(name, label, command)

    def command(self) -> str:
        return str(self._value)

    def execute(self) -> None:
        """Run the button's script as Nuke does: with thisNode()/thisKnob() set to its node and knob."""
        assert self.owner is not None
        with _this(self.owner, self):
            exec(self.command(), {"__name__": "__main__"})


class Node:
    def __init__(self, node_class: str, parent: Optional["Group"]) -> None:
        self._class = node_class
        self._knobs: Dict[str, Knob] = {}
        for name, default in {**_COMMON_KNOBS, **_CLASS_KNOBS.get(node_class, {})}.items():
            self._add(Knob(name, value=default))
        self._inputs: Dict[int, Node] = {}
        self._xy = (0, 0)
        self._parent = parent

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

    def input(self, index: int) -> Optional["Node"]:
        return self._inputs.get(index)

    def setInput(self, index: int, node: Optional["Node"]) -> bool:
        if node is None:
            self._inputs.pop(index, None)
        else:
            self._inputs[index] = node
        return True

    def xpos(self) -> int:
        return self._xy[0]

    def ypos(self) -> int:
        return self._xy[1]

    def setXYpos(self, x: int, y: int) -> None:
        self._xy = (x, y)

    def parent(self) -> Optional["Group"]:
        return self._parent

    def firstFrame(self) -> int:
        if self._class == "Read":
            return int(self["first"].value())
        upstream = self.input(0)
        return upstream.firstFrame() if upstream is not None else int(root()["first_frame"].value())

    def lastFrame(self) -> int:
        if self._class == "Read":
            return int(self["last"].value())
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
        super().__init__("Root", None)


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
        self.messages.append(message)

    def isCancelled(self) -> bool:
        return self.cancelled


class _Menu:
    def __init__(self, name: str) -> None:
        self._name = name
        self.items: Dict[str, Any] = {}

    def addMenu(self, name: str, **kwargs: Any) -> "_Menu":
        menu = self.items.setdefault(name, _Menu(name))
        return menu  # type: ignore[no-any-return]

    def addCommand(self, name: str, command: Any = None, *args: Any, **kwargs: Any) -> None:
        self.items[name] = command


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
main_thread_queue: List[Tuple[Callable[..., Any], Tuple[Any, ...], Dict[str, Any]]] = []
script_load_callbacks: List[Callable[[], Any]] = []
toolbars: Dict[str, _Menu] = {}
_lock = threading.Lock()


def reset() -> None:
    """A fresh, empty session."""
    global _root
    _root = Root()
    _context[:] = [_root]
    for registry in (_this_stack, _selected, progress_tasks, executed, main_thread_queue,
                     script_load_callbacks):
        registry.clear()
    toolbars.clear()


def root() -> Root:
    return _root


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


def knob_changed(node: Node, knob_name: str) -> None:
    """Play Nuke's knobChanged: run the node's knobChanged script with thisNode/thisKnob set."""
    knob = node.knob(knob_name) or Knob(knob_name)
    with _this(node, knob):
        exec(str(node["knobChanged"].value()), {"__name__": "__main__"})


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


def filename(node: Node) -> Optional[str]:
    return str(node["file"].value()) or None


def execute(node: Node, frames: FrameRanges, *args: Any, **kwargs: Any) -> None:
    """Render a Write node: writes ``frame <n>`` into its file pattern for each frame."""
    frame_list = frames.toFrameList()
    executed.append((node.fullName(), frame_list))
    if node.Class() != "Write":
        raise RuntimeError(f"{node.name()} cannot be executed")
    if node.input(0) is None:
        raise RuntimeError(f"{node.name()}: no input")
    for frame in frame_list:
        with open(str(node["file"].value()) % frame, "w") as handle:
            handle.write(f"frame {frame}\n")


def executeInMainThread(call: Callable[..., Any], args: Tuple[Any, ...] = (), kwargs: Optional[Dict[str, Any]] = None) -> None:
    with _lock:
        main_thread_queue.append((call, tuple(args), dict(kwargs or {})))


def run_main_thread() -> int:
    """Run the queued main-thread calls (in order); returns how many ran."""
    with _lock:
        calls = list(main_thread_queue)
        main_thread_queue.clear()
    for call, args, kwargs in calls:
        call(*args, **kwargs)
    return len(calls)


def toolbar(name: str, create: bool = True) -> Optional[_Menu]:
    return toolbars.setdefault(name, _Menu(name)) if create else toolbars.get(name)


def addOnScriptLoad(call: Callable[[], Any], *args: Any, **kwargs: Any) -> None:
    script_load_callbacks.append(call)


def load_script(path: str) -> None:
    """Pretend a script at ``path`` finished loading: set the root name and run onScriptLoad callbacks."""
    _root["name"].setValue(path)
    for call in script_load_callbacks:
        call()

