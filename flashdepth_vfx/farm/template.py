"""Open Job Description job templates that render shots with ``flashdepth-vfx render``, chunked without cold seams.

One step per shot. A shot longer than the chunk size is split into contiguous chunks in one of two ways:

- **warm-up** (default): the step's ``Frame`` task parameter is a ``CHUNK[INT]`` (TASK_CHUNKING extension,
  CONTIGUOUS chunks), so chunks run in parallel anywhere; each starts cold ``Warmup`` frames before its first frame
  (``render --warmup``): the seam is close to, not exactly, the single-pass result.
- **chained** (``chain=True``): one step per chunk, each depending on the previous one. Step dependencies are the
  only ordering Open Job Description guarantees (the tasks of one step may run in any order, at the same time, on
  different hosts). Each chunk continues from the state snapshot the previous one left beside the output: exactly
  the single-pass result.

Each task runs ``sh -c 'exec {{Param.EngineCommand}} "$@"' flashdepth-vfx render <plate> --frames <chunk> ...``:
the shell only splits EngineCommand into words (``python -m flashdepth_vfx``); every other argument reaches the
engine unchanged. The plates and outputs are addressed below two folder parameters, ``PlateDir`` and ``OutputDir``
(the common folders of all shots' plates and outputs).

With the shot solve's options, the render steps write raw disparity and one more step per shot, depending on all of
its render steps, runs ``flashdepth-vfx solve`` over the whole shot (:mod:`flashdepth_vfx.farm.solve`).
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]  # (types-PyYAML not installed)
from openjd.model import DecodeValidationError, create_job, decode_job_template, preprocess_job_parameters

from .. import __version__
from ..errors import FlashDepthError
from ..eval.report import write_text
from ..plates import frame_path
from ..plates.output_guard import KIND_KEY, OutputKind, check_outputs, replace_refusal, source_marker
from ..solve.command import wants_solve
from ..solve.run import SolveSettings
from .options import DEFAULT_ENGINE, DEFAULT_WARMUP, RENDER_OPTIONS
from .shots import Shot, find_shots
from .solve import FROM_RENDER, input_files, plan_solves, solve_args

SPECIFICATION = "jobtemplate-2023-09"
EXTENSION = "TASK_CHUNKING"
FRAME_PARAM = "Frame"
LAUNCHER = 'exec {{Param.EngineCommand}} "$@"'
PARAMETER_VALUES = "parameter_values.json"
"""Beside the template: the values of its PATH parameters that have no default, in AWS Deadline Cloud's job bundle
format (``deadline bundle submit`` reads it; ``openjd run`` takes them as ``-p NAME=VALUE``)."""
VALUES_KIND: OutputKind = "farm-values"


class FarmError(FlashDepthError):
    """A farm job cannot be built (conflicting options, an invalid template)."""


@dataclass(frozen=True)
class FarmJob:
    """A job template and the values of its PATH parameters outside the template's folder (absolute paths by
    parameter name), which :func:`write_job` puts in the bundle's ``parameter_values.json``."""

    template: dict[str, Any]
    values: dict[str, str]


@dataclass(frozen=True)
class _Layout:
    """Where things are: the folders the job parameters point at, the template's own folder, and the values of the
    PATH parameters that lie outside it."""

    plate_dir: Path
    output_dir: Path
    template_dir: Path
    values: dict[str, str] = dataclasses.field(default_factory=dict)  # PATH parameters without a default

    def output_ref(self, path: str) -> str:
        """A file or pattern below ``OutputDir`` as the tasks see it (any other path as it is)."""
        if Path(path).is_relative_to(self.output_dir):
            return f"{{{{Param.OutputDir}}}}/{Path(path).relative_to(self.output_dir).as_posix()}"
        return path

    def path_parameter(self, name: str, path: Path, object_type: str, data_flow: str, label: str,
                       group: str) -> dict[str, Any]:
        """A PATH parameter for ``path``, so that Deadline Cloud's job attachments and OpenJD path mapping carry it
        to workers that see it elsewhere (another mount, another OS). Its default is relative to the template's
        folder when ``path`` lies there (a relocatable bundle); OpenJD accepts no other default, so any other path
        has none and its absolute value goes into ``values`` (the bundle's parameter values file)."""
        control = "CHOOSE_DIRECTORY" if object_type == "DIRECTORY" else "CHOOSE_INPUT_FILE"
        param: dict[str, Any] = {"name": name, "type": "PATH", "objectType": object_type, "dataFlow": data_flow}
        if path.is_relative_to(self.template_dir):
            param["default"] = path.relative_to(self.template_dir).as_posix()
        else:
            self.values[name] = str(path)
        return {**param, "userInterface": {"control": control, "label": label, "groupLabel": group}}


