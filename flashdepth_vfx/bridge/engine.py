"""Finding the flashdepth-vfx engine command and the environment it runs in."""
from __future__ import annotations

import json
import os
import platform
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from ..errors import FlashDepthError

ENGINE_ENV_VAR = "FLASHDEPTH_VFX_BIN"
CONFIG_ENV_VAR = "FLASHDEPTH_VFX_CONFIG"
ENGINE_NAME = "flashdepth-vfx"
WINDOWS = sys.platform == "win32"
"""Whether engines start and stop the Windows way (tests flip it to simulate Windows)."""
# Windows process-creation flags (spelled out: the subprocess names exist only there).
CREATE_NEW_PROCESS_GROUP = 0x00000200
CREATE_NO_WINDOW = 0x08000000
# Host applications (Nuke, Houdini, ...) point these at their own Python; an engine
# running on another interpreter must not inherit them.
_HOST_PYTHON_VARS = ("PYTHONHOME", "PYTHONPATH")


class EngineNotFound(FlashDepthError):
    """The engine command could not be found or started; the message says how to point at it."""


def xdg_home(var: str, fallback: str, env: Optional[Mapping[str, str]] = None, home: Optional[Path] = None) -> Path:
    """An XDG base folder: ``$var`` when it holds an absolute path, else ``~/fallback`` (the XDG Base Directory
    spec says to ignore an empty or relative value)."""
    value = (os.environ if env is None else env).get(var, "")
    if os.path.isabs(value):
        return Path(value)
    return (Path.home() if home is None else home) / fallback


def config_file(name: str, env: Optional[Mapping[str, str]] = None, home: Optional[Path] = None,
                system: Optional[str] = None) -> Path:
    """``name`` in flashdepth-vfx's config folder. On Linux that is ``$XDG_CONFIG_HOME/flashdepth-vfx`` when the
    variable holds an absolute path (the XDG Base Directory spec ignores an empty or relative one), else
    ``~/.config/flashdepth-vfx``; a file an earlier release wrote at ``~/.config/flashdepth-vfx`` and not yet in
    the XDG folder stays the one read and updated. Other systems: ``~/.config/flashdepth-vfx``."""
    home = Path.home() if home is None else home
    legacy = home / ".config" / "flashdepth-vfx" / name
    if (system or platform.system()) != "Linux":
        return legacy
    path = xdg_home("XDG_CONFIG_HOME", ".config", env, home) / "flashdepth-vfx" / name
    return legacy if not os.path.lexists(path) and os.path.lexists(legacy) else path


def config_path(env: Optional[Mapping[str, str]] = None, home: Optional[Path] = None,
                system: Optional[str] = None) -> Path:
    """The user's bridge config file: ``$FLASHDEPTH_VFX_CONFIG``, else ``bridge.json`` in :func:`config_file`."""
    override = (os.environ if env is None else env).get(CONFIG_ENV_VAR)
    if override:
        return Path(override).expanduser()
    return config_file("bridge.json", env, home, system)


def _split_command(value: str) -> List[str]:
    """An executable path (spaces allowed) or a command line such as ``python -m flashdepth_vfx``."""
    if os.path.isfile(value):
        return [value]
    if os.name == "nt":
        return [part.strip('"') for part in shlex.split(value, posix=False)]
    return shlex.split(value)


def _resolve(value: str, source: str) -> List[str]:
    """Split ``value`` and check that its program exists; ``source`` names where the value came from."""
    try:
        argv = _split_command(value.strip())
    except ValueError as exc:
        raise EngineNotFound(f"{source} has an unreadable engine command {value!r} ({exc}): fix the quoting") from None
    if not argv:
        raise EngineNotFound(f"{source} is empty: set it to the flashdepth-vfx executable")
    program = shutil.which(argv[0])
    if program is None:
        raise EngineNotFound(
            f"{source} points at {argv[0]!r}, which is not an executable: set it to the flashdepth-vfx executable"
        )
    return [program] + argv[1:]


def _from_config(path: Path) -> Optional[str]:
    """The ``engine`` entry of the config file, or None when the file or entry is absent."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise EngineNotFound(f"cannot read bridge config {path} ({exc.strerror}): fix or remove it") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise EngineNotFound(f"bridge config {path} is not valid JSON ({exc}): fix or remove it") from None
    engine = data.get("engine") if isinstance(data, dict) else None
    if engine is not None and not isinstance(engine, str):
        raise EngineNotFound(f'bridge config {path}: "engine" must be a string command')
    return engine or None


def find_engine(explicit: Optional[str] = None) -> List[str]:
    """The engine's argv prefix, from the first that is set: ``explicit``, ``$FLASHDEPTH_VFX_BIN``,
    the config file's ``"engine"``, then ``flashdepth-vfx`` on PATH. A set but broken value raises
    :class:`EngineNotFound` rather than falling through to the next."""
    if explicit:
        return _resolve(explicit, "the engine setting")
    from_env = os.environ.get(ENGINE_ENV_VAR)
    if from_env:
        return _resolve(from_env, f"${ENGINE_ENV_VAR}")
    path = config_path()
    from_config = _from_config(path)
    if from_config:
        return _resolve(from_config, f"bridge config {path}")
    on_path = shutil.which(ENGINE_NAME)
    if on_path:
        return [on_path]
    raise EngineNotFound(
        f"{ENGINE_NAME} engine not found on PATH: install it, or set ${ENGINE_ENV_VAR} "
        f'(or "engine" in {path}) to its executable or command line'
    )


def engine_environment(extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """Environment for an engine process: this one without the host's Python variables, unbuffered
    UTF-8 output, then ``extra`` on top (which may set PYTHONPATH etc. back deliberately)."""
    env = {k: v for k, v in os.environ.items() if k not in _HOST_PYTHON_VARS}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    if extra:
        env.update(extra)
    return env


def engine_process_flags(new_group: bool = False) -> Dict[str, Any]:
    """Extra ``subprocess`` arguments for an engine process: on Windows no console window (GUI hosts have no
    console, and one must not pop up), and with ``new_group`` its own process group, so that Ctrl-Break
    reaches the engine and not the host."""
    if not WINDOWS:
        return {}
    return {"creationflags": CREATE_NO_WINDOW | (CREATE_NEW_PROCESS_GROUP if new_group else 0)}
