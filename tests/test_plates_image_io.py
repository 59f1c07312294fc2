"""Reading plates and writing depth EXRs through OpenImageIO, on the shared EXRs and on files written here."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import OpenImageIO as oiio
import pytest

from flashdepth_vfx.errors import OutputError, PlateError
from flashdepth_vfx.plates import find_sequence, frame_path, probe, read_channels, read_plate, write_exr
from flashdepth_vfx.plates.image_io import _checked


def write_image(path: Path, pixels: np.ndarray, fmt: str, channels: tuple[str, ...] | None = None,
                attributes: dict[str, Any] | None = None, window: tuple[int, int, int, int, int, int] | None = None) -> None:
    """Write a test image with OpenImageIO itself (not the code under test)."""
    height, width = pixels.shape[:2]
    count = pixels.shape[2] if pixels.ndim == 3 else 1
    spec = oiio.ImageSpec(width, height, count, fmt)
    if channels:
        spec.channelnames = channels
    if window:
        spec.x, spec.y, spec.full_x, spec.full_y, spec.full_width, spec.full_height = window
    for name, value in (attributes or {}).items():
        if isinstance(value, tuple) and isinstance(value[0], str):
            spec.attribute(name, oiio.TypeDesc(value[0]), value[1])
        else:
            spec.attribute(name, value)
    out = oiio.ImageOutput.create(str(path))
    assert out is not None, oiio.geterror()
    assert out.open(str(path), spec), out.geterror()
    assert out.write_image(np.ascontiguousarray(pixels)), out.geterror()
    assert out.close()


def read_back(path: Path) -> tuple[Any, np.ndarray]:
    """Spec and float pixels of a file, read with OpenImageIO directly."""
    handle = oiio.ImageInput.open(str(path))
    assert handle is not None, oiio.geterror()
    spec = handle.spec()
    pixels = handle.read_image(0, 0, 0, spec.nchannels, "float")
    handle.close()
    assert pixels is not None
    return spec, pixels


def attribute_types(spec: Any) -> dict[str, tuple[str, Any]]:
    return {a.name: (str(a.type), a.value) for a in spec.extra_attribs}


# --- the shared EXRs -----------------------------------------------------------------------------


def test_scanline_exr_values_and_camera_metadata(testdata_dir: Path) -> None:
    path = testdata_dir / "exr/basic/Carrots.exr"
    plate = read_plate(path)
    _, reference = read_back(path)
    assert plate.rgb.shape == (400, 600, 3) and plate.rgb.dtype == np.float32
    np.testing.assert_array_equal(plate.rgb, reference[..., :3])
    np.testing.assert_array_equal(plate.alpha, reference[..., 3])
    info = plate.info
    assert (info.pixel_type, info.is_float, info.alpha_channel) == ("half", True, "A")
    assert info.metadata["cameraMake"] == "Sony" and info.metadata["FNumber"] == 8.0
    assert info.metadata_types["chromaticities"] == "float[8]"
    assert "compression" not in info.metadata and not any(k.startswith(("oiio:", "openexr:")) for k in info.metadata)
    assert plate.nonfinite == 0


def test_overscan_display_window_inside_data_window(testdata_dir: Path) -> None:
    info = probe(testdata_dir / "exr/windows/t03.exr")
    assert (info.x, info.y, info.width, info.height) == (0, 0, 400, 300)
    assert (info.full_x, info.full_y, info.full_width, info.full_height) == (30, 20, 370, 280)


def test_data_window_offset_inside_display_window(testdata_dir: Path) -> None:
    plate = read_plate(testdata_dir / "exr/windows/t08.exr")
    info = plate.info
    assert (info.x, info.y, info.width, info.height) == (30, 40, 400, 300)
    assert (info.full_x, info.full_y, info.full_width, info.full_height) == (0, 0, 501, 401)
    assert plate.rgb.shape == (300, 400, 3)


def test_data_window_with_z_channel_uses_rgb_only(testdata_dir: Path) -> None:
    path = testdata_dir / "exr/windows/v1.7.test.1.exr"
    plate = read_plate(path)
    _, reference = read_back(path)
    info = plate.info
    assert (info.x, info.y, info.full_width, info.full_height) == (20, 20, 217, 197)
    assert info.channels == ("R", "G", "B", "Z")
    assert info.rgb_channels == ("R", "G", "B") and info.alpha_channel is None
    assert info.pixel_type == "half"  # the RGB channels are half; only Z is float
    np.testing.assert_array_equal(plate.rgb, reference[..., :3])


def test_multipart_default_part_by_index_and_by_name(testdata_dir: Path) -> None:
    path = testdata_dir / "exr/multipart/multipart.0001.exr"
    default = probe(path)
    assert (default.part_index, default.part_name, default.num_parts) == (0, "rgba_right", 10)
    assert (default.x, default.y, default.full_width, default.full_height) == (654, 245, 2048, 1556)
    assert default.metadata["view"] == "right"
    by_name = read_plate(path, part="rgba_left")
    by_index = read_plate(path, part=4)
    assert by_name.info.part_index == 4 and by_name.info.x == 688
    np.testing.assert_array_equal(by_name.rgb, by_index.rgb)
    assert by_name.alpha is not None and by_name.alpha.shape == (876, 877)


@pytest.mark.parametrize(
    ("part", "message"),
    [(1, r"no colour channels R,G,B \(or Y\) \(it has: Z\)"), ("nope", "no part named 'nope'; its parts: 'rgba_right'"),
     (12, r"has 10 part\(s\)")],
)
def test_multipart_bad_choices(testdata_dir: Path, part: int | str, message: str) -> None:
    with pytest.raises(PlateError, match=message):
        read_plate(testdata_dir / "exr/multipart/multipart.0001.exr", part=part)


def test_part_without_colour_probes_but_does_not_read(testdata_dir: Path) -> None:
    info = probe(testdata_dir / "exr/multipart/multipart.0001.exr", part="depth_left")
    assert (info.part_index, info.channels, info.rgb_channels, info.alpha_channel) == (1, ("Z",), (), None)


def test_tiled_mipmapped_reads_level_zero(testdata_dir: Path) -> None:
    plate = read_plate(testdata_dir / "exr/tiled/PeriodicPattern.exr")
    assert plate.rgb.shape == (517, 517, 3)
    assert plate.info.metadata.get("Copyright", "").startswith("Copyright 2004")
    assert "tiles" not in plate.info.metadata and "wrapmodes" not in plate.info.metadata


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("deep/11.deep.exr", "deep data"),
        ("damaged/invalid.exr", "damaged or not an image"),
        ("damaged/DERIVED_t01_truncated_12000B.exr", "truncated or damaged"),
        ("damaged/no_such_file.exr", "Plate not found"),
    ],
)
def test_unusable_files_are_refused_naming_the_file(testdata_dir: Path, name: str, message: str) -> None:
    path = testdata_dir / "exr" / name
    with pytest.raises(PlateError, match=message) as caught:
        read_plate(path)
    assert str(path) in str(caught.value)
    assert "\n" not in str(caught.value)


class UndecodableErrorHandle:
    """Stands in for an OpenImageIO handle whose error message holds bytes that are not UTF-8."""

    has_error = True

    def geterror(self) -> str:
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")


def test_undecodable_error_message_still_gives_a_plate_error() -> None:
    with pytest.raises(PlateError, match=r"^Cannot read x\.exr: OpenImageIO reported an unreadable error message$"):
        _checked(np.zeros(3), UndecodableErrorHandle(), "Cannot read x.exr")


def test_truncated_header_still_probes(testdata_dir: Path) -> None:
    info = probe(testdata_dir / "exr/damaged/DERIVED_t01_truncated_12000B.exr")
    assert (info.width, info.height) == (400, 300)


# --- other formats, written here --------------------------------------------------------------------


@pytest.fixture(scope="module")
def ramp() -> np.ndarray:
    values = np.arange(6 * 8 * 3, dtype=np.float32).reshape(6, 8, 3)
    return values / values.max()


def test_jpeg_and_png_carry_the_srgb_hint(tmp_path: Path, ramp: np.ndarray) -> None:
    write_image(tmp_path / "plate.jpg", ramp, "uint8")
    plate = read_plate(tmp_path / "plate.jpg")
    assert plate.info.colorspace == "srgb_rec709_scene"
    assert np.abs(plate.rgb - ramp).mean() < 0.05  # lossy, but the same picture


def test_greyscale_is_replicated_to_rgb(tmp_path: Path, ramp: np.ndarray) -> None:
    grey = np.round(ramp[..., :1] * 255) / 255
    write_image(tmp_path / "grey.png", grey.astype(np.float32), "uint8")
    plate = read_plate(tmp_path / "grey.png")
    assert plate.info.rgb_channels == ("Y",)
    assert plate.rgb.shape == (6, 8, 3)
    for channel in range(3):
        np.testing.assert_allclose(plate.rgb[..., channel], grey[..., 0], atol=1e-6)


def test_nonfinite_values_are_counted_and_zeroed(tmp_path: Path, ramp: np.ndarray) -> None:
    pixels = np.concatenate([ramp, np.ones((6, 8, 1), np.float32)], axis=2)
    pixels[0, 0, 0] = np.nan
    pixels[1, 1, 1] = np.inf
    pixels[2, 2, 3] = -np.inf
    write_image(tmp_path / "bad.exr", pixels, "float")
    plate = read_plate(tmp_path / "bad.exr")
    assert plate.nonfinite == 3
    assert plate.rgb[0, 0, 0] == 0 and plate.rgb[1, 1, 1] == 0 and plate.alpha is not None and plate.alpha[2, 2] == 0
    assert plate.rgb[0, 0, 1] == ramp[0, 0, 1]


def test_layers(tmp_path: Path, ramp: np.ndarray) -> None:
    pixels = np.concatenate([ramp, ramp * 0.5, ramp[..., :1]], axis=2)
    names = ("diffuse.R", "diffuse.G", "diffuse.B", "spec.R", "spec.G", "spec.B", "Z")
    write_image(tmp_path / "layers.exr", pixels, "float", channels=names)
    default = read_plate(tmp_path / "layers.exr")
    assert default.info.rgb_channels == ("diffuse.R", "diffuse.G", "diffuse.B")
    spec = read_plate(tmp_path / "layers.exr", layer="spec")
    np.testing.assert_allclose(spec.rgb, ramp * 0.5, atol=1e-7)
    with pytest.raises(PlateError, match="has no layer 'beauty' with R,G,B"):
        probe(tmp_path / "layers.exr", layer="beauty")


def test_file_without_colour_channels(tmp_path: Path, ramp: np.ndarray) -> None:
    write_image(tmp_path / "z.exr", ramp[..., :2].copy(), "float", channels=("Z", "depth.V"))
    with pytest.raises(PlateError, match=r"no colour channels .*\(it has: Z, depth.V\)"):
        read_plate(tmp_path / "z.exr")
    channels = read_channels(tmp_path / "z.exr")  # the raw channels are still there for data files
    assert list(channels) == ["Z", "depth.V"]
    np.testing.assert_array_equal(channels["depth.V"], ramp[..., 1])


@pytest.mark.parametrize(
    ("syntax", "on_disk", "fmt", "levels"),
    [
        ("seq.####.exr", "seq.{:04d}.exr", "half", 0),
        ("seq_%04d.png", "seq_{:04d}.png", "uint8", 255),
        ("seq.$F4.tif", "seq.{:04d}.tif", "uint16", 65535),
        ("seq.@@@@.dpx", "seq.{:04d}.dpx", "uint16", 1023),
    ],
)
def test_written_sequences_read_back_through_find_sequence(
    tmp_path: Path, ramp: np.ndarray, syntax: str, on_disk: str, fmt: str, levels: int
) -> None:
    expected = {}
    for frame in (1001, 1002, 1003):
        pixels = ramp * (frame - 1000) / 3
        expected[frame] = np.round(pixels * levels) / levels if levels else pixels  # integer files hold exact codes
        attributes = {"oiio:BitsPerSample": 10} if levels == 1023 else {}
        write_image(tmp_path / on_disk.format(frame), expected[frame].astype(np.float32), fmt, attributes=attributes)
    seq = find_sequence(str(tmp_path / syntax))
    assert seq.frames == (1001, 1002, 1003)
    for frame in seq.frames:
        plate = read_plate(seq.source(frame) or "")
        assert plate.info.pixel_type == fmt and plate.info.is_float == (fmt == "half")
        np.testing.assert_allclose(plate.rgb, expected[frame], atol=1e-3 if fmt == "half" else 2e-5)


# --- write_exr -------------------------------------------------------------------------------------


def source_exr(tmp_path: Path) -> Path:
    """An anamorphic overscan plate with production metadata."""
    path = tmp_path / "src.exr"
    pixels = np.random.default_rng(1).random((20, 30, 3), dtype=np.float32)
    attributes = {
        "PixelAspectRatio": 2.0,
        "smpte:TimeCode": ("timecode", (0x01020304, 0)),
        "FramesPerSecond": ("rational2i", (24000, 1001)),
        "DateTime": "2024:05:06 07:08:09",  # EXR capDate
        "worldToCamera": ("matrix", tuple(float(i) for i in range(16))),
        "shotName": "abc_010",
        "frameNumber": 1001,
        "oiio:ColorSpace": "ACEScg",
    }
    write_image(path, pixels, "half", attributes=attributes, window=(-5, -4, 0, 0, 20, 12))
    return path


def test_write_exr_keeps_windows_aspect_and_metadata(tmp_path: Path) -> None:
    like = probe(source_exr(tmp_path))
    assert like.colorspace == "lin_ap1_scene" and "oiio:ColorSpace" not in like.metadata
    depth = np.linspace(1, 2, like.width * like.height, dtype=np.float32).reshape(like.height, like.width)
    out = tmp_path / "out" / "shot_depth.1001.exr"
    write_exr(out, {"depth.Z": depth}, like=like, metadata={"flashdepth:model": "tiny", "flashdepth:settings": {"mode": "depth"}})
    spec, pixels = read_back(out)
    assert tuple(spec.channelnames) == ("depth.Z",) and str(spec.format) == "float"
    assert (spec.x, spec.y, spec.width, spec.height) == (-5, -4, 30, 20)
    assert (spec.full_x, spec.full_y, spec.full_width, spec.full_height) == (0, 0, 20, 12)
    np.testing.assert_array_equal(pixels[..., 0], depth)
    written = attribute_types(spec)
    assert written["PixelAspectRatio"] == ("float", 2.0)
    assert written["smpte:TimeCode"] == ("timecode", (0x01020304, 0))
    assert spec.get_string_attribute("smpte:TimeCode") == "01:02:03:04"
    assert written["FramesPerSecond"] == ("rational", (24000, 1001))
    assert written["DateTime"] == ("string", "2024:05:06 07:08:09")
    assert written["worldToCamera"] == ("matrix", tuple(float(i) for i in range(16)))
    assert written["shotName"] == ("string", "abc_010")
    assert written["frameNumber"] == ("int", 1001)
    assert written["flashdepth:model"] == ("string", "tiny")
    assert written["flashdepth:settings"] == ("string", '{"mode": "depth"}')
    assert written["compression"] == ("string", "zip")
    assert "oiio:ColorSpace" not in written  # the plate's colour space is not the depth's


def test_rewriting_an_output_keeps_its_metadata_types(tmp_path: Path) -> None:
    out = tmp_path / "d.exr"
    like = probe(source_exr(tmp_path))
    write_exr(out, {"depth.Z": np.ones((like.height, like.width), np.float32)}, like=like, metadata={"flashdepth:range_min": 0.25})
    written = probe(out)  # a depth file: no colour channels, still probes
    assert written.rgb_channels == () and written.metadata["flashdepth:range_min"] == 0.25
    channels = read_channels(out)
    channels["depth.Z"] = channels["depth.Z"] * 2
    write_exr(out, channels, like=written, metadata={**written.metadata, "flashdepth:mode": "normalized"})
    spec, pixels = read_back(out)
    again = attribute_types(spec)
    assert again["smpte:TimeCode"] == ("timecode", (0x01020304, 0))  # passed back as a plain tuple, typed as read
    assert again["worldToCamera"][0] == "matrix" and again["flashdepth:mode"] == ("string", "normalized")
    assert (spec.x, spec.y, spec.full_width) == (-5, -4, 20)
    assert np.all(pixels == 2.0)


def test_write_exr_passthrough_channels_half_and_compression(tmp_path: Path) -> None:
    like = probe(source_exr(tmp_path))
    shape = (like.height, like.width)
    names = ("R", "G", "B", "A", "depth.Z")
    planes = {name: np.full(shape, index + 0.5, np.float32) for index, name in enumerate(names)}
    out = tmp_path / "pass.exr"
    write_exr(out, planes, like=like, half=True, compression="piz")
    spec, pixels = read_back(out)
    assert tuple(spec.channelnames) == names
    assert str(spec.format) == "half" and spec.get_string_attribute("compression") == "piz"
    np.testing.assert_array_equal(pixels[0, 0], [0.5, 1.5, 2.5, 3.5, 4.5])


def test_write_exr_without_like(tmp_path: Path) -> None:
    out = tmp_path / "plain.exr"
    write_exr(out, {"Y": np.ones((4, 5), np.float32)})
    spec, _ = read_back(out)
    assert (spec.width, spec.height, spec.full_width, spec.full_height, spec.x) == (5, 4, 5, 4, 0)


def test_write_then_read_plate_round_trip(tmp_path: Path, ramp: np.ndarray) -> None:
    pattern = str(tmp_path / "rt.%04d.exr")
    for frame in (1, 2):
        write_exr(frame_path(pattern, frame), {c: ramp[..., i] * frame for i, c in enumerate("RGB")})
    plate = read_plate(frame_path(pattern, 2))
    np.testing.assert_array_equal(plate.rgb, ramp * 2)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name)


def test_failed_write_leaves_the_good_file_untouched(tmp_path: Path) -> None:
    good = tmp_path / "shot_depth.1001.exr"
    write_exr(good, {"depth.Z": np.ones((4, 5), np.float32)})
    before = good.read_bytes()
    with pytest.raises(OutputError, match=r"channel 'depth.Z' is \(3, 5\), expected \(4, 5\)"):
        write_exr(good, {"R": np.zeros((4, 5), np.float32), "depth.Z": np.zeros((3, 5), np.float32)})
    assert good.read_bytes() == before
    assert leftovers(tmp_path) == []


def test_failed_rename_removes_the_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = tmp_path / "shot_depth.1001.exr"
    write_exr(good, {"depth.Z": np.ones((4, 5), np.float32)})
    before = good.read_bytes()

    def refuse(source: str, target: str) -> None:
        assert Path(source).is_file() and Path(source).name.startswith(".shot_depth.1001.exr.tmp-")
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OutputError, match="Permission denied"):
        write_exr(good, {"depth.Z": np.zeros((4, 5), np.float32)})
    assert good.read_bytes() == before
    assert leftovers(tmp_path) == []


def test_folder_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("a file, not a folder")
    with pytest.raises(OutputError, match="Cannot create the output folder") as caught:
        write_exr(blocker / "out.exr", {"depth.Z": np.ones((2, 2), np.float32)})
    assert str(blocker) in str(caught.value)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_folder(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(OutputError, match=re.escape(str(folder))):
            write_exr(folder / "out.exr", {"depth.Z": np.ones((2, 2), np.float32)})
    finally:
        folder.chmod(0o700)
    assert list(folder.iterdir()) == []
