"""A fake Fusion composition (the ``comp`` a Fusion comp script gets) with Loader-like tools, a flow view,
and an AskUser dialog whose answers a test sets: ``comp.answers = None`` plays the artist pressing Cancel.

Modelled as Fusion documents it:
* A Loader (and the Fusion page's MediaIn) shows clip frames ``ClipTimeStart``..``ClipTimeEnd`` (counted from 0 at
  the clip's file) from comp frame ``GlobalIn`` on, holding the first and last ``HoldFirstFrame`` /
  ``HoldLastFrame`` times. Setting a Loader's ``Clip`` resets the trims to the whole sequence found on disk from
  that file on, so a new Loader starts at its own first file: :meth:`Tool.shown_file_frame` says which file
  frame a Loader shows at a comp frame.
* ``comp.MapPath`` expands path maps (``Comp:`` is the comp's folder; :attr:`Comp.path_maps` adds others).
* A MediaIn has the Loader's timing inputs but no ``Clip`` input: its media is the Resolve media pool item whose
  ``GetMediaId()`` its ``MediaID`` input holds (the Fusion page manual: "MediaID: an ID assigned by DaVinci
  Resolve for that clip"), whichever clip is under the playhead.
* :class:`Fusion` is the ``fusion`` / ``app`` object scripts get (``GetCurrentComp``, ``GetResolve``).
* Flow connections as the Fusion 8 Scripting Guide describes them: ``tool.FindMainInput(1)`` /
  ``tool.FindMainOutput(1)`` (None past the last), ``Input.GetConnectedOutput()`` (None when unconnected),
  ``Output.GetConnectedInputs()`` (a 1-based table), and ``GetTool()`` on both (their parent class Link: a new
  handle each call, like a scripting proxy). Loaders
  and MediaIns have no main input; :meth:`Comp.connect` wires one tool's output into another's main input.
* An OCIOColorSpace tool holds its settings in the inputs ``OCIOConfig`` (a file path, "" when unset),
  ``SourceSpace`` and ``OutputSpace`` (colour space names), as a comp saved by Resolve 18.6 stores them.
* ``Fusion.UIManager`` (:class:`UIManager`); :class:`Bmd` is the ``bmd`` global, whose ``UIDispatcher(ui)`` runs windows.

The UI Manager is modelled on Blackmagic's scripting UI as scripts use it: ``ui.Label`` / ``ui.Button`` /
``ui.VGroup`` / ``ui.HGroup`` take a dict of properties (``ID``, ``Text``...) and children; ``ui.Timer({"ID",
"Interval"})`` is started with ``Start()``; ``disp.AddWindow(props, children)`` makes a window whose
``GetItems()`` maps IDs to items; handlers are set as ``win.On.<ID>.<Event> = f`` (``Clicked``, ``Close``) and
``disp.On.<timer ID>.Timeout = f``; ``disp.RunLoop()`` dispatches events (each handler gets an event dict) until
a handler calls ``disp.ExitLoop()``. Nothing else runs while the loop runs: a script that blocks instead never
sees a click. :attr:`UIManager.artist` plays the artist: it is called with each shown window at every round.
"""
from __future__ import annotations

import copy
import itertools
import os
import re
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

_FRAME = re.compile(r"(\d+)(\.[A-Za-z0-9]+)$")
_UIDS = itertools.count(1)


SOURCE_TOOLS = ("Loader", "MediaIn")
"""Tools that read media: no main (image) input."""


class Link:
    """What Fusion's Input and Output share: the tool they belong to."""

    def __init__(self, tool: "Tool", name: str) -> None:
        self.tool = tool
        self.Name = name

    def GetTool(self) -> "Tool":
        """A new handle on the tool (sharing its inputs and attributes), as a scripting proxy is: code must not
        compare tools by identity."""
        return copy.copy(self.tool)


class Output(Link):
    def __init__(self, tool: "Tool", name: str) -> None:
        super().__init__(tool, name)
        self.connected: List["Input"] = []

    def GetConnectedInputs(self) -> Dict[int, "Input"]:
        return {i + 1: inp for i, inp in enumerate(self.connected)}


class Input(Link):
    def __init__(self, tool: "Tool", name: str) -> None:
        super().__init__(tool, name)
        self.source: Optional[Output] = None

    def GetConnectedOutput(self) -> Optional[Output]:
        return self.source

    def ConnectTo(self, output: Optional[Output] = None) -> bool:
        if self.source is not None:
            self.source.connected.remove(self)
        self.source = output
        if output is not None:
            output.connected.append(self)
        return True


