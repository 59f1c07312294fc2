"""What a command may write over or delete: never one of its own inputs, never the project's own files, never a
link, and never a file the project did not write.

The one rule, :func:`replace_refusal` (why a file may not be replaced or deleted, or None), for one path:

- a path inside a protected tree (the project's own checkout), reached directly or through a linked folder: never;
  :func:`check_outputs` protects the project's own code (:func:`own_folders`) for every command;
- an input (same real path, or the same file through a hard link): never;
- a link (to a file, a folder, or nothing): never; the link and what it points at are the user's;
- a folder or anything else that is not a regular file: never;
- an existing file the project did not write as the same kind of file (a render's depth frame, a preview, eval
  metrics, an installed host file…): only with ``overwrite``; nor a read-only one (locked by someone), even of the
  project's (:func:`check_outputs`). Nothing there: it may be written.

Every command that writes files (``render``, ``preview``, ``eval``, ``weights convert``, ``train``; ``farm`` for the
plates its tasks will render) calls :func:`check_outputs` with its planned outputs and its inputs before it writes
anything (two outputs that are one file are refused too); ``hosts install`` / ``uninstall`` ask
:func:`replace_refusal` for every file they would write or remove, with the checkout as the protected tree.

The project marks what it writes: depth EXRs carry ``flashdepth:*`` metadata, 8-bit images an
``ImageDescription`` of ``flashdepth:<kind>`` (:func:`image_marker`), JSON a top-level ``"flashdepth:kind"``, JSON
lines the same on their first line, safetensors a ``flashdepth:kind`` metadata entry, and Python sources a first
line ``# flashdepth:kind=<kind>`` (:func:`source_marker`), as do YAML files (farm job templates).

Standard library only at import (the host installer imports it in a host's Python); reading an image's metadata
loads OpenImageIO when it is needed.
"""
from __future__ import annotations

import json
import os
import re
import stat
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import Literal, Optional

from flashdepth_vfx.errors import OutputError, PlateError

OutputKind = Literal["depth", "preview", "eval", "eval-plot", "checkpoint", "train-config", "train-log",
                     "solve-report", "solve-plot", "host-launcher", "host-package", "install-manifest",
                     "farm-values", "farm-template", "version", "rendering", "shown"]
KIND_KEY = "flashdepth:kind"
_SOURCE_KIND = re.compile(rb"# flashdepth:kind=([A-Za-z0-9_-]+)(?:\s|$)")
_DESCRIPTION = "ImageDescription"
_MAX_HEADER_BYTES = 16 << 20  # JSON files and safetensors headers larger than this are not the project's


def image_marker(kind: OutputKind) -> dict[str, str]:
    """Metadata that marks an image as written by the project as ``kind`` (kept by PNG, JPEG, TIFF and EXR)."""
    return {_DESCRIPTION: f"flashdepth:{kind}"}


def source_marker(kind: OutputKind) -> str:
    """The first line that marks a Python source the project writes as ``kind``."""
    return f"# {KIND_KEY}={kind}"


def written_kind(path: str | os.PathLike[str]) -> str | None:
    """The kind of file the project wrote at ``path``, or None (not the project's, unreadable, missing, or not a
    regular file)."""
    file = Path(path)
    suffix = file.suffix.lower()
    try:
        if not stat.S_ISREG(os.stat(file).st_mode):  # a named pipe or a device would never end
            return None
        if suffix == ".json":
            if file.stat().st_size > _MAX_HEADER_BYTES:
                return None
            data = json.loads(file.read_text(encoding="utf-8"))
            kind = data.get(KIND_KEY) if isinstance(data, dict) else None
        elif suffix == ".jsonl":
            with open(file, encoding="utf-8") as handle:
                first = handle.readline(_MAX_HEADER_BYTES)
            data = json.loads(first) if first.strip() else None
            kind = data.get(KIND_KEY) if isinstance(data, dict) else None
        elif suffix == ".safetensors":
            with open(file, "rb") as handle:
                (size,) = struct.unpack("<Q", handle.read(8))
                header = json.loads(handle.read(size)) if 0 < size <= _MAX_HEADER_BYTES else {}
            meta = header.get("__metadata__") if isinstance(header, dict) else None
            kind = meta.get(KIND_KEY) if isinstance(meta, dict) else None
        elif suffix in (".py", ".yaml", ".yml"):  # a first-line comment (a farm job template is YAML)
            with open(file, "rb") as handle:
                match = _SOURCE_KIND.match(handle.readline(4096))
            kind = match.group(1).decode("ascii") if match else None
        else:
            from flashdepth_vfx.plates.image_io import probe  # OpenImageIO, loaded only to read an image

            metadata = probe(file).metadata
            if any(key.startswith("flashdepth:") for key in metadata):
                return "depth"  # every EXR the project writes with flashdepth:* metadata is a render's depth frame
            description = metadata.get(_DESCRIPTION)
            kind = description.partition(":")[2] if isinstance(description, str) and description.startswith("flashdepth:") else None
    except (OSError, ValueError, struct.error, PlateError):  # ValueError: JSON and UTF-8 decoding errors too
        return None
    return kind if isinstance(kind, str) else None


