"""Installing the host adapters into a user's Nuke, Houdini and Resolve/Fusion folders, and removing them.

What each host gets (nothing else is touched):

* **Nuke**: a marked block in ``~/.nuke/init.py`` (``%USERPROFILE%\\.nuke`` on Windows) that calls
  ``nuke.pluginAddPath`` with this checkout's ``nuke/`` folder.
* **Houdini**: ``packages/flashdepth_vfx.json`` (the checkout's template with ``FLASHDEPTH_VFX`` set) in every
  Houdini preferences folder found (``$HOUDINI_USER_PREF_DIR``, else ``~/houdiniX.Y`` on Linux,
  ``~/Library/Preferences/houdini/X.Y`` on macOS, ``~/Documents/houdiniX.Y`` on Windows).
* **Resolve / Fusion**: one small launcher per script in ``resolve/Fusion/Scripts`` copied into the per-user
  Scripts folders of DaVinci Resolve (and of Fusion Studio where it exists); each launcher points
  ``FLASHDEPTH_VFX_PATH`` at this checkout and runs the checkout's script with the objects the host injects.
* Every host: the bridge config (``~/.config/flashdepth-vfx/bridge.json``) names this engine, so host
  applications started from a desktop (whose PATH lacks the engine) find it.

Every file written carries :data:`MARKER`; uninstall removes only what carries it. Standard library only.
"""
from __future__ import annotations

import ast
import json
import os
import platform
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

from ..bridge.engine import CONFIG_ENV_VAR
from ..errors import FlashDepthError

HOSTS = ("nuke", "houdini", "resolve")
MARKER = "flashdepth-vfx hosts install"
"""Written into every file (or block) the installer owns."""
_BLOCK_START = f"# >>> {MARKER}: remove with `flashdepth-vfx hosts uninstall nuke` >>>"
_BLOCK_END = "# <<< flashdepth-vfx <<<"
_BLOCK = re.compile(re.escape(_BLOCK_START) + r".*?" + re.escape(_BLOCK_END) + r"\n?", re.S)
HOUDINI_PACKAGE = "flashdepth_vfx.json"
_HOUDINI_VERSION = re.compile(r"^houdini(\d+\.\d+)$")


class InstallError(FlashDepthError):
    """A host could not be installed or uninstalled; the message says what to do."""


@dataclass(frozen=True)
class Layout:
    """Where a user's host folders are: the OS (``platform.system()`` names), the home folder and environment."""

    system: str
    home: Path
    env: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def current(cls) -> Layout:
        """This machine's layout."""
        return cls(platform.system(), Path.home(), dict(os.environ))

    def nuke_dir(self) -> Path:
        """Nuke's per-user folder (``~/.nuke`` on every OS)."""
        return self.home / ".nuke"

    def houdini_dirs(self) -> List[Path]:
        """Existing Houdini preference folders, newest version first."""
        pref = self.env.get("HOUDINI_USER_PREF_DIR")
        if pref and "__HVER__" not in pref:
            return [Path(pref)]
        if self.system == "Darwin":
            parent, prefix = self.home / "Library" / "Preferences" / "houdini", ""
        elif self.system == "Windows":
            parent, prefix = self.home / "Documents", "houdini"
        else:
            parent, prefix = self.home, "houdini"
        found = []
        if parent.is_dir():
            for child in parent.iterdir():
                match = _HOUDINI_VERSION.match(child.name if prefix else "houdini" + child.name)
                if child.is_dir() and match:
                    found.append((tuple(int(p) for p in match.group(1).split(".")), child))
        return [path for _, path in sorted(found, reverse=True)]

    def resolve_dirs(self) -> List[Path]:
        """Resolve's per-user Scripts folder, plus Fusion Studio's where it exists."""
        if self.system == "Windows":
            appdata = Path(self.env.get("APPDATA") or self.home / "AppData" / "Roaming")
            resolve = appdata / "Blackmagic Design" / "DaVinci Resolve" / "Support" / "Fusion" / "Scripts"
            fusion = appdata / "Blackmagic Design" / "Fusion" / "Scripts"
        elif self.system == "Darwin":
            support = self.home / "Library" / "Application Support" / "Blackmagic Design"
            resolve = support / "DaVinci Resolve" / "Fusion" / "Scripts"
            fusion = support / "Fusion" / "Scripts"
        else:
            resolve = self.home / ".local" / "share" / "DaVinciResolve" / "Fusion" / "Scripts"
            fusion = self.home / ".fusion" / "BlackmagicDesign" / "Fusion" / "Scripts"
        return [resolve] + ([fusion] if fusion.parent.is_dir() else [])

    def bridge_config(self) -> Path:
        """The bridge config file (``$FLASHDEPTH_VFX_CONFIG`` or ``~/.config/flashdepth-vfx/bridge.json``)."""
        override = self.env.get(CONFIG_ENV_VAR)
        return Path(override).expanduser() if override else self.home / ".config" / "flashdepth-vfx" / "bridge.json"


