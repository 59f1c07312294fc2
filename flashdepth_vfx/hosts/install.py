"""Installing the host adapters into a user's Nuke, Houdini and Resolve/Fusion folders, and removing them.

What each host gets (nothing else is touched):

* **Nuke**: a marked block in ``.nuke/init.py`` (``%HOME%\\.nuke`` on Windows when ``HOME`` is set, else
  ``%USERPROFILE%\\.nuke``, as Nuke reads it) that calls ``nuke.pluginAddPath`` with this checkout's ``nuke/`` folder.
  Every other byte of the file stays as it was (encoding, CRLF line ends, a missing final newline); an ``init.py``
  that is a link (dotfiles) stays a link: the block goes into the file it points at.
* **Houdini**: ``packages/flashdepth_vfx.json`` (the checkout's template with ``FLASHDEPTH_VFX`` set) in every
  Houdini preferences folder found (``$HOUDINI_USER_PREF_DIR``, else ``~/houdiniX.Y`` on Linux,
  ``~/Library/Preferences/houdini/X.Y`` on macOS, ``%HOME%/houdiniX.Y`` on Windows, where Houdini's ``HOME`` is the
  Documents folder (OneDrive's when redirected) unless set).
* **Resolve / Fusion**: one small launcher per script in ``resolve/Fusion/Scripts`` copied into the per-user
  Scripts folders of DaVinci Resolve (and of Fusion Studio where it exists); each launcher points
  ``FLASHDEPTH_VFX_PATH`` at this checkout and runs the checkout's script with the objects the host injects.
* Every host: the bridge config (``bridge.json`` in ``$XDG_CONFIG_HOME/flashdepth-vfx`` on Linux, else in
  ``~/.config/flashdepth-vfx``) names this engine, so host applications started from a desktop (whose PATH lacks
  the engine) find it; uninstall puts back what it held.

Safety (the rule of :func:`flashdepth_vfx.plates.output_guard.replace_refusal`, asked for every file): nothing under
this checkout is written or removed, a link is never replaced or removed, a file flashdepth-vfx did not write is
never replaced (install refuses and names it) nor removed. What install creates (files and folders) is recorded in
a marked manifest (``install.json`` beside the bridge config); uninstall removes only marked files and only the
folders the manifest says install created, once empty. Every write is atomic and re-checked just before. Standard
library only.
"""
from __future__ import annotations

import ast
import hashlib
import json
import os
import platform
import re
import shlex
import stat
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from ..bridge.engine import CONFIG_ENV_VAR, config_file, config_path
from ..errors import FlashDepthError
from ..plates.output_guard import KIND_KEY, OutputKind, replace_refusal, source_marker, written_kind

HOSTS = ("nuke", "houdini", "resolve")
MARKER = "flashdepth-vfx hosts install"
"""Written into every file (or block) the installer owns."""
_BLOCK_START = f"# >>> {MARKER}: remove with `flashdepth-vfx hosts uninstall nuke` >>>"
_BLOCK_END = "# <<< flashdepth-vfx <<<"
_MARKER_LINE = re.compile("^(" + re.escape(_BLOCK_START) + "|" + re.escape(_BLOCK_END) + r")(?=\r?$)", re.M)
HOUDINI_PACKAGE = "flashdepth_vfx.json"
_HOUDINI_VERSION = re.compile(r"^houdini(\d+\.\d+)$")
_LEGACY_LAUNCHER = f'"""FlashDepth launcher ({MARKER};'.encode()  # first line of the first release's launchers
_LEGACY_PACKAGE = f"written by `{MARKER}`"  # the "_comment" of the first release's packages
MANIFEST = "install.json"
_ENGINE_BEFORE = "engine_before_install"
"""The key install adds to a bridge config that was there before it (the engine it held, or null): uninstall
gives the file back, with that engine, even when the install record is gone."""
_UNSET = object()


class InstallError(FlashDepthError):
    """A host could not be installed or uninstalled; the message says what to do."""


class HostAbsent(InstallError):
    """A host that never ran for this user (no preferences folder): ``install all`` skips it."""


