"""A node's "Send to farm": the Open Job Description bundle that ``flashdepth-vfx farm submit-template`` writes, with
the node's settings, then submitted with AWS Deadline Cloud's ``deadline bundle submit`` where that client is on PATH.

Every path reaches the farm as a PATH job parameter, which Deadline Cloud's path mapping and job attachments take
to workers that see it elsewhere: what lies outside the bundle (plates, outputs, checkpoint, a studio's OCIO config)
has its artist-side path in the bundle's ``parameter_values.json``. What belongs to the job goes into the bundle: a
node with a matchmove camera writes the camera it exports there, and the OCIO config the install ships is copied
there; the job's solve options (points, passes) reach the template, whose last step per shot solves the rendered
shot as a local render would.

Standard library + :mod:`flashdepth_vfx.bridge` only (host Pythons); the engine does the work in its own process.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shlex
import shutil
import subprocess
import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from ..bridge import RenderJob, find_engine
from ..bridge import engine as bridge_engine
from ..bridge.engine import engine_environment, engine_process_flags
from ..errors import FlashDepthError
from .camera import SolveRequest, write_camera_file
from .colour import NUKE_DEFAULT_CONFIG
from .render import error_line

FARM_BUTTON = "Send to farm"
"""Label of the button that sends a node's render to the farm, on every host."""
TEMPLATE_NAME = "template.yaml"
VALUES_NAME = "parameter_values.json"
"""The bundle's job parameter values (``flashdepth_vfx.farm.template.PARAMETER_VALUES``)."""
SHIPPED_CONFIGS = (NUKE_DEFAULT_CONFIG,)
"""OCIO configs the install ships: a job using one carries a copy in its bundle (they are self-contained)."""
# RenderJob fields a farm job carries, each as the submit-template option of the same name.
_FARM_FIELDS = ("output", "frames", "checkpoint", "model", "teacher_resolution", "colorspace", "ocio_config",
                "display", "view", "mode", "depth_scale", "channel", "max_size", "device", "precision")


class FarmError(FlashDepthError):
    """The bundle could not be written or submitted; the message is one line for the node's status."""


@dataclass(frozen=True)
class FarmSubmission:
    """What "Send to farm" did."""

    template: str
    submitted: bool
    message: str


def farm_args(job: RenderJob, bundle_dir: str) -> List[str]:
    """Engine arguments writing the job bundle for ``job`` into ``bundle_dir`` (options end with ``--``); the job's
    ``extra_args`` (render options a host always passes, such as ``--passthrough``, and the shot solve's camera,
    points and passes) go to the template as they would go to a local render."""
    args = ["farm", "submit-template", "-o", os.path.join(bundle_dir, TEMPLATE_NAME)]
    for name in _FARM_FIELDS:
        value = getattr(job, name, None)
        if value is not None:
            args += [f"--{name.replace('_', '-')}", str(value)]
    return args + list(job.extra_args) + ["--", job.plate]


def carry_into_bundle(job: RenderJob, solve: SolveRequest, bundle_dir: str) -> RenderJob:
    """``job`` with what belongs to it copied into ``bundle_dir`` and read there: the exported camera of the node's
    shot solve (the solve's other arguments are in the job already) and an OCIO config the install ships."""
    if job.ocio_config is not None and os.path.realpath(job.ocio_config) in map(os.path.realpath, SHIPPED_CONFIGS):
        copy = os.path.join(bundle_dir, os.path.basename(job.ocio_config))
        try:
            os.makedirs(bundle_dir, exist_ok=True)
            shutil.copyfile(job.ocio_config, copy)
        except OSError as exc:
            raise FarmError(f"cannot copy the OCIO config into the farm job: {exc}") from None
        job = dataclasses.replace(job, ocio_config=copy)
    if not solve.camera_text:
        return job
    args = list(job.extra_args)
    at = args.index("--camera") + 1 if "--camera" in args else 0
    if not at or args[at] != solve.camera_file:
        raise FarmError(f"the job does not read the node's camera {solve.camera_file}; render the node again")
    args[at] = os.path.join(bundle_dir, os.path.basename(solve.camera_file))
    try:
        write_camera_file(args[at], solve.camera_text)
    except OSError as exc:
        raise FarmError(f"cannot write the camera into the farm job: {exc}") from None
    return dataclasses.replace(job, extra_args=tuple(args))


