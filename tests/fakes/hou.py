"""A fake of Houdini's ``hou`` module, just wide enough for the FlashDepth node.

Nodes live in a path tree (``/img/comp/file1``) with a child category per network type (COP2 "Cop2",
Copernicus "Cop"); spare parameters come from ParmTemplateGroups; parameter callbacks run as Houdini runs
them (``exec`` with ``kwargs``) through :meth:`Parm.press`, and Python parameter expressions are evaluated
with ``hou.pwd()`` as the node (a multi-line expression is a function body). ``InterruptableOperation``
records progress and raises ``OperationInterrupted`` once :data:`interrupt` says so.

What the adapters rely on, modelled as documented:
* ``hou.ui.addEventLoopCallback`` callbacks run only when the UI's event loop is idle: :func:`run_event_loop`
  plays that loop; ``hou.isUIAvailable()`` is False in hython (:data:`ui_available`).
* Any parameter change, user data or colour change marks the scene modified
  (``hou.hipFile.hasUnsavedChanges``); loading a .hip clears it before the load callbacks run.
* String parameters expand ``$HIP`` and environment variables; a backslash escapes the next character
  (``\\$HIP`` is a literal ``$HIP``, and ``C:\\show`` reads as ``C:show``): paths take forward slashes.
* The COP2 File COP: ``filename1``, ``colorspace`` (a menu; entry 3 is OpenColorIO), ``ocio_space``,
  ``reload``. The Copernicus File COP: ``filename``, the AOV multiparm ``aovs`` with ``aov#`` (its AOVs
  become the node's outputs), ``reload``.
* A COP2 network has one node with the display flag and one with the render flag: setting either clears it on
  the node's siblings.
* COP2 planes (``Cop2Node.planes()``; the fake's :meth:`Cop2Node.plane_files` says which file each plane's pixels
  come from, None for black): a File COP has the planes of its file at the current frame (``hou.frame()``,
  ``hou.setFrame``): EXR layers by name (``depth.Z`` is plane ``depth``, ``R G B`` plane ``C``, ``A`` plane ``A``;
  a stand-in text file counts as a plate, C and A), and always C and A (black when the file has none: every COP2
  image has them). A subnet outputs its child with the render flag; inside it, ``indirectInputs()[0]`` stands for
  the subnet's input 0. The Merge COP (``merge``) merges its inputs' planes in input order; a plane already there
  is a conflict, resolved by its Plane Conflict menu (``conflict``): rename it with a number (default), or ignore it.
* Time: ``hou.fps()`` (24), ``hou.frameToTime(frame) = (frame - 1) / fps``. A parameter can hold keys
  (:meth:`Parm.set_keys`, a test helper): ``evalAtFrame`` interpolates them linearly and holds the end keys.
* An OBJ camera (``/obj`` type ``cam``, a :class:`ObjNode`): ``tx ty tz rx ry rz`` with the rotate order menu
  ``rOrd`` (Houdini's default xyz: X applied first), input 0 its parent object; ``worldTransformAtTime(t)`` is
  the local transform under the parent's world transform, a :class:`Matrix4` whose ``extractTranslates`` /
  ``extractRotates(transform_order, rotate_order)`` decompose it. The lens: ``focal``, ``aperture``
  (horizontal), ``resx`` / ``resy``, ``aspect`` (pixel aspect), ``winx`` / ``winy`` (screen window offset),
  ``focalunits``.
* Undo: every parameter, user data or colour change is an undo entry (:data:`undo_labels`) unless made inside
  ``hou.undos.disabler()`` (SideFX: changes in that context are not added to the undo stack).
* HOM is not thread-safe: graphical Houdini expects every call on its main thread (a worker hands calls over
  through ``hdefereval``). A node method called from another thread while the UI is up is recorded in
  :data:`off_main_thread`.
* The Copernicus File COP's Video Timing (SideFX, File Copernicus node): a File Name with ``<F>`` takes its
  frame number from Video Timing: Start Frame (``videotiming`` 0) plays the sequence's first file at Video Start
  Frame (``videostartframe``), then one file per frame; Frame Number (1) shows the file Video Frame
  (``videoframe``) says. :meth:`OpNode.file_frame_at` says which file frame the node reads at a frame.
* :func:`as_houdini_19_5` removes ``hou.OpNode`` (added in Houdini 20.0; 19.5 has only ``hou.Node``).
Call :func:`reset` before each test.
"""
from __future__ import annotations

