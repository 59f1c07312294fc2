"""A fake of Houdini's ``hou`` module, just wide enough for the FlashDepth COP subnet.

Nodes live in a path tree (``/img/comp/file1``) with a child category per network type (COP2 "Cop2",
Copernicus "Cop"); spare parameters come from ParmTemplateGroups; parameter callbacks run as Houdini runs
them (``exec`` with ``kwargs``) through :meth:`Parm.press`. ``InterruptableOperation`` records progress and
raises ``OperationInterrupted`` once :data:`interrupt` says so. Call :func:`reset` before each test.
"""
from __future__ import annotations

import os
import re
import sys
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple


class EnumValue:
    def __init__(self, name: str) -> None:
        self._name = name

    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"hou.EnumValue({self._name})"


class scriptLanguage:
    Python = EnumValue("Python")
    Hscript = EnumValue("Hscript")


class stringParmType:
    Regular = EnumValue("Regular")
    FileReference = EnumValue("FileReference")


class fileType:
    Any = EnumValue("Any")
    Directory = EnumValue("Directory")


class hipFileEventType:
    AfterLoad = EnumValue("AfterLoad")


class Error(Exception):
    pass


class OperationFailed(Error):
    pass


class OperationInterrupted(Error):
    pass


class ParmTemplate:
    def __init__(self, name: str, label: str, default: Any, **options: Any) -> None:
        self._name = name
        self._label = label
        self._default = default
        self.options = options

    def name(self) -> str:
        return self._name

    def label(self) -> str:
        return self._label

    def defaultValue(self) -> Any:
        return self._default

    def scriptCallback(self) -> str:
        return str(self.options.get("script_callback") or "")

    def scriptCallbackLanguage(self) -> EnumValue:
        return self.options.get("script_callback_language", scriptLanguage.Hscript)


class StringParmTemplate(ParmTemplate):
    def __init__(self, name: str, label: str, num_components: int, default_value: Sequence[str] = (),
                 **options: Any) -> None:
        super().__init__(name, label, default_value[0] if default_value else "", **options)

    def stringType(self) -> EnumValue:
        return self.options.get("string_type", stringParmType.Regular)


class MenuParmTemplate(ParmTemplate):
    def __init__(self, name: str, label: str, menu_items: Sequence[str], menu_labels: Sequence[str] = (),
                 default_value: int = 0, **options: Any) -> None:
        super().__init__(name, label, default_value, **options)
        self._items = tuple(menu_items)

    def menuItems(self) -> Tuple[str, ...]:
        return self._items


class ButtonParmTemplate(ParmTemplate):
    def __init__(self, name: str, label: str, **options: Any) -> None:
        super().__init__(name, label, None, **options)


class ParmTemplateGroup:
    def __init__(self, templates: Sequence[ParmTemplate] = ()) -> None:
        self._templates = list(templates)

    def append(self, template: ParmTemplate) -> None:
        self._templates.append(template)

    def entries(self) -> Tuple[ParmTemplate, ...]:
        return tuple(self._templates)


class Parm:
    def __init__(self, node: "OpNode", template: ParmTemplate) -> None:
        self._node = node
        self._template = template
        self._value: Any = template.defaultValue()

    def set(self, value: Any) -> None:
        if isinstance(self._template, MenuParmTemplate) and isinstance(value, str):
            value = self._template.menuItems().index(value)
        self._value = value

    def unexpandedString(self) -> str:
        return str(self._value)

    def evalAsString(self) -> str:
        if isinstance(self._template, MenuParmTemplate):
            return self._template.menuItems()[int(self._value)]
        return text.expandString(str(self._value))

    def press(self) -> None:
        """What the UI does when a button is pressed or a value is edited: run the Python callback."""
        script = self._template.scriptCallback()
        assert self._template.scriptCallbackLanguage() is scriptLanguage.Python, script
        exec(script, {"hou": sys.modules[__name__], "kwargs": {"node": self._node, "parm": self}})


class NodeTypeCategory:
    def __init__(self, name: str) -> None:
        self._name = name

    def name(self) -> str:
        return self._name


class NodeType:
    def __init__(self, name: str, category: str) -> None:
        self._name = name
        self._category = NodeTypeCategory(category)

    def name(self) -> str:
        return self._name

    def category(self) -> NodeTypeCategory:
        return self._category