@dataclass(frozen=True)
class Change:
    """One file the installer writes or removes."""

    action: str  # "write", "remove", "unchanged"
    path: Path
    content: Optional[str] = None  # what is written ("write")

    def describe(self) -> str:
        """One line for the console."""
        verb = {"write": "write ", "remove": "remove", "unchanged": "ok    "}[self.action]
        return f"{verb} {self.path}"


def project_root() -> Path:
    """The checkout holding ``nuke/``, ``houdini/`` and ``resolve/`` beside the ``flashdepth_vfx`` package."""
    root = Path(__file__).resolve().parent.parent.parent
    if not all((root / host).is_dir() for host in HOSTS):
        raise InstallError(f"the host adapters are not beside the package ({root} has no nuke/, houdini/, resolve/): "
                           "install flashdepth-vfx from a checkout (pip install -e /path/to/flashdepth-vfx)")
    return root


def engine_command() -> str:
    """This engine as a command line a host can run: this Python with ``-m flashdepth_vfx``."""
    return shlex.join([sys.executable, "-m", "flashdepth_vfx"]) if os.name != "nt" else \
        f'"{sys.executable}" -m flashdepth_vfx'


def _owned(path: Path) -> bool:
    try:
        return path.is_file() and MARKER in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def _write(path: Path, content: str) -> Change:
    try:
        current = path.read_text(encoding="utf-8") if path.is_file() else None
    except OSError:
        current = None
    return Change("unchanged" if current == content else "write", path, content)


# ---------------------------------------------------------------- per host
def _nuke_changes(layout: Layout, root: Path, dest: Optional[Path], remove: bool) -> List[Change]:
    init = (dest or layout.nuke_dir()) / "init.py"
    text = init.read_text(encoding="utf-8") if init.is_file() else ""
    rest = _BLOCK.sub("", text)
    if remove:
        if rest == text:
            return []
        return [Change("remove", init)] if not rest.strip() else [Change("write", init, rest)]
    block = (f"{_BLOCK_START}\nimport nuke\nnuke.pluginAddPath({str(root / 'nuke')!r})\n{_BLOCK_END}\n")
    if rest and not rest.endswith("\n"):
        rest += "\n"
    return [_write(init, rest + block)]


def _houdini_package(root: Path) -> str:
    template = json.loads((root / "houdini" / "packages" / HOUDINI_PACKAGE).read_text(encoding="utf-8"))
    env = []
    for entry in template.get("env", []):
        if isinstance(entry, dict) and "FLASHDEPTH_VFX" in entry:
            entry = {"FLASHDEPTH_VFX": str(root)}
        env.append(entry)
    package: Dict[str, object] = {"_comment": f"written by `{MARKER}`; remove with `flashdepth-vfx hosts uninstall houdini`"}
    package.update(template)
    package["env"] = env
    return json.dumps(package, indent=4) + "\n"


def _houdini_changes(layout: Layout, root: Path, dest: Optional[Path], remove: bool) -> List[Change]:
    folders = [dest] if dest else layout.houdini_dirs()
    if remove:
        return [Change("remove", f / "packages" / HOUDINI_PACKAGE) for f in folders
                if _owned(f / "packages" / HOUDINI_PACKAGE)]
    if not folders:
        raise InstallError(f"no Houdini preferences folder found (looked for houdiniX.Y under {layout.home}): "
                           "start Houdini once, set $HOUDINI_USER_PREF_DIR, or pass --dest")
    content = _houdini_package(root)
    return [_write(f / "packages" / HOUDINI_PACKAGE, content) for f in folders]


def resolve_scripts(root: Path) -> List[Path]:
    """The checkout's Resolve/Fusion scripts, relative to its ``resolve/Fusion/Scripts`` folder."""
    base = root / "resolve" / "Fusion" / "Scripts"
    return sorted(p.relative_to(base) for p in base.rglob("*.py"))