class Tool:
    def __init__(self, reg_id: str, name: str, **inputs: Any) -> None:
        self.uid = next(_UIDS)  # the tool itself, whichever handle on it a script holds
        self.attrs: Dict[str, Any] = {"TOOLS_RegID": reg_id, "TOOLS_Name": name}
        self.inputs: Dict[str, Any] = {}
        self.main_input = None if reg_id in SOURCE_TOOLS else Input(self, "Input")
        self.main_output = Output(self, "Output")
        self.data: Dict[str, Any] = {}
        self.selected = False
        self.TileColor: Optional[Dict[str, float]] = None  # Fusion: tool.TileColor = {"R": .., "G": .., "B": ..}
        for key, value in inputs.items():
            self.SetInput(key, value)

    def SetData(self, name: str, value: Any) -> None:
        """Custom data saved with the tool in the comp."""
        self.data[name] = value

    def GetData(self, name: str) -> Any:
        return self.data.get(name)

    def GetAttrs(self) -> Dict[str, Any]:
        return dict(self.attrs)

    def FindMainInput(self, index: int) -> Optional[Input]:
        return self.main_input if index == 1 else None

    def FindMainOutput(self, index: int) -> Optional[Output]:
        return self.main_output if index == 1 else None

    def SetAttrs(self, attrs: Dict[str, Any]) -> None:
        self.attrs.update(attrs)

    def GetInput(self, name: str, time: Optional[float] = None) -> Any:
        return self.inputs.get(name)

    def SetInput(self, name: str, value: Any, time: Optional[float] = None) -> None:
        self.inputs[name] = value
        if name == "Clip" and self.attrs["TOOLS_RegID"] == "Loader":
            length = len(sequence_frames(str(value)))
            self.inputs.update(ClipTimeStart=0.0, ClipTimeEnd=float(max(length - 1, 0)), HoldFirstFrame=0.0,
                               HoldLastFrame=0.0)
            self.inputs.setdefault("GlobalIn", 0.0)

    def shown_file_frame(self, comp_frame: int, clip_first: Optional[int] = None) -> Optional[int]:
        """The file frame this Loader shows at ``comp_frame`` (None outside its Global In/Out)."""
        if clip_first is None:
            match = _FRAME.search(os.path.basename(str(self.inputs["Clip"])))
            assert match is not None, self.inputs["Clip"]
            clip_first = int(match.group(1))
        global_in, trim_in, trim_out, hold_first, hold_last = (int(self.inputs.get(k, 0)) for k in (
            "GlobalIn", "ClipTimeStart", "ClipTimeEnd", "HoldFirstFrame", "HoldLastFrame"))
        global_out = global_in + hold_first + (trim_out - trim_in) + hold_last
        if not global_in <= comp_frame <= global_out:
            return None
        index = min(max(comp_frame - global_in - hold_first, 0), trim_out - trim_in)
        return clip_first + trim_in + index


def sequence_frames(file_name: str) -> List[int]:
    """The frames of the sequence on disk that starts at ``file_name`` (consecutive numbers, same padding)."""
    match = _FRAME.search(file_name)
    if match is None:
        return [0] if os.path.isfile(file_name) else []
    digits, frames = match.group(1), []
    frame = int(digits)
    while os.path.isfile(f"{file_name[:match.start()]}{frame:0{len(digits)}d}{match.group(2)}"):
        frames.append(frame)
        frame += 1
    return frames


class FlowView:
    def __init__(self) -> None:
        self.positions: Dict[int, Tuple[float, float]] = {}

    def GetPosTable(self, tool: Tool) -> Dict[int, float]:
        x, y = self.positions[tool.uid]  # any handle on the tool
        return {1: x, 2: y}

    def SetPos(self, tool: Tool, x: float, y: float) -> None:
        self.positions[tool.uid] = (x, y)


class _Frame:
    def __init__(self) -> None:
        self.FlowView = FlowView()


