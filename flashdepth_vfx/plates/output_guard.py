"""What a command may write over: never one of its own inputs, and never a file the project did not write.

Every command that writes files (``render``, ``preview``, ``eval``, ``weights convert``, ``train``; ``farm`` for the
plates its tasks will render) calls :func:`check_outputs` with its planned outputs and its inputs before it writes anything:

- an output that is an input (same real path, or the same file through a hard link) is always refused;
- two outputs that are one file are refused;
- an existing output is replaced only when the project wrote it as the same kind of file (a render's depth
  frame, a preview, eval metrics…), or with ``overwrite``; a folder in its place is always refused.

The project marks what it writes: depth EXRs carry ``flashdepth:*`` metadata, 8-bit images an
``ImageDescription`` of ``flashdepth:<kind>`` (:func:`image_marker`), JSON a top-level ``"flashdepth:kind"``, JSON
lines the same on their first line, and safetensors a ``flashdepth:kind`` metadata entry.
"""
from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from flashdepth_vfx.errors import OutputError, PlateError
from flashdepth_vfx.plates.image_io import probe

OutputKind = Literal["depth", "preview", "eval", "eval-plot", "checkpoint", "train-config", "train-log",
                     "solve-report", "solve-plot", "farm-values"]
KIND_KEY = "flashdepth:kind"
_DESCRIPTION = "ImageDescription"
_MAX_HEADER_BYTES = 16 << 20  # JSON files and safetensors headers larger than this are not the project's


def image_marker(kind: OutputKind) -> dict[str, str]:
    """Metadata that marks an image as written by the project as ``kind`` (kept by PNG, JPEG, TIFF and EXR)."""
    return {_DESCRIPTION: f"flashdepth:{kind}"}


def written_kind(path: str | os.PathLike[str]) -> str | None:
    """The kind of file the project wrote at ``path``, or None (not the project's, unreadable, or missing)."""
    file = Path(path)
    suffix = file.suffix.lower()
    try:
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
        else:
            metadata = probe(file).metadata
            if any(key.startswith("flashdepth:") for key in metadata):
                return "depth"  # every EXR the project writes with flashdepth:* metadata is a render's depth frame
            description = metadata.get(_DESCRIPTION)
            kind = description.partition(":")[2] if isinstance(description, str) and description.startswith("flashdepth:") else None
    except (OSError, ValueError, struct.error, PlateError):  # ValueError: JSON and UTF-8 decoding errors too
        return None
    return kind if isinstance(kind, str) else None


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
        source = real_inputs.get(real) or (inode_inputs.get(inode) if inode is not None else None)
        if source is not None:
            same = "" if os.fspath(source) == os.fspath(output) else f" ({source})"
            raise OutputError(f"Output {output} is also an input{same}: writing it would destroy it; choose another output")
        if real in seen:
            raise OutputError(f"Outputs {seen[real]} and {output} are one file; give each output its own name")
        seen[real] = output
        if inode is None:
            continue
        if not output.is_file():
            raise OutputError(f"Output {output} exists and is not a file; choose another output")
        if not overwrite and written_kind(output) != kind:
            foreign.append((output, kind))
    if foreign:
        more = f" (and {len(foreign) - 1} more)" if len(foreign) > 1 else ""
        raise OutputError(
            f"{foreign[0][0]}{more} exists and was not written by flashdepth-vfx as a {foreign[0][1]} file; "
            "pass --overwrite to replace it, or choose another output"
        )
