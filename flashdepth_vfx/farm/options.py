"""The ``render`` options a farm job carries to its tasks, and how (no heavy imports: the click command uses them)."""
from __future__ import annotations

from dataclasses import dataclass

from ..engine.settings import ATTENTION_CHOICES

DEFAULT_ENGINE = "flashdepth-vfx"
"""How tasks find the engine unless the EngineCommand job parameter says otherwise: on PATH."""
DEFAULT_WARMUP = 8
"""Frames each chunk runs cold first: seams within 0.01 % of the output range (benchmarks/bench_seams.py)."""


@dataclass(frozen=True)
class RenderOption:
    """How one ``render`` option reaches the tasks: as a job parameter (changeable at submission) or literally."""

    flag: str
    param: str | None = None  # job parameter name; None: passed as it is (flags, and what the plate scan used)
    kind: str = "STRING"  # the job parameter's type: STRING, INT, FLOAT, PATH (an input file)
    choices: tuple[str, ...] = ()
    label: str = ""


RENDER_OPTIONS: dict[str, RenderOption] = {
    "checkpoint": RenderOption("--checkpoint", "Checkpoint", "PATH", label="Checkpoint file"),
    "model": RenderOption("--model", "Model", label="Official model"),
    "teacher_resolution": RenderOption("--teacher-resolution", "TeacherResolution", "INT", label="Teacher resolution"),
    "device": RenderOption("--device", "Device", choices=("auto", "cpu", "cuda", "mps"), label="Device"),
    "precision": RenderOption("--precision", "Precision", choices=("auto", "fp32", "fp16", "bf16"), label="Precision"),
    "mode": RenderOption("--mode", "Mode", choices=("depth", "disparity", "normalized"), label="Output mode"),
    "depth_scale": RenderOption("--depth-scale", "DepthScale", "FLOAT", label="Depth scale"),
    "max_size": RenderOption("--max-size", "MaxSize", "INT", label="Model input long side"),
    "colorspace": RenderOption("--colorspace", "Colorspace", label="Plate colour space"),
    "ocio_config": RenderOption("--ocio-config", "OcioConfig", "PATH", label="OCIO config"),
    "display": RenderOption("--display", "Display", label="OCIO display"),
    "view": RenderOption("--view", "View", label="OCIO view"),
    "channel": RenderOption("--channel", "Channel", label="Output channel"),
    "missing": RenderOption("--missing", choices=("error", "hold", "black")),
    "part": RenderOption("--part"),
    "layer": RenderOption("--layer"),
    "half": RenderOption("--half"),
    "passthrough": RenderOption("--passthrough"),
    "reset_on_cut": RenderOption("--reset-on-cut"),
    "compile": RenderOption("--compile"),
    "cuda_graphs": RenderOption("--cuda-graphs"),
    "attention": RenderOption("--attention", choices=ATTENTION_CHOICES),
    "threads": RenderOption("--threads", "Threads", "INT", label="CPU threads per task"),
    "io_workers": RenderOption("--io-workers", "IoWorkers", "INT", label="Plate decode / depth write threads per task"),
    "compression": RenderOption("--compression", "Compression", choices=("auto", "none", "zip", "zips", "piz", "rle"),
                                label="EXR compression"),
    "exact_colour": RenderOption("--exact-colour"),
    "overwrite": RenderOption("--overwrite"),
}
"""The ``render`` options a farm job carries, by RenderSettings field name (``output`` is handled per shot)."""