def chunk_ranges(first: int, last: int, size: int) -> list[tuple[int, int]]:
    """``(1001, 1025, 10)`` -> ``[(1001, 1010), (1011, 1020), (1021, 1025)]``."""
    return [(start, min(start + size - 1, last)) for start in range(first, last + 1, size)]


def _job_parameters(options: Mapping[str, Any], chunked: bool, warmup: int | None, engine: str,
                    layout: _Layout, solve: SolveSettings | None) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": "EngineCommand", "type": "STRING", "minLength": 1, "default": engine,
         "description": "The engine as a shell command prefix: flashdepth-vfx, python -m flashdepth_vfx, ...",
         "userInterface": {"label": "Engine command", "groupLabel": "Engine"}},
        {**layout.path_parameter("PlateDir", layout.plate_dir, "DIRECTORY", "IN", "Plates folder", "Files"),
         "description": "Folder holding every shot's plates (the paths below it are fixed by the template)."},
        {**layout.path_parameter("OutputDir", layout.output_dir, "DIRECTORY", "OUT", "Output folder", "Files"),
         "description": "Folder receiving every shot's depth files and state snapshots (.flashdepth/)."},
    ]
    for key, value in options.items():
        option = RENDER_OPTIONS[key]
        if option.param is None or value is None:
            continue
        if option.kind == "PATH" and "://" not in str(value):  # ocio://... names a built-in config, not a file
            path = Path(value).expanduser().absolute()
            param = layout.path_parameter(option.param, path, "FILE", "IN", option.label, "Render")
        else:
            param = {"name": option.param, "type": "STRING" if option.kind == "PATH" else option.kind, "default": value,
                     "userInterface": {"label": option.label, "groupLabel": "Render"}}
        if option.choices:  # normalized rescales each task's frames on their own: one task per shot only
            param["allowedValues"] = [c for c in option.choices if not (chunked and c == "normalized")
                                      and not (key == "precision" and c == "auto")]  # pinned: see build_template
        params.append({**param, "description": f"render {option.flag}"})
    for file in input_files(solve) if solve is not None else ():
        params.append({**layout.path_parameter(file.param, file.path, "FILE", "IN", file.label, "Solve"),
                       "description": f"solve --{file.option}"})
    if warmup is not None:
        params.append({"name": "Warmup", "type": "INT", "minValue": 0, "default": warmup,
                       "description": "Frames each chunk runs cold before its first frame (not written).",
                       "userInterface": {"label": "Warm-up frames", "groupLabel": "Render"}})
    first = ("name", "type", "description")  # in this order in the YAML, for people reading it
    return [{**{k: p[k] for k in first}, **{k: v for k, v in p.items() if k not in first}} for p in params]


def _option_args(options: Mapping[str, Any]) -> list[str]:
    """``render`` arguments for the options: job parameter references, flags, or literal values."""
    args: list[str] = []
    for key, value in options.items():
        option = RENDER_OPTIONS[key]
        if value is None or value is False:
            continue
        if option.param is not None:
            args += [option.flag, f"{{{{Param.{option.param}}}}}"]
        elif value is True:
            args.append(option.flag)
        else:
            args += [option.flag, str(value)]
    return args


