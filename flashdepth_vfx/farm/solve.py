"""The shot solve of a farm job: planned per shot exactly as ``render --camera ...`` plans it locally
(:func:`flashdepth_vfx.solve.after_render.plan_solve`), so that a farm job and a local render write the same files.

The shot's render tasks stream raw disparity (``NAME_raw.####.exr`` beside the requested output, ``--mode
disparity``); a last step per shot, run once all of them finished, runs ``flashdepth-vfx solve RAW -o OUTPUT`` over
the whole shot with ``--resume`` (every frame is written atomically, and a rerun skips the frames already solved
from the same raw frames and inputs). Its command line is made from the solve's settings through the ``solve``
command's own options (:func:`solve_args`), so a setting the command cannot take fails here, not on the farm.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from ..errors import OptionError, OutputError
from ..plates import frame_path
from ..plates.output_guard import OutputKind, check_outputs
from ..solve.after_render import plan_solve, raw_pattern
from ..solve.command import SHARED_NAMES, solve
from ..solve.run import SolveSettings, solve_outputs
from .shots import SHOT_PLACEHOLDER, Shot

INPUT_FILES = {"camera": ("Camera", "Matchmove camera"), "points": ("Points", "Tracked points"),
               "anchors": ("Anchors", "Anchors CSV")}
"""Solve options naming input files, as job parameters (name, label): PATH parameters where they can be, so that
OpenJD path mapping reaches them as it reaches the checkpoint. ``--points`` may repeat: Points, Points2, ..."""
FROM_RENDER = {"channel": "channel", "out_channel": "channel", "depth_scale": "depth_scale",
               "colorspace": "colorspace", "ocio_config": "ocio_config", "display": "display", "view": "view"}
"""Solve settings that ``plan_solve`` takes from a render option: the solve step refers to that option's job
parameter when it has one, so a value changed at submission reaches the render and the solve alike."""


@dataclass(frozen=True)
class InputFile:
    """A solve input file as a job parameter."""

    option: str  # the SolveSettings field: camera, points or anchors
    param: str
    path: Path
    label: str


def input_files(settings: SolveSettings) -> list[InputFile]:
    """The camera, points and anchors files a solve reads, each as its job parameter."""
    files: list[InputFile] = []
    for key, (param, label) in INPUT_FILES.items():
        value = getattr(settings, key)
        for index, path in enumerate(value if isinstance(value, tuple) else (value,) if value else ()):
            number = f"{index + 1}" if index else ""
            files.append(InputFile(key, param + number, Path(path), f"{label} {number}".strip()))
    return files


def _absolute(path: str) -> str:
    return str(Path(path).expanduser().absolute())


def plan_solves(shots: Sequence[Shot], render_options: Mapping[str, Any],
                solve_options: Mapping[str, Any]) -> dict[str, SolveSettings]:
    """Each shot's solve settings (absolute paths; the raw disparity in ``settings.disparity``, the requested output
    in ``settings.output``), planned as a local ``render --camera ...`` of the shot's frames plans it. The camera
    (over every shot's frames), the points and anchors are read now; outputs that are inputs, or that an existing
    file not written by flashdepth-vfx holds (without ``overwrite``), are refused now."""
    unknown = sorted(set(solve_options) - set(SHARED_NAMES))
    if unknown:
        raise OptionError(f"Farm jobs do not know the solve option(s) {', '.join(unknown)}")
    base = {key: value for key, value in solve_options.items() if value is not None}
    for key in ("camera", "anchors"):
        if base.get(key):
            base[key] = _absolute(base[key])
    base["points"] = tuple(_absolute(p) for p in base.get("points", ()))
    cuts = set(base.pop("cuts", ()) or ())
    outside = sorted(c for c in cuts if not any(s.first <= c <= s.last for s in shots))
    if outside:
        raise OptionError(f"--cut {outside[0]} is in none of the shots "
                              f"({', '.join(f'{s.name} {s.first}-{s.last}' for s in shots)})")
    report = base.pop("report", None)
    if report and len(shots) > 1 and SHOT_PLACEHOLDER not in report:
        raise OutputError(f"Several shots would all write the solve report {report}; put {SHOT_PLACEHOLDER} in "
                              f"--report, e.g. solve/{SHOT_PLACEHOLDER}.json")
    render = {key: value for key, value in render_options.items() if value is not None and value is not False}
    plans: dict[str, SolveSettings] = {}
    for shot in shots:
        options = {**base, "cuts": tuple(sorted(c for c in cuts if shot.first <= c <= shot.last))}
        if report:
            options["report"] = str(Path(report.replace(SHOT_PLACEHOLDER, shot.name)).expanduser().absolute())
        changed, settings = plan_solve(shot.plate, {**render, "output": shot.output,
                                                    "frames": f"{shot.first}-{shot.last}"}, options)
        assert settings.output == shot.output and changed["output"] == raw_pattern(shot.output)
        plans[shot.name] = dataclasses.replace(settings, resume=True)
    _guard(shots, plans, render_options)
    return plans


def _guard(shots: Sequence[Shot], plans: Mapping[str, SolveSettings], render_options: Mapping[str, Any]) -> None:
    """The output guard over every shot's raw and solved frames and reports at once: no output is an input or
    another output, and (the solve replaces files without asking) no existing frame or report is a file
    flashdepth-vfx did not write, unless ``overwrite`` (the solve step would refuse it only after the render)."""
    inputs: list[str | None] = [render_options.get("checkpoint"), render_options.get("ocio_config")]
    outputs: list[tuple[Path, OutputKind]] = []
    for shot in shots:
        settings = plans[shot.name]
        assert settings.output is not None
        numbers = range(shot.first, shot.last + 1)
        inputs += [str(frame_path(shot.plate, f)) for f in numbers]
        inputs += [settings.camera, settings.anchors, *settings.points]
        outputs += [(frame_path(settings.disparity, f), "depth") for f in numbers]
        outputs += solve_outputs(settings.output, numbers, settings.report)
    check_outputs(outputs, inputs, overwrite=True)
    check_outputs(outputs, [], overwrite=bool(render_options.get("overwrite")))


def solve_args(settings: SolveSettings, refs: Mapping[str, Any]) -> list[str]:
    """``flashdepth-vfx solve`` arguments for ``settings``, through the ``solve`` command's own options: a setting
    at its option's default is left out; ``refs`` replaces setting values by job parameter references (the
    disparity, output, plates and input files; a tuple for ``points``)."""
    values = dataclasses.asdict(settings)
    values["no_detect_cuts"] = not values.pop("detect_cuts")
    values.update(refs)
    args = [str(values.pop("disparity")), "-o", str(values.pop("output"))]
    for param in solve.params:
        if not isinstance(param, click.Option) or param.name not in values:
            continue
        assert param.name is not None
        value = values.pop(param.name)
        flag = max(param.opts, key=len)
        if param.name not in refs and (value is None or value is False or value == () or value == param.default):
            continue
        if param.is_flag:
            args.append(flag)
        elif param.multiple:
            for item in value:
                args += [flag, str(item)]
        else:
            args += [flag, str(value)]
    defaults = SolveSettings(disparity="")
    left = sorted(name for name, value in values.items() if value != getattr(defaults, name, None))
    if left:
        raise OptionError(f"the solve command has no option for {', '.join(left)}: the farm cannot carry it")
    return args
