"""FlashDepth in Fusion (Fusion Studio, or the Fusion page of DaVinci Resolve): render depth for the selected
Loader's or MediaIn's clip through the bridge, then show it in a depth Loader beside it that shows the same
file frame at every comp frame (Global In, trims and holds mapped with :class:`LoaderTiming`).

Each settings combination renders into its own version folder; the depth Loader keeps showing the previous
complete version until the new one is complete, says in its comment whether its depth is current, partial
or stale (and takes the state's tile colour), and running the script again on a partial render offers to
finish it with the engine's ``--resume``. The dialog's *Version* menu lists the versions on disk: choosing one
shows it without rendering (it stays until the script renders again; the comment says *stale* while its settings
differ from the dialog's). The render shows a progress window with Cancel where Fusion's UI Manager
is there (:mod:`.progress_window`), else the console's progress.

Fusion's scripting objects are duck-typed here (``comp`` and its tools); nothing is imported from Fusion.
"""
from __future__ import annotations

import os
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from flashdepth_vfx.errors import FlashDepthError
from flashdepth_vfx.hosts.colour import EngineColour
from flashdepth_vfx.hosts.frames import LoaderTiming, script_frames
from flashdepth_vfx.hosts.settings import DEVICES, FINISH_BUTTON, MODELS, MODES, PRECISIONS, RENDER_BUTTON, NodeSettings
from flashdepth_vfx.hosts.versions import (
    DepthVersion, NodeStatus, VersionInfo, describe_versions, mark_shown, node_status,
)

from .colour import dialog_colour, fusion_colour, ocio_tool, plate_source, resolve_colour
from .console import render_version, run_script
from .host import find_comp, find_resolve, result_dir
from .progress_window import Runner, console_runner, runner
from .timeline import current_clip, media_by_id, media_plate

LOADER = "Loader"
MEDIA_IN = "MediaIn"
SOURCES = (LOADER, MEDIA_IN)
TITLE = "FlashDepth"
DEPTH_CHANNEL = "Z"
"""Fusion's Loader puts an EXR channel named Z into its Z (depth) channel, which Fusion's depth tools read."""
DEPTH_SUFFIX = "_depth"
VERSION_KEY = "FlashDepthVersion"
"""Tool data on the depth Loader: the DepthVersion it shows (JSON)."""
CHOSEN_KEY = "FlashDepthChosen"
"""Tool data on the depth Loader: the artist chose its version in the dialog's Version menu."""
RENDER_CHOICE = "Render with these settings"
"""The Version menu's first entry; the others show a version on disk without rendering."""
_MENUS = {"model": MODELS, "mode": MODES, "device": DEVICES, "precision": PRECISIONS}
_TIMING_INPUTS = ("GlobalIn", "ClipTimeStart", "ClipTimeEnd", "HoldFirstFrame", "HoldLastFrame")
_NUMBER = re.compile(r"(\d+)(?:\.[A-Za-z0-9]+)$")


def _reg_id(tool: Any) -> str:
    return str(tool.GetAttrs()["TOOLS_RegID"])


def _name(tool: Any) -> str:
    return str(tool.GetAttrs()["TOOLS_Name"])


def selected_source(comp: Any) -> Any:
    """The active tool if it is a Loader or MediaIn (or an OCIO Color Space tool right after one: that one), else
    the first selected one."""
    active = comp.ActiveTool
    if active is not None and _reg_id(active) in SOURCES:
        return active
    source = plate_source(active)
    if source is not None:
        return source
    for reg_id in SOURCES:
        tools = comp.GetToolList(True, reg_id) or {}
        if tools:
            return tools[min(tools)]
    raise FlashDepthError("no Loader or MediaIn selected: select the plate's Loader or MediaIn in the Flow view "
                          "and run FlashDepth again")


def media_in_clip(tool: Any, resolve: Any) -> Tuple[Any, Any]:
    """(project, media pool item) a MediaIn shows: the item its ``MediaID`` names (a second MediaIn shows its own
    media, not the clip under the playhead); a MediaIn without one is the timeline clip's own."""
    media_id = str(tool.GetInput("MediaID") or "").strip()
    if not media_id:
        return current_clip(resolve)
    project = resolve.GetProjectManager().GetCurrentProject()
    media = media_by_id(project, media_id) if project is not None else None
    if media is None:
        raise FlashDepthError(f"{_name(tool)} shows media {media_id} that is not in this project's media pool: "
                              "relink it, or drag the clip from the Media Pool again")
    return project, media


def _media_in_file(tool: Any, resolve: Any) -> str:
    """A MediaIn's file: its clip attribute where Fusion gives one, else its Resolve media pool item's."""
    names = tool.GetAttrs().get("TOOLST_Clip_Name")
    if isinstance(names, dict) and names:
        return str(names[min(names)])
    if resolve is None:
        return ""
    _, media = media_in_clip(tool, resolve)
    return str(media.GetClipProperty("File Path") or "")


