"""The training loop: sequences stepped frame by frame with the temporal state carried, L1 on disparity x100
(plus an optional temporal-gradient term)."""
from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from ..engine.loading import cpu_threads
from ..errors import OutputError
from ..model import FlashDepth
from ..model.stream import IMAGENET_MEAN, IMAGENET_STD
from ..plates.output_guard import KIND_KEY, check_outputs, written_kind
from .checkpoints import (
    checkpoint_path, latest_checkpoint, list_checkpoints, load_training_checkpoint, save_training_checkpoint,
)
from .config import CONFIG_FILE, LossWeights, TrainConfig, TrainConfigError
from .data import Batch, ClipSampler
from .losses import sequence_losses
from .network import build_training_model
from .optim import build_optimizer, lr_factor, set_learning_rates
from .progress import TrainProgress

LOG_FILE = "log.jsonl"
"""One JSON object per ``log_every`` steps: step, mean loss, learning rate, gradient norm, seconds per step; after a
first line that marks the file as the project's (:data:`LOG_HEADER`)."""
LOG_HEADER = {KIND_KEY: "train-log"}


def sequence_loss(model: FlashDepth, batch: Batch, autocast: torch.dtype | None = None,
                  weights: LossWeights = LossWeights()) -> torch.Tensor:
    """The official ``train_sequence`` loss: a fresh temporal state, frames stepped in order with the state carried,
    then the mean L1 between the predicted and the ground-truth disparity (x100) over the valid pixels of all frames
    (plus the temporal-gradient term when ``weights`` asks for it).
    """
    mean = torch.tensor(IMAGENET_MEAN, device=batch.video.device).view(1, 1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=batch.video.device).view(1, 1, 3, 1, 1)
    video = (batch.video - mean) / std
    state = None
    predictions = []
    with _autocast(video.device, autocast):
        for t in range(video.shape[1]):
            out, state = model(video[:, t], state)
            predictions.append(out)
    return sequence_losses(torch.stack(predictions, dim=1).float(), batch.disparity, weights)["total"]


def _autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()


def _device_and_precision(config: TrainConfig) -> tuple[torch.device, torch.dtype | None]:
    cuda = torch.cuda.is_available()
    if config.device == "cuda" and not cuda:
        raise TrainConfigError("training config: device cuda, but no CUDA device is available here; use auto or cpu")
    device = torch.device("cuda" if config.device == "cuda" or (config.device == "auto" and cuda) else "cpu")
    if config.precision == "bf16" and device.type != "cuda":
        raise TrainConfigError("training config: bf16 mixed precision needs CUDA; use precision fp32 or auto on a CPU")
    mixed = config.precision == "bf16" or (config.precision == "auto" and device.type == "cuda")
    return device, torch.bfloat16 if mixed else None


def train(config: TrainConfig, run_dir: Path, resume: bool = False, *, quiet: bool = False,
          config_file: str | os.PathLike[str] | None = None, overwrite: bool = False) -> Path:
    """Run (or, with ``resume``, continue) a training run in ``run_dir``; returns the final checkpoint.

    The folder receives ``config.json``, ``log.jsonl`` and ``iter_<step>.pth`` checkpoints (official format plus
    optimiser state). Resuming restores weights and optimiser from the newest checkpoint and continues with the
    very batches an uninterrupted run would have drawn. Ctrl-C saves a checkpoint before stopping.

    Nothing is written over an input (``config_file``, the config was read from; the init and teacher checkpoints),
    nor over a ``config.json`` / ``log.jsonl`` the project did not write unless ``overwrite`` (the output guard's
    rule, :mod:`flashdepth_vfx.plates.output_guard`).
    """
    config.validate()
    run_dir = Path(run_dir)
    latest = latest_checkpoint(run_dir)
    if latest is not None and not resume:
        raise TrainConfigError(
            f"{run_dir} already holds checkpoints (newest {latest.name}); pass --resume to continue it or choose a new --run-dir"
        )
    _check_outputs(config, run_dir, config_file, overwrite or latest is not None)
    with cpu_threads(config.threads):
        return _run(config, run_dir, latest, quiet)


