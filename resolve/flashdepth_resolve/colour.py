"""The plate's colour space and OCIO config in Fusion and Resolve, for the engine's ``--colorspace`` /
``--ocio-config`` (the facts and where they come from: docs/hosts-colour-sources.md).

* Fusion: an OCIO Color Space tool (RegID ``OCIOColorSpace``) on the plate's Loader or MediaIn says what the
  file holds: its ``SourceSpace`` in its ``OCIOConfig`` file. An empty ``OCIOConfig`` means what Fusion uses then:
  ``$OCIO``, else ``DefaultConfig.ocio`` in Fusion's ``LUTs:`` folder (DaVinci Resolve manual, OCIO Color Space
  node). Tools are found through the flow (``FindMainInput`` / ``FindMainOutput``, ``GetConnectedOutput`` /
  ``GetConnectedInputs``, ``GetTool``: Fusion 8 Scripting Guide, Connections).
* Resolve: the project's colour management (``Project.GetSetting``: ``colorScienceMode``,
  ``separateColorSpaceAndGamma``, ``colorSpaceInput`` / ``colorSpaceInputGamma``, ``colorAcesIDT``) and the
  clip's own ``Input Color Space`` / ``Input Gamma`` tags name the space in Resolve's words; :data:`RESOLVE_SPACES`
  turns the common ones into colour spaces of OCIO's built-in studio config. Anything else is one line naming
  the setting and what to pick (or ``$FLASHDEPTH_VFX_COLORSPACE``), never a guess.

Standard library only; Python 3.9+ syntax (host Pythons).
"""
from __future__ import annotations

import os
from typing import Any, Dict, List, Mapping, Optional, Tuple

from flashdepth_vfx.errors import FlashDepthError
from flashdepth_vfx.hosts.colour import EngineColour, engine_colour

OCIO_COLOR_SPACE = "OCIOColorSpace"
"""RegID of Fusion's OCIO Color Space tool."""
CONFIG_INPUT = "OCIOConfig"
SOURCE_INPUT = "SourceSpace"
FUSION_DEFAULT_CONFIG = "LUTs:DefaultConfig.ocio"
"""The config Fusion's OCIO tools use when neither the tool nor ``$OCIO`` names one."""
STUDIO_CONFIG = "ocio://studio-config-latest"
"""The config :data:`RESOLVE_SPACES` and :data:`ACES_IDTS` name colour spaces of."""
COLORSPACE_ENV = "FLASHDEPTH_VFX_COLORSPACE"
"""The plate's colour space for the timeline script when Resolve's setting has no entry in the tables (a name
in ``$OCIO``'s config, else in the studio config)."""
SOURCES = ("Loader", "MediaIn")

# Resolve's colour space names -> the studio config's. Keys are Resolve's combined names (Use Separate Color
# Space and Gamma off, and a clip's Input Color Space tag) and (space, gamma) pairs (separate on). Only spaces
# whose meaning is unambiguous are listed; docs/hosts-colour-sources.md says which spellings were seen in
# projects and which are Resolve's menu wording not yet seen through the API.
RESOLVE_SPACES: Dict[str, str] = {
    "Rec.709 Gamma 2.4": "Gamma 2.4 Encoded Rec.709",
    "Rec.709 Gamma 2.2": "Gamma 2.2 Encoded Rec.709",
    "Rec.709 (Scene)": "Camera Rec.709",
    "sRGB": "sRGB Encoded Rec.709 (sRGB)",
    "ACES": "ACES2065-1",
    "ACEScct": "ACEScct",
    "ACEScc": "ACEScc",
    "ACEScg": "ACEScg",
    "DaVinci WG/Intermediate": "DaVinci Intermediate WideGamut",
    "S-Gamut3.Cine/S-Log3": "S-Log3 S-Gamut3.Cine",
    "S-Gamut3/S-Log3": "S-Log3 S-Gamut3",
    "Panasonic V-Gamut/V-Log": "V-Log V-Gamut",
    "ARRI LogC3": "ARRI LogC3 (EI800)",
    "ARRI LogC4": "ARRI LogC4",
    "REDWideGamutRGB/Log3G10": "Log3G10 REDWideGamutRGB",
}
RESOLVE_SPACE_PAIRS: Dict[Tuple[str, str], str] = {
    ("Rec.709", "Gamma 2.4"): "Gamma 2.4 Encoded Rec.709",
    ("Rec.709", "Gamma 2.2"): "Gamma 2.2 Encoded Rec.709",
    ("Rec.709", "Rec.709"): "Camera Rec.709",
    ("Rec.709", "sRGB"): "sRGB Encoded Rec.709 (sRGB)",
    ("Rec.709", "Linear"): "Linear Rec.709 (sRGB)",
    ("sRGB", "sRGB"): "sRGB Encoded Rec.709 (sRGB)",
    ("sRGB", "Linear"): "Linear Rec.709 (sRGB)",
    ("Rec.2020", "Linear"): "Linear Rec.2020",
    ("P3-D65", "Linear"): "Linear P3-D65",
    ("DaVinci WG", "DaVinci Intermediate"): "DaVinci Intermediate WideGamut",
    ("DaVinci WG", "Linear"): "Linear DaVinci WideGamut",
    ("Sony S-Gamut3.Cine", "S-Log3"): "S-Log3 S-Gamut3.Cine",
    ("Sony S-Gamut3", "S-Log3"): "S-Log3 S-Gamut3",
    ("Panasonic V-Gamut", "Panasonic V-Log"): "V-Log V-Gamut",
    ("ARRI Wide Gamut 3", "ARRI LogC3"): "ARRI LogC3 (EI800)",
    ("ARRI Wide Gamut 4", "ARRI LogC4"): "ARRI LogC4",
    ("REDWideGamutRGB", "RED Log3G10"): "Log3G10 REDWideGamutRGB",
}
ACES_IDTS: Dict[str, str] = {
    "No Input Transform": "ACES2065-1",  # Resolve ACES works on ACES2065-1 data without an IDT
    "ACEScct": "ACEScct",
    "ACEScc": "ACEScc",
    "ACEScg": "ACEScg",
}
UNMANAGED = "davinciYRGB"
COLOR_MANAGED = "davinciYRGBColorManaged"  # v1 and "...v2"
ACES_MODES = ("acescct", "acescc")
SAME_AS_TIMELINE = "Same as Timeline"
"""An Input Color Space choice: the input is in the timeline's colour space (``colorSpaceTimeline``)."""
_SETTINGS = "Project Settings > Color Management"


