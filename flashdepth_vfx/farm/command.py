"""``flashdepth-vfx farm``: write Open Job Description job templates for render farms (AWS Deadline Cloud, ...)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..errors import FlashDepthError
from ..hosts.farm import openjd_run_line
from ..solve.command import SHARED_NAMES as SOLVE_OPTIONS
from ..solve.command import shared_options as solve_options
from .options import DEFAULT_ENGINE, DEFAULT_WARMUP, RENDER_OPTIONS


def _choice(key: str) -> click.Choice:
    return click.Choice(RENDER_OPTIONS[key].choices)


@click.group("farm")
def farm() -> None:
    """Render farm jobs (Open Job Description)."""


@farm.command("submit-template", short_help="Write a job template rendering shots, in chunks or not.")
@click.argument("shots", nargs=-1, required=True, metavar="SHOT_PATTERN [SHOT_PATTERN...]")
@click.option("-o", "job_file", required=True, type=click.Path(dir_okay=False), help="Job template to write (job.yaml).")
@click.option("--chunk-size", type=click.IntRange(min=1), help="Frames per task. Default: one task per shot.")
@click.option("--warmup", type=click.IntRange(min=0),
              help=f"Frames each chunk runs cold before its first frame (default {DEFAULT_WARMUP}). Not with --chain.")
@click.option("--frames", help="Frames of every shot to render, FIRST-LAST (default: all of them).")
@click.option("--chain", is_flag=True, help="Chunks of a shot run in order and hand over the exact temporal state.")
@click.option("--engine-command", default=DEFAULT_ENGINE, show_default=True,
              help="Default of the EngineCommand job parameter, e.g. 'python -m flashdepth_vfx'.")
@click.option("--name", help="Job name. Default: FlashDepth <shot> / FlashDepth <N> shots.")
@click.option("--output", help="Depth output per shot, as render --output; {shot} is the shot's name "
                               "(depth/{shot}_depth.####.exr). Default: beside the plates.")
@click.option("--checkpoint", type=click.Path(dir_okay=False), help="FlashDepth checkpoint (.pth or .safetensors).")
@click.option("--model", help="Official model by name (downloaded on the workers).")
@click.option("--teacher-resolution", type=int, help="Hybrid model: height of the teacher's input.")
@click.option("--device", type=_choice("device"), default="auto", show_default=True)
@click.option("--precision", type=_choice("precision"), default="auto", show_default=True)
@click.option("--mode", type=_choice("mode"), default="depth", show_default=True)
@click.option("--depth-scale", type=float, help="depth = scale / disparity (render's default: 100).")
@click.option("--max-size", type=int, help="Cap the long side of the model's input.")
@click.option("--colorspace", help="Plate colour space.")
@click.option("--ocio-config", type=click.Path(dir_okay=False), help="OCIO config.")
@click.option("--display", help="OCIO display.")
@click.option("--view", help="OCIO view.")
@click.option("--channel", help="Output channel name (render's default: depth.Z).")
@click.option("--missing", type=_choice("missing"), help="Gaps in a sequence: error (default), hold, black.")
@click.option("--part", help="EXR part to read.")
@click.option("--layer", help="Channel layer to read as RGB.")
@click.option("--half", is_flag=True, help="Write half floats.")
@click.option("--passthrough", is_flag=True, help="Also write the plate's RGBA.")
@click.option("--reset-on-cut", is_flag=True, help="Restart the temporal state at hard cuts.")
@click.option("--compile", is_flag=True, help="torch.compile the network (pays off on long chunks on a GPU).")
@click.option("--cuda-graphs", is_flag=True, help="Replay CUDA graphs (CUDA workers; render's default there anyway).")
@click.option("--attention", type=_choice("attention"), help="CUDA workers: pin the attention kernel (render's default: auto).")
@click.option("--threads", type=click.IntRange(min=1), help="CPU threads per task (default: one per core of the worker).")
@click.option("--io-workers", type=click.IntRange(min=1), help="Plate decode and depth write threads per task.")
@click.option("--compression", type=_choice("compression"), help="EXR compression of the depth (render's default: auto).")
@click.option("--exact-colour", is_flag=True, help="OpenColorIO's CPU processor for the plates' colour, also on a GPU.")
@click.option("--overwrite", is_flag=True, help="Replace existing files that flashdepth-vfx did not write: the job "
                                               "template (-o; never a plate or other input), and the tasks' outputs.")
@solve_options
def submit_template(shots: tuple[str, ...], job_file: str, chunk_size: int | None, warmup: int | None,
                    frames: str | None, chain: bool, engine_command: str, name: str | None,
                    **render_options: Any) -> None:
    """Write a job template rendering every SHOT_PATTERN (a plate as `render` takes it; wildcards in folders).

    With --camera/--points/--anchors/--stabilize, as `render` takes them, the render tasks write raw disparity
    (NAME_raw.####.exr beside the output) and a last step per shot, once all its chunks finished, runs
    `flashdepth-vfx solve` over the whole shot and writes the output: the files a local `render --camera ...` writes.

    Paths outside the folder of JOB (plates, outputs, checkpoint, OCIO config, solve inputs) are PATH parameters
    whose values go beside it into parameter_values.json, as AWS Deadline Cloud job bundles hold them: write the
    job as a bundle (-o BUNDLE/template.yaml) and submit it with `deadline bundle submit BUNDLE`, where path mapping
    and job attachments take each path to the workers. Check it with `openjd check JOB`; run it here with the
    `openjd run` line printed.
    """
    try:
        from .template import PARAMETER_VALUES, build_job, write_job
    except ImportError as exc:
        raise click.ClickException(f"farm templates need the farm extra: pip install 'flashdepth-vfx[farm]' ({exc})") from None
    solve = {key: render_options.pop(key) for key in SOLVE_OPTIONS}
    try:
        job = build_job(list(shots), chunk_size, warmup, chain, render_options, engine_command=engine_command,
                        name=name, template_dir=Path(job_file).expanduser().absolute().parent, frames=frames,
                        solve_options=solve, job_file=job_file)
        path = write_job(job, job_file, overwrite=bool(render_options.get("overwrite")))
    except FlashDepthError as exc:
        raise click.ClickException(str(exc)) from None
    for step in job.template["steps"]:
        click.echo(f"{step['name']}: {step['description']}")
    values = f" and {path.with_name(PARAMETER_VALUES)} (its paths outside {path.parent})" if job.values else ""
    click.echo(f"wrote {path} ({len(job.template['steps'])} steps){values}; check it: openjd check {path}; "
               f"run it here: {openjd_run_line(str(path), job.values)}")
