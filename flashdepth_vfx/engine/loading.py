"""Choosing the device, the precision and the checkpoint of a render."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch

from ..errors import CheckpointError, FlashDepthError
from ..model import FlashDepth, file_hash, load_checkpoint
from ..model.checkpoint import KNOWN_CHECKPOINTS, cached_checkpoint

PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
EMBEDDED_MODEL = "flashdepth-tiny.safetensors"


def resolve_device(name: str = "auto") -> torch.device:
    """``auto``: CUDA, else Apple MPS, else CPU. An unavailable explicit device is an error."""
    mps = getattr(torch.backends, "mps", None)
    has_mps = bool(mps and mps.is_available())
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise FlashDepthError("--device cuda: no CUDA device is available here; use --device auto or cpu")
    if name == "mps" and not has_mps:
        raise FlashDepthError("--device mps: Apple Metal is not available here; use --device auto or cpu")
    return torch.device(name)


@contextmanager
def cpu_threads(count: int | None) -> Iterator[None]:
    """Run the block with torch's CPU intra-op thread count set to ``count`` (None: leave it), then restore it.

    For a job sharing its machine (a farm slot of N cores, a host application, a training run beside a render).
    """
    previous = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def embedded_checkpoint() -> Path | None:
    """The small default model shipped inside the package, if present."""
    path = Path(str(resources.files("flashdepth_vfx") / "weights" / EMBEDDED_MODEL))
    return path if path.is_file() else None


@dataclass(frozen=True)
class LoadedModel:
    """A ready network and where it came from (recorded in every output file)."""

    model: FlashDepth
    path: Path
    sha: str

    @property
    def identity(self) -> str:
        """Model name and checkpoint hash, e.g. ``flashdepth-s@3f2a...``."""
        return f"{self.model.cfg.name}@{self.sha}"


def load_model(
    checkpoint: str | None,
    model: str | None,
    device: torch.device,
    precision: str = "fp32",
    teacher_resolution: int | None = None,
    compile: bool = False,
) -> LoadedModel:
    """The checkpoint given, else a downloaded official model by name, else the embedded default model."""
    if checkpoint:
        path = Path(checkpoint).expanduser()
    elif model:
        if model not in KNOWN_CHECKPOINTS:
            raise CheckpointError(f"--model {model}: unknown; known models: {', '.join(KNOWN_CHECKPOINTS)}")
        cached = cached_checkpoint(model)
        if cached is None:
            raise CheckpointError(f"--model {model} is not downloaded yet: run `flashdepth-vfx weights download {model}`")
        path = cached
    else:
        embedded = embedded_checkpoint()
        if embedded is None:
            raise CheckpointError("no checkpoint given and no embedded model installed: pass --checkpoint PATH or --model NAME")
        path = embedded
    dtype = PRECISIONS[precision]
    net = load_checkpoint(path, device=device, dtype=dtype, teacher_resolution=teacher_resolution)
    return LoadedModel(net.optimize_for_inference(compile=compile), path, file_hash(path))