class Comp:
    def __init__(self, file_name: str = "") -> None:
        self.file_name = file_name
        self.path_maps: Dict[str, str] = {}
        self.tools: List[Tool] = []
        self.ActiveTool: Optional[Tool] = None
        self.CurrentTime = 1001.0
        self.CurrentFrame = _Frame()
        self.answers: Optional[Dict[str, Any]] = {}
        self.dialogs: List[Tuple[str, Dict[int, Dict[Any, Any]]]] = []
        self.lock_depth = 0
        self.undo: List[str] = []

    def add(self, tool: Tool, x: float = 0.0, y: float = 0.0) -> Tool:
        """Put an existing tool in the flow (test setup)."""
        self.tools.append(tool)
        self.CurrentFrame.FlowView.SetPos(tool, x, y)
        return tool

    def connect(self, source: Tool, target: Tool) -> Tool:
        """Wire ``source``'s output into ``target``'s main input (test setup); returns ``target``."""
        assert target.main_input is not None, f"{target.attrs['TOOLS_RegID']} has no main input"
        target.main_input.ConnectTo(source.main_output)
        return target

    def AddTool(self, reg_id: str, x: float = -32768, y: float = -32768) -> Tool:
        count = sum(t.attrs["TOOLS_RegID"] == reg_id for t in self.tools) + 1
        return self.add(Tool(reg_id, f"{reg_id}{count}"), x, y)

    def GetToolList(self, selected: bool = False, reg_id: Optional[str] = None) -> Dict[int, Tool]:
        found = [t for t in self.tools if (not selected or t.selected)
                 and (reg_id is None or t.attrs["TOOLS_RegID"] == reg_id)]
        return {i + 1: tool for i, tool in enumerate(found)}

    def GetAttrs(self) -> Dict[str, Any]:
        return {"COMPS_FileName": self.file_name}

    def MapPath(self, path: str) -> str:
        """Expand a path map at the start of ``path`` (``Comp:``: the comp's folder); other paths unchanged."""
        maps = {"Comp:": os.path.dirname(self.file_name) + "/", **self.path_maps}
        for prefix, folder in maps.items():
            if path.startswith(prefix):
                return folder.rstrip("/\\") + "/" + path[len(prefix):].lstrip("/\\")
        return path

    def AskUser(self, title: str, controls: Dict[int, Dict[Any, Any]]) -> Optional[Dict[str, Any]]:
        """Fusion returns every control's value by name (dropdowns as a float index), or None on Cancel."""
        self.dialogs.append((title, controls))
        if self.answers is None:
            return None
        values = {c[1]: (float(c["Default"]) if c[2] == "Dropdown" else c["Default"]) for c in controls.values()}
        values.update(self.answers)
        return values

    def Lock(self) -> None:
        self.lock_depth += 1

    def Unlock(self) -> None:
        self.lock_depth -= 1

    def StartUndo(self, name: str) -> None:
        self.undo.append(f"start {name}")

    def EndUndo(self, keep: bool) -> None:
        self.undo.append(f"end {keep}")


class Fusion:
    """The ``fusion`` object (``app`` in Lua): the current comp, and the Resolve it runs in (None in Fusion Studio)."""

    def __init__(self, comp: Optional[Comp], resolve: Any = None) -> None:
        self.comp = comp
        self.resolve = resolve
        self.UIManager = UIManager()

    def GetCurrentComp(self) -> Optional[Comp]:
        return self.comp

    def GetResolve(self) -> Any:
        return self.resolve


class UIItem:
    """A UI element: its properties are attributes (``item.Text = "x"`` changes the label); every ``Text`` it
    showed is kept in :attr:`texts`."""

    def __init__(self, kind: str, props: Dict[str, Any], children: Any = ()) -> None:
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "texts", [])
        object.__setattr__(self, "children", list(children) if isinstance(children, (list, tuple)) else [children])
        self.Enabled = True
        for key, value in props.items():
            setattr(self, key, value)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "Text":
            self.texts.append(value)
        object.__setattr__(self, name, value)


class UITimer:
    def __init__(self, props: Dict[str, Any]) -> None:
        self.ID = str(props["ID"])
        self.Interval = int(props.get("Interval", 0))
        self.active = False
        self.started = 0

    def Start(self) -> None:
        self.active = True
        self.started += 1

    def Stop(self) -> None:
        self.active = False


class _Events:
    """``On.<ID>``: the handlers set for one element, by event name."""

    def __init__(self) -> None:
        object.__setattr__(self, "handlers", {})

    def __setattr__(self, event: str, handler: Callable[[Dict[str, Any]], Any]) -> None:
        self.handlers[event] = handler