@dataclass(frozen=True)
class Layout:
    """Where a user's host folders are: the OS (``platform.system()`` names), the home folder, environment and
    (Windows) the Documents folder as the shell knows it (None: ``home/Documents``)."""

    system: str
    home: Path
    env: Mapping[str, str] = field(default_factory=dict)
    documents: Optional[Path] = None

    @classmethod
    def current(cls) -> Layout:
        """This machine's layout."""
        system = platform.system()
        return cls(system, Path.home(), dict(os.environ), _windows_documents() if system == "Windows" else None)

    def _windows_home(self) -> Optional[Path]:
        value = self.env.get("HOME") if self.system == "Windows" else None
        return Path(value) if value else None

    def nuke_dir(self) -> Path:
        """Nuke's per-user folder: ``~/.nuke``; on Windows under ``%HOME%`` when set (Foundry: "the .nuke directory
        ... under the directory pointed to by the HOME environment variable", else ``%USERPROFILE%``)."""
        return (self._windows_home() or self.home) / ".nuke"

    def houdini_parent(self) -> Path:
        """The folder holding Houdini's per-version preference folders (``houdiniX.Y``, or ``X.Y`` on macOS)."""
        if self.system == "Darwin":
            return self.home / "Library" / "Preferences" / "houdini"
        if self.system == "Windows":  # SideFX: %HOME%/houdiniX.Y; Houdini sets HOME to Documents when unset
            return self._windows_home() or self.documents or self.home / "Documents"
        return self.home

    def houdini_dirs(self) -> List[Path]:
        """Existing Houdini preference folders, newest version first (``$HOUDINI_USER_PREF_DIR``, with ``__HVER__``
        standing for any X.Y)."""
        pref = self.env.get("HOUDINI_USER_PREF_DIR")
        if pref and "__HVER__" not in pref:
            return [Path(pref)]
        parent, bare = self.houdini_parent(), self.system == "Darwin"
        versioned = _HOUDINI_VERSION
        if pref and "__HVER__" in pref:  # Houdini puts its version (X.Y) in place of __HVER__ (in the last name)
            parent, bare = Path(pref).parent, False
            versioned = re.compile("^" + re.escape(Path(pref).name).replace("__HVER__", r"(\d+\.\d+)") + "$")
        found = []
        if parent.is_dir():
            for child in parent.iterdir():
                match = versioned.match("houdini" + child.name if bare else child.name)
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
        """The bridge config file, where the bridge reads it (:func:`~flashdepth_vfx.bridge.engine.config_path`:
        ``$FLASHDEPTH_VFX_CONFIG``, else ``bridge.json`` in ``$XDG_CONFIG_HOME/flashdepth-vfx`` or ``~/.config``)."""
        return config_path(self.env, self.home, self.system)

    def manifest(self) -> Path:
        """What install created: ``install.json`` in the config folder (per user, whatever the bridge config)."""
        return config_file(MANIFEST, self.env, self.home, self.system)


def _windows_documents() -> Optional[Path]:
    """The Documents folder Windows gives programs (redirected to OneDrive or elsewhere), from the user's shell
    folders; None when it cannot be read."""
    if sys.platform != "win32":
        return None
    import winreg

    try:
        key = winreg.OpenKey(winreg.HKEY_CURRENT_USER,
                             r"Software\Microsoft\Windows\CurrentVersion\Explorer\User Shell Folders")
        with key:
            value, _ = winreg.QueryValueEx(key, "Personal")
    except OSError:
        return None
    return Path(os.path.expandvars(value)) if isinstance(value, str) and value else None


@dataclass(frozen=True)
class Change:
    """One file (or folder) the installer writes, removes or leaves; ``owner`` is the host (or ``bridge``,
    ``manifest``) it belongs to. ``target`` is the file actually written when ``path`` is a link (its target);
    ``before`` the bytes seen when planning (None: nothing there), checked again just before the change."""

    action: str  # "write", "remove", "rmdir", "unchanged", "keep" (the user's, left as it is), "skip" (a host)
    path: Path
    content: Optional[bytes] = None
    owner: str = ""
    note: str = ""
    target: Optional[Path] = None
    before: object = _UNSET

    def describe(self) -> str:
        """One line for the console."""
        verb = {"write": "write ", "remove": "remove", "rmdir": "remove", "unchanged": "ok    ", "keep": "keep  ",
                "skip": "skip  "}[self.action]
        if self.action == "skip":
            return f"{verb} {self.owner}: {self.note}"
        return f"{verb} {self.path}" + (f" ({self.note})" if self.note else "")


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


def _read(path: Path) -> Optional[bytes]:
    try:
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise InstallError(f"cannot read {path} ({exc.strerror or exc}): check its permissions") from None


def _legacy(path: Path) -> bool:
    """A file of the first release's installer (marked by a comment only): still the installer's own."""
    if path.is_symlink() or not path.is_file() or path.stat().st_size > 1 << 20:
        return False
    data = _read(path) or b""
    if path.suffix == ".py":
        return data.startswith(_LEGACY_LAUNCHER)
    try:
        comment = json.loads(data).get("_comment")
    except (ValueError, AttributeError):
        return False
    return isinstance(comment, str) and comment.startswith(_LEGACY_PACKAGE)


def _ours(path: Path, kind: OutputKind, root: Path) -> bool:
    """A regular file outside the checkout that the installer wrote as ``kind`` (now or in the first release)."""
    return os.path.lexists(path) and replace_refusal(path, kind, protected=[root], overwrite=_legacy(path)) is None