def _plate_ref(shot: Shot, layout: _Layout) -> str:
    return f"{{{{Param.PlateDir}}}}/{Path(shot.plate).relative_to(layout.plate_dir).as_posix()}"


def _engine_step(name: str, description: str, engine_args: list[str], gpu: bool) -> dict[str, Any]:
    """A step running the engine with ``engine_args`` (a command and its arguments) on a Linux or macOS worker."""
    requirements: dict[str, Any] = {"attributes": [{"name": "attr.worker.os.family", "anyOf": ["linux", "macos"]}]}
    if gpu:
        requirements["amounts"] = [{"name": "amount.worker.gpu", "min": 1}]
    return {
        "name": name,
        "description": description,
        "hostRequirements": requirements,
        "script": {"actions": {"onRun": {
            # DEFAULT_ENGINE is the shell's $0: how its own error messages name the command.
            "command": "sh", "args": ["-c", LAUNCHER, DEFAULT_ENGINE, *engine_args],
            # SIGTERM first: the engine finishes the frame in hand and keeps every finished frame.
            "cancelation": {"mode": "NOTIFY_THEN_TERMINATE", "notifyPeriodInSeconds": 30},
        }}},
    }


def _step(name: str, description: str, shot: Shot, frames: str, render_args: list[str], layout: _Layout,
          gpu: bool) -> dict[str, Any]:
    return _engine_step(name, description, ["render", _plate_ref(shot, layout), "--frames", frames,
                                            "--output", layout.output_ref(shot.output), "--progress", "json",
                                            *render_args], gpu)


def _solve_step(shot: Shot, settings: SolveSettings, after: list[dict[str, Any]], options: Mapping[str, Any],
                layout: _Layout) -> dict[str, Any]:
    """The shot's solve over its whole raw sequence, once every step in ``after`` (its render) has finished."""
    assert settings.output is not None
    refs: dict[str, Any] = {"disparity": layout.output_ref(settings.disparity),
                            "output": layout.output_ref(settings.output), "plates": _plate_ref(shot, layout)}
    for file in input_files(settings):
        ref = f"{{{{Param.{file.param}}}}}"
        refs[file.option] = (*refs.get(file.option, ()), ref) if file.option == "points" else ref
    if settings.report is not None:
        refs["report"] = layout.output_ref(settings.report)
    for field, key in FROM_RENDER.items():
        param = RENDER_OPTIONS[key].param
        if options.get(key) is not None and param is not None:
            refs[field] = f"{{{{Param.{param}}}}}"
    step = _engine_step(f"{shot.name} solve", f"frames {shot.first}-{shot.last} solved as one, after the render "
                        f"(raw disparity {Path(settings.disparity).name})", ["solve", *solve_args(settings, refs)],
                        gpu=False)
    return {"dependencies": [{"dependsOn": s["name"]} for s in after], **step}


def _shot_steps(shot: Shot, chunk_size: int | None, chain: bool, option_args: list[str], layout: _Layout,
                gpu: bool) -> list[dict[str, Any]]:
    whole = f"{shot.first}-{shot.last}"
    if chunk_size is None or shot.frame_count <= chunk_size:
        return [_step(shot.name, f"frames {whole} in one task", shot, whole, option_args, layout, gpu)]
    if chain:
        steps: list[dict[str, Any]] = []
        for first, last in chunk_ranges(shot.first, shot.last, chunk_size):
            chunk = f"{first}-{last}"
            step = _step(f"{shot.name} {chunk}", f"frames {chunk} of {whole}, from the state the previous chunk left",
                         shot, chunk, option_args, layout, gpu)
            if steps:
                step = {"dependencies": [{"dependsOn": steps[-1]["name"]}], **step}
            steps.append(step)
        return steps
    step = _step(shot.name, f"frames {whole} in chunks of {chunk_size}, each started cold Warmup frames early", shot,
                 f"{{{{Task.Param.{FRAME_PARAM}}}}}", [*option_args, "--warmup", "{{Param.Warmup}}"], layout, gpu)
    step["parameterSpace"] = {"taskParameterDefinitions": [{
        "name": FRAME_PARAM, "type": "CHUNK[INT]", "range": whole,
        "chunks": {"defaultTaskCount": chunk_size, "rangeConstraint": "CONTIGUOUS"},
    }]}
    return [step]


