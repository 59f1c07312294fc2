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
from flashdepth_vfx.solve.cameras import USD_SUFFIXES, _open_stage
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


def _csv_rows(path: Path, columns: tuple[str, ...]) -> tuple[list[str] | None, list[tuple[int, list[float]]]]:
    """The header (lower-case names, or None) and the numeric rows (line number, values) of a CSV file."""
    rows = [(n, r) for n, r in enumerate(csv.reader(io.StringIO(_read_text(path))), 1) if r and "".join(r).strip()]
    rows = [(n, r) for n, r in rows if not r[0].lstrip().startswith("#")]
    header = None
    if rows:
        try:
            float(rows[0][1][0])
        except ValueError:
            header = [c.strip().lower() for c in rows[0][1]]
            rows = rows[1:]
    parsed = []
    for number, row in rows:
        try:
            parsed.append((number, [float(v) for v in row if v.strip()]))
        except ValueError:
            raise SolveError(f"{path} line {number}: not numbers; expected columns {','.join(columns)}") from None
    if not parsed:
        raise SolveError(f"{path} holds no rows; expected columns {','.join(columns)}")
    return header, parsed


def _pick(header: list[str] | None, names: tuple[str, ...], path: Path) -> list[int]:
    """Column indices of ``names`` by header, or the first columns without a header."""
    if header is None:
        return list(range(len(names)))
    missing = [n for n in names if n not in header]
    if missing:
        raise SolveError(f"{path}: the header has no column {', '.join(missing)} (it has {', '.join(header)})")
    return [header.index(n) for n in names]


def read_points_csv(path: Path) -> np.ndarray:
    """``x,y,z`` rows (a header naming x, y, z may put them anywhere among other columns) -> (N, 3)."""
    header, rows = _csv_rows(path, ("x", "y", "z"))
    columns = _pick(header, ("x", "y", "z"), path)
    short = [n for n, r in rows if len(r) <= max(columns)]
    if short:
        raise SolveError(f"{path} line {short[0]}: fewer than 3 numbers; expected x,y,z")
    return np.array([[r[c] for c in columns] for _, r in rows], np.float64)


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

    stage = _open_stage(path)
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
    header, rows = _csv_rows(file, ("frame", "x", "y", "distance"))
    kind = "z" if header is not None and "z" in header and "distance" not in header else "distance"
    columns = _pick(header, ("frame", "x", "y", kind), file)
    short = [n for n, r in rows if len(r) <= max(columns)]
    if short:
        raise SolveError(f"{file} line {short[0]}: fewer than 4 numbers; expected frame,x,y,{kind}")
    data = np.array([[r[c] for c in columns] for _, r in rows], np.float64)
    bad = [n for (n, _), v in zip(rows, data[:, 3]) if not (np.isfinite(v) and v > 0)]
    if bad:
        raise SolveError(f"{file} line {bad[0]}: the {kind} must be a positive number")
    xy = data[:, 1:3].copy()
    if origin == "bottom-left":
        if image_height is None:
            raise SolveError("bottom-left anchor coordinates need the image height")
        xy[:, 1] = image_height - xy[:, 1]
    return Anchors(data[:, 0].round().astype(int), xy, data[:, 3], kind, file.name)
