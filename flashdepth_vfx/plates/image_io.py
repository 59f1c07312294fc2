"""The one wrapper around OpenImageIO: read plates, write depth EXRs.

OpenImageIO never raises: it returns None/False and keeps an error string (a truncated EXR opens
fine and only its pixel read fails). Every call goes through :func:`_checked`, which turns a failed
result, or a pending error, into a one-line PlateError/OutputError naming the file.
"""
from __future__ import annotations

import json
import os
import secrets
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

import numpy as np
import OpenImageIO as oiio

from flashdepth_vfx.errors import OutputError, PlateError

T = TypeVar("T")
PathLike = str | os.PathLike[str]

# Attributes that describe the file's encoding or layout rather than the shot: never carried over.
_NOT_CARRIED = frozenset({
    "compression", "name", "type", "version", "tiles", "textureformat", "wrapmodes", "multiView",
    "PixelAspectRatio", "screenWindowCenter", "screenWindowWidth", "Orientation", "planarconfig",
    "ICCProfile", "colorInteropID", "Software",
})
_NOT_CARRIED_PREFIXES = ("oiio:", "openexr:", "tiff:", "dpx:", "png:", "jpeg:")
# Where files say what colour space their pixels are in (OpenImageIO maps EXR/PNG/JPEG hints here).
_COLORSPACE_ATTRIBUTES = ("oiio:ColorSpace", "colorInteropID")
_PIXEL_TYPES = {
    "half": "half", "float": "float", "double": "float",
    "uint8": "uint8", "int8": "uint8", "uint16": "uint16", "int16": "uint16", "uint32": "uint32", "int32": "uint32",
}
_MAX_ERROR_CHARS = 300


@dataclass(frozen=True)
class PlateInfo:
    """What a plate file holds: windows, channels, pixel type, colour hint and carried metadata."""

    path: Path
    width: int
    height: int
    x: int
    y: int
    full_x: int
    full_y: int
    full_width: int
    full_height: int
    pixel_aspect: float
    channels: tuple[str, ...]
    rgb_channels: tuple[str, ...]
    alpha_channel: str | None
    pixel_type: str
    is_float: bool
    colorspace: str | None
    part_index: int
    part_name: str | None
    num_parts: int
    metadata: Mapping[str, Any]
    metadata_types: Mapping[str, str] = field(default_factory=dict)  # name -> OpenImageIO type ("timecode", "float[8]", ...)


@dataclass
class Plate:
    """Pixels of one plate: float32 RGB (H, W, 3) of the data window, optional alpha (H, W)."""

    info: PlateInfo
    rgb: np.ndarray
    alpha: np.ndarray | None
    nonfinite: int


def _error_text(handle: Any) -> str:
    """The pending OpenImageIO error (the handle's, or the global one), as one short line."""
    try:
        text = handle.geterror() if handle is not None else oiio.geterror()
    except UnicodeDecodeError:  # damaged headers can leave undecodable bytes in the message
        text = "OpenImageIO reported an unreadable error message"
    line = " ".join(str(text).split()) or "OpenImageIO gave no reason"
    return line if len(line) <= _MAX_ERROR_CHARS else line[: _MAX_ERROR_CHARS - 1] + "…"


def _checked(result: T | None, handle: Any, failure: str, error: type[PlateError] | type[OutputError] = PlateError) -> T:
    """Return an OpenImageIO result, or raise ``error(failure: reason)`` if it failed or left an error."""
    if result is None or result is False or (handle is not None and handle.has_error):
        raise error(f"{failure}: {_error_text(handle)}")
    return result


@lru_cache(maxsize=1)
def readable_extensions() -> frozenset[str]:
    """File extensions (lower case, no dot) that this OpenImageIO build can read."""
    listing = oiio.get_string_attribute("extension_list")  # "openexr:exr,sxr;tiff:tif,tiff;..."
    return frozenset(ext.lower() for fmt in listing.split(";") for ext in fmt.partition(":")[2].split(",") if ext)


@contextmanager
def _open_input(path: Path) -> Iterator[Any]:
    """An open ImageInput (closed afterwards); PlateError when the file is missing or not an image."""
    if not path.is_file():
        if path.is_symlink():
            raise PlateError(f"{path} is a symbolic link that cannot be followed (it loops or points to nothing); fix or remove it")
        raise PlateError(f"Plate not found: {path}")
    handle = _checked(oiio.ImageInput.open(str(path)), None, f"Cannot read {path} (damaged or not an image)")
    try:
        yield handle
    finally:
        handle.close()


