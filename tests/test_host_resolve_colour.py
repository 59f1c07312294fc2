"""The colour space and OCIO config the Fusion and Resolve scripts hand the engine: from an OCIO Color Space tool
on the plate (tests/fakes/fusion.py models the flow and the tool's inputs) and from the Resolve project's colour
management (tests/fakes/DaVinciResolveScript.py models Project.GetSetting and the clip's colour tags)."""
from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any, List

import PyOpenColorIO as OCIO
import pytest

from fakes import DaVinciResolveScript as fake_resolve
from fakes.fusion import Comp, Fusion, Tool
from flashdepth_vfx.bridge import RenderJob
from test_host_resolve import (  # noqa: F401  (host: the fixture recording the jobs rendered)
    ROOT, TIMELINE_SCRIPT, comp_with_plate, host, resolve_with_clip, run_comp_script)

STUDIO = "ocio://studio-config-latest"


def converted_plate(tmp_path: Path, **inputs: Any) -> Comp:
    """comp_with_plate's Loader "Plate" feeding an OCIO Color Space tool "ToACEScg" (``inputs``) and a Merge."""
    comp = comp_with_plate(tmp_path)
    plate = comp.tools[0]
    ocio = comp.connect(plate, comp.add(Tool("OCIOColorSpace", "ToACEScg", **inputs)))
    comp.connect(ocio, comp.add(Tool("Merge", "Merge1")))
    return comp


def dialog_default(comp: Comp, name: str) -> Any:
    [(_, controls)] = comp.dialogs
    return {c[1]: c["Default"] for c in controls.values()}[name]


