"""``flashdepth-vfx solve``: a thin click layer over :class:`~flashdepth_vfx.solve.run.ShotSolve`, and the solve
options ``render`` shares (``render --camera ... --points ...`` solves after the stream)."""
from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from flashdepth_vfx.solve.defaults import ANCHOR_ORIGINS, NUKE_ROTATION_ORDER, SMOOTHNESS

if TYPE_CHECKING:
    from flashdepth_vfx.solve.run import SolveSettings, SolveSummary

_SPACE = click.Choice(["world", "camera"])
SHARED_OPTIONS: list[Callable[[Callable[..., Any]], Callable[..., Any]]] = [
    click.option("--camera", type=click.Path(dir_okay=False), help="Matchmove camera: USD (.usd/.usda/.usdc/.usdz) or Nuke .chan."),
    click.option("--camera-prim", help="USD camera prim path, when the stage holds several."),
    click.option("--frame-offset", type=float, default=0.0, show_default=True,
                 help="Camera time = plate frame + offset (when its time codes are not frame numbers)."),
    click.option("--focal", type=float, help="Focal length (mm): overrides the camera's, or the lens of an untracked plate."),
    click.option("--filmback", help="Film back WIDTHxHEIGHT mm (default Nuke's 24.576x18.672)."),
    click.option("--fov", type=float, help="Horizontal field of view (degrees), instead of --focal/--filmback."),
    click.option("--rotation-order", default=NUKE_ROTATION_ORDER, show_default=True, help=".chan rotation order."),
    click.option("--points", multiple=True, type=click.Path(dir_okay=False),
                 help="Tracked 3D points: USD Points, .obj vertices or CSV x,y,z (repeatable)."),
    click.option("--anchors", type=click.Path(dir_okay=False), help="CSV frame,x,y,distance (pixels of the plate's format; or frame,x,y,z)."),
    click.option("--anchor-origin", type=click.Choice(ANCHOR_ORIGINS), default="top-left", show_default=True,
                 help="Where anchor pixel coordinates start (bottom-left: Nuke's y up)."),
    click.option("--stabilize", is_flag=True, help="Remove frame-to-frame scale/shift jitter with optical flow on the plates."),
    click.option("--cut", "cuts", multiple=True, type=int, help="A frame that starts a new shot (repeatable)."),
    click.option("--smoothness", type=float, default=SMOOTHNESS, show_default=True,
                 help="Expected relative frame-to-frame change of the solve (lower: steadier, slower to follow)."),
    click.option("--position", type=_SPACE, help="Also write P (P.R/G/B) in world or camera space."),
    click.option("--normals", type=_SPACE, help="Also write N (N.R/G/B) in world or camera space."),
    click.option("--far", type=float,
                 help="Depth written for the sky (scene units; default 1000 times the references' median depth)."),
    click.option("--report", type=click.Path(dir_okay=False), help="Write the per-frame solve as JSON + a PNG chart beside it."),
]
SHARED_NAMES = ("camera", "camera_prim", "frame_offset", "focal", "filmback", "fov", "rotation_order", "points",
                "anchors", "anchor_origin", "stabilize", "cuts", "smoothness", "position", "normals", "far", "report")


