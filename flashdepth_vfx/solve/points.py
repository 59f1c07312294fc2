"""Scene references for the solve: tracked 3D points (USD ``Points``, OBJ vertices, CSV ``x,y,z``) and anchors
(CSV ``frame,x,y,distance``: a surveyed, LiDAR or known-object distance at a plate pixel).

Anchor pixels are plate (data window) pixel coordinates, x right and y down from the top-left corner, pixel centres at
half-integers (``--anchor-origin bottom-left`` for Nuke-style coordinates, y up). ``distance`` is measured along the
ray from the camera; a header naming the last column ``z`` gives camera-space depth instead.
"""
from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flashdepth_vfx.errors import SolveError
from flashdepth_vfx.solve.cameras import USD_SUFFIXES, open_stage
from flashdepth_vfx.solve.defaults import ANCHOR_ORIGINS



@dataclass(frozen=True)
class Anchors:
    """Per-pixel references: ``frames`` (M,), pixel ``xy`` (M, 2) top-left origin, ``values`` (M,) as ``kind``."""

    frames: np.ndarray
    xy: np.ndarray
    values: np.ndarray
    kind: str  # "distance" (along the ray) or "z" (camera-space depth)
    source: str


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise SolveError(f"{path} does not exist; check the path")
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SolveError(f"Cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None


def _csv_table(path: Path, names: tuple[str, ...]) -> tuple[list[str] | None, np.ndarray]:
    """The header (lower-case names, or None) and the columns ``names`` as floats (N, len(names)).

    With a header the columns are found by name (others, such as a track name, are ignored); without one they are
    the first ``len(names)`` columns.
    """
    rows = [(n, r) for n, r in enumerate(csv.reader(io.StringIO(_read_text(path))), 1) if r and "".join(r).strip()]
    rows = [(n, r) for n, r in rows if not r[0].lstrip().startswith("#")]
    header = None
    if rows:
        try:
            float(rows[0][1][0])
        except ValueError:
            header = [c.strip().lower() for c in rows[0][1]]
            rows = rows[1:]
    if header is None:
        columns = list(range(len(names)))
    else:
        missing = [n for n in names if n not in header]
        if missing:
            raise SolveError(f"{path}: the header has no column {', '.join(missing)} (it has {', '.join(header)})")
        columns = [header.index(n) for n in names]
    if not rows:
        raise SolveError(f"{path} holds no rows; expected columns {','.join(names)}")
    table = []
    for number, row in rows:
        if len(row) <= max(columns):
            raise SolveError(f"{path} line {number}: fewer than {max(columns) + 1} columns; expected {','.join(names)}")
        try:
            table.append([float(row[c]) for c in columns])
        except ValueError:
            raise SolveError(f"{path} line {number}: not numbers; expected columns {','.join(names)}") from None
    return header, np.asarray(table, np.float64)


def read_points_csv(path: Path) -> np.ndarray:
    """``x,y,z`` rows (a header naming x, y, z may put them anywhere among other columns) -> (N, 3)."""
    return _csv_table(path, ("x", "y", "z"))[1]


def read_points_obj(path: Path) -> np.ndarray:
    """The ``v x y z`` vertices of an OBJ file (what camera trackers export for their point clouds) -> (N, 3)."""
    vertices = []
    for number, line in enumerate(_read_text(path).splitlines(), 1):
        parts = line.split()
        if parts[:1] == ["v"]:
            try:
                vertices.append([float(v) for v in parts[1:4]])
            except ValueError:
                raise SolveError(f"{path} line {number}: a vertex with non-numbers") from None
            if len(vertices[-1]) != 3:
                raise SolveError(f"{path} line {number}: a vertex needs x y z")
    if not vertices:
        raise SolveError(f"{path} holds no vertices ('v x y z' lines); export the tracked points as OBJ")
    return np.asarray(vertices, np.float64)


def read_points_usd(path: Path, time: float | None = None) -> np.ndarray:
    """World positions of every ``UsdGeom.Points`` prim of the stage (at ``time``, default time otherwise)."""
    from pxr import Usd, UsdGeom

    stage = open_stage(path)
    code = Usd.TimeCode.Default() if time is None else Usd.TimeCode(time)
    clouds = []
    for prim in stage.Traverse():
        if not prim.IsA(UsdGeom.Points):
            continue
        local = np.asarray(UsdGeom.Points(prim).GetPointsAttr().Get(code) or [], np.float64).reshape(-1, 3)
        if not len(local):
            continue
        matrix = np.asarray(UsdGeom.Xformable(prim).ComputeLocalToWorldTransform(code), np.float64)
        clouds.append(np.c_[local, np.ones(len(local))] @ matrix)  # row vectors, as Gf
    if not clouds:
        raise SolveError(f"{path} holds no UsdGeom.Points with points; export the tracked points as a point cloud")
    return np.concatenate(clouds)[:, :3]


def read_points(path: str | os.PathLike[str]) -> np.ndarray:
    """Tracked 3D points (N, 3) in the scene's units from USD, OBJ or CSV (by extension)."""
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix in USD_SUFFIXES:
        points = read_points_usd(file)
    elif suffix == ".obj":
        points = read_points_obj(file)
    elif suffix in (".csv", ".txt"):
        points = read_points_csv(file)
    else:
        raise SolveError(f"{file}: unknown point file type; use USD Points, .obj vertices or CSV x,y,z")
    finite = np.all(np.isfinite(points), axis=1)
    if not finite.all():
        raise SolveError(f"{file}: {int((~finite).sum())} points are not finite numbers; fix the export")
    return points


def read_anchors(path: str | os.PathLike[str], image_height: int | None = None,
                 origin: str = "top-left") -> Anchors:
    """Anchors from CSV ``frame,x,y,distance`` (or ``frame,x,y,z`` by header); ``origin`` of the pixel coordinates.

    ``bottom-left`` coordinates (y up) are flipped with ``image_height`` to the top-left convention.
    """
    if origin not in ANCHOR_ORIGINS:
        raise SolveError(f"Unknown anchor origin {origin!r}: use {' or '.join(ANCHOR_ORIGINS)}")
    file = Path(path)
    text = _read_text(file).lower()
    first = text.lstrip().splitlines()[0] if text.strip() else ""
    kind = "z" if "z" in [c.strip() for c in first.split(",")] and "distance" not in first else "distance"
    _, data = _csv_table(file, ("frame", "x", "y", kind))
    bad = np.flatnonzero(~(np.isfinite(data[:, 3]) & (data[:, 3] > 0)))
    if bad.size:
        raise SolveError(f"{file}: row {int(bad[0]) + 1} has a {kind} that is not a positive number")
    xy = data[:, 1:3].copy()
    if origin == "bottom-left":
        if image_height is None:
            raise SolveError("bottom-left anchor coordinates need the image height")
        xy[:, 1] = image_height - xy[:, 1]
    return Anchors(data[:, 0].round().astype(int), xy, data[:, 3], kind, file.name)
