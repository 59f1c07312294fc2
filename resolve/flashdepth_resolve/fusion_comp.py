"""FlashDepth in Fusion (Fusion Studio, or the Fusion page of DaVinci Resolve): render depth for the selected
Loader's clip through the bridge, then add a Loader for the depth sequence next to it in the flow.

Fusion's scripting objects are duck-typed here (``comp`` and its tools); nothing is imported from Fusion.
"""
from __future__ import annotations

import os
from typing import Any, Dict, Optional

from flashdepth_vfx.errors import FlashDepthError
from flashdepth_vfx.hosts.common import (
    DEVICES,
    MODELS,
    MODES,
    PRECISIONS,
    CachedRender,
    NodeRender,
    NodeSettings,
    default_output_dir,
    sequence_from_frame_file,
    summary,
)

from .console import console_report

LOADER = "Loader"
TITLE = "FlashDepth"
_MENUS = {"model": MODELS, "mode": MODES, "device": DEVICES, "precision": PRECISIONS}


def selected_loader(comp: Any) -> Any:
    """The active tool if it is a Loader, else the first selected Loader."""
    active = comp.ActiveTool
    if active is not None and active.GetAttrs()["TOOLS_RegID"] == LOADER:
        return active
    loaders = comp.GetToolList(True, LOADER) or {}
    if not loaders:
        raise FlashDepthError("no Loader selected: select the plate's Loader in the Flow view and run FlashDepth again")
    return loaders[min(loaders)]


def loader_clip(comp: Any, loader: Any) -> str:
    """The file the Loader reads at the current time (for a sequence: one of its frames)."""
    clip = loader.GetInput("Clip", comp.CurrentTime)
    if not clip:
        raise FlashDepthError(f"{loader.GetAttrs()['TOOLS_Name']} has no clip: load the plate sequence into it first")
    return str(clip)


def ask_settings(comp: Any, plate: str, output_dir: str) -> Optional[NodeSettings]:
    """Fusion's AskUser dialog for the render settings; None when the artist cancels."""
    def dropdown(name: str, label: str) -> Dict[Any, Any]:
        options = {i + 1: value for i, value in enumerate(_MENUS[name])}
        return {1: name, 2: "Dropdown", "Name": label, "Options": options, "Default": 0}

    controls = {
        1: {1: "checkpoint", 2: "FileBrowse", "Name": "Checkpoint (wins over Model)", "Default": ""},
        2: dropdown("model", "Model"),
        3: {1: "colorspace", 2: "Text", "Name": "Colour space (empty: from the file)", "Default": ""},
        4: dropdown("mode", "Output mode"),
        5: {1: "frames", 2: "Text", "Name": "Frame range (empty: the whole sequence)", "Default": ""},
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


def add_depth_loader(comp: Any, loader: Any, cached: CachedRender) -> Any:
    """A Loader for the depth frames, placed right of ``loader`` and starting at the same global frame."""
    position = comp.CurrentFrame.FlowView.GetPosTable(loader)  # {1: x, 2: y}
    x, y = position[1], position[2]
    comp.Lock()
    comp.StartUndo("FlashDepth")
    try:
        depth = comp.AddTool(LOADER, int(x) + 1, int(y))
        depth.SetInput("Clip", cached.frame_file(cached.first))
        depth.SetInput("GlobalIn", loader.GetInput("GlobalIn"))
        depth.SetAttrs({"TOOLS_Name": f"{loader.GetAttrs()['TOOLS_Name']}_depth"})
    finally:
        comp.EndUndo(True)
        comp.Unlock()
    return depth


def render_selected_loader(comp: Any) -> Optional[Any]:
    """Ask for settings, render the selected Loader's sequence and return the new depth Loader
    (None when the artist cancelled the dialog or no frame was written)."""
    loader = selected_loader(comp)
    plate = sequence_from_frame_file(loader_clip(comp, loader))
    comp_dir = os.path.dirname(str(comp.GetAttrs()["COMPS_FileName"] or "")) or None
    settings = ask_settings(comp, plate, default_output_dir(comp_dir, loader.GetAttrs()["TOOLS_Name"]))
    if settings is None:
        return None
    work = NodeRender(settings.job())
    result = work.run(console_report(TITLE))
    print(f"{TITLE}: {summary(result)}")
    cached = work.cached(result)
    return add_depth_loader(comp, loader, cached) if cached is not None else None


def main(comp: Optional[Any]) -> None:
    """Entry point of the comp script; errors become one console line."""
    if comp is None:
        print(f"{TITLE}: run this from Fusion's Script menu (no composition is open)")
        return
    try:
        render_selected_loader(comp)
    except FlashDepthError as exc:
        print(f"{TITLE}: {exc}")