def _write(path: Path, content: bytes, owner: str, target: Optional[Path] = None, note: str = "") -> Change:
    current = _read(target or path)
    return Change("unchanged" if current == content else "write", path, content, owner, note, target, current)


def _edit_target(path: Path, root: Path) -> Tuple[Path, str]:
    """The file to edit for ``path`` (a user's file install adds its part to): itself, or the file its link points
    at, and a note saying so; InstallError (one line) when that is not a file or the guard refuses it."""
    target, note = path, ""
    if path.is_symlink():
        target, note = Path(os.path.realpath(path)), f"the file {path} links to"
        if not target.is_file():
            raise InstallError(f"{path} is a link to {os.readlink(path)}, which is not a file: fix the link, "
                               "then run the command again")
    refusal = replace_refusal(target, None, protected=[root])
    if refusal is not None:
        raise InstallError(refusal)
    return target, note


# ---------------------------------------------------------------- per host
def _nuke_line(root: Path) -> str:
    return f"nuke.pluginAddPath({ascii(str(root / 'nuke'))})"


def _blocks(text: str, init: Path, root: Path) -> List[Tuple[int, int]]:
    """The (start, end) of each intact marked block in ``text`` (end excludes the newline after it); a start line
    without its end line (or the reverse) is refused: nothing is ever removed across blocks."""
    spans, opened = [], None
    for match in _MARKER_LINE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        is_start = match.group(1) == _BLOCK_START
        if is_start == (opened is not None):
            what = "a second start line before the end line" if is_start else "an end line without its start line"
            raise InstallError(
                f"{init} has a damaged flashdepth-vfx block ({what} at line {line}): delete the block's lines by "
                f"hand (they call {_nuke_line(root)}), then run the command again")
        if is_start:
            opened = match.start()
        else:
            assert opened is not None
            spans.append((opened, match.end()))
            opened = None
    if opened is not None:
        line = text.count("\n", 0, opened) + 1
        raise InstallError(f"{init} has a damaged flashdepth-vfx block (its end line {_BLOCK_END!r} is missing after "
                           f"line {line}): delete the block's lines by hand, then run the command again")
    return spans


def _cut(text: str, start: int, end: int) -> str:
    """``text`` without the block at ``start:end``: with the newline after it, or (at the end of a file that has
    no final newline) the one install put before it."""
    for newline in ("\r\n", "\n"):
        if text.startswith(newline, end):
            return text[:start] + text[end + len(newline):]
    for newline in ("\r\n", "\n"):
        if text.endswith(newline, 0, start):
            return text[:start - len(newline)] + text[end:]
    return text[:start] + text[end:]