import math
import os
import glob
import re
import sys
import threading
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
    NodeReference = EnumValue("NodeReference")


class fileType:
    Any = EnumValue("Any")
    Directory = EnumValue("Directory")


class menuType:
    Normal = EnumValue("Normal")
    Mini = EnumValue("Mini")
    StringReplace = EnumValue("StringReplace")


class hipFileEventType:
    AfterLoad = EnumValue("AfterLoad")
    AfterSave = EnumValue("AfterSave")


class exprLanguage:
    Python = EnumValue("Python")
    Hscript = EnumValue("Hscript")


class severityType:
    Message = EnumValue("Message")
    Warning = EnumValue("Warning")
    Error = EnumValue("Error")


class Color:
    def __init__(self, rgb: Sequence[float] = (0.0, 0.0, 0.0)) -> None:
        self._rgb = tuple(float(c) for c in rgb)

    def rgb(self) -> Tuple[float, ...]:
        return self._rgb

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Color) and other._rgb == self._rgb

    @staticmethod
    def ocio_configPath() -> str:
        """Houdini's active OCIO config: $OCIO, else the one Houdini ships."""
        return os.environ.get("OCIO") or "/opt/hfs/packages/ocio/houdini-config-v2.ocio"


class Error(Exception):
    pass


class OperationFailed(Error):
    pass


class OperationInterrupted(Error):
    pass


class ObjectWasDeleted(Error):
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

    def itemGeneratorScript(self) -> str:
        return str(self.options.get("item_generator_script") or "")

    def menuType(self) -> EnumValue:
        return self.options.get("menu_type", menuType.Normal)


class MenuParmTemplate(ParmTemplate):
    def __init__(self, name: str, label: str, menu_items: Sequence[str], menu_labels: Sequence[str] = (),
                 default_value: int = 0, **options: Any) -> None:
        super().__init__(name, label, default_value, **options)
        self._items = tuple(menu_items)
        self._labels = tuple(menu_labels) or self._items

    def menuItems(self) -> Tuple[str, ...]:
        return self._items

    def menuLabels(self) -> Tuple[str, ...]:
        return self._labels


class IntParmTemplate(ParmTemplate):
    def __init__(self, name: str, label: str, num_components: int, default_value: Sequence[int] = (),
                 min: int = 0, max: int = 10, **options: Any) -> None:
        super().__init__(name, label, default_value[0] if default_value else 0, **options)