# Network type -> category of its children; "subnet" inherits its parent's.
_CHILD_CATEGORY = {"root": "Manager", "img": "CopNet", "obj": "Object", "cop2net": "Cop2", "copnet": "Cop"}
# (category, type) -> parameters it is created with.
_TYPE_PARMS: Dict[Tuple[str, str], Dict[str, Any]] = {
    ("Cop2", "file"): {"filename1": "", "ocio_space": ""},
    ("Cop", "file"): {"filename": ""},
    ("Cop2", "blur"): {"size": 0.0},
}


class OpNode:
    def __init__(self, type_name: str, name: str, parent: Optional["OpNode"], category: str) -> None:
        self._type = NodeType(type_name, category)
        self._name = name
        self._parent = parent
        self._children: Dict[str, OpNode] = {}
        self._inputs: Dict[int, OpNode] = {}
        self._user_data: Dict[str, str] = {}
        self._templates = ParmTemplateGroup()
        self._parms: Dict[str, Parm] = {}
        self.selected = False
        self.moved = False
        for parm_name, default in _TYPE_PARMS.get((category, type_name), {}).items():
            self._parms[parm_name] = Parm(self, StringParmTemplate(parm_name, parm_name, 1, (default,)))

    def name(self) -> str:
        return self._name

    def path(self) -> str:
        if self._parent is None:
            return "/"
        return f"{self._parent.path().rstrip('/')}/{self._name}"

    def type(self) -> NodeType:
        return self._type

    def parent(self) -> Optional["OpNode"]:
        return self._parent

    def childTypeCategory(self) -> Optional[NodeTypeCategory]:
        if self._type.name() == "subnet":
            return NodeTypeCategory(self._type.category().name())
        name = _CHILD_CATEGORY.get(self._type.name())
        return NodeTypeCategory(name) if name else None

    def children(self) -> Tuple["OpNode", ...]:
        return tuple(self._children.values())

    def allSubChildren(self) -> Tuple["OpNode", ...]:
        found: List[OpNode] = []
        for child in self._children.values():
            found += [child, *child.allSubChildren()]
        return tuple(found)

    def node(self, relative: str) -> Optional["OpNode"]:
        current: Optional[OpNode] = self
        for part in relative.strip("/").split("/"):
            current = current._children.get(part) if current is not None else None
        return current

    def createNode(self, type_name: str, node_name: Optional[str] = None, **kwargs: Any) -> "OpNode":
        category = self.childTypeCategory()
        if category is None:
            raise OperationFailed(f"{self.path()} cannot contain nodes")
        name = node_name or f"{type_name}1"
        while name in self._children:
            head, number = re.match(r"(.*?)(\d*)$", name).groups()  # type: ignore[union-attr]
            name = f"{head}{int(number or 0) + 1}"
        node_class = {"Cop2": Cop2Node, "Cop": CopNode}.get(category.name(), OpNode)
        node = node_class(type_name, name, self, category.name())
        self._children[name] = node
        return node

    def setInput(self, index: int, node: Optional["OpNode"], output_index: int = 0) -> None:
        if node is None:
            self._inputs.pop(index, None)
        else:
            self._inputs[index] = node

    def input(self, index: int) -> Optional["OpNode"]:
        return self._inputs.get(index)

    def parm(self, name: str) -> Optional[Parm]:
        return self._parms.get(name)

    def parmTemplateGroup(self) -> ParmTemplateGroup:
        return ParmTemplateGroup(self._templates.entries())

    def setParmTemplateGroup(self, group: ParmTemplateGroup, rename_conflicting_parms: bool = False) -> None:
        self._templates = ParmTemplateGroup(group.entries())
        for template in group.entries():
            if template.name() not in self._parms:
                self._parms[template.name()] = Parm(self, template)

    def setUserData(self, name: str, value: str) -> None:
        self._user_data[name] = value

    def userData(self, name: str) -> Optional[str]:
        return self._user_data.get(name)

    def setSelected(self, on: bool, clear_all_selected: bool = False) -> None:
        if clear_all_selected:
            for node in _root.allSubChildren():
                node.selected = False
        self.selected = on

    def moveToGoodPosition(self, *args: Any, **kwargs: Any) -> None:
        self.moved = True


