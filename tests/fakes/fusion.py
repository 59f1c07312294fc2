"""A fake Fusion composition (the ``comp`` a Fusion comp script gets) with Loader-like tools, a flow view,
and an AskUser dialog whose answers a test sets: ``comp.answers = None`` plays the artist pressing Cancel."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple


class Tool:
    def __init__(self, reg_id: str, name: str, **inputs: Any) -> None:
        self.attrs: Dict[str, Any] = {"TOOLS_RegID": reg_id, "TOOLS_Name": name}
        self.inputs: Dict[str, Any] = dict(inputs)
        self.selected = False

    def GetAttrs(self) -> Dict[str, Any]:
        return dict(self.attrs)

    def SetAttrs(self, attrs: Dict[str, Any]) -> None:
        self.attrs.update(attrs)

    def GetInput(self, name: str, time: Optional[float] = None) -> Any:
        return self.inputs.get(name)

    def SetInput(self, name: str, value: Any, time: Optional[float] = None) -> None:
        self.inputs[name] = value


class FlowView:
    def __init__(self) -> None:
        self.positions: Dict[int, Tuple[float, float]] = {}

    def GetPosTable(self, tool: Tool) -> Dict[int, float]:
        x, y = self.positions[id(tool)]
        return {1: x, 2: y}

    def SetPos(self, tool: Tool, x: float, y: float) -> None:
        self.positions[id(tool)] = (x, y)


class _Frame:
    def __init__(self) -> None:
        self.FlowView = FlowView()


class Comp:
    def __init__(self, file_name: str = "") -> None:
        self.file_name = file_name
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

    def AddTool(self, reg_id: str, x: float = -32768, y: float = -32768) -> Tool:
        count = sum(t.attrs["TOOLS_RegID"] == reg_id for t in self.tools) + 1
        return self.add(Tool(reg_id, f"{reg_id}{count}"), x, y)

    def GetToolList(self, selected: bool = False, reg_id: Optional[str] = None) -> Dict[int, Tool]:
        found = [t for t in self.tools if (not selected or t.selected)
                 and (reg_id is None or t.attrs["TOOLS_RegID"] == reg_id)]
        return {i + 1: tool for i, tool in enumerate(found)}

    def GetAttrs(self) -> Dict[str, Any]:
        return {"COMPS_FileName": self.file_name}

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
