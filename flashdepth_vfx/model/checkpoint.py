"""Checkpoints: load official .pth / .safetensors files, detect the variant, validate, convert, download."""
from __future__ import annotations

import hashlib
import os
import pickle
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

from ..bridge.engine import xdg_home
from ..errors import CheckpointError
from .config import get_config, list_models
from .flashdepth import FlashDepth

HF_REPO = "Eyeline-Labs/FlashDepth"


@dataclass(frozen=True)
class Licence:
    """The licence of a model's weights and where it is stated (sources: docs/checkpoints.md#licences)."""

    name: str  # SPDX identifier
    commercial: bool  # whether the licence allows commercial use
    source: str

    def __str__(self) -> str:
        return f"{self.name}{'' if self.commercial else ' (non-commercial use only)'}: {self.source}"


_DA_V2 = "source: github.com/DepthAnything/Depth-Anything-V2 README"
EMBEDDED_LICENCE = Licence("Apache-2.0", True, "this project's own, trained from scratch; source: LICENSE, pyproject.toml")


@dataclass(frozen=True)
class KnownCheckpoint:
    """An official released checkpoint."""

    model: str
    filename: str  # path inside the Hugging Face repository
    description: str
    licence: Licence


KNOWN_CHECKPOINTS: dict[str, KnownCheckpoint] = {
    c.model: c
    for c in (
        KnownCheckpoint("flashdepth", "flashdepth/iter_43002.pth", "Full: ViT-S at full resolution + ViT-L teacher; fastest at 2K",
                        Licence("CC-BY-NC-4.0", False, f"its teacher FlashDepth-L is from Depth-Anything-V2-Large; {_DA_V2}")),
        KnownCheckpoint("flashdepth-l", "flashdepth-l/iter_10001.pth", "ViT-L; most accurate, best below 518 px short side",
                        Licence("CC-BY-NC-4.0", False, f"from Depth-Anything-V2-Large; {_DA_V2}")),
        KnownCheckpoint("flashdepth-s", "flashdepth-s/iter_14001.pth", "ViT-S; lightest",
                        Licence("Apache-2.0", True, f"from Depth-Anything-V2-Small; {_DA_V2}")),
    )
}


def cache_dir() -> Path:
    """Where downloaded checkpoints live: $FLASHDEPTH_VFX_CACHE, else flashdepth-vfx in the XDG cache folder
    ($XDG_CACHE_HOME when absolute, else ~/.cache)."""
    env = os.environ.get("FLASHDEPTH_VFX_CACHE")
    if env:
        return Path(env)
    return xdg_home("XDG_CACHE_HOME", ".cache") / "flashdepth-vfx"


def file_hash(path: str | Path, length: int = 12) -> str:
    """Short SHA-256 of a file, recorded in outputs and snapshot keys."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:length]


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a .pth ({'model': sd} or bare, read with weights_only) or .safetensors file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            data: object = load_file(str(path))
        else:
            data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip and safetensors errors all mean the same to an artist
        raise _unreadable(path, exc) from None
    if isinstance(data, Mapping) and isinstance(data.get("model"), Mapping):
        data = data["model"]
    if not isinstance(data, Mapping) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise CheckpointError(f"{path}: not a model checkpoint (expected a state dict or {{'model': state_dict}})")
    return dict(data)


def _unreadable(path: Path, exc: Exception) -> CheckpointError:
    """One line for a checkpoint that failed to load; never torch's hint to load it with ``weights_only=False``."""
    text = str(exc)
    blocked = re.search(r"GLOBAL ([\w.]+)", text)
    if isinstance(exc, pickle.UnpicklingError) and blocked:
        return CheckpointError(
            f"{path}: not a plain checkpoint: it holds Python objects ({blocked.group(1)}), which are never loaded "
            "because loading them can run code; if you trust its source, save just its tensors "
            "(torch.save(model.state_dict(), 'plain.pth')) where it was made, then `flashdepth-vfx weights convert` it"
        )
    lines = [line.strip() for line in text.splitlines() if line.strip() and "weights_only" not in line
             and not line.startswith(("Please file an issue", "Check the documentation"))]
    reason = lines[0] if lines else type(exc).__name__
    return CheckpointError(f"{path}: cannot read checkpoint (damaged or not a checkpoint file): {reason[:200]}")


@lru_cache(maxsize=None)
def _expected_shapes(name: str) -> dict[str, tuple[int, ...]]:
    with torch.device("meta"):
        model = FlashDepth(get_config(name))
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _summarise(keys: list[str], limit: int = 3) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" (+{len(keys) - limit} more)" if len(keys) > limit else "")