def test_the_ocio_tool_after_the_loader_gives_the_plate_space_and_its_config(
        tmp_path: Path, host: List[RenderJob], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OCIO", raising=False)
    comp = converted_plate(tmp_path, OCIOConfig="Comp:ocio/show.ocio", SourceSpace="ARRI LogC3 (EI800)",
                           OutputSpace="ACEScg")
    run_comp_script(comp)
    [job] = host
    assert (job.colorspace, job.ocio_config) == ("ARRI LogC3 (EI800)", str(tmp_path / "comp" / "ocio" / "show.ocio"))
    assert dialog_default(comp, "colorspace") == "ARRI LogC3 (EI800)"  # the artist sees what will be used


def test_selecting_the_ocio_tool_renders_the_plate_it_converts(tmp_path: Path, host: List[RenderJob]) -> None:
    comp = converted_plate(tmp_path, OCIOConfig="/show/config.ocio", SourceSpace="S-Log3 S-Gamut3.Cine")
    comp.tools[0].selected = False
    comp.ActiveTool = comp.tools[1]
    run_comp_script(comp)
    [job] = host
    assert job.plate == str(tmp_path / "plates" / "shot.####.exr")
    assert (job.colorspace, job.ocio_config) == ("S-Log3 S-Gamut3.Cine", "/show/config.ocio")
    assert comp.tools[-1].GetAttrs()["TOOLS_Name"] == "Plate_depth"


def test_a_typed_colour_space_is_read_in_the_ocio_tools_config(tmp_path: Path, host: List[RenderJob]) -> None:
    comp = converted_plate(tmp_path, OCIOConfig="/show/config.ocio", SourceSpace="ACEScg")
    comp.answers = {"colorspace": "Linear Rec.709 (sRGB)"}
    run_comp_script(comp)
    assert (host[0].colorspace, host[0].ocio_config) == ("Linear Rec.709 (sRGB)", "/show/config.ocio")


def test_an_empty_ocio_config_is_fusions_own_choice(tmp_path: Path, host: List[RenderJob],
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("OCIO", "/studio/ocio/config.ocio")  # Fusion's OCIO tools read $OCIO first
    run_comp_script(converted_plate(tmp_path, OCIOConfig="", SourceSpace="ACEScct"))
    assert (host[0].colorspace, host[0].ocio_config) == ("ACEScct", "/studio/ocio/config.ocio")

    monkeypatch.delenv("OCIO")  # then DefaultConfig.ocio in Fusion's LUTs: folder
    luts = tmp_path / "Fusion" / "LUTs"
    comp = converted_plate(tmp_path, OCIOConfig="", SourceSpace="ACEScct")
    comp.path_maps["LUTs:"] = str(luts)
    run_comp_script(comp)
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"FlashDepth: ToACEScg has no OCIO Config and Fusion's LUTs:DefaultConfig.ocio is not at "
        f"{luts}/DefaultConfig.ocio: set the tool's OCIO Config to the show's config file, or set $OCIO")
    luts.mkdir(parents=True)
    (luts / "DefaultConfig.ocio").write_text("ocio_profile_version: 1\n")
    run_comp_script(comp)
    assert host[-1].ocio_config == f"{luts}/DefaultConfig.ocio"


def test_two_different_conversions_of_the_plate_ask_which_one(tmp_path: Path, host: List[RenderJob],
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    comp = converted_plate(tmp_path, OCIOConfig="/show/config.ocio", SourceSpace="ACEScg")
    comp.connect(comp.tools[0], comp.add(Tool("OCIOColorSpace", "FromLog", OCIOConfig="/show/config.ocio",
                                              SourceSpace="ARRI LogC4")))
    run_comp_script(comp)
    assert not host
    assert capsys.readouterr().out.splitlines()[-1] == (
        "FlashDepth: Plate feeds OCIO Color Space tools with different source spaces (ToACEScg (ACEScg), "
        "FromLog (ARRI LogC4)): select the one that converts the plate and run FlashDepth again")
    comp.ActiveTool = comp.tools[-1]
    run_comp_script(comp)
    assert (host[0].colorspace, host[0].ocio_config) == ("ARRI LogC4", "/show/config.ocio")


def test_a_plain_loader_leaves_the_colour_to_the_file(tmp_path: Path, host: List[RenderJob],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OCIO", raising=False)
    comp = comp_with_plate(tmp_path)
    comp.connect(comp.tools[0], comp.add(Tool("ColorCorrector", "CC1")))  # not a colour space conversion
    run_comp_script(comp)
    assert (host[0].colorspace, host[0].ocio_config) == (None, None)
    assert dialog_default(comp, "colorspace") == ""


def managed(project: Any, **settings: str) -> Any:
    project.settings.update(settings)
    return project


@pytest.mark.parametrize(
    ("settings", "clip", "expected"),
    [
        ({"colorScienceMode": "davinciYRGBColorManagedv2", "colorSpaceInput": "Rec.709 Gamma 2.4"}, {},
         "Gamma 2.4 Encoded Rec.709"),
        ({"colorScienceMode": "davinciYRGBColorManagedv2", "separateColorSpaceAndGamma": "1",
          "colorSpaceInput": "Sony S-Gamut3.Cine", "colorSpaceInputGamma": "S-Log3"}, {}, "S-Log3 S-Gamut3.Cine"),
        ({"colorScienceMode": "davinciYRGBColorManagedv2", "separateColorSpaceAndGamma": "1",
          "colorSpaceInput": "Rec.709", "colorSpaceInputGamma": "Linear"}, {}, "Linear Rec.709 (sRGB)"),
        ({"colorScienceMode": "davinciYRGBColorManagedv2", "colorSpaceInput": "Rec.709 Gamma 2.4"},
         {"Input Color Space": "S-Gamut3.Cine/S-Log3"}, "S-Log3 S-Gamut3.Cine"),  # the clip's tag wins
        ({"colorScienceMode": "davinciYRGBColorManagedv2", "colorSpaceInput": "Same as Timeline",
          "colorSpaceTimeline": "ARRI LogC3"}, {}, "ARRI LogC3 (EI800)"),
        ({"colorScienceMode": "davinciYRGBColorManagedv2", "separateColorSpaceAndGamma": "1",
          "colorSpaceInput": "Rec.709", "colorSpaceInputGamma": "Gamma 2.4"},
         {"Input Color Space": "Panasonic V-Gamut", "Input Gamma": "Panasonic V-Log"}, "V-Log V-Gamut"),
        ({"colorScienceMode": "acescct", "colorAcesIDT": "ACEScg"}, {}, "ACEScg"),
        ({"colorScienceMode": "acescc", "colorAcesIDT": "No Input Transform"}, {}, "ACES2065-1"),
    ],
)
def test_the_timeline_script_reads_resolves_colour_management(tmp_path: Path, host: List[RenderJob],
                                                              settings: Any, clip: Any, expected: str) -> None:
    project = managed(resolve_with_clip(tmp_path, str(tmp_path / "plates" / "shot.[1001-1005].exr")), **settings)
    project.timeline.item.media.properties.update(clip)
    runpy.run_path(str(TIMELINE_SCRIPT))
    [job] = host
    assert (job.colorspace, job.ocio_config) == (expected, STUDIO)


def test_an_unmanaged_project_leaves_the_colour_to_the_file(tmp_path: Path, host: List[RenderJob],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OCIO", raising=False)
    resolve_with_clip(tmp_path, str(tmp_path / "plates" / "shot.[1001-1005].exr"))  # DaVinci YRGB
    runpy.run_path(str(TIMELINE_SCRIPT))
    assert (host[0].colorspace, host[0].ocio_config) == (None, None)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"colorScienceMode": "davinciYRGBColorManagedv2", "colorSpaceInput": "Canon Cinema Gamut/Canon Log 3"},
         "FlashDepth: Resolve's Input Color Space (Project Settings > Color Management) "
         "'Canon Cinema Gamut/Canon Log 3' has no colour space FlashDepth knows: pick one of ACES, ACEScc, ACEScct, "),
        ({"colorScienceMode": "acescct", "colorAcesIDT": "Canon C300 Mk II CLog2"},
         "FlashDepth: Resolve's ACES Input Transform (Project Settings > Color Management) 'Canon C300 Mk II CLog2' "
         "has no colour space FlashDepth knows: pick one of ACEScc, ACEScct, ACEScg, No Input Transform there, or set "
         "$FLASHDEPTH_VFX_COLORSPACE to the plate's OCIO colour space"),
    ],
)
def test_an_unknown_resolve_colour_space_is_one_line_naming_the_setting(
        tmp_path: Path, host: List[RenderJob], capsys: pytest.CaptureFixture[str], settings: Any,
        message: str) -> None:
    managed(resolve_with_clip(tmp_path, str(tmp_path / "plates" / "shot.[1001-1005].exr")), **settings)
    runpy.run_path(str(TIMELINE_SCRIPT))
    [line] = capsys.readouterr().out.splitlines()
    assert line.startswith(message) and line.endswith("or set $FLASHDEPTH_VFX_COLORSPACE to the plate's OCIO "
                                                      "colour space")
    assert not host