class FloatParmTemplate(ParmTemplate):
    def __init__(self, name: str, label: str, num_components: int, default_value: Sequence[float] = (),
                 **options: Any) -> None:
        super().__init__(name, label, default_value[0] if default_value else 0.0, **options)


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
        self._expression: Optional[str] = None
        self.pressed = 0

    def name(self) -> str:
        return self._template.name()

    def node(self) -> "OpNode":
        return self._node

    def parmTemplate(self) -> ParmTemplate:
        return self._template

    def set(self, value: Any) -> None:
        self._node._check_alive()
        if isinstance(self._template, MenuParmTemplate) and isinstance(value, str):
            value = self._template.menuItems().index(value)
        if value != self._value or self._expression is not None:
            _changed()
        self._value = value
        self._expression = None
        if self._template.name() == "aovs":  # the Copernicus File COP's AOV multiparm
            self._node._resize_multiparm("aov", int(value))

    def setExpression(self, expression: str, language: Optional[EnumValue] = None,
                      replace_expression: bool = True) -> None:
        self._expression = expression
        self._language = language or exprLanguage.Hscript
        _changed()

    def expression(self) -> str:
        if self._expression is None:
            raise OperationFailed("parameter has no expression")
        return self._expression

    def _evaluate(self) -> Any:
        if self._expression is None:
            return self._value
        assert self._language is exprLanguage.Python, "the fake evaluates Python expressions only"
        global _pwd
        previous, _pwd = _pwd, self._node
        try:
            namespace: Dict[str, Any] = {"hou": sys.modules[__name__]}
            if "\n" not in self._expression.strip():
                return eval(self._expression, namespace)
            body = "\n".join("    " + line for line in self._expression.splitlines())
            exec(f"def _expression():\n{body}\n", namespace)
            return namespace["_expression"]()
        except Error:
            raise
        except Exception as exc:  # Houdini reports an expression's Python error as OperationFailed
            raise OperationFailed(f"Python error in the expression of {self.name()}: {exc!r}") from exc
        finally:
            _pwd = previous

    def rawValue(self) -> str:
        return self._expression if self._expression is not None else str(self._value)

    def unexpandedString(self) -> str:
        return str(self._value) if self._expression is None else str(self._evaluate())

    def eval(self) -> Any:
        if isinstance(self._template, MenuParmTemplate):
            return int(self._value)
        value = self._evaluate()
        return text.expandString(value) if isinstance(value, str) else value

    def set_keys(self, keys: Dict[float, float]) -> None:
        """(Test helper) animate the parameter with keys at frames."""
        self._keys = dict(keys)
        _changed()

    def evalAtFrame(self, frame: float) -> Any:
        keys: Dict[float, float] = getattr(self, "_keys", {})
        if keys:
            times = sorted(keys)
            if frame <= times[0] or frame >= times[-1]:
                return keys[times[0] if frame <= times[0] else times[-1]]
            before = max(t for t in times if t <= frame)
            after = min(t for t in times if t >= frame)
            if before == after:
                return keys[before]
            return keys[before] + (frame - before) / (after - before) * (keys[after] - keys[before])
        if self._expression is None and isinstance(self._value, str) and re.search(r"\$F", self._value):
            return re.sub(r"\$F(\d*)", lambda m: str(int(frame)).zfill(int(m.group(1) or 1)), self.eval())
        return self.eval()

    def isTimeDependent(self) -> bool:
        """True when the value depends on the frame (here: a $F variable in it)."""
        return self._expression is None and isinstance(self._value, str) and "$F" in self._value

    def evalAsInt(self) -> int:
        return int(self._value)

    def evalAsString(self) -> str:
        if isinstance(self._template, MenuParmTemplate):
            return self._template.menuItems()[int(self._value)]
        if self._expression is not None:  # an expression's result is used as it is
            return str(self._evaluate())
        return text.expandString(str(self._value))

    def pressButton(self) -> None:
        self.pressed += 1

    def press(self) -> None:
        """What the UI does when a button is pressed or a value is edited: run the Python callback."""
        script = self._template.scriptCallback()
        assert self._template.scriptCallbackLanguage() is scriptLanguage.Python, script
        exec(script, {"hou": sys.modules[__name__], "kwargs": {"node": self._node, "parm": self}})

    def _menu_script(self) -> List[str]:
        """Run a string parameter's Python menu script as Houdini does: one line is an expression, more lines a
        function body; ``kwargs`` holds the node and the parameter; it must return tokens and labels in turn."""
        script = self._template.itemGeneratorScript() if isinstance(self._template, StringParmTemplate) else ""
        if not script:
            return []
        namespace: Dict[str, Any] = {"hou": sys.modules[__name__], "kwargs": {"node": self._node, "parm": self}}
        if "\n" not in script.strip():
            result = eval(script, namespace)
        else:
            body = "\n".join("    " + line for line in script.splitlines())
            exec(f"def _menu():\n{body}\n", namespace)
            result = namespace["_menu"]()
        if not isinstance(result, (list, tuple)) or len(result) % 2 or not all(isinstance(x, str) for x in result):
            raise OperationFailed("Python menu scripts must return an even number of strings")
        return list(result)

    def menuItems(self) -> Tuple[str, ...]:
        if isinstance(self._template, StringParmTemplate):
            return tuple(self._menu_script()[0::2])
        return self._template.menuItems() if isinstance(self._template, MenuParmTemplate) else ()

    def menuLabels(self) -> Tuple[str, ...]:
        if isinstance(self._template, MenuParmTemplate):
            return self._template.menuLabels()
        return tuple(self._menu_script()[1::2])


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
    ("Cop2", "file"): {"filename1": "", "colorspace": 0, "ocio_space": "", "reload": None},
    ("Cop", "file"): {"filename": "", "aovs": 0, "reload": None, "videotiming": 0, "videostartframe": 1,
                      "videoframe": 1},
    ("Cop2", "blur"): {"size": 0.0},
    ("Cop2", "merge"): {"conflict": 0},
    ("Object", "cam"): {"tx": 0.0, "ty": 0.0, "tz": 0.0, "rx": 0.0, "ry": 0.0, "rz": 0.0, "rOrd": 0,
                        "focal": 50.0, "aperture": 41.4214, "resx": 1920, "resy": 1080, "aspect": 1.0,
                        "winx": 0.0, "winy": 0.0, "focalunits": 0},
    ("Object", "null"): {"tx": 0.0, "ty": 0.0, "tz": 0.0, "rx": 0.0, "ry": 0.0, "rz": 0.0, "rOrd": 0},
}
ROTATE_ORDERS = ("xyz", "xzy", "yxz", "yzx", "zxy", "zyx")
"""An object's Rotate Order menu (``rOrd``)."""
FOCAL_UNITS = ("mm", "m", "nm", "in", "ft")
_LABELS = {"videotiming": "Video Timing", "videostartframe": "Video Start Frame", "videoframe": "Video Frame"}
"""Parameters' labels where the tests need them (the others are labelled by their names)."""
VIDEO_TIMINGS = ("startframe", "framenumber")
COP2_FILE_COLORSPACES = ("auto", "linear", "srgb", "ocio")
"""The COP2 File COP's Color Space menu (entry 3, OpenColorIO, reads the ``ocio_space`` parameter)."""
MERGE_CONFLICTS = ("rename", "arrayrename", "arrayignore", "ignore", "error")
"""The COP2 Merge's Plane Conflict menu, in SideFX's order; the labels below are the documented ones."""
MERGE_CONFLICT_LABELS = ("Rename Conflicting Plane", "Add to Plane Array if Identical else Rename",
                         "Add to Plane Array if Identical else Ignore", "Ignore Conflicting Planes",
                         "Error if Conflicts Occur")