def _within(shots: list[Shot], frames: str | None) -> list[Shot]:
    """The shots cut to ``frames`` (``FIRST-LAST``, as a host node's frame range); every shot must overlap it."""
    if frames is None:
        return shots
    match = re.fullmatch(r"\s*(-?\d+)\s*-\s*(-?\d+)\s*", frames) or re.fullmatch(r"\s*(-?\d+)\s*()", frames)
    if match is None:
        raise FarmError(f"--frames {frames!r}: farm jobs take one contiguous range, like 1001-1100")
    first = int(match.group(1))
    last = int(match.group(2)) if match.group(2) else first
    if last < first:
        raise FarmError(f"--frames {frames} runs backwards: give the first frame first, --frames {last}-{first}")
    cut = []
    for shot in shots:
        lo, hi = max(shot.first, first), min(shot.last, last)
        if lo > hi:
            raise FarmError(f"--frames {frames}: shot {shot.name} has frames {shot.first}-{shot.last}, none of them asked")
        cut.append(dataclasses.replace(shot, first=lo, last=hi))
    return cut


def build_job(shots: list[str], chunk_size: int | None, warmup: int | None, chain: bool,
              render_options: dict[str, Any], *, engine_command: str = DEFAULT_ENGINE, name: str | None = None,
              template_dir: str | os.PathLike[str] | None = None, frames: str | None = None,
              solve_options: Mapping[str, Any] | None = None,
              job_file: str | os.PathLike[str] | None = None) -> FarmJob:
    """The validated job rendering every shot: its template (as a dict; one step per shot, per chunk when chained)
    and the values of its PATH parameters outside ``template_dir``.

    ``shots``: plates as ``render`` takes them (wildcards allowed in folders), scanned now for their frames.
    ``chunk_size`` None: one task per shot, as is any shot no longer than it. ``warmup``: frames each chunk runs
    cold first (default DEFAULT_WARMUP); not with ``chain``. ``render_options``: ``render`` options by
    RenderSettings field name (RENDER_OPTIONS, and ``output``, which may hold ``{shot}``); the valued ones become job
    parameters defaulting to these values. ``template_dir``: the folder the template will be written to (default:
    the current one); PATH parameter defaults are relative to it, and paths elsewhere are PATH parameters whose
    values are in ``FarmJob.values``. ``frames``: ``FIRST-LAST`` to render of every
    shot (default: all its frames; the temporal state still starts at the shot's start). ``solve_options``: the
    shot-solve options ``render`` takes (``solve.command.SHARED_NAMES``); when they ask for a solve
    (``--camera/--points/--anchors/--stabilize``), the render steps write raw disparity and a last step per shot
    solves it (:mod:`flashdepth_vfx.farm.solve`), as a local ``render --camera ...`` does. ``job_file``: where
    the template will be written, checked now by the output guard: never one of the job's input files, and a file
    flashdepth-vfx did not write as a template only with the ``overwrite`` render option.
    """
    options = dict(render_options)
    output = options.pop("output", None)
    unknown = sorted(set(options) - set(RENDER_OPTIONS))
    if unknown:
        raise FarmError(f"Farm jobs do not carry the render option(s) {', '.join(unknown)}; "
                        f"known: output, {', '.join(RENDER_OPTIONS)}")
    if chunk_size is not None and chunk_size < 1:
        raise FarmError(f"--chunk-size {chunk_size}: a chunk needs at least one frame")
    if chunk_size is None and (chain or warmup is not None):
        raise FarmError("--chain and --warmup are about chunks: give --chunk-size too")
    if chain and warmup is not None:
        raise FarmError("--chain hands the exact state from chunk to chunk, --warmup is for parallel chunks: pick one")
    if warmup is not None and warmup < 0:
        raise FarmError(f"--warmup {warmup}: use 0 or more frames")

    scanned = find_shots(shots, output, options.get("missing") or "error")
    found = _within(scanned, frames)
    plans = plan_solves(found, options, solve_options) if solve_options and wants_solve(dict(solve_options)) else None
    if job_file is not None:
        inputs = [frame_path(s.plate, f) for s in scanned for f in range(s.first, s.last + 1)]
        inputs += [options.get("checkpoint"), options.get("ocio_config")]
        inputs += [file.path for plan in (plans or {}).values() for file in input_files(plan)]
        check_outputs([(Path(job_file).expanduser(), "farm-template")], inputs, bool(options.get("overwrite")))
    chunked = [s for s in found if chunk_size is not None and s.frame_count > chunk_size]
    if chunked and options.get("mode") == "normalized":
        raise FarmError(f"--mode normalized scales each task's frames on their own, and {chunked[0].name} is split "
                        "into chunks: use depth or disparity, or drop --chunk-size")
    if not chunked or chain:
        warmup = None
    elif warmup is None:
        warmup = DEFAULT_WARMUP
    try:
        layout = _Layout(Path(os.path.commonpath([Path(s.plate).parent for s in found])),
                         Path(os.path.commonpath([Path(s.output).parent for s in found])),
                         Path(template_dir or Path.cwd()).absolute())
    except ValueError:  # Windows: no common folder across drives
        raise FarmError("the shots' plates (or outputs) are on different drives: write one job per drive") from None
    gpu = options.get("device") == "cuda"
    options["precision"] = _pinned_precision(options.get("precision"), options.get("device"))
    if plans is not None:  # the render steps stream raw disparity, whatever the solve then writes
        options["mode"] = None
    option_args = _option_args(options) + (["--mode", "disparity"] if plans is not None else [])

    template: dict[str, Any] = {"specificationVersion": SPECIFICATION}
    if chunked and not chain:
        template["extensions"] = [EXTENSION]
    template["name"] = name or (f"FlashDepth {found[0].name}" if len(found) == 1 else f"FlashDepth {len(found)} shots")
    how = "one task per shot" if not chunked else f"chunks of {chunk_size} frames, " + (
        "chained" if chain else f"{warmup} warm-up frames")
    how += ", then the shot solve" if plans is not None else ""
    template["description"] = f"Depth for {', '.join(s.name for s in found)} by flashdepth-vfx {__version__}: {how}"
    template["parameterDefinitions"] = _job_parameters(options, bool(chunked), warmup, engine_command, layout,
                                                       next(iter(plans.values())) if plans else None)
    template["steps"] = []
    for shot in found:
        plan = plans[shot.name] if plans is not None else None
        render = dataclasses.replace(shot, output=plan.disparity) if plan is not None else shot
        steps = _shot_steps(render, chunk_size, chain, option_args, layout, gpu)
        template["steps"] += steps + ([_solve_step(shot, plan, steps, options, layout)] if plan is not None else [])
    validate_template(template, layout.template_dir, layout.values)
    return FarmJob(template, layout.values)