def shared_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the solve options that ``solve`` and ``render`` share."""
    for option in reversed(SHARED_OPTIONS):
        command = option(command)
    return command


def wants_solve(options: dict[str, Any]) -> bool:
    """Whether ``render`` options ask for a solve after the stream."""
    return bool(options.get("camera") or options.get("points") or options.get("anchors") or options.get("stabilize")
                or options.get("focal") or options.get("fov"))


def echo_summary(summary: SolveSummary) -> None:
    """One line per warning, then what was written."""
    fit = summary.fit
    if fit is not None:
        seen = int(fit.points.sum())
        click.echo(f"solve: {seen} references over {len(summary.frames)} frames, "
                   f"{int(fit.inliers.sum())} kept, residual sigma {100 * fit.sigma:.2f}%", err=True)
    skipped = f", {len(summary.skipped)} already solved" if summary.skipped else ""
    click.echo(f"wrote {len(summary.written)} frames to {summary.output}{skipped}", err=True)


def run_solve(settings: SolveSettings, events: Any = None, cancel: threading.Event | None = None) -> SolveSummary:
    """Run a solve, warnings to stderr as they come; with ``events`` (a JSON event sink) warnings, per-phase
    ``solve_step`` and per-frame ``solve`` events go there too, so host nodes see the solve's progress. ``cancel``
    (set by a signal) stops it: see :func:`finish_solve`."""
    from flashdepth_vfx.solve.run import ShotSolve

    def warn(message: str) -> None:
        click.echo(f"warning: {message}", err=True)
        if events is not None:
            events.warning(message)

    return ShotSolve(settings, warn=warn, progress=events.solved if events is not None else None, cancel=cancel,
                     phase=events.solve_step if events is not None else None).run()


def finish_solve(summary: SolveSummary, events: Any = None) -> None:
    """Report a solve: a cancelled one is one ``cancelled: ...`` line (and a ``cancelled`` event), exit 130."""
    from flashdepth_vfx.commands import EXIT_CANCELLED

    if summary.cancelled:
        message = summary.cancel_message()
        if events is not None:
            events.cancelled(len(summary.written), message)
        click.echo(f"cancelled: {message}", err=True)
        sys.exit(EXIT_CANCELLED)
    echo_summary(summary)


@click.command("solve")
@click.argument("disparity")
@click.option("-o", "--output", required=True, help="Solved frames: pattern (shot_solved.####.exr) or folder.")
@click.option("--plates", help="The shot's plates (for --stabilize and hard-cut detection).")
@click.option("--missing", type=click.Choice(["error", "hold", "black"]), default="error", show_default=True,
              help="Gaps in --plates: hold the previous plate or use black, as render --missing did.")
@click.option("--part", help="EXR part of the plates (index or name), as render --part.")
@click.option("--layer", help="Layer of the plates, as render --layer.")
@click.option("--colorspace", help="The plates' colour space, as render --colorspace.")
@click.option("--ocio-config", type=click.Path(dir_okay=False), help="OCIO config for the plates, as render --ocio-config.")
@click.option("--display", help="OCIO display the plates are seen through, as render --display.")
@click.option("--view", help="OCIO view, as render --view.")
@click.option("--frames", help="Frames to solve: 1001-1100 (default: every disparity frame).")
@click.option("--channel", help="Disparity channel (default: depth.Z, Z, depth.Y, Y or R).")
@click.option("--mode", type=click.Choice(["depth", "distance", "inverse", "disparity"]),
              help="depth: camera-space Z (default with references); distance: along the ray; inverse: 1/Z "
                   "(Nuke far = 0); disparity: stabilised disparity (default with --stabilize alone).")
@click.option("--out-channel", default="depth.Z", show_default=True, help="Output depth channel.")
@click.option("--depth-scale", type=float, default=100.0, show_default=True,
              help="Without references, --mode depth writes depth-scale / disparity (as render --depth-scale).")
@click.option("--no-detect-cuts", is_flag=True, help="Do not look for hard cuts in the plates.")
@click.option("--half", is_flag=True, help="Write half floats.")
@click.option("--passthrough", is_flag=True,
              help="Also write the disparity files' other channels (the plate render --passthrough wrote).")
@click.option("--resume", is_flag=True, help="Skip frames already solved with the same settings and inputs.")
@click.option("--overwrite", is_flag=True,
              help="Replace existing files flashdepth-vfx did not write (an input is never replaced).")
@shared_options
@click.option("--progress", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="json: render's JSON event lines on stdout (solve_step, solve, warning; done, cancelled or error last).")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def solve(disparity: str, no_detect_cuts: bool, progress: str, debug: bool, **options: Any) -> None:
    """Turn relative DISPARITY frames (render --mode disparity) into depth in scene units from a matchmove camera and
    tracked points or anchors, and/or steady them (--stabilize). The raw frames are kept.

    Ctrl-C / SIGTERM stops it within about a second (exit 130): solved frames are kept, --resume finishes."""
    from flashdepth_vfx.commands import cancel_on_signals, guarded
    from flashdepth_vfx.solve.run import SolveSettings

    events = None
    if progress == "json":
        from flashdepth_vfx.engine.events import JsonEvents

        events = JsonEvents()
    options["points"] = tuple(options["points"])
    options["cuts"] = tuple(options["cuts"])
    settings = guarded(debug, lambda: SolveSettings(disparity=disparity, detect_cuts=not no_detect_cuts, **options),
                        events)
    cancel = cancel_on_signals()
    summary = guarded(debug, lambda: run_solve(settings, events, cancel), events)
    finish_solve(summary, events)
    if events is not None:
        events.done(len(summary.written), summary.output)