class Node:
    """``hou.Node``: the base class every Houdini version has (``hou.OpNode`` derives from it since 20.0)."""


class OpNode(Node):
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
        self.color = Color((0.8, 0.8, 0.8))
        self.destroyed = False
        for parm_name, default in _TYPE_PARMS.get((category, type_name), {}).items():
            template: ParmTemplate
            if parm_name == "colorspace":
                template = MenuParmTemplate(parm_name, parm_name, COP2_FILE_COLORSPACES)
            elif parm_name == "conflict":
                template = MenuParmTemplate(parm_name, "Plane Conflict", MERGE_CONFLICTS, MERGE_CONFLICT_LABELS)
            elif parm_name == "videotiming":
                template = MenuParmTemplate(parm_name, _LABELS[parm_name], VIDEO_TIMINGS)
            elif parm_name in ("rOrd", "focalunits"):
                template = MenuParmTemplate(parm_name, parm_name, ROTATE_ORDERS if parm_name == "rOrd" else FOCAL_UNITS)
            elif isinstance(default, float):
                template = FloatParmTemplate(parm_name, parm_name, 1, (default,))
            elif parm_name == "reload":
                template = ButtonParmTemplate(parm_name, "Reload")
            elif isinstance(default, int):
                template = IntParmTemplate(parm_name, _LABELS.get(parm_name, parm_name), 1, (default,))
            else:
                template = StringParmTemplate(parm_name, parm_name, 1, (default,))
            self._parms[parm_name] = Parm(self, template)

    def __getattribute__(self, name: str) -> Any:
        if not name.startswith("_") and ui_available and threading.current_thread() is not threading.main_thread():
            off_main_thread.append(f"{type(self).__name__}.{name}")
        return super().__getattribute__(name)

    def file_frame_at(self, frame: int) -> int:
        """(Test helper) the file frame a Copernicus File COP with ``<F>`` reads at ``frame``."""
        if int(self._parms["videotiming"].eval()) == 1:
            return int(self._parms["videoframe"].eval())
        first = min(sequence_files(self._parms["filename"].eval()))
        return first + frame - int(self._parms["videostartframe"].eval())

    def _check_alive(self) -> None:
        if self.destroyed:
            raise ObjectWasDeleted("Attempt to access an object that no longer exists in Houdini.")

    def _resize_multiparm(self, prefix: str, count: int) -> None:
        for index in range(1, max(count, 0) + 1):
            name = f"{prefix}{index}"
            if name not in self._parms:
                self._parms[name] = Parm(self, StringParmTemplate(name, name, 1))
        for name in [n for n in self._parms if re.fullmatch(rf"{prefix}(\d+)", n) and int(n[len(prefix):]) > count]:
            del self._parms[name]

    def parms(self) -> Tuple[Parm, ...]:
        return tuple(self._parms.values())

    def inputs(self) -> Tuple["OpNode", ...]:
        return tuple(self._inputs[i] for i in sorted(self._inputs))

    def sessionId(self) -> int:
        return id(self)

    def setColor(self, color: Color) -> None:
        self._check_alive()
        if color != self.color:
            _changed()
        self.color = color

    def destroy(self) -> None:
        self.destroyed = True
        if self._parent is not None:
            self._parent._children.pop(self._name, None)

    def name(self) -> str:
        return self._name

    def path(self) -> str:
        if self._parent is None:
            return "/"
        return f"{self._parent.path().rstrip('/')}/{self._name}"

    def type(self) -> NodeType:
        return self._type

    def relativePathTo(self, base_item: "OpNode") -> str:
        return os.path.relpath(base_item.path(), self.path())

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
        """The node at a path relative to this one, or an absolute path (as HOM's ``Node.node``)."""
        current: Optional[OpNode] = _root if relative.startswith("/") else self
        for part in relative.strip("/").split("/"):
            if current is not None and part == "..":
                current = current._parent
            elif current is not None and part not in ("", "."):
                current = current._children.get(part)
        return current

    def createNode(self, type_name: str, node_name: Optional[str] = None, **kwargs: Any) -> "OpNode":
        category = self.childTypeCategory()
        if category is None:
            raise OperationFailed(f"{self.path()} cannot contain nodes")
        name = node_name or f"{type_name}1"
        while name in self._children:
            head, number = re.match(r"(.*?)(\d*)$", name).groups()  # type: ignore[union-attr]
            name = f"{head}{int(number or 0) + 1}"
        node_class = {"Cop2": Cop2Node, "Cop": CopNode, "Object": ObjNode}.get(category.name(), _OP_NODE)
        node = node_class(type_name, name, self, category.name())
        self._children[name] = node
        _changed()
        return node

    def setInput(self, index: int, node: Optional["OpNode | SubnetIndirectInput"], output_index: int = 0) -> None:
        if node is None:
            self._inputs.pop(index, None)
        else:
            self._inputs[index] = node  # type: ignore[assignment]

    def input(self, index: int) -> Optional["OpNode"]:
        found = self._inputs.get(index)
        return None if isinstance(found, SubnetIndirectInput) else found

    def indirectInputs(self) -> Tuple["SubnetIndirectInput", ...]:
        """A subnet's inputs as its children see them (one per input; the fake models input 0)."""
        if self._type.name() != "subnet":
            raise OperationFailed(f"{self.path()} is not a subnetwork")
        return (SubnetIndirectInput(self, 0),)

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
        self._check_alive()
        if self._user_data.get(name) != value:
            _changed()
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

    def _siblings(self) -> List["Cop2Node"]:
        parent = self._parent
        return [n for n in (parent._children.values() if parent else ()) if isinstance(n, Cop2Node) and n is not self]

    def setDisplayFlag(self, on: bool) -> None:
        """One node of a network has the flag: setting it clears it on the others."""
        for other in self._siblings() if on else ():
            other.display = False
        self.display = on

    def setRenderFlag(self, on: bool) -> None:
        for other in self._siblings() if on else ():
            other.render = False
        self.render = on

    def sequenceStartFrame(self) -> float:
        return self.frame_range[0]

    def sequenceEndFrame(self) -> float:
        return self.frame_range[1]

    def planes(self) -> Tuple[str, ...]:
        return tuple(self.plane_files())

    def plane_files(self) -> Dict[str, Optional[str]]:
        """(Test helper) each plane of this node's image at the current frame, by the file its pixels come from
        (None: black)."""
        kind = self._type.name()
        if kind == "file":
            pattern = text.expandString(self._parms["filename1"].rawValue())
            path = re.sub(r"\$F(\d*)", lambda m: str(int(_frame)).zfill(int(m.group(1) or 1)), pattern)
            if not os.path.isfile(path):
                raise OperationFailed(f"{self.path()}: unable to open {path}")
            found = _exr_planes(path)
            planes: Dict[str, Optional[str]] = {"C": None, "A": None}
            planes.update({plane: path for plane in (found if found is not None else ["C", "A"])})
            return planes
        if kind == "subnet":
            shown = [child for child in self._children.values() if isinstance(child, Cop2Node) and child.render]
            return shown[0].plane_files() if shown else {}
        if kind == "merge":
            merged: Dict[str, Optional[str]] = {}
            rule = MERGE_CONFLICTS[int(self._parms["conflict"].eval())]
            for index in sorted(self._inputs):
                for plane, source in _input_planes(self._inputs[index]).items():
                    if plane not in merged:
                        merged[plane] = source
                    elif rule == "rename":
                        number = 2
                        while f"{plane}{number}" in merged:
                            number += 1
                        merged[f"{plane}{number}"] = source
                    elif rule == "error":
                        raise OperationFailed(f"{self.path()}: plane {plane} is in more than one input")
            return merged
        return _input_planes(self._inputs.get(0))

    def saveImage(self, file_name: str, frame_range: Sequence[float] = ()) -> None:
        """Writes ``frame <n>`` for each frame into ``file_name`` with $F/$F4 replaced."""
        self._check_alive()
        self.saved.append((file_name, tuple(frame_range)))
        first, last = (int(f) for f in frame_range[:2])
        for frame in range(first, last + 1):
            path = re.sub(r"\$F(\d*)", lambda m: str(frame).zfill(int(m.group(1) or 1)), file_name)
            with open(path, "w") as handle:
                handle.write(f"frame {frame}\n")