def _pinned_precision(precision: str | None, device: str | None) -> str:
    """``--precision`` resolved now (``auto``: by this machine, for the job's device), so that every task of the
    job runs in the same one: a shot's chunks in bf16 and in fp32 would step by about 1 % at the seams."""
    from ..engine.loading import job_precision

    try:
        return job_precision(precision or "auto", device or "auto")
    except FlashDepthError as exc:
        raise FarmError(f"{exc}; or give --precision fp32 or bf16 for the job") from None


def validate_template(template: dict[str, Any], template_dir: str | os.PathLike[str] | None = None,
                      values: Mapping[str, str] | None = None) -> None:
    """Check the template with openjd-model (the library behind ``openjd check`` and ``openjd run``) and create a
    job from its defaults and ``values``, as ``openjd run`` does from ``template_dir``; raises FarmError with the
    first problem."""
    folder = Path(template_dir or Path.cwd()).absolute()
    try:
        job_template = decode_job_template(template=template, supported_extensions=[EXTENSION])
        given = preprocess_job_parameters(job_template=job_template, job_parameter_values=dict(values or {}),
                                          job_template_dir=folder, current_working_dir=folder)
        create_job(job_template=job_template, job_parameter_values=given)
    except (DecodeValidationError, ValueError) as exc:
        problem = " ".join(str(exc).split())
        raise FarmError(f"the job template is not valid Open Job Description: {problem[:400]}") from None


