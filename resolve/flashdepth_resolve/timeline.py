"""FlashDepth in DaVinci Resolve: render depth for the frames of its media that the clip under the playhead on the
current timeline uses, then attach the depth sequence to that media pool clip as a 0-1 matte (its clip mattes,
as the Color page's matte nodes read them).

Resolve's scripting objects are duck-typed here; :func:`main` takes the ones Resolve injects (see :mod:`.host`).
The render shows a progress window with Cancel through Fusion's UI Manager (``resolve.Fusion().UIManager``, see
:mod:`.progress_window`) where there is one, else the console's progress.
"""
from __future__ import annotations

import os
import re
from typing import Any, List, Mapping, Optional, Tuple

from flashdepth_vfx.errors import FlashDepthError
from flashdepth_vfx.hosts.frames import parse_frames
from flashdepth_vfx.hosts.paths import sequence_frames, sequence_from_frame_file
from flashdepth_vfx.hosts.settings import NodeSettings
from flashdepth_vfx.hosts.versions import RESOLVE_PROJECT, DepthState, mark_shown, node_status

from .colour import resolve_colour
from .console import render_version, run_script
from .host import find_resolve, result_dir
from .progress_window import Runner, console_runner, runner

TITLE = "FlashDepth"
CHECKPOINT_ENV = "FLASHDEPTH_VFX_CHECKPOINT"
"""The timeline script has no settings dialog: a checkpoint file for it comes from this variable (unset: the
engine's default model)."""
MATTE_MODE = "normalized"
"""Resolve uses depth as a matte: values 0-1 over the shot."""
MATTE_CHANNEL = "Y"
"""The matte's one channel: OpenEXR's luminance, which readers show as a grey image."""
# Resolve names an image sequence clip by its frame range: /plates/shot.[1001-1100].exr
_FRAME_RANGE = re.compile(r"\[(\d+)-(\d+)\]")


def media_plate(file_path: str) -> Tuple[str, Optional[str]]:
    """A media pool clip's "File Path" -> (plate spec for the engine, frame range or None for all of it)."""
    name = os.path.basename(file_path)
    match = _FRAME_RANGE.search(name)
    if match is None:
        return sequence_from_frame_file(file_path), None
    first, last = match.groups()
    head = file_path[: len(file_path) - len(name)]
    pattern = f"{head}{name[: match.start()]}%0{len(first)}d{name[match.end():]}"
    return pattern, f"{int(first)}-{int(last)}"


def current_clip(resolve: Any) -> Tuple[Any, Any]:
    """(project, media pool item) of the video clip under the playhead."""
    project, _, media = _current_item(resolve)
    return project, media


def _current_item(resolve: Any) -> Tuple[Any, Any, Any]:
    """(project, timeline item, media pool item) of the video clip under the playhead."""
    project = resolve.GetProjectManager().GetCurrentProject()
    timeline = project.GetCurrentTimeline() if project else None
    if timeline is None:
        raise FlashDepthError("no timeline is open: open the timeline with the plate and run FlashDepth again")
    item = timeline.GetCurrentVideoItem()
    if item is None:
        raise FlashDepthError("no clip under the playhead: park the playhead on the plate's clip")
    media = item.GetMediaPoolItem()
    if media is None:
        raise FlashDepthError(f"{item.GetName()} has no media (a title or generator): pick a clip from a file")
    return project, item, media


def media_by_id(project: Any, media_id: str) -> Optional[Any]:
    """The media pool item whose ``GetMediaId()`` is ``media_id``, in any bin of ``project``'s media pool."""
    folders = [project.GetMediaPool().GetRootFolder()]
    while folders:
        folder = folders.pop()
        if folder is None:
            continue
        for clip in folder.GetClipList() or []:
            if clip is not None and str(clip.GetMediaId()) == media_id:
                return clip
        folders += list(folder.GetSubFolderList() or [])
    return None


def edit_frames(item: Any, frames: List[int]) -> List[int]:
    """The file ``frames`` of a timeline item's media that its edit uses: ``GetSourceStartFrame()`` (else
    ``GetLeftOffset()``) frames are cut off before the in point, then ``GetDuration()`` frames; all of ``frames``
    when Resolve says nothing usable."""
    start = getattr(item, "GetSourceStartFrame", None) or getattr(item, "GetLeftOffset", None)
    try:
        first = int(start()) if callable(start) else 0
        count = int(item.GetDuration())
    except (TypeError, ValueError):
        return frames
    used = frames[max(first, 0): max(first, 0) + count]
    return used or frames


def render_current_clip(resolve: Any, run: Optional[Runner] = None) -> List[str]:
    """Render the frames of the current clip's media that the edit uses as a 0-1 matte with default settings (the
    checkpoint from ``$FLASHDEPTH_VFX_CHECKPOINT`` when set) into its version folder under
    ``<media folder>/flashdepth/<clip>`` (or the configured cache root), finishing a partial render of the same
    settings with ``--resume``, and attach it to the media pool clip as a matte; returns the matte files attached
    (none until every frame is rendered)."""
    project, item, media = _current_item(resolve)
    file_path = str(media.GetClipProperty("File Path") or "")
    if not file_path:
        raise FlashDepthError(f"{media.GetName()} has no file on disk: relink the clip's media")
    plate, frames = media_plate(file_path)
    output_dir = result_dir(os.path.dirname(file_path), media.GetName(), str(project.GetName()))
    checkpoint = os.environ.get(CHECKPOINT_ENV, "")
    colour = resolve_colour(project, media)
    file_frames = edit_frames(item, parse_frames(frames) if frames else sequence_frames(plate))
    used = f"{file_frames[0]}-{file_frames[-1]}" if file_frames else (frames or "")
    settings = NodeSettings(plate=plate, output_dir=output_dir, frames=used, checkpoint=checkpoint,
                            mode=MATTE_MODE, colorspace=colour.colorspace or "", ocio_config=colour.ocio_config or "")
    wanted = settings.version()
    before = node_status(wanted, file_frames, None)
    if before.can_finish:
        print(f"{TITLE}: {before.done} of {before.total} frames already rendered with these settings: finishing")
    job = settings.versioned_job(resume=before.can_finish)
    job.extra_args = ("--channel", MATTE_CHANNEL)
    render_version(TITLE, wanted, job, run or console_runner(TITLE))
    after = node_status(wanted, file_frames, None)
    if after.state is not DepthState.CURRENT:
        print(f"{TITLE}: {after.line('FlashDepth Timeline Clip', 'FlashDepth Timeline Clip')}")
        return []
    mattes = [wanted.frame_file(file_frames[0])]  # a frame of the sequence: Resolve adds the sequence
    if not resolve.GetMediaStorage().AddClipMattesToMediaPool(media, mattes):
        raise FlashDepthError(f"Resolve did not attach {wanted.pattern} to {media.GetName()} as a matte: add it "
                              "from the Media page (right-click the clip, Add as Matte)")
    # The media pool now uses these files: pruning must keep them (a Resolve project is no file, so the record stays).
    mark_shown(wanted, f"{RESOLVE_PROJECT} {project.GetName()}", f"{media.GetName()} depth")
    return mattes


def main(namespace: Mapping[str, Any]) -> None:
    """Entry point of the Resolve script, given the script's globals; any error becomes one console line."""
    run_script(TITLE, find_resolve(namespace),
               "cannot reach DaVinci Resolve: start it and allow scripting (Preferences > General)",
               lambda resolve: render_current_clip(resolve, runner(namespace, TITLE)))
