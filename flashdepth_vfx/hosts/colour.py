"""Which colour space and OCIO config a host node hands the engine.

The engine resolves a colour-space name against one OCIO config: ``--ocio-config`` when given, else ``$OCIO``,
else its built-in studio config. A host's name only means what the host means against the host's own config,
so the nodes pass that config along; when the host has no OCIO config active (Nuke's "Nuke" colour
management), its names (``linear``, ``sRGB``, ``rec709``, ``Cineon``, ...) are Nuke's built-in curves, which
:data:`NUKE_DEFAULT_CONFIG` spells out exactly as an OCIO config.

Standard library only; Python 3.9+ syntax (host Pythons).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

NUKE_DEFAULT_CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "nuke-default.ocio")
"""An OCIO config holding Nuke's non-OCIO colour spaces (Rec.709 primaries, each with its transfer curve)."""
NUKE_DEFAULT_SPACES = ("linear", "sRGB", "rec709", "Cineon", "Gamma1.8", "Gamma2.2", "Gamma2.4",
                       "AlexaV3LogC", "SLog3", "raw")
"""The names :data:`NUKE_DEFAULT_CONFIG` defines (the rest of Nuke's menu has no exact analytic form here)."""
_BY_LOWER = {name.lower(): name for name in NUKE_DEFAULT_SPACES}


def menu_colorspace(value: str) -> str:
    """A colour-space menu value as a name: Nuke shows its defaults as ``default (sRGB)``, and an OCIO menu
    may show a family path (``Utility/Linear - sRGB``)."""
    value = value.strip()
    if value.startswith("default") and "(" in value and value.endswith(")"):
        value = value[value.find("(") + 1: -1].strip()
    return value


@dataclass(frozen=True)
class EngineColour:
    """What the engine gets: ``--colorspace`` and ``--ocio-config`` (None: the engine's default)."""

    colorspace: Optional[str]
    ocio_config: Optional[str]


def engine_colour(colorspace: str, active_config: Optional[str]) -> EngineColour:
    """The engine settings for a host's colour-space name and its active OCIO config (None when the host
    uses no OCIO config). Without one, a Nuke built-in name maps to :data:`NUKE_DEFAULT_CONFIG`; any other
    name is left to the engine's own config (``$OCIO`` or its studio config), which names the error."""
    name = menu_colorspace(colorspace) or None
    if active_config:
        return EngineColour(name, active_config)
    if name is not None and name.lower() in _BY_LOWER:
        return EngineColour(_BY_LOWER[name.lower()], NUKE_DEFAULT_CONFIG)
    return EngineColour(name, None)