def source_clip(comp: Any, tool: Any, resolve: Any = None) -> str:
    """The file the tool reads (for a sequence: one of its frames), with Fusion's path maps expanded."""
    clip = tool.GetInput("Clip", comp.CurrentTime) if _reg_id(tool) == LOADER else _media_in_file(tool, resolve)
    if not clip:
        raise FlashDepthError(f"{_name(tool)} has no clip: load the plate sequence into it first")
    return str(comp.MapPath(str(clip)))


def loader_timing(tool: Any, clip: str, frames: Optional[str]) -> Optional[LoaderTiming]:
    """How the tool maps comp frames to file frames; None for a single image or a movie (no frame numbers)."""
    initial = tool.GetAttrs().get("TOOLIT_Clip_InitialFrame")
    if isinstance(initial, dict) and initial:
        clip_first: Optional[int] = int(initial[min(initial)])
    elif frames:
        clip_first = int(frames.split("-")[0])
    else:
        match = _NUMBER.search(os.path.basename(clip))
        clip_first = int(match.group(1)) if match else None
    if clip_first is None:
        return None
    global_in, trim_in, trim_out, hold_first, hold_last = (int(tool.GetInput(name) or 0) for name in _TIMING_INPUTS)
    if tool.GetInput("ClipTimeEnd") is None and frames:  # no trims to read: the whole clip
        first, _, last = frames.partition("-")
        trim_in, trim_out = 0, int(last or first) - int(first)
    return LoaderTiming(clip_first, global_in, trim_in, trim_out, hold_first, hold_last)


def ask_settings(comp: Any, plate: str, output_dir: str, default_frames: str,
                 colorspace: str = "", versions: Sequence[VersionInfo] = ()) -> Optional[Dict[str, Any]]:
    """Fusion's AskUser dialog for the render settings, and the Version menu (``versions`` on disk); None when
    the artist cancels."""
    def dropdown(name: str, label: str) -> Dict[Any, Any]:
        options = {i + 1: value for i, value in enumerate(_MENUS[name])}
        return {1: name, 2: "Dropdown", "Name": label, "Options": options, "Default": 0}

    controls = {
        1: {1: "checkpoint", 2: "FileBrowse", "Name": "Checkpoint (wins over Model)", "Default": ""},
        2: dropdown("model", "Model"),
        3: {1: "colorspace", 2: "Text", "Name": "Colour space (empty: as found, else the file's)",
            "Default": colorspace},
        4: dropdown("mode", "Output mode (Z channel; normalized: a 0-1 matte)"),
        5: {1: "frames", 2: "Text", "Name": "File frames (default: those the tool shows)", "Default": default_frames},
        6: dropdown("device", "Device"),
        7: dropdown("precision", "Precision"),
        8: {1: "output", 2: "PathBrowse", "Name": "Output folder", "Default": output_dir},
        9: {1: "finish", 2: "Checkbox", "Name": f"{FINISH_BUTTON} a partial render (--resume)", "Default": 1},
        10: {1: "version", 2: "Dropdown", "Name": "Version (another: show it, render nothing)", "Default": 0,
             "Options": {i + 1: label for i, label in enumerate([RENDER_CHOICE] + [v.label for v in versions])}},
    }
    answer = comp.AskUser(TITLE, controls)
    return dict(answer) if answer is not None else None


def source_colour(comp: Any, tool: Any, resolve: Any) -> EngineColour:
    """What the plate holds: the OCIO Color Space tool converting it, else (a MediaIn in Resolve) the project's
    colour management, else nothing known (the engine reads the file's own tag, in ``$OCIO``'s config)."""
    converter = ocio_tool(tool, comp.ActiveTool)
    if converter is not None:
        return fusion_colour(comp, converter)
    if resolve is not None and _reg_id(tool) == MEDIA_IN:
        return resolve_colour(*media_in_clip(tool, resolve))
    return EngineColour(None, os.environ.get("OCIO") or None)


def _settings(answer: Mapping[str, Any], plate: str, output_dir: str, found: EngineColour) -> NodeSettings:
    menus: Dict[str, Any] = {name: values[int(answer[name])] for name, values in _MENUS.items()}
    colour = dialog_colour(str(answer["colorspace"]), found)
    return NodeSettings(
        plate=plate,
        output_dir=str(answer["output"]).strip() or output_dir,
        checkpoint=str(answer["checkpoint"]),
        colorspace=colour.colorspace or "",
        ocio_config=colour.ocio_config or "",
        frames=str(answer["frames"]).strip(),
        **menus,
    )


def depth_loader(comp: Any, source: Any) -> Optional[Any]:
    """The depth Loader this script made for ``source`` before, if it is still in the comp."""
    for tool in (comp.GetToolList(False, LOADER) or {}).values():
        if _name(tool) == f"{_name(source)}{DEPTH_SUFFIX}":
            return tool
    return None


