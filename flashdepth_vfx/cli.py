"""The ``flashdepth-vfx`` command line: thin click commands over the library.

Exit codes: 0 success; 1 error (bad input, output or checkpoint: one line on stderr, or an ``error`` event
with ``--progress json``); 2 usage error (a bad option value: one line too); 130 cancelled (Ctrl-C / SIGTERM at
any time, start-up included: finished frames are kept).
"""
from __future__ import annotations

import os
import sys
from typing import Any

import click

from . import __version__
from .commands import EXIT_CANCELLED, OVERWRITE_HELP, cancel_on_signals
from .commands import fail as _fail
from .commands import guarded as _guarded
from .engine.settings import ATTENTION_CHOICES
from .farm.command import farm
from .hosts.command import hosts
from .solve.command import SHARED_NAMES as SOLVE_OPTIONS, finish_solve, run_solve, solve, wants_solve
from .solve.command import shared_options as solve_options

# Torch's OpenMP threads busy-wait between ops by default: they starve the decode/encode threads and, on a machine
# shared with other work, spin while a descheduled peer holds every op up (measured in benchmarks/bench_io.py:
# the embedded model 20x slower with two threads than with one). Passive waiting must be chosen before torch is
# first imported, which this module never does; an explicit setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

class _LazyGroup(click.Group):
    """A group whose heavy subcommands (importing torch) load only when used or listed.

    Usage errors are one line (``error: ...``, exit 2) like every other error, and Ctrl-C while a command starts
    (importing torch, loading a model) is a cancel (exit 130), not click's ``Aborted!`` (exit 1).
    """

    lazy = {"train": "flashdepth_vfx.train.command:train_command"}

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("cancelled", err=True)
            sys.exit(EXIT_CANCELLED)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else ctx.command_path
            click.echo(f"error: {exc.format_message()} (see: {where} --help)", err=True)
            sys.exit(exc.exit_code)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            import importlib

            module, attr = self.lazy[cmd_name].split(":")
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, cmd_name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="flashdepth-vfx")
def main() -> None:
    """Streaming video depth (FlashDepth) for VFX plates."""


@main.command()
@click.argument("plate", nargs=-1, required=True)
@click.option("-o", "--output", help="Output pattern (shot_depth.####.exr) or folder. Default: beside the plates, _depth suffix.")
@click.option("--frames", help="Frames to write: 1001-1100, 1001-1100x2, 1001,1005. Default: every frame found.")
@click.option("--missing", type=click.Choice(["error", "hold", "black"]), default="error", show_default=True,
              help="What to do with gaps in the sequence.")
@click.option("--part", help="EXR part to read (index or name). Default: the first part with colour.")
@click.option("--layer", help="Channel layer to read as RGB (e.g. 'beauty' for beauty.R/G/B).")
@click.option("--checkpoint", type=click.Path(dir_okay=False), help="FlashDepth checkpoint (.pth or .safetensors).")
@click.option("--model", "model_name", help="Official model by name, downloaded with `flashdepth-vfx weights download`.")
@click.option("--teacher-resolution", type=int, help="Hybrid model: height of the teacher's input (default 490).")
@click.option("--colorspace", help="Plate colour space (default: file metadata, else scene_linear / sRGB).")
@click.option("--ocio-config", help="OCIO config (default: $OCIO, else the built-in studio config).")
@click.option("--display", help="OCIO display for the model's view of the plates (default: the config's).")
@click.option("--view", help="OCIO view (default: the display's default view).")
@click.option("--mode", type=click.Choice(["depth", "disparity", "normalized"]), default="depth", show_default=True,
              help="depth: larger is farther (ZDefocus 'depth'); disparity: the raw output; normalized: 0-1 over the shot.")
