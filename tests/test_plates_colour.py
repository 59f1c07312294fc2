"""OpenColorIO: config choice, input colour space guessing, display conversion (exact and baked)."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import PyOpenColorIO as OCIO
import pytest

from flashdepth_vfx.errors import ColourError
from flashdepth_vfx.plates import DisplayConverter, guess_colorspace, load_config, probe, read_plate

STUDIO_SRGB = "sRGB Encoded Rec.709 (sRGB)"


def srgb_inverse_eotf(linear: float) -> float:
    """IEC 61966-2-1 encoding, written out here as an independent reference."""
    return 12.92 * linear if linear <= 0.0031308 else 1.055 * linear ** (1 / 2.4) - 0.055


@pytest.fixture(scope="module")
def studio() -> OCIO.Config:
    return OCIO.Config.CreateFromFile("ocio://studio-config-latest")


def write_png(path: Path, pixels: np.ndarray) -> None:
    spec = oiio.ImageSpec(pixels.shape[1], pixels.shape[0], 3, "uint8")
    out = oiio.ImageOutput.create(str(path))
    assert out is not None
    assert out.open(str(path), spec) and out.write_image(pixels) and out.close()


def test_unset_ocio_falls_back_to_the_studio_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OCIO", raising=False)
    config = load_config()
    assert config.getName().startswith("studio-config")
    assert config.getCanonicalName("scene_linear") == "ACEScg"  # colour management is on, not a raw config


def test_explicit_path_and_ocio_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "cg.ocio"
    OCIO.Config.CreateFromFile("ocio://cg-config-latest").serialize(str(path))
    monkeypatch.setenv("OCIO", str(path))
    assert load_config().getName().startswith("cg-config")
    assert load_config("ocio://studio-config-latest").getName().startswith("studio-config")  # explicit path wins


def test_bad_config_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.ocio"
    with pytest.raises(ColourError, match="Cannot load the OCIO config") as caught:
        load_config(str(missing))
    assert str(missing) in str(caught.value)


def test_guess_colorspace(studio: OCIO.Config, testdata_dir: Path, tmp_path: Path) -> None:
    exr = probe(testdata_dir / "exr/basic/Carrots.exr")
    assert exr.colorspace is None
    assert guess_colorspace(studio, exr) == "ACEScg"  # scene_linear role for float files
    write_png(tmp_path / "p.png", np.zeros((2, 2, 3), np.uint8))
    png = probe(tmp_path / "p.png")
    assert guess_colorspace(studio, png) == STUDIO_SRGB  # from the file's own hint, srgb_rec709_scene
    unhinted = dataclasses.replace(png, colorspace="some_vendor_space")
    assert guess_colorspace(studio, unhinted) == STUDIO_SRGB  # integer file: the config's sRGB space
    assert guess_colorspace(studio, exr, override="lin_srgb") == "Linear Rec.709 (sRGB)"  # alias -> name
    assert guess_colorspace(studio, dataclasses.replace(exr, colorspace="lin_ap0_scene")) == "ACES2065-1"


def test_config_without_the_needed_spaces(testdata_dir: Path) -> None:
    exr = probe(testdata_dir / "exr/basic/Carrots.exr")
    with pytest.raises(ColourError, match="has no scene_linear role for Carrots.exr; pass --colorspace"):
        guess_colorspace(OCIO.Config.CreateRaw(), exr)


def test_unknown_colour_space_lists_close_matches(studio: OCIO.Config, testdata_dir: Path) -> None:
    with pytest.raises(ColourError, match=r"Unknown colour space 'ACEScgg' .*close matches: ACEScg") as caught:
        DisplayConverter(studio, "ACEScgg")
    assert "\n" not in str(caught.value)
    with pytest.raises(ColourError, match="close matches: sRGB - Texture"):
        guess_colorspace(studio, probe(testdata_dir / "exr/basic/stripes.exr"), override="sRGB Texture")


def test_unknown_display_and_view(studio: OCIO.Config) -> None:
    with pytest.raises(ColourError, match="Unknown display 'Cinema'.*sRGB - Display"):
        DisplayConverter(studio, "ACEScg", display="Cinema")
    with pytest.raises(ColourError, match="Unknown view 'Filmic'.*Un-tone-mapped"):
        DisplayConverter(studio, "ACEScg", view="Filmic")


def test_srgb_integer_plate_is_unchanged(studio: OCIO.Config, tmp_path: Path) -> None:
    codes = np.arange(256, dtype=np.uint8)
    pixels = np.stack([codes, codes[::-1], np.roll(codes, 77)], axis=-1).reshape(16, 16, 3)
    write_png(tmp_path / "ramp.png", pixels)
    plate = read_plate(tmp_path / "ramp.png")
    converter = DisplayConverter(studio, guess_colorspace(studio, plate.info))
    assert converter.view == "Video (colorimetric)"  # the studio config's viewing rule for sRGB-encoded spaces
    assert not converter.uses_lut
    np.testing.assert_allclose(converter(plate.rgb), pixels / 255.0, atol=1e-4)


def test_linear_mid_grey_through_the_default_view(studio: OCIO.Config) -> None:
    converter = DisplayConverter(studio, "ACEScg")
    assert (converter.display, converter.view) == ("sRGB - Display", "ACES 2.0 - SDR 100 nits (Rec.709)")
    assert converter.uses_lut
    grey = converter(np.full((1, 1, 3), 0.18, np.float32))
    reference = np.full((1, 3), 0.18, np.float32)
    studio.getProcessor("ACEScg", "sRGB - Display", converter.view, OCIO.TRANSFORM_DIR_FORWARD).getDefaultCPUProcessor().applyRGB(reference)
    np.testing.assert_allclose(grey[0], reference, atol=1e-3)  # the baked LUT against OCIO's exact answer
    assert 0.33 < float(grey.mean()) < 0.37  # ACES 2.0 puts 18% grey a little darker than a plain sRGB encode


def test_linear_mid_grey_untonemapped_is_the_srgb_encoding(studio: OCIO.Config) -> None:
    converter = DisplayConverter(studio, "Linear Rec.709 (sRGB)", view="Un-tone-mapped")
    assert not converter.uses_lut
    grey = converter(np.full((2, 2, 3), 0.18, np.float32))
    np.testing.assert_allclose(grey, srgb_inverse_eotf(0.18), atol=1e-4)  # 0.4614


def test_baked_lut_matches_the_exact_processor_on_a_real_plate(studio: OCIO.Config, testdata_dir: Path) -> None:
    rgb = read_plate(testdata_dir / "exr/basic/Carrots.exr").rgb
    fast = DisplayConverter(studio, "ACEScg")(rgb)
    exact = DisplayConverter(studio, "ACEScg", exact=True)(rgb)
    error = np.abs(fast - exact)
    assert error.max() < 0.02 and error.mean() < 0.002


def test_output_is_a_clipped_copy(studio: OCIO.Config) -> None:
    rgb = np.array([[[-1.0, 0.5, 1e6]]], np.float32)
    before = rgb.copy()
    out = DisplayConverter(studio, "Linear Rec.709 (sRGB)", view="Un-tone-mapped")(rgb)
    assert out.dtype == np.float32 and out.shape == (1, 1, 3)
    assert out.min() >= 0.0 and out.max() <= 1.0 and out[0, 0, 2] == 1.0
    np.testing.assert_array_equal(rgb, before)
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        DisplayConverter(studio, "ACEScg")(np.zeros((4, 4), np.float32))


def test_processors_are_cached_per_space_display_view(studio: OCIO.Config) -> None:
    first = DisplayConverter(studio, "ACEScg")
    again = DisplayConverter(load_config("ocio://studio-config-latest"), "ACES - ACEScg")  # another config object, an alias
    other = DisplayConverter(studio, "ACEScg", view="Un-tone-mapped")
    assert again._processor is first._processor
    assert other._processor is not first._processor


def test_config_with_a_missing_lut_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.ocio"
    path.write_text(
        "ocio_profile_version: 2\n"
        "roles: {default: raw, scene_linear: raw}\n"
        "file_rules:\n  - !<Rule> {name: Default, colorspace: raw}\n"
        "displays:\n  sRGB:\n    - !<View> {name: Standard, colorspace: srgb}\n"
        "colorspaces:\n"
        "  - !<ColorSpace> {name: raw, isdata: true}\n"
        "  - !<ColorSpace> {name: srgb, from_scene_reference: !<ExponentTransform> {value: 2.2, direction: inverse}}\n"
        "  - !<ColorSpace> {name: graded, to_scene_reference: !<FileTransform> {src: missing_grade.cube}}\n"
    )
    config = load_config(str(path))
    with pytest.raises(ColourError, match=r"Cannot build the colour conversion 'graded' -> 'sRGB'/'Standard'.*missing_grade.cube"):
        DisplayConverter(config, "graded")