# --- Fusion ---------------------------------------------------------------------------------------------------


def _reg_id(tool: Any) -> str:
    return str(tool.GetAttrs()["TOOLS_RegID"])


def _name(tool: Any) -> str:
    return str(tool.GetAttrs()["TOOLS_Name"])


def _same(tool: Any, other: Any) -> bool:
    """Whether two handles name one tool: each call hands back a new scripting proxy, so compare names."""
    return tool is not None and other is not None and _name(tool) == _name(other)


def upstream_tool(tool: Any) -> Optional[Any]:
    """The tool feeding ``tool``'s main image input (None for a Loader or an unconnected input)."""
    main = tool.FindMainInput(1)
    output = main.GetConnectedOutput() if main is not None else None
    return output.GetTool() if output is not None else None


def downstream_tools(tool: Any) -> List[Any]:
    """The tools ``tool``'s main output feeds."""
    output = tool.FindMainOutput(1)
    inputs: Mapping[Any, Any] = (output.GetConnectedInputs() or {}) if output is not None else {}
    return [inputs[key].GetTool() for key in sorted(inputs)]


def plate_source(tool: Any) -> Optional[Any]:
    """For an OCIO Color Space tool fed straight by a Loader or MediaIn: that source (else None), so that
    selecting the conversion after a plate selects the plate."""
    if tool is None or _reg_id(tool) != OCIO_COLOR_SPACE:
        return None
    source = upstream_tool(tool)
    return source if source is not None and _reg_id(source) in SOURCES else None


def ocio_tool(source: Any, active: Any = None) -> Optional[Any]:
    """The OCIO Color Space tool converting ``source``'s image: ``active`` when it is one fed by ``source``,
    else the only one ``source`` feeds (several with different settings: FlashDepthError, select one)."""
    if active is not None and _reg_id(active) == OCIO_COLOR_SPACE and _same(upstream_tool(active), source):
        return active
    tools = [tool for tool in downstream_tools(source) if _reg_id(tool) == OCIO_COLOR_SPACE]
    settings = {(_input(tool, CONFIG_INPUT), _input(tool, SOURCE_INPUT)) for tool in tools}
    if len(settings) > 1:
        names = ", ".join(f"{_name(tool)} ({_input(tool, SOURCE_INPUT)})" for tool in tools)
        raise FlashDepthError(f"{_name(source)} feeds OCIO Color Space tools with different source spaces ({names}): "
                              "select the one that converts the plate and run FlashDepth again")
    return tools[0] if tools else None


def _input(tool: Any, name: str) -> str:
    value = tool.GetInput(name)
    return "" if value is None else str(value).strip()