@click.option("--depth-scale", type=float, default=100.0, show_default=True, help="depth = scale / disparity.")
@click.option("--channel", default="depth.Z", show_default=True, help="Output channel name.")
@click.option("--half", is_flag=True, help="Write half floats instead of float32.")
@click.option("--passthrough", is_flag=True, help="Also write the plate's RGBA into the output files.")
@click.option("--max-size", type=int,
              help="Cap the long side of the model input (default: the model's own, 2044 official, 224 embedded).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]), default="auto", show_default=True)
@click.option("--precision", type=click.Choice(["auto", "fp32", "fp16", "bf16"]), default="auto", show_default=True,
              help="auto: bf16 on CUDA, fp32 elsewhere. fp32 on CUDA uses TF32 tensor cores.")
@click.option("--compile", is_flag=True, help="torch.compile the network (slow first frame, faster after; mostly for GPUs).")
@click.option("--cuda-graphs/--no-cuda-graphs", default=None,
              help="Replay a captured CUDA graph for the shot's frame size (default: on with CUDA; eager after one "
                   "warning if capture fails).")
@click.option("--attention", type=click.Choice(ATTENTION_CHOICES), default="auto",
              show_default=True, help="CUDA: pin the attention kernel (benchmarks/gpu_check.sh measures which is fastest).")
@click.option("--threads", type=click.IntRange(min=1),
              help="CPU threads for inference (default: one per core); fewer for a shared machine or farm slot.")
@click.option("--io-workers", type=click.IntRange(min=1),
              help="Threads decoding plates, and threads writing depth files (default: one per core, at least 2).")
@click.option("--compression", type=click.Choice(["auto", "none", "zip", "zips", "piz", "rle"]), default="auto",
              show_default=True, help="EXR compression of the depth files; auto: zip for --half or --passthrough, none for float32.")
@click.option("--exact-colour", is_flag=True,
              help="Convert plate colour with OpenColorIO's CPU processor (the CPU numerics) also on a GPU, instead of converting there.")
@click.option("--snapshot-every", type=int, default=25, show_default=True, help="Save the temporal state every N frames.")
@click.option("--resume", is_flag=True, help="Skip frames already rendered with the same settings; continue from a snapshot.")
@click.option("--overwrite", is_flag=True, help=OVERWRITE_HELP)
@click.option("--reset-on-cut", is_flag=True, help="Restart the temporal state at hard cuts.")
@click.option("--warmup", type=int, help="Start cold this many frames before the first frame (farm chunks) instead of at the shot start.")
@click.option("--progress", type=click.Choice(["bar", "json", "none"]), default="bar", show_default=True)
@click.option("-q", "--quiet", is_flag=True, help="Same as --progress none.")
@solve_options
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def render(plate: tuple[str, ...], model_name: str | None, progress: str, quiet: bool, debug: bool, **options: Any) -> None:
    """Render depth for PLATE: shot.####.exr, shot.%04d.exr, shot.$F4.exr, a folder, files, or a movie.

    With --camera/--points/--anchors/--stabilize the stream writes raw disparity (NAME_raw.####.exr beside the
    output) and the shot solve writes the output from it."""
    from .engine import JsonEvents, QuietEvents, Render, RenderSettings, RichProgress

    json_events = JsonEvents() if progress == "json" else None
    events = json_events or (QuietEvents() if quiet or progress == "none" else RichProgress())
    spec: str | tuple[str, ...] = plate[0] if len(plate) == 1 else plate
    solve_settings = None
    solve_choices = {name: options.pop(name) for name in SOLVE_OPTIONS}
    if wants_solve(solve_choices):
        from .solve.after_render import plan_solve

        options, solve_settings = _guarded(debug, lambda: plan_solve(spec, options, solve_choices), json_events)
    settings = _guarded(debug, lambda: RenderSettings(plate=spec, model=model_name, **options), json_events)
    cancel = cancel_on_signals()
    summary = _guarded(debug, lambda: Render(settings, events, cancel).run(), json_events)
    if summary.cancelled:
        sys.exit(EXIT_CANCELLED)
    if solve_settings is not None:
        finish_solve(_guarded(debug, lambda: run_solve(solve_settings, json_events, cancel), json_events), json_events)


@main.command()
@click.argument("plate", nargs=-1, required=True)
@click.option("--part")
@click.option("--layer")
@click.option("--ocio-config")
@click.option("--colorspace")
@click.option("--debug", is_flag=True)
def info(plate: tuple[str, ...], part: str | None, layer: str | None, ocio_config: str | None,
         colorspace: str | None, debug: bool) -> None:
    """What would be read from PLATE: frames, size, channels, colour space guess."""

    def body() -> None:
        from .plates import compact_frames, find_sequence, guess_colorspace, is_movie, load_config, movie_frame_count, probe

        if len(plate) == 1 and is_movie(plate[0]):
            click.echo(f"movie       {plate[0]}\nframes      1-{movie_frame_count(plate[0])} (read as display sRGB)")
            return
        seq = find_sequence(plate[0] if len(plate) == 1 else plate, missing="black")
        first = seq.files[min(seq.files)]
        pinfo = probe(first, part, layer)
        config = load_config(ocio_config)
        click.echo(f"plate       {seq.display_name}")
        click.echo(f"frames      {compact_frames(sorted(seq.files))} ({len(seq.files)} files)")
        if seq.missing():
            click.echo(f"missing     {compact_frames(seq.missing())}")
        click.echo(f"data window {pinfo.width}x{pinfo.height} at ({pinfo.x}, {pinfo.y})")
        click.echo(f"display     {pinfo.full_width}x{pinfo.full_height} at ({pinfo.full_x}, {pinfo.full_y}), pixel aspect {pinfo.pixel_aspect:g}")
        click.echo(f"part        {pinfo.part_index} of {pinfo.num_parts}" + (f" ({pinfo.part_name})" if pinfo.part_name else ""))
        click.echo(f"channels    {', '.join(pinfo.channels)} (colour: {', '.join(pinfo.rgb_channels)}; {pinfo.pixel_type})")
        click.echo(f"colour      {guess_colorspace(config, pinfo, colorspace)}" + (" (from the file)" if pinfo.colorspace else " (guessed)"))

    _guarded(debug, body)


@main.command()
@click.argument("plate_file", type=click.Path(dir_okay=False))
@click.argument("depth_file", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="PNG to write.")
@click.option("--colorspace")
@click.option("--ocio-config")
@click.option("--height", type=int, default=360, show_default=True, help="Height of the sheet in pixels (8-4320).")
@click.option("--overwrite", is_flag=True, help=OVERWRITE_HELP)
@click.option("--debug", is_flag=True)
def preview(plate_file: str, depth_file: str, output: str, colorspace: str | None, ocio_config: str | None,
            height: int, overwrite: bool, debug: bool) -> None:
    """Side-by-side PNG: the plate as the model sees it | its depth, colour-mapped."""
    from .engine.preview import write_preview

    _guarded(debug, lambda: write_preview(plate_file, depth_file, output, colorspace, ocio_config, height, overwrite))


@main.group()
def weights() -> None:
    """Official checkpoints: list, download, convert."""


@weights.command("list")
def weights_list() -> None:
    """The released checkpoints and the embedded model: licence, and whether they are downloaded."""
    from .engine.loading import embedded_checkpoint
    from .model.checkpoint import EMBEDDED_LICENCE, KNOWN_CHECKPOINTS, cached_checkpoint

    for name, known in KNOWN_CHECKPOINTS.items():
        where = cached_checkpoint(name)
        click.echo(f"{name:<15} {known.description}\n{'':<15} licence {known.licence}\n"
                   f"{'':<15} {where if where else 'not downloaded'}")
    embedded = embedded_checkpoint()
    click.echo(f"{'flashdepth-tiny':<15} embedded; procedural scenes only (make demo)\n{'':<15} licence {EMBEDDED_LICENCE}\n"
               f"{'':<15} {embedded if embedded else 'missing from this installation'}")


@weights.command("download")
@click.argument("names", nargs=-1)
@click.option("--debug", is_flag=True)
def weights_download(names: tuple[str, ...], debug: bool) -> None:
    """Download released checkpoints (all when no NAME) to the user cache (needs the `hub` extra)."""
    from .model.checkpoint import KNOWN_CHECKPOINTS, download_checkpoint

    for name in names or tuple(KNOWN_CHECKPOINTS):
        known = KNOWN_CHECKPOINTS.get(name)
        if known is not None and not known.licence.commercial:  # said once, before the download; never a prompt
            click.echo(f"note: {name} is licensed {known.licence}", err=True)
        path = _guarded(debug, lambda n=name: download_checkpoint(n))
        click.echo(f"{name}: {path}")


@weights.command("convert")
@click.argument("source", type=click.Path(dir_okay=False))
@click.argument("target", type=click.Path(dir_okay=False))
@click.option("--overwrite", is_flag=True, help=OVERWRITE_HELP)
@click.option("--debug", is_flag=True)
def weights_convert(source: str, target: str, overwrite: bool, debug: bool) -> None:
    """Rewrite a .pth checkpoint as .safetensors (same keys; loads without pickle)."""
    from .model import convert_to_safetensors
    from .plates.output_guard import check_outputs

    def body() -> str:
        check_outputs([(target, "checkpoint")], [source], overwrite)
        return convert_to_safetensors(source, target)

    name = _guarded(debug, body)
    click.echo(f"{target}: {name}")


@main.command("eval")
@click.option("--pred", required=True, help="Predictions: folder, pattern (####, %04d) or glob of EXR/NPY/PFM/PNG frames.")
@click.option("--gt", required=True, help="Ground truth, same forms.")
@click.option("--pred-kind", type=click.Choice(["disparity", "depth"]), default="disparity", show_default=True,
              help="disparity: the model's raw output (render --mode disparity); depth: render --mode depth.")
@click.option("--gt-kind", type=click.Choice(["depth", "disparity"]), default="depth", show_default=True)
@click.option("--pred-channel", help="EXR channel of the predictions (default: depth.Z, Z, Y, R, or the first).")
@click.option("--gt-channel", help="EXR channel of the ground truth.")
@click.option("--max-depth", type=float, default=70.0, show_default=True, help="Ground truth is clipped to this (metres).")
@click.option("--align", type=click.Choice(["sequence", "none"]), default="sequence", show_default=True,
              help="sequence: one least-squares scale and shift per sequence (the paper); none: score metric depth "
                   "(e.g. `solve` output, --pred-kind depth) as it is.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write the metrics as JSON.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), help="Write a PNG of per-frame metrics.")
@click.option("--overwrite", is_flag=True, help=OVERWRITE_HELP)
@click.option("--debug", is_flag=True)
def eval_command(pred: str, gt: str, pred_kind: str, gt_kind: str, pred_channel: str | None, gt_channel: str | None,
                 max_depth: float, align: str, json_path: str | None, plot_path: str | None, overwrite: bool,
                 debug: bool) -> None:
    """Evaluate predictions against ground truth as the FlashDepth paper does (AbsRel, delta1, boundary F1, temporal)."""
    from .eval import format_table, run_eval

    result = _guarded(debug, lambda: run_eval(pred, gt, pred_kind, gt_kind, max_depth, json_path, plot_path,
                                               pred_channel=pred_channel, gt_channel=gt_channel, overwrite=overwrite,
                                               align=align))
    click.echo(format_table(result))


main.add_command(farm)
main.add_command(hosts)
main.add_command(solve)


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def gui(args: tuple[str, ...]) -> None:
    """Open the FlashDepth panel (needs the `gui` extra)."""
    try:
        from .ui.app import main as gui_main
    except ImportError as exc:
        _fail(f"the panel needs PySide6: pip install 'flashdepth-vfx[gui]' ({exc})")
    sys.exit(gui_main(list(args)))
