"""Training checkpoints in the official format: ``iter_<step>.pth`` = {'model': state_dict, 'step': n, 'optimizer': ...}.

:func:`flashdepth_vfx.model.load_checkpoint` reads them directly (it takes ``'model'`` and ignores the rest).
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import torch

from ..errors import CheckpointError, OutputError

_NAME = re.compile(r"^iter_(\d+)\.pth$")


def checkpoint_path(run_dir: Path, step: int) -> Path:
    """Where the checkpoint of optimiser step ``step`` lives in a run folder."""
    return run_dir / f"iter_{step}.pth"


def list_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """(step, path) of every checkpoint in a run folder, oldest first."""
    if not run_dir.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in run_dir.iterdir() if (m := _NAME.match(p.name)) and p.is_file()]
    return sorted(found)


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint with the highest step, if any."""
    found = list_checkpoints(run_dir)
    return found[-1][1] if found else None


def save_training_checkpoint(run_dir: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, step: int,
                             keep: int) -> Path:
    """Write ``iter_<step>.pth`` atomically, then delete all but the newest ``keep`` checkpoints."""
    path = checkpoint_path(run_dir, step)
    payload = {"model": model.state_dict(), "step": step, "optimizer": optimizer.state_dict()}
    tmp = run_dir / f".{path.name}.tmp-{os.getpid()}"
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{path}: cannot write checkpoint: {exc.strerror}; free disk space or choose another --run-dir") from None
    for _, old in list_checkpoints(run_dir)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def load_training_checkpoint(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> int:
    """Restore weights and optimiser state from a training checkpoint; returns its step."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # zip, pickle and I/O errors all mean a damaged file here
        raise CheckpointError(f"{path}: cannot read it ({_reason(exc)}); delete it to resume from the one before") from None
    if not isinstance(payload, dict) or not {"model", "step", "optimizer"} <= payload.keys():
        raise CheckpointError(f"{path}: not a training checkpoint (no optimizer state); start a new --run-dir")
    try:
        model.load_state_dict(payload["model"], strict=True)
        optimizer.load_state_dict(payload["optimizer"])
    except (RuntimeError, ValueError) as exc:
        raise CheckpointError(f"{path}: does not match this run's config ({_reason(exc)}); use the run's config.json") from None
    return int(payload["step"])


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