def _nuke_changes(layout: Layout, root: Path, dest: Optional[Path], remove: bool, created: Sequence[str],
                  refusals: List[str]) -> List[Change]:
    init = (dest or layout.nuke_dir()) / "init.py"
    try:
        target, note = _edit_target(init, root)
    except InstallError as exc:
        if not remove:  # never installed there, so nothing to remove either
            refusals.append(f"{exc} (or add `import nuke` and `{_nuke_line(root)}` to Nuke's init.py by hand)")
        return []
    data = _read(target)
    if data is not None and (data[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\0" in data):
        refusals.append(f"{init} is not ASCII-compatible text (UTF-16?): add `import nuke` and `{_nuke_line(root)}` "
                        "to it by hand")
        return []
    text = (data or b"").decode("latin-1")  # every byte kept as it is; the block is ASCII
    try:
        spans = _blocks(text, init, root)
    except InstallError as exc:
        refusals.append(str(exc))
        return []
    rest = text
    for start, end in reversed(spans):
        rest = _cut(rest, start, end)
    if remove:
        if not spans:
            return []
        if not rest and str(init) in created:
            return [Change("remove", init, owner="nuke", before=data)]
        return [Change("write", init, rest.encode("latin-1"), "nuke", note, target, data)]
    first_end = text.find("\n")
    newline = "\r\n" if first_end > 0 and text[first_end - 1] == "\r" else "\n"
    block = newline.join([_BLOCK_START, "import nuke", _nuke_line(root), _BLOCK_END])
    if spans:  # keep the block where it is (the user may have moved it), drop any second copy
        new = text
        for start, end in reversed(spans[1:]):
            new = _cut(new, start, end)
        new = new[:spans[0][0]] + block + new[spans[0][1]:]
    elif not text or text.endswith("\n"):
        new = text + block + newline
    else:  # no final newline: there still is none after the block, and uninstall takes back the one before it
        new = text + newline + block
    return [_write(init, new.encode("latin-1"), "nuke", target, note)]


def _houdini_package(root: Path) -> bytes:
    template = json.loads((root / "houdini" / "packages" / HOUDINI_PACKAGE).read_text(encoding="utf-8"))
    env = []
    for entry in template.get("env", []):
        if isinstance(entry, dict) and "FLASHDEPTH_VFX" in entry:
            entry = {"FLASHDEPTH_VFX": str(root)}
        env.append(entry)
    package: Dict[str, object] = {KIND_KEY: "host-package",
                                  "_comment": f"written by `{MARKER}`; remove with `flashdepth-vfx hosts uninstall houdini`"}
    package.update(template)
    package["env"] = env
    return (json.dumps(package, indent=4) + "\n").encode("utf-8")


def _package_root(path: Path) -> Optional[Path]:
    """The ``FLASHDEPTH_VFX`` folder a Houdini package (installed by anyone) sets, or None."""
    try:
        env = json.loads(path.read_text(encoding="utf-8")).get("env", [])
        return next(Path(e["FLASHDEPTH_VFX"]) for e in env if isinstance(e, dict) and "FLASHDEPTH_VFX" in e)
    except (OSError, ValueError, AttributeError, StopIteration, TypeError):
        return None


def _houdini_changes(layout: Layout, root: Path, dest: Optional[Path], remove: bool, created: Sequence[str],
                     refusals: List[str]) -> List[Change]:
    folders = _distinct([dest] if dest else layout.houdini_dirs())
    packages = [f / "packages" / HOUDINI_PACKAGE for f in folders]
    if remove:
        return [Change("remove", p, owner="houdini", before=_read(p)) for p in packages if _ours(p, "host-package", root)]
    if not folders:
        raise HostAbsent(f"no Houdini preferences folder found (looked for houdiniX.Y under "
                           f"{layout.houdini_parent()}): start Houdini once, set $HOUDINI_USER_PREF_DIR, or pass --dest")
    content, changes = _houdini_package(root), []
    for package in packages:
        refusal = replace_refusal(package, "host-package", protected=[root], overwrite=_legacy(package))
        if refusal is None:
            changes.append(_write(package, content, "houdini"))
        elif _same_folder(_package_root(package), root):
            changes.append(Change("keep", package, owner="houdini", note="installed by hand for this checkout"))
        else:
            refusals.append(f"{refusal} (a package installed by hand?): move it out of packages/, then install again")
    return changes


def _distinct(folders: Sequence[Path]) -> List[Path]:
    """``folders`` without those that are one already listed reached through a link (``houdini21.0 ->
    houdini20.5``: one set of preferences, written once)."""
    seen, kept = set(), []
    for folder in folders:
        real = os.path.realpath(folder)
        if real not in seen:
            seen.add(real)
            kept.append(folder)
    return kept


def _same_folder(a: Optional[Path], b: Path) -> bool:
    return a is not None and os.path.realpath(a) == os.path.realpath(b)


def resolve_scripts(root: Path) -> List[Path]:
    """The checkout's Resolve/Fusion scripts, relative to its ``resolve/Fusion/Scripts`` folder."""
    base = root / "resolve" / "Fusion" / "Scripts"
    return sorted(p.relative_to(base) for p in base.rglob("*.py"))


def _launcher(root: Path, relative: Path) -> str:
    target = root / "resolve" / "Fusion" / "Scripts" / relative
    return (f"{source_marker('host-launcher')} (written by `{MARKER}`; remove with "
            "`flashdepth-vfx hosts uninstall resolve`)\n"
            f'"""FlashDepth launcher: runs {target} with the objects Resolve/Fusion inject (comp, fusion, resolve, bmd)."""\n'
            "import os\nimport runpy\n\n"
            f"os.environ.setdefault('FLASHDEPTH_VFX_PATH', {str(root)!r})\n"
            f"runpy.run_path({str(target)!r}, init_globals=dict(globals()), run_name='__main__')\n")


def _resolve_changes(layout: Layout, root: Path, dest: Optional[Path], remove: bool, created: Sequence[str],
                     refusals: List[str]) -> List[Change]:
    folders = _distinct([dest] if dest else layout.resolve_dirs())
    scripts = resolve_scripts(root)
    paths = [(f / s, s) for f in folders for s in scripts]
    if remove:
        return [Change("remove", p, owner="resolve", before=_read(p)) for p, _ in paths if _ours(p, "host-launcher", root)]
    changes = []
    for path, script in paths:
        refusal = replace_refusal(path, "host-launcher", protected=[root], overwrite=_legacy(path))
        if refusal is None:
            changes.append(_write(path, _launcher(root, script).encode("utf-8"), "resolve"))
        elif _same_folder(Path(os.path.realpath(path)), root / "resolve" / "Fusion" / "Scripts" / script):
            changes.append(Change("keep", path, owner="resolve", note="linked by hand to this checkout's script"))
        else:
            refusals.append(f"{refusal}: rename or move it, then install again")
    return changes


_PLANNERS = {"nuke": _nuke_changes, "houdini": _houdini_changes, "resolve": _resolve_changes}


# ---------------------------------------------------------------- the bridge config and the manifest
def _load_json(path: Path, data: Optional[bytes], what: str) -> Dict[str, object]:
    try:
        value = json.loads(data.decode("utf-8")) if data is not None else {}
    except ValueError as exc:
        raise InstallError(f"{what} {path} is not readable JSON ({exc}): fix or remove it") from None
    if not isinstance(value, dict):
        raise InstallError(f"{what} {path} is not a JSON object: fix or remove it")
    return value


def _dump(data: Mapping[str, object]) -> bytes:
    return (json.dumps(data, indent=2) + "\n").encode("utf-8")


def _bridge_changes(layout: Layout, root: Path, manifest: Dict[str, object], remove: bool, engine: str,
                    refusals: List[str]) -> List[Change]:
    """Install: the bridge config names this engine (its previous bytes go into the manifest). Uninstall: the
    file as it was before install when nobody changed it since; else the engine setting it had (or none)."""
    path = layout.bridge_config()
    try:
        target, note = _edit_target(path, root)
    except InstallError as exc:
        refusals.append(str(exc))
        return []
    data = _read(target)
    config = _load_json(path, data, "bridge config")
    record = manifest.get("bridge")
    record = record if isinstance(record, dict) and record.get("path") == str(path) else None
    if not remove:
        if record is None:
            known = config.get("installed_by") != MARKER  # a first-release install recorded nothing before it
            record = {"path": str(path), "before": data.decode("utf-8") if data is not None and known else None,
                      "known": known}
        updated = {**config, "engine": engine, "installed_by": MARKER}
        if data is not None and config.get("installed_by") != MARKER:  # the user's file: it says what it held
            updated[_ENGINE_BEFORE] = config.get("engine")
        new = _dump(updated)
        record["after"] = new.decode("utf-8")
        manifest["bridge"] = record
        return [_write(path, new, "bridge", target, note)]
    if config.get("installed_by") != MARKER:
        return []
    if record is not None and record.get("known") and data is not None and data.decode("utf-8") == record.get("after"):
        before = record.get("before")
        if before is None:
            return [Change("remove", path, owner="bridge", before=data)]
        return [Change("write", path, str(before).encode("utf-8"), "bridge", note, target, data)]
    rest = {k: v for k, v in config.items() if k not in ("engine", "installed_by", _ENGINE_BEFORE)}
    previous = _load_json(layout.manifest(), str(record["before"]).encode("utf-8"), "the bridge config recorded in") \
        if record is not None and record.get("before") is not None else {}
    if "engine" in previous:
        rest["engine"] = previous["engine"]
    elif isinstance(config.get(_ENGINE_BEFORE), str):  # the install record is gone: the file itself says
        rest["engine"] = config[_ENGINE_BEFORE]
    if not rest and (record is None or record.get("before") is None) and _ENGINE_BEFORE not in config:
        return [Change("remove", path, owner="bridge", before=data)]
    return [Change("write", path, _dump(rest), "bridge", note, target, data)]


def _read_manifest(layout: Layout, root: Path) -> Dict[str, object]:
    path = layout.manifest()
    if not os.path.lexists(path):
        return {KIND_KEY: "install-manifest", "created": {}}
    refusal = replace_refusal(path, "install-manifest", protected=[root])
    if refusal is not None:
        raise InstallError(f"{refusal}: move it away, then run the command again")
    manifest = _load_json(path, _read(path), "install record")
    if not isinstance(manifest.get("created"), dict):
        manifest["created"] = {}
    return manifest


def _created(manifest: Mapping[str, object], owner: str) -> List[str]:
    created = manifest.get("created")
    items = created.get(owner) if isinstance(created, dict) else None
    return [str(item) for item in items] if isinstance(items, list) else []


def _new_folders(path: Path) -> List[Path]:
    """The folders above ``path`` that do not exist yet, outermost first (install creates them)."""
    missing = []
    for folder in path.parents:
        if os.path.lexists(folder):
            break
        missing.append(folder)
    return missing[::-1]


_WHOLE_FILES = ("houdini", "resolve")
"""The hosts whose installed files are whole files of the installer's (the Nuke block and the bridge config are
parts of a user's file)."""


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _edited_since(manifest: Mapping[str, object], changes: Sequence[Change], remove: bool,
                  refusals: List[str]) -> List[Change]:
    """``changes`` without those that would replace or remove an installed file changed since install wrote it
    (the manifest's digest of what it wrote): install refuses (in ``refusals``), uninstall leaves the file."""
    written = manifest.get("written")
    written = written if isinstance(written, dict) else {}
    kept = []
    for change in changes:
        recorded = written.get(str(change.path))
        if change.owner in _WHOLE_FILES and change.action in ("write", "remove") and isinstance(recorded, str) \
                and isinstance(change.before, bytes) and _digest(change.before) != recorded:
            if remove:
                kept.append(Change("keep", change.path, owner=change.owner,
                                   note="changed since install: yours now, left in place; delete it by hand"))
            else:
                refusals.append(f"{change.path} was changed since install (by hand?): move your version away, "
                                "then install again")
            continue
        kept.append(change)
    return kept


def _read_only(changes: Sequence[Change]) -> List[str]:
    """Why the files ``changes`` would write or remove may not be: those made read-only (no write permission for
    anyone; a rename would replace them all the same)."""
    found = []
    for change in changes:
        file = change.target or change.path
        try:
            mode = os.lstat(file).st_mode if change.action in ("write", "remove") else None
        except OSError:
            continue
        if mode is not None and stat.S_ISREG(mode) and not mode & 0o222:
            found.append(f"{file} is read-only: make it writable (chmod u+w) to let flashdepth-vfx change it, "
                         "then run the command again")
    return found


def _install_key(host: str, dest: Optional[Path]) -> str:
    """The manifest's name for one install: the host (into the user's folders) or ``host --dest FOLDER``."""
    return host if dest is None else f"{host} --dest {os.path.abspath(dest)}"


def _installs(manifest: Mapping[str, object]) -> List[str]:
    """The installs the manifest records (:func:`_install_key`), in the order they were made."""
    items = manifest.get("installs")
    return [str(item) for item in items] if isinstance(items, list) else []


def _record(manifest: Dict[str, object], changes: Sequence[Change], dest: Optional[Path] = None) -> None:
    """Add to the manifest every file and folder the writes in ``changes`` create (a host's under the key of its
    install into ``dest``)."""
    created = manifest["created"]
    assert isinstance(created, dict)
    for change in changes:
        if change.action != "write" or change.before is not None:
            continue
        key = _install_key(change.owner, dest) if change.owner in HOSTS else change.owner
        items = created.setdefault(key, [])
        for new in [*_new_folders(change.path), change.path]:
            if str(new) not in items:
                items.append(str(new))


def _folder_removals(owners: Sequence[str], manifest: Mapping[str, object], removed: Sequence[Path]) -> List[Change]:
    """The folders ``owners``' install created that the removals leave empty, innermost first: only folders that
    held a removed file (a hand-edited record naming any other folder is not obeyed)."""
    gone = {os.path.abspath(p) for p in removed}
    changes = []
    folders = sorted({f for owner in owners for f in _created(manifest, owner)}, key=lambda f: -f.count(os.sep))
    for folder in folders:
        path = Path(folder)
        inside = os.path.abspath(path).rstrip(os.sep) + os.sep
        if path.is_symlink() or not path.is_dir() or not any(p.startswith(inside) for p in gone):
            continue
        try:
            left = [name for name in os.listdir(path) if os.path.abspath(path / name) not in gone]
        except OSError:
            continue
        if not left:
            changes.append(Change("rmdir", path, owner="folder"))
            gone.add(os.path.abspath(path))
    return changes


def plan(hosts: Sequence[str], layout: Layout, dest: Optional[Path] = None, remove: bool = False,
         engine: Optional[str] = None, skip_absent: bool = False) -> List[Change]:
    """The changes that installing (or removing) ``hosts`` makes; nothing is written. InstallError (one line)
    when any file is in the way; with ``skip_absent`` (``install all``) a host that has never run here (no Houdini
    preferences folder) becomes a ``skip`` line instead."""
    unknown = sorted(set(hosts) - set(HOSTS))
    if unknown:
        raise InstallError(f"unknown host(s) {', '.join(unknown)}: choose from {', '.join(HOSTS)} or all")
    root = project_root()
    manifest = _read_manifest(layout, root)
    refusals: List[str] = []  # why install cannot go ahead, gathered over every host before anything is written
    changes: List[Change] = []
    done = []
    for host in hosts:
        key = _install_key(host, dest)  # (a first release's record names the host alone, for any folder)
        created = _created(manifest, key) + (_created(manifest, host) if key != host else [])
        try:
            changes += _PLANNERS[host](layout, root, dest, remove, created, refusals)
            done.append(host)
        except HostAbsent as exc:
            if not skip_absent or remove:
                raise
            changes.append(Change("skip", layout.home, owner=host, note=str(exc)))
    changes = _edited_since(manifest, changes, remove, refusals)
    if not remove:
        if done:
            changes += _bridge_changes(layout, root, manifest, False, engine or engine_command(), refusals)
    refusals += _read_only(changes)
    if refusals:
        more = f" (and {len(refusals) - 1} more: see --dry-run)" if len(refusals) > 1 else ""
        raise InstallError(f"nothing written: {refusals[0]}{more}")
    written = manifest.setdefault("written", {})
    if not isinstance(written, dict):
        written = manifest["written"] = {}
    for change in changes:
        if change.owner in _WHOLE_FILES and change.action in ("write", "unchanged", "remove"):
            if change.action == "remove":
                written.pop(str(change.path), None)
            elif change.content is not None:
                written[str(change.path)] = _digest(change.content)
    keys = [_install_key(host, dest) for host in done]
    if not remove:
        installs = _installs(manifest)
        manifest["installs"] = installs + [key for key in keys if key not in installs]
        if any(c.action == "write" for c in changes) or manifest["installs"] != installs:
            _record(manifest, changes, dest)
            changes.insert(0, _write(layout.manifest(), _dump(manifest), "manifest"))
            _record(manifest, changes[:1])
            changes[0] = _write(layout.manifest(), _dump(manifest), "manifest")  # it records its own folders too
        return changes
    removed = [c.path for c in changes if c.action == "remove"]
    changes += _folder_removals(keys, manifest, removed)
    created = manifest["created"]
    assert isinstance(created, dict)
    for key in keys:
        created.pop(key, None)
    manifest["installs"] = [key for key in _installs(manifest) if key not in keys]
    left = any(c.action == "keep" for c in changes)  # an edited file stays: its host still uses the bridge config
    if not left and not _still_installed(layout, manifest, keys):  # it serves every install
        bridge = _bridge_changes(layout, root, manifest, True, "", refusals)
        refusals += _read_only(bridge)
        if refusals:
            raise InstallError(f"nothing written: {refusals[0]}")
        changes += bridge
        if os.path.lexists(layout.manifest()):
            changes.append(Change("remove", layout.manifest(), owner="manifest", before=_read(layout.manifest())))
        changes += _folder_removals(["bridge", "manifest"], manifest, [c.path for c in changes if c.action in ("remove", "rmdir")])
    elif os.path.lexists(layout.manifest()):
        update = _write(layout.manifest(), _dump(manifest), "manifest")
        changes += [update] if update.action == "write" else []
    return changes


def _still_installed(layout: Layout, manifest: Mapping[str, object], undone: Sequence[str]) -> bool:
    """Whether any install but the ``undone`` ones still has its files in place: one into the user's folders
    (recorded or not), or a recorded ``--dest`` install."""
    keys = set(HOSTS) | set(_installs(manifest))
    for key in keys - set(undone):
        host, _, dest = key.partition(" --dest ")
        if host in HOSTS and installed(host, layout, Path(dest) if dest else None):
            return True
    return False


def _atomic_write(path: Path, content: bytes) -> None:
    """``content`` into ``path`` through a temporary file beside it, keeping the file's permissions and (where
    this process may: root, ``sudo -E``) its owner. A file with other hard links (a dotfiles copy) is rewritten in
    place instead: a rename would split it from its other names, which would keep the old bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        info: Optional[os.stat_result] = os.stat(path)
    except FileNotFoundError:
        info = None
    else:
        if info.st_nlink > 1:
            with open(path, "r+b") as out:
                out.write(content)
                out.truncate()
                out.flush()
                os.fsync(out.fileno())
            return
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        if info is not None:
            if hasattr(os, "chown") and (info.st_uid, info.st_gid) != (os.getuid(), os.getgid()):
                try:
                    os.chown(tmp, info.st_uid, info.st_gid)
                except PermissionError:
                    pass  # (not root: the file becomes this user's, as any editor's save makes it)
            os.chmod(tmp, stat.S_IMODE(info.st_mode))
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def apply(changes: Sequence[Change]) -> None:
    """Write or remove the planned files and folders, each after checking that it is still as planned; an OSError
    or a file changed since planning becomes one line naming the file."""
    for change in changes:
        if change.action not in ("write", "remove", "rmdir"):
            continue
        file = change.target or change.path
        try:
            if change.action != "rmdir" and change.before is not _UNSET and _read(file) != change.before:
                raise InstallError(f"{file} changed while installing: run the command again")
            if change.action == "write":
                assert change.content is not None
                _atomic_write(file, change.content)
            elif change.action == "remove":
                if file.is_symlink():
                    raise InstallError(f"{file} became a link while installing: run the command again")
                file.unlink()
            elif not change.path.is_symlink():
                change.path.rmdir()
        except OSError as exc:
            raise InstallError(f"cannot {change.action} {file}: {exc.strerror or exc}; "
                               "check the folder's permissions or pass --dest") from None


def installed(host: str, layout: Layout, dest: Optional[Path] = None) -> bool:
    """Whether the installer's files for ``host`` are present in the user's folders (or in ``dest``)."""
    root = project_root()
    if host == "nuke":
        return _nuke_block((dest or layout.nuke_dir()) / "init.py") is not None
    if host == "houdini":
        folders = [dest] if dest else layout.houdini_dirs()
        return any(_ours(f / "packages" / HOUDINI_PACKAGE, "host-package", root) for f in folders)
    folders = [dest] if dest else layout.resolve_dirs()
    return any(_ours(f / s, "host-launcher", root) for f in folders for s in _installed_scripts(f))


def _nuke_block(init: Path) -> Optional[str]:
    """The text of the installer's block in ``init`` (followed through a link), or None (also when it is not a
    regular file: a named pipe would never end)."""
    try:
        if not stat.S_ISREG(os.stat(init).st_mode):
            return None
        text = init.read_bytes().decode("latin-1")
    except OSError:
        return None
    start = text.find(_BLOCK_START)
    end = text.find(_BLOCK_END, start)
    return text[start:end] if start >= 0 and end > start else None


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
    block = _nuke_block(init)
    if block is not None:
        match = re.search(r"pluginAddPath\((.*)\)", block)
        try:
            plugin: Optional[Path] = Path(ast.literal_eval(match.group(1))) if match else None
        except (ValueError, SyntaxError):
            plugin = None
        good = plugin is not None and (plugin / "menu.py").is_file()
        checks.append(Check("nuke", good, f"{init} adds {plugin}" if good else
                            f"{init} points at {plugin}, which has no menu.py: run `flashdepth-vfx hosts install nuke`"))
    else:
        checks.append(Check("nuke", None, f"not installed in {init.parent} (`flashdepth-vfx hosts install nuke`)"))
    packages = [f / "packages" / HOUDINI_PACKAGE for f in layout.houdini_dirs()
                if (f / "packages" / HOUDINI_PACKAGE).is_file()]
    for package in packages:
        root = _package_root(package)
        detail = f"{package} -> {root}" if root is not None else f"{package} sets no FLASHDEPTH_VFX"
        if root is not None and (root / "houdini").is_dir():
            checks.append(Check("houdini", True, detail))
        else:
            problem = detail if root is None else f"{detail}: that folder has no houdini/"
            checks.append(Check("houdini", False, f"{problem}; {_package_advice(layout, package)}"))
    if not packages:
        where = ", ".join(str(f) for f in layout.houdini_dirs()) or f"no houdiniX.Y folder under {layout.houdini_parent()}"
        checks.append(Check("houdini", None, f"not installed ({where}; `flashdepth-vfx hosts install houdini`)"))
    launchers = [f / s for f in layout.resolve_dirs() for s in _installed_scripts(f)
                 if written_kind(f / s) == "host-launcher" or _legacy(f / s)]
    for launcher in launchers:
        target = re.search(r"runpy\.run_path\(('.*?'|\".*?\")", launcher.read_text(encoding="utf-8", errors="replace"))
        script = Path(ast.literal_eval(target.group(1))) if target else None
        good = script is not None and script.is_file()
        checks.append(Check("resolve", good, f"{launcher} -> {script}" if good else
                            f"{launcher} runs {script}, which is missing: run `flashdepth-vfx hosts install resolve`"))
    if not launchers:
        checks.append(Check("resolve", None, f"not installed in {layout.resolve_dirs()[0]} "
                                             "(`flashdepth-vfx hosts install resolve`)"))
    return checks


def _package_advice(layout: Layout, package: Path) -> str:
    """What fixes a Houdini package that does not lead to this checkout: install rewrites its own package as it
    wrote it, but never one changed or written by hand (the user adds the setting, or moves the file away and
    lets install manage it)."""
    install = "run `flashdepth-vfx hosts install houdini`"
    try:
        root = project_root()
        recorded = _read_manifest(layout, root).get("written")
    except InstallError as exc:  # no checkout, or an install record in the way: install would say the same
        return f"{exc}; then {install}"
    if _ours(package, "host-package", root):
        digest = recorded.get(str(package)) if isinstance(recorded, dict) else None
        if digest is None or digest == _digest(_read(package) or b""):
            return install
        return f"it was changed since install: move your version out of packages/, then {install}"
    entry = json.dumps({"FLASHDEPTH_VFX": str(root)})
    return (f"it is not flashdepth-vfx's (written by hand?): add {entry} to its \"env\" list (before any entry "
            f"that uses $FLASHDEPTH_VFX), or move it out of packages/ and {install}")


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