def test_the_colour_space_variable_overrides_resolves_settings(tmp_path: Path, host: List[RenderJob],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OCIO", raising=False)
    monkeypatch.setenv("FLASHDEPTH_VFX_COLORSPACE", "CanonLog3 CinemaGamut D55")
    managed(resolve_with_clip(tmp_path, str(tmp_path / "plates" / "shot.[1001-1005].exr")),
            colorScienceMode="acescct", colorAcesIDT="Canon C300 Mk II CLog3")
    runpy.run_path(str(TIMELINE_SCRIPT))
    assert (host[0].colorspace, host[0].ocio_config) == ("CanonLog3 CinemaGamut D55", None)


def test_a_mediain_on_the_fusion_page_uses_the_projects_colour_management(tmp_path: Path,
                                                                          host: List[RenderJob]) -> None:
    comp = Comp("")
    comp.ActiveTool = comp.add(Tool("MediaIn", "MediaIn1", GlobalIn=0.0))
    managed(resolve_with_clip(tmp_path, str(tmp_path / "plates" / "shot.[1001-1005].exr")),
            colorScienceMode="davinciYRGBColorManagedv2", colorSpaceInput="DaVinci WG/Intermediate")
    run_comp_script(comp, fusion=Fusion(comp, fake_resolve.app))
    assert (host[0].colorspace, host[0].ocio_config) == ("DaVinci Intermediate WideGamut", STUDIO)
    assert dialog_default(comp, "colorspace") == "DaVinci Intermediate WideGamut"


def test_every_mapped_name_is_a_colour_space_of_the_studio_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "resolve"))
    from flashdepth_resolve import colour

    config = OCIO.Config.CreateFromFile(colour.STUDIO_CONFIG)
    names = [*colour.RESOLVE_SPACES.values(), *colour.RESOLVE_SPACE_PAIRS.values(), *colour.ACES_IDTS.values()]
    assert [name for name in names if config.getColorSpace(name) is None or config.getCanonicalName(name) != name] == []