def _colour_channels(names: tuple[str, ...], layer: str | None) -> tuple[tuple[str, ...], str | None] | None:
    """(RGB or grey channel names, alpha name) of ``layer`` (None: the unlayered ones), or None if it has none."""
    prefix = f"{layer}." if layer else ""
    alpha = prefix + "A" if prefix + "A" in names else None
    if all(prefix + c in names for c in "RGB"):
        return (prefix + "R", prefix + "G", prefix + "B"), alpha
    if prefix + "Y" in names:
        return (prefix + "Y",), alpha
    return None


def _first_layer_with_colour(names: tuple[str, ...]) -> tuple[tuple[str, ...], str | None] | None:
    """(layer.R/G/B names, layer.A or None) of the first layer that has all three, or None."""
    layers = dict.fromkeys(name.rpartition(".")[0] for name in names if "." in name)
    for layer in layers:
        found = _colour_channels(names, layer)
        if found is not None and len(found[0]) == 3:
            return found
    return None


def _part_name(spec: Any) -> str | None:
    return spec.get_string_attribute("oiio:subimagename") or spec.get_string_attribute("name") or None


def _candidate_parts(specs: list[Any], path: Path, part: int | str | None) -> list[int]:
    """Indices of the parts ``part`` allows: all of them (None), one by index, or one by name."""
    if part is None:
        return list(range(len(specs)))
    if isinstance(part, int):
        if not 0 <= part < len(specs):
            raise PlateError(f"{path} has {len(specs)} part(s) (0-{len(specs) - 1}); part {part} does not exist")
        return [part]
    names = [_part_name(spec) for spec in specs]
    if part in names:
        return [names.index(part)]
    if part.strip().isdecimal():  # "--part 0" on the command line: an index, unless a part has that name
        return _candidate_parts(specs, path, int(part))
    listed = ", ".join(repr(n) for n in names if n) or "none named"
    raise PlateError(f"{path} has no part named {part!r}; its parts: {listed} (or give an index, 0-{len(specs) - 1})")


def _select_part(specs: list[Any], path: Path, part: int | str | None, layer: str | None) -> tuple[int, tuple[str, ...], str | None]:
    """Pick the part and its colour channels: (part index, rgb channel names, alpha name).

    Without colour channels (a depth or matte file) the first allowed part comes back with no rgb
    channels; a ``layer`` that does not exist is an error.
    """
    usable = [index for index in _candidate_parts(specs, path, part) if not specs[index].deep]
    if not usable:
        raise PlateError(f"{path} holds deep data, which cannot be used as a plate; flatten it first (e.g. Nuke DeepToImage)")
    for index in usable:  # plain R,G,B (or grey Y) first, in part order
        found = _colour_channels(tuple(specs[index].channelnames), layer)
        if found is not None:
            return index, found[0], found[1]
    if layer is not None:
        names = ", ".join(dict.fromkeys(name for index in usable for name in specs[index].channelnames))
        raise PlateError(f"{path} has no layer {layer!r} with R,G,B (its channels: {names}); pick another layer")
    for index in usable:  # then the first layer with R,G,B
        found = _first_layer_with_colour(tuple(specs[index].channelnames))
        if found is not None:
            return index, found[0], found[1]
    return usable[0], (), None


def _part_specs(handle: Any) -> list[Any]:
    return [handle.spec(index, 0) for index in range(handle.spec().get_int_attribute("oiio:subimages", 1))]


def _pixel_type(spec: Any, channel_index: int) -> str:
    """The pixel type of one channel, as PlateInfo names it."""
    formats = spec.channelformats
    type_name = str(formats[channel_index] if formats else spec.format)
    return _PIXEL_TYPES.get(type_name, "float")


