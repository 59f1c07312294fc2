"""``render ... --camera/--points/--anchors/--stabilize``: the stream writes raw disparity beside the requested output
(``NAME_raw.####.exr``), then the shot solve writes the requested output from it.

Render's ``--mode depth`` (the default) becomes the solve's camera-space Z (or, with ``--stabilize`` alone, render's
own depth of the stabilised disparity); ``--mode disparity`` becomes 1/Z in scene units with references, the
stabilised disparity without. ``--resume`` resumes both stages; with ``--passthrough`` the solve carries the plate
from the raw files into the solved ones.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flashdepth_vfx.errors import SolveError
from flashdepth_vfx.plates.movie import is_movie
from flashdepth_vfx.plates.output_guard import check_outputs
from flashdepth_vfx.plates.sequence import FrameSequence, find_sequence, frame_path, output_pattern, parse_frame_range
from flashdepth_vfx.solve.cameras import load_camera, parse_filmback
from flashdepth_vfx.solve.points import read_anchors, read_points
from flashdepth_vfx.solve.run import SolveSettings, solve_outputs

RAW_SUFFIX = "_raw"
PLATE_READING = ("part", "layer", "colorspace", "ocio_config", "display", "view")
"""Render options saying how the plates are read and seen: the solve reads them the same way (flow, cuts)."""
_FRAME_TOKEN = re.compile(r"[._-]?%0?\d*d")


def raw_pattern(pattern: str) -> str:
    """``/x/shot_depth.%04d.exr`` -> ``/x/shot_depth_raw.%04d.exr`` (before the frame token, else the extension)."""
    folder, name = Path(pattern).parent, Path(pattern).name
    match = _FRAME_TOKEN.search(name)
    at = match.start() if match else len(Path(name).stem)
    return str(folder / (name[:at] + RAW_SUFFIX + name[at:]))


def plan_solve(plate: str | tuple[str, ...], render_options: dict[str, Any],
               solve_options: dict[str, Any]) -> tuple[dict[str, Any], SolveSettings]:
    """The render options changed to stream raw disparity, and the settings of the solve that follows."""
    if render_options.get("mode") == "normalized":
        raise SolveError("--mode normalized cannot be solved; use depth (scene units) or disparity with --camera")
    movie = isinstance(plate, str) and is_movie(plate)
    if movie:
        stem = Path(str(plate))
        seq = FrameSequence(str(stem.with_name(stem.stem + ".%04d.exr")), (1,), {}, "error")
    else:
        seq = find_sequence(plate, missing="black")
    final = output_pattern(seq, render_options.get("output"))
    raw = raw_pattern(final)
    stabilize = bool(solve_options.get("stabilize"))
    if stabilize and (movie or not isinstance(plate, str)):
        raise SolveError("--stabilize after a render needs the plates as one image sequence pattern; render first, "
                         "then run `flashdepth-vfx solve RAW --plates PLATES --stabilize`")
    references = bool(solve_options.get("points") or solve_options.get("anchors"))
    if not references and not stabilize:
        raise SolveError("A lens or camera alone gives nothing to solve against: add --points or --anchors "
                         "(or --stabilize)")
    render_mode = render_options.get("mode", "depth")
    plate_reading: dict[str, Any] = {key: render_options.get(key) for key in PLATE_READING}
    mode = ("inverse" if references else "disparity") if render_mode == "disparity" else "depth"
    settings = SolveSettings(
        disparity=raw,
        output=final,
        plates=plate if isinstance(plate, str) and not movie else None,
        missing=render_options.get("missing") or "error",
        **plate_reading,
        frames=render_options.get("frames"),
        channel=render_options.get("channel", "depth.Z"),
        out_channel=render_options.get("channel", "depth.Z"),
        mode=mode,
        depth_scale=render_options.get("depth_scale", 100.0),
        half=bool(render_options.get("half")),
        passthrough=bool(render_options.get("passthrough")),
        resume=bool(render_options.get("resume")),
        overwrite=bool(render_options.get("overwrite")),
        **{**solve_options, "points": tuple(solve_options.get("points") or ()),
           "cuts": tuple(solve_options.get("cuts") or ())},
    )
    _preflight(settings, list(seq.frames) if not movie else None, list(seq.files.values()))
    return {**render_options, "output": raw, "mode": "disparity"}, settings


def _preflight(settings: SolveSettings, frames: list[int] | None, plates: list[Path]) -> None:
    """Read the camera, points and anchors now, and apply the solve's output guard to its frames and report, so a
    bad file or a forbidden output fails before the render rather than after it."""
    if frames is not None:
        wanted = parse_frame_range(settings.frames) if settings.frames else frames
        load_camera(settings.camera, wanted, prim_path=settings.camera_prim, frame_offset=settings.frame_offset,
                    focal=settings.focal, filmback=parse_filmback(settings.filmback), fov=settings.fov,
                    rotation_order=settings.rotation_order)
        assert settings.output is not None
        outputs = solve_outputs(settings.output, wanted, settings.report)
        raw = [frame_path(settings.disparity, f) for f in wanted]
        check_outputs(outputs, [*plates, *raw, settings.camera, settings.anchors, *settings.points], settings.overwrite)
    for path in settings.points:
        read_points(path)
    if settings.anchors:
        read_anchors(settings.anchors)