class SubnetIndirectInput:
    """``hou.SubnetIndirectInput``: inside a subnet, what is wired into the subnet's input ``index``."""

    def __init__(self, subnet: OpNode, index: int) -> None:
        self._subnet = subnet
        self._index = index

    def inputIndex(self) -> int:
        return self._index

    def input(self) -> Optional[OpNode]:
        return self._subnet.input(self._index)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SubnetIndirectInput) and (other._subnet, other._index) == (self._subnet, self._index)


def _exr_planes(path: str) -> Optional[List[str]]:
    """The COP2 planes of an EXR's channels (layer names; R G B -> C, A -> A), None when it is not a readable EXR."""
    import OpenImageIO as oiio

    image = oiio.ImageInput.open(path) if path.lower().endswith(".exr") else None
    if image is None:
        return None
    names = list(image.spec().channelnames)
    image.close()
    planes: List[str] = []
    for channel in names:
        plane = channel.rpartition(".")[0] or ("C" if channel in ("R", "G", "B") else channel)
        if plane not in planes:
            planes.append(plane)
    return planes


def _input_planes(item: Any) -> Dict[str, Optional[str]]:
    if isinstance(item, SubnetIndirectInput):
        item = item.input()
    return item.plane_files() if isinstance(item, Cop2Node) else {}