def _launcher(root: Path, relative: Path) -> str:
    target = root / "resolve" / "Fusion" / "Scripts" / relative
    return (f'"""FlashDepth launcher ({MARKER}; remove with `flashdepth-vfx hosts uninstall resolve`):\n'
            f'runs {target} with the objects Resolve/Fusion inject (comp, fusion, resolve, bmd)."""\n'
            "import os\nimport runpy\n\n"
            f"os.environ.setdefault('FLASHDEPTH_VFX_PATH', {str(root)!r})\n"
            f"runpy.run_path({str(target)!r}, init_globals=dict(globals()), run_name='__main__')\n")


def _resolve_changes(layout: Layout, root: Path, dest: Optional[Path], remove: bool) -> List[Change]:
    folders = [dest] if dest else layout.resolve_dirs()
    scripts = resolve_scripts(root)
    if remove:
        return [Change("remove", f / s) for f in folders for s in scripts if _owned(f / s)]
    return [_write(f / s, _launcher(root, s)) for f in folders for s in scripts]


_PLANNERS = {"nuke": _nuke_changes, "houdini": _houdini_changes, "resolve": _resolve_changes}


def _bridge_changes(layout: Layout, remove: bool, engine: str) -> List[Change]:
    path = layout.bridge_config()
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError) as exc:
        raise InstallError(f"bridge config {path} is not readable JSON ({exc}): fix or remove it") from None
    if not isinstance(data, dict):
        raise InstallError(f"bridge config {path} is not a JSON object: fix or remove it")
    if remove:
        if data.get("installed_by") != MARKER:
            return []
        rest = {k: v for k, v in data.items() if k not in ("engine", "installed_by")}
        return [Change("write", path, json.dumps(rest, indent=2) + "\n")] if rest else [Change("remove", path)]
    data.update({"engine": engine, "installed_by": MARKER})
    return [_write(path, json.dumps(data, indent=2) + "\n")]


def plan(hosts: Sequence[str], layout: Layout, dest: Optional[Path] = None, remove: bool = False,
         engine: Optional[str] = None) -> List[Change]:
    """The changes that installing (or removing) ``hosts`` makes; nothing is written."""
    unknown = sorted(set(hosts) - set(HOSTS))
    if unknown:
        raise InstallError(f"unknown host(s) {', '.join(unknown)}: choose from {', '.join(HOSTS)} or all")
    root = project_root()
    changes: List[Change] = []
    for host in hosts:
        changes += _PLANNERS[host](layout, root, dest, remove)
    # The bridge config serves every host: removed only when no host stays installed.
    if not remove:
        changes += _bridge_changes(layout, False, engine or engine_command())
    elif not any(installed(h, layout) for h in HOSTS if h not in hosts):
        changes += _bridge_changes(layout, True, "")
    return changes


def _prune(folder: Path, stop: Path) -> None:
    """Remove ``folder`` and its parents while they are empty, up to (not including) ``stop``."""
    while folder != stop and stop in folder.parents:
        try:
            folder.rmdir()
        except OSError:  # not empty (or not ours to remove)
            return
        folder = folder.parent


def apply(changes: Sequence[Change], stop: Path) -> None:
    """Write or remove the planned files; folders a removal leaves empty go too, up to ``stop`` (the home
    folder). An OSError becomes one line naming the file."""
    for change in changes:
        try:
            if change.action == "write":
                assert change.content is not None
                change.path.parent.mkdir(parents=True, exist_ok=True)
                tmp = change.path.with_name(f".{change.path.name}.tmp-{os.getpid()}")
                tmp.write_text(change.content, encoding="utf-8")
                os.replace(tmp, change.path)
            elif change.action == "remove":
                change.path.unlink()
                _prune(change.path.parent, stop)
        except OSError as exc:
            raise InstallError(f"cannot {change.action} {change.path}: {exc.strerror or exc}; "
                               "check the folder's permissions or pass --dest") from None


def installed(host: str, layout: Layout) -> bool:
    """Whether the installer's files for ``host`` are present in the user's folders."""
    if host == "nuke":
        init = layout.nuke_dir() / "init.py"
        return init.is_file() and _BLOCK.search(init.read_text(encoding="utf-8", errors="replace")) is not None
    if host == "houdini":
        return any(_owned(f / "packages" / HOUDINI_PACKAGE) for f in layout.houdini_dirs())
    return any(_owned(f / s) for f in layout.resolve_dirs() for s in _installed_scripts(f))