def show_version(comp: Any, source: Any, version: DepthVersion, timing: Optional[LoaderTiming],
                 status: NodeStatus) -> Any:
    """Point the depth Loader (made right of ``source`` the first time) at ``version``, timed so that every comp
    frame shows the same file frame as ``source``, and show the status in its comment and tile colour."""
    frames = version.on_disk()
    comp.Lock()
    comp.StartUndo("FlashDepth")
    try:
        depth = depth_loader(comp, source)
        if depth is None:
            position = comp.CurrentFrame.FlowView.GetPosTable(source)  # {1: x, 2: y}
            depth = comp.AddTool(LOADER, int(position[1]) + 1, int(position[2]))
            depth.SetAttrs({"TOOLS_Name": f"{_name(source)}{DEPTH_SUFFIX}"})
        previous = DepthVersion.from_json(str(depth.GetData(VERSION_KEY) or ""))
        mark_shown(version, str(comp.GetAttrs().get("COMPS_FileName") or ""), _name(depth), previous)
        depth.SetInput("Clip", version.frame_file(frames[0]))  # Fusion re-reads the clip it is given
        aligned = timing.for_clip(frames) if timing is not None else None
        if aligned is not None:
            for name, value in zip(_TIMING_INPUTS, (aligned.global_in, aligned.trim_in, aligned.trim_out,
                                                    aligned.hold_first, aligned.hold_last)):
                depth.SetInput(name, value)
        else:
            depth.SetInput("GlobalIn", source.GetInput("GlobalIn"))
        depth.SetData(VERSION_KEY, version.to_json())
        _show_status(depth, status)
    finally:
        comp.EndUndo(True)
        comp.Unlock()
    return depth


def _show_status(depth: Any, status: NodeStatus) -> None:
    rgba = status.colour
    depth.TileColor = {"R": (rgba >> 24 & 255) / 255, "G": (rgba >> 16 & 255) / 255, "B": (rgba >> 8 & 255) / 255}
    depth.SetInput("Comments", f"FlashDepth: {status.line(RENDER_BUTTON, FINISH_BUTTON)}")


def _output_dir(comp: Any, tool: Any, plate: str, resolve: Any) -> str:
    project = resolve.GetProjectManager().GetCurrentProject() if resolve is not None else None
    project_name = str(project.GetName()) if project is not None else None
    comp_name = os.path.splitext(os.path.basename(str(comp.GetAttrs().get("COMPS_FileName") or "")))[0]
    return result_dir(os.path.dirname(plate), _name(tool), project_name or comp_name or None)


def render_selected(comp: Any, resolve: Any = None, run: Optional[Runner] = None) -> Optional[Any]:
    """Ask for settings, render the selected Loader's or MediaIn's clip (with ``run``: default, the console's
    progress) and return the depth Loader (None when the artist cancelled the dialog or nothing can be shown
    yet)."""
    tool = selected_source(comp)
    clip = source_clip(comp, tool, resolve)
    plate, clip_frames = media_plate(clip)  # shot.1001.exr -> shot.####.exr; Resolve's shot.[1001-1100].exr
    timing = loader_timing(tool, clip, clip_frames)
    shows = timing.file_frames() if timing is not None else []
    default_frames = f"{shows[0]}-{shows[-1]}" if shows else (clip_frames or "")
    output_dir = _output_dir(comp, tool, plate, resolve)
    versions = describe_versions(output_dir)
    found = source_colour(comp, tool, resolve)
    answer = ask_settings(comp, plate, output_dir, default_frames, found.colorspace or "", versions)
    if answer is None:
        return None
    settings = _settings(answer, plate, output_dir, found)
    frames: List[int] = script_frames(settings.frames, shows)
    previous = depth_loader(comp, tool)
    shown = DepthVersion.from_json(str(previous.GetData(VERSION_KEY) or "")) if previous is not None else None
    wanted = settings.version()
    choice = int(answer.get("version") or 0)
    if 0 < choice <= len(versions):  # show a version on disk, render nothing
        chosen = versions[choice - 1].version
        if not chosen.on_disk():  # a render that ended before its first frame, or frames deleted since
            print(f"{TITLE}: version {chosen.key[:8]} has no depth frames on disk: render it with its settings, "
                  "or choose another")
            return previous
        status = node_status(wanted, frames, chosen, chosen=True)
        print(f"{TITLE}: {status.line(RENDER_BUTTON, FINISH_BUTTON)}")
        depth = show_version(comp, tool, chosen, timing, status)
        depth.SetData(CHOSEN_KEY, True)
        return depth
    before = node_status(wanted, frames, shown)
    job = settings.versioned_job(resume=before.can_finish and bool(answer.get("finish")))
    job.extra_args = ("--channel", DEPTH_CHANNEL)
    render_version(TITLE, wanted, job, run or console_runner(TITLE))
    status = node_status(wanted, frames, shown)
    if status.show is None:
        return previous
    depth = show_version(comp, tool, status.show, timing, status)
    depth.SetData(CHOSEN_KEY, False)  # rendering follows the settings again
    return depth


def main(namespace: Mapping[str, Any]) -> None:
    """Entry point of the comp script, given the script's globals; any error becomes one console line."""
    run_script(TITLE, find_comp(namespace), "run this from Fusion's Script menu (no composition is open)",
               lambda comp: render_selected(comp, find_resolve(namespace, external=False), runner(namespace, TITLE)))