def check_state_dict(sd: Mapping[str, torch.Tensor], name: str) -> list[str]:
    """Problems of a state dict against a configuration: missing, unexpected and wrongly-shaped keys."""
    expected = _expected_shapes(name)
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    shapes = [
        f"{k} {list(sd[k].shape)} (expected {list(s)})" for k, s in expected.items() if k in sd and tuple(sd[k].shape) != s
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys: {_summarise(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys: {_summarise(unexpected)}")
    if shapes:
        problems.append(f"{len(shapes)} wrongly-shaped keys: {_summarise(shapes)}")
    return problems


def check_finite(sd: Mapping[str, torch.Tensor], source: str = "checkpoint") -> None:
    """Refuse weights holding NaN or Inf (they would render all-NaN depth), naming the tensors."""
    bad = [k for k, v in sd.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise CheckpointError(
            f"{source}: {len(bad)} tensors hold NaN or Inf values ({_summarise(bad)}); the file is damaged or came from "
            "a diverged training run: download or export it again"
        )


def detect_model(sd: Mapping[str, torch.Tensor], source: str = "checkpoint") -> str:
    """The registered configuration whose keys and shapes the state dict matches exactly."""
    report = {name: check_state_dict(sd, name) for name in list_models()}
    for name, problems in report.items():
        if not problems:
            return name
    closest = min(report, key=lambda n: sum(int(p.split()[0]) for p in report[n]))
    raise CheckpointError(
        f"{source}: does not match any FlashDepth model (closest: {closest}; {'; '.join(report[closest])})"
    )


def load_checkpoint(
    path: str | Path,
    *,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    teacher_resolution: int | None = None,
) -> FlashDepth:
    """Build the right FlashDepth variant for a checkpoint and load it (strict, official key names), in eval mode."""
    sd = read_state_dict(path)
    name = detect_model(sd, str(path))
    check_finite(sd, str(path))
    overrides = {} if teacher_resolution is None else {"teacher_resolution": teacher_resolution}
    model = FlashDepth(get_config(name, **overrides))
    model.load_state_dict(sd, strict=True)
    return model.to(device=device, dtype=dtype).eval()


def convert_to_safetensors(src: str | Path, dst: str | Path) -> str:
    """Rewrite a checkpoint as .safetensors (same keys, no pickle); returns the detected model name.

    ``dst`` must end in ``.safetensors``; it is written beside itself and renamed into place, so a failure never
    leaves a half file. Its metadata marks it as the project's (``flashdepth:kind`` = ``checkpoint``).
    """
    from safetensors.torch import save_file

    from ..plates.output_guard import KIND_KEY

    target = Path(dst)
    if target.suffix != ".safetensors":
        raise CheckpointError(f"{target}: name the converted checkpoint *.safetensors (it is read by its extension)")
    sd = read_state_dict(src)
    name = detect_model(sd, str(src))
    check_finite(sd, str(src))
    temp = target.with_name(f".{target.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        save_file({k: v.contiguous() for k, v in sd.items()}, str(temp), metadata={"model": name, KIND_KEY: "checkpoint"})
        os.replace(temp, target)
    except Exception as exc:  # OSError or SafetensorError (a full disk): one line either way
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).split("\n")[0][:200]
        raise CheckpointError(f"cannot write {target}: {reason}; check the folder is writable and has space") from None
    finally:
        temp.unlink(missing_ok=True)
    return name


def download_checkpoint(model: str, *, revision: str | None = None, local_dir: str | Path | None = None) -> Path:
    """Fetch an official checkpoint from the Hugging Face hub into the user cache (needs the `hub` extra)."""
    if model not in KNOWN_CHECKPOINTS:
        raise CheckpointError(f"no released checkpoint named {model!r}; known: {', '.join(KNOWN_CHECKPOINTS)}")
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise CheckpointError("downloading needs the hub extra: pip install 'flashdepth-vfx[hub]'") from None
    target = Path(local_dir) if local_dir is not None else cache_dir()
    try:
        path = hf_hub_download(HF_REPO, KNOWN_CHECKPOINTS[model].filename, revision=revision, local_dir=str(target))
    except Exception as exc:
        raise CheckpointError(f"download of {model} from {HF_REPO} failed: {str(exc).splitlines()[0][:200]}") from None
    return Path(path)


def cached_checkpoint(model: str) -> Path | None:
    """The checkpoint of a released model in the user cache, if it has been downloaded."""
    known = KNOWN_CHECKPOINTS.get(model)
    if known is None:
        return None
    path = cache_dir() / known.filename
    return path if path.is_file() else None