def _installed_scripts(folder: Path) -> List[Path]:
    return [p.relative_to(folder) for p in folder.rglob("*.py")] if folder.is_dir() else []


# ---------------------------------------------------------------- doctor
@dataclass(frozen=True)
class Check:
    """One line of ``hosts doctor``: ``ok`` True / False (a problem) / None (information only)."""

    name: str
    ok: Optional[bool]
    detail: str


def host_checks(layout: Layout) -> List[Check]:
    """What each host's discovery path finds: installed, pointing at folders that exist."""
    checks = []
    init = layout.nuke_dir() / "init.py"
    block = _BLOCK.search(init.read_text(encoding="utf-8", errors="replace")) if init.is_file() else None
    if block is not None:
        match = re.search(r"pluginAddPath\((.*)\)", block.group(0))
        plugin = Path(ast.literal_eval(match.group(1))) if match else None
        good = plugin is not None and (plugin / "menu.py").is_file()
        checks.append(Check("nuke", good, f"{init} adds {plugin}" if good else
                            f"{init} points at {plugin}, which has no menu.py: run `flashdepth-vfx hosts install nuke`"))
    else:
        checks.append(Check("nuke", None, f"not installed in {init.parent} (`flashdepth-vfx hosts install nuke`)"))
    packages = [f / "packages" / HOUDINI_PACKAGE for f in layout.houdini_dirs() if _owned(f / "packages" / HOUDINI_PACKAGE)]
    if packages:
        for package in packages:
            try:
                env = json.loads(package.read_text(encoding="utf-8")).get("env", [])
                root = next(Path(e["FLASHDEPTH_VFX"]) for e in env if isinstance(e, dict) and "FLASHDEPTH_VFX" in e)
                good, detail = (root / "houdini").is_dir(), f"{package} -> {root}"
            except (ValueError, StopIteration, OSError, AttributeError) as exc:
                good, detail = False, f"{package} is damaged ({exc}): run `flashdepth-vfx hosts install houdini`"
            checks.append(Check("houdini", good, detail if good else
                                f"{detail}: that folder has no houdini/; run `flashdepth-vfx hosts install houdini`"))
    else:
        where = ", ".join(str(f) for f in layout.houdini_dirs()) or f"no houdiniX.Y folder under {layout.home}"
        checks.append(Check("houdini", None, f"not installed ({where}; `flashdepth-vfx hosts install houdini`)"))
    launchers = [f / s for f in layout.resolve_dirs() for s in _installed_scripts(f) if _owned(f / s)]
    if launchers:
        for launcher in launchers:
            target = re.search(r"runpy\.run_path\(('.*?'|\".*?\")", launcher.read_text(encoding="utf-8"))
            script = Path(ast.literal_eval(target.group(1))) if target else None
            good = script is not None and script.is_file()
            checks.append(Check("resolve", good, f"{launcher} -> {script}" if good else
                                f"{launcher} runs {script}, which is missing: run `flashdepth-vfx hosts install resolve`"))
    else:
        checks.append(Check("resolve", None, f"not installed in {layout.resolve_dirs()[0]} "
                                             "(`flashdepth-vfx hosts install resolve`)"))
    return checks


def engine_checks(layout: Layout) -> List[Check]:
    """Whether a host finds and can start the engine (as the bridge does), and what it runs on."""
    import subprocess

    from ..bridge.engine import EngineNotFound, engine_environment, find_engine

    previous = os.environ.get(CONFIG_ENV_VAR)
    os.environ[CONFIG_ENV_VAR] = str(layout.bridge_config())
    try:
        argv = find_engine()
    except EngineNotFound as exc:
        return [Check("engine", False, str(exc))]
    finally:
        if previous is None:
            os.environ.pop(CONFIG_ENV_VAR, None)
        else:
            os.environ[CONFIG_ENV_VAR] = previous
    try:
        done = subprocess.run(argv + ["--version"], capture_output=True, text=True, timeout=120,
                              env=engine_environment())
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [Check("engine", False, f"{shlex.join(argv)} does not start ({exc}): reinstall it or fix the bridge config")]
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return [Check("engine", False, f"{shlex.join(argv)} --version failed: {last}")]
    return [Check("engine", True, f"{shlex.join(argv)} ({done.stdout.strip()})")]


def doctor_ok(checks: Sequence[Check]) -> bool:
    """Green when no check failed (information-only lines do not count)."""
    return all(c.ok is not False for c in checks)

