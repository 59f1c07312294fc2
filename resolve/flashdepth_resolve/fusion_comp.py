"""FlashDepth in Fusion (Fusion Studio, or the Fusion page of DaVinci Resolve): render depth for the selected
Loader's or MediaIn's clip through the bridge, then add a Loader for the depth next to it in the flow, showing
the same frame at every comp frame.

Fusion's scripting objects are duck-typed here (``comp`` and its tools); nothing is imported from Fusion.
"""
from __future__ import annotations

import os
from typing import Any, Dict, Mapping, Optional

from flashdepth_vfx.errors import FlashDepthError
from flashdepth_vfx.hosts.common import (
    DEVICES,
    MODELS,
    MODES,
    PRECISIONS,
    CachedRender,
    NodeRender,
    NodeSettings,
    summary,
)

from .console import console_report
from .host import find_comp, find_resolve, result_dir
from .timeline import media_plate

LOADER = "Loader"
MEDIA_IN = "MediaIn"
SOURCES = (LOADER, MEDIA_IN)
TITLE = "FlashDepth"
DEPTH_CHANNEL = "Z"
"""Fusion's Loader puts an EXR channel named Z into its Z (depth) channel, which Fusion's depth tools read."""
_MENUS = {"model": MODELS, "mode": MODES, "device": DEVICES, "precision": PRECISIONS}


def _reg_id(tool: Any) -> str:
    return str(tool.GetAttrs()["TOOLS_RegID"])


def selected_source(comp: Any) -> Any:
    """The active tool if it is a Loader or MediaIn, else the first selected one."""
    active = comp.ActiveTool
    if active is not None and _reg_id(active) in SOURCES:
        return active
    for reg_id in SOURCES:
        tools = comp.GetToolList(True, reg_id) or {}
        if tools:
            return tools[min(tools)]
    raise FlashDepthError("no Loader or MediaIn selected: select the plate's Loader or MediaIn in the Flow view "
                          "and run FlashDepth again")


def _media_in_file(tool: Any, resolve: Any) -> str:
    """A MediaIn's file: its clip attribute where Fusion gives one, else the Resolve clip it shows."""
    names = tool.GetAttrs().get("TOOLST_Clip_Name")
    if isinstance(names, dict) and names:
        return str(names[min(names)])
    project = resolve.GetProjectManager().GetCurrentProject() if resolve is not None else None
    timeline = project.GetCurrentTimeline() if project else None
    item = timeline.GetCurrentVideoItem() if timeline else None
    media = item.GetMediaPoolItem() if item else None
    return str(media.GetClipProperty("File Path") or "") if media else ""


def source_clip(comp: Any, tool: Any, resolve: Any = None) -> str:
    """The file the tool reads (for a sequence: one of its frames), with Fusion's path maps expanded."""
    clip = tool.GetInput("Clip", comp.CurrentTime) if _reg_id(tool) == LOADER else _media_in_file(tool, resolve)
    if not clip:
        raise FlashDepthError(f"{tool.GetAttrs()['TOOLS_Name']} has no clip: load the plate sequence into it first")
    return str(comp.MapPath(str(clip)))


def ask_settings(comp: Any, plate: str, output_dir: str) -> Optional[NodeSettings]:
    """Fusion's AskUser dialog for the render settings; None when the artist cancels."""
    def dropdown(name: str, label: str) -> Dict[Any, Any]:
        options = {i + 1: value for i, value in enumerate(_MENUS[name])}
        return {1: name, 2: "Dropdown", "Name": label, "Options": options, "Default": 0}

    controls = {
        1: {1: "checkpoint", 2: "FileBrowse", "Name": "Checkpoint (wins over Model)", "Default": ""},
        2: dropdown("model", "Model"),
        3: {1: "colorspace", 2: "Text", "Name": "Colour space (empty: from the file)", "Default": ""},
        4: dropdown("mode", "Output mode (Z channel; normalized: a 0-1 matte)"),
        5: {1: "frames", 2: "Text", "Name": "Frame range (empty: the frames the tool shows)", "Default": ""},
        6: dropdown("device", "Device"),
        7: dropdown("precision", "Precision"),
        8: {1: "output", 2: "PathBrowse", "Name": "Output folder", "Default": output_dir},
    }
    answer = comp.AskUser(TITLE, controls)
    if answer is None:
        return None
    menus = {name: values[int(answer[name])] for name, values in _MENUS.items()}
    return NodeSettings(
        plate=plate,
        output_dir=str(answer["output"]).strip() or output_dir,
        checkpoint=str(answer["checkpoint"]),
        colorspace=str(answer["colorspace"]),
        frames=str(answer["frames"]),
        **menus,
    )


def add_depth_loader(comp: Any, source: Any, cached: CachedRender) -> Any:
    """A Loader for the depth frames, placed right of ``source`` and starting at the same global frame."""
    position = comp.CurrentFrame.FlowView.GetPosTable(source)  # {1: x, 2: y}
    x, y = position[1], position[2]
    comp.Lock()
    comp.StartUndo("FlashDepth")
    try:
        depth = comp.AddTool(LOADER, int(x) + 1, int(y))
        depth.SetInput("Clip", cached.frame_file(cached.first))
        depth.SetInput("GlobalIn", source.GetInput("GlobalIn"))
        depth.SetAttrs({"TOOLS_Name": f"{source.GetAttrs()['TOOLS_Name']}_depth"})
    finally:
        comp.EndUndo(True)
        comp.Unlock()
    return depth


def _output_dir(comp: Any, tool: Any, plate: str, resolve: Any) -> str:
    project = resolve.GetProjectManager().GetCurrentProject() if resolve is not None else None
    project_name = str(project.GetName()) if project is not None else None
    comp_name = os.path.splitext(os.path.basename(str(comp.GetAttrs().get("COMPS_FileName") or "")))[0]
    return result_dir(os.path.dirname(plate), str(tool.GetAttrs()["TOOLS_Name"]), project_name or comp_name or None)


def render_selected(comp: Any, resolve: Any = None) -> Optional[Any]:
    """Ask for settings, render the selected Loader's or MediaIn's clip and return the new depth Loader
    (None when the artist cancelled the dialog or no frame was written)."""
    tool = selected_source(comp)
    plate, _ = media_plate(source_clip(comp, tool, resolve))  # shot.1001.exr or Resolve's shot.[1001-1100].exr
    settings = ask_settings(comp, plate, _output_dir(comp, tool, plate, resolve))
    if settings is None:
        return None
    job = settings.job()
    job.extra_args = ("--channel", DEPTH_CHANNEL)
    work = NodeRender(job)
    result = work.run(console_report(TITLE))
    print(f"{TITLE}: {summary(result)}")
    cached = work.cached(result)
    return add_depth_loader(comp, tool, cached) if cached is not None else None


def main(namespace: Mapping[str, Any]) -> None:
    """Entry point of the comp script, given the script's globals; errors become one console line."""
    comp = find_comp(namespace)
    if comp is None:
        print(f"{TITLE}: run this from Fusion's Script menu (no composition is open)")
        return
    try:
        render_selected(comp, find_resolve(namespace, external=False))
    except FlashDepthError as exc:
        print(f"{TITLE}: {exc}")