def template_yaml(template: dict[str, Any]) -> str:
    """The template as YAML, keys in the order built, under the project's marker (the output guard's, a comment
    OpenJD ignores) and a line saying where it came from."""
    header = (f"{source_marker('farm-template')}\n"
              f"# Open Job Description job template written by flashdepth-vfx {__version__} (farm submit-template)\n")
    return header + yaml.safe_dump(template, sort_keys=False, allow_unicode=True, width=120)


def write_job(job: FarmJob, path: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Write the template (:func:`write_template`) and beside it, as AWS Deadline Cloud job bundles hold them, the
    values of its PATH parameters outside its folder (:data:`PARAMETER_VALUES`); with no such values, a values file
    flashdepth-vfx wrote there for this template is removed (its stale paths would replace the defaults).

    A job with values is refused before anything is written where a values file is there that flashdepth-vfx did
    not write (unless ``overwrite``) or wrote for another template, or a ``parameter_values.yaml`` (Deadline Cloud
    reads one values file).
    """
    target = Path(path).expanduser()
    values_file = target.with_name(PARAMETER_VALUES)
    if target.name.lower() in (PARAMETER_VALUES, values_file.with_suffix(".yaml").name):
        raise FarmError(f"{target} is the name of a job bundle's parameter values file: name the template "
                        "template.yaml (or job.yaml)")
    owner = _values_owner(values_file)
    if job.values:
        other = values_file.with_suffix(".yaml")
        if other.exists():
            raise FarmError(f"{other} holds job parameter values, and Deadline Cloud reads only one values file: "
                            "move it away, or write the job into a folder of its own")
        check_outputs([(values_file, VALUES_KIND)], [], overwrite)
        if owner not in (None, target.name):
            raise FarmError(f"{values_file} holds the paths of the job {owner}: write each job into a folder of its own")
    written = write_template(job.template, target)
    if job.values:
        values = [{"name": name, "value": value} for name, value in job.values.items()]
        write_text(values_file, json.dumps({KIND_KEY: VALUES_KIND, "template": target.name,
                                            "parameterValues": values}, indent=2) + "\n")
    elif owner == target.name:
        values_file.unlink(missing_ok=True)
    return written


def _values_owner(values_file: Path) -> str | None:
    """The template whose values flashdepth-vfx wrote into ``values_file``, or None (not there, not ours, or a
    link: the user's, whatever it points at)."""
    if replace_refusal(values_file, VALUES_KIND) is not None or not values_file.exists():
        return None
    owner = json.loads(values_file.read_text(encoding="utf-8")).get("template")
    return owner if isinstance(owner, str) else None


def write_template(template: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    """Write the template as YAML, atomically (a temporary file renamed into place). Write it into the folder it
    was built for (``template_dir``): PATH parameter defaults are relative to it."""
    target = Path(path).expanduser()
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(template_yaml(template), encoding="utf-8")
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise FarmError(f"cannot write the job template {target}: {exc.strerror or exc}; choose another -o") from None
    return target