def _carried_metadata(spec: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The part's attributes worth carrying to outputs (timecode, camera, custom), with their types."""
    values: dict[str, Any] = {}
    types: dict[str, str] = {}
    for attribute in spec.extra_attribs:
        name = attribute.name
        if name in _NOT_CARRIED or name.startswith(_NOT_CARRIED_PREFIXES):
            continue
        values[name] = attribute.value
        types[name] = str(attribute.type)
    return values, types


def _info(handle: Any, path: Path, part: int | str | None, layer: str | None) -> PlateInfo:
    specs = _part_specs(handle)
    index, rgb_channels, alpha = _select_part(specs, path, part, layer)
    spec = specs[index]
    channels = tuple(spec.channelnames)
    colorspace = next((spec.get_string_attribute(a) for a in _COLORSPACE_ATTRIBUTES if spec.get_string_attribute(a)), None)
    metadata, types = _carried_metadata(spec)
    pixel_type = _pixel_type(spec, channels.index(rgb_channels[0]) if rgb_channels else 0)
    return PlateInfo(
        path=path, width=spec.width, height=spec.height, x=spec.x, y=spec.y,
        full_x=spec.full_x, full_y=spec.full_y, full_width=spec.full_width, full_height=spec.full_height,
        pixel_aspect=spec.get_float_attribute("PixelAspectRatio", 1.0),
        channels=channels, rgb_channels=rgb_channels, alpha_channel=alpha,
        pixel_type=pixel_type, is_float=pixel_type in ("half", "float"), colorspace=colorspace,
        part_index=index, part_name=_part_name(spec), num_parts=len(specs),
        metadata=MappingProxyType(metadata), metadata_types=MappingProxyType(types),
    )


def probe(path: PathLike, part: int | str | None = None, layer: str | None = None) -> PlateInfo:
    """Read a header: which part and channels would be used, windows, pixel type, metadata.

    Files without colour channels (depth outputs, mattes) probe fine with ``rgb_channels == ()``;
    only :func:`read_plate` refuses them.
    """
    file = Path(path)
    with _open_input(file) as handle:
        return _info(handle, file, part, layer)


def read_plate(path: PathLike, part: int | str | None = None, layer: str | None = None, half: bool = False) -> Plate:
    """Read a plate's RGB (grey replicated, integers normalised to [0, 1]) and alpha as float32 (``half``: half-float
    files as float16, as stored, half the bytes to upload to a GPU).

    Non-finite values are replaced by 0 and counted in ``Plate.nonfinite``. Refuses (PlateError
    naming the file) missing files, non-images, deep data, files without colour channels and
    truncated or corrupt pixels.
    """
    file = Path(path)
    with _open_input(file) as handle:
        info = _info(handle, file, part, layer)
        if not info.rgb_channels:
            raise PlateError(
                f"{file} has no colour channels R,G,B (or Y) (it has: {', '.join(info.channels)}); pick another part or layer"
            )
        wanted = [info.channels.index(name) for name in info.rgb_channels + ((info.alpha_channel,) if info.alpha_channel else ())]
        first, last = min(wanted), max(wanted) + 1
        pixels = _checked(
            handle.read_image(info.part_index, 0, first, last, "half" if half and info.pixel_type == "half" else "float"), handle,
            f"Cannot read the pixels of {file} (truncated or damaged)",
        )
    planes = pixels.reshape(info.height, info.width, last - first)
    order = [i - first for i in wanted]
    selected = planes if order == list(range(last - first)) else np.ascontiguousarray(planes[..., order])
    nonfinite = 0
    if not np.isfinite(selected.sum(dtype=np.float64)):  # a float64 sum of float32/16 values cannot overflow
        finite = np.isfinite(selected)
        nonfinite = int(selected.size - np.count_nonzero(finite))
        selected[~finite] = 0.0
    colour = selected[..., : len(info.rgb_channels)]
    rgb = np.repeat(colour, 3, axis=2) if colour.shape[2] == 1 else np.ascontiguousarray(colour)
    alpha = np.ascontiguousarray(selected[..., -1]) if info.alpha_channel else None
    return Plate(info=info, rgb=rgb, alpha=alpha, nonfinite=nonfinite)


def read_channels(path: PathLike, part: int | str | None = None) -> dict[str, np.ndarray]:
    """Every channel of one part (default: the first) as float32 (H, W) arrays in file order, values as stored."""
    file = Path(path)
    with _open_input(file) as handle:
        specs = _part_specs(handle)
        index = _candidate_parts(specs, file, part)[0]
        spec = specs[index]
        if spec.deep:
            raise PlateError(f"{file} holds deep data; flatten it first (e.g. Nuke DeepToImage)")
        pixels = _checked(
            handle.read_image(index, 0, 0, spec.nchannels, "float"), handle,
            f"Cannot read the pixels of {file} (truncated or damaged)",
        )
    planes = pixels.reshape(spec.height, spec.width, spec.nchannels)
    return {name: np.ascontiguousarray(planes[..., i], dtype=np.float32) for i, name in enumerate(spec.channelnames)}


def _set_attribute(spec: Any, name: str, value: Any, type_name: str | None) -> None:
    """Set one attribute. Strings and numbers go as they are; a list of values takes ``type_name`` (the type it
    was read with, e.g. "timecode" or "matrix") when known, else becomes an int/float array; anything else, JSON."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        spec.attribute(name, int(value))
    elif isinstance(value, (int, float, str)):
        spec.attribute(name, value)
    elif isinstance(value, (list, tuple, np.ndarray)) and type_name:
        spec.attribute(name, oiio.TypeDesc(type_name), value if isinstance(value, np.ndarray) else tuple(value))
    elif isinstance(value, (list, tuple, np.ndarray)) and len(value) and all(isinstance(v, (int, float, np.number)) for v in value):
        base = "int" if all(isinstance(v, (int, np.integer)) for v in value) else "float"
        spec.attribute(name, oiio.TypeDesc(f"{base}[{len(value)}]"), tuple(value))
    else:
        spec.attribute(name, json.dumps(value, default=str))


def _output_spec(names: list[str], width: int, height: int, like: PlateInfo | None,
                 metadata: Mapping[str, Any] | None, half: bool, compression: str,
                 half_channels: Collection[str] = ()) -> Any:
    """The EXR spec: ``like``'s windows and pixel aspect, its carried metadata, then ``metadata`` on top; the
    ``half_channels`` stored as half floats whatever ``half`` says."""
    spec = oiio.ImageSpec(width, height, len(names), "half" if half else "float")
    spec.channelnames = tuple(names)
    if not half and any(name in half_channels for name in names):
        spec.channelformats = tuple(oiio.TypeDesc("half" if name in half_channels else "float") for name in names)
    attributes: dict[str, Any] = {}
    types: Mapping[str, str] = {}
    if like is not None:
        spec.x, spec.y = like.x, like.y
        spec.full_x, spec.full_y, spec.full_width, spec.full_height = like.full_x, like.full_y, like.full_width, like.full_height
        attributes.update(like.metadata)
        types = like.metadata_types
    attributes.update(metadata or {})
    for name, value in attributes.items():
        _set_attribute(spec, name, value, types.get(name))
    spec.attribute("PixelAspectRatio", float(like.pixel_aspect if like is not None else 1.0))
    spec.attribute("compression", compression)
    return spec


def write_exr(
    path: PathLike,
    channels: Mapping[str, np.ndarray],
    like: PlateInfo | None = None,
    metadata: Mapping[str, Any] | None = None,
    half: bool = False,
    compression: str = "zip",
    half_channels: Collection[str] = (),
) -> None:
    """Write named float channels to an EXR with ``like``'s windows, pixel aspect and metadata, atomically; half
    floats for every channel with ``half``, else for the ``half_channels`` only.

    The file is written as ``.<name>.tmp-<pid>-<rand>.exr`` in the same folder, then renamed over
    ``path``; on any failure the temp file is removed and an existing ``path`` is left untouched.
    """
    target = Path(path).absolute()
    names = list(channels)
    if not names:
        raise OutputError(f"Cannot write {target}: no channels given")
    given = [np.asarray(channels[name]) for name in names]
    as_half = half and all(array.dtype == np.float16 for array in given)  # already rounded: handed over as they are
    arrays = [array if as_half else array.astype(np.float32, copy=False) for array in given]
    height, width = (like.height, like.width) if like is not None else arrays[0].shape[:2]
    for name, array in zip(names, arrays):
        if array.shape != (height, width):
            raise OutputError(f"Cannot write {target}: channel {name!r} is {array.shape}, expected ({height}, {width})")
    spec = _output_spec(names, width, height, like, metadata, half, compression, half_channels)
    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"Cannot create the output folder {folder}: {exc.strerror}") from None
    temp = folder / f".{target.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}.exr"
    failure = f"Cannot write {target.name} in {folder} (check the folder is writable and has space)"
    try:
        output = _checked(oiio.ImageOutput.create(str(temp)), None, failure, OutputError)
        _checked(output.open(str(temp), spec), output, failure, OutputError)
        written = output.write_image(np.stack(arrays, axis=-1))
        closed = output.close()
        _checked(written and closed, output, failure, OutputError)
        os.replace(temp, target)
    except OSError as exc:
        raise OutputError(f"{failure}: {exc.strerror}") from None
    finally:
        temp.unlink(missing_ok=True)



def write_image(path: PathLike, rgb: np.ndarray, metadata: Mapping[str, str] | None = None) -> None:
    """Write display-referred RGB (H, W, 3) in [0, 1] as an 8-bit image (PNG, JPEG, ... by extension), atomically,
    with string ``metadata`` attributes."""
    target = Path(path).absolute()
    pixels = np.ascontiguousarray(np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5, dtype=np.float32).astype(np.uint8)
    tmp = target.with_name(f".{target.stem}.tmp-{os.getpid()}-{secrets.token_hex(4)}{target.suffix}")
    try:
        out = _checked(oiio.ImageOutput.create(str(tmp)), None, f"Cannot write {target}", OutputError)
        spec = oiio.ImageSpec(pixels.shape[1], pixels.shape[0], pixels.shape[2], oiio.UINT8)
        for name, value in (metadata or {}).items():
            spec.attribute(name, value)
        _checked(out.open(str(tmp), spec), out, f"Cannot write {target}", OutputError)
        ok = out.write_image(pixels)
        out.close()
        _checked(ok, out, f"Cannot write {target}", OutputError)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