def fusion_ocio_config(comp: Any, tool: Any) -> str:
    """The config file ``tool`` converts with: its OCIO Config (path maps expanded), else ``$OCIO``, else Fusion's
    ``LUTs:DefaultConfig.ocio``."""
    path = _input(tool, CONFIG_INPUT) or os.environ.get("OCIO", "").strip()
    if path:
        return str(comp.MapPath(path))
    default = str(comp.MapPath(FUSION_DEFAULT_CONFIG))
    if not os.path.isfile(default):
        raise FlashDepthError(f"{_name(tool)} has no OCIO Config and Fusion's {FUSION_DEFAULT_CONFIG} is not at "
                              f"{default}: set the tool's OCIO Config to the show's config file, or set $OCIO")
    return default


def fusion_colour(comp: Any, tool: Any) -> EngineColour:
    """The plate's colour space and config from the OCIO Color Space tool that converts it."""
    space = _input(tool, SOURCE_INPUT)
    if not space:
        raise FlashDepthError(f"{_name(tool)} has no Source Space: pick the plate's colour space in it")
    return EngineColour(space, fusion_ocio_config(comp, tool))


# --- Resolve --------------------------------------------------------------------------------------------------


def _setting(project: Any, key: str) -> str:
    value = project.GetSetting(key)
    return "" if value is None else str(value).strip()


def _unknown(what: str, value: str, known: List[str]) -> FlashDepthError:
    return FlashDepthError(f"Resolve's {what} {value!r} has no colour space FlashDepth knows: pick one of "
                           f"{', '.join(known)} there, or set ${COLORSPACE_ENV} to the plate's OCIO colour space")


def _managed_space(project: Any, media: Any) -> str:
    """A colour-managed project's input space for ``media``: its clip tag, else the project's Input Color Space."""
    clip_space = str(media.GetClipProperty("Input Color Space") or "").strip()
    clip_gamma = str(media.GetClipProperty("Input Gamma") or "").strip()
    if clip_space and not clip_space.startswith("Project"):
        if clip_gamma and not clip_gamma.startswith("Project"):
            return _pair(clip_space, clip_gamma, f"clip {media.GetName()}'s Input Color Space / Input Gamma")
        return _single(clip_space, f"clip {media.GetName()}'s Input Color Space")
    stage = "Input"
    if _setting(project, "colorSpaceInput") == SAME_AS_TIMELINE:
        stage = "Timeline"
    space = _setting(project, f"colorSpace{stage}")
    if _setting(project, "separateColorSpaceAndGamma") == "1":
        return _pair(space, _setting(project, f"colorSpace{stage}Gamma"), f"{stage} Color Space / Gamma ({_SETTINGS})")
    return _single(space, f"{stage} Color Space ({_SETTINGS})")


def _single(space: str, what: str) -> str:
    if space in RESOLVE_SPACES:
        return RESOLVE_SPACES[space]
    raise _unknown(what, space, sorted(RESOLVE_SPACES))


def _pair(space: str, gamma: str, what: str) -> str:
    if (space, gamma) in RESOLVE_SPACE_PAIRS:
        return RESOLVE_SPACE_PAIRS[(space, gamma)]
    raise _unknown(what, f"{space} / {gamma}", [f"{s} / {g}" for s, g in sorted(RESOLVE_SPACE_PAIRS)])


def resolve_colour(project: Any, media: Any) -> EngineColour:
    """The engine colour settings for ``media`` in ``project``: ``$FLASHDEPTH_VFX_COLORSPACE`` when set; nothing
    for a project without colour management (the engine reads the file's own tag, as Resolve shows it); else the
    clip's or project's input space (colour managed) or the ACES Input Transform, in the studio config."""
    override = os.environ.get(COLORSPACE_ENV, "").strip()
    if override:
        return engine_colour(override, os.environ.get("OCIO") or None)
    mode = _setting(project, "colorScienceMode")
    if mode in ("", UNMANAGED):
        return EngineColour(None, os.environ.get("OCIO") or None)
    if mode.startswith(COLOR_MANAGED):
        return EngineColour(_managed_space(project, media), STUDIO_CONFIG)
    if mode in ACES_MODES:
        idt = _setting(project, "colorAcesIDT")
        if idt not in ACES_IDTS:
            raise _unknown(f"ACES Input Transform ({_SETTINGS})", idt, sorted(ACES_IDTS))
        return EngineColour(ACES_IDTS[idt], STUDIO_CONFIG)
    raise FlashDepthError(f"Resolve's colour science {mode!r} ({_SETTINGS}) is not one FlashDepth knows: set "
                          f"${COLORSPACE_ENV} to the plate's OCIO colour space")


def dialog_colour(typed: str, found: EngineColour) -> EngineColour:
    """What the artist confirmed in the dialog, defaulted to ``found``: the found settings when the field still
    holds them (or is empty), else the typed name in the found config (or ``$OCIO`` / the engine's own)."""
    name = typed.strip()
    if not name or name == (found.colorspace or ""):
        return found
    return engine_colour(name, found.ocio_config or os.environ.get("OCIO") or None)