class CopNode(OpNode):
    """A Copernicus node (no sequence range or display-flag API used here)."""


def _axis(axis: str, degrees: float) -> List[List[float]]:
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return {"x": [[1, 0, 0], [0, c, -s], [0, s, c]], "y": [[c, 0, s], [0, 1, 0], [-s, 0, c]],
            "z": [[c, -s, 0], [s, c, 0], [0, 0, 1]]}[axis]


def _mul(a: List[List[float]], b: List[List[float]]) -> List[List[float]]:
    return [[sum(a[i][k] * b[k][j] for k in range(3)) for j in range(3)] for i in range(3)]


class Matrix4:
    """A rigid transform (rotation, as column vectors act on it, and translation); Houdini's row-vector layout is
    not modelled, only the decompositions the adapters use."""

    def __init__(self, rotation: List[List[float]], translation: Sequence[float]) -> None:
        self.rotation = rotation
        self.translation = list(translation)

    def __mul__(self, parent: "Matrix4") -> "Matrix4":
        """``child * parent`` as in Houdini: the child's transform, then the parent's."""
        moved = [sum(parent.rotation[i][k] * self.translation[k] for k in range(3)) + parent.translation[i]
                 for i in range(3)]
        return Matrix4(_mul(parent.rotation, self.rotation), moved)

    def extractTranslates(self, transform_order: str = "srt") -> Vector3:
        assert transform_order == "srt", "the fake decomposes srt only"
        return Vector3(self.translation)

    def extractRotates(self, transform_order: str = "srt", rotate_order: str = "xyz") -> Vector3:
        """Euler angles (degrees) rebuilding the rotation in ``rotate_order`` (the first axis applied first)."""
        assert transform_order == "srt" and rotate_order == "zxy", "the fake decomposes srt / zxy only"
        r = self.rotation  # = Ry Rx Rz
        rx = math.degrees(math.asin(max(-1.0, min(1.0, -r[1][2]))))
        return Vector3((rx, math.degrees(math.atan2(r[0][2], r[2][2])), math.degrees(math.atan2(r[1][0], r[1][1]))))