def _inside(path: Path, roots: Iterable[str | os.PathLike[str]]) -> Optional[Path]:
    """The root (of ``roots``) that ``path`` lies in, spelled as given or reached through links, or None."""
    spelled, real = os.path.abspath(path), os.path.realpath(path)
    for root in roots:
        for candidate, base in ((spelled, os.path.abspath(root)), (real, os.path.realpath(root))):
            if candidate == base or candidate.startswith(base.rstrip(os.sep) + os.sep):
                return Path(root)
    return None


def own_folders() -> list[Path]:
    """The project's own code, which no command writes into: the package, and beside it in a checkout the host
    adapters (``nuke/``, ``houdini/``, ``resolve/``) that hosts run from."""
    package = Path(__file__).resolve().parent.parent
    return [package] + [folder for folder in (package.parent / host for host in ("nuke", "houdini", "resolve"))
                        if folder.is_dir()]


def replace_refusal(path: str | os.PathLike[str], kind: Optional[OutputKind], *,
                    inputs: Iterable[str | os.PathLike[str] | None] = (),
                    protected: Iterable[str | os.PathLike[str]] = (), overwrite: bool = False) -> Optional[str]:
    """Why the project may not replace (or delete) the file at ``path``, in one line; None when it may.

    The rule of the module docstring. ``kind`` None: the caller edits the file, keeping every byte outside its own
    marked part (a block in a user's ``init.py``), so who wrote the file does not matter. ``inputs`` may hold None
    and missing files. Links are judged as links (never followed); standard library only.
    """
    file = Path(path)
    root = _inside(file, protected)
    if root is not None:
        return f"{file} is inside flashdepth-vfx's own folder {root}; it is never written or removed"
    real, inode = _identity(file)
    for item in inputs:
        if item is None:
            continue
        other_real, other_inode = _identity(Path(item))
        if other_real == real or (inode is not None and other_inode == inode):
            return f"{file} is an input{'' if os.fspath(item) == os.fspath(file) else f' ({item})'}; it is never written"
    try:
        mode = os.lstat(file).st_mode
    except (FileNotFoundError, NotADirectoryError):  # nothing there
        return None
    except OSError as exc:
        return f"{file} cannot be checked ({exc.strerror or exc})"
    if stat.S_ISLNK(mode):
        return f"{file} is a link (to {os.readlink(file)}); a link and what it points at are the user's"
    if not stat.S_ISREG(mode):
        return f"{file} exists and is not a file"
    if kind is not None and not overwrite and written_kind(file) != kind:
        return f"{file} exists and was not written by flashdepth-vfx as a {kind} file"
    return None


def _identity(path: Path) -> tuple[str, tuple[int, int] | None]:
    """(real path, (device, inode) when it exists): two paths are one file when either matches."""
    if "\0" in os.fspath(path):
        raise OutputError(f"{os.fspath(path)!r} is not a usable file name (it holds a NUL character)")
    real = os.path.realpath(path)
    try:
        stat = os.stat(path)
    except (OSError, ValueError):
        return real, None
    return real, (stat.st_dev, stat.st_ino)


def check_outputs(
    outputs: Iterable[tuple[str | os.PathLike[str], OutputKind]],
    inputs: Iterable[str | os.PathLike[str] | None],
    overwrite: bool = False,
) -> None:
    """Raise OutputError (one line, nothing written yet) unless every output may be written; see the module docstring.

    ``outputs`` are (file to write, its kind) pairs; ``inputs`` may hold None (an option not given) and files that
    do not exist (a missing plate's name).
    """
    own = own_folders()
    real_inputs: dict[str, Path] = {}
    inode_inputs: dict[tuple[int, int], Path] = {}
    for item in inputs:
        if item is None:
            continue
        real, inode = _identity(Path(item))
        real_inputs.setdefault(real, Path(item))
        if inode is not None:
            inode_inputs.setdefault(inode, Path(item))
    seen: dict[str, Path] = {}
    foreign: list[tuple[Path, OutputKind]] = []
    for item, kind in outputs:
        output = Path(item)
        real, inode = _identity(output)
        root = _inside(output, own)
        if root is not None:
            raise OutputError(f"Output {output} is inside flashdepth-vfx's own folder {root}, which is never written "
                              "(even with --overwrite); choose another output")
        source = real_inputs.get(real) or (inode_inputs.get(inode) if inode is not None else None)
        if source is not None:
            same = "" if os.fspath(source) == os.fspath(output) else f" ({source})"
            raise OutputError(f"Output {output} is also an input{same}: writing it would destroy it; choose another output")
        if real in seen:
            raise OutputError(f"Outputs {seen[real]} and {output} are one file; give each output its own name")
        seen[real] = output
        refusal = replace_refusal(output, None)  # a link or a folder is never replaced, even with --overwrite
        if refusal is not None:
            raise OutputError(f"Output {refusal}; choose another output")
        if inode is not None and not overwrite and written_kind(output) != kind:
            foreign.append((output, kind))
        elif inode is not None and not overwrite and not os.stat(output).st_mode & 0o222:
            raise OutputError(f"{output} is read-only (locked, approved?): pass --overwrite to replace it anyway, "
                              "or choose another output")
    if foreign:
        more = f" (and {len(foreign) - 1} more)" if len(foreign) > 1 else ""
        raise OutputError(
            f"{foreign[0][0]}{more} exists and was not written by flashdepth-vfx as a {foreign[0][1]} file; "
            "pass --overwrite to replace it, or choose another output"
        )