def openjd_run_line(template: str, values: Mapping[str, str]) -> str:
    """The command line running the job ``template`` here with ``openjd run``, its PATH parameters without a
    default set to ``values``, quoted for this machine's shell."""
    argv = ["openjd", "run", template] + [arg for name, value in values.items() for arg in ("-p", f"{name}={value}")]
    return subprocess.list2cmdline(argv) if bridge_engine.WINDOWS else shlex.join(argv)


def bundle_values(bundle_dir: str) -> Dict[str, str]:
    """The job parameter values in the bundle's ``parameter_values.json`` (none when it has no such file)."""
    try:
        with open(os.path.join(bundle_dir, VALUES_NAME), encoding="utf-8") as handle:
            entries = json.load(handle)["parameterValues"]
        return {str(entry["name"]): str(entry["value"]) for entry in entries}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, LookupError, TypeError) as exc:
        raise FarmError(f"cannot read {VALUES_NAME} of the farm job in {bundle_dir} ({exc!r}): send it again") from None


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def send_to_farm(job: RenderJob, bundle_dir: str, submit: Optional[bool] = None,
                 engine: Optional[Sequence[str]] = None, timeout: float = 300,
                 solve: SolveRequest = SolveRequest()) -> FarmSubmission:
    """Write the bundle (with what belongs in it, see :func:`carry_into_bundle`); submit it when ``submit``
    (default: when the ``deadline`` client is on PATH).

    Blocking (plates are scanned, the client talks to the farm): hosts call it off their UI thread. Neither
    process may ask anything (no stdin, ``--yes``) nor open a console window on Windows.
    """
    job = carry_into_bundle(job, solve, bundle_dir)
    argv = list(engine) if engine else find_engine()
    env = engine_environment()
    quiet: Dict[str, Any] = {"stdin": subprocess.DEVNULL, "capture_output": True, "text": True, "timeout": timeout,
                             "env": env, **engine_process_flags()}
    try:
        done = subprocess.run(argv + farm_args(job, bundle_dir), **quiet)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FarmError(f"the engine could not write the farm job ({exc})") from None
    if done.returncode != 0:
        raise FarmError(_last_line(done.stderr).removeprefix("Error: ").removeprefix("error: "))
    template = os.path.join(bundle_dir, TEMPLATE_NAME)
    deadline = shutil.which("deadline")
    if submit is None:
        submit = deadline is not None
    if not submit:
        run_here = openjd_run_line(template, bundle_values(bundle_dir))
        return FarmSubmission(template, False, f"Farm job written to {bundle_dir}: submit it with "
                                               f"`deadline bundle submit {bundle_dir}` or run it here with `{run_here}`")
    if deadline is None:
        raise FarmError(f"farm job written to {bundle_dir}, but the Deadline Cloud client (`deadline`) is not on PATH: "
                        "install it (pip install deadline) or submit the bundle yourself")
    try:
        sent = subprocess.run([deadline, "bundle", "submit", "--yes", bundle_dir], **quiet)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FarmError(f"farm job written to {bundle_dir}; `deadline bundle submit` failed ({exc})") from None
    if sent.returncode != 0:
        raise FarmError(f"farm job written to {bundle_dir}; deadline refused it: {_last_line(sent.stderr or sent.stdout)}")
    return FarmSubmission(template, True, f"Submitted to Deadline Cloud: {_last_line(sent.stdout)}")


def bundle_folder(output_dir: str, key: str) -> str:
    """Where a node's farm bundle for the settings ``key`` goes: ``<output folder>/farm/<key>``."""
    return os.path.join(output_dir, "farm", key)


def farm_outcome(job: RenderJob, bundle_dir: str, solve: SolveRequest = SolveRequest()) -> str:
    """:func:`send_to_farm`, as the node's status line: how it went, any failure included (never raises)."""
    try:
        return send_to_farm(job, bundle_dir, solve=solve).message
    except Exception as exc:  # noqa: BLE001 - every failure ends as the status line
        return error_line(exc)


def send_in_background(job: RenderJob, bundle_dir: str, report: Callable[[str], None], name: str,
                       solve: SolveRequest = SolveRequest()) -> threading.Thread:
    """:func:`farm_outcome` in a daemon thread (started, returned), handing the status line to ``report`` there
    (hosts pass a call that moves it to their main thread)."""
    thread = threading.Thread(target=lambda: report(farm_outcome(job, bundle_dir, solve)), name=f"FlashDepth farm {name}",
                              daemon=True)
    thread.start()
    return thread
