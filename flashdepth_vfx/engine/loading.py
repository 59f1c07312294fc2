"""Choosing the device, the precision and the checkpoint of a render."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch

from ..errors import CheckpointError, FlashDepthError
from ..model import DepthStream, FlashDepth, file_hash, load_checkpoint
from ..model.stream import GraphedDepthStream
from ..model.checkpoint import KNOWN_CHECKPOINTS, cached_checkpoint

PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
PRECISION_CHOICES = ("auto", *PRECISIONS)
"""What ``--precision`` accepts: ``auto`` is bf16 on a CUDA device that supports it, fp32 elsewhere."""
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


def resolve_precision(name: str, device: torch.device) -> str:
    """The precision a render runs in: ``auto`` -> ``bf16`` on CUDA (where the GPU has bf16), else ``fp32``."""
    if name == "auto":
        return "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "fp32"
    if name not in PRECISIONS:
        raise FlashDepthError(f"--precision {name}: unknown; choose one of {', '.join(PRECISION_CHOICES)}")
    return name


def enable_tf32(device: torch.device) -> None:
    """On CUDA, let float32 matmuls and convolutions use TF32 tensor cores (the FlashDepth paper's setting).

    Process-wide; relative error ~1e-3 in a float32 network. Nothing changes on CPU or MPS.
    """
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


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
    precision: str = "fp32"  # resolved: fp32, fp16 or bf16
    cuda_graphs: bool = False

    @property
    def identity(self) -> str:
        """Model name and checkpoint hash, e.g. ``flashdepth-s@3f2a...``."""
        return f"{self.model.cfg.name}@{self.sha}"

    def stream(self) -> DepthStream:
        """A fresh streaming session: replaying CUDA graphs when asked for (and on CUDA), else eager."""
        if self.cuda_graphs:
            return GraphedDepthStream(self.model)
        return self.model.stream()


def load_model(
    checkpoint: str | None,
    model: str | None,
    device: torch.device,
    precision: str = "auto",
    teacher_resolution: int | None = None,
    compile: bool = False,
    cuda_graphs: bool | None = None,
) -> LoadedModel:
    """The checkpoint given, else a downloaded official model by name, else the embedded default model.

    ``precision``: see :func:`resolve_precision`; float32 on CUDA runs with TF32. ``cuda_graphs``: streams
    replay a captured CUDA graph (None: on CUDA, yes; with ``compile`` the compiled network is captured).
    """
    if cuda_graphs and device.type != "cuda":
        raise FlashDepthError(f"--cuda-graphs needs a CUDA device; this render runs on {device.type}")
    graphs = device.type == "cuda" if cuda_graphs is None else cuda_graphs
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
    resolved = resolve_precision(precision, device)
    if resolved == "fp32":
        enable_tf32(device)
    net = load_checkpoint(path, device=device, dtype=PRECISIONS[resolved], teacher_resolution=teacher_resolution)
    return LoadedModel(net.optimize_for_inference(compile=compile), path, file_hash(path), resolved, graphs)