class Vector3(tuple):  # type: ignore[type-arg]
    def __new__(cls, values: Sequence[float]) -> "Vector3":
        return super().__new__(cls, [float(v) for v in values])


def fps() -> float:
    return 24.0


def frameToTime(frame: float) -> float:
    return (frame - 1.0) / fps()


def timeToFrame(time: float) -> float:
    return time * fps() + 1.0


class ObjNode(OpNode):
    """An OBJ node: its local transform from ``tx``...``rz`` in its ``rOrd``, parented through input 0."""

    def worldTransformAtTime(self, time: float) -> Matrix4:
        frame = timeToFrame(time)
        value = lambda name: float(self._parms[name].evalAtFrame(frame))  # noqa: E731
        rotation = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
        for axis in ROTATE_ORDERS[int(self._parms["rOrd"].eval())]:
            rotation = _mul(_axis(axis, value(f"r{axis}")), rotation)
        local = Matrix4(rotation, [value("tx"), value("ty"), value("tz")])
        parent = self.input(0)
        return local * parent.worldTransformAtTime(time) if isinstance(parent, ObjNode) else local


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
        self.modified = False

    def hasUnsavedChanges(self) -> bool:
        return self.modified

    def path(self) -> str:
        return self.file_path

    def isNewFile(self) -> bool:
        return os.path.basename(self.file_path) == "untitled.hip"

    def addEventCallback(self, callback: Callable[[EnumValue], None]) -> None:
        self.callbacks.append(callback)

    def load(self, file_path: str) -> None:
        """Pretend ``file_path`` was opened (a freshly loaded scene is unmodified): tell the event callbacks."""
        self.file_path = file_path
        self.modified = False
        for callback in self.callbacks:
            callback(hipFileEventType.AfterLoad)

    def save(self, file_name: Optional[str] = None, save_to_recent_files: bool = True) -> None:
        """Save the scene (under ``file_name``: it becomes the scene's path, as File > Save As): writes a stand-in
        file, clears the modified flag, then tells the event callbacks ``AfterSave``."""
        if file_name:
            self.file_path = file_name
        with open(self.file_path, "w", encoding="utf-8") as handle:
            handle.write("a saved hip file")
        self.modified = False
        for callback in self.callbacks:
            callback(hipFileEventType.AfterSave)


class _Text:
    def expandString(self, value: str, expand_tilde: bool = True) -> str:
        variables = {"HIP": os.path.dirname(hipFile.path()) or ".", **os.environ}

        def expand(match: "re.Match[str]") -> str:
            if match.group(1) is not None:  # SideFX: a backslash escapes the next character (\$NAME is a literal
                return match.group(1)       # $NAME; C:\show\depth reads as C:showdepth): paths use /
            return variables.get(match.group(2), match.group(0))

        return re.sub(r"\\(.)|\$\{?(\w+)\}?", expand, value)


class _Ui:
    """``hou.ui``: event loop callbacks (run by :func:`run_event_loop`), status bar messages, message boxes."""

    def __init__(self) -> None:
        self.callbacks: List[Callable[[], None]] = []
        self.status_messages: List[str] = []
        self.messages: List[str] = []
        self.answers: List[int] = []
        """The buttons the artist presses in the next message boxes (index); none left: the default choice."""

    def addEventLoopCallback(self, callback: Callable[[], None]) -> None:
        self.callbacks.append(callback)

    def removeEventLoopCallback(self, callback: Callable[[], None]) -> None:
        if callback not in self.callbacks:
            raise OperationFailed("callback was not registered")
        self.callbacks.remove(callback)

    def eventLoopCallbacks(self) -> Tuple[Callable[[], None], ...]:
        return tuple(self.callbacks)

    def setStatusMessage(self, message: str, severity: EnumValue = severityType.Message) -> None:
        self.status_messages.append(message)

    def displayMessage(self, text: str, buttons: Sequence[str] = ("OK",), *args: Any, **kwargs: Any) -> int:
        """A modal message box: returns the index of the button pressed (:attr:`answers`, else the default)."""
        self.messages.append(text)
        return self.answers.pop(0) if self.answers else int(kwargs.get("default_choice", 0))