class _Handlers:
    """``win.On`` / ``disp.On``: ``On.<ID>.<Event> = handler`` (also ``On[ID]``)."""

    def __init__(self) -> None:
        object.__setattr__(self, "by_id", {})

    def __getattr__(self, element: str) -> _Events:
        return self.by_id.setdefault(element, _Events())

    def __getitem__(self, element: str) -> _Events:
        return self.__getattr__(element)

    def fire(self, element: str, event: str) -> bool:
        handler = self.by_id.get(element, _Events()).handlers.get(event)
        if handler is None:
            return False
        handler({"who": element, "what": event})
        return True


class UIManager:
    """``fusion.UIManager``: makes elements and timers."""

    def __init__(self) -> None:
        self.timers: List[UITimer] = []
        self.artist: Optional[Callable[["Window"], None]] = None

    def Label(self, props: Dict[str, Any]) -> UIItem:
        return UIItem("Label", props)

    def Button(self, props: Dict[str, Any]) -> UIItem:
        return UIItem("Button", props)

    def _group(self, kind: str, args: Tuple[Any, ...]) -> UIItem:
        props, children = (args[0], args[1]) if len(args) == 2 else ({}, args[0])
        return UIItem(kind, props, children)

    def VGroup(self, *args: Any) -> UIItem:
        return self._group("VGroup", args)

    def HGroup(self, *args: Any) -> UIItem:
        return self._group("HGroup", args)

    def Timer(self, props: Dict[str, Any]) -> UITimer:
        timer = UITimer(props)
        self.timers.append(timer)
        return timer


class Window:
    def __init__(self, props: Dict[str, Any], children: Any) -> None:
        self.ID = str(props["ID"])
        self.props = dict(props)
        self.root = UIItem("Window", {}, children)
        self.On = _Handlers()
        self.visible = False
        self.shown = 0

    def GetItems(self) -> Dict[str, UIItem]:
        found: Dict[str, UIItem] = {}
        todo = [self.root]
        while todo:
            item = todo.pop()
            if hasattr(item, "ID"):
                found[str(getattr(item, "ID"))] = item
            todo += item.children
        return found

    def Show(self) -> None:
        self.visible = True
        self.shown += 1

    def Hide(self) -> None:
        self.visible = False

    def click(self, element: str) -> None:
        """(Test) the artist clicks an enabled button."""
        if self.GetItems()[element].Enabled:
            self.On.fire(element, "Clicked")

    def close(self) -> None:
        """(Test) the artist closes the window."""
        self.On.fire(self.ID, "Close")


class UIDispatcher:
    """``bmd.UIDispatcher(ui)``: its windows and the event loop."""

    def __init__(self, ui: UIManager) -> None:
        self.ui = ui
        self.On = _Handlers()
        self.windows: List[Window] = []
        self._exit: Optional[int] = None
        self.rounds = 0

    def AddWindow(self, props: Dict[str, Any], children: Any = ()) -> Window:
        window = Window(props, children)
        self.windows.append(window)
        return window

    def ExitLoop(self, code: int = 0) -> None:
        self._exit = code

    def RunLoop(self, timeout: float = 60.0) -> int:
        """Dispatch events until ExitLoop: every started timer's Timeout at its interval, and the artist's
        actions (:attr:`UIManager.artist`) on the shown windows."""
        self._exit = None
        deadline = time.monotonic() + timeout
        due: Dict[str, float] = {}
        while self._exit is None:
            assert time.monotonic() < deadline, "the UI loop never ended (no ExitLoop)"
            self.rounds += 1
            now = time.monotonic()
            for timer in [t for t in self.ui.timers if t.active]:
                if now >= due.setdefault(timer.ID, now + timer.Interval / 1000):
                    due[timer.ID] = now + timer.Interval / 1000
                    self.On.fire(timer.ID, "Timeout")
            for window in [w for w in self.windows if w.visible]:
                if self.ui.artist is not None and self._exit is None:
                    self.ui.artist(window)
            time.sleep(0.005)
        return self._exit


class Bmd:
    """The ``bmd`` global of Fusion and Resolve scripts."""

    def __init__(self, resolve: Any = None) -> None:
        self.resolve = resolve
        self.dispatchers: List[UIDispatcher] = []

    def UIDispatcher(self, ui: UIManager) -> UIDispatcher:
        dispatcher = UIDispatcher(ui)
        self.dispatchers.append(dispatcher)
        return dispatcher

    def scriptapp(self, name: str) -> Any:
        return self.resolve if name == "Resolve" else None