def _run(config: TrainConfig, run_dir: Path, latest: Path | None, quiet: bool) -> Path:
    device, autocast = _device_and_precision(config)
    model = build_training_model(config).to(device)
    optimizer = build_optimizer(model, config)
    step = load_training_checkpoint(latest, model, optimizer) if latest is not None else 0
    if latest is not None and step >= config.steps:
        return latest
    _prepare_run_dir(run_dir, config, step)
    trainable = [p for group in optimizer.param_groups for p in group["params"]]
    sampler = ClipSampler(config.data, config.seed)

    with TrainProgress(f"{config.model} stage {config.stage}", config.steps, step, quiet) as progress, \
            open(run_dir / LOG_FILE, "a", encoding="utf-8") as log:
        if step:
            progress.note(f"resumed from {latest} at step {step}")
        saved_at, window = step, []
        try:
            for record in _steps(model, optimizer, sampler, trainable, config, device, autocast, step):
                step = record.step
                window.append(record.loss)
                if not record.applied:
                    progress.note(f"step {step}: non-finite loss or gradient; update skipped")
                progress.update(step, sum(window) / len(window), record.lr, record.seconds)
                if step % config.log_every == 0 or step == config.steps:
                    entry = {"step": step, "loss": sum(window) / len(window), "lr": record.lr,
                             "grad_norm": record.grad_norm, "seconds_per_step": record.seconds}
                    log.write(json.dumps(entry) + "\n")
                    log.flush()
                    window = []
                if step % config.checkpoint_every == 0 or step == config.steps:
                    save_training_checkpoint(run_dir, model, optimizer, step, config.keep_checkpoints)
                    saved_at = step
        except KeyboardInterrupt:
            if step > saved_at:
                path = save_training_checkpoint(run_dir, model, optimizer, step, config.keep_checkpoints)
                progress.note(f"interrupted: saved {path}; continue with --resume")
            raise
    return checkpoint_path(run_dir, config.steps)


def _check_outputs(config: TrainConfig, run_dir: Path, config_file: str | os.PathLike[str] | None,
                   overwrite: bool) -> None:
    """Refuse (one line, before anything is written) a run that would write over one of its inputs, or over a
    ``config.json`` / ``log.jsonl`` the project did not write (unless ``overwrite``; a resumed run's are its own).
    The run's checkpoints are outputs too: it replaces and deletes them, so none may be an input."""
    own_config = run_dir / CONFIG_FILE
    inputs = [config.init_checkpoint, config.teacher_checkpoint]
    if config_file is not None:
        same = os.path.realpath(config_file) == os.path.realpath(own_config)
        if same and written_kind(config_file) != "train-config":
            raise OutputError(f"{config_file} is the config.json of --run-dir {run_dir}, which the run rewrites; copy it "
                              "elsewhere to start a run from it (or omit it with --resume to continue that run)")
        if not same:  # the run's own config.json, written by an earlier run: rewritten with the same settings
            inputs.append(os.fspath(config_file))
    check_outputs([(own_config, "train-config"), (run_dir / LOG_FILE, "train-log")], inputs, overwrite)
    check_outputs([(path, "checkpoint") for _, path in list_checkpoints(run_dir)], inputs, overwrite=True)


def _prepare_run_dir(run_dir: Path, config: TrainConfig, step: int) -> None:
    """Create the folder, write the config, and drop log lines past ``step`` (written after the last checkpoint)."""
    log = run_dir / LOG_FILE
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        config.save(run_dir / CONFIG_FILE)
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines() if log.is_file() else []
        entries = [line for line in lines if (logged := _logged_step(line)) is not None and logged <= step]
        log.write_text("".join(line + "\n" for line in [json.dumps(LOG_HEADER), *entries]), encoding="utf-8")
    except OSError as exc:
        raise TrainConfigError(f"{run_dir}: cannot write the run folder: {exc.strerror}; choose another --run-dir") from None


def _logged_step(line: str) -> int | None:
    """The step of a log line; None for the header and for anything that is not a log entry."""
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    step = entry.get("step") if isinstance(entry, dict) else None
    return step if isinstance(step, int) else None


@dataclass(frozen=True)
class StepRecord:
    """What one optimiser step did."""

    step: int          # steps completed, counting this one
    loss: float
    lr: float          # the highest group rate used
    grad_norm: float   # before clipping
    seconds: float
    applied: bool      # False when a non-finite loss or gradient made the step be skipped


def _steps(
    model: FlashDepth,
    optimizer: torch.optim.Optimizer,
    sampler: ClipSampler,
    trainable: list[torch.nn.Parameter],
    config: TrainConfig,
    device: torch.device,
    autocast: torch.dtype | None,
    start: int,
) -> Iterator[StepRecord]:
    """Optimiser steps ``start + 1 .. config.steps``, one record each."""
    max_norm = config.grad_clip if config.grad_clip > 0 else math.inf
    for step in range(start, config.steps):
        began = time.perf_counter()
        set_learning_rates(optimizer, lr_factor(step, config.lr, config.steps))
        loss = sequence_loss(model, sampler.batch(step, config.batch_size).to(device), autocast, config.loss)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = float(torch.nn.utils.clip_grad_norm_(trainable, max_norm))
        value = float(loss.detach())
        applied = math.isfinite(value) and math.isfinite(grad_norm)  # as the official loop: no broken updates
        if applied:
            optimizer.step()
        lr = max(group["lr"] for group in optimizer.param_groups)
        yield StepRecord(step + 1, value, lr, grad_norm, time.perf_counter() - began, applied)