def run_event_loop(until: Callable[[], bool], timeout: float = 30.0, tick: float = 0.02) -> int:
    """Play Houdini's idle event loop in this (main) thread until ``until()``: every ``tick`` seconds run the
    calls ``hdefereval`` queued and the registered event loop callbacks. Returns the number of rounds; fails
    the test after ``timeout``."""
    import time

    from . import hdefereval

    deadline = time.monotonic() + timeout
    rounds = 0
    while not until():
        assert time.monotonic() < deadline, "the event loop did not get there before the timeout"
        hdefereval.run_pending()
        for callback in list(ui.callbacks):
            callback()
        rounds += 1
        time.sleep(tick)
    hdefereval.run_pending()
    return rounds


def frame(full_precision: bool = False) -> float:
    return _frame


def setFrame(frame: float) -> None:
    global _frame
    _frame = float(frame)


def isUIAvailable() -> bool:
    return ui_available


def pwd() -> Node:
    assert _pwd is not None, "hou.pwd() outside a parameter evaluation"
    return _pwd


def as_houdini_19_5() -> None:
    """Play Houdini 19.5: no ``hou.OpNode`` (nodes are ``hou.Node``s), version 19.5."""
    global version
    version = (19, 5, 805)
    if "OpNode" in globals():
        del globals()["OpNode"]


_OP_NODE = OpNode
hipFile = _HipFile()
text = _Text()
ui = _Ui()
def _changed() -> None:
    """A change to the scene: it is modified, and the change is an undo entry unless undos are disabled."""
    hipFile.modified = True
    if undos.areEnabled():
        undo_labels.append("FlashDepth change" if _pwd is None else f"change of {_pwd}")


class _UndosDisabler:
    def __enter__(self) -> "_UndosDisabler":
        undos._disabled += 1
        return self

    def __exit__(self, *exc: Any) -> None:
        undos._disabled -= 1


class undos:
    _disabled = 0

    @staticmethod
    def disabler() -> _UndosDisabler:
        return _UndosDisabler()

    @staticmethod
    def areEnabled() -> bool:
        return undos._disabled == 0


def sequence_files(pattern: str) -> List[int]:
    """The frame numbers of the files a ``<F>`` pattern names."""
    regex = re.compile(re.escape(pattern).replace(re.escape("<F>"), r"(\d+)").replace("<F>", r"(\d+)"))
    found = []
    for path in glob.glob(re.sub(r"<F\d*>", "*", pattern)):
        match = regex.fullmatch(path)
        if match:
            found.append(int(match.group(1)))
    return sorted(found)


ui_available = True
undo_labels: List[str] = []
off_main_thread: List[str] = []
_pwd: Optional[OpNode] = None
_frame = 1.0
operations: List[InterruptableOperation] = []
interrupt: Optional[Callable[[float], bool]] = None
version: Tuple[int, int, int] = (20, 5, 0)
_root = OpNode("root", "", None, "Director")


class _Qt:
    def styleSheet(self) -> str:
        return "QWidget { background: #3a3a3a; }"


qt = _Qt()


def reset() -> None:
    """A fresh scene: /, /img and /obj; a new, unsaved .hip; a UI with no callbacks; Houdini 20.5."""
    global _root, interrupt, version, hipFile, ui, ui_available, OpNode, _frame
    OpNode = _OP_NODE
    _frame = 1.0
    ui = _Ui()
    ui_available = True
    _root = _OP_NODE("root", "", None, "Director")
    for manager in ("img", "obj"):
        _root._children[manager] = _OP_NODE(manager, manager, _root, "Manager")
    hipFile = _HipFile()
    operations.clear()
    undo_labels.clear()
    off_main_thread.clear()
    undos._disabled = 0
    interrupt = None
    version = (20, 5, 0)


def node(path: str) -> Optional[OpNode]:
    return _root if path == "/" else _root.node(path)


def selectedNodes(include_hidden: bool = False) -> Tuple[OpNode, ...]:
    return tuple(n for n in _root.allSubChildren() if n.selected)


def applicationVersion(include_patch: bool = False) -> Tuple[int, int, int]:
    return version
