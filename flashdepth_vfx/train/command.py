"""``flashdepth-vfx train``: the click command over :func:`flashdepth_vfx.train.train`."""
from __future__ import annotations

from pathlib import Path

import click

from .config import CONFIG_FILE, PRESETS


@click.command("train")
@click.argument("config", required=False, metavar="[CONFIG_OR_PRESET]")
@click.option("--run-dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for config.json, log.jsonl and the iter_<step>.pth checkpoints.")
@click.option("--resume", is_flag=True, help="Continue from the newest checkpoint in --run-dir (config: its config.json).")
@click.option("--steps", type=int, help="Train to this many steps instead of the config's (e.g. to extend a run).")
@click.option("--init-checkpoint", type=click.Path(dir_okay=False),
              help="Start from these weights (stage 1: Depth Anything v2 or a model to fine-tune; stage 2: the student).")
@click.option("--teacher-checkpoint", type=click.Path(dir_okay=False),
              help="Stage 2: the trained single-network model that becomes the frozen teacher.")
@click.option("--overwrite", is_flag=True,
              help="Replace a config.json / log.jsonl in --run-dir that flashdepth-vfx did not write (an input never).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def train_command(config: str | None, run_dir: Path, resume: bool, steps: int | None, init_checkpoint: str | None,
                  teacher_checkpoint: str | None, overwrite: bool, quiet: bool, debug: bool) -> None:
    """Train FlashDepth on procedural video with the paper's two-stage recipe.

    CONFIG_OR_PRESET is a JSON file of settings or a preset name; omit it with --resume to reuse the run's own
    config. The final checkpoint loads with --checkpoint like an official one.
    """
    from ..commands import guarded
    from .config import load_train_config, with_overrides
    from .loop import train

    if config is None and not resume:
        raise click.UsageError(f"give a config file or a preset ({', '.join(PRESETS)}), or --resume an existing run")

    def run() -> Path:
        settings = load_train_config(config if config is not None else run_dir / CONFIG_FILE)
        overrides = {"steps": steps, "init_checkpoint": init_checkpoint, "teacher_checkpoint": teacher_checkpoint}
        settings = with_overrides(settings, **{k: v for k, v in overrides.items() if v is not None})
        source = config if config is not None and config not in PRESETS else None
        return train(settings, run_dir, resume=resume, quiet=quiet, config_file=source, overwrite=overwrite)

    final = guarded(debug, run)
    click.echo(f"final checkpoint: {final}")