class Cop2Node(OpNode):
    """A COP2 node; ``frame_range`` plays the image sequence length Houdini finds for it."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.frame_range = (1.0, 1.0)
        self.display = False
        self.render = False
        self.saved: List[Tuple[str, Tuple[float, ...]]] = []

    def setDisplayFlag(self, on: bool) -> None:
        self.display = on

    def setRenderFlag(self, on: bool) -> None:
        self.render = on

    def sequenceStartFrame(self) -> float:
        return self.frame_range[0]

    def sequenceEndFrame(self) -> float:
        return self.frame_range[1]

    def saveImage(self, file_name: str, frame_range: Sequence[float] = ()) -> None:
        """Writes ``frame <n>`` for each frame into ``file_name`` with $F/$F4 replaced."""
        self.saved.append((file_name, tuple(frame_range)))
        first, last = (int(f) for f in frame_range[:2])
        for frame in range(first, last + 1):
            path = re.sub(r"\$F(\d*)", lambda m: str(frame).zfill(int(m.group(1) or 1)), file_name)
            with open(path, "w") as handle:
                handle.write(f"frame {frame}\n")


class CopNode(OpNode):
    """A Copernicus node (no sequence range or display-flag API used here)."""


class InterruptableOperation:
    def __init__(self, operation_name: str, long_operation_name: Optional[str] = None,
                 open_interrupt_dialog: bool = False, timeout_ms: int = 0) -> None:
        self.operation_name = operation_name
        self.open_interrupt_dialog = open_interrupt_dialog
        self.progress: List[float] = []
        self.active = False
        operations.append(self)

    def __enter__(self) -> "InterruptableOperation":
        self.active = True
        return self

    def __exit__(self, *exc: Any) -> None:
        self.active = False

    def updateProgress(self, percentage: float = -1.0) -> None:
        assert self.active, "updateProgress outside the with block"
        self.progress.append(percentage)
        if interrupt is not None and interrupt(percentage):
            raise OperationInterrupted("Operation interrupted")


class _HipFile:
    def __init__(self) -> None:
        self.file_path = "untitled.hip"
        self.callbacks: List[Callable[[EnumValue], None]] = []

    def path(self) -> str:
        return self.file_path

    def isNewFile(self) -> bool:
        return os.path.basename(self.file_path) == "untitled.hip"

    def addEventCallback(self, callback: Callable[[EnumValue], None]) -> None:
        self.callbacks.append(callback)

    def load(self, file_path: str) -> None:
        """Pretend ``file_path`` was opened: tell the event callbacks."""
        self.file_path = file_path
        for callback in self.callbacks:
            callback(hipFileEventType.AfterLoad)


class _Text:
    def expandString(self, value: str, expand_tilde: bool = True) -> str:
        variables = {"HIP": os.path.dirname(hipFile.path()) or ".", **os.environ}

        def expand(match: "re.Match[str]") -> str:
            if match.group(1):  # \$NAME is a literal $NAME
                return match.group(0)[1:]
            return variables.get(match.group(2), match.group(0))

        return re.sub(r"(\\)?\$\{?(\w+)\}?", expand, value)


hipFile = _HipFile()
text = _Text()
operations: List[InterruptableOperation] = []
interrupt: Optional[Callable[[float], bool]] = None
version: Tuple[int, int, int] = (20, 5, 0)
_root = OpNode("root", "", None, "Director")


def reset() -> None:
    """A fresh scene: /, /img and /obj; a new, unsaved .hip."""
    global _root, interrupt, version, hipFile
    _root = OpNode("root", "", None, "Director")
    for manager in ("img", "obj"):
        _root._children[manager] = OpNode(manager, manager, _root, "Manager")
    hipFile = _HipFile()
    operations.clear()
    interrupt = None
    version = (20, 5, 0)


def node(path: str) -> Optional[OpNode]:
    return _root if path == "/" else _root.node(path)


def selectedNodes(include_hidden: bool = False) -> Tuple[OpNode, ...]:
    return tuple(n for n in _root.allSubChildren() if n.selected)


def applicationVersion(include_patch: bool = False) -> Tuple[int, int, int]:
    return version
